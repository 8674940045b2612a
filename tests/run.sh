#!/usr/bin/env bash
# Installs what is missing, builds Jisr in Debug with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test with CTest. Exits non-zero on any failure.
#   JISR_FUZZ_SMOKE=0   skip the libFuzzer smoke runs (they need clang; installed when missing)
#   JISR_BUILD_DIR=DIR  build directory (default build/asan)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fuzz=${JISR_FUZZ_SMOKE:-1}
JISR_FUZZ=$fuzz ./deploy/install-deps.sh

build=${JISR_BUILD_DIR:-build/asan}
jobs=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== configure ($build: Debug, ASan + UBSan)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJISR_SANITIZE=ON >/dev/null
echo "== build"
cmake --build "$build" -j "$jobs"

echo "== agreements: jisr policy test on the shipped examples"
if compgen -G "policies/examples/*.yaml" >/dev/null; then
  "$build/node/app/jisr" policy test policies/examples/*.yaml
fi

echo "== tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

if [ "$fuzz" = "1" ] && compgen -G "tests/fuzz/*_fuzz.cpp" >/dev/null; then
  echo "== fuzz smoke (libFuzzer, clang)"
  fbuild=${build}-fuzz
  CC=clang CXX=clang++ cmake -S . -B "$fbuild" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DJISR_FUZZ=ON -DJISR_TESTS=OFF -DJISR_BENCH=OFF >/dev/null
  targets=()
  for src in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$src" .cpp)"); done
  cmake --build "$fbuild" -j "$jobs" --target "${targets[@]}"
  for t in "${targets[@]}"; do
    corpus="$fbuild/corpus/$t"
    mkdir -p "$corpus"
    seeds="tests/fuzz/seeds/$t"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "-- $t (20 s)"
    "$fbuild/tests/fuzz/$t" -max_total_time=20 -max_len=65536 -print_final_stats=0 \
      "$corpus" 2>"$fbuild/$t.log" || { tail -50 "$fbuild/$t.log"; exit 1; }
    tail -1 "$fbuild/$t.log"
  done
fi
echo "== all tests passed"

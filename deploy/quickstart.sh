#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds Jisr in Release, creates
# two demo node homes in a temporary folder (the families' platform `mpfp` and the institution
# `iimp`), imports the demo CSVs and prints what each node holds.
#   JISR_DEMO_DIR=DIR  keep the node homes in DIR instead of a temporary folder
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
echo "== build (Release, build/release)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DJISR_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target jisr >/dev/null
jisr() { ./build/release/node/app/jisr "$@"; }

demo=${JISR_DEMO_DIR:-$(mktemp -d -t jisr-demo.XXXXXX)}
mkdir -p "$demo"
platform=$demo/mpfp
institution=$demo/iimp
for home in "$platform" "$institution"; do
  [ -e "$home" ] && { echo "quickstart: $home exists; remove it or choose another JISR_DEMO_DIR" >&2; exit 1; }
done

run() { echo; echo "\$ jisr $*"; jisr "$@"; }

echo "== two node homes in $demo"
run init --org mpfp --dir "$platform" --listen 127.0.0.1:0
run init --org iimp --dir "$institution" --listen 127.0.0.1:0

echo; echo "== import the demo records"
run import --dir "$platform" --mapping deploy/demo/platform-reports.mapping.yaml deploy/demo/platform-reports.csv
run import --dir "$institution" --mapping deploy/demo/institution-cases.mapping.yaml deploy/demo/institution-cases.csv

echo; echo "== what each node holds"
run records count --dir "$platform"
run records list --dir "$platform" --limit 5
run records count --dir "$institution"
run records list --dir "$institution" --limit 5

echo
echo "quickstart: done. Node homes: $platform and $institution"

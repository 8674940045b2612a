#!/usr/bin/env bash
# The main job on embedded defaults, end to end on loopback:
#   installs what is missing, builds Jisr in Release, creates two node homes in a temporary
#   folder (the families' platform `mpfp` and the institution `iimp`), imports the demo CSVs,
#   pins each other's CA, applies the example MoU agreements, explains and previews a policy
#   change, starts both nodes, shares the consented reports, shows what arrived, runs a private
#   (PSI) match and confirms one candidate, and verifies both audit logs. Prints what happened at each step.
#   JISR_DEMO_DIR=DIR  keep the node homes in DIR instead of a temporary folder
#   JISR_DEMO_KEEP=1   leave the two nodes running at the end
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./deploy/install-deps.sh
echo "== build (Release, build/release)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DJISR_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target jisr >/dev/null
bin=$root/build/release/node/app/jisr
jisr() { "$bin" "$@"; }

demo=${JISR_DEMO_DIR:-$(mktemp -d -t jisr-demo.XXXXXX)}
mkdir -p "$demo"
platform=$demo/mpfp
institution=$demo/iimp
for home in "$platform" "$institution"; do
  [ -e "$home" ] && { echo "quickstart: $home exists; remove it or choose another JISR_DEMO_DIR" >&2; exit 1; }
done
# Two loopback ports that are free now.
pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
  done
  echo "quickstart: no free port found" >&2; exit 1
}
pport=$(pick_port); iport=$(pick_port)
while [ "$iport" = "$pport" ]; do iport=$(pick_port); done

pids=()
cleanup() {
  if [ "${JISR_DEMO_KEEP:-0}" != "1" ]; then
    for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT

run() { echo; echo "\$ jisr $*"; jisr "$@"; }
step() { echo; echo "== $*"; }

step "two node homes in $demo"
run init --org mpfp --dir "$platform" --listen "127.0.0.1:$pport"
run init --org iimp --dir "$institution" --listen "127.0.0.1:$iport"

step "import the demo records"
run import --dir "$platform" --mapping deploy/demo/platform-reports.mapping.yaml deploy/demo/platform-reports.csv
run import --dir "$institution" --mapping deploy/demo/institution-cases.mapping.yaml deploy/demo/institution-cases.csv
run records count --dir "$platform"
run records list --dir "$institution" --limit 3

step "pin each other's organisation CA (exchanged out of band when the MoU was signed)"
run peer add --dir "$platform" --org iimp --address "127.0.0.1:$iport" --ca "$institution/pki/ca.pem"
run peer add --dir "$institution" --org mpfp --address "127.0.0.1:$pport" --ca "$platform/pki/ca.pem"

step "agreements: test and apply the example MoU agreements"
run policy test policies/examples/mpfp-to-iimp.yaml
run policy apply --dir "$platform" policies/examples/mpfp-to-iimp.yaml
run policy apply --dir "$institution" policies/examples/iimp-to-mpfp.yaml
run policy explain --dir "$platform" --peer iimp --record D-P001
run policy explain --dir "$platform" --peer iimp --record D-P003 --lang ar
# A proposed change: stop sharing the circumstances text. Preview its impact first.
sed 's/birth_date, birth_place, missing_date, missing_place, circumstances\]/birth_date, birth_place, missing_date, missing_place]/' \
  policies/examples/mpfp-to-iimp.yaml > "$demo/mpfp-to-iimp.proposed.yaml"
run policy diff --dir "$platform" policies/examples/mpfp-to-iimp.yaml "$demo/mpfp-to-iimp.proposed.yaml"

step "start both nodes (logs in $demo/*.log)"
"$bin" serve --dir "$platform" 2>"$demo/mpfp.log" & pids+=($!)
"$bin" serve --dir "$institution" 2>"$demo/iimp.log" & pids+=($!)
for _ in $(seq 1 150); do
  if jisr status --dir "$platform" --json 2>/dev/null | grep -q '"state": "connected"'; then break; fi
  sleep 0.1
done
run status --dir "$platform"
run status --dir "$institution"

step "share: the platform pushes consented reports; the institution keeps what it accepts"
run sync --dir "$platform" --peer iimp --wait
echo; echo "\$ jisr received --dir $institution --format csv   (first columns)"
jisr received --dir "$institution" --format csv | cut -d, -f1-3,8,10-13
run status --dir "$platform"

step "match: which of our reports describe persons the institution also holds? (PSI: no record leaves)"
run match --dir "$platform" --peer iimp --method psi
run matches list --dir "$platform"
run matches confirm 1 --dir "$platform"
run matches show 1 --dir "$platform"

step "audit: every disclosure, receipt, match job and reveal is in a hash-chained, signed log on both sides"
run audit log --dir "$platform" --kind batch_disclosed --limit 3
run audit record --dir "$platform" D-P001
run audit verify --dir "$platform"
run audit verify --dir "$institution"

echo
echo "quickstart: done. Node homes: $platform and $institution"
if [ "${JISR_DEMO_KEEP:-0}" = "1" ]; then
  echo "quickstart: nodes still running (pids ${pids[*]}); stop them with: kill ${pids[*]}"
fi

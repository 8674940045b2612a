#!/usr/bin/env bash
# Checks every #include "..." of our code against the layer table of DESIGN.md: a layer may
# include only itself and the layers it may use. Also checks that only node/store includes
# <lmdb.h> and that Asio stays in node/net, node/exchange and node/app.
set -euo pipefail
root=${1:-.}
cd "$root"
declare -A allowed=(
  [node/core]="node/core"
  [node/store]="node/core node/store"
  [node/pki]="node/core node/pki"
  [policies]="node/core policies"
  [node/match]="node/core node/match"
  [node/audit]="node/core node/store node/audit"
  [protocol]="node/core protocol"
  [node/net]="node/core protocol node/pki node/net"
  [adapters]="node/core node/store adapters"
  [node/exchange]="node/core node/store node/pki policies node/match node/audit protocol node/net adapters node/exchange"
)
fail=0
for layer in "${!allowed[@]}"; do
  [ -d "$layer" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    case "$inc" in
      *.capnp.h) continue ;;
    esac
    target=$(dirname "$inc")
    ok=0
    for a in ${allowed[$layer]}; do
      [[ "$target" == "$a" || "$target" == "$a"/* ]] && ok=1
    done
    if [ $ok -eq 0 ]; then
      echo "layering: $file includes $inc (layer $layer may use: ${allowed[$layer]})"
      fail=1
    fi
  done < <(grep -rn --include='*.cpp' --include='*.hpp' '#include "' "$layer" || true)
done
if grep -rln --include='*.cpp' --include='*.hpp' '<lmdb.h>' node policies protocol adapters | grep -v '^node/store/' ; then
  echo "layering: only node/store may include <lmdb.h>"; fail=1
fi
if grep -rln --include='*.cpp' --include='*.hpp' 'boost/asio' node/core node/store node/pki policies node/match node/audit protocol adapters 2>/dev/null; then
  echo "layering: Asio belongs in node/net, node/exchange and node/app"; fail=1
fi
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail

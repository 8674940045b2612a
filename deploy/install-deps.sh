#!/usr/bin/env bash
# Installs, from Debian packages only, what Jisr needs to build and test and is not yet
# installed. Idempotent and quiet when everything is present.
#   JISR_FUZZ=1 also installs clang (libFuzzer) for the fuzz targets.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config ccache git python3
  libboost1.81-dev libssl-dev openssl capnproto libcapnp-dev liblmdb-dev lmdb-utils
  libyaml-cpp-dev catch2 libsodium-dev libicu-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev
)
if [ "${JISR_FUZZ:-0}" = "1" ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

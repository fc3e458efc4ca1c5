#!/usr/bin/env bash
# install-deps.sh - installs every Debian package seedmesh needs to build,
# test and run its demo; does nothing when all are present already.
set -euo pipefail

# libfaketime: integ_faults' wall-clock jumps; gdb: the stacks a test prints
# when a node does not stop on SIGTERM.
packages=(
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libuv1-dev libsodium-dev libmsgpack-dev libzstd-dev libcmocka-dev
  default-libmysqlclient-dev zstd socat iproute2 iptables procps curl tmux
  python3-jsonschema libfaketime gdb
)
if [ "${SEEDMESH_DB_PACKAGES:-1}" = 1 ]; then
  packages+=(mariadb-server mariadb-backup galera-4 sysbench)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian starts services on install; seedmesh's tests start their own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

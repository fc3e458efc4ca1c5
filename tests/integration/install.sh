#!/usr/bin/env bash
# install.sh - `cmake --install` into a scratch root (DESTDIR): the binary,
# the SST script and the man page are installed, the man page renders, each
# systemd unit's ExecStart binary and EnvironmentFile are where the install
# put them, and systemd-analyze finds no other fault in the units; an install
# under another prefix than the configured one is refused before a single
# file is written.
# usage: install.sh BUILD_DIR
BUILD=$1
. "$(dirname "$0")/lib.sh"

root=$WORK/root
DESTDIR=$root cmake --install "$BUILD" >"$WORK/install.log" 2>&1
rc=$?
check "cmake --install into a scratch root (exit $rc)" test $rc -eq 0
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
mapfile -t units < <(find "$root" -name 'seedmesh-*.service' | sort)
check "two systemd units (${#units[@]})" test "${#units[@]}" -eq 2
for u in "${units[@]}"; do
  name=$(basename "$u")
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
  env=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$u")
  check "$name: ExecStart's $exe is installed" test -n "$exe" -a -x "$root$exe"
  check "$name: its EnvironmentFile $env is installed" test -n "$env" -a -f "$root$env"
  if command -v systemd-analyze >/dev/null; then
    # Outside the scratch root the binary is not installed; anything else
    # it reports is a fault of the unit.
    others=$(systemd-analyze verify --man=no "$u" 2>&1 | grep -v "Command $exe is not executable")
    check "$name: systemd-analyze verify reports nothing else${others:+: $others}" test -z "$others"
  fi
done
check "wsrep_sst_seedmesh is installed next to seedmesh" test -x "$root$prefix/bin/wsrep_sst_seedmesh"
page=$(find "$root" -name seedmesh.1 | head -1)
check "the man page is installed ($page)" test -n "$page"
if command -v man >/dev/null; then
  man -l "$page" >"$WORK/man.txt" 2>/dev/null
  check "man renders it (NAME, SYNOPSIS, COMMANDS)" test \
    "$(grep -cE '^(NAME|SYNOPSIS|COMMANDS)$' "$WORK/man.txt")" -eq 3
else
  echo "ok - # SKIP man is not installed"
fi

other=$WORK/other
DESTDIR=$other cmake --install "$BUILD" --prefix /opt/elsewhere >"$WORK/other.log" 2>&1
rc=$?
check "an install with --prefix other than the configured one fails (exit $rc)" test $rc -ne 0
said=$(tr -s ' \n' ' ' <"$WORK/other.log") # CMake wraps its message
check "it says to reconfigure: $(echo "$said" | grep -o 'reconfigure with [^ ]*')" \
  grep -q "reconfigure with -DCMAKE_INSTALL_PREFIX=/opt/elsewhere" <<<"$said"
check "it wrote no file" test -z "$(find "$other" -type f 2>/dev/null)"
finish

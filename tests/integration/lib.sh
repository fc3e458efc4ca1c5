# lib.sh - helpers for the shell integration tests: temp dirs, assertions
# that print what failed, and checks of the one-line error contract.
set -uo pipefail

TESTS_RUN=0
TESTS_FAILED=0
WORK=$(mktemp -d "${SM_TEST_TMPDIR:-/tmp}/sm-integ.XXXXXX")
trap '[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT

ok() { TESTS_RUN=$((TESTS_RUN + 1)); echo "ok - $*"; }
not_ok() { TESTS_RUN=$((TESTS_RUN + 1)); TESTS_FAILED=$((TESTS_FAILED + 1)); echo "not ok - $*"; }
check() { # description, command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# expect_one_line_error DESC EXPECTED_EXIT STDERR_PATTERN -- command...
# Runs a command that must fail with the given exit code and exactly one line
# on stderr matching the pattern.
expect_one_line_error() {
  local what=$1 want_rc=$2 pattern=$3
  shift 4
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$WORK/err")
  if [ "$rc" -eq "$want_rc" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pattern" "$WORK/err"; then
    ok "$what: $(cat "$WORK/err")"
  else
    not_ok "$what (exit $rc, want $want_rc; $lines stderr lines; pattern '$pattern')"
    sed 's/^/    /' "$WORK/err" | head -5
  fi
}

# stop_nodes_exit: an EXIT trap for tests that keep their nodes' pids in
# NODE_PID (declare -A NODE_PID): kills those still running, then removes
# WORK (SM_KEEP=1 keeps it).
stop_nodes_exit() {
  local p
  for p in "${NODE_PID[@]}"; do
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "${SM_KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}

finish() {
  echo "$((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
  [ "$TESTS_FAILED" -eq 0 ]
}

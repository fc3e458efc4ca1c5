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

# Nodes of the tests that use NODE_PID share one layout: node I listens on
# 127.0.0.1:BASE+I with key kI.key and the trust file "trust", keeps its state
# in sI/ and appends its log to logI (tests with other layouts, or mariadbd
# nodes, define their own start_node after sourcing this file).
# node_launch I ARGS...: starts node I in the background (NODE_PID[I]).
node_launch() {
  local i=$1
  shift
  rm -f "s$i/control.sock" # left behind by a kill -9
  "$SM" node --listen "127.0.0.1:$((BASE + i))" --key "k$i.key" --trust trust --state "s$i" \
    "$@" 2>>"log$i" &
  NODE_PID[$i]=$!
}
# node_wait_socket I: until node I's control socket is up (10 s at most).
node_wait_socket() {
  local n
  for n in $(seq 100); do
    [ -S "s$1/control.sock" ] && return 0
    sleep 0.1
  done
  echo "    node $1 has no control socket after 10 s:"
  tail -n 5 "log$1" 2>/dev/null | sed 's/^/    /'
  return 1
}
# start_node I ARGS...: node_launch, then node_wait_socket.
start_node() {
  node_launch "$@"
  node_wait_socket "$1"
}
# pid_running PID: the process exists and is not a zombie awaiting wait.
pid_running() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
# dump_stuck PID LOG: what a process that will not exit is doing (thread
# stacks when gdb can attach, else each thread's kernel wait channel), and the
# end of its log.
dump_stuck() {
  if command -v gdb >/dev/null; then
    timeout 60 gdb -p "$1" -batch -ex "thread apply all bt" 2>/dev/null |
      grep -E '^(Thread|#)' | head -n 120 | sed 's/^/#     /'
  fi
  for t in /proc/"$1"/task/*; do
    echo "#     thread ${t##*/}: $(cat "$t/comm" 2>/dev/null) waits in $(cat "$t/wchan" 2>/dev/null)"
  done
  tail -n 15 "$2" 2>/dev/null | sed 's/^/#     log: /'
}
# in_leak_check PID: the process is inside LeakSanitizer's exit-time check,
# i.e. past main: a child running the same binary (LSan's tracer) holds its
# threads in a ptrace stop. That check can hang on its own
# (google/sanitizers#1330, #777); seedmesh's shutdown had finished by then.
in_leak_check() {
  local c exe tracer=""
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  for c in $(pgrep -P "$1"); do
    [ "$(readlink "/proc/$c/exe" 2>/dev/null)" = "$exe" ] && tracer=$c
  done
  [ -n "$tracer" ] && cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{print $3}' | grep -qx t
}
# stop_node I: SIGTERM, then waits for it; a node still running 60 s later
# fails the check with its stacks and is killed, so a shutdown that hangs
# cannot hang the test (unless it is LeakSanitizer's own exit check that
# hangs, which is reported and killed without failing).
stop_node() {
  local pid=${NODE_PID[$1]:-} n
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for n in $(seq 600); do
    pid_running "$pid" || break
    sleep 0.1
  done
  if pid_running "$pid" && in_leak_check "$pid"; then
    echo "ok - # node $1 shut down, then hung in LeakSanitizer's exit check (a sanitizer bug): killed"
    pkill -9 -P "$pid" 2>/dev/null
    kill -9 "$pid" 2>/dev/null
  elif pid_running "$pid"; then
    not_ok "node $1 exits within 60 s of SIGTERM"
    dump_stuck "$pid" "log$1"
    kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  unset "NODE_PID[$1]"
}

finish() {
  echo "$((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
  [ "$TESTS_FAILED" -eq 0 ]
}

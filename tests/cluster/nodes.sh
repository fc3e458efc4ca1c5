# nodes.sh - real `seedmesh node` processes inside the namespaces of net.sh:
# keys and trust, a donor serving a snapshot, recipients fetching, and the
# checks the cluster tests share (sourced after net.sh; needs SM, WORK).
#
# Node I listens on 10.77.0.(10+I):7400 in its namespace, keeps its state in
# $WORK/sI and logs to $WORK/logI. Control sockets are unix paths, reachable
# from the host namespace, so fetch and status run outside the namespaces.

NODE_PORT=7400
declare -A NODE_PIDS

node_ep() { echo "$(net_addr "$1"):$NODE_PORT"; }
node_sock() { echo "$WORK/s$1/control.sock"; }

# nodes_keys K: keys k0..k(K-1) in $WORK, all in $WORK/trust.
nodes_keys() {
  local i
  : >"$WORK/trust"
  for ((i = 0; i < $1; i++)); do
    "$SM" keygen --out "$WORK/k$i.key" | cut -d' ' -f1 >>"$WORK/trust" || return 1
  done
}

# node_start I ARGS...: starts node I in its namespace with ARGS added.
node_start() {
  local i=$1
  shift
  rm -rf "$WORK/s$i"
  # ip netns exec execs the node, so $! is the node itself (not a subshell).
  ip netns exec "$(net_ns "$i")" "$SM" node --listen "$(node_ep "$i")" --key "$WORK/k$i.key" \
    --trust "$WORK/trust" --state "$WORK/s$i" "$@" 2>>"$WORK/log$i" &
  NODE_PIDS[$i]=$!
}

# node_wait_socket I: up to 10 s for node I's control socket.
node_wait_socket() {
  local n
  for n in $(seq 100); do
    [ -S "$(node_sock "$1")" ] && return 0
    sleep 0.1
  done
  echo "    node $1 has no control socket after 10 s:"
  tail -n 5 "$WORK/log$1" | sed 's/^/    /'
  return 1
}

# node_stop I: SIGTERM, then up to 20 s for the node to exit; after that
# SIGKILL and status 1 (a node must stop cleanly on SIGTERM).
node_stop() {
  local p=${NODE_PIDS[$1]:-} n rc=0
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null
  for n in $(seq 200); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    echo "    node $1 (pid $p) still running 20 s after SIGTERM: killed" >&2
    kill -9 "$p" 2>/dev/null
    rc=1
  fi
  wait "$p" 2>/dev/null
  unset "NODE_PIDS[$1]"
  return $rc
}

# nodes_stop_all: stops every node (SIGTERM to all, then waits); status 1
# when one had to be killed.
nodes_stop_all() {
  local i rc=0
  for i in "${!NODE_PIDS[@]}"; do
    kill "${NODE_PIDS[$i]}" 2>/dev/null
  done
  for i in "${!NODE_PIDS[@]}"; do
    node_stop "$i" || rc=1
  done
  return $rc
}

# node_fetch_timed I TIMEOUT: fetches latest into $WORK/rI; writes
# "rc seconds" to $WORK/fetchI.res (run it in the background for parallel
# fetches).
node_fetch_timed() {
  local t0 t1 rc
  rm -rf "$WORK/r$1" "$WORK/r$1.seedmesh-staging"
  t0=$(date +%s.%N)
  timeout "$2" "$SM" fetch latest --target "$WORK/r$1" --control "$(node_sock "$1")" \
    >"$WORK/fetch$1.out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  echo "$rc $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" >"$WORK/fetch$1.res"
}

# node_members_alive I: how many members node I sees alive (itself included).
node_members_alive() {
  "$SM" status --cluster --json --control "$(node_sock "$1")" 2>/dev/null |
    grep -o '"status":"alive"' | wc -l
}

# nodes_converged "I...": every listed node sees exactly as many members
# alive as there are nodes listed. Prints the counts.
nodes_converged() {
  local i c all=1 want
  want=$(echo $1 | wc -w)
  NODES_COUNTS=""
  for i in $1; do
    c=$(node_members_alive "$i")
    NODES_COUNTS+="$c "
    [ "$c" -eq "$want" ] || all=0
  done
  [ "$all" -eq 1 ]
}

# nodes_wait_converged "I..." SECONDS: polls nodes_converged.
nodes_wait_converged() {
  local n
  for n in $(seq $(($2 * 4))); do
    nodes_converged "$1" && return 0
    sleep 0.25
  done
  return 1
}

# node_transfer_field I KEY: KEY of node I's first transfer in status --json.
node_transfer_field() {
  "$SM" status --json --control "$(node_sock "$1")" 2>/dev/null |
    python3 -c 'import json, sys
t = json.load(sys.stdin)["transfers"]
print(t[0][sys.argv[1]] if t else "")' "$2" 2>/dev/null
}

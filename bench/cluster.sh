#!/usr/bin/env bash
# cluster.sh - real nodes over shaped links in network namespaces
# (tests/cluster/net.sh; docs/cluster.md): one donor and N recipients, every
# link RATE both ways, a SIZE snapshot. Side by side in one run:
#   swarm  every node joined by gossip, all fetch at once
#   (a)    each recipient knows only the donor, fetches one after the other
#   (b)    each recipient knows only the donor, all fetch at once
# each as a ratio to T_min = max(F/u_s, F/d_min, N*F/(u_s + sum u_i)), with
# the donor's upload as a multiple of F; then the same with LOSS % loss and
# DELAY ms one-way delay. seedmesh-sim runs the same scenarios for comparison.
# Writes the "cluster" section of docs/benchmarks.md (and prints it).
# usage: bench/cluster.sh [build-dir]   (default build-rel; root needed)
# env: N=8 SIZE=256M RATE_MBIT=100 LOSS=2 DELAY=20 CASES="swarm seq par"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build-rel}
SM=$build/cli/seedmesh
GEN=$build/tests/tools/sm-gentree
SIM=$build/sim/seedmesh-sim
NET_DELAY_BIN=$build/tests/tools/sm-netdelay
for b in "$SM" "$GEN" "$SIM" "$NET_DELAY_BIN"; do
  [ -x "$b" ] || { echo "bench: build $b first (cmake --build $build)" >&2; exit 1; }
done
N=${N:-8}
SIZE=${SIZE:-256M}
RATE_MBIT=${RATE_MBIT:-100}
LOSS=${LOSS:-2}
DELAY=${DELAY:-20}
CASES=${CASES:-"swarm seq par"}
TIMEOUT=${TIMEOUT:-3600}
. "$here/lib.sh"
. "$root/tests/cluster/net.sh"
WORK=$(mktemp -d /tmp/sm-cluster-bench.XXXXXX)
. "$root/tests/cluster/nodes.sh"
NET_LOG=$WORK/netdelay.log
RECIPIENTS=$(seq -s' ' 1 "$N")
cleanup() {
  nodes_stop_all
  net_down
  [ "${KEEP_WORK:-0}" = 1 ] && echo "# kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && net_available || { echo "bench: needs root and ip netns" >&2; exit 1; }

nodes_keys $((N + 1)) || exit 1
"$GEN" create --out "$WORK/src" --size "$SIZE" --seed 11 >/dev/null || exit 1
"$SM" snapshot --engine dir --source "$WORK/src" --out "$WORK/store" --key "$WORK/k0.key" >/dev/null ||
  exit 1
"$SM" manifest show "$WORK/store" --json >"$WORK/manifest.json"
F=$(grep -o '"piece_bytes":[0-9]*' "$WORK/manifest.json" | cut -d: -f2)
CHUNK=$(grep -o '"chunk_size":[0-9]*' "$WORK/manifest.json" | cut -d: -f2)
# Chunks are stored and sent zstd-compressed: the links carry F_WIRE bytes
# per copy, so the bound and the simulator use F_WIRE.
F_WIRE=$(du -sb "$WORK/store/chunks" | cut -f1)
SIM_CHUNK=$(awk -v c="$CHUNK" -v w="$F_WIRE" -v f="$F" 'BEGIN { printf "%d", c * w / f }')
BPS=$((RATE_MBIT * 1000000 / 8))
# T_min with every u_i = d_i = u_s = BPS.
T_MIN=$(awk -v f="$F_WIRE" -v u="$BPS" -v n="$N" 'BEGIN {
  a = f / u; c = n * f / (u + n * u); printf "%.2f", (a > c ? a : c) }')
echo "# F = $F piece bytes ($F_WIRE on the wire), $N recipients, ${RATE_MBIT} Mbit/s each way per node, T_min = $T_MIN s" >&2

# fetch_end_s I T0_MS: seconds from T0_MS to the end of node I's FETCH stage.
fetch_end_s() {
  "$SM" status --json --control "$(node_sock "$1")" 2>/dev/null | python3 -c 'import json, sys
t0 = int(sys.argv[1])
for t in json.load(sys.stdin)["transfers"]:
    for s in t["stages"]:
        if s["stage"] == "FETCH" and s["end_ms"]:
            print("%.2f" % ((s["end_ms"] - t0) / 1000.0)); sys.exit(0)
print("nan")' "$2"
}
now_ms() { date +%s%3N; }

# run_case CASE: starts the nodes, fetches, checks the trees; prints
# "makespan p50 donor_bytes_up" and leaves per-node times in $WORK/times.
run_case() {
  local c=$1 i t0 pids=()
  node_start 0 --serve "$WORK/store" --seeds "$(node_ep 0)" \
    $([ "$c" = swarm ] || echo --no-super-seed)
  node_wait_socket 0 >&2 || return 1
  for i in $RECIPIENTS; do
    node_start "$i" --seeds "$(node_ep 0)" $([ "$c" = swarm ] || echo --donor-only)
  done
  for i in $RECIPIENTS; do node_wait_socket "$i" >&2 || return 1; done
  nodes_wait_converged "0 $RECIPIENTS" 30
  t0=$(now_ms)
  for i in $RECIPIENTS; do
    if [ "$c" = seq ]; then
      node_fetch_timed "$i" "$TIMEOUT"
    else
      node_fetch_timed "$i" "$TIMEOUT" &
      pids+=($!)
    fi
  done
  [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
  : >"$WORK/times"
  for i in $RECIPIENTS; do
    read -r rc _ <"$WORK/fetch$i.res"
    if [ "$rc" -ne 0 ] || ! "$SM" verify --manifest "$WORK/store" --target "$WORK/r$i" >/dev/null; then
      echo "bench: $c: recipient $i failed (fetch exit $rc): $(tail -1 "$WORK/fetch$i.out")" >&2
      return 1
    fi
    fetch_end_s "$i" "$t0" >>"$WORK/times"
  done
  up=$(node_transfer_field 0 bytes_up)
  nodes_stop_all
  for i in 0 $RECIPIENTS; do rm -rf "$WORK/r$i" "$WORK/s$i"; done
  sort -g "$WORK/times" | awk -v up="$up" '{ a[NR] = $1 } END {
    printf "%s %s %s\n", a[NR], (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2, up }'
}

# sim_case LOSS DELAY: seedmesh-sim on the same scenario: "max p50".
sim_case() {
  local f=$WORK/sim.json
  "$SIM" --nodes "$N" --size "$F_WIRE" --chunk "$SIM_CHUNK" --up "$BPS" --down "$BPS" --latency "$(($2 > 0 ? $2 : 1))" \
    --loss "$(awk -v p="$1" 'BEGIN { print p / 100 }')" --seed 1 --json >"$f" 2>"$WORK/sim.err" ||
    { echo "nan nan"; return; }
  echo "$(grep -o '"max_s":[-0-9.e+]*' "$f" | cut -d: -f2) $(grep -o '"p50_s":[-0-9.e+]*' "$f" | cut -d: -f2)"
}

out=$WORK/section.md
{
  echo "## Cluster: real nodes over shaped links ($(date -u +%Y-%m-%d), one run each, side by side)"
  echo
  echo "$N recipients and a donor, each in its own network namespace on one bridge,"
  echo "every link ${RATE_MBIT} Mbit/s each way (htb), a $SIZE tree of $F piece bytes,"
  echo "stored and sent zstd-compressed: F = $F_WIRE bytes on the wire per copy."
  echo "\`T_min\` = max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) = $T_MIN s. Time = last recipient's"
  echo "end of FETCH after all were asked at once (for (a), after the first was asked)."
  echo "(a) each recipient fetches from the donor only (\`--donor-only\`), one after"
  echo "the other; (b) the same, all at once; the donor runs \`--no-super-seed\` in both."
  echo "Loss: iptables random drop on every node's input; delay: sm-netdelay one way"
  echo "on every sender (docs/cluster.md). seedmesh-sim: same N, F, rates, latency;"
  echo "its \`--loss\` drops control messages only, and it models no CPU."
  echo
  echo "| network | case | max s | p50 s | max / T_min | donor sent / F | sim max s | sim error | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$out"

for variant in clean lossy; do
  if [ "$variant" = clean ]; then loss=0 delay=0; else loss=$LOSS delay=$DELAY; fi
  net_up $((N + 1)) || { echo "bench: net_up failed" >&2; exit 1; }
  for i in 0 $RECIPIENTS; do net_shape "$i" "${RATE_MBIT}mbit" "$delay" "$loss" || exit 1; done
  read -r sim_max sim_p50 < <(sim_case "$loss" "$delay")
  for c in $CASES; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    res=$(run_case "$c") || { echo "bench: case $c ($variant) failed" >&2; exit 1; }
    read -r mk p50 up <<<"$res"
    label=$(case $c in swarm) echo swarm ;; seq) echo "(a) one after another" ;; par) echo "(b) all at once from the donor" ;; esac)
    if [ "$c" = swarm ]; then
      sim_col=$sim_max
      err=$(awk -v s="$sim_max" -v m="$mk" 'BEGIN { if (s == "nan") print "n/a"; else printf "%+.0f%%", (s - m) / m * 100 }')
    else
      sim_col="-" err="-"
    fi
    line=$(awk -v c="$label" -v v="$variant" -v mk="$mk" -v p50="$p50" -v t="$T_MIN" -v up="$up" -v f="$F_WIRE" \
      -v sm="$sim_col" -v e="$err" -v l="$load" -v lo="$loss" -v de="$delay" 'BEGIN {
      net = (v == "clean") ? "clean" : sprintf("%s%% loss, %s ms", lo, de)
      printf "| %s | %s | %.1f | %.1f | %.2fx | %.2fx | %s | %s | %s |\n", net, c, mk, p50, mk / t, up / f, sm, e, l }')
    echo "$line" >>"$out"
    echo "$line" >&2
  done
  net_down
done
{
  echo
  echo "Reproduce: \`sudo bench/cluster.sh build-rel\` (RelWithDebInfo build; env N, SIZE,"
  echo "RATE_MBIT, LOSS, DELAY, CASES). Load average: the machine's 1-minute load when"
  echo "the case started (2 cores, shared with other jobs)."
} >>"$out"
cat "$out"
[ "${WRITE:-1}" = 1 ] && write_section cluster "$out"

#!/usr/bin/env bash
# galera.sh - three Galera nodes joining a 1-node cluster at once, three ways,
# side by side in one run on the same donor data under the same light write
# load (sysbench --rate=40):
#   seedmesh-sst: wsrep_sst_method=seedmesh; each joiner next to its own
#     seedmesh node; the donor (g0) serves its store, taking one fresh
#     --galera-info snapshot when its latest is too old for Galera's IST.
#   join:         `seedmesh join --engine galera` after a fresh --galera-info
#     snapshot (timed with the joins): each node starts from grastate.dat at
#     the snapshot's position and joins by IST only.
#   mariabackup:  the stock wsrep_sst_method=mariabackup (socat streams).
# Timed from the three mariadbd starts until all three are Synced. Donor bytes
# = what g0's host sent to the joiners' SST and IST ports (iptables counters
# in a private network namespace) plus the donor seedmesh node's bytes_up.
# Writes the "galera-join" section of docs/benchmarks.md.
# usage: bench/galera.sh [SIZE_MB] [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
SRC_DIR=$(pwd)
if [ -z "${SM_BENCH_NETNS:-}" ]; then
  # A private network namespace: loopback only, iptables counters of our own.
  exec unshare -n env SM_BENCH_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
. "$SRC_DIR/bench/lib.sh"
size_mb=${1:-128}
runs=${2:-1}
export PATH="$PATH:/usr/sbin"
PROVIDER=/usr/lib/galera/libgalera_smm.so
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build build-release -j2 --target seedmesh >/dev/null || exit 1
SM=$SRC_DIR/build-release/cli/seedmesh
WORK=$(mktemp -d /tmp/sm-bench-galera.XXXXXX)
base=41000
cd "$WORK"
. "$SRC_DIR/tests/integration/galera_lib.sh"
pids=()
cleanup() {
  for i in 1 2 3 0; do stop_node $i; done
  for p in "${pids[@]}" "${node_pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
iptables -N SMBENCH
iptables -I OUTPUT -o lo -j SMBENCH
for i in 1 2 3; do
  iptables -A SMBENCH -p tcp --dport $((base + 10 + i)) # IST
  iptables -A SMBENCH -p tcp --dport $((base + 15 + i)) # SST
done
counted() { iptables -L SMBENCH -v -x -n | awk 'NR > 2 {s += $2} END {print s + 0}'; }
node_up() {
  "$SM" status --json --control s0/control.sock 2>/dev/null | sed 's/.*"transfers":\[//' |
    grep -o '"bytes_up":[0-9]*' | cut -d: -f2 | paste -sd+ | bc
}

GCACHE=256M
write_cnf 0 "gcomm://" $GCACHE seedmesh
mariadb-install-db --defaults-file="$WORK/g0.cnf" --auth-root-authentication-method=normal \
  >install.log 2>&1
start_node 0 --wsrep-new-cluster
wait_synced 0 60 || { echo "bench: g0 did not start" >&2; exit 1; }
q 0 "CREATE DATABASE sbtest"
tables=4
rows=$((size_mb * 4000 / tables))
SB=(--db-driver=mysql --mysql-socket="$WORK/g0.sock" --mysql-user=root --mysql-db=sbtest
    --tables=$tables --table-size=$rows)
sysbench oltp_read_write "${SB[@]}" --threads=2 prepare >sb-prepare.log 2>&1
datadir=$(du -sm --exclude=galera.cache g0 | cut -f1)
sysbench oltp_read_write "${SB[@]}" --threads=2 --time=0 --rate=40 --report-interval=0 run \
  >sb-run.log 2>&1 &
pids+=($!)
for i in 0 1 2 3; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
"$SM" snapshot --engine mariadb --galera-info --socket "$WORK/g0.sock" --user root --out store \
  --key k0.key --json >snap.json 2>snap.log || { echo "bench: snapshot failed" >&2; exit 1; }
snap_mib=$(( $(grep -o '"bytes":[0-9]*' snap.json | cut -d: -f2) / 1048576 ))
# start_nodes: a fresh donor node and three recipient nodes (new state dirs),
# so that every round measures the same cold start (running nodes could fetch
# snapshot after snapshot too; their counters would then span rounds)
node_pids=()
start_nodes() {
  local i
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  node_pids=()
  rm -rf s0 s1 s2 s3
  "$SM" node --listen 127.0.0.1:$((base + 20)) --key k0.key --trust trust --state s0 \
    --serve store >/dev/null 2>>node0.log &
  node_pids+=($!)
  for i in 1 2 3; do
    "$SM" node --listen 127.0.0.1:$((base + 20 + i)) --key k$i.key --trust trust --state s$i \
      --seeds 127.0.0.1:$((base + 20)) >/dev/null 2>>node$i.log &
    node_pids+=($!)
  done
  for _ in $(seq 50); do [ -S s3/control.sock ] && [ -S s0/control.sock ] && break; sleep 0.1; done
}

# one_round METHOD: sets round_out to "seconds donor_bytes" for three joins
# at once
one_round() {
  local m=$1 t0 i up0 sec
  for i in 1 2 3; do stop_node $i; rm -rf "$WORK/g$i" "$WORK"/g$i.seedmesh-*; done
  local snap_s=0 jp=()
  if [ "$m" = join ]; then
    # a fresh snapshot for this round (its time is added to the joins')
    t0=$(date +%s.%N)
    "$SM" snapshot --engine galera --socket "$WORK/g0.sock" --user root --out store \
      --key k0.key >>snap.log 2>&1 || { echo "bench: snapshot failed" >&2; return 1; }
    snap_s=$(elapsed "$t0")
  fi
  [ "$m" != mariabackup ] && start_nodes
  iptables -Z SMBENCH
  up0=$(node_up)
  t0=$(date +%s.%N)
  for i in 1 2 3; do
    write_cnf $i "gcomm://127.0.0.1:$((base + 5))" $GCACHE "${m/join/seedmesh}"
    if [ "$m" = join ]; then
      SEEDMESH_BIN="$SM" PATH="$WORK/bin:$PATH" "$SM" join --engine galera \
        --control s$i/control.sock \
        --target "$WORK/g$i" --defaults-file "$WORK/g$i.cnf" --source-host 127.0.0.1 \
        --source-port $base --quiet >join$i.log 2>&1 &
      jp[$i]=$!
    else
      mkdir -p "$WORK/g$i"
      start_node $i
    fi
  done
  for i in "${!jp[@]}"; do
    wait "${jp[$i]}" || { echo "bench: join $i failed:" >&2; tail -3 join$i.log >&2; return 1; }
  done
  for i in 1 2 3; do wait_synced $i 900 || { echo "bench: g$i did not sync ($m)" >&2; return 1; }; done
  sec=$(echo "$(elapsed "$t0") + $snap_s" | bc)
  up=$(node_up)
  round_out="$sec $(( $(counted) + ${up:-0} - ${up0:-0} ))"
}

declare -A secs bytes
methods=(join seedmesh mariabackup)
for r in $(seq "$runs"); do
  for m in "${methods[@]}"; do
    one_round "$m" || exit 1
    out=$round_out
    secs[$m]+="${out% *} "
    bytes[$m]+="${out#* } "
    echo "round $r $m: $out" >&2
  done
done
NOTE="Donor sent = bytes from the donor host to the joiners' SST and IST ports (iptables counters in a private network namespace) plus the donor seedmesh node's uploads; seedmesh's donor also ran the fresh --galera-info snapshot when its latest was too old for the IST (docs/galera.md). The SST rows are timed from the three mariadbd starts until all three are Synced; the join row from the start of its fresh snapshot until all three joins reported CAUGHT_UP (Synced)."
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.1f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mib() { echo "$1" | awk '{printf "%.0f", $1 / 1048576}'; }
{
  echo "Three Galera nodes join a 1-node cluster at once (MariaDB $(q 0 'SELECT VERSION()' | cut -d- -f1), galera-4, ${datadir} MiB datadir without the gcache, ${snap_mib} MiB snapshot, sysbench $tables x $rows rows, writes at 40 tx/s during the joins; $runs round(s), median)."
  echo
  echo "| method | wall time, 3 joins | donor sent |"
  echo "|---|---|---|"
  for m in "${methods[@]}"; do
    sm=$(median "${secs[$m]}")
    bm=$(median "${bytes[$m]}")
    label=$m
    [ "$m" = seedmesh ] && label="wsrep_sst_method=seedmesh"
    [ "$m" = join ] && label="seedmesh join --engine galera (IST only; includes its fresh snapshot)"
    [ "$m" = mariabackup ] && label="wsrep_sst_method=mariabackup (stock)"
    echo "| $label | $sm s | $(mib "$bm") MiB |"
  done
  echo
  echo "$NOTE"
  echo
  echo "Reproduce: \`bench/galera.sh $size_mb $runs\` (runs in a private network namespace; needs root for it and iptables)."
} >result.md
cat result.md
write_section galera-join result.md

#!/usr/bin/env bash
# galera.sh - Galera bulk joins through the swarm, against real servers on
# loopback: a 1-node cluster (galera-4) bootstrapped with sysbench data under
# a write load is snapshotted with --galera-info and served by a seedmesh
# node; three new nodes join at once, each next to its own seedmesh node.
#   mode sst:  the joiners run wsrep_sst_method=seedmesh: Galera drives the
#              joins, `seedmesh sst` serves them from the swarm.
#   mode join: `seedmesh join --engine galera` seeds each datadir before
#              mariadbd starts; the nodes join by IST only. (The flags used here
#              are the ones docs/galera.md documents.)
# First, without servers: the joiner's ready line, stdout with protocol lines
# only, a forged answer ignored, the joiner stopping when --parent dies, the
# donor refusing a joiner of another method.
# Both: all four reach Synced with wsrep_cluster_size=4; after the writes
# stop CHECKSUM TABLE agrees on every node; once the donor's gcache has been
# overrun the snapshot is refused with one clear line.
# usage: galera.sh SEEDMESH sst|join [SIZE_MB]   (exit 77 = skipped)
SM=$1
MODE=${2:-sst}
SIZE_MB=${3:-64}
. "$(dirname "$0")/lib.sh"
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
PROVIDER=/usr/lib/galera/libgalera_smm.so
export PATH="$PATH:/usr/sbin"
for b in mariadbd mariadb-backup mariadb-install-db sysbench; do
  if ! command -v "$b" >/dev/null 2>&1; then
    echo "SKIP: $b is missing (apt-get install mariadb-server mariadb-backup galera-4 sysbench)"
    exit 77
  fi
done
[ -r "$PROVIDER" ] || { echo "SKIP: $PROVIDER is missing (apt-get install galera-4)"; exit 77; }

cd "$WORK"
base=$((20000 + ($$ % 400) * 25))
# node i: mysql base+i, gcomm base+5+i, IST base+10+i, SST base+15+i,
# seedmesh node base+20+i
pids=()
cleanup_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$WORK"/g*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for _ in $(seq 60); do
    alive=""
    for f in "$WORK"/g*.pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.5
  done
  for f in "$WORK"/g*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  # a node that never wrote its pid file (seen: one hung in Galera's abort)
  for p in "${MARIADBD_PID[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'cleanup_all; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT

. "$SRC_DIR/tests/integration/galera_lib.sh"

# ---- the script protocol without servers: stdout carries protocol lines only
sleep 300 &
fake_parent=$!
mkdir -p lone
"$SM" sst --role joiner --address 127.0.0.1:$((base + 19)) --datadir "$WORK/lone/" \
  --parent $fake_parent --progress 0 --mysqld-args --datadir=x >lone.out 2>lone.err &
sst_pid=$!
for _ in $(seq 50); do [ -s lone.out ] && break; sleep 0.1; done
check "the joiner prints 'ready HOST:PORT/seedmesh/NONCE' at once" \
  grep -qE "^ready 127\.0\.0\.1:$((base + 19))/seedmesh/[0-9a-f]{32}\$" lone.out
check "and marks the datadir with sst_in_progress" test -e lone/sst_in_progress
echo "SEEDMESH-SST 1 00000000000000000000000000000000 error forged" >forged.txt
bash -c "exec 3<>/dev/tcp/127.0.0.1/$((base + 19)); cat forged.txt >&3" 2>/dev/null
# Let the joiner read the forged answer before its parent goes away: it
# checks the parent first on each turn, and a loaded machine may be slow.
for _ in $(seq 100); do grep -q "wrong nonce" lone.err && break; sleep 0.1; done
kill $fake_parent
wait $fake_parent 2>/dev/null
wait $sst_pid
rc=$?
check "when mariadbd (--parent) dies the joiner stops (exit $rc) and says so" \
  bash -c "[ $rc -eq 1 ] && grep -q 'is gone; stopping' lone.err"
check "an answer with the wrong nonce was ignored" grep -q "wrong nonce" lone.err
check "stdout held the ready line only" test "$(wc -l <lone.out)" -eq 1
check "sst_in_progress is removed" test ! -e lone/sst_in_progress
expect_one_line_error "a donor asked to serve a joiner of another SST method" 1 \
  "not a seedmesh one: set wsrep_sst_method=seedmesh on the joiner too" -- \
  "$SM" sst --no-config --role donor --address 127.0.0.1:4444/xtrabackup_sst//1 \
  --gtid 2096eb41-e618-11f1-bc91-5e4c9602a8ef:11 --gtid-domain-id 0

# ---- the bootstrap node with data under write load
GCACHE=48M
write_cnf 0 "gcomm://" $GCACHE seedmesh
mariadb-install-db --defaults-file="$WORK/g0.cnf" --auth-root-authentication-method=normal \
  >install.log 2>&1
start_node 0 --wsrep-new-cluster
for _ in $(seq 150); do q 0 "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
check "bootstrap node g0 answers and is Synced" wait_synced 0 30
q 0 "CREATE DATABASE sbtest"
TABLES=4
ROWS=$((SIZE_MB * 4000 / TABLES))
SB=(--db-driver=mysql --mysql-socket="$WORK/g0.sock" --mysql-user=root --mysql-db=sbtest
    --tables=$TABLES --table-size=$ROWS)
t0=$(date +%s.%N)
sysbench oltp_read_write "${SB[@]}" --threads=2 prepare >sb-prepare.log 2>&1
check "sysbench prepared $TABLES tables of $ROWS rows ($(elapsed "$t0") s)" test $? -eq 0
sysbench oltp_read_write "${SB[@]}" --threads=2 --time=0 --rate=40 --report-interval=0 run \
  >sb-run.log 2>&1 &
sbpid=$!
pids+=($sbpid)
sleep 2

# ---- snapshot under load; a donor node serves it; one node per joiner
for i in 0 1 2 3 4; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
t0=$(date +%s.%N)
"$SM" snapshot --engine mariadb --galera-info --socket "$WORK/g0.sock" --user root --out store \
  --key k0.key --json >snap.json 2>snap.err
check "snapshot --engine mariadb --galera-info under write load ($(elapsed "$t0") s)" test $? -eq 0
snap_seqno=$("$SM" manifest show store | sed -n 's/.*galera_seqno = //p')
snap_uuid=$("$SM" manifest show store | sed -n 's/.*galera_uuid = //p')
check "the manifest carries the Galera position ($snap_uuid:$snap_seqno)" \
  test -n "$snap_seqno" -a -n "$snap_uuid"
"$SM" node --listen 127.0.0.1:$((base + 20)) --key k0.key --trust trust --state s0 --serve store \
  2>node0.log &
pids+=($!)
for i in 1 2 3 4; do
  "$SM" node --listen 127.0.0.1:$((base + 20 + i)) --key k$i.key --trust trust --state s$i \
    --seeds 127.0.0.1:$((base + 20)) 2>node$i.log &
  pids+=($!)
done
for _ in $(seq 50); do [ -S s4/control.sock ] && [ -S s0/control.sock ] && break; sleep 0.1; done
sleep 3 # writes continue after the snapshot

# ---- three joins at once
t0=$(date +%s.%N)
if [ "$MODE" = sst ]; then
  for i in 1 2 3; do
    write_cnf $i "gcomm://127.0.0.1:$((base + 5))" $GCACHE seedmesh
    mkdir -p g$i
    start_node $i
  done
else
  for i in 1 2 3; do
    write_cnf $i "gcomm://127.0.0.1:$((base + 5))" $GCACHE seedmesh
    SEEDMESH_BIN="$SM" PATH="$WORK/bin:$PATH" \
      "$SM" join --engine galera --control s$i/control.sock --target "$WORK/g$i" \
      --defaults-file "$WORK/g$i.cnf" --source-host 127.0.0.1 --source-port $base \
      --json >join$i.json 2>join$i.err &
    jp[$i]=$!
  done
  for i in 1 2 3; do
    wait "${jp[$i]}"
    rc=$?
    check "seedmesh join --engine galera $i (exit $rc): CAUGHT_UP = Synced" \
      bash -c "[ $rc -eq 0 ] && grep -q '\"state\":\"CAUGHT_UP\"' join$i.json"
    [ $rc -eq 0 ] || sed 's/^/    /' join$i.err | tail -5
  done
fi
for i in 1 2 3; do
  wait_synced $i 300
  rc=$?
  check "g$i reached Synced ($(elapsed "$t0") s after the start)" test $rc -eq 0
  if [ $rc -ne 0 ]; then # what the node was doing, for whoever reads the CI log
    echo "    g$i: state '$(status $i wsrep_local_state_comment)'; its log ends:"
    grep -E "WSREP|ERROR|seedmesh" g$i.err | tail -n 15 | cut -c1-200 | sed 's/^/    /'
  fi
done
size=$(status 0 wsrep_cluster_size)
check "wsrep_cluster_size is 4 (got '$size')" test "$size" = 4
for i in 1 2 3; do
  if [ "$MODE" = sst ]; then
    check "g$i was served by the seedmesh SST method (snapshot installed, then IST)" \
      bash -c "grep -q 'seedmesh sst: installed the snapshot at $snap_uuid:' g$i.err &&
               grep -q 'Receiving IST' g$i.err"
  else
    check "g$i joined by IST only (no SST)" bash -c "grep -q 'Receiving IST' g$i.err"
  fi
done

# ---- stop writes, let every node apply everything, compare checksums
kill "$sbpid" 2>/dev/null
wait "$sbpid" 2>/dev/null
last=$(status 0 wsrep_last_committed)
for i in 1 2 3; do
  for _ in $(seq 120); do [ "$(status $i wsrep_last_committed)" = "$last" ] && break; sleep 0.5; done
done
tables=$(seq -s, -f 'sbtest.sbtest%g' 1 $TABLES)
q 0 "CHECKSUM TABLE $tables" >sum.g0
echo "    g0 at seqno $last (snapshot at $snap_seqno); checksums: $(awk '{print $2}' sum.g0 | tr '\n' ' ')"
check "the checksums are real: $TABLES non-empty rows" \
  test "$(awk '$2 > 0' sum.g0 | wc -l)" -eq $TABLES
for i in 1 2 3; do
  q $i "CHECKSUM TABLE $tables" >sum.g$i
  check "g$i: CHECKSUM TABLE of all $TABLES sbtest tables equals g0's" \
    bash -c "[ \$(wc -l <sum.g$i) -eq $TABLES ] && cmp -s sum.g0 sum.g$i"
done
check "writes went on after the snapshot (snapshot $snap_seqno, cluster at $last)" \
  test "$last" -gt "$snap_seqno"
# every manifest the donor node serves (the SST method may add fresh ones)
"$SM" status --json --control s0/control.sock | sed 's/.*"transfers":\[//' >st0.json
up=$(grep -o '"bytes_up":[0-9]*' st0.json | cut -d: -f2 | paste -sd+ | bc)
total=$(grep -o '"bytes_total":[0-9]*' st0.json | cut -d: -f2 | sort -n | tail -1)
# snapshots the joiners really took from it (a joiner whose request comes
# after another node's join may need a fresher one than the first joiners)
used=$(grep -o '"bytes_up":[1-9][0-9]*' st0.json | wc -l)
echo "    donor node uploaded ${up:-?} bytes of $used snapshot(s); one snapshot is ${total:-?} bytes"
check "the donor node uploaded less than 1.5x each snapshot it served for three joiners" \
  test "${up:-0}" -gt 0 -a "$used" -ge 1 -a "${up:-0}" -le $((${total:-0} * 3 * used / 2))

# ---- the gcache overrun: the snapshot is now older than the IST window
for _ in $(seq 12); do
  q 0 "UPDATE sbtest.sbtest1 SET k=k+1 WHERE id <= $((ROWS / 2))" || break
done
downto=$(status 0 wsrep_local_cached_downto)
check "the donor's gcache no longer holds the snapshot's seqno ($snap_seqno < $downto)" \
  test "$downto" -gt $((snap_seqno + 1))
if [ "$MODE" = sst ]; then
  fresh=$(grep -c 'seedmesh sst: fresh snapshot .* taken' g0.err)
  echo "    the donor took $fresh fresh snapshot(s) for the three SSTs"
  # How many depends on when each joiner's request arrives (timing): never
  # more than one per SST, and each one for a stated reason.
  reasons=$(grep -c "seedmesh sst: the latest snapshot (seqno [0-9]*) is older than\|seedmesh sst: .*older than the donor's IST window" g0.err)
  check "at most one fresh snapshot per SST, each for a stated reason ($reasons)" \
    test "$fresh" -le 3 -a "$fresh" -le "$reasons"
  # without a key the donor may not take a fresh snapshot: it must refuse
  printf '[sst]\ncontrol = %s/s0/control.sock\nstore = %s/store\n' "$WORK" "$WORK" >sm0.cnf
  write_cnf 4 "gcomm://127.0.0.1:$((base + 5))" $GCACHE seedmesh
  mkdir -p g4
  start_node 4
  for _ in $(seq 120); do
    grep -q "older than the donor's IST window" g4.err 2>/dev/null && break
    sleep 0.5
  done
  check "a fifth joiner is refused: $(grep -o "the donor refused: .*window" g4.err | head -1 | cut -c1-60)..." \
    grep -q "the donor refused: donor: the snapshot (seqno [0-9]*) is older than the donor's IST window" g4.err
  check "and the refusal says how to fix it" grep -q "take a new snapshot, or raise gcache.size" g4.err
else
  write_cnf 4 "gcomm://127.0.0.1:$((base + 5))" $GCACHE seedmesh
  expect_one_line_error "join --engine galera refuses a snapshot older than the IST window" 1 \
    "older than the donor's IST window" -- \
    "$SM" join --engine galera --control s4/control.sock --target "$WORK/g4" --quiet \
    --defaults-file "$WORK/g4.cnf" --source-host 127.0.0.1 --source-port $base
  check "nothing was started or written for it" test ! -e "$WORK/g4/grastate.dat"
fi
finish

#!/usr/bin/env bash
# mariadb.sh - the MariaDB engine against real servers on loopback: a donor
# with sysbench data under a continuous write load is snapshotted with
# mariadb-backup; a donor node serves the store; three recipient nodes and
# three `seedmesh join` runs in parallel each reach CAUGHT_UP; after the
# writes stop, CHECKSUM TABLE of every sbtest table agrees on all four
# servers; the donor uploads < 1.5x the snapshot. Failure cases: unreachable
# source, occupied target without --replace, version mismatch, missing
# privileges, missing backup tool: one line each, nothing lost.
# usage: mariadb.sh SEEDMESH [SIZE_MB]   (exit 77 = skipped)
SM=$1
SIZE_MB=${2:-200}
. "$(dirname "$0")/lib.sh"
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)

. "$(dirname "$0")/mariadb_lib.sh"
mariadb_need_tools

cd "$WORK"
base=$((10000 + ($$ % 2200) * 10)) # below the ephemeral range (32768+)
DPORT=$base
pids=()
servers=()
cleanup_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$WORK"/*/data/mariadbd.pid "$WORK"/occupied/mariadbd.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for f in "$WORK"/*/data/mariadbd.pid "$WORK"/occupied/mariadbd.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  for p in "${servers[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'cleanup_all; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT

elapsed() { echo "$(date +%s.%N) - $1" | bc; }

# ---- the donor server
servers+=("$(mariadb_start_donor "$WORK/donor" $DPORT "$WORK/donor.err" \
  --innodb-buffer-pool-size=256M)")
check "donor mariadbd answers on its socket" bash -c "mariadb -S $WORK/donor/sock -uroot -e \"SELECT 1\" >/dev/null"
[ "$TESTS_FAILED" -eq 0 ] || { echo "Bail out! no donor server: nothing else can be tested"; exit 1; }
q "$WORK/donor/sock" "CREATE DATABASE sbtest;
  CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 're\"pl''pw';
  GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
  CREATE USER 'weak'@'localhost'; GRANT RELOAD ON *.* TO 'weak'@'localhost';"
printf '%s\n' "re\"pl'pw" >repl.pw
chmod 600 repl.pw

TABLES=4
ROWS=$((SIZE_MB * 4000 / TABLES))
sysbench_setup "$WORK/donor/sock" $TABLES $ROWS
t0=$(date +%s.%N)
sysbench oltp_read_write "${SB[@]}" --threads=2 prepare >sb-prepare.log 2>&1
rc=$?  # before any $(...) in the description resets $?
check "sysbench prepared $TABLES tables of $ROWS rows ($(elapsed "$t0") s)" test $rc -eq 0
sysbench_load 2 40
sleep 2

# ---- snapshot under load, then a donor node serving it
for i in 0 1 2 3; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
t0=$(date +%s.%N)
"$SM" snapshot --engine mariadb --socket "$WORK/donor/sock" --user root --out store \
  --key k0.key --json >snap.json 2>snap.err
rc=$?
check "snapshot --engine mariadb under write load ($(elapsed "$t0") s)" test $rc -eq 0
bytes=$(grep -o '"bytes":[0-9]*' snap.json | cut -d: -f2)
echo "    snapshot: $((${bytes:-0} / 1048576)) MiB of files"
check "the manifest carries facts and GTID coordinates" \
  bash -c "'$SM' manifest show store | grep -q 'version_series = 10.11' &&
           '$SM' manifest show store | grep -q 'gtid_binlog_pos = 0-1-'"
check "no temporary backup is left in the store" \
  bash -c "[ -n '$bytes' ] && [ -d store ] && [ -z \"\$(ls -d store/.seedmesh-backup.* 2>/dev/null)\" ]"

"$SM" node --listen 127.0.0.1:$((base + 1)) --key k0.key --trust trust --state s0 --serve store \
  2>node0.log &
pids+=($!)
for i in 1 2 3; do
  "$SM" node --listen 127.0.0.1:$((base + 1 + i)) --key k$i.key --trust trust --state s$i \
    --seeds 127.0.0.1:$((base + 1)) 2>node$i.log &
  pids+=($!)
done
for _ in $(seq 50); do [ -S s3/control.sock ] && [ -S s0/control.sock ] && break; sleep 0.1; done

# ---- failure cases that must leave everything as it was
JOIN=(--engine mariadb --source-host 127.0.0.1 --source-port $DPORT --replication-user repl
      --replication-password-file "$WORK/repl.pw" --quiet)
mkdir -p occupied && echo precious >occupied/marker
expect_one_line_error "occupied target without --replace" 1 "is not empty: pass --replace" -- \
  "$SM" join "${JOIN[@]}" --control s1/control.sock --target occupied
check "the occupied target is intact" grep -q precious occupied/marker
# a closed port: nothing listens on base+9
expect_one_line_error "source unreachable" 1 "replication source unreachable.*nothing was changed" -- \
  "$SM" join --engine mariadb --source-host 127.0.0.1 --source-port $((base + 9)) \
  --replication-user repl --replication-password-file "$WORK/repl.pw" --quiet \
  --control s1/control.sock --target occupied --replace
check "after an unreachable source the datadir is intact and not renamed" \
  bash -c "grep -q precious occupied/marker && [ ! -e occupied.seedmesh-old ]"
printf '#!/bin/sh\necho "mariadbd  Ver 10.6.1-MariaDB for debian-linux-gnu on x86_64 (fake)"\n' >fake-mariadbd
chmod +x fake-mariadbd
expect_one_line_error "version mismatch" 1 "version mismatch.*10.11.*10.6" -- \
  "$SM" join "${JOIN[@]}" --control s1/control.sock --target occupied --replace \
  --mariadbd "$WORK/fake-mariadbd"
check "after a version mismatch the datadir is intact and the fetched tree kept" \
  bash -c "grep -q precious occupied/marker && [ ! -e occupied.seedmesh-old ] &&
           [ -f occupied.seedmesh-fetched/xtrabackup_binlog_info ]"
printf 'x\n' >weak.pw
chmod 600 weak.pw
expect_one_line_error "snapshot by a user without backup privileges" 1 \
  "lacks PROCESS, LOCK TABLES, BINLOG MONITOR" -- \
  "$SM" snapshot --engine mariadb --socket "$WORK/donor/sock" --user weak --out store2 --key k0.key
expect_one_line_error "snapshot without the backup tool" 1 "apt-get install mariadb-backup" -- \
  "$SM" snapshot --engine mariadb --socket "$WORK/donor/sock" --out store2 --key k0.key \
  --backup-tool /nonexistent/mariadb-backup
expect_one_line_error "snapshot of an unreachable server" 1 "cannot connect to" -- \
  "$SM" snapshot --engine mariadb --host 127.0.0.1 --port $((base + 9)) --out store2 --key k0.key

# ---- three joins in parallel
t0=$(date +%s.%N)
for i in 1 2 3; do
  "$SM" join --engine mariadb --source-host 127.0.0.1 --source-port $DPORT \
    --replication-user repl --replication-password-file "$WORK/repl.pw" \
    --control s$i/control.sock --target "$WORK/r$i/data" --port $((base + 5 + i)) --json \
    >join$i.json 2>join$i.err &
  jp[$i]=$!
done
for i in 1 2 3; do
  wait "${jp[$i]}"
  rc=$?
  check "join $i reached CAUGHT_UP (exit $rc, $(elapsed "$t0") s after start)" \
    bash -c "[ $rc -eq 0 ] && grep -q '\"state\":\"CAUGHT_UP\"' join$i.json"
  [ $rc -eq 0 ] || sed 's/^/    /' join$i.err | tail -5
  grep -o '"stages":.*' join$i.json | sed 's/^/    /'
done
check "each join reported every stage on stderr" \
  bash -c "for i in 1 2 3; do for s in FETCH PREPARE START JOIN CAUGHT_UP; do
             grep -q \"join: \$s done\" join\$i.err || exit 1; done; done"
join_stages_in_status() {
  local i s
  for i in 1 2 3; do
    "$SM" status --json --control s$i/control.sock >st$i.json || return 1
    for s in PREPARE START JOIN CAUGHT_UP; do
      grep -q "\"stage\":\"$s\",\"state\":\"Completed\"" st$i.json || return 1
    done
  done
}
check "seedmesh status on each recipient node shows the join's stages through CAUGHT_UP" \
  join_stages_in_status
ids=$(for i in 1 2 3; do grep -o '"server_id":[0-9]*' join$i.json; done | sort -u | wc -l)
check "the three replicas got distinct server_ids" test "$ids" -eq 3
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import jsonschema' 2>/dev/null; then
    for pair in "join join1.json join2.json join3.json" "snapshot snap.json" \
                "status st1.json st2.json st3.json"; do
      set -- $pair
      check "$2.. valid against docs/schemas/$1.json" \
        "$py" "$SRC_DIR/tests/tools/check_json.py" "$SRC_DIR/docs/schemas" "$@"
    done
    break
  fi
done

# ---- resume: the join that failed on the version check, run again, reuses
# the fetched tree and keeps the occupied datadir aside
"$SM" join "${JOIN[@]}" --control s1/control.sock --target "$WORK/occupied" --replace \
  --port $((base + 9)) --json >join4.json 2>join4.err
check "join run again after the mismatch reuses the fetched tree and reaches CAUGHT_UP" \
  bash -c "grep -q '\"stage\":\"FETCH\",\"state\":\"Skipped\"' join4.json &&
           grep -q '\"state\":\"CAUGHT_UP\"' join4.json"
check "the replaced datadir is kept as occupied.seedmesh-old" \
  grep -q precious occupied.seedmesh-old/marker

# ---- stop writes, let replicas drain, compare checksums
kill "$sbpid" 2>/dev/null
wait "$sbpid" 2>/dev/null
final=$(q "$WORK/donor/sock" "SELECT @@gtid_binlog_pos")
socks=("$WORK/r1/data/mariadbd.sock" "$WORK/r2/data/mariadbd.sock" "$WORK/r3/data/mariadbd.sock"
       "$WORK/occupied/mariadbd.sock")
for s in "${socks[@]}"; do q "$s" "SELECT MASTER_GTID_WAIT('$final', 120)" >/dev/null; done
tables=$(seq -s, -f 'sbtest.sbtest%g' 1 $TABLES)
q "$WORK/donor/sock" "CHECKSUM TABLE $tables" >sum.donor
check "the donor's CHECKSUM TABLE gives $TABLES non-zero checksums" checksums_valid sum.donor $TABLES
echo "    donor at $final; checksums: $(awk '{print $2}' sum.donor | tr '\n' ' ')"
for i in 1 2 3 4; do
  q "${socks[$((i - 1))]}" "CHECKSUM TABLE $tables" >sum.r$i
  check "replica $i: CHECKSUM TABLE of all $TABLES sbtest tables equals the donor's" \
    checksums_equal sum.donor sum.r$i $TABLES
done
snap_gtid=$("$SM" manifest show store | grep -o 'gtid_binlog_pos = [0-9-]*' | cut -d' ' -f3)
check "writes went on after the snapshot (snapshot at $snap_gtid, donor at $final)" \
  test "${final##*-}" -gt "${snap_gtid##*-}"

up=$("$SM" status --json --control s0/control.sock | sed 's/.*"transfers":\[//' | grep -o '"bytes_up":[0-9]*' | head -1 | cut -d: -f2)
total=$("$SM" status --json --control s0/control.sock | sed 's/.*"transfers":\[//' | grep -o '"bytes_total":[0-9]*' | head -1 | cut -d: -f2)
up=${up:-0}
total=${total:-0}
[ "$total" -gt 0 ] && echo "    donor uploaded $up of $total bytes ($(echo "scale=2; $up / $total" | bc)x)"
check "donor upload stays under 1.5x the snapshot ($up of $total bytes)" \
  test "$total" -gt 0 -a "$up" -gt 0 -a "$up" -le $((total * 3 / 2))
finish

#!/usr/bin/env bash
# mariadb_faults.sh - the MariaDB engine under faults, on a small donor with a
# light write load (real servers on loopback):
#  (b) snapshot into a store on a tiny filesystem: the not-enough-disk line,
#      nothing left behind;
#  (c) snapshot over TCP (--host/--port, a password file, an account that
#      exists only for 127.0.0.1), used end to end by every join below;
#  (a) the disk fills up during a join's fetch: one clear line, the staging
#      area kept, the live datadir (on the same filesystem) byte for byte
#      unchanged; after space is freed the same join resumes to CAUGHT_UP;
#  (d) `mariadb-backup --prepare` killed -9 during PREPARE: a clear line,
#      DATADIR untouched; join run again completes;
#  (e) a recipient (node and join) killed -9 during fetch: the node restarted
#      and join run again resume and fetch exactly the missing chunks;
#  (f) a join that fails after PLACE (the server cannot start): run again, it
#      starts the placed datadir without fetching again;
#  (g) the source unreachable at JOIN time (reachable through a proxy when
#      join checks it, gone once the datadir is placed): a clear line after
#      30 s of retries, the new replica left running with replication set up,
#      and it catches up by itself once the source is back.
# At the end every replica's CHECKSUM TABLE equals the donor's.
# usage: mariadb_faults.sh SEEDMESH   (exit 77 = skipped: no tools or no way
# to mount a size-limited filesystem)
SM=$1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mariadb_lib.sh"
mariadb_need_tools
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read status --json"; exit 77; }

cd "$WORK"
base=$((10000 + ($$ % 1800) * 12)) # 12 ports, below the ephemeral range (32768+)
DPORT=$base
pids=()
servers=()
mounts=()
cleanup_all() {
  local f p m
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$WORK"/*/data/mariadbd.pid "$WORK"/small/*/mariadbd.pid; do
    [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null
  done
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 40); do
    local alive=""
    for f in "$WORK"/*/data/mariadbd.pid "$WORK"/small/*/mariadbd.pid; do
      [ -f "$f" ] && kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && alive=1
    done
    for p in "${servers[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.25
  done
  for f in "$WORK"/*/data/mariadbd.pid "$WORK"/small/*/mariadbd.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null
  done
  for p in "${servers[@]}" "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
trap 'cleanup_all; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT

# mount_small DIR MB: a size-limited filesystem at DIR: tmpfs, else a
# loop-mounted ext4 image (both need root).
mount_small() {
  mkdir -p "$1"
  if mount -t tmpfs -o "size=${2}m" seedmesh-test "$1" 2>/dev/null; then
    mounts+=("$1")
    return 0
  fi
  truncate -s "${2}M" "$1.img" && mkfs.ext4 -q -F "$1.img" >/dev/null 2>&1 &&
    mount -o loop "$1.img" "$1" 2>/dev/null && mounts+=("$1") && return 0
  rm -f "$1.img"
  return 1
}
if ! mount_small probe 4; then
  echo "SKIP: cannot mount a size-limited filesystem here (tmpfs or loop ext4; needs root)"
  exit 77
fi

# xfer SOCK TARGET FIELD: a field of the node's transfer into TARGET.
xfer() {
  "$SM" status --json --control "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for t in d.get("transfers", []):
    if t.get("target") == sys.argv[1]:
        print(t.get(sys.argv[2], "")); break' "$2" "$3"
}
# wait_have SOCK TARGET FRACTION: until the transfer holds that share of its bytes.
wait_have() {
  for _ in $(seq 600); do
    "$SM" status --json --control "$1" 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("transfers", []):
    if t.get("target") == sys.argv[1] and t.get("bytes_total", 0) > 0:
        sys.exit(0 if t["bytes_have"] >= t["bytes_total"] * float(sys.argv[2]) else 1)
sys.exit(1)' "$2" "$3" && return 0
    sleep 0.05
  done
  return 1
}
tree_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
same_tree() { [ -s "$1" ] && cmp -s "$1" <(tree_sums "$2"); } # SUMS DIR

# ---- a small donor under a light write load
servers+=("$(mariadb_start_donor "$WORK/donor" $DPORT "$WORK/donor.err" \
  --innodb-buffer-pool-size=64M --innodb-log-file-size=8M)")
check "donor mariadbd answers on its socket" eval "q \"$WORK/donor/sock\" \"SELECT 1\" >/dev/null"
[ "$TESTS_FAILED" -eq 0 ] || { echo "Bail out! no donor server: nothing else can be tested"; exit 1; }
q "$WORK/donor/sock" "CREATE DATABASE sbtest;
  CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw';
  GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
  CREATE USER 'bk'@'127.0.0.1' IDENTIFIED BY 'bk \"pw';
  GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO 'bk'@'127.0.0.1';"
printf 'repl-pw\n' >repl.pw
printf 'bk "pw\n' >bk.pw
chmod 600 repl.pw bk.pw
TABLES=2
sysbench_setup "$WORK/donor/sock" $TABLES 5000
sysbench oltp_read_write "${SB[@]}" prepare >sb-prepare.log 2>&1
rc=$?
check "sysbench prepared $TABLES small tables" test $rc -eq 0
sysbench_load 1 20
sleep 1
for i in 0 1 2 3; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done

# ---- (b) the donor's store on a tiny filesystem
mount_small tiny 16
expect_one_line_error "(b) snapshot into a 16 MiB filesystem" 1 \
  "not enough disk under .*tiny/store: about .* needed .* free" -- \
  "$SM" snapshot --engine mariadb --host 127.0.0.1 --port $DPORT --user bk --password-file bk.pw \
  --out tiny/store --key k0.key
check "(b) nothing is left in the tiny store (no backup, no option file)" \
  test -z "$(ls -A tiny/store 2>/dev/null)"

# ---- (c) snapshot over TCP: 'bk' exists only as bk@127.0.0.1, so a socket
# connection (bk@localhost) would be refused
"$SM" snapshot --engine mariadb --host 127.0.0.1 --port $DPORT --user bk --password-file bk.pw \
  --out store --key k0.key --chunk-size 256K --json >snap.json 2>snap.err
rc=$?
check "(c) snapshot --engine mariadb over TCP with a password file" test $rc -eq 0
sed 's/^/    /' snap.err | tail -3
bytes=$(grep -o '"bytes":[0-9]*' snap.json | cut -d: -f2)
bytes=${bytes:-0}
# chunks travel compressed: a cap of 1/8 of the stored bytes per second makes
# a fetch last about 8 s, long enough to interrupt it
stored=$(grep -o '"stored_bytes":[0-9]*' snap.json | cut -d: -f2)
slow=$(( ${stored:-0} / 8 > 16384 ? ${stored:-0} / 8 : 16384 ))
snap_gtid=$("$SM" manifest show store 2>/dev/null | grep -o 'gtid_binlog_pos = [0-9-]*' | cut -d' ' -f3)
check "(c) the TCP snapshot has GTID coordinates ($snap_gtid) and $((bytes / 1048576)) MiB" \
  test -n "$snap_gtid" -a "$bytes" -gt 0
check "(c) no temporary backup or option file is left in the store" \
  bash -c "[ -d store ] && [ -z \"\$(ls -d store/.seedmesh-backup.* store/.seedmesh-client.* 2>/dev/null)\" ]"

start_node() { # I [extra...]
  local i=$1
  shift
  "$SM" node --listen 127.0.0.1:$((base + 1 + i)) --key k$i.key --trust trust --state s$i \
    --linger 1 "$@" 2>>node$i.log &
  node_pid[$i]=$!
  pids+=($!)
}
start_node 0 --serve store
for i in 1 2 3; do start_node $i --seeds 127.0.0.1:$((base + 1)); done
for _ in $(seq 100); do
  [ -S s0/control.sock ] && [ -S s1/control.sock ] && [ -S s2/control.sock ] &&
    [ -S s3/control.sock ] && break
  sleep 0.1
done
JOIN=(--engine mariadb --source-host 127.0.0.1 --source-port $DPORT --replication-user repl
      --replication-password-file "$WORK/repl.pw" --quiet --json)
caught_up() { grep -q '"state":"CAUGHT_UP"' "$1"; }
# caught_up_skipping JSON STAGE...: CAUGHT_UP, and each STAGE was skipped
caught_up_skipping() {
  local f=$1 st
  shift
  caught_up "$f" || return 1
  for st in "$@"; do grep -q "\"stage\":\"$st\",\"state\":\"Skipped\"" "$f" || return 1; done
}
# failed_one_line RC ERRFILE PATTERN: exit 1 with one stderr line matching
failed_one_line() { [ "$1" -eq 1 ] && [ "$(wc -l <"$2")" -eq 1 ] && grep -Eq -- "$3" "$2"; }

# ---- (a) the disk fills up during fetch; the live datadir shares that disk
small_mb=$((bytes / 1048576 + 110))
mount_small small $small_mb
mkdir -p small/live/db
head -c 3000000 /dev/urandom >small/live/ibdata1
echo precious >small/live/db/marker
tree_sums small/live >live.sums
# The recipient's download cap holds the fetch while the disk is filled: a
# few chunks in, it drops to 1 B/s (one chunk in flight at most), the filler
# takes every free block, then the cap is lifted and the next write fails.
"$SM" rate --max-download $slow --control s1/control.sock >/dev/null
"$SM" join "${JOIN[@]}" --control s1/control.sock --target "$WORK/small/live" --replace \
  --port $((base + 5)) >joinA1.json 2>joinA1.err &
jpid=$!
wait_have s1/control.sock "$WORK/small/live.seedmesh-fetched" 0.05 ||
  not_ok "(a) the fetch was not seen under way (test setup)"
"$SM" rate --max-download 1 --control s1/control.sock >/dev/null
sleep 0.5
dd if=/dev/zero of=small/filler bs=1M >/dev/null 2>&1 # until the disk is full
"$SM" rate --max-download 0 --control s1/control.sock >/dev/null
wait "$jpid"
rc=$?
check "(a) join fails when the disk fills during fetch: $(head -1 joinA1.err)" \
  failed_one_line $rc joinA1.err '(No space left|not enough disk).*run join again'
check "(a) the staging area is kept for the resume" \
  test -d small/live.seedmesh-fetched.seedmesh-staging
check "(a) the live datadir is untouched (sha256 of every file) and not renamed" \
  eval 'same_tree live.sums small/live && [ ! -e small/live.seedmesh-old ]'
rm -f small/filler
# The same node, not restarted: a failed fetch closed its links, so the
# retry dials the peers afresh and gets their bitfields again.
"$SM" join "${JOIN[@]}" --control s1/control.sock --target "$WORK/small/live" --replace \
  --port $((base + 5)) >joinA2.json 2>joinA2.err
rc=$?
check "(a) after space is freed, join run again reaches CAUGHT_UP (exit $rc)" caught_up joinA2.json
[ $rc -eq 0 ] || sed 's/^/    /' joinA2.err | tail -3
resumed=$(grep 'live.seedmesh-fetched' node1.log | grep -o '[0-9]* already here' | tail -1 | cut -d' ' -f1)
check "(a) the second fetch resumed from the staging area (${resumed:-no} chunks already here)" \
  test "${resumed:-0}" -gt 0
check "(a) the old datadir is kept, byte for byte, as live.seedmesh-old" \
  same_tree live.sums small/live.seedmesh-old

# ---- (d) mariadb-backup --prepare killed -9 during PREPARE
"$SM" join "${JOIN[@]}" --control s2/control.sock --target "$WORK/r2/data" \
  --port $((base + 6)) >joinD1.json 2>joinD1.err &
jpid=$!
prep=""
for _ in $(seq 3000); do
  prep=$(pgrep -P "$jpid" -f 'mariadb-backup.*--prepare')
  [ -n "$prep" ] && break
  kill -0 "$jpid" 2>/dev/null || break
  sleep 0.02
done
killed_at="never"
if [ -n "$prep" ]; then
  t0=$(date +%s%N)
  # kill it once it is applying redo (or after 5 s at most)
  for _ in $(seq 1000); do
    grep -Eqi 'crash recovery|redo log|Starting to' "$WORK/r2/data.seedmesh-join.log" 2>/dev/null && break
    sleep 0.005
  done
  kill -9 "$prep" 2>/dev/null && killed_at="$(( ($(date +%s%N) - t0) / 1000000 )) ms after it started"
fi
wait "$jpid"
rc=$?
check "(d) mariadb-backup --prepare killed -9 ($killed_at): $(head -1 joinD1.err)" \
  failed_one_line $rc joinD1.err 'prepare failed \(exit 137\)'
check "(d) DATADIR was not created, the fetched tree is kept" \
  bash -c "[ ! -e r2/data ] && [ -f r2/data.seedmesh-fetched/xtrabackup_binlog_info ]"
"$SM" join "${JOIN[@]}" --control s2/control.sock --target "$WORK/r2/data" \
  --port $((base + 6)) >joinD2.json 2>joinD2.err
rc=$?
check "(d) join run again reuses the fetched tree, prepares and reaches CAUGHT_UP (exit $rc)" \
  caught_up_skipping joinD2.json FETCH
[ $rc -eq 0 ] || sed 's/^/    /' joinD2.err | tail -3

# ---- (e) a recipient (its node and its join) killed -9 during fetch; its
# own download cap slows it down (the other recipients also serve it)
"$SM" rate --max-download $((slow / 2)) --control s3/control.sock >/dev/null
"$SM" join "${JOIN[@]}" --control s3/control.sock --target "$WORK/r3/data" \
  --port $((base + 7)) >joinE1.json 2>joinE1.err &
jpid=$!
pids+=($jpid)
wait_have s3/control.sock "$WORK/r3/data.seedmesh-fetched" 0.2 ||
  not_ok "(e) the fetch was not seen under way (test setup)"
# nothing more arrives (one chunk in flight at most) while we read what it holds
"$SM" rate --max-download 1 --control s3/control.sock >/dev/null
sleep 0.5
have_before=$(xfer s3/control.sock "$WORK/r3/data.seedmesh-fetched" bytes_have)
total=$(xfer s3/control.sock "$WORK/r3/data.seedmesh-fetched" bytes_total)
kill -9 "${node_pid[3]}" "$jpid"
wait "${node_pid[3]}" "$jpid" 2>/dev/null
start_node 3 --seeds 127.0.0.1:$((base + 1))
for _ in $(seq 100); do
  "$SM" status --control s3/control.sock >/dev/null 2>&1 && break
  sleep 0.1
done
"$SM" join "${JOIN[@]}" --control s3/control.sock --target "$WORK/r3/data" \
  --port $((base + 7)) >joinE2.json 2>joinE2.err
rc=$?
check "(e) after kill -9 of node and join at $((${have_before:-0} * 100 / ${total:-1}))% fetched, join run again reaches CAUGHT_UP (exit $rc)" \
  caught_up joinE2.json
[ $rc -eq 0 ] || sed 's/^/    /' joinE2.err | tail -3
down=$(xfer s3/control.sock "$WORK/r3/data.seedmesh-fetched" bytes_down)
wasted=$(xfer s3/control.sock "$WORK/r3/data.seedmesh-fetched" bytes_wasted)
check "(e) the restarted node fetched exactly the missing bytes: $down = $total - $have_before, $wasted wasted" \
  test -n "$down" -a -n "$have_before" -a "${have_before:-0}" -gt 0 -a "${wasted:-1}" -eq 0 \
  -a "${down:-0}" -eq $((${total:-0} - ${have_before:-0}))

# ---- (f) a join that fails after PLACE: the server cannot start (its port is taken)
expect_one_line_error "(f) join fails at START when the port is taken" 1 \
  "mariadbd exited during start-up: .*port.*run join again: it starts .* without fetching" -- \
  "$SM" join "${JOIN[@]}" --control s2/control.sock --target "$WORK/r4/data" --port $DPORT
"$SM" join "${JOIN[@]}" --control s2/control.sock --target "$WORK/r4/data" \
  --port $((base + 8)) >joinF2.json 2>joinF2.err
rc=$?
check "(f) join run again starts the placed datadir and reaches CAUGHT_UP, no fetch (exit $rc)" \
  caught_up_skipping joinF2.json FETCH PREPARE PLACE
[ $rc -eq 0 ] || sed 's/^/    /' joinF2.err | tail -3

# ---- (g) the source unreachable at JOIN time
PROXY=$((base + 10))
proxy_start() {
  socat TCP-LISTEN:$PROXY,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$DPORT 2>/dev/null &
  proxy_pid=$!
  pids+=($proxy_pid)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PROXY) 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
proxy_stop() { pkill -P "$proxy_pid" 2>/dev/null; kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }
if command -v socat >/dev/null && proxy_start; then
  # the later --source-port wins: the proxy instead of the donor
  "$SM" join "${JOIN[@]}" --source-port $PROXY --control s2/control.sock \
    --target "$WORK/r5/data" --port $((base + 11)) >joinG.json 2>joinG.err &
  jpid=$!
  for _ in $(seq 1200); do
    [ -e r5/data/seedmesh_join_placed ] && break
    kill -0 "$jpid" 2>/dev/null || break
    sleep 0.05
  done
  placed=$([ -e r5/data/seedmesh_join_placed ] && echo yes || echo no)
  proxy_stop
  t0=$(date +%s)
  wait "$jpid"
  rc=$?
  check "(g) the source went away once the datadir was placed ($placed); join fails after $(($(date +%s) - t0)) s: $(head -1 joinG.err)" \
    failed_one_line $rc joinG.err "replication source unreachable.*still after 30 s.*keeps running"
  io=$(mariadb -S "$WORK/r5/data/mariadbd.sock" -uroot -e "SHOW SLAVE STATUS\G" 2>/dev/null |
    awk '/Master_Port:|Slave_IO_Running:/ {printf "%s ", $2}')
  check "(g) the new replica runs with replication set up (Master_Port, IO thread: $io)" \
    test "$io" = "$PROXY Connecting "
  proxy_start || not_ok "(g) the proxy did not come back (test setup)"
  replicas_g=r5/data
else
  echo "ok - # SKIP (g): socat is needed for the proxy"
  replicas_g=""
fi

# ---- every replica equals the donor once the writes stop
kill "$sbpid" 2>/dev/null
wait "$sbpid" 2>/dev/null
final=$(q "$WORK/donor/sock" "SELECT @@gtid_binlog_pos")
tables=$(seq -s, -f 'sbtest.sbtest%g' 1 $TABLES)
q "$WORK/donor/sock" "CHECKSUM TABLE $tables" >sum.donor
check "the donor's CHECKSUM TABLE gives $TABLES non-zero checksums" checksums_valid sum.donor $TABLES
# r5 reconnects at its next retry (MASTER_CONNECT_RETRY, 60 s by default)
for r in small/live r2/data r3/data r4/data $replicas_g; do
  s="$WORK/$r/mariadbd.sock"
  q "$s" "SELECT MASTER_GTID_WAIT('$final', 120)" >/dev/null 2>&1
  q "$s" "CHECKSUM TABLE $tables" >sum.x 2>/dev/null
  check "replica $r: CHECKSUM TABLE equals the donor's at $final" checksums_equal sum.donor sum.x $TABLES
done
check "writes went on after the snapshot (snapshot at $snap_gtid, donor at $final)" \
  test "${final##*-}" -gt "${snap_gtid##*-}"
finish

#!/usr/bin/env bash
# demo.sh - the main job on one machine: installs what is missing, builds
# seedmesh (Release), starts a private donor MariaDB on loopback with sysbench
# data under a light write load, snapshots it, and seeds THREE replicas at once
# through a donor node and three recipient nodes that fetch from each other.
# Ends with the cluster's status, the replicas' replication status and a
# checksum comparison after the writes stop. Everything it starts is stopped
# at the end or on error; files stay in ${DEMO_DIR:-/tmp/seedmesh-demo}.
#   DEMO_ROWS=N   sysbench rows per table, 4 tables (default 150000, ~150 MB)
#   DEMO_PORT=P   first of the ports used: P donor server, P+1..P+3 replicas,
#                 P+10..P+13 seedmesh nodes (default 3310)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDMESH_DB_PACKAGES=1 scripts/install-deps.sh
echo "== building seedmesh (Release)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target seedmesh >/dev/null
sm=$(pwd)/build-release/cli/seedmesh
export PATH="$PATH:/usr/sbin:/sbin"

demo=${DEMO_DIR:-/tmp/seedmesh-demo}
rows=${DEMO_ROWS:-150000}
port=${DEMO_PORT:-3310}
tables=4
for p in $port $((port + 1)) $((port + 2)) $((port + 3)) $((port + 10)) $((port + 11)) \
  $((port + 12)) $((port + 13)); do
  if ss -Htln "sport = :$p" | grep -q .; then
    echo "demo: port $p is in use; pick free ones with DEMO_PORT=..." >&2
    exit 1
  fi
done
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
sbpid=""
dbpid=""
nodes=()
cleanup() {
  set +e
  [ -n "$sbpid" ] && kill "$sbpid" 2>/dev/null
  for i in 1 2 3; do
    [ -f "r$i/data/mariadbd.pid" ] && kill "$(cat "r$i/data/mariadbd.pid")" 2>/dev/null
  done
  for p in "${nodes[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$dbpid" ] && kill "$dbpid" 2>/dev/null
  for _ in $(seq 60); do
    alive=""
    for i in 1 2 3; do
      [ -f "r$i/data/mariadbd.pid" ] && kill -0 "$(cat "r$i/data/mariadbd.pid")" 2>/dev/null && alive=1
    done
    [ -n "$dbpid" ] && kill -0 "$dbpid" 2>/dev/null && alive=1
    [ -z "$alive" ] && break
    sleep 0.5
  done
  wait 2>/dev/null
  echo "== servers and nodes stopped; files and logs in $demo"
}
trap cleanup EXIT
trap 'echo "demo: failed at line $LINENO (logs in $demo)" >&2' ERR

q() { mariadb -S "$1" -uroot -N -B -e "$2"; }
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc -l)"; }

echo "== 1. a private donor MariaDB on 127.0.0.1:$port (binary log on, server_id 1)"
mariadb-install-db --datadir="$demo/donor" --auth-root-authentication-method=normal \
  "${user_opt[@]}" >install-db.log 2>&1
mariadbd --no-defaults --datadir="$demo/donor" --socket="$demo/donor/sock" --port="$port" \
  --bind-address=127.0.0.1 --server-id=1 --log-bin="$demo/donor/binlog" \
  --innodb-buffer-pool-size=256M --log-error="$demo/donor.err" "${user_opt[@]}" \
  >/dev/null 2>&1 &
dbpid=$!
for _ in $(seq 150); do q donor/sock "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
q donor/sock "SELECT CONCAT('   ', VERSION())"
q donor/sock "CREATE DATABASE sbtest;
  CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'demo-repl-pw';
  GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
(umask 077 && echo demo-repl-pw >repl.pw)

echo "== 2. sample data: sysbench, $tables tables of $rows rows"
SB=(--db-driver=mysql --mysql-socket="$demo/donor/sock" --mysql-user=root --mysql-db=sbtest
    --tables=$tables --table-size="$rows")
t0=$(now)
sysbench oltp_read_write "${SB[@]}" --threads=2 prepare >sysbench-prepare.log 2>&1
echo "   loaded in $(since "$t0") s; $(q donor/sock "SELECT CONCAT(ROUND(SUM(data_length +
  index_length) / 1048576), ' MiB in sbtest') FROM information_schema.tables
  WHERE table_schema = 'sbtest'")"
echo "== 3. a light write load keeps running on the donor (sysbench, ~40 tx/s)"
sysbench oltp_read_write "${SB[@]}" --threads=2 --time=0 --rate=40 --report-interval=0 run \
  >sysbench-run.log 2>&1 &
sbpid=$!
sleep 2

echo "== 4. seedmesh snapshot --engine mariadb (mariadb-backup while writes go on)"
for i in 0 1 2 3; do "$sm" keygen --out node$i.key | cut -d' ' -f1 >>trust; done
t0=$(now)
"$sm" snapshot --engine mariadb --socket "$demo/donor/sock" --user root --out store \
  --key node0.key >snapshot.log 2>&1
echo "   snapshot took $(since "$t0") s"
"$sm" manifest show store | grep -E '^(manifest|contents|chunks|fact +version |coordinate +gtid)' | sed 's/^/   /'

echo "== 5. a donor node and three recipient nodes on loopback, joined by gossip"
"$sm" node --listen 127.0.0.1:$((port + 10)) --key node0.key --trust trust --state state0 \
  --serve store 2>node0.log &
nodes+=($!)
for i in 1 2 3; do
  "$sm" node --listen 127.0.0.1:$((port + 10 + i)) --key node$i.key --trust trust \
    --state state$i --seeds 127.0.0.1:$((port + 10)) 2>node$i.log &
  nodes+=($!)
done
for _ in $(seq 100); do
  [ -S state0/control.sock ] && [ -S state1/control.sock ] && [ -S state2/control.sock ] &&
    [ -S state3/control.sock ] && break
  sleep 0.1
done
sleep 1
"$sm" status --cluster --control state0/control.sock

echo "== 6. three replicas at once: three parallel 'seedmesh join --engine mariadb'"
t0=$(now)
jp=()
for i in 1 2 3; do
  (
    set -o pipefail
    "$sm" join --engine mariadb --control state$i/control.sock --target "$demo/r$i/data" \
      --source-host 127.0.0.1 --source-port "$port" --replication-user repl \
      --replication-password-file "$demo/repl.pw" --port $((port + i)) --json \
      2>&1 >join$i.json | tee join$i.log | sed -u "s/^/   replica$i | /"
  ) &
  jp+=($!)
done
for i in 1 2 3; do
  wait "${jp[$((i - 1))]}" || { echo "demo: join of replica$i failed; see $demo/join$i.log" >&2; exit 1; }
done
echo "   all three replicas CAUGHT_UP $(since "$t0") s after the joins started"

echo "== 7. the cluster"
"$sm" status --cluster --control state0/control.sock
sleep 2
echo "== 8. the replicas replicate from the donor (writes still running)"
for i in 1 2 3; do
  echo "   replica$i (127.0.0.1:$((port + i))):"
  mariadb -S "r$i/data/mariadbd.sock" -uroot -e 'SHOW SLAVE STATUS\G' |
    grep -E ' (Slave_IO_Running|Slave_SQL_Running|Seconds_Behind_Master|Gtid_IO_Pos):' |
    sed 's/^ */     /'
  echo "     gtid_slave_pos: $(q "r$i/data/mariadbd.sock" 'SELECT @@gtid_slave_pos')"
done
echo "   donor gtid_binlog_pos: $(q donor/sock 'SELECT @@gtid_binlog_pos')"

echo "== 9. stop the writes, let the replicas drain, compare checksums"
kill "$sbpid" 2>/dev/null || true
wait "$sbpid" 2>/dev/null || true
sbpid=""
final=$(q donor/sock "SELECT @@gtid_binlog_pos")
list=$(seq -s, -f 'sbtest.sbtest%g' 1 $tables)
q donor/sock "CHECKSUM TABLE $list" >checksum.donor
printf '   %-10s %-22s %s\n' server gtid "CHECKSUM TABLE sbtest1..$tables"
printf '   %-10s %-22s %s\n' donor "$final" "$(awk '{print $2}' checksum.donor | tr '\n' ' ')"
same=1
for i in 1 2 3; do
  s="r$i/data/mariadbd.sock"
  q "$s" "SELECT MASTER_GTID_WAIT('$final', 120)" >/dev/null
  q "$s" "CHECKSUM TABLE $list" >checksum.r$i
  printf '   %-10s %-22s %s\n' replica$i "$(q "$s" 'SELECT @@gtid_slave_pos')" \
    "$(awk '{print $2}' checksum.r$i | tr '\n' ' ')"
  cmp -s checksum.donor checksum.r$i || same=0
done
# the donor node's own transfer (transfers[0]), not the first row of "cluster"
xfer=$("$sm" status --json --control state0/control.sock | sed 's/.*"transfers":\[//')
up=$(echo "$xfer" | grep -o '"bytes_up":[0-9]*' | head -1 | cut -d: -f2)
total=$(echo "$xfer" | grep -o '"bytes_total":[0-9]*' | head -1 | cut -d: -f2)
echo "   the donor node uploaded $((up / 1048576)) MiB for 3 replicas of a $((total / 1048576)) MiB snapshot" \
  "($(echo "scale=2; $up / $total" | bc)x); the rest came from the recipients themselves"
if [ "$same" = 1 ]; then
  echo "== demo done: three replicas seeded at once, replicating, checksums equal to the donor's"
else
  echo "demo: checksums differ (see $demo/checksum.*)" >&2
  exit 1
fi

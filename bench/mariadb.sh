#!/usr/bin/env bash
# mariadb.sh - seeding MariaDB replicas on loopback, seedmesh against the
# classic way, side by side in one run on the same donor under the same light
# write load. For 1 and for 3 replicas:
#   seedmesh: a fresh `seedmesh snapshot --engine mariadb`, a donor node and N
#     recipient nodes, N parallel `seedmesh join`; timed from the joins' start
#     until the last one reports CAUGHT_UP. Donor bytes = the donor node's
#     status --json transfers[0].bytes_up.
#   classic: for each replica in turn, `mariadb-backup --backup --stream=mbstream`
#     | socat over loopback | `mbstream -x`, `mariadb-backup --prepare`, start
#     mariadbd, SET GLOBAL gtid_slave_pos / CHANGE MASTER ... MASTER_USE_GTID /
#     START SLAVE, MASTER_GTID_WAIT to the donor's gtid_binlog_pos; timed from
#     the first backup's start until the last replica caught up. Donor bytes =
#     bytes through socat (counted by dd on the receiving side).
# Writes the "mariadb-join" section of docs/benchmarks.md.
# usage: bench/mariadb.sh [ROWS_PER_TABLE] [RUNS]   (8 sysbench tables)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rows=${1:-300000}
runs=${2:-3}
tables=8
need() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || apt-get install -y -qq "$2" >/dev/null; }
need bc bc
need socat socat
need sysbench sysbench
need mariadbd mariadb-server
need mariadb-backup mariadb-backup
export PATH="$PATH:/usr/sbin"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target seedmesh >/dev/null
sm=$(pwd)/build-release/cli/seedmesh
work=$(mktemp -d /tmp/sm-bench-mariadb.XXXXXX)
base=$((24000 + ($$ % 300) * 20)) # donor server; +1..+3 replicas; +5..+8 nodes; +9 socat
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
sbpid=""
dbpid=""
nodes=()

stop_replicas() { # kill every replica server under $work/r*, wait until gone
  local f p
  for f in "$work"/r*/data/mariadbd.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$work"/r*/data/mariadbd.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    for _ in $(seq 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$p" 2>/dev/null || true
  done
}
stop_nodes() {
  local p
  for p in "${nodes[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${nodes[@]}"; do wait "$p" 2>/dev/null || true; done
  nodes=()
}
cleanup() {
  set +e
  [ -n "$sbpid" ] && kill "$sbpid" 2>/dev/null
  stop_replicas
  stop_nodes
  if [ -n "$dbpid" ]; then kill "$dbpid" 2>/dev/null; wait "$dbpid" 2>/dev/null; fi
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO (work dir $work)" >&2' ERR
cd "$work"

now() { date +%s.%N; }
sub() { echo "$1 - $2" | bc -l; }
q() { mariadb -S "$1" -uroot -N -B -e "$2"; }
wait_sql() { for _ in $(seq 600); do q "$1" "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

# ---- the donor, its data, and the write load that runs through every round
mariadb-install-db --datadir="$work/donor" --auth-root-authentication-method=normal \
  "${user_opt[@]}" >install-db.log 2>&1
mariadbd --no-defaults --datadir="$work/donor" --socket="$work/donor/sock" --port=$base \
  --bind-address=127.0.0.1 --server-id=1 --log-bin="$work/donor/binlog" \
  --innodb-buffer-pool-size=512M --log-error="$work/donor.err" "${user_opt[@]}" >/dev/null 2>&1 &
dbpid=$!
wait_sql donor/sock
q donor/sock "CREATE DATABASE sbtest;
  CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'bench-repl';
  GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
(umask 077 && echo bench-repl >repl.pw)
SB=(--db-driver=mysql --mysql-socket="$work/donor/sock" --mysql-user=root --mysql-db=sbtest
    --tables=$tables --table-size="$rows")
t0=$(now)
sysbench oltp_read_write "${SB[@]}" --threads=2 prepare >sb-prepare.log 2>&1
t_fill=$(sub "$(now)" "$t0")
q donor/sock "FLUSH TABLES" >/dev/null
db_bytes=$(du -s --apparent-size --block-size=1 --exclude='binlog.*' donor | cut -f1)
echo "bench: $tables x $rows rows, datadir $(numfmt --to=iec "$db_bytes"), filled in ${t_fill%.*} s" >&2
sysbench oltp_read_write "${SB[@]}" --threads=2 --time=0 --rate=40 --report-interval=0 run \
  >sb-run.log 2>&1 &
sbpid=$!
load_t0=$(now)
load_g0=$(q donor/sock "SELECT @@gtid_binlog_pos")
for i in 0 1 2 3; do "$sm" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
sleep 2

# ---- one seedmesh round with N replicas: sets SNAP, W, B, PIECES
run_seedmesh() {
  local n=$1 i t0 ok=1
  stop_replicas
  rm -rf store s0 s1 s2 s3 r1 r2 r3 join*.json join*.err
  t0=$(now)
  "$sm" snapshot --engine mariadb --socket "$work/donor/sock" --user root --out store \
    --key k0.key >snapshot.log 2>&1
  SNAP=$(sub "$(now)" "$t0")
  "$sm" node --listen 127.0.0.1:$((base + 5)) --key k0.key --trust trust --state s0 --serve store \
    --log-level warn 2>>node.log &
  nodes+=($!)
  for i in $(seq "$n"); do
    "$sm" node --listen 127.0.0.1:$((base + 5 + i)) --key k$i.key --trust trust --state s$i \
      --seeds 127.0.0.1:$((base + 5)) --log-level warn 2>>node.log &
    nodes+=($!)
  done
  for i in $(seq 0 "$n"); do
    for _ in $(seq 100); do [ -S s$i/control.sock ] && break; sleep 0.1; done
  done
  sleep 1 # gossip: let the recipients see each other before the joins start
  local jp=()
  t0=$(now)
  for i in $(seq "$n"); do
    "$sm" join --engine mariadb --control s$i/control.sock --target "$work/r$i/data" \
      --source-host 127.0.0.1 --source-port $base --replication-user repl \
      --replication-password-file "$work/repl.pw" --port $((base + i)) --quiet --json \
      >join$i.json 2>join$i.err &
    jp+=($!)
  done
  for i in $(seq "$n"); do wait "${jp[$((i - 1))]}" || ok=0; done
  W=$(sub "$(now)" "$t0")
  [ $ok = 1 ] || { echo "bench: a seedmesh join failed:" >&2; tail -n 3 join*.err >&2; return 1; }
  FETCH=$(cat join*.json | grep -o '"stage":"FETCH","state":"[A-Za-z]*","seconds":[0-9.]*' |
    sed 's/.*://' | sort -g | tail -1)
  PREP=$(cat join*.json | grep -o '"stage":"PREPARE","state":"[A-Za-z]*","seconds":[0-9.]*' |
    sed 's/.*://' | sort -g | tail -1)
  local xfer
  xfer=$("$sm" status --json --control s0/control.sock | sed 's/.*"transfers":\[//')
  B=$(echo "$xfer" | grep -o '"bytes_up":[0-9]*' | head -1 | cut -d: -f2)
  PIECES=$(echo "$xfer" | grep -o '"bytes_total":[0-9]*' | head -1 | cut -d: -f2)
  stop_nodes
  stop_replicas
}

# ---- the classic way, N replicas one after another: sets W, B
classic_one() { # replica number
  local i=$1 d="$work/r$1/data" p=$((base + 9))
  mkdir -p "$d" bk$i
  local t0
  t0=$(now)
  bash -c "socat -u TCP-LISTEN:$p,reuseaddr,bind=127.0.0.1 - | dd bs=1M 2>dd$i.log |
    mbstream -x -C '$d'" &
  local rpid=$!
  for _ in $(seq 50); do ss -Htln "sport = :$p" | grep -q . && break; sleep 0.1; done
  mariadb-backup --backup --stream=mbstream --socket="$work/donor/sock" --user=root \
    --target-dir="$work/bk$i" 2>backup$i.log | socat -u - TCP:127.0.0.1:$p
  wait "$rpid"
  FETCH=$(echo "$FETCH + $(now) - $t0" | bc -l)
  t0=$(now)
  mariadb-backup --prepare --target-dir="$d" >prepare$i.log 2>&1
  PREP=$(echo "$PREP + $(now) - $t0" | bc -l)
  mariadbd --defaults-file="$d/backup-my.cnf" --datadir="$d" --socket="$d/mariadbd.sock" \
    --pid-file="$d/mariadbd.pid" --log-error="$d/mariadbd.err" --port=$((base + i)) \
    --bind-address=127.0.0.1 --server-id=$((100 + i)) --log-bin --log-slave-updates \
    --skip-slave-start "${user_opt[@]}" >/dev/null 2>&1 &
  wait_sql "$d/mariadbd.sock"
  local gtid pos
  gtid=$(cut -f3 "$d/xtrabackup_binlog_info")
  q "$d/mariadbd.sock" "SET GLOBAL gtid_slave_pos='$gtid';
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$base, MASTER_USER='repl',
    MASTER_PASSWORD='bench-repl', MASTER_USE_GTID=slave_pos; START SLAVE;"
  pos=$(q donor/sock "SELECT @@gtid_binlog_pos")
  [ "$(q "$d/mariadbd.sock" "SELECT MASTER_GTID_WAIT('$pos', 600)")" = 0 ] ||
    { echo "bench: classic replica $i did not catch up" >&2; return 1; }
  B=$((B + $(grep -o '^[0-9]* bytes' dd$i.log | cut -d' ' -f1)))
}
run_classic() {
  local n=$1 i t0
  stop_replicas
  rm -rf r1 r2 r3 bk1 bk2 bk3
  B=0
  FETCH=0
  PREP=0
  t0=$(now)
  for i in $(seq "$n"); do classic_one "$i"; done
  W=$(sub "$(now)" "$t0")
  stop_replicas
}

declare -A wall bytes snap fetch prep
for r in $(seq "$runs"); do
  for n in 1 3; do
    run_seedmesh "$n"
    wall[sm$n]+="$(printf '%.2f' "$W") "
    snap[sm$n]+="$(printf '%.2f' "$SNAP") "
    bytes[sm$n]+="$B "
    fetch[sm$n]+="$(printf '%.2f' "$FETCH") "
    prep[sm$n]+="$(printf '%.2f' "$PREP") "
    echo "round $r, $n replica(s), seedmesh: snapshot ${SNAP}s, join->CAUGHT_UP ${W}s, donor sent $B" >&2
    run_classic "$n"
    wall[cl$n]+="$(printf '%.2f' "$W") "
    bytes[cl$n]+="$B "
    fetch[cl$n]+="$(printf '%.2f' "$FETCH") "
    prep[cl$n]+="$(printf '%.2f' "$PREP") "
    echo "round $r, $n replica(s), classic: ${W}s, donor sent $B" >&2
  done
done
load_g1=$(q donor/sock "SELECT @@gtid_binlog_pos")
tps=$(printf '%.0f' "$(echo "(${load_g1##*-} - ${load_g0##*-}) / ($(now) - $load_t0)" | bc -l)")
kill "$sbpid" 2>/dev/null || true
wait "$sbpid" 2>/dev/null || true
sbpid=""

median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.2f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
row() { # n
  local n=$1 sw ss cw sb cb
  sw=$(median "${wall[sm$n]}")
  ss=$(median "${snap[sm$n]}")
  cw=$(median "${wall[cl$n]}")
  sb=$(median "${bytes[sm$n]}")
  cb=$(median "${bytes[cl$n]}")
  printf '| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %s | %s | %.2f |\n' "$n" "$sw" "$ss" "$cw" \
    "$(echo "$sw / $cw" | bc -l)" "$(echo "($sw + $ss) / $cw" | bc -l)" \
    "$(numfmt --to=iec --format=%.1f "${sb%.*}")" "$(numfmt --to=iec --format=%.1f "${cb%.*}")" \
    "$(echo "$sb / $cb" | bc -l)"
}
out=$(mktemp)
cat >"$out" <<MD
## MariaDB: seeding 1 and 3 replicas, seedmesh vs mariadb-backup over socat ($(date -u +%Y-%m-%d), median of $runs)

Reproduce: \`bench/mariadb.sh $rows $runs\` (Release build, as root or a user that can run mariadbd).
One donor MariaDB $(mariadbd --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1) on loopback
(\`--log-bin\`, 512M buffer pool) holds \`sysbench oltp_read_write --tables=$tables --table-size=$rows\`
($(numfmt --to=iec "$db_bytes") datadir without binlogs; seedmesh snapshot: $(numfmt --to=iec "$PIECES") of
non-zero chunks) and runs \`sysbench oltp_read_write --rate=40\` (${tps} write transactions/s in the binlog) through every
round. Both methods run on the same donor, interleaved round by round, on a shared 2-core machine;
replicas are new \`mariadbd\` processes on the same machine.

- seedmesh: a fresh \`seedmesh snapshot --engine mariadb\` per round (its time is the *snapshot*
  column), a donor node and N recipient nodes, N parallel \`seedmesh join --engine mariadb\`.
  *join* = from the joins' start until the last one reports CAUGHT_UP (FETCH, CHECK, PREPARE,
  PLACE, START, JOIN, CAUGHT_UP). Donor bytes = the donor node's \`transfers[0].bytes_up\`.
- classic: for each replica in turn, \`mariadb-backup --backup --stream=mbstream | socat\` into
  \`socat | dd | mbstream -x\`, \`mariadb-backup --prepare\`, \`mariadbd\` started on it,
  \`SET GLOBAL gtid_slave_pos\`, \`CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos\`, \`START SLAVE\`,
  \`MASTER_GTID_WAIT\` to the donor's \`@@gtid_binlog_pos\`. Wall = from the first backup's start
  until the last replica caught up. Donor bytes = bytes through socat (dd's count).

seedmesh sends each distinct non-zero 4 MiB chunk once per recipient swarm, zstd-compressed,
and recipients fetch most chunks from each other; the mbstream is uncompressed and goes to each
replica from the donor.

| replicas | seedmesh join s | seedmesh snapshot s | classic s | join / classic | (snapshot + join) / classic | donor bytes seedmesh | donor bytes classic | bytes ratio |
|---|---|---|---|---|---|---|---|---|
$(row 1)
$(row 3)

Where the time goes (medians, s): seedmesh 1: FETCH $(median "${fetch[sm1]}"), PREPARE $(median "${prep[sm1]}");
seedmesh 3: slowest FETCH $(median "${fetch[sm3]}"), slowest PREPARE $(median "${prep[sm3]}") (three at once);
classic 1: backup stream $(median "${fetch[cl1]}"), prepare $(median "${prep[cl1]}");
classic 3: backup streams $(median "${fetch[cl3]}"), prepares $(median "${prep[cl3]}") (summed, one after another).
The rest is server start, JOIN and catching up.

Raw rounds (wall s): seedmesh 1: ${wall[sm1]}; classic 1: ${wall[cl1]}; seedmesh 3: ${wall[sm3]}; classic 3: ${wall[cl3]}.
Snapshot rounds (s): for 1: ${snap[sm1]}; for 3: ${snap[sm3]}.
MD
cd - >/dev/null
write_section mariadb-join "$out"
cat "$out"

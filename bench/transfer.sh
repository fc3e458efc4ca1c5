#!/usr/bin/env bash
# transfer.sh - one donor to one recipient over loopback, side by side with a
# tar pipe over socat and with mariadb-backup's mbstream over socat of a real
# MariaDB datadir. Writes the "transfer" section of docs/benchmarks.md.
# usage: bench/transfer.sh [SIZE] [RUNS] [DB_ROWS_PER_TABLE]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
size=${1:-2G}
runs=${2:-3}
rows=${3:-1000000} # sysbench rows per table, 8 tables (~240 MB per million rows)
need() { command -v "$1" >/dev/null || apt-get install -y -qq "$2" >/dev/null; }
need bc bc
need socat socat
need sysbench sysbench
need mariadbd mariadb-server
need mariadb-backup mariadb-backup
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target seedmesh sm-gentree >/dev/null
sm=$(pwd)/build-release/cli/seedmesh
gen=$(pwd)/build-release/tests/tools/sm-gentree
work=$(mktemp -d /tmp/sm-bench.XXXXXX)
port=$((30000 + ($$ % 500) * 4)) # donor, recipient, socat
tck=$(getconf CLK_TCK)
pids=()
db_pid=""
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$db_pid" ]; then kill "$db_pid" 2>/dev/null || true; wait "$db_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO" >&2; tail -n 5 "$work/node.log" >&2 2>/dev/null' ERR
cd "$work"

now() { date +%s.%N; }
sub() { echo "$1 - $2" | bc -l; }
cpu_of() { awk -v t="$tck" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat"; } # user+sys
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

# --- inputs: a gentree tree and its snapshot, a MariaDB datadir
"$sm" keygen --out d.key | cut -d' ' -f1 >trust
"$sm" keygen --out r.key | cut -d' ' -f1 >>trust
"$gen" create --out src --size "$size" --seed 42 >/dev/null
t0=$(now)
"$sm" snapshot --engine dir --source src --out store --key d.key >/dev/null
t_snap=$(sub "$(now)" "$t0")
bytes=$(du -s --apparent-size --block-size=1 src | cut -f1)
piece_bytes=$("$sm" manifest show store --json | grep -o '"piece_bytes":[0-9]*' | cut -d: -f2)

mkdir db
mariadb-install-db --datadir="$work/db" --user="$(whoami)" --auth-root-authentication-method=normal \
  >/dev/null 2>&1
mariadbd --datadir="$work/db" --socket="$work/db/sock" --port=0 --skip-networking --user=root \
  --innodb-buffer-pool-size=1G --innodb-log-file-size=256M --log-error="$work/mariadbd.err" &
db_pid=$!
for _ in $(seq 300); do [ -S db/sock ] && break; sleep 0.2; done
mariadb --socket=db/sock -uroot -e 'CREATE DATABASE sbtest'
t0=$(now)
sysbench oltp_read_write --mysql-socket="$work/db/sock" --mysql-user=root --tables=8 \
  --table-size="$rows" --threads=2 prepare >/dev/null
t_fill=$(sub "$(now)" "$t0")
db_bytes=$(du -s --apparent-size --block-size=1 db | cut -f1)
cat $(find src store db -type f ! -name sock) >/dev/null 2>&1 || true # warm the page cache alike

# --- one round of each method; each sets W (wall seconds) and C (CPU seconds)
run_seedmesh() {
  rm -rf dst ds rs
  "$sm" node --listen 127.0.0.1:$port --key d.key --trust trust --state ds --serve store \
    --log-level warn 2>>"$work/node.log" &
  local dpid=$!
  "$sm" node --listen 127.0.0.1:$((port + 1)) --key r.key --trust trust --state rs \
    --peers 127.0.0.1:$port --log-level warn 2>>"$work/node.log" &
  local rpid=$!
  pids+=("$dpid" "$rpid")
  wait_socket ds/control.sock
  wait_socket rs/control.sock
  local t0 t1 fcpu
  t0=$(now)
  fcpu=$( { /usr/bin/time -f '%U %S' "$sm" fetch latest --target "$work/dst" \
    --control rs/control.sock >/dev/null 2>/dev/null; } 2>&1 | awk 'END {print $1 + $2}')
  t1=$(now)
  local cpu
  cpu=$(echo "$(cpu_of "$dpid") + $(cpu_of "$rpid") + $fcpu" | bc -l)
  kill -TERM "$dpid" "$rpid"
  wait "$dpid" "$rpid" || true
  "$sm" verify --manifest store --target dst >/dev/null
  W=$(sub "$t1" "$t0")
  C=$cpu
}
# pipe_round SENDER RECEIVER: both are shell commands; socat carries the bytes.
pipe_round() {
  rm -rf dst bk && mkdir dst bk
  /usr/bin/time -o recv.time -f '%U %S' bash -c \
    "socat -u TCP-LISTEN:$((port + 2)),reuseaddr,bind=127.0.0.1 - | $2" &
  local rpid=$!
  sleep 0.3
  local t0 t1
  t0=$(now)
  /usr/bin/time -o send.time -f '%U %S' bash -c \
    "$1 | socat -u - TCP:127.0.0.1:$((port + 2))" >/dev/null 2>&1
  wait "$rpid"
  t1=$(now)
  W=$(sub "$t1" "$t0")
  C=$(cat send.time recv.time | awk '{s += $1 + $2} END {print s}')
}
run_tar() { pipe_round "tar -C src -cf - ." "tar -C dst -xf -"; }
run_mbstream() {
  pipe_round "mariadb-backup --backup --stream=mbstream --socket=$work/db/sock --user=root \
    --target-dir=$work/bk 2>/dev/null" "mbstream -x -C dst"
}

declare -A wall cpu
for r in $(seq "$runs"); do
  for m in seedmesh tar mbstream; do
    "run_$m"
    wall[$m]+="$(printf '%.2f' "$W") "
    cpu[$m]+="$(printf '%.2f' "$C") "
    echo "round $r $m: ${W}s, cpu ${C}s" >&2
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {printf "%.2f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
gib=$(echo "$bytes / 1073741824" | bc -l)
db_gib=$(echo "$db_bytes / 1073741824" | bc -l)
row() { # method, bytes, gib, label
  local w c
  w=$(median "${wall[$1]}")
  c=$(median "${cpu[$1]}")
  printf '| %s | %s | %.2f | %.0f | %.2f | %.2f |\n' "$4" "$(numfmt --to=iec "$2")" "$w" \
    "$(echo "$2 / $w / 1000000" | bc -l)" "$(echo "$w / $3" | bc -l)" "$(echo "$c / $3" | bc -l)"
}
w_sm=$(median "${wall[seedmesh]}")
w_tar=$(median "${wall[tar]}")

out=$(mktemp)
cat >"$out" <<MD
## Transfer: one donor to one recipient over loopback ($(date -u +%Y-%m-%d), median of $runs)

Reproduce: \`bench/transfer.sh $size $runs $rows\` (Release build). The methods run side by side,
interleaved round by round, on a shared 2-core machine with a warm page cache.

- seedmesh: \`seedmesh node\` serving a snapshot of \`sm-gentree create --size $size --seed 42\`
  ($(numfmt --to=iec "$piece_bytes") of pieces after skipping zero chunks), one recipient node, timed
  \`seedmesh fetch\` until the tree is written, verified, synced and renamed into place. The snapshot was
  made beforehand (${t_snap%.*} s; see the foundation section). CPU = both nodes + the fetch client.
- tar: \`tar -C src -cf - . | socat -u - TCP:...\` into \`socat -u TCP-LISTEN:... - | tar -C dst -xf -\`,
  same tree, no fsync. CPU = all four processes.
- mbstream: \`mariadb-backup --backup --stream=mbstream\` of a live MariaDB $(mariadbd --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1)
  datadir filled by \`sysbench oltp_read_write --tables=8 --table-size=$rows prepare\`
  ($(numfmt --to=iec "$db_bytes"), filled in ${t_fill%.*} s) over socat into \`mbstream -x\`, no fsync.
  A different input, so compare its per-GiB columns.

| method | bytes (apparent) | wall s | MB/s | wall s/GiB | CPU s/GiB |
|---|---|---|---|---|---|
$(row seedmesh "$bytes" "$gib" "seedmesh fetch (BLAKE2b + encrypted links + zstd)")
$(row tar "$bytes" "$gib" "tar pipe over socat")
$(row mbstream "$db_bytes" "$db_gib" "mariadb-backup \\| socat \\| mbstream -x")

Ratio seedmesh / tar (wall) = $(echo "$w_sm / $w_tar" | bc -l | xargs printf '%.2f') (goal <= 1).
Raw rounds (wall s): seedmesh ${wall[seedmesh]}; tar ${wall[tar]}; mbstream ${wall[mbstream]}.
MD
cd - >/dev/null
write_section transfer "$out"
cat "$out"

#!/usr/bin/env bash
# gossip.sh - five real nodes on loopback, given only one seed address,
# discover each other; one serves a snapshot, the other four `fetch latest`
# and complete; `status --cluster --json` from any node lists all five.
# usage: gossip.sh SEEDMESH GENTREE [SIZE]
SM=$1
GEN=$2
SIZE=${3:-128M}
. "$(dirname "$0")/lib.sh"
cd "$WORK"
base=$((11000 + $$ % 20000)) # below the ephemeral range (32768+)
pids=()
cleanup_nodes() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap 'cleanup_nodes; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT

for i in 0 1 2 3 4; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
"$GEN" create --out src --size "$SIZE" --seed 5 >/dev/null
"$SM" snapshot --engine dir --source src --out store --key k0.key >/dev/null
"$SM" node --listen 127.0.0.1:$base --key k0.key --trust trust --state s0 --serve store --log-level ${LOG_LEVEL:-info} 2>log0 &
pids+=($!)
for i in 1 2 3 4; do
  "$SM" node --listen 127.0.0.1:$((base + i)) --key k$i.key --trust trust --state s$i \
    --seeds 127.0.0.1:$base --log-level ${LOG_LEVEL:-info} 2>log$i &
  pids+=($!)
done

members() { "$SM" status --cluster --json --control "s$1/control.sock" 2>/dev/null |
  grep -o '"status":"alive"' | wc -l; }
t0=$(date +%s.%N)
for _ in $(seq 100); do
  ok_all=1
  for i in 0 1 2 3 4; do [ "$(members $i)" -eq 5 ] || ok_all=0; done
  [ $ok_all -eq 1 ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
check "every node sees all five members alive ($(echo "$t1 - $t0" | bc) s after start)" test $ok_all -eq 1

for i in 1 2 3 4; do
  "$SM" fetch latest --target "$WORK/r$i" --control s$i/control.sock >f$i.out 2>&1 &
done
wait_fetch() { local n=0; while pgrep -f "fetch latest --target $WORK/r" >/dev/null && [ $n -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done; }
wait_fetch
t2=$(date +%s.%N)
for i in 1 2 3 4; do
  check "recipient $i fetched latest and its tree verifies" "$SM" verify --manifest store --target "r$i"
done
echo "    all four done $(echo "$t2 - $t1" | bc) s after fetch started"

# Progress spreads by gossip (published every second): allow it a few seconds.
for _ in $(seq 50); do
  "$SM" status --cluster --json --control s3/control.sock >cluster.json
  [ "$(grep -o '"stage":"DONE"' cluster.json | wc -l)" -eq 4 ] && break
  sleep 0.2
done
check "status --cluster --json from node 3 lists five members" test "$(grep -o '"key":' cluster.json | wc -l)" -eq 5
check "it shows the donor serving" grep -q '"role":"donor","stage":"SERVE"' cluster.json
check "it shows four recipients done" test "$(grep -o '"stage":"DONE"' cluster.json | wc -l)" -eq 4
up=$("$SM" status --json --control s0/control.sock | sed 's/.*"transfers":\[//' | grep -o '"bytes_up":[0-9]*' | head -1 | cut -d: -f2)
total=$("$SM" status --json --control s0/control.sock | sed 's/.*"transfers":\[//' | grep -o '"bytes_total":[0-9]*' | head -1 | cut -d: -f2)
echo "    donor uploaded $up of $total bytes ($(echo "scale=2; $up / $total" | bc)x)"
check "donor upload stays under 1.5x the snapshot" test "$up" -le $((total * 3 / 2))

kill -TERM "${pids[0]}"
for _ in $(seq 100); do
  dead=$("$SM" status --cluster --json --control s1/control.sock | grep -o '"status":"[a-z]*"' | grep -c -E 'left|dead')
  [ "$dead" -ge 1 ] && break
  sleep 0.1
done
check "a donor that stops is seen as left/dead by the others" test "$dead" -ge 1
wait "${pids[0]}"
check "the stopped node exited 0 and removed its control socket" test $? -eq 0 -a ! -e s0/control.sock
finish

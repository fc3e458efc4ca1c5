#!/usr/bin/env bash
# swarm.sh - the peer-to-peer fetch through real processes on loopback: one
# donor seeds four recipients at once, a recipient killed with -9 half-way
# resumes without fetching a verified chunk twice, nodes stop cleanly on
# SIGTERM, and a recipient node runs leak-free under valgrind.
# usage: swarm.sh SEEDMESH GENTREE [SIZE]   (SIZE of the tree, default 1G)
SM=$1
GEN=$2
SIZE=${3:-1G}
. "$(dirname "$0")/lib.sh"

# Ten ports per run below the ephemeral range, derived from our pid so that
# concurrent runs do not clash.
BASE=$((10000 + ($$ % 2000) * 10))
FETCH_TIMEOUT=${SM_FETCH_TIMEOUT:-400} # seconds; no fetch may hang the test
declare -A NODE_PID
VG_PID=""
stop_everything() {
  local p
  for p in "${NODE_PID[@]}" $VG_PID; do
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "${SM_KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap stop_everything EXIT

cd "$WORK" || exit 1
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
field() { grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2; } # flat JSON file, key
# tfield FILE KEY...: KEYs of the first transfer in a `status --json` file.
tfield() { # FILE KEY...: prints the values on one line
  python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))["transfers"][0]
print(*(t[k] for k in sys.argv[2:]))' "$@" 2>/dev/null
}

status_json() { "$SM" status --control "s$1/control.sock" --json >"$2" 2>/dev/null; }
# fetch_timed I: fetches latest into rI through node I; writes "rc seconds"
# to fetchI.res.
fetch_timed() {
  local t0 rc
  t0=$(now)
  timeout "$FETCH_TIMEOUT" "$SM" fetch latest --target "$WORK/r$1" --control "s$1/control.sock" \
    >"fetch$1.out" 2>&1
  rc=$?
  echo "$rc $(elapsed "$t0" "$(now)")" >"fetch$1.res"
}
# recipient_ok I: fetch exit 0, verify passes and no difference from src.
recipient_ok() {
  local rc secs
  read -r rc secs <"fetch$1.res"
  check "recipient $1: fetch exits 0 ($rc) after $secs s" test "$rc" -eq 0
  check "recipient $1: verify passes" "$SM" verify --manifest store --target "r$1"
  check "recipient $1: diff -r src r$1 is empty" diff -r src "r$1"
}

for i in $(seq 0 11); do
  "$SM" keygen --out "k$i.key" | cut -d' ' -f1 >>trust
done
"$GEN" create --out src --size "$SIZE" --seed 3 >/dev/null
"$SM" snapshot --engine dir --source src --out store --key k0.key >/dev/null
"$SM" manifest show store --json >manifest.json
piece_bytes=$(field manifest.json piece_bytes)
chunk_size=$(field manifest.json chunk_size)
echo "# $SIZE tree: $(field manifest.json pieces) pieces, $piece_bytes piece bytes; ports $BASE.."

node_launch 0 --serve store
node_wait_socket 0 || exit 1

# --- a. one donor, four recipients started together
peers=127.0.0.1:$BASE
for i in 1 2 3 4; do peers+=",127.0.0.1:$((BASE + i))"; done
for i in 1 2 3 4; do node_launch "$i" --peers "$peers"; done
for i in 1 2 3 4; do node_wait_socket "$i" || exit 1; done
t0=$(now)
fetches=()
for i in 1 2 3 4; do
  fetch_timed "$i" &
  fetches+=($!)
done
wait "${fetches[@]}"
total=$(elapsed "$t0" "$(now)")
for i in 1 2 3 4; do recipient_ok "$i"; done
echo "    times: $(for i in 1 2 3 4; do printf 'r%s %ss  ' "$i" "$(cut -d' ' -f2 "fetch$i.res")"; done)total ${total}s"

# --- b. the donor uploads little more than one copy
status_json 0 donor.json
up=$(tfield donor.json bytes_up)
ratio=$(awk -v u="${up:-0}" -v p="$piece_bytes" 'BEGIN { printf "%.2f", u / p }')
echo "    donor uploaded ${up:-?} bytes for $piece_bytes piece bytes: ratio $ratio"
check "donor upload ratio $ratio <= 1.5" \
  awk -v u="${up:-0}" -v p="$piece_bytes" 'BEGIN { exit !(u > 0 && u <= 1.5 * p) }'

# --- c. kill -9 one recipient half-way, restart it, fetch again
peers=127.0.0.1:$BASE
for i in 5 6 7 8; do peers+=",127.0.0.1:$((BASE + i))"; done
# The victim's download is capped (the same on restart) so that polling its
# status catches it half-way even on a fast machine.
victim_cap=(--max-download 40M)
node_launch 5 --peers "$peers" "${victim_cap[@]}"
for i in 6 7 8; do node_launch "$i" --peers "$peers"; done
for i in 5 6 7 8; do node_wait_socket "$i" || exit 1; done
victim=5
fetches=()
for i in 5 6 7 8; do
  fetch_timed "$i" &
  fetches+=($!)
done
killed=0
for _ in $(seq 6000); do
  if status_json $victim victim.json; then
    read -r have tot < <(tfield victim.json bytes_have bytes_total)
    if [ -n "$have" ] && [ -n "$tot" ] && [ "$tot" -gt 0 ] && [ $((have * 100)) -ge $((tot * 40)) ]; then
      killed=1
      break
    fi
  fi
  [ -e "fetch$victim.res" ] && break
  sleep 0.05
done
kill -9 "${NODE_PID[$victim]}" # even when we missed the half-way point
wait "${NODE_PID[$victim]}" 2>/dev/null
unset "NODE_PID[$victim]"
wait "${fetches[0]}" # the victim's fetch, which lost its node
fetches=("${fetches[@]:1}")
have=${have:-0} tot=${tot:-1}
check "recipient $victim killed with -9 at $have of $tot bytes ($((have * 100 / tot))%)" \
  test "$killed" -eq 1 -a "$have" -lt "$tot"
journal=r$victim.seedmesh-staging/journal
records=$(($(stat -c %s "$journal" 2>/dev/null || echo 0) / 8))
checkpoints=$(od -An -v -tx1 -w8 "$journal" 2>/dev/null | awk '$1$2$3$4 == "ffffffff"' | wc -l)
journaled=$((records - checkpoints))
rm -f "s$victim/control.sock" # a killed node leaves its socket behind
node_launch $victim --peers "$peers" "${victim_cap[@]}"
node_wait_socket $victim || exit 1
"$SM" fetch latest --target "$WORK/r$victim" --control "s$victim/control.sock" --no-wait >/dev/null
status_json $victim restart.json
have0=$(tfield restart.json chunks_have)
bytes_have0=$(tfield restart.json bytes_have)
down0=$(tfield restart.json bytes_down)
fetch_timed $victim
wait "${fetches[@]}"
already=$(grep -o '[0-9]* already here' "log$victim" | tail -1 | cut -d' ' -f1)
status_json $victim resumed.json
down=$(tfield resumed.json bytes_down)
wasted=$(tfield resumed.json bytes_wasted)
total_bytes=$(tfield resumed.json bytes_total)
had=$((bytes_have0 - down0)) # bytes the node held before it downloaded anything
need=$((total_bytes - had))
echo "    journal: $records records, $checkpoints checkpoints, $journaled chunks; after restart the" \
  "node reported $already already here, status chunks_have $have0 (bytes_have $bytes_have0," \
  "bytes_down $down0)"
echo "    after restart downloaded $down bytes, of which $wasted endgame duplicates; missing were" \
  "$need of $total_bytes"
check "restart starts from the journal: $already already here = $journaled journaled" \
  test "${already:-x}" = "$journaled" -a "$journaled" -gt 0
check "status chunks_have right after restart ($have0) >= journaled ($journaled)" \
  test "${have0:-0}" -ge "$journaled"
check "no verified chunk fetched twice: downloaded $down - duplicates $wasted <= missing $need" \
  test "${down:-0}" -gt 0 -a $((${down:-0} - ${wasted:-0})) -le "$need"
for i in 5 6 7 8; do recipient_ok "$i"; done

# --- d. SIGTERM stops every node cleanly
for i in "${!NODE_PID[@]}"; do
  pid=${NODE_PID[$i]}
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    how="on SIGTERM"
  else
    wait "$pid"
    rc=$?
    how="on its own after lingering"
  fi
  unset "NODE_PID[$i]"
  check "node $i stopped $how: exit $rc, control socket removed" \
    test "$rc" -eq 0 -a ! -e "s$i/control.sock"
done

# --- e. a recipient node under valgrind: no leaks, no errors
if [ "${SM_SANITIZED:-0}" = 1 ]; then
  echo "ok - # SKIP valgrind check: this binary is built with ASan (LeakSanitizer checks leaks here)"
elif ! command -v valgrind >/dev/null; then
  echo "ok - # SKIP valgrind check: valgrind is not installed"
else
  "$GEN" create --out vsrc --size 64M --seed 5 >/dev/null
  "$SM" snapshot --engine dir --source vsrc --out vstore --key k10.key >/dev/null
  node_launch 10 --serve vstore
  node_wait_socket 10 || exit 1
  valgrind --leak-check=full --error-exitcode=9 --log-file=vg.log \
    "$SM" node --listen "127.0.0.1:$((BASE + 11))" --key k11.key --trust trust --state s11 \
    --peers "127.0.0.1:$((BASE + 10))" 2>log11 &
  VG_PID=$!
  for _ in $(seq 600); do
    [ -S s11/control.sock ] && break
    sleep 0.1
  done
  t0=$(now)
  timeout 600 "$SM" fetch latest --target "$WORK/r11" --control s11/control.sock >fetch11.out 2>&1
  rc=$?
  echo "    64M fetch under valgrind: $(elapsed "$t0" "$(now)") s"
  check "valgrind recipient: fetch exits 0 ($rc)" test "$rc" -eq 0
  check "valgrind recipient: verify passes" "$SM" verify --manifest vstore --target r11
  kill -TERM "$VG_PID"
  wait "$VG_PID"
  rc=$?
  VG_PID=""
  grep -E 'definitely lost|no leaks are possible|ERROR SUMMARY' vg.log | sed 's/^==[0-9]*== */    /'
  check "valgrind node exits 0 on SIGTERM ($rc)" test "$rc" -eq 0
  check "valgrind: no leaks" grep -qE 'no leaks are possible|definitely lost: 0 bytes' vg.log
  check "valgrind: no errors" grep -q 'ERROR SUMMARY: 0 errors' vg.log
  kill -TERM "${NODE_PID[10]}"
  wait "${NODE_PID[10]}"
  unset "NODE_PID[10]"
fi

if [ "$TESTS_FAILED" -gt 0 ]; then
  for f in log*; do
    echo "# $f:"
    grep -E 'WARN|ERROR|received signal' "$f" | tail -n 5 | sed 's/^/#   /'
  done
fi
finish

#!/usr/bin/env bash
# multi.sh - several transfers through the same running nodes: a donor node
# and three recipient nodes fetch snapshot A; then, without restarting any
# node, the donor serves two more snapshots B (A mutated) and C (a fresh
# tree) and every recipient fetches B and C at the same time over the links
# it already has; then six more snapshots in turn, more than a node's eight
# transfer slots, and one of them twice at once into two targets. Each
# fetched tree must verify and equal its source.
# usage: multi.sh SEEDMESH GENTREE [SIZE]   (SIZE of each tree, default 64M)
SM=$1
GEN=$2
SIZE=${3:-64M}
. "$(dirname "$0")/lib.sh"

# Five ports per run below the ephemeral range, derived from our pid.
BASE=$((20000 + ($$ % 2000) * 5))
FETCH_TIMEOUT=${SM_FETCH_TIMEOUT:-300} # seconds; a stalled fetch fails, never hangs
RECIPIENTS="1 2 3"
declare -A NODE_PID
trap stop_nodes_exit EXIT
cd "$WORK" || exit 1

manifest_id() { # STORE: the hex id of its latest manifest
  "$SM" manifest show "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["manifest"])'
}
# serve I STORE: asks running node I to serve STORE as well (control op
# "serve": a 4-byte big-endian length, then a msgpack map). Prints the answer.
serve() {
  python3 - "s$1/control.sock" "$WORK/$2" <<'EOF'
import socket, struct, sys
def s(t):
    b = t.encode()
    return (bytes([0xa0 | len(b)]) if len(b) < 32 else bytes([0xd9, len(b)])) + b
body = b"\x82" + s("op") + s("serve") + s("target") + s(sys.argv[2])
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
c.sendall(struct.pack(">I", len(body)) + body)
n = struct.unpack(">I", c.recv(4, socket.MSG_WAITALL))[0]
ans = c.recv(n, socket.MSG_WAITALL)
sys.exit(0 if b"\xa2ok\xc3" in ans else 1)
EOF
}
# fetch I ID NAME: fetches manifest ID into NAME$I through node I; writes the
# exit code to NAME$I.rc.
fetch() {
  timeout "$FETCH_TIMEOUT" "$SM" fetch "$2" --target "$WORK/$3$1" --control "s$1/control.sock" \
    >"$3$1.out" 2>&1
  echo $? >"$3$1.rc"
}
fetched_ok() { # I NAME STORE SRC
  check "recipient $1: fetch of $2 exits 0 ($(cat "$2$1.rc"))" test "$(cat "$2$1.rc")" = 0
  check "recipient $1: $2$1 verifies against $3" "$SM" verify --manifest "$3" --target "$2$1"
  check "recipient $1: diff -r $4 $2$1 is empty" diff -r "$4" "$2$1"
}

for i in 0 $RECIPIENTS; do
  "$SM" keygen --out "k$i.key" | cut -d' ' -f1 >>trust
done
"$GEN" create --out srcA --size "$SIZE" --seed 11 >/dev/null
"$SM" snapshot --engine dir --source srcA --out storeA --key k0.key >/dev/null
idA=$(manifest_id storeA)
echo "# $SIZE trees; ports $BASE.."

node_launch 0 --serve storeA
peers=127.0.0.1:$BASE
for i in $RECIPIENTS; do peers+=",127.0.0.1:$((BASE + i))"; done
for i in $RECIPIENTS; do node_launch "$i" --peers "$peers"; done
for i in 0 $RECIPIENTS; do node_wait_socket "$i" || exit 1; done

# --- a. every recipient fetches A
jobs_=()
for i in $RECIPIENTS; do
  fetch "$i" "$idA" rA &
  jobs_+=($!)
done
wait "${jobs_[@]}"
for i in $RECIPIENTS; do fetched_ok "$i" rA storeA srcA; done

# --- b. the donor serves B (A with 5% of its pages rewritten) and C (a new
# tree); every recipient fetches both at once through the same nodes
cp -a srcA srcB
"$GEN" mutate --dir srcB --fraction 0.05 --seed 12 >/dev/null
"$GEN" create --out srcC --size "$SIZE" --seed 13 >/dev/null
"$SM" snapshot --engine dir --source srcB --out storeB --key k0.key >/dev/null
"$SM" snapshot --engine dir --source srcC --out storeC --key k0.key >/dev/null
idB=$(manifest_id storeB)
idC=$(manifest_id storeC)
check "three different manifests" test -n "$idA" -a -n "$idB" -a -n "$idC" \
  -a "$idA" != "$idB" -a "$idB" != "$idC" -a "$idA" != "$idC"
check "the running donor serves B as well" serve 0 storeB
check "the running donor serves C as well" serve 0 storeC
jobs_=()
for i in $RECIPIENTS; do
  fetch "$i" "$idB" rB &
  jobs_+=($!)
  fetch "$i" "$idC" rC &
  jobs_+=($!)
done
wait "${jobs_[@]}"
for i in $RECIPIENTS; do
  fetched_ok "$i" rB storeB srcB
  fetched_ok "$i" rC storeC srcC
done

# --- c. the same processes did all of it
for i in 0 $RECIPIENTS; do
  check "node $i ran all along" kill -0 "${NODE_PID[$i]}"
done

# --- d. more snapshots than a node has transfer slots (8): one after another,
# the donor serves six small ones and recipient 1 fetches each; finished
# fetches and the oldest snapshots that nobody fetches make room
for k in 1 2 3 4 5 6; do
  "$GEN" create --out "srcS$k" --size 4M --seed $((20 + k)) >/dev/null
  "$SM" snapshot --engine dir --source "srcS$k" --out "storeS$k" --key k0.key >/dev/null
  serve 0 "storeS$k" || not_ok "the donor serves storeS$k"
  fetch 1 "$(manifest_id "storeS$k")" "rS$k-"
  fetched_ok 1 "rS$k-" "storeS$k" "srcS$k"
done
check "the donor made room for new snapshots" grep -q "transfer table full" log0
check "recipient 1 made room for new fetches" grep -q "transfer table full" log1
# the same manifest twice at once on one node, into two targets (the node
# refuses the one asked while the other still looks for the manifest: it is
# asked again); the two fetches take turns on each link
fetch_again() { # like fetch, asked again while refused for that reason
  for _ in $(seq 100); do
    fetch "$@"
    grep -q "still looking for this manifest" "$3$1.out" || return 0
    sleep 0.1
  done
}
idS6=$(manifest_id storeS6)
fetch_again 2 "$idS6" rS6a- &
p1=$!
fetch_again 2 "$idS6" rS6b- &
wait "$p1" $!
fetched_ok 2 rS6a- storeS6 srcS6
fetched_ok 2 rS6b- storeS6 srcS6
# no link was ever dropped for carrying another transfer's messages
violations=$(cat log* | grep -cE "protocol violation|a chunk we did not ask for")
check "no link closed for a protocol violation or an unasked chunk ($violations)" \
  test "$violations" -eq 0

# --- e. every node stops cleanly on SIGTERM
for i in 0 $RECIPIENTS; do
  kill -TERM "${NODE_PID[$i]}" 2>/dev/null
  wait "${NODE_PID[$i]}"
  rc=$?
  unset "NODE_PID[$i]"
  check "node $i exits 0 on SIGTERM ($rc)" test "$rc" -eq 0
done

if [ "$TESTS_FAILED" -gt 0 ]; then
  for f in log*; do
    echo "# $f:"
    grep -E 'WARN|ERROR|closing link' "$f" | tail -n 8 | sed 's/^/#   /'
  done
fi
finish

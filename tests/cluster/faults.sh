#!/usr/bin/env bash
# faults.sh - real nodes in network namespaces under network faults (issue 9):
#   a. 5% packet loss and 100 ms one-way delay on every link: every recipient
#      completes and verifies, gossip membership converges;
#   b. a partition between two halves (the donor's half and the other) for
#      --partition-seconds, cut while the fetches run, then healed: every
#      recipient completes and verifies, gossip converges again.
# Needs root and ip netns; exits 77 (skipped) without them.
# usage: faults.sh SEEDMESH GENTREE NETDELAY [--partition-seconds N] [--size SIZE]
SM=$1
GEN=$2
NET_DELAY_BIN=$3
shift 3
PART_SECS=20
SIZE=64M
while [ $# -gt 0 ]; do
  case $1 in
  --partition-seconds) PART_SECS=$2; shift 2 ;;
  --size) SIZE=$2; shift 2 ;;
  *) echo "faults.sh: unknown argument $1 (use --partition-seconds N, --size SIZE)" >&2; exit 2 ;;
  esac
done
HERE=$(dirname "$0")
. "$HERE/../integration/lib.sh"
. "$HERE/net.sh"
. "$HERE/nodes.sh"
K=6 # node 0 donor, 1..5 recipients
RECIPIENTS="1 2 3 4 5"
ALL="0 $RECIPIENTS"
FETCH_TIMEOUT=$((PART_SECS + 150))

cleanup() {
  nodes_stop_all
  net_down
  [ "${KEEP_WORK:-0}" = 1 ] && echo "# kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! net_available; then
  echo "# skipped: needs root, ip netns, bridges, htb and iptables statistic"
  exit 77
fi
NET_LOG=$WORK/netdelay.log

nodes_keys $K || exit 1
"$GEN" create --out "$WORK/src" --size "$SIZE" --seed 9 >/dev/null || exit 1
"$SM" snapshot --engine dir --source "$WORK/src" --out "$WORK/store" --key "$WORK/k0.key" >/dev/null ||
  exit 1

# start_cluster: donor and recipients, all joined through the donor's address.
start_cluster() {
  local i
  node_start 0 --serve "$WORK/store" --seeds "$(node_ep 0)"
  node_wait_socket 0 || return 1
  for i in $RECIPIENTS; do node_start "$i" --seeds "$(node_ep 0)"; done
  for i in $RECIPIENTS; do node_wait_socket "$i" || return 1; done
}
fetch_all() { # starts every recipient's fetch in the background
  local i
  FETCHES=()
  for i in $RECIPIENTS; do
    node_fetch_timed "$i" "$FETCH_TIMEOUT" &
    FETCHES+=($!)
  done
}
recipients_ok() { # LABEL: every fetch exited 0 and every tree verifies
  local i rc secs
  for i in $RECIPIENTS; do
    read -r rc secs <"$WORK/fetch$i.res"
    check "$1: recipient $i fetch exits 0 ($rc) after $secs s" test "$rc" -eq 0
    check "$1: recipient $i tree verifies" "$SM" verify --manifest "$WORK/store" --target "$WORK/r$i"
  done
}
# some_progress I...: each node I has received at least 1 byte (the fetch is running).
some_progress() {
  local i have
  for i in "$@"; do
    have=$(node_transfer_field "$i" bytes_have)
    [ -n "$have" ] && [ "$have" -gt 0 ] || return 1
  done
}

# missing_bytes I...: bytes the listed recipients still miss, summed.
missing_bytes() {
  local i t h
  for i in "$@"; do
    t=$(node_transfer_field "$i" bytes_total)
    h=$(node_transfer_field "$i" bytes_have)
    if [ -n "$t" ] && [ -n "$h" ]; then echo $((t - h)); else echo 1; fi # no transfer yet: misses all
  done | awk '{ s += $1 } END { print s + 0 }'
}

echo "# $SIZE tree, $K nodes (donor + 5), load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- a. 5% loss and 100 ms delay everywhere
net_up $K || { echo "net_up failed"; exit 1; }
for i in $ALL; do net_shape "$i" 100mbit 100 5 || { echo "net_shape $i failed"; exit 1; }; done
start_cluster || exit 1
t0=$(date +%s)
fetch_all
wait "${FETCHES[@]}"
echo "    lossy: all fetches returned after $(($(date +%s) - t0)) s"
recipients_ok "5% loss + 100 ms"
nodes_wait_converged "$ALL" 60
check "5% loss + 100 ms: every node sees $K members alive (counts: $NODES_COUNTS)" \
  nodes_converged "$ALL"
check "5% loss + 100 ms: every node stops on SIGTERM" nodes_stop_all
net_down

# --- b. a partition between {donor, 1, 2} and {3, 4, 5} during the fetch
HALF_A="0 1 2"
HALF_B="3 4 5"
net_up $K || { echo "net_up failed"; exit 1; }
for i in $ALL; do net_shape "$i" 20mbit 0 0 || { echo "net_shape $i failed"; exit 1; }; done
start_cluster || exit 1
nodes_wait_converged "$ALL" 30
check "before the cut: every node sees $K members alive (counts: $NODES_COUNTS)" nodes_converged "$ALL"
fetch_all
for _ in $(seq 200); do some_progress 3 && break; sleep 0.05; done
net_cut "$HALF_A" "$HALF_B" || { echo "net_cut failed"; exit 1; }
t_cut=$(date +%s)
if net_reachable 1 4; then
  not_ok "the cut holds: node 1 cannot reach node 4"
else
  ok "the cut holds: node 1 cannot reach node 4"
fi
sleep 3 # what was in flight lands
missing_before=$(missing_bytes $HALF_B)
rest=$((t_cut + PART_SECS - $(date +%s))) # the checks above took some of it
[ "$rest" -gt 0 ] && sleep "$rest"
missing_after=$(missing_bytes $HALF_B)
# Half B may still trade among itself, but cannot finish without the donor.
check "3 s into the cut, half B still misses $missing_before bytes (the cut came mid-fetch)" \
  test "$missing_before" -gt 0
check "after the cut ($PART_SECS s), half B still misses $missing_after bytes" test "$missing_after" -gt 0
nodes_converged "$HALF_A"
echo "    during the cut, half A sees alive: $NODES_COUNTS; half B: $(for i in $HALF_B; do printf '%s ' "$(node_members_alive "$i")"; done)"
net_heal
echo "    healed after $(($(date +%s) - t_cut)) s"
t_heal=$(date +%s)
wait "${FETCHES[@]}"
echo "    all fetches returned $(($(date +%s) - t_heal)) s after the heal"
recipients_ok "partition ${PART_SECS} s"
nodes_wait_converged "$ALL" 60
check "after the heal: every node sees $K members alive again (counts: $NODES_COUNTS, $(($(date +%s) - t_heal)) s after the heal)" \
  nodes_converged "$ALL"
check "partition: every node stops on SIGTERM" nodes_stop_all
finish

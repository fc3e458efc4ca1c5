#!/usr/bin/env bash
# ratelimit.sh - bandwidth caps through real processes on loopback: a
# recipient's --max-download, a donor's --max-upload and a cap lowered at run
# time with `seedmesh rate`. Rates come from the node's own figures in
# `status --json`: network bytes of the transfer stage (FETCH or SERVE) over
# the node's monotonic uptime_ms. A cap is a correctness property, so only
# the upper bound is checked: rate <= cap * 1.15, plus one second of burst
# (a bucket starts full; a lowered cap keeps a second of the new one) and a
# speed tick (the stage counters are refreshed once a second). The data rate
# (raw bytes, the first rate on the fetch progress line) is printed, not
# checked: chunks travel zstd-compressed, so it is higher when they compress.
# usage: ratelimit.sh SEEDMESH GENTREE [SIZE]   (SIZE of the tree, default 96M)
SM=$1
GEN=$2
SIZE=${3:-96M}
. "$(dirname "$0")/lib.sh"

BASE=$((10000 + ($$ % 2000) * 10)) # ten ports per run, from our pid
CAP=3M
CAP_BYTES=$((3 * 1024 * 1024))
declare -A NODE_PID
trap stop_nodes_exit EXIT
cd "$WORK" || exit 1

# sample I: one line "uptime_ms network data state max_up max_down" for the
# first transfer of node I (its FETCH stage, or SERVE on the donor).
sample() {
  "$SM" status --control "s$1/control.sock" --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
n = j["node"]
t = j["transfers"][0]
s = [s for s in t["stages"] if s["stage"] in ("FETCH", "SERVE")][0]
print(n["uptime_ms"], s["network"], s["data"], s["state"].replace(" ", "_"), n["max_up"], n["max_down"])' 2>/dev/null
}
# follow I FILE FETCHPID: samples node I every 0.3 s into FILE until the fetch
# process exits; only samples taken while the stage moves are kept.
follow() {
  : >"$2"
  while kill -0 "$3" 2>/dev/null; do
    local line
    line=$(sample "$1")
    case "$line" in *In_Progress*) echo "$line" >>"$2" ;; esac
    sleep 0.3
  done
}
# check_rate WHAT FILE CAP_BYTES [FROM_MS]: the rate between the first (at
# uptime FROM_MS or later) and the last sample of FILE is within the cap. The trees are sized so that at the cap
# the window lasts about 10 s or more (a limiter letting twice the cap
# through fails it; its window is then shorter, so the burst allowance
# weighs more, but 2x still exceeds it beyond 3 s). No bound on time.
check_rate() {
  local what=$1 file=$2 cap=$3 from=${4:-0} verdict
  verdict=$(awk -v cap="$cap" -v from="$from" '
    $1 < from { next }
    k++ == 0 { t0 = $1; n0 = $2; d0 = $3 }
    { t1 = $1; n1 = $2; d1 = $3 }
    END {
      dt = (t1 - t0) / 1000
      if (k < 3 || dt <= 0) { printf "only %d samples while the transfer ran\n", k; exit 1 }
      allowed = cap * 1.15 * (dt + 1.1) + cap
      printf "%.1f MiB on the network in %.1f s: %.2f MiB/s (cap %.2f, allowed %.2f); data %.2f MiB/s",
        (n1 - n0) / 1048576, dt, (n1 - n0) / dt / 1048576, cap / 1048576,
        allowed / dt / 1048576, (d1 - d0) / dt / 1048576
      exit !(n1 - n0 > 0 && n1 - n0 <= allowed)
    }' "$file")
  local rc=$?
  echo "    $what: $verdict"
  check "$what: network rate within the cap" test "$rc" -eq 0
}

for i in 0 1 2 3; do "$SM" keygen --out "k$i.key" | cut -d' ' -f1 >>trust; done
"$GEN" create --out src --size "$SIZE" --seed 5 >/dev/null
"$SM" snapshot --engine dir --source src --out store --key k0.key >/dev/null
echo "# $SIZE tree, cap $CAP; ports $BASE.."

# --- a. a recipient's --max-download
start_node 0 --serve store || exit 1
start_node 1 --peers "127.0.0.1:$BASE" --max-download "$CAP" || exit 1
"$SM" fetch latest --target "$WORK/r1" --control s1/control.sock >fetch1.out 2>&1 &
f=$!
follow 1 down.samples $f
wait $f
check "capped download: fetch exits 0" test $? -eq 0
check "capped download: the tree arrived intact" diff -r src r1
check_rate "--max-download $CAP" down.samples "$CAP_BYTES"
stop_node 1
stop_node 0

# --- b. a donor's --max-upload
rm -rf s0
start_node 0 --serve store --max-upload "$CAP" || exit 1
start_node 2 --peers "127.0.0.1:$BASE" || exit 1
"$SM" fetch latest --target "$WORK/r2" --control s2/control.sock >fetch2.out 2>&1 &
f=$!
follow 0 up.samples $f
wait $f
check "capped upload: fetch exits 0" test $? -eq 0
check_rate "--max-upload $CAP" up.samples "$CAP_BYTES"
stop_node 2

# --- c. a download cap lowered at run time: 4M at start, then 2M
LOW=2M
LOW_BYTES=$((2 * 1024 * 1024))
start_node 3 --peers "127.0.0.1:$BASE" --max-download 4M || exit 1
"$SM" rate --control s0/control.sock --max-upload 0 >/dev/null 2>&1
"$SM" fetch latest --target "$WORK/r3" --control s3/control.sock >fetch3.out 2>&1 &
f=$!
for n in $(seq 100); do # until the fetch is under way
  case "$(sample 3)" in *In_Progress*) break ;; esac
  sleep 0.1
done
"$SM" rate --control s3/control.sock --max-download "$LOW" >rate.out 2>&1
check "seedmesh rate exits 0" test $? -eq 0
read -r changed_at _ _ _ _ max_down <<<"$(sample 3)"
check "status shows the new cap ($max_down)" test "${max_down:-0}" -eq "$LOW_BYTES"
follow 3 live.samples $f
wait $f
check "lowered cap: fetch exits 0" test $? -eq 0
check "lowered cap: the tree arrived intact" diff -r src r3
# The stage counters may be a second old: the window starts 1.2 s after the
# change, or it would count bytes that came at the old cap.
check_rate "seedmesh rate --max-download $LOW" live.samples "$LOW_BYTES" $((${changed_at:-0} + 1200))
finish

# lib.sh - benchmark helpers: median of repeated timings, and replacing one
# marked section of docs/benchmarks.md with fresh results.

# median_seconds N CMD...: runs CMD N times (after `prepare` if defined),
# prints the median wall time in seconds.
median_seconds() {
  local n=$1
  shift
  local times=()
  for _ in $(seq "$n"); do
    if declare -F prepare >/dev/null; then prepare; fi
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# cpu_seconds CMD...: user+sys CPU seconds of one run.
cpu_seconds() {
  local out
  out=$( { /usr/bin/time -f '%U %S' "$@" >/dev/null 2>/dev/null; } 2>&1 | tail -1)
  echo "$out" | awk '{printf "%.2f\n", $1 + $2}'
}

# write_section NAME FILE: replaces the block between
# <!-- bench:NAME --> and <!-- /bench:NAME --> in docs/benchmarks.md with FILE.
write_section() {
  local name=$1 file=$2 doc
  doc="$(dirname "${BASH_SOURCE[0]}")/../docs/benchmarks.md"
  [ -f "$doc" ] || printf '# Benchmarks\n\nMachine: 2 cores, 24 GiB, shared and noisy; figures are medians of repeated runs measured side by side in one run.\n' >"$doc"
  python3 - "$doc" "$name" "$file" <<'PY'
import sys
doc, name, src = sys.argv[1:]
text = open(doc).read()
body = open(src).read().rstrip() + "\n"
start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
block = f"{start}\n{body}{end}\n"
if start in text and end in text:
    a = text.index(start); b = text.index(end) + len(end)
    text = text[:a] + block.rstrip("\n") + text[b:]
else:
    text = text.rstrip("\n") + "\n\n" + block
open(doc, "w").write(text)
PY
}

#!/usr/bin/env bash
# fuzz-long.sh - the fuzzing campaign: builds the libFuzzer targets (clang,
# build-fuzz/), runs every target (or those named) for SECONDS each, one after
# the other, on a working corpus seeded from tests/fuzz/corpus/<target>/, and
# prints one Markdown table row per target with its executions, so the figures
# can go straight into docs/reliability.md. A crash leaves its input in
# build-fuzz/artifacts-<target>/ and makes the script exit 1.
# usage: scripts/fuzz-long.sh [SECONDS] [TARGET...]   (SECONDS default 600)
#   FUZZ_JOBS=N  parallel fuzzing processes per target (default 1)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-600}
shift 2>/dev/null
case $seconds in
'' | *[!0-9]*)
  echo "fuzz-long.sh: SECONDS must be a whole number, not '$seconds' (usage: fuzz-long.sh [SECONDS] [TARGET...])" >&2
  exit 2
  ;;
esac
jobs=${FUZZ_JOBS:-1}
if ! command -v clang >/dev/null; then
  echo "fuzz-long.sh: clang is not installed (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
CC=clang cmake -S . -B build-fuzz -DSM_FUZZ=ON -DSM_TESTS=OFF >/dev/null &&
  cmake --build build-fuzz -j2 >/dev/null || {
  echo "fuzz-long.sh: building the fuzz targets failed (cmake --build build-fuzz shows why)" >&2
  exit 1
}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in build-fuzz/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
for name in "${targets[@]}"; do
  if [ ! -x "build-fuzz/tests/fuzz/$name" ]; then
    echo "fuzz-long.sh: no fuzz target '$name' in build-fuzz/tests/fuzz/ (ls build-fuzz/tests/fuzz lists them)" >&2
    exit 2
  fi
done
crashed=0
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $seconds s per target, $jobs job(s), $(git rev-parse --short HEAD 2>/dev/null)"
echo "| target | seconds | executions | exec/s | corpus files | crashes |"
echo "|---|---|---|---|---|---|"
for name in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/$name
  corpus=$root/build-fuzz/corpus-$name
  artifacts=$root/build-fuzz/artifacts-$name
  mkdir -p "$corpus" "$artifacts"
  [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
  logs=$(mktemp -d)
  t0=$(date +%s)
  pids=()
  for j in $(seq "$jobs"); do
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" "$corpus" >"$logs/$j.log" 2>&1 &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do
    wait "$p" || rc=1
  done
  took=$(($(date +%s) - t0))
  execs=$(cat "$logs"/*.log | grep -o 'stat::number_of_executed_units: *[0-9]*' |
    awk '{ s += $2 } END { print s + 0 }')
  crashes=$(find "$artifacts" -type f | wc -l)
  rate=$((execs / (took > 0 ? took : 1)))
  echo "| $name | $took | $execs | $rate | $(find "$corpus" -type f | wc -l) | $crashes |"
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    crashed=1
    grep -hE 'ERROR|SUMMARY' "$logs"/*.log | head -5 | sed 's/^/#   /'
  fi
  rm -rf "$logs"
done
exit "$crashed"

#!/usr/bin/env bash
# foundation.sh - snapshot and materialize throughput on a 2 GiB InnoDB-like
# tree, side by side with b2sum, zstd -1 -T2 and cp -a, plus the chunk-size
# sweep behind the default. Writes the "foundation" section of
# docs/benchmarks.md.  usage: bench/foundation.sh [SIZE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
size=${1:-2G}
runs=${2:-3}
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target seedmesh sm-gentree >/dev/null
sm=$(pwd)/build-release/cli/seedmesh
gen=$(pwd)/build-release/tests/tools/sm-gentree
work=$(mktemp -d /tmp/sm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$sm" keygen --out k.key >/dev/null
"$gen" create --out src --size "$size" --seed 42 >/dev/null
find src -type f -print0 >files0
cat $(find src -type f) >/dev/null # warm the page cache for everyone alike

prepare() { rm -rf store dst; }
t_snap=$(median_seconds "$runs" "$sm" snapshot --source src --out store --key k.key)
unset -f prepare
t_b2=$(median_seconds "$runs" bash -c 'xargs -0 b2sum <files0')
t_b2p=$(median_seconds "$runs" bash -c 'xargs -0 -n 8 -P 2 b2sum <files0')
t_zstd=$(median_seconds "$runs" bash -c 'xargs -0 cat <files0 | zstd -1 -T2 -c >/dev/null')
"$sm" snapshot --source src --out store --key k.key >/dev/null
prepare() { rm -rf dst; }
t_mat=$(median_seconds "$runs" "$sm" materialize --from store --target dst)
prepare() { rm -rf cpdst; }
t_cp=$(median_seconds "$runs" cp -a src cpdst)
t_cps=$(median_seconds "$runs" bash -c 'cp -a src cpdst && sync')
unset -f prepare
rm -rf store dst
cpu_snap=$(cpu_seconds "$sm" snapshot --source src --out store --key k.key)
cpu_mat=$(cpu_seconds "$sm" materialize --from store --target dst)
bytes=$(du -s --apparent-size --block-size=1 src | cut -f1)
gib=$(echo "$bytes / 1073741824" | bc -l)
rate() { echo "$bytes / $1 / 1000000" | bc -l | xargs printf '%.0f'; }

# Chunk-size sweep: snapshot speed, manifest size, and bytes to re-seed after
# 1% of pages change (random and clustered), with page deltas.
sweep=""
for cs in 1M 4M 16M; do
  for pattern in random clustered; do
    rm -rf s store dst dst.seedmesh-old
    "$gen" create --out s --size 512M --seed 9 >/dev/null
    t=$( { /usr/bin/time -f %e "$sm" snapshot --source s --out store --key k.key --chunk-size $cs >/dev/null; } 2>&1 | tail -1)
    "$sm" materialize --from store --target dst --json >m1.json
    "$gen" mutate --dir s --fraction 0.01 --seed 3 --pattern $pattern >/dev/null
    "$sm" snapshot --source s --out store --key k.key --chunk-size $cs --json >s2.json
    "$sm" materialize --from store --target dst --replace --json >m2.json
    first=$(grep -o '"fetched_bytes":[0-9]*' m1.json | cut -d: -f2)
    again=$(( $(grep -o '"fetched_bytes":[0-9]*' m2.json | cut -d: -f2) + $(grep -o '"delta_bytes":[0-9]*' m2.json | cut -d: -f2) ))
    newc=$(grep -o '"new_chunks":[0-9]*' s2.json | cut -d: -f2)
    chunks=$(grep -o '"chunks":[0-9]*' s2.json | cut -d: -f2)
    mani=$(du -sb store/segments store/manifests | awk '{s+=$1} END {print s}')
    sweep+="| $cs | $pattern | $t | $chunks | $mani | $newc | $(echo "100 * $again / $first" | bc -l | xargs printf '%.2f') % |"$'\n'
  done
done

out=$(mktemp)
cat >"$out" <<MD
## Foundation: snapshot and materialize ($(date -u +%Y-%m-%d), $size tree, median of $runs)

Reproduce: \`bench/foundation.sh $size $runs\`. The tree comes from \`sm-gentree create --size $size --seed 42\`
(16 KiB pages: ~25% zero extents written as holes, ~45% compressible, ~30% random; $(find src -type f | wc -l) files).
All tools read from a warm page cache; seedmesh uses both cores (hash + zstd -1), coreutils \`b2sum\` one.

| what | seconds | MB/s | CPU s/GiB |
|---|---|---|---|
| \`seedmesh snapshot\` (BLAKE2b-256 + zstd -1 + write store) | $t_snap | $(rate "$t_snap") | $(echo "$cpu_snap / $gib" | bc -l | xargs printf '%.2f') |
| \`b2sum\` over the files | $t_b2 | $(rate "$t_b2") | |
| \`b2sum\` over the files, 2 processes | $t_b2p | $(rate "$t_b2p") | |
| \`zstd -1 -T2\` over the files | $t_zstd | $(rate "$t_zstd") | |
| b2sum then zstd -1 -T2 (the goal to beat) | $(echo "$t_b2 + $t_zstd" | bc -l | xargs printf '%.3f') | | |
| \`seedmesh materialize\` (read store, unzstd, verify, write sparse) | $t_mat | $(rate "$t_mat") | $(echo "$cpu_mat / $gib" | bc -l | xargs printf '%.2f') |
| \`cp -a\` (leaves the copy in page cache) | $t_cp | $(rate "$t_cp") | |
| \`cp -a\` then \`sync\` (durable, like materialize) | $t_cps | $(rate "$t_cps") | |

Ratios: snapshot / (b2sum + zstd) = $(echo "$t_snap / ($t_b2 + $t_zstd)" | bc -l | xargs printf '%.2f') (goal <= 1);
materialize / cp -a = $(echo "$t_mat / $t_cp" | bc -l | xargs printf '%.2f') (goal <= 1.5);
materialize / (cp -a + sync) = $(echo "$t_mat / $t_cps" | bc -l | xargs printf '%.2f').
Materialize hashes every chunk (BLAKE2b) and decompresses it before writing; on two cores that
CPU work, not the disk, sets its pace, so the 1.5x goal against a plain copy is not met.

### Chunk size

512 MiB tree, then 1% of its non-zero pages rewritten (random: uniform; clustered: runs of 8-64 pages).
"re-seed bytes" = bytes a recipient holding the first copy needs (whole new chunks + page deltas) as a share of the first seed.

| chunk | change pattern | snapshot s | chunks | manifest bytes (both snapshots) | new chunks after change | re-seed bytes |
|---|---|---|---|---|---|---|
$sweep
MD
cd - >/dev/null
write_section foundation "$out"
cat "$out"

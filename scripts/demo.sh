#!/usr/bin/env bash
# demo.sh - the main job on one machine: installs what is missing, builds
# seedmesh, and seeds a copy of a sample database-like tree through a signed
# chunk store, then verifies it. Work files go to ${DEMO_DIR:-/tmp/seedmesh-demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDMESH_DB_PACKAGES=${SEEDMESH_DB_PACKAGES:-1} scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSM_TESTS=ON >/dev/null
cmake --build build-release -j"$(nproc)" --target seedmesh sm-gentree >/dev/null
sm=$(pwd)/build-release/cli/seedmesh
gen=$(pwd)/build-release/tests/tools/sm-gentree
demo=${DEMO_DIR:-/tmp/seedmesh-demo}
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

echo "== 1. a donor identity"
"$sm" keygen --out donor.key
echo "== 2. a sample InnoDB-like tree (512 MiB: pages, zero extents, many small files)"
"$gen" create --out datadir --size 512M --seed 1
echo "== 3. snapshot it into a signed chunk store"
"$sm" snapshot --engine dir --source datadir --out store --key donor.key
"$sm" manifest show store
echo "== 4. materialize a copy (what each recipient does, here without network)"
"$sm" materialize --from store --target replica1
echo "== 5. verify it against the signed manifest"
"$sm" verify --manifest store --target replica1
echo "== 6. change 1% of the pages, snapshot again, re-seed the copy incrementally"
"$gen" mutate --dir datadir --fraction 0.01 --seed 2
"$sm" snapshot --engine dir --source datadir --out store --key donor.key
"$sm" materialize --from store --target replica1 --replace
"$sm" verify --manifest store --target replica1
echo "== 7. the swarm: a donor node and three recipient nodes on loopback, joined by gossip"
for i in 1 2 3; do "$sm" keygen --out node$i.key; done | cut -d' ' -f1 >trust
"$sm" manifest show store --json | sed 's/.*"donor":"\([0-9a-f]*\)".*/\1/' >>trust
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
"$sm" node --listen 127.0.0.1:7400 --key donor.key --trust trust --state state0 --serve store 2>node0.log &
pids+=($!)
for i in 1 2 3; do
  "$sm" node --listen 127.0.0.1:740$i --key node$i.key --trust trust --state state$i \
    --seeds 127.0.0.1:7400 2>node$i.log &
  pids+=($!)
done
sleep 2
"$sm" status --cluster --control state0/control.sock
fetches=()
for i in 1 2 3; do
  "$sm" fetch latest --target "$demo/replica-swarm$i" --control state$i/control.sock &
  fetches+=($!)
done
for f in "${fetches[@]}"; do wait "$f"; done
"$sm" status --cluster --control state1/control.sock
"$sm" status --control state0/control.sock
for i in 1 2 3; do "$sm" verify --manifest store --target "$demo/replica-swarm$i"; done
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
trap - EXIT
echo "demo done: files and node logs in $demo"

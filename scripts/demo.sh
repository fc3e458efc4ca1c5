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
echo "demo done: files in $demo"

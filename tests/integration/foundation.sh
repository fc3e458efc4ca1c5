#!/usr/bin/env bash
# foundation.sh - snapshot -> materialize -> verify through the real CLI:
# byte-identical trees with modes and holes, every rejection path, kill -9
# resume, and incremental re-seeding.
# usage: foundation.sh SEEDMESH GENTREE CRAFT [SIZE]
SM=$1
GEN=$2
CRAFT=$3
SIZE=${4:-64M}
. "$(dirname "$0")/lib.sh"

cd "$WORK"
"$SM" keygen --out donor.key >/dev/null
"$SM" keygen --out other.key >other.pub
"$GEN" create --out src --size "$SIZE" --seed 7 >/dev/null

# --- round trip
"$SM" snapshot --engine dir --source src --out store --key donor.key --json >snap1.json
check "snapshot succeeds" test -s store/latest
"$SM" materialize --from store --target dst --json >mat1.json
check "materialize succeeds" test -d dst
check "verify passes" "$SM" verify --manifest store --target dst
check "diff -r finds no difference" diff -r src dst
tree_facts() { (cd "$1" && find . -mindepth 1 -printf '%y %m %s %P\n' | sort); }
check "same types, modes and apparent sizes" diff <(tree_facts src) <(tree_facts dst)
src_blocks=$(du -s --block-size=1 src | cut -f1)
dst_blocks=$(du -s --block-size=1 dst | cut -f1)
apparent=$(du -s --apparent-size --block-size=1 src | cut -f1)
check "holes where zeros were (allocated $dst_blocks <= source $src_blocks + 1% < apparent $apparent)" \
  test "$dst_blocks" -le $((src_blocks + src_blocks / 100)) -a "$dst_blocks" -lt "$apparent"
check "no staging directory left behind" test ! -e dst.seedmesh-staging

# --- forged signature, tampered root, tampered chunk
id=$(cat store/latest)
cp -a store forged
printf '\x01' | dd of="forged/manifests/$id/sig" bs=1 seek=10 conv=notrunc status=none
expect_one_line_error "forged signature refused" 1 "signature" -- \
  "$SM" materialize --from forged --target t_forged
check "forged: nothing written" test ! -e t_forged -a ! -e t_forged.seedmesh-staging
cp -a store tampered_root
printf '\x01' | dd of="tampered_root/manifests/$id/root" bs=1 seek=40 conv=notrunc status=none
expect_one_line_error "tampered root refused" 1 "damaged|signature|malformed" -- \
  "$SM" materialize --from tampered_root --target t_root
check "tampered root: nothing written" test ! -e t_root -a ! -e t_root.seedmesh-staging
cp -a store tampered_chunk
chunk=$(find tampered_chunk/chunks -type f | head -1)
printf '\xff\xfe' | dd of="$chunk" bs=1 seek=100 conv=notrunc status=none
expect_one_line_error "tampered chunk refused" 1 "damaged" -- \
  "$SM" materialize --from tampered_chunk --target t_chunk
check "tampered chunk: target not created" test ! -e t_chunk
printf '%s\n' "$(cut -d' ' -f1 other.pub) other" >trust_other
expect_one_line_error "manifest from an untrusted key refused" 1 "trust" -- \
  "$SM" materialize --from store --target t_untrusted --trust trust_other

# --- unsafe paths, each in a validly signed manifest
touch marker
for case in $("$CRAFT" --list); do
  "$CRAFT" --key donor.key --out "evil_$case" --case "$case" >/dev/null
  expect_one_line_error "unsafe manifest '$case' refused" 1 "unsafe|malformed" -- \
    "$SM" materialize --from "evil_$case" --target "t_$case"
  check "'$case': nothing written" test ! -e "t_$case" -a ! -e "t_$case.seedmesh-staging"
done
new=$(find "$WORK" -newer marker -mindepth 1 -maxdepth 1 ! -name 'evil_*' ! -name err ! -name out | head -3)
check "nothing new in the work dir but the crafted stores ($new)" test -z "$new"

# --- kill -9 in the middle, then resume
"$SM" materialize --from store --target killed --max-rate 8M >/dev/null 2>&1 &
pid=$!
sleep 2.5
kill -9 $pid
wait $pid 2>/dev/null
journal=$(( $(stat -c %s killed.seedmesh-staging/journal) / 8 ))
"$SM" materialize --from store --target killed --json >resume.json
pieces=$(grep -o '"pieces":[0-9]*' resume.json | cut -d: -f2)
resumed=$(grep -o '"resumed":[0-9]*' resume.json | cut -d: -f2)
written=$(grep -o '"written":[0-9]*' resume.json | cut -d: -f2)
echo "    kill -9 after 2.5 s: journal had $journal pieces; rerun resumed $resumed, wrote $written of $pieces"
check "the killed run had made progress" test "$resumed" -gt 0 -a "$resumed" -lt "$pieces"
check "rerun wrote exactly the missing pieces" test "$written" -eq $((pieces - resumed)) -a "$resumed" -eq "$journal"
check "resumed tree verifies" "$SM" verify --manifest store --target killed

# --- incremental: 1% of pages change, the second snapshot needs few bytes
"$GEN" mutate --dir src --fraction 0.01 --seed 11 --pattern random >mutate.txt
"$SM" snapshot --engine dir --source src --out store --key donor.key --json >snap2.json
"$SM" materialize --from store --target dst --replace --json >mat2.json
first=$(grep -o '"fetched_bytes":[0-9]*' mat1.json | cut -d: -f2)
again=$(( $(grep -o '"fetched_bytes":[0-9]*' mat2.json | cut -d: -f2) + $(grep -o '"delta_bytes":[0-9]*' mat2.json | cut -d: -f2) ))
echo "    1% of pages changed ($(cat mutate.txt)): first seed $first bytes, re-seed $again bytes"
check "re-seed needs at most 3% of the bytes of the first ($again <= $first*3/100)" test "$again" -le $((first * 3 / 100))
check "re-seeded tree verifies against the new manifest" "$SM" verify --manifest store --target dst
check "re-seeded tree equals the changed source" diff -r src dst
check "old copy kept aside" test -d dst.seedmesh-old

# --- user errors
expect_one_line_error "missing flags" 2 "required" -- "$SM" snapshot --source src
expect_one_line_error "bad chunk size" 2 "power of two" -- \
  "$SM" snapshot --source src --out s2 --key donor.key --chunk-size 3M
ln -s /etc src/evil_link
expect_one_line_error "symlink in the source refused" 1 "evil_link" -- \
  "$SM" snapshot --engine dir --source src --out s3 --key donor.key
rm src/evil_link
expect_one_line_error "occupied target refused" 1 "--replace" -- \
  "$SM" materialize --from store --target dst
chmod 644 donor.key
expect_one_line_error "key readable by others refused" 1 "chmod 600" -- \
  "$SM" snapshot --source src --out s4 --key donor.key
finish

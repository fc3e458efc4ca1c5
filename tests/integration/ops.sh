#!/usr/bin/env bash
# ops.sh - operator experience on real processes: nodes configured from
# config files (search path, [common], command line wins, errors with
# FILE:LINE, secrets refused); Prometheus metrics scraped with curl and
# parsed strictly while a fetch runs (counters grow); the fetch progress bar
# in a real terminal (tmux), redrawn in place with bytes, rate, ETA and
# peers; every --json output validated against docs/schemas/.
# usage: ops.sh SEEDMESH GENTREE SOURCE_DIR [SIZE]
SM=$1
GEN=$2
SRC_DIR=$3
SIZE=${4:-64M}
. "$(dirname "$0")/lib.sh"
cd "$WORK"
TOOLS=$SRC_DIR/tests/tools
SCHEMAS=$SRC_DIR/docs/schemas
base=$((11000 + $$ % 20000)) # below the ephemeral range (32768+)
mport=$((base + 10))
tmux_sock=sm-ops-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  tmux -L "$tmux_sock" kill-server 2>/dev/null
  wait 2>/dev/null
}
trap 'cleanup; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT
# Nothing from the machine's own config may leak into the test.
export XDG_CONFIG_HOME=$WORK/xdg
unset SEEDMESH_CONFIG SEEDMESH_CONTROL

PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import jsonschema' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "python3-jsonschema is missing (scripts/install-deps.sh installs it)"; exit 77; }
command -v curl >/dev/null || { echo "curl is missing"; exit 77; }

for i in 0 1 2 3; do "$SM" keygen --out k$i.key | cut -d' ' -f1 >>trust; done
"$GEN" create --out src --size "$SIZE" --seed 11 >/dev/null
"$SM" snapshot --engine dir --source src --out store --key k0.key --json >snapshot.json

# ------------------------------------------------------------ config file
cat >donor.cnf <<CNF
# donor: every setting from the file
[common]
control = $WORK/s0/control.sock
log_level = info

[node]
listen = 127.0.0.1:$base
key = k0.key
trust = trust
state = s0
serve = store
metrics = 127.0.0.1:$mport   # Prometheus
CNF
chmod 600 donor.cnf
"$SM" node --config donor.cnf 2>log0 &
pids+=($!)
# Recipients: one configured through $SEEDMESH_CONFIG, one through the
# search path ($XDG_CONFIG_HOME/seedmesh/seedmesh.cnf), one with flags only.
cat >r1.cnf <<CNF
[node]
listen = 127.0.0.1:$((base + 1))
key = k1.key
trust = trust
state = s1
seeds = 127.0.0.1:$base
max_download = 1K
metrics = 127.0.0.1:$((mport + 1))
CNF
mkdir -p xdg/seedmesh
sed -e "s/$((base + 1))/$((base + 2))/; s/$((mport + 1))/$((mport + 2))/; s/k1/k2/; s/s1/s2/" \
  r1.cnf >xdg/seedmesh/seedmesh.cnf
chmod 600 r1.cnf xdg/seedmesh/seedmesh.cnf
# The command line wins over the file: the cap becomes 4M (network bytes;
# chunks travel compressed), so each fetch takes a few seconds.
SEEDMESH_CONFIG=$WORK/r1.cnf "$SM" node --max-download 4M 2>log1 &
pids+=($!)
"$SM" node --max-download 4M 2>log2 &
pids+=($!)
"$SM" --no-config node --listen 127.0.0.1:$((base + 3)) --key k3.key --trust trust --state s3 \
  --seeds 127.0.0.1:$base 2>log3 &
pids+=($!)

alive() { "$SM" status --cluster --json --control "s$1/control.sock" 2>/dev/null | grep -o '"status":"alive"' | wc -l; }
for _ in $(seq 150); do
  n=0
  for i in 0 1 2 3; do [ "$(alive $i)" -eq 4 ] && n=$((n + 1)); done
  [ $n -eq 4 ] && break
  sleep 0.2
done
check "four nodes started from --config, \$SEEDMESH_CONFIG, the search path and flags see each other" test $n -eq 4
check "status takes --control from [common] of the file given with --config" \
  bash -c "'$SM' --config donor.cnf status --json | grep -q '\"listen\":\"127.0.0.1:$base\"'"
check "the command line beat the file: r1 caps downloads at 4M" \
  bash -c "'$SM' status --json --control s1/control.sock | grep -q '\"max_down\":4194304'"
check "the search-path file was read: r2 listens on its port" \
  bash -c "'$SM' status --json --control s2/control.sock | grep -q '\"listen\":\"127.0.0.1:$((base + 2))\"'"

printf '[node]\nlisten = 127.0.0.1:1\nkey k0.key\n' >bad.cnf
chmod 600 bad.cnf
expect_one_line_error "a bad line is named by file and line" 2 "bad\.cnf:3: expected 'name = value'" -- \
  "$SM" node --config bad.cnf
printf '[join]\nreplication-password = hunter2\n' >secret.cnf
chmod 600 secret.cnf
expect_one_line_error "a password in the config file is refused" 2 "secret\.cnf:2: .*secrets never go in the config file" -- \
  "$SM" join --config secret.cnf
expect_one_line_error "a password on the command line is refused" 2 "replication-password-file FILE" -- \
  "$SM" join --replication-password=hunter2
chmod 620 donor.cnf
expect_one_line_error "a config file others may write is refused" 2 "chmod go-w" -- \
  "$SM" status --config donor.cnf
chmod 600 donor.cnf
expect_one_line_error "--config naming a missing file is an error" 2 "cannot read config file .*nope\.cnf" -- \
  "$SM" status --config nope.cnf
printf '[statsu]\njson\n' >typo.cnf
chmod 600 typo.cnf
expect_one_line_error "an unknown section is named" 2 "typo\.cnf:1: unknown section \[statsu\]" -- \
  "$SM" status --config typo.cnf
printf '[status]\njson\ncontrl = /run/x.sock\n' >badkey.cnf
chmod 600 badkey.cnf
expect_one_line_error "an unknown setting is named by file and line" 2 \
  "badkey\.cnf:3: \[status\] has no setting 'contrl'" -- "$SM" status --config badkey.cnf
expect_one_line_error "an unknown flag is named" 2 "unknown option '--contrl'" -- \
  "$SM" status --no-config --contrl x

# ---------------------------------------------------- metrics before a fetch
scrape() { curl -sf --max-time 10 "http://127.0.0.1:$1/metrics" >"$2"; }
check "curl scrapes the donor's /metrics" scrape $mport m0-before.txt
check "the donor's scrape is well-formed Prometheus text" "$PY" "$TOOLS/check_metrics.py" m0-before.txt
check "it counts four gossip members alive" grep -qx 'seedmesh_gossip_members{status="alive"} 4' m0-before.txt
check "it shows the donor serving" grep -q 'seedmesh_transfer_stage{manifest="[0-9a-f]*",role="donor",stage="SERVE"} 1' m0-before.txt
check "r1's scrape is well formed too" bash -c "curl -sf http://127.0.0.1:$((mport + 1))/metrics >m1-before.txt && '$PY' '$TOOLS/check_metrics.py' m1-before.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/other")
check "another path answers 404 ($code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")
check "POST answers 405 ($code)" test "$code" = 405
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$mport/metrics")
check "a 9 KB request head answers 431 ($code)" test "$code" = 431

# 16 idle connections fill the table: the next one is closed unanswered,
# and once they go, scrapes work again.
idle=()
for k in $(seq 16); do
  exec {fd}<>/dev/tcp/127.0.0.1/$mport
  idle+=("$fd")
done
sleep 0.3
check "a 17th connection is closed at once while 16 sit idle" \
  bash -c "! curl -sf --max-time 5 http://127.0.0.1:$mport/metrics >/dev/null"
# The node itself drops a connection that sends no request within 10 s; each
# read below ends at EOF (status 1) then, or times out (status > 128).
t_idle=$SECONDS
dropped=0
for fd in "${idle[@]}"; do
  read -r -t 40 -u "$fd" _
  [ $? -eq 1 ] && dropped=$((dropped + 1))
  exec {fd}>&-
done
check "the node dropped all 16 idle connections itself ($dropped, within $((SECONDS - t_idle)) s)" \
  test "$dropped" -eq 16
check "once they are gone, scrapes work again" scrape $mport m0-again.txt

# ---------------------------------------- three fetches: tmux, plain, --json
tmux -L "$tmux_sock" new-session -d -x 160 -y 30 -s fetch \
  "'$SM' fetch latest --target '$WORK/r1' --control s1/control.sock; echo FETCH-EXIT=\$?; sleep 600"
"$SM" fetch latest --target "$WORK/r2" --control s2/control.sock >fetch2.out 2>fetch2.err &
f2=$!
"$SM" fetch latest --target "$WORK/r3" --control s3/control.sock --json >fetch3.json 2>fetch3.err &
f3=$!

# While they fetch: capture r1's pane often, scrape r2 early and late.
frames=()
last=""
for k in $(seq 1200); do
  pane=$(tmux -L "$tmux_sock" capture-pane -p -t fetch)
  line=$(printf '%s\n' "$pane" | grep 'fetch \[' | tail -1)
  if [ -n "$line" ] && [ "$last" != "$line" ]; then frames+=("$line"); last=$line; fi
  [ "$k" -eq 10 ] && scrape $((mport + 2)) m2-during1.txt
  printf '%s\n' "$pane" | grep -q FETCH-EXIT= && break
  sleep 0.1
done
"$SM" status --json --control s2/control.sock >status-during.json
scrape $((mport + 2)) m2-during2.txt
wait $f2
rc2=$?
wait $f3
rc3=$?

pane=$(tmux -L "$tmux_sock" capture-pane -p -S - -t fetch)
echo "    tmux pane after the fetch:"
printf '%s\n' "$pane" | grep -v '^$' | sed 's/^/    | /'
echo "    ${#frames[@]} different progress frames seen; the first three:"
printf '%s\n' "${frames[@]:0:3}" | sed 's/^/    > /'
check "the fetch in tmux exited 0" bash -c "printf '%s' \"\$1\" | grep -q FETCH-EXIT=0" _ "$pane"
check "in the terminal the progress line was redrawn in place (one line in the whole scrollback)" \
  test "$(printf '%s\n' "$pane" | grep -c 'fetch \[')" -eq 1
check "it changed while the fetch ran (${#frames[@]} frames)" test "${#frames[@]}" -ge 5
mid=${frames[1]:-}
check "a frame shows a bar, bytes done/total, data and network rates, an ETA and peers" \
  bash -c "printf '%s' \"\$1\" | grep -qE '^fetch \[[#.]{30}\] +[0-9.]+% [0-9.]+ [KMG]?i?B / [0-9.]+ MiB  [0-9.]+ [KMG]?i?B/s( \(net [0-9.]+ [KMG]?i?B/s\))?  ETA ([0-9]+s|--)  [0-9]+ peers?$'" _ "$mid"
final=$(printf '%s\n' "$pane" | grep 'fetch \[' | tail -1)
check "the last frame shows the network rate next to the data rate" \
  bash -c "printf '%s' \"\$1\" | grep -qE '  [0-9.]+ [KMG]?i?B/s \(net [0-9.]*[1-9][0-9.]* [KMG]?i?B/s\)  ETA'" _ "$final"
check "off a terminal, progress comes as plain lines (no carriage returns)" \
  bash -c "[ $rc2 -eq 0 ] && grep -q '^fetch \[' fetch2.err && ! grep -q \$'\r' fetch2.err"
check "with --json the fetch prints JSON only (stderr empty)" \
  bash -c "[ $rc3 -eq 0 ] && [ ! -s fetch3.err ] && [ \$(wc -l <fetch3.json) -eq 1 ]"

# ------------------------------------------------ metrics during and after
check "r2's scrapes during the fetch are well formed; no counter went down" \
  "$PY" "$TOOLS/check_metrics.py" m2-during1.txt m2-during2.txt
series='seedmesh_transfer_received_bytes_total{manifest="'$(grep -o '"manifest":"[0-9a-f]*"' snapshot.json | cut -d'"' -f4)'",role="recipient"}'
a=$("$PY" "$TOOLS/check_metrics.py" --value m2-during1.txt "$series")
b=$("$PY" "$TOOLS/check_metrics.py" --value m2-during2.txt "$series")
check "r2's received bytes counter grew during the fetch ($a -> $b)" test "$b" -gt "${a/missing/0}" 2>/dev/null
scrape $mport m0-after.txt
check "the donor's counters did not go down either" "$PY" "$TOOLS/check_metrics.py" m0-before.txt m0-after.txt
sent=$("$PY" "$TOOLS/check_metrics.py" --value m0-after.txt "$(grep -o 'seedmesh_transfer_sent_bytes_total{[^}]*}' m0-after.txt)")
check "the donor's sent bytes counter shows the upload ($sent bytes)" test "$sent" -gt 0

# ------------------------------------------------------------ JSON schemas
for i in 1 2 3; do check "recipient $i's tree verifies" "$SM" verify --manifest store --target r$i; done
"$SM" manifest show store --json >manifest.json
"$SM" manifest show store --json --files >manifest-files.json
"$SM" materialize --from store --target mat --json >materialize.json
"$SM" verify --manifest store --target mat --json >verify-ok.json
echo extra >mat/extra
"$SM" verify --manifest store --target mat --json >verify-bad.json
"$SM" status --json --control s2/control.sock >status-after.json
"$SM" status --json --control s0/control.sock >status-donor.json
"$SM" status --cluster --json --control s3/control.sock >cluster.json
schema() { # NAME FILE...
  local name=$1
  shift
  check "$* valid against docs/schemas/$name.json" "$PY" "$TOOLS/check_json.py" "$SCHEMAS" "$name" "$@"
}
schema snapshot snapshot.json
schema manifest manifest.json manifest-files.json
schema materialize materialize.json
schema verify verify-ok.json verify-bad.json
schema fetch fetch3.json
schema status status-during.json status-after.json status-donor.json
schema status-cluster cluster.json
echo '{"target":"x","ok":"yes"}' >not-verify.json
check "a document off the schema is caught" bash -c "! '$PY' '$TOOLS/check_json.py' '$SCHEMAS' verify not-verify.json"
finish

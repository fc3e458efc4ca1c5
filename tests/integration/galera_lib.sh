# galera_lib.sh - Galera nodes on loopback for tests/integration/galera.sh
# and bench/galera.sh. Needs WORK, base (node i: mysql base+i, gcomm
# base+5+i, IST base+10+i, SST base+15+i, seedmesh node base+20+i), SM,
# SRC_DIR and PROVIDER set by the caller.
q() { mariadb -S "$WORK/g$1.sock" -uroot -N -B -e "$2"; }
status() { q "$1" "SHOW STATUS LIKE '$2'" 2>/dev/null | cut -f2; }
elapsed() { echo "$(date +%s.%N) - $1" | bc; }
user_opt=""
[ "$(id -u)" = 0 ] && user_opt="user=root"

# write_cnf I CLUSTER_ADDRESS GCACHE SST_METHOD: mariadbd's gI.cnf and the
# seedmesh config smI.cnf ([sst]: its node's control socket; on g0 the store
# and the key that signs fresh snapshots).
write_cnf() {
  local i=$1
  cat >g$i.cnf <<CNF
[mysqld]
datadir=$WORK/g$i
socket=$WORK/g$i.sock
pid-file=$WORK/g$i.pid
log-error=$WORK/g$i.err
port=$((base + i))
bind-address=127.0.0.1
$user_opt
server-id=1
log-bin=g$i-bin
log-slave-updates
binlog_format=ROW
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=96M
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=sm$$
wsrep_cluster_address=$2
wsrep_node_name=g$i
wsrep_node_address=127.0.0.1
wsrep_provider_options="base_port=$((base + 5 + i));gmcast.listen_addr=tcp://127.0.0.1:$((base + 5 + i));ist.recv_addr=127.0.0.1:$((base + 10 + i));gcache.size=$3"
wsrep_sst_receive_address=127.0.0.1:$((base + 15 + i))
wsrep_sst_method=$4
wsrep_sst_donor=g0
wsrep_sst_auth=root:
[sst]
sst-syslog=-1
CNF
  printf '[sst]\ncontrol = %s/s%s/control.sock\n' "$WORK" "$i" >sm$i.cnf
  [ "$i" = 0 ] && printf 'store = %s/store\nkey = %s/k0.key\n' "$WORK" "$WORK" >>sm$i.cnf
}
mkdir -p "$WORK/bin"
ln -sf "$SRC_DIR/packaging/wsrep_sst_seedmesh" "$WORK/bin/wsrep_sst_seedmesh"
# start_node I [extra mariadbd args]; MARIADBD_PID[I] is its pid, for a node
# that dies (or hangs in an abort) before it writes its pid file.
declare -A MARIADBD_PID
start_node() {
  local i=$1
  shift
  SEEDMESH_CONFIG="$WORK/sm$i.cnf" SEEDMESH_BIN="$SM" PATH="$WORK/bin:$PATH" \
    mariadbd --defaults-file="$WORK/g$i.cnf" "$@" >/dev/null 2>&1 &
  MARIADBD_PID[$i]=$!
}
# wait_synced I SECONDS: 0 once node I is Synced; 1 when it died or the time
# is up
wait_synced() {
  local i=$1 t=$2 pid
  for _ in $(seq $((t * 2))); do
    [ "$(status "$i" wsrep_local_state_comment)" = Synced ] && return 0
    pid=$(cat "$WORK/g$i.pid" 2>/dev/null)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}
# stop_node I: stops mariadbd I (started by us) and waits for it
stop_node() {
  local pid
  pid=$(cat "$WORK/g$1.pid" 2>/dev/null) || pid=${MARIADBD_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null
}


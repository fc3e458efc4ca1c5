# mariadb_lib.sh - shared by the MariaDB integration tests (after lib.sh):
# skip (exit 77) when the server tools are missing and cannot be installed,
# start a private mariadbd as the test user, query it, and validate CHECKSUM
# TABLE outputs so two empty outputs never compare equal.

mariadb_need_tools() {
  local b need_install=""
  for b in mariadbd mariadb-backup mariadb-install-db sysbench; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || need_install=1
  done
  if [ -n "$need_install" ]; then
    if [ "$(id -u)" = 0 ] && apt-get install -y -q mariadb-server mariadb-backup sysbench \
         >/dev/null 2>&1; then
      :
    else
      echo "SKIP: mariadbd/mariadb-backup/sysbench are missing and cannot be installed here"
      exit 77
    fi
  fi
  export PATH="$PATH:/usr/sbin"
}

q() { mariadb -S "$1" -uroot -N -B -e "$2"; }

# sysbench_setup SOCK TABLES ROWS: the sbtest options for later calls (SB).
sysbench_setup() {
  SB=(--db-driver=mysql --mysql-socket="$1" --mysql-user=root --mysql-db=sbtest
      --tables="$2" --table-size="$3")
}
# sysbench_load THREADS RATE: a continuous write load in the background until
# killed; its pid in sbpid (and in pids, for the cleanup).
sysbench_load() {
  sysbench oltp_read_write "${SB[@]}" --threads="$1" --time=0 --rate="$2" --report-interval=0 \
    run >sb-run.log 2>&1 &
  sbpid=$!
  pids+=($sbpid)
}

# mariadb_start_donor DATADIR PORT LOG [mariadbd options...]: installs a fresh
# datadir and starts mariadbd on it (binary log on, server_id 1, socket
# DATADIR/sock, loopback only); prints its pid. mariadbd refuses root without
# --user=root, so the server always runs as the test user.
mariadb_start_donor() {
  local dir=$1 port=$2 log=$3
  shift 3
  local user_opt=()
  [ "$(id -u)" = 0 ] && user_opt=(--user=root)
  mariadb-install-db --datadir="$dir" --auth-root-authentication-method=normal "${user_opt[@]}" \
    >"$log.install" 2>&1 || return 1
  mariadbd --no-defaults --datadir="$dir" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --server-id=1 --log-bin="$dir/binlog" "${user_opt[@]}" \
    --log-error="$log" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 600); do # up to 2 min: CI runs other servers at the same time
    q "$dir/sock" "SELECT 1" >/dev/null 2>&1 && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "    mariadbd exited at start-up (port $port):" >&2
      grep ERROR "$log" | tail -3 | sed 's/^/    /' >&2
      break
    fi
    sleep 0.2
  done
  echo "$pid"
}

# checksums_valid FILE N: FILE holds N lines of CHECKSUM TABLE output, each
# with a non-zero checksum (a table with rows), so comparing it means something.
checksums_valid() {
  [ -s "$1" ] && awk -v n="$2" '
    NF != 2 || $2 !~ /^[0-9]+$/ || $2 == 0 { bad = 1 }
    END { exit (bad || NR != n) }' "$1"
}

# checksums_equal REFERENCE OTHER N: both valid and identical.
checksums_equal() {
  checksums_valid "$1" "$3" && checksums_valid "$2" "$3" && cmp -s "$1" "$2"
}

#!/usr/bin/env bash
# mysql.sh - the mysql engine's client layer against a real server on
# loopback. MySQL 8 cannot be installed here, so a MariaDB server (same
# client protocol) stands in for what the protocol can show: the
# libmysqlclient seam (rows, NULLs, real error numbers 1049/1193/1227/1045),
# and `seedmesh snapshot/join --engine mysql` refusing a MariaDB donor,
# source or binary with one line each and nothing written. The MySQL-only
# flows are tested against scripted answers in tests/unit/.
# usage: mysql.sh SEEDMESH SM_MYSQL_CLIENT_CHECK   (exit 77 = skipped)
SM=$1
CHECK=$2
. "$(dirname "$0")/lib.sh"

for b in mariadbd mariadb-install-db mariadb; do
  if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
    echo "SKIP: $b is missing (apt-get install mariadb-server)"
    exit 77
  fi
done
export PATH="$PATH:/usr/sbin"
cd "$WORK"
PORT=$((10000 + ($$ % 5000) * 4))
server=""
cleanup_all() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$server" ] && wait "$server" 2>/dev/null
}
trap 'cleanup_all; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"' EXIT
q() { mariadb -S "$WORK/db/sock" -uroot -N -B -e "$1"; }

mariadb-install-db --datadir="$WORK/db" --auth-root-authentication-method=normal >install.log 2>&1
mariadbd --no-defaults --datadir="$WORK/db" --socket="$WORK/db/sock" --port=$PORT \
  --bind-address=127.0.0.1 --server-id=1 --log-bin="$WORK/db/binlog" --user=root \
  --innodb-buffer-pool-size=64M --log-error="$WORK/db.err" >/dev/null 2>&1 &
server=$!
for _ in $(seq 150); do q "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
check "mariadbd answers on its socket" bash -c "mariadb -S '$WORK/db/sock' -uroot -e 'SELECT 1' >/dev/null"
q "CREATE USER 'weak'@'localhost';
   CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw';
   GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
printf 'repl-pw\n' >repl.pw
printf 'not-the-password\n' >bad.pw
chmod 600 repl.pw bad.pw

# ---- the libmysqlclient seam itself
"$CHECK" "$WORK/db/sock" weak >seam.out 2>&1
seam_rc=$?
while IFS= read -r line; do
  case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    *) echo "    $line" ;;
  esac
done <seam.out
seam_lines=$(grep -c '^ok - ' seam.out)
check "the seam ran all 12 checks and exited 0 (got $seam_lines ok, exit $seam_rc)" \
  test "$seam_lines" -eq 12 -a "$seam_rc" -eq 0

# ---- the CLI refuses what is not MySQL, one line each, nothing written
"$SM" keygen --out k.key >/dev/null
expect_one_line_error "snapshot --engine mysql on a MariaDB donor" 1 \
  "is MariaDB 10\.[0-9.]+.*not MySQL: use --engine mariadb" -- \
  "$SM" snapshot --engine mysql --socket "$WORK/db/sock" --user root --out store --key k.key
check "no clone staging directory was left in the store" \
  test -z "$(find store -maxdepth 1 -name '.seedmesh-clone.*' 2>/dev/null)"
expect_one_line_error "snapshot --engine mysql with a wrong password" 1 \
  "access denied at socket .* for user 'weak': check the password file" -- \
  "$SM" snapshot --engine mysql --socket "$WORK/db/sock" --user weak --password-file bad.pw \
  --out store --key k.key

printf '#!/bin/sh\necho "%s  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"\n' \
  "$WORK/fake-mysqld" >fake-mysqld
chmod 755 fake-mysqld
JOIN=(join --engine mysql --control "$WORK/no-node.sock" --target "$WORK/replica"
      --source-host 127.0.0.1 --source-port "$PORT" --replication-user repl
      --replication-password-file repl.pw)
expect_one_line_error "join --engine mysql probes its source over TCP first" 1 \
  "source 127\.0\.0\.1:$PORT is MariaDB .*use --engine mariadb; nothing was changed" -- \
  "$SM" "${JOIN[@]}" --mysqld "$WORK/fake-mysqld"
check "the target and its fetch directory were not created" \
  test ! -e "$WORK/replica" -a ! -e "$WORK/replica.seedmesh-fetched"
expect_one_line_error "join --engine mysql with a MariaDB binary" 1 \
  "is MariaDB .*not MySQL: pass --mysqld PATH" -- \
  "$SM" "${JOIN[@]}" --mysqld "$(command -v mariadbd)"
expect_one_line_error "join --engine mysql with a wrong replication password" 1 \
  "replication source unreachable: access denied at 127\.0\.0\.1:$PORT for user 'repl'" -- \
  "$SM" "${JOIN[@]/repl.pw/bad.pw}" --mysqld "$WORK/fake-mysqld"
expect_one_line_error "--group-replication needs a local address" 2 \
  "needs --group-local-address" -- \
  "$SM" "${JOIN[@]}" --mysqld "$WORK/fake-mysqld" --group-replication
expect_one_line_error "--group-seeds without --group-replication" 2 \
  "only apply with --group-replication" -- \
  "$SM" "${JOIN[@]}" --group-seeds 127.0.0.1:1
finish

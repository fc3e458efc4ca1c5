/* mysql_client_check.c - sm-mysql-client-check: drives the mysql engine's
 * real client seam (libmysqlclient) against a live server that speaks the
 * MySQL protocol (MariaDB here: MySQL 8 cannot be installed) and prints one
 * "ok"/"not ok" line per check, for tests/integration/mysql.sh.
 * usage: sm-mysql-client-check SOCKET WEAK_USER
 * WEAK_USER is an account without SUPER, to provoke a real error 1227. */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "engine/engine_internal.h"

static int failed;

static void check(int cond, const char *what, const char *detail) {
  printf("%s - client seam: %s%s%s\n", cond ? "ok" : "not ok", what, detail[0] ? ": " : "",
         detail);
  failed |= !cond;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: sm-mysql-client-check SOCKET WEAK_USER\n");
    return 2;
  }
  char err[ENGINE_ERR_MAX] = "";
  struct engine_conn root = {.socket = argv[1], .user = "root"};
  struct engine__my s = {0};
  int rc = engine__my_connect(&s, &root, "", 5, err);
  check(rc == 0, "connects over the unix socket", err);
  if (rc != 0) {
    return 1;
  }
  /* one row, names lower-cased, NULL as "" */
  struct engine_kvset row;
  engine_kvset_init(&row);
  int found = 0;
  rc = engine__my_row(&s, "SELECT 1 AS A, NULL AS b, 'x''y' AS Cc", "a row", &row, &found, err);
  const char *a = engine_kvset_get(&row, "a"), *b = engine_kvset_get(&row, "b"),
             *c = engine_kvset_get(&row, "cc");
  check(rc == 0 && found && a && b && c && strcmp(a, "1") == 0 && b[0] == '\0' &&
            strcmp(c, "x'y") == 0 && row.n == 3,
        "a row by lower-cased column name, SQL NULL as empty", err);
  engine_kvset_cleanup(&row);
  /* an empty result */
  engine_kvset_init(&row);
  rc = engine__my_row(&s, "SELECT 1 AS a FROM DUAL WHERE 0", "no row", &row, &found, err);
  check(rc == 0 && !found && row.n == 0, "an empty result is 'not found'", err);
  engine_kvset_cleanup(&row);
  /* several rows through fetch */
  rc = s.lib->query(s.h, "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT NULL");
  size_t n, rows = 0;
  const char *const *names;
  const char *const *values;
  int shape = 1;
  while (s.lib->fetch(s.h, &n, &names, &values) == 1) {
    rows++;
    shape &= n == 1 && names[0] != NULL && (rows == 3 ? values[0] == NULL : values[0] != NULL);
  }
  check(rc == 0 && rows == 3 && shape, "three rows, the last NULL", "");
  /* statements without a result set */
  rc = engine__my_exec(&s, "SET @seedmesh_x = 1", "SET", NULL, err);
  char v[64];
  rc = rc ? rc : engine__my_value(&s, "SELECT @seedmesh_x", "SELECT", v, sizeof(v), err);
  check(rc == 0 && strcmp(v, "1") == 0, "a statement without rows, then a value", err);
  rc = engine__my_value(&s, "SELECT NULL", "SELECT NULL", v, sizeof(v), err);
  check(rc == 0 && v[0] == '\0', "a NULL value reads as empty", err);
  /* server errors keep their number and message */
  unsigned no = 0;
  rc = engine__my_exec(&s, "USE seedmesh_no_such_db", "USE", &no, err);
  check(rc == SM_EENGINE && no == 1049 && strstr(err, "seedmesh_no_such_db") != NULL,
        "error 1049 arrives with its number and message", err);
  rc = engine__my_exec(&s, "SELECT @@seedmesh_no_such_variable", "SELECT", &no, err);
  check(rc == SM_EENGINE && no == 1193 && strstr(err, "is the plugin that defines it loaded") != NULL,
        "error 1193 is explained", err);
  engine__my_close(&s);
  /* a real 1227 from an account without the privilege */
  struct engine_conn weak = {.socket = argv[1], .user = argv[2]};
  err[0] = '\0';
  rc = engine__my_connect(&s, &weak, "", 5, err);
  check(rc == 0, "connects as the weak account", err);
  if (rc == 0) {
    rc = engine__my_exec(&s, "SET GLOBAL max_connections = 151", "SET GLOBAL", &no, err);
    check(rc == SM_EENGINE && no == 1227 && strstr(err, "lacks a privilege") != NULL,
          "error 1227 (access denied; you need ...) is explained", err);
    engine__my_close(&s);
  }
  /* a refused login: 1045 */
  struct engine_conn bad = {.socket = argv[1], .user = argv[2]};
  rc = engine__my_connect(&s, &bad, "wrong-password", 5, err);
  check(rc == SM_EENGINE && strstr(err, "access denied") != NULL && s.h == NULL,
        "a wrong password is 'access denied' and frees the handle", err);
  /* nobody listening */
  struct engine_conn none = {.host = "127.0.0.1", .port = 1, .user = "root"};
  rc = engine__my_connect(&s, &none, "", 2, err);
  check(rc == SM_EENGINE && strstr(err, "cannot connect to 127.0.0.1:1") != NULL,
        "no server is 'cannot connect'", err);
  return failed ? 1 : 0;
}

/* test_engine_mysql.c - unit tests for the mysql engine's pure parts: server
 * version strings and `mysqld --version` lines, GTID sets (every prefix of
 * valid sets), clone_status rows, the join statements for each version range
 * and mode, the clone plugin's compatibility decisions and the DBA-readable
 * explanations of server errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "engine/engine.h"

static void test_version_parse(void **state) {
  (void)state;
  struct engine_mysql_version v;
  assert_int_equal(engine_mysql_version_parse("8.0.36", &v), 0);
  assert_true(v.major == 8 && v.minor == 0 && v.patch == 36);
  assert_int_equal(engine_mysql_version_parse("8.0.36-log", &v), 0);
  assert_int_equal(engine_mysql_version_parse("8.4.2-commercial", &v), 0);
  assert_true(v.minor == 4 && v.patch == 2);
  assert_int_equal(engine_mysql_version_parse("8.0.36-0ubuntu0.22.04.1", &v), 0);
  assert_int_equal(engine_mysql_version_parse("10.11.19-MariaDB-0+deb12u1", &v), SM_EINCOMPAT);
  static const char *const bad[] = {"", "8", "8.0", "8.0.", "8.0.x", "08.0.1", "8.0.36 ", "8.0.36_",
                                    "8.0.36-\x01", "8..36", "-8.0.1", "8.0.1234567890",
                                    "8.0.36-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaa"};
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    assert_int_equal(engine_mysql_version_parse(bad[i], &v), SM_EMALFORMED);
  }
  assert_int_equal(engine_mysql_version_parse("8.0.23", &v), 0);
  assert_true(engine_mysql_version_cmp(&v, 8, 0, 23) == 0);
  assert_true(engine_mysql_version_cmp(&v, 8, 0, 22) > 0);
  assert_true(engine_mysql_version_cmp(&v, 8, 4, 0) < 0);
  assert_true(engine_mysql_version_cmp(&v, 9, 0, 0) < 0);
}

static void test_version_line(void **state) {
  (void)state;
  char ver[128], os[64], mach[64];
  assert_int_equal(engine_mysql_parse_version_line(
                       "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community "
                       "Server - GPL)\n", ver, os, mach), 0);
  assert_string_equal(ver, "8.0.36");
  assert_string_equal(os, "Linux");
  assert_string_equal(mach, "x86_64");
  assert_int_equal(engine_mysql_parse_version_line(
                       "mysqld  Ver 8.4.2 for Linux on aarch64 (MySQL Community Server - GPL)",
                       ver, os, mach), 0);
  assert_string_equal(mach, "aarch64");
  assert_int_equal(engine_mysql_parse_version_line(
                       "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu "
                       "on x86_64 (Debian 12)", ver, os, mach), SM_EINCOMPAT);
  assert_int_equal(engine_mysql_parse_version_line("mysqld Ver 8.0.36", ver, os, mach),
                   SM_EMALFORMED);
  assert_int_equal(engine_mysql_parse_version_line("mysqld  Ver 8.0.36 for Linux", ver, os, mach),
                   SM_EMALFORMED);
  assert_int_equal(engine_mysql_parse_version_line("garbage", ver, os, mach), SM_EMALFORMED);
}

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U2 "4a8b1c2d-0000-11ee-8000-0242ac120002"

static int gtid(const char *s, size_t *u, uint64_t *t) {
  return engine_mysql_gtid_set_parse(s, strlen(s), u, t);
}

static void test_gtid_sets(void **state) {
  (void)state;
  size_t u = 0;
  uint64_t t = 0;
  assert_int_equal(gtid("", &u, &t), 0);
  assert_true(u == 0 && t == 0);
  assert_int_equal(gtid(U1 ":1-5", &u, &t), 0);
  assert_true(u == 1 && t == 5);
  assert_int_equal(gtid(U1 ":1-5:7:9-10," U2 ":1", &u, &t), 0);
  assert_true(u == 2 && t == 9);
  assert_int_equal(gtid(U1 ":1-5,\n" U2 ":1-100", &u, &t), 0); /* as the server prints it */
  assert_true(u == 2 && t == 105);
  assert_int_equal(gtid(U1 ":1-3:blue:1-4", &u, &t), 0); /* 8.3+ tagged GTIDs */
  assert_int_equal(t, 7);
  assert_int_equal(gtid("3E11FA47-71CA-11E1-9E33-C80AA9429562:9223372036854775806", &u, &t), 0);
  static const char *const bad[] = {
      U1,                      /* no interval */
      U1 ":",                  U1 ":0",        U1 ":01",       U1 ":5-3",
      U1 ":1-",                U1 ":-1",       U1 ":1-5:3",    U1 ":1-5:5",
      U1 ":1-5,",              U1 ":1;",       U1 ":1 ",       "," U1 ":1",
      U1 ":1" U2 ":1",         "3e11fa47-71ca-11e1-9e33-c80aa942956:1",
      "3e11fa47x71ca-11e1-9e33-c80aa9429562:1", "3e11fa47-71ca-11e1-9e33-c80aa942956g:1",
      U1 ":9223372036854775807", U1 ":99999999999999999999", U1 ":Tag:1", U1 ":tag",
      U1 ":tag:", U1 ":aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1", "0-1-2",
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    if (gtid(bad[i], NULL, NULL) != SM_EMALFORMED) {
      fail_msg("accepted '%s'", bad[i]);
    }
  }
  /* Every prefix of a valid set is either valid or rejected, never read
   * past its length (ASan watches the copy). */
  const char *full = U1 ":1-5:7," U2 ":1-3:x_1:4";
  for (size_t l = 0; l <= strlen(full); l++) {
    char *copy = malloc(l ? l : 1);
    memcpy(copy, full, l);
    int rc = engine_mysql_gtid_set_parse(copy, l, NULL, NULL);
    assert_true(rc == 0 || rc == SM_EMALFORMED);
    free(copy);
  }
  char *big = malloc(ENGINE_VALUE_MAX + 2);
  memset(big, 'a', ENGINE_VALUE_MAX + 1);
  big[ENGINE_VALUE_MAX + 1] = '\0';
  assert_int_equal(gtid(big, NULL, NULL), SM_EMALFORMED);
  free(big);
}

static const char *const cs_names[] = {"ID", "PID", "STATE", "BEGIN_TIME", "END_TIME", "SOURCE",
                                       "DESTINATION", "ERROR_NO", "ERROR_MESSAGE", "BINLOG_FILE",
                                       "BINLOG_POSITION", "GTID_EXECUTED"};

static void test_clone_status(void **state) {
  (void)state;
  struct engine_mysql_clone_status *cs = malloc(sizeof(*cs));
  const char *ok[] = {"1", "12", "Completed", "2026-12-04 10:00:00.1", "2026-12-04 10:01:00.2",
                      "LOCAL INSTANCE", "/srv/snap/.seedmesh-clone.a/data", "0", "",
                      "binlog.000007", "2345", U1 ":1-42"};
  assert_int_equal(engine_mysql_clone_status_parse(12, cs_names, ok, cs), 0);
  assert_string_equal(cs->state, "Completed");
  assert_int_equal(cs->error_no, 0);
  assert_string_equal(cs->binlog_file, "binlog.000007");
  assert_int_equal(cs->binlog_position, 2345);
  assert_string_equal(cs->gtid_executed, U1 ":1-42");
  assert_string_equal(cs->destination, "/srv/snap/.seedmesh-clone.a/data");
  /* NULL columns (a clone still running, no binlog) */
  const char *nulls[] = {"1", "12", "In Progress", NULL, NULL, "LOCAL INSTANCE", "/d", NULL, NULL,
                         NULL, NULL, ""};
  assert_int_equal(engine_mysql_clone_status_parse(12, cs_names, nulls, cs), 0);
  assert_string_equal(cs->state, "In Progress");
  /* lower-case names, another order */
  const char *names2[] = {"gtid_executed", "error_no", "state"};
  const char *vals2[] = {"", "3874", "Failed"};
  assert_int_equal(engine_mysql_clone_status_parse(3, names2, vals2, cs), 0);
  assert_int_equal(cs->error_no, 3874);
  /* malformed: each one field off */
  static const struct {
    size_t col;
    const char *value;
  } bad[] = {
      {2, "Done"}, {2, ""}, {7, "-1"}, {7, "70000"}, {7, "1x"}, {9, "../binlog.1"},
      {10, "12a"}, {10, "99999999999999999999"}, {11, U1 ":0"}, {11, "garbage"},
      {9, "bin\nlog"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    const char *v[12];
    memcpy(v, ok, sizeof(v));
    v[bad[i].col] = bad[i].value;
    if (engine_mysql_clone_status_parse(12, cs_names, v, cs) != SM_EMALFORMED) {
      fail_msg("accepted %s='%s'", cs_names[bad[i].col], bad[i].value);
    }
  }
  /* a required column missing */
  assert_int_equal(engine_mysql_clone_status_parse(11, cs_names, ok, cs), SM_EMALFORMED);
  assert_int_equal(engine_mysql_clone_status_parse(0, cs_names, ok, cs), SM_EMALFORMED);
  free(cs);
}

static char (*stmts_new(void))[ENGINE_MYSQL_SQL_MAX] {
  return calloc(ENGINE_MYSQL_STMTS_MAX, ENGINE_MYSQL_SQL_MAX);
}

static size_t join_for(const char *version, const struct engine_join_options *o, const char *group,
                       char (*out)[ENGINE_MYSQL_SQL_MAX], size_t *secret) {
  struct engine_mysql_version v;
  assert_int_equal(engine_mysql_version_parse(version, &v), 0);
  size_t n = 0;
  assert_int_equal(engine_mysql_join_sql(&v, o, group, out, &n, secret), 0);
  return n;
}

static void test_join_sql_async(void **state) {
  (void)state;
  char(*s)[ENGINE_MYSQL_SQL_MAX] = stmts_new();
  struct engine_join_options o = {.source_host = "127.0.0.1", .source_port = 42001,
                                  .user = "repl", .password = "p'w\\d"};
  size_t secret = 9;
  static const struct {
    const char *version, *change, *start;
  } cases[] = {
      {"8.0.17", "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=42001, "
                 "MASTER_USER='repl', MASTER_PASSWORD='p\\'w\\\\d', MASTER_AUTO_POSITION=1, "
                 "GET_MASTER_PUBLIC_KEY=1", "START SLAVE"},
      {"8.0.21", NULL, "START SLAVE"},
      {"8.0.22", "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=42001, "
                 "MASTER_USER='repl', MASTER_PASSWORD='p\\'w\\\\d', MASTER_AUTO_POSITION=1, "
                 "GET_MASTER_PUBLIC_KEY=1", "START REPLICA"},
      {"8.0.23", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=42001, "
                 "SOURCE_USER='repl', SOURCE_PASSWORD='p\\'w\\\\d', SOURCE_AUTO_POSITION=1, "
                 "GET_SOURCE_PUBLIC_KEY=1", "START REPLICA"},
      {"8.0.36-log", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=42001, "
                     "SOURCE_USER='repl', SOURCE_PASSWORD='p\\'w\\\\d', SOURCE_AUTO_POSITION=1, "
                     "GET_SOURCE_PUBLIC_KEY=1", "START REPLICA"},
      {"8.4.2", NULL, "START REPLICA"},
      {"9.1.0", NULL, "START REPLICA"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    size_t n = join_for(cases[i].version, &o, NULL, s, &secret);
    assert_int_equal(n, 2);
    assert_int_equal(secret, 0);
    if (cases[i].change != NULL) {
      assert_string_equal(s[0], cases[i].change);
    }
    assert_string_equal(s[1], cases[i].start);
  }
  /* refused: too old for clone, missing source, no user, bad port */
  struct engine_mysql_version v = {8, 0, 16};
  size_t n;
  assert_int_equal(engine_mysql_join_sql(&v, &o, NULL, s, &n, &secret), SM_EINVAL);
  v.patch = 36;
  struct engine_join_options bad = o;
  bad.source_host = "";
  assert_int_equal(engine_mysql_join_sql(&v, &bad, NULL, s, &n, &secret), SM_EINVAL);
  bad = o;
  bad.user = NULL;
  assert_int_equal(engine_mysql_join_sql(&v, &bad, NULL, s, &n, &secret), SM_EINVAL);
  bad = o;
  bad.source_port = 70000;
  assert_int_equal(engine_mysql_join_sql(&v, &bad, NULL, s, &n, &secret), SM_EINVAL);
  /* a password that cannot fit is refused, never truncated */
  char *huge = malloc(ENGINE_MYSQL_SQL_MAX);
  memset(huge, '\'', ENGINE_MYSQL_SQL_MAX - 1);
  huge[ENGINE_MYSQL_SQL_MAX - 1] = '\0';
  bad = o;
  bad.password = huge;
  assert_int_equal(engine_mysql_join_sql(&v, &bad, NULL, s, &n, &secret), SM_ETOOBIG);
  free(huge);
  free(s);
}

static void test_join_sql_group(void **state) {
  (void)state;
  char(*s)[ENGINE_MYSQL_SQL_MAX] = stmts_new();
  struct engine_join_options o = {.source_host = "127.0.0.1", .source_port = 42001,
                                  .user = "rpl_user", .password = "secret",
                                  .group_replication = 1,
                                  .group_local_address = "127.0.0.1:42111",
                                  .group_seeds = "127.0.0.1:42101,127.0.0.1:42102"};
  size_t secret = 0;
  size_t n = join_for("8.0.36", &o, U1, s, &secret);
  assert_int_equal(n, 5);
  assert_string_equal(s[0], "SET GLOBAL group_replication_group_name='" U1 "'");
  assert_string_equal(s[1], "SET GLOBAL group_replication_local_address='127.0.0.1:42111'");
  assert_string_equal(s[2],
                      "SET GLOBAL group_replication_group_seeds='127.0.0.1:42101,127.0.0.1:42102'");
  assert_string_equal(s[3], "SET GLOBAL group_replication_bootstrap_group=OFF");
  assert_string_equal(s[4], "START GROUP_REPLICATION USER='rpl_user', PASSWORD='secret'");
  assert_int_equal(secret, 4);
  n = join_for("8.0.21", &o, U1, s, &secret);
  assert_string_equal(s[4], "START GROUP_REPLICATION USER='rpl_user', PASSWORD='secret'");
  n = join_for("8.0.20", &o, U1, s, &secret);
  assert_int_equal(n, 6);
  assert_string_equal(s[4], "CHANGE MASTER TO MASTER_USER='rpl_user', MASTER_PASSWORD='secret' "
                            "FOR CHANNEL 'group_replication_recovery'");
  assert_string_equal(s[5], "START GROUP_REPLICATION");
  assert_int_equal(secret, 4);
  /* the group name must be a UUID; local address and seeds are required */
  struct engine_mysql_version v = {8, 0, 36};
  assert_int_equal(engine_mysql_join_sql(&v, &o, "not-a-uuid", s, &n, &secret), SM_EINVAL);
  assert_int_equal(engine_mysql_join_sql(&v, &o, U1 "x", s, &n, &secret), SM_EINVAL);
  assert_int_equal(engine_mysql_join_sql(&v, &o, NULL, s, &n, &secret), SM_EINVAL);
  struct engine_join_options bad = o;
  bad.group_seeds = NULL;
  assert_int_equal(engine_mysql_join_sql(&v, &bad, U1, s, &n, &secret), SM_EINVAL);
  bad = o;
  bad.group_local_address = "";
  assert_int_equal(engine_mysql_join_sql(&v, &bad, U1, s, &n, &secret), SM_EINVAL);
  free(s);
}

static void set_all(struct engine_kvset *s, const char *const kv[][2], size_t n) {
  engine_kvset_init(s);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(engine_kvset_set(s, kv[i][0], kv[i][1]), 0);
  }
}

static const char *const snap_kv[][2] = {
    {"flavor", "mysql"},
    {"version", "8.0.36"},
    {"os", "Linux"},
    {"machine", "x86_64"},
    {"innodb_page_size", "16384"},
    {"innodb_data_file_path", "ibdata1:12M:autoextend"},
    {"character_set_server", "utf8mb4"},
    {"collation_server", "utf8mb4_0900_ai_ci"},
    {"character_set_filesystem", "binary"},
    {"max_allowed_packet", "67108864"},
    {"plugin_libraries", "group_replication.so,mysql_clone.so"},
};

static int compat_with(const char *skey, const char *sval, const char *const local[][2],
                       size_t nl, char *err) {
  struct engine_kvset s, l;
  set_all(&s, snap_kv, SM_ARRAY_LEN(snap_kv));
  if (skey != NULL) {
    assert_int_equal(engine_kvset_set(&s, skey, sval), 0);
  }
  set_all(&l, local, nl);
  int rc = engine_mysql_compat(&s, &l, err);
  engine_kvset_cleanup(&s);
  engine_kvset_cleanup(&l);
  return rc;
}

static void test_compat(void **state) {
  (void)state;
  char err[ENGINE_ERR_MAX];
  const char *const same[][2] = {{"version", "8.0.36"}, {"os", "Linux"}, {"machine", "x86_64"},
                                 {"plugin_libraries", "a.so,mysql_clone.so,group_replication.so"}};
  assert_int_equal(compat_with(NULL, NULL, same, 4, err), 0);
  /* versions: exact before 8.0.37, series from 8.0.37, 8.4 series, else exact */
  static const struct {
    const char *snap, *local;
    int ok;
  } v[] = {
      {"8.0.36", "8.0.36-log", 1}, {"8.0.36", "8.0.35", 0}, {"8.0.35", "8.0.36", 0},
      {"8.0.37", "8.0.42", 1},     {"8.0.42", "8.0.37", 1}, {"8.0.36", "8.0.37", 0},
      {"8.0.40", "8.4.2", 0},      {"8.4.0", "8.4.3", 1},   {"9.1.0", "9.2.0", 0},
      {"9.1.0", "9.1.0", 1},       {"8.0.16", "8.0.16", 0},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(v); i++) {
    const char *const l[][2] = {{"version", v[i].local}};
    int rc = compat_with("version", v[i].snap, l, 1, err);
    if ((rc == 0) != v[i].ok) {
      fail_msg("%s -> %s: %d (%s)", v[i].snap, v[i].local, rc, err);
    }
  }
  const char *const l1[][2] = {{"version", "8.0.36"}};
  assert_int_equal(compat_with("version", "8.0.36", l1, 1, err), 0);
  assert_int_equal(compat_with("flavor", "mariadb", l1, 1, err), SM_EINCOMPAT);
  assert_non_null(strstr(err, "not a MySQL snapshot"));
  /* each compared setting */
  static const char *const keys[] = {"os", "machine", "innodb_page_size", "innodb_data_file_path",
                                     "character_set_server", "collation_server",
                                     "character_set_filesystem"};
  for (size_t i = 0; i < SM_ARRAY_LEN(keys); i++) {
    const char *const l[][2] = {{keys[i], "other"}};
    assert_int_equal(compat_with(NULL, NULL, l, 1, err), SM_EINCOMPAT);
    assert_non_null(strstr(err, keys[i]));
    assert_non_null(strstr(err, "other"));
  }
  /* the snapshot must record page size, os and machine */
  struct engine_kvset s, l;
  set_all(&s, snap_kv, 3);
  set_all(&l, l1, 1);
  assert_int_equal(engine_mysql_compat(&s, &l, err), SM_EINCOMPAT);
  assert_non_null(strstr(err, "does not record"));
  engine_kvset_cleanup(&s);
  engine_kvset_cleanup(&l);
  /* max_allowed_packet >= 2 MiB on both sides */
  assert_int_equal(compat_with("max_allowed_packet", "1048576", l1, 1, err), SM_EINCOMPAT);
  assert_non_null(strstr(err, "donor"));
  const char *const small[][2] = {{"max_allowed_packet", "2097151"}};
  assert_int_equal(compat_with(NULL, NULL, small, 1, err), SM_EINCOMPAT);
  const char *const enough[][2] = {{"max_allowed_packet", "2097152"}};
  assert_int_equal(compat_with(NULL, NULL, enough, 1, err), 0);
  /* the donor's plugin libraries must exist here */
  const char *const noplug[][2] = {{"plugin_libraries", "mysql_clone.so,group_replication.s"}};
  assert_int_equal(compat_with(NULL, NULL, noplug, 1, err), SM_EINCOMPAT);
  assert_non_null(strstr(err, "group_replication.so"));
  const char *const empty[][2] = {{"plugin_libraries", ""}};
  assert_int_equal(compat_with("plugin_libraries", "", empty, 1, err), 0);
}

static void test_explain(void **state) {
  (void)state;
  char err[ENGINE_ERR_MAX];
  static const struct {
    unsigned no;
    const char *needle;
  } cases[] = {
      {1227, "BACKUP_ADMIN"}, {1524, "INSTALL PLUGIN clone"}, {1205, "clone_ddl_timeout"},
      {1007, "already exists"}, {3869, "max_allowed_packet"}, {3870, "plugin"},
      {3874, "another clone"}, {3873, "disk space"}, {3092, "gtid_mode=ON"},
      {3096, "seeds"}, {1064, "8.0.17"}, {4242, "server error 4242"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    assert_int_equal(engine_mysql_explain(cases[i].no, "the server's words", "CLONE LOCAL", err),
                     SM_EENGINE);
    if (strstr(err, cases[i].needle) == NULL || strstr(err, "the server's words") == NULL ||
        strncmp(err, "CLONE LOCAL", 11) != 0 || strchr(err, '\n') != NULL) {
      fail_msg("%u: %s", cases[i].no, err);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_parse),  cmocka_unit_test(test_version_line),
      cmocka_unit_test(test_gtid_sets),      cmocka_unit_test(test_clone_status),
      cmocka_unit_test(test_join_sql_async), cmocka_unit_test(test_join_sql_group),
      cmocka_unit_test(test_compat),         cmocka_unit_test(test_explain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

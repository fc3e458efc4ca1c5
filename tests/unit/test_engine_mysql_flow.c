/* test_engine_mysql_flow.c - the mysql engine's donor and join flows, end to
 * end through engine_ops, against a scripted stand-in for the client library
 * (mysql_standin.h) that replays the answers MySQL's documentation gives:
 * result sets for the happy paths per version range and mode, and error
 * answers (1045, 1227, 1524, 1205, 1007, 3092, 3873, 3874, clone_status
 * states, replica IO/SQL errors) for the failures. No MySQL server runs. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"
#include "engine/engine.h"
#include "mysql_standin.h"

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U2 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define PASSWORD "s3cr'et"

static char root[1024];

static void make_root(void) {
  const char *t = getenv("SM_TEST_TMPDIR");
  snprintf(root, sizeof(root), "%s/mysql-flow.%ld", t ? t : "/tmp", (long)getpid());
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(sm_fs_mkdir_p(root, 0755), 0);
}

static int remove_root(void **state) {
  (void)state;
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- donor */

#define FACT_COLS                                                                                \
  "version,os,machine,innodb_page_size,innodb_data_file_path,character_set_server,"             \
  "collation_server,character_set_filesystem,max_allowed_packet,lower_case_table_names,"        \
  "source_server_id,source_uuid,gtid_mode,log_bin,datadir"

enum { F_VERSION, F_MAP = 8, F_GTID_MODE = 12, F_LOG_BIN = 13, F_DATADIR = 14, F_N = 15 };

static const char *const base_facts[F_N] = {
    "8.0.36", "Linux", "x86_64", "16384", "ibdata1:12M:autoextend", "utf8mb4",
    "utf8mb4_0900_ai_ci", "binary", "67108864", "0", "1", U1, "ON", "1", "/"};

static char facts_row[1024];

static const char *facts_with(size_t k, const char *v) {
  facts_row[0] = '\0';
  for (size_t i = 0; i < F_N; i++) {
    size_t l = strlen(facts_row);
    snprintf(facts_row + l, sizeof(facts_row) - l, "%s%s", i ? "|" : "", i == k ? v : base_facts[i]);
  }
  return facts_row;
}

#define CS_COLS                                                                                  \
  "ID,PID,STATE,BEGIN_TIME,END_TIME,SOURCE,DESTINATION,ERROR_NO,ERROR_MESSAGE,BINLOG_FILE,"     \
  "BINLOG_POSITION,GTID_EXECUTED"
#define CS_OK "1|9|Completed|2026-12-04 10:00:00|2026-12-04 10:01:00|LOCAL INSTANCE|$DEST|0||" \
              "binlog.000003|1557|" U1 ":1-77"

enum { D_CONNECT, D_VERSION, D_FACTS, D_CLONE_PLUGIN, D_PLUGINS, D_GROUP, D_SPACE, D_CLONE, D_STATUS, D_N };

static void donor_script(struct standin_step *s) {
  const struct standin_step base[D_N] = {
      {"CONNECT", 0, NULL, NULL, NULL, 0},
      {"SELECT @@version", 0, NULL, "@@version", "8.0.36", 0},
      {"SELECT @@version AS version", 0, NULL, FACT_COLS, NULL, 0},
      {"SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='clone'", 0, NULL,
       "PLUGIN_STATUS", "ACTIVE", 0},
      {"SELECT PLUGIN_LIBRARY FROM information_schema.PLUGINS", 0, NULL, "PLUGIN_LIBRARY",
       "group_replication.so\nmysql_clone.so", 0},
      {"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM performance_schema.global_variables", 0, NULL,
       "VARIABLE_NAME,VARIABLE_VALUE", "group_replication_group_name|" U2
       "\ngroup_replication_local_address|127.0.0.1:42101", 0},
      {"SELECT COALESCE(SUM(data_length + index_length), 0)", 0, NULL, "s", "1048576", 0},
      {"CLONE LOCAL DATA DIRECTORY = '", 0, NULL, NULL, NULL, 1},
      {"SELECT * FROM performance_schema.clone_status", 0, NULL, CS_COLS, CS_OK, 0},
  };
  memcpy(s, base, sizeof(base));
  s[D_FACTS].rows = facts_with(F_N, NULL);
}

static char store[1100];

static int staging_left(void) {
  DIR *d = opendir(store);
  assert_non_null(d);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d)) != NULL) {
    n += strncmp(de->d_name, ".seedmesh-clone.", 16) == 0;
  }
  closedir(d);
  return n;
}

static int run_snapshot(const struct standin_step *s, size_t n, struct engine_snapshot *snap,
                        char *err, size_t *ran) {
  snprintf(store, sizeof(store), "%s/store", root);
  struct engine_snapshot_options o;
  memset(&o, 0, sizeof(o));
  o.conn.socket = "/nonexistent/mysqld.sock";
  o.work_dir = store;
  engine_snapshot_init(snap);
  standin_start(s, n);
  int rc = engine_find("mysql")->snapshot(&o, snap, err);
  *ran = standin_finish();
  return rc;
}

static void test_donor_ok(void **state) {
  (void)state;
  make_root();
  struct standin_step s[D_N];
  donor_script(s);
  struct engine_snapshot snap;
  char err[ENGINE_ERR_MAX] = "";
  size_t ran = 0;
  int rc = run_snapshot(s, D_N, &snap, err, &ran);
  if (rc != 0) {
    fail_msg("snapshot: %s", err);
  }
  assert_int_equal(ran, D_N);
  assert_string_equal(engine_kvset_get(&snap.coords, "gtid_executed"), U1 ":1-77");
  assert_string_equal(engine_kvset_get(&snap.coords, "binlog_file"), "binlog.000003");
  assert_string_equal(engine_kvset_get(&snap.coords, "binlog_pos"), "1557");
  assert_string_equal(engine_kvset_get(&snap.facts, "flavor"), "mysql");
  assert_string_equal(engine_kvset_get(&snap.facts, "version"), "8.0.36");
  assert_string_equal(engine_kvset_get(&snap.facts, "innodb_data_file_path"),
                      "ibdata1:12M:autoextend");
  assert_string_equal(engine_kvset_get(&snap.facts, "plugin_libraries"),
                      "group_replication.so,mysql_clone.so");
  assert_string_equal(engine_kvset_get(&snap.facts, "group_name"), U2);
  assert_string_equal(engine_kvset_get(&snap.facts, "group_member_address"), "127.0.0.1:42101");
  assert_null(engine_kvset_get(&snap.facts, "datadir")); /* the donor's host stays private */
  assert_null(engine_kvset_get(&snap.facts, "gtid_mode"));
  /* the clone went into a fresh directory in the store, with the facts */
  assert_non_null(strstr(standin_sent(6), store));
  char path[4300];
  snprintf(path, sizeof(path), "%s/%s", snap.dir, ENGINE_FACTS_FILE);
  assert_int_equal(access(path, R_OK), 0);
  struct engine_kvset f, c;
  engine_kvset_init(&f);
  engine_kvset_init(&c);
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(sm_fs_read_file(path, 65536, &buf, &len), 0);
  assert_int_equal(engine_parse_facts_file(buf, len, &f, &c), 0);
  assert_string_equal(engine_kvset_get(&c, "gtid_executed"), U1 ":1-77");
  sm_free(buf);
  engine_kvset_cleanup(&f);
  engine_kvset_cleanup(&c);
  /* the position hook reads the same GTID set from the tree */
  char pos[ENGINE_VALUE_MAX + 1];
  assert_int_equal(engine_find("mysql")->position(snap.dir, &snap.coords, pos, err), 0);
  assert_string_equal(pos, U1 ":1-77");
  struct engine_kvset forged;
  engine_kvset_init(&forged);
  engine_kvset_set(&forged, "gtid_executed", U1 ":1-78");
  assert_int_equal(engine_find("mysql")->position(snap.dir, &forged, pos, err), SM_EMALFORMED);
  assert_non_null(strstr(err, "disagree"));
  engine_kvset_cleanup(&forged);
  assert_int_equal(staging_left(), 1);
  engine_snapshot_cleanup(&snap);
  assert_int_equal(staging_left(), 0); /* the clone and its parent are gone */
}

struct donor_case {
  size_t step;            /* the step whose answer changes; the script ends there */
  unsigned err;           /* an error answer ... */
  const char *msg;
  size_t fact;            /* ... or a fact value (F_N: none) */
  const char *fact_value;
  const char *rows;       /* ... or other rows */
  const char *needle;     /* in the one-line error */
};

static void test_donor_errors(void **state) {
  (void)state;
  static const struct donor_case cases[] = {
      {D_CONNECT, 1045, "Access denied for user 'backup'@'localhost' (using password: YES)", F_N,
       NULL, NULL, "access denied"},
      {D_VERSION, 0, NULL, F_N, NULL, "5.7.44-log", "needs 8.0.17"},
      {D_VERSION, 0, NULL, F_N, NULL, "10.11.19-MariaDB-0+deb12u1", "--engine mariadb"},
      {D_VERSION, 0, NULL, F_N, NULL, "eight", "cannot tell the server's version"},
      {D_FACTS, 0, NULL, F_VERSION, "8.0.37", NULL, "changed while they were read"},
      {D_FACTS, 1193, "Unknown system variable 'gtid_mode'", F_N, NULL, NULL,
       "is the plugin that defines it loaded"},
      {D_FACTS, 0, NULL, F_GTID_MODE, "OFF_PERMISSIVE", NULL, "gtid_mode=ON"},
      {D_FACTS, 0, NULL, F_LOG_BIN, "0", NULL, "binary log is off"},
      {D_FACTS, 0, NULL, F_MAP, "1048576", NULL, "at least 2 MiB"},
      {D_CLONE_PLUGIN, 0, NULL, F_N, NULL, "", "INSTALL PLUGIN clone SONAME 'mysql_clone.so'"},
      {D_CLONE_PLUGIN, 0, NULL, F_N, NULL, "DISABLED", "clone plugin is DISABLED"},
      {D_CLONE, 1227, "Access denied; you need (at least one of) the BACKUP_ADMIN privilege(s) "
       "for this operation", F_N, NULL, NULL, "CLONE LOCAL needs BACKUP_ADMIN"},
      {D_CLONE, 1524, "Plugin 'clone' is not loaded", F_N, NULL, NULL, "INSTALL PLUGIN clone"},
      {D_CLONE, 1205, "Lock wait timeout exceeded; try restarting transaction", F_N, NULL, NULL,
       "clone_ddl_timeout"},
      {D_CLONE, 3874, "Concurrent clone in progress. Please try after clone is complete.", F_N,
       NULL, NULL, "another clone"},
      {D_CLONE, 3873, "Clone estimated database size is 10 GiB. Available space 1 GiB is not enough.",
       F_N, NULL, NULL, "disk space"},
      {D_CLONE, 1007, "Can't create database '/x'; database exists", F_N, NULL, NULL,
       "already exists"},
      {D_CLONE, 3869, "Clone system configuration: max_allowed_packet: 1048576 is less than 2097152",
       F_N, NULL, NULL, "max_allowed_packet"},
      {D_STATUS, 0, NULL, F_N, NULL, "1|9|Failed|t|t|LOCAL INSTANCE|$DEST|3862|Clone Donor Error: "
       "1030 : Got error 168|\\N|\\N|", "state 'Failed'"},
      {D_STATUS, 0, NULL, F_N, NULL, "1|9|Completed|t|t|LOCAL INSTANCE|/elsewhere|0||b.1|4|",
       "another clone ran meanwhile"},
      {D_STATUS, 0, NULL, F_N, NULL, "1|9|Completed|t|t|LOCAL INSTANCE|$DEST|0||b.1|4|" U1 ":0",
       "malformed"},
      {D_STATUS, 0, NULL, F_N, NULL, "", "no row"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    make_root();
    const struct donor_case *c = &cases[i];
    struct standin_step s[D_N];
    donor_script(s);
    s[c->step].err = c->err;
    s[c->step].msg = c->msg;
    if (c->fact != F_N) {
      s[D_FACTS].rows = facts_with(c->fact, c->fact_value);
    }
    if (c->rows != NULL) {
      s[c->step].rows = c->rows;
    }
    struct engine_snapshot snap;
    char err[ENGINE_ERR_MAX] = "";
    size_t ran = 0;
    int rc = run_snapshot(s, c->step + 1, &snap, err, &ran);
    if (rc >= 0 || ran != c->step + 1 || strstr(err, c->needle) == NULL ||
        strchr(err, '\n') != NULL) {
      fail_msg("case %zu: rc %d after %zu steps: '%s' lacks '%s'", i, rc, ran, err, c->needle);
    }
    engine_snapshot_cleanup(&snap);
    assert_int_equal(staging_left(), 0); /* nothing half-made stays in the store */
  }
}

/* ------------------------------------------------------------ recipient */

static char datadir[1100];

/* A placed snapshot tree: the facts file the donor wrote, and an auto.cnf a
 * copy might carry. */
static void make_tree(const char *version, int group) {
  make_root();
  snprintf(datadir, sizeof(datadir), "%s/data", root);
  assert_int_equal(sm_fs_mkdir_p(datadir, 0750), 0);
  struct engine_kvset f, c;
  engine_kvset_init(&f);
  engine_kvset_init(&c);
  engine_kvset_set(&f, "flavor", "mysql");
  engine_kvset_set(&f, "version", version);
  engine_kvset_set(&f, "innodb_page_size", "16384");
  if (group) {
    engine_kvset_set(&f, "group_name", U2);
  }
  engine_kvset_set(&c, "gtid_executed", U1 ":1-77");
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(engine_format_facts_file(&f, &c, &text, &len), 0);
  char path[1300];
  snprintf(path, sizeof(path), "%s/%s", datadir, ENGINE_FACTS_FILE);
  assert_int_equal(sm_fs_write_atomic(path, text, len, 0640), 0);
  snprintf(path, sizeof(path), "%s/auto.cnf", datadir);
  assert_int_equal(sm_fs_write_atomic(path, "[auto]\nserver-uuid=" U1 "\n", 50, 0640), 0);
  sm_free(text);
  engine_kvset_cleanup(&f);
  engine_kvset_cleanup(&c);
}

static struct engine_join_options join_opts(int group) {
  struct engine_join_options o = {.source_host = "127.0.0.1", .source_port = 42001,
                                  .user = "repl", .password = PASSWORD, .gtid = U1 ":1-77"};
  if (group) {
    o.group_replication = 1;
    o.group_local_address = "127.0.0.1:42111";
  }
  return o;
}

/* PREPARE, START (a --start-command server), JOIN and CAUGHT_UP through
 * engine_ops; returns the first failing rc with err, *ran the steps used. */
static int run_join(const struct standin_step *s, size_t n, int group, char *out_gtid, char *err,
                    size_t *ran) {
  const struct engine_ops *ops = engine_find("mysql");
  struct engine_join_options o = join_opts(group);
  struct engine_start_options so = {.datadir = datadir, .server_id = 4242,
                                    .socket = "/nonexistent/mysqld.sock",
                                    .start_command = "test -n \"$SEEDMESH_DATADIR\"",
                                    .timeout_s = 5};
  struct engine_server srv;
  out_gtid[0] = '\0';
  standin_start(s, n);
  int rc = ops->prepare(datadir, NULL, NULL, err);
  rc = rc ? rc : ops->start(&so, &srv, err);
  rc = rc ? rc : ops->join(&srv, &o, err);
  rc = rc ? rc : ops->wait_caught_up(&srv, &o, 30, out_gtid, err);
  *ran = standin_finish();
  char autocnf[1200];
  snprintf(autocnf, sizeof(autocnf), "%s/auto.cnf", datadir);
  assert_int_equal(access(autocnf, F_OK), -1); /* every replica gets its own server_uuid */
  if (strstr(err, PASSWORD) != NULL) {
    fail_msg("the password leaked into: %s", err);
  }
  return rc;
}

#define STATUS_COLS(p)                                                                           \
  p "_IO_Running," p "_SQL_Running,Last_IO_Errno,Last_IO_Error,Last_SQL_Errno,Last_SQL_Error"
#define ROW_SOURCE "gtid,id,gtid_mode"

struct async_case {
  const char *version, *change, *start, *status_sql, *status_cols;
};

static size_t async_script(const struct async_case *c, struct standin_step *s, char *src_row,
                           size_t cap) {
  snprintf(src_row, cap, U1 ":1-90|1|ON");
  const struct standin_step steps[] = {
      {"CONNECT", 0, NULL, NULL, NULL, 0}, /* START: the server answers */
      {"CONNECT", 0, NULL, NULL, NULL, 0}, /* JOIN */
      {"SELECT @@version", 0, NULL, "@@version", c->version, 0},
      {"SELECT GTID_SUBSET('" U1 ":1-77', @@GLOBAL.gtid_executed)", 0, NULL, "g", "1", 0},
      {c->change, 0, NULL, NULL, NULL, 0},
      {c->start, 0, NULL, NULL, NULL, 0},
      {"CONNECT", 0, NULL, NULL, NULL, 0}, /* CAUGHT_UP: the source's position */
      {"SELECT @@version", 0, NULL, "@@version", c->version, 0},
      {"SELECT @@GLOBAL.gtid_executed AS gtid", 0, NULL, ROW_SOURCE, src_row, 0},
      {"CONNECT", 0, NULL, NULL, NULL, 0},
      {"SELECT @@version", 0, NULL, "@@version", c->version, 0},
      {c->status_sql, 0, NULL, c->status_cols, "Yes|Yes|0||0|", 0},
      {"SELECT WAIT_FOR_EXECUTED_GTID_SET('" U1 ":1-90', 1)", 0, NULL, "w", "1", 0},
      {c->status_sql, 0, NULL, c->status_cols, "Yes|Yes|0||0|", 0},
      {"SELECT WAIT_FOR_EXECUTED_GTID_SET('" U1 ":1-90', 1)", 0, NULL, "w", "0", 0},
  };
  memcpy(s, steps, sizeof(steps));
  return SM_ARRAY_LEN(steps);
}

static void test_join_async_versions(void **state) {
  (void)state;
  static const struct async_case cases[] = {
      {"8.0.20", "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=42001, MASTER_USER='repl', "
                 "MASTER_PASSWORD='s3cr\\'et', MASTER_AUTO_POSITION=1", "START SLAVE",
       "SHOW SLAVE STATUS", STATUS_COLS("Slave")},
      {"8.0.22", "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=42001, MASTER_USER='repl', "
                 "MASTER_PASSWORD='s3cr\\'et', MASTER_AUTO_POSITION=1", "START REPLICA",
       "SHOW REPLICA STATUS", STATUS_COLS("Replica")},
      {"8.0.23", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=42001, "
                 "SOURCE_USER='repl', SOURCE_PASSWORD='s3cr\\'et', SOURCE_AUTO_POSITION=1",
       "START REPLICA", "SHOW REPLICA STATUS", STATUS_COLS("Replica")},
      {"8.0.36", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=42001, "
                 "SOURCE_USER='repl', SOURCE_PASSWORD='s3cr\\'et', SOURCE_AUTO_POSITION=1",
       "START REPLICA", "SHOW REPLICA STATUS", STATUS_COLS("Replica")},
      {"8.4.2", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=42001, "
                "SOURCE_USER='repl', SOURCE_PASSWORD='s3cr\\'et', SOURCE_AUTO_POSITION=1",
       "START REPLICA", "SHOW REPLICA STATUS", STATUS_COLS("Replica")},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    make_tree(cases[i].version, 0);
    struct standin_step s[20];
    char src_row[256];
    size_t n = async_script(&cases[i], s, src_row, sizeof(src_row));
    char gtid[ENGINE_VALUE_MAX + 1], err[ENGINE_ERR_MAX] = "";
    size_t ran = 0;
    int rc = run_join(s, n, 0, gtid, err, &ran);
    if (rc != 0 || ran != n) {
      fail_msg("%s: rc %d after %zu of %zu steps: %s", cases[i].version, rc, ran, n, err);
    }
    assert_string_equal(gtid, U1 ":1-90");
    assert_null(strstr(standin_all_sent(), "GROUP_REPLICATION"));
  }
}

static size_t group_script(const char *version, struct standin_step *s) {
  int old = strcmp(version, "8.0.21") < 0;
  const struct standin_step steps[] = {
      {"CONNECT", 0, NULL, NULL, NULL, 0}, /* START */
      {"CONNECT", 0, NULL, NULL, NULL, 0}, /* JOIN: the group, from the source member */
      {"SELECT @@group_replication_group_name AS name", 0, NULL, "name,address",
       U2 "|127.0.0.1:42101", 0},
      {"CONNECT", 0, NULL, NULL, NULL, 0},
      {"SELECT @@version", 0, NULL, "@@version", version, 0},
      {"SELECT GTID_SUBSET(", 0, NULL, "g", "1", 0},
      {"SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE "
       "PLUGIN_NAME='group_replication'", 0, NULL, "PLUGIN_STATUS", "", 0},
      {"INSTALL PLUGIN group_replication SONAME 'group_replication.so'", 0, NULL, NULL, NULL, 0},
      {"SET GLOBAL group_replication_group_name='" U2 "'", 0, NULL, NULL, NULL, 0},
      {"SET GLOBAL group_replication_local_address='127.0.0.1:42111'", 0, NULL, NULL, NULL, 0},
      {"SET GLOBAL group_replication_group_seeds='127.0.0.1:42101'", 0, NULL, NULL, NULL, 0},
      {"SET GLOBAL group_replication_bootstrap_group=OFF", 0, NULL, NULL, NULL, 0},
      {old ? "CHANGE MASTER TO MASTER_USER='repl', MASTER_PASSWORD='s3cr\\'et' FOR CHANNEL "
             "'group_replication_recovery'"
           : "START GROUP_REPLICATION USER='repl', PASSWORD='s3cr\\'et'", 0, NULL, NULL, NULL, 0},
      {"START GROUP_REPLICATION", 0, NULL, NULL, NULL, 0}, /* dropped below for 8.0.21+ */
      {"CONNECT", 0, NULL, NULL, NULL, 0},                 /* CAUGHT_UP */
      {"SELECT MEMBER_STATE FROM performance_schema.replication_group_members", 0, NULL,
       "MEMBER_STATE", "RECOVERING", 0},
      {"SELECT MEMBER_STATE FROM performance_schema.replication_group_members", 0, NULL,
       "MEMBER_STATE", "ONLINE", 0},
      {"SELECT @@GLOBAL.gtid_executed", 0, NULL, "g", U1 ":1-99," U2 ":1-5", 0},
  };
  size_t n = 0;
  for (size_t i = 0; i < SM_ARRAY_LEN(steps); i++) {
    if (i == 13 && !old) {
      continue;
    }
    s[n++] = steps[i];
  }
  return n;
}

static void test_join_group(void **state) {
  (void)state;
  static const char *const versions[] = {"8.0.36", "8.0.20"};
  for (size_t i = 0; i < SM_ARRAY_LEN(versions); i++) {
    make_tree(versions[i], 1);
    struct standin_step s[24];
    size_t n = group_script(versions[i], s);
    char gtid[ENGINE_VALUE_MAX + 1], err[ENGINE_ERR_MAX] = "";
    size_t ran = 0;
    int rc = run_join(s, n, 1, gtid, err, &ran);
    if (rc != 0 || ran != n) {
      fail_msg("%s: rc %d after %zu of %zu steps: %s", versions[i], rc, ran, n, err);
    }
    assert_string_equal(gtid, U1 ":1-99," U2 ":1-5");
    assert_null(strstr(standin_all_sent(), "SOURCE_HOST"));
  }
}

struct join_err {
  int group;
  const char *version;
  size_t step;
  unsigned err;
  const char *msg;
  const char *rows;
  const char *needle;
};

static void test_join_errors(void **state) {
  (void)state;
  static const struct join_err cases[] = {
      {0, "8.0.36", 0, 1045, "Access denied for user 'root'@'localhost'", NULL, "refuses us"},
      {0, "8.0.36", 3, 0, NULL, "0", "lacks the snapshot's transactions"},
      {0, "8.0.36", 4, 1227, "Access denied; you need (at least one of) the SUPER or "
       "REPLICATION_SLAVE_ADMIN privilege(s) for this operation", NULL, "REPLICATION_SLAVE_ADMIN"},
      {0, "8.0.36", 5, 3081, "This operation cannot be performed with running replication "
       "threads", NULL, "START REPLICA failed: server error 3081"},
      {0, "8.0.36", 7, 0, NULL, "10.11.19-MariaDB-log", "--engine mariadb"},
      {0, "8.0.36", 8, 0, NULL, U1 ":1-90|1|OFF_PERMISSIVE", "gtid_mode=ON"},
      {0, "8.0.36", 8, 0, NULL, U1 ":0|1|ON", "unexpected GTID set"},
      {0, "8.0.36", 11, 0, NULL, "No|Yes|13114|Got fatal error 1236 from source when reading "
       "data from binary log: 'Cannot replicate because the source purged required binary "
       "logs.'|0|", "purged binlogs"},
      {0, "8.0.36", 11, 0, NULL, "Yes|No|0||1062|Duplicate entry '1' for key 't.PRIMARY'",
       "stopped applying: error 1062"},
      {1, "8.0.36", 2, 0, NULL, "|", "not a Group Replication member"},
      {1, "8.0.36", 7, 1227, "Access denied; you need (at least one of) the SUPER privilege(s)",
       NULL, "INSTALL PLUGIN group_replication"},
      {1, "8.0.36", 12, 3092, "The server is not configured properly to be an active member of "
       "the group. Please see more details on error log.", NULL, "gtid_mode=ON"},
      {1, "8.0.36", 12, 3096, "The START GROUP_REPLICATION command failed as there was an error "
       "when initializing the group communication layer.", NULL, "seeds are reachable"},
      {1, "8.0.36", 14, 0, NULL, "ERROR", "distributed recovery failed"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    const struct join_err *c = &cases[i];
    make_tree(c->version, c->group);
    struct standin_step s[24];
    char src_row[256];
    size_t n;
    if (c->group) {
      n = group_script(c->version, s);
    } else {
      const struct async_case ac = {c->version, "CHANGE REPLICATION SOURCE TO", "START REPLICA",
                                    "SHOW REPLICA STATUS", STATUS_COLS("Replica")};
      n = async_script(&ac, s, src_row, sizeof(src_row));
    }
    assert_true(c->step < n);
    s[c->step].err = c->err;
    s[c->step].msg = c->msg;
    if (c->rows != NULL) {
      s[c->step].rows = c->rows;
    }
    char gtid[ENGINE_VALUE_MAX + 1], err[ENGINE_ERR_MAX] = "";
    size_t ran = 0;
    int rc = run_join(s, c->step + 1, c->group, gtid, err, &ran);
    if (rc >= 0 || ran != c->step + 1 || strstr(err, c->needle) == NULL ||
        strchr(err, '\n') != NULL) {
      fail_msg("case %zu: rc %d after %zu steps: '%s' lacks '%s'", i, rc, ran, err, c->needle);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_donor_ok, remove_root),
      cmocka_unit_test_teardown(test_donor_errors, remove_root),
      cmocka_unit_test_teardown(test_join_async_versions, remove_root),
      cmocka_unit_test_teardown(test_join_group, remove_root),
      cmocka_unit_test_teardown(test_join_errors, remove_root),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

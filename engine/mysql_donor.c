/* mysql_donor.c - the MySQL 8 donor: checks the server the way a DBA would
 * (version, clone plugin, GTIDs, binary log, packet size, disk), runs
 * CLONE LOCAL DATA DIRECTORY into a staging directory while the server
 * keeps taking writes, and returns that directory with the facts the clone
 * plugin compares and the coordinates of performance_schema.clone_status.
 * Everything goes through the engine_sql_client seam (mysql_client.c). */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

#define CLONE_SUBDIR "data"

static const char facts_sql[] =
    "SELECT @@version AS version, @@version_compile_os AS os, "
    "@@version_compile_machine AS machine, @@innodb_page_size AS innodb_page_size, "
    "@@innodb_data_file_path AS innodb_data_file_path, "
    "@@character_set_server AS character_set_server, @@collation_server AS collation_server, "
    "@@character_set_filesystem AS character_set_filesystem, "
    "@@max_allowed_packet AS max_allowed_packet, "
    "@@lower_case_table_names AS lower_case_table_names, @@server_id AS source_server_id, "
    "@@server_uuid AS source_uuid, @@gtid_mode AS gtid_mode, @@log_bin AS log_bin, "
    "@@datadir AS datadir";

/* Facts that describe the donor's own host and are not published. */
static const char *const private_facts[] = {"gtid_mode", "log_bin", "datadir"};

static int check_server(struct engine__my *s, struct engine_kvset *facts, char *err) {
  /* The version first: on a MariaDB server the MySQL-only variables of the
   * facts query would fail with a less helpful "unknown variable". */
  char ver[160];
  int rc = engine__my_value(s, "SELECT @@version", "reading the donor's version", ver, sizeof(ver),
                            err);
  if (rc < 0) {
    return rc;
  }
  struct engine_mysql_version v;
  int vr = engine_mysql_version_parse(ver, &v);
  if (vr == SM_EINCOMPAT) {
    engine__err(err, "the server is MariaDB %s, not MySQL: use --engine mariadb", ver);
    return SM_EINCOMPAT;
  }
  if (vr < 0) {
    engine__err(err, "cannot tell the server's version ('%s')", ver);
    return SM_EENGINE;
  }
  if (engine_mysql_version_cmp(&v, 8, 0, 17) < 0) {
    engine__err(err, "the server runs MySQL %s: the clone plugin needs 8.0.17 or later", ver);
    return SM_EINCOMPAT;
  }
  int found = 0;
  rc = engine__my_row(s, facts_sql, "reading the donor's settings", facts, &found, err);
  if (rc < 0) {
    return rc;
  }
  const char *fv = engine_kvset_get(facts, "version");
  if (!found || fv == NULL || strcmp(fv, ver) != 0) {
    engine__err(err, "the donor's settings changed while they were read (version '%s' then "
                "'%s'): run the snapshot again", ver, fv ? fv : "none");
    return SM_ESTATE;
  }
  const char *gm = engine_kvset_get(facts, "gtid_mode");
  if (gm == NULL || strcmp(gm, "ON") != 0) {
    engine__err(err, "gtid_mode is %s on the donor: replicas join by GTID auto-position, so set "
                "gtid_mode=ON and enforce_gtid_consistency=ON", gm ? gm : "unknown");
    return SM_EENGINE;
  }
  const char *lb = engine_kvset_get(facts, "log_bin");
  if (lb == NULL || strcmp(lb, "1") != 0) {
    engine__err(err, "the donor's binary log is off: replicas catch up from it, so start mysqld "
                "with log_bin on");
    return SM_EENGINE;
  }
  const char *map = engine_kvset_get(facts, "max_allowed_packet");
  if (map == NULL || strtoull(map, NULL, 10) < 2u * 1024 * 1024) {
    engine__err(err, "max_allowed_packet is %s on the donor: clone needs at least 2 MiB (SET "
                "GLOBAL max_allowed_packet=2097152)", map ? map : "unknown");
    return SM_EENGINE;
  }
  char status[64];
  rc = engine__my_value(s, "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS "
                        "WHERE PLUGIN_NAME='clone'", "checking the clone plugin", status,
                        sizeof(status), err);
  if (rc == 0 && status[0] == '\0') {
    engine__err(err, "the clone plugin is not installed on the donor: INSTALL PLUGIN clone "
                "SONAME 'mysql_clone.so' (or plugin-load-add=mysql_clone.so in my.cnf)");
    rc = SM_EENGINE;
  } else if (rc == 0 && strcmp(status, "ACTIVE") != 0) {
    engine__err(err, "the clone plugin is %s on the donor: it must be ACTIVE (check clone=ON "
                "in my.cnf and the error log)", status);
    rc = SM_EENGINE;
  }
  return rc;
}

static int plugin_name_ok(const char *s) {
  size_t n = 0;
  for (; s[n] != '\0'; n++) {
    if (!isalnum((unsigned char)s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-') {
      return 0;
    }
  }
  return n > 0 && n <= 64;
}

/* The active plugins' libraries (a server started on the snapshot loads
 * them again) and, on a Group Replication member, the group's name and
 * this member's address. */
static int read_plugins_and_group(struct engine__my *s, struct engine_kvset *facts, char *err) {
  const char *what = "listing the donor's plugins";
  if (s->lib->query(s->h, "SELECT PLUGIN_LIBRARY FROM information_schema.PLUGINS WHERE "
                          "PLUGIN_STATUS='ACTIVE' AND PLUGIN_LIBRARY IS NOT NULL "
                          "GROUP BY PLUGIN_LIBRARY ORDER BY PLUGIN_LIBRARY") != 0) {
    return engine__my_failed(s, what, NULL, err);
  }
  char list[1024] = "";
  size_t n;
  const char *const *names;
  const char *const *values;
  int bad = 0;
  while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
    if (n < 1 || values[0] == NULL || !plugin_name_ok(values[0])) {
      bad = 1;
      continue;
    }
    size_t l = strlen(list);
    if (l + strlen(values[0]) + 2 >= sizeof(list)) {
      bad = 1;
      continue;
    }
    snprintf(list + l, sizeof(list) - l, "%s%s", l ? "," : "", values[0]);
  }
  if (bad) {
    engine__err(err, "%s: the server answered a plugin library name seedmesh does not accept",
                what);
    return SM_EMALFORMED;
  }
  int rc = engine_kvset_set(facts, "plugin_libraries", list);
  if (rc == 0 && s->lib->query(s->h, "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM "
                                     "performance_schema.global_variables WHERE VARIABLE_NAME IN "
                                     "('group_replication_group_name',"
                                     "'group_replication_local_address')") == 0) {
    while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
      if (rc == 0 && n >= 2 && values[0] != NULL && values[1] != NULL && values[1][0] != '\0') {
        rc = engine_kvset_set(facts, strcmp(values[0], "group_replication_group_name") == 0
                                         ? "group_name" : "group_member_address", values[1]);
      }
    }
  }
  if (rc < 0) {
    engine__err(err, "%s: %s", what, sm_strerror(rc));
  }
  return rc;
}

static int check_space(struct engine__my *s, const char *dir, char *err) {
  char v[64];
  int rc = engine__my_value(s, "SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                            "information_schema.tables", "estimating the data size", v, sizeof(v),
                            err);
  if (rc < 0) {
    return rc;
  }
  /* The clone, then its chunks in the store: twice the data, plus redo. */
  uint64_t data = strtoull(v, NULL, 10);
  uint64_t need = 2 * data + (64u << 20);
  uint64_t free_bytes = 0;
  if (sm_fs_free_bytes(dir, &free_bytes) == 0 && free_bytes < need) {
    char a[32], b[32];
    sm_format_bytes(need, a, sizeof(a));
    sm_format_bytes(free_bytes, b, sizeof(b));
    engine__err(err, "not enough disk under %s: about %s needed (the clone and its chunks), %s "
                "free", dir, a, b);
    return SM_ENOSPACE;
  }
  return 0;
}

/* A fresh directory for the clone: mysqld itself writes it, so when we run
 * as root the staging parent belongs to the owner of the donor's datadir. */
static int make_staging(const char *work_dir, const char *datadir, char *out, size_t cap,
                        char *err) {
  char abs[PATH_MAX];
  if (realpath(work_dir, abs) == NULL ||
      (size_t)snprintf(out, cap, "%s/.seedmesh-clone.XXXXXX", abs) >= cap - 16 ||
      mkdtemp(out) == NULL) {
    engine__err(err, "cannot create a staging directory under %s: %s", work_dir,
                strerror(errno));
    out[0] = '\0';
    return SM_EINVAL;
  }
  struct stat st;
  if (geteuid() == 0 && datadir != NULL && stat(datadir, &st) == 0 &&
      chown(out, st.st_uid, st.st_gid) != 0) {
    engine__err(err, "cannot hand %s to the server's user: %s", out, strerror(errno));
    rmdir(out);
    out[0] = '\0';
    return SM_EINVAL;
  }
  strcat(out, "/" CLONE_SUBDIR);
  return 0;
}

static int same_path(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 1 && a[la - 1] == '/') {
    la--;
  }
  while (lb > 1 && b[lb - 1] == '/') {
    lb--;
  }
  return la == lb && strncmp(a, b, la) == 0;
}

static int read_clone_status(struct engine__my *s, const char *dir, struct engine_kvset *coords,
                             char *err) {
  const char *what = "reading performance_schema.clone_status";
  if (s->lib->query(s->h, "SELECT * FROM performance_schema.clone_status") != 0) {
    return engine__my_failed(s, what, NULL, err);
  }
  struct engine_mysql_clone_status *cs = sm_malloc(sizeof(*cs));
  if (cs == NULL) {
    engine__err(err, "out of memory");
    return SM_ENOMEM;
  }
  size_t n;
  const char *const *names;
  const char *const *values;
  int rows = 0;
  int rc = SM_EMALFORMED;
  while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
    if (rows++ == 0) {
      rc = engine_mysql_clone_status_parse(n, names, values, cs);
    }
  }
  if (rows == 0) {
    engine__err(err, "%s: no row, although CLONE reported success", what);
    rc = SM_EENGINE;
  } else if (rc < 0) {
    engine__err(err, "%s: the row is malformed (STATE, ERROR_NO, BINLOG_* or GTID_EXECUTED)", what);
  } else if (!same_path(cs->destination, dir)) {
    engine__err(err, "%s: it describes a clone into '%.200s', not ours: another clone ran "
                "meanwhile; take the snapshot again", what, cs->destination);
    rc = SM_ESTATE;
  } else if (strcmp(cs->state, "Completed") != 0) {
    engine__err(err, "the clone ended in state '%s' (error %u: %.200s)", cs->state, cs->error_no,
                cs->error_message);
    rc = SM_EENGINE;
  } else {
    char pos[32];
    snprintf(pos, sizeof(pos), "%llu", (unsigned long long)cs->binlog_position);
    rc = engine_kvset_set(coords, "gtid_executed", cs->gtid_executed);
    rc = rc ? rc : engine_kvset_set(coords, "binlog_file", cs->binlog_file);
    rc = rc ? rc : engine_kvset_set(coords, "binlog_pos", pos);
  }
  sm_free(cs);
  return rc;
}

static int write_facts_file(const struct engine_snapshot *snap, char *err) {
  char *text = NULL;
  size_t len = 0;
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", snap->dir, ENGINE_FACTS_FILE);
  int rc = engine_format_facts_file(&snap->facts, &snap->coords, &text, &len);
  if (rc == 0) {
    rc = sm_fs_write_atomic(path, text, len, 0640);
  }
  sm_free(text);
  if (rc < 0) {
    engine__err(err, "cannot write %s: %s (run seedmesh as root or as the server's user)", path,
                sm_strerror(rc));
  }
  return rc;
}

static int drop_private(struct engine_kvset *facts, char *datadir, size_t cap) {
  struct engine_kvset keep;
  engine_kvset_init(&keep);
  int rc = 0;
  const char *d = engine_kvset_get(facts, "datadir");
  snprintf(datadir, cap, "%s", d ? d : "");
  for (size_t i = 0; rc == 0 && i < facts->n; i++) {
    int priv = 0;
    for (size_t k = 0; k < SM_ARRAY_LEN(private_facts); k++) {
      priv |= strcmp(facts->kv[i].key, private_facts[k]) == 0;
    }
    if (!priv) {
      rc = engine_kvset_set(&keep, facts->kv[i].key, facts->kv[i].value);
    }
  }
  engine_kvset_cleanup(facts);
  *facts = keep;
  return rc;
}

int engine__mysql_snapshot(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                           char *err) {
  if (o->work_dir == NULL || sm_fs_mkdir_p(o->work_dir, 0755) < 0) {
    engine__err(err, "cannot create the store %s: %s", o->work_dir ? o->work_dir : "(none)",
                strerror(errno));
    return SM_EINVAL;
  }
  struct engine__my s = {0};
  int rc = engine__my_connect(&s, &o->conn, NULL, 10, err);
  if (rc < 0) {
    return rc;
  }
  char datadir[PATH_MAX] = "";
  rc = engine_kvset_set(&out->facts, "flavor", "mysql");
  rc = rc ? rc : check_server(&s, &out->facts, err);
  rc = rc ? rc : read_plugins_and_group(&s, &out->facts, err);
  rc = rc ? rc : drop_private(&out->facts, datadir, sizeof(datadir));
  rc = rc ? rc : check_space(&s, o->work_dir, err);
  if (rc == 0) {
    rc = make_staging(o->work_dir, datadir[0] ? datadir : NULL, out->dir, sizeof(out->dir), err);
  }
  if (rc == 0) {
    out->remove_after = 2; /* the clone and its staging parent */
    char *sql = sm_malloc(ENGINE_MYSQL_SQL_MAX + 64);
    rc = sql ? 0 : SM_ENOMEM;
    if (rc == 0) {
      snprintf(sql, ENGINE_MYSQL_SQL_MAX, "CLONE LOCAL DATA DIRECTORY = ");
      rc = engine_sql_quote(sql, ENGINE_MYSQL_SQL_MAX, out->dir);
    }
    if (rc == 0) {
      rc = engine__my_exec(&s, sql, "CLONE LOCAL DATA DIRECTORY", NULL, err);
    }
    sm_free(sql);
  }
  if (rc == 0) {
    rc = read_clone_status(&s, out->dir, &out->coords, err);
  }
  engine__my_close(&s);
  if (rc == 0) {
    rc = write_facts_file(out, err);
  }
  return rc;
}

/* mariadb_donor.c - the MariaDB donor: checks the server (reachable, binary
 * log on, backup privileges, disk), runs mariadb-backup while the server
 * keeps taking writes, and returns the unprepared backup tree with the
 * server's facts and the backup's replication coordinates. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mysql.h>

#include "common/common.h"

/* The server variables that become manifest facts: fact key, expression. */
static const char *const fact_vars[][2] = {
    {"version", "@@version"},
    {"innodb_page_size", "@@innodb_page_size"},
    {"character_set_server", "@@character_set_server"},
    {"collation_server", "@@collation_server"},
    {"innodb_data_file_path", "@@innodb_data_file_path"},
    {"lower_case_table_names", "@@lower_case_table_names"},
    {"machine", "@@version_compile_machine"},
    {"os", "@@version_compile_os"},
    {"innodb_log_file_size", "@@innodb_log_file_size"},
    {"source_server_id", "@@server_id"},
    {"gtid_domain_id", "@@gtid_domain_id"},
};

static int read_facts(MYSQL *m, struct engine_kvset *facts, char *err) {
  char v[1024];
  int rc = engine_kvset_set(facts, "flavor", "mariadb");
  for (size_t i = 0; rc == 0 && i < SM_ARRAY_LEN(fact_vars); i++) {
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT %s", fact_vars[i][1]);
    rc = engine__query_value(m, sql, v, sizeof(v), err);
    if (rc == 0) {
      rc = engine_kvset_set(facts, fact_vars[i][0], v);
    }
  }
  char series[32];
  const char *ver = engine_kvset_get(facts, "version");
  if (rc == 0 && ver != NULL && engine_version_series(ver, series) == 0) {
    rc = engine_kvset_set(facts, "version_series", series);
  }
  return rc;
}

static int check_grants(MYSQL *m, const char *user, char *err) {
  if (mysql_query(m, "SHOW GRANTS") != 0) {
    engine__err(err, "SHOW GRANTS failed: %s", mysql_error(m));
    return SM_EENGINE;
  }
  MYSQL_RES *res = mysql_store_result(m);
  const char *lines[64];
  size_t n = 0;
  MYSQL_ROW row;
  while (res != NULL && n < SM_ARRAY_LEN(lines) && (row = mysql_fetch_row(res)) != NULL) {
    if (row[0] != NULL) {
      lines[n++] = row[0];
    }
  }
  char missing[256];
  int k = engine_mariadb_grants_missing(lines, n, missing, sizeof(missing));
  if (res != NULL) {
    mysql_free_result(res);
  }
  if (k > 0) {
    char who[300] = "";
    engine__query_value(m, "SELECT CURRENT_USER()", who, sizeof(who), err);
    engine__err(err, "user %s lacks %s for mariadb-backup: GRANT RELOAD, PROCESS, LOCK TABLES, "
             "BINLOG MONITOR ON *.* TO the backup user",
             who[0] ? who : (user ? user : "root"), missing);
    return SM_EENGINE;
  }
  return 0;
}

static int check_space(MYSQL *m, const char *work_dir, char *err) {
  char v[64];
  if (engine__query_value(m,
                          "SELECT COALESCE(SUM(data_length + index_length), 0) "
                          "FROM information_schema.tables",
                          v, sizeof(v), err) < 0) {
    return SM_EENGINE;
  }
  uint64_t data = strtoull(v, NULL, 10);
  uint64_t logsz = 0;
  if (engine__query_value(m, "SELECT @@innodb_log_file_size", v, sizeof(v), err) == 0) {
    logsz = strtoull(v, NULL, 10);
  }
  /* The backup itself, then its chunks in the store (compressed, at worst
   * as large): twice the data, plus the redo copied meanwhile. */
  uint64_t need = 2 * data + logsz + (64u << 20);
  uint64_t free_bytes = 0;
  if (sm_fs_free_bytes(work_dir, &free_bytes) == 0 && free_bytes < need) {
    char a[32], b[32];
    sm_format_bytes(need, a, sizeof(a));
    sm_format_bytes(free_bytes, b, sizeof(b));
    engine__err(err, "not enough disk under %s: about %s needed (the backup and its chunks), %s free",
             work_dir, a, b);
    return SM_ENOSPACE;
  }
  return 0;
}

static int read_coords(const char *dir, struct engine_kvset *coords, char *err) {
  char path[4200];
  uint8_t *buf = NULL;
  size_t len = 0;
  snprintf(path, sizeof(path), "%s/xtrabackup_binlog_info", dir);
  int rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc < 0) {
    engine__err(err, "the backup has no binary log coordinates (%s: %s): is log_bin on?", path,
             sm_strerror(rc));
    return SM_EENGINE;
  }
  struct engine_binlog_info *bi = sm_malloc(sizeof(*bi));
  if (bi == NULL) {
    sm_free(buf);
    return SM_ENOMEM;
  }
  rc = engine_parse_binlog_info(buf, len, bi);
  sm_free(buf);
  char pos[32];
  snprintf(pos, sizeof(pos), "%llu", (unsigned long long)bi->pos);
  if (rc < 0) {
    engine__err(err, "cannot parse %s: not 'file<TAB>pos<TAB>gtid'", path);
  } else {
    rc = engine_kvset_set(coords, "binlog_file", bi->file);
    rc = rc ? rc : engine_kvset_set(coords, "binlog_pos", pos);
    rc = rc ? rc : engine_kvset_set(coords, "gtid_binlog_pos", bi->gtid);
  }
  sm_free(bi);
  if (rc < 0) {
    return rc;
  }
  snprintf(path, sizeof(path), "%s/xtrabackup_galera_info", dir);
  rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc < 0) {
    return 0; /* not a Galera node */
  }
  struct engine_galera_info gi;
  rc = engine_parse_galera_info(buf, len, &gi);
  sm_free(buf);
  if (rc < 0) {
    engine__err(err, "cannot parse %s: not 'uuid:seqno domain'", path);
    return rc;
  }
  char num[32];
  rc = engine_kvset_set(coords, "galera_uuid", gi.uuid);
  snprintf(num, sizeof(num), "%lld", (long long)gi.seqno);
  rc = rc ? rc : engine_kvset_set(coords, "galera_seqno", num);
  if (gi.has_domain) {
    snprintf(num, sizeof(num), "%u", gi.domain_id);
    rc = rc ? rc : engine_kvset_set(coords, "galera_domain_id", num);
  }
  return rc;
}

static int write_facts_file(const char *dir, const struct engine_snapshot *s, char *err) {
  char *text = NULL;
  size_t len = 0;
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", dir, ENGINE_FACTS_FILE);
  int rc = engine_format_facts_file(&s->facts, &s->coords, &text, &len);
  if (rc == 0) {
    rc = sm_fs_write_atomic(path, text, len, 0640);
  }
  sm_free(text);
  if (rc < 0) {
    engine__err(err, "cannot write %s: %s", path, sm_strerror(rc));
  }
  return rc;
}

static int run_backup(const struct engine_snapshot_options *o, const char *tool,
                      const char *target, char *err) {
  char cnf[4200], log[4200], a_cnf[4300], a_target[4300];
  snprintf(cnf, sizeof(cnf), "%s/.seedmesh-client.%ld.cnf", o->work_dir, (long)getpid());
  snprintf(log, sizeof(log), "%s/.seedmesh-backup.log", o->work_dir);
  unlink(log);
  unlink(cnf);
  char *argv[12];
  int n = 0;
  argv[n++] = (char *)tool;
  if (o->conn.defaults_file != NULL) {
    snprintf(a_cnf, sizeof(a_cnf), "--defaults-file=%s", o->conn.defaults_file);
  } else {
    int rc = engine__write_client_cnf(cnf, &o->conn, err);
    if (rc < 0) {
      return rc;
    }
    snprintf(a_cnf, sizeof(a_cnf), "--defaults-extra-file=%s", cnf);
  }
  argv[n++] = a_cnf;
  argv[n++] = (char *)"--backup";
  snprintf(a_target, sizeof(a_target), "--target-dir=%s", target);
  argv[n++] = a_target;
  if (o->galera) {
    argv[n++] = (char *)"--galera-info";
  }
  argv[n] = NULL;
  int status = -1;
  int rc = engine__run(argv, log, &status);
  if (o->conn.defaults_file == NULL) {
    unlink(cnf);
  }
  if (rc < 0 || status != 0) {
    char last[300];
    engine__log_last_error(log, last, sizeof(last));
    if (strstr(last, "Access denied") != NULL) {
      engine__err(err, "mariadb-backup was refused: %s", last);
    } else if (strstr(last, "No space") != NULL) {
      engine__err(err, "mariadb-backup ran out of disk under %s: %s", o->work_dir,
               last);
    } else {
      engine__err(err, "mariadb-backup --backup failed (exit %d): %s (log: %s)",
               status, last[0] ? last : sm_strerror(rc), log);
    }
    return SM_EENGINE;
  }
  unlink(log);
  return 0;
}

static int mariadb_snapshot(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                            char *err) {
  char tool[4096];
  if (engine__which(o->backup_tool ? o->backup_tool : "mariadb-backup", tool, sizeof(tool)) < 0) {
    engine__err(err, "%s not found: install it (apt-get install mariadb-backup) or pass --backup-tool PATH",
             o->backup_tool ? o->backup_tool : "mariadb-backup");
    return SM_ENOTFOUND;
  }
  if (o->work_dir == NULL || sm_fs_mkdir_p(o->work_dir, 0755) < 0) {
    engine__err(err, "cannot create the store %s: %s",
             o->work_dir ? o->work_dir : "(none)", strerror(errno));
    return SM_EINVAL;
  }
  MYSQL *m = NULL;
  int rc = engine__connect(&o->conn, NULL, 10, &m, err);
  if (rc < 0) {
    return rc;
  }
  char v[64];
  rc = read_facts(m, &out->facts, err);
  if (rc == 0) {
    rc = engine__query_value(m, "SELECT @@log_bin", v, sizeof(v), err);
    if (rc == 0 && strcmp(v, "1") != 0) {
      engine__err(err, "the server's binary log is off: start it with --log-bin (and a server_id) so "
               "replicas get coordinates");
      rc = SM_EENGINE;
    }
  }
  if (rc == 0) {
    rc = check_grants(m, o->conn.user, err);
  }
  if (rc == 0) {
    rc = check_space(m, o->work_dir, err);
  }
  engine__close(m);
  if (rc < 0) {
    return rc;
  }
  if ((size_t)snprintf(out->dir, sizeof(out->dir), "%s/.seedmesh-backup.XXXXXX", o->work_dir) >=
          sizeof(out->dir) ||
      mkdtemp(out->dir) == NULL) {
    engine__err(err, "cannot create a temporary directory under %s: %s",
             o->work_dir, strerror(errno));
    out->dir[0] = '\0';
    return SM_EINVAL;
  }
  out->remove_after = 1;
  rc = run_backup(o, tool, out->dir, err);
  if (rc == 0) {
    rc = read_coords(out->dir, &out->coords, err);
  }
  if (rc == 0) {
    rc = write_facts_file(out->dir, out, err);
  }
  return rc;
}

int engine_mariadb_probe_source(const struct engine_join_options *o, char *out_gtid,
                                uint32_t *out_server_id, char *err) {
  struct engine_conn c = {.host = o->source_host, .port = o->source_port, .user = o->user};
  MYSQL *m = NULL;
  int rc = engine__connect(&c, o->password ? o->password : "", 5, &m, err);
  if (rc < 0) {
    char inner[ENGINE_ERR_MAX];
    snprintf(inner, sizeof(inner), "%s", err);
    engine__err(err, "replication source unreachable: %s", inner);
    return rc;
  }
  char v[32];
  rc = engine__query_value(m, "SELECT @@gtid_binlog_pos", out_gtid, ENGINE_VALUE_MAX + 1, err);
  if (rc == 0) {
    rc = engine__query_value(m, "SELECT @@server_id", v, sizeof(v), err);
    *out_server_id = (uint32_t)strtoul(v, NULL, 10);
  }
  engine__close(m);
  return rc;
}

const struct engine_ops engine__mariadb_ops = {
    .name = "mariadb",
    .label = "MariaDB",
    .flags = ENGINE_JOIN_NEEDS_SOURCE,
    .snapshot = mariadb_snapshot,
    .check = engine__mariadb_check,
    .prepare = engine__mariadb_prepare,
    .start = engine__mariadb_start,
    .join = engine__mariadb_join,
    .wait_caught_up = engine__mariadb_wait,
    .local_facts = engine_mariadb_local_facts,
    .probe = engine_mariadb_probe_source,
    .position = engine__mariadb_position,
};

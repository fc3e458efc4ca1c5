/* mariadb_replica.c - the MariaDB recipient: compatibility with the local
 * mariadbd, `mariadb-backup --prepare`, starting a supervised mariadbd on the
 * prepared datadir, the GTID join statements and the wait until caught up. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "common/common.h"

int engine_mariadb_local_facts(const struct engine_local *local, struct engine_kvset *out,
                               char *err) {
  const char *name = local && local->server_binary ? local->server_binary : "mariadbd";
  char bin[4096];
  if (engine__which(name, bin, sizeof(bin)) < 0) {
    engine__err(err, "%s not found: install the server (apt-get install mariadb-server) or pass "
             "--mariadbd PATH", name);
    return SM_ENOTFOUND;
  }
  char *argv[] = {bin, (char *)"--version", NULL};
  char text[1024];
  int status = -1;
  int rc = engine__capture(argv, text, sizeof(text), &status);
  char version[128], machine[64], series[32];
  if (rc < 0 || status != 0 || engine_parse_server_version(text, version, machine) < 0 ||
      engine_version_series(version, series) < 0) {
    text[strcspn(text, "\n")] = '\0';
    engine__err(err, "cannot tell the version of %s ('%.200s')", bin, text);
    return SM_EINCOMPAT;
  }
  rc = engine_kvset_set(out, "version", version);
  rc = rc ? rc : engine_kvset_set(out, "version_series", series);
  if (rc == 0 && machine[0] != '\0') {
    rc = engine_kvset_set(out, "machine", machine);
  }
  return rc;
}

int engine__mariadb_check(const struct engine_kvset *facts, const struct engine_local *local,
                          char *err) {
  int rc = engine__check_local(engine_mariadb_local_facts, engine_mariadb_compat, facts, local,
                               err);
  if (rc == 0) {
    char tool[4096];
    const char *name = local && local->backup_tool ? local->backup_tool : "mariadb-backup";
    if (engine__which(name, tool, sizeof(tool)) < 0) {
      engine__err(err, "%s not found: install it (apt-get install mariadb-backup) or pass "
               "--backup-tool PATH", name);
      rc = SM_ENOTFOUND;
    }
  }
  return rc;
}

int engine__mariadb_prepare(const char *dir, const struct engine_local *local,
                            const char *log_path, char *err) {
  char tool[4096];
  const char *name = local && local->backup_tool ? local->backup_tool : "mariadb-backup";
  if (engine__which(name, tool, sizeof(tool)) < 0) {
    engine__err(err, "%s not found: apt-get install mariadb-backup", name);
    return SM_ENOTFOUND;
  }
  char target[4300];
  snprintf(target, sizeof(target), "--target-dir=%s", dir);
  char *argv[] = {tool, (char *)"--prepare", target, NULL};
  int status = -1;
  int rc = engine__run(argv, log_path, &status);
  if (rc < 0 || status != 0) {
    char last[300];
    engine__log_last_error(log_path, last, sizeof(last));
    engine__err(err, "mariadb-backup --prepare failed (exit %d): %s (log: %s)",
             status, last[0] ? last : sm_strerror(rc), log_path);
    return SM_EENGINE;
  }
  return 0;
}

static int spawn_server(const struct engine_start_options *o, const char *sock,
                        const char *log, pid_t *out_pid, char *err) {
  char bin[4096];
  const char *name = o->server_binary ? o->server_binary : "mariadbd";
  if (engine__which(name, bin, sizeof(bin)) < 0) {
    engine__err(err, "%s not found: apt-get install mariadb-server", name);
    return SM_ENOTFOUND;
  }
  char a_def[4300], a_dir[4300], a_sock[4300], a_pid[4300], a_log[4300], a_id[64], a_port[64],
      a_bind[300], a_binlog[4300];
  struct stat st;
  char cnf[4200];
  snprintf(cnf, sizeof(cnf), "%s/backup-my.cnf", o->datadir);
  /* The backup's own geometry (page size, log size, undo) and nothing from
   * /etc: the server must start exactly on what was copied. */
  if (stat(cnf, &st) == 0) {
    snprintf(a_def, sizeof(a_def), "--defaults-file=%s", cnf);
  } else {
    snprintf(a_def, sizeof(a_def), "--no-defaults");
  }
  snprintf(a_dir, sizeof(a_dir), "--datadir=%s", o->datadir);
  snprintf(a_sock, sizeof(a_sock), "--socket=%s", sock);
  snprintf(a_pid, sizeof(a_pid), "--pid-file=%s/mariadbd.pid", o->datadir);
  snprintf(a_log, sizeof(a_log), "--log-error=%s", log);
  snprintf(a_id, sizeof(a_id), "--server-id=%u", o->server_id);
  snprintf(a_binlog, sizeof(a_binlog), "--log-bin=%s/binlog", o->datadir);
  char *argv[20];
  int n = 0;
  argv[n++] = bin;
  if (o->defaults_file != NULL) {
    /* A Galera node: its own option file sets the log, pid file, ports and
     * wsrep settings; only where the data and socket are comes from us. */
    snprintf(a_def, sizeof(a_def), "--defaults-file=%s", o->defaults_file);
  }
  argv[n++] = a_def;
  argv[n++] = a_dir;
  argv[n++] = a_sock;
  if (o->defaults_file == NULL) {
    argv[n++] = a_pid;
    argv[n++] = a_log;
    argv[n++] = a_id;
    argv[n++] = a_binlog;
    argv[n++] = (char *)"--log-slave-updates";
    argv[n++] = (char *)"--skip-slave-start";
    if (o->port != 0) {
      snprintf(a_port, sizeof(a_port), "--port=%u", o->port);
      snprintf(a_bind, sizeof(a_bind), "--bind-address=%s",
               o->bind_address ? o->bind_address : "127.0.0.1");
      argv[n++] = a_port;
      argv[n++] = a_bind;
    } else {
      argv[n++] = (char *)"--skip-networking";
    }
  }
  if (geteuid() == 0) {
    argv[n++] = (char *)"--user=root"; /* mariadbd refuses root without it */
  }
  argv[n] = NULL;
  int rc = engine__spawn(argv, NULL, 1, out_pid);
  if (rc < 0) {
    engine__err(err, "cannot start %s: %s", bin, sm_strerror(rc));
  }
  return rc;
}

int engine__mariadb_start(const struct engine_start_options *o, struct engine_server *out,
                          char *err) {
  memset(out, 0, sizeof(*out));
  char log[4200];
  if (o->socket != NULL) {
    snprintf(out->socket, sizeof(out->socket), "%s", o->socket);
  } else if ((size_t)snprintf(out->socket, sizeof(out->socket), "%s/mariadbd.sock", o->datadir) >=
             108) {
    engine__err(err, "the socket path %s/mariadbd.sock is too long: pass --socket",
             o->datadir);
    return SM_ETOOBIG;
  }
  snprintf(log, sizeof(log), "%s", o->log_path ? o->log_path : "");
  if (log[0] == '\0') {
    snprintf(log, sizeof(log), "%s/mariadbd.err", o->datadir);
  }
  out->server_id = o->server_id;
  out->admin.socket = out->socket;
  out->admin.user = o->admin_user;
  out->admin.password_file = o->admin_password_file;
  int rc;
  if (o->start_command != NULL) {
    rc = engine__run_start_command(o, out->socket, err);
    if (rc < 0) {
      return rc;
    }
    out->pid = 0;
  } else {
    rc = spawn_server(o, out->socket, log, &out->pid, err);
    if (rc < 0) {
      return rc;
    }
  }
  double deadline = engine__now_s() + (o->timeout_s ? o->timeout_s : 120);
  for (;;) {
    MYSQL *m = NULL;
    char cerr[ENGINE_ERR_MAX];
    if (engine__connect(&out->admin, NULL, 2, &m, cerr) == 0) {
      engine__close(m);
      return 0;
    }
    if (strstr(cerr, "access denied") != NULL || strstr(cerr, "password file") != NULL) {
      engine__err(err, "the server started but refuses us: %s (the datadir has the "
               "donor's accounts: pass --local-user/--local-password-file)", cerr);
      return SM_EENGINE;
    }
    if (out->pid > 0 && !engine__pid_alive(out->pid)) {
      char last[300];
      engine__log_last_error(log, last, sizeof(last));
      engine__err(err, "mariadbd exited during start-up: %s (log: %s)", last, log);
      out->pid = 0;
      return SM_EENGINE;
    }
    if (engine__now_s() > deadline) {
      engine__err(err, "the server did not answer on %s within %u s (log: %s)",
               out->socket, o->timeout_s ? o->timeout_s : 120, log);
      return SM_ETIMEOUT;
    }
    engine__sleep_ms(300);
  }
}

int engine__mariadb_join(const struct engine_server *srv, const struct engine_join_options *o,
                         char *err) {
  char *gtid_sql = sm_malloc(2 * ENGINE_VALUE_MAX + 64);
  char *change_sql = sm_malloc(2 * ENGINE_VALUE_MAX + 64);
  MYSQL *m = NULL;
  int rc = gtid_sql && change_sql ? 0 : SM_ENOMEM;
  if (rc == 0) {
    rc = engine_mariadb_join_sql(o, gtid_sql, change_sql, 2 * ENGINE_VALUE_MAX + 64);
    if (rc < 0) {
      engine__err(err, "cannot build the join statements (bad GTID '%.100s'?)",
               o->gtid ? o->gtid : "");
    }
  }
  if (rc == 0) {
    rc = engine__connect(&srv->admin, NULL, 10, &m, err);
  }
  if (rc == 0) {
    char sql[64];
    char ignore[ENGINE_ERR_MAX];
    snprintf(sql, sizeof(sql), "SET GLOBAL server_id=%u", srv->server_id);
    engine__exec(m, "STOP SLAVE", ignore);
    rc = engine__exec(m, sql, err);
  }
  const char *what = "SET GLOBAL gtid_slave_pos";
  if (rc == 0) {
    rc = engine__exec(m, gtid_sql, err);
  }
  if (rc == 0) {
    what = "CHANGE MASTER TO";
    rc = engine__exec(m, change_sql, err);
  }
  if (rc == 0) {
    what = "START SLAVE";
    rc = engine__exec(m, "START SLAVE", err);
  }
  if (rc < 0 && m != NULL) {
    char inner[ENGINE_ERR_MAX];
    snprintf(inner, sizeof(inner), "%s", err);
    engine__err(err, "%s failed on the new replica: %s", what, inner);
  }
  engine__close(m);
  if (change_sql != NULL) {
    sodium_memzero(change_sql, 2 * ENGINE_VALUE_MAX + 64);
  }
  sm_free(gtid_sql);
  sm_free(change_sql);
  return rc;
}

/* Reads named columns of SHOW SLAVE STATUS. */
struct slave_status {
  char io[16], sql[16], io_error[256], sql_error[256], behind[32];
  int io_errno, sql_errno;
};

static int read_slave_status(MYSQL *m, struct slave_status *s, char *err) {
  memset(s, 0, sizeof(*s));
  if (mysql_query(m, "SHOW SLAVE STATUS") != 0) {
    engine__err(err, "SHOW SLAVE STATUS failed: %s", mysql_error(m));
    return SM_EENGINE;
  }
  MYSQL_RES *res = mysql_store_result(m);
  MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
  if (row == NULL) {
    if (res != NULL) {
      mysql_free_result(res);
    }
    engine__err(err, "the replica has no replication configured any more");
    return SM_EENGINE;
  }
  unsigned nf = mysql_num_fields(res);
  MYSQL_FIELD *f = mysql_fetch_fields(res);
  for (unsigned i = 0; i < nf; i++) {
    const char *v = row[i] ? row[i] : "";
    if (strcmp(f[i].name, "Slave_IO_Running") == 0) {
      snprintf(s->io, sizeof(s->io), "%s", v);
    } else if (strcmp(f[i].name, "Slave_SQL_Running") == 0) {
      snprintf(s->sql, sizeof(s->sql), "%s", v);
    } else if (strcmp(f[i].name, "Last_IO_Error") == 0) {
      snprintf(s->io_error, sizeof(s->io_error), "%s", v);
    } else if (strcmp(f[i].name, "Last_SQL_Error") == 0) {
      snprintf(s->sql_error, sizeof(s->sql_error), "%s", v);
    } else if (strcmp(f[i].name, "Last_IO_Errno") == 0) {
      s->io_errno = atoi(v);
    } else if (strcmp(f[i].name, "Last_SQL_Errno") == 0) {
      s->sql_errno = atoi(v);
    } else if (strcmp(f[i].name, "Seconds_Behind_Master") == 0) {
      snprintf(s->behind, sizeof(s->behind), "%s", v);
    }
  }
  mysql_free_result(res);
  return 0;
}

/* How long CAUGHT_UP waits for a source that stopped answering. */
#define SOURCE_RETRY_S 30

int engine__mariadb_wait(const struct engine_server *srv, const struct engine_join_options *o,
                         unsigned timeout_s, char *out_gtid, char *err) {
  uint32_t source_id = 0;
  /* The source answered when join began; by now it may be restarting.
   * Its position is asked again for a while before giving up. */
  double first_try = engine__now_s();
  int rc;
  while ((rc = engine_mariadb_probe_source(o, out_gtid, &source_id, err)) < 0 &&
         engine__now_s() - first_try < SOURCE_RETRY_S) {
    engine__sleep_ms(1000);
  }
  if (rc < 0) {
    char inner[ENGINE_ERR_MAX];
    snprintf(inner, sizeof(inner), "%s", err);
    engine__err(err, "%s, still after %d s; the replica reconnects and catches up by itself "
                "once the source is back", inner, SOURCE_RETRY_S);
    return rc;
  }
  MYSQL *m = NULL;
  rc = engine__connect(&srv->admin, NULL, 10, &m, err);
  if (rc < 0) {
    return rc;
  }
  char *sql = sm_malloc(2 * ENGINE_VALUE_MAX + 64);
  if (sql == NULL) {
    engine__close(m);
    return SM_ENOMEM;
  }
  snprintf(sql, 2 * ENGINE_VALUE_MAX + 64, "SELECT MASTER_GTID_WAIT(");
  engine_sql_quote(sql, 2 * ENGINE_VALUE_MAX + 64, out_gtid);
  strcat(sql, ", 1)");
  double start = engine__now_s();
  double io_bad_since = 0;
  rc = SM_ETIMEOUT;
  for (;;) {
    struct slave_status s;
    char v[32];
    int r = read_slave_status(m, &s, err);
    if (r < 0) {
      rc = r;
      break;
    }
    if (strcmp(s.sql, "Yes") != 0 && s.sql_errno != 0) {
      engine__err(err, "replication stopped applying: error %d: %s", s.sql_errno,
               s.sql_error);
      rc = SM_EENGINE;
      break;
    }
    if (strcmp(s.io, "Yes") != 0 && s.io_errno != 0) {
      if (io_bad_since == 0) {
        io_bad_since = engine__now_s();
      } else if (engine__now_s() - io_bad_since > 20) {
        engine__err(err, "replication cannot read from %s:%u: error %d: %s",
                 o->source_host, o->source_port, s.io_errno, s.io_error);
        rc = SM_EENGINE;
        break;
      }
    } else {
      io_bad_since = 0;
    }
    int running = strcmp(s.io, "Yes") == 0 && strcmp(s.sql, "Yes") == 0;
    if (out_gtid[0] == '\0') {
      if (running && strcmp(s.behind, "0") == 0) {
        rc = 0;
        break;
      }
      engine__sleep_ms(500);
    } else {
      r = engine__query_value(m, sql, v, sizeof(v), err);
      if (r < 0) {
        rc = r;
        break;
      }
      if (strcmp(v, "0") == 0) {
        rc = 0;
        break;
      }
    }
    if (engine__now_s() - start > timeout_s) {
      char at[256] = "";
      char ignore[ENGINE_ERR_MAX];
      engine__query_value(m, "SELECT @@gtid_slave_pos", at, sizeof(at), ignore);
      engine__err(err, "not caught up after %u s: replica at '%s', source was at "
               "'%.200s' (threads IO=%s SQL=%s)", timeout_s, at, out_gtid, s.io, s.sql);
      rc = SM_ETIMEOUT;
      break;
    }
  }
  sm_free(sql);
  engine__close(m);
  return rc;
}

int engine__mariadb_position(const char *tree, const struct engine_kvset *coords,
                             const struct engine_join_options *o, char *out,
                             char *err) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/xtrabackup_binlog_info", tree);
  uint8_t *buf = NULL;
  size_t len = 0;
  struct engine_binlog_info *bi = sm_calloc(1, sizeof(*bi));
  if (bi == NULL) {
    engine__err(err, "out of memory");
    return SM_ENOMEM;
  }
  int rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc == 0) {
    rc = engine_parse_binlog_info(buf, len, bi);
    sm_free(buf);
  }
  if (rc < 0) {
    engine__err(err, "%s is missing or malformed: the snapshot has no replication coordinates",
                path);
    goto out;
  }
  const char *signed_gtid = engine_kvset_get(coords, "gtid_binlog_pos");
  if (signed_gtid != NULL && strcmp(signed_gtid, bi->gtid) != 0) {
    engine__err(err, "the snapshot's coordinates disagree (%.200s vs %.200s)", signed_gtid,
                bi->gtid);
    rc = SM_EMALFORMED;
    goto out;
  }
  snprintf(out, ENGINE_VALUE_MAX + 1, "%s", bi->gtid);
out:
  sm_free(bi);
  return rc;
}

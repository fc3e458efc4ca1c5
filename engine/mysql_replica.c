/* mysql_replica.c - the MySQL 8 recipient: compatibility with the local
 * mysqld, starting mysqld on the cloned directory (crash recovery applies
 * the copied redo), then joining by GTID auto-position or Group Replication
 * and waiting until caught up. The server is reached only through the
 * engine_sql_client seam, so tests drive every step with scripted answers. */
#include "engine/engine_internal.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

/* The *.so files of the first plugin directory found next to the binary
 * (or the distribution defaults), comma-separated into out (cap). 0 when a
 * directory was read, SM_ENOTFOUND when none exists. */
static int local_plugins(const char *bin, char *out, size_t cap) {
  char b[PATH_MAX], dirs[4][PATH_MAX + 32];
  snprintf(b, sizeof(b), "%s", bin);
  const char *bindir = dirname(b);
  snprintf(dirs[0], sizeof(dirs[0]), "%s/../lib/mysql/plugin", bindir);
  snprintf(dirs[1], sizeof(dirs[1]), "%s/../lib/plugin", bindir);
  snprintf(dirs[2], sizeof(dirs[2]), "/usr/lib/mysql/plugin");
  snprintf(dirs[3], sizeof(dirs[3]), "/usr/lib64/mysql/plugin");
  for (size_t i = 0; i < SM_ARRAY_LEN(dirs); i++) {
    DIR *d = opendir(dirs[i]);
    if (d == NULL) {
      continue;
    }
    out[0] = '\0';
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      size_t l = strlen(de->d_name), n = strlen(out);
      if (l > 3 && strcmp(de->d_name + l - 3, ".so") == 0 && n + l + 2 < cap) {
        snprintf(out + n, cap - n, "%s%s", n ? "," : "", de->d_name);
      }
    }
    closedir(d);
    return 0;
  }
  return SM_ENOTFOUND;
}

int engine_mysql_local_facts(const struct engine_local *local, struct engine_kvset *out,
                             char *err) {
  const char *name = local && local->server_binary ? local->server_binary : "mysqld";
  char bin[4096];
  if (engine__which(name, bin, sizeof(bin)) < 0) {
    engine__err(err, "%s not found: install MySQL 8 server or pass --mysqld PATH", name);
    return SM_ENOTFOUND;
  }
  char *argv[] = {bin, (char *)"--version", NULL};
  char text[1024];
  int status = -1;
  int rc = engine__capture(argv, text, sizeof(text), &status);
  char version[128], os[64], machine[64];
  int pr = rc < 0 || status != 0 ? SM_EMALFORMED
                                 : engine_mysql_parse_version_line(text, version, os, machine);
  text[strcspn(text, "\n")] = '\0';
  if (pr == SM_EINCOMPAT) {
    engine__err(err, "%s is MariaDB ('%.200s'), not MySQL: pass --mysqld PATH to a MySQL 8 "
                "mysqld, or use --engine mariadb", bin, text);
    return SM_EINCOMPAT;
  }
  if (pr < 0) {
    engine__err(err, "cannot tell the version of %s ('%.200s')", bin, text);
    return SM_EINCOMPAT;
  }
  rc = engine_kvset_set(out, "version", version);
  rc = rc ? rc : engine_kvset_set(out, "os", os);
  rc = rc ? rc : engine_kvset_set(out, "machine", machine);
  char *plugins = sm_malloc(ENGINE_VALUE_MAX + 1);
  if (rc == 0 && plugins != NULL && local_plugins(bin, plugins, ENGINE_VALUE_MAX + 1) == 0) {
    rc = engine_kvset_set(out, "plugin_libraries", plugins);
  }
  sm_free(plugins);
  return rc;
}

int engine__mysql_check(const struct engine_kvset *facts, const struct engine_local *local,
                       char *err) {
  return engine__check_local(engine_mysql_local_facts, engine_mysql_compat, facts, local, err);
}

/* Crash recovery applies the redo when mysqld starts; here only the
 * donor's server_uuid (if a copy carried one) goes, so every replica gets
 * its own: a shared uuid would mix GTIDs and break Group Replication. */
int engine__mysql_prepare(const char *dir, const struct engine_local *local, const char *log_path,
                         char *err) {
  (void)local;
  (void)log_path;
  char path[PATH_MAX + 16];
  snprintf(path, sizeof(path), "%s/auto.cnf", dir);
  if (unlink(path) != 0 && errno != ENOENT) {
    engine__err(err, "cannot remove %s: %s", path, strerror(errno));
    return -errno;
  }
  return 0;
}

static int read_tree_facts(const char *dir, struct engine_kvset *facts, struct engine_kvset *coords,
                           char *err) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s", dir, ENGINE_FACTS_FILE);
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc == 0) {
    rc = engine_parse_facts_file(buf, len, facts, coords);
    sm_free(buf);
  }
  if (rc < 0) {
    engine__err(err, "%s is missing or malformed (%s): not a snapshot taken with --engine mysql",
                path, sm_strerror(rc));
  }
  return rc;
}

/* The server options that must equal what the clone was made with. */
static const char *const same_opts[][2] = {
    {"innodb_page_size", "--innodb-page-size"},
    {"innodb_data_file_path", "--innodb-data-file-path"},
    {"character_set_server", "--character-set-server"},
    {"collation_server", "--collation-server"},
    {"character_set_filesystem", "--character-set-filesystem"},
    {"lower_case_table_names", "--lower-case-table-names"},
    {"max_allowed_packet", "--max-allowed-packet"},
};
#define ARGS_MAX 40

static int spawn_mysqld(const struct engine_start_options *o, const struct engine_kvset *facts,
                        const char *sock, const char *log, pid_t *out_pid, char *err) {
  char bin[4096];
  const char *name = o->server_binary ? o->server_binary : "mysqld";
  if (engine__which(name, bin, sizeof(bin)) < 0) {
    engine__err(err, "%s not found: install MySQL 8 server or pass --mysqld PATH", name);
    return SM_ENOTFOUND;
  }
  struct engine_mysql_version v = {8, 0, 17};
  const char *ver = engine_kvset_get(facts, "version");
  if (ver != NULL) {
    engine_mysql_version_parse(ver, &v);
  }
  static char args[ARGS_MAX][4400];
  char *argv[ARGS_MAX + 1];
  int n = 0;
#define ARG(...) snprintf(args[n], sizeof(args[n]), __VA_ARGS__), argv[n] = args[n], n++
  ARG("%s", bin);
  ARG("--no-defaults");
  ARG("--datadir=%s", o->datadir);
  ARG("--socket=%s", sock);
  ARG("--pid-file=%s/mysqld.pid", o->datadir);
  ARG("--log-error=%s", log);
  ARG("--server-id=%u", o->server_id);
  ARG("--log-bin=%s/binlog", o->datadir);
  ARG("--gtid-mode=ON");
  ARG("--enforce-gtid-consistency=ON");
  ARG("--mysqlx=OFF"); /* no second port (33060) to collide on */
  ARG("%s", engine_mysql_version_cmp(&v, 8, 0, 26) >= 0 ? "--skip-replica-start"
                                                        : "--skip-slave-start");
  ARG("--loose-group-replication-start-on-boot=OFF");
  if (engine_kvset_get(facts, "group_name") != NULL && engine_mysql_version_cmp(&v, 8, 0, 21) < 0) {
    ARG("--binlog-checksum=NONE"); /* Group Replication before 8.0.21 */
  }
  for (size_t i = 0; i < SM_ARRAY_LEN(same_opts); i++) {
    const char *val = engine_kvset_get(facts, same_opts[i][0]);
    if (val != NULL && val[0] != '\0') {
      ARG("%s=%s", same_opts[i][1], val);
    }
  }
  if (o->port != 0) {
    ARG("--port=%u", o->port);
    ARG("--bind-address=%s", o->bind_address ? o->bind_address : "127.0.0.1");
  } else {
    ARG("--skip-networking");
  }
  if (geteuid() == 0) {
    ARG("--user=root"); /* mysqld refuses root without it */
  }
#undef ARG
  argv[n] = NULL;
  int rc = engine__spawn(argv, NULL, 1, out_pid);
  if (rc < 0) {
    engine__err(err, "cannot start %s: %s", bin, sm_strerror(rc));
  }
  return rc;
}

int engine__mysql_start(const struct engine_start_options *o, struct engine_server *out, char *err) {
  memset(out, 0, sizeof(*out));
  if (o->socket != NULL) {
    snprintf(out->socket, sizeof(out->socket), "%s", o->socket);
  } else if ((size_t)snprintf(out->socket, sizeof(out->socket), "%s/mysqld.sock", o->datadir) >=
             108) {
    engine__err(err, "the socket path %s/mysqld.sock is too long: pass --socket", o->datadir);
    return SM_ETOOBIG;
  }
  char log[PATH_MAX + 16];
  snprintf(log, sizeof(log), "%s", o->log_path ? o->log_path : "");
  if (log[0] == '\0') {
    snprintf(log, sizeof(log), "%s/mysqld.err", o->datadir);
  }
  out->server_id = o->server_id;
  out->admin.socket = out->socket;
  out->admin.user = o->admin_user;
  out->admin.password_file = o->admin_password_file;
  struct engine_kvset facts, coords;
  engine_kvset_init(&facts);
  engine_kvset_init(&coords);
  int rc = read_tree_facts(o->datadir, &facts, &coords, err);
  if (rc == 0) {
    rc = o->start_command != NULL ? engine__run_start_command(o, out->socket, err)
                                  : spawn_mysqld(o, &facts, out->socket, log, &out->pid, err);
  }
  engine_kvset_cleanup(&facts);
  engine_kvset_cleanup(&coords);
  if (rc < 0) {
    return rc;
  }
  unsigned limit = o->timeout_s ? o->timeout_s : 120;
  double deadline = engine__now_s() + limit;
  for (;;) {
    struct engine__my s = {0};
    char cerr[ENGINE_ERR_MAX];
    if (engine__my_connect(&s, &out->admin, NULL, 2, cerr) == 0) {
      engine__my_close(&s);
      return 0;
    }
    if (strstr(cerr, "access denied") != NULL || strstr(cerr, "password file") != NULL) {
      engine__err(err, "mysqld started but refuses us: %s (the datadir has the donor's accounts: "
                  "pass --local-user/--local-password-file)", cerr);
      return SM_EENGINE;
    }
    if (out->pid > 0 && !engine__pid_alive(out->pid)) {
      char last[300];
      engine__log_last_error(log, last, sizeof(last));
      engine__err(err, "mysqld exited during start-up (crash recovery or an option it refuses): "
                  "%s (log: %s)", last, log);
      out->pid = 0;
      return SM_EENGINE;
    }
    if (engine__now_s() > deadline) {
      engine__err(err, "mysqld did not answer on %s within %u s (crash recovery of a large redo "
                  "takes a while: raise --timeout; log: %s)", out->socket, limit, log);
      return SM_ETIMEOUT;
    }
    engine__sleep_ms(300);
  }
}

/* Connects to the source (or group member) with the replication account. */
int engine__mysql_source_connect(const struct engine_join_options *o, struct engine__my *s, char *err) {
  struct engine_conn c = {.host = o->source_host, .port = o->source_port, .user = o->user};
  int rc = engine__my_connect(s, &c, o->password ? o->password : "", 5, err);
  if (rc < 0) {
    char inner[ENGINE_ERR_MAX];
    snprintf(inner, sizeof(inner), "%s", err);
    engine__err(err, "replication source unreachable: %s", inner);
  }
  return rc;
}

int engine__mysql_probe(const struct engine_join_options *o, char *out_position,
                        uint32_t *out_server_id, char *err) {
  struct engine__my s = {0};
  int rc = engine__mysql_source_connect(o, &s, err);
  if (rc < 0) {
    return rc;
  }
  /* The version first: a MariaDB source has no gtid_executed to read. */
  char ver[160];
  struct engine_mysql_version v;
  rc = engine__my_value(&s, "SELECT @@version", "reading the source's version", ver, sizeof(ver),
                        err);
  int vr = rc == 0 ? engine_mysql_version_parse(ver, &v) : 0;
  if (vr == SM_EINCOMPAT) {
    engine__err(err, "the source %s:%u is MariaDB %s: use --engine mariadb", o->source_host,
                o->source_port, ver);
    rc = SM_EINCOMPAT;
  } else if (vr < 0) {
    engine__err(err, "the source %s:%u answered version '%s', not MySQL 8", o->source_host,
                o->source_port, ver);
    rc = SM_EMALFORMED;
  }
  struct engine_kvset row;
  engine_kvset_init(&row);
  int found = 0;
  if (rc == 0) {
    rc = engine__my_row(&s, "SELECT @@GLOBAL.gtid_executed AS gtid, @@server_id AS id, "
                        "@@gtid_mode AS gtid_mode", "reading the source's position", &row, &found,
                        err);
  }
  engine__my_close(&s);
  const char *g = engine_kvset_get(&row, "gtid");
  const char *mode = engine_kvset_get(&row, "gtid_mode");
  const char *id = engine_kvset_get(&row, "id");
  if (rc == 0 && (!found || g == NULL || mode == NULL || id == NULL ||
                  engine_mysql_gtid_set_parse(g, strlen(g), NULL, NULL) < 0)) {
    engine__err(err, "the source %s:%u answered an unexpected GTID set", o->source_host,
                o->source_port);
    rc = SM_EMALFORMED;
  } else if (rc == 0 && strcmp(mode, "ON") != 0) {
    engine__err(err, "the source %s:%u has gtid_mode=%s: auto-position needs gtid_mode=ON",
                o->source_host, o->source_port, mode);
    rc = SM_EENGINE;
  }
  if (rc == 0) {
    snprintf(out_position, ENGINE_VALUE_MAX + 1, "%s", g);
    *out_server_id = (uint32_t)strtoul(id, NULL, 10);
  }
  engine_kvset_cleanup(&row);
  return rc;
}

int engine__mysql_position(const char *tree, const struct engine_kvset *coords, char *out,
                          char *err) {
  struct engine_kvset f, c;
  engine_kvset_init(&f);
  engine_kvset_init(&c);
  int rc = read_tree_facts(tree, &f, &c, err);
  const char *mine = engine_kvset_get(&c, "gtid_executed");
  const char *sig = engine_kvset_get(coords, "gtid_executed");
  if (rc == 0 && (mine == NULL || engine_mysql_gtid_set_parse(mine, strlen(mine), NULL, NULL) < 0)) {
    engine__err(err, "the snapshot has no valid gtid_executed from clone_status");
    rc = SM_EMALFORMED;
  } else if (rc == 0 && sig != NULL && strcmp(sig, mine) != 0) {
    engine__err(err, "the snapshot's coordinates disagree (%.200s vs %.200s)", sig, mine);
    rc = SM_EMALFORMED;
  }
  if (rc == 0) {
    snprintf(out, ENGINE_VALUE_MAX + 1, "%s", mine);
  }
  engine_kvset_cleanup(&f);
  engine_kvset_cleanup(&c);
  return rc;
}

/* mysql_decide.c - the pure decisions of the mysql engine: which statements
 * join a server of a given version (async or Group Replication), whether a
 * snapshot passes the checks the clone plugin itself makes, and how a
 * server error reads to a DBA. No I/O; unit-tested per version range. */
#include "engine/engine_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static int append(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int append(char *out, size_t cap, const char *fmt, ...) {
  size_t n = strlen(out);
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(out + n, cap - n, fmt, ap);
  va_end(ap);
  return w < 0 || (size_t)w >= cap - n ? SM_ETOOBIG : 0;
}

/* "KEY='value'" appended, with a leading ", " unless first. */
static int append_opt(char *out, const char *key, const char *value, int first) {
  int rc = append(out, ENGINE_MYSQL_SQL_MAX, "%s%s=", first ? "" : ", ", key);
  return rc ? rc : engine_sql_quote(out, ENGINE_MYSQL_SQL_MAX, value);
}

static int group_sql(const struct engine_mysql_version *v, const struct engine_join_options *o,
                     const char *group_name, char (*out)[ENGINE_MYSQL_SQL_MAX], size_t *n,
                     size_t *secret) {
  if (group_name == NULL || strlen(group_name) != 36 || o->group_local_address == NULL || o->group_local_address[0] == '\0' ||
      o->group_seeds == NULL || o->group_seeds[0] == '\0') {
    return SM_EINVAL;
  }
  /* The group name is a UUID: reuse the GTID set parser on "uuid:1". */
  char probe[48];
  snprintf(probe, sizeof(probe), "%s:1", group_name);
  if (engine_mysql_gtid_set_parse(probe, strlen(probe), NULL, NULL) < 0) {
    return SM_EINVAL;
  }
  static const char *const vars[3] = {"group_replication_group_name",
                                      "group_replication_local_address",
                                      "group_replication_group_seeds"};
  const char *vals[3] = {group_name, o->group_local_address, o->group_seeds};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < 3; i++) {
    rc = append(out[*n], ENGINE_MYSQL_SQL_MAX, "SET GLOBAL %s=", vars[i]);
    rc = rc ? rc : engine_sql_quote(out[*n], ENGINE_MYSQL_SQL_MAX, vals[i]);
    (*n)++;
  }
  if (rc == 0) {
    rc = append(out[(*n)++], ENGINE_MYSQL_SQL_MAX, "SET GLOBAL group_replication_bootstrap_group=OFF");
  }
  if (rc < 0) {
    return rc;
  }
  if (engine_mysql_version_cmp(v, 8, 0, 21) >= 0) {
    *secret = *n;
    rc = append(out[*n], ENGINE_MYSQL_SQL_MAX, "START GROUP_REPLICATION ");
    rc = rc ? rc : append_opt(out[*n], "USER", o->user, 1);
    rc = rc ? rc : append_opt(out[*n], "PASSWORD", o->password ? o->password : "", 0);
    (*n)++;
    return rc;
  }
  *secret = *n;
  rc = append(out[*n], ENGINE_MYSQL_SQL_MAX, "CHANGE MASTER TO ");
  rc = rc ? rc : append_opt(out[*n], "MASTER_USER", o->user, 1);
  rc = rc ? rc : append_opt(out[*n], "MASTER_PASSWORD", o->password ? o->password : "", 0);
  rc = rc ? rc : append(out[*n], ENGINE_MYSQL_SQL_MAX, " FOR CHANNEL 'group_replication_recovery'");
  (*n)++;
  if (rc == 0) {
    rc = append(out[(*n)++], ENGINE_MYSQL_SQL_MAX, "START GROUP_REPLICATION");
  }
  return rc;
}

int engine_mysql_join_sql(const struct engine_mysql_version *v, const struct engine_join_options *o,
                          const char *group_name, char (*out)[ENGINE_MYSQL_SQL_MAX],
                          size_t *out_n, size_t *out_secret) {
  *out_n = 0;
  *out_secret = 0;
  for (size_t i = 0; i < ENGINE_MYSQL_STMTS_MAX; i++) {
    out[i][0] = '\0';
  }
  if (engine_mysql_version_cmp(v, 8, 0, 17) < 0 || o->user == NULL || o->user[0] == '\0') {
    return SM_EINVAL;
  }
  if (o->group_replication) {
    return group_sql(v, o, group_name, out, out_n, out_secret);
  }
  if (o->source_host == NULL || o->source_host[0] == '\0' || o->source_port == 0 ||
      o->source_port > 65535) {
    return SM_EINVAL;
  }
  /* 8.0.23 renamed CHANGE MASTER TO and its MASTER_* options; 8.0.22
   * added START REPLICA; 8.4 removed the old names. */
  int source = engine_mysql_version_cmp(v, 8, 0, 23) >= 0;
  const char *pre = source ? "SOURCE" : "MASTER";
  char *s = out[0];
  char key[32];
  int rc = append(s, ENGINE_MYSQL_SQL_MAX, "%s",
                  source ? "CHANGE REPLICATION SOURCE TO " : "CHANGE MASTER TO ");
  snprintf(key, sizeof(key), "%s_HOST", pre);
  rc = rc ? rc : append_opt(s, key, o->source_host, 1);
  rc = rc ? rc : append(s, ENGINE_MYSQL_SQL_MAX, ", %s_PORT=%u", pre, o->source_port);
  snprintf(key, sizeof(key), "%s_USER", pre);
  rc = rc ? rc : append_opt(s, key, o->user, 0);
  snprintf(key, sizeof(key), "%s_PASSWORD", pre);
  rc = rc ? rc : append_opt(s, key, o->password ? o->password : "", 0);
  /* caching_sha2_password (the 8.0 default) over a connection without TLS
   * needs the source's RSA key. */
  rc = rc ? rc : append(s, ENGINE_MYSQL_SQL_MAX, ", %s_AUTO_POSITION=1, GET_%s_PUBLIC_KEY=1", pre, pre);
  rc = rc ? rc : append(out[1], ENGINE_MYSQL_SQL_MAX, "%s",
                        engine_mysql_version_cmp(v, 8, 0, 22) >= 0 ? "START REPLICA" : "START SLAVE");
  *out_n = 2;
  *out_secret = 0;
  return rc;
}

static int incompat(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int incompat(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ENGINE_ERR_MAX, fmt, ap);
  va_end(ap);
  return SM_EINCOMPAT;
}

static int version_compat(const char *sv, const char *lv, char *err) {
  struct engine_mysql_version s, l;
  if (sv == NULL || engine_mysql_version_parse(sv, &s) < 0) {
    return incompat(err, "the snapshot does not name a MySQL version ('%s')", sv ? sv : "none");
  }
  if (engine_mysql_version_cmp(&s, 8, 0, 17) < 0) {
    return incompat(err, "the snapshot comes from MySQL %s: the clone plugin needs 8.0.17 or later",
                    sv);
  }
  if (lv == NULL) {
    return 0;
  }
  if (engine_mysql_version_parse(lv, &l) < 0) {
    return incompat(err, "cannot tell the local MySQL version ('%s')", lv);
  }
  int same_series = s.major == l.major && s.minor == l.minor;
  int exact = same_series && s.patch == l.patch;
  /* Clone accepts any 8.0.37+ pair within 8.0, any pair within the 8.4
   * LTS series, and otherwise only the same release. */
  int ok = exact || (same_series && s.major == 8 && s.minor == 0 && s.patch >= 37 &&
                     l.patch >= 37) || (same_series && s.major == 8 && s.minor == 4);
  if (!ok) {
    return incompat(err, "version mismatch: the snapshot comes from MySQL %s but the local mysqld "
                    "is %s (clone needs the same release, or 8.0.37+ on both sides within 8.0, "
                    "or both within 8.4): install MySQL %s", sv, lv, sv);
  }
  return 0;
}

/* Is every comma-separated item of need in have? The first missing one
 * goes into missing (cap). */
static int list_covers(const char *have, const char *need, char *missing, size_t cap) {
  const char *p = need;
  while (*p != '\0') {
    size_t l = strcspn(p, ",");
    int found = 0;
    for (const char *h = have; *h != '\0' && !found;) {
      size_t hl = strcspn(h, ",");
      found = hl == l && strncmp(h, p, l) == 0;
      h += hl + (h[hl] == ',');
    }
    if (!found && l > 0) {
      snprintf(missing, cap, "%.*s", (int)SM_MIN(l, cap - 1), p);
      return 0;
    }
    p += l + (p[l] == ',');
  }
  return 1;
}

int engine_mysql_compat(const struct engine_kvset *snapshot, const struct engine_kvset *local,
                        char *err) {
  const char *flavor = engine_kvset_get(snapshot, "flavor");
  if (flavor == NULL || strcmp(flavor, "mysql") != 0) {
    return incompat(err, "the snapshot is not a MySQL snapshot (flavor '%s'): use the engine "
                    "that took it", flavor ? flavor : "none");
  }
  int rc = version_compat(engine_kvset_get(snapshot, "version"), engine_kvset_get(local, "version"),
                          err);
  if (rc < 0) {
    return rc;
  }
  static const char *const same[][2] = {
      {"os", "operating system (version_compile_os)"},
      {"machine", "machine (version_compile_machine)"},
      {"innodb_page_size", "innodb_page_size"},
      {"innodb_data_file_path", "innodb_data_file_path"},
      {"character_set_server", "character_set_server"},
      {"collation_server", "collation_server"},
      {"character_set_filesystem", "character_set_filesystem"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(same); i++) {
    const char *a = engine_kvset_get(snapshot, same[i][0]);
    const char *b = engine_kvset_get(local, same[i][0]);
    if (a == NULL && i < 3) {
      return incompat(err, "the snapshot does not record its %s: take it again with this "
                      "seedmesh", same[i][1]);
    }
    if (a != NULL && b != NULL && strcmp(a, b) != 0) {
      return incompat(err, "%s differs: the snapshot has '%s', this host '%s' (clone refuses "
                      "this too)", same[i][1], a, b);
    }
  }
  const char *kvs[2] = {engine_kvset_get(snapshot, "max_allowed_packet"),
                        engine_kvset_get(local, "max_allowed_packet")};
  for (int i = 0; i < 2; i++) {
    if (kvs[i] != NULL && strtoull(kvs[i], NULL, 10) < 2u * 1024 * 1024) {
      return incompat(err, "max_allowed_packet is %s on the %s: clone needs at least 2097152 "
                      "(SET GLOBAL max_allowed_packet=2097152)", kvs[i],
                      i == 0 ? "donor" : "local server");
    }
  }
  const char *sp = engine_kvset_get(snapshot, "plugin_libraries");
  const char *lp = engine_kvset_get(local, "plugin_libraries");
  char missing[128];
  if (sp != NULL && lp != NULL && !list_covers(lp, sp, missing, sizeof(missing))) {
    return incompat(err, "the donor's plugin library %s is not installed here (the server would "
                    "fail to load it): install the package that ships it", missing);
  }
  return 0;
}

struct explain {
  unsigned no;
  const char *text; /* after "<statement>: "; the server's message follows */
};

/* Error numbers from the MySQL 8.0 server error reference (docs/mysql.md
 * says which ones were checked against it). */
static const struct explain explains[] = {
    {1007, "the clone directory already exists (CLONE creates it): remove it"},
    {1045, "access denied: check the user and password"},
    {1064, "the server does not understand the statement: MySQL 8.0.17+ is needed"},
    {1193, "unknown variable: is the plugin that defines it loaded?"},
    {1205, "timed out waiting for a lock: DDL was running (clone waits clone_ddl_timeout "
           "for its backup lock; run it when no DDL runs, or from 8.0.27 keep clone_block_ddl=OFF)"},
    {1227, "the account lacks a privilege (CLONE LOCAL needs BACKUP_ADMIN, replication "
           "setup REPLICATION_SLAVE_ADMIN, Group Replication GROUP_REPLICATION_ADMIN): GRANT "
           "it ON *.* to the account"},
    {1524, "a plugin is not loaded (for clone: INSTALL PLUGIN clone SONAME "
           "'mysql_clone.so')"},
    {3092, "the server is not configured for Group Replication (gtid_mode=ON, "
           "enforce_gtid_consistency=ON, a unique server_id; details in its error log)"},
    {3093, "Group Replication is already running on this server"},
    {3096, "the group communication layer failed: check group_replication_local_address "
           "and that the seeds are reachable"},
    {3862, "the donor reported an error"},
    {3864, "donor and recipient run different MySQL versions"},
    {3865, "donor and recipient run different operating systems"},
    {3866, "donor and recipient are different platforms"},
    {3867, "donor and recipient character sets or collations differ"},
    {3868, "a configuration value differs between donor and recipient"},
    {3869, "a clone system setting is out of range (max_allowed_packet must be >= 2 MiB)"},
    {3870, "a donor plugin is not active on the recipient"},
    {3873, "not enough disk space for the clone: free space where the clone directory is"},
    {3874, "another clone is running on this server: wait for it (only one at a time)"},
    {3875, "clone is not allowed right now on this server"},
};

int engine_mysql_explain(unsigned error_no, const char *message, const char *what, char *err) {
  for (size_t i = 0; i < SM_ARRAY_LEN(explains); i++) {
    if (explains[i].no == error_no) {
      engine__err(err, "%s: %s (server error %u: %.200s)", what, explains[i].text, error_no,
                  message);
      return SM_EENGINE;
    }
  }
  engine__err(err, "%s failed: server error %u: %.300s", what, error_no, message);
  return SM_EENGINE;
}

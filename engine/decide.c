/* decide.c - the pure decisions of the MariaDB engine: is a snapshot
 * compatible with the local server, the join statements with every string
 * escaped, a replica's server_id, and which backup privileges are missing. */
#include "engine/engine.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/common.h"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ENGINE_ERR_MAX, fmt, ap);
  va_end(ap);
  return SM_EINCOMPAT;
}

int engine_mariadb_compat(const struct engine_kvset *snapshot, const struct engine_kvset *local,
                          char *err) {
  const char *flavor = engine_kvset_get(snapshot, "flavor");
  if (flavor == NULL || strcmp(flavor, "mariadb") != 0) {
    return fail(err, "the snapshot is not a MariaDB snapshot (flavor '%s')%s",
                flavor ? flavor : "none", "");
  }
  const char *sv = engine_kvset_get(snapshot, "version");
  const char *lv = engine_kvset_get(local, "version");
  char ss[32], ls[32];
  if (sv == NULL || engine_version_series(sv, ss) < 0) {
    return fail(err, "the snapshot does not say which server version made it (%s)%s",
                sv ? sv : "no version fact", "");
  }
  if (lv == NULL || engine_version_series(lv, ls) < 0) {
    return fail(err, "cannot tell the local server version (%s)%s", lv ? lv : "unknown", "");
  }
  if (strcmp(ss, ls) != 0) {
    fail(err, "version mismatch: the snapshot comes from MariaDB %s (series %s) but the local "
             "mariadbd is %s (series %s): install a %s server",
             sv, ss, lv, ls, ss);
    return SM_EINCOMPAT;
  }
  const char *sm = engine_kvset_get(snapshot, "machine");
  const char *lm = engine_kvset_get(local, "machine");
  if (sm != NULL && lm != NULL && lm[0] != '\0' && strcmp(sm, lm) != 0) {
    return fail(err, "machine mismatch: the snapshot was taken on %s, this host runs %s", sm, lm);
  }
  const char *ps = engine_kvset_get(snapshot, "innodb_page_size");
  if (ps != NULL) {
    static const char *const ok[] = {"4096", "8192", "16384", "32768", "65536"};
    int found = 0;
    for (size_t i = 0; i < SM_ARRAY_LEN(ok); i++) {
      found |= strcmp(ps, ok[i]) == 0;
    }
    if (!found) {
      return fail(err, "unsupported innodb_page_size %s in the snapshot%s", ps, "");
    }
    const char *lp = engine_kvset_get(local, "innodb_page_size");
    if (lp != NULL && strcmp(lp, ps) != 0) {
      return fail(err, "page size mismatch: the snapshot has innodb_page_size=%s, the local "
                  "server is configured with %s", ps, lp);
    }
  }
  const char *lc = engine_kvset_get(snapshot, "lower_case_table_names");
  const char *llc = engine_kvset_get(local, "lower_case_table_names");
  if (lc != NULL && llc != NULL && strcmp(lc, llc) != 0) {
    return fail(err, "lower_case_table_names differs: snapshot %s, local %s", lc, llc);
  }
  return 0;
}

int engine_sql_quote(char *out, size_t cap, const char *s) {
  size_t n = strlen(out);
  if (n + 1 >= cap) {
    return SM_ETOOBIG;
  }
  out[n++] = '\'';
  for (const char *p = s; *p != '\0'; p++) {
    const char *esc = NULL;
    switch (*p) {
    case '\'': esc = "\\'"; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\x1a': esc = "\\Z"; break;
    default: break;
    }
    size_t need = esc ? 2 : 1;
    if (n + need + 2 > cap) {
      return SM_ETOOBIG;
    }
    if (esc != NULL) {
      out[n++] = esc[0];
      out[n++] = esc[1];
    } else {
      out[n++] = *p;
    }
  }
  out[n++] = '\'';
  out[n] = '\0';
  return 0;
}

int engine_mariadb_join_sql(const struct engine_join_options *o, char *out_gtid_sql,
                            char *out_change_sql, size_t cap) {
  if (o->source_host == NULL || o->source_host[0] == '\0' || o->user == NULL ||
      o->source_port == 0 || o->source_port > 65535 || o->gtid == NULL ||
      engine_gtid_check(o->gtid) < 0) {
    return SM_EINVAL;
  }
  out_gtid_sql[0] = '\0';
  snprintf(out_gtid_sql, cap, "SET GLOBAL gtid_slave_pos=");
  int rc = engine_sql_quote(out_gtid_sql, cap, o->gtid);
  if (rc < 0) {
    return rc;
  }
  snprintf(out_change_sql, cap, "CHANGE MASTER TO MASTER_HOST=");
  rc = engine_sql_quote(out_change_sql, cap, o->source_host);
  size_t n = strlen(out_change_sql);
  if (rc == 0 && (size_t)snprintf(out_change_sql + n, cap - n, ", MASTER_PORT=%u, MASTER_USER=",
                                  o->source_port) >= cap - n) {
    rc = SM_ETOOBIG;
  }
  if (rc == 0) {
    rc = engine_sql_quote(out_change_sql, cap, o->user);
  }
  n = strlen(out_change_sql);
  if (rc == 0 && (size_t)snprintf(out_change_sql + n, cap - n, ", MASTER_PASSWORD=") >= cap - n) {
    rc = SM_ETOOBIG;
  }
  if (rc == 0) {
    rc = engine_sql_quote(out_change_sql, cap, o->password ? o->password : "");
  }
  n = strlen(out_change_sql);
  if (rc == 0 &&
      (size_t)snprintf(out_change_sql + n, cap - n, ", MASTER_USE_GTID=slave_pos") >= cap - n) {
    rc = SM_ETOOBIG;
  }
  return rc;
}

uint32_t engine_server_id_derive(const char *seed, unsigned port, uint32_t avoid) {
  uint8_t h[8];
  crypto_generichash_state st;
  uint8_t pb[4] = {(uint8_t)(port >> 24), (uint8_t)(port >> 16), (uint8_t)(port >> 8),
                   (uint8_t)port};
  for (uint32_t attempt = 0;; attempt++) {
    uint8_t ab[4] = {(uint8_t)(attempt >> 24), (uint8_t)(attempt >> 16), (uint8_t)(attempt >> 8),
                     (uint8_t)attempt};
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)"seedmesh-server-id", 18);
    crypto_generichash_update(&st, (const uint8_t *)seed, strlen(seed));
    crypto_generichash_update(&st, pb, sizeof(pb));
    crypto_generichash_update(&st, ab, sizeof(ab));
    crypto_generichash_final(&st, h, sizeof(h));
    uint64_t v = sm_load_be64(h);
    uint32_t id = (uint32_t)(1000 + v % (UINT32_MAX - 1000u + 1u));
    if (id != avoid) {
      return id;
    }
  }
}

/* True when the upper-cased grant line g names priv as a whole word list
 * item (between "GRANT " and " ON"). */
static int grant_has(const char *g, const char *priv) {
  const char *on = strstr(g, " ON ");
  size_t pl = strlen(priv);
  for (const char *p = strstr(g, priv); p != NULL && (on == NULL || p < on);
       p = strstr(p + 1, priv)) {
    char before = p == g ? ' ' : p[-1];
    char after = p[pl];
    if ((before == ' ' || before == ',') && (after == ',' || after == ' ' || after == '\0')) {
      return 1;
    }
  }
  return 0;
}

int engine_mariadb_grants_missing(const char *const *grants, size_t n, char *out, size_t cap) {
  static const char *const need[] = {"RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR"};
  int have[SM_ARRAY_LEN(need)] = {0};
  char up[1024];
  for (size_t i = 0; i < n; i++) {
    size_t l = 0;
    for (; grants[i][l] != '\0' && l + 1 < sizeof(up); l++) {
      up[l] = (char)toupper((unsigned char)grants[i][l]);
    }
    up[l] = '\0';
    /* Only global grants count: "... ON *.* TO ...". */
    if (strstr(up, " ON *.* ") == NULL) {
      continue;
    }
    int all = grant_has(up, "ALL PRIVILEGES") || grant_has(up, "GRANT ALL");
    for (size_t k = 0; k < SM_ARRAY_LEN(need); k++) {
      have[k] |= all || grant_has(up, need[k]);
    }
    /* Before 10.5 the binlog position needed REPLICATION CLIENT or SUPER,
     * which 10.5+ maps to BINLOG MONITOR. */
    have[3] |= grant_has(up, "REPLICATION CLIENT") || grant_has(up, "SUPER");
  }
  int missing = 0;
  out[0] = '\0';
  for (size_t k = 0; k < SM_ARRAY_LEN(need); k++) {
    if (!have[k]) {
      size_t l = strlen(out);
      snprintf(out + l, cap - l, "%s%s", missing ? ", " : "", need[k]);
      missing++;
    }
  }
  return missing;
}

/* mysql_join.c - the last two stages of a MySQL 8 recipient: JOIN (the
 * version's replication statements, or Group Replication) and CAUGHT_UP
 * (WAIT_FOR_EXECUTED_GTID_SET against the source's gtid_executed, or
 * MEMBER_STATE=ONLINE in performance_schema.replication_group_members),
 * plus the engine's table of hooks. */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"

static int server_version(struct engine__my *s, struct engine_mysql_version *v, char *err) {
  char ver[160];
  int rc = engine__my_value(s, "SELECT @@version", "reading the new server's version", ver,
                            sizeof(ver), err);
  if (rc == 0 && engine_mysql_version_parse(ver, v) < 0) {
    engine__err(err, "the new server answered version '%s', not MySQL 8", ver);
    rc = SM_EINCOMPAT;
  }
  return rc;
}

/* The started server must already hold the snapshot's transactions (the
 * clone carries gtid_executed); otherwise auto-position would fetch them
 * all again, or a group would refuse the member. */
static int check_gtids(struct engine__my *s, const char *gtid, char *err) {
  if (gtid == NULL || gtid[0] == '\0') {
    return 0;
  }
  char *sql = sm_malloc(2 * ENGINE_VALUE_MAX + 64);
  if (sql == NULL) {
    return SM_ENOMEM;
  }
  snprintf(sql, 2 * ENGINE_VALUE_MAX + 64, "SELECT GTID_SUBSET(");
  int rc = engine_sql_quote(sql, 2 * ENGINE_VALUE_MAX + 64, gtid);
  strcat(sql, ", @@GLOBAL.gtid_executed)");
  char v[16] = "";
  if (rc == 0) {
    rc = engine__my_value(s, sql, "comparing gtid_executed", v, sizeof(v), err);
  }
  sm_free(sql);
  if (rc == 0 && strcmp(v, "1") != 0) {
    engine__err(err, "the new server's gtid_executed lacks the snapshot's transactions: was it "
                "started on another datadir?");
    rc = SM_ESTATE;
  }
  return rc;
}

/* The group's name and a seed (the source member's own address). */
static int group_of_source(const struct engine_join_options *o, char *name, char *seed,
                           size_t cap, char *err) {
  struct engine__my s = {0};
  int rc = engine__mysql_source_connect(o, &s, err);
  if (rc < 0) {
    return rc;
  }
  struct engine_kvset row;
  engine_kvset_init(&row);
  int found = 0;
  rc = engine__my_row(&s, "SELECT @@group_replication_group_name AS name, "
                      "@@group_replication_local_address AS address",
                      "reading the group's name from the source", &row, &found, err);
  engine__my_close(&s);
  const char *n = engine_kvset_get(&row, "name");
  const char *a = engine_kvset_get(&row, "address");
  if (rc == 0 && (n == NULL || n[0] == '\0')) {
    engine__err(err, "%s:%u is not a Group Replication member (group_replication_group_name is "
                "empty): name an ONLINE member with --source-host/--source-port",
                o->source_host, o->source_port);
    rc = SM_EENGINE;
  }
  if (rc == 0) {
    snprintf(name, cap, "%s", n);
    snprintf(seed, cap, "%s", a ? a : "");
  }
  engine_kvset_cleanup(&row);
  return rc;
}

static int ensure_gr_plugin(struct engine__my *s, char *err) {
  char status[64];
  int rc = engine__my_value(s, "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE "
                            "PLUGIN_NAME='group_replication'", "checking the group_replication "
                            "plugin", status, sizeof(status), err);
  if (rc == 0 && status[0] == '\0') {
    rc = engine__my_exec(s, "INSTALL PLUGIN group_replication SONAME 'group_replication.so'",
                         "INSTALL PLUGIN group_replication", NULL, err);
  } else if (rc == 0 && strcmp(status, "ACTIVE") != 0) {
    engine__err(err, "the group_replication plugin is %s on the new server: it must be ACTIVE",
                status);
    rc = SM_EENGINE;
  }
  return rc;
}

/* The statement name for messages: never the statement (it may carry a
 * password). */
static void statement_name(const char *sql, char *out, size_t cap) {
  static const char *const known[] = {"CHANGE REPLICATION SOURCE TO", "CHANGE MASTER TO",
                                      "START GROUP_REPLICATION", "START REPLICA", "START SLAVE"};
  for (size_t i = 0; i < SM_ARRAY_LEN(known); i++) {
    if (strncmp(sql, known[i], strlen(known[i])) == 0) {
      snprintf(out, cap, "%s", known[i]);
      return;
    }
  }
  snprintf(out, cap, "%.*s", (int)strcspn(sql, "="), sql);
}

static int mysql_join(const struct engine_server *srv, const struct engine_join_options *o,
                      char *err) {
  struct engine_join_options jo = *o;
  char group[128] = "", seed[300] = "";
  int rc = 0;
  if (jo.group_replication) {
    if (jo.group_local_address == NULL) {
      engine__err(err, "--group-replication needs --group-local-address HOST:PORT (this "
                  "member's group communication address)");
      return SM_EINVAL;
    }
    rc = group_of_source(&jo, group, seed, sizeof(group), err);
    if (rc < 0) {
      return rc;
    }
    if (jo.group_seeds == NULL) {
      jo.group_seeds = seed;
    }
  }
  char (*stmts)[ENGINE_MYSQL_SQL_MAX] = sm_calloc(ENGINE_MYSQL_STMTS_MAX, ENGINE_MYSQL_SQL_MAX);
  if (stmts == NULL) {
    engine__err(err, "out of memory");
    return SM_ENOMEM;
  }
  struct engine__my s = {0};
  struct engine_mysql_version v;
  size_t n = 0, secret = 0;
  rc = engine__my_connect(&s, &srv->admin, NULL, 10, err);
  rc = rc ? rc : server_version(&s, &v, err);
  rc = rc ? rc : check_gtids(&s, jo.gtid, err);
  if (rc == 0 && jo.group_replication) {
    rc = ensure_gr_plugin(&s, err);
  }
  if (rc == 0 && engine_mysql_join_sql(&v, &jo, group, stmts, &n, &secret) < 0) {
    engine__err(err, "cannot build the join statements (source, user, group name '%s', local "
                "address or seeds missing or too long)", group);
    rc = SM_EINVAL;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char what[64];
    statement_name(stmts[i], what, sizeof(what));
    rc = engine__my_exec(&s, stmts[i], what, NULL, err);
  }
  engine__my_close(&s);
  sodium_memzero(stmts[secret], ENGINE_MYSQL_SQL_MAX);
  sm_free(stmts);
  return rc;
}

static int wait_group(struct engine__my *s, unsigned timeout_s, char *out_gtid, char *err) {
  double start = engine__now_s();
  char state[64] = "";
  for (;;) {
    int rc = engine__my_value(s, "SELECT MEMBER_STATE FROM performance_schema."
                              "replication_group_members WHERE MEMBER_ID=@@server_uuid",
                              "reading replication_group_members", state, sizeof(state), err);
    if (rc < 0) {
      return rc;
    }
    if (strcmp(state, "ONLINE") == 0) {
      return engine__my_value(s, "SELECT @@GLOBAL.gtid_executed", "reading gtid_executed",
                              out_gtid, ENGINE_VALUE_MAX + 1, err);
    }
    if (strcmp(state, "ERROR") == 0 || strcmp(state, "OFFLINE") == 0 || state[0] == '\0') {
      engine__err(err, "the member is %s instead of joining the group: distributed recovery "
                  "failed (donor binlogs purged, recovery credentials, or a clone it could not "
                  "do: see its error log)", state[0] ? state : "not in the group");
      return SM_EENGINE;
    }
    if (engine__now_s() - start > timeout_s) {
      engine__err(err, "the member is still %s after %u s (distributed recovery is applying "
                  "the group's binlogs: raise --timeout)", state, timeout_s);
      return SM_ETIMEOUT;
    }
    engine__sleep_ms(500);
  }
}

/* The replica's status row, as kv with lower-cased names, and its error. */
static int replica_error(struct engine__my *s, const struct engine_mysql_version *v,
                         unsigned *io_errno, char *msg, size_t cap, char *err) {
  struct engine_kvset row;
  engine_kvset_init(&row);
  int found = 0;
  int newer = engine_mysql_version_cmp(v, 8, 0, 22) >= 0;
  int rc = engine__my_row(s, newer ? "SHOW REPLICA STATUS" : "SHOW SLAVE STATUS",
                          "reading the replica status", &row, &found, err);
  *io_errno = 0;
  msg[0] = '\0';
  if (rc == 0 && !found) {
    engine__err(err, "the new server has no replication configured any more");
    rc = SM_EENGINE;
  }
  if (rc == 0) {
    const char *se = engine_kvset_get(&row, "last_sql_errno");
    const char *ie = engine_kvset_get(&row, "last_io_errno");
    if (se != NULL && strcmp(se, "0") != 0) {
      const char *m = engine_kvset_get(&row, "last_sql_error");
      engine__err(err, "replication stopped applying: error %s: %.300s", se, m ? m : "");
      rc = SM_EENGINE;
    } else if (ie != NULL && strcmp(ie, "0") != 0) {
      const char *m = engine_kvset_get(&row, "last_io_error");
      *io_errno = (unsigned)strtoul(ie, NULL, 10);
      snprintf(msg, cap, "%s", m ? m : "");
    }
  }
  engine_kvset_cleanup(&row);
  return rc;
}

static int wait_async(struct engine__my *s, const struct engine_join_options *o,
                      unsigned timeout_s, const char *target, char *err) {
  struct engine_mysql_version v;
  int rc = server_version(s, &v, err);
  char *sql = sm_malloc(2 * ENGINE_VALUE_MAX + 64);
  if (rc < 0 || sql == NULL) {
    sm_free(sql);
    return rc < 0 ? rc : SM_ENOMEM;
  }
  snprintf(sql, 2 * ENGINE_VALUE_MAX + 64, "SELECT WAIT_FOR_EXECUTED_GTID_SET(");
  engine_sql_quote(sql, 2 * ENGINE_VALUE_MAX + 64, target);
  strcat(sql, ", 1)");
  double start = engine__now_s(), io_bad_since = 0;
  for (;;) {
    char v1[16], msg[400];
    unsigned io = 0;
    rc = replica_error(s, &v, &io, msg, sizeof(msg), err);
    if (rc < 0) {
      break;
    }
    if (io != 0) {
      io_bad_since = io_bad_since == 0 ? engine__now_s() : io_bad_since;
      if (io == 13114 || io == 1236 || engine__now_s() - io_bad_since > 20) {
        engine__err(err, "replication cannot read from %s:%u: error %u: %.250s%s",
                    o->source_host, o->source_port, io, msg,
                    io == 13114 || io == 1236 ? " (the source purged binlogs the snapshot "
                    "needs: take a newer snapshot or keep binlogs longer)" : "");
        rc = SM_EENGINE;
        break;
      }
    } else {
      io_bad_since = 0;
    }
    rc = engine__my_value(s, sql, "WAIT_FOR_EXECUTED_GTID_SET", v1, sizeof(v1), err);
    if (rc < 0 || strcmp(v1, "0") == 0) {
      break;
    }
    if (engine__now_s() - start > timeout_s) {
      engine__err(err, "not caught up after %u s with the source's '%.200s'", timeout_s, target);
      rc = SM_ETIMEOUT;
      break;
    }
  }
  sm_free(sql);
  return rc;
}

static int mysql_wait(const struct engine_server *srv, const struct engine_join_options *o,
                      unsigned timeout_s, char *out_gtid, char *err) {
  struct engine__my s = {0};
  int rc = 0;
  if (!o->group_replication) {
    uint32_t id = 0;
    rc = engine__mysql_probe(o, out_gtid, &id, err);
  }
  rc = rc ? rc : engine__my_connect(&s, &srv->admin, NULL, 10, err);
  if (rc == 0) {
    rc = o->group_replication ? wait_group(&s, timeout_s, out_gtid, err)
                              : wait_async(&s, o, timeout_s, out_gtid, err);
  }
  engine__my_close(&s);
  return rc;
}

const struct engine_ops engine__mysql_ops = {
    .name = "mysql",
    .label = "MySQL",
    .flags = ENGINE_JOIN_NEEDS_SOURCE,
    .snapshot = engine__mysql_snapshot,
    .check = engine__mysql_check,
    .prepare = engine__mysql_prepare,
    .start = engine__mysql_start,
    .join = mysql_join,
    .wait_caught_up = mysql_wait,
    .local_facts = engine_mysql_local_facts,
    .probe = engine__mysql_probe,
    .position = engine__mysql_position,
};

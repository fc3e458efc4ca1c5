/* galera_join.c - the "galera" engine: `seedmesh join --engine galera` seeds
 * a new cluster node from a swarm snapshot taken with --galera-info, writes
 * grastate.dat at the snapshot's uuid:seqno and starts the node with its own
 * option file, so that it joins by IST (only the write-sets since the
 * snapshot) instead of a full SST. Before anything is written the donor's
 * IST window is checked against the snapshot (docs/galera.md). */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static int galera_snapshot(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                           char *err) {
  struct engine_snapshot_options g = *o;
  g.galera = 1;
  return engine__mariadb_ops.snapshot(&g, out, err);
}

/* The cluster member named by --source-host/--source-port. */
static int member_window(const struct engine_join_options *o, struct engine_galera_window *w,
                         char *err) {
  if (o->source_host == NULL || o->source_port == 0) {
    engine__err(err, "--engine galera needs --source-host and --source-port: a running member "
                "of the cluster (its SQL port), to check it can still serve IST");
    return SM_EINVAL;
  }
  struct engine_conn c = {.host = o->source_host, .port = o->source_port, .user = o->user};
  const char *password = o->password != NULL && o->password[0] != '\0' ? o->password : NULL;
  int rc = engine_galera_window(&c, password, w, err);
  if (rc == 0 && w->uuid[0] == '\0') {
    engine__err(err, "%s:%u reports no cluster state uuid: is it a synced Galera node?",
                o->source_host, o->source_port);
    rc = SM_EENGINE;
  }
  return rc;
}

static int galera_probe(const struct engine_join_options *o, char *out_position,
                        uint32_t *out_server_id, char *err) {
  struct engine_galera_window w;
  int rc = member_window(o, &w, err);
  if (rc == 0) {
    snprintf(out_position, ENGINE_VALUE_MAX + 1, "%s:%" PRId64, w.uuid, w.last_committed);
    *out_server_id = 0;
  }
  return rc;
}

/* xtrabackup_galera_info of a tree. */
static int tree_galera_info(const char *tree, struct engine_galera_info *gi, char *err) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/xtrabackup_galera_info", tree);
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc == 0) {
    rc = engine_parse_galera_info(buf, len, gi);
    sm_free(buf);
  }
  if (rc < 0) {
    engine__err(err, "%s is missing or malformed: take the snapshot on a cluster member with "
                "seedmesh snapshot --engine galera (or --engine mariadb --galera-info)", path);
  }
  return rc;
}

static int galera_position(const char *tree, const struct engine_kvset *coords,
                           const struct engine_join_options *o, char *out, char *err) {
  struct engine_galera_info gi;
  int rc = tree_galera_info(tree, &gi, err);
  if (rc < 0) {
    return rc;
  }
  const char *uuid = engine_kvset_get(coords, "galera_uuid");
  const char *seqno = engine_kvset_get(coords, "galera_seqno");
  char mine[64];
  snprintf(mine, sizeof(mine), "%" PRId64, gi.seqno);
  if (uuid == NULL || seqno == NULL || strcmp(uuid, gi.uuid) != 0 || strcmp(seqno, mine) != 0) {
    engine__err(err, "the snapshot's signed Galera position (%s:%s) and its "
                "xtrabackup_galera_info (%s:%s) disagree", uuid ? uuid : "-",
                seqno ? seqno : "-", gi.uuid, mine);
    return SM_EMALFORMED;
  }
  struct engine_galera_window w;
  rc = member_window(o, &w, err);
  if (rc == 0) {
    rc = engine_galera_ist_check(gi.uuid, gi.seqno, &w, err);
  }
  if (rc == 0) {
    snprintf(out, ENGINE_VALUE_MAX + 1, "%s:%" PRId64, gi.uuid, gi.seqno);
  }
  return rc;
}

/* Redo applied like any MariaDB copy, then the saved state Galera reads at
 * start: without it the node would ask for a full SST. */
static int galera_prepare(const char *dir, const struct engine_local *local, const char *log_path,
                          char *err) {
  int rc = engine__mariadb_prepare(dir, local, log_path, err);
  struct engine_galera_info gi;
  if (rc == 0) {
    rc = tree_galera_info(dir, &gi, err);
  }
  if (rc == 0) {
    rc = engine_galera_grastate_write(dir, gi.uuid, gi.seqno, err);
  }
  return rc;
}

/* Option names match with '-' and '_' alike, as the server reads them. */
static int option_name_is(const char *p, const char *name, size_t nl) {
  for (size_t i = 0; i < nl; i++) {
    char a = p[i] == '-' ? '_' : p[i];
    char b = name[i] == '-' ? '_' : name[i];
    if (a != b) {
      return 0;
    }
  }
  return p[nl] == '=';
}

/* The last value of --NAME= in mariadbd's --print-defaults output (the
 * node's option file as the server reads it; a later setting wins), into
 * out; 0 when found. */
static int option_value(const char *defaults, const char *name, char *out, size_t cap) {
  const char *p = defaults;
  size_t nl = strlen(name);
  int found = -1;
  while ((p = strstr(p, "--")) != NULL) {
    p += 2;
    if (option_name_is(p, name, nl)) {
      size_t l = strcspn(p + nl + 1, " \t\n");
      if (l == 0 || l >= cap) {
        return -1;
      }
      memcpy(out, p + nl + 1, l);
      out[l] = '\0';
      found = 0;
    }
  }
  return found;
}

static int galera_start(const struct engine_start_options *o, struct engine_server *out,
                        char *err) {
  if (o->defaults_file == NULL) {
    engine__err(err, "--engine galera needs --defaults-file: the node's option file with its "
                "wsrep settings (wsrep_cluster_address, provider, ports)");
    return SM_EINVAL;
  }
  char bin[4096], arg[4200];
  const char *name = o->server_binary ? o->server_binary : "mariadbd";
  if (engine__which(name, bin, sizeof(bin)) < 0) {
    engine__err(err, "%s not found: apt-get install mariadb-server galera-4", name);
    return SM_ENOTFOUND;
  }
  snprintf(arg, sizeof(arg), "--defaults-file=%s", o->defaults_file);
  char *argv[] = {bin, arg, (char *)"--print-defaults", NULL};
  char *defaults = sm_malloc(65536);
  if (defaults == NULL) {
    return SM_ENOMEM;
  }
  int status = 0;
  int rc = engine__capture(argv, defaults, 65536, &status);
  if (rc < 0 || status != 0 || strstr(defaults, "--wsrep") == NULL) {
    engine__err(err, "%s has no wsrep settings that %s reads (check its [mysqld] or [galera] "
                "section)", o->defaults_file, name);
    sm_free(defaults);
    return SM_EINVAL;
  }
  /* Galera runs the joiner side of its SST method even when the donor then
   * answers with IST only: a missing script fails the join at its start. */
  char method[64] = "rsync", script[128], found[4096];
  option_value(defaults, "wsrep_sst_method", method, sizeof(method));
  snprintf(script, sizeof(script), "wsrep_sst_%s", method);
  if (engine__which(script, found, sizeof(found)) < 0) {
    engine__err(err, "wsrep_sst_method=%s but %s is not on PATH: Galera runs it on the joiner "
                "even for an IST-only join (install it, or pick another method)", method, script);
    sm_free(defaults);
    return SM_ENOTFOUND;
  }
  char sock[256] = "", log[4096] = "", logpath[8200];
  struct engine_start_options g = *o;
  if (o->socket == NULL && option_value(defaults, "socket", sock, sizeof(sock)) == 0) {
    g.socket = sock;
  }
  if (o->log_path == NULL && option_value(defaults, "log-error", log, sizeof(log)) == 0) {
    snprintf(logpath, sizeof(logpath), "%s%s%s", log[0] == '/' ? "" : o->datadir,
             log[0] == '/' ? "" : "/", log);
    g.log_path = logpath;
  }
  sm_free(defaults);
  if (g.timeout_s == 0) {
    g.timeout_s = 600; /* the socket opens once the node has joined */
  }
  return engine__mariadb_start(&g, out, err);
}

static int galera_join(const struct engine_server *srv, const struct engine_join_options *o,
                       char *err) {
  MYSQL *m = NULL;
  char v[64];
  int rc = engine__connect(&srv->admin, NULL, 10, &m, err);
  if (rc == 0) {
    rc = engine__query_value(m, "SELECT @@wsrep_on", v, sizeof(v), err);
    engine__close(m);
  }
  if (rc == 0 && strcmp(v, "1") != 0) {
    engine__err(err, "the node started with wsrep_on=OFF: set wsrep_on=ON in --defaults-file");
    rc = SM_EENGINE;
  }
  return rc;
}

static int galera_wait(const struct engine_server *srv, const struct engine_join_options *o,
                       unsigned timeout_s, char *out_gtid, char *err) {
  double deadline = engine__now_s() + timeout_s;
  char state[64] = "", uuid[64] = "", seqno[32] = "";
  for (;;) {
    MYSQL *m = NULL;
    char qerr[ENGINE_ERR_MAX];
    if (engine__connect(&srv->admin, NULL, 10, &m, qerr) == 0) {
      int rc = engine__galera_status(m, "WSREP_LOCAL_STATE_COMMENT", state, sizeof(state), qerr);
      if (rc == 0 && strcmp(state, "Synced") == 0) {
        rc = engine__galera_status(m, "WSREP_LOCAL_STATE_UUID", uuid, sizeof(uuid), qerr);
        rc = rc ? rc : engine__galera_status(m, "WSREP_LAST_COMMITTED", seqno, sizeof(seqno), qerr);
        if (rc == 0) {
          engine__close(m);
          snprintf(out_gtid, ENGINE_VALUE_MAX + 1, "%s:%s", uuid, seqno);
          return 0;
        }
        /* Synced, but its position could not be read: asked again below,
         * until the deadline names the last error. */
        snprintf(state, sizeof(state), "Synced, position unread");
      }
      engine__close(m);
    }
    if (srv->pid > 0 && !engine__pid_alive(srv->pid)) {
      engine__err(err, "mariadbd exited before the node was Synced (last state '%s'): see its "
                  "error log", state);
      return SM_EENGINE;
    }
    if (engine__now_s() > deadline) {
      engine__err(err, "the node was not Synced within %u s (state '%s')", timeout_s, state);
      return SM_ETIMEOUT;
    }
    engine__sleep_ms(500);
  }
}

const struct engine_ops engine__galera_ops = {
    .name = "galera",
    .label = "Galera",
    .flags = ENGINE_JOIN_NEEDS_DEFAULTS_FILE,
    .snapshot = galera_snapshot,
    .check = engine__mariadb_check,
    .prepare = galera_prepare,
    .start = galera_start,
    .join = galera_join,
    .wait_caught_up = galera_wait,
    .local_facts = engine_mariadb_local_facts,
    .probe = galera_probe,
    .position = galera_position,
};

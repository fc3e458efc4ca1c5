/* galera.c - what the Galera side of the MariaDB engine needs beyond a
 * MariaDB replica: the donor's IST window (the write-set cache, gcache) read
 * from a running node, the decision whether a snapshot at seqno S can still
 * be completed by IST, and grastate.dat for a node seeded from a snapshot.
 * docs/galera.md explains how these fit together. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static int parse_i64(const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') {
    return SM_EMALFORMED;
  }
  *out = v;
  return 0;
}

/* Reads up to 18 digits at buf[*at]; the number, or -1 when there are none. */
static int64_t read_seqno(const uint8_t *buf, size_t len, size_t *at) {
  int64_t v = 0;
  size_t digits = 0;
  while (*at < len && buf[*at] >= '0' && buf[*at] <= '9' && digits < 18) {
    v = v * 10 + (buf[*at] - '0');
    (*at)++;
    digits++;
  }
  return digits > 0 ? v : -1;
}

int engine_galera_parse_preload(const uint8_t *buf, size_t len, int64_t *start, int64_t *end) {
  static const char tag[] = "Cert index preload: ";
  static const char arrow[] = " -> ";
  const size_t tl = sizeof(tag) - 1, al = sizeof(arrow) - 1;
  int found = 0;
  for (size_t i = 0; i + tl < len; i++) {
    if (buf[i] != 'C' || memcmp(buf + i, tag, tl) != 0) {
      continue;
    }
    size_t j = i + tl;
    int64_t a = read_seqno(buf, len, &j);
    if (a < 0 || j + al > len || memcmp(buf + j, arrow, al) != 0) {
      continue;
    }
    j += al;
    int64_t b = read_seqno(buf, len, &j);
    /* a whole line only: the log's last line may still be being written */
    if (b >= 0 && j < len && (buf[j] == '\n' || buf[j] == '\r')) {
      *start = a;
      *end = b;
      found = 1;
    }
  }
  return found ? 0 : SM_ENOTFOUND;
}

/* The tail of the server's error log (relative paths are in the datadir). */
static void read_preload(const char *log, const char *datadir, int64_t *start, int64_t *end) {
  char path[8300];
  if (log[0] == '/') {
    snprintf(path, sizeof(path), "%s", log);
  } else {
    snprintf(path, sizeof(path), "%s/%s", datadir, log);
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return;
  }
  static const long tail = 256 * 1024;
  uint8_t *buf = sm_malloc((size_t)tail);
  if (buf != NULL && fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    long from = size > tail ? size - tail : 0;
    if (size >= 0 && fseek(f, from, SEEK_SET) == 0) {
      size_t n = fread(buf, 1, (size_t)tail, f);
      engine_galera_parse_preload(buf, n, start, end);
    }
  }
  sm_free(buf);
  fclose(f);
}

int engine__galera_status(MYSQL *m, const char *name, char *out, size_t cap, char *err) {
  char sql[160];
  snprintf(sql, sizeof(sql),
           "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='%s'",
           name);
  return engine__query_value(m, sql, out, cap, err);
}

int engine_galera_window(const struct engine_conn *c, const char *password,
                         struct engine_galera_window *out, char *err) {
  MYSQL *m = NULL;
  char v[128];
  memset(out, 0, sizeof(*out));
  int rc = engine__connect(c, password, 10, &m, err);
  if (rc < 0) {
    return rc;
  }
  static const struct {
    const char *name;
    size_t off;
  } q[] = {
      {"WSREP_LOCAL_CACHED_DOWNTO", offsetof(struct engine_galera_window, cached_downto)},
      {"WSREP_LAST_COMMITTED", offsetof(struct engine_galera_window, last_committed)},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(q); i++) {
    rc = engine__galera_status(m, q[i].name, v, sizeof(v), err);
    if (rc < 0) {
      goto out;
    }
    if (parse_i64(v, (int64_t *)((char *)out + q[i].off)) < 0) {
      engine__err(err, "the server is not a Galera node (wsrep status '%.60s'): is "
                  "wsrep_on set and the provider loaded?", v);
      rc = SM_EENGINE;
      goto out;
    }
  }
  rc = engine__galera_status(m, "WSREP_LOCAL_STATE_UUID", out->uuid, sizeof(out->uuid), err);
  out->preload_start = -1;
  out->preload_end = -1;
  char log[4096], dir[4096];
  if (rc == 0 && engine__query_value(m, "SELECT @@log_error", log, sizeof(log), err) == 0 &&
      engine__query_value(m, "SELECT @@datadir", dir, sizeof(dir), err) == 0 && log[0] != '\0') {
    read_preload(log, dir, &out->preload_start, &out->preload_end);
  }
out:
  engine__close(m);
  return rc;
}

int engine_galera_ist_check(const char *snap_uuid, int64_t snap_seqno,
                            const struct engine_galera_window *w, char *err) {
  if (w->uuid[0] != '\0' && strcmp(snap_uuid, w->uuid) != 0) {
    engine__err(err, "the snapshot belongs to cluster state %s but the donor is at %s: take a "
                "new snapshot on this cluster (seedmesh snapshot --engine mariadb --galera-info)",
                snap_uuid, w->uuid);
    return SM_EINCOMPAT;
  }
  if (snap_seqno < 0) {
    engine__err(err, "the snapshot has no Galera position (seqno -1): take it with "
                "--galera-info on a synced node");
    return SM_EINCOMPAT;
  }
  if (snap_seqno > w->last_committed) {
    engine__err(err, "the snapshot (seqno %" PRId64 ") is ahead of the donor (seqno %" PRId64
                "): it comes from another history", snap_seqno, w->last_committed);
    return SM_EINCOMPAT;
  }
  if (snap_seqno == w->last_committed) {
    return 0; /* nothing to replay */
  }
  if (w->cached_downto <= 0 || snap_seqno + 1 < w->cached_downto) {
    engine__err(err, "the snapshot (seqno %" PRId64 ") is older than the donor's IST window "
                "(gcache holds seqnos %" PRId64 "..%" PRId64 "): Galera would fall back to a "
                "full SST; take a new snapshot, or raise gcache.size to cover %" PRId64
                " write-sets", snap_seqno, w->cached_downto, w->last_committed,
                w->last_committed - snap_seqno);
    return SM_EINCOMPAT;
  }
  return 0;
}

int engine_galera_grastate_write(const char *datadir, const char *uuid, int64_t seqno,
                                 char *err) {
  char path[4200];
  char text[256];
  if ((size_t)snprintf(path, sizeof(path), "%s/grastate.dat", datadir) >= sizeof(path)) {
    engine__err(err, "datadir path too long");
    return SM_ETOOBIG;
  }
  int n = snprintf(text, sizeof(text),
                   "# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %" PRId64
                   "\nsafe_to_bootstrap: 0\n", uuid, seqno);
  int rc = sm_fs_write_atomic(path, text, (size_t)n, 0660);
  if (rc < 0) {
    engine__err(err, "cannot write %s: %s", path, sm_strerror(rc));
  }
  return rc;
}

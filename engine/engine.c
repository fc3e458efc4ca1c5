/* engine.c - the engine table and the trivial `dir` engine, whose snapshot
 * is a directory as it is and which has nothing to prepare, start or join. */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

void engine_snapshot_init(struct engine_snapshot *s) {
  memset(s, 0, sizeof(*s));
  engine_kvset_init(&s->facts);
  engine_kvset_init(&s->coords);
}

void engine_snapshot_cleanup(struct engine_snapshot *s) {
  if (s->remove_after && s->dir[0] != '\0') {
    engine__remove_tree(s->dir);
    char *slash = strrchr(s->dir, '/');
    if (s->remove_after == 2 && slash != NULL && slash != s->dir) {
      *slash = '\0';
      rmdir(s->dir); /* the staging parent, empty now */
    }
  }
  engine_kvset_cleanup(&s->facts);
  engine_kvset_cleanup(&s->coords);
  memset(s, 0, sizeof(*s));
}

static int dir_snapshot(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                        char *err) {
  struct stat st;
  if (o->source == NULL || stat(o->source, &st) != 0 || !S_ISDIR(st.st_mode)) {
    engine__err(err, "--source %s is not a directory",
             o->source ? o->source : "(none)");
    return SM_EINVAL;
  }
  if ((size_t)snprintf(out->dir, sizeof(out->dir), "%s", o->source) >= sizeof(out->dir)) {
    engine__err(err, "--source path is too long");
    return SM_ETOOBIG;
  }
  out->remove_after = 0;
  return engine_kvset_set(&out->facts, "flavor", "dir");
}

static int dir_check(const struct engine_kvset *facts, const struct engine_local *local,
                     char *err) {
  return 0;
}

static int dir_prepare(const char *dir, const struct engine_local *local, const char *log_path,
                       char *err) {
  return 0;
}

static int dir_start(const struct engine_start_options *o, struct engine_server *out,
                     char *err) {
  memset(out, 0, sizeof(*out));
  return 0;
}

static int dir_join(const struct engine_server *srv, const struct engine_join_options *o,
                    char *err) {
  return 0;
}

static int dir_wait(const struct engine_server *srv, const struct engine_join_options *o,
                    unsigned timeout_s, char *out_gtid, char *err) {
  out_gtid[0] = '\0';
  return 0;
}

const struct engine_ops engine__dir_ops = {
    .name = "dir",
    .label = "directory",
    .snapshot = dir_snapshot,
    .check = dir_check,
    .prepare = dir_prepare,
    .start = dir_start,
    .join = dir_join,
    .wait_caught_up = dir_wait,
};

const struct engine_ops *engine_find(const char *name) {
  static const struct engine_ops *const all[] = {&engine__dir_ops, &engine__mariadb_ops,
                                                 &engine__mysql_ops};
  for (size_t i = 0; i < SM_ARRAY_LEN(all); i++) {
    if (strcmp(all[i]->name, name) == 0) {
      return all[i];
    }
  }
  return NULL;
}

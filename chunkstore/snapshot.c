/* snapshot.c - cuts a directory tree into chunks: walks it, hashes and
 * compresses every chunk on all cores, stores the chunks the store lacks,
 * then writes and signs the manifest. */
#include "chunkstore/chunkstore_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct walk_item {
  char *path;
  uint32_t kind;
  uint32_t mode;
  uint64_t size;
};

struct walk {
  struct walk_item *items;
  size_t n, cap;
  char *bad_path;
};

static int walk_add(struct walk *w, const char *path, uint32_t kind, const struct stat *st) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 256;
    struct walk_item *grown = sm_realloc(w->items, cap * sizeof(*grown));
    if (grown == NULL) {
      return SM_ENOMEM;
    }
    w->items = grown;
    w->cap = cap;
  }
  char *copy = sm_strdup(path);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  w->items[w->n].path = copy;
  w->items[w->n].kind = kind;
  w->items[w->n].mode = st->st_mode & 07777;
  w->items[w->n].size = kind == CHUNKSTORE_ENTRY_FILE ? (uint64_t)st->st_size : 0;
  w->n++;
  return 0;
}

static int walk_dir(struct walk *w, int dir_fd, const char *prefix) {
  int rc = 0;
  DIR *d = fdopendir(dir_fd);
  if (d == NULL) {
    close(dir_fd);
    return sm_errno();
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (de == NULL) {
      rc = errno != 0 ? sm_errno() : 0;
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
      continue;
    }
    char path[CHUNKSTORE_PATH_MAX + 1];
    int n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
    if (n < 0 || (size_t)n >= sizeof(path) || chunkstore_path_check(path) < 0) {
      snprintf(w->bad_path, CHUNKSTORE_PATH_MAX + 1, "%s/%s", prefix, de->d_name);
      rc = SM_EPATH;
      break;
    }
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = sm_errno();
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      rc = walk_add(w, path, CHUNKSTORE_ENTRY_DIR, &st);
      if (rc == 0) {
        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = sub < 0 ? sm_errno() : walk_dir(w, sub, path);
      }
    } else if (S_ISREG(st.st_mode)) {
      rc = walk_add(w, path, CHUNKSTORE_ENTRY_FILE, &st);
    } else {
      snprintf(w->bad_path, CHUNKSTORE_PATH_MAX + 1, "%s", path);
      rc = SM_EPATH; /* symlink, socket, device: not part of a datadir copy */
    }
    if (rc < 0) {
      break;
    }
  }
  closedir(d);
  return rc;
}

static int walk_item_compare(const void *a, const void *b) {
  return strcmp(((const struct walk_item *)a)->path, ((const struct walk_item *)b)->path);
}

struct chunker {
  const struct chunkstore_snapshot_options *opt;
  struct chunkstore_manifest *m;
  int source_fd;
  atomic_uint_fast64_t next_slot;
  atomic_uint_fast64_t done_bytes;
  atomic_int failed;
  pthread_mutex_t lock;
  struct chunkstore_snapshot_stats stats;
  char *bad_path;
};

static void chunker_fail(struct chunker *c, int rc, const char *path) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&c->failed, &expected, rc) && path != NULL) {
    snprintf(c->bad_path, CHUNKSTORE_PATH_MAX + 1, "%s", path);
  }
}

static int chunk_one(struct chunker *c, uint64_t slot, int *fd, const struct chunkstore_entry **open_entry,
                     uint8_t *raw, uint8_t *enc_buf, struct chunkstore_snapshot_stats *st) {
  uint64_t offset = 0;
  const struct chunkstore_entry *e = chunkstore_slot_entry(c->m, slot, &offset);
  uint32_t len = chunkstore__slot_len(e, slot - e->first_slot, c->m->chunk_size);
  if (e != *open_entry) {
    if (*fd >= 0) {
      close(*fd);
    }
    *fd = openat(c->source_fd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    *open_entry = e;
    if (*fd < 0) {
      return sm_errno();
    }
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(*fd, raw + got, len - got, (off_t)(offset + got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return sm_errno();
    }
    if (n == 0) {
      return SM_ESTATE; /* the file shrank while we read it */
    }
    got += (size_t)n;
  }
  uint8_t *id = c->m->slots[slot];
  st->chunks++;
  if (sm_is_zero(raw, len)) {
    memset(id, 0, CHUNKSTORE_ID_BYTES);
    st->zero_chunks++;
    return 0;
  }
  chunkstore_chunk_id(raw, len, id);
  if (chunkstore_store_has_chunk(c->opt->store, id)) {
    st->reused_chunks++;
    return 0;
  }
  enum chunkstore_encoding enc;
  size_t enc_len = 0;
  int rc = chunkstore_chunk_encode(raw, len, c->opt->zstd_level ? c->opt->zstd_level : 1, enc_buf,
                                   chunkstore_encode_bound(c->m->chunk_size), &enc, &enc_len);
  if (rc == 0) {
    rc = chunkstore_store_put_chunk(c->opt->store, id, enc, len, enc_buf, enc_len);
  }
  if (rc == 0) {
    st->new_chunks++;
    st->stored_bytes += enc_len;
  }
  return rc;
}

static void *chunker_thread(void *arg) {
  struct chunker *c = arg;
  struct chunkstore_snapshot_stats st;
  const struct chunkstore_entry *open_entry = NULL;
  int fd = -1;
  memset(&st, 0, sizeof(st));
  uint8_t *raw = sm_malloc(c->m->chunk_size);
  uint8_t *enc_buf = sm_malloc(chunkstore_encode_bound(c->m->chunk_size));
  if (raw == NULL || enc_buf == NULL) {
    chunker_fail(c, SM_ENOMEM, NULL);
    goto out;
  }
  while (atomic_load(&c->failed) == 0) {
    uint64_t slot = atomic_fetch_add(&c->next_slot, 1);
    if (slot >= c->m->n_slots) {
      break;
    }
    int rc = chunk_one(c, slot, &fd, &open_entry, raw, enc_buf, &st);
    if (rc < 0) {
      chunker_fail(c, rc, open_entry != NULL ? open_entry->path : NULL);
      break;
    }
    uint64_t off = 0;
    const struct chunkstore_entry *e = chunkstore_slot_entry(c->m, slot, &off);
    atomic_fetch_add(&c->done_bytes, chunkstore__slot_len(e, slot - e->first_slot, c->m->chunk_size));
  }
out:
  if (fd >= 0) {
    close(fd);
  }
  sm_free(raw);
  sm_free(enc_buf);
  pthread_mutex_lock(&c->lock);
  c->stats.chunks += st.chunks;
  c->stats.zero_chunks += st.zero_chunks;
  c->stats.new_chunks += st.new_chunks;
  c->stats.reused_chunks += st.reused_chunks;
  c->stats.stored_bytes += st.stored_bytes;
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

static int run_chunkers(struct chunker *c, int threads) {
  pthread_t tids[64];
  int started = 0;
  threads = SM_MAX(1, SM_MIN(threads, (int)SM_ARRAY_LEN(tids)));
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&tids[i], NULL, chunker_thread, c) != 0) {
      chunker_fail(c, SM_ENOMEM, NULL);
      break;
    }
    started++;
  }
  while (c->opt->progress != NULL && atomic_load(&c->failed) == 0 &&
         atomic_load(&c->done_bytes) < c->m->total_bytes) {
    c->opt->progress(c->opt->progress_arg, atomic_load(&c->done_bytes), c->m->total_bytes);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  for (int i = 0; i < started; i++) {
    pthread_join(tids[i], NULL);
  }
  if (c->opt->progress != NULL) {
    c->opt->progress(c->opt->progress_arg, atomic_load(&c->done_bytes), c->m->total_bytes);
  }
  return atomic_load(&c->failed);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int chunkstore_snapshot(const struct chunkstore_snapshot_options *opt,
                        struct chunkstore_manifest **out,
                        struct chunkstore_snapshot_stats *out_stats, char *out_bad_path) {
  int rc = 0;
  struct walk w;
  struct chunker c;
  char bad_path[CHUNKSTORE_PATH_MAX + 1] = "";
  struct chunkstore_manifest *m = NULL;
  uint32_t chunk_size = opt->chunk_size ? opt->chunk_size : CHUNKSTORE_CHUNK_DEFAULT;
  double started = now_seconds();
  memset(&w, 0, sizeof(w));
  memset(&c, 0, sizeof(c));
  c.source_fd = -1;
  w.bad_path = bad_path;
  c.bad_path = bad_path;
  *out = NULL;
  if (chunk_size < CHUNKSTORE_CHUNK_MIN || chunk_size > CHUNKSTORE_CHUNK_MAX ||
      (chunk_size & (chunk_size - 1)) != 0) {
    return SM_EINVAL;
  }
  c.source_fd = open(opt->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c.source_fd < 0) {
    rc = sm_errno();
    goto out;
  }
  int walk_fd = dup(c.source_fd);
  rc = walk_fd < 0 ? sm_errno() : walk_dir(&w, walk_fd, "");
  if (rc < 0) {
    goto out;
  }
  qsort(w.items, w.n, sizeof(*w.items), walk_item_compare);
  m = chunkstore_manifest_new(chunk_size);
  if (m == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < w.n && rc == 0; i++) {
    const struct walk_item *it = &w.items[i];
    rc = it->kind == CHUNKSTORE_ENTRY_DIR
             ? chunkstore_manifest_add_dir(m, it->path, it->mode)
             : chunkstore_manifest_add_file(m, it->path, it->mode, it->size, NULL);
  }
  for (size_t i = 0; i < opt->n_facts && rc == 0; i++) {
    rc = chunkstore_manifest_set_fact(m, opt->facts[i].key, opt->facts[i].value);
  }
  for (size_t i = 0; i < opt->n_coords && rc == 0; i++) {
    rc = chunkstore_manifest_set_coord(m, opt->coords[i].key, opt->coords[i].value);
  }
  if (rc < 0) {
    goto out;
  }
  rc = sm_fs_mkdir_p(opt->store, 0755);
  if (rc < 0) {
    goto out;
  }
  c.opt = opt;
  c.m = m;
  pthread_mutex_init(&c.lock, NULL);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  rc = run_chunkers(&c, opt->threads > 0 ? opt->threads : (int)(cpus > 0 ? cpus : 1));
  pthread_mutex_destroy(&c.lock);
  if (rc < 0) {
    goto out;
  }
  /* Chunks must be durable before a manifest names them. */
  int store_fd = open(opt->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (store_fd < 0 || syncfs(store_fd) != 0) {
    rc = sm_errno();
  }
  if (store_fd >= 0) {
    close(store_fd);
  }
  if (rc < 0) {
    goto out;
  }
  m->created = (uint64_t)time(NULL);
  memcpy(m->donor, opt->key->public_key, SM_PUBKEY_BYTES);
  rc = chunkstore__store_encode_manifest(opt->store, m);
  if (rc < 0) {
    goto out;
  }
  uint8_t sig[SM_SIG_BYTES];
  rc = chunkstore_manifest_sign(m, opt->key, sig);
  if (rc == 0) {
    rc = chunkstore_store_put_manifest(opt->store, m, sig);
  }
  if (rc < 0) {
    goto out;
  }
  if (out_stats != NULL) {
    *out_stats = c.stats;
    for (size_t i = 0; i < m->n_entries; i++) {
      if (m->entries[i].kind == CHUNKSTORE_ENTRY_DIR) {
        out_stats->dirs++;
      } else {
        out_stats->files++;
      }
    }
    out_stats->bytes = m->total_bytes;
    out_stats->seconds = now_seconds() - started;
  }
  *out = m;
  m = NULL;
out:
  if (rc < 0 && out_bad_path != NULL) {
    snprintf(out_bad_path, CHUNKSTORE_PATH_MAX + 1, "%s", bad_path);
  }
  if (c.source_fd >= 0) {
    close(c.source_fd);
  }
  for (size_t i = 0; i < w.n; i++) {
    sm_free(w.items[i].path);
  }
  sm_free(w.items);
  chunkstore_manifest_free(m);
  return rc;
}

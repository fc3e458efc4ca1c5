/* materialize.c - builds a target tree from a local store through a staging
 * area: reuses what an older copy already holds (whole chunks or changed
 * pages only), resumes after a crash, and swaps the result in atomically. */
#include "chunkstore/chunkstore_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct materializer {
  const struct chunkstore_materialize_options *opt;
  const struct chunkstore_manifest *m;
  struct chunkstore_staging *staging;
  const struct chunkstore_pieces *pieces;
  const char *base;
  atomic_uint_fast64_t next_piece;
  atomic_uint_fast64_t done_bytes;
  atomic_int failed;
  pthread_mutex_t lock;
  struct chunkstore_materialize_stats stats;
  double started;
  uint64_t store_bytes_read;   /* for the rate limit, under lock */
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps as long as reading `bytes` more would exceed the rate limit. */
static void rate_wait(struct materializer *mt, uint64_t bytes) {
  if (mt->opt->rate_limit == 0) {
    return;
  }
  pthread_mutex_lock(&mt->lock);
  mt->store_bytes_read += bytes;
  double due = mt->started + (double)mt->store_bytes_read / (double)mt->opt->rate_limit;
  pthread_mutex_unlock(&mt->lock);
  double wait = due - now_seconds();
  if (wait > 0) {
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

enum piece_source { FROM_BASE, FROM_DELTA, FROM_STORE };

static int fetch_piece(struct materializer *mt, uint64_t p, uint8_t *buf, uint8_t *scratch,
                       uint8_t *work, enum piece_source *out_src, uint64_t *out_bytes) {
  const uint8_t *id = mt->pieces->ids[p];
  uint32_t len = mt->pieces->raw_len[p];
  int have_base = 0;
  if (mt->base != NULL &&
      chunkstore_staging_read_base(mt->base, mt->m, mt->pieces, p, buf, len) == 0) {
    uint8_t check[CHUNKSTORE_ID_BYTES];
    chunkstore_chunk_id(buf, len, check);
    if (sodium_memcmp(check, id, sizeof(check)) == 0) {
      *out_src = FROM_BASE;
      *out_bytes = 0;
      return 0;
    }
    have_base = 1;
  }
  enum chunkstore_encoding enc;
  uint32_t raw_len = 0;
  uint8_t *encoded = NULL;
  size_t enc_len = 0;
  int rc = chunkstore_store_get_encoded(mt->opt->store, id, &enc, &raw_len, &encoded, &enc_len);
  if (rc < 0) {
    return rc;
  }
  if (raw_len != len || chunkstore_chunk_decode(enc, encoded, enc_len, scratch, len) < 0) {
    sm_free(encoded);
    return SM_EHASH;
  }
  sm_free(encoded);
  if (have_base) {
    /* What a remote sender would do: diff the pages against the base's
     * signature and send only those that changed, if that is smaller. */
    size_t sig_len = chunkstore_delta_pages(len) * CHUNKSTORE_DELTA_SIG_BYTES;
    uint8_t *sigs = work;
    uint8_t *delta = work + sig_len;
    size_t delta_len = 0;
    chunkstore_delta_signature(buf, len, sigs);
    rc = chunkstore_delta_encode(scratch, len, sigs, delta, chunkstore_delta_bound(len), &delta_len);
    if (rc == 0 && delta_len + sig_len < enc_len) {
      rc = chunkstore_delta_apply(buf, len, delta, delta_len);
      if (rc < 0) {
        return rc;
      }
      *out_src = FROM_DELTA;
      *out_bytes = delta_len + sig_len;
      rate_wait(mt, *out_bytes);
      return 0;
    }
  }
  memcpy(buf, scratch, len);
  *out_src = FROM_STORE;
  *out_bytes = enc_len;
  rate_wait(mt, enc_len);
  return 0;
}

static void *materialize_thread(void *arg) {
  struct materializer *mt = arg;
  size_t cs = mt->m->chunk_size;
  size_t work_len = chunkstore_delta_pages(cs) * CHUNKSTORE_DELTA_SIG_BYTES + chunkstore_delta_bound(cs);
  uint8_t *buf = sm_malloc(cs);
  uint8_t *scratch = sm_malloc(cs);
  uint8_t *work = sm_malloc(work_len);
  struct chunkstore_materialize_stats st;
  memset(&st, 0, sizeof(st));
  if (buf == NULL || scratch == NULL || work == NULL) {
    atomic_store(&mt->failed, SM_ENOMEM);
    goto out;
  }
  while (atomic_load(&mt->failed) == 0) {
    uint64_t p = atomic_fetch_add(&mt->next_piece, 1);
    if (p >= mt->pieces->count) {
      break;
    }
    if (chunkstore_staging_has(mt->staging, p)) {
      continue;
    }
    enum piece_source src;
    uint64_t bytes = 0;
    int rc = fetch_piece(mt, p, buf, scratch, work, &src, &bytes);
    if (rc == 0) {
      rc = chunkstore_staging_put(mt->staging, p, buf, mt->pieces->raw_len[p]);
    }
    if (rc < 0) {
      int expected = 0;
      atomic_compare_exchange_strong(&mt->failed, &expected, rc);
      break;
    }
    if (src == FROM_BASE) {
      st.pieces_from_base++;
    } else if (src == FROM_DELTA) {
      st.pieces_delta++;
      st.bytes_delta += bytes;
    } else {
      st.pieces_fetched++;
      st.bytes_fetched += bytes;
    }
    atomic_fetch_add(&mt->done_bytes, mt->pieces->raw_len[p]);
  }
out:
  pthread_mutex_lock(&mt->lock);
  mt->stats.pieces_from_base += st.pieces_from_base;
  mt->stats.pieces_delta += st.pieces_delta;
  mt->stats.pieces_fetched += st.pieces_fetched;
  mt->stats.bytes_delta += st.bytes_delta;
  mt->stats.bytes_fetched += st.bytes_fetched;
  pthread_mutex_unlock(&mt->lock);
  sm_free(buf);
  sm_free(scratch);
  sm_free(work);
  return NULL;
}

static int dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    return 0;
  }
  struct dirent *de;
  int empty = 1;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
      empty = 0;
      break;
    }
  }
  closedir(d);
  return empty;
}

static int check_free_space(const char *staging, const struct chunkstore_pieces *p,
                            const struct chunkstore_staging *s) {
  uint64_t need = 0;
  uint64_t free_bytes = 0;
  for (uint64_t i = 0; i < p->count; i++) {
    if (!chunkstore_staging_has(s, i)) {
      need += (uint64_t)p->raw_len[i] * (p->slot_start[i + 1] - p->slot_start[i]);
    }
  }
  int rc = sm_fs_free_bytes(staging, &free_bytes);
  if (rc < 0) {
    return rc;
  }
  return free_bytes < need ? SM_ENOSPACE : 0;
}

int chunkstore_materialize(const struct chunkstore_materialize_options *opt,
                           struct chunkstore_materialize_stats *out) {
  struct chunkstore_manifest *m = NULL;
  struct chunkstore_staging *staging = NULL;
  struct materializer mt;
  uint8_t sig[SM_SIG_BYTES];
  char staging_dir[4200];
  struct stat st;
  int rc = 0;
  memset(&mt, 0, sizeof(mt));
  memset(out, 0, sizeof(*out));
  mt.started = now_seconds();
  if (opt->staging != NULL) {
    snprintf(staging_dir, sizeof(staging_dir), "%s", opt->staging);
  } else if (chunkstore_staging_default_dir(opt->target, staging_dir, sizeof(staging_dir)) < 0) {
    return SM_ETOOBIG;
  }
  rc = chunkstore_store_load_manifest(opt->store, opt->manifest_id, opt->trust, &m, sig);
  if (rc < 0) {
    return rc;
  }
  int target_exists = lstat(opt->target, &st) == 0;
  if (target_exists && !(S_ISDIR(st.st_mode) && dir_is_empty(opt->target)) && !opt->replace) {
    rc = SM_EEXIST;
    goto out;
  }
  rc = chunkstore_staging_open(staging_dir, m, sig, &staging);
  if (rc < 0) {
    goto out;
  }
  mt.opt = opt;
  mt.m = m;
  mt.staging = staging;
  mt.pieces = chunkstore_staging_pieces(staging);
  mt.base = opt->base ? opt->base : (target_exists ? opt->target : NULL);
  out->pieces_total = mt.pieces->count;
  out->bytes_total = mt.pieces->total_bytes;
  out->pieces_resumed = chunkstore_staging_have_count(staging);
  rc = check_free_space(staging_dir, mt.pieces, staging);
  if (rc < 0) {
    goto out;
  }
  atomic_store(&mt.done_bytes, chunkstore_staging_have_bytes(staging));
  pthread_mutex_init(&mt.lock, NULL);
  pthread_t tids[16];
  int started = 0;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = opt->threads > 0 ? opt->threads : (int)(cpus > 0 ? cpus : 1);
  threads = SM_MAX(1, SM_MIN(threads, (int)SM_ARRAY_LEN(tids)));
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&tids[i], NULL, materialize_thread, &mt) == 0) {
      started++;
    }
  }
  if (started == 0) {
    materialize_thread(&mt);
  }
  while (opt->progress != NULL && atomic_load(&mt.failed) == 0 &&
         atomic_load(&mt.done_bytes) < mt.pieces->total_bytes) {
    opt->progress(opt->progress_arg, atomic_load(&mt.done_bytes), mt.pieces->total_bytes);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  for (int i = 0; i < started; i++) {
    pthread_join(tids[i], NULL);
  }
  pthread_mutex_destroy(&mt.lock);
  rc = atomic_load(&mt.failed);
  if (rc < 0) {
    goto out;
  }
  if (opt->progress != NULL) {
    opt->progress(opt->progress_arg, mt.pieces->total_bytes, mt.pieces->total_bytes);
  }
  if (target_exists && dir_is_empty(opt->target) && rmdir(opt->target) != 0) {
    rc = sm_errno();
    goto out;
  }
  rc = chunkstore_staging_finish(staging, opt->target, opt->replace ? ".seedmesh-old" : NULL,
                                 out->old_target, sizeof(out->old_target));
out:
  out->pieces_from_base = mt.stats.pieces_from_base;
  out->pieces_delta = mt.stats.pieces_delta;
  out->pieces_fetched = mt.stats.pieces_fetched;
  out->bytes_fetched = mt.stats.bytes_fetched;
  out->bytes_delta = mt.stats.bytes_delta;
  out->seconds = now_seconds() - mt.started;
  chunkstore_staging_close(staging);
  chunkstore_manifest_free(m);
  return rc;
}

/* test_chunkstore_tree.c - the chunkstore on real trees: snapshot,
 * materialize (fresh, incremental over an older copy, resumed), the staging
 * journal after kill -9 and power loss, planted symlinks, and verify_tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkstore/chunkstore.h"
#include "tests/unit/test_chunkstore_util.h"

#define MIB (1024u * 1024u)
#define PAGE CHUNKSTORE_PAGE_SIZE

struct env {
  char root[4096];
  char src[4200], store[4200], target[4200];
  struct sm_identity key;
};

static void env_init(struct env *e, const char *tag) {
  tcs_tmpdir(tag, e->root, sizeof(e->root));
  snprintf(e->src, sizeof(e->src), "%s/src", e->root);
  snprintf(e->store, sizeof(e->store), "%s/store", e->root);
  snprintf(e->target, sizeof(e->target), "%s/target", e->root);
  assert_int_equal(mkdir(e->src, 0755), 0);
  tcs_identity(&e->key);
}

static void env_cleanup(struct env *e) {
  tcs_rmrf(e->root);
}

static void write_random(const char *dir, const char *rel, size_t len, uint64_t offset,
                         uint64_t seed, int mode) {
  uint8_t *buf = malloc(len);
  tcs_fill_random(buf, len, seed);
  tcs_write_at(dir, rel, buf, len, offset, mode);
  free(buf);
}

static struct chunkstore_manifest *snap(struct env *e, uint32_t chunk_size,
                                        struct chunkstore_snapshot_stats *st) {
  struct chunkstore_snapshot_options opt;
  struct chunkstore_manifest *m = NULL;
  char bad[CHUNKSTORE_PATH_MAX + 1];
  memset(&opt, 0, sizeof(opt));
  opt.source = e->src;
  opt.store = e->store;
  opt.chunk_size = chunk_size;
  opt.threads = 2;
  opt.key = &e->key;
  int rc = chunkstore_snapshot(&opt, &m, st, bad);
  if (rc != 0) {
    fail_msg("snapshot: %s (%s)", sm_strerror(rc), bad);
  }
  return m;
}

static int materialize(struct env *e, const struct chunkstore_manifest *m, int replace,
                       struct chunkstore_materialize_stats *st) {
  struct chunkstore_materialize_options opt;
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  memset(&opt, 0, sizeof(opt));
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, hex);
  opt.store = e->store;
  opt.manifest_id = hex;
  opt.target = e->target;
  opt.replace = replace;
  opt.threads = 2;
  return chunkstore_materialize(&opt, st);
}

static void assert_verifies(const struct chunkstore_manifest *m, const char *dir) {
  struct chunkstore_verify_report r;
  int rc = chunkstore_verify_tree(m, dir, 2, &r);
  if (rc != 0) {
    fail_msg("verify %s: %s: %s", dir, sm_strerror(rc), r.first_problem);
  }
}

static mode_t mode_of(const char *dir, const char *rel) {
  char path[8400];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  assert_int_equal(lstat(path, &st), 0);
  return st.st_mode & 07777;
}

/* ------------------------------------------- snapshot and materialize */

static void make_tree(struct env *e) {
  char path[4300];
  snprintf(path, sizeof(path), "%s/db", e->src);
  assert_int_equal(mkdir(path, 0750), 0);
  assert_int_equal(chmod(path, 0750), 0);
  snprintf(path, sizeof(path), "%s/emptydir", e->src);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(chmod(path, 0755), 0);
  /* Two chunks, the last one short. */
  write_random(e->src, "db/t1.ibd", 4 * MIB + 3 * PAGE, 0, 1, 0640);
  /* 16 MiB + 100: data, two all-zero 4 MiB chunks, data, a short tail. */
  tcs_sparse_file(e->src, "sparse.ibd", 16ull * MIB + 100, 0600);
  write_random(e->src, "sparse.ibd", 64 * 1024, 0, 2, 0600);
  write_random(e->src, "sparse.ibd", 4096, 12ull * MIB, 3, 0600);
  write_random(e->src, "sparse.ibd", 100, 16ull * MIB, 4, 0600);
  tcs_sparse_file(e->src, "empty", 0, 0644);
  write_random(e->src, "run.sh", 100, 0, 5, 0755);
  /* The same content twice: one piece at two places. */
  write_random(e->src, "dup_a", MIB, 0, 6, 0644);
  write_random(e->src, "dup_b", MIB, 0, 6, 0644);
}

static void test_snapshot_materialize(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_snapshot_stats s1, s2;
  struct chunkstore_materialize_stats ms;
  struct stat st;
  char path[8400];
  env_init(&e, "tree");
  make_tree(&e);

  struct chunkstore_manifest *m1 = snap(&e, 0, &s1);
  assert_int_equal(m1->chunk_size, CHUNKSTORE_CHUNK_DEFAULT);
  assert_int_equal(s1.files, 6);
  assert_int_equal(s1.dirs, 2);
  assert_int_equal(s1.chunks, 2 + 5 + 1 + 1 + 1);
  assert_int_equal(s1.zero_chunks, 2);
  assert_verifies(m1, e.src);

  assert_int_equal(materialize(&e, m1, 0, &ms), 0);
  assert_int_equal(ms.pieces_total, 7); /* t1 x2, sparse x3, run.sh, dup_a = dup_b */
  assert_int_equal(ms.pieces_fetched, 7);
  assert_int_equal(ms.pieces_resumed, 0);
  assert_verifies(m1, e.target);
  assert_int_equal(mode_of(e.target, "db"), 0750);
  assert_int_equal(mode_of(e.target, "emptydir"), 0755);
  assert_int_equal(mode_of(e.target, "db/t1.ibd"), 0640);
  assert_int_equal(mode_of(e.target, "sparse.ibd"), 0600);
  assert_int_equal(mode_of(e.target, "run.sh"), 0755);
  snprintf(path, sizeof(path), "%s/sparse.ibd", e.target);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 16ull * MIB + 100);
  assert_true((uint64_t)st.st_blocks * 512 < 4ull * MIB); /* the zero regions are holes */
  snprintf(path, sizeof(path), "%s.seedmesh-staging", e.target);
  assert_int_equal(access(path, F_OK), -1); /* staging area removed */
  /* A non-empty target is not replaced unless asked. */
  assert_int_equal(materialize(&e, m1, 0, &ms), SM_EEXIST);

  /* Change one page: the second snapshot stores one new chunk. */
  write_random(e.src, "db/t1.ibd", PAGE, 10 * PAGE, 7, 0640);
  struct chunkstore_manifest *m2 = snap(&e, 0, &s2);
  assert_int_equal(s2.new_chunks, 1);
  assert_int_equal(s2.reused_chunks, s2.chunks - s2.zero_chunks - 1);
  assert_memory_not_equal(m1->id, m2->id, CHUNKSTORE_ID_BYTES);

  /* Materialize it over the first copy: one page travels. */
  assert_int_equal(materialize(&e, m2, 1, &ms), 0);
  assert_int_equal(ms.pieces_delta, 1);
  assert_int_equal(ms.pieces_from_base, ms.pieces_total - 1);
  assert_int_equal(ms.pieces_fetched, 0);
  assert_true(ms.bytes_delta > PAGE);
  assert_true(ms.bytes_delta < CHUNKSTORE_CHUNK_DEFAULT / 64);
  snprintf(path, sizeof(path), "%s.seedmesh-old", e.target);
  assert_string_equal(ms.old_target, path);
  assert_verifies(m2, e.target);
  assert_verifies(m1, path);

  chunkstore_manifest_free(m1);
  chunkstore_manifest_free(m2);
  env_cleanup(&e);
}

static void test_snapshot_refuses_symlink(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_snapshot_options opt;
  struct chunkstore_manifest *m = NULL;
  char bad[CHUNKSTORE_PATH_MAX + 1] = "";
  char path[4300];
  env_init(&e, "snaplink");
  write_random(e.src, "a", 10, 0, 1, 0644);
  snprintf(path, sizeof(path), "%s/link", e.src);
  assert_int_equal(symlink("/etc/passwd", path), 0);
  memset(&opt, 0, sizeof(opt));
  opt.source = e.src;
  opt.store = e.store;
  opt.chunk_size = CHUNKSTORE_CHUNK_MIN;
  opt.threads = 1;
  opt.key = &e.key;
  assert_int_equal(chunkstore_snapshot(&opt, &m, NULL, bad), SM_EPATH);
  assert_null(m);
  assert_string_equal(bad, "link");
  env_cleanup(&e);
}

/* ------------------------------------------------------------ resume */

static struct chunkstore_manifest *load(struct env *e, uint8_t sig[SM_SIG_BYTES]) {
  struct chunkstore_manifest *m = NULL;
  assert_int_equal(chunkstore_store_load_manifest(e->store, NULL, NULL, &m, sig), 0);
  return m;
}

static void put_piece(struct env *e, struct chunkstore_staging *s, uint64_t i) {
  const struct chunkstore_pieces *p = chunkstore_staging_pieces(s);
  uint8_t *buf = malloc(p->raw_len[i]);
  assert_int_equal(chunkstore_store_get_chunk(e->store, p->ids[i], buf, p->raw_len[i]), 0);
  assert_int_equal(chunkstore_staging_put(s, i, buf, p->raw_len[i]), 0);
  free(buf);
}

static void test_resume(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_staging *s = NULL;
  struct chunkstore_materialize_stats ms;
  uint8_t sig[SM_SIG_BYTES];
  char staging[4300];
  env_init(&e, "resume");
  write_random(e.src, "a", 20 * 64 * 1024 + 5, 0, 1, 0644);
  write_random(e.src, "b", 3 * 64 * 1024, 0, 2, 0600);
  struct chunkstore_manifest *snapped = snap(&e, 64 * 1024, NULL);
  chunkstore_manifest_free(snapped);
  struct chunkstore_manifest *m = load(&e, sig);
  snprintf(staging, sizeof(staging), "%s.seedmesh-staging", e.target);

  /* Half the pieces, then the process dies (close without finishing). */
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  uint64_t count = chunkstore_staging_pieces(s)->count;
  assert_int_equal(count, 24);
  for (uint64_t i = 0; i < count; i += 2) {
    put_piece(&e, s, i);
  }
  /* A piece that does not match its id is refused and not counted. */
  uint8_t junk[64 * 1024] = {1};
  assert_int_equal(chunkstore_staging_put(s, 1, junk, sizeof(junk)), SM_EHASH);
  assert_int_equal(chunkstore_staging_put(s, 1, junk, 10), SM_EINVAL);
  assert_int_equal(chunkstore_staging_put(s, count, junk, 10), SM_EINVAL);
  assert_int_equal(chunkstore_staging_have_count(s), count / 2);
  assert_int_equal(chunkstore_staging_finish(s, e.target, NULL, NULL, 0), SM_ESTATE);
  chunkstore_staging_close(s);

  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  assert_int_equal(chunkstore_staging_have_count(s), count / 2);
  for (uint64_t i = 0; i < count; i++) {
    assert_int_equal(chunkstore_staging_has(s, i), i % 2 == 0);
  }
  chunkstore_staging_close(s);

  assert_int_equal(materialize(&e, m, 0, &ms), 0);
  assert_int_equal(ms.pieces_total, count);
  assert_int_equal(ms.pieces_resumed, count / 2);
  assert_int_equal(ms.pieces_fetched, count - count / 2);
  assert_verifies(m, e.target);
  chunkstore_manifest_free(m);
  env_cleanup(&e);
}

static void test_power_loss(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_staging *s = NULL;
  uint8_t sig[SM_SIG_BYTES];
  char staging[4300], tree[4400], journal[4400];
  env_init(&e, "power");
  write_random(e.src, "a", 8 * 64 * 1024, 0, 1, 0644);
  struct chunkstore_manifest *snapped = snap(&e, 64 * 1024, NULL);
  chunkstore_manifest_free(snapped);
  struct chunkstore_manifest *m = load(&e, sig);
  snprintf(staging, sizeof(staging), "%s/staging", e.root);
  snprintf(tree, sizeof(tree), "%s/tree", staging);
  snprintf(journal, sizeof(journal), "%s/journal", staging);

  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  uint64_t count = chunkstore_staging_pieces(s)->count;
  assert_int_equal(count, 8);
  for (uint64_t i = 0; i < count; i++) {
    put_piece(&e, s, i);
  }
  uint8_t back[64 * 1024];
  assert_int_equal(chunkstore_staging_read(s, 3, back, sizeof(back)), 0);
  chunkstore_staging_close(s);

  /* No checkpoint was written (far below its threshold); piece 5's bytes did
   * not survive, and a torn record sits at the journal's end. */
  uint8_t bad = 0x99;
  const struct chunkstore_pieces *p = NULL;
  uint64_t off = 0;
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  p = chunkstore_staging_pieces(s);
  const struct chunkstore_entry *ent = chunkstore_slot_entry(m, p->slot_list[p->slot_start[5]], &off);
  chunkstore_staging_close(s);
  tcs_write_at(tree, ent->path, &bad, 1, off + 1234, 0600);
  tcs_write_at(staging, "journal", "abc", 3, 8 * count, 0600);

  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  assert_int_equal(chunkstore_staging_have_count(s), count - 1);
  assert_false(chunkstore_staging_has(s, 5));
  assert_true(chunkstore_staging_has(s, 4));
  assert_int_equal(chunkstore_staging_read(s, 5, back, sizeof(back)), SM_EHASH);
  struct stat st;
  assert_int_equal(stat(journal, &st), 0);
  assert_int_equal(st.st_size % 8, 0);
  put_piece(&e, s, 5);
  assert_int_equal(chunkstore_staging_have_count(s), count);
  assert_int_equal(chunkstore_staging_finish(s, e.target, NULL, NULL, 0), 0);
  chunkstore_staging_close(s);
  assert_verifies(m, e.target);
  assert_int_equal(access(staging, F_OK), -1);

  /* A staging area of another manifest is refused. */
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  chunkstore_staging_close(s);
  write_random(e.src, "b", 10, 0, 2, 0644);
  struct chunkstore_manifest *other = snap(&e, 64 * 1024, NULL);
  assert_int_equal(chunkstore_staging_open(staging, other, sig, &s), SM_ESTATE);
  assert_null(s);
  chunkstore_manifest_free(other);
  chunkstore_manifest_free(m);
  env_cleanup(&e);
}

/* A piece damaged on disk after it was verified and checkpointed: the
 * re-read catches it, the revocation survives a restart (a checkpointed record
 * is otherwise trusted without a re-read) and a later put re-establishes it. */
static void test_revoke(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_staging *s = NULL;
  uint8_t sig[SM_SIG_BYTES];
  char staging[4300], tree[4400];
  uint8_t back[64 * 1024];
  env_init(&e, "revoke");
  write_random(e.src, "a", 6 * 64 * 1024, 0, 3, 0644);
  uint8_t zero_block[8192] = {0}; /* piece 2 has zero blocks: they stay holes */
  tcs_write_at(e.src, "a", zero_block, sizeof(zero_block), 2 * 64 * 1024 + 8192, 0644);
  struct chunkstore_manifest *snapped = snap(&e, 64 * 1024, NULL);
  chunkstore_manifest_free(snapped);
  struct chunkstore_manifest *m = load(&e, sig);
  snprintf(staging, sizeof(staging), "%s/staging", e.root);
  snprintf(tree, sizeof(tree), "%s/tree", staging);

  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  uint64_t count = chunkstore_staging_pieces(s)->count;
  assert_int_equal(count, 6);
  for (uint64_t i = 0; i < count; i++) {
    put_piece(&e, s, i);
  }
  assert_int_equal(chunkstore_staging_sync(s), 0);
  const struct chunkstore_pieces *p = chunkstore_staging_pieces(s);
  uint64_t off = 0;
  const struct chunkstore_entry *ent = chunkstore_slot_entry(m, p->slot_list[p->slot_start[2]], &off);
  assert_int_equal(chunkstore_staging_read(s, 2, back, sizeof(back)), 0);
  uint8_t flip = back[77] ^ 0x10;
  tcs_write_at(tree, ent->path, &flip, 1, off + 77, 0600);
  flip = 0x5a; /* and inside a block that must read as zeros */
  tcs_write_at(tree, ent->path, &flip, 1, off + 8192 + 100, 0600);
  assert_int_equal(chunkstore_staging_read(s, 2, back, sizeof(back)), SM_EHASH);
  assert_int_equal(chunkstore_staging_revoke(s, 2), 0);
  assert_false(chunkstore_staging_has(s, 2));
  assert_int_equal(chunkstore_staging_have_count(s), count - 1);
  assert_int_equal(chunkstore_staging_revoke(s, 2), 0); /* not held: no-op */
  assert_int_equal(chunkstore_staging_revoke(s, count), SM_EINVAL);
  assert_int_equal(chunkstore_staging_finish(s, e.target, NULL, NULL, 0), SM_ESTATE);
  chunkstore_staging_close(s);

  /* The revocation is journaled: the checkpointed piece stays forgotten. */
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  assert_false(chunkstore_staging_has(s, 2));
  assert_int_equal(chunkstore_staging_have_count(s), count - 1);
  put_piece(&e, s, 2);
  assert_true(chunkstore_staging_has(s, 2));
  assert_int_equal(chunkstore_staging_read(s, 2, back, sizeof(back)), 0);
  chunkstore_staging_close(s);
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  assert_int_equal(chunkstore_staging_have_count(s), count);
  assert_int_equal(chunkstore_staging_finish(s, e.target, NULL, NULL, 0), 0);
  chunkstore_staging_close(s);
  assert_verifies(m, e.target);
  chunkstore_manifest_free(m);
  env_cleanup(&e);
}

/* ---------------------------------------------------------- symlinks */

static void test_planted_symlinks(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_staging *s = NULL;
  uint8_t sig[SM_SIG_BYTES];
  char staging[4300], path[4400], outside[4300], victim[4400];
  env_init(&e, "links");
  char d[4300];
  snprintf(d, sizeof(d), "%s/d", e.src);
  assert_int_equal(mkdir(d, 0755), 0);
  write_random(e.src, "d/f", 1000, 0, 1, 0644);
  write_random(e.src, "g", 1000, 0, 2, 0644);
  struct chunkstore_manifest *snapped = snap(&e, CHUNKSTORE_CHUNK_MIN, NULL);
  chunkstore_manifest_free(snapped);
  struct chunkstore_manifest *m = load(&e, sig);
  snprintf(staging, sizeof(staging), "%s/staging", e.root);
  snprintf(outside, sizeof(outside), "%s/outside", e.root);
  snprintf(victim, sizeof(victim), "%s/victim", outside);
  assert_int_equal(mkdir(outside, 0755), 0);
  tcs_write_at(outside, "victim", "keep", 4, 0, 0644);

  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), 0);
  const struct chunkstore_pieces *p = chunkstore_staging_pieces(s);
  assert_int_equal(p->count, 2);
  /* Where a directory belongs. */
  snprintf(path, sizeof(path), "%s/tree/d/f", staging);
  assert_int_equal(unlink(path), 0);
  snprintf(path, sizeof(path), "%s/tree/d", staging);
  assert_int_equal(rmdir(path), 0);
  assert_int_equal(symlink(outside, path), 0);
  /* Where a file belongs. */
  snprintf(path, sizeof(path), "%s/tree/g", staging);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(symlink(victim, path), 0);
  for (uint64_t i = 0; i < p->count; i++) {
    uint8_t buf[1000];
    assert_int_equal(chunkstore_store_get_chunk(e.store, p->ids[i], buf, p->raw_len[i]), 0);
    assert_int_equal(chunkstore_staging_put(s, i, buf, p->raw_len[i]), SM_EPATH);
    assert_false(chunkstore_staging_has(s, i));
  }
  chunkstore_staging_close(s);
  /* Nothing was written outside. */
  snprintf(path, sizeof(path), "%s/f", outside);
  assert_int_equal(access(path, F_OK), -1);
  char got[16] = "";
  int fd = open(victim, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, got, sizeof(got)), 4);
  close(fd);
  assert_memory_equal(got, "keep", 4);

  /* Planted before the staging tree is built: the skeleton refuses it. */
  tcs_rmrf(staging);
  snprintf(path, sizeof(path), "%s/tree", staging);
  assert_int_equal(sm_fs_mkdir_p(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/tree/d", staging);
  assert_int_equal(symlink(outside, path), 0);
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), SM_EPATH);
  assert_null(s);
  snprintf(path, sizeof(path), "%s/tree/d", staging);
  assert_int_equal(unlink(path), 0);
  snprintf(path, sizeof(path), "%s/tree/g", staging);
  assert_int_equal(symlink(victim, path), 0);
  assert_int_equal(chunkstore_staging_open(staging, m, sig, &s), SM_EPATH);
  snprintf(path, sizeof(path), "%s/f", outside);
  assert_int_equal(access(path, F_OK), -1);
  struct stat st;
  assert_int_equal(stat(victim, &st), 0);
  assert_int_equal(st.st_size, 4);
  chunkstore_manifest_free(m);
  env_cleanup(&e);
}

/* ------------------------------------------------------------ verify */

static void test_verify_reports(void **state) {
  (void)state;
  struct env e;
  struct chunkstore_verify_report r;
  char path[4400];
  env_init(&e, "verify");
  write_random(e.src, "a", 3 * CHUNKSTORE_CHUNK_MIN, 0, 1, 0644);
  write_random(e.src, "b", 100, 0, 2, 0644);
  write_random(e.src, "c", 100, 0, 3, 0640);
  tcs_sparse_file(e.src, "z", 2 * CHUNKSTORE_CHUNK_MIN, 0644);
  struct chunkstore_manifest *m = snap(&e, CHUNKSTORE_CHUNK_MIN, NULL);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 2, &r), 0);
  assert_int_equal(r.files_checked, 4);

  /* A flipped byte. */
  uint8_t byte = 0;
  snprintf(path, sizeof(path), "%s/a", e.src);
  int fd = open(path, O_RDWR);
  assert_int_equal(pread(fd, &byte, 1, CHUNKSTORE_CHUNK_MIN + 5), 1);
  byte ^= 0x20;
  assert_int_equal(pwrite(fd, &byte, 1, CHUNKSTORE_CHUNK_MIN + 5), 1);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 1, &r), SM_EHASH);
  assert_int_equal(r.bad_chunks, 1);
  assert_non_null(strstr(r.first_problem, "a"));
  byte ^= 0x20;
  assert_int_equal(pwrite(fd, &byte, 1, CHUNKSTORE_CHUNK_MIN + 5), 1);
  close(fd);
  /* A hole that is no longer zero. */
  tcs_write_at(e.src, "z", "x", 1, 100, 0644);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 2, &r), SM_EHASH);
  assert_int_equal(r.bad_chunks, 1);
  tcs_write_at(e.src, "z", "", 1, 100, 0644);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 2, &r), 0);

  /* A missing file, an extra file, a wrong mode. */
  snprintf(path, sizeof(path), "%s/b", e.src);
  assert_int_equal(unlink(path), 0);
  tcs_write_at(e.src, "extra", "x", 1, 0, 0644);
  snprintf(path, sizeof(path), "%s/c", e.src);
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 2, &r), SM_EHASH);
  assert_int_equal(r.missing_files, 1);
  assert_int_equal(r.extra_files, 1);
  assert_int_equal(r.wrong_mode, 1);
  assert_int_equal(r.bad_chunks, 0);
  /* A file of the wrong size. */
  tcs_write_at(e.src, "c", "x", 1, 100, 0644);
  assert_int_equal(chunkstore_verify_tree(m, e.src, 2, &r), SM_EHASH);
  assert_int_equal(r.wrong_size, 1);
  chunkstore_manifest_free(m);
  env_cleanup(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_materialize),
      cmocka_unit_test(test_snapshot_refuses_symlink),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_power_loss),
      cmocka_unit_test(test_revoke),
      cmocka_unit_test(test_planted_symlinks),
      cmocka_unit_test(test_verify_reports),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_chunkstore.c - unit tests of the chunkstore's in-memory parts: chunk
 * encoding and its bounded decoder, page deltas, path rules and the piece
 * table. Manifest coding and the on-disk parts have their own binaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "chunkstore/chunkstore.h"
#include "tests/unit/test_chunkstore_util.h"

#define PAGE CHUNKSTORE_PAGE_SIZE

/* ------------------------------------------------------------- chunks */

static void round_trip(const uint8_t *raw, size_t len, enum chunkstore_encoding want_enc) {
  size_t cap = chunkstore_encode_bound(len);
  uint8_t *enc = malloc(cap);
  uint8_t *back = malloc(len ? len : 1);
  enum chunkstore_encoding e;
  size_t enc_len = 0;
  assert_int_equal(chunkstore_chunk_encode(raw, len, 1, enc, cap, &e, &enc_len), 0);
  assert_int_equal(e, want_enc);
  if (want_enc == CHUNKSTORE_ENC_RAW) {
    assert_int_equal(enc_len, len);
  } else {
    assert_true(enc_len < len / 4);
  }
  assert_int_equal(chunkstore_chunk_decode(e, enc, enc_len, back, len), 0);
  assert_memory_equal(raw, back, len);
  free(enc);
  free(back);
}

static void test_chunk_round_trip(void **state) {
  (void)state;
  size_t len = 1u << 20;
  uint8_t *buf = malloc(len);
  for (size_t i = 0; i < len; i++) {
    buf[i] = (uint8_t)("seedmesh page "[i % 14] + (i / 4096) % 3);
  }
  round_trip(buf, len, CHUNKSTORE_ENC_ZSTD);
  tcs_fill_random(buf, len, 1);
  round_trip(buf, len, CHUNKSTORE_ENC_RAW); /* compression does not pay */
  round_trip(buf, 1, CHUNKSTORE_ENC_RAW);
  round_trip(buf, 0, CHUNKSTORE_ENC_RAW);
  /* Too small an output buffer is refused, not overrun. */
  enum chunkstore_encoding e;
  size_t n = 0;
  assert_int_equal(chunkstore_chunk_encode(buf, len, 1, buf, len, &e, &n), SM_EINVAL);
  free(buf);
}

static void test_chunk_ids(void **state) {
  (void)state;
  uint8_t a[CHUNKSTORE_ID_BYTES];
  uint8_t b[CHUNKSTORE_ID_BYTES];
  uint8_t zero[CHUNKSTORE_ID_BYTES] = {0};
  chunkstore_chunk_id("abc", 3, a);
  chunkstore_chunk_id("abd", 3, b);
  assert_memory_not_equal(a, b, sizeof(a));
  assert_false(chunkstore_id_is_zero(a));
  assert_true(chunkstore_id_is_zero(zero));
}

/* A zstd frame of content, with or without the content size in its header. */
static size_t zstd_frame(const uint8_t *content, size_t len, int with_size, uint8_t *out,
                         size_t cap) {
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  assert_non_null(cctx);
  assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size)));
  size_t n;
  if (with_size) {
    n = ZSTD_compress2(cctx, out, cap, content, len);
  } else {
    /* The streaming API with an unknown total leaves the size out. */
    ZSTD_outBuffer ob = {out, cap, 0};
    ZSTD_inBuffer ib = {content, len, 0};
    n = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
    assert_int_equal(n, 0);
    n = ob.pos;
  }
  assert_false(ZSTD_isError(n));
  ZSTD_freeCCtx(cctx);
  return n;
}

static void test_chunk_decode_is_bounded(void **state) {
  (void)state;
  uint8_t content[4000];
  uint8_t frame[8192];
  memset(content, 'z', sizeof(content));
  for (int with_size = 0; with_size <= 1; with_size++) {
    size_t n = zstd_frame(content, sizeof(content), with_size, frame, sizeof(frame));
    if (!with_size) {
      assert_int_equal(ZSTD_getFrameContentSize(frame, n), ZSTD_CONTENTSIZE_UNKNOWN);
    }
    /* Longer than raw_len: an exact-size heap buffer lets ASan catch any
     * write past it. */
    uint8_t *out = malloc(1000);
    assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, frame, n, out, 1000),
                     SM_ECOMPRESS);
    free(out);
    /* Shorter than raw_len. */
    out = malloc(5000);
    assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, frame, n, out, 5000),
                     SM_ECOMPRESS);
    /* Exact, then truncated frames. */
    assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, frame, n, out, 4000), 0);
    assert_memory_equal(out, content, 4000);
    for (size_t cut = 0; cut < n; cut++) {
      assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, frame, cut, out, 4000),
                       SM_ECOMPRESS);
    }
    free(out);
  }
  /* A raw payload must be exactly raw_len bytes. */
  uint8_t out[100];
  assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_RAW, content, 101, out, 100),
                   SM_ECOMPRESS);
  assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_RAW, content, 99, out, 100),
                   SM_ECOMPRESS);
  assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_RAW, content, 100, out, 100), 0);
  /* Garbage, and an unknown encoding. */
  assert_int_equal(chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, content, 100, out, 100),
                   SM_ECOMPRESS);
  assert_int_equal(chunkstore_chunk_decode((enum chunkstore_encoding)7, content, 100, out, 100),
                   SM_ECOMPRESS);
}

/* -------------------------------------------------------------- deltas */

#define DELTA_LEN (5 * PAGE + 1000) /* six pages, the last one short */

struct delta_fixture {
  uint8_t old_chunk[DELTA_LEN];
  uint8_t new_chunk[DELTA_LEN];
  uint8_t sigs[6 * CHUNKSTORE_DELTA_SIG_BYTES];
  uint8_t delta[4 + 6 * 4 + DELTA_LEN];
  size_t delta_len;
};

static struct delta_fixture *delta_setup(const int *changed, size_t n_changed) {
  struct delta_fixture *f = malloc(sizeof(*f));
  tcs_fill_random(f->old_chunk, DELTA_LEN, 7);
  memcpy(f->new_chunk, f->old_chunk, DELTA_LEN);
  for (size_t i = 0; i < n_changed; i++) {
    f->new_chunk[(size_t)changed[i] * PAGE + 10] ^= 0x5a;
  }
  assert_int_equal(chunkstore_delta_pages(DELTA_LEN), 6);
  assert_int_equal(chunkstore_delta_bound(DELTA_LEN), sizeof(f->delta));
  chunkstore_delta_signature(f->old_chunk, DELTA_LEN, f->sigs);
  assert_int_equal(chunkstore_delta_encode(f->new_chunk, DELTA_LEN, f->sigs, f->delta,
                                           sizeof(f->delta), &f->delta_len),
                   0);
  return f;
}

static void test_delta_round_trip(void **state) {
  (void)state;
  static const int changed[] = {1, 4, 5};
  struct delta_fixture *f = delta_setup(changed, 3);
  uint8_t *buf = malloc(DELTA_LEN);
  assert_int_equal(sm_load_be32(f->delta), 3);
  assert_int_equal(f->delta_len, 4 + 3 * 4 + 2 * PAGE + 1000);
  memcpy(buf, f->old_chunk, DELTA_LEN);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, f->delta, f->delta_len), 0);
  assert_memory_equal(buf, f->new_chunk, DELTA_LEN);
  free(f);
  /* Nothing changed: an empty delta that leaves the copy alone. */
  f = delta_setup(NULL, 0);
  assert_int_equal(f->delta_len, 4);
  memcpy(buf, f->old_chunk, DELTA_LEN);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, f->delta, f->delta_len), 0);
  assert_memory_equal(buf, f->old_chunk, DELTA_LEN);
  /* Too small an output buffer. */
  size_t n = 0;
  assert_int_equal(chunkstore_delta_encode(f->new_chunk, DELTA_LEN, f->sigs, f->delta, 100, &n),
                   SM_EINVAL);
  free(f);
  free(buf);
}

/* Builds a delta from (page, fill) pairs, without the encoder's checks. */
static size_t delta_build(uint8_t *out, uint32_t count, const uint32_t *pages, size_t n) {
  size_t pos = 4;
  sm_store_be32(out, count);
  for (size_t i = 0; i < n; i++) {
    size_t plen = pages[i] == 5 ? 1000 : PAGE;
    sm_store_be32(out + pos, pages[i]);
    memset(out + pos + 4, 0xab, plen);
    pos += 4 + plen;
  }
  return pos;
}

static void test_delta_malformed(void **state) {
  (void)state;
  uint8_t *d = malloc(4 + 8 * (4 + PAGE));
  uint8_t *buf = malloc(DELTA_LEN);
  memset(buf, 0, DELTA_LEN);
  static const uint32_t good[] = {1, 5};
  size_t len = delta_build(d, 2, good, 2);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), 0);
  /* Every strict prefix is truncated, one more byte is trailing. */
  for (size_t cut = 0; cut < len; cut++) {
    assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, cut), SM_EMALFORMED);
  }
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len + 1), SM_EMALFORMED);
  /* A count above the number of pages, and one above what follows. */
  sm_store_be32(d, 7);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  sm_store_be32(d, 0xffffffffu);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  sm_store_be32(d, 3);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  /* A page out of range. */
  static const uint32_t out_of_range[] = {6};
  len = delta_build(d, 1, out_of_range, 1);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  static const uint32_t huge[] = {0x80000000u};
  len = delta_build(d, 1, huge, 1);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  /* Unsorted pages, and a page twice. */
  static const uint32_t unsorted[] = {3, 1};
  len = delta_build(d, 2, unsorted, 2);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  static const uint32_t twice[] = {2, 2};
  len = delta_build(d, 2, twice, 2);
  assert_int_equal(chunkstore_delta_apply(buf, DELTA_LEN, d, len), SM_EMALFORMED);
  free(d);
  free(buf);
}

/* --------------------------------------------------------------- paths */

static void test_path_rules(void **state) {
  (void)state;
  static const char *const good[] = {"a", "a/b", "ib_logfile0", "db/t1.ibd", ".hidden",
                                     "..x", "x..", "a/.b/c", "with space", "utf8-\xc3\xa9"};
  static const char *const bad[] = {"", "/", "/a", "a/", "a//b", ".", "..", "a/..", "../a",
                                    "a/./b", "a/../b", "tab\tname", "new\nline", "del\x7f"};
  char long_name[300];
  for (size_t i = 0; i < SM_ARRAY_LEN(good); i++) {
    assert_int_equal(chunkstore_path_check(good[i]), 0);
  }
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    assert_int_equal(chunkstore_path_check(bad[i]), SM_EPATH);
  }
  memset(long_name, 'n', 255);
  long_name[255] = '\0';
  assert_int_equal(chunkstore_path_check(long_name), 0);
  memset(long_name, 'n', 256);
  long_name[256] = '\0';
  assert_int_equal(chunkstore_path_check(long_name), SM_EPATH);
  char *too_long = malloc(CHUNKSTORE_PATH_MAX + 2);
  for (size_t i = 0; i < CHUNKSTORE_PATH_MAX + 1; i++) {
    too_long[i] = i % 100 == 99 ? '/' : 'p';
  }
  too_long[CHUNKSTORE_PATH_MAX] = '\0';
  assert_int_equal(chunkstore_path_check(too_long), 0);
  too_long[CHUNKSTORE_PATH_MAX] = 'p';
  too_long[CHUNKSTORE_PATH_MAX + 1] = '\0';
  assert_int_equal(chunkstore_path_check(too_long), SM_EPATH);
  free(too_long);
}

/* -------------------------------------------------------------- pieces */

static void id_of(char tag, uint8_t out[CHUNKSTORE_ID_BYTES]) {
  chunkstore_chunk_id(&tag, 1, out);
}

static void test_pieces(void **state) {
  (void)state;
  const uint32_t cs = CHUNKSTORE_CHUNK_MIN;
  struct chunkstore_manifest *m = chunkstore_manifest_new(cs);
  struct chunkstore_entry *e = NULL;
  struct chunkstore_pieces p;
  uint8_t x[CHUNKSTORE_ID_BYTES], y[CHUNKSTORE_ID_BYTES], w[CHUNKSTORE_ID_BYTES];
  id_of('x', x);
  id_of('y', y);
  id_of('w', w);
  /* a: x, hole, x   b: y, w (100-byte tail)   c: x   d/ (dir)   e: empty */
  assert_int_equal(chunkstore_manifest_add_file(m, "a", 0644, 3ull * cs, &e), 0);
  memcpy(m->slots[e->first_slot], x, sizeof(x));
  memcpy(m->slots[e->first_slot + 2], x, sizeof(x));
  assert_int_equal(chunkstore_manifest_add_file(m, "b", 0644, cs + 100ull, &e), 0);
  memcpy(m->slots[e->first_slot], y, sizeof(y));
  memcpy(m->slots[e->first_slot + 1], w, sizeof(w));
  assert_int_equal(chunkstore_manifest_add_file(m, "c", 0644, cs, &e), 0);
  memcpy(m->slots[e->first_slot], x, sizeof(x));
  assert_int_equal(chunkstore_manifest_add_dir(m, "d", 0755), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "e", 0600, 0, &e), 0);
  assert_int_equal(m->n_slots, 6);

  assert_int_equal(chunkstore_pieces_build(m, &p), 0);
  assert_int_equal(p.count, 3);
  assert_memory_equal(p.ids[0], x, sizeof(x));
  assert_memory_equal(p.ids[1], y, sizeof(y));
  assert_memory_equal(p.ids[2], w, sizeof(w));
  assert_int_equal(p.raw_len[0], cs);
  assert_int_equal(p.raw_len[2], 100);
  assert_int_equal(p.total_bytes, 2ull * cs + 100);
  assert_int_equal(p.slot_start[0], 0);
  assert_int_equal(p.slot_start[1], 3);
  assert_int_equal(p.slot_start[2], 4);
  assert_int_equal(p.slot_start[3], 5);
  assert_int_equal(p.slot_list[0], 0);
  assert_int_equal(p.slot_list[1], 2);
  assert_int_equal(p.slot_list[2], 5);
  assert_int_equal(p.slot_list[3], 3);
  assert_int_equal(p.slot_list[4], 4);
  for (uint64_t i = 0; i < p.count; i++) {
    assert_false(chunkstore_id_is_zero(p.ids[i]));
  }
  chunkstore_pieces_cleanup(&p);

  uint64_t off = 0;
  const struct chunkstore_entry *got = chunkstore_slot_entry(m, 4, &off);
  assert_non_null(got);
  assert_string_equal(got->path, "b");
  assert_int_equal(off, cs);
  got = chunkstore_slot_entry(m, 5, &off);
  assert_string_equal(got->path, "c");
  assert_int_equal(off, 0);
  assert_null(chunkstore_slot_entry(m, 6, &off));

  /* One id at places of different lengths cannot be one piece. */
  assert_int_equal(chunkstore_manifest_add_file(m, "f", 0644, 100, &e), 0);
  memcpy(m->slots[e->first_slot], x, sizeof(x));
  assert_int_equal(chunkstore_pieces_build(m, &p), SM_EMALFORMED);
  assert_int_equal(p.count, 0);
  assert_null(p.ids);
  chunkstore_manifest_free(m);

  /* A manifest of holes only has no pieces. */
  m = chunkstore_manifest_new(cs);
  assert_int_equal(chunkstore_manifest_add_file(m, "z", 0644, 4ull * cs, NULL), 0);
  assert_int_equal(chunkstore_pieces_build(m, &p), 0);
  assert_int_equal(p.count, 0);
  assert_int_equal(p.total_bytes, 0);
  chunkstore_pieces_cleanup(&p);
  chunkstore_manifest_free(m);
}

static void test_manifest_builder_rules(void **state) {
  (void)state;
  struct chunkstore_manifest *m = chunkstore_manifest_new(CHUNKSTORE_CHUNK_MIN);
  assert_int_equal(chunkstore_manifest_add_dir(m, "b", 0755), 0);
  assert_int_equal(chunkstore_manifest_add_dir(m, "a", 0755), SM_EINVAL);  /* unsorted */
  assert_int_equal(chunkstore_manifest_add_dir(m, "b", 0755), SM_EINVAL);  /* duplicate */
  assert_int_equal(chunkstore_manifest_add_dir(m, "c", 010000), SM_EINVAL);
  assert_int_equal(chunkstore_manifest_add_file(m, "../x", 0644, 1, NULL), SM_EPATH);
  assert_int_equal(chunkstore_manifest_set_fact(m, "flavor", "mysql"), 0);
  assert_int_equal(chunkstore_manifest_set_fact(m, "flavor", "mariadb"), 0);
  assert_int_equal(chunkstore_manifest_set_fact(m, "", "x"), SM_EINVAL);
  assert_string_equal(chunkstore_manifest_fact(m, "flavor"), "mariadb");
  assert_null(chunkstore_manifest_fact(m, "version"));
  assert_int_equal(m->n_entries, 1);
  chunkstore_manifest_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunk_round_trip),
      cmocka_unit_test(test_chunk_ids),
      cmocka_unit_test(test_chunk_decode_is_bounded),
      cmocka_unit_test(test_delta_round_trip),
      cmocka_unit_test(test_delta_malformed),
      cmocka_unit_test(test_path_rules),
      cmocka_unit_test(test_pieces),
      cmocka_unit_test(test_manifest_builder_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_chunkstore_manifest.c - manifest encoding and decoding: round trips
 * (small and multi-segment), canonical bytes, every prefix of a root, tampered
 * segments, agreement with the craft helper (tests/tools/craft.c), and
 * allocation failures. What the decoder and verifier refuse is tested in
 * test_chunkstore_manifest_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkstore/chunkstore_internal.h"
#include "tests/tools/craft.h"
#include "tests/unit/test_chunkstore_util.h"

#define CS CHUNKSTORE_CHUNK_MIN
#define SEGS_MAX 64

/* Segments the encoder hands out, kept in order. */
struct seg_list {
  uint8_t *bytes[SEGS_MAX];
  size_t len[SEGS_MAX];
  uint8_t id[SEGS_MAX][CHUNKSTORE_ID_BYTES];
  size_t n;
};

static int keep_segment(void *arg, const uint8_t id[CHUNKSTORE_ID_BYTES], const uint8_t *bytes,
                        size_t len) {
  struct seg_list *l = arg;
  if (l->n == SEGS_MAX) {
    return SM_EFULL;
  }
  l->bytes[l->n] = malloc(len);
  memcpy(l->bytes[l->n], bytes, len);
  l->len[l->n] = len;
  memcpy(l->id[l->n], id, CHUNKSTORE_ID_BYTES);
  l->n++;
  return 0;
}

static void seg_list_clear(struct seg_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->bytes[i]);
  }
  l->n = 0;
}

static int decode_all(const uint8_t *root, size_t root_len, const struct seg_list *l,
                      struct chunkstore_manifest **out) {
  struct chunkstore_manifest *m = NULL;
  int rc = chunkstore_manifest_decode_root(root, root_len, &m);
  for (size_t i = 0; rc == 0 && i < l->n; i++) {
    rc = chunkstore_manifest_add_segment(m, i, l->bytes[i], l->len[i]);
  }
  if (rc == 0) {
    rc = chunkstore_manifest_finish(m);
  }
  if (rc < 0) {
    chunkstore_manifest_free(m);
    m = NULL;
  }
  *out = m;
  return rc;
}

static void assert_same_manifest(const struct chunkstore_manifest *a,
                                 const struct chunkstore_manifest *b) {
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->created, b->created);
  assert_memory_equal(a->donor, b->donor, SM_PUBKEY_BYTES);
  assert_int_equal(a->chunk_size, b->chunk_size);
  assert_int_equal(a->n_facts, b->n_facts);
  for (size_t i = 0; i < a->n_facts; i++) {
    assert_string_equal(a->facts[i].key, b->facts[i].key);
    assert_string_equal(a->facts[i].value, b->facts[i].value);
  }
  assert_int_equal(a->n_coords, b->n_coords);
  for (size_t i = 0; i < a->n_coords; i++) {
    assert_string_equal(a->coords[i].key, b->coords[i].key);
    assert_string_equal(a->coords[i].value, b->coords[i].value);
  }
  assert_int_equal(a->n_entries, b->n_entries);
  for (size_t i = 0; i < a->n_entries; i++) {
    const struct chunkstore_entry *x = &a->entries[i];
    const struct chunkstore_entry *y = &b->entries[i];
    assert_string_equal(x->path, y->path);
    assert_int_equal(x->kind, y->kind);
    assert_int_equal(x->mode, y->mode);
    assert_int_equal(x->size, y->size);
    assert_int_equal(x->first_slot, y->first_slot);
    assert_int_equal(x->n_slots, y->n_slots);
  }
  assert_int_equal(a->n_slots, b->n_slots);
  if (a->n_slots > 0) {
    assert_memory_equal(a->slots, b->slots, (size_t)a->n_slots * CHUNKSTORE_ID_BYTES);
  }
  assert_int_equal(a->total_bytes, b->total_bytes);
  assert_memory_equal(a->id, b->id, CHUNKSTORE_ID_BYTES);
  assert_int_equal(a->root_len, b->root_len);
  assert_memory_equal(a->root, b->root, a->root_len);
}

/* A small manifest: facts, coordinates, dirs, files with holes, an empty
 * file and a file with a short last chunk. */
static struct chunkstore_manifest *small_manifest(void) {
  struct chunkstore_manifest *m = chunkstore_manifest_new(CS);
  struct chunkstore_entry *e = NULL;
  assert_int_equal(chunkstore_manifest_set_fact(m, "version", "8.0.36"), 0);
  assert_int_equal(chunkstore_manifest_set_fact(m, "flavor", "mysql"), 0);
  assert_int_equal(chunkstore_manifest_set_fact(m, "page_size", "16384"), 0);
  assert_int_equal(chunkstore_manifest_set_coord(m, "gtid_executed",
                                                 "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
                   0);
  assert_int_equal(chunkstore_manifest_set_coord(m, "binlog_file", "binlog.000042"), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "auto.cnf", 0640, 56, &e), 0);
  tcs_fill_random(m->slots[e->first_slot], CHUNKSTORE_ID_BYTES, 1);
  assert_int_equal(chunkstore_manifest_add_dir(m, "db", 0750), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "db/empty.ibd", 0600, 0, NULL), 0);
  assert_int_equal(chunkstore_manifest_add_dir(m, "db/sub", 0700), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "db/t1.ibd", 0640, 5ull * CS + 7, &e), 0);
  tcs_fill_random(m->slots[e->first_slot], 2 * CHUNKSTORE_ID_BYTES, 2);
  /* slots 2..4 stay holes */
  tcs_fill_random(m->slots[e->first_slot + 5], CHUNKSTORE_ID_BYTES, 3);
  assert_int_equal(chunkstore_manifest_add_dir(m, "empty", 0755), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "ibdata1", 0660, 2ull * CS, &e), 0);
  tcs_fill_random(m->slots[e->first_slot], 2 * CHUNKSTORE_ID_BYTES, 4);
  m->created = 1700000123;
  memset(m->donor, 0x42, SM_PUBKEY_BYTES);
  return m;
}

static void check_round_trip(struct chunkstore_manifest *m, size_t min_segments) {
  struct seg_list l = {0};
  struct seg_list l2 = {0};
  struct chunkstore_manifest *d = NULL;
  assert_int_equal(chunkstore_manifest_encode(m, keep_segment, &l), 0);
  assert_true(l.n >= min_segments);
  assert_int_equal(l.n, m->n_segments);
  for (size_t i = 0; i < l.n; i++) {
    assert_true(l.len[i] <= CHUNKSTORE_SEGMENT_MAX);
  }
  assert_int_equal(decode_all(m->root, m->root_len, &l, &d), 0);
  assert_same_manifest(m, d);
  /* Canonical: the decoded manifest encodes to the very same bytes. */
  assert_int_equal(chunkstore_manifest_encode(d, keep_segment, &l2), 0);
  assert_int_equal(l2.n, l.n);
  for (size_t i = 0; i < l.n; i++) {
    assert_int_equal(l.len[i], l2.len[i]);
    assert_memory_equal(l.bytes[i], l2.bytes[i], l.len[i]);
  }
  assert_int_equal(d->root_len, m->root_len);
  assert_memory_equal(d->root, m->root, m->root_len);
  assert_memory_equal(d->id, m->id, CHUNKSTORE_ID_BYTES);
  /* A tampered segment is refused by id. */
  size_t last = l.n - 1;
  struct chunkstore_manifest *t = NULL;
  assert_int_equal(chunkstore_manifest_decode_root(m->root, m->root_len, &t), 0);
  for (size_t i = 0; i < last; i++) {
    assert_int_equal(chunkstore_manifest_add_segment(t, i, l.bytes[i], l.len[i]), 0);
  }
  assert_int_equal(chunkstore_manifest_finish(t), SM_EMALFORMED); /* not all in */
  l.bytes[last][l.len[last] / 2] ^= 0x01;
  assert_int_equal(chunkstore_manifest_add_segment(t, last, l.bytes[last], l.len[last]),
                   SM_EHASH);
  l.bytes[last][l.len[last] / 2] ^= 0x01;
  assert_int_equal(chunkstore_manifest_add_segment(t, last, l.bytes[last], l.len[last] - 1),
                   SM_EHASH);
  assert_int_equal(chunkstore_manifest_add_segment(t, last + 1, l.bytes[last], l.len[last]),
                   SM_ESTATE);
  assert_int_equal(chunkstore_manifest_add_segment(t, last, l.bytes[last], l.len[last]), 0);
  assert_int_equal(chunkstore_manifest_add_segment(t, last, l.bytes[last], l.len[last]),
                   SM_ESTATE);
  assert_int_equal(chunkstore_manifest_finish(t), 0);
  chunkstore_manifest_free(t);
  chunkstore_manifest_free(d);
  seg_list_clear(&l);
  seg_list_clear(&l2);
}

static void test_manifest_round_trip(void **state) {
  (void)state;
  struct chunkstore_manifest *m = small_manifest();
  check_round_trip(m, 1);
  assert_string_equal(chunkstore_manifest_fact(m, "flavor"), "mysql");
  chunkstore_manifest_free(m);
  /* An empty manifest is valid too. */
  m = chunkstore_manifest_new(CHUNKSTORE_CHUNK_DEFAULT);
  struct seg_list l = {0};
  struct chunkstore_manifest *d = NULL;
  assert_int_equal(chunkstore_manifest_encode(m, keep_segment, &l), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(decode_all(m->root, m->root_len, &l, &d), 0);
  assert_int_equal(d->n_entries, 0);
  chunkstore_manifest_free(d);
  chunkstore_manifest_free(m);
}

static void test_manifest_large(void **state) {
  (void)state;
  struct chunkstore_manifest *m = chunkstore_manifest_new(CS);
  struct chunkstore_entry *e = NULL;
  char path[64];
  assert_int_equal(chunkstore_manifest_add_dir(m, "db", 0750), 0);
  for (int i = 0; i < 3000; i++) {
    snprintf(path, sizeof(path), "db/small%05d.ibd", i);
    assert_int_equal(chunkstore_manifest_add_file(m, path, 0640, (uint64_t)(i % 5) * 7000, &e),
                     0);
    tcs_fill_random(m->slots[e->first_slot], (size_t)e->n_slots * CHUNKSTORE_ID_BYTES,
                    (uint64_t)i + 100);
  }
  assert_int_equal(chunkstore_manifest_add_file(m, "ibdata1", 0640, 100000ull * CS - 1, &e), 0);
  tcs_fill_random(m->slots[e->first_slot], (size_t)e->n_slots * CHUNKSTORE_ID_BYTES, 99);
  for (uint64_t s = 0; s < e->n_slots; s += 97) {
    memset(m->slots[e->first_slot + s], 0, CHUNKSTORE_ID_BYTES); /* a few holes */
  }
  m->created = 1;
  check_round_trip(m, 4);
  chunkstore_manifest_free(m);
}

static void test_root_prefixes_rejected(void **state) {
  (void)state;
  struct chunkstore_manifest *m = small_manifest();
  struct seg_list l = {0};
  struct chunkstore_manifest *d = NULL;
  assert_int_equal(chunkstore_manifest_encode(m, keep_segment, &l), 0);
  for (size_t cut = 0; cut < m->root_len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees over-reads */
    memcpy(copy, m->root, cut);
    assert_true(chunkstore_manifest_decode_root(copy, cut, &d) < 0);
    assert_null(d);
    free(copy);
  }
  /* One trailing byte. */
  uint8_t *longer = malloc(m->root_len + 1);
  memcpy(longer, m->root, m->root_len);
  longer[m->root_len] = 0xc0;
  assert_int_equal(chunkstore_manifest_decode_root(longer, m->root_len + 1, &d), SM_EMALFORMED);
  free(longer);
  /* Every prefix of the segment too. */
  assert_int_equal(chunkstore_manifest_decode_root(m->root, m->root_len, &d), 0);
  for (size_t cut = 0; cut < l.len[0]; cut++) {
    assert_true(chunkstore__manifest_decode_segment(d, l.bytes[0], cut) < 0);
    chunkstore_manifest_free(d);
    assert_int_equal(chunkstore_manifest_decode_root(m->root, m->root_len, &d), 0);
  }
  chunkstore_manifest_free(d);
  seg_list_clear(&l);
  chunkstore_manifest_free(m);
}

/* The craft helper writes what the format note describes; for one segment
 * its bytes equal the encoder's. */
static void test_craft_matches_encoder(void **state) {
  (void)state;
  struct chunkstore_manifest *m = chunkstore_manifest_new(CS);
  struct chunkstore_entry *e = NULL;
  struct seg_list l = {0};
  struct craft c;
  uint8_t ids[3 * CHUNKSTORE_ID_BYTES];
  tcs_fill_random(ids, sizeof(ids), 5);
  assert_int_equal(chunkstore_manifest_set_fact(m, "flavor", "mariadb"), 0);
  assert_int_equal(chunkstore_manifest_add_dir(m, "d", 0755), 0);
  assert_int_equal(chunkstore_manifest_add_file(m, "d/f", 0600, 2ull * CS + 1, &e), 0);
  memcpy(m->slots[e->first_slot], ids, sizeof(ids));
  m->created = 1700000000;
  memset(m->donor, 7, SM_PUBKEY_BYTES);
  assert_int_equal(chunkstore_manifest_encode(m, keep_segment, &l), 0);

  craft_init(&c, CS, m->donor);
  c.fact_keys[0] = "flavor";
  c.fact_values[0] = "mariadb";
  c.n_facts = 1;
  assert_int_equal(craft_dir(&c, "d", 0755), 0);
  assert_int_equal(craft_file(&c, "d/f", 0600, 2ull * CS + 1, 0, ids, 3), 0);
  assert_int_equal(craft_finish(&c), 0);
  assert_int_equal(c.n_seg, 1);
  assert_int_equal(c.seg_len[0], l.len[0]);
  assert_memory_equal(c.seg[0], l.bytes[0], l.len[0]);
  assert_int_equal(c.root_len, m->root_len);
  assert_memory_equal(c.root, m->root, m->root_len);
  assert_memory_equal(c.id, m->id, CHUNKSTORE_ID_BYTES);
  craft_cleanup(&c);
  seg_list_clear(&l);
  chunkstore_manifest_free(m);
}

/* ------------------------------------------------------------------ OOM */

static void test_manifest_oom(void **state) {
  (void)state;
  struct chunkstore_manifest *m = small_manifest();
  struct seg_list l = {0};
  int rc = 0;
  /* Encoding. */
  long n = 0;
  for (;; n++) {
    sm_alloc_fail_after(n);
    rc = chunkstore_manifest_encode(m, keep_segment, &l);
    sm_alloc_fail_reset();
    if (rc == 0) {
      break;
    }
    assert_int_equal(rc, SM_ENOMEM);
    seg_list_clear(&l);
  }
  assert_true(n > 0);
  /* Decoding. */
  struct chunkstore_manifest *d = NULL;
  for (n = 0;; n++) {
    sm_alloc_fail_after(n);
    rc = decode_all(m->root, m->root_len, &l, &d);
    sm_alloc_fail_reset();
    if (rc == 0) {
      break;
    }
    assert_int_equal(rc, SM_ENOMEM);
    assert_null(d);
  }
  assert_true(n > 5);
  /* The piece table. */
  struct chunkstore_pieces p;
  for (n = 0;; n++) {
    sm_alloc_fail_after(n);
    rc = chunkstore_pieces_build(d, &p);
    sm_alloc_fail_reset();
    if (rc == 0) {
      break;
    }
    assert_int_equal(rc, SM_ENOMEM);
    assert_null(p.ids);
  }
  assert_int_equal(p.count, 6);
  chunkstore_pieces_cleanup(&p);
  /* Building. */
  struct chunkstore_manifest *b = NULL;
  for (n = 0;; n++) {
    sm_alloc_fail_after(n);
    b = chunkstore_manifest_new(CS);
    rc = b == NULL ? SM_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < d->n_facts; i++) {
      rc = chunkstore_manifest_set_fact(b, d->facts[i].key, d->facts[i].value);
    }
    for (size_t i = 0; rc == 0 && i < d->n_entries; i++) {
      const struct chunkstore_entry *e = &d->entries[i];
      rc = e->kind == CHUNKSTORE_ENTRY_DIR
               ? chunkstore_manifest_add_dir(b, e->path, e->mode)
               : chunkstore_manifest_add_file(b, e->path, e->mode, e->size, NULL);
    }
    sm_alloc_fail_reset();
    chunkstore_manifest_free(b);
    if (rc == 0) {
      break;
    }
    assert_int_equal(rc, SM_ENOMEM);
  }
  chunkstore_manifest_free(d);
  seg_list_clear(&l);
  chunkstore_manifest_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_manifest_round_trip),
      cmocka_unit_test(test_manifest_large),
      cmocka_unit_test(test_root_prefixes_rejected),
      cmocka_unit_test(test_craft_matches_encoder),
      cmocka_unit_test(test_manifest_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

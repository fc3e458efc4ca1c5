/* test_chunkstore_manifest_reject.c - what the strict manifest decoder and
 * verifier refuse: every rejection path through hand-crafted manifests
 * (tests/tools/craft.c), the crafted manifests that must still decode, and
 * signatures and trust, in memory and through a store. */
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

/* ---------------------------------------------------------- rejections */

static uint8_t ids4[4 * CHUNKSTORE_ID_BYTES];

enum stage { AT_ANY, AT_ROOT, AT_SEGMENT, AT_FINISH, AT_PIECES };

struct reject_case {
  const char *name;
  void (*build)(struct craft *c);
  int want;
  enum stage stage;
};

/* A name long enough for its segment to have room for one more id than it
 * lists, so a root claiming that id passes the root's own checks. */
static const char long_name[] = "a-name-long-enough-to-make-the-segment-hold-another-id";

static void file1(struct craft *c, const char *path) {
  assert_int_equal(craft_file(c, path, 0644, 100, 0, ids4, 1), 0);
}

static void b_absolute(struct craft *c) { file1(c, "/etc/passwd"); }
static void b_dotdot(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  file1(c, "a/../../b");
}
static void b_dot(struct craft *c) { file1(c, "./a"); }
static void b_dot_alone(struct craft *c) { assert_int_equal(craft_dir(c, ".", 0755), 0); }
static void b_empty_component(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  file1(c, "a//b");
}
static void b_trailing_slash(struct craft *c) { assert_int_equal(craft_dir(c, "a/", 0755), 0); }
static void b_empty_path(struct craft *c) { file1(c, ""); }
static void b_control(struct craft *c) { file1(c, "a\x01" "b"); }
static void b_embedded_nul(struct craft *c) {
  /* [1, "a\0b", 0644, 100, 0, bin(32)] packed by hand */
  uint8_t rec[64] = {0x96, 0x01, 0xa3, 'a', 0, 'b', 0xcd, 0x01, 0xa4, 0x64, 0x00, 0xc4, 0x20};
  memcpy(rec + 13, ids4, CHUNKSTORE_ID_BYTES);
  assert_int_equal(craft_record_raw(c, rec, 13 + CHUNKSTORE_ID_BYTES), 0);
  c->entries++;
  c->slots++;
  c->bytes += 100;
}
static void b_long_component(struct craft *c) {
  char name[300];
  memset(name, 'n', 256);
  name[256] = '\0';
  file1(c, name);
}
static void b_long_path(struct craft *c) {
  char path[CHUNKSTORE_PATH_MAX + 2];
  for (size_t i = 0; i < sizeof(path) - 1; i++) {
    path[i] = i % 64 == 63 ? '/' : 'p';
  }
  path[sizeof(path) - 1] = '\0';
  file1(c, path);
}
static void b_duplicate_dir(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  assert_int_equal(craft_dir(c, "a", 0755), 0);
}
static void b_duplicate_file(struct craft *c) {
  file1(c, "a");
  file1(c, "a");
}
static void b_dir_and_file(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  file1(c, "a");
}
static void b_unsorted(struct craft *c) {
  file1(c, "b");
  file1(c, "a");
}
static void b_unsorted_across_segments(struct craft *c) {
  file1(c, "b");
  assert_int_equal(craft_cut(c), 0);
  file1(c, "a");
}
static void b_file_below_file(struct craft *c) {
  file1(c, "a");
  file1(c, "a/b");
}
static void b_missing_parent(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  file1(c, "a/b/c");
}
static void b_size_short_of_chunks(struct craft *c) {
  /* 3 chunks of size, 2 ids, and the root claims only the 2. */
  assert_int_equal(craft_file(c, "a", 0644, 3 * CS, 0, ids4, 2), 0);
}
static void b_size_short_root_agrees(struct craft *c) {
  assert_int_equal(craft_file(c, long_name, 0644, 3 * CS, 0, ids4, 2), 0);
  c->slots = 3;
}
static void b_too_many_ids(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, CS, 0, ids4, 2), 0);
}
static void b_ids_for_empty_file(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 0, 0, ids4, 1), 0);
}
static void b_no_ids(struct craft *c) {
  assert_int_equal(craft_file(c, long_name, 0644, 10, 0, ids4, 0), 0);
  c->slots = 1;
}
static void b_ids_not_multiple(struct craft *c) {
  uint8_t rec[64] = {0x96, 0x01, 0xa1, 'a', 0xcd, 0x01, 0xa4, 0x64, 0x00, 0xc4, 0x1f};
  memcpy(rec + 11, ids4, 31);
  assert_int_equal(craft_record_raw(c, rec, 11 + 31), 0);
  c->entries++;
  c->slots++;
  c->bytes += 100;
}
static void b_continuation_skips(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 3 * CS, 0, ids4, 1), 0);
  assert_int_equal(craft_file(c, "a", 0644, 3 * CS, 2, ids4, 1), 0);
}
static void b_continuation_overlaps(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 3 * CS, 0, ids4, 2), 0);
  assert_int_equal(craft_file(c, "a", 0644, 3 * CS, 1, ids4, 2), 0);
}
static void b_continuation_other_path(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 2 * CS, 0, ids4, 1), 0);
  assert_int_equal(craft_file(c, "b", 0644, 2 * CS, 1, ids4, 1), 0);
}
static void b_continuation_other_size(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 2 * CS, 0, ids4, 1), 0);
  assert_int_equal(craft_file(c, "a", 0644, 2 * CS + 1, 1, ids4, 1), 0);
}
static void b_continuation_other_mode(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 2 * CS, 0, ids4, 1), 0);
  assert_int_equal(craft_file(c, "a", 0600, 2 * CS, 1, ids4, 1), 0);
}
static void b_continuation_first(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 2 * CS, 1, ids4, 1), 0);
  c->entries++;
  c->bytes += 2 * CS;
}
static void b_continuation_after_dir(struct craft *c) {
  assert_int_equal(craft_dir(c, "a", 0755), 0);
  assert_int_equal(craft_file(c, "a", 0755, 2 * CS, 1, ids4, 1), 0);
}
static void b_unfinished_then_dir(struct craft *c) {
  assert_int_equal(craft_file(c, long_name, 0644, 2 * CS, 0, ids4, 1), 0);
  assert_int_equal(craft_dir(c, "b", 0755), 0);
  c->slots = 2;
}
static void b_unfinished_then_file(struct craft *c) {
  assert_int_equal(craft_file(c, long_name, 0644, 2 * CS, 0, ids4, 1), 0);
  file1(c, "b");
  c->slots = 3;
}
static void b_more_entries_claimed(struct craft *c) {
  file1(c, "a");
  c->entries++;
}
static void b_fewer_entries_claimed(struct craft *c) {
  file1(c, "a");
  file1(c, "b");
  c->entries--;
}
static void b_more_slots_claimed(struct craft *c) {
  file1(c, "a");
  file1(c, long_name);
  c->slots++;
}
static void b_absurd_slots_claimed(struct craft *c) {
  file1(c, "a");
  c->slots = 1u << 30; /* would make one file record reserve 32 GiB */
}
static void b_more_bytes_claimed(struct craft *c) {
  file1(c, "a");
  c->bytes++;
}
static void b_fewer_bytes_claimed(struct craft *c) {
  file1(c, "a");
  c->bytes--;
}
static void b_chunk_not_pow2(struct craft *c) {
  c->chunk_size = 3 * CS;
  file1(c, "a");
}
static void b_chunk_too_small(struct craft *c) {
  c->chunk_size = CS / 2;
  file1(c, "a");
}
static void b_chunk_too_big(struct craft *c) {
  c->chunk_size = 2ull * CHUNKSTORE_CHUNK_MAX;
  file1(c, "a");
}
static void b_chunk_zero(struct craft *c) { c->chunk_size = 0; }
static void b_dir_mode(struct craft *c) { assert_int_equal(craft_dir(c, "a", 010000), 0); }
static void b_file_mode(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0100644, 100, 0, ids4, 1), 0);
}
static void b_version_2(struct craft *c) {
  c->version = 2;
  file1(c, "a");
}
static void b_version_0(struct craft *c) { c->version = 0; }
static void b_format(struct craft *c) { c->format = "other-manifest"; }
static void b_segment_not_array(struct craft *c) {
  static const uint8_t seg[] = {0x81, 0xa1, 'a', 0x01};
  assert_int_equal(craft_segment_raw(c, seg, sizeof(seg)), 0);
}
static void b_segment_trailing(struct craft *c) {
  static const uint8_t seg[] = {0x90, 0xc0};
  assert_int_equal(craft_segment_raw(c, seg, sizeof(seg)), 0);
}
static void b_record_arity(struct craft *c) {
  static const uint8_t rec[] = {0x94, 0x00, 0xa1, 'a', 0xcd, 0x01, 0xed, 0x00};
  assert_int_equal(craft_record_raw(c, rec, sizeof(rec)), 0);
  c->entries++;
}
static void b_record_kind(struct craft *c) {
  static const uint8_t rec[] = {0x93, 0x02, 0xa1, 'a', 0xcd, 0x01, 0xed};
  assert_int_equal(craft_record_raw(c, rec, sizeof(rec)), 0);
  c->entries++;
}
static void b_record_not_array(struct craft *c) {
  static const uint8_t rec[] = {0xa1, 'a'};
  assert_int_equal(craft_record_raw(c, rec, sizeof(rec)), 0);
  c->entries++;
}
static void b_size_too_big(struct craft *c) {
  assert_int_equal(craft_file(c, "a", 0644, 1ull << 62, 0, ids4, 1), 0);
}
static void b_one_id_two_lengths(struct craft *c) {
  /* The same id as a full chunk of "a" and as the 100-byte "b". */
  assert_int_equal(craft_file(c, "a", 0644, CS, 0, ids4, 1), 0);
  file1(c, "b");
}

static const struct reject_case reject_cases[] = {
    {"absolute", b_absolute, SM_EPATH, AT_SEGMENT},
    {"dotdot", b_dotdot, SM_EPATH, AT_SEGMENT},
    {"dot", b_dot, SM_EPATH, AT_SEGMENT},
    {"dot alone", b_dot_alone, SM_EPATH, AT_SEGMENT},
    {"empty component", b_empty_component, SM_EPATH, AT_SEGMENT},
    {"trailing slash", b_trailing_slash, SM_EPATH, AT_SEGMENT},
    {"empty path", b_empty_path, SM_EPATH, AT_SEGMENT},
    {"control character", b_control, SM_EPATH, AT_SEGMENT},
    {"embedded NUL", b_embedded_nul, SM_EMALFORMED, AT_SEGMENT},
    {"over-long component", b_long_component, SM_EPATH, AT_SEGMENT},
    {"over-long path", b_long_path, SM_EMALFORMED, AT_SEGMENT},
    {"duplicate dir", b_duplicate_dir, SM_EPATH, AT_SEGMENT},
    {"duplicate file", b_duplicate_file, SM_EPATH, AT_SEGMENT},
    {"dir and file of one name", b_dir_and_file, SM_EPATH, AT_SEGMENT},
    {"unsorted", b_unsorted, SM_EPATH, AT_SEGMENT},
    {"unsorted across segments", b_unsorted_across_segments, SM_EPATH, AT_SEGMENT},
    {"file below a file", b_file_below_file, SM_EPATH, AT_FINISH},
    {"missing parent", b_missing_parent, SM_EPATH, AT_FINISH},
    {"size longer than chunk list", b_size_short_of_chunks, SM_EMALFORMED, AT_SEGMENT},
    {"size longer, root agrees", b_size_short_root_agrees, SM_EMALFORMED, AT_FINISH},
    {"more ids than size", b_too_many_ids, SM_EMALFORMED, AT_SEGMENT},
    {"ids for an empty file", b_ids_for_empty_file, SM_EMALFORMED, AT_SEGMENT},
    {"no ids for a non-empty file", b_no_ids, SM_EMALFORMED, AT_SEGMENT},
    {"ids not a multiple of 32", b_ids_not_multiple, SM_EMALFORMED, AT_SEGMENT},
    {"continuation skips", b_continuation_skips, SM_EMALFORMED, AT_SEGMENT},
    {"continuation overlaps", b_continuation_overlaps, SM_EMALFORMED, AT_SEGMENT},
    {"continuation of another path", b_continuation_other_path, SM_EMALFORMED, AT_SEGMENT},
    {"continuation with another size", b_continuation_other_size, SM_EMALFORMED, AT_SEGMENT},
    {"continuation with another mode", b_continuation_other_mode, SM_EMALFORMED, AT_SEGMENT},
    {"continuation first", b_continuation_first, SM_EMALFORMED, AT_SEGMENT},
    {"continuation of a dir", b_continuation_after_dir, SM_EMALFORMED, AT_SEGMENT},
    {"unfinished file, then dir", b_unfinished_then_dir, SM_EMALFORMED, AT_SEGMENT},
    {"unfinished file, then file", b_unfinished_then_file, SM_EMALFORMED, AT_SEGMENT},
    {"root claims more entries", b_more_entries_claimed, SM_EMALFORMED, AT_FINISH},
    {"root claims fewer entries", b_fewer_entries_claimed, SM_EMALFORMED, AT_SEGMENT},
    {"root claims more slots", b_more_slots_claimed, SM_EMALFORMED, AT_FINISH},
    {"root claims absurd slots", b_absurd_slots_claimed, SM_EMALFORMED, AT_ROOT},
    {"root claims more bytes", b_more_bytes_claimed, SM_EMALFORMED, AT_FINISH},
    {"root claims fewer bytes", b_fewer_bytes_claimed, SM_EMALFORMED, AT_FINISH},
    {"chunk size not a power of two", b_chunk_not_pow2, SM_EMALFORMED, AT_ROOT},
    {"chunk size too small", b_chunk_too_small, SM_EMALFORMED, AT_ROOT},
    {"chunk size too big", b_chunk_too_big, SM_EMALFORMED, AT_ROOT},
    {"chunk size zero", b_chunk_zero, SM_EMALFORMED, AT_ROOT},
    {"dir mode above 07777", b_dir_mode, SM_EMALFORMED, AT_SEGMENT},
    {"file mode above 07777", b_file_mode, SM_EMALFORMED, AT_SEGMENT},
    {"format version 2", b_version_2, SM_EVERSION, AT_ROOT},
    {"format version 0", b_version_0, SM_EVERSION, AT_ROOT},
    {"format name", b_format, SM_EMALFORMED, AT_ROOT},
    {"segment not an array", b_segment_not_array, SM_EMALFORMED, AT_SEGMENT},
    {"segment with trailing bytes", b_segment_trailing, SM_EMALFORMED, AT_SEGMENT},
    {"record of wrong arity", b_record_arity, SM_EMALFORMED, AT_SEGMENT},
    {"record of unknown kind", b_record_kind, SM_EMALFORMED, AT_SEGMENT},
    {"record not an array", b_record_not_array, SM_EMALFORMED, AT_SEGMENT},
    {"file size above the limit", b_size_too_big, SM_EMALFORMED, AT_SEGMENT},
    {"one id at two lengths", b_one_id_two_lengths, SM_EMALFORMED, AT_PIECES},
};

/* Decodes c step by step and returns the first error and where it came. */
static int decode_staged(const struct craft *c, enum stage *out_stage) {
  struct chunkstore_manifest *m = NULL;
  struct chunkstore_pieces p;
  *out_stage = AT_ROOT;
  int rc = chunkstore_manifest_decode_root(c->root, c->root_len, &m);
  if (rc < 0) {
    return rc;
  }
  *out_stage = AT_SEGMENT;
  for (size_t i = 0; rc == 0 && i < c->n_seg; i++) {
    rc = chunkstore_manifest_add_segment(m, i, c->seg[i], c->seg_len[i]);
  }
  if (rc == 0) {
    *out_stage = AT_FINISH;
    rc = chunkstore_manifest_finish(m);
  }
  if (rc == 0) {
    *out_stage = AT_PIECES;
    rc = chunkstore_pieces_build(m, &p);
    if (rc == 0) {
      chunkstore_pieces_cleanup(&p);
    }
  }
  chunkstore_manifest_free(m);
  return rc;
}

static void test_manifest_rejections(void **state) {
  (void)state;
  tcs_fill_random(ids4, sizeof(ids4), 77);
  for (size_t i = 0; i < SM_ARRAY_LEN(reject_cases); i++) {
    const struct reject_case *rc = &reject_cases[i];
    struct craft c;
    enum stage at;
    craft_init(&c, CS, NULL);
    rc->build(&c);
    assert_int_equal(craft_finish(&c), 0);
    int got = decode_staged(&c, &at);
    if (got != rc->want || at != rc->stage) {
      fail_msg("case '%s': got %d (%s) at stage %d, want %d (%s) at stage %d", rc->name, got,
               sm_strerror(got), (int)at, rc->want, sm_strerror(rc->want), (int)rc->stage);
    }
    craft_cleanup(&c);
  }
}

/* The rules above are not over-strict: a file continued over three records
 * and two segments, holes, empty files and nested dirs decode. */
static void test_manifest_crafted_valid(void **state) {
  (void)state;
  struct craft c;
  struct chunkstore_manifest *m = NULL;
  uint8_t zero[CHUNKSTORE_ID_BYTES] = {0};
  tcs_fill_random(ids4, sizeof(ids4), 78);
  craft_init(&c, CS, NULL);
  assert_int_equal(craft_dir(&c, "a", 0755), 0);
  assert_int_equal(craft_dir(&c, "a/b", 07777), 0);
  assert_int_equal(craft_file(&c, "a/b/big", 0644, 4 * CS - 1, 0, ids4, 1), 0);
  assert_int_equal(craft_file(&c, "a/b/big", 0644, 4 * CS - 1, 1, zero, 1), 0);
  assert_int_equal(craft_cut(&c), 0);
  assert_int_equal(craft_file(&c, "a/b/big", 0644, 4 * CS - 1, 2, ids4 + 64, 2), 0);
  assert_int_equal(craft_file(&c, "a/empty", 0, 0, 0, NULL, 0), 0);
  assert_int_equal(craft_finish(&c), 0);
  assert_int_equal(c.n_seg, 2);
  assert_int_equal(craft_decode(&c, &m), 0);
  assert_int_equal(m->n_entries, 4);
  assert_int_equal(m->n_slots, 4);
  assert_memory_equal(m->slots[3], ids4 + 96, CHUNKSTORE_ID_BYTES);
  assert_true(chunkstore_id_is_zero(m->slots[1]));
  chunkstore_manifest_free(m);
  craft_cleanup(&c);

  /* Each named case of sm-craft-manifest is refused. */
  for (size_t i = 0; i < craft_case_count(); i++) {
    assert_int_equal(craft_case_init(&c, craft_case_name(i), NULL, NULL), 0);
    assert_int_equal(craft_finish(&c), 0);
    int rc = craft_decode(&c, &m);
    assert_true(rc == SM_EPATH || rc == SM_EMALFORMED);
    assert_null(m);
    craft_cleanup(&c);
  }
  assert_int_equal(craft_case_init(&c, "no-such-case", NULL, NULL), SM_ENOTFOUND);
}

/* ---------------------------------------------------------- signatures */

static void test_manifest_signatures(void **state) {
  (void)state;
  struct sm_identity key, other;
  struct sm_trust trust, wrong_trust;
  struct craft c;
  struct chunkstore_manifest *m = NULL;
  uint8_t sig[SM_SIG_BYTES];
  char store[4096], path[4400], hex[2 * CHUNKSTORE_ID_BYTES + 1];
  tcs_identity(&key);
  tcs_identity(&other);
  assert_int_equal(sm_trust_init_keys(&trust, &key.public_key, 1), 0);
  assert_int_equal(sm_trust_init_keys(&wrong_trust, &other.public_key, 1), 0);
  tcs_fill_random(ids4, sizeof(ids4), 79);
  craft_init(&c, CS, key.public_key);
  file1(&c, "a");
  assert_int_equal(craft_finish(&c), 0);

  /* In memory. */
  craft_sign(&c, &key, sig);
  assert_int_equal(chunkstore_manifest_decode_root(c.root, c.root_len, &m), 0);
  assert_int_equal(chunkstore_manifest_verify(m, sig, NULL), 0);
  assert_int_equal(chunkstore_manifest_verify(m, sig, &trust), 0);
  assert_int_equal(chunkstore_manifest_verify(m, sig, &wrong_trust), SM_EUNTRUSTED);
  sig[10] ^= 1;
  assert_int_equal(chunkstore_manifest_verify(m, sig, NULL), SM_EBADSIG);
  sig[10] ^= 1;
  chunkstore_manifest_free(m);
  /* Signed by another key than the donor it names. */
  craft_sign(&c, &other, sig);
  assert_int_equal(chunkstore_manifest_decode_root(c.root, c.root_len, &m), 0);
  assert_int_equal(chunkstore_manifest_verify(m, sig, NULL), SM_EBADSIG);
  chunkstore_manifest_free(m);
  /* A root changed after signing (a decodable change: the created time). */
  craft_sign(&c, &key, sig);
  c.created++;
  assert_int_equal(craft_finish(&c), 0);
  assert_int_equal(chunkstore_manifest_decode_root(c.root, c.root_len, &m), 0);
  assert_int_equal(chunkstore_manifest_verify(m, sig, NULL), SM_EBADSIG);
  chunkstore_manifest_free(m);
  c.created--;
  assert_int_equal(craft_finish(&c), 0);

  /* Through a store. */
  tcs_tmpdir("sig", store, sizeof(store));
  assert_int_equal(craft_write_store(&c, store, &key), 0);
  assert_int_equal(chunkstore_store_load_manifest(store, NULL, &trust, &m, sig), 0);
  assert_int_equal(m->n_entries, 1);
  chunkstore_manifest_free(m);
  assert_int_equal(chunkstore_store_load_manifest(store, NULL, &wrong_trust, &m, NULL),
                   SM_EUNTRUSTED);
  assert_null(m);
  sm_hex_encode(c.id, CHUNKSTORE_ID_BYTES, hex);
  /* Flip a byte of the stored signature. */
  snprintf(path, sizeof(path), "%s/manifests/%s/sig", store, hex);
  sig[0] ^= 0x80;
  assert_int_equal(sm_fs_write_atomic(path, sig, sizeof(sig), 0644), 0);
  assert_int_equal(chunkstore_store_load_manifest(store, hex, NULL, &m, NULL), SM_EBADSIG);
  sig[0] ^= 0x80;
  assert_int_equal(sm_fs_write_atomic(path, sig, sizeof(sig), 0644), 0);
  /* Flip a byte of the stored root: its id no longer names it. */
  snprintf(path, sizeof(path), "%s/manifests/%s/root", store, hex);
  c.root[c.root_len - 20] ^= 0x01; /* inside the segment id */
  assert_int_equal(sm_fs_write_atomic(path, c.root, c.root_len, 0644), 0);
  assert_int_equal(chunkstore_store_load_manifest(store, hex, NULL, &m, NULL), SM_EHASH);
  c.root[c.root_len - 20] ^= 0x01;
  assert_int_equal(sm_fs_write_atomic(path, c.root, c.root_len, 0644), 0);
  /* Flip a byte of the stored segment. */
  sm_hex_encode(c.seg_id[0], CHUNKSTORE_ID_BYTES, hex);
  snprintf(path, sizeof(path), "%s/segments/%s", store, hex);
  c.seg[0][3] ^= 0x01;
  assert_int_equal(sm_fs_write_atomic(path, c.seg[0], c.seg_len[0], 0644), 0);
  assert_int_equal(chunkstore_store_load_manifest(store, NULL, NULL, &m, NULL), SM_EHASH);
  assert_int_equal(chunkstore_store_load_manifest(store, "../../etc", NULL, &m, NULL),
                   SM_EINVAL);
  tcs_rmrf(store);
  craft_cleanup(&c);
  sm_trust_cleanup(&trust);
  sm_trust_cleanup(&wrong_trust);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_manifest_rejections),
      cmocka_unit_test(test_manifest_crafted_valid),
      cmocka_unit_test(test_manifest_signatures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_manifest.c - libFuzzer target for the manifest decoder.
 *
 * The first byte picks the mode:
 *   even  the rest is a manifest root for chunkstore_manifest_decode_root
 *         (and, for a root without segments, finish and the piece table)
 *   odd   a segment, decoded without the id check against a root built
 *         from a small header, then finish and the piece table:
 *
 *   +------+-------------+--------------+------------+-------------+---------+
 *   | mode | chunk shift | entries: u16 | slots: u16 | bytes: u64  | segment |
 *   +------+-------------+--------------+------------+-------------+---------+
 *
 * The header sets the totals the root claims, so valid inputs can reach a
 * successful finish; all integers big-endian. */
#include <stddef.h>
#include <stdint.h>

#include "chunkstore/chunkstore_internal.h"
#include "tests/tools/craft.h"

#define HEADER 14

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pieces(const struct chunkstore_manifest *m) {
  struct chunkstore_pieces p;
  if (chunkstore_pieces_build(m, &p) == 0) {
    chunkstore_pieces_cleanup(&p);
  }
}

static void fuzz_root(const uint8_t *data, size_t size) {
  struct chunkstore_manifest *m = NULL;
  if (chunkstore_manifest_decode_root(data, size, &m) != 0) {
    return;
  }
  if (m->n_segments == 0 && chunkstore_manifest_finish(m) == 0) {
    pieces(m);
  }
  chunkstore_manifest_free(m);
}

static void fuzz_segment(const uint8_t *data, size_t size) {
  struct craft c;
  struct chunkstore_manifest *m = NULL;
  if (size < HEADER) {
    return;
  }
  const uint8_t *seg = data + HEADER;
  size_t seg_len = size - HEADER;
  craft_init(&c, 1ull << (14 + data[1] % 13), NULL);
  c.entries = sm_load_be16(data + 2);
  c.slots = sm_load_be16(data + 4);
  c.bytes = sm_load_be64(data + 6);
  /* The root lists the input as its one segment (never empty: a root may
   * not declare a zero-length segment). */
  static const uint8_t empty_array = 0x90;
  if (craft_segment_raw(&c, seg_len ? seg : &empty_array, seg_len ? seg_len : 1) == 0 &&
      craft_finish(&c) == 0 && chunkstore_manifest_decode_root(c.root, c.root_len, &m) == 0) {
    if (chunkstore__manifest_decode_segment(m, seg, seg_len) == 0 &&
        chunkstore_manifest_finish(m) == 0) {
      pieces(m);
    }
    chunkstore_manifest_free(m);
  }
  craft_cleanup(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  if (data[0] % 2 == 0) {
    fuzz_root(data + 1, size - 1);
  } else {
    fuzz_segment(data, size);
  }
  return 0;
}

/* craft.h - builds manifest segments and roots byte by byte with msgpack-c,
 * computes their ids and signs them, so tests and sm-craft-manifest can make
 * validly signed manifests that the chunkstore encoder would refuse to write.
 *
 * Usage: craft_init, then craft_dir / craft_file records (craft_cut ends a
 * segment), adjust any root field, craft_finish, then craft_sign or
 * craft_write_store. The add functions keep the root totals (entries, slots,
 * bytes) in step with what they add; a test overrides them afterwards to
 * make the root lie. Memory comes from plain malloc, never sm_malloc, so an
 * allocation-failure test counts only the chunkstore's allocations. */
#ifndef SM_TESTS_CRAFT_H
#define SM_TESTS_CRAFT_H

#include <stddef.h>
#include <stdint.h>

#include "chunkstore/chunkstore.h"
#include "common/common.h"

#define CRAFT_SEGMENTS_MAX 64
#define CRAFT_KV_MAX 8

struct craft {
  /* Root fields; any of them may be changed before craft_finish. */
  const char *format;
  uint64_t version;
  uint64_t created;
  uint8_t donor[SM_PUBKEY_BYTES];
  uint64_t chunk_size;
  uint64_t entries, slots, bytes;
  const char *fact_keys[CRAFT_KV_MAX];
  const char *fact_values[CRAFT_KV_MAX];
  size_t n_facts;
  /* Finished segments. */
  uint8_t *seg[CRAFT_SEGMENTS_MAX];
  size_t seg_len[CRAFT_SEGMENTS_MAX];
  uint8_t seg_id[CRAFT_SEGMENTS_MAX][CHUNKSTORE_ID_BYTES];
  size_t n_seg;
  /* The segment being built. */
  msgpack_sbuffer body;
  msgpack_packer pk;
  uint32_t records;
  /* Set by craft_finish. */
  uint8_t *root;
  size_t root_len;
  uint8_t id[CHUNKSTORE_ID_BYTES];
};

/* Starts an empty manifest; donor may be NULL (all zero). */
void craft_init(struct craft *c, uint64_t chunk_size, const uint8_t *donor);
void craft_cleanup(struct craft *c);

/* Appends a directory record [0, path, mode]. */
int craft_dir(struct craft *c, const char *path, uint64_t mode);
/* Appends a file record [1, path, mode, size, first, ids]; n_ids ids of
 * CHUNKSTORE_ID_BYTES each. A record with first == 0 counts as a new entry
 * and adds size to the byte total. */
int craft_file(struct craft *c, const char *path, uint64_t mode, uint64_t size,
               uint64_t first, const uint8_t *ids, size_t n_ids);
/* Appends one already-encoded msgpack object as a record. */
int craft_record_raw(struct craft *c, const void *bytes, size_t len);
/* Ends the current segment (no-op when it holds no record). */
int craft_cut(struct craft *c);
/* Appends a whole segment of arbitrary bytes. */
int craft_segment_raw(struct craft *c, const void *bytes, size_t len);
/* Ends the last segment and packs the root; sets c->root, c->root_len, c->id. */
int craft_finish(struct craft *c);

/* Detached signature over the finished root. */
void craft_sign(const struct craft *c, const struct sm_identity *key,
                uint8_t sig[SM_SIG_BYTES]);
/* Writes the finished manifest into a store in chunkstore's layout:
 * STORE/segments/<hex>, STORE/manifests/<hex>/{root,sig}, STORE/latest. */
int craft_write_store(const struct craft *c, const char *store, const struct sm_identity *key);
/* Decodes the finished manifest as a receiver would: decode_root,
 * add_segment for each segment, finish. Returns the first error. */
int craft_decode(const struct craft *c, struct chunkstore_manifest **out);

/* Content of a small crafted file: len bytes derived from seed. Its id goes
 * to out_id; when store is not NULL the chunk is also put into the store. */
int craft_chunk(const char *store, const char *seed, size_t len,
                uint8_t out_id[CHUNKSTORE_ID_BYTES]);

/* Named malicious manifests (sm-craft-manifest --case). */
size_t craft_case_count(void);
const char *craft_case_name(size_t i);
/* Adds the records of case name to c (initialised with the chunk size the
 * case wants: craft_case_init does both). SM_ENOTFOUND for an unknown name.
 * store may be NULL; otherwise the chunks the files name are written there. */
int craft_case_init(struct craft *c, const char *name, const uint8_t *donor,
                    const char *store);

#endif

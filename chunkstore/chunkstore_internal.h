/* chunkstore_internal.h - shared between the chunkstore's own files. */
#ifndef SM_CHUNKSTORE_INTERNAL_H
#define SM_CHUNKSTORE_INTERNAL_H

#include "chunkstore/chunkstore.h"

/* On-disk header of a stored chunk: 'C', encoding, raw length (u32 BE). */
#define CHUNKSTORE__CHUNK_HEADER 6

int chunkstore__manifest_reserve_entries(struct chunkstore_manifest *m, size_t more);
int chunkstore__manifest_reserve_slots(struct chunkstore_manifest *m, uint64_t more);
/* Number of chunks of a file of size bytes. */
uint64_t chunkstore__slots_for(uint64_t size, uint32_t chunk_size);
/* Raw length of slot i of entry e. */
uint32_t chunkstore__slot_len(const struct chunkstore_entry *e, uint64_t i,
                              uint32_t chunk_size);
int chunkstore__kv_set(struct chunkstore_kv **kv, size_t *n, const char *key,
                       const char *value);
void chunkstore__kv_free(struct chunkstore_kv *kv, size_t n);

/* Path of a chunk in a store: STORE/chunks/ab/<hex>. */
int chunkstore__chunk_path(char *out, size_t out_size, const char *store,
                           const uint8_t id[CHUNKSTORE_ID_BYTES]);

/* Opens path (relative, validated) under the directory fd root without
 * following any symlink on the way (O_NOFOLLOW on every component).
 * Returns an fd or a negative code; SM_EPATH when a component is a symlink
 * or not a directory. */
int chunkstore__open_beneath(int root_fd, const char *path, int flags, int mode);

/* Decodes the records of the next segment into m without checking its id
 * against the root (chunkstore_manifest_add_segment does that first; the
 * fuzzer calls this directly). SM_ESTATE when every segment is in. */
int chunkstore__manifest_decode_segment(struct chunkstore_manifest *m, const uint8_t *bytes,
                                        size_t len);

/* Encodes m, writing its segments into STORE/segments. */
int chunkstore__store_encode_manifest(const char *store, struct chunkstore_manifest *m);
/* Adds the segments of m's root from seg_dir/<hex id>, then finishes m. */
int chunkstore__load_segments(struct chunkstore_manifest *m, const char *seg_dir);

/* The encoded form of a manifest, computed without changing it. */
struct chunkstore__encoded {
  uint8_t id[CHUNKSTORE_ID_BYTES];
  uint8_t *root;
  size_t root_len;
  uint8_t (*segment_ids)[CHUNKSTORE_ID_BYTES];
  uint32_t *segment_lens;
  size_t n_segments;
};
int chunkstore__manifest_encode_parts(const struct chunkstore_manifest *m,
                                      chunkstore_segment_cb segment_cb, void *arg,
                                      struct chunkstore__encoded *out);

/* Accessors finish.c needs from a staging area. */
int chunkstore__staging_fds(const struct chunkstore_staging *s, int *out_dir_fd,
                            int *out_tree_fd, const char **out_dir);
const struct chunkstore_manifest *chunkstore__staging_manifest(const struct chunkstore_staging *s);

#endif

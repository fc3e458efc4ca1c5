/* chunkstore.h - content-addressed chunks of a directory tree: snapshotting a
 * tree into a chunk store, signed manifests, writing chunks into a staging
 * tree with a crash-safe record of what is verified, and verification.
 *
 * Vocabulary
 *   chunk     chunk_size bytes of one file at a fixed offset (the last chunk of
 *             a file may be shorter); id = BLAKE2b-256 of its raw bytes.
 *             An all-zero chunk has the all-zero id and is never stored/sent.
 *   piece     a distinct non-zero chunk id of a manifest; the unit the swarm
 *             moves. One piece may sit at several places (same content).
 *   store     a directory holding compressed chunks and manifests
 *             (layout in docs/chunkstore.md); snapshots into the same store
 *             share unchanged chunks.
 *   manifest  a small signed root (facts, coordinates, segment ids) plus
 *             content-addressed segments holding the file list, so a 1 TB
 *             snapshot's manifest is fetched in bounded parts. */
#ifndef SM_CHUNKSTORE_H
#define SM_CHUNKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define CHUNKSTORE_ID_BYTES 32
#define CHUNKSTORE_PAGE_SIZE 16384u
#define CHUNKSTORE_CHUNK_MIN (16u * 1024)
#define CHUNKSTORE_CHUNK_MAX (64u * 1024 * 1024)
#define CHUNKSTORE_CHUNK_DEFAULT (4u * 1024 * 1024)
#define CHUNKSTORE_ROOT_MAX (1u << 20)         /* bytes of a manifest root */
#define CHUNKSTORE_SEGMENT_TARGET (1u << 20)   /* a segment is cut near this */
#define CHUNKSTORE_SEGMENT_MAX (4u << 20)      /* and never decoded above this */
#define CHUNKSTORE_PATH_MAX 4095
#define CHUNKSTORE_KV_MAX 64                   /* facts or coordinates */
#define CHUNKSTORE_KEY_MAX 64
#define CHUNKSTORE_VALUE_MAX 65535             /* a GTID set can be long */
#define CHUNKSTORE_FORMAT_VERSION 1

/* ------------------------------------------------------------------ chunks */
/* Chunk id of len raw bytes. */
void chunkstore_chunk_id(const void *data, size_t len, uint8_t out_id[CHUNKSTORE_ID_BYTES]);
/* True for the all-zero id that marks an all-zero chunk (a hole). */
int chunkstore_id_is_zero(const uint8_t id[CHUNKSTORE_ID_BYTES]);

enum chunkstore_encoding {
  CHUNKSTORE_ENC_RAW = 0,
  CHUNKSTORE_ENC_ZSTD = 1,
};

/* Compresses raw into out (capacity out_cap >= chunkstore_encode_bound(len))
 * with zstd at level; keeps the bytes raw when compression saves under 3%.
 * Sets *out_enc and *out_len. */
size_t chunkstore_encode_bound(size_t raw_len);
int chunkstore_chunk_encode(const void *raw, size_t raw_len, int level, void *out,
                            size_t out_cap, enum chunkstore_encoding *out_enc,
                            size_t *out_len);
/* Decodes into out, which must hold exactly raw_len bytes; never writes more
 * than raw_len (decompression is bounded by it). SM_ECOMPRESS on bad input. */
int chunkstore_chunk_decode(enum chunkstore_encoding enc, const void *in, size_t in_len,
                            void *out, size_t raw_len);

/* Page-level delta of a chunk against an older copy the receiver holds.
 * Signature: 8 bytes per page (keyed BLAKE2b-64) of the old copy. A delta
 * carries only the pages whose signature differs. Applying it to the old
 * copy yields the new chunk, which the receiver then checks against the id. */
#define CHUNKSTORE_DELTA_SIG_BYTES 8
size_t chunkstore_delta_pages(size_t chunk_len);
void chunkstore_delta_signature(const void *old_chunk, size_t len, uint8_t *out_sigs);
/* Writes the delta of new_chunk against sigs into out (capacity out_cap,
 * chunkstore_delta_bound(len) is enough); *out_len its size. */
size_t chunkstore_delta_bound(size_t chunk_len);
int chunkstore_delta_encode(const void *new_chunk, size_t len, const uint8_t *sigs,
                            void *out, size_t out_cap, size_t *out_len);
/* Applies delta to buf (holding the old copy, len bytes) in place. */
int chunkstore_delta_apply(void *buf, size_t len, const void *delta, size_t delta_len);

/* ---------------------------------------------------------------- manifest */
struct chunkstore_kv {
  char key[CHUNKSTORE_KEY_MAX + 1];
  char *value;
};

enum chunkstore_entry_kind {
  CHUNKSTORE_ENTRY_DIR = 0,
  CHUNKSTORE_ENTRY_FILE = 1,
};

struct chunkstore_entry {
  char *path;          /* relative, '/'-separated, validated */
  uint32_t kind;       /* enum chunkstore_entry_kind */
  uint32_t mode;       /* permission bits (07777) */
  uint64_t size;       /* bytes, files only */
  uint64_t first_slot; /* index of its first chunk in manifest->slots */
  uint64_t n_slots;    /* ceil(size / chunk_size) */
};

/* A decoded manifest. Fields are read-only for users; build one with
 * chunkstore_manifest_new and the _add functions. */
struct chunkstore_manifest {
  uint32_t version;
  uint64_t created;                   /* unix seconds */
  uint8_t donor[SM_PUBKEY_BYTES];     /* signer's public key */
  uint32_t chunk_size;
  struct chunkstore_kv *facts;        /* engine facts, sorted by key */
  size_t n_facts;
  struct chunkstore_kv *coords;       /* replication coordinates, sorted */
  size_t n_coords;
  struct chunkstore_entry *entries;   /* sorted by path */
  size_t n_entries;
  size_t cap_entries;
  uint8_t (*slots)[CHUNKSTORE_ID_BYTES]; /* chunk id at every file position */
  uint64_t n_slots;
  uint64_t cap_slots;
  uint64_t total_bytes;               /* sum of file sizes */
  /* Set by encode or decode: */
  uint8_t id[CHUNKSTORE_ID_BYTES];    /* BLAKE2b-256 of the root bytes */
  uint8_t *root;                      /* the canonical root bytes */
  size_t root_len;
  uint8_t (*segment_ids)[CHUNKSTORE_ID_BYTES];
  uint32_t *segment_lens;
  size_t n_segments;
  /* Decoder state (internal): totals the root claims, progress. */
  uint64_t claimed_entries, claimed_slots, claimed_bytes;
  uint64_t pending_slots;
  size_t segments_added;
};

/* Returns a new empty manifest, or NULL on allocation failure. */
struct chunkstore_manifest *chunkstore_manifest_new(uint32_t chunk_size);
void chunkstore_manifest_free(struct chunkstore_manifest *m);

/* Sets (or replaces) an engine fact / a replication coordinate. */
int chunkstore_manifest_set_fact(struct chunkstore_manifest *m, const char *key,
                                 const char *value);
int chunkstore_manifest_set_coord(struct chunkstore_manifest *m, const char *key,
                                  const char *value);
/* Returns the value or NULL. */
const char *chunkstore_manifest_fact(const struct chunkstore_manifest *m, const char *key);
const char *chunkstore_manifest_coord(const struct chunkstore_manifest *m, const char *key);

/* Appends an entry (entries must be added in strictly increasing path
 * order). A file gets n_slots = ceil(size/chunk_size) zeroed slots that the
 * caller fills in via m->slots[entry->first_slot + i]. */
int chunkstore_manifest_add_dir(struct chunkstore_manifest *m, const char *path,
                                uint32_t mode);
int chunkstore_manifest_add_file(struct chunkstore_manifest *m, const char *path,
                                 uint32_t mode, uint64_t size,
                                 struct chunkstore_entry **out_entry);

/* Encodes the segments and the root canonically and sets m->id, m->root and
 * the segment list. Calls segment_cb once per segment with its bytes and id
 * (the caller stores them). created and donor must be set first. */
typedef int (*chunkstore_segment_cb)(void *arg, const uint8_t id[CHUNKSTORE_ID_BYTES],
                                     const uint8_t *bytes, size_t len);
int chunkstore_manifest_encode(struct chunkstore_manifest *m,
                               chunkstore_segment_cb segment_cb, void *arg);

/* Decodes a root (untrusted bytes). Checks everything that can be checked
 * without the segments. The result has no entries yet. */
int chunkstore_manifest_decode_root(const uint8_t *root, size_t len,
                                    struct chunkstore_manifest **out);
/* Decodes segment number index (untrusted bytes) into m; its id must match
 * the root's list (SM_EHASH otherwise). Segments must be added in order. */
int chunkstore_manifest_add_segment(struct chunkstore_manifest *m, size_t index,
                                    const uint8_t *bytes, size_t len);
/* After the last segment: checks the whole file list (paths safe, sorted,
 * no duplicates, parents are directories, sizes agree with chunk counts,
 * totals agree with the root). Until this returns 0 nothing may be written. */
int chunkstore_manifest_finish(struct chunkstore_manifest *m);

/* Detached ed25519 signature over the root bytes by id's key. */
int chunkstore_manifest_sign(const struct chunkstore_manifest *m,
                             const struct sm_identity *id, uint8_t out_sig[SM_SIG_BYTES]);
/* Verifies the signature against m->donor, and, when trust is not NULL, that
 * the donor key is trusted. SM_EBADSIG / SM_EUNTRUSTED. */
int chunkstore_manifest_verify(const struct chunkstore_manifest *m,
                               const uint8_t sig[SM_SIG_BYTES],
                               const struct sm_trust *trust);

/* Checks one relative path: SM_EPATH for absolute, empty, "..", ".", empty
 * components, control characters or over-long names. */
int chunkstore_path_check(const char *path);

/* Distinct non-zero chunk ids of a manifest, in first-appearance order, with
 * the slots each one fills. */
struct chunkstore_pieces {
  uint64_t count;
  uint8_t (*ids)[CHUNKSTORE_ID_BYTES];
  uint32_t *raw_len;          /* bytes of the piece */
  uint64_t *slot_start;       /* CSR index into slot_list, count+1 entries */
  uint64_t *slot_list;        /* slot numbers */
  uint64_t total_bytes;       /* sum of raw_len */
};
int chunkstore_pieces_build(const struct chunkstore_manifest *m,
                            struct chunkstore_pieces *out);
void chunkstore_pieces_cleanup(struct chunkstore_pieces *p);
/* Entry that holds slot s, and the byte offset of s in its file. */
const struct chunkstore_entry *chunkstore_slot_entry(const struct chunkstore_manifest *m,
                                                     uint64_t slot, uint64_t *out_offset);

/* ------------------------------------------------------------------- store
 * Layout: STORE/chunks/ab/<hex id>, STORE/manifests/<hex id>/{root,sig,
 * segments/<n>}, STORE/latest (hex id of the newest manifest). */
int chunkstore_store_put_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                               enum chunkstore_encoding enc, uint32_t raw_len,
                               const void *data, size_t len);
/* Reads and decodes a chunk into out (raw_len bytes) and checks its id:
 * SM_EHASH if the stored bytes no longer match (disk corruption). */
int chunkstore_store_get_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                               void *out, size_t raw_len);
/* Reads the stored (encoded) form of a chunk, to serve it without
 * recompressing; *out_buf is new (sm_free). */
int chunkstore_store_get_encoded(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                                 enum chunkstore_encoding *out_enc, uint32_t *out_raw_len,
                                 uint8_t **out_buf, size_t *out_len);
int chunkstore_store_has_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES]);

/* Saves a signed manifest (root, signature, segments) and points latest at
 * it. */
int chunkstore_store_put_manifest(const char *store, const struct chunkstore_manifest *m,
                                  const uint8_t sig[SM_SIG_BYTES]);
/* Loads and fully validates the manifest named by id (hex) or, when id is
 * NULL, the latest one; verifies the signature (and trust if not NULL).
 * *out_sig receives the signature when not NULL. */
int chunkstore_store_load_manifest(const char *store, const char *hex_id,
                                   const struct sm_trust *trust,
                                   struct chunkstore_manifest **out,
                                   uint8_t out_sig[SM_SIG_BYTES]);

/* ---------------------------------------------------------------- snapshot */
struct chunkstore_snapshot_options {
  const char *source;        /* tree to snapshot */
  const char *store;         /* where chunks and the manifest go */
  uint32_t chunk_size;       /* 0: CHUNKSTORE_CHUNK_DEFAULT */
  int zstd_level;            /* 0: 1 */
  int threads;               /* 0: number of CPUs */
  const struct sm_identity *key;
  /* Optional, owned by the caller; copied into the manifest: */
  const struct chunkstore_kv *facts;
  size_t n_facts;
  const struct chunkstore_kv *coords;
  size_t n_coords;
  /* Optional progress callback, called from the calling thread. */
  void (*progress)(void *arg, uint64_t done_bytes, uint64_t total_bytes);
  void *progress_arg;
};

struct chunkstore_snapshot_stats {
  uint64_t files, dirs, bytes, chunks, zero_chunks, new_chunks, reused_chunks;
  uint64_t stored_bytes;      /* encoded bytes written for new chunks */
  double seconds;
};

/* Snapshots options->source into options->store and returns the signed
 * manifest (*out, caller frees). Symlinks and special files are refused with
 * SM_EPATH (*out_bad_path names them when not NULL, size PATH_MAX+1). */
int chunkstore_snapshot(const struct chunkstore_snapshot_options *options,
                        struct chunkstore_manifest **out,
                        struct chunkstore_snapshot_stats *out_stats,
                        char *out_bad_path);

/* ----------------------------------------------------------------- staging
 * A staging area next to the target: STAGING/tree (the files, written at
 * their offsets, sparse), STAGING/journal (the verified pieces),
 * STAGING/root, sig, segments (the manifest being fetched). */
struct chunkstore_staging;

/* The staging area used for target by default: target + ".seedmesh-staging"
 * (a sibling, so the final rename stays on one filesystem). SM_ETOOBIG if it
 * does not fit in out. */
int chunkstore_staging_default_dir(const char *target, char *out, size_t out_size);

/* Opens or creates the staging area for manifest m at dir, creating the
 * tree's directories and sparse files on first use, and replays the journal.
 * Refuses a staging area of another manifest (SM_ESTATE). */
int chunkstore_staging_open(const char *dir, const struct chunkstore_manifest *m,
                            const uint8_t sig[SM_SIG_BYTES],
                            struct chunkstore_staging **out);
void chunkstore_staging_close(struct chunkstore_staging *s);
/* Loads the manifest saved in a staging area (after a restart), checking its
 * signature (and trust when not NULL). SM_ENOTFOUND if there is none. */
int chunkstore_staging_load_manifest(const char *dir, const struct sm_trust *trust,
                                     struct chunkstore_manifest **out,
                                     uint8_t out_sig[SM_SIG_BYTES]);

const struct chunkstore_pieces *chunkstore_staging_pieces(const struct chunkstore_staging *s);
/* True when piece i is verified and on disk. */
int chunkstore_staging_has(const struct chunkstore_staging *s, uint64_t piece);
uint64_t chunkstore_staging_have_count(const struct chunkstore_staging *s);
uint64_t chunkstore_staging_have_bytes(const struct chunkstore_staging *s);

/* Verifies raw (len bytes) against piece i, writes it at every slot of the
 * piece (skipping zero pages so they stay holes) and records it in the
 * journal. Thread-safe for distinct pieces. SM_EHASH leaves nothing written. */
int chunkstore_staging_put(struct chunkstore_staging *s, uint64_t piece, const void *raw,
                           size_t len);
/* Makes everything written so far durable: syncs the tree's filesystem and
 * writes a checkpoint record to the journal. */
int chunkstore_staging_sync(struct chunkstore_staging *s);

/* Piece i was found damaged on disk after it was verified (a re-read failed
 * its id): records that in the journal (synced) and forgets it, so it is
 * fetched again, now and after a restart. 0 if it was not held. */
int chunkstore_staging_revoke(struct chunkstore_staging *s, uint64_t piece);
/* Reads piece i back from the tree and re-verifies it (for serving). */
int chunkstore_staging_read(struct chunkstore_staging *s, uint64_t piece, void *out,
                            size_t len);
/* Reads what a base tree holds at the first slot of piece i (same path and
 * offset) into out; 0 if the file exists, SM_ENOTFOUND otherwise. */
int chunkstore_staging_read_base(const char *base, const struct chunkstore_manifest *m,
                                 const struct chunkstore_pieces *p, uint64_t piece,
                                 void *out, size_t len);

/* Once every piece is in: fsyncs every file and directory, then renames the
 * tree to target (which must not exist) and removes the staging area.
 * When target exists and keep_old_suffix is not NULL, target is first
 * renamed to target + keep_old_suffix (never deleted). */
int chunkstore_staging_finish(struct chunkstore_staging *s, const char *target,
                              const char *keep_old_suffix, char *out_old_path,
                              size_t out_old_size);

/* ------------------------------------------------------------ materialize
 * The local, network-free path: store -> staging -> target. The node uses
 * the same staging area with pieces arriving from the swarm instead. */
struct chunkstore_materialize_options {
  const char *store;
  const char *manifest_id;    /* hex; NULL for the store's latest */
  const char *target;
  const char *staging;        /* NULL: target + ".seedmesh-staging" */
  const char *base;           /* an older copy to reuse; NULL: target if it exists */
  int replace;                /* a non-empty target is renamed aside and kept */
  const struct sm_trust *trust; /* NULL: only the signature is checked */
  int threads;                /* 0: number of CPUs */
  uint64_t rate_limit;        /* bytes/s read from the store; 0: none */
  void (*progress)(void *arg, uint64_t done_bytes, uint64_t total_bytes);
  void *progress_arg;
};

struct chunkstore_materialize_stats {
  uint64_t pieces_total;
  uint64_t pieces_resumed;     /* verified in an earlier, interrupted run */
  uint64_t pieces_from_base;   /* identical in the base copy */
  uint64_t pieces_delta;       /* patched from the base copy */
  uint64_t pieces_fetched;     /* read whole from the store */
  uint64_t bytes_total;        /* raw bytes of all pieces */
  uint64_t bytes_fetched;      /* encoded bytes of whole pieces */
  uint64_t bytes_delta;        /* bytes of page deltas */
  double seconds;
  char old_target[4200];       /* where an existing target was kept, if any */
};

/* Materializes a manifest of a store into target. Validates the manifest and
 * checks free space before writing anything; resumes an interrupted run from
 * its staging area. */
int chunkstore_materialize(const struct chunkstore_materialize_options *options,
                           struct chunkstore_materialize_stats *out_stats);

/* --------------------------------------------------------------- verify */
struct chunkstore_verify_report {
  uint64_t files_checked, bytes_checked;
  uint64_t bad_chunks, missing_files, wrong_size, wrong_mode, extra_files;
  char first_problem[CHUNKSTORE_PATH_MAX + 64];
};
/* Checks that dir holds exactly the tree of m: every chunk hashes to its id,
 * sizes and modes agree, no extra files. Returns 0 if clean, SM_EHASH if
 * not (the report says what), other codes for I/O failures. */
int chunkstore_verify_tree(const struct chunkstore_manifest *m, const char *dir,
                           int threads, struct chunkstore_verify_report *out);

#endif

/* test_chunkstore_util.h - shared helpers of the chunkstore unit tests:
 * temporary directories, files with given content, a seeded byte generator
 * and a throwaway signing key. */
#ifndef SM_TEST_CHUNKSTORE_UTIL_H
#define SM_TEST_CHUNKSTORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "chunkstore/chunkstore.h"

/* Creates a fresh directory under $SM_TEST_TMPDIR (or /tmp) named after tag
 * and writes its path into out (size >= 4096). Aborts the test on failure. */
void tcs_tmpdir(const char *tag, char *out, size_t out_size);
/* rm -rf path (never follows symlinks). */
void tcs_rmrf(const char *path);
/* Writes len bytes at offset into dir/rel (created with mode, extended as
 * needed, never truncated); aborts the test on failure. */
void tcs_write_at(const char *dir, const char *rel, const void *buf, size_t len,
                  uint64_t offset, int mode);
/* Creates dir/rel as an empty file of size bytes (all holes). */
void tcs_sparse_file(const char *dir, const char *rel, uint64_t size, int mode);
/* Deterministic pseudo-random bytes (xorshift seeded by seed). */
void tcs_fill_random(void *buf, size_t len, uint64_t seed);
/* A new ed25519 identity, not written anywhere. */
void tcs_identity(struct sm_identity *out);

#endif

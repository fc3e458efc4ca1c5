/* test_chunkstore_util.c - helpers shared by the chunkstore unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/test_chunkstore_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tcs_tmpdir(const char *tag, char *out, size_t out_size) {
  const char *base = getenv("SM_TEST_TMPDIR");
  if (base == NULL || base[0] == '\0') {
    base = "/tmp";
  }
  assert_int_equal(sm_fs_mkdir_p(base, 0755), 0);
  int n = snprintf(out, out_size, "%s/cs-%s-XXXXXX", base, tag);
  assert_true(n > 0 && (size_t)n < out_size);
  assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP) {
    chmod(path, 0700);
    rmdir(path);
    return 0;
  }
  unlink(path);
  return 0;
}

void tcs_rmrf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static int open_rel(const char *dir, const char *rel, int flags, int mode) {
  char path[8192];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  return open(path, flags | O_CLOEXEC, mode);
}

void tcs_write_at(const char *dir, const char *rel, const void *buf, size_t len,
                  uint64_t offset, int mode) {
  int fd = open_rel(dir, rel, O_WRONLY | O_CREAT, mode);
  assert_true(fd >= 0);
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(offset + done));
    assert_true(n > 0);
    done += (size_t)n;
  }
  assert_int_equal(fchmod(fd, (mode_t)mode), 0);
  assert_int_equal(close(fd), 0);
}

void tcs_sparse_file(const char *dir, const char *rel, uint64_t size, int mode) {
  int fd = open_rel(dir, rel, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  assert_int_equal(fchmod(fd, (mode_t)mode), 0);
  assert_int_equal(close(fd), 0);
}

void tcs_fill_random(void *buf, size_t len, uint64_t seed) {
  uint8_t *p = buf;
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < len; i++) {
    if (i % 8 == 0) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    p[i] = (uint8_t)(x >> (8 * (i % 8)));
  }
}

void tcs_identity(struct sm_identity *out) {
  assert_int_equal(sodium_init() >= 0, 1);
  crypto_sign_keypair(out->public_key, out->secret_key);
}

/* store.c - the on-disk chunk store: compressed chunks, manifest segments and
 * signed manifest roots, all content-addressed.
 *
 *   STORE/chunks/ab/<hex id>      'C', encoding, raw length (u32 BE), payload
 *   STORE/segments/<hex id>       manifest segments (shared by manifests)
 *   STORE/manifests/<hex id>/root the signed root bytes
 *   STORE/manifests/<hex id>/sig  64-byte ed25519 signature
 *   STORE/latest                  hex id of the newest manifest */
#include "chunkstore/chunkstore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX_ID (2 * CHUNKSTORE_ID_BYTES + 1)

int chunkstore__chunk_path(char *out, size_t out_size, const char *store,
                           const uint8_t id[CHUNKSTORE_ID_BYTES]) {
  char hex[HEX_ID];
  sm_hex_encode(id, CHUNKSTORE_ID_BYTES, hex);
  int n = snprintf(out, out_size, "%s/chunks/%.2s/%s", store, hex, hex);
  return n < 0 || (size_t)n >= out_size ? SM_ETOOBIG : 0;
}

int chunkstore_store_has_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES]) {
  char path[4096];
  struct stat st;
  if (chunkstore__chunk_path(path, sizeof(path), store, id) < 0) {
    return 0;
  }
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int write_file_tmp_rename(const char *path, const void *a, size_t alen,
                                 const void *b, size_t blen) {
  static unsigned long counter; /* only makes temp names unique */
  static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
  char tmp[4200];
  pthread_mutex_lock(&counter_lock);
  unsigned long n = ++counter;
  pthread_mutex_unlock(&counter_lock);
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lu", path, (long)getpid(), n);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return sm_errno();
  }
  int rc = 0;
  if (write(fd, a, alen) != (ssize_t)alen || (blen > 0 && write(fd, b, blen) != (ssize_t)blen)) {
    rc = errno == 0 ? -ENOSPC : sm_errno();
  }
  if (close(fd) != 0 && rc == 0) {
    rc = sm_errno();
  }
  if (rc == 0 && rename(tmp, path) != 0) {
    rc = sm_errno();
  }
  if (rc != 0) {
    unlink(tmp);
  }
  return rc;
}

int chunkstore_store_put_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                               enum chunkstore_encoding enc, uint32_t raw_len,
                               const void *data, size_t len) {
  char path[4096];
  uint8_t header[CHUNKSTORE__CHUNK_HEADER] = {'C', (uint8_t)enc};
  int rc = chunkstore__chunk_path(path, sizeof(path), store, id);
  if (rc < 0) {
    return rc;
  }
  sm_store_be32(header + 2, raw_len);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    rc = errno == ENOENT ? sm_fs_mkdir_p(path, 0755) : sm_errno();
    if (rc < 0) {
      return rc;
    }
  }
  *slash = '/';
  return write_file_tmp_rename(path, header, sizeof(header), data, len);
}

int chunkstore_store_get_encoded(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                                 enum chunkstore_encoding *out_enc, uint32_t *out_raw_len,
                                 uint8_t **out_buf, size_t *out_len) {
  char path[4096];
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = chunkstore__chunk_path(path, sizeof(path), store, id);
  if (rc < 0) {
    return rc;
  }
  rc = sm_fs_read_file(path, CHUNKSTORE__CHUNK_HEADER + chunkstore_encode_bound(CHUNKSTORE_CHUNK_MAX),
                       &buf, &len);
  if (rc == -ENOENT) {
    return SM_ENOTFOUND;
  }
  if (rc < 0) {
    return rc;
  }
  if (len < CHUNKSTORE__CHUNK_HEADER || buf[0] != 'C' || buf[1] > CHUNKSTORE_ENC_ZSTD) {
    sm_free(buf);
    return SM_EHASH; /* the stored file is damaged */
  }
  *out_enc = (enum chunkstore_encoding)buf[1];
  *out_raw_len = sm_load_be32(buf + 2);
  memmove(buf, buf + CHUNKSTORE__CHUNK_HEADER, len - CHUNKSTORE__CHUNK_HEADER);
  *out_buf = buf;
  *out_len = len - CHUNKSTORE__CHUNK_HEADER;
  return 0;
}

int chunkstore_store_get_chunk(const char *store, const uint8_t id[CHUNKSTORE_ID_BYTES],
                               void *out, size_t raw_len) {
  enum chunkstore_encoding enc;
  uint32_t stored_len = 0;
  uint8_t *buf = NULL;
  size_t len = 0;
  uint8_t check[CHUNKSTORE_ID_BYTES];
  int rc = chunkstore_store_get_encoded(store, id, &enc, &stored_len, &buf, &len);
  if (rc < 0) {
    return rc;
  }
  if (stored_len != raw_len) {
    rc = SM_EHASH;
    goto out;
  }
  rc = chunkstore_chunk_decode(enc, buf, len, out, raw_len);
  if (rc < 0) {
    rc = SM_EHASH;
    goto out;
  }
  chunkstore_chunk_id(out, raw_len, check);
  if (sodium_memcmp(check, id, CHUNKSTORE_ID_BYTES) != 0) {
    rc = SM_EHASH;
  }
out:
  sm_free(buf);
  return rc;
}

static int store_segment(void *arg, const uint8_t id[CHUNKSTORE_ID_BYTES],
                         const uint8_t *bytes, size_t len) {
  const char *store = arg;
  char path[4096];
  char hex[HEX_ID];
  sm_hex_encode(id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(path, sizeof(path), "%s/segments", store);
  int rc = sm_fs_mkdir_p(path, 0755);
  if (rc < 0) {
    return rc;
  }
  snprintf(path, sizeof(path), "%s/segments/%s", store, hex);
  return sm_fs_write_atomic(path, bytes, len, 0644);
}

int chunkstore__store_encode_manifest(const char *store, struct chunkstore_manifest *m) {
  return chunkstore_manifest_encode(m, store_segment, (void *)store);
}

int chunkstore_store_put_manifest(const char *store, const struct chunkstore_manifest *m,
                                  const uint8_t sig[SM_SIG_BYTES]) {
  char dir[4096];
  char path[4200];
  char hex[HEX_ID];
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(dir, sizeof(dir), "%s/manifests/%s", store, hex);
  int rc = sm_fs_mkdir_p(dir, 0755);
  if (rc < 0) {
    return rc;
  }
  snprintf(path, sizeof(path), "%s/root", dir);
  rc = sm_fs_write_atomic(path, m->root, m->root_len, 0644);
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/sig", dir);
    rc = sm_fs_write_atomic(path, sig, SM_SIG_BYTES, 0644);
  }
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/latest", store);
    hex[HEX_ID - 1] = '\n';
    rc = sm_fs_write_atomic(path, hex, HEX_ID, 0644);
  }
  return rc;
}

int chunkstore__load_segments(struct chunkstore_manifest *m, const char *seg_dir) {
  for (size_t i = 0; i < m->n_segments; i++) {
    char hex[HEX_ID];
    char path[4200];
    uint8_t *buf = NULL;
    size_t len = 0;
    sm_hex_encode(m->segment_ids[i], CHUNKSTORE_ID_BYTES, hex);
    snprintf(path, sizeof(path), "%s/%s", seg_dir, hex);
    int rc = sm_fs_read_file(path, CHUNKSTORE_SEGMENT_MAX, &buf, &len);
    if (rc == 0) {
      rc = chunkstore_manifest_add_segment(m, i, buf, len);
    }
    sm_free(buf);
    if (rc < 0) {
      return rc;
    }
  }
  return chunkstore_manifest_finish(m);
}

int chunkstore_store_load_manifest(const char *store, const char *hex_id,
                                   const struct sm_trust *trust,
                                   struct chunkstore_manifest **out,
                                   uint8_t out_sig[SM_SIG_BYTES]) {
  char id[HEX_ID + 8];
  char path[4200];
  uint8_t *root = NULL;
  uint8_t *sig = NULL;
  size_t root_len = 0;
  size_t sig_len = 0;
  struct chunkstore_manifest *m = NULL;
  int rc = 0;
  *out = NULL;
  if (hex_id == NULL) {
    uint8_t *latest = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/latest", store);
    rc = sm_fs_read_file(path, sizeof(id) - 1, &latest, &len);
    if (rc < 0) {
      return rc == -ENOENT ? SM_ENOTFOUND : rc;
    }
    memcpy(id, latest, len);
    id[len] = '\0';
    id[strcspn(id, "\r\n")] = '\0';
    sm_free(latest);
  } else {
    snprintf(id, sizeof(id), "%s", hex_id);
  }
  uint8_t raw_id[CHUNKSTORE_ID_BYTES];
  if (sm_hex_decode(id, raw_id, sizeof(raw_id)) < 0) {
    return SM_EINVAL;
  }
  snprintf(path, sizeof(path), "%s/manifests/%s/root", store, id);
  rc = sm_fs_read_file(path, CHUNKSTORE_ROOT_MAX, &root, &root_len);
  if (rc == -ENOENT) {
    rc = SM_ENOTFOUND;
  }
  if (rc < 0) {
    goto out;
  }
  snprintf(path, sizeof(path), "%s/manifests/%s/sig", store, id);
  rc = sm_fs_read_file(path, SM_SIG_BYTES, &sig, &sig_len);
  if (rc == 0 && sig_len != SM_SIG_BYTES) {
    rc = SM_EBADSIG;
  }
  if (rc < 0) {
    goto out;
  }
  rc = chunkstore_manifest_decode_root(root, root_len, &m);
  if (rc < 0) {
    goto out;
  }
  if (sodium_memcmp(m->id, raw_id, sizeof(raw_id)) != 0) {
    rc = SM_EHASH; /* the root was changed after it was stored */
    goto out;
  }
  rc = chunkstore_manifest_verify(m, sig, trust);
  if (rc < 0) {
    goto out;
  }
  snprintf(path, sizeof(path), "%s/segments", store);
  rc = chunkstore__load_segments(m, path);
  if (rc < 0) {
    goto out;
  }
  if (out_sig != NULL) {
    memcpy(out_sig, sig, SM_SIG_BYTES);
  }
  *out = m;
  m = NULL;
out:
  chunkstore_manifest_free(m);
  sm_free(root);
  sm_free(sig);
  return rc;
}

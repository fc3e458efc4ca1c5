/* identity.c - node identities (ed25519 key files) and the trust file that
 * lists which public keys a cluster admits. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_TAG "seedmesh-key-v1 "

int sm_identity_generate(const char *path, struct sm_identity *out) {
  char line[sizeof(KEY_FILE_TAG) + 2 * SM_SECKEY_BYTES + 2];
  int rc = 0;
  if (sodium_init() < 0) {
    return SM_ECRYPTO;
  }
  crypto_sign_keypair(out->public_key, out->secret_key);
  memcpy(line, KEY_FILE_TAG, sizeof(KEY_FILE_TAG) - 1);
  sm_hex_encode(out->secret_key, SM_SECKEY_BYTES, line + sizeof(KEY_FILE_TAG) - 1);
  size_t len = strlen(line);
  line[len++] = '\n';
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    rc = errno == EEXIST ? SM_EEXIST : sm_errno();
    goto out;
  }
  if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
    rc = sm_errno();
    close(fd);
    unlink(path);
    goto out;
  }
  if (close(fd) != 0) {
    rc = sm_errno();
    unlink(path);
  }
out:
  sodium_memzero(line, sizeof(line));
  if (rc != 0) {
    sm_identity_cleanup(out);
  }
  return rc;
}

int sm_identity_load(const char *path, struct sm_identity *out) {
  uint8_t *buf = NULL;
  size_t len = 0;
  struct stat st;
  int rc = 0;
  if (sodium_init() < 0) {
    return SM_ECRYPTO;
  }
  if (stat(path, &st) != 0) {
    return sm_errno();
  }
  if ((st.st_mode & 077) != 0) {
    return SM_EINVAL; /* readable by others: refuse, like ssh does */
  }
  rc = sm_fs_read_file(path, 1024, &buf, &len);
  if (rc < 0) {
    return rc;
  }
  size_t tag = sizeof(KEY_FILE_TAG) - 1;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
    buf[--len] = '\0';
  }
  if (len != tag + 2 * SM_SECKEY_BYTES || memcmp(buf, KEY_FILE_TAG, tag) != 0) {
    rc = SM_EMALFORMED;
    goto out;
  }
  rc = sm_hex_decode((const char *)buf + tag, out->secret_key, SM_SECKEY_BYTES);
  if (rc < 0) {
    goto out;
  }
  /* The libsodium secret key carries the public key in its second half;
   * check that it is the one the seed derives. */
  uint8_t pk[SM_PUBKEY_BYTES];
  uint8_t sk[SM_SECKEY_BYTES];
  crypto_sign_seed_keypair(pk, sk, out->secret_key);
  if (sodium_memcmp(sk, out->secret_key, SM_SECKEY_BYTES) != 0) {
    rc = SM_EMALFORMED;
  }
  memcpy(out->public_key, pk, SM_PUBKEY_BYTES);
  sodium_memzero(sk, sizeof(sk));
out:
  if (buf != NULL) {
    sodium_memzero(buf, len);
  }
  sm_free(buf);
  if (rc != 0) {
    sm_identity_cleanup(out);
  }
  return rc;
}

void sm_identity_cleanup(struct sm_identity *id) {
  sodium_memzero(id, sizeof(*id));
}

static int key_compare(const void *a, const void *b) {
  return memcmp(a, b, SM_PUBKEY_BYTES);
}

int sm_trust_init_keys(struct sm_trust *out, const uint8_t (*keys)[SM_PUBKEY_BYTES],
                       size_t n) {
  out->count = 0;
  out->keys = NULL;
  if (n > SM_TRUST_MAX) {
    return SM_ETOOBIG;
  }
  out->keys = sm_calloc(n, SM_PUBKEY_BYTES);
  if (out->keys == NULL) {
    return SM_ENOMEM;
  }
  if (n > 0) {
    memcpy(out->keys, keys, n * SM_PUBKEY_BYTES);
    qsort(out->keys, n, SM_PUBKEY_BYTES, key_compare);
  }
  out->count = n;
  return 0;
}

int sm_trust_load(const char *path, struct sm_trust *out, size_t *out_bad_line) {
  uint8_t *buf = NULL;
  size_t len = 0;
  uint8_t(*keys)[SM_PUBKEY_BYTES] = NULL;
  size_t n = 0;
  size_t line_no = 0;
  int rc = sm_fs_read_file(path, 1u << 20, &buf, &len);
  *out_bad_line = 0;
  if (rc < 0) {
    return rc;
  }
  keys = sm_calloc(SM_TRUST_MAX, SM_PUBKEY_BYTES);
  if (keys == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  char *save = NULL;
  for (char *line = strtok_r((char *)buf, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    while (*line == ' ' || *line == '\t') {
      line++;
    }
    size_t l = strcspn(line, " \t\r");
    if (l == 0 || line[0] == '#') {
      continue;
    }
    char hex[2 * SM_PUBKEY_BYTES + 1];
    if (l != 2 * SM_PUBKEY_BYTES || n == SM_TRUST_MAX) {
      rc = n == SM_TRUST_MAX ? SM_ETOOBIG : SM_EMALFORMED;
      *out_bad_line = line_no;
      goto out;
    }
    memcpy(hex, line, l);
    hex[l] = '\0';
    if (sm_hex_decode(hex, keys[n], SM_PUBKEY_BYTES) < 0) {
      rc = SM_EMALFORMED;
      *out_bad_line = line_no;
      goto out;
    }
    n++;
  }
  rc = sm_trust_init_keys(out, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, n);
out:
  sm_free(keys);
  sm_free(buf);
  return rc;
}

int sm_trust_contains(const struct sm_trust *trust, const uint8_t *public_key) {
  if (trust == NULL || trust->count == 0) {
    return 0;
  }
  return bsearch(public_key, trust->keys, trust->count, SM_PUBKEY_BYTES,
                 key_compare) != NULL;
}

void sm_trust_cleanup(struct sm_trust *trust) {
  sm_free(trust->keys);
  trust->keys = NULL;
  trust->count = 0;
}

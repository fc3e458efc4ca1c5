/* craft.c - hand-built manifests for tests, the fuzz seeds and
 * sm-craft-manifest: records and roots packed field by field, so they can
 * break any rule the chunkstore encoder enforces while still carrying a valid
 * id and signature. */
#include "tests/tools/craft.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRAFT_CREATED 1700000000u
#define HEX_ID (2 * CHUNKSTORE_ID_BYTES + 1)

void craft_init(struct craft *c, uint64_t chunk_size, const uint8_t *donor) {
  memset(c, 0, sizeof(*c));
  c->format = "seedmesh-manifest";
  c->version = CHUNKSTORE_FORMAT_VERSION;
  c->created = CRAFT_CREATED;
  c->chunk_size = chunk_size;
  if (donor != NULL) {
    memcpy(c->donor, donor, SM_PUBKEY_BYTES);
  }
  msgpack_sbuffer_init(&c->body);
  msgpack_packer_init(&c->pk, &c->body, msgpack_sbuffer_write);
}

void craft_cleanup(struct craft *c) {
  for (size_t i = 0; i < c->n_seg; i++) {
    free(c->seg[i]);
  }
  free(c->root);
  msgpack_sbuffer_destroy(&c->body);
  memset(c, 0, sizeof(*c));
}

static int pack_str(msgpack_packer *pk, const char *s) {
  return sm_mp_pack_cstr(pk, s) == 0 ? 0 : SM_ENOMEM;
}

int craft_dir(struct craft *c, const char *path, uint64_t mode) {
  int bad = msgpack_pack_array(&c->pk, 3);
  bad |= msgpack_pack_uint64(&c->pk, CHUNKSTORE_ENTRY_DIR);
  bad |= pack_str(&c->pk, path);
  bad |= msgpack_pack_uint64(&c->pk, mode);
  if (bad) {
    return SM_ENOMEM;
  }
  c->records++;
  c->entries++;
  return 0;
}

int craft_file(struct craft *c, const char *path, uint64_t mode, uint64_t size,
               uint64_t first, const uint8_t *ids, size_t n_ids) {
  static const uint8_t none[1];
  int bad = msgpack_pack_array(&c->pk, 6);
  bad |= msgpack_pack_uint64(&c->pk, CHUNKSTORE_ENTRY_FILE);
  bad |= pack_str(&c->pk, path);
  bad |= msgpack_pack_uint64(&c->pk, mode);
  bad |= msgpack_pack_uint64(&c->pk, size);
  bad |= msgpack_pack_uint64(&c->pk, first);
  bad |= sm_mp_pack_bin(&c->pk, ids != NULL ? ids : none, n_ids * CHUNKSTORE_ID_BYTES);
  if (bad) {
    return SM_ENOMEM;
  }
  c->records++;
  c->slots += n_ids;
  if (first == 0) {
    c->entries++;
    c->bytes += size;
  }
  return 0;
}

int craft_record_raw(struct craft *c, const void *bytes, size_t len) {
  if (msgpack_sbuffer_write(&c->body, bytes, len) != 0) {
    return SM_ENOMEM;
  }
  c->records++;
  return 0;
}

int craft_segment_raw(struct craft *c, const void *bytes, size_t len) {
  if (c->n_seg == CRAFT_SEGMENTS_MAX) {
    return SM_EFULL;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  memcpy(copy, bytes, len);
  c->seg[c->n_seg] = copy;
  c->seg_len[c->n_seg] = len;
  crypto_generichash(c->seg_id[c->n_seg], CHUNKSTORE_ID_BYTES, copy, len, NULL, 0);
  c->n_seg++;
  return 0;
}

int craft_cut(struct craft *c) {
  msgpack_sbuffer whole;
  msgpack_packer pk;
  int rc = 0;
  if (c->records == 0) {
    return 0;
  }
  msgpack_sbuffer_init(&whole);
  msgpack_packer_init(&pk, &whole, msgpack_sbuffer_write);
  if (msgpack_pack_array(&pk, c->records) != 0 ||
      msgpack_sbuffer_write(&whole, c->body.data, c->body.size) != 0) {
    rc = SM_ENOMEM;
  }
  if (rc == 0) {
    rc = craft_segment_raw(c, whole.data, whole.size);
  }
  msgpack_sbuffer_destroy(&whole);
  if (rc == 0) {
    msgpack_sbuffer_clear(&c->body);
    c->records = 0;
  }
  return rc;
}

int craft_finish(struct craft *c) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int rc = craft_cut(c);
  if (rc < 0) {
    return rc;
  }
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int bad = msgpack_pack_map(&pk, 11);
  bad |= pack_str(&pk, "format") | pack_str(&pk, c->format);
  bad |= pack_str(&pk, "v") | msgpack_pack_uint64(&pk, c->version);
  bad |= pack_str(&pk, "created") | msgpack_pack_uint64(&pk, c->created);
  bad |= pack_str(&pk, "donor") | sm_mp_pack_bin(&pk, c->donor, SM_PUBKEY_BYTES);
  bad |= pack_str(&pk, "chunk_size") | msgpack_pack_uint64(&pk, c->chunk_size);
  bad |= pack_str(&pk, "facts") | msgpack_pack_map(&pk, c->n_facts);
  for (size_t i = 0; i < c->n_facts; i++) {
    bad |= pack_str(&pk, c->fact_keys[i]) | pack_str(&pk, c->fact_values[i]);
  }
  bad |= pack_str(&pk, "coords") | msgpack_pack_map(&pk, 0);
  bad |= pack_str(&pk, "entries") | msgpack_pack_uint64(&pk, c->entries);
  bad |= pack_str(&pk, "slots") | msgpack_pack_uint64(&pk, c->slots);
  bad |= pack_str(&pk, "bytes") | msgpack_pack_uint64(&pk, c->bytes);
  bad |= pack_str(&pk, "segments") | msgpack_pack_array(&pk, c->n_seg);
  for (size_t i = 0; i < c->n_seg; i++) {
    bad |= msgpack_pack_array(&pk, 2);
    bad |= sm_mp_pack_bin(&pk, c->seg_id[i], CHUNKSTORE_ID_BYTES);
    bad |= msgpack_pack_uint64(&pk, c->seg_len[i]);
  }
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return SM_ENOMEM;
  }
  free(c->root);
  c->root_len = sb.size;
  c->root = (uint8_t *)msgpack_sbuffer_release(&sb);
  msgpack_sbuffer_destroy(&sb);
  crypto_generichash(c->id, CHUNKSTORE_ID_BYTES, c->root, c->root_len, NULL, 0);
  return 0;
}

void craft_sign(const struct craft *c, const struct sm_identity *key,
                uint8_t sig[SM_SIG_BYTES]) {
  crypto_sign_detached(sig, NULL, c->root, c->root_len, key->secret_key);
}

static int write_in(const char *dir, const char *name, const void *bytes, size_t len) {
  char path[4200];
  int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof(path)) {
    return SM_ETOOBIG;
  }
  return sm_fs_write_atomic(path, bytes, len, 0644);
}

int craft_write_store(const struct craft *c, const char *store, const struct sm_identity *key) {
  char dir[4200];
  char hex[HEX_ID];
  uint8_t sig[SM_SIG_BYTES];
  int rc = 0;
  if (c->root == NULL) {
    return SM_ESTATE;
  }
  snprintf(dir, sizeof(dir), "%s/segments", store);
  rc = sm_fs_mkdir_p(dir, 0755);
  for (size_t i = 0; rc == 0 && i < c->n_seg; i++) {
    sm_hex_encode(c->seg_id[i], CHUNKSTORE_ID_BYTES, hex);
    rc = write_in(dir, hex, c->seg[i], c->seg_len[i]);
  }
  if (rc < 0) {
    return rc;
  }
  sm_hex_encode(c->id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(dir, sizeof(dir), "%s/manifests/%s", store, hex);
  rc = sm_fs_mkdir_p(dir, 0755);
  if (rc == 0) {
    rc = write_in(dir, "root", c->root, c->root_len);
  }
  if (rc == 0) {
    craft_sign(c, key, sig);
    rc = write_in(dir, "sig", sig, sizeof(sig));
  }
  if (rc == 0) {
    hex[HEX_ID - 1] = '\n';
    rc = write_in(store, "latest", hex, HEX_ID);
  }
  return rc;
}

int craft_decode(const struct craft *c, struct chunkstore_manifest **out) {
  struct chunkstore_manifest *m = NULL;
  int rc = chunkstore_manifest_decode_root(c->root, c->root_len, &m);
  for (size_t i = 0; rc == 0 && i < c->n_seg; i++) {
    rc = chunkstore_manifest_add_segment(m, i, c->seg[i], c->seg_len[i]);
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

int craft_chunk(const char *store, const char *seed, size_t len,
                uint8_t out_id[CHUNKSTORE_ID_BYTES]) {
  size_t seed_len = strlen(seed);
  uint8_t *buf = malloc(len ? len : 1);
  if (buf == NULL) {
    return SM_ENOMEM;
  }
  for (size_t i = 0; i < len; i++) {
    buf[i] = seed_len ? (uint8_t)seed[i % seed_len] : (uint8_t)'x';
  }
  chunkstore_chunk_id(buf, len, out_id);
  int rc = 0;
  if (store != NULL) {
    rc = chunkstore_store_put_chunk(store, out_id, CHUNKSTORE_ENC_RAW, (uint32_t)len, buf, len);
  }
  free(buf);
  return rc;
}

/* --------------------------------------------------------------- cases */

#define CASE_CHUNK CHUNKSTORE_CHUNK_MIN
#define CASE_FILE_LEN 64u

/* A one-chunk file whose content names its path, so a decoder that let the
 * manifest through would really write something there. */
static int case_file(struct craft *c, const char *store, const char *path) {
  uint8_t id[CHUNKSTORE_ID_BYTES];
  char seed[256];
  snprintf(seed, sizeof(seed), "seedmesh crafted file %s\n", path);
  int rc = craft_chunk(store, seed, CASE_FILE_LEN, id);
  if (rc < 0) {
    return rc;
  }
  return craft_file(c, path, 0644, CASE_FILE_LEN, 0, id, 1);
}

static int case_absolute(struct craft *c, const char *store) {
  return case_file(c, store, "/tmp/seedmesh-crafted-absolute");
}

static int case_dotdot(struct craft *c, const char *store) {
  return case_file(c, store, "../seedmesh-crafted-dotdot");
}

static int case_dot(struct craft *c, const char *store) {
  int rc = craft_dir(c, "d", 0755);
  return rc < 0 ? rc : case_file(c, store, "d/./f");
}

static int case_empty_component(struct craft *c, const char *store) {
  int rc = craft_dir(c, "d", 0755);
  return rc < 0 ? rc : case_file(c, store, "d//f");
}

static int case_duplicate(struct craft *c, const char *store) {
  int rc = case_file(c, store, "f");
  return rc < 0 ? rc : case_file(c, store, "f");
}

static int case_file_below_file(struct craft *c, const char *store) {
  int rc = case_file(c, store, "a");
  return rc < 0 ? rc : case_file(c, store, "a/b");
}

static int case_missing_parent(struct craft *c, const char *store) {
  return case_file(c, store, "x/y");
}

static int case_size_mismatch(struct craft *c, const char *store) {
  uint8_t id[CHUNKSTORE_ID_BYTES];
  int rc = craft_chunk(store, "seedmesh crafted size mismatch\n", CASE_CHUNK, id);
  /* Three chunks' worth of size, one chunk listed. */
  return rc < 0 ? rc : craft_file(c, "f", 0644, 3ull * CASE_CHUNK, 0, id, 1);
}

static int case_bad_chunk_size(struct craft *c, const char *store) {
  c->chunk_size = 3ull * CASE_CHUNK;
  return case_file(c, store, "f");
}

struct craft_case {
  const char *name;
  int (*build)(struct craft *c, const char *store);
};

static const struct craft_case cases[] = {
    {"absolute", case_absolute},
    {"dotdot", case_dotdot},
    {"dot", case_dot},
    {"empty-component", case_empty_component},
    {"duplicate", case_duplicate},
    {"file-below-file", case_file_below_file},
    {"missing-parent", case_missing_parent},
    {"size-mismatch", case_size_mismatch},
    {"bad-chunk-size", case_bad_chunk_size},
};

size_t craft_case_count(void) {
  return SM_ARRAY_LEN(cases);
}

const char *craft_case_name(size_t i) {
  return i < SM_ARRAY_LEN(cases) ? cases[i].name : NULL;
}

int craft_case_init(struct craft *c, const char *name, const uint8_t *donor,
                    const char *store) {
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    if (strcmp(cases[i].name, name) == 0) {
      craft_init(c, CASE_CHUNK, donor);
      return cases[i].build(c, store);
    }
  }
  return SM_ENOTFOUND;
}

/* manifest.c - building manifests, path rules, signatures, and the piece
 * table (distinct chunk ids and where each one goes). Encoding and decoding
 * live in manifest_codec.c. */
#include "chunkstore/chunkstore_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct chunkstore_manifest *chunkstore_manifest_new(uint32_t chunk_size) {
  struct chunkstore_manifest *m = sm_calloc(1, sizeof(*m));
  if (m != NULL) {
    m->version = CHUNKSTORE_FORMAT_VERSION;
    m->chunk_size = chunk_size;
  }
  return m;
}

void chunkstore__kv_free(struct chunkstore_kv *kv, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sm_free(kv[i].value);
  }
  sm_free(kv);
}

void chunkstore_manifest_free(struct chunkstore_manifest *m) {
  if (m == NULL) {
    return;
  }
  chunkstore__kv_free(m->facts, m->n_facts);
  chunkstore__kv_free(m->coords, m->n_coords);
  for (size_t i = 0; i < m->n_entries; i++) {
    sm_free(m->entries[i].path);
  }
  sm_free(m->entries);
  sm_free(m->slots);
  sm_free(m->root);
  sm_free(m->segment_ids);
  sm_free(m->segment_lens);
  sm_free(m);
}

int chunkstore__kv_set(struct chunkstore_kv **kv, size_t *n, const char *key,
                       const char *value) {
  size_t klen = strlen(key);
  if (klen == 0 || klen > CHUNKSTORE_KEY_MAX || strlen(value) > CHUNKSTORE_VALUE_MAX) {
    return SM_EINVAL;
  }
  size_t pos = 0;
  while (pos < *n && strcmp((*kv)[pos].key, key) < 0) {
    pos++;
  }
  char *copy = sm_strdup(value);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  if (pos < *n && strcmp((*kv)[pos].key, key) == 0) {
    sm_free((*kv)[pos].value);
    (*kv)[pos].value = copy;
    return 0;
  }
  if (*n >= CHUNKSTORE_KV_MAX) {
    sm_free(copy);
    return SM_ETOOBIG;
  }
  struct chunkstore_kv *grown = sm_realloc(*kv, (*n + 1) * sizeof(**kv));
  if (grown == NULL) {
    sm_free(copy);
    return SM_ENOMEM;
  }
  *kv = grown;
  memmove(&grown[pos + 1], &grown[pos], (*n - pos) * sizeof(*grown));
  memcpy(grown[pos].key, key, klen + 1);
  grown[pos].value = copy;
  (*n)++;
  return 0;
}

static const char *kv_get(const struct chunkstore_kv *kv, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(kv[i].key, key) == 0) {
      return kv[i].value;
    }
  }
  return NULL;
}

int chunkstore_manifest_set_fact(struct chunkstore_manifest *m, const char *key,
                                 const char *value) {
  return chunkstore__kv_set(&m->facts, &m->n_facts, key, value);
}

int chunkstore_manifest_set_coord(struct chunkstore_manifest *m, const char *key,
                                  const char *value) {
  return chunkstore__kv_set(&m->coords, &m->n_coords, key, value);
}

const char *chunkstore_manifest_fact(const struct chunkstore_manifest *m, const char *key) {
  return kv_get(m->facts, m->n_facts, key);
}

const char *chunkstore_manifest_coord(const struct chunkstore_manifest *m, const char *key) {
  return kv_get(m->coords, m->n_coords, key);
}

int chunkstore_path_check(const char *path) {
  size_t len = strlen(path);
  if (len == 0 || len > CHUNKSTORE_PATH_MAX || path[0] == '/') {
    return SM_EPATH;
  }
  const char *comp = path;
  for (size_t i = 0; i <= len; i++) {
    unsigned char c = (unsigned char)path[i];
    if (c == '/' || c == '\0') {
      size_t clen = (size_t)(&path[i] - comp);
      if (clen == 0 || clen > 255 || (clen == 1 && comp[0] == '.') ||
          (clen == 2 && comp[0] == '.' && comp[1] == '.')) {
        return SM_EPATH;
      }
      comp = &path[i + 1];
    } else if (c < 0x20 || c == 0x7f) {
      return SM_EPATH;
    }
  }
  return 0;
}

uint64_t chunkstore__slots_for(uint64_t size, uint32_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0);
}

uint32_t chunkstore__slot_len(const struct chunkstore_entry *e, uint64_t i,
                              uint32_t chunk_size) {
  uint64_t start = i * chunk_size;
  uint64_t left = e->size - start;
  return (uint32_t)(left < chunk_size ? left : chunk_size);
}

int chunkstore__manifest_reserve_entries(struct chunkstore_manifest *m, size_t more) {
  if (m->n_entries + more <= m->cap_entries) {
    return 0;
  }
  size_t cap = m->cap_entries ? m->cap_entries * 2 : 64;
  while (cap < m->n_entries + more) {
    cap *= 2;
  }
  struct chunkstore_entry *grown = sm_realloc(m->entries, cap * sizeof(*grown));
  if (grown == NULL) {
    return SM_ENOMEM;
  }
  m->entries = grown;
  m->cap_entries = cap;
  return 0;
}

int chunkstore__manifest_reserve_slots(struct chunkstore_manifest *m, uint64_t more) {
  if (m->n_slots + more <= m->cap_slots) {
    return 0;
  }
  uint64_t cap = m->cap_slots ? m->cap_slots * 2 : 256;
  while (cap < m->n_slots + more) {
    cap *= 2;
  }
  if (cap > SIZE_MAX / CHUNKSTORE_ID_BYTES) {
    return SM_ETOOBIG;
  }
  void *grown = sm_realloc(m->slots, (size_t)cap * CHUNKSTORE_ID_BYTES);
  if (grown == NULL) {
    return SM_ENOMEM;
  }
  m->slots = grown;
  m->cap_slots = cap;
  return 0;
}

static int add_entry(struct chunkstore_manifest *m, const char *path, uint32_t kind,
                     uint32_t mode, uint64_t size, struct chunkstore_entry **out) {
  int rc = chunkstore_path_check(path);
  if (rc < 0) {
    return rc;
  }
  if (mode & ~07777u) {
    return SM_EINVAL;
  }
  if (m->n_entries > 0 && strcmp(m->entries[m->n_entries - 1].path, path) >= 0) {
    return SM_EINVAL; /* entries must come sorted, without duplicates */
  }
  uint64_t n_slots = kind == CHUNKSTORE_ENTRY_FILE ? chunkstore__slots_for(size, m->chunk_size) : 0;
  rc = chunkstore__manifest_reserve_entries(m, 1);
  if (rc == 0) {
    rc = chunkstore__manifest_reserve_slots(m, n_slots);
  }
  if (rc < 0) {
    return rc;
  }
  char *copy = sm_strdup(path);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  struct chunkstore_entry *e = &m->entries[m->n_entries++];
  e->path = copy;
  e->kind = kind;
  e->mode = mode;
  e->size = kind == CHUNKSTORE_ENTRY_FILE ? size : 0;
  e->first_slot = m->n_slots;
  e->n_slots = n_slots;
  if (n_slots > 0) { /* slots may still be NULL for a dir or an empty file */
    memset(m->slots[m->n_slots], 0, (size_t)n_slots * CHUNKSTORE_ID_BYTES);
  }
  m->n_slots += n_slots;
  m->total_bytes += e->size;
  if (out != NULL) {
    *out = e;
  }
  return 0;
}

int chunkstore_manifest_add_dir(struct chunkstore_manifest *m, const char *path,
                                uint32_t mode) {
  return add_entry(m, path, CHUNKSTORE_ENTRY_DIR, mode, 0, NULL);
}

int chunkstore_manifest_add_file(struct chunkstore_manifest *m, const char *path,
                                 uint32_t mode, uint64_t size,
                                 struct chunkstore_entry **out_entry) {
  return add_entry(m, path, CHUNKSTORE_ENTRY_FILE, mode, size, out_entry);
}

int chunkstore_manifest_sign(const struct chunkstore_manifest *m,
                             const struct sm_identity *id, uint8_t out_sig[SM_SIG_BYTES]) {
  if (m->root == NULL) {
    return SM_ESTATE;
  }
  if (sodium_memcmp(id->public_key, m->donor, SM_PUBKEY_BYTES) != 0) {
    return SM_EINVAL;
  }
  crypto_sign_detached(out_sig, NULL, m->root, m->root_len, id->secret_key);
  return 0;
}

int chunkstore_manifest_verify(const struct chunkstore_manifest *m,
                               const uint8_t sig[SM_SIG_BYTES],
                               const struct sm_trust *trust) {
  if (m->root == NULL) {
    return SM_ESTATE;
  }
  if (crypto_sign_verify_detached(sig, m->root, m->root_len, m->donor) != 0) {
    return SM_EBADSIG;
  }
  if (trust != NULL && !sm_trust_contains(trust, m->donor)) {
    return SM_EUNTRUSTED;
  }
  return 0;
}

const struct chunkstore_entry *chunkstore_slot_entry(const struct chunkstore_manifest *m,
                                                     uint64_t slot, uint64_t *out_offset) {
  size_t lo = 0;
  size_t hi = m->n_entries;
  /* Largest entry whose first_slot <= slot; entries' first_slot never
   * decreases, and an entry after the file holding slot starts beyond it. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->entries[mid].first_slot <= slot) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) {
    return NULL;
  }
  const struct chunkstore_entry *e = &m->entries[lo - 1];
  if (slot < e->first_slot || slot >= e->first_slot + e->n_slots) {
    return NULL;
  }
  *out_offset = (slot - e->first_slot) * m->chunk_size;
  return e;
}

struct slot_ref {
  const uint8_t *id;
  uint64_t slot;
};

struct piece_group {
  uint64_t ref_start; /* first ref of the group in the sorted refs */
  uint64_t first_slot;
};

static int slot_ref_compare(const void *a, const void *b) {
  const struct slot_ref *x = a;
  const struct slot_ref *y = b;
  int c = memcmp(x->id, y->id, CHUNKSTORE_ID_BYTES);
  if (c != 0) {
    return c;
  }
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int group_compare(const void *a, const void *b) {
  const struct piece_group *x = a;
  const struct piece_group *y = b;
  return x->first_slot < y->first_slot ? -1 : x->first_slot > y->first_slot;
}

static uint32_t slot_length(const struct chunkstore_manifest *m, uint64_t slot) {
  uint64_t off = 0;
  const struct chunkstore_entry *e = chunkstore_slot_entry(m, slot, &off);
  return e == NULL ? 0 : chunkstore__slot_len(e, slot - e->first_slot, m->chunk_size);
}

int chunkstore_pieces_build(const struct chunkstore_manifest *m,
                            struct chunkstore_pieces *out) {
  int rc = 0;
  struct slot_ref *refs = NULL;
  struct piece_group *groups = NULL;
  uint64_t n = 0;
  uint64_t n_groups = 0;
  memset(out, 0, sizeof(*out));
  refs = sm_calloc(m->n_slots ? m->n_slots : 1, sizeof(*refs));
  if (refs == NULL) {
    return SM_ENOMEM;
  }
  for (uint64_t s = 0; s < m->n_slots; s++) {
    if (!chunkstore_id_is_zero(m->slots[s])) {
      refs[n].id = m->slots[s];
      refs[n].slot = s;
      n++;
    }
  }
  /* Group equal ids (sorted by id, then slot, so a group's head holds its
   * first slot), then order the groups by first appearance. */
  qsort(refs, n, sizeof(*refs), slot_ref_compare);
  groups = sm_calloc(n ? n : 1, sizeof(*groups));
  if (groups == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  for (uint64_t i = 0; i < n; i++) {
    if (i == 0 || memcmp(refs[i].id, refs[i - 1].id, CHUNKSTORE_ID_BYTES) != 0) {
      groups[n_groups].ref_start = i;
      groups[n_groups].first_slot = refs[i].slot;
      n_groups++;
    }
  }
  qsort(groups, n_groups, sizeof(*groups), group_compare);
  out->ids = sm_calloc(n_groups ? n_groups : 1, CHUNKSTORE_ID_BYTES);
  out->raw_len = sm_calloc(n_groups ? n_groups : 1, sizeof(uint32_t));
  out->slot_start = sm_calloc(n_groups + 1, sizeof(uint64_t));
  out->slot_list = sm_calloc(n ? n : 1, sizeof(uint64_t));
  if (out->ids == NULL || out->raw_len == NULL || out->slot_start == NULL ||
      out->slot_list == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  uint64_t listed = 0;
  for (uint64_t p = 0; p < n_groups; p++) {
    const struct slot_ref *head = &refs[groups[p].ref_start];
    memcpy(out->ids[p], head->id, CHUNKSTORE_ID_BYTES);
    out->raw_len[p] = slot_length(m, head->slot);
    out->total_bytes += out->raw_len[p];
    out->slot_start[p] = listed;
    for (uint64_t i = groups[p].ref_start;
         i < n && memcmp(refs[i].id, head->id, CHUNKSTORE_ID_BYTES) == 0; i++) {
      if (slot_length(m, refs[i].slot) != out->raw_len[p]) {
        rc = SM_EMALFORMED; /* one id at places of different lengths */
        goto out;
      }
      out->slot_list[listed++] = refs[i].slot;
    }
  }
  out->slot_start[n_groups] = listed;
  out->count = n_groups;
out:
  sm_free(groups);
  sm_free(refs);
  if (rc < 0) {
    chunkstore_pieces_cleanup(out);
  }
  return rc;
}

void chunkstore_pieces_cleanup(struct chunkstore_pieces *p) {
  sm_free(p->ids);
  sm_free(p->raw_len);
  sm_free(p->slot_start);
  sm_free(p->slot_list);
  memset(p, 0, sizeof(*p));
}

/* manifest_codec.c - canonical msgpack encoding of manifests and the strict,
 * bounded decoder for manifests received from disk or the network.
 *
 * Root (signed; id = BLAKE2b-256 of these bytes), a msgpack map in this order:
 *
 *   "format"     "seedmesh-manifest"
 *   "v"          1
 *   "created"    unix seconds
 *   "donor"      bin(32)  ed25519 public key of the signer
 *   "chunk_size" power of two, 16 KiB .. 64 MiB
 *   "facts"      map str -> str, keys sorted   (engine and server facts)
 *   "coords"     map str -> str, keys sorted   (replication coordinates)
 *   "entries"    number of entries in all segments
 *   "slots"      number of chunk slots in all segments
 *   "bytes"      sum of file sizes
 *   "segments"   [ [bin(32) id, length], ... ]
 *
 * Segment (content-addressed, <= 4 MiB, cut near 1 MiB): an array of records
 *
 *   [0, path, mode]                            a directory
 *   [1, path, mode, size, first, bin(32*k)]    chunks first..first+k-1 of a
 *                                              file; a large file continues
 *                                              in the next records/segments
 *
 * Entries are sorted by path (strcmp) without duplicates; an all-zero id
 * marks an all-zero chunk. */
#include "chunkstore/chunkstore_internal.h"

#include <sodium.h>
#include <string.h>

#define FORMAT_NAME "seedmesh-manifest"
#define FILE_SIZE_MAX (1ull << 50)
#define SEGMENTS_MAX 65536u
#define RECORD_OVERHEAD 48u

struct segment_writer {
  const struct chunkstore_manifest *m;
  chunkstore_segment_cb cb;
  void *arg;
  msgpack_sbuffer body;
  msgpack_packer pk;
  uint32_t records;
  uint8_t (*ids)[CHUNKSTORE_ID_BYTES];
  uint32_t *lens;
  size_t n;
  size_t cap;
};

static int segment_flush(struct segment_writer *w) {
  int rc = 0;
  msgpack_sbuffer whole;
  msgpack_packer pk;
  if (w->records == 0) {
    return 0;
  }
  msgpack_sbuffer_init(&whole);
  msgpack_packer_init(&pk, &whole, msgpack_sbuffer_write);
  if (msgpack_pack_array(&pk, w->records) != 0 ||
      msgpack_sbuffer_write(&whole, w->body.data, w->body.size) != 0) {
    rc = SM_ENOMEM;
    goto out;
  }
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 8;
    void *ids = sm_realloc(w->ids, cap * CHUNKSTORE_ID_BYTES);
    if (ids == NULL) {
      rc = SM_ENOMEM;
      goto out;
    }
    w->ids = ids;
    uint32_t *lens = sm_realloc(w->lens, cap * sizeof(uint32_t));
    if (lens == NULL) {
      rc = SM_ENOMEM;
      goto out;
    }
    w->lens = lens;
    w->cap = cap;
  }
  crypto_generichash(w->ids[w->n], CHUNKSTORE_ID_BYTES, (const uint8_t *)whole.data,
                     whole.size, NULL, 0);
  w->lens[w->n] = (uint32_t)whole.size;
  rc = w->cb(w->arg, w->ids[w->n], (const uint8_t *)whole.data, whole.size);
  if (rc < 0) {
    goto out;
  }
  w->n++;
  w->records = 0;
  msgpack_sbuffer_clear(&w->body);
out:
  msgpack_sbuffer_destroy(&whole);
  return rc;
}

static int pack_entry_head(msgpack_packer *pk, const struct chunkstore_entry *e, int fields) {
  if (msgpack_pack_array(pk, (size_t)fields) != 0 || msgpack_pack_uint32(pk, e->kind) != 0 ||
      sm_mp_pack_cstr(pk, e->path) != 0 || msgpack_pack_uint32(pk, e->mode) != 0) {
    return SM_ENOMEM;
  }
  return 0;
}

static int segment_add_entry(struct segment_writer *w, const struct chunkstore_entry *e) {
  int rc = 0;
  size_t path_len = strlen(e->path);
  if (e->kind == CHUNKSTORE_ENTRY_DIR) {
    if (w->body.size + path_len + RECORD_OVERHEAD > CHUNKSTORE_SEGMENT_TARGET) {
      rc = segment_flush(w);
    }
    if (rc == 0) {
      rc = pack_entry_head(&w->pk, e, 3);
      w->records++;
    }
    return rc;
  }
  uint64_t done = 0;
  do {
    size_t room = CHUNKSTORE_SEGMENT_TARGET - SM_MIN(w->body.size, CHUNKSTORE_SEGMENT_TARGET);
    if (room < path_len + RECORD_OVERHEAD + CHUNKSTORE_ID_BYTES) {
      rc = segment_flush(w);
      if (rc < 0) {
        return rc;
      }
      room = CHUNKSTORE_SEGMENT_TARGET;
    }
    uint64_t fit = (room - path_len - RECORD_OVERHEAD) / CHUNKSTORE_ID_BYTES;
    uint64_t k = SM_MIN(fit, e->n_slots - done);
    if (pack_entry_head(&w->pk, e, 6) != 0 || msgpack_pack_uint64(&w->pk, e->size) != 0 ||
        msgpack_pack_uint64(&w->pk, done) != 0 ||
        sm_mp_pack_bin(&w->pk, w->m->slots[e->first_slot + done],
                       (size_t)k * CHUNKSTORE_ID_BYTES) != 0) {
      return SM_ENOMEM;
    }
    w->records++;
    done += k;
  } while (done < e->n_slots);
  return 0;
}

static int pack_kv(msgpack_packer *pk, const struct chunkstore_kv *kv, size_t n) {
  if (msgpack_pack_map(pk, n) != 0) {
    return SM_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (sm_mp_pack_cstr(pk, kv[i].key) != 0 || sm_mp_pack_cstr(pk, kv[i].value) != 0) {
      return SM_ENOMEM;
    }
  }
  return 0;
}

static int pack_root(const struct chunkstore_manifest *m, const struct segment_writer *w,
                     msgpack_packer *pk) {
  int bad = msgpack_pack_map(pk, 11);
  bad |= sm_mp_pack_cstr(pk, "format") | sm_mp_pack_cstr(pk, FORMAT_NAME);
  bad |= sm_mp_pack_cstr(pk, "v") | msgpack_pack_uint32(pk, m->version);
  bad |= sm_mp_pack_cstr(pk, "created") | msgpack_pack_uint64(pk, m->created);
  bad |= sm_mp_pack_cstr(pk, "donor") | sm_mp_pack_bin(pk, m->donor, SM_PUBKEY_BYTES);
  bad |= sm_mp_pack_cstr(pk, "chunk_size") | msgpack_pack_uint32(pk, m->chunk_size);
  bad |= sm_mp_pack_cstr(pk, "facts") | pack_kv(pk, m->facts, m->n_facts);
  bad |= sm_mp_pack_cstr(pk, "coords") | pack_kv(pk, m->coords, m->n_coords);
  bad |= sm_mp_pack_cstr(pk, "entries") | msgpack_pack_uint64(pk, m->n_entries);
  bad |= sm_mp_pack_cstr(pk, "slots") | msgpack_pack_uint64(pk, m->n_slots);
  bad |= sm_mp_pack_cstr(pk, "bytes") | msgpack_pack_uint64(pk, m->total_bytes);
  bad |= sm_mp_pack_cstr(pk, "segments") | msgpack_pack_array(pk, w->n);
  for (size_t i = 0; i < w->n; i++) {
    bad |= msgpack_pack_array(pk, 2);
    bad |= sm_mp_pack_bin(pk, w->ids[i], CHUNKSTORE_ID_BYTES);
    bad |= msgpack_pack_uint32(pk, w->lens[i]);
  }
  return bad ? SM_ENOMEM : 0;
}

int chunkstore__manifest_encode_parts(const struct chunkstore_manifest *m,
                                      chunkstore_segment_cb segment_cb, void *arg,
                                      struct chunkstore__encoded *out) {
  int rc = 0;
  struct segment_writer w;
  msgpack_sbuffer root;
  memset(&w, 0, sizeof(w));
  memset(out, 0, sizeof(*out));
  w.m = m;
  w.cb = segment_cb;
  w.arg = arg;
  msgpack_sbuffer_init(&w.body);
  msgpack_packer_init(&w.pk, &w.body, msgpack_sbuffer_write);
  msgpack_sbuffer_init(&root);
  for (size_t i = 0; i < m->n_entries && rc == 0; i++) {
    rc = segment_add_entry(&w, &m->entries[i]);
  }
  if (rc == 0) {
    rc = segment_flush(&w);
  }
  if (rc < 0) {
    goto out;
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, &root, msgpack_sbuffer_write);
  rc = pack_root(m, &w, &pk);
  if (rc < 0) {
    goto out;
  }
  if (root.size > CHUNKSTORE_ROOT_MAX) {
    rc = SM_ETOOBIG;
    goto out;
  }
  out->root_len = root.size;
  out->root = (uint8_t *)msgpack_sbuffer_release(&root);
  crypto_generichash(out->id, CHUNKSTORE_ID_BYTES, out->root, out->root_len, NULL, 0);
  out->segment_ids = w.ids;
  out->segment_lens = w.lens;
  out->n_segments = w.n;
  w.ids = NULL;
  w.lens = NULL;
out:
  sm_free(w.ids);
  sm_free(w.lens);
  msgpack_sbuffer_destroy(&w.body);
  msgpack_sbuffer_destroy(&root);
  return rc;
}

int chunkstore_manifest_encode(struct chunkstore_manifest *m,
                               chunkstore_segment_cb segment_cb, void *arg) {
  struct chunkstore__encoded enc;
  int rc = chunkstore__manifest_encode_parts(m, segment_cb, arg, &enc);
  if (rc < 0) {
    return rc;
  }
  sm_free(m->root);
  sm_free(m->segment_ids);
  sm_free(m->segment_lens);
  m->root = enc.root;
  m->root_len = enc.root_len;
  memcpy(m->id, enc.id, CHUNKSTORE_ID_BYTES);
  m->segment_ids = enc.segment_ids;
  m->segment_lens = enc.segment_lens;
  m->n_segments = enc.n_segments;
  return 0;
}

/* ------------------------------------------------------------- decoding */

static int decode_kv(const msgpack_object *obj, struct chunkstore_kv **kv, size_t *n) {
  char key[CHUNKSTORE_KEY_MAX + 1];
  if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP || obj->via.map.size > CHUNKSTORE_KV_MAX) {
    return SM_EMALFORMED;
  }
  for (uint32_t i = 0; i < obj->via.map.size; i++) {
    const msgpack_object *k = &obj->via.map.ptr[i].key;
    const msgpack_object *v = &obj->via.map.ptr[i].val;
    const char *vp = NULL;
    uint32_t vlen = 0;
    if (sm_mp_str_copy(k, key, sizeof(key)) < 0 || key[0] == '\0' ||
        sm_mp_str(v, CHUNKSTORE_VALUE_MAX, &vp, &vlen) < 0 ||
        (vlen > 0 && memchr(vp, '\0', vlen) != NULL)) {
      return SM_EMALFORMED;
    }
    if (i > 0 && strcmp((*kv)[i - 1].key, key) >= 0) {
      return SM_EMALFORMED; /* not canonical: unsorted or duplicate */
    }
    char *value = sm_malloc(vlen + 1u);
    if (value == NULL) {
      return SM_ENOMEM;
    }
    if (vlen > 0) {
      memcpy(value, vp, vlen);
    }
    value[vlen] = '\0';
    int rc = chunkstore__kv_set(kv, n, key, value);
    sm_free(value);
    if (rc < 0) {
      return rc;
    }
  }
  return 0;
}

static int is_power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

/* Totals from the root, checked by finish(). */
struct root_totals {
  uint64_t entries, slots, bytes;
};

int chunkstore_manifest_decode_root(const uint8_t *root, size_t len,
                                    struct chunkstore_manifest **out) {
  int rc = 0;
  msgpack_zone zone;
  msgpack_object obj;
  uint64_t v = 0;
  uint64_t chunk_size = 0;
  char format[32];
  struct chunkstore_manifest *m = NULL;
  *out = NULL;
  if (len > CHUNKSTORE_ROOT_MAX) {
    return SM_ETOOBIG;
  }
  msgpack_zone_init(&zone, 4096);
  rc = sm_mp_unpack(root, len, &zone, &obj);
  if (rc < 0) {
    goto out;
  }
  if (sm_mp_str_copy(sm_mp_map_get(&obj, "format"), format, sizeof(format)) < 0 ||
      strcmp(format, FORMAT_NAME) != 0) {
    rc = SM_EMALFORMED;
    goto out;
  }
  if (sm_mp_u64(sm_mp_map_get(&obj, "v"), UINT32_MAX, &v) < 0) {
    rc = SM_EMALFORMED;
    goto out;
  }
  if (v != CHUNKSTORE_FORMAT_VERSION) {
    rc = SM_EVERSION;
    goto out;
  }
  if (sm_mp_u64(sm_mp_map_get(&obj, "chunk_size"), CHUNKSTORE_CHUNK_MAX, &chunk_size) < 0 ||
      chunk_size < CHUNKSTORE_CHUNK_MIN || !is_power_of_two(chunk_size)) {
    rc = SM_EMALFORMED;
    goto out;
  }
  m = chunkstore_manifest_new((uint32_t)chunk_size);
  if (m == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  struct root_totals t;
  const msgpack_object *segs = sm_mp_map_get(&obj, "segments");
  if (obj.via.map.size != 11 ||
      sm_mp_u64(sm_mp_map_get(&obj, "created"), UINT64_MAX, &m->created) < 0 ||
      sm_mp_bin_exact(sm_mp_map_get(&obj, "donor"), m->donor, SM_PUBKEY_BYTES) < 0 ||
      sm_mp_u64(sm_mp_map_get(&obj, "entries"), UINT32_MAX, &t.entries) < 0 ||
      sm_mp_u64(sm_mp_map_get(&obj, "slots"), UINT32_MAX, &t.slots) < 0 ||
      sm_mp_u64(sm_mp_map_get(&obj, "bytes"), UINT64_MAX, &t.bytes) < 0 || segs == NULL ||
      segs->type != MSGPACK_OBJECT_ARRAY || segs->via.array.size > SEGMENTS_MAX) {
    rc = SM_EMALFORMED;
    goto out;
  }
  rc = decode_kv(sm_mp_map_get(&obj, "facts"), &m->facts, &m->n_facts);
  if (rc == 0) {
    rc = decode_kv(sm_mp_map_get(&obj, "coords"), &m->coords, &m->n_coords);
  }
  if (rc < 0) {
    rc = rc == SM_ENOMEM ? rc : SM_EMALFORMED;
    goto out;
  }
  size_t n_seg = segs->via.array.size;
  uint64_t seg_bytes = 0;
  m->segment_ids = sm_calloc(n_seg ? n_seg : 1, CHUNKSTORE_ID_BYTES);
  m->segment_lens = sm_calloc(n_seg ? n_seg : 1, sizeof(uint32_t));
  m->root = sm_malloc(len);
  if (m->segment_ids == NULL || m->segment_lens == NULL || m->root == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n_seg; i++) {
    const msgpack_object *s = &segs->via.array.ptr[i];
    uint64_t slen = 0;
    if (s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size != 2 ||
        sm_mp_bin_exact(&s->via.array.ptr[0], m->segment_ids[i], CHUNKSTORE_ID_BYTES) < 0 ||
        sm_mp_u64(&s->via.array.ptr[1], CHUNKSTORE_SEGMENT_MAX, &slen) < 0 || slen == 0) {
      rc = SM_EMALFORMED;
      goto out;
    }
    m->segment_lens[i] = (uint32_t)slen;
    seg_bytes += slen;
  }
  /* Every slot's id sits in some segment. Without this a tiny segment could
   * make the decoder reserve memory for up to 2^32 slots of one file. */
  if (t.slots > seg_bytes / CHUNKSTORE_ID_BYTES) {
    rc = SM_EMALFORMED;
    goto out;
  }
  m->n_segments = n_seg;
  memcpy(m->root, root, len);
  m->root_len = len;
  crypto_generichash(m->id, CHUNKSTORE_ID_BYTES, root, len, NULL, 0);
  /* Stash the claimed totals; finish() compares them with what was decoded. */
  m->cap_entries = 0;
  rc = chunkstore__manifest_reserve_entries(m, (size_t)SM_MIN(t.entries, 4096));
  if (rc < 0) {
    goto out;
  }
  m->n_entries = 0;
  m->claimed_entries = t.entries;
  m->claimed_slots = t.slots;
  m->claimed_bytes = t.bytes;
  *out = m;
  m = NULL;
out:
  msgpack_zone_destroy(&zone);
  chunkstore_manifest_free(m);
  return rc;
}

static int decode_record(struct chunkstore_manifest *m, const msgpack_object *r) {
  uint64_t kind = 0;
  uint64_t mode = 0;
  char path[CHUNKSTORE_PATH_MAX + 1];
  if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size < 3 ||
      sm_mp_u64(&r->via.array.ptr[0], 1, &kind) < 0 ||
      sm_mp_str_copy(&r->via.array.ptr[1], path, sizeof(path)) < 0 ||
      sm_mp_u64(&r->via.array.ptr[2], 07777, &mode) < 0 ||
      r->via.array.size != (kind == CHUNKSTORE_ENTRY_DIR ? 3u : 6u)) {
    return SM_EMALFORMED;
  }
  if (chunkstore_path_check(path) < 0) {
    return SM_EPATH;
  }
  if (kind == CHUNKSTORE_ENTRY_DIR) {
    if (m->pending_slots != 0) {
      return SM_EMALFORMED; /* the previous file is not complete */
    }
    if (m->n_entries >= m->claimed_entries) {
      return SM_EMALFORMED; /* more entries than the root announced */
    }
    int rc = chunkstore_manifest_add_dir(m, path, (uint32_t)mode);
    return rc == SM_EINVAL ? SM_EPATH : rc;
  }
  uint64_t size = 0;
  uint64_t first = 0;
  const uint8_t *ids = NULL;
  uint32_t ids_len = 0;
  if (sm_mp_u64(&r->via.array.ptr[3], FILE_SIZE_MAX, &size) < 0 ||
      sm_mp_u64(&r->via.array.ptr[4], UINT32_MAX, &first) < 0 ||
      sm_mp_bin(&r->via.array.ptr[5], CHUNKSTORE_SEGMENT_MAX, &ids, &ids_len) < 0 ||
      ids_len % CHUNKSTORE_ID_BYTES != 0) {
    return SM_EMALFORMED;
  }
  uint64_t k = ids_len / CHUNKSTORE_ID_BYTES;
  uint64_t total = chunkstore__slots_for(size, m->chunk_size);
  struct chunkstore_entry *e = NULL;
  if (first == 0) {
    if (m->pending_slots != 0) {
      return SM_EMALFORMED;
    }
    if (m->n_entries >= m->claimed_entries || m->n_slots + total > m->claimed_slots) {
      return SM_EMALFORMED; /* more entries or chunks than the root announced */
    }
    int rc = chunkstore_manifest_add_file(m, path, (uint32_t)mode, size, &e);
    if (rc < 0) {
      return rc == SM_EINVAL ? SM_EPATH : rc;
    }
    m->pending_slots = total;
  } else {
    e = m->n_entries ? &m->entries[m->n_entries - 1] : NULL;
    if (e == NULL || e->kind != CHUNKSTORE_ENTRY_FILE || strcmp(e->path, path) != 0 ||
        e->mode != mode || e->size != size || e->n_slots - m->pending_slots != first) {
      return SM_EMALFORMED; /* a continuation that does not continue */
    }
  }
  if (k > m->pending_slots || (k == 0 && total != 0)) {
    return SM_EMALFORMED; /* size disagrees with the chunk list */
  }
  if (k > 0) {
    memcpy(m->slots[e->first_slot + first], ids, ids_len);
  }
  m->pending_slots -= k;
  return 0;
}

int chunkstore__manifest_decode_segment(struct chunkstore_manifest *m, const uint8_t *bytes,
                                        size_t len) {
  int rc = 0;
  msgpack_zone zone;
  msgpack_object obj;
  if (m->segments_added >= m->n_segments) {
    return SM_ESTATE;
  }
  if (len > CHUNKSTORE_SEGMENT_MAX) {
    return SM_ETOOBIG;
  }
  msgpack_zone_init(&zone, 65536);
  rc = sm_mp_unpack(bytes, len, &zone, &obj);
  if (rc == 0 && obj.type != MSGPACK_OBJECT_ARRAY) {
    rc = SM_EMALFORMED;
  }
  for (uint32_t i = 0; rc == 0 && i < obj.via.array.size; i++) {
    rc = decode_record(m, &obj.via.array.ptr[i]);
  }
  msgpack_zone_destroy(&zone);
  if (rc == 0) {
    m->segments_added++;
  }
  return rc;
}

int chunkstore_manifest_add_segment(struct chunkstore_manifest *m, size_t index,
                                    const uint8_t *bytes, size_t len) {
  uint8_t id[CHUNKSTORE_ID_BYTES];
  if (index != m->segments_added || index >= m->n_segments) {
    return SM_ESTATE;
  }
  if (len != m->segment_lens[index] || len > CHUNKSTORE_SEGMENT_MAX) {
    return SM_EHASH;
  }
  crypto_generichash(id, sizeof(id), bytes, len, NULL, 0);
  if (sodium_memcmp(id, m->segment_ids[index], sizeof(id)) != 0) {
    return SM_EHASH;
  }
  return chunkstore__manifest_decode_segment(m, bytes, len);
}

static int entry_find(const struct chunkstore_manifest *m, const char *path, size_t len) {
  size_t lo = 0;
  size_t hi = m->n_entries;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strncmp(m->entries[mid].path, path, len);
    if (c == 0 && m->entries[mid].path[len] != '\0') {
      c = 1;
    }
    if (c == 0) {
      return (int)mid;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return -1;
}

int chunkstore_manifest_finish(struct chunkstore_manifest *m) {
  if (m->segments_added != m->n_segments || m->pending_slots != 0 ||
      m->n_entries != m->claimed_entries || m->n_slots != m->claimed_slots ||
      m->total_bytes != m->claimed_bytes) {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; i < m->n_entries; i++) {
    const char *path = m->entries[i].path;
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
      continue;
    }
    int parent = entry_find(m, path, (size_t)(slash - path));
    if (parent < 0 || m->entries[parent].kind != CHUNKSTORE_ENTRY_DIR) {
      return SM_EPATH; /* every parent must be a listed directory */
    }
  }
  return 0;
}

/* codec.c - msgpack encoding and bounded decoding of gossip plaintext
 * messages (the part inside the authenticated envelope; see docs/gossip.md).
 *
 * message = [type, seq, target|nil, target_addr|nil, [mrec...], [delta...],
 *            [digest...]]
 * mrec    = [id bin32, status, incarnation, addr bin19, from bin32|nil]
 * delta   = [origin bin32, key str, value bin, version]
 * digest  = [origin bin32, version]
 * addr    = family u8 | ip 16 bytes | port be16  (as one bin of 19 bytes) */
#include "gossip/gossip_internal.h"

#include <string.h>

/* ----------------------------------------------------------------- sizes */
static size_t uint_size(uint64_t v) {
  if (v < 128) {
    return 1;
  }
  if (v < 256) {
    return 2;
  }
  if (v < 65536) {
    return 3;
  }
  if (v <= 0xffffffffu) {
    return 5;
  }
  return 9;
}

static size_t bin_size(size_t n) {
  return n + (n < 256 ? 2 : n < 65536 ? 3 : 5);
}

static size_t str_size(size_t n) {
  return n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
}

size_t gossip__mrec_size(const struct gossip__mrec *r) {
  return 1 + bin_size(SM_PUBKEY_BYTES) + uint_size(r->status) + uint_size(r->incarnation) +
         bin_size(GOSSIP__ADDR_WIRE) + (r->has_from ? bin_size(SM_PUBKEY_BYTES) : 1);
}

size_t gossip__delta_size(const struct gossip__delta *d) {
  return 1 + bin_size(SM_PUBKEY_BYTES) + str_size(d->klen) + bin_size(d->vlen) +
         uint_size(d->version);
}

size_t gossip__digest_size(const struct gossip__digest *d) {
  return 1 + bin_size(SM_PUBKEY_BYTES) + uint_size(d->version);
}

size_t gossip__msg_base_size(const struct gossip__msg *msg) {
  /* The three array headers are counted at their largest (5 bytes). */
  return 1 + uint_size(msg->type) + uint_size(msg->seq) +
         (msg->has_target ? bin_size(SM_PUBKEY_BYTES) + bin_size(GOSSIP__ADDR_WIRE) : 2) +
         3 * 5;
}

/* -------------------------------------------------------------- encoding */
static int wbuf_write(void *data, const char *buf, size_t len) {
  struct gossip__wbuf *w = data;
  if (w->overflow || len > w->cap - w->len) {
    w->overflow = 1;
    return -1;
  }
  memcpy(w->p + w->len, buf, len);
  w->len += len;
  return 0;
}

void gossip__wbuf_init(struct gossip__wbuf *w, uint8_t *p, size_t cap) {
  w->p = p;
  w->len = 0;
  w->cap = cap;
  w->overflow = 0;
}

void gossip__addr_pack(const struct gossip_addr *a, uint8_t out[GOSSIP__ADDR_WIRE]) {
  out[0] = a->family;
  memcpy(out + 1, a->ip, 16);
  sm_store_be16(out + 17, a->port);
}

int gossip__addr_unpack(const uint8_t in[GOSSIP__ADDR_WIRE], struct gossip_addr *out) {
  if (in[0] != GOSSIP_AF_INET4 && in[0] != GOSSIP_AF_INET6) {
    return SM_EMALFORMED;
  }
  memset(out, 0, sizeof(*out));
  out->family = in[0];
  memcpy(out->ip, in + 1, 16);
  out->port = sm_load_be16(in + 17);
  return 0;
}

static int pack_addr(msgpack_packer *pk, const struct gossip_addr *a) {
  uint8_t raw[GOSSIP__ADDR_WIRE];
  gossip__addr_pack(a, raw);
  return sm_mp_pack_bin(pk, raw, sizeof(raw));
}

static int pack_mrec(msgpack_packer *pk, const struct gossip__mrec *r) {
  int rc = 0;
  rc |= msgpack_pack_array(pk, 5);
  rc |= sm_mp_pack_bin(pk, r->id, SM_PUBKEY_BYTES);
  rc |= msgpack_pack_uint64(pk, r->status);
  rc |= msgpack_pack_uint64(pk, r->incarnation);
  rc |= pack_addr(pk, &r->addr);
  if (r->has_from) {
    rc |= sm_mp_pack_bin(pk, r->from, SM_PUBKEY_BYTES);
  } else {
    rc |= msgpack_pack_nil(pk);
  }
  return rc;
}

static int pack_delta(msgpack_packer *pk, const struct gossip__delta *d) {
  int rc = 0;
  rc |= msgpack_pack_array(pk, 4);
  rc |= sm_mp_pack_bin(pk, d->origin, SM_PUBKEY_BYTES);
  rc |= msgpack_pack_str(pk, d->klen);
  rc |= msgpack_pack_str_body(pk, d->key, d->klen);
  rc |= sm_mp_pack_bin(pk, d->val, d->vlen);
  rc |= msgpack_pack_uint64(pk, d->version);
  return rc;
}

int gossip__msg_encode(const struct gossip__msg *msg, struct gossip__wbuf *w) {
  msgpack_packer pk;
  int rc = 0;
  msgpack_packer_init(&pk, w, wbuf_write);
  rc |= msgpack_pack_array(&pk, 7);
  rc |= msgpack_pack_uint64(&pk, msg->type);
  rc |= msgpack_pack_uint64(&pk, msg->seq);
  if (msg->has_target) {
    rc |= sm_mp_pack_bin(&pk, msg->target, SM_PUBKEY_BYTES);
    rc |= pack_addr(&pk, &msg->target_addr);
  } else {
    rc |= msgpack_pack_nil(&pk);
    rc |= msgpack_pack_nil(&pk);
  }
  rc |= msgpack_pack_array(&pk, msg->n_members);
  for (size_t i = 0; i < msg->n_members && rc == 0; i++) {
    rc |= pack_mrec(&pk, &msg->members[i]);
  }
  rc |= msgpack_pack_array(&pk, msg->n_deltas);
  for (size_t i = 0; i < msg->n_deltas && rc == 0; i++) {
    rc |= pack_delta(&pk, &msg->deltas[i]);
  }
  rc |= msgpack_pack_array(&pk, msg->n_digest);
  for (size_t i = 0; i < msg->n_digest && rc == 0; i++) {
    rc |= msgpack_pack_array(&pk, 2);
    rc |= sm_mp_pack_bin(&pk, msg->digest[i].origin, SM_PUBKEY_BYTES);
    rc |= msgpack_pack_uint64(&pk, msg->digest[i].version);
  }
  if (rc != 0 || w->overflow) {
    return SM_ETOOBIG;
  }
  return 0;
}

/* -------------------------------------------------------------- decoding */
static const msgpack_object *array_of(const msgpack_object *o, uint32_t n) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n) {
    return NULL;
  }
  return o->via.array.ptr;
}

static int decode_addr(const msgpack_object *o, struct gossip_addr *out) {
  uint8_t raw[GOSSIP__ADDR_WIRE];
  int rc = sm_mp_bin_exact(o, raw, sizeof(raw));
  if (rc < 0) {
    return rc;
  }
  return gossip__addr_unpack(raw, out);
}

static int decode_mrec(const msgpack_object *o, struct gossip__mrec *r) {
  const msgpack_object *f = array_of(o, 5);
  uint64_t v = 0;
  if (f == NULL) {
    return SM_EMALFORMED;
  }
  if (sm_mp_bin_exact(&f[0], r->id, SM_PUBKEY_BYTES) < 0 ||
      sm_mp_u64(&f[1], GOSSIP_LEFT, &v) < 0 ||
      sm_mp_u64(&f[2], UINT64_MAX, &r->incarnation) < 0 || decode_addr(&f[3], &r->addr) < 0) {
    return SM_EMALFORMED;
  }
  r->status = (uint8_t)v;
  r->has_from = f[4].type != MSGPACK_OBJECT_NIL;
  if (r->has_from && sm_mp_bin_exact(&f[4], r->from, SM_PUBKEY_BYTES) < 0) {
    return SM_EMALFORMED;
  }
  return 0;
}

static int decode_delta(const msgpack_object *o, struct gossip__delta *d) {
  const msgpack_object *f = array_of(o, 4);
  if (f == NULL) {
    return SM_EMALFORMED;
  }
  if (sm_mp_bin_exact(&f[0], d->origin, SM_PUBKEY_BYTES) < 0 ||
      sm_mp_str(&f[1], GOSSIP_KEY_MAX, &d->key, &d->klen) < 0 ||
      sm_mp_bin(&f[2], GOSSIP_VALUE_MAX, &d->val, &d->vlen) < 0 ||
      sm_mp_u64(&f[3], UINT64_MAX, &d->version) < 0) {
    return SM_EMALFORMED;
  }
  if (d->klen == 0 || memchr(d->key, '\0', d->klen) != NULL || d->version == 0) {
    return SM_EMALFORMED;
  }
  return 0;
}

/* Validates a list header and allocates its decoded array (NULL if empty). */
static int list_alloc(const msgpack_object *o, size_t max, size_t elem, void **out,
                      size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  if (o->type != MSGPACK_OBJECT_ARRAY) {
    return SM_EMALFORMED;
  }
  if (o->via.array.size > max) {
    return SM_ETOOBIG;
  }
  if (o->via.array.size == 0) {
    return 0;
  }
  *out = sm_calloc(o->via.array.size, elem);
  if (*out == NULL) {
    return SM_ENOMEM;
  }
  *out_n = o->via.array.size;
  return 0;
}

int gossip__msg_decode(const uint8_t *buf, size_t len, const struct gossip__limits *lim,
                       struct gossip__msg *out) {
  msgpack_zone zone;
  msgpack_object root;
  const msgpack_object *f = NULL;
  uint64_t v = 0;
  void *arr = NULL;
  int rc = 0;
  memset(out, 0, sizeof(*out));
  if (!msgpack_zone_init(&zone, 1024)) {
    return SM_ENOMEM;
  }
  rc = sm_mp_unpack(buf, len, &zone, &root);
  if (rc < 0) {
    goto out;
  }
  f = array_of(&root, 7);
  if (f == NULL || sm_mp_u64(&f[0], GOSSIP__PP_DELTA, &v) < 0 || v < GOSSIP__PING ||
      sm_mp_u64(&f[1], UINT64_MAX, &out->seq) < 0) {
    rc = SM_EMALFORMED;
    goto out;
  }
  out->type = (uint8_t)v;
  if (f[2].type == MSGPACK_OBJECT_NIL && f[3].type == MSGPACK_OBJECT_NIL) {
    out->has_target = 0;
  } else if (sm_mp_bin_exact(&f[2], out->target, SM_PUBKEY_BYTES) == 0 &&
             decode_addr(&f[3], &out->target_addr) == 0) {
    out->has_target = 1;
  } else {
    rc = SM_EMALFORMED;
    goto out;
  }
  if ((out->type == GOSSIP__PING || out->type == GOSSIP__PING_REQ) && !out->has_target) {
    rc = SM_EMALFORMED;
    goto out;
  }
  rc = list_alloc(&f[4], lim->max_members, sizeof(*out->members), &arr, &out->n_members);
  out->members = arr;
  if (rc < 0) {
    goto out;
  }
  for (size_t i = 0; i < out->n_members; i++) {
    rc = decode_mrec(&f[4].via.array.ptr[i], &out->members[i]);
    if (rc < 0) {
      goto out;
    }
  }
  rc = list_alloc(&f[5], lim->max_deltas, sizeof(*out->deltas), &arr, &out->n_deltas);
  out->deltas = arr;
  if (rc < 0) {
    goto out;
  }
  for (size_t i = 0; i < out->n_deltas; i++) {
    rc = decode_delta(&f[5].via.array.ptr[i], &out->deltas[i]);
    if (rc < 0) {
      goto out;
    }
  }
  rc = list_alloc(&f[6], lim->max_digest, sizeof(*out->digest), &arr, &out->n_digest);
  out->digest = arr;
  if (rc < 0) {
    goto out;
  }
  for (size_t i = 0; i < out->n_digest; i++) {
    const msgpack_object *d = array_of(&f[6].via.array.ptr[i], 2);
    if (d == NULL || sm_mp_bin_exact(&d[0], out->digest[i].origin, SM_PUBKEY_BYTES) < 0 ||
        sm_mp_u64(&d[1], UINT64_MAX, &out->digest[i].version) < 0) {
      rc = SM_EMALFORMED;
      goto out;
    }
  }
out:
  msgpack_zone_destroy(&zone);
  if (rc < 0) {
    gossip__msg_cleanup(out);
  }
  return rc;
}

void gossip__msg_cleanup(struct gossip__msg *msg) {
  sm_free(msg->members);
  sm_free(msg->deltas);
  sm_free(msg->digest);
  msg->members = NULL;
  msg->deltas = NULL;
  msg->digest = NULL;
  msg->n_members = msg->n_deltas = msg->n_digest = 0;
}

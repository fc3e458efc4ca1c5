/* msg.c - the peer protocol's messages: one msgpack array [type, fields...]
 * per frame, with exact arity per type, packed and unpacked with msgpack-c.
 * Encoding and decoding share one validator, so the encoder never produces
 * what the decoder refuses. The layout of each message is pictured in
 * docs/protocol.md. */
#include "node/wire/wire_internal.h"

/* The largest message shape has under a dozen objects; refusing more before
 * msgpack-c allocates keeps a hostile frame from costing ~24 bytes of memory
 * per declared element. */
#define WIRE__MSG_MAX_OBJECTS 32

#include <string.h>

#include <msgpack.h>

/* Array length of each type, type word included; 0 = no such type. */
static const uint8_t msg_arity[WIRE_MSG_TYPE_MAX + 1] = {
    [WIRE_MSG_BITFIELD] = 4,     [WIRE_MSG_HAVE] = 3,
    [WIRE_MSG_REQUEST] = 5,      [WIRE_MSG_CANCEL] = 3,
    [WIRE_MSG_CHUNK] = 6,        [WIRE_MSG_REJECT] = 5,
    [WIRE_MSG_MANIFEST_GET] = 3, [WIRE_MSG_MANIFEST_PART] = 5,
    [WIRE_MSG_PING] = 2,         [WIRE_MSG_PONG] = 2,
    [WIRE_MSG_GOODBYE] = 3,      [WIRE_MSG_GOSSIP] = 2,
};

static const char *const msg_names[WIRE_MSG_TYPE_MAX + 1] = {
    [WIRE_MSG_BITFIELD] = "BITFIELD",         [WIRE_MSG_HAVE] = "HAVE",
    [WIRE_MSG_REQUEST] = "REQUEST",           [WIRE_MSG_CANCEL] = "CANCEL",
    [WIRE_MSG_CHUNK] = "CHUNK",               [WIRE_MSG_REJECT] = "REJECT",
    [WIRE_MSG_MANIFEST_GET] = "MANIFEST_GET", [WIRE_MSG_MANIFEST_PART] = "MANIFEST_PART",
    [WIRE_MSG_PING] = "PING",                 [WIRE_MSG_PONG] = "PONG",
    [WIRE_MSG_GOODBYE] = "GOODBYE",           [WIRE_MSG_GOSSIP] = "GOSSIP",
};

/* Largest byte string any message field may carry. */
#define DATA_MAX WIRE_FRAME_PAYLOAD_LIMIT

const char *wire_msg_type_name(int type) {
  if (type < 1 || type > WIRE_MSG_TYPE_MAX) {
    return "?";
  }
  return msg_names[type];
}

static int is_pow2(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

static int bitfield_validate(const struct wire_msg_bitfield *b) {
  if (b->nbits > WIRE_BITFIELD_MAX_BITS) {
    return SM_EPROTO;
  }
  if (b->bits_len != ((size_t)b->nbits + 7) / 8 || (b->bits_len > 0 && b->bits == NULL)) {
    return SM_EPROTO;
  }
  if (b->nbits % 8 != 0) {
    uint8_t pad_mask = (uint8_t)(0xffu >> (b->nbits % 8));
    if ((b->bits[b->bits_len - 1] & pad_mask) != 0) {
      return SM_EPROTO;
    }
  }
  return 0;
}

static int request_validate(const struct wire_msg_request *q) {
  if (q->index > WIRE_INDEX_MAX) {
    return SM_EPROTO;
  }
  if (q->page_size == 0) {
    return q->npages == 0 ? 0 : SM_EPROTO;
  }
  if (!is_pow2(q->page_size) || q->page_size < WIRE_PAGE_SIZE_MIN ||
      q->page_size > WIRE_PAGE_SIZE_MAX) {
    return SM_EPROTO;
  }
  if (q->npages == 0 || q->npages > WIRE_DELTA_MAX_PAGES || q->page_hashes == NULL ||
      (uint64_t)q->npages * q->page_size > WIRE_CHUNK_MAX) {
    return SM_EPROTO;
  }
  return 0;
}

static int chunk_validate(const struct wire_msg_chunk *c, size_t data_len) {
  if (c->index > WIRE_INDEX_MAX || c->encoding > WIRE_ENC_MAX || c->raw_len == 0 ||
      c->raw_len > WIRE_CHUNK_MAX) {
    return SM_EPROTO;
  }
  switch (c->encoding) {
  case WIRE_ENC_RAW:
    return data_len == c->raw_len ? 0 : SM_EPROTO;
  case WIRE_ENC_ZSTD:
    /* A sender whose zstd output is not smaller sends raw. */
    return data_len > 0 && data_len <= c->raw_len ? 0 : SM_EPROTO;
  default:
    return data_len > 0 && data_len <= WIRE_FRAME_PAYLOAD_DEFAULT ? 0 : SM_EPROTO;
  }
}

static int text_validate(const char *text, size_t len) {
  if (len > WIRE_GOODBYE_TEXT_MAX) {
    return SM_ETOOBIG;
  }
  for (size_t i = 0; i < len; i++) {
    uint8_t ch = (uint8_t)text[i];
    if (ch < 0x20 || ch == 0x7f) {
      return SM_EPROTO; /* keeps peer text harmless in logs */
    }
  }
  return 0;
}

/* Semantic checks shared by encoder and decoder. */
static int msg_validate(const struct wire_msg *m) {
  const struct wire_msg_reject *rj = &m->u.reject;
  const struct wire_msg_manifest_part *mp = &m->u.manifest_part;
  switch (m->type) {
  case WIRE_MSG_BITFIELD:
    return bitfield_validate(&m->u.bitfield);
  case WIRE_MSG_HAVE:
    return m->u.have.index <= WIRE_INDEX_MAX ? 0 : SM_EPROTO;
  case WIRE_MSG_REQUEST:
    return request_validate(&m->u.request);
  case WIRE_MSG_CANCEL:
    return m->u.cancel.index <= WIRE_INDEX_MAX ? 0 : SM_EPROTO;
  case WIRE_MSG_CHUNK:
    if (m->u.chunk.data == NULL) {
      return SM_EPROTO;
    }
    return chunk_validate(&m->u.chunk, m->u.chunk.data_len);
  case WIRE_MSG_REJECT:
    if (rj->kind > WIRE_REJECT_KIND_MANIFEST || rj->reason < 1 ||
        rj->reason > WIRE_REJECT_MAX) {
      return SM_EPROTO;
    }
    if (rj->index > (rj->kind == WIRE_REJECT_KIND_CHUNK ? WIRE_INDEX_MAX
                                                        : WIRE_MANIFEST_PARTS_MAX - 1)) {
      return SM_EPROTO;
    }
    return 0;
  case WIRE_MSG_MANIFEST_GET:
    return m->u.manifest_get.part < WIRE_MANIFEST_PARTS_MAX ? 0 : SM_EPROTO;
  case WIRE_MSG_MANIFEST_PART:
    if (mp->nparts == 0 || mp->nparts > WIRE_MANIFEST_PARTS_MAX || mp->part >= mp->nparts ||
        mp->data == NULL || mp->data_len == 0) {
      return SM_EPROTO;
    }
    return mp->data_len <= WIRE_MANIFEST_PART_MAX ? 0 : SM_ETOOBIG;
  case WIRE_MSG_PING:
  case WIRE_MSG_PONG:
    return 0;
  case WIRE_MSG_GOODBYE:
    if (m->u.goodbye.reason > WIRE_BYE_MAX ||
        (m->u.goodbye.text_len > 0 && m->u.goodbye.text == NULL)) {
      return SM_EPROTO;
    }
    return text_validate(m->u.goodbye.text, m->u.goodbye.text_len);
  case WIRE_MSG_GOSSIP:
    if (m->u.gossip.data == NULL || m->u.gossip.data_len == 0) {
      return SM_EPROTO;
    }
    return m->u.gossip.data_len <= WIRE_GOSSIP_MAX ? 0 : SM_ETOOBIG;
  default:
    return SM_EPROTO;
  }
}

/* ----------------------------------------------------------------- encode */

/* Where a msgpack_packer writes: the caller's buffer of cap bytes, or with
 * buf == NULL nowhere (a sizing pass that only counts). The first write that
 * does not fit sets overflow and fails every later one. */
struct msg_sink {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int overflow;
};

static int msg_sink_write(void *data, const char *p, size_t n) {
  struct msg_sink *s = data;
  if (s->buf == NULL) {
    s->len += n;
    return 0;
  }
  if (s->overflow || s->cap - s->len < n) {
    s->overflow = 1;
    return -1;
  }
  if (n > 0) {
    memcpy(s->buf + s->len, p, n);
  }
  s->len += n;
  return 0;
}

/* Packs a bin of len bytes; with data == NULL only its header, the caller
 * places the body. */
static void pack_bin(msgpack_packer *pk, const uint8_t *data, size_t len) {
  msgpack_pack_bin(pk, len);
  if (data != NULL) {
    msgpack_pack_bin_body(pk, data, len);
  }
}

/* Packs a validated msg; for a CHUNK with head_only set, stops before the
 * data body (whose length is data_len). Failed writes are recorded by the
 * sink, so the packer's return values need no checking here. msgpack-c
 * always picks the shortest encoding of each header and integer. */
static void msg_pack(msgpack_packer *pk, const struct wire_msg *m, int head_only) {
  const struct wire_msg_request *q = &m->u.request;
  const struct wire_msg_chunk *c = &m->u.chunk;
  msgpack_pack_array(pk, msg_arity[m->type]);
  msgpack_pack_uint64(pk, (uint64_t)m->type);
  switch (m->type) {
  case WIRE_MSG_BITFIELD:
    pack_bin(pk, m->u.bitfield.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.bitfield.nbits);
    pack_bin(pk, m->u.bitfield.bits, m->u.bitfield.bits_len);
    break;
  case WIRE_MSG_HAVE:
    pack_bin(pk, m->u.have.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.have.index);
    break;
  case WIRE_MSG_REQUEST:
    pack_bin(pk, q->manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, q->index);
    msgpack_pack_uint64(pk, q->page_size);
    pack_bin(pk, q->npages > 0 ? q->page_hashes : NULL,
             (size_t)q->npages * WIRE_PAGE_HASH_BYTES);
    break;
  case WIRE_MSG_CANCEL:
    pack_bin(pk, m->u.cancel.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.cancel.index);
    break;
  case WIRE_MSG_CHUNK:
    pack_bin(pk, c->manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, c->index);
    msgpack_pack_uint64(pk, c->encoding);
    msgpack_pack_uint64(pk, c->raw_len);
    pack_bin(pk, head_only ? NULL : c->data, c->data_len);
    break;
  case WIRE_MSG_REJECT:
    msgpack_pack_uint64(pk, m->u.reject.kind);
    pack_bin(pk, m->u.reject.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.reject.index);
    msgpack_pack_uint64(pk, m->u.reject.reason);
    break;
  case WIRE_MSG_MANIFEST_GET:
    pack_bin(pk, m->u.manifest_get.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.manifest_get.part);
    break;
  case WIRE_MSG_MANIFEST_PART:
    pack_bin(pk, m->u.manifest_part.manifest_id, WIRE_ID_BYTES);
    msgpack_pack_uint64(pk, m->u.manifest_part.part);
    msgpack_pack_uint64(pk, m->u.manifest_part.nparts);
    pack_bin(pk, m->u.manifest_part.data, m->u.manifest_part.data_len);
    break;
  case WIRE_MSG_PING:
  case WIRE_MSG_PONG:
    msgpack_pack_uint64(pk, m->u.ping.token);
    break;
  case WIRE_MSG_GOODBYE:
    msgpack_pack_uint64(pk, m->u.goodbye.reason);
    msgpack_pack_str(pk, m->u.goodbye.text_len);
    if (m->u.goodbye.text_len > 0) {
      msgpack_pack_str_body(pk, m->u.goodbye.text, m->u.goodbye.text_len);
    }
    break;
  case WIRE_MSG_GOSSIP:
    pack_bin(pk, m->u.gossip.data, m->u.gossip.data_len);
    break;
  }
}

/* Packs an already validated m into out (NULL: only measures). */
static int msg_pack_into(const struct wire_msg *m, int head_only, uint8_t *out,
                         size_t out_cap, size_t *out_len) {
  struct msg_sink sink = {out, out_cap, 0, 0};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sink, msg_sink_write);
  msg_pack(&pk, m, head_only);
  if (sink.overflow) {
    return SM_ETOOBIG;
  }
  *out_len = sink.len;
  return 0;
}

int wire_msg_encode(const struct wire_msg *msg, uint8_t *out, size_t out_cap,
                    size_t *out_len) {
  if (out == NULL || msg_validate(msg) < 0) {
    return SM_EINVAL;
  }
  return msg_pack_into(msg, 0, out, out_cap, out_len);
}

size_t wire_msg_encoded_size(const struct wire_msg *msg) {
  size_t len = 0;
  if (msg_validate(msg) < 0 || msg_pack_into(msg, 0, NULL, 0, &len) < 0) {
    return 0;
  }
  return len;
}

int wire_msg_chunk_head_encode(const struct wire_msg_chunk *chunk, size_t data_len,
                               uint8_t *out, size_t out_cap, size_t *out_len) {
  struct wire_msg m;
  if (out == NULL || chunk_validate(chunk, data_len) < 0) {
    return SM_EINVAL;
  }
  memset(&m, 0, sizeof(m));
  m.type = WIRE_MSG_CHUNK;
  m.u.chunk = *chunk;
  m.u.chunk.data = NULL;
  m.u.chunk.data_len = data_len;
  return msg_pack_into(&m, 1, out, out_cap, out_len);
}

/* ----------------------------------------------------------------- decode
 * sm_mp_unpack checks the bytes before msgpack-c builds the object tree, so
 * the zone grows with len at most (a valid message needs one small chunk).
 * Bins and strs in the tree point into buf, never into the zone: the output
 * keeps those pointers and the zone is destroyed before returning. */

/* Enough for the root array of any valid message. */
#define MSG_ZONE_CHUNK 512

/* A non-negative integer of any width (else SM_EMALFORMED); SM_EPROTO above
 * max. */
static int field_uint(const msgpack_object *o, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  int rc = sm_mp_u64(o, UINT64_MAX, &v);
  if (rc < 0) {
    return rc;
  }
  if (v > max) {
    return SM_EPROTO;
  }
  *out = v;
  return 0;
}

static int field_u32(const msgpack_object *o, uint32_t *out) {
  uint64_t v = 0;
  int rc = field_uint(o, UINT32_MAX, &v);
  if (rc == 0) {
    *out = (uint32_t)v;
  }
  return rc;
}

/* A bin (else SM_EMALFORMED); SM_ETOOBIG if longer than max. An empty one
 * reads as NULL. */
static int field_bin(const msgpack_object *o, size_t max, const uint8_t **out_ptr,
                     size_t *out_len) {
  const uint8_t *p = NULL;
  uint32_t n = 0;
  int rc = sm_mp_bin(o, UINT32_MAX, &p, &n);
  if (rc < 0) {
    return rc;
  }
  if (n > max) {
    return SM_ETOOBIG;
  }
  *out_ptr = n > 0 ? p : NULL;
  *out_len = n;
  return 0;
}

/* A manifest id: a bin of exactly WIRE_ID_BYTES, SM_EPROTO for another
 * length. */
static int field_id(const msgpack_object *o, uint8_t out[WIRE_ID_BYTES]) {
  const uint8_t *p = NULL;
  size_t n = 0;
  int rc = field_bin(o, WIRE_ID_BYTES, &p, &n);
  if (rc == SM_ETOOBIG || (rc == 0 && n != WIRE_ID_BYTES)) {
    return SM_EPROTO;
  }
  if (rc < 0) {
    return rc;
  }
  memcpy(out, p, WIRE_ID_BYTES);
  return 0;
}

/* A str (else SM_EMALFORMED); SM_ETOOBIG if longer than max. An empty one
 * reads as NULL. */
static int field_str(const msgpack_object *o, size_t max, const char **out_ptr,
                     size_t *out_len) {
  const char *p = NULL;
  uint32_t n = 0;
  int rc = sm_mp_str(o, UINT32_MAX, &p, &n);
  if (rc < 0) {
    return rc;
  }
  if (n > max) {
    return SM_ETOOBIG;
  }
  *out_ptr = n > 0 ? p : NULL;
  *out_len = n;
  return 0;
}

/* Reads the fields of m->type from f (the elements after the type word; the
 * arity is already checked). Each step runs only while the previous ones
 * succeeded, so the first bad field decides the error. */
static int msg_read_fields(const msgpack_object *f, struct wire_msg *m) {
  struct wire_msg_bitfield *b = &m->u.bitfield;
  struct wire_msg_request *q = &m->u.request;
  struct wire_msg_chunk *c = &m->u.chunk;
  struct wire_msg_reject *rj = &m->u.reject;
  struct wire_msg_manifest_part *mp = &m->u.manifest_part;
  const uint8_t *p = NULL;
  size_t n = 0;
  int rc = SM_EPROTO;
  switch (m->type) {
  case WIRE_MSG_BITFIELD:
    rc = field_id(&f[0], b->manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &b->nbits);
    rc = rc < 0 ? rc : field_bin(&f[2], WIRE_BITFIELD_MAX_BITS / 8, &b->bits, &b->bits_len);
    break;
  case WIRE_MSG_HAVE:
    rc = field_id(&f[0], m->u.have.manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &m->u.have.index);
    break;
  case WIRE_MSG_REQUEST:
    rc = field_id(&f[0], q->manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &q->index);
    rc = rc < 0 ? rc : field_u32(&f[2], &q->page_size);
    rc = rc < 0 ? rc
                : field_bin(&f[3], (size_t)WIRE_DELTA_MAX_PAGES * WIRE_PAGE_HASH_BYTES, &p,
                            &n);
    if (rc == 0 && n % WIRE_PAGE_HASH_BYTES != 0) {
      rc = SM_EPROTO;
    }
    q->npages = (uint32_t)(n / WIRE_PAGE_HASH_BYTES);
    q->page_hashes = p;
    break;
  case WIRE_MSG_CANCEL:
    rc = field_id(&f[0], m->u.cancel.manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &m->u.cancel.index);
    break;
  case WIRE_MSG_CHUNK:
    rc = field_id(&f[0], c->manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &c->index);
    rc = rc < 0 ? rc : field_u32(&f[2], &c->encoding);
    rc = rc < 0 ? rc : field_u32(&f[3], &c->raw_len);
    rc = rc < 0 ? rc : field_bin(&f[4], DATA_MAX, &c->data, &c->data_len);
    break;
  case WIRE_MSG_REJECT:
    rc = field_u32(&f[0], &rj->kind);
    rc = rc < 0 ? rc : field_id(&f[1], rj->manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[2], &rj->index);
    rc = rc < 0 ? rc : field_u32(&f[3], &rj->reason);
    break;
  case WIRE_MSG_MANIFEST_GET:
    rc = field_id(&f[0], m->u.manifest_get.manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &m->u.manifest_get.part);
    break;
  case WIRE_MSG_MANIFEST_PART:
    rc = field_id(&f[0], mp->manifest_id);
    rc = rc < 0 ? rc : field_u32(&f[1], &mp->part);
    rc = rc < 0 ? rc : field_u32(&f[2], &mp->nparts);
    rc = rc < 0 ? rc : field_bin(&f[3], WIRE_MANIFEST_PART_MAX, &mp->data, &mp->data_len);
    break;
  case WIRE_MSG_PING:
  case WIRE_MSG_PONG:
    rc = field_uint(&f[0], UINT64_MAX, &m->u.ping.token);
    break;
  case WIRE_MSG_GOODBYE:
    rc = field_u32(&f[0], &m->u.goodbye.reason);
    rc = rc < 0 ? rc
                : field_str(&f[1], WIRE_GOODBYE_TEXT_MAX, &m->u.goodbye.text,
                            &m->u.goodbye.text_len);
    break;
  case WIRE_MSG_GOSSIP:
    rc = field_bin(&f[0], WIRE_GOSSIP_MAX, &m->u.gossip.data, &m->u.gossip.data_len);
    break;
  }
  return rc;
}

/* Checks the envelope [type, ...] of root and reads the message. */
static int msg_read(const msgpack_object *root, struct wire_msg *out) {
  const msgpack_object *el = NULL;
  uint64_t type = 0;
  int rc = 0;
  if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0) {
    return SM_EMALFORMED;
  }
  el = root->via.array.ptr;
  rc = field_uint(&el[0], UINT64_MAX, &type);
  if (rc < 0) {
    return rc;
  }
  if (type < 1 || type > WIRE_MSG_TYPE_MAX) {
    return SM_EPROTO;
  }
  if (root->via.array.size != msg_arity[type]) {
    return SM_EMALFORMED;
  }
  out->type = (enum wire_msg_type)type;
  rc = msg_read_fields(el + 1, out);
  if (rc < 0) {
    return rc;
  }
  return msg_validate(out);
}

int wire_msg_decode(const uint8_t *buf, size_t len, struct wire_msg *out) {
  msgpack_zone zone;
  msgpack_object root;
  int rc = 0;
  memset(out, 0, sizeof(*out));
  if (!msgpack_zone_init(&zone, MSG_ZONE_CHUNK)) {
    return SM_ENOMEM;
  }
  rc = sm_mp_unpack_bounded(buf, len, WIRE__MSG_MAX_OBJECTS, &zone, &root);
  if (rc < 0) {
    /* Truncated, trailing bytes, nesting no message has (sm_mp_check's
     * SM_ETOOBIG), ext or 0xc1: all just not a message. */
    if (rc != SM_ENOMEM) {
      rc = SM_EMALFORMED;
    }
    goto out;
  }
  rc = msg_read(&root, out);
out:
  msgpack_zone_destroy(&zone);
  if (rc < 0) {
    memset(out, 0, sizeof(*out));
  }
  return rc;
}

/* test_wire_msg.c - unit tests for the peer message codec of node/wire:
 * round trips of every type, strict prefixes, field range checks, and one
 * CHUNK through a whole frame. Run from test_wire.c's main. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/wire/wire.h"

int wire_test_msg_run(void);

static const uint8_t MID[WIRE_ID_BYTES] = {0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t BITS[3] = {0xf0, 0x0f, 0xa0}; /* 19 bits, pad zero */
static const uint8_t HASHES[3 * WIRE_PAGE_HASH_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t DATA[300] = {42, 43, 44};
static const char TEXT[] = "shutting down for maintenance";

/* One valid sample of each type (index = type). */
static void sample(int type, struct wire_msg *m) {
  memset(m, 0, sizeof(*m));
  m->type = (enum wire_msg_type)type;
  switch (m->type) {
  case WIRE_MSG_BITFIELD:
    memcpy(m->u.bitfield.manifest_id, MID, WIRE_ID_BYTES);
    m->u.bitfield.nbits = 19;
    m->u.bitfield.bits = BITS;
    m->u.bitfield.bits_len = sizeof(BITS);
    break;
  case WIRE_MSG_HAVE:
    memcpy(m->u.have.manifest_id, MID, WIRE_ID_BYTES);
    m->u.have.index = 70000;
    break;
  case WIRE_MSG_REQUEST:
    memcpy(m->u.request.manifest_id, MID, WIRE_ID_BYTES);
    m->u.request.index = 5;
    m->u.request.page_size = 16384;
    m->u.request.npages = 3;
    m->u.request.page_hashes = HASHES;
    break;
  case WIRE_MSG_CANCEL:
    memcpy(m->u.cancel.manifest_id, MID, WIRE_ID_BYTES);
    m->u.cancel.index = 200;
    break;
  case WIRE_MSG_CHUNK:
    memcpy(m->u.chunk.manifest_id, MID, WIRE_ID_BYTES);
    m->u.chunk.index = 9;
    m->u.chunk.encoding = WIRE_ENC_ZSTD;
    m->u.chunk.raw_len = 4u << 20;
    m->u.chunk.data = DATA;
    m->u.chunk.data_len = sizeof(DATA);
    break;
  case WIRE_MSG_REJECT:
    m->u.reject.kind = WIRE_REJECT_KIND_CHUNK;
    memcpy(m->u.reject.manifest_id, MID, WIRE_ID_BYTES);
    m->u.reject.index = 9;
    m->u.reject.reason = WIRE_REJECT_ELSEWHERE;
    break;
  case WIRE_MSG_MANIFEST_GET:
    memcpy(m->u.manifest_get.manifest_id, MID, WIRE_ID_BYTES);
    m->u.manifest_get.part = 3;
    break;
  case WIRE_MSG_MANIFEST_PART:
    memcpy(m->u.manifest_part.manifest_id, MID, WIRE_ID_BYTES);
    m->u.manifest_part.part = 3;
    m->u.manifest_part.nparts = 4;
    m->u.manifest_part.data = DATA;
    m->u.manifest_part.data_len = 100;
    break;
  case WIRE_MSG_PING:
  case WIRE_MSG_PONG:
    m->u.ping.token = 0x0123456789abcdefull;
    break;
  case WIRE_MSG_GOODBYE:
    m->u.goodbye.reason = WIRE_BYE_SHUTDOWN;
    m->u.goodbye.text = TEXT;
    m->u.goodbye.text_len = strlen(TEXT);
    break;
  case WIRE_MSG_GOSSIP:
    m->u.gossip.data = DATA;
    m->u.gossip.data_len = sizeof(DATA);
    break;
  }
}

static void assert_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  assert_int_equal(alen, blen);
  if (alen > 0) {
    assert_memory_equal(a, b, alen);
  }
}

/* Field-wise comparison (byte fields by content). */
static void assert_msg_equal(const struct wire_msg *a, const struct wire_msg *b) {
  assert_int_equal(a->type, b->type);
  switch (a->type) {
  case WIRE_MSG_BITFIELD:
    assert_memory_equal(a->u.bitfield.manifest_id, b->u.bitfield.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.bitfield.nbits, b->u.bitfield.nbits);
    assert_bytes(a->u.bitfield.bits, a->u.bitfield.bits_len, b->u.bitfield.bits,
                 b->u.bitfield.bits_len);
    break;
  case WIRE_MSG_HAVE:
    assert_memory_equal(a->u.have.manifest_id, b->u.have.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.have.index, b->u.have.index);
    break;
  case WIRE_MSG_REQUEST:
    assert_memory_equal(a->u.request.manifest_id, b->u.request.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.request.index, b->u.request.index);
    assert_int_equal(a->u.request.page_size, b->u.request.page_size);
    assert_bytes(a->u.request.page_hashes, a->u.request.npages * WIRE_PAGE_HASH_BYTES,
                 b->u.request.page_hashes, b->u.request.npages * WIRE_PAGE_HASH_BYTES);
    break;
  case WIRE_MSG_CANCEL:
    assert_memory_equal(a->u.cancel.manifest_id, b->u.cancel.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.cancel.index, b->u.cancel.index);
    break;
  case WIRE_MSG_CHUNK:
    assert_memory_equal(a->u.chunk.manifest_id, b->u.chunk.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.chunk.index, b->u.chunk.index);
    assert_int_equal(a->u.chunk.encoding, b->u.chunk.encoding);
    assert_int_equal(a->u.chunk.raw_len, b->u.chunk.raw_len);
    assert_bytes(a->u.chunk.data, a->u.chunk.data_len, b->u.chunk.data, b->u.chunk.data_len);
    break;
  case WIRE_MSG_REJECT:
    assert_int_equal(a->u.reject.kind, b->u.reject.kind);
    assert_memory_equal(a->u.reject.manifest_id, b->u.reject.manifest_id, WIRE_ID_BYTES);
    assert_int_equal(a->u.reject.index, b->u.reject.index);
    assert_int_equal(a->u.reject.reason, b->u.reject.reason);
    break;
  case WIRE_MSG_MANIFEST_GET:
    assert_memory_equal(a->u.manifest_get.manifest_id, b->u.manifest_get.manifest_id,
                        WIRE_ID_BYTES);
    assert_int_equal(a->u.manifest_get.part, b->u.manifest_get.part);
    break;
  case WIRE_MSG_MANIFEST_PART:
    assert_memory_equal(a->u.manifest_part.manifest_id, b->u.manifest_part.manifest_id,
                        WIRE_ID_BYTES);
    assert_int_equal(a->u.manifest_part.part, b->u.manifest_part.part);
    assert_int_equal(a->u.manifest_part.nparts, b->u.manifest_part.nparts);
    assert_bytes(a->u.manifest_part.data, a->u.manifest_part.data_len,
                 b->u.manifest_part.data, b->u.manifest_part.data_len);
    break;
  case WIRE_MSG_PING:
  case WIRE_MSG_PONG:
    assert_true(a->u.ping.token == b->u.ping.token);
    break;
  case WIRE_MSG_GOODBYE:
    assert_int_equal(a->u.goodbye.reason, b->u.goodbye.reason);
    assert_bytes((const uint8_t *)a->u.goodbye.text, a->u.goodbye.text_len,
                 (const uint8_t *)b->u.goodbye.text, b->u.goodbye.text_len);
    break;
  case WIRE_MSG_GOSSIP:
    assert_bytes(a->u.gossip.data, a->u.gossip.data_len, b->u.gossip.data, b->u.gossip.data_len);
    break;
  }
}

static void test_msg_roundtrip_every_type(void **state) {
  (void)state;
  uint8_t buf[1024];
  for (int t = 1; t <= WIRE_MSG_TYPE_MAX; t++) {
    struct wire_msg m;
    struct wire_msg back;
    size_t len = 0;
    sample(t, &m);
    assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(wire_msg_encoded_size(&m), len);
    assert_int_equal(wire_msg_decode(buf, len, &back), 0);
    assert_msg_equal(&m, &back);
    assert_string_not_equal(wire_msg_type_name(t), "?");
    /* Too small a buffer is refused, not overrun. */
    assert_int_equal(wire_msg_encode(&m, buf, len - 1, &len), SM_ETOOBIG);
  }
  assert_string_equal(wire_msg_type_name(0), "?");
  /* Messages without optional parts. */
  struct wire_msg m;
  struct wire_msg back;
  size_t len = 0;
  sample(WIRE_MSG_REQUEST, &m);
  m.u.request.page_size = 0;
  m.u.request.npages = 0;
  m.u.request.page_hashes = NULL;
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
  assert_int_equal(wire_msg_decode(buf, len, &back), 0);
  assert_int_equal(back.u.request.npages, 0);
  assert_null(back.u.request.page_hashes);
  sample(WIRE_MSG_BITFIELD, &m);
  m.u.bitfield.nbits = 0;
  m.u.bitfield.bits = NULL;
  m.u.bitfield.bits_len = 0;
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
  assert_int_equal(wire_msg_decode(buf, len, &back), 0);
  sample(WIRE_MSG_GOODBYE, &m);
  m.u.goodbye.text = NULL;
  m.u.goodbye.text_len = 0;
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
  assert_int_equal(wire_msg_decode(buf, len, &back), 0);
  assert_int_equal(back.u.goodbye.text_len, 0);
}

static void test_msg_every_prefix_refused(void **state) {
  (void)state;
  uint8_t buf[1024];
  for (int t = 1; t <= WIRE_MSG_TYPE_MAX; t++) {
    struct wire_msg m;
    struct wire_msg back;
    size_t len = 0;
    sample(t, &m);
    assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
    for (size_t n = 0; n < len; n++) {
      /* Copy so a sanitizer sees any read past the prefix. */
      uint8_t *prefix = malloc(n > 0 ? n : 1);
      assert_non_null(prefix);
      memcpy(prefix, buf, n);
      int rc = wire_msg_decode(prefix, n, &back);
      assert_true(rc < 0);
      assert_int_equal(back.type, 0); /* output cleared on error */
      free(prefix);
    }
    /* And one trailing byte too many. */
    buf[len] = 0xc0;
    assert_int_equal(wire_msg_decode(buf, len + 1, &back), SM_EMALFORMED);
  }
}

static void test_msg_zero_copy(void **state) {
  (void)state;
  uint8_t buf[1024];
  struct wire_msg m;
  struct wire_msg back;
  size_t len = 0;
  sample(WIRE_MSG_CHUNK, &m);
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), 0);
  assert_int_equal(wire_msg_decode(buf, len, &back), 0);
  assert_ptr_equal(back.u.chunk.data, buf + len - sizeof(DATA));
}

/* Decodes a hand-written message and expects rc. */
static void expect_at(int line, const uint8_t *bytes, size_t len, int want) {
  struct wire_msg m;
  int rc = wire_msg_decode(bytes, len, &m);
  if (rc != want) {
    fail_msg("line %d: decode returned %d (%s), expected %d", line, rc, sm_strerror(rc), want);
  }
}
#define expect(buf, len, want) expect_at(__LINE__, buf, len, want)
/* Decodes the listed bytes and expects want. */
#define expect_bytes(want, ...)                                                \
  do {                                                                         \
    static const uint8_t bytes_[] = {__VA_ARGS__};                             \
    expect_at(__LINE__, bytes_, sizeof(bytes_), want);                         \
  } while (0)

#define MID_BIN 0xc4, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, \
                20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32

static void test_msg_strict_fields(void **state) {
  (void)state;
  /* Type and shape. */
  expect_bytes(SM_EPROTO, 0x92, 0x00, 0x01);          /* type 0 */
  expect_bytes(SM_EPROTO, 0x92, 0x0d, 0x01);          /* type 13 */
  expect_bytes(SM_EPROTO, 0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 2, 1);
  expect_bytes(SM_EMALFORMED, 0x92, 0x02, 0x01);       /* HAVE arity */
  expect_bytes(SM_EMALFORMED, 0x90);
  expect_bytes(SM_EMALFORMED, 0x81, 0x01, 0x02);       /* a map */
  expect_bytes(SM_EMALFORMED, 0x93, 0x02, MID_BIN, 0xff);       /* negative */
  expect_bytes(SM_EMALFORMED, 0x93, 0x02, MID_BIN, 0xd0, 0x80); /* int8 -128 */
  expect_bytes(SM_EMALFORMED, 0x93, 0x02, MID_BIN, 0xc0);       /* nil */
  expect_bytes(SM_EMALFORMED, 0x93, 0x02, MID_BIN, 0xa1, 0x31); /* str */
  expect_bytes(SM_EMALFORMED, 0x93, 0x02, 0x01, 0x02);          /* HAVE without an id */
  /* Any integer width is fine when the value fits. */
  expect_bytes(0, 0x93, 0x02, MID_BIN, 0xcf, 0, 0, 0, 0, 0, 0, 0, 7);
  expect_bytes(0, 0xdc, 0, 3, 0xd0, 0x02, MID_BIN, 0xd1, 0, 7);
  /* Index out of range. */
  expect_bytes(SM_EPROTO, 0x93, 0x02, MID_BIN, 0xce, 0x00, 0x80, 0x00, 0x00);
  expect_bytes(SM_EPROTO, 0x93, 0x02, MID_BIN, 0xcf, 1, 0, 0, 0, 0, 0, 0, 7);
  /* Manifest id of the wrong length. */
  expect_bytes(SM_EPROTO, 0x93, 0x04, 0xc4, 1, 0xaa, 0x01);
  /* BITFIELD: nbits 9 needs 2 bytes with 7 pad bits clear. */
  expect_bytes(0, 0x94, 0x01, MID_BIN, 0x09, 0xc4, 2, 0xff, 0x80);
  expect_bytes(SM_EPROTO, 0x94, 0x01, MID_BIN, 0x09, 0xc4, 1, 0xff);
  expect_bytes(SM_EPROTO, 0x94, 0x01, MID_BIN, 0x09, 0xc4, 3, 0xff, 0x80, 0);
  expect_bytes(SM_EPROTO, 0x94, 0x01, MID_BIN, 0x09, 0xc4, 2, 0xff, 0x81);
  /* BITFIELD nbits over the cap. */
  expect_bytes(SM_EPROTO, 0x94, 0x01, MID_BIN, 0xce, 0x01, 0, 0, 0, 0xc4, 0);
  /* REQUEST: hashes not a multiple of 8, page size not a power of two, hashes
   * without a page size. */
  expect_bytes(SM_EPROTO, 0x95, 0x03, MID_BIN, 1, 0xcd, 0x40, 0, 0xc4, 3, 1, 2, 3);
  expect_bytes(SM_EPROTO, 0x95, 0x03, MID_BIN, 1, 0xcd, 0x30, 0, 0xc4, 8, 1, 2, 3, 4, 5, 6,
                           7, 8);
  expect_bytes(SM_EPROTO, 0x95, 0x03, MID_BIN, 1, 0, 0xc4, 8, 1, 2, 3, 4, 5, 6, 7, 8);
  expect_bytes(SM_EPROTO, 0x95, 0x03, MID_BIN, 1, 0xcd, 0x40, 0, 0xc4, 0);
  /* CHUNK: raw must match; zstd not larger than raw; raw_len in range;
   * unknown encoding. */
  expect_bytes(0, 0x96, 0x05, MID_BIN, 1, 0, 3, 0xc4, 3, 1, 2, 3);
  expect_bytes(SM_EPROTO, 0x96, 0x05, MID_BIN, 1, 0, 4, 0xc4, 3, 1, 2, 3);
  expect_bytes(SM_EPROTO, 0x96, 0x05, MID_BIN, 1, 1, 2, 0xc4, 3, 1, 2, 3);
  expect_bytes(0, 0x96, 0x05, MID_BIN, 1, 2, 2, 0xc4, 3, 1, 2, 3);
  expect_bytes(SM_EPROTO, 0x96, 0x05, MID_BIN, 1, 3, 3, 0xc4, 3, 1, 2, 3);
  expect_bytes(SM_EPROTO, 0x96, 0x05, MID_BIN, 1, 0, 0, 0xc4, 0);
  expect_bytes(SM_EPROTO, 0x96, 0x05, MID_BIN, 1, 1, 0xce, 0, 0x40, 0, 1, 0xc4, 1, 1);
  /* REJECT: reason 0 and 7 are unknown, kind 2 too. */
  expect_bytes(0, 0x95, 0x06, 0, MID_BIN, 1, 2);
  expect_bytes(SM_EPROTO, 0x95, 0x06, 0, MID_BIN, 1, 0);
  expect_bytes(SM_EPROTO, 0x95, 0x06, 0, MID_BIN, 1, 7);
  expect_bytes(SM_EPROTO, 0x95, 0x06, 2, MID_BIN, 1, 2);
  /* MANIFEST_PART: part must be below nparts. */
  expect_bytes(0, 0x95, 0x08, MID_BIN, 0, 1, 0xc4, 1, 9);
  expect_bytes(SM_EPROTO, 0x95, 0x08, MID_BIN, 1, 1, 0xc4, 1, 9);
  expect_bytes(SM_EPROTO, 0x95, 0x08, MID_BIN, 0, 1, 0xc4, 0);
  /* GOODBYE: control characters and unknown reasons refused; long text. */
  expect_bytes(0, 0x93, 0x0b, 1, 0xa2, 'o', 'k');
  expect_bytes(SM_EPROTO, 0x93, 0x0b, 1, 0xa2, 'o', '\n');
  expect_bytes(SM_EPROTO, 0x93, 0x0b, 7, 0xa2, 'o', 'k');
  uint8_t longtext[4 + 256] = {0x93, 0x0b, 1, 0xd9, 255};
  memset(longtext + 5, 'x', 255);
  expect(longtext, 260, SM_ETOOBIG);
  /* A bin32 length far beyond the input. */
  expect_bytes(SM_EMALFORMED, 0x96, 0x05, MID_BIN, 1, 0, 3, 0xc6, 0xff, 0xff, 0xff, 0xff);
}

static void test_msg_encoder_refuses_invalid(void **state) {
  (void)state;
  uint8_t buf[1024];
  size_t len = 0;
  struct wire_msg m;
  sample(WIRE_MSG_BITFIELD, &m);
  m.u.bitfield.nbits = 30; /* needs 4 bytes, has 3 */
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), SM_EINVAL);
  assert_int_equal(wire_msg_encoded_size(&m), 0);
  sample(WIRE_MSG_CHUNK, &m);
  m.u.chunk.encoding = WIRE_ENC_RAW; /* raw_len 4 MiB, data 300 bytes */
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), SM_EINVAL);
  sample(WIRE_MSG_GOODBYE, &m);
  m.u.goodbye.text = "bad\x1b[2J";
  m.u.goodbye.text_len = 7;
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), SM_EINVAL);
  m.type = (enum wire_msg_type)99;
  assert_int_equal(wire_msg_encode(&m, buf, sizeof(buf), &len), SM_EINVAL);
}

/* A full 4 MiB raw CHUNK: header encoded alone, data placed after it,
 * sealed in place, decoded through a frame decoder fed in 64 KiB reads. */
static void test_msg_chunk_through_frame(void **state) {
  (void)state;
  static const uint8_t key[WIRE_KEY_BYTES] = {9, 9, 9};
  struct wire_frame_encoder enc;
  struct wire_frame_decoder dec;
  struct wire_msg_chunk c;
  struct wire_msg m;
  size_t cap = WIRE_FRAME_PAYLOAD_DEFAULT + WIRE_FRAME_OVERHEAD;
  uint8_t *frame = malloc(cap);
  size_t head = 0;
  size_t flen = 0;
  assert_non_null(frame);
  memset(&c, 0, sizeof(c));
  memcpy(c.manifest_id, MID, WIRE_ID_BYTES);
  c.index = 77;
  c.encoding = WIRE_ENC_RAW;
  c.raw_len = WIRE_CHUNK_MAX;
  uint8_t *payload = frame + WIRE_FRAME_HEADER_BYTES;
  assert_int_equal(wire_msg_chunk_head_encode(&c, WIRE_CHUNK_MAX, payload,
                                              cap - WIRE_FRAME_OVERHEAD, &head), 0);
  for (size_t i = 0; i < WIRE_CHUNK_MAX; i++) {
    payload[head + i] = (uint8_t)(i * 7 + (i >> 13));
  }
  /* Same bytes as the one-shot encoder would produce. */
  struct wire_msg full;
  memset(&full, 0, sizeof(full));
  full.type = WIRE_MSG_CHUNK;
  full.u.chunk = c;
  full.u.chunk.data = payload + head;
  full.u.chunk.data_len = WIRE_CHUNK_MAX;
  assert_int_equal(wire_msg_encoded_size(&full), head + WIRE_CHUNK_MAX);
  assert_int_equal(wire_frame_encoder_init(&enc, key, WIRE_FRAME_PAYLOAD_DEFAULT), 0);
  assert_int_equal(wire_frame_decoder_init(&dec, key, WIRE_FRAME_PAYLOAD_DEFAULT), 0);
  assert_int_equal(wire_frame_encode(&enc, payload, head + WIRE_CHUNK_MAX, frame, cap, &flen),
                   0);
  size_t pos = 0;
  int rc = SM_EMORE;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  while (rc == SM_EMORE) {
    size_t used = 0;
    size_t n = SM_MIN((size_t)65536, flen - pos);
    rc = wire_frame_decode(&dec, frame + pos, n, &used, &pl, &plen);
    pos += used;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(pos, flen);
  assert_int_equal(wire_msg_decode(pl, plen, &m), 0);
  assert_int_equal(m.type, WIRE_MSG_CHUNK);
  assert_int_equal(m.u.chunk.index, 77);
  assert_int_equal(m.u.chunk.data_len, WIRE_CHUNK_MAX);
  assert_int_equal(m.u.chunk.data[12345], (uint8_t)(12345 * 7 + (12345 >> 13)));
  /* Head encoding refuses what the decoder would. */
  c.encoding = WIRE_ENC_ZSTD;
  assert_int_equal(wire_msg_chunk_head_encode(&c, WIRE_CHUNK_MAX + 1, payload, 100, &head),
                   SM_EINVAL);
  wire_frame_encoder_cleanup(&enc);
  wire_frame_decoder_cleanup(&dec);
  free(frame);
}

int wire_test_msg_run(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_msg_roundtrip_every_type),
      cmocka_unit_test(test_msg_every_prefix_refused),
      cmocka_unit_test(test_msg_zero_copy),
      cmocka_unit_test(test_msg_strict_fields),
      cmocka_unit_test(test_msg_encoder_refuses_invalid),
      cmocka_unit_test(test_msg_chunk_through_frame),
  };
  return cmocka_run_group_tests_name("wire_msg", tests, NULL, NULL);
}

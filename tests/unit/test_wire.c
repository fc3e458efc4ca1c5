/* test_wire.c - unit tests for node/wire: the handshake and the encrypted
 * frame codec (messages are in test_wire_msg.c, run from here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/wire/wire.h"

int wire_test_msg_run(void); /* test_wire_msg.c */

/* ------------------------------------------------------------- fixtures */

struct node {
  struct sm_identity id;
};

static void node_make(struct node *n) {
  crypto_sign_keypair(n->id.public_key, n->id.secret_key);
}

/* A trust set of the given nodes' keys. */
static void trust_make(struct sm_trust *t, const struct node *const *nodes, size_t n) {
  uint8_t keys[8][SM_PUBKEY_BYTES];
  assert_true(n <= 8);
  for (size_t i = 0; i < n; i++) {
    memcpy(keys[i], nodes[i]->id.public_key, SM_PUBKEY_BYTES);
  }
  assert_int_equal(sm_trust_init_keys(t, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, n), 0);
}

/* Bytes in flight in one direction. */
struct pipe {
  uint8_t buf[4096];
  size_t len;
  size_t total; /* bytes ever written, for tamper offsets */
};

static void pipe_take(struct pipe *p, struct wire_handshake *from, long tamper_at) {
  const uint8_t *out = NULL;
  size_t n = 0;
  wire_handshake_output(from, &out, &n);
  assert_true(p->len + n <= sizeof(p->buf));
  memcpy(p->buf + p->len, out, n);
  if (tamper_at >= 0 && (size_t)tamper_at >= p->total && (size_t)tamper_at < p->total + n) {
    p->buf[p->len + ((size_t)tamper_at - p->total)] ^= 0x01;
  }
  p->len += n;
  p->total += n;
}

/* Feeds what is in the pipe to hs (step bytes at a time, 0 = all). Bytes the
 * handshake does not consume once done stay in the pipe. */
static int pipe_feed(struct pipe *p, struct wire_handshake *to, size_t step, int rc) {
  while (rc == SM_EMORE && p->len > 0) {
    size_t n = step == 0 ? p->len : SM_MIN(step, p->len);
    size_t used = 0;
    rc = wire_handshake_read(to, p->buf, n, &used);
    assert_true(used <= n);
    memmove(p->buf, p->buf + used, p->len - used);
    p->len -= used;
    if (rc == SM_EMORE) {
      assert_int_equal(used, n);
    }
  }
  return rc;
}

/* Runs a handshake between a (initiator) and b (responder) until both finish
 * or one fails. tamper_ab flips a bit at that offset of the a->b stream. */
static void run_handshake(struct wire_handshake *a, struct wire_handshake *b, size_t step,
                          long tamper_ab, int *out_rc_a, int *out_rc_b) {
  struct pipe ab;
  struct pipe ba;
  int rc_a = SM_EMORE;
  int rc_b = SM_EMORE;
  memset(&ab, 0, sizeof(ab));
  memset(&ba, 0, sizeof(ba));
  for (int round = 0; round < 10000; round++) {
    pipe_take(&ab, a, tamper_ab);
    pipe_take(&ba, b, -1);
    if ((rc_a != SM_EMORE || ba.len == 0) && (rc_b != SM_EMORE || ab.len == 0)) {
      break;
    }
    rc_b = pipe_feed(&ab, b, step, rc_b);
    rc_a = pipe_feed(&ba, a, step, rc_a);
  }
  *out_rc_a = rc_a;
  *out_rc_b = rc_b;
}

struct pair {
  struct node na, nb, nc;
  struct sm_trust trust_all;
  struct wire_handshake a, b;
};

static int pair_setup(void **state) {
  struct pair *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    return -1;
  }
  node_make(&p->na);
  node_make(&p->nb);
  node_make(&p->nc);
  const struct node *const all[] = {&p->na, &p->nb, &p->nc};
  trust_make(&p->trust_all, all, 3);
  *state = p;
  return 0;
}

static int pair_teardown(void **state) {
  struct pair *p = *state;
  wire_handshake_cleanup(&p->a);
  wire_handshake_cleanup(&p->b);
  sm_trust_cleanup(&p->trust_all);
  free(p);
  return 0;
}

static void pair_start(struct pair *p, const struct sm_trust *ta, const struct sm_trust *tb,
                       const uint8_t *pin_a) {
  struct wire_handshake_config ca = {.role = WIRE_ROLE_INITIATOR,
                                     .identity = &p->na.id,
                                     .trust = ta,
                                     .pinned_peer_key = pin_a};
  struct wire_handshake_config cb = {
      .role = WIRE_ROLE_RESPONDER, .identity = &p->nb.id, .trust = tb};
  assert_int_equal(wire_handshake_init(&p->a, &ca), 0);
  assert_int_equal(wire_handshake_init(&p->b, &cb), 0);
}

/* Sends payload over s_from and checks s_to decodes it. */
static void session_roundtrip(struct wire_session *s_from, struct wire_session *s_to,
                              const char *text) {
  uint8_t frame[256];
  size_t flen = 0;
  size_t used = 0;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  size_t n = strlen(text);
  assert_int_equal(wire_frame_encode(&s_from->tx, (const uint8_t *)text, n, frame,
                                     sizeof(frame), &flen), 0);
  assert_int_equal(wire_frame_decode(&s_to->rx, frame, flen, &used, &pl, &plen), 0);
  assert_int_equal(used, flen);
  assert_int_equal(plen, n);
  assert_memory_equal(pl, text, n);
}

/* ------------------------------------------------------------ handshake */

static void check_success(struct pair *p, size_t step) {
  int rc_a = 0;
  int rc_b = 0;
  struct wire_session sa;
  struct wire_session sb;
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  run_handshake(&p->a, &p->b, step, -1, &rc_a, &rc_b);
  assert_int_equal(rc_a, 0);
  assert_int_equal(rc_b, 0);
  assert_true(wire_handshake_done(&p->a));
  assert_true(wire_handshake_done(&p->b));
  assert_int_equal(wire_handshake_session(&p->a, WIRE_FRAME_PAYLOAD_DEFAULT, &sa), 0);
  assert_int_equal(wire_handshake_session(&p->b, WIRE_FRAME_PAYLOAD_DEFAULT, &sb), 0);
  assert_memory_equal(sa.peer_key, p->nb.id.public_key, SM_PUBKEY_BYTES);
  assert_memory_equal(sb.peer_key, p->na.id.public_key, SM_PUBKEY_BYTES);
  /* Keys were handed over exactly once. */
  struct wire_session again;
  assert_int_equal(wire_handshake_session(&p->a, WIRE_FRAME_PAYLOAD_DEFAULT, &again),
                   SM_ESTATE);
  session_roundtrip(&sa, &sb, "hello from the initiator");
  session_roundtrip(&sb, &sa, "hello from the responder");
  session_roundtrip(&sa, &sb, "second frame");
  wire_session_cleanup(&sa);
  wire_session_cleanup(&sb);
}

static void test_handshake_success(void **state) {
  check_success(*state, 0);
}

static void test_handshake_success_bytewise(void **state) {
  check_success(*state, 1);
}

static void test_handshake_untrusted(void **state) {
  struct pair *p = *state;
  struct sm_trust only_c;
  const struct node *const c[] = {&p->nc};
  int rc_a = 0;
  int rc_b = 0;
  trust_make(&only_c, c, 1);
  /* b does not trust a: b refuses. */
  pair_start(p, &p->trust_all, &only_c, NULL);
  run_handshake(&p->a, &p->b, 0, -1, &rc_a, &rc_b);
  assert_int_equal(rc_b, SM_EUNTRUSTED);
  assert_false(wire_handshake_done(&p->b));
  assert_non_null(strstr(wire_handshake_reason(&p->b), "not in the trust file"));
  wire_handshake_cleanup(&p->a);
  wire_handshake_cleanup(&p->b);
  /* a does not trust b: a refuses. */
  pair_start(p, &only_c, &p->trust_all, NULL);
  run_handshake(&p->a, &p->b, 0, -1, &rc_a, &rc_b);
  assert_int_equal(rc_a, SM_EUNTRUSTED);
  sm_trust_cleanup(&only_c);
}

static void test_handshake_pin(void **state) {
  struct pair *p = *state;
  int rc_a = 0;
  int rc_b = 0;
  /* a expects c but reaches b (trusted, yet not the one it dialed). */
  pair_start(p, &p->trust_all, &p->trust_all, p->nc.id.public_key);
  run_handshake(&p->a, &p->b, 0, -1, &rc_a, &rc_b);
  assert_int_equal(rc_a, SM_EUNTRUSTED);
  assert_non_null(strstr(wire_handshake_reason(&p->a), "pinned"));
  wire_handshake_cleanup(&p->a);
  wire_handshake_cleanup(&p->b);
  /* The right pin succeeds. */
  pair_start(p, &p->trust_all, &p->trust_all, p->nb.id.public_key);
  run_handshake(&p->a, &p->b, 0, -1, &rc_a, &rc_b);
  assert_int_equal(rc_a, 0);
  assert_int_equal(rc_b, 0);
}

static void test_handshake_tamper_every_byte(void **state) {
  struct pair *p = *state;
  long total = WIRE_HELLO_BYTES + WIRE_AUTH_BYTES + WIRE_FRAME_OVERHEAD;
  for (long at = 0; at < total; at++) {
    int rc_a = 0;
    int rc_b = 0;
    pair_start(p, &p->trust_all, &p->trust_all, NULL);
    run_handshake(&p->a, &p->b, 0, at, &rc_a, &rc_b);
    /* The receiver of the altered stream must refuse. */
    assert_true(rc_b < 0 && rc_b != SM_EMORE);
    assert_false(wire_handshake_done(&p->b));
    if (at >= WIRE_MAGIC_BYTES + 4 && at < WIRE_HELLO_BYTES) {
      /* An altered ephemeral key splits the keys: both sides refuse. */
      assert_int_equal(rc_b, SM_ECRYPTO);
      assert_int_equal(rc_a, SM_ECRYPTO);
    }
    wire_handshake_cleanup(&p->a);
    wire_handshake_cleanup(&p->b);
  }
}

static void test_handshake_version_mismatch(void **state) {
  struct pair *p = *state;
  uint8_t hello[WIRE_HELLO_BYTES];
  const uint8_t *out = NULL;
  size_t n = 0;
  size_t used = 0;
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  wire_handshake_output(&p->a, &out, &n);
  assert_int_equal(n, WIRE_HELLO_BYTES);
  memcpy(hello, out, n);
  hello[WIRE_MAGIC_BYTES + 1] = WIRE_PROTOCOL_VERSION + 1; /* the next version */
  /* Refused as soon as the version bytes arrive. */
  assert_int_equal(wire_handshake_read(&p->b, hello, WIRE_MAGIC_BYTES + 2, &used), SM_EVERSION);
  char want[64];
  snprintf(want, sizeof(want), "version %d, this node speaks %d", WIRE_PROTOCOL_VERSION + 1,
           WIRE_PROTOCOL_VERSION);
  assert_non_null(strstr(wire_handshake_reason(&p->b), want));
  /* The decision sticks. */
  assert_int_equal(wire_handshake_read(&p->b, hello, 1, &used), SM_EVERSION);
}

static void test_handshake_not_seedmesh(void **state) {
  struct pair *p = *state;
  const char *http = "GET / HTTP/1.1\r\n\r\n";
  size_t used = 0;
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  assert_int_equal(wire_handshake_read(&p->b, NULL, 0, &used), SM_EMORE);
  assert_int_equal(wire_handshake_read(&p->b, (const uint8_t *)http, 1, &used), SM_EPROTO);
  assert_non_null(strstr(wire_handshake_reason(&p->b), "magic"));
}

static void test_handshake_reflection_and_self(void **state) {
  struct pair *p = *state;
  const uint8_t *out = NULL;
  uint8_t copy[WIRE_HELLO_BYTES];
  size_t n = 0;
  size_t used = 0;
  int rc_a = 0;
  int rc_b = 0;
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  wire_handshake_output(&p->a, &out, &n);
  memcpy(copy, out, n);
  assert_int_equal(wire_handshake_read(&p->a, copy, n, &used), SM_EPROTO);
  wire_handshake_cleanup(&p->a);
  wire_handshake_cleanup(&p->b);
  /* A node that dials itself finds out. */
  struct wire_handshake_config ca = {
      .role = WIRE_ROLE_INITIATOR, .identity = &p->na.id, .trust = &p->trust_all};
  struct wire_handshake_config cb = {
      .role = WIRE_ROLE_RESPONDER, .identity = &p->na.id, .trust = &p->trust_all};
  assert_int_equal(wire_handshake_init(&p->a, &ca), 0);
  assert_int_equal(wire_handshake_init(&p->b, &cb), 0);
  run_handshake(&p->a, &p->b, 0, -1, &rc_a, &rc_b);
  assert_int_equal(rc_a, SM_EPROTO);
  assert_non_null(strstr(wire_handshake_reason(&p->a), "self"));
}

/* Application frames sent right behind AUTH are left for the session. */
static void test_handshake_pipelined_frame(void **state) {
  struct pair *p = *state;
  const uint8_t *out = NULL;
  uint8_t stream[512];
  size_t slen = 0;
  size_t n = 0;
  size_t used = 0;
  size_t flen = 0;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  struct wire_session sa;
  struct wire_session sb;
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  /* Exchange HELLOs. */
  wire_handshake_output(&p->a, &out, &n);
  assert_int_equal(wire_handshake_read(&p->b, out, n, &used), SM_EMORE);
  wire_handshake_output(&p->b, &out, &n); /* HELLO_R + AUTH_R */
  assert_int_equal(wire_handshake_read(&p->a, out, n, &used), 0);
  assert_int_equal(used, n);
  /* a sends its AUTH and, at once, a first frame, in one write. */
  wire_handshake_output(&p->a, &out, &n);
  memcpy(stream, out, n);
  slen = n;
  assert_int_equal(wire_handshake_session(&p->a, 1024, &sa), 0);
  assert_int_equal(wire_frame_encode(&sa.tx, (const uint8_t *)"early", 5, stream + slen,
                                     sizeof(stream) - slen, &flen), 0);
  slen += flen;
  assert_int_equal(wire_handshake_read(&p->b, stream, slen, &used), 0);
  assert_int_equal(used, slen - flen);
  assert_int_equal(wire_handshake_session(&p->b, 1024, &sb), 0);
  assert_int_equal(wire_frame_decode(&sb.rx, stream + used, slen - used, &n, &pl, &plen), 0);
  assert_int_equal(plen, 5);
  assert_memory_equal(pl, "early", 5);
  wire_session_cleanup(&sa);
  wire_session_cleanup(&sb);
}

static void test_handshake_misuse(void **state) {
  struct pair *p = *state;
  struct wire_session s;
  struct wire_handshake_config bad = {.role = WIRE_ROLE_INITIATOR, .identity = NULL};
  assert_int_equal(wire_handshake_init(&p->a, &bad), SM_EINVAL);
  wire_handshake_cleanup(&p->a);
  pair_start(p, &p->trust_all, &p->trust_all, NULL);
  assert_int_equal(wire_handshake_session(&p->a, 1024, &s), SM_ESTATE);
}

/* --------------------------------------------------------------- frames */

static const uint8_t KEY[WIRE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};

static void codec_make(struct wire_frame_encoder *enc, struct wire_frame_decoder *dec,
                       size_t cap) {
  assert_int_equal(wire_frame_encoder_init(enc, KEY, cap), 0);
  assert_int_equal(wire_frame_decoder_init(dec, KEY, cap), 0);
}

static void fill(uint8_t *p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++) {
    p[i] = (uint8_t)(seed + i * 31);
  }
}

static void test_frame_roundtrip_sizes(void **state) {
  (void)state;
  struct wire_frame_encoder enc;
  struct wire_frame_decoder dec;
  size_t cap = WIRE_FRAME_PAYLOAD_DEFAULT;
  size_t sizes[] = {0, 1, 17, 4095, 4096, 70000, WIRE_FRAME_PAYLOAD_DEFAULT};
  uint8_t *frame = malloc(cap + WIRE_FRAME_OVERHEAD);
  uint8_t *ref = malloc(cap);
  assert_non_null(frame);
  assert_non_null(ref);
  codec_make(&enc, &dec, cap);
  for (size_t i = 0; i < SM_ARRAY_LEN(sizes); i++) {
    size_t n = sizes[i];
    size_t flen = 0;
    size_t used = 0;
    const uint8_t *pl = NULL;
    size_t plen = 0;
    fill(ref, n, (uint8_t)i);
    /* Odd sizes are built in place, the rest copied. */
    if (i % 2 == 1) {
      memcpy(frame + WIRE_FRAME_HEADER_BYTES, ref, n);
      assert_int_equal(wire_frame_encode(&enc, frame + WIRE_FRAME_HEADER_BYTES, n, frame,
                                         cap + WIRE_FRAME_OVERHEAD, &flen), 0);
    } else {
      assert_int_equal(wire_frame_encode(&enc, ref, n, frame, cap + WIRE_FRAME_OVERHEAD,
                                         &flen), 0);
    }
    assert_int_equal(flen, n + WIRE_FRAME_OVERHEAD);
    assert_int_equal(sm_load_be32(frame), n + WIRE_FRAME_MAC_BYTES);
    assert_int_equal(wire_frame_decode(&dec, frame, flen, &used, &pl, &plen), 0);
    assert_int_equal(used, flen);
    assert_int_equal(plen, n);
    if (n > 0) {
      assert_memory_equal(pl, ref, n);
    }
  }
  /* Too big for the cap, too big for the buffer. */
  size_t flen = 0;
  assert_int_equal(wire_frame_encode(&enc, ref, cap + 1, frame, cap + 100, &flen), SM_ETOOBIG);
  assert_int_equal(wire_frame_encode(&enc, ref, 10, frame, 29, &flen), SM_EINVAL);
  assert_int_equal(wire_frame_encoder_init(&enc, KEY, WIRE_FRAME_PAYLOAD_LIMIT + 1), SM_EINVAL);
  wire_frame_encoder_cleanup(&enc);
  wire_frame_decoder_cleanup(&dec);
  free(frame);
  free(ref);
}

/* Encodes count frames of distinct small payloads into one stream. */
static size_t make_stream(struct wire_frame_encoder *enc, uint8_t *out, size_t cap,
                          int count, size_t *offsets) {
  size_t len = 0;
  for (int i = 0; i < count; i++) {
    char text[32];
    size_t flen = 0;
    int n = snprintf(text, sizeof(text), "frame number %d", i);
    offsets[i] = len;
    assert_int_equal(wire_frame_encode(enc, (const uint8_t *)text, (size_t)n, out + len,
                                       cap - len, &flen), 0);
    len += flen;
  }
  offsets[count] = len;
  return len;
}

/* Decodes a stream fed step bytes at a time; returns frames decoded. */
static int feed_stream(struct wire_frame_decoder *dec, const uint8_t *s, size_t len,
                       size_t step, int *out_rc) {
  int frames = 0;
  int rc = SM_EMORE;
  size_t pos = 0;
  while (pos < len) {
    size_t n = SM_MIN(step, len - pos);
    while (n > 0) {
      size_t used = 0;
      const uint8_t *pl = NULL;
      size_t plen = 0;
      rc = wire_frame_decode(dec, s + pos, n, &used, &pl, &plen);
      if (rc < 0 && rc != SM_EMORE) {
        *out_rc = rc;
        return frames;
      }
      pos += used;
      n -= used;
      if (rc == 0) {
        char want[32];
        int wn = snprintf(want, sizeof(want), "frame number %d", frames);
        assert_int_equal(plen, (size_t)wn);
        assert_memory_equal(pl, want, plen);
        frames++;
      }
    }
  }
  *out_rc = rc;
  return frames;
}

static void test_frame_stream_any_split(void **state) {
  (void)state;
  uint8_t stream[2048];
  size_t off[11];
  size_t steps[] = {1, 2, 3, 7, 20, 64, 2048};
  for (size_t k = 0; k < SM_ARRAY_LEN(steps); k++) {
    struct wire_frame_encoder enc;
    struct wire_frame_decoder dec;
    int rc = 0;
    size_t used = 0;
    const uint8_t *pl = NULL;
    size_t plen = 0;
    codec_make(&enc, &dec, 1024);
    assert_int_equal(wire_frame_decode(&dec, NULL, 0, &used, &pl, &plen), SM_EMORE);
    size_t len = make_stream(&enc, stream, sizeof(stream), 10, off);
    assert_int_equal(feed_stream(&dec, stream, len, steps[k], &rc), 10);
    assert_int_equal(rc, 0);
    assert_int_equal(wire_frame_decoder_pending(&dec), 0);
    wire_frame_decoder_cleanup(&dec);
  }
}

static void test_frame_tamper_every_byte(void **state) {
  (void)state;
  uint8_t stream[2048];
  size_t off[4];
  struct wire_frame_encoder enc;
  struct wire_frame_decoder dec;
  codec_make(&enc, &dec, 1024);
  size_t len = make_stream(&enc, stream, sizeof(stream), 3, off);
  wire_frame_decoder_cleanup(&dec);
  /* Flip each bit-0 of the middle frame: frame 0 decodes, frame 1 never. */
  for (size_t at = off[1]; at < off[2]; at++) {
    uint8_t copy[2048];
    int rc = 0;
    memcpy(copy, stream, len);
    copy[at] ^= 0x01;
    assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
    int frames = feed_stream(&dec, copy, len, len, &rc);
    assert_int_equal(frames, 1);
    /* A longer length header just waits for bytes that never verify. */
    assert_true(rc == SM_ECRYPTO || rc == SM_EMORE || rc == SM_EMALFORMED || rc == SM_ETOOBIG);
    wire_frame_decoder_cleanup(&dec);
  }
}

static void test_frame_replay_reorder_truncate(void **state) {
  (void)state;
  uint8_t stream[2048];
  uint8_t bad[2048];
  size_t off[4];
  struct wire_frame_encoder enc;
  struct wire_frame_decoder dec;
  int rc = 0;
  codec_make(&enc, &dec, 1024);
  size_t len = make_stream(&enc, stream, sizeof(stream), 3, off);
  size_t f0 = off[1];
  size_t f1 = off[2] - off[1];
  /* Replay: frame 0 twice. */
  memcpy(bad, stream, f0);
  memcpy(bad + f0, stream, f0);
  assert_int_equal(feed_stream(&dec, bad, 2 * f0, 2 * f0, &rc), 1);
  assert_int_equal(rc, SM_ECRYPTO);
  /* Sticky: even the right next frame is refused now. */
  size_t used = 0;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  assert_int_equal(wire_frame_decode(&dec, stream + off[1], f1, &used, &pl, &plen),
                   SM_ECRYPTO);
  wire_frame_decoder_cleanup(&dec);
  /* Reorder: frame 1 first. */
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  assert_int_equal(feed_stream(&dec, stream + off[1], f1, 5, &rc), 0);
  assert_int_equal(rc, SM_ECRYPTO);
  wire_frame_decoder_cleanup(&dec);
  /* Truncation at end of stream: the decoder reports the pending bytes. */
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  assert_int_equal(feed_stream(&dec, stream, len - 3, 1, &rc), 2);
  assert_int_equal(rc, SM_EMORE);
  assert_int_equal(wire_frame_decoder_pending(&dec), off[3] - off[2] - 3);
  wire_frame_decoder_cleanup(&dec);
  /* Truncated frame 1 followed by frame 2: frame 2's bytes do not verify. */
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  memcpy(bad, stream, off[2] - 5);
  memcpy(bad + off[2] - 5, stream + off[2], len - off[2]);
  /* Lengths no longer line up: either the tag fails or bytes are missing. */
  assert_int_equal(feed_stream(&dec, bad, len - 5, 4, &rc), 1);
  assert_true(rc == SM_ECRYPTO || rc == SM_EMORE);
  wire_frame_decoder_cleanup(&dec);
  /* A frame dropped from the middle. */
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  memcpy(bad, stream, f0);
  memcpy(bad + f0, stream + off[2], len - off[2]);
  assert_int_equal(feed_stream(&dec, bad, f0 + len - off[2], 64, &rc), 1);
  assert_int_equal(rc, SM_ECRYPTO);
  wire_frame_decoder_cleanup(&dec);
}

static void test_frame_oversized_header(void **state) {
  (void)state;
  struct wire_frame_decoder dec;
  uint8_t hdr[4];
  size_t used = 0;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  uint32_t lens[] = {1024 + WIRE_FRAME_MAC_BYTES + 1, 0xffffffffu, 0x80000000u};
  for (size_t i = 0; i < SM_ARRAY_LEN(lens); i++) {
    assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
    sm_store_be32(hdr, lens[i]);
    unsigned long before = sm_alloc_count();
    assert_int_equal(wire_frame_decode(&dec, hdr, 3, &used, &pl, &plen), SM_EMORE);
    assert_int_equal(wire_frame_decode(&dec, hdr + 3, 1, &used, &pl, &plen), SM_ETOOBIG);
    assert_int_equal(sm_alloc_count(), before); /* refused before allocating */
    assert_null(dec.buf);
    wire_frame_decoder_cleanup(&dec);
  }
  /* Exactly at the cap is fine; below the tag size is malformed. */
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  sm_store_be32(hdr, 1024 + WIRE_FRAME_MAC_BYTES);
  assert_int_equal(wire_frame_decode(&dec, hdr, 4, &used, &pl, &plen), SM_EMORE);
  wire_frame_decoder_cleanup(&dec);
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  sm_store_be32(hdr, WIRE_FRAME_MAC_BYTES - 1);
  assert_int_equal(wire_frame_decode(&dec, hdr, 4, &used, &pl, &plen), SM_EMALFORMED);
  wire_frame_decoder_cleanup(&dec);
}

static void test_frame_nomem_and_trim(void **state) {
  (void)state;
  uint8_t stream[256];
  size_t off[3];
  struct wire_frame_encoder enc;
  struct wire_frame_decoder dec;
  size_t used = 0;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  codec_make(&enc, &dec, 1024);
  size_t len = make_stream(&enc, stream, sizeof(stream), 2, off);
  sm_alloc_fail_after(0);
  assert_int_equal(wire_frame_decode(&dec, stream, len, &used, &pl, &plen), SM_ENOMEM);
  sm_alloc_fail_reset();
  wire_frame_decoder_cleanup(&dec);
  assert_int_equal(wire_frame_decoder_init(&dec, KEY, 1024), 0);
  assert_int_equal(wire_frame_decode(&dec, stream, len, &used, &pl, &plen), 0);
  assert_non_null(dec.buf);
  wire_frame_decoder_trim(&dec);
  assert_null(dec.buf);
  assert_int_equal(wire_frame_decode(&dec, stream + used, len - used, &used, &pl, &plen), 0);
  assert_int_equal(plen, strlen("frame number 1"));
  wire_frame_decoder_cleanup(&dec);
}

int main(void) {
  const struct CMUnitTest handshake_tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_success, pair_setup, pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_success_bytewise, pair_setup,
                                      pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_untrusted, pair_setup, pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_pin, pair_setup, pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_tamper_every_byte, pair_setup,
                                      pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_version_mismatch, pair_setup,
                                      pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_not_seedmesh, pair_setup, pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_reflection_and_self, pair_setup,
                                      pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_pipelined_frame, pair_setup,
                                      pair_teardown),
      cmocka_unit_test_setup_teardown(test_handshake_misuse, pair_setup, pair_teardown),
  };
  const struct CMUnitTest frame_tests[] = {
      cmocka_unit_test(test_frame_roundtrip_sizes),
      cmocka_unit_test(test_frame_stream_any_split),
      cmocka_unit_test(test_frame_tamper_every_byte),
      cmocka_unit_test(test_frame_replay_reorder_truncate),
      cmocka_unit_test(test_frame_oversized_header),
      cmocka_unit_test(test_frame_nomem_and_trim),
  };
  if (sodium_init() < 0) {
    return 1;
  }
  int failed = cmocka_run_group_tests_name("wire_handshake", handshake_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("wire_frame", frame_tests, NULL, NULL);
  failed += wire_test_msg_run();
  return failed;
}

/* test_gossip.c - unit tests for gossip/: the message codec (every type,
 * every prefix, limits), the envelope (untrusted, tampered, replayed,
 * oversize), caps against floods, state API bounds, and allocation failure.
 * Cluster behaviour is in test_gossip_cluster.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gossip/gossip_internal.h"

#define NKEYS 40

struct capture {
  uint8_t buf[GOSSIP_STREAM_MAX + GOSSIP_ENVELOPE_OVERHEAD];
  size_t len;
  int count;
  int streams;
};

static struct sm_identity ids[NKEYS];

static void cap_udp(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  struct capture *c = ctx;
  (void)to;
  assert_true(len <= GOSSIP_PACKET_MAX);
  memcpy(c->buf, buf, len);
  c->len = len;
  c->count++;
}

static void cap_stream(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  struct capture *c = ctx;
  (void)to;
  assert_true(len <= sizeof(c->buf));
  memcpy(c->buf, buf, len);
  c->len = len;
  c->streams++;
}

static struct gossip_addr addr_of(size_t i) {
  struct gossip_addr a;
  memset(&a, 0, sizeof(a));
  a.family = GOSSIP_AF_INET4;
  a.ip[0] = 10;
  a.ip[3] = (uint8_t)i;
  a.port = 7946;
  return a;
}

/* Trust holds keys [0, n_trusted). */
static void trust_make(struct sm_trust *t, size_t n_trusted) {
  uint8_t keys[NKEYS][SM_PUBKEY_BYTES];
  for (size_t i = 0; i < n_trusted; i++) {
    memcpy(keys[i], ids[i].public_key, SM_PUBKEY_BYTES);
  }
  assert_int_equal(sm_trust_init_keys(t, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, n_trusted), 0);
}

static struct gossip *node_make(size_t i, const struct sm_trust *t, struct capture *cap,
                                uint32_t max_members) {
  struct gossip_config cfg;
  struct gossip_ops ops = {cap, cap_udp, cap_stream, NULL, NULL};
  struct gossip *g = NULL;
  gossip_config_init(&cfg);
  cfg.identity = &ids[i];
  cfg.trust = t;
  cfg.addr = addr_of(i);
  cfg.seed = 42 + i;
  if (max_members > 0) {
    cfg.max_members = max_members;
  }
  assert_int_equal(gossip_new(&cfg, &ops, 1000, &g), 0);
  return g;
}

static int setup_keys(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  for (size_t i = 0; i < NKEYS; i++) {
    uint8_t seed[crypto_sign_SEEDBYTES] = {0};
    seed[0] = (uint8_t)i;
    seed[1] = 0x5e;
    crypto_sign_seed_keypair(ids[i].public_key, ids[i].secret_key, seed);
  }
  return 0;
}

/* A message of the given type with some of everything. */
static void sample_msg(struct gossip__msg *m, uint8_t type, struct gossip__mrec *mr,
                       struct gossip__delta *d, struct gossip__digest *dg) {
  static const uint8_t val[] = {1, 2, 3, 0, 255};
  memset(m, 0, sizeof(*m));
  m->type = type;
  m->seq = 0x123456789ull * type;
  if (type == GOSSIP__PING || type == GOSSIP__PING_REQ) {
    m->has_target = 1;
    memcpy(m->target, ids[2].public_key, SM_PUBKEY_BYTES);
    m->target_addr = addr_of(2);
  }
  memset(mr, 0, 2 * sizeof(*mr));
  memcpy(mr[0].id, ids[1].public_key, SM_PUBKEY_BYTES);
  mr[0].status = GOSSIP_ALIVE;
  mr[0].incarnation = 7;
  mr[0].addr = addr_of(1);
  memcpy(mr[1].id, ids[3].public_key, SM_PUBKEY_BYTES);
  mr[1].status = GOSSIP_SUSPECT;
  mr[1].incarnation = UINT64_MAX;
  mr[1].addr = addr_of(3);
  mr[1].has_from = 1;
  memcpy(mr[1].from, ids[0].public_key, SM_PUBKEY_BYTES);
  m->members = mr;
  m->n_members = 2;
  memcpy(d[0].origin, ids[1].public_key, SM_PUBKEY_BYTES);
  d[0].key = "progress";
  d[0].klen = 8;
  d[0].val = val;
  d[0].vlen = sizeof(val);
  d[0].version = 99;
  m->deltas = d;
  m->n_deltas = 1;
  memcpy(dg[0].origin, ids[1].public_key, SM_PUBKEY_BYTES);
  dg[0].version = 1ull << 40;
  m->digest = dg;
  m->n_digest = type >= GOSSIP__PP_SYN ? 1 : 0;
}

static const struct gossip__limits big_lim = {64, 64, 64};

static void test_codec_every_type_round_trips(void **state) {
  (void)state;
  for (uint8_t type = GOSSIP__PING; type <= GOSSIP__PP_DELTA; type++) {
    struct gossip__msg m, back;
    struct gossip__mrec mr[2];
    struct gossip__delta d[1];
    struct gossip__digest dg[1];
    uint8_t buf[2048];
    struct gossip__wbuf w;
    sample_msg(&m, type, mr, d, dg);
    gossip__wbuf_init(&w, buf, sizeof(buf));
    assert_int_equal(gossip__msg_encode(&m, &w), 0);
    size_t estimate = gossip__msg_base_size(&m) + gossip__mrec_size(&mr[0]) +
                      gossip__mrec_size(&mr[1]) + gossip__delta_size(&d[0]) +
                      (m.n_digest ? gossip__digest_size(&dg[0]) : 0);
    assert_true(w.len <= estimate);
    assert_int_equal(gossip__msg_decode(buf, w.len, &big_lim, &back), 0);
    assert_int_equal(back.type, type);
    assert_true(back.seq == m.seq);
    assert_int_equal(back.has_target, m.has_target);
    if (m.has_target) {
      assert_memory_equal(back.target, m.target, SM_PUBKEY_BYTES);
      assert_true(gossip__addr_equal(&back.target_addr, &m.target_addr));
    }
    assert_int_equal(back.n_members, 2);
    assert_memory_equal(back.members[1].from, mr[1].from, SM_PUBKEY_BYTES);
    assert_true(back.members[1].incarnation == UINT64_MAX);
    assert_int_equal(back.members[1].status, GOSSIP_SUSPECT);
    assert_false(back.members[0].has_from);
    assert_int_equal(back.n_deltas, 1);
    assert_int_equal(back.deltas[0].vlen, d[0].vlen);
    assert_memory_equal(back.deltas[0].val, d[0].val, d[0].vlen);
    assert_memory_equal(back.deltas[0].key, "progress", 8);
    assert_int_equal(back.n_digest, m.n_digest);
    gossip__msg_cleanup(&back);

    /* Every strict prefix is rejected cleanly. */
    for (size_t n = 0; n < w.len; n++) {
      struct gossip__msg x;
      assert_true(gossip__msg_decode(buf, n, &big_lim, &x) < 0);
    }
    /* Limits are enforced. */
    struct gossip__limits tight = {1, 64, 64};
    assert_int_equal(gossip__msg_decode(buf, w.len, &tight, &back), SM_ETOOBIG);
  }
}

static void test_codec_rejects_bad_fields(void **state) {
  (void)state;
  struct gossip__msg m, back;
  struct gossip__mrec mr[2];
  struct gossip__delta d[1];
  struct gossip__digest dg[1];
  uint8_t buf[2048];
  struct gossip__wbuf w;
  /* A ping without a target. */
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  m.type = GOSSIP__PING;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_int_equal(gossip__msg_decode(buf, w.len, &big_lim, &back), SM_EMALFORMED);
  /* Unknown type, bad status, bad address family, empty key, NUL in key. */
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  m.type = 9;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  mr[0].status = 4;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  mr[0].addr.family = 5;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  d[0].klen = 0;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  d[0].key = "a\0b";
  d[0].klen = 3;
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  /* Trailing garbage and an over-long value. */
  sample_msg(&m, GOSSIP__ACK, mr, d, dg);
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  buf[w.len] = 0xc0;
  assert_true(gossip__msg_decode(buf, w.len + 1, &big_lim, &back) < 0);
  static uint8_t big[GOSSIP_VALUE_MAX + 1];
  d[0].val = big;
  d[0].vlen = sizeof(big);
  gossip__wbuf_init(&w, buf, sizeof(buf));
  assert_int_equal(gossip__msg_encode(&m, &w), 0);
  assert_true(gossip__msg_decode(buf, w.len, &big_lim, &back) < 0);
  /* Encoding refuses to overflow its buffer. */
  gossip__wbuf_init(&w, buf, 100);
  assert_int_equal(gossip__msg_encode(&m, &w), SM_ETOOBIG);
}

/* Node 0 and 1 trusted; node 2 is an outsider that trusts everyone. */
static void test_envelope_untrusted_tampered_replayed(void **state) {
  (void)state;
  struct sm_trust t2, t3;
  static struct capture ca, cb, cc;
  trust_make(&t2, 2);
  trust_make(&t3, 3);
  struct gossip *a = node_make(0, &t2, &ca, 0);
  struct gossip *b = node_make(1, &t2, &cb, 0);
  struct gossip *c = node_make(2, &t3, &cc, 0);
  struct gossip_addr aa = addr_of(0);
  struct gossip_addr ac = addr_of(2);
  struct gossip_stats st;
  uint8_t pkt[GOSSIP_PACKET_MAX + 1];
  size_t len = 0;

  assert_int_equal(gossip_join(a, ids[1].public_key, &aa, 1000), 0);
  assert_int_equal(gossip_join(a, ids[2].public_key, &aa, 1000), SM_EUNTRUSTED);
  /* A probes B: run A's timers until a datagram leaves. */
  for (uint64_t now = 1000; ca.count == 0 && now < 5000; now += 10) {
    gossip_tick(a, now);
  }
  assert_int_equal(ca.count, 1);
  memcpy(pkt, ca.buf, ca.len);
  len = ca.len;
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 3000), 0);
  assert_int_equal(cb.count, 1); /* B acked */
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 3001), SM_EREPLAY);
  /* Every strict prefix of a valid envelope is dropped. */
  for (size_t n = 0; n < len; n++) {
    assert_true(gossip_udp_recv(b, &aa, pkt, n, 3002) < 0);
  }
  /* Oversize. */
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, GOSSIP_PACKET_MAX + 1, 3003), SM_ETOOBIG);
  assert_int_equal(gossip_stream_recv(b, &aa, pkt, GOSSIP_STREAM_MAX + 74, 3003), SM_ETOOBIG);
  /* Tamper: a fresh packet with one flipped bit, in header and in body. */
  gossip_udp_recv(a, &aa, cb.buf, cb.len, 3004);
  struct gossip__msg m;
  memset(&m, 0, sizeof(m));
  m.type = GOSSIP__GOSSIP;
  gossip__send_msg(a, ids[1].public_key, &aa, &m, 0);
  memcpy(pkt, ca.buf, ca.len);
  len = ca.len;
  pkt[len - 1] ^= 1;
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 3005), SM_ECRYPTO);
  pkt[len - 1] ^= 1;
  pkt[45] ^= 0x80; /* nonce salt: part of the associated data */
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 3005), SM_ECRYPTO);
  pkt[45] ^= 0x80;
  assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 3006), 0);
  /* The outsider: its own key is not trusted by B. */
  gossip__send_msg(c, ids[1].public_key, &ac, &m, 0);
  assert_int_equal(gossip_udp_recv(b, &ac, cc.buf, cc.len, 3007), SM_EUNTRUSTED);
  /* ... and claiming A's key in the clear header does not help. */
  memcpy(cc.buf + 1, ids[0].public_key, SM_PUBKEY_BYTES);
  sm_store_be64(cc.buf + 33, 1000); /* a counter A has not used yet */
  assert_int_equal(gossip_udp_recv(b, &ac, cc.buf, cc.len, 3008), SM_ECRYPTO);
  gossip_stats_get(b, &st);
  assert_true(st.drop_untrusted >= 1);
  assert_true(st.drop_crypto >= 3);
  assert_true(st.drop_replay >= 1);
  assert_true(st.drop_oversize >= 2);
  assert_int_equal(gossip_member_count(b), 2);
  gossip_free(a);
  gossip_free(b);
  gossip_free(c);
  sm_trust_cleanup(&t2);
  sm_trust_cleanup(&t3);
}

/* A trusted-but-malicious node (0) floods B (1) with member records and
 * state deltas: B stays within its caps. */
static void test_flood_is_bounded(void **state) {
  (void)state;
  struct sm_trust t;
  static struct capture ca, cb;
  trust_make(&t, NKEYS);
  struct gossip *a = node_make(0, &t, &ca, 0);
  struct gossip *b = node_make(1, &t, &cb, 8);
  struct gossip_addr aa = addr_of(0);
  struct gossip__mrec mr[20];
  struct gossip__delta d[20];
  char keys[20][16];
  struct gossip_stats st;
  for (int round = 0; round < 6; round++) {
    struct gossip__msg m;
    memset(&m, 0, sizeof(m));
    m.type = GOSSIP__GOSSIP;
    m.members = mr;
    m.deltas = d;
    for (size_t i = 0; i < 5; i++) {
      struct gossip__mrec *r = &mr[m.n_members++];
      memset(r, 0, sizeof(*r));
      if (round == 0) {
        randombytes_buf(r->id, SM_PUBKEY_BYTES); /* untrusted keys */
      } else {
        memcpy(r->id, ids[2 + i + 5 * (round - 1)].public_key, SM_PUBKEY_BYTES);
      }
      r->status = GOSSIP_ALIVE;
      r->addr = addr_of(99);
    }
    for (size_t i = 0; i < 15; i++) {
      struct gossip__delta *x = &d[m.n_deltas++];
      memcpy(x->origin, ids[0].public_key, SM_PUBKEY_BYTES);
      snprintf(keys[i], sizeof(keys[i]), "k%d.%zu", round, i);
      x->key = keys[i];
      x->klen = (uint32_t)strlen(keys[i]);
      x->val = (const uint8_t *)"v";
      x->vlen = 1;
      x->version = 100 + (uint64_t)round * 15 + i;
    }
    uint8_t plain[GOSSIP_PACKET_MAX], pkt[GOSSIP_PACKET_MAX + 100];
    struct gossip__wbuf w;
    size_t len = 0;
    gossip__wbuf_init(&w, plain, sizeof(plain));
    assert_int_equal(gossip__msg_encode(&m, &w), 0);
    assert_int_equal(gossip__seal(a, GOSSIP__CH_DGRAM, ids[1].public_key, plain, w.len, pkt,
                                  &len), 0);
    assert_int_equal(gossip_udp_recv(b, &aa, pkt, len, 2000 + round), 0);
  }
  gossip_stats_get(b, &st);
  assert_int_equal(gossip_member_count(b), 8);
  assert_true(st.drop_untrusted >= 5);
  assert_true(st.drop_full >= 1);
  size_t entries = 0;
  struct gossip__member *ma = gossip__member_find(b, ids[0].public_key);
  assert_non_null(ma);
  entries = ma->n_entries;
  assert_int_equal(entries, GOSSIP_ENTRIES_MAX);
  gossip_free(a);
  gossip_free(b);
  sm_trust_cleanup(&t);
}

static void test_state_api_bounds(void **state) {
  (void)state;
  struct sm_trust t;
  static struct capture ca;
  static uint8_t big[GOSSIP_VALUE_MAX + 1];
  char key[GOSSIP_KEY_MAX + 2];
  const uint8_t *val = NULL;
  size_t len = 0;
  uint64_t ver = 0;
  trust_make(&t, 2);
  struct gossip *a = node_make(0, &t, &ca, 0);
  memset(key, 'k', sizeof(key));
  key[GOSSIP_KEY_MAX + 1] = '\0';
  assert_int_equal(gossip_state_set(a, key, "x", 1), SM_EINVAL);
  key[GOSSIP_KEY_MAX] = '\0';
  assert_int_equal(gossip_state_set(a, key, "x", 1), 0);
  assert_int_equal(gossip_state_set(a, "", "x", 1), SM_EINVAL);
  assert_int_equal(gossip_state_set(a, "v", big, sizeof(big)), SM_ETOOBIG);
  assert_int_equal(gossip_state_set(a, "v", big, sizeof(big) - 1), 0);
  assert_int_equal(gossip_state_set(a, "empty", NULL, 0), 0);
  for (int i = 3; i < (int)GOSSIP_ENTRIES_MAX; i++) {
    char k[16];
    snprintf(k, sizeof(k), "e%d", i);
    assert_int_equal(gossip_state_set(a, k, &i, sizeof(i)), 0);
  }
  assert_int_equal(gossip_state_set(a, "one-too-many", "x", 1), SM_EFULL);
  assert_int_equal(gossip_state_set(a, "v", "new", 3), 0); /* replacing is fine */
  assert_int_equal(gossip_state_get(a, ids[0].public_key, "v", &val, &len, &ver), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(val, "new", 3);
  assert_true(ver == GOSSIP_ENTRIES_MAX + 1);
  assert_int_equal(gossip_state_get(a, ids[0].public_key, "nope", &val, &len, &ver),
                   SM_ENOTFOUND);
  gossip_free(a);
  sm_trust_cleanup(&t);
}

static void test_config_rejected(void **state) {
  (void)state;
  struct sm_trust t;
  struct gossip_config cfg;
  static struct capture ca;
  struct gossip_ops ops = {&ca, cap_udp, NULL, NULL, NULL};
  struct gossip *g = NULL;
  trust_make(&t, 2);
  gossip_config_init(&cfg);
  cfg.identity = &ids[0];
  cfg.trust = &t;
  assert_int_equal(gossip_new(&cfg, &ops, 0, &g), SM_ECONFIG); /* no address */
  cfg.addr = addr_of(0);
  cfg.probe_timeout_ms = cfg.probe_interval_ms;
  assert_int_equal(gossip_new(&cfg, &ops, 0, &g), SM_ECONFIG);
  cfg.probe_timeout_ms = 500;
  cfg.generation = 1ull << 32;
  assert_int_equal(gossip_new(&cfg, &ops, 0, &g), SM_ECONFIG);
  cfg.generation = 0;
  ops.send_udp = NULL;
  assert_int_equal(gossip_new(&cfg, &ops, 0, &g), SM_EINVAL);
  assert_null(g);
  gossip_free(NULL);
  sm_trust_cleanup(&t);
}

/* Every allocation in gossip_new / join / state_set can fail cleanly. */
static void test_allocation_failures(void **state) {
  (void)state;
  struct sm_trust t;
  static struct capture ca;
  trust_make(&t, 2);
  for (long k = 0; k < 40; k++) {
    struct gossip_config cfg;
    struct gossip_ops ops = {&ca, cap_udp, cap_stream, NULL, NULL};
    struct gossip *g = NULL;
    struct gossip_addr a1 = addr_of(1);
    gossip_config_init(&cfg);
    cfg.identity = &ids[0];
    cfg.trust = &t;
    cfg.addr = addr_of(0);
    sm_alloc_fail_after(k);
    int rc = gossip_new(&cfg, &ops, 0, &g);
    if (rc == 0) {
      (void)gossip_join(g, ids[1].public_key, &a1, 0);
      (void)gossip_state_set(g, "k", "v", 1);
      gossip_tick(g, 5000);
    } else {
      assert_int_equal(rc, SM_ENOMEM);
      assert_null(g);
    }
    sm_alloc_fail_reset();
    gossip_free(g);
  }
  sm_trust_cleanup(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_every_type_round_trips),
      cmocka_unit_test(test_codec_rejects_bad_fields),
      cmocka_unit_test(test_envelope_untrusted_tampered_replayed),
      cmocka_unit_test(test_flood_is_bounded),
      cmocka_unit_test(test_state_api_bounds),
      cmocka_unit_test(test_config_rejected),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests(tests, setup_keys, NULL);
}

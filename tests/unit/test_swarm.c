/* test_swarm.c - unit tests for the swarm scheduler core with scripted
 * peers: feed events, assert the emitted actions. The whole-swarm
 * simulation lives in test_swarm_sim.c and runs from the same binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "node/swarm/swarm.h"

/* From test_swarm_sim.c. */
void test_swarm_sim_converges_8(void **state);
void test_swarm_sim_converges_32(void **state);
void test_swarm_sim_replays_from_seed(void **state);

#define REC_MAX 8192
#define CHUNK (1u << 20)

struct rec {
  struct swarm_action a[REC_MAX];
  size_t n;
  uint8_t last_bits[256];
  size_t last_bits_len;
};

static void rec_emit(void *user, const struct swarm_action *act) {
  struct rec *r = user;
  assert_true(r->n < REC_MAX);
  r->a[r->n] = *act;
  r->a[r->n].bits = NULL;
  if (act->type == SWARM_ACT_SEND_BITFIELD) {
    assert_true(act->bits_len <= sizeof(r->last_bits));
    memcpy(r->last_bits, act->bits, act->bits_len);
    r->last_bits_len = act->bits_len;
  }
  r->n++;
}

static size_t rec_count(const struct rec *r, enum swarm_action_type t,
                        uint32_t peer) {
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (r->a[i].type == t && (peer == UINT32_MAX || r->a[i].peer == peer)) {
      k++;
    }
  }
  return k;
}

static int rec_has(const struct rec *r, enum swarm_action_type t, uint32_t peer,
                   uint32_t chunk) {
  for (size_t i = 0; i < r->n; i++) {
    if (r->a[i].type == t && r->a[i].peer == peer && r->a[i].chunk == chunk) {
      return 1;
    }
  }
  return 0;
}

/* The chunks requested from peer, in order, starting at action index from. */
static size_t rec_requests(const struct rec *r, size_t from, uint32_t peer,
                           uint32_t *out, size_t max) {
  size_t k = 0;
  for (size_t i = from; i < r->n && k < max; i++) {
    if (r->a[i].type == SWARM_ACT_SEND_REQUEST && r->a[i].peer == peer) {
      out[k++] = r->a[i].chunk;
    }
  }
  return k;
}

static struct swarm *mk(struct rec *r, struct swarm_config *cfg, uint32_t n,
                        int full) {
  uint32_t sizes[1024];
  uint8_t bits[128];
  struct swarm *sw = NULL;
  struct swarm_ops ops = {.user = r, .emit = rec_emit};
  assert_true(n <= 1024);
  for (uint32_t i = 0; i < n; i++) {
    sizes[i] = CHUNK;
  }
  memset(bits, full ? 0xff : 0, sizeof(bits));
  if (full && (n & 7)) {
    bits[n / 8] = (uint8_t)(0xff << (8 - (n & 7)));
    memset(bits + n / 8 + 1, 0, sizeof(bits) - n / 8 - 1);
  }
  memset(r, 0, sizeof(*r));
  assert_int_equal(swarm_new(cfg, &ops, n, sizes, full ? bits : NULL, &sw), 0);
  return sw;
}

/* A wire bitfield with chunks [lo, hi) set. */
static void bits_range(uint8_t *bits, uint32_t n, uint32_t lo, uint32_t hi) {
  memset(bits, 0, (n + 7) / 8);
  for (uint32_t i = lo; i < hi; i++) {
    bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
  }
}

static void connect_with(struct swarm *sw, uint32_t peer, uint32_t n,
                         uint32_t lo, uint32_t hi, uint64_t now) {
  uint8_t bits[128];
  assert_int_equal(swarm_peer_connected(sw, peer, 0, now), 0);
  bits_range(bits, n, lo, hi);
  assert_int_equal(swarm_peer_bitfield(sw, peer, bits, (n + 7) / 8, now), 0);
}

static struct rec R; /* big: keep it off the stack */

/* A recipient of n chunks asking each peer for one chunk at a time. */
static struct swarm *mk_window1(uint32_t n) {
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  return mk(&R, &cfg, n, 0);
}

/* ------------------------------------------------------------- picking */

static void test_rarest_first_order(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.random_first = 0;
  cfg.initial_window = 8;
  cfg.max_window = 8;
  cfg.busy_backoff_ms = 1000000;
  struct swarm *sw = mk(&R, &cfg, 16, 0);
  uint32_t got[16];

  /* B has 0..7 and C has 0..3, but both say BUSY: they only shape rarity. */
  connect_with(sw, 2, 16, 0, 8, 0);
  size_t k = rec_requests(&R, 0, 2, got, 16);
  assert_int_equal(k, 8);
  for (size_t i = 0; i < k; i++) {
    swarm_peer_reject(sw, 2, got[i], SWARM_REJECT_BUSY, 0);
  }
  size_t mark = R.n;
  connect_with(sw, 3, 16, 0, 4, 0);
  k = rec_requests(&R, mark, 3, got, 16);
  for (size_t i = 0; i < k; i++) {
    swarm_peer_reject(sw, 3, got[i], SWARM_REJECT_BUSY, 0);
  }
  /* A has everything: avail is 1 for 8..15, 2 for 4..7, 3 for 0..3. */
  mark = R.n;
  connect_with(sw, 1, 16, 0, 16, 0);
  k = rec_requests(&R, mark, 1, got, 16);
  assert_int_equal(k, 8);
  for (size_t i = 0; i < 8; i++) {
    assert_true(got[i] >= 8 && got[i] < 16);
  }
  /* Each arrival frees one slot: next come 4..7, then 0..3. */
  uint32_t first[8];
  memcpy(first, got, sizeof(first));
  mark = R.n;
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(swarm_chunk_received(sw, 1, first[i], 1, 1), 0);
  }
  k = rec_requests(&R, mark, 1, got, 16);
  assert_int_equal(k, 8);
  for (size_t i = 0; i < 4; i++) {
    assert_true(got[i] >= 4 && got[i] < 8);
    assert_true(got[i + 4] < 4);
  }
  swarm_free(sw);
}

static void random_first_run(uint64_t seed, uint32_t *out4) {
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.seed = seed;
  cfg.random_first = 4;
  cfg.initial_window = 4;
  struct swarm *sw = mk(&R, &cfg, 256, 0);
  connect_with(sw, 1, 256, 0, 256, 0);
  assert_int_equal(rec_requests(&R, 0, 1, out4, 4), 4);
  swarm_free(sw);
}

static void test_random_start_is_seeded(void **state) {
  (void)state;
  uint32_t a[4], b[4], c[4];
  random_first_run(7, a);
  random_first_run(7, b);
  random_first_run(8, c);
  assert_memory_equal(a, b, sizeof(a));
  assert_memory_not_equal(a, c, sizeof(a));
  /* Not simply the first chunks, and all distinct. */
  int sequential = a[0] == 0 && a[1] == 1 && a[2] == 2 && a[3] == 3;
  assert_false(sequential);
  for (int i = 0; i < 4; i++) {
    for (int j = i + 1; j < 4; j++) {
      assert_int_not_equal(a[i], a[j]);
    }
  }
}

/* ------------------------------------------------------------- window */

/* One scripted server: serves our requests in order, one at a time; the
 * first byte of a request comes rtt ms after it was sent (or right after the
 * previous chunk), the transfer takes xfer ms. Returns the final window. */
static uint32_t window_after(uint64_t rtt, uint64_t xfer, double *out_rate) {
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.random_first = 0;
  cfg.max_window = 32;
  struct swarm *sw = mk(&R, &cfg, 1000, 0);
  connect_with(sw, 1, 1000, 0, 1000, 0);
  size_t seen = 0;
  uint32_t q_chunk[1100];
  uint64_t q_sent[1100];
  size_t q_len = 0, q_head = 0;
  uint64_t busy_until = 0, started_at = 0;
  int in_flight = 0;
  for (uint64_t now = 0; now < 3000; now++) {
    for (; seen < R.n; seen++) {
      if (R.a[seen].type == SWARM_ACT_SEND_REQUEST) {
        q_chunk[q_len] = R.a[seen].chunk;
        q_sent[q_len++] = now;
      }
    }
    if (in_flight && now >= busy_until) {
      swarm_chunk_received(sw, 1, q_chunk[q_head], 1, now);
      q_head++;
      in_flight = 0;
    }
    if (!in_flight && q_head < q_len && now >= q_sent[q_head] + rtt) {
      started_at = now;
      busy_until = started_at + xfer;
      swarm_chunk_data(sw, 1, q_chunk[q_head], 0, now);
      in_flight = 1;
    }
    if (now % 100 == 0) {
      swarm_tick(sw, now);
    }
  }
  struct swarm_peer_stats ps;
  assert_int_equal(swarm_peer_stats_get(sw, 1, &ps), 0);
  *out_rate = ps.rate_bpms;
  swarm_free(sw);
  return ps.window;
}

static void test_window_grows_with_rate_times_rtt(void **state) {
  (void)state;
  double rate_lan, rate_wan;
  /* 1 MiB chunk in 10 ms; RTT 2 ms: the window stays near the start. */
  uint32_t w_lan = window_after(2, 10, &rate_lan);
  /* Same rate, RTT 50 ms: rate*rtt*1.5/chunk = 7.5 -> 9. */
  uint32_t w_wan = window_after(50, 10, &rate_wan);
  assert_true(w_lan <= 3);
  assert_true(w_wan >= 8 && w_wan <= 12);
  /* With a big enough window the pipe is full: the rate is the link's. */
  assert_true(rate_wan > 0.9 * (double)CHUNK / 10.0);
}

/* ------------------------------------------------------------- endgame */

static void test_endgame_duplicates_then_cancels(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 4;
  struct swarm *sw = mk(&R, &cfg, 4, 0);
  struct swarm_stats st;
  connect_with(sw, 1, 4, 0, 4, 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 4);
  swarm_stats_get(sw, &st);
  assert_true(st.endgame);
  connect_with(sw, 2, 4, 0, 4, 1);
  /* Every remaining chunk is requested: peer 2 gets duplicates. */
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 2), 4);
  size_t mark = R.n;
  assert_int_equal(swarm_chunk_received(sw, 2, 3, 1, 5), 0);
  assert_true(rec_has(&R, SWARM_ACT_SEND_CANCEL, 1, 3));
  assert_false(rec_has(&R, SWARM_ACT_SEND_CANCEL, 2, 3));
  assert_true(rec_has(&R, SWARM_ACT_SEND_HAVE, 1, 3));
  assert_true(rec_has(&R, SWARM_ACT_SEND_HAVE, 2, 3));
  (void)mark;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.requests_out, 6);
  for (uint32_t c = 0; c < 3; c++) {
    assert_int_equal(swarm_chunk_received(sw, 1, c, 1, 6), 0);
  }
  swarm_stats_get(sw, &st);
  assert_int_equal(st.chunks_have, 4);
  assert_int_equal(st.state, SWARM_STATE_SEED);
  assert_int_equal(st.requests_out, 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_COMPLETE, UINT32_MAX), 1);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_CANCEL, 2), 3);
  /* A canceled duplicate that arrives anyway is waste, not progress. */
  assert_int_equal(swarm_chunk_received(sw, 2, 0, 1, 7), 0);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.bytes_wasted, CHUNK);
  assert_int_equal(st.chunks_have, 4);
  swarm_free(sw);
}

/* -------------------------------------------------- failures and peers */

static void test_bad_chunk_bans_and_rerequests(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  struct swarm *sw = mk(&R, &cfg, 8, 0);
  uint32_t c1 = 0, c2 = 0;
  connect_with(sw, 1, 8, 0, 8, 0);
  assert_int_equal(rec_requests(&R, 0, 1, &c1, 1), 1);
  connect_with(sw, 2, 8, 0, 8, 0);
  assert_int_equal(rec_requests(&R, 0, 2, &c2, 1), 1);
  assert_int_equal(swarm_chunk_received(sw, 1, c1, 0, 10), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_BAN, 1), 1);
  struct swarm_stats st;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.chunks_have, 0);
  assert_int_equal(st.chunks_bad, 1);
  assert_int_equal(st.peers_connected, 1);
  assert_int_equal(swarm_peer_connected(sw, 1, 0, 11), SM_EBANNED);
  assert_int_equal(swarm_chunk_received(sw, 1, c1, 1, 11), SM_ENOTFOUND);
  /* Peer 2 delivers everything, including c1. */
  for (int guard = 0; guard < 20; guard++) {
    uint32_t req[32];
    size_t k = rec_requests(&R, 0, 2, req, 32);
    swarm_stats_get(sw, &st);
    if (st.state != SWARM_STATE_FETCH) {
      break;
    }
    assert_int_equal(swarm_chunk_received(sw, 2, req[k - 1], 1, 20 + guard), 0);
  }
  swarm_stats_get(sw, &st);
  assert_int_equal(st.chunks_have, 8);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REQUEST, 2, c1));
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  swarm_free(sw);
}

/* A verified chunk found damaged on our disk is fetched again; a complete
 * recipient goes back to fetching and completes a second time; a donor
 * cannot lose a chunk. */
static void test_lost_chunk_is_fetched_again(void **state) {
  (void)state;
  struct swarm_config cfg;
  struct swarm *sw = mk_window1(4);
  struct swarm_stats st;
  connect_with(sw, 1, 4, 0, 4, 0);
  for (int guard = 0; guard < 8; guard++) {
    uint32_t req[16];
    size_t k = rec_requests(&R, 0, 1, req, 16);
    swarm_stats_get(sw, &st);
    if (st.state != SWARM_STATE_FETCH) {
      break;
    }
    assert_int_equal(swarm_chunk_received(sw, 1, req[k - 1], 1, 10 + guard), 0);
  }
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_SEED);
  assert_int_equal(rec_count(&R, SWARM_ACT_COMPLETE, UINT32_MAX), 1);
  size_t mark = R.n;
  size_t bitfields = rec_count(&R, SWARM_ACT_SEND_BITFIELD, 1);
  assert_int_equal(swarm_chunk_lost(sw, 2, 30), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_BITFIELD, 1), bitfields + 1);
  assert_int_equal(R.last_bits[0], 0xd0); /* chunks 0, 1, 3 of 4 */
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_FETCH);
  assert_int_equal(st.chunks_have, 3);
  assert_int_equal(st.bytes_have, 3ull * CHUNK);
  assert_int_equal(swarm_chunk_has(sw, 2), 0);
  uint32_t again = UINT32_MAX;
  assert_int_equal(rec_requests(&R, mark, 1, &again, 1), 1);
  assert_int_equal(again, 2);
  assert_int_equal(swarm_chunk_lost(sw, 2, 31), 0); /* already missing */
  assert_int_equal(swarm_chunk_lost(sw, 4, 31), SM_EPROTO);
  assert_int_equal(swarm_chunk_received(sw, 1, 2, 1, 40), 0);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_SEED);
  assert_int_equal(st.chunks_have, 4);
  assert_int_equal(rec_count(&R, SWARM_ACT_COMPLETE, UINT32_MAX), 2);
  swarm_free(sw);

  /* After lingering is over (links stay open): back to fetching too. */
  swarm_config_default(&cfg);
  cfg.linger_max_ms = 0;
  sw = mk(&R, &cfg, 2, 0);
  connect_with(sw, 1, 2, 0, 2, 0);
  assert_int_equal(swarm_chunk_received(sw, 1, 0, 1, 10), 0);
  assert_int_equal(swarm_chunk_received(sw, 1, 1, 1, 11), 0);
  swarm_tick(sw, 100);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_DONE);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 1);
  mark = R.n;
  assert_int_equal(swarm_chunk_lost(sw, 1, 120), 0);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_FETCH);
  assert_int_equal(rec_requests(&R, mark, 1, &again, 1), 1);
  assert_int_equal(again, 1);
  assert_int_equal(swarm_chunk_received(sw, 1, 1, 1, 130), 0);
  swarm_tick(sw, 200);
  assert_int_equal(rec_count(&R, SWARM_ACT_COMPLETE, UINT32_MAX), 2);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 2);
  swarm_free(sw);

  swarm_config_default(&cfg);
  cfg.role = SWARM_ROLE_DONOR;
  sw = mk(&R, &cfg, 4, 1);
  assert_int_equal(swarm_chunk_lost(sw, 1, 0), SM_ESTATE);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.chunks_have, 4);
  swarm_free(sw);
}

/* A peer that said "get it elsewhere" and later announces the chunk again
 * (a donor re-revealing it) is asked again: with nobody else offering the
 * chunk, the old rejection must not starve the fetch. */
static void test_reannounced_chunk_is_requested_again(void **state) {
  (void)state;
  struct swarm *sw = mk_window1(4);
  connect_with(sw, 1, 4, 0, 0, 0);
  assert_int_equal(swarm_peer_have(sw, 1, 2, 1), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REQUEST, 1, 2));
  assert_int_equal(swarm_peer_reject(sw, 1, 2, SWARM_REJECT_ELSEWHERE, 2), 0);
  swarm_tick(sw, 100);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1); /* remembered */
  assert_int_equal(swarm_peer_have(sw, 1, 2, 200), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 2);
  assert_int_equal(swarm_chunk_received(sw, 1, 2, 1, 300), 0);
  assert_int_equal(swarm_chunk_has(sw, 2), 1);
  swarm_free(sw);
}

static void test_disconnect_returns_requests(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 4;
  struct swarm *sw = mk(&R, &cfg, 4, 0);
  struct swarm_stats st;
  connect_with(sw, 1, 4, 0, 4, 0);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.requests_out, 4);
  assert_int_equal(swarm_peer_disconnected(sw, 1, 5), 0);
  swarm_stats_get(sw, &st);
  assert_int_equal(st.requests_out, 0);
  assert_int_equal(st.peers_connected, 0);
  assert_int_equal(swarm_peer_disconnected(sw, 1, 5), SM_ENOTFOUND);
  /* Peer 3 has only chunk 2; the old availability of peer 1 is gone. */
  connect_with(sw, 3, 4, 2, 3, 6);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 3), 1);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REQUEST, 3, 2));
  connect_with(sw, 2, 4, 0, 4, 6);
  uint32_t got[8];
  size_t k = rec_requests(&R, 0, 2, got, 8);
  /* 0, 1, 3 first; then every chunk is requested: endgame duplicates 2. */
  assert_int_equal(k, 4);
  for (size_t i = 0; i < 3; i++) {
    assert_int_not_equal(got[i], 2);
  }
  assert_int_equal(got[3], 2);
  swarm_free(sw);
}

static void test_timeout_reissues_elsewhere(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  cfg.request_timeout_ms = 1000;
  struct swarm *sw = mk(&R, &cfg, 2, 0);
  uint32_t a = 0, b = 0; /* set by the loop below; gcc -O2 cannot tell */
  connect_with(sw, 1, 2, 0, 2, 0);
  connect_with(sw, 2, 2, 0, 2, 0);
  assert_int_equal(rec_requests(&R, 0, 1, &a, 1), 1);
  assert_int_equal(rec_requests(&R, 0, 2, &b, 1), 1);
  assert_int_not_equal(a, b);
  swarm_chunk_data(sw, 2, b, 1000, 500);
  swarm_tick(sw, 600);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_CANCEL, 1), 0);
  swarm_tick(sw, 1000);
  assert_true(rec_has(&R, SWARM_ACT_SEND_CANCEL, 1, a));
  struct swarm_peer_stats ps;
  assert_int_equal(swarm_peer_stats_get(sw, 1, &ps), 0);
  assert_true(ps.score < 0);
  assert_int_equal(ps.window, 1);
  /* Not asked again from the slow peer; peer 2 takes it after b. */
  assert_int_equal(swarm_chunk_received(sw, 2, b, 1, 1100), 0);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REQUEST, 2, a));
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  struct swarm_stats st;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.timeouts, 1);
  swarm_free(sw);
}

static void test_dials_up_to_degree_donor_first(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.max_peers = 4;
  cfg.max_connecting = 8;
  struct swarm *sw = mk(&R, &cfg, 8, 0);
  for (uint32_t p = 10; p < 30; p++) {
    assert_int_equal(swarm_candidate_add(sw, p, p == 25 ? SWARM_PEER_DONOR : 0, 0), 0);
  }
  /* Four peers, plus the donor, who is dialed even beyond the degree. */
  assert_int_equal(rec_count(&R, SWARM_ACT_CONNECT, UINT32_MAX), 5);
  assert_true(rec_has(&R, SWARM_ACT_CONNECT, 25, 0));
  swarm_free(sw);

  /* Donor known first: it takes one of the four places. */
  sw = mk(&R, &cfg, 8, 0);
  assert_int_equal(swarm_candidate_add(sw, 25, SWARM_PEER_DONOR, 0), 0);
  for (uint32_t p = 10; p < 25; p++) {
    assert_int_equal(swarm_candidate_add(sw, p, 0, 0), 0);
  }
  assert_int_equal(rec_count(&R, SWARM_ACT_CONNECT, UINT32_MAX), 4);
  assert_true(rec_has(&R, SWARM_ACT_CONNECT, 25, 0));
  /* A failed dial is replaced by another candidate. */
  uint32_t failed = UINT32_MAX;
  for (size_t i = 0; i < R.n; i++) {
    if (R.a[i].type == SWARM_ACT_CONNECT && R.a[i].peer != 25) {
      failed = R.a[i].peer;
      break;
    }
  }
  assert_int_equal(swarm_peer_connect_failed(sw, failed, 1), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_CONNECT, UINT32_MAX), 5);
  assert_int_equal(rec_count(&R, SWARM_ACT_CONNECT, failed), 1);
  struct swarm_stats st;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.peers_connecting, 4);
  assert_int_equal(st.candidates, 16);
  swarm_free(sw);
}

static void test_idle_peer_is_replaced(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.max_peers = 2;
  cfg.replace_interval_ms = 1000;
  struct swarm *sw = mk(&R, &cfg, 8, 0);
  for (uint32_t p = 1; p <= 3; p++) {
    assert_int_equal(swarm_candidate_add(sw, p, 0, 0), 0);
  }
  uint32_t dialed[2];
  size_t k = 0;
  for (size_t i = 0; i < R.n && k < 2; i++) {
    if (R.a[i].type == SWARM_ACT_CONNECT) {
      dialed[k++] = R.a[i].peer;
    }
  }
  assert_int_equal(k, 2);
  /* The first has everything, the second nothing we want. */
  connect_with(sw, dialed[0], 8, 0, 8, 10);
  connect_with(sw, dialed[1], 8, 0, 0, 10);
  swarm_tick(sw, 500);
  assert_int_equal(rec_count(&R, SWARM_ACT_DISCONNECT, UINT32_MAX), 0);
  swarm_tick(sw, 1100); /* connected for a whole interval now */
  assert_int_equal(rec_count(&R, SWARM_ACT_DISCONNECT, dialed[1]), 1);
  assert_int_equal(rec_count(&R, SWARM_ACT_DISCONNECT, dialed[0]), 0);
  uint32_t third = 6 - dialed[0] - dialed[1];
  assert_int_equal(rec_count(&R, SWARM_ACT_CONNECT, third), 1);
  for (size_t i = 0; i < R.n; i++) {
    if (R.a[i].type == SWARM_ACT_DISCONNECT) {
      assert_int_equal(R.a[i].reason, SWARM_REASON_REPLACED);
    }
  }
  swarm_free(sw);
}

static void test_peer_table_churn(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.max_conns = 64;
  struct swarm *sw = mk(&R, &cfg, 8, 0);
  uint8_t live[4096] = {0};
  uint32_t count = 0;
  uint64_t x = 12345;
  for (int step = 0; step < 20000; step++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t h = (uint32_t)(x >> 33) % 4096 * 64; /* colliding homes */
    uint32_t slot = h / 64;
    if (live[slot]) {
      assert_int_equal(swarm_peer_disconnected(sw, h, 0), 0);
      live[slot] = 0;
      count--;
    } else {
      int rc = swarm_peer_connected(sw, h, 0, 0);
      if (count == 64) {
        assert_int_equal(rc, SM_EFULL);
        continue;
      }
      assert_int_equal(rc, 0);
      live[slot] = 1;
      count++;
    }
    R.n = 0;
  }
  struct swarm_peer_stats ps;
  for (uint32_t i = 0; i < 4096; i++) {
    assert_int_equal(swarm_peer_stats_get(sw, i * 64, &ps) == 0, live[i]);
  }
  assert_int_equal(swarm_peers_list(sw, NULL, 0), count);
  swarm_free(sw);
}

static void test_bitfield_checks(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  struct swarm *sw = mk(&R, &cfg, 10, 0);
  uint8_t bits[2] = {0xff, 0xc0};
  assert_int_equal(swarm_peer_connected(sw, 1, 0, 0), 0);
  assert_int_equal(swarm_peer_connected(sw, 1, 0, 0), SM_EEXIST);
  assert_int_equal(R.last_bits_len, 2);
  assert_int_equal(swarm_peer_bitfield(sw, 1, bits, 1, 0), SM_EPROTO);
  bits[1] = 0xe0; /* spare bit set */
  assert_int_equal(swarm_peer_bitfield(sw, 1, bits, 2, 0), SM_EPROTO);
  bits[1] = 0xc0;
  assert_int_equal(swarm_peer_bitfield(sw, 1, bits, 2, 0), 0);
  assert_int_equal(swarm_peer_have(sw, 1, 10, 0), SM_EPROTO);
  assert_int_equal(swarm_peer_have(sw, 7, 1, 0), SM_ENOTFOUND);
  struct swarm_peer_stats ps;
  assert_int_equal(swarm_peer_stats_get(sw, 1, &ps), 0);
  assert_int_equal(ps.chunks_have, 10);
  swarm_free(sw);
}

/* ------------------------------------------------------------- upload */

static void test_upload_slots_queue_and_cancel(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.role = SWARM_ROLE_DONOR;
  cfg.donor_protect = 0;
  cfg.upload_slots = 2;
  cfg.max_in_queue = 2;
  struct swarm *sw = mk(&R, &cfg, 8, 1);
  for (uint32_t p = 1; p <= 3; p++) {
    assert_int_equal(swarm_peer_connected(sw, p, 0, 0), 0);
  }
  /* Our bitfield says we have everything. */
  assert_int_equal(R.last_bits[0], 0xff);
  swarm_peer_request(sw, 1, 0, 1);
  swarm_peer_request(sw, 2, 2, 1);
  swarm_peer_request(sw, 1, 1, 1);
  swarm_peer_request(sw, 3, 3, 1);
  assert_int_equal(rec_count(&R, SWARM_ACT_UPLOAD_START, UINT32_MAX), 2);
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_START, 1, 0));
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_START, 2, 2));
  struct swarm_stats st;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.uploads_queued, 2);
  /* Queue limit per peer: 1 has (1) queued, add 4, then 5 is refused. */
  swarm_peer_request(sw, 1, 4, 2);
  swarm_peer_request(sw, 1, 5, 2);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REJECT, 1, 5));
  assert_false(rec_has(&R, SWARM_ACT_SEND_REJECT, 1, 4));
  /* Cancel a queued one: silently dropped; an active one: UPLOAD_CANCEL. */
  swarm_peer_cancel(sw, 3, 3, 3);
  swarm_peer_cancel(sw, 2, 2, 3);
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_CANCEL, 2, 2));
  assert_int_equal(swarm_upload_done(sw, 2, 2, 1000, 4), 0);
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_START, 1, 1));
  assert_false(rec_has(&R, SWARM_ACT_UPLOAD_START, 3, 3));
  assert_int_equal(swarm_upload_done(sw, 1, 0, CHUNK, 5), 0);
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_START, 1, 4));
  swarm_stats_get(sw, &st);
  assert_int_equal(st.bytes_up, CHUNK + 1000);
  assert_int_equal(st.uploads_active, 2);
  assert_int_equal(st.uploads_queued, 0);
  /* A chunk we lack (recipient side) would be NOT_HAVE; a finished slot
   * that is unknown is an error. */
  assert_int_equal(swarm_upload_done(sw, 3, 3, 1, 6), SM_ENOTFOUND);
  swarm_free(sw);
}

static void test_donor_protection_reveals_and_redirects(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.role = SWARM_ROLE_DONOR;
  cfg.reveal_count = 2;
  cfg.donor_budget_permille = 1000;
  const uint32_t n = 16;
  struct swarm *sw = mk(&R, &cfg, n, 1);
  uint8_t bits[2];

  assert_int_equal(swarm_peer_connected(sw, 1, 0, 0), 0);
  /* Empty bitfield, then two reveals. */
  assert_int_equal(R.last_bits[0] | R.last_bits[1], 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 1), 2);
  assert_int_equal(swarm_peer_connected(sw, 2, 0, 0), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 2), 2);
  uint32_t shown[64];
  size_t ns = 0;
  for (size_t i = 0; i < R.n; i++) {
    if (R.a[i].type == SWARM_ACT_SEND_HAVE) {
      shown[ns++] = R.a[i].chunk;
    }
  }
  /* Four different chunks: nobody is shown what another was shown. */
  for (size_t i = 0; i < ns; i++) {
    for (size_t j = i + 1; j < ns; j++) {
      assert_int_not_equal(shown[i], shown[j]);
    }
  }
  uint32_t a = shown[0]; /* revealed to peer 1 */
  bits_range(bits, n, 0, 0);
  swarm_peer_bitfield(sw, 1, bits, 2, 0);
  swarm_peer_bitfield(sw, 2, bits, 2, 0);
  swarm_peer_request(sw, 1, a, 1);
  assert_true(rec_has(&R, SWARM_ACT_UPLOAD_START, 1, a));
  swarm_upload_done(sw, 1, a, CHUNK, 2);
  size_t have_before = rec_count(&R, SWARM_ACT_SEND_HAVE, 1);
  swarm_peer_have(sw, 1, a, 3);
  /* Peer 1 has it: the donor shows peer 1 a fresh chunk... */
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 1), have_before + 1);
  uint32_t fresh = R.a[R.n - 1].chunk;
  for (size_t i = 0; i < ns; i++) {
    assert_int_not_equal(fresh, shown[i]);
  }
  /* ... and tells peer 2 to fetch `a` from peer 1. */
  swarm_peer_request(sw, 2, a, 4);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REJECT, 2, a));
  assert_false(rec_has(&R, SWARM_ACT_UPLOAD_START, 2, a));
  for (size_t i = 0; i < R.n; i++) {
    if (R.a[i].type == SWARM_ACT_SEND_REJECT) {
      assert_int_equal(R.a[i].reason, SWARM_REJECT_ELSEWHERE);
    }
  }
  swarm_free(sw);
}

static void test_donor_stops_revealing_over_budget(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.role = SWARM_ROLE_DONOR;
  cfg.reveal_count = 4;
  cfg.donor_budget_permille = 1000;
  const uint32_t n = 4;
  struct swarm *sw = mk(&R, &cfg, n, 1);
  uint8_t bits[1];
  assert_int_equal(swarm_peer_connected(sw, 1, 0, 0), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 1), 4);
  for (uint32_t c = 0; c < n; c++) {
    swarm_peer_request(sw, 1, c, 1);
    swarm_upload_done(sw, 1, c, CHUNK, 2);
  }
  bits_range(bits, n, 0, n);
  swarm_peer_bitfield(sw, 1, bits, 1, 3);
  /* Every chunk has a copy and the donor sent 1.0 x snapshot: a newcomer
   * is shown nothing and must use peer 1. */
  assert_int_equal(swarm_peer_connected(sw, 2, 0, 4), 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 2), 0);
  swarm_peer_request(sw, 2, 0, 5);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REJECT, 2, 0));
  /* If peer 1 leaves, its chunks have no copy left: revealed again. */
  swarm_peer_disconnected(sw, 1, 6);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_HAVE, 2), 4);
  swarm_free(sw);
}

/* ------------------------------------------------------------- linger */

static void test_linger_ends_when_idle_or_at_limit(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.linger_idle_ms = 500;
  cfg.linger_max_ms = 10000;
  struct swarm *sw = mk(&R, &cfg, 2, 0);
  connect_with(sw, 1, 2, 0, 2, 0);
  swarm_chunk_received(sw, 1, 0, 1, 10);
  swarm_chunk_received(sw, 1, 1, 1, 20);
  assert_int_equal(rec_count(&R, SWARM_ACT_COMPLETE, UINT32_MAX), 1);
  /* A peer that still needs chunks keeps us seeding. */
  connect_with(sw, 2, 2, 0, 0, 30);
  for (uint64_t t = 100; t <= 2000; t += 100) {
    swarm_tick(sw, t);
  }
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 0);
  swarm_peer_request(sw, 2, 0, 2000);
  swarm_upload_done(sw, 2, 0, CHUNK, 2050);
  swarm_peer_have(sw, 2, 0, 2060);
  swarm_peer_have(sw, 2, 1, 2070);
  swarm_tick(sw, 2100);
  swarm_tick(sw, 2500);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 0);
  swarm_tick(sw, 2600);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 1);
  struct swarm_stats st;
  swarm_stats_get(sw, &st);
  assert_int_equal(st.state, SWARM_STATE_DONE);
  swarm_peer_request(sw, 2, 1, 2700);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REJECT, 2, 1));
  assert_int_equal(swarm_peer_connected(sw, 3, 0, 2700), SM_ESTATE);
  swarm_free(sw);

  /* Time limit with a needy peer; and the upload-ratio limit. */
  cfg.linger_max_ms = 1000;
  sw = mk(&R, &cfg, 2, 0);
  connect_with(sw, 1, 2, 0, 2, 0);
  swarm_chunk_received(sw, 1, 0, 1, 0);
  swarm_chunk_received(sw, 1, 1, 1, 0);
  connect_with(sw, 2, 2, 0, 0, 0);
  swarm_tick(sw, 900);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 0);
  swarm_tick(sw, 1000);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 1);
  swarm_free(sw);

  cfg.linger_max_ms = 100000;
  cfg.linger_ratio_permille = 500;
  sw = mk(&R, &cfg, 2, 0);
  connect_with(sw, 1, 2, 0, 2, 0);
  swarm_chunk_received(sw, 1, 0, 1, 0);
  swarm_chunk_received(sw, 1, 1, 1, 0);
  connect_with(sw, 2, 2, 0, 0, 0);
  swarm_peer_request(sw, 2, 0, 10);
  swarm_upload_done(sw, 2, 0, CHUNK, 20);
  swarm_tick(sw, 100);
  assert_int_equal(rec_count(&R, SWARM_ACT_LINGER_DONE, UINT32_MAX), 1);
  swarm_free(sw);
}

/* ------------------------------------------------------------ hygiene */

static void test_out_of_memory_is_clean(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  int ok = 0;
  for (long k = 0; k < 64 && !ok; k++) {
    struct swarm *sw = NULL;
    uint32_t sizes[100];
    for (int i = 0; i < 100; i++) {
      sizes[i] = CHUNK;
    }
    struct swarm_ops ops = {.user = &R, .emit = rec_emit};
    R.n = 0;
    sm_alloc_fail_after(k);
    int rc = swarm_new(&cfg, &ops, 100, sizes, NULL, &sw);
    if (rc == 0) {
      rc = swarm_peer_connected(sw, 1, 0, 0);
      ok = rc == 0;
    }
    sm_alloc_fail_reset();
    if (!ok) {
      assert_int_equal(rc, SM_ENOMEM);
    }
    swarm_free(sw);
  }
  assert_true(ok);
}

static void test_bad_arguments(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  struct swarm *sw = NULL;
  uint32_t sizes[2] = {1, 1};
  struct swarm_ops ops = {.user = &R, .emit = rec_emit};
  assert_int_equal(swarm_new(&cfg, &ops, 0, sizes, NULL, &sw), SM_EINVAL);
  cfg.max_peers = 100;
  cfg.max_conns = 10;
  assert_int_equal(swarm_new(&cfg, &ops, 2, sizes, NULL, &sw), SM_ECONFIG);
  swarm_config_default(&cfg);
  cfg.role = SWARM_ROLE_DONOR; /* a donor must have everything */
  assert_int_equal(swarm_new(&cfg, &ops, 2, sizes, NULL, &sw), SM_EINVAL);
  assert_null(sw);
  swarm_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rarest_first_order),
      cmocka_unit_test(test_random_start_is_seeded),
      cmocka_unit_test(test_window_grows_with_rate_times_rtt),
      cmocka_unit_test(test_endgame_duplicates_then_cancels),
      cmocka_unit_test(test_bad_chunk_bans_and_rerequests),
      cmocka_unit_test(test_lost_chunk_is_fetched_again),
      cmocka_unit_test(test_reannounced_chunk_is_requested_again),
      cmocka_unit_test(test_disconnect_returns_requests),
      cmocka_unit_test(test_timeout_reissues_elsewhere),
      cmocka_unit_test(test_dials_up_to_degree_donor_first),
      cmocka_unit_test(test_idle_peer_is_replaced),
      cmocka_unit_test(test_peer_table_churn),
      cmocka_unit_test(test_bitfield_checks),
      cmocka_unit_test(test_upload_slots_queue_and_cancel),
      cmocka_unit_test(test_donor_protection_reveals_and_redirects),
      cmocka_unit_test(test_donor_stops_revealing_over_budget),
      cmocka_unit_test(test_linger_ends_when_idle_or_at_limit),
      cmocka_unit_test(test_out_of_memory_is_clean),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_swarm_sim_converges_8),
      cmocka_unit_test(test_swarm_sim_converges_32),
      cmocka_unit_test(test_swarm_sim_replays_from_seed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

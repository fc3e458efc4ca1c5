/* test_swarm.c - unit tests for the swarm scheduler core with scripted
 * peers: feed events, assert the emitted actions. This file covers fetching
 * (picking, window, endgame, failures) and argument/allocation hygiene; the
 * peer side is in test_swarm_peers.c. The whole-swarm simulation lives in
 * test_swarm_sim.c and runs from the same binary. */
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
#include "test_swarm_util.h"

/* From test_swarm_sim.c. */
void test_swarm_sim_converges_8(void **state);
void test_swarm_sim_converges_32(void **state);
void test_swarm_sim_replays_from_seed(void **state);

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

/* ------------------------------------------------------------ failures */

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

/* The only peer with the last missing chunk told us to get it elsewhere:
 * after request_timeout_ms it is asked again instead of never. */
static void test_lone_refusal_is_retried_after_backoff(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  cfg.request_timeout_ms = 1000;
  struct swarm *sw = mk(&R, &cfg, 2, 0);
  uint32_t a = 0, b = 0;
  connect_with(sw, 1, 2, 0, 2, 0);
  assert_int_equal(rec_requests(&R, 0, 1, &a, 1), 1);
  assert_int_equal(swarm_peer_reject(sw, 1, a, SWARM_REJECT_ELSEWHERE, 10), 0);
  uint32_t got[4];
  assert_int_equal(rec_requests(&R, 0, 1, got, 4), 2);
  b = got[1];
  assert_int_not_equal(a, b);
  assert_int_equal(swarm_chunk_received(sw, 1, b, 1, 20), 0);
  swarm_tick(sw, 500);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 2); /* refusal is fresh */
  swarm_tick(sw, 1010);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 3); /* asked again */
  assert_int_equal(rec_requests(&R, 0, 1, got, 4), 3);
  assert_int_equal(got[2], a);
  assert_int_equal(swarm_chunk_received(sw, 1, a, 1, 1100), 0);
  assert_int_equal(swarm_chunk_has(sw, a), 1);
  swarm_free(sw);
}

/* The donor refuses a chunk it has (its stored copy is damaged): status
 * counts it as unavailable, though a donor is connected, while no other
 * peer offers it; and the donor is asked again after the backoff. */
static void test_chunk_refused_by_every_holder_is_unavailable(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  struct swarm *sw = mk(&R, &cfg, 4, 0);
  uint8_t bits[1];
  bits_range(bits, 4, 0, 4);
  assert_int_equal(swarm_peer_connected(sw, 1, SWARM_PEER_DONOR, 0), 0);
  assert_int_equal(swarm_peer_bitfield(sw, 1, bits, 1, 0), 0);
  assert_int_equal(swarm_chunks_unavailable(sw), 0);
  uint32_t a = 0;
  assert_int_equal(rec_requests(&R, 0, 1, &a, 1), 1);
  assert_int_equal(swarm_peer_reject(sw, 1, a, SWARM_REJECT_NOT_HAVE, 10), 0);
  assert_int_equal(swarm_chunks_unavailable(sw), 1);
  connect_with(sw, 2, 4, 0, 4, 20); /* a recipient that has it */
  assert_int_equal(swarm_chunks_unavailable(sw), 0);
  assert_int_equal(swarm_peer_disconnected(sw, 2, 30), 0);
  assert_int_equal(swarm_chunks_unavailable(sw), 1);
  /* the donor serves the other three; only the refused one is left */
  uint32_t got[16];
  size_t seen = R.n; /* actions recorded so far (rec_requests counts from) */
  for (uint32_t c = 0; c < 4; c++) {
    if (c != a) {
      assert_int_equal(swarm_chunk_received(sw, 1, c, 1, 40), 0);
    }
  }
  assert_int_equal(swarm_chunk_has(sw, a), 0);
  assert_int_equal(swarm_chunks_unavailable(sw), 1);
  assert_int_equal(rec_requests(&R, seen, 1, got, 16), 0); /* the refusal is fresh */
  seen = R.n;
  swarm_tick(sw, 10 + cfg.request_timeout_ms + 1);
  size_t n = rec_requests(&R, seen, 1, got, 16);
  assert_int_equal(n, 1);
  assert_int_equal(got[0], a); /* asked again: its store may be repaired */
  assert_int_equal(swarm_chunk_received(sw, 1, a, 1, 10 + cfg.request_timeout_ms + 2), 0);
  assert_int_equal(swarm_chunks_unavailable(sw), 0);
  swarm_free(sw);
}

/* A request to the only source times out: it is re-issued to that source
 * after the backoff (before, the timeout was remembered as a refusal until
 * the peer announced the chunk again: the fetch starved). */
static void test_lone_timeout_is_retried_after_backoff(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  cfg.request_timeout_ms = 1000;
  struct swarm *sw = mk(&R, &cfg, 1, 0);
  connect_with(sw, 1, 1, 0, 1, 0);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  swarm_tick(sw, 1000);
  assert_true(rec_has(&R, SWARM_ACT_SEND_CANCEL, 1, 0));
  swarm_tick(sw, 1500);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  swarm_tick(sw, 2000);
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 2);
  assert_int_equal(swarm_chunk_received(sw, 1, 0, 1, 2100), 0);
  assert_int_equal(swarm_chunk_has(sw, 0), 1);
  swarm_free(sw);
}

/* An old refusal still stands while another peer could serve the chunk:
 * the refusing peer (e.g. a donor that said ELSEWHERE) is not asked again. */
static void test_refusal_stands_while_another_peer_has_it(void **state) {
  (void)state;
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  cfg.initial_window = 1;
  cfg.max_window = 1;
  cfg.request_timeout_ms = 1000;
  struct swarm *sw = mk(&R, &cfg, 2, 0);
  uint32_t a = 0, b = 0;
  connect_with(sw, 1, 2, 0, 2, 0);
  connect_with(sw, 2, 2, 0, 2, 0);
  assert_int_equal(rec_requests(&R, 0, 1, &a, 1), 1);
  assert_int_equal(rec_requests(&R, 0, 2, &b, 1), 1);
  assert_int_not_equal(a, b);
  assert_int_equal(swarm_peer_reject(sw, 1, a, SWARM_REJECT_ELSEWHERE, 10), 0);
  for (uint64_t t = 500; t <= 3000; t += 500) {
    swarm_chunk_data(sw, 2, b, 100, t); /* peer 2 is slow but alive */
    swarm_tick(sw, t);
  }
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
  assert_int_equal(swarm_chunk_received(sw, 2, b, 1, 3100), 0);
  assert_true(rec_has(&R, SWARM_ACT_SEND_REQUEST, 2, a));
  assert_int_equal(rec_count(&R, SWARM_ACT_SEND_REQUEST, 1), 1);
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
      cmocka_unit_test(test_lone_refusal_is_retried_after_backoff),
      cmocka_unit_test(test_lone_timeout_is_retried_after_backoff),
      cmocka_unit_test(test_chunk_refused_by_every_holder_is_unavailable),
      cmocka_unit_test(test_refusal_stands_while_another_peer_has_it),
      cmocka_unit_test(test_out_of_memory_is_clean),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_swarm_sim_converges_8),
      cmocka_unit_test(test_swarm_sim_converges_32),
      cmocka_unit_test(test_swarm_sim_replays_from_seed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

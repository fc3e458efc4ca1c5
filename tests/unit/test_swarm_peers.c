/* test_swarm_peers.c - unit tests for the swarm scheduler core with
 * scripted peers, on the peer side: dialing and replacing peers, bitfield
 * checks, upload slots, donor protection and lingering. */
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

static struct rec R; /* big: keep it off the stack */

/* --------------------------------------------------------------- peers */

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dials_up_to_degree_donor_first),
      cmocka_unit_test(test_idle_peer_is_replaced),
      cmocka_unit_test(test_peer_table_churn),
      cmocka_unit_test(test_bitfield_checks),
      cmocka_unit_test(test_upload_slots_queue_and_cancel),
      cmocka_unit_test(test_donor_protection_reveals_and_redirects),
      cmocka_unit_test(test_donor_stops_revealing_over_budget),
      cmocka_unit_test(test_linger_ends_when_idle_or_at_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

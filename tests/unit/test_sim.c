/* test_sim.c - tests of the swarm simulator (sim/): event ordering, the
 * bandwidth model against closed-form times and capacities, replay from a
 * seed, whole-swarm completion, donor failure and disruptions, and the same
 * with membership from the real gossip core (--gossip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "common/common.h"
#include "sim/sim.h"

static void small_config(struct sim_config *cfg, uint32_t nodes) {
  sim_config_default(cfg);
  cfg->nodes = nodes;
  cfg->size = 128ull << 20;
  cfg->chunk = 1u << 20;
  cfg->time_limit_s = 600.0;
}

static int run(const struct sim_config *cfg, struct sim **out_s,
               struct sim_result *r) {
  struct sim *s = NULL;
  assert_int_equal(sim_new(cfg, &s), 0);
  int rc = sim_run(s, r);
  if (out_s != NULL) {
    *out_s = s;
  } else {
    sim_free(s);
  }
  return rc;
}

static void test_evq_orders(void **state) {
  (void)state;
  struct sim_evq q;
  sim_evq_init(&q);
  uint64_t x = 12345;
  for (uint32_t i = 0; i < 5000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    struct sim_event ev = {.at = (x >> 33) % 100, .chunk = i};
    assert_int_equal(sim_evq_push(&q, &ev), 0);
  }
  struct sim_event prev;
  struct sim_event ev;
  assert_int_equal(sim_evq_pop(&q, &prev), 0);
  for (uint32_t i = 1; i < 5000; i++) {
    assert_true(sim_evq_peek(&q) != UINT64_MAX);
    assert_int_equal(sim_evq_pop(&q, &ev), 0);
    assert_true(ev.at >= prev.at);
    if (ev.at == prev.at) {
      assert_true(ev.seq > prev.seq);
      assert_true(ev.chunk > prev.chunk); /* FIFO among equal times */
    }
    prev = ev;
  }
  assert_int_equal(sim_evq_pop(&q, &ev), SM_ENOTFOUND);
  assert_true(sim_evq_peek(&q) == UINT64_MAX);
  sim_evq_cleanup(&q);
}

static void test_size_parse(void **state) {
  (void)state;
  double v = 0.0;
  assert_int_equal(sim_size_parse("125M", &v), 0);
  assert_true(v == 125e6);
  assert_int_equal(sim_size_parse("10Gi", &v), 0);
  assert_true(v == 10737418240.0);
  assert_int_equal(sim_size_parse("4MiB", &v), 0);
  assert_true(v == 4194304.0);
  assert_int_equal(sim_size_parse("0.5", &v), 0);
  assert_true(v == 0.5);
  assert_int_equal(sim_size_parse("12X", &v), SM_EINVAL);
  assert_int_equal(sim_size_parse("", &v), SM_EINVAL);
}

/* One recipient, donor faster than its download: F / d. */
static void test_one_recipient_time(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  small_config(&cfg, 1);
  cfg.size = 512ull << 20;
  cfg.chunk = 4u << 20;
  cfg.donor_up = 250e6;
  cfg.down = 100e6;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  double ideal = (double)cfg.size / 100e6;
  printf("1x1: %.3f s, ideal %.3f s (x%.3f)\n", r.max_s, ideal,
         r.max_s / ideal);
  assert_true(r.max_s >= ideal);
  assert_true(r.max_s <= 1.05 * ideal);
  assert_true(r.t_min_s > 0.999 * ideal && r.t_min_s < 1.001 * ideal);
}

static void test_replay_from_seed(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result a, b, c;
  struct sim *sa = NULL;
  struct sim *sb = NULL;
  small_config(&cfg, 12);
  cfg.loss = 0.01;
  cfg.seed = 7;
  assert_int_equal(run(&cfg, &sa, &a), 0);
  assert_int_equal(run(&cfg, &sb, &b), 0);
  assert_true(a.max_s == b.max_s && a.p50_s == b.p50_s);
  assert_true(a.donor_up == b.donor_up && a.bytes_moved == b.bytes_moved);
  assert_true(a.events == b.events);
  for (uint32_t i = 0; i < cfg.nodes; i++) {
    const struct sim_node_result *x = sim_node_get(sa, i);
    const struct sim_node_result *y = sim_node_get(sb, i);
    assert_true(x->completion_s == y->completion_s);
    assert_true(x->bytes_up == y->bytes_up);
  }
  sim_free(sa);
  sim_free(sb);
  cfg.seed = 8;
  assert_int_equal(run(&cfg, NULL, &c), 0);
  assert_true(c.events != a.events || c.max_s != a.max_s ||
              c.bytes_moved != a.bytes_moved);
}

static void test_twenty_nodes_complete(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  struct sim *s = NULL;
  small_config(&cfg, 20);
  assert_int_equal(run(&cfg, &s, &r), 0);
  assert_int_equal(r.complete, 20);
  uint32_t n = (uint32_t)(cfg.size / cfg.chunk);
  for (uint32_t i = 0; i < 20; i++) {
    const struct sim_node_result *x = sim_node_get(s, i);
    assert_true(x->complete);
    assert_int_equal(x->chunks, n);
    for (uint32_t c = 0; c < n; c++) {
      assert_true(sim_node_has(s, i, c));
    }
  }
  printf("20 nodes: max %.3f s, T_min %.3f s, donor %.2f x F\n", r.max_s,
         r.t_min_s, (double)r.donor_up / (double)cfg.size);
  assert_true(r.max_s < 2.0 * r.t_min_s);
  assert_true(r.donor_up < 2 * cfg.size);
  sim_free(s);
}

/* 20 recipients uploading at `up`, a 125 MB/s donor that dies at 2.5 s. */
static void donor_fail_config(struct sim_config *cfg, double up) {
  small_config(cfg, 20);
  cfg->up = up;
  cfg->donor_up = 125e6;
  cfg->donor_fail_at = 2.5;
}

/* Recipients upload slowly, so the swarm needs ~4 F/u_s; the donor has
 * pushed every chunk out long before it dies. */
static void test_donor_failure(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  donor_fail_config(&cfg, 25e6);
  assert_int_equal(run(&cfg, NULL, &r), 0);
  printf("donor fails at 2.5 s: donor sent %.2f x F, max %.3f s\n",
         (double)r.donor_up / (double)cfg.size, r.max_s);
  assert_int_equal(r.complete, 20);
  assert_true(r.donor_up >= cfg.size);
  assert_true(r.max_s > cfg.donor_fail_at);
}

/* Slow nodes and uneven fan-in: no link ever runs above its capacity. */
static void test_capacity_conservative(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  small_config(&cfg, 20);
  cfg.slow_fraction = 0.25;
  cfg.slow_factor = 4.0;
  cfg.down = 200e6;
  cfg.check_capacity = 1;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  printf("max link utilisation %.12f\n", r.max_util);
  assert_true(r.max_util <= 1.0 + 1e-9);
  assert_true(r.max_util > 0.99); /* and the links do get used */
  assert_int_equal(r.slow, 5);
}

static void test_disruptions_complete(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  small_config(&cfg, 16);
  cfg.churn = 0.25;
  cfg.churn_down_s = 0.5;
  cfg.late_count = 4;
  cfg.late_at = 0.5;
  cfg.loss = 0.02;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  assert_int_equal(r.complete, 20);
  printf("churn+late+loss: max %.3f s, T_min %.3f s\n", r.max_s, r.t_min_s);
}

/* ------------------------------------------------------------- --gossip */

/* The whole text and JSON report of one run, in a new heap string. */
static char *report_of(const struct sim_config *cfg, struct sim_result *r,
                       int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  *rc = run(cfg, NULL, r);
  sim_report_print(cfg, r, 0, f);
  sim_report_print(cfg, r, 1, f);
  assert_int_equal(fclose(f), 0);
  return buf;
}

static void test_gossip_twenty_nodes(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  struct sim *s = NULL;
  small_config(&cfg, 20);
  cfg.gossip = 1;
  assert_int_equal(run(&cfg, &s, &r), 0);
  assert_int_equal(r.complete, 20);
  uint32_t n = (uint32_t)(cfg.size / cfg.chunk);
  for (uint32_t i = 0; i < 20; i++) {
    assert_int_equal(sim_node_get(s, i)->chunks, n);
  }
  printf("gossip, 20 nodes: max %.3f s (T_min %.3f s), members %.3f s, "
         "%llu datagrams, %llu push-pulls\n",
         r.max_s, r.t_min_s, r.members_s,
         (unsigned long long)r.gossip_datagrams,
         (unsigned long long)r.gossip_streams);
  /* Everyone learned everyone through gossip, before the swarm finished. */
  assert_true(r.members_s > 0.0);
  assert_true(r.members_s < r.max_s);
  assert_true(r.gossip_datagrams > 0 && r.gossip_bytes > r.gossip_datagrams);
  assert_true(r.gossip_streams >= 20); /* each join is a push-pull */
  assert_true(r.gossip_bad_dials == 0);
  assert_true(r.max_s < 2.0 * r.t_min_s);
  sim_free(s);
  /* Without --gossip nothing is reported. */
  cfg.gossip = 0;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  assert_true(r.gossip_datagrams == 0 && r.members_s == 0.0);
}

static void test_gossip_replay(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result a, b, c;
  int rc_a = 0;
  int rc_b = 0;
  int rc_c = 0;
  small_config(&cfg, 20);
  cfg.gossip = 1;
  cfg.loss = 0.02;
  cfg.seed = 11;
  char *x = report_of(&cfg, &a, &rc_a);
  char *y = report_of(&cfg, &b, &rc_b);
  assert_int_equal(rc_a, 0);
  assert_int_equal(rc_b, 0);
  assert_string_equal(x, y);
  assert_true(a.gossip_lost > 0); /* --loss applies to datagrams */
  cfg.seed = 12;
  char *z = report_of(&cfg, &c, &rc_c);
  assert_int_equal(rc_c, 0);
  assert_true(strcmp(x, z) != 0);
  assert_true(a.gossip_datagrams != c.gossip_datagrams ||
              a.gossip_bytes != c.gossip_bytes || a.events != c.events);
  free(x);
  free(y);
  free(z);
}

/* The donor dies for good; recipients upload slowly, so the swarm runs long
 * after. SWIM must declare the donor dead at every live recipient, within
 * docs/gossip.md's bound T_first + T_susp_max + T_spread for n = 21 and
 * T = 1 s, and no sooner than the minimum suspicion (no removal by fiat). */
static void test_gossip_donor_failure(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  donor_fail_config(&cfg, 2e6);
  cfg.gossip = 1;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  double n = cfg.nodes + 1;
  double t_first = 2.0;
  double t_susp_min = 4.0 * fmax(1.0, log10(n));
  double t_susp_max = 6.0 * t_susp_min;
  double t_spread = ceil(log2(n)) + 1.0;
  double bound = t_first + t_susp_max + t_spread;
  double took = r.donor_dead_s - cfg.donor_fail_at;
  printf("gossip: donor dead everywhere %.3f s after it failed (bound %.1f s, "
         "min suspicion %.2f s); max %.3f s\n",
         took, bound, t_susp_min, r.max_s);
  assert_int_equal(r.complete, 20);
  assert_true(r.donor_dead_s > 0.0);
  assert_true(took >= t_susp_min);
  assert_true(took <= bound);
  assert_true(r.max_s > r.donor_dead_s); /* it was measured during the run */
}

/* Churn (even ids leave with gossip_leave, odd ids go silent), late joiners
 * that only know the donor, and datagram loss: every node completes and
 * membership converges again after the last disruption. */
static void test_gossip_disruptions(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  small_config(&cfg, 16);
  cfg.size = 1ull << 30;
  cfg.chunk = 4u << 20;
  cfg.gossip = 1;
  cfg.churn = 0.25;
  cfg.churn_down_s = 2.0;
  cfg.late_count = 4;
  cfg.late_at = 3.0;
  cfg.loss = 0.02;
  assert_int_equal(run(&cfg, NULL, &r), 0);
  printf("gossip churn+late+loss: max %.3f s, members %.3f s, lost %llu\n",
         r.max_s, r.members_s, (unsigned long long)r.gossip_lost);
  assert_int_equal(r.complete, 20);
  assert_true(r.members_s > cfg.late_at);
  assert_true(r.gossip_bad_dials == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_evq_orders),
      cmocka_unit_test(test_size_parse),
      cmocka_unit_test(test_one_recipient_time),
      cmocka_unit_test(test_replay_from_seed),
      cmocka_unit_test(test_twenty_nodes_complete),
      cmocka_unit_test(test_donor_failure),
      cmocka_unit_test(test_capacity_conservative),
      cmocka_unit_test(test_disruptions_complete),
      cmocka_unit_test(test_gossip_twenty_nodes),
      cmocka_unit_test(test_gossip_replay),
      cmocka_unit_test(test_gossip_donor_failure),
      cmocka_unit_test(test_gossip_disruptions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

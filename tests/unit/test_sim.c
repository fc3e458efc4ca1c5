/* test_sim.c - tests of the swarm simulator (sim/): event ordering, the
 * bandwidth model against closed-form times and capacities, replay from a
 * seed, whole-swarm completion, donor failure and disruptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Recipients upload slowly, so the swarm needs ~4 F/u_s; the donor has
 * pushed every chunk out long before it dies. */
static void test_donor_failure(void **state) {
  (void)state;
  struct sim_config cfg;
  struct sim_result r;
  small_config(&cfg, 20);
  cfg.up = 25e6;
  cfg.donor_up = 125e6;
  cfg.donor_fail_at = 2.5;
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_gossip_cluster.c - whole simulated clusters of gossip cores on the
 * fake network and virtual clock of gossip_harness.c: failure detection
 * bound, no false positives under loss, dissemination speed, partition heal,
 * graceful leave, refutation. Seeds are printed; set GOSSIP_SEED to replay. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/gossip_harness.h"

static uint64_t test_seed(uint64_t dflt) {
  const char *s = getenv("GOSSIP_SEED");
  return s != NULL ? strtoull(s, NULL, 10) : dflt;
}

struct tune {
  uint32_t gossip_interval_ms;
  uint32_t pushpull_interval_ms;
  uint32_t retransmit_mult;
  int set;
};

static void tune_apply(struct gossip_config *cfg, size_t idx, void *arg) {
  const struct tune *t = arg;
  (void)idx;
  if (t != NULL && t->set) {
    cfg->gossip_interval_ms = t->gossip_interval_ms;
    cfg->pushpull_interval_ms = t->pushpull_interval_ms;
    cfg->retransmit_mult = t->retransmit_mult;
  }
}

static struct cluster *mesh(size_t n, uint64_t seed, struct tune *t) {
  struct cluster *c = cluster_new(n, seed, tune_apply, t);
  uint64_t t0 = c->now;
  assert_true(cluster_run_until(c, cluster_fullmesh_cond, NULL, 120000));
  printf("# full mesh of %zu after %.1f s\n", n, (double)(c->now - t0) / 1000.0);
  return c;
}

struct subject {
  size_t idx;
  int status;
};

static int all_see_cond(struct cluster *c, void *arg) {
  const struct subject *s = arg;
  return cluster_all_see(c, s->idx, s->status);
}

/* Detection bound (docs/gossip.md): first failed probe within 2 probe
 * periods with high probability (round-robin makes ~N-1 probers), then the
 * Lifeguard suspicion timeout (max 6 * 4 * max(1, log10 N) s, shrinking to
 * the minimum with 2 independent confirmations), then ~log2 N periods to
 * spread "dead". For N = 20 the worst case is about 2 + 31.2 + 6 = 40 s; in
 * practice confirmations arrive in a few periods and it is ~10 s. */
static void test_killed_member_declared_dead(void **state) {
  (void)state;
  const size_t n = 20;
  struct cluster *c = mesh(n, test_seed(1), NULL);
  struct subject s = {7, GOSSIP_DEAD};
  uint64_t t0 = 0;
  double min_s = 4.0 * fmax(1.0, log10((double)n));
  double bound = 2.0 + 6.0 * min_s + ceil(log2((double)n)) + 1.0;
  cluster_kill(c, 7);
  t0 = c->now;
  assert_true(cluster_run_until(c, all_see_cond, &s, 120000));
  double took = (double)(c->now - t0) / 1000.0;
  printf("# N=%zu: killed node declared dead by all after %.1f s (bound %.1f s, min "
         "suspicion %.1f s)\n",
         n, took, bound, min_s);
  assert_true(took <= bound);
  /* Dead, not left; and nobody else was declared dead. */
  for (size_t i = 0; i < n; i++) {
    if (i != 7) {
      assert_int_equal(c->nodes[i].dead_events, 1);
    }
  }
  cluster_free(c);
}

/* 10% loss on every node (so ~19% per round trip), N=50, 10 virtual minutes:
 * no live member is ever declared dead. */
static void test_no_false_death_under_loss(void **state) {
  (void)state;
  const size_t n = 50;
  struct cluster *c = mesh(n, test_seed(2), NULL);
  uint64_t deaths = 0;
  uint64_t suspicions = 0;
  uint64_t refutations = 0;
  uint32_t max_health = 0;
  for (size_t i = 0; i < n; i++) {
    cluster_drop(c, i, 0.10);
  }
  for (int minute = 0; minute < 10; minute++) {
    cluster_run_for(c, 60000);
    for (size_t i = 0; i < n; i++) {
      uint32_t h = gossip_health_score(c->nodes[i].g);
      max_health = h > max_health ? h : max_health;
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct gossip_stats st;
    gossip_stats_get(c->nodes[i].g, &st);
    deaths += c->nodes[i].dead_events;
    suspicions += st.suspicions;
    refutations += st.refutations;
  }
  printf("# N=%zu, 10%% loss, 600 s: %llu dead events, %llu suspicions raised, %llu "
         "refutations, max health score %u, %llu packets delivered, %llu dropped\n",
         n, (unsigned long long)deaths, (unsigned long long)suspicions,
         (unsigned long long)refutations, max_health, (unsigned long long)c->delivered,
         (unsigned long long)c->dropped);
  assert_int_equal(deaths, 0);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      int st = cluster_status(c, i, j);
      assert_true(st == GOSSIP_ALIVE || st == GOSSIP_SUSPECT);
    }
  }
  cluster_free(c);
}

struct want_state {
  size_t origin;
  const char *key;
  const char *val;
};

static int has_state(struct cluster *c, size_t i, const struct want_state *w) {
  const uint8_t *val = NULL;
  size_t len = 0;
  if (c->nodes[i].g == NULL) {
    return 1;
  }
  if (i == w->origin) {
    return 1;
  }
  if (gossip_state_get(c->nodes[i].g, c->nodes[w->origin].id.public_key, w->key, &val, &len,
                       NULL) < 0) {
    return 0;
  }
  return len == strlen(w->val) && memcmp(val, w->val, len) == 0;
}

static int all_have_cond(struct cluster *c, void *arg) {
  const struct want_state *w = arg;
  for (size_t i = 0; i < c->n; i++) {
    if (!has_state(c, i, w)) {
      return 0;
    }
  }
  return 1;
}

/* Time until all nodes hold the update, from on_state timestamps. */
static double spread_time(struct cluster *c, const struct want_state *w, uint64_t t0) {
  uint64_t last = t0;
  for (size_t i = 0; i < c->n; i++) {
    if (i != w->origin && c->nodes[i].last_state_at > last) {
      last = c->nodes[i].last_state_at;
    }
  }
  return (double)(last - t0) / 1000.0;
}

/* k = 3: a state update reaches all of N = 100 within log2(N) * 3 ~ 20
 * probe periods (a) by piggybacking on probes alone (dedicated gossip and
 * push-pull off; retransmit_mult 2, since without push-pull a 1x budget
 * leaves a node uninformed in a few percent of runs) and (b) with the
 * defaults (200 ms gossip fan-out 3, 1x budget, push-pull 30 s). */
static void test_state_dissemination_speed(void **state) {
  (void)state;
  const size_t n = 100;
  const double k = 3.0;
  for (int variant = 0; variant < 2; variant++) {
    struct tune t = {0, 0, 2, 1};
    struct cluster *c = NULL;
    struct want_state w = {5, "manifest/abc", "v1"};
    uint64_t t0 = 0;
    if (variant == 1) {
      t.set = 0; /* defaults */
    }
    c = mesh(n, test_seed(3), &t);
    for (size_t i = 0; i < n; i++) {
      c->nodes[i].last_state_at = 0;
    }
    t0 = c->now;
    assert_int_equal(gossip_state_set(c->nodes[5].g, "manifest/abc", "v1", 2), 0);
    double bound = log2((double)n) * k;
    assert_true(cluster_run_until(c, all_have_cond, &w, (uint64_t)(bound * 1000) + 1000));
    double took = spread_time(c, &w, t0);
    printf("# N=%zu %s: update reached all in %.2f probe periods (bound log2(N)*%.0f = %.1f)\n",
           n, variant == 0 ? "probe piggyback only" : "default (200 ms gossip, fan-out 3)",
           took, k, bound);
    assert_true(took <= bound);
    cluster_free(c);
  }
}

static int healed_cond(struct cluster *c, void *arg) {
  const struct want_state *w = arg;
  if (!cluster_fullmesh_cond(c, NULL)) {
    return 0;
  }
  for (size_t i = 0; i < c->n; i++) {
    if (!has_state(c, i, &w[0]) || !has_state(c, i, &w[1])) {
      return 0;
    }
  }
  return 1;
}

/* Two halves cut apart long enough to declare each other dead, each side
 * updates state, then the cut heals: membership and state converge (dead
 * members are kept and occasionally push-pulled, which finds the other side). */
static void test_partition_heals(void **state) {
  (void)state;
  const size_t n = 20;
  struct cluster *c = mesh(n, test_seed(4), NULL);
  struct want_state w[2] = {{3, "progress", "fetch 40%"}, {15, "progress", "verify 90%"}};
  struct subject s = {15, GOSSIP_DEAD};
  for (size_t a = 0; a < n / 2; a++) {
    for (size_t b = n / 2; b < n; b++) {
      cluster_cut(c, a, b, 1);
    }
  }
  assert_int_equal(gossip_state_set(c->nodes[3].g, "progress", "fetch 40%", 9), 0);
  assert_int_equal(gossip_state_set(c->nodes[15].g, "progress", "verify 90%", 10), 0);
  cluster_run_for(c, 90000);
  assert_int_equal(cluster_status(c, 0, 15), GOSSIP_DEAD);
  assert_int_equal(cluster_status(c, 15, 0), GOSSIP_DEAD);
  (void)s;
  for (size_t a = 0; a < n / 2; a++) {
    for (size_t b = n / 2; b < n; b++) {
      cluster_cut(c, a, b, 0);
    }
  }
  uint64_t t0 = c->now;
  assert_true(cluster_run_until(c, healed_cond, w, 300000));
  printf("# N=%zu partition healed: membership and state converged %.1f s after the heal\n",
         n, (double)(c->now - t0) / 1000.0);
  cluster_free(c);
}

static void test_graceful_leave(void **state) {
  (void)state;
  const size_t n = 10;
  struct cluster *c = mesh(n, test_seed(5), NULL);
  struct subject s = {4, GOSSIP_LEFT};
  uint64_t t0 = c->now;
  assert_int_equal(gossip_leave(c->nodes[4].g, c->now), 0);
  cluster_run_for(c, 2000);
  cluster_kill(c, 4);
  int ok = cluster_run_until(c, all_see_cond, &s, 10000);
  if (!ok) {
    for (size_t i = 0; i < n; i++) {
      printf("# node %zu sees leaver as %d\n", i, cluster_status(c, i, 4));
    }
  }
  assert_true(ok);
  printf("# N=%zu leave known to all after %.1f s\n", n, (double)(c->now - t0) / 1000.0);
  cluster_run_for(c, 30000);
  assert_true(cluster_all_see(c, 4, GOSSIP_LEFT));
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(c->nodes[i].dead_events, 0);
  }
  cluster_free(c);
}

static int someone_suspects_cond(struct cluster *c, void *arg) {
  const size_t *who = arg;
  for (size_t i = 0; i < c->n; i++) {
    if (i != *who && cluster_status(c, i, *who) == GOSSIP_SUSPECT) {
      return 1;
    }
  }
  return 0;
}

/* Node 5 is cut off until someone suspects it; once back it refutes with a
 * higher incarnation and is never declared dead. */
static void test_refute_false_suspicion(void **state) {
  (void)state;
  const size_t n = 10;
  size_t who = 5;
  struct cluster *c = mesh(n, test_seed(6), NULL);
  struct gossip_stats st;
  uint64_t t0 = c->now;
  cluster_block(c, 5, 1);
  assert_true(cluster_run_until(c, someone_suspects_cond, &who, 10000));
  uint64_t suspicions = c->now - t0;
  cluster_block(c, 5, 0);
  cluster_run_for(c, 15000);
  gossip_stats_get(c->nodes[5].g, &st);
  printf("# node 5 blocked until first suspected (%.1f s); its refutations: %llu\n",
         (double)suspicions / 1000.0, (unsigned long long)st.refutations);
  assert_true(st.refutations >= 1);
  assert_true(cluster_all_see(c, 5, GOSSIP_ALIVE));
  for (size_t i = 0; i < n; i++) {
    struct gossip_member_info info;
    assert_int_equal(c->nodes[i].dead_events, 0);
    assert_int_equal(gossip_member_get(c->nodes[i].g, c->nodes[5].id.public_key, &info), 0);
    assert_true(info.incarnation >= 1);
  }
  cluster_free(c);
}

/* The same seed gives the same run. */
static void test_replay_is_deterministic(void **state) {
  (void)state;
  uint64_t sig[2];
  for (int r = 0; r < 2; r++) {
    struct cluster *c = cluster_new(8, 77, NULL, NULL);
    cluster_run_for(c, 20000);
    cluster_kill(c, 2);
    cluster_run_for(c, 20000);
    sig[r] = c->delivered * 1000003u + c->dropped;
    for (size_t i = 0; i < c->n; i++) {
      struct gossip_stats st;
      if (c->nodes[i].g != NULL) {
        gossip_stats_get(c->nodes[i].g, &st);
        sig[r] = sig[r] * 31 + st.tx_bytes + st.suspicions;
      }
    }
    cluster_free(c);
  }
  assert_true(sig[0] == sig[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_killed_member_declared_dead),
      cmocka_unit_test(test_no_false_death_under_loss),
      cmocka_unit_test(test_state_dissemination_speed),
      cmocka_unit_test(test_partition_heals),
      cmocka_unit_test(test_graceful_leave),
      cmocka_unit_test(test_refute_false_suspicion),
      cmocka_unit_test(test_replay_is_deterministic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

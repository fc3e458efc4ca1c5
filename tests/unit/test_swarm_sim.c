/* test_swarm_sim.c - a tiny deterministic discrete-event swarm: one donor
 * and N recipients running the real swarm core over a fluid network model
 * (per-node upload and download capacity shared max-min fairly, fixed
 * one-way latency, virtual 1 ms clock). Checks that everyone completes with
 * every chunk verified, that the donor uploads about one copy, and prints
 * the completion time against the fluid bound T_min. This is a check of the
 * core, not the full simulator in sim/. */
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

void test_swarm_sim_converges_8(void **state);
void test_swarm_sim_converges_32(void **state);
void test_swarm_sim_replays_from_seed(void **state);

#define SIM_MAX_NODES 40
#define SIM_MAX_CHUNKS 256

enum sim_msg_type {
  M_DIAL = 1, M_ACCEPT, M_REFUSE, M_CLOSE, M_BITFIELD, M_HAVE, M_REQUEST,
  M_CANCEL, M_REJECT, M_DATA_START, M_DATA_DONE,
};

struct sim_msg {
  uint64_t at;
  uint32_t from, to;
  int type;
  uint32_t chunk;
  int arg;
  uint8_t bits[SIM_MAX_CHUNKS / 8];
};

struct sim_flow {
  uint32_t from, to, chunk;
  double size, sent, rate;
  int frozen;
};

struct sim_act {
  uint32_t node;
  struct swarm_action a;
  uint8_t bits[SIM_MAX_CHUNKS / 8];
};

struct sim_node {
  struct swarm *sw;
  uint8_t truth[SIM_MAX_CHUNKS]; /* ground truth: verified content held */
  uint32_t verified;
  int complete, left;
  uint64_t complete_at;
};

struct sim {
  uint32_t nn;            /* nodes; 0 is the donor */
  uint32_t n;             /* chunks */
  uint32_t chunk_bytes;
  double up, down;        /* bytes per ms, same for every node */
  uint64_t lat;           /* one-way latency, ms */
  uint64_t now;
  struct sim_node node[SIM_MAX_NODES];
  uint8_t conn[SIM_MAX_NODES][SIM_MAX_NODES];
  struct sim_msg *q;      /* FIFO: every message has the same delay */
  size_t q_head, q_len, q_cap;
  struct sim_flow *flows;
  size_t nflows, flows_cap;
  int flows_dirty;
  struct sim_act *acts;   /* actions emitted during one core call */
  size_t acts_len, acts_cap;
  uint32_t cur;           /* node whose core is being called */
};

struct sim_result {
  uint64_t t_last, t_p50;
  double t_min;
  double donor_ratio;
  uint64_t wasted, donor_up;
};

static struct sim S; /* large: keep off the stack */

static void sim_emit(void *user, const struct swarm_action *act) {
  struct sim *s = user;
  if (s->acts_len == s->acts_cap) {
    s->acts_cap = s->acts_cap ? 2 * s->acts_cap : 256;
    s->acts = realloc(s->acts, s->acts_cap * sizeof(*s->acts));
    assert_non_null(s->acts);
  }
  struct sim_act *x = &s->acts[s->acts_len++];
  x->node = s->cur;
  x->a = *act;
  if (act->type == SWARM_ACT_SEND_BITFIELD) {
    assert_true(act->bits_len <= sizeof(x->bits));
    memcpy(x->bits, act->bits, act->bits_len);
  }
}

static void sim_push(struct sim *s, uint32_t from, uint32_t to, int type,
                     uint32_t chunk, int arg, const uint8_t *bits) {
  if (s->q_len == s->q_cap) {
    size_t cap = s->q_cap ? 2 * s->q_cap : 1024;
    struct sim_msg *q = malloc(cap * sizeof(*q));
    assert_non_null(q);
    for (size_t i = 0; i < s->q_len; i++) {
      q[i] = s->q[(s->q_head + i) % s->q_cap];
    }
    free(s->q);
    s->q = q;
    s->q_head = 0;
    s->q_cap = cap;
  }
  struct sim_msg *m = &s->q[(s->q_head + s->q_len++) % s->q_cap];
  m->at = s->now + s->lat;
  m->from = from;
  m->to = to;
  m->type = type;
  m->chunk = chunk;
  m->arg = arg;
  if (bits != NULL) {
    memcpy(m->bits, bits, (s->n + 7) / 8);
  }
}

static void flows_abort_between(struct sim *s, uint32_t a, uint32_t b) {
  for (size_t i = 0; i < s->nflows;) {
    struct sim_flow *f = &s->flows[i];
    if ((f->from == a && f->to == b) || (f->from == b && f->to == a)) {
      s->flows[i] = s->flows[--s->nflows];
      s->flows_dirty = 1;
    } else {
      i++;
    }
  }
}

static void sim_close(struct sim *s, uint32_t a, uint32_t b) {
  if (!s->conn[a][b]) {
    return;
  }
  s->conn[a][b] = 0;
  s->conn[b][a] = 0;
  flows_abort_between(s, a, b);
  sim_push(s, a, b, M_CLOSE, 0, 0, NULL);
}

static void sim_flush(struct sim *s);

/* Calls into node k's core are bracketed so emitted actions are tagged. */
#define CALL(s, k, expr)                                                       \
  do {                                                                         \
    (s)->cur = (k);                                                            \
    (void)(expr);                                                              \
  } while (0)

static void sim_leave(struct sim *s, uint32_t a) {
  s->node[a].left = 1;
  for (uint32_t b = 0; b < s->nn; b++) {
    sim_close(s, a, b);
  }
}

static void sim_act_run(struct sim *s, const struct sim_act *x) {
  uint32_t a = x->node;
  uint32_t b = x->a.peer;
  uint32_t c = x->a.chunk;
  switch (x->a.type) {
  case SWARM_ACT_CONNECT:
    sim_push(s, a, b, M_DIAL, 0, 0, NULL);
    break;
  case SWARM_ACT_DISCONNECT:
  case SWARM_ACT_BAN:
    sim_close(s, a, b);
    break;
  case SWARM_ACT_SEND_BITFIELD:
    sim_push(s, a, b, M_BITFIELD, 0, 0, x->bits);
    break;
  case SWARM_ACT_SEND_HAVE:
    sim_push(s, a, b, M_HAVE, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_REQUEST:
    sim_push(s, a, b, M_REQUEST, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_CANCEL:
    sim_push(s, a, b, M_CANCEL, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_REJECT:
    sim_push(s, a, b, M_REJECT, c, x->a.reason, NULL);
    break;
  case SWARM_ACT_UPLOAD_START: {
    assert_true(s->node[a].truth[c]); /* never serve what is not verified */
    assert_true(s->conn[a][b]);
    if (s->nflows == s->flows_cap) {
      s->flows_cap = s->flows_cap ? 2 * s->flows_cap : 256;
      s->flows = realloc(s->flows, s->flows_cap * sizeof(*s->flows));
      assert_non_null(s->flows);
    }
    struct sim_flow *f = &s->flows[s->nflows++];
    memset(f, 0, sizeof(*f));
    f->from = a;
    f->to = b;
    f->chunk = c;
    f->size = (double)s->chunk_bytes;
    s->flows_dirty = 1;
    sim_push(s, a, b, M_DATA_START, c, 0, NULL);
    break;
  }
  case SWARM_ACT_UPLOAD_CANCEL:
    for (size_t i = 0; i < s->nflows; i++) {
      struct sim_flow *f = &s->flows[i];
      if (f->from == a && f->to == b && f->chunk == c) {
        uint64_t sent = (uint64_t)f->sent;
        s->flows[i] = s->flows[--s->nflows];
        s->flows_dirty = 1;
        CALL(s, a, swarm_upload_done(s->node[a].sw, b, c, sent, s->now));
        break;
      }
    }
    break;
  case SWARM_ACT_COMPLETE:
    s->node[a].complete = 1;
    s->node[a].complete_at = s->now;
    break;
  case SWARM_ACT_LINGER_DONE:
    sim_leave(s, a);
    break;
  }
}

static void sim_flush(struct sim *s) {
  for (size_t i = 0; i < s->acts_len; i++) {
    struct sim_act x = s->acts[i]; /* acts may grow while running */
    sim_act_run(s, &x);
  }
  s->acts_len = 0;
}

static void sim_deliver(struct sim *s, const struct sim_msg *m) {
  uint32_t a = m->from;
  uint32_t b = m->to;
  struct sim_node *nb = &s->node[b];
  uint32_t flags_a = a == 0 ? SWARM_PEER_DONOR : 0;
  int rc = 0;
  if (nb->left) {
    if (m->type == M_DIAL) {
      sim_push(s, b, a, M_REFUSE, 0, 0, NULL);
    }
    return;
  }
  switch (m->type) {
  case M_DIAL:
    s->cur = b;
    rc = swarm_peer_connected(nb->sw, a, flags_a, s->now);
    if (rc == 0) {
      s->conn[a][b] = 1;
      s->conn[b][a] = 1;
      sim_push(s, b, a, M_ACCEPT, 0, 0, NULL); /* before our bitfield */
    } else if (rc != SM_EEXIST) {
      sim_push(s, b, a, M_REFUSE, 0, 0, NULL);
    }
    break;
  case M_ACCEPT:
    if (!s->conn[a][b]) {
      break; /* closed meanwhile */
    }
    s->cur = b;
    rc = swarm_peer_connected(nb->sw, a, flags_a, s->now);
    if (rc != 0 && rc != SM_EEXIST) {
      sim_close(s, b, a);
    }
    break;
  case M_REFUSE:
    CALL(s, b, swarm_peer_connect_failed(nb->sw, a, s->now));
    break;
  case M_CLOSE:
    CALL(s, b, swarm_peer_disconnected(nb->sw, a, s->now));
    break;
  default:
    if (!s->conn[a][b]) {
      break; /* stale: the connection is gone */
    }
    s->cur = b;
    if (m->type == M_BITFIELD) {
      rc = swarm_peer_bitfield(nb->sw, a, m->bits, (s->n + 7) / 8, s->now);
    } else if (m->type == M_HAVE) {
      rc = swarm_peer_have(nb->sw, a, m->chunk, s->now);
    } else if (m->type == M_REQUEST) {
      rc = swarm_peer_request(nb->sw, a, m->chunk, s->now);
    } else if (m->type == M_CANCEL) {
      rc = swarm_peer_cancel(nb->sw, a, m->chunk, s->now);
    } else if (m->type == M_REJECT) {
      rc = swarm_peer_reject(nb->sw, a, m->chunk, m->arg, s->now);
    } else if (m->type == M_DATA_START) {
      rc = swarm_chunk_data(nb->sw, a, m->chunk, 0, s->now);
    } else if (m->type == M_DATA_DONE) {
      /* "Verification": the content came from a node that held it. */
      if (!nb->truth[m->chunk]) {
        nb->truth[m->chunk] = 1;
        nb->verified++;
      }
      rc = swarm_chunk_received(nb->sw, a, m->chunk, 1, s->now);
    }
    assert_true(rc == 0 || rc == SM_ENOTFOUND);
    break;
  }
  sim_flush(s);
}

/* Max-min fair rates by progressive filling over node up/down links. */
static void flows_rates(struct sim *s) {
  double res[2 * SIM_MAX_NODES];
  uint32_t cnt[2 * SIM_MAX_NODES];
  for (uint32_t i = 0; i < s->nn; i++) {
    res[2 * i] = s->up;
    res[2 * i + 1] = s->down;
  }
  for (size_t i = 0; i < s->nflows; i++) {
    s->flows[i].rate = 0.0;
    s->flows[i].frozen = 0;
  }
  for (;;) {
    memset(cnt, 0, sizeof(cnt));
    for (size_t i = 0; i < s->nflows; i++) {
      if (!s->flows[i].frozen) {
        cnt[2 * s->flows[i].from]++;
        cnt[2 * s->flows[i].to + 1]++;
      }
    }
    double inc = -1.0;
    for (uint32_t l = 0; l < 2 * s->nn; l++) {
      if (cnt[l] > 0 && (inc < 0.0 || res[l] / cnt[l] < inc)) {
        inc = res[l] / cnt[l];
      }
    }
    if (inc < 0.0) {
      break;
    }
    for (size_t i = 0; i < s->nflows; i++) {
      struct sim_flow *f = &s->flows[i];
      if (!f->frozen) {
        f->rate += inc;
        res[2 * f->from] -= inc;
        res[2 * f->to + 1] -= inc;
      }
    }
    for (size_t i = 0; i < s->nflows; i++) {
      struct sim_flow *f = &s->flows[i];
      if (!f->frozen && (res[2 * f->from] < 1e-9 || res[2 * f->to + 1] < 1e-9)) {
        f->frozen = 1;
      }
    }
  }
  s->flows_dirty = 0;
}

static void flows_step(struct sim *s) {
  struct sim_flow done[4 * SIM_MAX_NODES * 16];
  size_t ndone = 0;
  if (s->flows_dirty) {
    flows_rates(s);
  }
  for (size_t i = 0; i < s->nflows;) {
    struct sim_flow *f = &s->flows[i];
    f->sent += f->rate;
    if (f->sent + 1e-6 < f->size) {
      i++;
      continue;
    }
    assert_true(ndone < SM_ARRAY_LEN(done));
    done[ndone++] = *f;
    s->flows[i] = s->flows[--s->nflows];
    s->flows_dirty = 1;
  }
  for (size_t i = 0; i < ndone; i++) {
    struct sim_flow *f = &done[i];
    sim_push(s, f->from, f->to, M_DATA_DONE, f->chunk, 0, NULL);
    CALL(s, f->from, swarm_upload_done(s->node[f->from].sw, f->to, f->chunk,
                                       (uint64_t)f->size, s->now));
    sim_flush(s);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void sim_run(uint32_t recipients, uint64_t seed, struct sim_result *out) {
  struct sim *s = &S;
  memset(s, 0, sizeof(*s));
  s->nn = recipients + 1;
  s->n = 128;
  s->chunk_bytes = 1u << 20;
  s->up = 100.0 * 1024 * 1024 / 1000.0; /* 100 MiB/s */
  s->down = s->up;
  s->lat = 2;
  assert_true(s->nn <= SIM_MAX_NODES);
  uint32_t sizes[SIM_MAX_CHUNKS];
  uint8_t all[SIM_MAX_CHUNKS / 8];
  for (uint32_t i = 0; i < s->n; i++) {
    sizes[i] = s->chunk_bytes;
  }
  memset(all, 0xff, sizeof(all));
  struct swarm_ops ops = {.user = s, .emit = sim_emit};
  for (uint32_t k = 0; k < s->nn; k++) {
    struct swarm_config cfg;
    swarm_config_default(&cfg);
    cfg.seed = seed * 1000 + k;
    cfg.tick_ms = 20;
    cfg.max_peers = 8;
    cfg.max_conns = k == 0 ? s->nn : 16;
    cfg.upload_slots = 4;
    cfg.linger_idle_ms = 500;
    cfg.linger_max_ms = 60000;
    if (k == 0) {
      cfg.role = SWARM_ROLE_DONOR;
      memset(s->node[k].truth, 1, s->n);
      s->node[k].verified = s->n;
      s->node[k].complete = 1;
    }
    assert_int_equal(swarm_new(&cfg, &ops, s->n, sizes, k == 0 ? all : NULL,
                               &s->node[k].sw),
                     0);
  }
  for (uint32_t k = 1; k < s->nn; k++) {
    for (uint32_t j = 0; j < s->nn; j++) {
      if (j != k) {
        CALL(s, k, swarm_candidate_add(s->node[k].sw, j,
                                       j == 0 ? SWARM_PEER_DONOR : 0, 0));
      }
    }
    sim_flush(s);
  }
  const uint64_t limit = 120000;
  uint32_t done = 0;
  for (s->now = 0; s->now < limit && done < recipients; s->now++) {
    while (s->q_len > 0 && s->q[s->q_head].at <= s->now) {
      struct sim_msg m = s->q[s->q_head];
      s->q_head = (s->q_head + 1) % s->q_cap;
      s->q_len--;
      sim_deliver(s, &m);
    }
    flows_step(s);
    for (uint32_t k = 0; k < s->nn; k++) {
      if (!s->node[k].left && (s->now + k) % 20 == 0) {
        CALL(s, k, (swarm_tick(s->node[k].sw, s->now), 0));
        sim_flush(s);
      }
    }
    done = 0;
    for (uint32_t k = 1; k < s->nn; k++) {
      done += (uint32_t)s->node[k].complete;
    }
  }
  assert_int_equal(done, recipients);

  uint64_t times[SIM_MAX_NODES];
  double F = (double)s->n * s->chunk_bytes;
  memset(out, 0, sizeof(*out));
  for (uint32_t k = 1; k < s->nn; k++) {
    struct swarm_stats st;
    swarm_stats_get(s->node[k].sw, &st);
    assert_int_equal(s->node[k].verified, s->n);
    assert_int_equal(st.chunks_have, s->n);
    assert_int_equal(st.chunks_bad, 0);
    for (uint32_t c = 0; c < s->n; c++) {
      assert_true(swarm_chunk_has(s->node[k].sw, c));
    }
    times[k - 1] = s->node[k].complete_at;
    out->wasted += st.bytes_wasted;
  }
  qsort(times, recipients, sizeof(times[0]), cmp_u64);
  out->t_last = times[recipients - 1];
  out->t_p50 = times[recipients / 2];
  struct swarm_stats ds;
  swarm_stats_get(s->node[0].sw, &ds);
  out->donor_up = ds.bytes_up;
  out->donor_ratio = (double)ds.bytes_up / F;
  double tmin = F / s->up;
  double agg = (double)recipients * F / (s->up * (double)s->nn);
  out->t_min = tmin > agg ? tmin : agg;

  for (uint32_t k = 0; k < s->nn; k++) {
    swarm_free(s->node[k].sw);
  }
  free(s->q);
  free(s->flows);
  free(s->acts);
  memset(s, 0, sizeof(*s));
}

static void sim_report(uint32_t recipients, uint64_t seed,
                       const struct sim_result *r) {
  printf("swarm sim: seed=%llu donor+%u recipients, F=128 MiB, 100 MiB/s links, "
         "2 ms latency: last done %llu ms, p50 %llu ms, T_min %.0f ms "
         "(x%.2f), donor upload %.2f x F, wasted %.1f MiB\n",
         (unsigned long long)seed, recipients, (unsigned long long)r->t_last,
         (unsigned long long)r->t_p50, r->t_min, (double)r->t_last / r->t_min,
         r->donor_ratio, (double)r->wasted / 1048576.0);
}

void test_swarm_sim_converges_8(void **state) {
  (void)state;
  struct sim_result r;
  sim_run(8, 1, &r);
  sim_report(8, 1, &r);
  assert_true(r.donor_ratio <= 1.5);
  assert_true((double)r.t_last <= 3.0 * r.t_min);
}

void test_swarm_sim_converges_32(void **state) {
  (void)state;
  struct sim_result r;
  sim_run(32, 2, &r);
  sim_report(32, 2, &r);
  assert_true(r.donor_ratio <= 1.5);
  assert_true((double)r.t_last <= 3.0 * r.t_min);
}

void test_swarm_sim_replays_from_seed(void **state) {
  (void)state;
  struct sim_result a, b;
  sim_run(16, 3, &a);
  sim_run(16, 3, &b);
  sim_report(16, 3, &a);
  assert_int_equal(a.t_last, b.t_last);
  assert_int_equal(a.donor_up, b.donor_up);
  assert_int_equal(a.wasted, b.wasted);
}

/* net.c - the simulator's fluid bandwidth model. Every chunk transfer is a
 * flow from a sender's upload link to a receiver's download link. When a
 * flow starts or ends, the rates around it are reshared in two local
 * water-filling passes:
 *
 *   1. each affected receiver r splits its download D_r over its incoming
 *      flows, max-min fairly, treating each flow's demand as its sender's
 *      equal share U_s/m_s: that gives every flow a cap;
 *   2. each sender s whose flows' caps changed splits its upload U_s over
 *      its outgoing flows, max-min fairly under those caps: the rates.
 *
 * Rates never exceed either capacity (conservative), uploads are work
 * conserving, and a receiver's share left unused by a slow sender goes to
 * its other senders. It is not exact global max-min (that would need a
 * progressive filling over all flows on every change); docs/simulation.md
 * discusses the difference. Completion times live in an indexed min-heap
 * of senders keyed by their earliest finishing flow. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"
#include "sim/sim_internal.h"

static int ids_push(struct sim__ids *l, uint32_t id, uint32_t *out_idx) {
  if (l->len == l->cap) {
    uint32_t cap = l->cap ? 2 * l->cap : 8;
    uint32_t *v = sm_realloc(l->v, cap * sizeof(*v));
    if (v == NULL) {
      return SM_ENOMEM;
    }
    l->v = v;
    l->cap = cap;
  }
  *out_idx = l->len;
  l->v[l->len++] = id;
  return 0;
}

/* ------------------------------------------------- completion heap */

static int cheap_less(const struct sim *s, uint32_t a, uint32_t b) {
  uint64_t x = s->node[a].next_done;
  uint64_t y = s->node[b].next_done;
  return x != y ? x < y : a < b;
}

static void cheap_set(struct sim *s, uint32_t i, uint32_t k) {
  s->cheap[i] = k;
  s->node[k].heap_pos = i;
}

static void cheap_up(struct sim *s, uint32_t i) {
  uint32_t k = s->cheap[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!cheap_less(s, k, s->cheap[p])) {
      break;
    }
    cheap_set(s, i, s->cheap[p]);
    i = p;
  }
  cheap_set(s, i, k);
}

static void cheap_down(struct sim *s, uint32_t i) {
  uint32_t k = s->cheap[i];
  for (;;) {
    uint32_t l = 2 * i + 1;
    if (l >= s->cheap_len) {
      break;
    }
    uint32_t m = l;
    if (l + 1 < s->cheap_len && cheap_less(s, s->cheap[l + 1], s->cheap[l])) {
      m = l + 1;
    }
    if (!cheap_less(s, s->cheap[m], k)) {
      break;
    }
    cheap_set(s, i, s->cheap[m]);
    i = m;
  }
  cheap_set(s, i, k);
}

void sim__net_schedule(struct sim *s, uint32_t k) {
  struct sim__node *nd = &s->node[k];
  uint64_t best = UINT64_MAX;
  for (uint32_t i = 0; i < nd->out.len; i++) {
    const struct sim__flow *f = &s->flows[nd->out.v[i]];
    double left = f->size - f->sent;
    uint64_t at = f->t_upd;
    if (left > 1e-3) {
      at += (uint64_t)ceil(left / f->rate);
    }
    if (at < best) {
      best = at;
    }
  }
  nd->next_done = best;
  if (best == UINT64_MAX) {
    if (nd->heap_pos != SIM__NONE) {
      uint32_t i = nd->heap_pos;
      uint32_t last = s->cheap[--s->cheap_len];
      nd->heap_pos = SIM__NONE;
      if (i < s->cheap_len) {
        cheap_set(s, i, last);
        cheap_up(s, i);
        cheap_down(s, s->node[last].heap_pos);
      }
    }
    return;
  }
  if (nd->heap_pos == SIM__NONE) {
    cheap_set(s, s->cheap_len++, k);
    cheap_up(s, s->cheap_len - 1);
    return;
  }
  cheap_up(s, nd->heap_pos);
  cheap_down(s, nd->heap_pos);
}

uint32_t sim__net_next(const struct sim *s, uint64_t *at) {
  if (s->cheap_len == 0) {
    *at = UINT64_MAX;
    return SIM__NONE;
  }
  *at = s->node[s->cheap[0]].next_done;
  return s->cheap[0];
}

/* ------------------------------------------------------ water-filling */

/* Splits capacity c over n demands (wf_cap[0..n)), max-min fairly; writes
 * the shares back into wf_cap. Returns the water level: the share of an
 * unsatisfied demand, or c when every demand fits. */
static double waterfill(double *d, uint32_t n, double c) {
  uint8_t frozen_small[64];
  uint8_t *frozen = frozen_small;
  uint8_t big[1024];
  if (n > sizeof(frozen_small)) {
    frozen = n <= sizeof(big) ? big : NULL;
  }
  if (frozen == NULL) {
    /* Very wide fan-in (a donor-only scenario): equal shares, still
     * conservative. */
    for (uint32_t i = 0; i < n; i++) {
      d[i] = fmin(d[i], c / n);
    }
    return c / n;
  }
  memset(frozen, 0, n);
  uint32_t left = n;
  double rem = c;
  double level = c;
  while (left > 0) {
    level = rem / left;
    int changed = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (!frozen[i] && d[i] <= level) {
        frozen[i] = 1;
        rem -= d[i];
        left--;
        changed = 1;
      }
    }
    if (!changed) {
      for (uint32_t i = 0; i < n; i++) {
        if (!frozen[i]) {
          d[i] = level;
        }
      }
      return level;
    }
  }
  return c;
}

static int wf_reserve(struct sim *s, uint32_t n) {
  if (n <= s->wf_cap_len) {
    return 0;
  }
  uint32_t cap = n < 64 ? 64 : 2 * n;
  double *c = sm_realloc(s->wf_cap, cap * sizeof(*c));
  if (c == NULL) {
    return SM_ENOMEM;
  }
  s->wf_cap = c;
  s->wf_cap_len = cap;
  return 0;
}

static void receiver_fill(struct sim *s, uint32_t r) {
  struct sim__node *nd = &s->node[r];
  if (nd->in.len == 0 || wf_reserve(s, nd->in.len) != 0) {
    return;
  }
  for (uint32_t i = 0; i < nd->in.len; i++) {
    const struct sim__flow *f = &s->flows[nd->in.v[i]];
    const struct sim__node *snd = &s->node[f->from];
    /* Demand: what the sender gave its uncapped flows last time, at least
     * its equal share. */
    s->wf_cap[i] = fmax(snd->up / snd->out.len, snd->level);
  }
  (void)waterfill(s->wf_cap, nd->in.len, nd->down);
  for (uint32_t i = 0; i < nd->in.len; i++) {
    s->flows[nd->in.v[i]].cap = s->wf_cap[i];
  }
}

void sim__flow_advance(struct sim *s, struct sim__flow *f) {
  if (s->now > f->t_upd) {
    f->sent += f->rate * (double)(s->now - f->t_upd);
    if (f->sent > f->size) {
      f->sent = f->size;
    }
    f->t_upd = s->now;
  }
}

static void sender_fill(struct sim *s, uint32_t k) {
  struct sim__node *nd = &s->node[k];
  if (nd->out.len > 0 && wf_reserve(s, nd->out.len) == 0) {
    for (uint32_t i = 0; i < nd->out.len; i++) {
      s->wf_cap[i] = s->flows[nd->out.v[i]].cap;
    }
    nd->level = waterfill(s->wf_cap, nd->out.len, nd->up);
    for (uint32_t i = 0; i < nd->out.len; i++) {
      struct sim__flow *f = &s->flows[nd->out.v[i]];
      sim__flow_advance(s, f);
      f->rate = s->wf_cap[i];
      s->flow_updates++;
    }
  }
  sim__net_schedule(s, k);
}

static double util_of(const struct sim *s, const struct sim__ids *l,
                      double capacity) {
  double sum = 0.0;
  for (uint32_t i = 0; i < l->len; i++) {
    sum += s->flows[l->v[i]].rate;
  }
  return capacity > 0.0 ? sum / capacity : 0.0;
}

/* Exact global max-min fairness by progressive filling over every flow
 * and link: O(links x flows) per change, for validating the local model on
 * small scenarios (--exact-share). */
static void net_exact(struct sim *s) {
  uint32_t nn = s->nn;
  double *res = s->exact_res;
  uint32_t *cnt = s->exact_cnt;
  for (uint32_t k = 0; k < nn; k++) {
    res[2 * k] = s->node[k].up;
    res[2 * k + 1] = s->node[k].down;
    for (uint32_t i = 0; i < s->node[k].out.len; i++) {
      struct sim__flow *f = &s->flows[s->node[k].out.v[i]];
      sim__flow_advance(s, f);
      f->rate = 0.0;
      f->cap = 0.0; /* 0: still growing, 1: frozen */
    }
  }
  for (;;) {
    memset(cnt, 0, 2 * nn * sizeof(*cnt));
    for (uint32_t k = 0; k < nn; k++) {
      for (uint32_t i = 0; i < s->node[k].out.len; i++) {
        const struct sim__flow *f = &s->flows[s->node[k].out.v[i]];
        if (f->cap == 0.0) {
          cnt[2 * f->from]++;
          cnt[2 * f->to + 1]++;
        }
      }
    }
    double inc = -1.0;
    for (uint32_t l = 0; l < 2 * nn; l++) {
      if (cnt[l] > 0 && (inc < 0.0 || res[l] / cnt[l] < inc)) {
        inc = res[l] / cnt[l];
      }
    }
    if (inc < 0.0) {
      break;
    }
    for (uint32_t k = 0; k < nn; k++) {
      for (uint32_t i = 0; i < s->node[k].out.len; i++) {
        struct sim__flow *f = &s->flows[s->node[k].out.v[i]];
        if (f->cap == 0.0) {
          f->rate += inc;
          res[2 * f->from] -= inc;
          res[2 * f->to + 1] -= inc;
        }
      }
    }
    for (uint32_t k = 0; k < nn; k++) {
      for (uint32_t i = 0; i < s->node[k].out.len; i++) {
        struct sim__flow *f = &s->flows[s->node[k].out.v[i]];
        if (f->cap == 0.0 && (res[2 * f->from] <= 1e-12 * s->node[f->from].up ||
                              res[2 * f->to + 1] <= 1e-12 * s->node[f->to].down)) {
          f->cap = 1.0;
        }
      }
    }
  }
  for (uint32_t k = 0; k < nn; k++) {
    s->flow_updates += s->node[k].out.len;
    sim__net_schedule(s, k);
    if (s->cfg.check_capacity) {
      s->max_util = fmax(s->max_util, util_of(s, &s->node[k].out, s->node[k].up));
      s->max_util = fmax(s->max_util, util_of(s, &s->node[k].in, s->node[k].down));
    }
  }
}

/* Reshares after a flow between snd and rcv started or ended. */
static void net_reshare(struct sim *s, uint32_t snd, uint32_t rcv) {
  if (s->cfg.exact_share) {
    net_exact(s);
    return;
  }
  uint32_t nr = 0;
  uint32_t ns = 0;
  s->stamp++;
  s->node[rcv].stamp = s->stamp;
  s->scratch_a[nr++] = rcv;
  const struct sim__node *sn = &s->node[snd];
  for (uint32_t i = 0; i < sn->out.len; i++) {
    uint32_t r = s->flows[sn->out.v[i]].to;
    if (s->node[r].stamp != s->stamp) {
      s->node[r].stamp = s->stamp;
      s->scratch_a[nr++] = r;
    }
  }
  s->stamp++;
  s->node[snd].stamp = s->stamp;
  s->scratch_b[ns++] = snd;
  for (uint32_t j = 0; j < nr; j++) {
    const struct sim__node *rn = &s->node[s->scratch_a[j]];
    receiver_fill(s, s->scratch_a[j]);
    for (uint32_t i = 0; i < rn->in.len; i++) {
      uint32_t y = s->flows[rn->in.v[i]].from;
      if (s->node[y].stamp != s->stamp) {
        s->node[y].stamp = s->stamp;
        s->scratch_b[ns++] = y;
      }
    }
  }
  for (uint32_t j = 0; j < ns; j++) {
    sender_fill(s, s->scratch_b[j]);
  }
  /* Second round: receivers re-split with the senders' new levels. */
  for (uint32_t j = 0; j < nr; j++) {
    receiver_fill(s, s->scratch_a[j]);
  }
  for (uint32_t j = 0; j < ns; j++) {
    sender_fill(s, s->scratch_b[j]);
  }
  if (s->cfg.check_capacity) {
    for (uint32_t j = 0; j < nr; j++) {
      const struct sim__node *rn = &s->node[s->scratch_a[j]];
      s->max_util = fmax(s->max_util, util_of(s, &rn->in, rn->down));
    }
    for (uint32_t j = 0; j < ns; j++) {
      const struct sim__node *y = &s->node[s->scratch_b[j]];
      s->max_util = fmax(s->max_util, util_of(s, &y->out, y->up));
    }
  }
}

uint32_t sim__flow_start(struct sim *s, uint32_t from, uint32_t to,
                         uint32_t chunk, uint32_t gen) {
  if (s->free_flow == SIM__NONE) {
    uint32_t cap = s->flows_cap ? 2 * s->flows_cap : 1024;
    struct sim__flow *v = sm_realloc(s->flows, cap * sizeof(*v));
    if (v == NULL) {
      s->err = SM_ENOMEM;
      return SIM__NONE;
    }
    s->flows = v;
    for (uint32_t i = s->flows_cap; i < cap; i++) {
      v[i].live = 0;
      v[i].next_free = i + 1 < cap ? i + 1 : SIM__NONE;
    }
    s->free_flow = s->flows_cap;
    s->flows_cap = cap;
  }
  uint32_t id = s->free_flow;
  struct sim__flow *f = &s->flows[id];
  s->free_flow = f->next_free;
  memset(f, 0, sizeof(*f));
  f->live = 1;
  f->from = from;
  f->to = to;
  f->chunk = chunk;
  f->gen = gen;
  f->size = (double)s->chunk_bytes[chunk];
  f->t_upd = s->now;
  f->start_us = s->now;
  f->rate = 1e-9;
  if (ids_push(&s->node[from].out, id, &f->out_idx) != 0 ||
      ids_push(&s->node[to].in, id, &f->in_idx) != 0) {
    s->err = SM_ENOMEM;
    return SIM__NONE;
  }
  net_reshare(s, from, to);
  return id;
}

static void ids_remove(struct sim *s, struct sim__ids *l, uint32_t idx,
                       int out_side) {
  uint32_t moved = l->v[--l->len];
  if (idx < l->len) {
    l->v[idx] = moved;
    if (out_side) {
      s->flows[moved].out_idx = idx;
    } else {
      s->flows[moved].in_idx = idx;
    }
  }
}

void sim__flow_stop(struct sim *s, uint32_t id) {
  struct sim__flow *f = &s->flows[id];
  uint32_t from = f->from;
  uint32_t to = f->to;
  ids_remove(s, &s->node[from].out, f->out_idx, 1);
  ids_remove(s, &s->node[to].in, f->in_idx, 0);
  f->live = 0;
  f->next_free = s->free_flow;
  s->free_flow = id;
  net_reshare(s, from, to);
}

int sim__net_init(struct sim *s) {
  s->free_flow = SIM__NONE;
  s->cheap = sm_calloc(s->nn, sizeof(*s->cheap));
  s->scratch_a = sm_calloc(s->nn, sizeof(*s->scratch_a));
  s->scratch_b = sm_calloc(s->nn, sizeof(*s->scratch_b));
  if (s->cheap == NULL || s->scratch_a == NULL || s->scratch_b == NULL ||
      wf_reserve(s, 64) != 0) {
    return SM_ENOMEM;
  }
  if (s->cfg.exact_share) {
    s->exact_res = sm_calloc(2 * (size_t)s->nn, sizeof(*s->exact_res));
    s->exact_cnt = sm_calloc(2 * (size_t)s->nn, sizeof(*s->exact_cnt));
    if (s->exact_res == NULL || s->exact_cnt == NULL) {
      return SM_ENOMEM;
    }
  }
  for (uint32_t k = 0; k < s->nn; k++) {
    s->node[k].heap_pos = SIM__NONE;
    s->node[k].next_done = UINT64_MAX;
    s->node[k].level = s->node[k].up;
  }
  return 0;
}

void sim__net_cleanup(struct sim *s) {
  for (uint32_t k = 0; s->node != NULL && k < s->nn; k++) {
    sm_free(s->node[k].out.v);
    sm_free(s->node[k].in.v);
  }
  sm_free(s->flows);
  sm_free(s->cheap);
  sm_free(s->scratch_a);
  sm_free(s->scratch_b);
  sm_free(s->wf_cap);
  sm_free(s->exact_res);
  sm_free(s->exact_cnt);
}

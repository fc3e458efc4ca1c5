/* sim.c - the simulated world: one real swarm core per node, an in-memory
 * network of connections and timed messages (events in evq.c, chunk bytes
 * as fluid flows in net.c), per-node ticks, and the scenario's disruptions
 * (churn, donor failure, late joins). With --gossip, membership comes from
 * gossip_link.c instead of being known from the start. The main loop always
 * processes the earliest of: a flow finishing at its sender, or a queued
 * event.
 *
 *   core A --emit--> action queue --flush--> message (now + latency) --> core B
 *                                   \--> UPLOAD_START: flow A->B; the
 *                                        receiver gets the first byte at
 *                                        start + latency, progress on its
 *                                        ticks, the end at finish + latency
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "sim/sim_internal.h"

enum sim__ev_type {
  EV_DIAL = 1,
  EV_ACCEPT,
  EV_REFUSE,
  EV_CLOSE,
  EV_BITFIELD,
  EV_HAVE,
  EV_REQUEST,
  EV_CANCEL,
  EV_REJECT,
  EV_DATA_FIRST,
  EV_DATA_DONE,
  EV_TICK,
  EV_LEAVE,
  EV_RETURN,
  EV_JOIN,
  EV_DONOR_FAIL,
};

void sim_config_default(struct sim_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->nodes = 10;
  cfg->size = 1ull << 30;
  cfg->chunk = 4u << 20;
  cfg->up = 125e6;
  cfg->down = 125e6;
  cfg->donor_up = 125e6;
  cfg->donor_down = 125e6;
  cfg->latency_ms = 1.0;
  cfg->slow_factor = 4.0;
  cfg->churn_down_s = 10.0;
  cfg->donor_fail_at = -1.0;
  cfg->seed = 1;
  cfg->time_limit_s = 3600.0;
  cfg->tick_ms = 100;
  cfg->max_peers = 12;
  cfg->upload_slots = 6;
}

double sim__rand01(struct sim *s) {
  uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------- helpers */

static uint32_t *conn_at(struct sim *s, uint32_t a, uint32_t b) {
  return &s->conn[(size_t)a * s->nn + b];
}

static int conn_open(struct sim *s, uint32_t a, uint32_t b, uint32_t *gen) {
  uint32_t c = *conn_at(s, a, b);
  *gen = c >> 1;
  return (int)(c & 1u);
}

static void conn_set(struct sim *s, uint32_t a, uint32_t b, uint32_t gen,
                     int open) {
  uint32_t v = gen << 1 | (open ? 1u : 0u);
  *conn_at(s, a, b) = v;
  *conn_at(s, b, a) = v;
}

void sim__ev_push(struct sim *s, uint64_t at, uint32_t type, uint32_t from,
                  uint32_t to, uint32_t chunk, uint32_t gen, int32_t arg,
                  uint8_t *bits) {
  struct sim_event ev = {.at = at, .type = type, .from = from, .to = to,
                         .chunk = chunk, .gen = gen, .arg = arg, .bits = bits};
  int rc = sim_evq_push(&s->evq, &ev);
  if (rc != 0 && s->err == 0) {
    s->err = rc;
  }
}

/* A control message on an open connection; may be lost. */
static void msg_send(struct sim *s, uint32_t a, uint32_t b, uint32_t type,
                     uint32_t chunk, int32_t arg, const uint8_t *bits) {
  uint32_t gen;
  if (!conn_open(s, a, b, &gen)) {
    return;
  }
  if (s->cfg.loss > 0.0 && sim__rand01(s) < s->cfg.loss) {
    return;
  }
  uint8_t *copy = NULL;
  if (bits != NULL) {
    copy = sm_malloc(s->bits_len);
    if (copy == NULL) {
      s->err = SM_ENOMEM;
      return;
    }
    memcpy(copy, bits, s->bits_len);
  }
  sim__ev_push(s, s->now + s->lat_us, type, a, b, chunk, gen, arg, copy);
}

static uint64_t core_now(const struct sim *s) {
  return s->now / 1000;
}

static uint32_t peer_flags(uint32_t k) {
  return k == 0 ? SWARM_PEER_DONOR : 0;
}

/* ------------------------------------------------------------- actions */

static void sim_emit(void *user, const struct swarm_action *act) {
  struct sim *s = user;
  if (s->acts_len == s->acts_cap) {
    size_t cap = s->acts_cap ? 2 * s->acts_cap : 256;
    struct sim__act *v = sm_realloc(s->acts, cap * sizeof(*v));
    if (v == NULL) {
      s->err = SM_ENOMEM;
      return;
    }
    s->acts = v;
    s->acts_cap = cap;
  }
  struct sim__act *x = &s->acts[s->acts_len];
  x->node = s->cur;
  x->a = *act;
  x->a.bits = NULL;
  x->bits_off = SIZE_MAX;
  if (act->type == SWARM_ACT_SEND_BITFIELD) {
    if (s->arena_len + act->bits_len > s->arena_cap) {
      size_t cap = 2 * (s->arena_len + act->bits_len) + 1024;
      uint8_t *v = sm_realloc(s->bits_arena, cap);
      if (v == NULL) {
        s->err = SM_ENOMEM;
        return;
      }
      s->bits_arena = v;
      s->arena_cap = cap;
    }
    memcpy(s->bits_arena + s->arena_len, act->bits, act->bits_len);
    x->bits_off = s->arena_len;
    s->arena_len += act->bits_len;
  }
  s->acts_len++;
}

static void node_stop(struct sim *s, uint32_t k, int forever, int graceful);

/* Aborts every flow between a and b (both directions). */
static void flows_abort(struct sim *s, uint32_t a, uint32_t b) {
  for (int dir = 0; dir < 2; dir++) {
    uint32_t x = dir ? b : a;
    uint32_t y = dir ? a : b;
    struct sim__node *nx = &s->node[x];
    for (uint32_t i = 0; i < nx->out.len;) {
      struct sim__flow *f = &s->flows[nx->out.v[i]];
      if (f->to != y) {
        i++;
        continue;
      }
      sim__flow_advance(s, f);
      nx->bytes_up += (uint64_t)f->sent;
      sim__flow_stop(s, nx->out.v[i]);
    }
  }
}

static void conn_close(struct sim *s, uint32_t a, uint32_t b) {
  uint32_t gen;
  if (!conn_open(s, a, b, &gen)) {
    return;
  }
  conn_set(s, a, b, gen, 0);
  flows_abort(s, a, b);
  sim__ev_push(s, s->now + s->lat_us, EV_CLOSE, a, b, 0, gen, 0, NULL);
}

static void upload_start(struct sim *s, uint32_t a, uint32_t b, uint32_t c) {
  struct sim__node *na = &s->node[a];
  uint32_t gen;
  if (!na->truth[c]) {
    abort(); /* the core served a chunk it does not hold */
  }
  if (!conn_open(s, a, b, &gen)) {
    s->cur = a;
    (void)swarm_upload_done(na->sw, b, c, 0, core_now(s));
    return;
  }
  if (sim__flow_start(s, a, b, c, gen) == SIM__NONE) {
    return;
  }
  sim__ev_push(s, s->now + s->lat_us, EV_DATA_FIRST, a, b, c, gen, 0, NULL);
}

static void upload_cancel(struct sim *s, uint32_t a, uint32_t b, uint32_t c) {
  struct sim__node *na = &s->node[a];
  for (uint32_t i = 0; i < na->out.len; i++) {
    struct sim__flow *f = &s->flows[na->out.v[i]];
    if (f->to == b && f->chunk == c) {
      sim__flow_advance(s, f);
      uint64_t sent = (uint64_t)f->sent;
      na->bytes_up += sent;
      sim__flow_stop(s, na->out.v[i]);
      s->cur = a;
      (void)swarm_upload_done(na->sw, b, c, sent, core_now(s));
      return;
    }
  }
}

static void act_run(struct sim *s, const struct sim__act *x) {
  uint32_t a = x->node;
  uint32_t b = x->a.peer;
  uint32_t c = x->a.chunk;
  struct sim__node *na = &s->node[a];
  if (na->sw == NULL) {
    return; /* the node stopped while its actions were queued */
  }
  switch (x->a.type) {
  case SWARM_ACT_CONNECT:
    if (s->gl != NULL && !s->gl->node[a].knows[b]) {
      s->gl->bad_dials++; /* a member its gossip core never reported */
    }
    sim__ev_push(s, s->now + s->lat_us, EV_DIAL, a, b, 0, 0, 0, NULL);
    break;
  case SWARM_ACT_DISCONNECT:
  case SWARM_ACT_BAN:
    conn_close(s, a, b);
    break;
  case SWARM_ACT_SEND_BITFIELD:
    msg_send(s, a, b, EV_BITFIELD, 0, 0, s->bits_arena + x->bits_off);
    break;
  case SWARM_ACT_SEND_HAVE:
    msg_send(s, a, b, EV_HAVE, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_REQUEST:
    msg_send(s, a, b, EV_REQUEST, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_CANCEL:
    msg_send(s, a, b, EV_CANCEL, c, 0, NULL);
    break;
  case SWARM_ACT_SEND_REJECT:
    msg_send(s, a, b, EV_REJECT, c, x->a.reason, NULL);
    break;
  case SWARM_ACT_UPLOAD_START:
    upload_start(s, a, b, c);
    break;
  case SWARM_ACT_UPLOAD_CANCEL:
    upload_cancel(s, a, b, c);
    break;
  case SWARM_ACT_COMPLETE:
    if (!na->complete && na->have == s->n) {
      na->complete = 1;
      na->complete_us = s->now;
      if (a != 0) {
        s->done_count++;
      }
    }
    break;
  case SWARM_ACT_LINGER_DONE:
    node_stop(s, a, 1, 1);
    break;
  }
}

/* Runs the actions queued by core calls, including those they cause. */
void sim__flush(struct sim *s) {
  for (size_t i = 0; i < s->acts_len; i++) {
    struct sim__act x = s->acts[i];
    act_run(s, &x);
  }
  s->acts_len = 0;
  s->arena_len = 0;
}

/* ------------------------------------------------------ node lifecycle */

static void tick_schedule(struct sim *s, uint32_t k, uint64_t at) {
  sim__ev_push(s, at, EV_TICK, k, k, 0, s->node[k].life, 0, NULL);
}

static int node_start(struct sim *s, uint32_t k) {
  struct sim__node *nd = &s->node[k];
  struct swarm_config cfg;
  swarm_config_default(&cfg);
  nd->life++;
  cfg.role = k == 0 ? SWARM_ROLE_DONOR : SWARM_ROLE_RECIPIENT;
  cfg.seed = s->cfg.seed * 1000003ull + k * 7919ull + nd->life;
  cfg.tick_ms = s->cfg.tick_ms;
  cfg.max_peers = s->cfg.max_peers;
  cfg.upload_slots = s->cfg.upload_slots;
  cfg.max_candidates = s->nn + 8 > cfg.max_candidates ? s->nn + 8
                                                      : cfg.max_candidates;
  if (k == 0 && s->nn + 8 > cfg.max_conns) {
    cfg.max_conns = s->nn + 8; /* every recipient dials the donor */
  }
  if (cfg.max_peers > cfg.max_conns) {
    cfg.max_conns = cfg.max_peers;
  }
  if (cfg.max_conns > 65000) {
    cfg.max_conns = 65000;
  }
  uint8_t *bits = sm_calloc(1, s->bits_len);
  if (bits == NULL) {
    return SM_ENOMEM;
  }
  for (uint32_t c = 0; c < s->n; c++) {
    if (nd->truth[c]) {
      bits[c / 8] |= (uint8_t)(0x80u >> (c % 8));
    }
  }
  struct swarm_ops ops = {.user = s, .emit = sim_emit};
  int rc = swarm_new(&cfg, &ops, s->n, s->chunk_bytes, bits, &nd->sw);
  sm_free(bits);
  if (rc != 0) {
    return rc;
  }
  nd->up_now = 1;
  s->cur = k;
  if (s->gl != NULL) {
    rc = sim__gossip_start(s, k); /* candidates come from gossip */
    if (rc != 0) {
      return rc;
    }
  } else if (k != 0) {
    for (uint32_t j = 0; j < s->nn; j++) {
      if (j != k && s->node[j].join_us <= s->now && !s->node[j].gone) {
        (void)swarm_candidate_add(nd->sw, j, peer_flags(j), core_now(s));
      }
    }
  }
  sim__flush(s);
  uint64_t tick_us = (uint64_t)s->cfg.tick_ms * 1000;
  tick_schedule(s, k, s->now + 1 + (tick_us * k) / s->nn);
  return 0;
}

/* graceful: its gossip core announces the leave (else it goes silent). */
static void node_stop(struct sim *s, uint32_t k, int forever, int graceful) {
  struct sim__node *nd = &s->node[k];
  if (!nd->up_now) {
    return;
  }
  if (s->gl != NULL) {
    sim__gossip_stop(s, k, graceful);
  }
  nd->up_now = 0;
  nd->gone = forever;
  for (uint32_t j = 0; j < s->nn; j++) {
    conn_close(s, k, j);
  }
  swarm_free(nd->sw);
  nd->sw = NULL;
}

/* ------------------------------------------------------------- delivery */

static void deliver_dial(struct sim *s, uint32_t a, uint32_t b) {
  struct sim__node *nb = &s->node[b];
  uint32_t gen;
  if (!nb->up_now) {
    sim__ev_push(s, s->now + s->lat_us, EV_REFUSE, b, a, 0, 0, 0, NULL);
    return;
  }
  int was_open = conn_open(s, a, b, &gen);
  if (!was_open) {
    gen++;
  }
  s->cur = b;
  int rc = swarm_peer_connected(nb->sw, a, peer_flags(a), core_now(s));
  if (rc == 0 || (rc == SM_EEXIST && was_open)) {
    conn_set(s, a, b, gen, 1);
    /* The accept goes out before the bitfield the core just emitted. */
    sim__ev_push(s, s->now + s->lat_us, EV_ACCEPT, b, a, 0, gen, 0, NULL);
  } else {
    if (was_open) {
      conn_close(s, b, a);
    }
    sim__ev_push(s, s->now + s->lat_us, EV_REFUSE, b, a, 0, 0, 0, NULL);
  }
}

static void deliver_data_done(struct sim *s, const struct sim_event *ev) {
  struct sim__node *nb = &s->node[ev->to];
  uint64_t size = s->chunk_bytes[ev->chunk];
  nb->bytes_down += size;
  if (ev->from == 0) {
    nb->from_donor += size;
  }
  if (nb->truth[ev->chunk]) {
    nb->wasted += size;
  } else {
    nb->truth[ev->chunk] = 1; /* verification: it came from a holder */
    nb->have++;
  }
  (void)swarm_chunk_received(nb->sw, ev->from, ev->chunk, 1, core_now(s));
}

/* Reports bytes of incoming flows that reached node k by now. */
static void progress_report(struct sim *s, uint32_t k) {
  struct sim__node *nd = &s->node[k];
  for (uint32_t i = 0; i < nd->in.len; i++) {
    struct sim__flow *f = &s->flows[nd->in.v[i]];
    if (s->now <= f->start_us + s->lat_us) {
      continue;
    }
    double sent = f->sent + f->rate * (double)(s->now - f->t_upd);
    double arrived = sent - f->rate * (double)s->lat_us;
    if (arrived > f->size - 1.0) {
      arrived = f->size - 1.0;
    }
    if (arrived < (double)f->reported + 1.0) {
      continue;
    }
    uint64_t delta = (uint64_t)arrived - f->reported;
    f->reported += delta;
    (void)swarm_chunk_data(nd->sw, f->from, f->chunk, delta, core_now(s));
  }
}

static void deliver(struct sim *s, const struct sim_event *ev) {
  uint32_t a = ev->from;
  uint32_t b = ev->to;
  struct sim__node *nb = &s->node[b];
  uint32_t gen;
  if (ev->type >= SIM__EV_GOSSIP_DGRAM) {
    sim__gossip_deliver(s, ev);
    return;
  }
  switch (ev->type) {
  case EV_DIAL:
    deliver_dial(s, a, b);
    return;
  case EV_TICK:
    if (nb->up_now && ev->gen == nb->life) {
      s->cur = b;
      progress_report(s, b);
      swarm_tick(nb->sw, core_now(s));
      sim__flush(s);
      if (nb->up_now) {
        tick_schedule(s, b, s->now + (uint64_t)s->cfg.tick_ms * 1000);
      }
    }
    return;
  case EV_LEAVE:
    node_stop(s, b, 0, b % 2 == 0); /* odd ids just go silent */
    return;
  case EV_RETURN:
  case EV_JOIN:
    if (nb->gone || nb->up_now) {
      return;
    }
    if (node_start(s, b) != 0 && s->err == 0) {
      s->err = SM_ENOMEM;
    }
    if (ev->type == EV_JOIN && s->gl == NULL) {
      for (uint32_t j = 1; j < s->nn; j++) {
        if (j != b && s->node[j].up_now) {
          s->cur = j;
          (void)swarm_candidate_add(s->node[j].sw, b, 0, core_now(s));
          sim__flush(s);
        }
      }
    }
    return;
  case EV_DONOR_FAIL:
    node_stop(s, 0, 1, 0);
    for (uint32_t j = 1; s->gl == NULL && j < s->nn; j++) {
      if (s->node[j].up_now) {
        (void)swarm_candidate_remove(s->node[j].sw, 0);
      }
    }
    return;
  default:
    break;
  }
  if (!nb->up_now) {
    return;
  }
  s->cur = b;
  uint64_t now = core_now(s);
  int open = conn_open(s, a, b, &gen);
  switch (ev->type) {
  case EV_ACCEPT: {
    if (!open || gen != ev->gen) {
      (void)swarm_peer_connect_failed(nb->sw, a, now);
      break;
    }
    int rc = swarm_peer_connected(nb->sw, a, peer_flags(a), now);
    if (rc != 0 && rc != SM_EEXIST) {
      conn_close(s, b, a);
    }
    break;
  }
  case EV_REFUSE:
    (void)swarm_peer_connect_failed(nb->sw, a, now);
    break;
  case EV_CLOSE:
    if (!open || gen == ev->gen) {
      (void)swarm_peer_disconnected(nb->sw, a, now);
    }
    break;
  default:
    if (!open || gen != ev->gen) {
      break; /* stale: that connection is gone */
    }
    if (ev->type == EV_BITFIELD) {
      (void)swarm_peer_bitfield(nb->sw, a, ev->bits, s->bits_len, now);
    } else if (ev->type == EV_HAVE) {
      (void)swarm_peer_have(nb->sw, a, ev->chunk, now);
    } else if (ev->type == EV_REQUEST) {
      (void)swarm_peer_request(nb->sw, a, ev->chunk, now);
    } else if (ev->type == EV_CANCEL) {
      (void)swarm_peer_cancel(nb->sw, a, ev->chunk, now);
    } else if (ev->type == EV_REJECT) {
      (void)swarm_peer_reject(nb->sw, a, ev->chunk, ev->arg, now);
    } else if (ev->type == EV_DATA_FIRST) {
      (void)swarm_chunk_data(nb->sw, a, ev->chunk, 0, now);
    } else if (ev->type == EV_DATA_DONE) {
      deliver_data_done(s, ev);
    }
    break;
  }
  sim__flush(s);
}

/* Sender k's earliest flows finished now. */
static void flows_finish(struct sim *s, uint32_t k) {
  struct sim__node *nd = &s->node[k];
  uint32_t done[64];
  uint32_t ndone = 0;
  for (uint32_t i = 0; i < nd->out.len && ndone < 64; i++) {
    struct sim__flow *f = &s->flows[nd->out.v[i]];
    sim__flow_advance(s, f);
    if (f->size - f->sent <= 1e-3) {
      done[ndone++] = nd->out.v[i];
    }
  }
  if (ndone == 0) {
    sim__net_schedule(s, k); /* rounding: not quite there yet */
    return;
  }
  for (uint32_t i = 0; i < ndone; i++) {
    struct sim__flow f = s->flows[done[i]];
    sim__flow_stop(s, done[i]);
    nd->bytes_up += (uint64_t)f.size;
    sim__ev_push(s, s->now + s->lat_us, EV_DATA_DONE, k, f.to, f.chunk,
                 f.gen, 0, NULL);
    s->cur = k;
    (void)swarm_upload_done(nd->sw, f.to, f.chunk, (uint64_t)f.size,
                            core_now(s));
    sim__flush(s);
  }
}

/* ------------------------------------------------------------ lifecycle */

int sim_new(const struct sim_config *cfg, struct sim **out) {
  int rc = SM_ENOMEM;
  *out = NULL;
  if (cfg->nodes + cfg->late_count == 0 || cfg->size == 0 || cfg->chunk == 0 ||
      cfg->up <= 0.0 || cfg->down <= 0.0 || cfg->donor_up <= 0.0 ||
      cfg->donor_down <= 0.0 || cfg->slow_factor < 1.0 || cfg->tick_ms == 0 ||
      cfg->loss < 0.0 || cfg->loss >= 1.0 || cfg->latency_ms < 0.0 ||
      cfg->nodes + cfg->late_count > 60000 ||
      (cfg->gossip && cfg->nodes + cfg->late_count + 1 > SM_TRUST_MAX) ||
      (cfg->size + cfg->chunk - 1) / cfg->chunk > (1u << 26)) {
    return SM_EINVAL;
  }
  struct sim *s = sm_calloc(1, sizeof(*s));
  if (s == NULL) {
    return SM_ENOMEM;
  }
  s->cfg = *cfg;
  s->nn = cfg->nodes + cfg->late_count + 1;
  s->n = (uint32_t)((cfg->size + cfg->chunk - 1) / cfg->chunk);
  s->bits_len = (s->n + 7) / 8;
  s->lat_us = (uint64_t)llround(cfg->latency_ms * 1000.0);
  s->rng = cfg->seed ^ 0x5eed5eed5eedull;
  sim_evq_init(&s->evq);
  s->chunk_bytes = sm_calloc(s->n, sizeof(*s->chunk_bytes));
  s->node = sm_calloc(s->nn, sizeof(*s->node));
  s->conn = sm_calloc((size_t)s->nn * s->nn, sizeof(*s->conn));
  s->res = sm_calloc(s->nn, sizeof(*s->res));
  if (s->chunk_bytes == NULL || s->node == NULL || s->conn == NULL ||
      s->res == NULL) {
    goto out;
  }
  for (uint32_t c = 0; c < s->n; c++) {
    uint64_t left = cfg->size - (uint64_t)c * cfg->chunk;
    s->chunk_bytes[c] = (uint32_t)(left < cfg->chunk ? left : cfg->chunk);
  }
  rc = sim__net_init(s);
  if (rc != 0) {
    goto out;
  }
  rc = SM_ENOMEM;
  uint32_t want_slow = (uint32_t)llround(cfg->slow_fraction * cfg->nodes);
  for (uint32_t k = 0; k < s->nn; k++) {
    struct sim__node *nd = &s->node[k];
    nd->truth = sm_calloc(s->n, 1);
    if (nd->truth == NULL) {
      goto out;
    }
    nd->up = (k == 0 ? cfg->donor_up : cfg->up) / 1e6;
    nd->down = (k == 0 ? cfg->donor_down : cfg->down) / 1e6;
    if (k >= 1 && k <= cfg->nodes) {
      /* Spread slow nodes evenly over the ids (deterministic). */
      uint32_t i = k - 1;
      nd->slow = want_slow > 0 &&
                 (uint64_t)i * want_slow / cfg->nodes !=
                     (uint64_t)(i + 1) * want_slow / cfg->nodes;
      if (nd->slow) {
        nd->up /= cfg->slow_factor;
        nd->down /= cfg->slow_factor;
      }
    }
    if (k > cfg->nodes) {
      nd->join_us = (uint64_t)llround(cfg->late_at * 1e6);
    }
  }
  memset(s->node[0].truth, 1, s->n);
  s->node[0].have = s->n;
  s->node[0].complete = 1;
  if (cfg->gossip) {
    rc = sim__gossip_init(s);
    if (rc != 0) {
      goto out;
    }
  }
  *out = s;
  s = NULL;
  rc = 0;
out:
  sim_free(s);
  return rc;
}

void sim_free(struct sim *s) {
  if (s == NULL) {
    return;
  }
  for (uint32_t k = 0; s->node != NULL && k < s->nn; k++) {
    swarm_free(s->node[k].sw);
    sm_free(s->node[k].truth);
  }
  sim__gossip_cleanup(s);
  sim__net_cleanup(s);
  sim_evq_cleanup(&s->evq);
  sm_free(s->chunk_bytes);
  sm_free(s->node);
  sm_free(s->conn);
  sm_free(s->res);
  sm_free(s->acts);
  sm_free(s->bits_arena);
  sm_free(s);
}

const struct sim_node_result *sim_node_get(const struct sim *s, uint32_t i) {
  return i + 1 < s->nn ? &s->res[i + 1] : NULL;
}

int sim_node_has(const struct sim *s, uint32_t i, uint32_t c) {
  return i + 1 < s->nn && c < s->n && s->node[i + 1].truth[c];
}

/* ----------------------------------------------------------------- run */

double sim__bound_s(const struct sim *s, int fast_only) {
  double F = (double)s->cfg.size;
  double us = s->node[0].up * 1e6;
  double sum_up = us;
  double dmin = INFINITY;
  uint32_t n = 0;
  for (uint32_t k = 1; k < s->nn; k++) {
    sum_up += s->node[k].up * 1e6;
    if (fast_only && s->node[k].slow) {
      continue;
    }
    n++;
    dmin = fmin(dmin, s->node[k].down * 1e6);
  }
  if (n == 0) {
    return 0.0;
  }
  return fmax(fmax(F / us, F / dmin), (double)n * F / sum_up);
}

static void schedule_scenario(struct sim *s) {
  double t_est = sim__bound_s(s, 0);
  for (uint32_t k = 1; k <= s->cfg.nodes; k++) {
    if (s->cfg.churn > 0.0 && sim__rand01(s) < s->cfg.churn) {
      double at = t_est * (0.1 + 0.6 * sim__rand01(s));
      uint64_t leave = (uint64_t)llround(at * 1e6);
      uint64_t back = leave + (uint64_t)llround(s->cfg.churn_down_s * 1e6);
      s->node[k].churn = 1;
      sim__ev_push(s, leave, EV_LEAVE, k, k, 0, 0, 0, NULL);
      sim__ev_push(s, back, EV_RETURN, k, k, 0, 0, 0, NULL);
    }
  }
  for (uint32_t k = s->cfg.nodes + 1; k < s->nn; k++) {
    sim__ev_push(s, s->node[k].join_us, EV_JOIN, k, k, 0, 0, 0, NULL);
  }
  if (s->cfg.donor_fail_at >= 0.0) {
    sim__ev_push(s, (uint64_t)llround(s->cfg.donor_fail_at * 1e6),
                 EV_DONOR_FAIL, 0, 0, 0, 0, 0, NULL);
  }
}

int sim_run(struct sim *s, struct sim_result *out) {
  int rc = 0;
  uint32_t want = s->nn - 1;
  uint64_t limit = (uint64_t)llround(s->cfg.time_limit_s * 1e6);
  schedule_scenario(s);
  for (uint32_t k = 0; k <= s->cfg.nodes; k++) {
    rc = node_start(s, k);
    if (rc != 0) {
      goto out;
    }
  }
  while (s->done_count < want && s->err == 0) {
    uint64_t t_flow;
    uint32_t k = sim__net_next(s, &t_flow);
    uint64_t t_ev = sim_evq_peek(&s->evq);
    uint64_t t = t_flow < t_ev ? t_flow : t_ev;
    if (t == UINT64_MAX || t > limit) {
      break;
    }
    s->now = t;
    s->events++;
    if (t_flow <= t_ev) {
      flows_finish(s, k);
      continue;
    }
    struct sim_event ev;
    (void)sim_evq_pop(&s->evq, &ev);
    deliver(s, &ev);
    sm_free(ev.bits);
  }
  rc = s->err;
  if (rc == 0 && s->done_count < want) {
    rc = SM_ETIMEOUT;
  }
out:
  sim__summarize(s, out);
  return rc;
}

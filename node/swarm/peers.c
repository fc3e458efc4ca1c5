/* peers.c - the peer table and candidate list: dialing up to the target
 * degree, replacing idle or slow peers, availability (bitfields and haves)
 * and the per-peer rate and RTT estimators. */
#include "node/swarm/swarm_internal.h"

#include <string.h>

/* Peer handles are looked up on every event: a linear-probing table of
 * at least twice max_conns entries keeps that O(1). */
static uint32_t pidx_home(const struct swarm *sw, uint32_t handle) {
  uint32_t h = handle;
  h ^= h >> 16;
  h *= 0x45d9f3bu;
  h ^= h >> 16;
  return h & sw->pidx_mask;
}

struct swarm__peer *swarm__peer_find(const struct swarm *sw, uint32_t handle) {
  for (uint32_t i = pidx_home(sw, handle); sw->pidx[i] != 0;
       i = (i + 1) & sw->pidx_mask) {
    struct swarm__peer *p = &sw->peers[sw->pidx[i] - 1];
    if (p->handle == handle) {
      return p;
    }
  }
  return NULL;
}

static void pidx_insert(struct swarm *sw, uint32_t handle, uint32_t slot) {
  uint32_t i = pidx_home(sw, handle);
  while (sw->pidx[i] != 0) {
    i = (i + 1) & sw->pidx_mask;
  }
  sw->pidx[i] = slot + 1;
}

static void pidx_remove(struct swarm *sw, uint32_t handle) {
  uint32_t m = sw->pidx_mask;
  uint32_t i = pidx_home(sw, handle);
  while (sw->peers[sw->pidx[i] - 1].handle != handle) {
    i = (i + 1) & m;
  }
  sw->pidx[i] = 0;
  /* Backward-shift: pull later entries of the run into the hole when their
   * home position does not lie cyclically in (hole, j]. */
  for (uint32_t j = (i + 1) & m; sw->pidx[j] != 0; j = (j + 1) & m) {
    uint32_t k = pidx_home(sw, sw->peers[sw->pidx[j] - 1].handle);
    int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      sw->pidx[i] = sw->pidx[j];
      sw->pidx[j] = 0;
      i = j;
    }
  }
}

struct swarm__cand *swarm__cand_find(struct swarm *sw, uint32_t handle) {
  for (uint32_t i = 0; i < sw->cfg.max_candidates; i++) {
    if (sw->cands[i].used && sw->cands[i].handle == handle) {
      return &sw->cands[i];
    }
  }
  return NULL;
}

void swarm__cand_ban(struct swarm *sw, uint32_t handle) {
  struct swarm__cand *c = swarm__cand_find(sw, handle);
  struct swarm__cand *victim = NULL;
  for (uint32_t i = 0; c == NULL && i < sw->cfg.max_candidates; i++) {
    struct swarm__cand *x = &sw->cands[i];
    if (!x->used) {
      c = x;
    } else if (victim == NULL && !x->banned && x->state == SWARM__CAND_IDLE) {
      victim = x;
    }
  }
  if (c == NULL) {
    c = victim;
    if (c == NULL) {
      return; /* everything is banned or busy: the ban lasts this connection */
    }
    sw->ncands--;
  }
  if (!c->used || c->handle != handle) {
    memset(c, 0, sizeof(*c));
    c->used = 1;
    c->handle = handle;
    sw->ncands++;
  }
  if (c->state == SWARM__CAND_CONNECTING) {
    sw->nconnecting--;
    c->state = SWARM__CAND_IDLE;
  }
  c->banned = 1;
}

/* ------------------------------------------------------------ estimators */

void swarm__rate_account(struct swarm__peer *p, uint64_t now) {
  if (p->nreqs > 0 && now > p->busy_mark) {
    p->busy_acc += now - p->busy_mark;
  }
  p->busy_mark = now;
}

void swarm__rate_sample(struct swarm *sw, struct swarm__peer *p, int completed) {
  uint64_t min = sw->cfg.rate_sample_ms;
  /* Sample at a completion once enough busy time has passed, or after a
   * long busy stretch without one (a stall drags the rate down). */
  if (!(completed && p->busy_acc >= min) && p->busy_acc < 8 * min) {
    return;
  }
  double sample = (double)p->rx_acc / (double)p->busy_acc;
  if (p->rate <= 0.0) {
    p->rate = sample;
  } else {
    p->rate += 0.25 * (sample - p->rate);
  }
  p->rx_acc = 0;
  p->busy_acc = 0;
}

void swarm__rtt_sample(struct swarm *sw, struct swarm__peer *p, double ms) {
  if (ms < 1.0) {
    ms = 1.0; /* the clock's granularity */
  }
  if (sw->now - p->rtt_epoch >= sw->cfg.rtt_window_ms) {
    p->rtt_prev = p->rtt_cur;
    p->rtt_cur = -1.0;
    p->rtt_epoch = sw->now;
  }
  if (p->rtt_cur < 0.0 || ms < p->rtt_cur) {
    p->rtt_cur = ms;
  }
}

double swarm__rtt(const struct swarm__peer *p) {
  if (p->rtt_cur < 0.0) {
    return p->rtt_prev;
  }
  if (p->rtt_prev < 0.0 || p->rtt_cur < p->rtt_prev) {
    return p->rtt_cur;
  }
  return p->rtt_prev;
}

/* ------------------------------------------------------------ candidates */

int swarm_candidate_add(struct swarm *sw, uint32_t peer, uint32_t flags,
                        uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__cand *c = swarm__cand_find(sw, peer);
  if (c == NULL) {
    for (uint32_t i = 0; i < sw->cfg.max_candidates; i++) {
      if (!sw->cands[i].used) {
        c = &sw->cands[i];
        break;
      }
    }
    if (c == NULL) {
      return SM_EFULL;
    }
    memset(c, 0, sizeof(*c));
    c->used = 1;
    c->handle = peer;
    sw->ncands++;
  }
  c->flags = flags;
  c->gossip = 1;
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p != NULL) {
    p->flags |= flags;
    if (c->state == SWARM__CAND_IDLE) {
      c->state = SWARM__CAND_CONNECTED;
    }
  }
  swarm__dial(sw);
  return 0;
}

int swarm_candidate_remove(struct swarm *sw, uint32_t peer) {
  swarm__enter(sw, sw->now);
  struct swarm__cand *c = swarm__cand_find(sw, peer);
  if (c == NULL) {
    return SM_ENOTFOUND;
  }
  if (c->banned) {
    c->gossip = 0; /* keep the ban for the session */
    return 0;
  }
  if (c->state == SWARM__CAND_CONNECTING) {
    sw->nconnecting--;
  }
  memset(c, 0, sizeof(*c));
  sw->ncands--;
  return 0;
}

static int cand_dialable(struct swarm *sw, const struct swarm__cand *c) {
  return c->used && c->gossip && !c->banned &&
         c->state == SWARM__CAND_IDLE && c->retry_at <= sw->now &&
         swarm__peer_find(sw, c->handle) == NULL;
}

static void cand_connect(struct swarm *sw, struct swarm__cand *c) {
  c->state = SWARM__CAND_CONNECTING;
  c->deadline = sw->now + sw->cfg.connect_timeout_ms;
  sw->nconnecting++;
  swarm__emit(sw, SWARM_ACT_CONNECT, c->handle, 0, 0);
}

static void cand_failed(struct swarm *sw, struct swarm__cand *c) {
  if (c->state == SWARM__CAND_CONNECTING) {
    sw->nconnecting--;
  }
  c->state = SWARM__CAND_IDLE;
  c->fails++;
  uint32_t shift = c->fails > 7 ? 6 : c->fails - 1;
  c->retry_at = sw->now + (sw->cfg.reconnect_backoff_ms << shift);
}

void swarm__dial(struct swarm *sw) {
  const struct swarm_config *cfg = &sw->cfg;
  if (sw->state != SWARM_STATE_FETCH) {
    return;
  }
  /* The donor is always worth a connection, even beyond max_peers. */
  for (uint32_t i = 0; i < cfg->max_candidates; i++) {
    struct swarm__cand *c = &sw->cands[i];
    if ((c->flags & SWARM_PEER_DONOR) && cand_dialable(sw, c) &&
        sw->nconnecting < cfg->max_connecting &&
        sw->npeers + sw->nconnecting < cfg->max_conns) {
      cand_connect(sw, c);
    }
  }
  while (sw->npeers + sw->nconnecting < cfg->max_peers &&
         sw->nconnecting < cfg->max_connecting) {
    struct swarm__cand *pick = NULL;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < cfg->max_candidates; i++) {
      struct swarm__cand *c = &sw->cands[i];
      if (cand_dialable(sw, c)) {
        seen++;
        if (swarm__rand_below(sw, seen) == 0) {
          pick = c;
        }
      }
    }
    if (pick == NULL) {
      break;
    }
    cand_connect(sw, pick);
  }
}

/* ----------------------------------------------------------- connections */

int swarm_peer_connected(struct swarm *sw, uint32_t peer, uint32_t flags,
                         uint64_t now) {
  swarm__enter(sw, now);
  const struct swarm_config *cfg = &sw->cfg;
  struct swarm__cand *c = swarm__cand_find(sw, peer);
  struct swarm__peer *p = NULL;

  if (sw->state == SWARM_STATE_DONE) {
    return SM_ESTATE;
  }
  if (c != NULL && c->banned) {
    return SM_EBANNED;
  }
  if (swarm__peer_find(sw, peer) != NULL) {
    return SM_EEXIST;
  }
  for (uint32_t i = 0; i < cfg->max_conns; i++) {
    if (!sw->peers[i].used) {
      p = &sw->peers[i];
      break;
    }
  }
  if (p == NULL) {
    if (c != NULL && c->state == SWARM__CAND_CONNECTING) {
      cand_failed(sw, c);
    }
    return SM_EFULL;
  }
  size_t bits = (size_t)sw->nwords * sizeof(uint64_t);
  size_t total = bits * (sw->superseed ? 2 : 1) +
                 (size_t)cfg->max_window * sizeof(struct swarm__req) +
                 (size_t)cfg->upload_slots * sizeof(uint64_t) +
                 (size_t)cfg->max_in_queue * sizeof(uint32_t) +
                 (size_t)cfg->upload_slots *
                     (sizeof(uint32_t) + sizeof(uint16_t) + 1);
  uint8_t *block = sm_calloc(1, total);
  if (block == NULL) {
    return SM_ENOMEM;
  }
  memset(p, 0, sizeof(*p));
  p->has = (uint64_t *)(void *)block;
  block += bits;
  if (sw->superseed) {
    p->revealed = (uint64_t *)(void *)block;
    block += bits;
  }
  p->reqs = (struct swarm__req *)(void *)block;
  block += (size_t)cfg->max_window * sizeof(struct swarm__req);
  p->up_started = (uint64_t *)(void *)block;
  block += (size_t)cfg->upload_slots * sizeof(uint64_t);
  p->inq = (uint32_t *)(void *)block;
  block += (size_t)cfg->max_in_queue * sizeof(uint32_t);
  p->up_active = (uint32_t *)(void *)block;
  block += (size_t)cfg->upload_slots * sizeof(uint32_t);
  p->up_weight = (uint16_t *)(void *)block;
  block += (size_t)cfg->upload_slots * sizeof(uint16_t);
  p->up_canceled = block;

  p->used = 1;
  p->handle = peer;
  pidx_insert(sw, peer, (uint32_t)(p - sw->peers));
  p->flags = flags | (c != NULL ? c->flags : 0);
  p->connected_at = sw->now;
  p->gained_at = sw->now;
  p->busy_mark = sw->now;
  p->rtt_cur = -1.0;
  p->rtt_prev = -1.0;
  p->rtt_epoch = sw->now;
  p->last_rx_at = sw->now;
  p->last_done_at = sw->now;
  for (uint32_t i = 0; i < SWARM__REJECT_MEMORY; i++) {
    p->rejected[i] = SWARM__NONE;
  }
  sw->npeers++;
  if (c != NULL) {
    if (c->state == SWARM__CAND_CONNECTING) {
      sw->nconnecting--;
    }
    c->state = SWARM__CAND_CONNECTED;
    c->fails = 0;
  }
  if (sw->superseed) {
    /* Show nothing up front; reveal a few chunks with HAVEs. */
    swarm__emit_bitfield(sw, peer, p->revealed);
    swarm__reveal_topup(sw, p);
  } else {
    swarm__emit_bitfield(sw, peer, sw->have);
  }
  return 0;
}

int swarm_peer_connect_failed(struct swarm *sw, uint32_t peer, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__cand *c = swarm__cand_find(sw, peer);
  if (c == NULL || c->state != SWARM__CAND_CONNECTING) {
    return SM_ENOTFOUND;
  }
  cand_failed(sw, c);
  swarm__dial(sw);
  return 0;
}

void swarm__peer_drop(struct swarm *sw, struct swarm__peer *p, int act,
                      int reason) {
  uint32_t handle = p->handle;
  swarm__rate_account(p, sw->now);
  while (p->nreqs > 0) {
    swarm__request_remove(sw, p, p->nreqs - 1);
  }
  for (uint32_t w = 0; w < sw->nwords; w++) {
    uint64_t m = p->has[w];
    while (m != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
      m &= m - 1;
      sw->avail[c]--;
      swarm__chunk_rekey(sw, c);
    }
    if (p->revealed != NULL) {
      m = p->revealed[w];
      while (m != 0) {
        uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
        m &= m - 1;
        sw->pending[c]--;
        sw->reveal_bytes -= sw->size[c];
        swarm__chunk_rekey(sw, c);
      }
    }
  }
  sw->uploads_active -= p->up_len;
  for (uint32_t i = 0; i < p->up_len; i++) {
    sw->up_load -= p->up_weight[i];
  }
  sw->uploads_queued -= p->inq_len;
  sw->npeers--;
  struct swarm__cand *c = swarm__cand_find(sw, handle);
  if (c != NULL && c->state == SWARM__CAND_CONNECTED) {
    c->state = SWARM__CAND_IDLE;
    c->retry_at = sw->now + sw->cfg.reconnect_backoff_ms;
  }
  pidx_remove(sw, handle);
  sm_free(p->has);
  memset(p, 0, sizeof(*p));
  if (act != 0) {
    swarm__emit(sw, (enum swarm_action_type)act, handle, 0, reason);
  }
  swarm__fill_all(sw);
  swarm__upload_pump(sw);
  if (sw->superseed) {
    swarm__reveal_tick(sw);
  }
}

int swarm_peer_disconnected(struct swarm *sw, uint32_t peer, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  swarm__peer_drop(sw, p, 0, SWARM_REASON_NONE);
  return 0;
}

/* --------------------------------------------------------- availability */

static void peer_gain(struct swarm *sw, struct swarm__peer *p, uint32_t c) {
  if (p->revealed == NULL || !swarm__bit(p->revealed, c)) {
    p->gained_at = sw->now; /* progress not fed by our reveals */
  }
  swarm__bit_set(p->has, c);
  p->has_count++;
  sw->avail[c]++;
  if (!swarm__bit(sw->have, c)) {
    p->interesting++;
  }
  if (sw->superseed) {
    swarm__reveal_had(sw, p, c);
  }
  swarm__chunk_rekey(sw, c);
}

static void peer_lose(struct swarm *sw, struct swarm__peer *p, uint32_t c) {
  swarm__bit_clear(p->has, c);
  p->has_count--;
  sw->avail[c]--;
  if (!swarm__bit(sw->have, c)) {
    p->interesting--;
  }
  swarm__chunk_rekey(sw, c);
}

int swarm_peer_bitfield(struct swarm *sw, uint32_t peer, const uint8_t *bits,
                        size_t bits_len, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (bits == NULL || bits_len != ((size_t)sw->n + 7) / 8) {
    return SM_EPROTO;
  }
  if ((sw->n & 7) != 0 && (bits[bits_len - 1] & (0xffu >> (sw->n & 7))) != 0) {
    return SM_EPROTO;
  }
  for (uint32_t w = 0; w < sw->nwords; w++) {
    uint64_t nw = 0;
    for (uint32_t b = 0; b < 8 && (size_t)w * 8 + b < bits_len; b++) {
      uint8_t byte = bits[(size_t)w * 8 + b];
      for (uint32_t k = 0; k < 8; k++) {
        if (byte & (0x80u >> k)) {
          nw |= (uint64_t)1 << (b * 8 + k);
        }
      }
    }
    uint64_t add = nw & ~p->has[w];
    uint64_t del = p->has[w] & ~nw;
    while (add != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(add);
      add &= add - 1;
      peer_gain(sw, p, c);
    }
    while (del != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(del);
      del &= del - 1;
      peer_lose(sw, p, c);
    }
  }
  p->got_bitfield = 1;
  if (sw->superseed) {
    swarm__reveal_topup(sw, p);
  }
  swarm__fill(sw, p);
  return 0;
}

int swarm_peer_have(struct swarm *sw, uint32_t peer, uint32_t chunk,
                    uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  /* A peer that told us to fetch a chunk elsewhere (a donor withdrawing a
   * reveal) and now announces it again means: ask me. Without this, a chunk
   * nobody else offers would never be requested again. */
  int was_rejected = 0;
  for (uint32_t i = 0; i < SWARM__REJECT_MEMORY; i++) {
    if (p->rejected[i] == chunk) {
      p->rejected[i] = SWARM__NONE;
      was_rejected = 1;
    }
  }
  if (swarm__bit(p->has, chunk)) {
    if (was_rejected && !swarm__bit(sw->have, chunk) && sw->state == SWARM_STATE_FETCH) {
      swarm__fill(sw, p);
    }
    return 0;
  }
  peer_gain(sw, p, chunk);
  if (sw->superseed) {
    swarm__reveal_topup(sw, p);
  }
  if (!swarm__bit(sw->have, chunk)) {
    swarm__fill(sw, p);
  }
  return 0;
}

/* ----------------------------------------------------------------- tick */

/* One idle or slow non-donor peer makes room for a fresh candidate. */
static void peers_replace(struct swarm *sw) {
  const struct swarm_config *cfg = &sw->cfg;
  int spare = 0;
  double best_rate = 0.0;
  struct swarm__peer *victim = NULL;
  int victim_idle = 0;

  if (sw->npeers < cfg->max_peers) {
    return;
  }
  for (uint32_t i = 0; i < cfg->max_candidates && !spare; i++) {
    spare = cand_dialable(sw, &sw->cands[i]);
  }
  if (!spare) {
    return;
  }
  for (uint32_t i = 0; i < cfg->max_conns; i++) {
    if (sw->peers[i].used && sw->peers[i].rate > best_rate) {
      best_rate = sw->peers[i].rate;
    }
  }
  for (uint32_t i = 0; i < cfg->max_conns; i++) {
    struct swarm__peer *p = &sw->peers[i];
    if (!p->used || (p->flags & SWARM_PEER_DONOR) ||
        p->connected_at + cfg->replace_interval_ms > sw->now) {
      continue;
    }
    int idle = p->interesting == 0 && p->nreqs == 0 && p->up_len == 0 &&
               p->inq_len == 0;
    int slow = p->nreqs > 0 && p->rate > 0.0 &&
               p->rate * 1000.0 < best_rate * (double)cfg->slow_permille;
    if (idle && !victim_idle) {
      victim = p;
      victim_idle = 1;
    } else if (slow && !victim_idle &&
               (victim == NULL || p->rate < victim->rate)) {
      victim = p;
    }
  }
  if (victim != NULL) {
    uint32_t handle = victim->handle;
    swarm__peer_drop(sw, victim, SWARM_ACT_DISCONNECT, SWARM_REASON_REPLACED);
    struct swarm__cand *c = swarm__cand_find(sw, handle);
    if (c != NULL) {
      c->retry_at = sw->now + 3 * cfg->replace_interval_ms;
    }
  }
}

void swarm__peers_tick(struct swarm *sw) {
  for (uint32_t i = 0; i < sw->cfg.max_candidates; i++) {
    struct swarm__cand *c = &sw->cands[i];
    if (c->used && c->state == SWARM__CAND_CONNECTING && sw->now >= c->deadline) {
      cand_failed(sw, c);
    }
  }
  if (sw->state != SWARM_STATE_FETCH) {
    return;
  }
  if (sw->now >= sw->last_replace_at + sw->cfg.replace_interval_ms) {
    sw->last_replace_at = sw->now;
    peers_replace(sw);
  }
  swarm__dial(sw);
}

/* upload.c - serving chunks: per-peer request queues drained round-robin
 * into a fixed number of upload slots, donor protection by super-seeding
 * (reveal each peer only chunks the swarm lacks), and the linger policy of a
 * recipient that has finished. */
#include "node/swarm/swarm_internal.h"

#include <string.h>

/* ------------------------------------------------------------ uploading */

/* The share of an upload slot an upload to p takes, in permille. Slots
 * exist so the uplink is not split into too many slow flows; an upload
 * whose receiver takes it at a fraction of the usual rate (its download is
 * the bottleneck) leaves most of the uplink to the others, so it counts for
 * that fraction only. Without measurements, a whole slot. */
static uint16_t upload_weight(const struct swarm *sw,
                              const struct swarm__peer *p) {
  if (p->up_rate <= 0.0 || sw->up_samples < 16) {
    return 1000;
  }
  double w = 1000.0 * p->up_rate / sw->up_rate_ref;
  if (w >= 1000.0) {
    return 1000;
  }
  return w < SWARM__UP_MIN_WEIGHT ? SWARM__UP_MIN_WEIGHT : (uint16_t)w;
}

/* Whether an upload of weight w may start: the weighted load stays within
 * upload_slots, and at most (SWARM__UP_OVERCOMMIT - 1) x upload_slots uploads
 * run, the last upload_slots positions kept for full-weight uploads so that
 * many slow receivers cannot lock out a fast one. */
static int upload_slot_free(const struct swarm *sw, uint16_t w) {
  uint32_t slots = sw->cfg.upload_slots;
  uint32_t cap = w < SWARM__UP_SLOW_WEIGHT ? (SWARM__UP_OVERCOMMIT - 1) * slots
                          : SWARM__UP_OVERCOMMIT * slots;
  return sw->up_load < (uint64_t)slots * 1000 && sw->uploads_active < cap;
}

void swarm__upload_pump(struct swarm *sw) {
  uint32_t m = sw->cfg.max_conns;
  while (upload_slot_free(sw, 1000) && sw->uploads_queued > 0) {
    struct swarm__peer *p = NULL;
    uint32_t at = 0;
    for (uint32_t k = 0; k < m; k++) {
      at = (sw->up_rr + k) % m;
      struct swarm__peer *q = &sw->peers[at];
      if (q->used && q->inq_len > 0 && q->up_len < sw->cfg.upload_slots &&
          upload_slot_free(sw, upload_weight(sw, q))) {
        p = q;
        break;
      }
    }
    if (p == NULL) {
      return;
    }
    sw->up_rr = (at + 1) % m;
    uint32_t c = p->inq[0];
    memmove(&p->inq[0], &p->inq[1], (size_t)(p->inq_len - 1) * sizeof(p->inq[0]));
    p->inq_len--;
    sw->uploads_queued--;
    p->up_active[p->up_len] = c;
    p->up_started[p->up_len] = sw->now;
    p->up_weight[p->up_len] = upload_weight(sw, p);
    sw->up_load += p->up_weight[p->up_len];
    p->up_canceled[p->up_len] = 0;
    p->up_len++;
    sw->uploads_active++;
    swarm__emit(sw, SWARM_ACT_UPLOAD_START, p->handle, c, 0);
  }
}

static int upload_known(const struct swarm__peer *p, uint32_t c) {
  for (uint32_t i = 0; i < p->inq_len; i++) {
    if (p->inq[i] == c) {
      return 1;
    }
  }
  for (uint32_t i = 0; i < p->up_len; i++) {
    if (p->up_active[i] == c && !p->up_canceled[i]) {
      return 1;
    }
  }
  return 0;
}

int swarm_peer_request(struct swarm *sw, uint32_t peer, uint32_t chunk,
                       uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  int why = 0;
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  if (upload_known(p, chunk)) {
    return 0;
  }
  if (sw->state == SWARM_STATE_DONE) {
    why = SWARM_REJECT_CLOSING;
  } else if (!swarm__bit(sw->have, chunk)) {
    why = SWARM_REJECT_NOT_HAVE;
  } else if (sw->superseed && !swarm__bit(p->revealed, chunk) &&
             sw->avail[chunk] > (uint32_t)swarm__bit(p->has, chunk)) {
    why = SWARM_REJECT_ELSEWHERE; /* another peer holds it */
  } else if (p->inq_len == sw->cfg.max_in_queue) {
    why = SWARM_REJECT_BUSY;
  }
  if (why != 0) {
    swarm__emit(sw, SWARM_ACT_SEND_REJECT, peer, chunk, why);
    return 0;
  }
  p->inq[p->inq_len++] = chunk;
  sw->uploads_queued++;
  swarm__upload_pump(sw);
  return 0;
}

int swarm_peer_cancel(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  for (uint32_t i = 0; i < p->inq_len; i++) {
    if (p->inq[i] == chunk) {
      memmove(&p->inq[i], &p->inq[i + 1],
              (size_t)(p->inq_len - i - 1) * sizeof(p->inq[0]));
      p->inq_len--;
      sw->uploads_queued--;
      return 0;
    }
  }
  for (uint32_t i = 0; i < p->up_len; i++) {
    if (p->up_active[i] == chunk && !p->up_canceled[i]) {
      p->up_canceled[i] = 1;
      swarm__emit(sw, SWARM_ACT_UPLOAD_CANCEL, peer, chunk, 0);
      return 0;
    }
  }
  return 0;
}

static void reveal_forget(struct swarm *sw, struct swarm__peer *p, uint32_t c);

/* Whole-chunk upload rates per peer (start to done, so they include the
 * peer's own download congestion), and their average over all peers. On a
 * donor, a peer far below the average is marked slow: chunks shown to it
 * would spread at its pace, so its pending reveals are withdrawn (see
 * docs/swarm.md, section 8). */
static void upload_rate_sample(struct swarm *sw, struct swarm__peer *p,
                               uint64_t bytes, uint64_t ms) {
  double sample = (double)bytes / (double)(ms > 0 ? ms : 1);
  p->up_rate = p->up_rate <= 0.0 ? sample
                                  : p->up_rate + 0.25 * (sample - p->up_rate);
  sw->up_rate_ref = sw->up_samples == 0
                        ? sample
                        : sw->up_rate_ref + (sample - sw->up_rate_ref) / 16.0;
  if (sw->up_samples < UINT32_MAX) {
    sw->up_samples++;
  }
  if (!sw->superseed || sw->cfg.reveal_slow_permille == 0 ||
      sw->up_samples < 16) {
    return;
  }
  int slow = p->up_rate * 1000.0 <
             sw->up_rate_ref * (double)sw->cfg.reveal_slow_permille;
  if (slow && !p->up_slow && sw->fast_needy > 0) {
    for (uint32_t w = 0; w < sw->nwords; w++) {
      uint64_t m = p->revealed[w];
      while (m != 0) {
        uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
        m &= m - 1;
        reveal_forget(sw, p, c);
      }
    }
  }
  p->up_slow = slow;
}

int swarm_upload_done(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      uint64_t bytes, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  for (uint32_t i = 0; i < p->up_len; i++) {
    if (p->up_active[i] == chunk) {
      if (!p->up_canceled[i] && bytes == sw->size[chunk]) {
        upload_rate_sample(sw, p, bytes, sw->now - p->up_started[i]);
      }
      sw->up_load -= p->up_weight[i];
      p->up_len--;
      p->up_active[i] = p->up_active[p->up_len];
      p->up_started[i] = p->up_started[p->up_len];
      p->up_weight[i] = p->up_weight[p->up_len];
      p->up_canceled[i] = p->up_canceled[p->up_len];
      sw->uploads_active--;
      sw->bytes_up += bytes;
      p->bytes_up += bytes;
      swarm__upload_pump(sw);
      return 0;
    }
  }
  return SM_ENOTFOUND;
}

/* ------------------------------------------------------ donor protection
 * The donor shows each peer at most reveal_count chunks it lacks, always
 * the ones with the fewest copies in the swarm (avail + pending reveals),
 * and shows the next when the peer announces one. While first copies
 * exist to hand out, the donor uploads each chunk about once. */

/* Reveals count against the budget as soon as they are made, so the donor
 * cannot overshoot by the reveals in flight. */
static int budget_left(const struct swarm *sw) {
  return (sw->bytes_up + sw->reveal_bytes) * 1000 <
         sw->bytes_total * (uint64_t)sw->cfg.donor_budget_permille;
}

/* The budget assumes the peer can fetch present chunks from their holders.
 * It may not (they have lingered out, or it cannot reach them): a peer that
 * got no chunk except the ones we revealed for SWARM__STARVE_MS is served
 * regardless. */
static int reveal_budget(const struct swarm *sw, const struct swarm__peer *p) {
  return budget_left(sw) || sw->now - p->gained_at >= SWARM__STARVE_MS;
}

static uint32_t reveal_pick(struct swarm *sw, struct swarm__peer *p) {
  const struct swarm__prio *pr = &sw->prio;
  int budget = reveal_budget(sw, p);
  uint32_t steps = 0;
  uint32_t i = 0;
  for (; i < sw->n && steps < SWARM__PICK_SCAN; i++, steps++) {
    uint32_t c = pr->order[i];
    if (pr->key[c] >= 1 && !budget) {
      return SWARM__NONE; /* sorted: everything left has a copy */
    }
    if (!swarm__bit(p->has, c) && !swarm__bit(p->revealed, c)) {
      return c;
    }
  }
  if (i >= sw->n) {
    return SWARM__NONE;
  }
  uint32_t best = SWARM__NONE;
  uint32_t best_key = UINT32_MAX;
  uint32_t ties = 0;
  for (uint32_t w = 0; w < sw->nwords; w++) {
    uint64_t m = ~(p->has[w] | p->revealed[w]);
    if (w == sw->nwords - 1 && (sw->n & 63) != 0) {
      m &= ((uint64_t)1 << (sw->n & 63)) - 1;
    }
    while (m != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
      m &= m - 1;
      uint32_t k = pr->key[c];
      if (k < best_key) {
        best = c;
        best_key = k;
        ties = 1;
      } else if (k == best_key && swarm__rand_below(sw, ++ties) == 0) {
        best = c;
      }
    }
  }
  if (best != SWARM__NONE && best_key >= 1 && !budget) {
    return SWARM__NONE;
  }
  return best;
}

void swarm__reveal_topup(struct swarm *sw, struct swarm__peer *p) {
  if (!sw->superseed || !p->used || (p->up_slow && sw->fast_needy > 0)) {
    return;
  }
  while (p->reveal_pending < sw->cfg.reveal_count &&
         p->has_count + p->reveal_pending < sw->n) {
    uint32_t c = reveal_pick(sw, p);
    if (c == SWARM__NONE) {
      return;
    }
    swarm__bit_set(p->revealed, c);
    p->reveal_pending++;
    sw->pending[c]++;
    sw->reveal_bytes += sw->size[c];
    swarm__chunk_rekey(sw, c);
    swarm__emit(sw, SWARM_ACT_SEND_HAVE, p->handle, c, 0);
  }
}

void swarm__reveal_had(struct swarm *sw, struct swarm__peer *p, uint32_t c) {
  if (p->revealed != NULL && swarm__bit(p->revealed, c)) {
    swarm__bit_clear(p->revealed, c);
    p->reveal_pending--;
    sw->pending[c]--;
    sw->reveal_bytes -= sw->size[c];
    swarm__chunk_rekey(sw, c);
  }
}

/* Withdraws a reveal the peer has not fetched: the chunk no longer counts
 * as on its way into the swarm, so it can be shown to another peer. A
 * request for it still queued here is refused (ELSEWHERE: the peer will
 * get it from whoever the donor shows it to); one already uploading runs
 * on. */
static void reveal_forget(struct swarm *sw, struct swarm__peer *p, uint32_t c) {
  swarm__reveal_had(sw, p, c);
  for (uint32_t i = 0; i < p->inq_len; i++) {
    if (p->inq[i] == c) {
      memmove(&p->inq[i], &p->inq[i + 1],
              (size_t)(p->inq_len - i - 1) * sizeof(p->inq[0]));
      p->inq_len--;
      sw->uploads_queued--;
      swarm__emit(sw, SWARM_ACT_SEND_REJECT, p->handle, c,
                  SWARM_REJECT_ELSEWHERE);
      return;
    }
  }
}

void swarm__reveal_tick(struct swarm *sw) {
  /* Slow peers are passed over only while a faster peer can take the
   * chunks instead; the last peers left get reveals whatever their pace. */
  sw->fast_needy = 0;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    const struct swarm__peer *p = &sw->peers[i];
    if (p->used && !p->up_slow && p->has_count < sw->n) {
      sw->fast_needy++;
    }
  }
  /* Cheap exit: nothing without a copy and no budget for more. */
  int budget = budget_left(sw) || sw->prio.key[sw->prio.order[0]] == 0;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *p = &sw->peers[i];
    if (p->used && p->reveal_pending < sw->cfg.reveal_count &&
        (budget || reveal_budget(sw, p))) {
      swarm__reveal_topup(sw, p);
    }
  }
}

/* -------------------------------------------------------------- linger */

void swarm__linger_tick(struct swarm *sw) {
  const struct swarm_config *cfg = &sw->cfg;
  int done = 0;
  if (cfg->role == SWARM_ROLE_DONOR) {
    return;
  }
  if (!sw->linger_started) {
    sw->linger_started = 1; /* created complete: linger from the first tick */
    sw->linger_start = sw->now;
  }
  if (sw->now - sw->linger_start >= cfg->linger_max_ms) {
    done = 1;
  }
  if (cfg->linger_ratio_permille != 0 &&
      sw->bytes_up * 1000 >= sw->bytes_total * cfg->linger_ratio_permille) {
    done = 1;
  }
  int needed = sw->uploads_active > 0 || sw->uploads_queued > 0;
  int recipients = 0;
  for (uint32_t i = 0; i < cfg->max_conns; i++) {
    const struct swarm__peer *p = &sw->peers[i];
    /* A donor holds everything, whatever it has revealed to us so far. */
    if (p->used && !(p->flags & SWARM_PEER_DONOR)) {
      recipients++;
      needed |= p->has_count < sw->n;
    }
  }
  if (!needed && recipients == 0) {
    done = 1; /* nobody but the donor around: there is no one to seed for */
  }
  if (needed) {
    sw->idle_set = 0;
  } else if (!sw->idle_set) {
    sw->idle_set = 1;
    sw->idle_since = sw->now;
  }
  if (sw->idle_set && sw->now - sw->idle_since >= cfg->linger_idle_ms) {
    done = 1;
  }
  if (!done) {
    return;
  }
  sw->state = SWARM_STATE_DONE;
  for (uint32_t i = 0; i < cfg->max_conns; i++) {
    struct swarm__peer *p = &sw->peers[i];
    while (p->used && p->inq_len > 0) {
      uint32_t c = p->inq[--p->inq_len];
      sw->uploads_queued--;
      swarm__emit(sw, SWARM_ACT_SEND_REJECT, p->handle, c, SWARM_REJECT_CLOSING);
    }
  }
  swarm__emit(sw, SWARM_ACT_LINGER_DONE, 0, 0, 0);
}

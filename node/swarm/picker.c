/* picker.c - which chunk to ask a given peer for next, and how many requests
 * to keep in flight to it: random first pieces, then rarest first, then a
 * strict endgame; the window follows the peer's rate x RTT. */
#include "node/swarm/swarm_internal.h"

#include <math.h>

void swarm__chunk_rekey(struct swarm *sw, uint32_t c) {
  uint32_t top = sw->key_excl - 1;
  uint32_t key;
  if (sw->superseed) {
    key = (uint32_t)sw->avail[c] + sw->pending[c];
    swarm__prio_set(&sw->prio, c, key > top ? top : key, sw);
    return;
  }
  int e = !swarm__bit(sw->have, c) && sw->reqcnt[c] == 0;
  if (e != swarm__bit(sw->elig, c)) {
    if (e) {
      swarm__bit_set(sw->elig, c);
      sw->elig_count++;
    } else {
      swarm__bit_clear(sw->elig, c);
      sw->elig_count--;
    }
  }
  key = e ? (sw->avail[c] > top ? top : sw->avail[c]) : sw->key_excl;
  swarm__prio_set(&sw->prio, c, key, sw);
}

void swarm__peer_refuse(struct swarm *sw, struct swarm__peer *p, uint32_t chunk) {
  for (uint32_t i = 0; i < SWARM__REJECT_MEMORY; i++) {
    if (p->rejected[i] == chunk) {
      p->rejected_at[i] = sw->now; /* refused again: the backoff restarts */
      return;
    }
  }
  p->rejected[p->rejected_next] = chunk;
  p->rejected_at[p->rejected_next] = sw->now;
  p->rejected_next = (p->rejected_next + 1) % SWARM__REJECT_MEMORY;
}

int swarm__peer_refused_ever(const struct swarm__peer *p, uint32_t chunk) {
  for (uint32_t i = 0; i < SWARM__REJECT_MEMORY; i++) {
    if (p->rejected[i] == chunk) {
      return 1;
    }
  }
  return 0;
}

/* Another connected peer has chunk and has not refused it. */
static int other_source(const struct swarm *sw, const struct swarm__peer *p, uint32_t chunk) {
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    const struct swarm__peer *q = &sw->peers[i];
    if (q->used && q != p && !q->closing && swarm__bit(q->has, chunk) &&
        !swarm__peer_refused_ever(q, chunk)) {
      return 1;
    }
  }
  return 0;
}

int swarm__peer_rejected(const struct swarm *sw, const struct swarm__peer *p, uint32_t chunk) {
  for (uint32_t i = 0; i < SWARM__REJECT_MEMORY; i++) {
    if (p->rejected[i] != chunk) {
      continue;
    }
    /* A fresh refusal stands; an old one only while someone else could
     * serve the chunk (a donor's ELSEWHERE keeps steering us to the other
     * recipients). When every peer that has it refused it, asking again is
     * the only way on: the fetch must not starve. */
    return sw->now - p->rejected_at[i] < sw->cfg.request_timeout_ms ||
           other_source(sw, p, chunk);
  }
  return 0;
}

uint32_t swarm__window(const struct swarm *sw, const struct swarm__peer *p) {
  double rtt = swarm__rtt(p);
  if (p->score < 0) {
    return 1; /* snubbed after timeouts until it delivers again */
  }
  if (p->rate <= 0.0 || rtt < 0.0) {
    return sw->cfg.initial_window;
  }
  double k = (double)sw->cfg.window_gain_permille / 1000.0;
  double w = ceil(p->rate * rtt * k / (double)sw->chunk_nominal) + 1.0;
  if (w < 1.0) {
    w = 1.0;
  }
  if (w > (double)sw->cfg.max_window) {
    w = (double)sw->cfg.max_window;
  }
  return (uint32_t)w;
}

/* Random pick among what p has and we still need: a random word, then the
 * first word from there with a candidate, then a random bit in it. */
static uint32_t pick_random(struct swarm *sw, struct swarm__peer *p) {
  uint32_t w0 = swarm__rand_below(sw, sw->nwords);
  for (uint32_t k = 0; k < sw->nwords; k++) {
    uint32_t w = (w0 + k) % sw->nwords;
    uint64_t m = p->has[w] & sw->elig[w];
    uint32_t best = SWARM__NONE;
    uint32_t seen = 0;
    while (m != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
      m &= m - 1;
      if (swarm__peer_rejected(sw, p, c)) {
        continue;
      }
      seen++;
      if (swarm__rand_below(sw, seen) == 0) {
        best = c;
      }
    }
    if (best != SWARM__NONE) {
      return best;
    }
  }
  return SWARM__NONE;
}

/* Exact rarest-first over p's bitfield: O(n/64 + candidates). Used when the
 * ordered walk finds nothing p has within a few steps. */
static uint32_t pick_scan(struct swarm *sw, struct swarm__peer *p) {
  uint32_t best = SWARM__NONE;
  uint32_t best_key = UINT32_MAX;
  uint32_t ties = 0;
  for (uint32_t w = 0; w < sw->nwords; w++) {
    uint64_t m = p->has[w] & sw->elig[w];
    while (m != 0) {
      uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(m);
      m &= m - 1;
      if (swarm__peer_rejected(sw, p, c)) {
        continue;
      }
      uint32_t k = sw->prio.key[c];
      if (k < best_key) {
        best = c;
        best_key = k;
        ties = 1;
      } else if (k == best_key) {
        ties++;
        if (swarm__rand_below(sw, ties) == 0) {
          best = c;
        }
      }
    }
  }
  return best;
}

uint32_t swarm__pick(struct swarm *sw, struct swarm__peer *p) {
  if (p->has_count == 0 || p->interesting == 0 || sw->elig_count == 0) {
    return SWARM__NONE;
  }
  if (sw->have_count < sw->cfg.random_first) {
    return pick_random(sw, p);
  }
  /* Walk eligible chunks from the rarest key that someone has (key 1). */
  uint32_t i = sw->prio.start[1];
  uint32_t end = sw->prio.start[sw->key_excl];
  for (uint32_t steps = 0; i < end && steps < SWARM__PICK_SCAN; i++, steps++) {
    uint32_t c = sw->prio.order[i];
    if (swarm__bit(p->has, c) && !swarm__peer_rejected(sw, p, c)) {
      return c;
    }
  }
  if (i >= end) {
    return SWARM__NONE;
  }
  return pick_scan(sw, p);
}

uint32_t swarm__pick_endgame(struct swarm *sw, struct swarm__peer *p) {
  uint32_t best = SWARM__NONE;
  uint32_t best_copies = UINT32_MAX;
  uint64_t best_sent = UINT64_MAX;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *q = &sw->peers[i];
    if (!q->used || q == p) {
      continue;
    }
    for (uint32_t r = 0; r < q->nreqs; r++) {
      uint32_t c = q->reqs[r].chunk;
      uint32_t copies = sw->reqcnt[c];
      if (copies >= sw->cfg.endgame_max_copies || !swarm__bit(p->has, c) ||
          swarm__bit(sw->have, c) || swarm__request_find(p, c) >= 0 ||
          swarm__peer_rejected(sw, p, c)) {
        continue;
      }
      /* Fewest copies first, then the one waiting longest. */
      if (copies < best_copies ||
          (copies == best_copies && q->reqs[r].sent_at < best_sent)) {
        best = c;
        best_copies = copies;
        best_sent = q->reqs[r].sent_at;
      }
    }
  }
  return best;
}

void swarm__fill(struct swarm *sw, struct swarm__peer *p) {
  if (sw->state != SWARM_STATE_FETCH || !p->used || p->closing ||
      sw->now < p->blocked_until) {
    return;
  }
  uint32_t w = swarm__window(sw, p);
  while (p->nreqs < w) {
    uint32_t c = swarm__pick(sw, p);
    if (c == SWARM__NONE && sw->elig_count == 0) {
      c = swarm__pick_endgame(sw, p);
    }
    if (c == SWARM__NONE) {
      break;
    }
    swarm__request_issue(sw, p, c);
  }
}

void swarm__fill_all(struct swarm *sw) {
  uint32_t m = sw->cfg.max_conns;
  if (sw->state != SWARM_STATE_FETCH) {
    return;
  }
  uint32_t start = sw->fill_rr++ % m;
  for (uint32_t k = 0; k < m; k++) {
    struct swarm__peer *p = &sw->peers[(start + k) % m];
    if (p->used) {
      swarm__fill(sw, p);
    }
  }
}

/* swarm.c - lifecycle, configuration, action emission, the periodic tick and
 * the status accessors of the swarm scheduler. The design is in
 * docs/swarm.md; the other files hold peers, picking, downloads, uploads. */
#include "node/swarm/swarm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void swarm_config_default(struct swarm_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = SWARM_ROLE_RECIPIENT;
  cfg->seed = 1;
  cfg->tick_ms = 100;
  cfg->max_peers = 12;
  cfg->max_conns = 32;
  cfg->max_candidates = 256;
  cfg->max_connecting = 4;
  cfg->connect_timeout_ms = 5000;
  cfg->reconnect_backoff_ms = 2000;
  cfg->replace_interval_ms = 10000;
  cfg->slow_permille = 200;
  cfg->initial_window = 2;
  cfg->max_window = 16;
  cfg->window_gain_permille = 1500;
  cfg->random_first = 4;
  cfg->endgame_max_copies = 3;
  cfg->request_timeout_ms = 10000;
  cfg->max_timeouts = 3;
  cfg->busy_backoff_ms = 250;
  cfg->rate_sample_ms = 100;
  cfg->rtt_window_ms = 10000;
  cfg->upload_slots = 6;
  cfg->max_in_queue = 32;
  cfg->donor_protect = 1;
  cfg->reveal_count = 4;
  cfg->donor_budget_permille = 1250;
  cfg->reveal_slow_permille = 250;
  cfg->linger_max_ms = 300000;
  cfg->linger_ratio_permille = 0;
  cfg->linger_idle_ms = 3000;
}

uint64_t swarm__rand(struct swarm *sw) {
  sw->rng += 0x9e3779b97f4a7c15ULL;
  uint64_t z = sw->rng;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t swarm__rand_below(struct swarm *sw, uint32_t n) {
  return (uint32_t)(((swarm__rand(sw) >> 32) * (uint64_t)n) >> 32);
}

void swarm__enter(struct swarm *sw, uint64_t now) {
  if (sw->in_emit) {
    fprintf(stderr, "swarm: re-entered from emit(); queue actions instead\n");
    abort();
  }
  if (now > sw->now) {
    sw->now = now;
  }
}

void swarm__emit(struct swarm *sw, enum swarm_action_type type, uint32_t peer,
                 uint32_t chunk, int reason) {
  struct swarm_action act;
  memset(&act, 0, sizeof(act));
  act.type = type;
  act.peer = peer;
  act.chunk = chunk;
  act.reason = reason;
  sw->in_emit = 1;
  sw->ops.emit(sw->ops.user, &act);
  sw->in_emit = 0;
}

void swarm__emit_bitfield(struct swarm *sw, uint32_t peer, const uint64_t *bits) {
  size_t len = ((size_t)sw->n + 7) / 8;
  memset(sw->wire, 0, len);
  for (uint32_t w = 0; w < sw->nwords; w++) {
    uint64_t m = bits[w];
    while (m != 0) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(m);
      m &= m - 1;
      sw->wire[i >> 3] |= (uint8_t)(0x80u >> (i & 7));
    }
  }
  struct swarm_action act;
  memset(&act, 0, sizeof(act));
  act.type = SWARM_ACT_SEND_BITFIELD;
  act.peer = peer;
  act.bits = sw->wire;
  act.bits_len = len;
  sw->in_emit = 1;
  sw->ops.emit(sw->ops.user, &act);
  sw->in_emit = 0;
}

static int config_check(const struct swarm_config *c) {
  if (c->role != SWARM_ROLE_RECIPIENT && c->role != SWARM_ROLE_DONOR) {
    return SM_ECONFIG;
  }
  if (c->max_conns == 0 || c->max_conns > SWARM__MAX_CONNS ||
      c->max_peers == 0 || c->max_peers > c->max_conns ||
      c->max_candidates == 0 || c->max_connecting == 0) {
    return SM_ECONFIG;
  }
  if (c->initial_window == 0 || c->max_window == 0 ||
      c->initial_window > c->max_window || c->max_window > 4096) {
    return SM_ECONFIG;
  }
  if (c->endgame_max_copies == 0 || c->endgame_max_copies > 200 ||
      c->upload_slots == 0 || c->max_in_queue == 0 || c->tick_ms == 0 ||
      c->request_timeout_ms == 0 || c->rate_sample_ms == 0 ||
      c->rtt_window_ms == 0) {
    return SM_ECONFIG;
  }
  return 0;
}

int swarm_new(const struct swarm_config *cfg, const struct swarm_ops *ops,
              uint32_t n_chunks, const uint32_t *chunk_bytes,
              const uint8_t *have_bits, struct swarm **out) {
  struct swarm *sw = NULL;
  int rc = 0;

  if (out == NULL || cfg == NULL || ops == NULL || ops->emit == NULL ||
      chunk_bytes == NULL || n_chunks == 0) {
    return SM_EINVAL;
  }
  *out = NULL;
  if (n_chunks > SWARM__MAX_CHUNKS) {
    return SM_ETOOBIG;
  }
  rc = config_check(cfg);
  if (rc != 0) {
    return rc;
  }
  sw = sm_calloc(1, sizeof(*sw));
  if (sw == NULL) {
    return SM_ENOMEM;
  }
  sw->cfg = *cfg;
  sw->ops = *ops;
  sw->rng = cfg->seed;
  sw->n = n_chunks;
  sw->nwords = (n_chunks + 63) / 64;
  sw->key_excl = cfg->max_conns + 1;
  sw->state = SWARM_STATE_FETCH;

  sw->size = sm_malloc((size_t)n_chunks * sizeof(*sw->size));
  sw->have = sm_calloc(sw->nwords, sizeof(uint64_t));
  sw->elig = sm_calloc(sw->nwords, sizeof(uint64_t));
  sw->avail = sm_calloc(n_chunks, sizeof(*sw->avail));
  sw->reqcnt = sm_calloc(n_chunks, sizeof(*sw->reqcnt));
  sw->wire = sm_malloc(((size_t)n_chunks + 7) / 8);
  sw->peers = sm_calloc(cfg->max_conns, sizeof(*sw->peers));
  sw->cands = sm_calloc(cfg->max_candidates, sizeof(*sw->cands));
  sw->pidx_mask = 1;
  while (sw->pidx_mask < 2 * cfg->max_conns) {
    sw->pidx_mask <<= 1;
  }
  sw->pidx = sm_calloc(sw->pidx_mask, sizeof(*sw->pidx));
  sw->pidx_mask--;
  if (sw->pidx == NULL || sw->size == NULL || sw->have == NULL || sw->elig == NULL ||
      sw->avail == NULL || sw->reqcnt == NULL || sw->wire == NULL ||
      sw->peers == NULL || sw->cands == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < n_chunks; i++) {
    if (chunk_bytes[i] == 0) {
      rc = SM_EINVAL;
      goto out;
    }
    sw->size[i] = chunk_bytes[i];
    sw->bytes_total += chunk_bytes[i];
    if (chunk_bytes[i] > sw->chunk_nominal) {
      sw->chunk_nominal = chunk_bytes[i];
    }
    if (have_bits != NULL && (have_bits[i >> 3] & (0x80u >> (i & 7))) != 0) {
      swarm__bit_set(sw->have, i);
      sw->have_count++;
      sw->bytes_have += chunk_bytes[i];
    }
  }
  if (cfg->role == SWARM_ROLE_DONOR && sw->have_count != n_chunks) {
    rc = SM_EINVAL;
    goto out;
  }
  sw->superseed = cfg->role == SWARM_ROLE_DONOR && cfg->donor_protect;
  if (sw->superseed) {
    sw->pending = sm_calloc(n_chunks, sizeof(*sw->pending));
    if (sw->pending == NULL) {
      rc = SM_ENOMEM;
      goto out;
    }
  }
  /* Everything starts at key 0 (rarest) in random order; rekey moves what
   * must not be picked to the excluded key. */
  rc = swarm__prio_init(&sw->prio, n_chunks, sw->key_excl + 1, sw);
  if (rc != 0) {
    goto out;
  }
  for (uint32_t i = 0; i < n_chunks; i++) {
    if (!sw->superseed) {
      swarm__bit_set(sw->elig, i);
      sw->elig_count++;
    }
    swarm__chunk_rekey(sw, i);
  }
  if (sw->have_count == n_chunks) {
    sw->state = SWARM_STATE_SEED;
    sw->complete_emitted = 1; /* an instance created complete never emits */
  }
  *out = sw;
  sw = NULL;
out:
  swarm_free(sw);
  return rc;
}

static void peer_free_storage(struct swarm__peer *p) {
  sm_free(p->has); /* one block: has, revealed, reqs, inq, up_* */
  p->has = NULL;
}

void swarm_free(struct swarm *sw) {
  if (sw == NULL) {
    return;
  }
  if (sw->peers != NULL) {
    for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
      if (sw->peers[i].used) {
        peer_free_storage(&sw->peers[i]);
      }
    }
  }
  swarm__prio_cleanup(&sw->prio);
  sm_free(sw->size);
  sm_free(sw->have);
  sm_free(sw->elig);
  sm_free(sw->avail);
  sm_free(sw->reqcnt);
  sm_free(sw->pending);
  sm_free(sw->wire);
  sm_free(sw->peers);
  sm_free(sw->cands);
  sm_free(sw->pidx);
  sm_free(sw);
}

void swarm_tick(struct swarm *sw, uint64_t now) {
  swarm__enter(sw, now);
  if (sw->state == SWARM_STATE_DONE) {
    return;
  }
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *p = &sw->peers[i];
    if (!p->used) {
      continue;
    }
    swarm__rate_account(p, sw->now);
    swarm__rate_sample(sw, p, 0);
    swarm__requests_tick(sw, p); /* may drop p */
  }
  swarm__peers_tick(sw);
  if (sw->superseed) {
    swarm__reveal_tick(sw);
  }
  if (sw->state == SWARM_STATE_SEED) {
    swarm__linger_tick(sw);
  }
  if (sw->state == SWARM_STATE_FETCH) {
    swarm__fill_all(sw);
  }
  swarm__upload_pump(sw);
}

void swarm_stats_get(const struct swarm *sw, struct swarm_stats *out) {
  memset(out, 0, sizeof(*out));
  out->state = sw->state;
  out->endgame = sw->state == SWARM_STATE_FETCH && !sw->superseed &&
                 sw->elig_count == 0;
  out->chunks_total = sw->n;
  out->chunks_have = sw->have_count;
  out->bytes_total = sw->bytes_total;
  out->bytes_have = sw->bytes_have;
  out->bytes_down = sw->bytes_down;
  out->bytes_down_donor = sw->bytes_down_donor;
  out->bytes_wasted = sw->bytes_wasted;
  out->bytes_up = sw->bytes_up;
  out->chunks_bad = sw->chunks_bad;
  out->peers_connected = sw->npeers;
  out->peers_connecting = sw->nconnecting;
  out->candidates = sw->ncands;
  out->requests_out = sw->requests_out;
  out->uploads_active = sw->uploads_active;
  out->uploads_queued = sw->uploads_queued;
  out->timeouts = sw->timeouts;
  out->complete_at = sw->complete_at;
}

int swarm_peer_stats_get(const struct swarm *sw, uint32_t peer,
                         struct swarm_peer_stats *out) {
  const struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  memset(out, 0, sizeof(*out));
  out->flags = p->flags;
  out->chunks_have = p->has_count;
  out->window = swarm__window(sw, p);
  out->requests_out = p->nreqs;
  out->uploads_active = p->up_len;
  out->uploads_queued = p->inq_len;
  out->rate_bpms = p->rate;
  out->rtt_ms = swarm__rtt(p);
  out->bytes_down = p->bytes_down;
  out->bytes_up = p->bytes_up;
  out->score = p->score;
  return 0;
}

uint32_t swarm_peers_list(const struct swarm *sw, uint32_t *out, uint32_t max) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    if (sw->peers[i].used) {
      if (k < max) {
        out[k] = sw->peers[i].handle;
      }
      k++;
    }
  }
  return k;
}

int swarm_chunk_has(const struct swarm *sw, uint32_t chunk) {
  if (chunk >= sw->n) {
    return 0;
  }
  return swarm__bit(sw->have, chunk);
}

/* Every connected peer that could serve chunk (it has it, or is the donor)
 * has refused it, and there is at least one: e.g. the donor found its own
 * copy damaged on disk. */
static int refused_by_all(const struct swarm *sw, uint32_t chunk) {
  int holders = 0;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    const struct swarm__peer *q = &sw->peers[i];
    if (!q->used || q->closing ||
        !((q->flags & SWARM_PEER_DONOR) || swarm__bit(q->has, chunk))) {
      continue;
    }
    if (!swarm__peer_refused_ever(q, chunk)) {
      return 0;
    }
    holders++;
  }
  return holders > 0;
}

uint32_t swarm_chunks_unavailable(const struct swarm *sw) {
  if (sw->state != SWARM_STATE_FETCH) {
    return 0;
  }
  int donor = 0;
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    if (sw->peers[i].used && (sw->peers[i].flags & SWARM_PEER_DONOR)) {
      donor = 1; /* the donor has everything, even what it has not revealed */
    }
  }
  uint32_t k = 0;
  for (uint32_t c = 0; c < sw->n && !donor; c++) {
    if (!swarm__bit(sw->have, c) && sw->avail[c] == 0) {
      k++;
    }
  }
  /* Plus what is offered but refused by all who have it (they are in the
   * peers' short memories of refusals; each chunk counted once). */
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    const struct swarm__peer *p = &sw->peers[i];
    for (uint32_t r = 0; p->used && r < SWARM__REJECT_MEMORY; r++) {
      uint32_t c = p->rejected[r];
      int seen = 0;
      for (uint32_t j = 0; j < i && !seen; j++) {
        seen = sw->peers[j].used && swarm__peer_refused_ever(&sw->peers[j], c);
      }
      if (c < sw->n && !seen && !swarm__bit(sw->have, c) && (donor || sw->avail[c] > 0) &&
          refused_by_all(sw, c)) {
        k++;
      }
    }
  }
  return k;
}

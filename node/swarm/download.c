/* download.c - our requests: issuing them, data arriving, verification
 * outcomes, rejections, timeouts, endgame cancels and completion. */
#include "node/swarm/swarm_internal.h"

#include <string.h>

int swarm__request_find(const struct swarm__peer *p, uint32_t chunk) {
  for (uint32_t i = 0; i < p->nreqs; i++) {
    if (p->reqs[i].chunk == chunk) {
      return (int)i;
    }
  }
  return -1;
}

void swarm__request_issue(struct swarm *sw, struct swarm__peer *p,
                          uint32_t chunk) {
  swarm__rate_account(p, sw->now);
  struct swarm__req *r = &p->reqs[p->nreqs++];
  memset(r, 0, sizeof(*r));
  r->chunk = chunk;
  r->sent_at = sw->now;
  r->progress_at = sw->now;
  sw->reqcnt[chunk]++;
  sw->requests_out++;
  swarm__chunk_rekey(sw, chunk);
  swarm__emit(sw, SWARM_ACT_SEND_REQUEST, p->handle, chunk, 0);
}

void swarm__request_remove(struct swarm *sw, struct swarm__peer *p, uint32_t i) {
  uint32_t chunk = p->reqs[i].chunk;
  swarm__rate_account(p, sw->now);
  /* Keep issue order: the oldest request stays first. */
  memmove(&p->reqs[i], &p->reqs[i + 1],
          (size_t)(p->nreqs - i - 1) * sizeof(p->reqs[0]));
  p->nreqs--;
  sw->reqcnt[chunk]--;
  sw->requests_out--;
  swarm__chunk_rekey(sw, chunk);
}

int swarm_chunk_data(struct swarm *sw, uint32_t peer, uint32_t chunk,
                     uint64_t nbytes, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  p->last_rx_at = sw->now;
  int i = swarm__request_find(p, chunk);
  if (i < 0) {
    return 0; /* canceled; counted when it completes, if ever */
  }
  struct swarm__req *r = &p->reqs[i];
  if (r->bytes + nbytes > sw->size[chunk]) {
    return SM_EPROTO;
  }
  if (r->first_at == 0 && r->bytes == 0) {
    r->first_at = sw->now;
    swarm__rtt_sample(sw, p, (double)(sw->now - r->sent_at));
  }
  r->bytes += nbytes;
  r->progress_at = sw->now;
  p->rx_acc += nbytes;
  return 0;
}

static void download_complete(struct swarm *sw) {
  sw->state = SWARM_STATE_SEED;
  sw->complete_at = sw->now;
  sw->linger_start = sw->now;
  sw->linger_started = 1;
  sw->idle_set = 0;
  /* Nothing is left to request; endgame duplicates were canceled as their
   * chunks arrived, but be thorough. */
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *p = &sw->peers[i];
    while (p->used && p->nreqs > 0) {
      uint32_t c = p->reqs[p->nreqs - 1].chunk;
      swarm__request_remove(sw, p, p->nreqs - 1);
      swarm__emit(sw, SWARM_ACT_SEND_CANCEL, p->handle, c, 0);
    }
  }
  sw->complete_emitted = 1;
  swarm__emit(sw, SWARM_ACT_COMPLETE, 0, 0, 0);
}

/* A verified chunk: count it, cancel its duplicates, announce it. */
static void chunk_accept(struct swarm *sw, uint32_t chunk) {
  swarm__bit_set(sw->have, chunk);
  sw->have_count++;
  sw->bytes_have += sw->size[chunk];
  swarm__chunk_rekey(sw, chunk);
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *q = &sw->peers[i];
    if (!q->used) {
      continue;
    }
    if (sw->reqcnt[chunk] > 0) {
      int k = swarm__request_find(q, chunk);
      if (k >= 0) {
        swarm__request_remove(sw, q, (uint32_t)k);
        swarm__emit(sw, SWARM_ACT_SEND_CANCEL, q->handle, chunk, 0);
      }
    }
    if (swarm__bit(q->has, chunk)) {
      q->interesting--;
    }
    swarm__emit(sw, SWARM_ACT_SEND_HAVE, q->handle, chunk, 0);
  }
}

int swarm_chunk_received(struct swarm *sw, uint32_t peer, uint32_t chunk,
                         int ok, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  uint64_t size = sw->size[chunk];
  uint64_t rest = size;
  int i = swarm__request_find(p, chunk);
  if (i >= 0) {
    struct swarm__req r = p->reqs[i];
    rest = size - r.bytes;
    if (r.first_at == 0 && r.bytes == 0 && p->rate > 0.0) {
      /* No first-byte report: request->completion minus transfer time. */
      double ms = (double)(sw->now - r.sent_at) - (double)size / p->rate;
      if (ms >= 0.0) {
        swarm__rtt_sample(sw, p, ms);
      }
    }
    for (int k = 0; k < i; k++) {
      if (p->reqs[k].bytes == 0 && p->reqs[k].first_at == 0) {
        p->reqs[k].overtaken++;
      }
    }
    swarm__request_remove(sw, p, (uint32_t)i);
    p->last_done_at = sw->now;
  }
  p->rx_acc += rest;
  p->last_rx_at = sw->now;
  p->bytes_down += size;
  sw->bytes_down += size;
  if (p->flags & SWARM_PEER_DONOR) {
    sw->bytes_down_donor += size;
  }
  swarm__rate_sample(sw, p, 1);

  if (!ok) {
    sw->chunks_bad++;
    sw->bytes_wasted += size;
    swarm__cand_ban(sw, peer);
    sm_log(SM_LOG_WARN, "swarm", "peer %u sent a bad chunk %u: banned", peer,
           chunk);
    swarm__peer_drop(sw, p, SWARM_ACT_BAN, SWARM_REASON_BAD_CHUNK);
    return 0;
  }
  if (p->score < 16) {
    p->score++;
  }
  if (swarm__bit(sw->have, chunk)) {
    sw->bytes_wasted += size; /* endgame duplicate or late arrival */
  } else {
    chunk_accept(sw, chunk);
    if (sw->have_count == sw->n) {
      download_complete(sw);
    }
  }
  if (sw->state == SWARM_STATE_FETCH) {
    swarm__fill(sw, p);
    swarm__fill_all(sw);
  }
  return 0;
}

int swarm_chunk_lost(struct swarm *sw, uint32_t chunk, uint64_t now) {
  swarm__enter(sw, now);
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  if (!swarm__bit(sw->have, chunk)) {
    return 0;
  }
  if (sw->cfg.role == SWARM_ROLE_DONOR) {
    return SM_ESTATE; /* the snapshot's source: nobody to fetch it from */
  }
  swarm__bit_clear(sw->have, chunk);
  sw->have_count--;
  sw->bytes_have -= sw->size[chunk];
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    struct swarm__peer *q = &sw->peers[i];
    if (q->used && swarm__bit(q->has, chunk)) {
      q->interesting++;
    }
  }
  swarm__chunk_rekey(sw, chunk);
  /* Peers were told we have it: a fresh bitfield takes it back, so nobody
   * keeps asking us for it and a donor knows to show it to us again. */
  for (uint32_t i = 0; i < sw->cfg.max_conns; i++) {
    if (sw->peers[i].used) {
      swarm__emit_bitfield(sw, sw->peers[i].handle, sw->have);
    }
  }
  if (sw->state != SWARM_STATE_FETCH) {
    /* Back to fetching, from lingering or after it (links stay open in
     * DONE); COMPLETE and LINGER_DONE are emitted again. */
    sw->state = SWARM_STATE_FETCH;
    sw->complete_at = 0;
    sw->linger_started = 0;
    sw->idle_set = 0;
    sw->complete_emitted = 0;
  }
  swarm__fill_all(sw);
  return 0;
}

int swarm_peer_reject(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      int reason, uint64_t now) {
  swarm__enter(sw, now);
  struct swarm__peer *p = swarm__peer_find(sw, peer);
  if (p == NULL) {
    return SM_ENOTFOUND;
  }
  if (chunk >= sw->n) {
    return SM_EPROTO;
  }
  int i = swarm__request_find(p, chunk);
  if (i < 0) {
    return 0; /* already canceled */
  }
  swarm__request_remove(sw, p, (uint32_t)i);
  switch (reason) {
  case SWARM_REJECT_NOT_HAVE:
    if (p->flags & SWARM_PEER_DONOR) {
      /* The donor holds every chunk: "not have" from it means its stored
       * copy failed the check before sending (damaged on its disk). Treated
       * as a refusal, so the chunk is asked of others, and of the donor
       * again after the backoff, once its store may have been repaired. */
      swarm__peer_refuse(sw, p, chunk);
      break;
    }
    if (swarm__bit(p->has, chunk)) {
      swarm__bit_clear(p->has, chunk);
      p->has_count--;
      sw->avail[chunk]--;
      if (!swarm__bit(sw->have, chunk)) {
        p->interesting--;
      }
      swarm__chunk_rekey(sw, chunk);
    }
    break;
  case SWARM_REJECT_BUSY:
    p->blocked_until = sw->now + sw->cfg.busy_backoff_ms;
    break;
  case SWARM_REJECT_CLOSING:
    p->closing = 1;
    break;
  case SWARM_REJECT_ELSEWHERE:
  default:
    swarm__peer_refuse(sw, p, chunk);
    break;
  }
  swarm__fill_all(sw);
  return 0;
}

/* A request times out when neither it nor any other request to the same
 * peer made progress for request_timeout_ms, or when more than max_window
 * later requests to that peer completed before it sent a byte (the peer
 * lost it). It goes back to the pool and costs the peer score; a peer with
 * too many timeouts is dropped. */
void swarm__requests_tick(struct swarm *sw, struct swarm__peer *p) {
  uint64_t limit = sw->cfg.request_timeout_ms;
  uint32_t i = 0;
  int any = 0;
  while (i < p->nreqs) {
    struct swarm__req *r = &p->reqs[i];
    uint64_t last = r->progress_at > p->last_done_at ? r->progress_at
                                                      : p->last_done_at;
    if (sw->now - last < limit && r->overtaken <= sw->cfg.max_window) {
      i++;
      continue;
    }
    uint32_t c = r->chunk;
    swarm__request_remove(sw, p, i);
    swarm__emit(sw, SWARM_ACT_SEND_CANCEL, p->handle, c, 0);
    swarm__peer_refuse(sw, p, c); /* ask someone else */
    sw->timeouts++;
    p->timeouts++;
    p->score -= 2;
    any = 1;
  }
  if (!any) {
    return;
  }
  if (p->timeouts >= sw->cfg.max_timeouts) {
    swarm__peer_drop(sw, p, SWARM_ACT_DISCONNECT, SWARM_REASON_TIMEOUT);
    return;
  }
  swarm__fill_all(sw);
}

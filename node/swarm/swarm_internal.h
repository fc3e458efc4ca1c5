/* swarm_internal.h - state and cross-file helpers of the swarm scheduler.
 * Nothing here is visible outside node/swarm/. */
#ifndef SM_SWARM_INTERNAL_H
#define SM_SWARM_INTERNAL_H

#include <stdint.h>

#include "common/common.h"
#include "node/swarm/swarm.h"

#define SWARM__NONE UINT32_MAX
#define SWARM__MAX_CHUNKS (1u << 26)
#define SWARM__MAX_CONNS 65000u
#define SWARM__REJECT_MEMORY 8   /* per peer: chunks it told us to get elsewhere */
#define SWARM__PICK_SCAN 128     /* ordered steps before the bitset fallback */
#define SWARM__STARVE_MS 3000  /* donor: a needy peer without progress this
                                  long gets reveals beyond the budget */
#define SWARM__UP_OVERCOMMIT 4
#define SWARM__UP_MIN_WEIGHT 62  /* permille: an upload is >= 1/16 slot */
#define SWARM__UP_SLOW_WEIGHT 250 /* permille: below, an upload is "slow" */

/* ----------------------------------------------------------------- bits */
static inline int swarm__bit(const uint64_t *b, uint32_t i) {
  return (int)((b[i >> 6] >> (i & 63)) & 1u);
}
static inline void swarm__bit_set(uint64_t *b, uint32_t i) {
  b[i >> 6] |= (uint64_t)1 << (i & 63);
}
static inline void swarm__bit_clear(uint64_t *b, uint32_t i) {
  b[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* ------------------------------------------------------------------ rng */
/* splitmix64; one stream per swarm, seeded from the config. */
uint64_t swarm__rand(struct swarm *sw);
/* Uniform in [0, n), n > 0. */
uint32_t swarm__rand_below(struct swarm *sw, uint32_t n);

/* ----------------------------------------------------------------- prio
 * Items 0..n-1 ordered by a small integer key, random order inside a key:
 * order[] holds items sorted by key, pos[] is its inverse, start[k] is the
 * first slot of key k (start[nkeys] == n). Changing a key by d costs d swaps
 * plus one random swap inside the destination bucket. */
struct swarm__prio {
  uint32_t n, nkeys;
  uint32_t *order, *pos, *start;
  uint16_t *key;
};

int swarm__prio_init(struct swarm__prio *p, uint32_t n, uint32_t nkeys,
                     struct swarm *sw);
void swarm__prio_cleanup(struct swarm__prio *p);
void swarm__prio_set(struct swarm__prio *p, uint32_t item, uint32_t key,
                     struct swarm *sw);

/* ---------------------------------------------------------------- peers */
struct swarm__req {
  uint32_t chunk;
  uint64_t sent_at, progress_at, first_at;
  uint64_t bytes;      /* received so far */
  uint32_t overtaken;  /* later requests to the same peer completed first */
};

struct swarm__peer {
  int used;
  uint32_t handle, flags;
  uint64_t connected_at;
  int got_bitfield;
  uint64_t *has;          /* what it advertised */
  uint32_t has_count;
  uint32_t interesting;   /* |has \ ours| */
  uint64_t *revealed;     /* donor protection: chunks shown, not yet had */
  uint32_t reveal_pending;
  uint64_t gained_at;      /* donor: last time it announced a chunk we had
                              not revealed to it (or connected) */

  struct swarm__req *reqs; /* capacity cfg.max_window */
  uint32_t nreqs;
  uint32_t rejected[SWARM__REJECT_MEMORY];
  uint64_t rejected_at[SWARM__REJECT_MEMORY]; /* when (picker.c: backoff) */
  uint32_t rejected_next;
  uint64_t blocked_until;  /* BUSY backoff */
  int closing;             /* it said CLOSING: ask it nothing more */

  uint32_t *inq;           /* its queued requests, capacity max_in_queue */
  uint32_t inq_len;
  uint32_t *up_active;     /* chunks we are sending it, capacity upload_slots */
  uint64_t *up_started;    /* when each of those uploads started */
  uint16_t *up_weight;     /* its share of a slot, permille (upload.c) */
  uint8_t *up_canceled;
  uint32_t up_len;
  double up_rate;          /* bytes/ms of our whole-chunk uploads to it, EWMA;
                              0 = no sample yet */
  int up_slow;             /* donor: up_rate far below the reference */

  /* Estimators (see docs/swarm.md). */
  double rate;             /* bytes/ms, EWMA; 0 = no sample yet */
  double rtt_cur, rtt_prev;/* two-bucket windowed min; <0 = empty */
  uint64_t rtt_epoch;
  uint64_t rx_acc, busy_acc, busy_mark;
  uint64_t last_rx_at, last_done_at;
  uint32_t timeouts;
  int score;
  uint64_t bytes_down, bytes_up;
};

enum swarm__cand_state {
  SWARM__CAND_IDLE = 0,
  SWARM__CAND_CONNECTING,
  SWARM__CAND_CONNECTED,
};

struct swarm__cand {
  int used;
  uint32_t handle, flags;
  int state;      /* enum swarm__cand_state */
  int banned;
  int gossip;     /* still named by gossip (not just remembered as banned) */
  uint32_t fails;
  uint64_t retry_at, deadline;
};

/* ---------------------------------------------------------------- swarm */
struct swarm {
  struct swarm_config cfg;
  struct swarm_ops ops;
  int in_emit;
  uint64_t rng;
  uint64_t now;

  uint32_t n;            /* chunks */
  uint32_t nwords;       /* 64-bit words per bitfield */
  uint32_t *size;        /* bytes per chunk */
  uint32_t chunk_nominal;/* largest chunk: the window unit */
  uint64_t bytes_total;

  uint64_t *have;
  uint64_t *elig;        /* fetching: missing and not requested */
  uint32_t elig_count;
  uint16_t *avail;       /* connected peers advertising each chunk */
  uint8_t *reqcnt;       /* our outstanding requests per chunk */
  uint16_t *pending;     /* donor protection: peers the chunk is revealed to */
  struct swarm__prio prio;
  uint32_t key_excl;     /* prio key of chunks not to pick */
  int superseed;         /* donor protection active */
  uint64_t reveal_bytes; /* donor protection: revealed, not yet had */
  double up_rate_ref;    /* EWMA of all upload rate samples (bytes/ms) */
  uint32_t up_samples;   /* samples in up_rate_ref (saturates) */
  uint64_t up_load;      /* sum of up_weight over active uploads */
  uint32_t fast_needy;   /* donor, at the last tick: connected peers not
                            marked slow that still lack chunks */
  uint8_t *wire;         /* scratch for SEND_BITFIELD */

  struct swarm__peer *peers; /* cfg.max_conns slots */
  uint32_t npeers;
  uint32_t *pidx;        /* handle -> slot+1, open addressing, 0 = empty */
  uint32_t pidx_mask;
  struct swarm__cand *cands; /* cfg.max_candidates slots */
  uint32_t ncands, nconnecting;
  uint32_t fill_rr, up_rr;

  enum swarm_state state;
  uint64_t last_replace_at;
  uint64_t linger_start, idle_since;
  int linger_started, idle_set;
  int complete_emitted;

  /* counters */
  uint32_t have_count;
  uint64_t bytes_have, bytes_down, bytes_down_donor, bytes_wasted, bytes_up;
  uint32_t chunks_bad, requests_out, uploads_active, uploads_queued, timeouts;
  uint64_t complete_at;
};

/* swarm.c */
void swarm__emit(struct swarm *sw, enum swarm_action_type type, uint32_t peer,
                 uint32_t chunk, int reason);
void swarm__emit_bitfield(struct swarm *sw, uint32_t peer, const uint64_t *bits);
void swarm__enter(struct swarm *sw, uint64_t now);

/* picker.c */
void swarm__chunk_rekey(struct swarm *sw, uint32_t chunk);
uint32_t swarm__pick(struct swarm *sw, struct swarm__peer *p);
uint32_t swarm__pick_endgame(struct swarm *sw, struct swarm__peer *p);
uint32_t swarm__window(const struct swarm *sw, const struct swarm__peer *p);
void swarm__fill(struct swarm *sw, struct swarm__peer *p);
void swarm__fill_all(struct swarm *sw);
/* p refused chunk (REJECT ELSEWHERE, or the request timed out): ask others.
 * A refusal older than request_timeout_ms is forgotten once no other peer
 * could serve the chunk, so a lone source is asked again. */
void swarm__peer_refuse(struct swarm *sw, struct swarm__peer *p, uint32_t chunk);
int swarm__peer_rejected(const struct swarm *sw, const struct swarm__peer *p, uint32_t chunk);
/* chunk is in p's memory of refusals, however old. */
int swarm__peer_refused_ever(const struct swarm__peer *p, uint32_t chunk);

/* peers.c */
struct swarm__peer *swarm__peer_find(const struct swarm *sw, uint32_t handle);
struct swarm__cand *swarm__cand_find(struct swarm *sw, uint32_t handle);
/* Remembers a ban for the session, evicting an idle unbanned candidate if
 * the table is full. */
void swarm__cand_ban(struct swarm *sw, uint32_t handle);
/* Forgets a connected peer: requests back to the pool, availability down,
 * upload slots freed. Emits `act` (DISCONNECT or BAN) with reason unless act
 * is 0. Refills the other peers. */
void swarm__peer_drop(struct swarm *sw, struct swarm__peer *p, int act,
                      int reason);
void swarm__peers_tick(struct swarm *sw);
void swarm__dial(struct swarm *sw);
void swarm__rate_account(struct swarm__peer *p, uint64_t now);
void swarm__rate_sample(struct swarm *sw, struct swarm__peer *p, int force);
void swarm__rtt_sample(struct swarm *sw, struct swarm__peer *p, double ms);
double swarm__rtt(const struct swarm__peer *p);

/* download.c */
void swarm__request_issue(struct swarm *sw, struct swarm__peer *p,
                          uint32_t chunk);
/* Removes request i of p, fixes counts and rekeys; does not emit. */
void swarm__request_remove(struct swarm *sw, struct swarm__peer *p, uint32_t i);
int swarm__request_find(const struct swarm__peer *p, uint32_t chunk);
void swarm__requests_tick(struct swarm *sw, struct swarm__peer *p);

/* upload.c */
void swarm__upload_pump(struct swarm *sw);
void swarm__reveal_topup(struct swarm *sw, struct swarm__peer *p);
void swarm__reveal_tick(struct swarm *sw);
void swarm__linger_tick(struct swarm *sw);
/* Peer p now has chunk c (have or bitfield): donor bookkeeping. */
void swarm__reveal_had(struct swarm *sw, struct swarm__peer *p, uint32_t c);

#endif

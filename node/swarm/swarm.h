/* swarm.h - the swarm scheduler: a pure, sans-I/O core that decides which
 * peers to talk to, which chunk to request from whom, how many requests to
 * keep in flight, what to upload, and when a node may stop seeding.
 *
 * One struct swarm serves one manifest (n chunks, chunk i has its own byte
 * size). It never touches sockets, timers, the clock or global state: the
 * embedder (node/ with libuv, sim/ with a virtual clock) feeds it events,
 * each stamped with a monotonic `now` in milliseconds, and calls
 * swarm_tick() periodically (every config.tick_ms). The core answers by
 * calling ops->emit() synchronously with one struct swarm_action at a time.
 *
 * Re-entrance: emit() must not call any swarm_* function that takes a
 * non-const struct swarm (doing so aborts); it may call the const accessors.
 * Embedders queue the action and act on it after the event returns.
 *
 * Peers are small integer handles chosen by the embedder (for example a
 * connection id or a node index); the core never interprets them. Design
 * notes and parameters: docs/swarm.md. */
#ifndef SM_SWARM_H
#define SM_SWARM_H

#include <stddef.h>
#include <stdint.h>

struct swarm;

/* --------------------------------------------------------------- config */

enum swarm_role {
  SWARM_ROLE_RECIPIENT = 0, /* downloads, then lingers, then says done */
  SWARM_ROLE_DONOR = 1,     /* starts complete, serves until freed */
};

/* Every field has a default from swarm_config_default(); values in
 * parentheses. Times are milliseconds, ratios are in permille. */
struct swarm_config {
  enum swarm_role role;          /* (RECIPIENT) */
  uint64_t seed;                 /* PRNG seed; runs replay from it (1) */
  uint64_t tick_ms;              /* how often the embedder calls tick (100) */

  /* Connections. */
  uint32_t max_peers;            /* degree we dial up to (12) */
  uint32_t max_conns;            /* hard cap incl. incoming, <= 65000 (32) */
  uint32_t max_candidates;       /* candidate table size (256) */
  uint32_t max_connecting;       /* dials in flight at once (4) */
  uint64_t connect_timeout_ms;   /* a dial without an answer fails (5000) */
  uint64_t reconnect_backoff_ms; /* after a failure, doubled per failure up to
                                    64x (2000) */
  uint64_t replace_interval_ms;  /* at most one idle/slow peer swapped for a
                                    fresh candidate per interval (10000) */
  uint32_t slow_permille;        /* "slow" = rate below this fraction of the
                                    best peer's rate (200) */

  /* Downloading. */
  uint32_t initial_window;       /* requests per peer before estimates (2) */
  uint32_t max_window;           /* cap on requests per peer (16) */
  uint32_t window_gain_permille; /* k in ceil(rate*rtt*k/chunk)+1 (1500) */
  uint32_t random_first;         /* first chunks picked at random (4) */
  uint32_t endgame_max_copies;   /* endgame: max peers asked for one chunk (3) */
  uint64_t request_timeout_ms;   /* no progress on a request -> re-issue (10000) */
  uint32_t max_timeouts;         /* timeouts before a peer is dropped (3) */
  uint64_t busy_backoff_ms;      /* pause requests to a peer that said BUSY (250) */
  uint64_t rate_sample_ms;       /* busy time aggregated per rate sample (100) */
  uint64_t rtt_window_ms;        /* windowed-min RTT horizon (10000) */

  /* Uploading. */
  uint32_t upload_slots;         /* concurrent uploads (6) */
  uint32_t max_in_queue;         /* queued requests accepted per peer (32) */
  int donor_protect;             /* super-seeding on a donor (1); ignored on a
                                    recipient */
  uint32_t reveal_count;         /* chunks revealed per peer at a time (4) */
  uint32_t donor_budget_permille;/* beyond first copies, the donor reveals
                                    already-present chunks only while it has
                                    uploaded less than this x snapshot (1250) */
  uint32_t reveal_slow_permille; /* donor: a peer whose measured upload rate
                                    is below this fraction of the average is
                                    shown no chunks, its reveals go to faster
                                    peers; 0 = off (250) */

  /* Lingering (recipients, after completion). */
  uint64_t linger_max_ms;        /* hard time limit; 0 = stop at once (300000) */
  uint32_t linger_ratio_permille;/* stop after uploading this x snapshot;
                                    0 = no limit (0) */
  uint64_t linger_idle_ms;       /* stop when no connected peer needed anything
                                    for this long (3000) */
};

/* Fills cfg with the defaults listed above. */
void swarm_config_default(struct swarm_config *cfg);

/* -------------------------------------------------------------- actions */

enum swarm_action_type {
  SWARM_ACT_CONNECT = 1,     /* dial peer; answer with peer_connected or
                                peer_connect_failed */
  SWARM_ACT_DISCONNECT,      /* close peer (reason: enum swarm_reason); the
                                core has already forgotten it */
  SWARM_ACT_BAN,             /* like DISCONNECT, and refuse the peer for the
                                rest of the session (sent a bad chunk) */
  SWARM_ACT_SEND_BITFIELD,   /* send bits/bits_len (wire format below) */
  SWARM_ACT_SEND_HAVE,       /* tell peer we now have chunk */
  SWARM_ACT_SEND_REQUEST,    /* ask peer for the whole chunk */
  SWARM_ACT_SEND_CANCEL,     /* withdraw an earlier request for chunk */
  SWARM_ACT_SEND_REJECT,     /* refuse peer's request (reason: swarm_reject) */
  SWARM_ACT_UPLOAD_START,    /* read chunk and send it to peer; report the end
                                with swarm_upload_done */
  SWARM_ACT_UPLOAD_CANCEL,   /* stop sending chunk to peer (it canceled); still
                                report swarm_upload_done with bytes sent */
  SWARM_ACT_COMPLETE,        /* every chunk is here and verified (once) */
  SWARM_ACT_LINGER_DONE,     /* seeding duty is over; the node may leave */
};

enum swarm_reason {
  SWARM_REASON_NONE = 0,
  SWARM_REASON_BAD_CHUNK,    /* sent data that failed verification */
  SWARM_REASON_TIMEOUT,      /* too many requests without progress */
  SWARM_REASON_REPLACED,     /* idle or slow, swapped for another candidate */
  SWARM_REASON_CLOSING,      /* we are done */
};

/* Values equal node/wire's WIRE_REJECT_* of the same meaning; an unknown
 * reason from a peer is treated like ELSEWHERE for that chunk. */
enum swarm_reject {
  SWARM_REJECT_BUSY = 1,     /* my queue for you is full, retry later */
  SWARM_REJECT_NOT_HAVE = 2, /* I do not have that chunk */
  SWARM_REJECT_ELSEWHERE = 3,/* donor protection: fetch it from a peer */
  SWARM_REJECT_CLOSING = 6,  /* I am leaving (wire: SHUTDOWN) */
};

/* One action. Pointers are valid only during the emit() call. */
struct swarm_action {
  enum swarm_action_type type;
  uint32_t peer;             /* unused for COMPLETE and LINGER_DONE */
  uint32_t chunk;            /* HAVE, REQUEST, CANCEL, REJECT, UPLOAD_* */
  int reason;                /* DISCONNECT/BAN: swarm_reason; REJECT:
                                swarm_reject */
  const uint8_t *bits;       /* SEND_BITFIELD: (n+7)/8 bytes, chunk i is bit
                                (0x80 >> i%8) of byte i/8, spare bits zero */
  size_t bits_len;
};

struct swarm_ops {
  void *user;
  void (*emit)(void *user, const struct swarm_action *act);
};

/* ------------------------------------------------------------ lifecycle */

/* Creates a swarm for a manifest of n_chunks chunks; chunk_bytes[i] is the
 * size of chunk i (copied). have_bits (wire bitfield format, may be NULL) marks
 * chunks already verified on disk, e.g. after a restart. cfg and ops are
 * copied; ops->emit is required. A DONOR must start with every chunk.
 * Errors: SM_EINVAL (bad arguments), SM_ECONFIG (inconsistent config),
 * SM_ETOOBIG (more than 2^26 chunks), SM_ENOMEM. Caller frees *out with
 * swarm_free. */
int swarm_new(const struct swarm_config *cfg, const struct swarm_ops *ops,
              uint32_t n_chunks, const uint32_t *chunk_bytes,
              const uint8_t *have_bits, struct swarm **out);

/* Frees the swarm and everything it owns; emits nothing. NULL is a no-op. */
void swarm_free(struct swarm *sw);

/* --------------------------------------------------------------- events
 * Every event returns 0 or a negative code; an error means the event was
 * ignored and nothing was emitted for it, unless stated otherwise.
 * SM_ENOTFOUND: the peer is not connected (for example the core already
 * dropped it). SM_EPROTO: the peer sent something impossible (out-of-range
 * chunk, wrong bitfield length); the embedder should disconnect it. */

/* Periodic housekeeping: rate samples, request timeouts, dialing and
 * replacing peers, donor reveals, linger limits. Call every cfg.tick_ms. */
void swarm_tick(struct swarm *sw, uint64_t now);

enum swarm_peer_flag {
  SWARM_PEER_DONOR = 1u << 0, /* the snapshot's donor: always acceptable */
};

/* Gossip names a node that serves this manifest. flags: SWARM_PEER_DONOR.
 * Re-adding updates flags. SM_EFULL when the candidate table is full. */
int swarm_candidate_add(struct swarm *sw, uint32_t peer, uint32_t flags,
                        uint64_t now);
/* Gossip says the node is gone; a connection to it, if any, stays. */
int swarm_candidate_remove(struct swarm *sw, uint32_t peer);

/* A connection (ours or incoming) is up and authenticated. Emits our
 * bitfield. SM_EBANNED (banned peer), SM_EEXIST (already connected),
 * SM_EFULL (max_conns reached), SM_ESTATE (we are done): close it. */
int swarm_peer_connected(struct swarm *sw, uint32_t peer, uint32_t flags,
                         uint64_t now);
/* A dial we asked for failed. */
int swarm_peer_connect_failed(struct swarm *sw, uint32_t peer, uint64_t now);
/* The connection closed. Its requests go back to the pool, its chunks leave
 * the rarity counts. */
int swarm_peer_disconnected(struct swarm *sw, uint32_t peer, uint64_t now);

/* The peer's bitfield (wire format, exactly (n+7)/8 bytes, spare bits zero,
 * else SM_EPROTO). A second bitfield replaces the first. */
int swarm_peer_bitfield(struct swarm *sw, uint32_t peer, const uint8_t *bits,
                        size_t bits_len, uint64_t now);
/* The peer announces a chunk it now has. */
int swarm_peer_have(struct swarm *sw, uint32_t peer, uint32_t chunk,
                    uint64_t now);
/* The peer asks us for a chunk (may emit UPLOAD_START or SEND_REJECT). */
int swarm_peer_request(struct swarm *sw, uint32_t peer, uint32_t chunk,
                       uint64_t now);
/* The peer withdraws a request of its own. */
int swarm_peer_cancel(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      uint64_t now);
/* The peer refused our request (reason: enum swarm_reject). The chunk goes
 * back to the pool. */
int swarm_peer_reject(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      int reason, uint64_t now);

/* nbytes more bytes of chunk arrived from peer (0 is allowed and marks the
 * first byte; report it as early as possible: it is the RTT sample). */
int swarm_chunk_data(struct swarm *sw, uint32_t peer, uint32_t chunk,
                     uint64_t nbytes, uint64_t now);
/* The whole chunk arrived from peer and was verified against its id
 * (ok != 0) or not. Bad: emits BAN for the peer and re-requests elsewhere.
 * Only ok chunks count. A late ok chunk we canceled is still accepted. */
int swarm_chunk_received(struct swarm *sw, uint32_t peer, uint32_t chunk,
                         int ok, uint64_t now);
/* A chunk we had verified was found damaged on our disk (a re-read failed
 * its id). It is missing again and will be requested from a peer (every
 * connected peer gets a fresh SEND_BITFIELD without it); a
 * complete recipient (lingering or done) goes back to fetching and emits
 * COMPLETE again once it is back. SM_ESTATE on a donor. */
int swarm_chunk_lost(struct swarm *sw, uint32_t chunk, uint64_t now);
/* An UPLOAD_START finished (fully sent, canceled or failed); bytes is what
 * was actually sent. Frees the upload slot. */
int swarm_upload_done(struct swarm *sw, uint32_t peer, uint32_t chunk,
                      uint64_t bytes, uint64_t now);

/* ----------------------------------------------------------- accessors */

enum swarm_state {
  SWARM_STATE_FETCH = 1,  /* chunks missing */
  SWARM_STATE_SEED,       /* complete; serving (donor forever, recipient
                             while lingering) */
  SWARM_STATE_DONE,       /* linger over; requests are rejected */
};

struct swarm_stats {
  enum swarm_state state;
  int endgame;                 /* every missing chunk is requested */
  uint32_t chunks_total, chunks_have;
  uint64_t bytes_total, bytes_have;
  uint64_t bytes_down;         /* payload received, incl. wasted */
  uint64_t bytes_down_donor;   /* of which from peers flagged DONOR */
  uint64_t bytes_wasted;       /* duplicates (endgame) and bad chunks */
  uint64_t bytes_up;           /* payload sent (upload_done bytes) */
  uint32_t chunks_bad;         /* chunks that failed verification */
  uint32_t peers_connected, peers_connecting, candidates;
  uint32_t requests_out;       /* our outstanding requests */
  uint32_t uploads_active, uploads_queued;
  uint32_t timeouts;           /* requests that timed out */
  uint64_t complete_at;        /* now of completion, 0 if not complete */
};

/* Snapshot of the counters; cheap (O(1)). */
void swarm_stats_get(const struct swarm *sw, struct swarm_stats *out);

struct swarm_peer_stats {
  uint32_t flags;              /* SWARM_PEER_* */
  uint32_t chunks_have;        /* as advertised to us */
  uint32_t window;             /* current request window */
  uint32_t requests_out;       /* our requests in flight to it */
  uint32_t uploads_active, uploads_queued;
  double rate_bpms;            /* smoothed download rate, bytes per ms */
  double rtt_ms;               /* windowed-min request->first byte; < 0 unmeasured */
  uint64_t bytes_down, bytes_up;
  int score;                   /* +1 per good chunk, -2 per timeout */
};

/* Per-peer numbers; SM_ENOTFOUND if peer is not connected. */
int swarm_peer_stats_get(const struct swarm *sw, uint32_t peer,
                         struct swarm_peer_stats *out);

/* Connected peer handles: writes up to max of them into out, returns how
 * many are connected in total. */
uint32_t swarm_peers_list(const struct swarm *sw, uint32_t *out, uint32_t max);

/* Missing chunks that no connected peer offers (0 while the donor is
 * connected: it holds everything). O(chunks). */
uint32_t swarm_chunks_unavailable(const struct swarm *sw);
/* 1 when chunk is present and verified, 0 otherwise (or out of range). */
int swarm_chunk_has(const struct swarm *sw, uint32_t chunk);

#endif

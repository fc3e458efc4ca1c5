/* gossip.h - SWIM membership with Lifeguard refinements plus scuttlebutt-style
 * per-node state, as a pure protocol core: no sockets, no clock, no event
 * loop. The embedder feeds packets and "now" in, and carries the datagrams
 * and push-pull stream messages the core emits through struct gossip_ops.
 * Design, parameters and wire format: docs/gossip.md. */
#ifndef SM_GOSSIP_H
#define SM_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Hard limits (the wire format and memory caps rely on them). */
#define GOSSIP_PACKET_MAX 1400u          /* one datagram, envelope included */
#define GOSSIP_STREAM_MAX (1u << 20)     /* one push-pull message */
#define GOSSIP_KEY_MAX 64u               /* state key bytes (no NUL) */
#define GOSSIP_VALUE_MAX 512u            /* state value bytes */
#define GOSSIP_ENTRIES_MAX 64u           /* state entries per node */
#define GOSSIP_ENVELOPE_OVERHEAD 73u     /* header 57 + tag 16 */

enum gossip_addr_family {
  GOSSIP_AF_INET4 = 4,
  GOSSIP_AF_INET6 = 6,
};

/* A transport address. IPv4 uses ip[0..3]; the simulator may invent any. */
struct gossip_addr {
  uint8_t family; /* enum gossip_addr_family */
  uint8_t ip[16];
  uint16_t port;
};

enum gossip_status {
  GOSSIP_ALIVE = 0,
  GOSSIP_SUSPECT = 1,
  GOSSIP_DEAD = 2,
  GOSSIP_LEFT = 3,
};

/* What the embedder provides. Every callback is invoked synchronously from
 * inside a gossip_* call; callbacks must not call back into the same
 * struct gossip. Buffers passed to callbacks are only valid during the call. */
struct gossip_ops {
  void *ctx;
  /* Sends one datagram (len <= GOSSIP_PACKET_MAX). Best effort. Required. */
  void (*send_udp)(void *ctx, const struct gossip_addr *to, const uint8_t *buf,
                   size_t len);
  /* Sends one push-pull message reliably (e.g. framed over TCP). Answers are
   * addressed to the `from` given to gossip_stream_recv, so the embedder can
   * route them back on the same connection. Optional: NULL disables push-pull
   * (then joins rely on datagrams alone). */
  void (*send_stream)(void *ctx, const struct gossip_addr *to, const uint8_t *buf,
                      size_t len);
  /* A member appeared or changed status. Optional. */
  void (*on_member)(void *ctx, const uint8_t id[SM_PUBKEY_BYTES],
                    enum gossip_status status, const struct gossip_addr *addr);
  /* Another node's state entry is new or changed. Optional. */
  void (*on_state)(void *ctx, const uint8_t origin[SM_PUBKEY_BYTES], const char *key,
                   const uint8_t *val, size_t val_len, uint64_t version);
};

/* Configuration. gossip_config_init() fills the defaults listed here; times
 * are milliseconds. */
struct gossip_config {
  const struct sm_identity *identity; /* required; keys are copied */
  const struct sm_trust *trust;       /* required; borrowed, must outlive the
                                         gossip and stay unchanged */
  struct gossip_addr addr;            /* our advertised address; required */
  uint64_t generation; /* grows across restarts of one identity, < 2^32 (e.g.
                          Unix seconds at start); default 0 */
  uint64_t seed;       /* PRNG seed: probe order, targets, nonce salt. Use
                          randombytes in production, fixed in tests */
  uint32_t probe_interval_ms;    /* 1000 */
  uint32_t probe_timeout_ms;     /* 500: direct ack wait before ping-req */
  uint32_t indirect_checks;      /* 3: k members asked for ping-req */
  uint32_t suspicion_mult;       /* 4: min timeout = mult*max(1,log10 n)*interval */
  uint32_t suspicion_max_mult;   /* 6: max timeout = max_mult * min timeout */
  uint32_t awareness_max;        /* 8: probe interval/timeout stretch up to 8x */
  uint32_t retransmit_mult;      /* 1: each update sent mult*(ceil(log2 n)+1) times */
  uint32_t gossip_interval_ms;   /* 200: extra piggyback-only sends; 0 disables */
  uint32_t gossip_nodes;         /* 3: fan-out of those sends */
  uint32_t pushpull_interval_ms; /* 30000: anti-entropy over the stream; 0 off */
  uint32_t reap_after_ms;        /* 600000: dead/left members forgotten after */
  uint32_t max_members;          /* 4096 (>= 2): member table cap, SM_EFULL */
  uint32_t max_state_bytes;      /* 8 MiB: all nodes' keys+values together */
  uint32_t broadcast_max;        /* 1024: pending dissemination items */
};

struct gossip_stats {
  uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
  uint64_t tx_streams, rx_streams;
  uint64_t drop_untrusted; /* sender key not in the trust set */
  uint64_t drop_crypto;    /* failed authentication/decryption */
  uint64_t drop_replay;    /* replayed or too old counter */
  uint64_t drop_malformed; /* bad envelope or plaintext */
  uint64_t drop_oversize;  /* larger than the hard limit */
  uint64_t drop_full;      /* member table / state / queue caps hit */
  uint64_t probes, probe_failures, suspicions, refutations, deaths;
  uint64_t pushpulls;      /* push-pull exchanges we started */
};

struct gossip_member_info {
  uint8_t id[SM_PUBKEY_BYTES];
  struct gossip_addr addr;
  enum gossip_status status;
  uint64_t incarnation;
  int is_self;
};

struct gossip;

/* Fills *cfg with the defaults above (identity, trust, addr left empty). */
void gossip_config_init(struct gossip_config *cfg);

/* Creates a node. ops is copied. Returns SM_EINVAL/SM_ECONFIG on a bad
 * config, SM_ECRYPTO if the identity key cannot be converted, SM_ENOMEM. On
 * success the caller owns *out and frees it with gossip_free. */
int gossip_new(const struct gossip_config *cfg, const struct gossip_ops *ops,
               uint64_t now, struct gossip **out);
/* Frees everything and wipes key material. gossip_free(NULL) is a no-op. */
void gossip_free(struct gossip *g);

/* Adds a known peer (identity learned from an authenticated channel, e.g. the
 * node's TCP handshake with a seed) and starts a push-pull with it when
 * ops.send_stream is set. Returns SM_EUNTRUSTED, SM_EFULL, SM_EINVAL (our own id). */
int gossip_join(struct gossip *g, const uint8_t id[SM_PUBKEY_BYTES],
                const struct gossip_addr *addr, uint64_t now);

/* Announces a graceful leave: we are marked LEFT with a fresh incarnation and
 * the news is sent to a few members at once. Keep calling gossip_tick for a
 * couple of probe intervals so it spreads, then gossip_free. */
int gossip_leave(struct gossip *g, uint64_t now);

/* Runs due timers (probes, suspicion, gossip, push-pull, reaping). */
void gossip_tick(struct gossip *g, uint64_t now);
/* Absolute time at which gossip_tick must next be called. */
uint64_t gossip_next_deadline(const struct gossip *g);

/* Feeds one received datagram / push-pull message. Returns 0 when accepted,
 * else the reason it was dropped (SM_EUNTRUSTED, SM_ECRYPTO, SM_EREPLAY,
 * SM_EMALFORMED, SM_ETOOBIG, ...); drops are also counted in the stats. The
 * buffer stays owned by the caller. */
int gossip_udp_recv(struct gossip *g, const struct gossip_addr *from,
                    const uint8_t *buf, size_t len, uint64_t now);
int gossip_stream_recv(struct gossip *g, const struct gossip_addr *from,
                       const uint8_t *buf, size_t len, uint64_t now);

/* Sets our own entry key (NUL-terminated, 1..GOSSIP_KEY_MAX bytes) to a copy
 * of val, bumping our state version, and queues it for dissemination.
 * SM_EINVAL bad key, SM_ETOOBIG value too long, SM_EFULL too many entries
 * or over max_state_bytes, SM_ENOMEM. */
int gossip_state_set(struct gossip *g, const char *key, const void *val, size_t len);
/* Looks up an entry of any node. *out_val points into g and stays valid until
 * the next call into g. SM_ENOTFOUND if absent. */
int gossip_state_get(const struct gossip *g, const uint8_t origin[SM_PUBKEY_BYTES],
                     const char *key, const uint8_t **out_val, size_t *out_len,
                     uint64_t *out_version);
/* Calls fn for every entry of origin (NULL: of every node). Stops early and
 * returns fn's value when it returns non-zero. */
int gossip_state_foreach(const struct gossip *g, const uint8_t *origin,
                         int (*fn)(void *arg, const uint8_t origin[SM_PUBKEY_BYTES],
                                   const char *key, const uint8_t *val,
                                   size_t len, uint64_t version),
                         void *arg);

/* Member table access (ourselves included, flagged is_self). */
size_t gossip_member_count(const struct gossip *g);
int gossip_member_get(const struct gossip *g, const uint8_t id[SM_PUBKEY_BYTES],
                      struct gossip_member_info *out);
int gossip_member_foreach(const struct gossip *g,
                          int (*fn)(void *arg, const struct gossip_member_info *m),
                          void *arg);

/* Lifeguard local health score, 0 (healthy) .. awareness_max-1. */
uint32_t gossip_health_score(const struct gossip *g);
void gossip_stats_get(const struct gossip *g, struct gossip_stats *out);

const char *gossip_status_name(enum gossip_status status);

#endif

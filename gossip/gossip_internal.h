/* gossip_internal.h - shared internals of the gossip module: the node struct,
 * the member table, the wire message model, and the cross-file helpers of
 * member.c (SWIM), state.c (dissemination, scuttlebutt), codec.c (msgpack)
 * and crypto.c (envelope). Nothing here is API. */
#ifndef SM_GOSSIP_INTERNAL_H
#define SM_GOSSIP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "gossip/gossip.h"

/* ------------------------------------------------------------- envelope */
#define GOSSIP__MAGIC_DGRAM 0xA1
#define GOSSIP__MAGIC_STREAM 0xA2
#define GOSSIP__HEADER 57  /* magic 1, sender 32, counter 8, salt 16 */
#define GOSSIP__TAG 16
#define GOSSIP__PLAIN_MAX (GOSSIP_PACKET_MAX - GOSSIP_ENVELOPE_OVERHEAD)
#define GOSSIP__ADDR_WIRE 19 /* family 1, ip 16, port 2 */

enum gossip__channel {
  GOSSIP__CH_DGRAM = 0,
  GOSSIP__CH_STREAM = 1,
};

/* Per trusted key: directional keys (derived lazily) and replay windows. */
struct gossip__peer {
  uint8_t ready;   /* keys derived */
  uint8_t bad;     /* key cannot be converted to X25519 */
  uint8_t tx[32];  /* us -> peer */
  uint8_t rx[32];  /* peer -> us */
  uint8_t seen[2]; /* per channel: any packet accepted yet */
  uint64_t top[2]; /* highest counter accepted */
  uint64_t bits[2];/* bit i: counter top-i accepted */
};

/* -------------------------------------------------------------- messages */
enum gossip__type {
  GOSSIP__PING = 1,     /* seq, target = the receiver's id */
  GOSSIP__ACK = 2,      /* seq */
  GOSSIP__PING_REQ = 3, /* seq, target + target_addr: please probe it */
  GOSSIP__NACK = 4,     /* seq: the indirect probe got no answer */
  GOSSIP__GOSSIP = 5,   /* piggyback only */
  GOSSIP__PP_SYN = 6,   /* stream: members + digest (what we have) */
  GOSSIP__PP_ACK = 7,   /* stream: members + digest + deltas */
  GOSSIP__PP_DELTA = 8, /* stream: digest + deltas */
};

struct gossip__mrec {
  uint8_t id[SM_PUBKEY_BYTES];
  uint8_t status;
  uint64_t incarnation;
  struct gossip_addr addr;
  int has_from; /* SUSPECT records name the suspecting node */
  uint8_t from[SM_PUBKEY_BYTES];
};

struct gossip__delta {
  uint8_t origin[SM_PUBKEY_BYTES];
  const char *key; /* not NUL-terminated */
  uint32_t klen;
  const uint8_t *val;
  uint32_t vlen;
  uint64_t version;
};

struct gossip__digest {
  uint8_t origin[SM_PUBKEY_BYTES];
  uint64_t version; /* gap-free watermark */
};

/* Decoded (or to-be-encoded) plaintext. Arrays are owned by the message when
 * decoded (gossip__msg_cleanup); key/val point into the input buffer. */
struct gossip__msg {
  uint8_t type;
  uint64_t seq;
  int has_target;
  uint8_t target[SM_PUBKEY_BYTES];
  struct gossip_addr target_addr;
  struct gossip__mrec *members;
  size_t n_members;
  struct gossip__delta *deltas;
  size_t n_deltas;
  struct gossip__digest *digest;
  size_t n_digest;
};

struct gossip__limits {
  size_t max_members;
  size_t max_deltas;
  size_t max_digest;
};

/* A bounded output buffer usable as a msgpack_packer target. */
struct gossip__wbuf {
  uint8_t *p;
  size_t len;
  size_t cap;
  int overflow;
};

/* ---------------------------------------------------------- member table */
#define GOSSIP__CONFIRM_MAX 8
#define GOSSIP__INDIRECT_MAX 64

struct gossip__entry {
  char key[GOSSIP_KEY_MAX + 1];
  uint16_t vlen;
  uint64_t version;
  uint8_t *val;
};

struct gossip__member {
  uint8_t id[SM_PUBKEY_BYTES];
  struct gossip_addr addr;
  uint8_t status; /* enum gossip_status */
  uint64_t incarnation;
  uint64_t changed_at;
  /* Lifeguard suspicion */
  uint64_t suspect_start, suspect_min, suspect_max, dead_at;
  uint8_t confirm[GOSSIP__CONFIRM_MAX][SM_PUBKEY_BYTES];
  uint32_t n_confirm;
  uint8_t suspect_from[SM_PUBKEY_BYTES];
  /* scuttlebutt state owned by this member */
  struct gossip__entry *entries;
  uint32_t n_entries;
  uint64_t watermark; /* every version <= watermark is known */
  int is_self;
};

enum gossip__bcast_kind {
  GOSSIP__B_MEMBER = 1,
  GOSSIP__B_STATE = 2,
};

struct gossip__bcast {
  uint8_t kind;
  uint8_t id[SM_PUBKEY_BYTES];
  char key[GOSSIP_KEY_MAX + 1];
  uint32_t transmits;
  uint64_t order; /* newer items win ties */
};

struct gossip__probe {
  int active;
  uint8_t target[SM_PUBKEY_BYTES];
  struct gossip_addr addr;
  uint64_t seq;
  uint64_t timeout_at, deadline;
  int acked, indirect_sent;
  uint32_t expected_nacks, nacks;
};

struct gossip__indirect {
  int used;
  uint8_t requester[SM_PUBKEY_BYTES];
  uint8_t target[SM_PUBKEY_BYTES];
  struct gossip_addr req_addr;
  uint64_t orig_seq, my_seq, nack_at;
};

struct gossip {
  struct gossip_config cfg;
  struct gossip_ops ops;
  uint8_t id[SM_PUBKEY_BYTES];
  uint8_t x_sk[32];
  const struct sm_trust *trust;
  struct gossip__peer *peers; /* trust->count */

  struct gossip__member **members; /* sorted by id */
  size_t n_members;
  struct gossip__member *self;

  uint8_t (*round)[SM_PUBKEY_BYTES]; /* shuffled probe order */
  size_t n_round, round_pos;
  struct gossip__probe probe;
  struct gossip__indirect indirect[GOSSIP__INDIRECT_MAX];

  struct gossip__bcast *bcast;
  size_t n_bcast;
  uint64_t bcast_order;

  uint64_t now;
  uint64_t next_probe_at, next_gossip_at, next_pushpull_at, next_reap_at;
  uint64_t seq;
  uint64_t counter[2];
  uint64_t rng[4];
  uint32_t awareness;
  int leaving;
  size_t state_bytes;
  size_t n_suspect;
  struct gossip_stats stats;
};

/* gossip.c */
uint64_t gossip__rand(struct gossip *g);
uint64_t gossip__rand_below(struct gossip *g, uint64_t n);
/* Seals plain and sends it as one datagram to addr, which belongs to id. */
void gossip__send_msg(struct gossip *g, const uint8_t *id, const struct gossip_addr *addr,
                      struct gossip__msg *msg, int piggyback);
uint64_t gossip__scaled(const struct gossip *g, uint32_t ms);
int gossip__addr_equal(const struct gossip_addr *a, const struct gossip_addr *b);

/* member.c */
struct gossip__member *gossip__member_find(const struct gossip *g, const uint8_t *id);
int gossip__member_add(struct gossip *g, const uint8_t *id, const struct gossip_addr *addr,
                       uint8_t status, uint64_t incarnation, struct gossip__member **out);
void gossip__member_apply(struct gossip *g, const struct gossip__mrec *rec);
void gossip__member_record(const struct gossip__member *m, struct gossip__mrec *out);
/* An authenticated message arrived from id (datagram source from_addr, or
 * NULL for a stream): learn the sender, and if we hold it suspect or dead,
 * queue that record again so it reaches the sender and gets refuted. */
void gossip__member_seen(struct gossip *g, const uint8_t *id, const struct gossip_addr *from_addr);
void gossip__probe_tick(struct gossip *g);
void gossip__suspicion_tick(struct gossip *g);
void gossip__reap_tick(struct gossip *g);
void gossip__on_ping(struct gossip *g, const uint8_t *from, const struct gossip_addr *from_addr,
                     const struct gossip__msg *msg);
void gossip__on_ack(struct gossip *g, const uint8_t *from, const struct gossip__msg *msg);
void gossip__on_ping_req(struct gossip *g, const uint8_t *from,
                         const struct gossip_addr *from_addr, const struct gossip__msg *msg);
void gossip__on_nack(struct gossip *g, const struct gossip__msg *msg);
void gossip__indirect_tick(struct gossip *g);
uint64_t gossip__member_deadline(const struct gossip *g);
size_t gossip__alive_count(const struct gossip *g);
/* Picks up to n random members with status <= max_status, not self, not
 * exclude; writes them to out and returns how many. */
size_t gossip__member_pick(struct gossip *g, struct gossip__member **out, size_t n,
                           uint8_t max_status, const uint8_t *exclude);
void gossip__member_free(struct gossip__member *m);
void gossip__refute(struct gossip *g, uint64_t incarnation);

/* state.c */
void gossip__bcast_push(struct gossip *g, uint8_t kind, const uint8_t *id, const char *key);
void gossip__bcast_drop(struct gossip *g, uint8_t kind, const uint8_t *id);
/* Fills msg->members/deltas from the queue within budget bytes of plaintext.
 * mrec/delta are caller arrays of capacity cap_m/cap_d. */
void gossip__bcast_fill(struct gossip *g, struct gossip__msg *msg, size_t budget,
                        struct gossip__mrec *mrec, size_t cap_m,
                        struct gossip__delta *delta, size_t cap_d);
/* Applies a delta; returns 1 if it changed our state. */
int gossip__state_apply(struct gossip *g, const struct gossip__delta *d, int from_stream);
void gossip__state_drop_all(struct gossip *g, struct gossip__member *m);
void gossip__pushpull_start(struct gossip *g, struct gossip__member *m);
/* Handles a decoded push-pull message; sorts msg->digest in place. */
void gossip__pushpull_recv(struct gossip *g, const uint8_t *from,
                           const struct gossip_addr *from_addr, struct gossip__msg *msg);
size_t gossip__retransmit_limit(const struct gossip *g);

/* codec.c */
void gossip__wbuf_init(struct gossip__wbuf *w, uint8_t *p, size_t cap);
int gossip__msg_encode(const struct gossip__msg *msg, struct gossip__wbuf *w);
/* Decodes one plaintext message into *out (bounded by lim). On success the
 * caller calls gossip__msg_cleanup. Never asserts on input. */
int gossip__msg_decode(const uint8_t *buf, size_t len, const struct gossip__limits *lim,
                       struct gossip__msg *out);
void gossip__msg_cleanup(struct gossip__msg *msg);
size_t gossip__mrec_size(const struct gossip__mrec *r);
size_t gossip__delta_size(const struct gossip__delta *d);
size_t gossip__digest_size(const struct gossip__digest *d);
size_t gossip__msg_base_size(const struct gossip__msg *msg);
void gossip__addr_pack(const struct gossip_addr *a, uint8_t out[GOSSIP__ADDR_WIRE]);
int gossip__addr_unpack(const uint8_t in[GOSSIP__ADDR_WIRE], struct gossip_addr *out);

/* crypto.c */
int gossip__crypto_init(struct gossip *g, const struct sm_identity *identity);
void gossip__crypto_cleanup(struct gossip *g);
/* Returns the peer slot of a trusted id, deriving keys on first use:
 * SM_EUNTRUSTED, SM_ECRYPTO. */
int gossip__peer_get(struct gossip *g, const uint8_t *id, struct gossip__peer **out);
/* out must hold len + GOSSIP_ENVELOPE_OVERHEAD bytes. */
int gossip__seal(struct gossip *g, int channel, const uint8_t *peer_id, const uint8_t *plain,
                 size_t len, uint8_t *out, size_t *out_len);
/* Opens an envelope into plain (capacity len); checks trust and replay.
 * Writes the sender id. */
int gossip__open(struct gossip *g, int channel, const uint8_t *buf, size_t len,
                 uint8_t *plain, size_t *out_plain_len, uint8_t sender[SM_PUBKEY_BYTES]);

#endif

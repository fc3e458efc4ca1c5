/* gossip.c - the gossip node: lifecycle, the seeded PRNG, packet intake and
 * dispatch, sending, the timer wheel (one "next deadline"), join/leave and
 * the read-only accessors. The protocol logic lives in member.c (SWIM,
 * Lifeguard) and state.c (dissemination, scuttlebutt push-pull). */
#include "gossip/gossip_internal.h"

#include <string.h>

#include <sodium.h>

#define DGRAM_MREC_MAX 32
#define DGRAM_DELTA_MAX 40

/* ------------------------------------------------------------ randomness */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
uint64_t gossip__rand(struct gossip *g) {
  uint64_t *s = g->rng;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t gossip__rand_below(struct gossip *g, uint64_t n) {
  return n == 0 ? 0 : gossip__rand(g) % n;
}

/* ----------------------------------------------------------------- small */
uint64_t gossip__scaled(const struct gossip *g, uint32_t ms) {
  return (uint64_t)ms * (g->awareness + 1);
}

int gossip__addr_equal(const struct gossip_addr *a, const struct gossip_addr *b) {
  return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

const char *gossip_status_name(enum gossip_status status) {
  switch (status) {
  case GOSSIP_ALIVE:
    return "alive";
  case GOSSIP_SUSPECT:
    return "suspect";
  case GOSSIP_DEAD:
    return "dead";
  case GOSSIP_LEFT:
    return "left";
  }
  return "unknown";
}

void gossip_config_init(struct gossip_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->probe_interval_ms = 1000;
  cfg->probe_timeout_ms = 500;
  cfg->indirect_checks = 3;
  cfg->suspicion_mult = 4;
  cfg->suspicion_max_mult = 6;
  cfg->awareness_max = 8;
  cfg->retransmit_mult = 1;
  cfg->gossip_interval_ms = 200;
  cfg->gossip_nodes = 3;
  cfg->pushpull_interval_ms = 30000;
  cfg->reap_after_ms = 600000;
  cfg->max_members = 4096;
  cfg->max_state_bytes = 8u << 20;
  cfg->broadcast_max = 1024;
}

static int config_check(const struct gossip_config *c, const struct gossip_ops *ops) {
  if (c->identity == NULL || c->trust == NULL || ops == NULL || ops->send_udp == NULL) {
    return SM_EINVAL;
  }
  if ((c->addr.family != GOSSIP_AF_INET4 && c->addr.family != GOSSIP_AF_INET6) ||
      c->generation >= ((uint64_t)1 << 32) || c->probe_interval_ms == 0 ||
      c->probe_timeout_ms == 0 || c->probe_timeout_ms >= c->probe_interval_ms ||
      c->suspicion_mult == 0 || c->suspicion_max_mult == 0 || c->awareness_max == 0 ||
      c->retransmit_mult == 0 || c->max_members < 2 || c->max_members > SM_TRUST_MAX ||
      c->broadcast_max < 16 || (c->gossip_interval_ms > 0 && c->gossip_nodes == 0)) {
    return SM_ECONFIG;
  }
  return 0;
}

/* -------------------------------------------------------------- lifecycle */
int gossip_new(const struct gossip_config *cfg, const struct gossip_ops *ops, uint64_t now,
               struct gossip **out) {
  struct gossip *g = NULL;
  uint64_t seed = 0;
  int rc = config_check(cfg, ops);
  *out = NULL;
  if (rc < 0) {
    return rc;
  }
  g = sm_calloc(1, sizeof(*g));
  if (g == NULL) {
    return SM_ENOMEM;
  }
  g->cfg = *cfg;
  g->cfg.identity = NULL;
  g->ops = *ops;
  g->trust = cfg->trust;
  g->now = now;
  seed = cfg->seed;
  for (int i = 0; i < 4; i++) {
    g->rng[i] = splitmix64(&seed);
  }
  rc = gossip__crypto_init(g, cfg->identity);
  if (rc < 0) {
    goto out;
  }
  g->members = sm_calloc(cfg->max_members, sizeof(*g->members));
  g->round = sm_calloc(cfg->max_members, sizeof(*g->round));
  g->bcast = sm_calloc(cfg->broadcast_max, sizeof(*g->bcast));
  if (g->members == NULL || g->round == NULL || g->bcast == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  rc = gossip__member_add(g, g->id, &cfg->addr, GOSSIP_ALIVE, cfg->generation << 32, &g->self);
  if (rc < 0) {
    goto out;
  }
  g->self->is_self = 1;
  g->self->watermark = cfg->generation << 32;
  g->next_probe_at = now + gossip__rand_below(g, cfg->probe_interval_ms);
  g->next_gossip_at = now + cfg->gossip_interval_ms;
  g->next_pushpull_at = now + cfg->pushpull_interval_ms / 2 +
                        gossip__rand_below(g, cfg->pushpull_interval_ms / 2 + 1);
  g->next_reap_at = now + 1000;
  *out = g;
  g = NULL;
out:
  gossip_free(g);
  return rc;
}

void gossip_free(struct gossip *g) {
  if (g == NULL) {
    return;
  }
  for (size_t i = 0; i < g->n_members; i++) {
    gossip__member_free(g->members[i]);
  }
  gossip__crypto_cleanup(g);
  sm_free(g->members);
  sm_free(g->round);
  sm_free(g->bcast);
  sodium_memzero(g, sizeof(*g));
  sm_free(g);
}

/* ----------------------------------------------------------------- output */
void gossip__send_msg(struct gossip *g, const uint8_t *id, const struct gossip_addr *addr,
                      struct gossip__msg *msg, int piggyback) {
  struct gossip__mrec mrec[DGRAM_MREC_MAX];
  struct gossip__delta delta[DGRAM_DELTA_MAX];
  uint8_t plain[GOSSIP__PLAIN_MAX];
  uint8_t pkt[GOSSIP_PACKET_MAX];
  struct gossip__wbuf w;
  size_t pkt_len = 0;
  size_t base = gossip__msg_base_size(msg);
  if (piggyback && base < GOSSIP__PLAIN_MAX) {
    gossip__bcast_fill(g, msg, GOSSIP__PLAIN_MAX - base, mrec, DGRAM_MREC_MAX, delta,
                       DGRAM_DELTA_MAX);
  }
  gossip__wbuf_init(&w, plain, sizeof(plain));
  if (gossip__msg_encode(msg, &w) < 0) {
    sm_log(SM_LOG_ERROR, "gossip", "datagram over budget (type %u)", msg->type);
    return;
  }
  if (gossip__seal(g, GOSSIP__CH_DGRAM, id, plain, w.len, pkt, &pkt_len) < 0) {
    return;
  }
  g->stats.tx_packets++;
  g->stats.tx_bytes += pkt_len;
  g->ops.send_udp(g->ops.ctx, addr, pkt, pkt_len);
}

/* ------------------------------------------------------------------ input */
static int count_drop(struct gossip *g, int rc) {
  switch (rc) {
  case SM_EUNTRUSTED:
    g->stats.drop_untrusted++;
    break;
  case SM_ECRYPTO:
    g->stats.drop_crypto++;
    break;
  case SM_EREPLAY:
    g->stats.drop_replay++;
    break;
  case SM_ETOOBIG:
    g->stats.drop_oversize++;
    break;
  case SM_ENOMEM:
    break;
  default:
    g->stats.drop_malformed++;
    break;
  }
  return rc;
}

static void apply_piggyback(struct gossip *g, const struct gossip__msg *msg) {
  for (size_t i = 0; i < msg->n_members; i++) {
    gossip__member_apply(g, &msg->members[i]);
  }
  for (size_t i = 0; i < msg->n_deltas; i++) {
    gossip__state_apply(g, &msg->deltas[i], 0);
  }
}

int gossip_udp_recv(struct gossip *g, const struct gossip_addr *from, const uint8_t *buf,
                    size_t len, uint64_t now) {
  uint8_t plain[GOSSIP_PACKET_MAX];
  uint8_t sender[SM_PUBKEY_BYTES];
  size_t plain_len = 0;
  struct gossip__msg msg;
  const struct gossip__limits lim = {DGRAM_MREC_MAX, DGRAM_DELTA_MAX, 0};
  int rc = 0;
  g->now = now;
  g->stats.rx_packets++;
  g->stats.rx_bytes += len;
  if (len > GOSSIP_PACKET_MAX) {
    return count_drop(g, SM_ETOOBIG);
  }
  rc = gossip__open(g, GOSSIP__CH_DGRAM, buf, len, plain, &plain_len, sender);
  if (rc < 0) {
    return count_drop(g, rc);
  }
  rc = gossip__msg_decode(plain, plain_len, &lim, &msg);
  if (rc < 0) {
    return count_drop(g, rc == SM_ENOMEM ? rc : SM_EMALFORMED);
  }
  if (msg.type > GOSSIP__GOSSIP) {
    gossip__msg_cleanup(&msg);
    return count_drop(g, SM_EMALFORMED);
  }
  gossip__member_seen(g, sender, from);
  apply_piggyback(g, &msg);
  switch (msg.type) {
  case GOSSIP__PING:
    gossip__on_ping(g, sender, from, &msg);
    break;
  case GOSSIP__ACK:
    gossip__on_ack(g, sender, &msg);
    break;
  case GOSSIP__PING_REQ:
    gossip__on_ping_req(g, sender, from, &msg);
    break;
  case GOSSIP__NACK:
    gossip__on_nack(g, &msg);
    break;
  default:
    break;
  }
  gossip__msg_cleanup(&msg);
  return 0;
}

int gossip_stream_recv(struct gossip *g, const struct gossip_addr *from, const uint8_t *buf,
                       size_t len, uint64_t now) {
  uint8_t *plain = NULL;
  uint8_t sender[SM_PUBKEY_BYTES];
  size_t plain_len = 0;
  struct gossip__msg msg;
  struct gossip__limits lim;
  int rc = 0;
  g->now = now;
  g->stats.rx_streams++;
  if (len > GOSSIP_STREAM_MAX + GOSSIP_ENVELOPE_OVERHEAD) {
    return count_drop(g, SM_ETOOBIG);
  }
  plain = sm_malloc(len);
  if (plain == NULL) {
    return SM_ENOMEM;
  }
  rc = gossip__open(g, GOSSIP__CH_STREAM, buf, len, plain, &plain_len, sender);
  if (rc < 0) {
    count_drop(g, rc);
    goto out;
  }
  lim.max_members = g->cfg.max_members;
  lim.max_digest = g->cfg.max_members;
  lim.max_deltas = (size_t)g->cfg.max_members * GOSSIP_ENTRIES_MAX;
  rc = gossip__msg_decode(plain, plain_len, &lim, &msg);
  if (rc < 0) {
    count_drop(g, rc == SM_ENOMEM ? rc : SM_EMALFORMED);
    goto out;
  }
  if (msg.type < GOSSIP__PP_SYN) {
    gossip__msg_cleanup(&msg);
    rc = count_drop(g, SM_EMALFORMED);
    goto out;
  }
  gossip__member_seen(g, sender, NULL);
  gossip__pushpull_recv(g, sender, from, &msg);
  gossip__msg_cleanup(&msg);
out:
  sm_free(plain);
  return rc;
}

/* ----------------------------------------------------------------- timers */
static void gossip_round(struct gossip *g) {
  struct gossip__member *to[16];
  size_t n = SM_MIN(g->cfg.gossip_nodes, SM_ARRAY_LEN(to));
  n = gossip__member_pick(g, to, n, GOSSIP_SUSPECT, NULL);
  for (size_t i = 0; i < n && g->n_bcast > 0; i++) {
    struct gossip__msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = GOSSIP__GOSSIP;
    gossip__send_msg(g, to[i]->id, &to[i]->addr, &msg, 1);
  }
}

static void pushpull_round(struct gossip *g) {
  struct gossip__member *m = NULL;
  size_t alive = 0;
  size_t dead = 0;
  for (size_t i = 0; i < g->n_members; i++) {
    struct gossip__member *x = g->members[i];
    if (x->is_self) {
      continue;
    }
    alive += x->status <= GOSSIP_SUSPECT;
    dead += x->status == GOSSIP_DEAD;
  }
  /* Like Cassandra, sometimes talk to a dead member so healed partitions
   * find each other again. */
  if (dead > 0 && gossip__rand_below(g, alive + dead) < dead) {
    size_t k = gossip__rand_below(g, dead);
    for (size_t i = 0; i < g->n_members; i++) {
      if (!g->members[i]->is_self && g->members[i]->status == GOSSIP_DEAD && k-- == 0) {
        m = g->members[i];
        break;
      }
    }
  } else if (gossip__member_pick(g, &m, 1, GOSSIP_SUSPECT, NULL) == 0) {
    m = NULL;
  }
  if (m != NULL) {
    gossip__pushpull_start(g, m);
  }
}

void gossip_tick(struct gossip *g, uint64_t now) {
  g->now = now;
  gossip__indirect_tick(g);
  gossip__probe_tick(g);
  gossip__suspicion_tick(g);
  if (g->cfg.gossip_interval_ms > 0 && now >= g->next_gossip_at) {
    g->next_gossip_at = now + g->cfg.gossip_interval_ms;
    if (g->n_bcast > 0) {
      gossip_round(g);
    }
  }
  if (g->cfg.pushpull_interval_ms > 0 && now >= g->next_pushpull_at) {
    g->next_pushpull_at = now + g->cfg.pushpull_interval_ms;
    if (g->ops.send_stream != NULL && !g->leaving) {
      pushpull_round(g);
    }
  }
  if (now >= g->next_reap_at) {
    g->next_reap_at = now + 1000;
    gossip__reap_tick(g);
  }
}

uint64_t gossip_next_deadline(const struct gossip *g) {
  uint64_t t = SM_MIN(g->next_reap_at, gossip__member_deadline(g));
  if (g->cfg.gossip_interval_ms > 0 && g->n_bcast > 0) {
    t = SM_MIN(t, g->next_gossip_at);
  }
  if (g->cfg.pushpull_interval_ms > 0 && g->ops.send_stream != NULL) {
    t = SM_MIN(t, g->next_pushpull_at);
  }
  return t;
}

/* ------------------------------------------------------------ join/leave */
int gossip_join(struct gossip *g, const uint8_t id[SM_PUBKEY_BYTES],
                const struct gossip_addr *addr, uint64_t now) {
  struct gossip__member *m = NULL;
  int rc = 0;
  g->now = now;
  if (memcmp(id, g->id, SM_PUBKEY_BYTES) == 0) {
    return SM_EINVAL;
  }
  if (!sm_trust_contains(g->trust, id)) {
    return SM_EUNTRUSTED;
  }
  m = gossip__member_find(g, id);
  if (m == NULL) {
    rc = gossip__member_add(g, id, addr, GOSSIP_ALIVE, 0, &m);
    if (rc < 0) {
      return rc;
    }
  }
  if (g->ops.send_stream != NULL) {
    gossip__pushpull_start(g, m);
  }
  return 0;
}

int gossip_leave(struct gossip *g, uint64_t now) {
  struct gossip__member *to[32];
  size_t n = 0;
  g->now = now;
  if (g->leaving) {
    return 0;
  }
  g->leaving = 1;
  g->probe.active = 0;
  g->self->incarnation++;
  g->self->status = GOSSIP_LEFT;
  g->self->changed_at = now;
  gossip__bcast_push(g, GOSSIP__B_MEMBER, g->id, NULL);
  n = gossip__member_pick(g, to, SM_MIN(SM_ARRAY_LEN(to), 2 * (size_t)g->cfg.gossip_nodes + 2),
                          GOSSIP_SUSPECT, NULL);
  for (size_t i = 0; i < n; i++) {
    struct gossip__msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = GOSSIP__GOSSIP;
    gossip__send_msg(g, to[i]->id, &to[i]->addr, &msg, 1);
  }
  return 0;
}

/* -------------------------------------------------------------- accessors */
size_t gossip_member_count(const struct gossip *g) {
  return g->n_members;
}

static void member_info(const struct gossip__member *m, struct gossip_member_info *out) {
  memcpy(out->id, m->id, SM_PUBKEY_BYTES);
  out->addr = m->addr;
  out->status = (enum gossip_status)m->status;
  out->incarnation = m->incarnation;
  out->is_self = m->is_self;
}

int gossip_member_get(const struct gossip *g, const uint8_t id[SM_PUBKEY_BYTES],
                      struct gossip_member_info *out) {
  const struct gossip__member *m = gossip__member_find(g, id);
  if (m == NULL) {
    return SM_ENOTFOUND;
  }
  member_info(m, out);
  return 0;
}

int gossip_member_foreach(const struct gossip *g,
                          int (*fn)(void *arg, const struct gossip_member_info *m), void *arg) {
  for (size_t i = 0; i < g->n_members; i++) {
    struct gossip_member_info info;
    int rc = 0;
    member_info(g->members[i], &info);
    rc = fn(arg, &info);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

uint32_t gossip_health_score(const struct gossip *g) {
  return g->awareness;
}

void gossip_stats_get(const struct gossip *g, struct gossip_stats *out) {
  *out = g->stats;
}

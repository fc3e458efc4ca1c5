/* gossip_link.c - with --gossip, one real, unmodified gossip core (gossip/)
 * per simulated node: keys derived from the seed and one trust set,
 * datagrams (lost with --loss) and push-pull messages (reliable) carried
 * as timed events with the scenario's latency, the core's timers as
 * events, and membership news turned into swarm candidate changes the way
 * node/cluster.c does. Also measures when membership converged and when
 * the live recipients held a failed donor dead.
 *
 *   core A --send_udp--> event (now + latency, or lost) --> udp_recv on B
 *   core B --on_member(C, alive)--> swarm_candidate_add(B's swarm, C)
 *                       (suspect/dead/left)--> swarm_candidate_remove
 */
#include <string.h>

#include <sodium.h>

#include "gossip/gossip.h"
#include "sim/sim_internal.h"

#define LINK_PORT 7946
#define LEAVE_LINGER_MS 2000 /* gossip_leave, then keep ticking this long */

static uint64_t link_now(const struct sim *s) {
  return s->now / 1000;
}

/* Node k's invented address: 10.x.y.z:7946 with x.y.z = k. */
static struct gossip_addr link_addr(uint32_t k) {
  struct gossip_addr a;
  memset(&a, 0, sizeof(a));
  a.family = GOSSIP_AF_INET4;
  a.ip[0] = 10;
  a.ip[1] = (uint8_t)(k >> 16);
  a.ip[2] = (uint8_t)(k >> 8);
  a.ip[3] = (uint8_t)k;
  a.port = LINK_PORT;
  return a;
}

/* Node index of an address, or SIM__NONE. */
static uint32_t link_index(const struct sim *s, const struct gossip_addr *a) {
  uint32_t k = (uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3];
  if (a->family != GOSSIP_AF_INET4 || a->ip[0] != 10 || a->port != LINK_PORT ||
      k >= s->nn) {
    return SIM__NONE;
  }
  return k;
}

/* ---------------------------------------------------- membership ledger */

static void members_check(struct sim *s, uint64_t before) {
  struct sim__gossip *gl = s->gl;
  if (before > 0 && gl->missing == 0) {
    gl->members_us = s->now;
  }
}

static void knows_set(struct sim *s, uint32_t a, uint32_t b, int v) {
  struct sim__gossip *gl = s->gl;
  uint8_t *x = &gl->node[a].knows[b];
  uint64_t before = gl->missing;
  if (*x == (uint8_t)v) {
    return;
  }
  *x = (uint8_t)v;
  if (gl->node[a].live && gl->node[b].live) {
    if (v) {
      gl->missing--;
    } else {
      gl->missing++;
    }
  }
  members_check(s, before);
}

/* Node k enters (live = 1) or leaves the set of live nodes. */
static void live_set(struct sim *s, uint32_t k, int live) {
  struct sim__gossip *gl = s->gl;
  uint64_t before = gl->missing;
  uint64_t pairs = 0;
  if (gl->node[k].live == live) {
    return;
  }
  for (uint32_t j = 0; j < s->nn; j++) {
    if (j != k && gl->node[j].live) {
      pairs += (uint64_t)!gl->node[k].knows[j] + !gl->node[j].knows[k];
    }
  }
  gl->node[k].live = live;
  if (live) {
    gl->missing += pairs;
  } else {
    gl->missing -= pairs;
  }
  members_check(s, before);
}

/* ------------------------------------------------------------ core ops */

/* Schedules node k's next timer event if it is earlier than the pending one. */
static void tick_schedule(struct sim *s, struct sim__gnode *gn) {
  uint64_t due = gossip_next_deadline(gn->g);
  uint64_t next_ms = link_now(s) + 1;
  uint64_t at = (due > next_ms ? due : next_ms) * 1000;
  if (at < gn->tick_at) {
    gn->tick_at = at;
    sim__ev_push(s, at, SIM__EV_GOSSIP_TICK, gn->k, gn->k, 0, gn->life, 0,
                 NULL);
  }
}

static void link_send(struct sim__gnode *gn, const struct gossip_addr *to,
                      const uint8_t *buf, size_t len, uint32_t type) {
  struct sim *s = gn->s;
  uint32_t j = link_index(s, to);
  if (j == SIM__NONE) {
    return;
  }
  uint8_t *copy = sm_malloc(len);
  if (copy == NULL) {
    s->err = SM_ENOMEM;
    return;
  }
  memcpy(copy, buf, len);
  sim__ev_push(s, s->now + s->lat_us, type, gn->k, j, (uint32_t)len, 0, 0,
               copy);
}

static void ops_send_udp(void *ctx, const struct gossip_addr *to,
                         const uint8_t *buf, size_t len) {
  struct sim__gnode *gn = ctx;
  struct sim *s = gn->s;
  s->gl->datagrams++;
  s->gl->bytes += len;
  if (s->cfg.loss > 0.0 && sim__rand01(s) < s->cfg.loss) {
    s->gl->lost++;
    return;
  }
  link_send(gn, to, buf, len, SIM__EV_GOSSIP_DGRAM);
}

static void ops_send_stream(void *ctx, const struct gossip_addr *to,
                            const uint8_t *buf, size_t len) {
  struct sim__gnode *gn = ctx;
  gn->s->gl->streams++;
  gn->s->gl->stream_bytes += len;
  link_send(gn, to, buf, len, SIM__EV_GOSSIP_STREAM);
}

/* Like node/cluster.c: alive members become swarm candidates, any other
 * status removes them. The donor's swarm only accepts, as without gossip. */
static void ops_on_member(void *ctx, const uint8_t id[SM_PUBKEY_BYTES],
                          enum gossip_status status,
                          const struct gossip_addr *addr) {
  struct sim__gnode *gn = ctx;
  struct sim *s = gn->s;
  uint32_t j = link_index(s, addr);
  if (j == SIM__NONE ||
      memcmp(id, s->gl->node[j].id.public_key, SM_PUBKEY_BYTES) != 0) {
    return; /* not an address the simulator handed out */
  }
  knows_set(s, gn->k, j, status == GOSSIP_ALIVE || status == GOSSIP_SUSPECT);
  if (j == 0 && status == GOSSIP_DEAD && gn->donor_dead_us == UINT64_MAX) {
    gn->donor_dead_us = s->now;
  }
  struct swarm *sw = s->node[gn->k].sw;
  if (gn->k == 0 || sw == NULL) {
    return;
  }
  s->cur = gn->k;
  if (status == GOSSIP_ALIVE) {
    (void)swarm_candidate_add(sw, j, j == 0 ? SWARM_PEER_DONOR : 0,
                              link_now(s));
  } else {
    (void)swarm_candidate_remove(sw, j);
  }
}

/* ------------------------------------------------------------ lifecycle */

int sim__gossip_init(struct sim *s) {
  int rc = SM_ENOMEM;
  uint8_t(*keys)[SM_PUBKEY_BYTES] = NULL;
  if (sodium_init() < 0) {
    return SM_ECRYPTO;
  }
  struct sim__gossip *gl = sm_calloc(1, sizeof(*gl));
  if (gl == NULL) {
    return SM_ENOMEM;
  }
  s->gl = gl;
  gl->node = sm_calloc(s->nn, sizeof(*gl->node));
  keys = sm_calloc(s->nn, sizeof(*keys));
  if (gl->node == NULL || keys == NULL) {
    goto out;
  }
  for (uint32_t k = 0; k < s->nn; k++) {
    struct sim__gnode *gn = &gl->node[k];
    uint8_t seed[crypto_sign_SEEDBYTES];
    sm_store_be64(seed, s->cfg.seed);
    sm_store_be64(seed + 8, k);
    memcpy(seed + 16, "seedmesh-sim-key", 16);
    crypto_sign_seed_keypair(gn->id.public_key, gn->id.secret_key, seed);
    memcpy(keys[k], gn->id.public_key, SM_PUBKEY_BYTES);
    gn->s = s;
    gn->k = k;
    gn->tick_at = UINT64_MAX;
    gn->donor_dead_us = UINT64_MAX;
    gn->knows = sm_calloc(s->nn, 1);
    if (gn->knows == NULL) {
      goto out;
    }
  }
  rc = sm_trust_init_keys(&gl->trust, (const uint8_t(*)[SM_PUBKEY_BYTES])keys,
                          s->nn);
out:
  sm_free(keys);
  return rc;
}

void sim__gossip_cleanup(struct sim *s) {
  struct sim__gossip *gl = s->gl;
  if (gl == NULL) {
    return;
  }
  for (uint32_t k = 0; gl->node != NULL && k < s->nn; k++) {
    gossip_free(gl->node[k].g);
    sm_identity_cleanup(&gl->node[k].id);
    sm_free(gl->node[k].knows);
  }
  sm_trust_cleanup(&gl->trust);
  sm_free(gl->node);
  sm_free(gl);
  s->gl = NULL;
}

int sim__gossip_start(struct sim *s, uint32_t k) {
  struct sim__gnode *gn = &s->gl->node[k];
  struct gossip_config cfg;
  struct gossip_ops ops = {.ctx = gn,
                           .send_udp = ops_send_udp,
                           .send_stream = ops_send_stream,
                           .on_member = ops_on_member};
  gossip_free(gn->g); /* still lingering after a graceful leave */
  gn->g = NULL;
  gn->life++;
  gn->tick_at = UINT64_MAX;
  gn->donor_dead_us = UINT64_MAX;
  for (uint32_t j = 0; j < s->nn; j++) {
    knows_set(s, k, j, 0); /* a new core knows nobody */
  }
  live_set(s, k, 1);
  gossip_config_init(&cfg);
  cfg.identity = &gn->id;
  cfg.trust = &s->gl->trust;
  cfg.addr = link_addr(k);
  cfg.generation = gn->life; /* supersedes the previous core's records */
  cfg.seed = s->cfg.seed * 0x9e3779b97f4a7c15ull + k * 65537ull + gn->life;
  int rc = gossip_new(&cfg, &ops, link_now(s), &gn->g);
  if (rc != 0) {
    live_set(s, k, 0);
    return rc;
  }
  if (k != 0) {
    struct gossip_addr seed = link_addr(0);
    s->cur = k;
    rc = gossip_join(gn->g, s->gl->node[0].id.public_key, &seed, link_now(s));
    if (rc != 0) {
      return rc;
    }
  }
  tick_schedule(s, gn);
  return 0;
}

void sim__gossip_stop(struct sim *s, uint32_t k, int graceful) {
  struct sim__gnode *gn = &s->gl->node[k];
  if (gn->g == NULL || !gn->live) {
    return;
  }
  live_set(s, k, 0);
  if (!graceful) {
    gossip_free(gn->g);
    gn->g = NULL;
    return;
  }
  (void)gossip_leave(gn->g, link_now(s));
  sim__ev_push(s, s->now + (uint64_t)LEAVE_LINGER_MS * 1000,
               SIM__EV_GOSSIP_FREE, k, k, 0, gn->life, 0, NULL);
  tick_schedule(s, gn);
}

/* ------------------------------------------------------------- delivery */

void sim__gossip_deliver(struct sim *s, const struct sim_event *ev) {
  struct sim__gnode *gn = &s->gl->node[ev->to];
  if (gn->g == NULL) {
    return; /* nobody listens there now */
  }
  s->cur = ev->to;
  switch (ev->type) {
  case SIM__EV_GOSSIP_DGRAM: {
    struct gossip_addr from = link_addr(ev->from);
    (void)gossip_udp_recv(gn->g, &from, ev->bits, ev->chunk, link_now(s));
    break;
  }
  case SIM__EV_GOSSIP_STREAM: {
    struct gossip_addr from = link_addr(ev->from);
    (void)gossip_stream_recv(gn->g, &from, ev->bits, ev->chunk, link_now(s));
    break;
  }
  case SIM__EV_GOSSIP_TICK:
    if (ev->gen != gn->life || ev->at != gn->tick_at) {
      return; /* superseded by an earlier timer or another core */
    }
    gn->tick_at = UINT64_MAX;
    gossip_tick(gn->g, link_now(s));
    break;
  case SIM__EV_GOSSIP_FREE:
    if (ev->gen == gn->life && !gn->live) {
      gossip_free(gn->g);
      gn->g = NULL;
    }
    return;
  default:
    return;
  }
  tick_schedule(s, gn);
  sim__flush(s);
}

/* ------------------------------------------------------------- results */

void sim__gossip_summarize(const struct sim *s, struct sim_result *r) {
  const struct sim__gossip *gl = s->gl;
  uint64_t dead_us = 0;
  r->members_s = gl->missing == 0 ? (double)gl->members_us / 1e6 : -1.0;
  r->donor_dead_s = -1.0;
  if (s->cfg.donor_fail_at >= 0.0) {
    for (uint32_t k = 1; k < s->nn; k++) {
      const struct sim__gnode *gn = &gl->node[k];
      if (gn->live && gn->donor_dead_us > dead_us) {
        dead_us = gn->donor_dead_us;
      }
    }
    if (dead_us != 0 && dead_us != UINT64_MAX) {
      r->donor_dead_s = (double)dead_us / 1e6;
    }
  }
  r->gossip_datagrams = gl->datagrams;
  r->gossip_bytes = gl->bytes;
  r->gossip_lost = gl->lost;
  r->gossip_streams = gl->streams;
  r->gossip_stream_bytes = gl->stream_bytes;
  r->gossip_bad_dials = gl->bad_dials;
}

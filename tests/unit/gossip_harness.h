/* gossip_harness.h - a deterministic cluster of gossip cores over a fake
 * network with a virtual clock, for tests (in the spirit of tarantool's SWIM
 * fakenet/fakeev). Every run prints its seed; the same seed replays the same
 * run bit for bit. */
#ifndef SM_GOSSIP_HARNESS_H
#define SM_GOSSIP_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"

struct cluster;

struct cluster_node {
  struct cluster *c;
  size_t idx;
  struct gossip *g;       /* NULL once killed */
  struct sm_identity id;
  struct gossip_addr addr;
  double drop;            /* loss rate on packets from and to this node */
  int blocked;            /* isolated: nothing in or out */
  uint64_t deadline;
  uint64_t state_events;  /* on_state calls */
  uint64_t last_state_at; /* virtual time of the last on_state */
  uint64_t dead_events;   /* on_member reporting someone DEAD */
};

struct cluster {
  size_t n;
  struct cluster_node *nodes;
  struct sm_trust trust;
  uint8_t *cut; /* n*n: link a->b cut */
  uint64_t now;
  uint64_t seed;
  uint64_t rng;
  struct cluster_pkt *heap;
  size_t n_heap, cap_heap;
  uint64_t pkt_seq;
  uint64_t delivered, dropped;
};

/* Optional hook that adjusts each node's config before gossip_new. */
typedef void cluster_tune_fn(struct gossip_config *cfg, size_t idx, void *arg);

/* Creates n nodes (keys derived from seed) that all trust each other; each
 * node i > 0 joins node 0. Prints the seed. Aborts the test on failure. */
struct cluster *cluster_new(size_t n, uint64_t seed, cluster_tune_fn *tune, void *arg);
void cluster_free(struct cluster *c);

void cluster_kill(struct cluster *c, size_t i);
void cluster_block(struct cluster *c, size_t i, int on);
void cluster_drop(struct cluster *c, size_t i, double rate);
void cluster_cut(struct cluster *c, size_t a, size_t b, int on);

/* Advances virtual time by ms, delivering packets and firing timers. */
void cluster_run_for(struct cluster *c, uint64_t ms);
/* Runs until cond(c, arg) holds (checked every 100 virtual ms) or timeout_ms
 * passes. Returns 1 when the condition held. */
int cluster_run_until(struct cluster *c, int (*cond)(struct cluster *c, void *arg), void *arg,
                      uint64_t timeout_ms);

/* Status of subject as seen by observer; -1 when unknown. */
int cluster_status(struct cluster *c, size_t observer, size_t subject);
/* Every live node other than subject sees subject with status. */
int cluster_all_see(struct cluster *c, size_t subject, int status);
/* Condition: every live node sees every other live node alive and every
 * killed node as dead or left (arg unused). */
int cluster_fullmesh_cond(struct cluster *c, void *arg);

uint64_t cluster_rand(struct cluster *c);

#endif

/* sim_internal.h - state shared by the simulator's files: nodes, the fluid
 * flow model (net.c), the world and its event loop (sim.c), the gossip
 * embedding (gossip_link.c), reports (report.c). Not part of the public API. */
#ifndef SM_SIM_INTERNAL_H
#define SM_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "node/swarm/swarm.h"
#include "sim/sim.h"

#define SIM__NONE UINT32_MAX

struct gossip;

/* Event types of gossip_link.c; sim.c's own types are below these. */
enum sim__gossip_ev {
  SIM__EV_GOSSIP_DGRAM = 100, /* bits: datagram, chunk: its length */
  SIM__EV_GOSSIP_STREAM,      /* bits: push-pull message, chunk: length */
  SIM__EV_GOSSIP_TICK,        /* gen: core life */
  SIM__EV_GOSSIP_FREE,        /* end of a graceful leave; gen: core life */
};

/* One chunk transfer in progress, owned by its sender. Bytes advance at
 * `rate` (bytes per microsecond) since `t_upd`. */
struct sim__flow {
  uint32_t from, to, chunk, gen;
  uint32_t out_idx, in_idx;  /* positions in the nodes' lists */
  uint32_t next_free;
  int live;
  double size, sent, rate, cap;
  uint64_t t_upd;            /* µs */
  uint64_t start_us;         /* when the sender started it */
  uint64_t reported;         /* bytes already reported to the receiver */
};

/* A growable list of flow ids. */
struct sim__ids {
  uint32_t *v;
  uint32_t len, cap;
};

struct sim__node {
  struct swarm *sw;
  double up, down;           /* bytes per microsecond */
  int slow, up_now, gone;    /* gone: left for good (linger done, failed) */
  int complete;
  uint64_t complete_us, join_us;
  uint64_t bytes_down, bytes_up, from_donor, wasted;
  uint8_t *truth;            /* ground truth: verified chunks held */
  uint32_t have;
  struct sim__ids out, in;   /* flows sent / received */
  uint32_t heap_pos;         /* in the completion heap, or SIM__NONE */
  uint64_t next_done;        /* earliest completion among out flows */
  uint32_t stamp;            /* dedup marker for net.c */
  double level;              /* last upload water level (net.c) */
  uint32_t life;             /* incarnation: bumps on every (re)start */
  int churn;                 /* leaves once during the run */
};

/* One action emitted by a core, queued until the core call returns. */
struct sim__act {
  uint32_t node;
  struct swarm_action a;
  size_t bits_off;           /* into sim.bits_arena */
};

/* One node's gossip core and what the simulator tracks about it. */
struct sim__gnode {
  struct sim *s;
  uint32_t k;
  struct gossip *g;          /* NULL when not running */
  struct sm_identity id;     /* derived from the seed */
  uint32_t life;             /* bumps per core; stale timers are ignored */
  int live;                  /* running and not leaving */
  uint64_t tick_at;          /* pending timer event (µs), UINT64_MAX none */
  uint64_t donor_dead_us;    /* when this core held the donor dead */
  uint8_t *knows;            /* per node: last reported alive or suspect */
};

struct sim__gossip {
  struct sim__gnode *node;
  struct sm_trust trust;
  uint64_t missing;          /* live pairs (a, b) where a does not know b */
  uint64_t members_us;       /* when missing last fell to 0 */
  uint64_t datagrams, bytes, lost, streams, stream_bytes;
  uint64_t bad_dials;        /* swarm dials to members not known alive */
};

struct sim {
  struct sim_config cfg;
  uint32_t nn;               /* nodes incl. the donor (index 0) */
  uint32_t n;                /* chunks */
  uint32_t *chunk_bytes;
  size_t bits_len;
  uint64_t now;              /* µs */
  uint64_t lat_us;
  uint64_t rng;
  struct sim__node *node;
  uint32_t *conn;            /* nn*nn: generation << 1 | open */
  struct sim_evq evq;
  /* Flows. */
  struct sim__flow *flows;
  uint32_t flows_cap, free_flow;
  uint32_t *cheap;           /* completion heap of node ids by next_done */
  uint32_t cheap_len;
  uint32_t stamp;
  uint32_t *scratch_a, *scratch_b;
  double *wf_cap;
  uint32_t wf_cap_len;
  double *exact_res;         /* --exact-share: per-link residuals */
  uint32_t *exact_cnt;
  /* Actions. */
  struct sim__act *acts;
  size_t acts_len, acts_cap;
  uint8_t *bits_arena;
  size_t arena_len, arena_cap;
  uint32_t cur;
  int err;                   /* first internal error (ENOMEM) */
  /* Results. */
  struct sim_node_result *res;
  uint32_t done_count;       /* recipients complete */
  uint64_t events, flow_updates;
  double max_util;
  struct sim__gossip *gl;    /* --gossip only, else NULL */
};

/* net.c: the fluid bandwidth model. */
int sim__net_init(struct sim *s);
void sim__net_cleanup(struct sim *s);
/* Starts a transfer of chunk from -> to; returns the flow id or SIM__NONE
 * (s->err set). */
uint32_t sim__flow_start(struct sim *s, uint32_t from, uint32_t to,
                         uint32_t chunk, uint32_t gen);
/* Brings a flow's byte count up to s->now. */
void sim__flow_advance(struct sim *s, struct sim__flow *f);
/* Removes a flow (finished, canceled or aborted) and reshares bandwidth. */
void sim__flow_stop(struct sim *s, uint32_t id);
/* Earliest pending completion: node id with the smallest next_done, or
 * SIM__NONE. */
uint32_t sim__net_next(const struct sim *s, uint64_t *at);
/* Refreshes node k's completion time after its flows changed. */
void sim__net_schedule(struct sim *s, uint32_t k);

/* Uniform double in [0, 1) from the simulator's stream. */
double sim__rand01(struct sim *s);

/* sim.c: queues an event (takes ownership of bits; s->err on failure). */
void sim__ev_push(struct sim *s, uint64_t at, uint32_t type, uint32_t from,
                  uint32_t to, uint32_t chunk, uint32_t gen, int32_t arg,
                  uint8_t *bits);
/* sim.c: runs the swarm actions queued by core calls. */
void sim__flush(struct sim *s);
/* sim.c: seconds of the fluid bound over all (fast_only: the non-slow)
 * recipients. */
double sim__bound_s(const struct sim *s, int fast_only);
/* report.c: fills *r from the finished (or stopped) run. */
void sim__summarize(const struct sim *s, struct sim_result *r);

/* gossip_link.c: one real gossip core per node (cfg.gossip). */
int sim__gossip_init(struct sim *s);
void sim__gossip_cleanup(struct sim *s);
/* (Re)starts node k's core (a new generation); recipients join the donor,
 * their only seed. */
int sim__gossip_start(struct sim *s, uint32_t k);
/* Node k stops: graceful = gossip_leave and keep ticking for a while, else
 * the core goes silent at once. */
void sim__gossip_stop(struct sim *s, uint32_t k, int graceful);
/* Delivers one of the SIM__EV_GOSSIP_* events. */
void sim__gossip_deliver(struct sim *s, const struct sim_event *ev);
/* Fills the gossip fields of *r. */
void sim__gossip_summarize(const struct sim *s, struct sim_result *r);

#endif

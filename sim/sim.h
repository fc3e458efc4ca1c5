/* sim.h - a deterministic discrete-event network simulator that runs the
 * real, unmodified swarm core (node/swarm) for one donor and N recipients
 * over simulated links: per-node upload/download capacities shared by
 * concurrent chunk transfers (fluid model), one-way latency for control
 * messages, optional loss, slow nodes, churn, donor failure and late joins.
 * With `gossip`, membership comes from one real gossip core per node too.
 * Same config (incl. seed) => identical results. Model: docs/simulation.md. */
#ifndef SM_SIM_H
#define SM_SIM_H

#include <stdint.h>
#include <stdio.h>

struct sim;

/* A scenario. Rates are bytes per second, times seconds unless noted. */
struct sim_config {
  uint32_t nodes;           /* recipients (excluding late joiners) */
  uint64_t size;            /* snapshot bytes F */
  uint32_t chunk;           /* chunk bytes */
  double up, down;          /* per recipient */
  double donor_up, donor_down;
  double latency_ms;        /* one-way, every link */
  double loss;              /* probability a control message is lost */
  double slow_fraction;     /* share of recipients at 1/slow_factor rates */
  double slow_factor;
  double churn;             /* share of recipients that leave once ... */
  double churn_down_s;      /* ... for this long, then come back */
  double donor_fail_at;     /* donor dies at this time; < 0: never */
  uint32_t late_count;      /* recipients that join late ... */
  double late_at;           /* ... at this time */
  uint64_t seed;
  double time_limit_s;      /* give up (incomplete run) after this */
  uint32_t tick_ms;         /* swarm tick period */
  uint32_t max_peers;       /* recipients' dialed degree (core default 12) */
  uint32_t upload_slots;    /* per node (core default 6) */
  int check_capacity;       /* assert after every rate change that no node
                               exceeds its capacity (slow; for tests) */
  int exact_share;          /* exact global max-min sharing instead of the
                               local model: O(links x flows) per change,
                               for validating on small scenarios */
  int gossip;               /* run a real gossip core per node: recipients
                               start knowing only the donor (their seed)
                               and dial only members gossip reports alive */
};

/* Defaults: 10 recipients, 1 GiB, 4 MiB chunks, 125e6 B/s everywhere, 1 ms
 * latency, no loss/slow/churn/failure, seed 1, 3600 s limit, core defaults. */
void sim_config_default(struct sim_config *cfg);

/* Per-recipient outcome (donor: index 0 of sim_node_result). */
struct sim_node_result {
  int slow;                 /* runs at 1/slow_factor */
  int complete;             /* every chunk held and verified */
  double completion_s;      /* absolute virtual time; -1 if incomplete */
  double join_s;            /* when it started */
  uint64_t bytes_down;      /* payload received (incl. duplicates) */
  uint64_t bytes_up;        /* payload sent (incl. canceled parts) */
  uint64_t from_donor;      /* payload received from the donor */
  uint32_t chunks;          /* verified chunks held at the end */
};

/* Whole-run summary. */
struct sim_result {
  uint32_t recipients, complete, slow;
  double end_s;             /* virtual time when the run stopped */
  double p50_s, p99_s, max_s;         /* completion times, all recipients */
  double fast_max_s;        /* max over non-slow recipients */
  double t_min_s;           /* fluid bound (design.md section 6) */
  double t_min_fast_s;      /* bound for the fast recipients only */
  double baseline_s;        /* donor-only N*F/u_s */
  uint64_t donor_up;        /* bytes the donor uploaded */
  uint64_t bytes_moved;     /* payload sent by all nodes */
  uint64_t bytes_wasted;    /* duplicates received */
  uint64_t events;          /* events processed */
  uint64_t flow_updates;    /* flow rate recomputations */
  double max_util;          /* highest observed link utilisation (<= 1) */
  uint32_t chunks_lost;     /* chunks no running node holds at the end */
  /* With cfg.gossip only (else 0): */
  double members_s;         /* when every live node last came to know every
                               other live node as a member; -1: not at the
                               end of the run */
  double donor_dead_s;      /* when the last live recipient held the donor
                               dead; -1: some did not (or no failure) */
  uint64_t gossip_datagrams, gossip_bytes; /* sent, envelope included */
  uint64_t gossip_lost;     /* datagrams dropped by --loss */
  uint64_t gossip_streams, gossip_stream_bytes; /* push-pull messages */
  uint64_t gossip_bad_dials; /* swarm dials to a node the dialer's gossip
                                core did not hold alive (0 by design) */
};

/* Creates a simulation of cfg. Errors: SM_EINVAL (bad scenario), SM_ENOMEM,
 * or a swarm_new error. Caller frees *out with sim_free. */
int sim_new(const struct sim_config *cfg, struct sim **out);

/* Frees everything. NULL is a no-op. */
void sim_free(struct sim *s);

/* Runs until every recipient completed or the time limit; fills *out.
 * Returns 0, or SM_ETIMEOUT if some recipient did not complete (out is
 * still filled). */
int sim_run(struct sim *s, struct sim_result *out);

/* Result of recipient i (0-based); NULL if out of range. Valid until
 * sim_free. */
const struct sim_node_result *sim_node_get(const struct sim *s, uint32_t i);

/* 1 if recipient i (0-based) holds chunk c as ground truth, else 0. */
int sim_node_has(const struct sim *s, uint32_t i, uint32_t c);

/* Writes the summary as text (json != 0: one JSON object) to f. */
void sim_report_print(const struct sim_config *cfg, const struct sim_result *r,
                      int json, FILE *f);

/* Writes one CSV row per recipient (header first). Returns 0 or -errno. */
int sim_report_csv(const struct sim *s, const char *path);

/* Parses a size or rate: digits with optional fraction, optional suffix
 * K M G T (powers of 1000) or Ki Mi Gi Ti (powers of 1024), optional
 * trailing "B". Returns 0 or SM_EINVAL. */
int sim_size_parse(const char *text, double *out);

/* ---------------------------------------------------- event queue (evq.c)
 * A binary min-heap of timed events ordered by (time, insertion sequence):
 * equal times pop in FIFO order, which keeps runs deterministic. */

struct sim_event {
  uint64_t at;              /* virtual time, microseconds */
  uint64_t seq;             /* tie-break, assigned by push */
  uint32_t type, from, to, chunk, gen;
  int32_t arg;
  uint8_t *bits;            /* owned payload (bitfield) or NULL */
};

struct sim_evq {
  struct sim_event *heap;
  size_t len, cap;
  uint64_t next_seq;
};

void sim_evq_init(struct sim_evq *q);
/* Frees the heap and any payloads still queued. */
void sim_evq_cleanup(struct sim_evq *q);
/* Copies ev in (taking ownership of ev->bits). SM_ENOMEM on failure (the
 * payload is then freed). */
int sim_evq_push(struct sim_evq *q, const struct sim_event *ev);
/* Pops the earliest event into *out (caller owns out->bits); 0, or
 * SM_ENOTFOUND when empty. */
int sim_evq_pop(struct sim_evq *q, struct sim_event *out);
/* Earliest time, or UINT64_MAX when empty. */
uint64_t sim_evq_peek(const struct sim_evq *q);

#endif

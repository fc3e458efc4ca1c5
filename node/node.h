/* node.h - the seedmesh daemon: serves snapshots, fetches them from the
 * swarm into a staging tree, and answers on a control socket. */
#ifndef SM_NODE_H
#define SM_NODE_H

#include <stddef.h>
#include <stdint.h>

#define NODE_MAX_STATIC_PEERS 64

struct node_config {
  const char *listen;            /* "HOST:PORT" for peer links */
  const char *key_path;          /* identity (seedmesh keygen) */
  const char *trust_path;        /* keys admitted to the cluster */
  const char *state_dir;         /* node state; created 0700 */
  const char *serve_store;       /* NULL, or a store to serve (latest manifest) */
  const char *control_path;      /* unix socket; NULL: state_dir/control.sock */
  const char *peers[NODE_MAX_STATIC_PEERS]; /* "HOST:PORT" to dial */
  size_t n_peers;
  const char *seeds[NODE_MAX_STATIC_PEERS]; /* gossip: "HOST:PORT" to join */
  size_t n_seeds;
  uint64_t max_up_bps;           /* 0: unlimited */
  uint64_t max_down_bps;         /* 0: unlimited */
  uint64_t linger_max_ms;        /* recipients serve this long at most after
                                    completing (default 300000) */
  uint64_t linger_idle_ms;       /* ... or until nobody needed anything for
                                    this long (default 1000) */
  int serve_compress_level;      /* zstd level for re-served chunks; 0 raw */
  const char *metrics_listen;    /* "HOST:PORT" for Prometheus, or NULL */
  int no_super_seed;             /* donor: reveal every chunk to every peer
                                    (baselines where recipients cannot share) */
  int donor_only;                /* recipient: fetch from the donor only, never
                                    from other recipients (baselines) */
};

/* Sets the defaults documented above (everything else zero/NULL). */
void node_config_default(struct node_config *cfg);

/* Runs the daemon in the foreground until SIGTERM/SIGINT or a "shutdown"
 * control request, then closes every handle and frees everything. Returns 0
 * after a clean stop, a negative code when start-up fails; *out_error then
 * holds a one-line reason (size 512). */
int node_run(const struct node_config *cfg, char *out_error);

/* ------------------------------------------------------- control socket
 * A unix socket (mode 0600, owner only) carrying requests and answers as
 * frames: a 4-byte big-endian length, then one msgpack map. Requests:
 *   {"op": "status"}
 *   {"op": "fetch", "manifest": "<hex id>" | "latest", "target": "/dir"}
 *   {"op": "rate", "up": bytes/s, "down": bytes/s}    (-1 leaves one as is)
 *   {"op": "shutdown"}
 *   {"op": "report", "target": "/dir", "stage": "PREPARE",
 *    "state": "In Progress" | "Completed" | "Failed", "detail": "..."}
 *      (a tool working on a fetched tree, e.g. seedmesh join, adds its stages
 *       to that transfer's status)
 *   {"op": "serve", "target": "/store"}
 *      (starts serving the store's latest manifest, e.g. one a Galera donor
 *       just took for an SST; the ones served before stay served)
 * Answers are maps with "ok" (bool) and "error" (string) when not ok; the
 * status answer is described in docs/cli.md. */
#define NODE_CONTROL_FRAME_MAX (64u * 1024)
#define NODE_CONTROL_ANSWER_MAX (16u << 20)

enum node_control_op {
  NODE_CONTROL_STATUS = 1,
  NODE_CONTROL_FETCH,
  NODE_CONTROL_RATE,
  NODE_CONTROL_SHUTDOWN,
  NODE_CONTROL_REPORT,
  NODE_CONTROL_SERVE,
};

#define NODE_REPORT_STAGE_MAX 15
#define NODE_REPORT_DETAIL_MAX 255

struct node_control_request {
  enum node_control_op op;
  char manifest[65];             /* hex id, or "latest" */
  char target[4096];
  int64_t up, down;              /* bytes/s; -1 = unchanged */
  char stage[NODE_REPORT_STAGE_MAX + 1];   /* report: [A-Z_] */
  char state[16];                /* report: In Progress | Completed | Failed */
  char detail[NODE_REPORT_DETAIL_MAX + 1];
};

/* Decodes one request (a frame's msgpack body; untrusted). SM_EMALFORMED for
 * anything that is not one of the shapes above. */
int node_control_request_decode(const uint8_t *buf, size_t len,
                                struct node_control_request *out);
/* Encodes a request body into *out (caller frees with sm_free). */
int node_control_request_encode(const struct node_control_request *req, uint8_t **out,
                                size_t *out_len);

#endif

/* node_internal.h - shared between the daemon's files: the node, its peer
 * links (one per peer node, carrying every transfer the two nodes share),
 * the transfers (one per manifest), rate limits and the control socket. Everything runs on one libuv loop thread; only the work-queue
 * callbacks marked "worker" run elsewhere, and they touch only their own
 * job struct and the thread-safe chunkstore calls. */
#ifndef SM_NODE_INTERNAL_H
#define SM_NODE_INTERNAL_H

#include <uv.h>

#include "chunkstore/chunkstore.h"
#include "common/common.h"
#include "gossip/gossip.h"
#include "node/node.h"
#include "node/swarm/swarm.h"
#include "node/wire/wire.h"

#define NODE__MAX_RECORDS 1024      /* known peers (address and/or key) */
#define NODE__MAX_LINKS 256         /* open connections */
#define NODE__MAX_TRANSFERS 8       /* manifests served or fetched at once */
_Static_assert(NODE__MAX_TRANSFERS <= 32, "node__link.transfers is a 32-bit set");
#define NODE__MAX_OUTSTANDING 128   /* requests in flight on one link, all
                                       transfers together (swarm window 16) */
#define NODE__HANDSHAKE_MS 10000    /* a link must authenticate by then */
#define NODE__IDLE_MS 120000        /* a link silent this long is closed */
#define NODE__TICK_MS 100
#define NODE__WRITE_QUEUE_MAX (64u << 20) /* bytes queued on one link */

struct node;
struct node__transfer;

/* ---------------------------------------------------------- rate limits */
struct node__bucket {
  uint64_t rate;       /* bytes per second; 0 = unlimited */
  double tokens;       /* may go negative: debt paid back before more */
  uint64_t last_ms;
};
void node__bucket_init(struct node__bucket *b, uint64_t rate, uint64_t now);
void node__bucket_set_rate(struct node__bucket *b, uint64_t rate, uint64_t now);
/* Takes bytes; returns how many ms to wait before the next take (0 = go). */
uint64_t node__bucket_take(struct node__bucket *b, uint64_t bytes, uint64_t now);
/* Corrects an earlier take of `reserved` bytes to what was really `used`. */
void node__bucket_settle(struct node__bucket *b, uint64_t reserved, uint64_t used);
/* ms until the bucket is out of debt (0 if not in debt). */
uint64_t node__bucket_wait(struct node__bucket *b, uint64_t now);

/* --------------------------------------------------------------- records
 * A peer record is what the swarm calls a peer handle: a node we know by
 * its dial address, its key, or both. */
struct node__record {
  int used;
  int has_addr;
  char addr[64];                 /* "host:port" to dial */
  int has_key;
  uint8_t key[SM_PUBKEY_BYTES];
  struct node__link *link;       /* open link, or NULL */
  int is_donor;                  /* serves the manifest as its donor */
  int is_seed;                   /* a gossip seed from --seeds */
};

/* ----------------------------------------------------------------- links */
enum node__link_state {
  NODE__LINK_CONNECTING = 1,
  NODE__LINK_HANDSHAKE,
  NODE__LINK_OPEN,
  NODE__LINK_CLOSING,
};

struct node__outstanding {
  uint32_t chunk;
  uint8_t transfer;              /* index in node->transfers */
  uint8_t used;
};

struct node__link {
  struct node *node;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  enum node__link_state state;
  int outbound;
  uint32_t handle;               /* record index */
  uint32_t transfers;            /* bit i: node->transfers[i] runs on this
                                    link (its swarm counts the peer as
                                    connected); set by attach, cleared by
                                    detach */
  uint32_t lacking;              /* bit i: the peer said it has no use for
                                    node->transfers[i]'s manifest (REJECT
                                    not-have); our swarm's dials of it fail
                                    until it announces the manifest */
  struct node__transfer *dial_for; /* outbound: the transfer that dialed */
  struct wire_handshake hs;
  int hs_live;
  struct wire_session session;
  int session_live;
  uint64_t opened_ms;
  uint64_t last_recv_ms;
  size_t queued_bytes;           /* written but not yet flushed */
  uint64_t bytes_in, bytes_out;  /* network bytes */
  int reading;                   /* uv_read_start active */
  struct node__outstanding outstanding[NODE__MAX_OUTSTANDING];
  char reason[160];              /* why it closed, for the log */
  uint32_t manifest_parts_served; /* of served_manifest, on this link */
  uint8_t served_manifest[CHUNKSTORE_ID_BYTES];
  uint32_t manifest_gets;        /* bit i: node->transfers[i] (in DISCOVER)
                                    awaits a MANIFEST_PART on this link */
};

/* Sends one message on an open link (copies it into a frame). */
int node__link_send(struct node__link *l, const struct wire_msg *msg);
/* Sends REJECT [kind, manifest_id, index, reason] (enum wire_reject_*). */
void node__link_send_reject(struct node__link *l, uint32_t kind, const uint8_t *manifest_id,
                            uint32_t index, uint32_t reason);
/* Sends a CHUNK whose data is in buf; takes ownership of buf (sm_free). */
int node__link_send_chunk(struct node__link *l, const uint8_t *manifest_id, uint32_t index,
                          uint32_t encoding, uint32_t raw_len, uint8_t *frame,
                          size_t head_room, size_t data_len, void (*done)(void *arg, int status),
                          void *arg);
void node__link_close(struct node__link *l, const char *reason);
int node__link_dial(struct node *n, uint32_t handle, struct node__transfer *t);
/* Requests of transfer t in flight on l: a CHUNK must answer one. */
int node__link_track_request(struct node__link *l, const struct node__transfer *t,
                             uint32_t chunk);
int node__link_untrack_request(struct node__link *l, const struct node__transfer *t,
                               uint32_t chunk);
/* 1 when transfer t runs on link l. */
int node__link_carries(const struct node__link *l, const struct node__transfer *t);
/* The transfer of manifest_id running on l, or NULL. */
struct node__transfer *node__link_transfer(const struct node__link *l,
                                           const uint8_t *manifest_id);

/* --------------------------------------------------------------- stages */
enum node__stage {
  NODE__STAGE_DISCOVER = 0,
  NODE__STAGE_FETCH,
  NODE__STAGE_VERIFY,
  NODE__STAGE_SEED,
  NODE__STAGE_COUNT_RECIPIENT,
  NODE__STAGE_SERVE = NODE__STAGE_COUNT_RECIPIENT,
  NODE__STAGE_COUNT,
};

enum node__stage_state {
  NODE__STAGE_NOT_STARTED = 0,
  NODE__STAGE_IN_PROGRESS,
  NODE__STAGE_COMPLETED,
  NODE__STAGE_FAILED,
};

struct node__stage_info {
  enum node__stage_state state;
  uint64_t begin_ms, end_ms;     /* wall clock, unix ms */
  uint64_t estimate;             /* bytes expected */
  uint64_t data;                 /* bytes done */
  uint64_t network;              /* bytes on the network */
  double data_speed, network_speed; /* bytes/s over the last few seconds */
};

const char *node__stage_name(enum node__stage s);

/* ------------------------------------------------------------- transfers */
enum node__role {
  NODE__ROLE_DONOR = 1,          /* serves a store */
  NODE__ROLE_RECIPIENT,          /* fetches into a staging tree */
};

/* A swarm action queued during an event, run after the event returns. */
struct node__action {
  struct swarm_action act;
  uint8_t *bits;               /* owned copy of act.bits */
};

struct node__transfer {
  struct node *node;
  struct node__action *actions;
  size_t n_actions, cap_actions;
  int flushing;
  int used;
  enum node__role role;
  uint8_t manifest_id[CHUNKSTORE_ID_BYTES];
  int have_manifest;             /* false while DISCOVER is still running */
  struct chunkstore_manifest *manifest;
  uint8_t sig[SM_SIG_BYTES];
  uint8_t *root_part;            /* sig || root, served as manifest part 0 */
  size_t root_part_len;
  uint8_t **segments;            /* encoded segments, served as parts 1.. */
  size_t *segment_lens;
  size_t segments_have;          /* recipient: fetched so far */
  struct chunkstore_pieces pieces;  /* donor only (recipients use staging's) */
  const struct chunkstore_pieces *p; /* the piece table in use; NULL once the
                                        staging area is closed */
  uint64_t pieces_total;         /* kept for status after p is gone */
  uint64_t piece_bytes_total;
  struct swarm_stats final_stats;  /* the swarm's last counters, once freed */
  struct {
    uint32_t peer, chunk;
  } paced[64];                   /* uploads waiting for upload tokens */
  struct node__reported_stage {
    char name[NODE_REPORT_STAGE_MAX + 1];
    enum node__stage_state state;
    uint64_t begin_ms, end_ms;
    char detail[NODE_REPORT_DETAIL_MAX + 1];
  } reported[8];                 /* stages a tool reported (seedmesh join) */
  size_t n_reported;
  size_t n_paced;
  struct swarm *swarm;
  char store[4096];              /* donor */
  char target[4096];             /* recipient */
  char staging_dir[4200];
  struct chunkstore_staging *staging;
  int jobs_running;              /* work-queue jobs that still reference us */
  int failed;
  char error[512];
  int finished;                  /* tree renamed into target */
  uint64_t verify_round;         /* bumped when a damaged chunk is revoked */
  struct node__stage_info stages[NODE__STAGE_COUNT];
  uint64_t last_speed_ms, last_data, last_network;
  uint64_t network_in, network_out;
  uint32_t discover_link;        /* link handle serving the manifest, or ~0 */
  uint32_t discover_next;        /* round robin over links */
  uint64_t last_discover_ms;
  uint64_t discover_sent_ms;     /* when the last MANIFEST_GET went out */
  int linger_done;
};

struct node__transfer *node__transfer_find(struct node *n, const uint8_t *manifest_id);
/* The transfer table is full: frees a finished or failed fetch, else the
 * oldest served snapshot (never the only one) that no link carries, and
 * returns its slot (unused); NULL when every transfer is still in use. */
struct node__transfer *node__transfer_reclaim(struct node *n);
/* Starts serving the latest manifest of a store. */
int node__transfer_serve(struct node *n, const char *store, char *err, size_t err_size);
/* Starts fetching manifest_id (NULL: the newest one a peer offers). */
int node__transfer_fetch(struct node *n, const uint8_t *manifest_id, const char *target,
                         char *err, size_t err_size, struct node__transfer **out);
void node__transfer_free(struct node__transfer *t);
void node__transfer_tick(struct node__transfer *t, uint64_t now);
/* Binds a freshly authenticated or announced link to t's swarm. */
int node__transfer_attach(struct node__transfer *t, struct node__link *l);
/* 0 when --donor-only keeps recipient transfer t away from a peer whose
 * swarm flags (SWARM_PEER_DONOR or not) are flags; 1 otherwise. */
int node__transfer_peer_wanted(const struct node__transfer *t, uint32_t flags);
void node__transfer_detach(struct node__transfer *t, struct node__link *l);
/* Detaches t from l and tells the peer with a REJECT of kind manifest
 * (reason: enum wire_reject_reason), so that its transfer of the same
 * manifest leaves the link too; the link stays open for the others. */
void node__transfer_leave(struct node__transfer *t, struct node__link *l, uint32_t reason);
/* Index of t in node->transfers (its bit in node__link.transfers). */
unsigned node__transfer_index(const struct node__transfer *t);
/* Swarm messages (BITFIELD, HAVE, REQUEST, CANCEL, CHUNK, REJECT of a
 * chunk) of t's manifest, arrived on a link t runs on. */
void node__transfer_on_msg(struct node__transfer *t, struct node__link *l,
                           const struct wire_msg *msg);
/* Manifest parts: serving and receiving. */
void node__manifest_on_get(struct node *n, struct node__link *l,
                           const struct wire_msg_manifest_get *get);
void node__manifest_on_part(struct node *n, struct node__link *l,
                            const struct wire_msg_manifest_part *part);
void node__manifest_on_reject(struct node *n, struct node__link *l,
                              const struct wire_msg_reject *rej);
/* A recipient transfer without a manifest asks l for it. */
void node__manifest_request(struct node__transfer *t, struct node__link *l);
void node__transfer_fail(struct node__transfer *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void node__stage_begin(struct node__transfer *t, enum node__stage s, uint64_t estimate);
void node__stage_end(struct node__transfer *t, enum node__stage s, int ok);

/* -------------------------------------------------------------- metrics */
#define NODE__HTTP_HEAD_MAX 8192      /* request line + headers */
#define NODE__HTTP_HEADERS_MAX 64
#define NODE__METRICS_CLIENTS 16      /* connections at once */
#define NODE__METRICS_TIMEOUT_MS 10000 /* to send the request head */

struct node__http_request {
  char method[8];
  char path[256];
  int minor;                     /* HTTP/1.minor */
};

/* Parses an HTTP/1.x request head (untrusted bytes, http.c). Returns the
 * head's length including the blank line, SM_EMORE when it has not ended
 * yet, SM_ETOOBIG when it does not end within NODE__HTTP_HEAD_MAX bytes,
 * SM_EMALFORMED otherwise. Reads at most len bytes; writes only *out. */
int node__http_parse(const uint8_t *buf, size_t len, struct node__http_request *out);

struct node__metrics_client;

/* The Prometheus endpoint (metrics.c); start is a no-op without
 * cfg->metrics_listen. */
int node__metrics_start(struct node *n, char *err, size_t err_size);
void node__metrics_stop(struct node *n);
/* Closes connections that did not send a request in time. */
void node__metrics_tick(struct node *n, uint64_t now);
/* Writes the exposition text into buf; SM_ETOOBIG if cap is too small. */
int node__metrics_render(struct node *n, char *buf, size_t cap, size_t *out_len);
/* The stage a transfer is in, as `seedmesh status` shows it (status.c). */
const char *node__transfer_stage_now(const struct node__transfer *t);

/* ----------------------------------------------------------------- node */
struct node {
  const struct node_config *cfg;
  uv_loop_t loop;
  uv_tcp_t listener;
  struct {
    uv_pipe_t pipe;
    void *data_table;            /* struct control_table, control.c */
  } control;
  uv_timer_t tick;
  uv_timer_t resume_read;
  uv_signal_t sigterm, sigint;
  struct sm_identity identity;
  struct sm_trust trust;
  char control_path[4096];
  struct node__record records[NODE__MAX_RECORDS];
  struct node__link *links[NODE__MAX_LINKS];
  struct node__transfer transfers[NODE__MAX_TRANSFERS];
  struct node__bucket up, down;
  int reads_paused;
  int stopping;
  uint64_t started_ms;
  uint64_t wall_started_ms;
  uint64_t banned_count;
  uint64_t rejected_handshakes;
  uint64_t chunks_bad;
  uint64_t chunks_damaged;       /* own verified chunks found damaged on disk */
  int handles_open;              /* libuv handles not yet closed */
  uv_udp_t udp;                  /* gossip datagrams, on the listen port */
  struct gossip *gossip;
  uint64_t progress_published_ms;
  uint64_t seed_retry_at, seed_backoff_ms;
  uint8_t last_progress[GOSSIP_VALUE_MAX];
  size_t last_progress_len;
  char listen_addr[64];
  struct {
    uv_tcp_t listener;
    struct node__metrics_client *clients[NODE__METRICS_CLIENTS];
    uint64_t scrapes, errors;
  } metrics;
};

uint64_t node__now(struct node *n);     /* loop time, monotonic ms */
uint64_t node__wall_ms(void);           /* unix time ms, for display only */
int node__record_by_addr(struct node *n, const char *addr);
int node__record_by_key(struct node *n, const uint8_t *key);
int node__record_new(struct node *n);
void node__handle_closed(uv_handle_t *h);
/* Pauses reading on every link while the download bucket is in debt. */
void node__reads_rate_changed(struct node *n);
void node__reads_throttle(struct node *n);

/* Daemon and links (daemon.c, link.c). */
int node__parse_addr(const char *text, struct sockaddr_storage *out);
void node__link_accept(struct node *n);
void node__links_tick(struct node *n, uint64_t now);

/* Transfers (transfer.c, manifest_xfer.c). */
void node__transfer_flush(struct node__transfer *t);
/* The open link to swarm peer handle peer that carries t, or NULL. */
struct node__link *node__transfer_peer_link(struct node__transfer *t, uint32_t peer);

/* upload.c: bytes reserved in front of a chunk's data in its frame */
#define NODE__CHUNK_HEAD_ROOM 96
/* Serves chunk to peer now, or queues it while the upload bucket is in debt. */
void node__upload_start(struct node__transfer *t, uint32_t peer, uint32_t chunk);
/* Starts queued uploads as far as the upload bucket allows (each tick). */
void node__upload_drain_paced(struct node__transfer *t);
int node__transfer_keep_parts(struct node__transfer *t);
/* Every chunk is in the staging area: ends FETCH and starts VERIFY. Called
 * on the swarm's COMPLETE, and on a resume that finds nothing missing (a
 * swarm created complete never emits COMPLETE). */
void node__transfer_fetched(struct node__transfer *t);
/* Piece chunk of a recipient no longer matches its id on disk: revoke it in
 * the journal and fetch it again (finish.c). */
void node__transfer_chunk_damaged(struct node__transfer *t, uint32_t chunk);
/* Renames the tree into place once VERIFY and lingering are both over. */
void node__transfer_finish_fetch(struct node__transfer *t);
/* Closes a finished transfer's staging area once no job references it. */
void node__transfer_release_staging(struct node__transfer *t);
int node__transfer_make_recipient_swarm(struct node__transfer *t, const uint8_t *have_bits);
void node__manifest_tick(struct node__transfer *t, uint64_t now);

/* The gossip generation for this start: the Unix time wall_s, or one more
 * than the last start's if that is not smaller (a clock set back), saved in
 * state_dir (generation.c). */
int node__generation_next(const char *state_dir, uint64_t wall_s, uint64_t *out);

/* Cluster membership (cluster.c). */
int node__cluster_start(struct node *n, const struct sockaddr_storage *listen, char *err,
                        size_t err_size);
void node__cluster_stop(struct node *n);
void node__cluster_tick(struct node *n, uint64_t now);
/* A link authenticated: if we dialed a known address, the peer joins. */
void node__cluster_on_link(struct node *n, struct node__link *l);
void node__cluster_on_stream(struct node *n, struct node__link *l, const uint8_t *buf,
                             size_t len);
/* Announces a manifest this node can serve in full. */
void node__cluster_announce(struct node *n, const struct node__transfer *t);
/* Newest manifest announced in the cluster; SM_ENOTFOUND if none. */
int node__cluster_latest(struct node *n, uint8_t out_id[CHUNKSTORE_ID_BYTES]);
/* Adds every member known to hold (part of) t's manifest as a candidate. */
void node__cluster_candidates(struct node *n, struct node__transfer *t);
int node__cluster_pack(struct node *n, msgpack_packer *pk);

/* Control socket (control.c). */
void node__control_stop(struct node *n);
void node__control_close_clients(struct node *n);
int node__control_start(struct node *n, char *err, size_t err_size);
/* Records a stage reported by a tool working on the tree of the transfer
 * fetched into target; SM_ENOTFOUND when there is no such transfer. */
int node__transfer_report(struct node *n, const struct node_control_request *req);
/* Builds the status answer (status.c) as a msgpack map. */
int node__status_pack(struct node *n, msgpack_packer *pk);
void node__stop(struct node *n);

#endif

/* metrics.c - `seedmesh node --metrics HOST:PORT`: Prometheus text
 * exposition (format 0.0.4) over a minimal HTTP/1.x server on the node's
 * loop. Each connection sends one request head (node__http_parse), gets one
 * answer and is closed. Untrusted clients are held to hard limits: at most
 * NODE__METRICS_CLIENTS at once, NODE__HTTP_HEAD_MAX bytes of head, and
 * NODE__METRICS_TIMEOUT_MS to send it (six times that to read the answer).
 * Metric names are documented in docs/cli.md; none is removed or changes
 * meaning within format 1. */
#include "node/node_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RENDER_MAX (1u << 20)

struct node__metrics_client {
  uv_tcp_t tcp;
  struct node *node;
  uint8_t buf[NODE__HTTP_HEAD_MAX];
  size_t have;
  uint64_t opened_ms;
  int answered;
  int slot;
};

struct metrics_write {
  uv_write_t req;
  struct node__metrics_client *client;
  char *buf;
};

/* ------------------------------------------------------------ rendering */
struct out {
  char *buf;
  size_t len, cap;
  int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...) {
  va_list ap;
  if (o->overflow) {
    return;
  }
  va_start(ap, fmt);
  int w = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= o->cap - o->len) {
    o->overflow = 1;
    return;
  }
  o->len += (size_t)w;
}

static void family(struct out *o, const char *name, const char *type, const char *help) {
  put(o, "# HELP seedmesh_%s %s\n# TYPE seedmesh_%s %s\n", name, help, name, type);
}

struct member_counts {
  uint64_t by_status[4];
};

static int count_member(void *arg, const struct gossip_member_info *m) {
  struct member_counts *c = arg;
  if ((unsigned)m->status < SM_ARRAY_LEN(c->by_status)) {
    c->by_status[m->status]++;
  }
  return 0;
}

/* Label set naming a transfer: its manifest id and role. */
static void labels(char *out, size_t size, const struct node__transfer *t) {
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  sm_hex_encode(t->manifest_id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(out, size, "manifest=\"%s\",role=\"%s\"", hex,
           t->role == NODE__ROLE_RECIPIENT ? "recipient" : "donor");
}

enum metrics_tm {
  TM_SIZE, TM_HAVE, TM_CHUNKS, TM_CHUNKS_HAVE, TM_SENT, TM_RECEIVED, TM_RECEIVED_DONOR,
  TM_WASTED, TM_BAD, TM_NET_IN, TM_NET_OUT, TM_DATA_SPEED, TM_NET_SPEED, TM_PEERS, TM_FAILED,
};

static const struct {
  enum metrics_tm which;
  const char *name, *type, *help;
} transfer_metrics[] = {
    {TM_SIZE, "transfer_size_bytes", "gauge", "Bytes of the snapshot (all chunks)."},
    {TM_HAVE, "transfer_have_bytes", "gauge", "Bytes verified and held so far."},
    {TM_CHUNKS, "transfer_chunks", "gauge", "Chunks in the snapshot."},
    {TM_CHUNKS_HAVE, "transfer_chunks_have", "gauge", "Chunks verified and held so far."},
    {TM_SENT, "transfer_sent_bytes_total", "counter", "Chunk payload sent to peers."},
    {TM_RECEIVED, "transfer_received_bytes_total", "counter",
     "Chunk payload received (incl. wasted)."},
    {TM_RECEIVED_DONOR, "transfer_received_donor_bytes_total", "counter",
     "Chunk payload received from the donor."},
    {TM_WASTED, "transfer_wasted_bytes_total", "counter",
     "Duplicate or bad chunk payload received."},
    {TM_BAD, "transfer_chunks_bad_total", "counter", "Chunks that failed verification."},
    {TM_NET_IN, "transfer_network_received_bytes_total", "counter", "Network bytes received."},
    {TM_NET_OUT, "transfer_network_sent_bytes_total", "counter", "Network bytes sent."},
    {TM_DATA_SPEED, "transfer_data_rate_bytes_per_second", "gauge",
     "Data speed of the main stage (FETCH or SERVE), recent."},
    {TM_NET_SPEED, "transfer_network_rate_bytes_per_second", "gauge",
     "Network speed of the main stage (FETCH or SERVE), recent."},
    {TM_PEERS, "transfer_peers", "gauge", "Peers connected for this transfer."},
    {TM_FAILED, "transfer_failed", "gauge", "1 when the transfer failed."},
};

static uint64_t transfer_value(enum metrics_tm which, const struct node__transfer *t,
                               const struct swarm_stats *st) {
  /* Speeds are those of the main stage: FETCH (recipient) or SERVE (donor). */
  enum node__stage main =
      t->role == NODE__ROLE_RECIPIENT ? NODE__STAGE_FETCH : NODE__STAGE_SERVE;
  switch (which) {
  case TM_SIZE: return t->piece_bytes_total;
  case TM_HAVE: return t->finished ? t->piece_bytes_total : st->bytes_have;
  case TM_CHUNKS: return t->pieces_total;
  case TM_CHUNKS_HAVE: return t->finished ? t->pieces_total : st->chunks_have;
  case TM_SENT: return st->bytes_up;
  case TM_RECEIVED: return st->bytes_down;
  case TM_RECEIVED_DONOR: return st->bytes_down_donor;
  case TM_WASTED: return st->bytes_wasted;
  case TM_BAD: return st->chunks_bad;
  case TM_NET_IN: return t->network_in;
  case TM_NET_OUT: return t->network_out;
  case TM_DATA_SPEED: return (uint64_t)t->stages[main].data_speed;
  case TM_NET_SPEED: return (uint64_t)t->stages[main].network_speed;
  case TM_PEERS: return st->peers_connected;
  case TM_FAILED: return t->failed ? 1 : 0;
  }
  return 0;
}

static void render_transfers(struct out *o, struct node *n) {
  struct swarm_stats stats[NODE__MAX_TRANSFERS];
  char lab[NODE__MAX_TRANSFERS][160];
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    const struct node__transfer *t = &n->transfers[i];
    if (t->used) {
      stats[i] = t->final_stats;
      if (t->swarm != NULL) {
        swarm_stats_get(t->swarm, &stats[i]);
      }
      labels(lab[i], sizeof(lab[i]), t);
    }
  }
  family(o, "transfer_stage", "gauge",
         "1 for the stage a transfer is in (DISCOVER FETCH VERIFY SEED SERVE DONE FAILED, or "
         "a stage a tool reported).");
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    if (n->transfers[i].used) {
      put(o, "seedmesh_transfer_stage{%s,stage=\"%s\"} 1\n", lab[i],
          node__transfer_stage_now(&n->transfers[i]));
    }
  }
  for (size_t m = 0; m < SM_ARRAY_LEN(transfer_metrics); m++) {
    family(o, transfer_metrics[m].name, transfer_metrics[m].type, transfer_metrics[m].help);
    for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
      if (n->transfers[i].used) {
        put(o, "seedmesh_%s{%s} %llu\n", transfer_metrics[m].name, lab[i],
            (unsigned long long)transfer_value(transfer_metrics[m].which, &n->transfers[i],
                                               &stats[i]));
      }
    }
  }
}

int node__metrics_render(struct node *n, char *buf, size_t cap, size_t *out_len) {
  struct out o = {buf, 0, cap, 0};
  struct member_counts mc;
  int links = 0;
  int transfers = 0;
  memset(&mc, 0, sizeof(mc));
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    links += n->links[i] != NULL && n->links[i]->state == NODE__LINK_OPEN;
  }
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    transfers += n->transfers[i].used;
  }
  if (n->gossip != NULL) {
    gossip_member_foreach(n->gossip, count_member, &mc);
  }
  char key[2 * SM_PUBKEY_BYTES + 1];
  sm_hex_encode(n->identity.public_key, SM_PUBKEY_BYTES, key);
  family(&o, "info", "gauge", "Always 1; labels name the node.");
  put(&o, "seedmesh_info{version=\"%s\",key=\"%s\",listen=\"%s\"} 1\n", SM_VERSION, key,
      n->listen_addr);
  family(&o, "uptime_seconds", "gauge", "Seconds since the node started.");
  put(&o, "seedmesh_uptime_seconds %llu\n",
      (unsigned long long)((node__now(n) - n->started_ms) / 1000));
  family(&o, "peer_links", "gauge", "Authenticated peer links open.");
  put(&o, "seedmesh_peer_links %d\n", links);
  family(&o, "bans_total", "counter", "Peers banned (bad chunks or protocol violations).");
  put(&o, "seedmesh_bans_total %llu\n", (unsigned long long)n->banned_count);
  family(&o, "handshakes_refused_total", "counter",
         "Peer handshakes refused (untrusted key or failed authentication).");
  put(&o, "seedmesh_handshakes_refused_total %llu\n", (unsigned long long)n->rejected_handshakes);
  family(&o, "chunks_bad_total", "counter", "Chunks from peers that failed verification.");
  put(&o, "seedmesh_chunks_bad_total %llu\n", (unsigned long long)n->chunks_bad);
  family(&o, "chunks_damaged_total", "counter",
         "Own verified chunks found damaged on disk, revoked and fetched again.");
  put(&o, "seedmesh_chunks_damaged_total %llu\n", (unsigned long long)n->chunks_damaged);
  family(&o, "rate_limit_bytes_per_second", "gauge", "Bandwidth cap, 0 = none.");
  put(&o, "seedmesh_rate_limit_bytes_per_second{direction=\"up\"} %llu\n",
      (unsigned long long)n->up.rate);
  put(&o, "seedmesh_rate_limit_bytes_per_second{direction=\"down\"} %llu\n",
      (unsigned long long)n->down.rate);
  family(&o, "gossip_members", "gauge", "Cluster members known by gossip, by status.");
  for (unsigned s = 0; s < SM_ARRAY_LEN(mc.by_status); s++) {
    put(&o, "seedmesh_gossip_members{status=\"%s\"} %llu\n",
        gossip_status_name((enum gossip_status)s), (unsigned long long)mc.by_status[s]);
  }
  struct gossip_stats gs;
  memset(&gs, 0, sizeof(gs));
  if (n->gossip != NULL) {
    gossip_stats_get(n->gossip, &gs);
  }
  const struct {
    const char *reason;
    uint64_t v;
  } drops[] = {{"untrusted", gs.drop_untrusted}, {"crypto", gs.drop_crypto},
               {"replay", gs.drop_replay},       {"malformed", gs.drop_malformed},
               {"oversize", gs.drop_oversize},   {"full", gs.drop_full}};
  family(&o, "gossip_dropped_total", "counter",
         "Gossip datagrams and records refused, by reason.");
  for (size_t i = 0; i < SM_ARRAY_LEN(drops); i++) {
    put(&o, "seedmesh_gossip_dropped_total{reason=\"%s\"} %llu\n", drops[i].reason,
        (unsigned long long)drops[i].v);
  }
  family(&o, "transfers", "gauge", "Snapshots this node serves or fetches.");
  put(&o, "seedmesh_transfers %d\n", transfers);
  render_transfers(&o, n);
  family(&o, "metrics_scrapes_total", "counter", "Answered GET /metrics requests.");
  put(&o, "seedmesh_metrics_scrapes_total %llu\n", (unsigned long long)n->metrics.scrapes + 1);
  family(&o, "metrics_http_errors_total", "counter",
         "Metrics connections refused or answered with an error.");
  put(&o, "seedmesh_metrics_http_errors_total %llu\n", (unsigned long long)n->metrics.errors);
  if (o.overflow) {
    return SM_ETOOBIG;
  }
  *out_len = o.len;
  return 0;
}

/* --------------------------------------------------------------- server */
static void client_closed(uv_handle_t *h) {
  struct node__metrics_client *c = h->data;
  struct node *n = c->node;
  if (n->metrics.clients[c->slot] == c) {
    n->metrics.clients[c->slot] = NULL;
  }
  sm_free(c);
}

static void client_close(struct node__metrics_client *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, client_closed);
  }
}

static void on_written(uv_write_t *req, int status) {
  struct metrics_write *w = req->data;
  (void)status;
  client_close(w->client);
  sm_free(w->buf);
  sm_free(w);
}

/* Sends one answer and closes the connection once it is written; takes
 * ownership of body (may be NULL). */
static void answer(struct node__metrics_client *c, int code, const char *reason,
                   const char *type, char *body, size_t body_len) {
  struct metrics_write *w = sm_calloc(1, sizeof(*w));
  char head[256];
  int hl = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n", code, reason, type, body_len);
  char *buf = sm_malloc((size_t)hl + body_len);
  c->answered = 1;
  if (code != 200) {
    c->node->metrics.errors++;
  }
  if (w == NULL || buf == NULL) {
    sm_free(w);
    sm_free(buf);
    sm_free(body);
    client_close(c);
    return;
  }
  memcpy(buf, head, (size_t)hl);
  if (body_len > 0) {
    memcpy(buf + hl, body, body_len);
  }
  sm_free(body);
  w->client = c;
  w->buf = buf;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(buf, (unsigned)((size_t)hl + body_len));
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
    sm_free(buf);
    sm_free(w);
    client_close(c);
  }
}

static void answer_text(struct node__metrics_client *c, int code, const char *reason,
                        const char *text) {
  char *body = sm_strdup(text);
  answer(c, code, reason, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}

static void handle(struct node__metrics_client *c, const struct node__http_request *req) {
  struct node *n = c->node;
  int head = strcmp(req->method, "HEAD") == 0;
  if (strcmp(req->method, "GET") != 0 && !head) {
    answer_text(c, 405, "Method Not Allowed", "only GET /metrics\n");
    return;
  }
  if (strcmp(req->path, "/metrics") != 0 && strncmp(req->path, "/metrics?", 9) != 0) {
    answer_text(c, 404, "Not Found", "seedmesh serves GET /metrics\n");
    return;
  }
  char *body = sm_malloc(RENDER_MAX);
  size_t len = 0;
  if (body == NULL || node__metrics_render(n, body, RENDER_MAX, &len) < 0) {
    sm_free(body);
    answer_text(c, 500, "Internal Server Error", "cannot render the metrics\n");
    return;
  }
  n->metrics.scrapes++;
  answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, head ? 0 : len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct node__metrics_client *c = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)c->buf + c->have, (unsigned)(sizeof(c->buf) - c->have));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct node__metrics_client *c = s->data;
  struct node__http_request req;
  (void)buf;
  if (c->answered) {
    return;
  }
  if (nread < 0) {
    client_close(c);
    return;
  }
  c->have += (size_t)nread;
  int rc = node__http_parse(c->buf, c->have, &req);
  if (rc == SM_EMORE) {
    return;
  }
  if (rc == SM_ETOOBIG) {
    answer_text(c, 431, "Request Header Fields Too Large", "request head too large\n");
  } else if (rc < 0) {
    answer_text(c, 400, "Bad Request", "malformed request\n");
  } else {
    handle(c, &req);
  }
}

static void refused_closed(uv_handle_t *h) {
  sm_free(h);
}

static void on_connection(uv_stream_t *server, int status) {
  struct node *n = server->data;
  int slot = -1;
  if (status < 0) {
    return;
  }
  for (int i = 0; i < NODE__METRICS_CLIENTS && slot < 0; i++) {
    if (n->metrics.clients[i] == NULL) {
      slot = i;
    }
  }
  if (slot < 0) {
    /* Accept and close at once, so the backlog does not fill up. */
    uv_tcp_t *tmp = sm_malloc(sizeof(*tmp));
    n->metrics.errors++;
    if (tmp != NULL) {
      uv_tcp_init(&n->loop, tmp);
      uv_accept(server, (uv_stream_t *)tmp);
      uv_close((uv_handle_t *)tmp, refused_closed);
    }
    return;
  }
  struct node__metrics_client *c = sm_calloc(1, sizeof(*c));
  if (c == NULL) {
    return;
  }
  c->node = n;
  c->slot = slot;
  c->opened_ms = node__now(n);
  uv_tcp_init(&n->loop, &c->tcp);
  c->tcp.data = c;
  n->metrics.clients[slot] = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) != 0) {
    client_close(c);
  }
}

void node__metrics_tick(struct node *n, uint64_t now) {
  for (int i = 0; i < NODE__METRICS_CLIENTS; i++) {
    struct node__metrics_client *c = n->metrics.clients[i];
    uint64_t age = c != NULL ? now - c->opened_ms : 0;
    /* No head in time; or an answer the client has not read for long. */
    if (c != NULL && ((!c->answered && age > NODE__METRICS_TIMEOUT_MS) ||
                      age > 6 * NODE__METRICS_TIMEOUT_MS)) {
      n->metrics.errors++;
      client_close(c);
    }
  }
}

int node__metrics_start(struct node *n, char *err, size_t err_size) {
  struct sockaddr_storage addr;
  const char *where = n->cfg->metrics_listen;
  if (where == NULL) {
    return 0;
  }
  if (node__parse_addr(where, &addr) < 0) {
    snprintf(err, err_size, "--metrics %s is not HOST:PORT (e.g. 127.0.0.1:9400)", where);
    return SM_EINVAL;
  }
  uv_tcp_init(&n->loop, &n->metrics.listener);
  n->metrics.listener.data = n;
  n->handles_open++;
  int rc = uv_tcp_bind(&n->metrics.listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) {
    rc = uv_listen((uv_stream_t *)&n->metrics.listener, 64, on_connection);
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot serve metrics on %s: %s (is the port in use?)", where,
             uv_strerror(rc));
    return rc;
  }
  sm_log(SM_LOG_INFO, "metrics", "Prometheus metrics on http://%s/metrics", where);
  return 0;
}

void node__metrics_stop(struct node *n) {
  if (n->metrics.listener.data != n) {
    return; /* never started */
  }
  for (int i = 0; i < NODE__METRICS_CLIENTS; i++) {
    if (n->metrics.clients[i] != NULL) {
      client_close(n->metrics.clients[i]);
    }
  }
  if (!uv_is_closing((uv_handle_t *)&n->metrics.listener)) {
    uv_close((uv_handle_t *)&n->metrics.listener, node__handle_closed);
  }
}

/* link.c - peer links: TCP connect/accept, the authenticated handshake,
 * encrypted frames in and out, pacing by the node's bandwidth caps, and
 * routing of decoded messages. One link joins two nodes and carries every
 * transfer they share: swarm messages name their manifest, and are routed to
 * the transfer of that manifest running on the link. */
#include "node/node_internal.h"

#include <stdio.h>
#include <string.h>


/* A queued write: the uv request, then the frame bytes. */
struct link_write {
  uv_write_t req;
  struct node__link *link;
  uint8_t *buf;
  size_t len;
  void (*done)(void *arg, int status);
  void *arg;
  size_t charge;               /* len plus bookkeeping, counted in queued_bytes */
};

/* What a queued write costs beyond its frame bytes (this struct, the uv
 * request and two heap blocks). It is charged to the link's write queue so
 * that a peer sending thousands of PINGs without reading the PONGs hits
 * NODE__WRITE_QUEUE_MAX as surely as one that stops reading chunks. */
#define LINK_WRITE_OVERHEAD (sizeof(struct link_write) + 64)

static int link_slot(struct node *n) {
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    if (n->links[i] == NULL) {
      return i;
    }
  }
  return -1;
}

static struct node__link *link_new(struct node *n, int outbound) {
  int slot = link_slot(n);
  if (slot < 0 || n->stopping) {
    return NULL;
  }
  struct node__link *l = sm_calloc(1, sizeof(*l));
  if (l == NULL) {
    return NULL;
  }
  l->node = n;
  l->outbound = outbound;
  l->handle = UINT32_MAX;
  l->opened_ms = l->last_recv_ms = node__now(n);
  uv_tcp_init(&n->loop, &l->tcp);
  l->tcp.data = l;
  uv_tcp_nodelay(&l->tcp, 1);
  n->links[slot] = l;
  return l;
}

static void link_free_cb(uv_handle_t *h) {
  struct node__link *l = h->data;
  struct node *n = l->node;
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    if (n->links[i] == l) {
      n->links[i] = NULL;
    }
  }
  if (l->hs_live) {
    wire_handshake_cleanup(&l->hs);
  }
  if (l->session_live) {
    wire_session_cleanup(&l->session);
  }
  sm_free(l);
}

void node__link_close(struct node__link *l, const char *reason) {
  struct node *n = l->node;
  if (l->state == NODE__LINK_CLOSING) {
    return;
  }
  if (reason != NULL && l->reason[0] == '\0') {
    snprintf(l->reason, sizeof(l->reason), "%s", reason);
  }
  sm_log(l->state == NODE__LINK_OPEN ? SM_LOG_INFO : SM_LOG_DEBUG, "link",
         "closing link %d%s%s: %s", l->handle == UINT32_MAX ? -1 : (int)l->handle,
         l->outbound ? " to " : "",
         l->outbound && l->handle < NODE__MAX_RECORDS ? n->records[l->handle].addr : "",
         l->reason[0] ? l->reason : "closed");
  enum node__link_state was = l->state;
  l->state = NODE__LINK_CLOSING;
  for (unsigned i = 0; i < NODE__MAX_TRANSFERS; i++) {
    if (l->transfers & (1u << i)) {
      node__transfer_detach(&n->transfers[i], l);
    }
  }
  if (l->handle < NODE__MAX_RECORDS && n->records[l->handle].link == l) {
    n->records[l->handle].link = NULL;
  }
  if (was == NODE__LINK_OPEN || was == NODE__LINK_HANDSHAKE) {
    uv_read_stop((uv_stream_t *)&l->tcp);
  }
  if (!uv_is_closing((uv_handle_t *)&l->tcp)) {
    uv_close((uv_handle_t *)&l->tcp, link_free_cb);
  }
}

static void on_write(uv_write_t *req, int status) {
  struct link_write *w = req->data;
  struct node__link *l = w->link;
  l->queued_bytes -= w->charge;
  if (w->done != NULL) {
    w->done(w->arg, status);
  }
  sm_free(w->buf);
  sm_free(w);
  if (status < 0 && l->state != NODE__LINK_CLOSING) {
    node__link_close(l, "write failed");
  }
}

/* Writes bytes already framed; takes ownership of buf. */
static int link_write_raw(struct node__link *l, uint8_t *buf, size_t len,
                          void (*done)(void *arg, int status), void *arg) {
  size_t charge = len + LINK_WRITE_OVERHEAD;
  int full = l->queued_bytes + charge > NODE__WRITE_QUEUE_MAX;
  struct link_write *w = full ? NULL : sm_calloc(1, sizeof(*w));
  if (w == NULL || l->state == NODE__LINK_CLOSING) {
    sm_free(w);
    sm_free(buf);
    if (done != NULL) {
      done(arg, UV_ECANCELED);
    }
    if (full && l->state != NODE__LINK_CLOSING) {
      node__link_close(l, "peer does not read what we send (write queue full)");
      return SM_EFULL;
    }
    return SM_ENOMEM;
  }
  w->req.data = w;
  w->link = l;
  w->buf = buf;
  w->len = len;
  w->done = done;
  w->arg = arg;
  w->charge = charge;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  l->queued_bytes += charge;
  l->bytes_out += len;
  int rc = uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, on_write);
  if (rc < 0) {
    l->queued_bytes -= charge;
    if (done != NULL) {
      done(arg, rc);
    }
    sm_free(buf);
    sm_free(w);
    node__link_close(l, "write failed");
    return rc;
  }
  return 0;
}

int node__link_send(struct node__link *l, const struct wire_msg *msg) {
  if (l->state != NODE__LINK_OPEN) {
    return SM_ESTATE;
  }
  size_t size = wire_msg_encoded_size(msg);
  if (size == 0) {
    return SM_EINVAL;
  }
  size_t cap = size + WIRE_FRAME_OVERHEAD;
  uint8_t *frame = sm_malloc(cap);
  size_t len = 0;
  size_t framed = 0;
  if (frame == NULL) {
    return SM_ENOMEM;
  }
  int rc = wire_msg_encode(msg, frame + WIRE_FRAME_HEADER_BYTES, size, &len);
  if (rc == 0) {
    rc = wire_frame_encode(&l->session.tx, frame + WIRE_FRAME_HEADER_BYTES, len, frame, cap,
                           &framed);
  }
  if (rc < 0) {
    sm_free(frame);
    return rc;
  }
  node__bucket_take(&l->node->up, framed, node__now(l->node));
  return link_write_raw(l, frame, framed, NULL, NULL);
}

int node__link_send_chunk(struct node__link *l, const uint8_t *manifest_id, uint32_t index,
                          uint32_t encoding, uint32_t raw_len, uint8_t *frame,
                          size_t head_room, size_t data_len, void (*done)(void *arg, int status),
                          void *arg) {
  /* frame = [4 header][head_room bytes for the CHUNK head][data][16 MAC];
   * the head is encoded right in front of the data, then sealed in place. */
  struct wire_msg_chunk c;
  uint8_t head[128];
  size_t head_len = 0;
  size_t framed = 0;
  memset(&c, 0, sizeof(c));
  memcpy(c.manifest_id, manifest_id, WIRE_ID_BYTES);
  c.index = index;
  c.encoding = encoding;
  c.raw_len = raw_len;
  int rc = l->state == NODE__LINK_OPEN ? 0 : SM_ESTATE;
  if (rc == 0) {
    rc = wire_msg_chunk_head_encode(&c, data_len, head, sizeof(head), &head_len);
  }
  if (rc == 0 && head_len > head_room) {
    rc = SM_EINVAL;
  }
  if (rc < 0) {
    sm_free(frame);
    if (done != NULL) {
      done(arg, rc);
    }
    return rc;
  }
  uint8_t *payload = frame + WIRE_FRAME_HEADER_BYTES + head_room - head_len;
  memcpy(payload, head, head_len);
  size_t payload_len = head_len + data_len;
  uint8_t *out = payload - WIRE_FRAME_HEADER_BYTES;
  rc = wire_frame_encode(&l->session.tx, payload, payload_len, out,
                         payload_len + WIRE_FRAME_OVERHEAD, &framed);
  if (rc < 0) {
    sm_free(frame);
    if (done != NULL) {
      done(arg, rc);
    }
    return rc;
  }
  if (out != frame) {
    memmove(frame, out, framed);
  }
  return link_write_raw(l, frame, framed, done, arg);
}

int node__link_track_request(struct node__link *l, const struct node__transfer *t,
                             uint32_t chunk) {
  for (int i = 0; i < NODE__MAX_OUTSTANDING; i++) {
    if (!l->outstanding[i].used) {
      l->outstanding[i].used = 1;
      l->outstanding[i].transfer = (uint8_t)node__transfer_index(t);
      l->outstanding[i].chunk = chunk;
      return 0;
    }
  }
  return SM_EFULL;
}

int node__link_untrack_request(struct node__link *l, const struct node__transfer *t,
                               uint32_t chunk) {
  unsigned ti = node__transfer_index(t);
  for (int i = 0; i < NODE__MAX_OUTSTANDING; i++) {
    struct node__outstanding *o = &l->outstanding[i];
    if (o->used && o->transfer == ti && o->chunk == chunk) {
      o->used = 0;
      return 0;
    }
  }
  return SM_ENOTFOUND;
}

int node__link_carries(const struct node__link *l, const struct node__transfer *t) {
  return (l->transfers & (1u << node__transfer_index(t))) != 0;
}

struct node__transfer *node__link_transfer(const struct node__link *l,
                                           const uint8_t *manifest_id) {
  for (unsigned i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &l->node->transfers[i];
    if ((l->transfers & (1u << i)) &&
        memcmp(t->manifest_id, manifest_id, CHUNKSTORE_ID_BYTES) == 0) {
      return t;
    }
  }
  return NULL;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static __thread char slab[256 * 1024];
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void flush_handshake(struct node__link *l) {
  const uint8_t *out = NULL;
  size_t len = 0;
  wire_handshake_output(&l->hs, &out, &len);
  if (len > 0) {
    uint8_t *copy = sm_malloc(len);
    if (copy == NULL) {
      node__link_close(l, "out of memory");
      return;
    }
    memcpy(copy, out, len);
    link_write_raw(l, copy, len, NULL, NULL);
  }
}

/* The manifest a swarm message is about; NULL for the other types. */
static const uint8_t *msg_manifest(const struct wire_msg *msg) {
  switch (msg->type) {
  case WIRE_MSG_BITFIELD:
    return msg->u.bitfield.manifest_id;
  case WIRE_MSG_HAVE:
    return msg->u.have.manifest_id;
  case WIRE_MSG_REQUEST:
    return msg->u.request.manifest_id;
  case WIRE_MSG_CANCEL:
    return msg->u.cancel.manifest_id;
  case WIRE_MSG_CHUNK:
    return msg->u.chunk.manifest_id;
  case WIRE_MSG_REJECT:
    return msg->u.reject.manifest_id;
  default:
    return NULL;
  }
}

void node__link_send_reject(struct node__link *l, uint32_t kind, const uint8_t *manifest_id,
                            uint32_t index, uint32_t reason) {
  struct wire_msg rej = {.type = WIRE_MSG_REJECT};
  rej.u.reject.kind = kind;
  memcpy(rej.u.reject.manifest_id, manifest_id, WIRE_ID_BYTES);
  rej.u.reject.index = index;
  rej.u.reject.reason = reason;
  node__link_send(l, &rej);
}

/* Routes one message; frame_bytes (its size on the wire) count towards the
 * network bytes of the transfer it belongs to. */
static void dispatch(struct node__link *l, const struct wire_msg *msg, size_t frame_bytes) {
  struct node *n = l->node;
  switch (msg->type) {
  case WIRE_MSG_PING: {
    struct wire_msg pong = {.type = WIRE_MSG_PONG};
    pong.u.ping.token = msg->u.ping.token;
    node__link_send(l, &pong);
    return;
  }
  case WIRE_MSG_PONG:
    return;
  case WIRE_MSG_GOODBYE:
    node__link_close(l, "peer said goodbye");
    return;
  case WIRE_MSG_GOSSIP:
    node__cluster_on_stream(n, l, msg->u.gossip.data, msg->u.gossip.data_len);
    return;
  case WIRE_MSG_MANIFEST_GET:
    node__manifest_on_get(n, l, &msg->u.manifest_get);
    return;
  case WIRE_MSG_MANIFEST_PART:
    node__manifest_on_part(n, l, &msg->u.manifest_part);
    return;
  case WIRE_MSG_REJECT:
    if (msg->u.reject.kind == WIRE_REJECT_KIND_MANIFEST) {
      node__manifest_on_reject(n, l, &msg->u.reject);
      return;
    }
    break;
  default:
    break;
  }
  const uint8_t *mid = msg_manifest(msg);
  if (mid == NULL) {
    return;
  }
  struct node__transfer *t = node__link_transfer(l, mid);
  if (t == NULL && msg->type == WIRE_MSG_BITFIELD) {
    /* The peer adds a transfer to the link: join it if we have the
     * manifest, else say so (the peer then takes it off the link). */
    t = node__transfer_find(n, mid);
    int rc = t == NULL || t->swarm == NULL ? SM_ENOTFOUND : node__transfer_attach(t, l);
    if (rc < 0) {
      /* not-have: we hold no swarm for it (the peer stops asking until we
       * announce it); else our swarm refused the peer for now. */
      if (l->state == NODE__LINK_OPEN) {
        node__link_send_reject(l, WIRE_REJECT_KIND_MANIFEST, mid, 0,
                    rc == SM_ENOTFOUND ? WIRE_REJECT_NOT_HAVE : WIRE_REJECT_BUSY);
      }
      return;
    }
    if (!node__link_carries(l, t)) {
      return; /* --donor-only: the link carries no chunks of t */
    }
  }
  if (t == NULL) {
    /* No transfer of that manifest on this link: a REQUEST is refused; the
     * rest is late traffic of a transfer that left the link (or never
     * joined it), and is dropped. */
    if (msg->type == WIRE_MSG_REQUEST) {
      node__link_send_reject(l, WIRE_REJECT_KIND_CHUNK, mid, msg->u.request.index,
                             WIRE_REJECT_UNKNOWN);
    }
    return;
  }
  t->network_in += frame_bytes;
  node__transfer_on_msg(t, l, msg);
}

/* Resolves duplicate links between the same two nodes: the link dialed by
 * the node with the smaller key survives, on both sides alike. Returns 1 if
 * l must close. */
static int duplicate_loses(struct node__link *l, struct node__link *other) {
  struct node *n = l->node;
  int we_smaller = memcmp(n->identity.public_key, l->session.peer_key, SM_PUBKEY_BYTES) < 0;
  /* The survivor is outbound on the smaller side, inbound on the other. */
  int l_survives = we_smaller ? l->outbound : !l->outbound;
  if (l->outbound == other->outbound) {
    return 1; /* two links in the same direction: keep the older */
  }
  return !l_survives;
}

static void on_authenticated(struct node__link *l) {
  struct node *n = l->node;
  const uint8_t *key = l->session.peer_key;
  int by_key = node__record_by_key(n, key);
  if (by_key >= 0 && n->records[by_key].link != NULL && n->records[by_key].link != l) {
    struct node__link *other = n->records[by_key].link;
    if (duplicate_loses(l, other)) {
      node__link_close(l, "duplicate link");
      return;
    }
    node__link_close(other, "duplicate link");
  }
  if (l->outbound) {
    struct node__record *r = &n->records[l->handle];
    r->has_key = 1;
    memcpy(r->key, key, SM_PUBKEY_BYTES);
    if (by_key >= 0 && by_key != (int)l->handle && n->records[by_key].link == NULL &&
        !n->records[by_key].has_addr) {
      n->records[by_key].used = 0; /* an inbound-only record of the same node */
    }
  } else {
    int h = by_key >= 0 ? by_key : node__record_new(n);
    if (h < 0) {
      node__link_close(l, "peer table full");
      return;
    }
    n->records[h].has_key = 1;
    memcpy(n->records[h].key, key, SM_PUBKEY_BYTES);
    l->handle = (uint32_t)h;
  }
  n->records[l->handle].link = l;
  l->state = NODE__LINK_OPEN;
  char hex[2 * SM_PUBKEY_BYTES + 1];
  sm_hex_encode(key, SM_PUBKEY_BYTES, hex);
  sm_log(SM_LOG_DEBUG, "link", "link %u %s peer %.16s authenticated", l->handle,
         l->outbound ? "to" : "from", hex);
  node__cluster_on_link(n, l);
  struct node__transfer *t = l->dial_for;
  l->dial_for = NULL;
  if (t != NULL && t->used && !t->have_manifest && !t->failed) {
    node__manifest_request(t, l);
  }
  /* Every transfer with a swarm joins every new link, dialed or not: after
   * a duplicate link between two nodes is dropped, the survivor must carry
   * all of them. A peer without a manifest answers its BITFIELD with a
   * REJECT and that transfer leaves the link. */
  for (int i = 0; i < NODE__MAX_TRANSFERS && l->state == NODE__LINK_OPEN; i++) {
    struct node__transfer *c = &n->transfers[i];
    if (c->used && c->swarm != NULL && c->have_manifest && !c->failed) {
      node__transfer_attach(c, l);
    }
  }
}

static void feed_frames(struct node__link *l, const uint8_t *p, size_t len) {
  while (len > 0 && l->state == NODE__LINK_OPEN) {
    size_t used = 0;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    int rc = wire_frame_decode(&l->session.rx, p, len, &used, &payload, &payload_len);
    p += used;
    len -= used;
    if (rc == SM_EMORE) {
      return;
    }
    if (rc < 0) {
      char why[96];
      snprintf(why, sizeof(why), "bad frame: %s", sm_strerror(rc));
      node__link_close(l, why);
      return;
    }
    struct wire_msg msg;
    rc = wire_msg_decode(payload, payload_len, &msg);
    if (rc < 0) {
      char why[96];
      snprintf(why, sizeof(why), "bad message: %s", sm_strerror(rc));
      node__link_close(l, why);
      return;
    }
    dispatch(l, &msg, payload_len + WIRE_FRAME_OVERHEAD);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct node__link *l = s->data;
  struct node *n = l->node;
  if (nread < 0) {
    node__link_close(l, nread == UV_EOF ? "peer closed the connection" : uv_strerror((int)nread));
    return;
  }
  if (nread == 0 || l->state == NODE__LINK_CLOSING) {
    return;
  }
  l->last_recv_ms = node__now(n);
  l->bytes_in += (uint64_t)nread;
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t len = (size_t)nread;
  if (l->state == NODE__LINK_HANDSHAKE) {
    size_t used = 0;
    int rc = wire_handshake_read(&l->hs, p, len, &used);
    flush_handshake(l);
    if (rc == SM_EMORE) {
      return;
    }
    if (rc < 0) {
      n->rejected_handshakes++;
      sm_log(SM_LOG_WARN, "link", "handshake refused: %s", wire_handshake_reason(&l->hs));
      node__link_close(l, wire_handshake_reason(&l->hs));
      return;
    }
    rc = wire_handshake_session(&l->hs, WIRE_FRAME_PAYLOAD_DEFAULT, &l->session);
    wire_handshake_cleanup(&l->hs);
    l->hs_live = 0;
    if (rc < 0) {
      node__link_close(l, "handshake failed");
      return;
    }
    l->session_live = 1;
    l->state = NODE__LINK_OPEN; /* provisional, for the duplicate check */
    on_authenticated(l);
    p += used;
    len -= used;
  }
  feed_frames(l, p, len);
  if (l->state == NODE__LINK_OPEN && node__bucket_take(&n->down, (uint64_t)nread, node__now(n)) > 0) {
    node__reads_throttle(n);
  }
}

static int start_handshake(struct node__link *l, enum wire_role role) {
  struct node *n = l->node;
  struct wire_handshake_config hc;
  memset(&hc, 0, sizeof(hc));
  hc.role = role;
  hc.identity = &n->identity;
  hc.trust = &n->trust;
  if (role == WIRE_ROLE_INITIATOR && n->records[l->handle].has_key) {
    hc.pinned_peer_key = n->records[l->handle].key;
  }
  int rc = wire_handshake_init(&l->hs, &hc);
  l->hs_live = 1;
  if (rc < 0) {
    return rc;
  }
  l->state = NODE__LINK_HANDSHAKE;
  rc = uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, on_read);
  if (rc == 0) {
    l->reading = 1;
    flush_handshake(l);
  }
  return rc;
}

static void refused_closed(uv_handle_t *h) {
  sm_free(h);
}

void node__link_accept(struct node *n) {
  struct node__link *l = link_new(n, 0);
  if (l == NULL) {
    /* Accept only to close at once. libuv holds the handle until its close
     * callback, so it must outlive this function (not live on the stack). */
    uv_tcp_t *tmp = sm_malloc(sizeof(*tmp));
    if (tmp != NULL) {
      uv_tcp_init(&n->loop, tmp);
      uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)tmp);
      uv_close((uv_handle_t *)tmp, refused_closed);
    }
    sm_log(SM_LOG_WARN, "link", "refusing a connection: link table full");
    return;
  }
  if (uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)&l->tcp) != 0 ||
      start_handshake(l, WIRE_ROLE_RESPONDER) != 0) {
    node__link_close(l, "accept failed");
  }
}

static void on_connect(uv_connect_t *req, int status) {
  struct node__link *l = req->data;
  struct node *n = l->node;
  if (l->state == NODE__LINK_CLOSING) {
    return;
  }
  if (status < 0 || start_handshake(l, WIRE_ROLE_INITIATOR) != 0) {
    struct node__transfer *t = l->dial_for;
    if (t != NULL && t->used && t->swarm != NULL) {
      swarm_peer_connect_failed(t->swarm, l->handle, node__now(n));
    }
    l->dial_for = NULL;
    node__link_close(l, status < 0 ? uv_strerror(status) : "handshake start failed");
  }
}

int node__link_dial(struct node *n, uint32_t handle, struct node__transfer *t) {
  struct node__record *r = &n->records[handle];
  struct sockaddr_storage addr;
  if (!r->used || !r->has_addr || node__parse_addr(r->addr, &addr) < 0) {
    return SM_EINVAL;
  }
  if (r->link != NULL) {
    return SM_EEXIST;
  }
  struct node__link *l = link_new(n, 1);
  if (l == NULL) {
    return SM_EFULL;
  }
  l->handle = handle;
  l->dial_for = t;
  l->state = NODE__LINK_CONNECTING;
  r->link = l;
  l->connect_req.data = l;
  int rc = uv_tcp_connect(&l->connect_req, &l->tcp, (const struct sockaddr *)&addr, on_connect);
  if (rc < 0) {
    r->link = NULL;
    l->dial_for = NULL;
    node__link_close(l, uv_strerror(rc));
    return rc;
  }
  return 0;
}

void node__links_tick(struct node *n, uint64_t now) {
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    struct node__link *l = n->links[i];
    if (l == NULL || l->state == NODE__LINK_CLOSING) {
      continue;
    }
    if (l->state != NODE__LINK_OPEN && now - l->opened_ms > NODE__HANDSHAKE_MS) {
      node__link_close(l, "no handshake in time");
    } else if (l->state == NODE__LINK_OPEN && now - l->last_recv_ms > NODE__IDLE_MS) {
      node__link_close(l, "idle");
    } else if (l->state == NODE__LINK_OPEN && now - l->last_recv_ms > NODE__IDLE_MS / 4 &&
               l->queued_bytes == 0) {
      struct wire_msg ping = {.type = WIRE_MSG_PING};
      ping.u.ping.token = now;
      node__link_send(l, &ping);
    }
  }
}

static void on_resume_read(uv_timer_t *t) {
  struct node *n = t->data;
  uint64_t wait = node__bucket_wait(&n->down, node__now(n));
  if (wait > 0) {
    uv_timer_start(&n->resume_read, on_resume_read, wait, 0);
    return;
  }
  n->reads_paused = 0;
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    struct node__link *l = n->links[i];
    if (l != NULL && l->state == NODE__LINK_OPEN && !l->reading) {
      if (uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, on_read) == 0) {
        l->reading = 1;
      }
    }
  }
}

/* The download cap changed (seedmesh rate): paused reads are re-timed at
 * the new rate now, not when the wait computed at the old one ends. */
void node__reads_rate_changed(struct node *n) {
  if (n->reads_paused && !n->stopping) {
    uv_timer_start(&n->resume_read, on_resume_read, 0, 0);
  }
}

void node__reads_throttle(struct node *n) {
  if (n->stopping) {
    return;
  }
  /* Also when already paused: a link that authenticated during the pause
   * started reading on its own and must wait like the others. */
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    struct node__link *l = n->links[i];
    if (l != NULL && l->state == NODE__LINK_OPEN && l->reading) {
      uv_read_stop((uv_stream_t *)&l->tcp);
      l->reading = 0;
    }
  }
  if (!n->reads_paused) {
    n->reads_paused = 1;
    uv_timer_start(&n->resume_read, on_resume_read, node__bucket_wait(&n->down, node__now(n)), 0);
  }
}

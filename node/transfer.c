/* transfer.c - one manifest being served or fetched: drives the swarm core
 * with events from the links, carries out the actions it emits, and runs
 * every read, hash, (de)compression and write on the libuv work queue. */
#include "node/node_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- actions */

static void on_emit(void *user, const struct swarm_action *act) {
  struct node__transfer *t = user;
  if (t->n_actions == t->cap_actions) {
    size_t cap = t->cap_actions ? t->cap_actions * 2 : 64;
    struct node__action *grown = sm_realloc(t->actions, cap * sizeof(*grown));
    if (grown == NULL) {
      sm_log(SM_LOG_ERROR, "transfer", "out of memory queueing a swarm action");
      return;
    }
    t->actions = grown;
    t->cap_actions = cap;
  }
  struct node__action *qa = &t->actions[t->n_actions];
  qa->act = *act;
  qa->bits = NULL;
  if (act->bits != NULL && act->bits_len > 0) {
    qa->bits = sm_malloc(act->bits_len);
    if (qa->bits == NULL) {
      return;
    }
    memcpy(qa->bits, act->bits, act->bits_len);
    qa->act.bits = qa->bits;
  }
  t->n_actions++;
}

struct node__link *node__transfer_peer_link(struct node__transfer *t, uint32_t peer) {
  if (peer >= NODE__MAX_RECORDS) {
    return NULL;
  }
  struct node__link *l = t->node->records[peer].link;
  return l != NULL && l->state == NODE__LINK_OPEN && node__link_carries(l, t) ? l : NULL;
}

static void send_simple(struct node__transfer *t, uint32_t peer, struct wire_msg *msg) {
  struct node__link *l = node__transfer_peer_link(t, peer);
  if (l != NULL) {
    node__link_send(l, msg);
  }
}

static void run_action(struct node__transfer *t, const struct swarm_action *a) {
  struct node *n = t->node;
  if (t->swarm == NULL) {
    return; /* the transfer failed or finished while actions were queued */
  }
  uint64_t now = node__now(n);
  struct wire_msg msg;
  memset(&msg, 0, sizeof(msg));
  switch (a->type) {
  case SWARM_ACT_CONNECT: {
    /* A link to the peer that is already open carries this transfer too,
     * unless the peer said it lacks the manifest (it announces it once it
     * has it: no need to ask again); one still connecting gets every
     * transfer once it authenticates. A failed dial backs off. */
    struct node__link *l = a->peer < NODE__MAX_RECORDS ? n->records[a->peer].link : NULL;
    unsigned bit = 1u << node__transfer_index(t);
    int failed = 0;
    if (l == NULL) {
      failed = node__link_dial(n, a->peer, t) < 0;
    } else if (l->state == NODE__LINK_OPEN) {
      failed = (l->lacking & bit) || node__link_carries(l, t) ||
               node__transfer_attach(t, l) < 0 || !node__link_carries(l, t);
    } else {
      failed = l->state == NODE__LINK_CLOSING;
    }
    if (failed && t->swarm != NULL) {
      swarm_peer_connect_failed(t->swarm, a->peer, now);
    }
    break;
  }
  case SWARM_ACT_DISCONNECT:
  case SWARM_ACT_BAN: {
    struct node__link *l = n->records[a->peer].link;
    if (a->type == SWARM_ACT_BAN) {
      n->banned_count++;
      sm_log(SM_LOG_WARN, "transfer", "banning peer %u: it sent a chunk that failed verification",
             a->peer);
      if (l != NULL) {
        node__link_close(l, "banned: sent a bad chunk");
      }
    } else if (l != NULL && node__link_carries(l, t)) {
      /* Only this transfer drops the peer; a link left with no transfer
       * closes, as it would carry nothing but gossip. */
      node__transfer_leave(t, l, WIRE_REJECT_SHUTDOWN);
      if (l->transfers == 0) {
        node__link_close(l, "swarm dropped it");
      }
    }
    break;
  }
  case SWARM_ACT_SEND_BITFIELD:
    msg.type = WIRE_MSG_BITFIELD;
    memcpy(msg.u.bitfield.manifest_id, t->manifest_id, WIRE_ID_BYTES);
    msg.u.bitfield.nbits = (uint32_t)t->p->count;
    msg.u.bitfield.bits = a->bits;
    msg.u.bitfield.bits_len = a->bits_len;
    send_simple(t, a->peer, &msg);
    break;
  case SWARM_ACT_SEND_HAVE:
    msg.type = WIRE_MSG_HAVE;
    memcpy(msg.u.have.manifest_id, t->manifest_id, WIRE_ID_BYTES);
    msg.u.have.index = a->chunk;
    send_simple(t, a->peer, &msg);
    break;
  case SWARM_ACT_SEND_REQUEST: {
    struct node__link *l = node__transfer_peer_link(t, a->peer);
    if (l == NULL || node__link_track_request(l, t, a->chunk) < 0) {
      break;
    }
    msg.type = WIRE_MSG_REQUEST;
    memcpy(msg.u.request.manifest_id, t->manifest_id, WIRE_ID_BYTES);
    msg.u.request.index = a->chunk;
    node__link_send(l, &msg);
    break;
  }
  case SWARM_ACT_SEND_CANCEL:
    msg.type = WIRE_MSG_CANCEL;
    memcpy(msg.u.cancel.manifest_id, t->manifest_id, WIRE_ID_BYTES);
    msg.u.cancel.index = a->chunk;
    send_simple(t, a->peer, &msg);
    break;
  case SWARM_ACT_SEND_REJECT:
    msg.type = WIRE_MSG_REJECT;
    msg.u.reject.kind = WIRE_REJECT_KIND_CHUNK;
    memcpy(msg.u.reject.manifest_id, t->manifest_id, WIRE_ID_BYTES);
    msg.u.reject.index = a->chunk;
    msg.u.reject.reason = (uint32_t)a->reason;
    send_simple(t, a->peer, &msg);
    break;
  case SWARM_ACT_UPLOAD_START:
    node__upload_start(t, a->peer, a->chunk);
    break;
  case SWARM_ACT_UPLOAD_CANCEL:
    break; /* the chunk may already be on the wire; upload_done reports it */
  case SWARM_ACT_COMPLETE:
    node__transfer_fetched(t);
    break;
  case SWARM_ACT_LINGER_DONE:
    t->linger_done = 1;
    node__transfer_finish_fetch(t);
    break;
  }
}

void node__transfer_flush(struct node__transfer *t) {
  /* Actions may trigger events that queue more actions: drain until empty.
   * run_action may grow t->actions, so index afresh every time; a nested
   * flush (an action that closes a link) leaves the work to this loop. */
  if (t->flushing) {
    return;
  }
  t->flushing = 1;
  for (size_t i = 0; i < t->n_actions; i++) {
    struct node__action qa = t->actions[i];
    run_action(t, &qa.act);
    sm_free(qa.bits);
  }
  t->n_actions = 0;
  t->flushing = 0;
}

/* ----------------------------------------------------------------- stages */

const char *node__stage_name(enum node__stage s) {
  static const char *const names[] = {"DISCOVER", "FETCH", "VERIFY", "SEED", "SERVE"};
  return s < NODE__STAGE_COUNT ? names[s] : "?";
}

void node__stage_begin(struct node__transfer *t, enum node__stage s, uint64_t estimate) {
  struct node__stage_info *st = &t->stages[s];
  st->state = NODE__STAGE_IN_PROGRESS;
  st->begin_ms = node__wall_ms();
  st->estimate = estimate;
}

void node__stage_end(struct node__transfer *t, enum node__stage s, int ok) {
  struct node__stage_info *st = &t->stages[s];
  if (st->state != NODE__STAGE_IN_PROGRESS) {
    return;
  }
  st->state = ok ? NODE__STAGE_COMPLETED : NODE__STAGE_FAILED;
  st->end_ms = node__wall_ms();
}

void node__transfer_fail(struct node__transfer *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->error, sizeof(t->error), fmt, ap);
  va_end(ap);
  t->failed = 1;
  sm_log(SM_LOG_ERROR, "transfer", "%s", t->error);
  for (int s = 0; s < NODE__STAGE_COUNT; s++) {
    node__stage_end(t, (enum node__stage)s, 0);
  }
  /* It leaves its links, and tells the peers: their swarms would otherwise
   * keep this fetch's state for us, and a fetch asked again on this node
   * would wait forever for their bitfields. Its BITFIELD starts both sides
   * afresh; the links stay open for the other transfers. */
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    struct node__link *l = t->node->links[i];
    if (l != NULL && l->state == NODE__LINK_OPEN && node__link_carries(l, t)) {
      node__transfer_leave(t, l, WIRE_REJECT_SHUTDOWN);
    }
  }
  swarm_free(t->swarm);
  t->swarm = NULL;
}

/* ------------------------------------------------------------------ setup */

struct node__transfer *node__transfer_find(struct node *n, const uint8_t *manifest_id) {
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (t->used && t->have_manifest && !t->failed &&
        memcmp(t->manifest_id, manifest_id, CHUNKSTORE_ID_BYTES) == 0) {
      return t;
    }
  }
  return NULL;
}

/* 1 when no open link carries t and no job or upload still uses it. */
static int transfer_idle(const struct node__transfer *t) {
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    const struct node__link *l = t->node->links[i];
    if (l != NULL && node__link_carries(l, t)) {
      return 0;
    }
  }
  return t->jobs_running == 0 && t->n_paced == 0 && t->n_actions == 0;
}

struct node__transfer *node__transfer_reclaim(struct node *n) {
  struct node__transfer *best = NULL;
  int donors = 0;
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    donors += n->transfers[i].used && n->transfers[i].role == NODE__ROLE_DONOR;
  }
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (!t->used || !transfer_idle(t)) {
      continue;
    }
    if (t->role == NODE__ROLE_RECIPIENT && (t->finished || t->failed)) {
      best = t; /* a fetch that is over goes first */
      break;
    }
    if (t->role == NODE__ROLE_DONOR && donors > 1 && t->manifest != NULL &&
        (best == NULL || t->manifest->created < best->manifest->created)) {
      best = t; /* else the oldest snapshot served that no peer fetches */
    }
  }
  if (best != NULL) {
    char hex[2 * CHUNKSTORE_ID_BYTES + 1];
    sm_hex_encode(best->manifest_id, CHUNKSTORE_ID_BYTES, hex);
    sm_log(SM_LOG_INFO, "transfer", "transfer table full: dropping the %s of manifest %.16s "
           "to make room", best->role == NODE__ROLE_DONOR ? "idle serving" : "finished fetch", hex);
    node__transfer_free(best);
  }
  return best;
}

static struct node__transfer *transfer_slot(struct node *n) {
  struct node__transfer *t = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS && t == NULL; i++) {
    if (!n->transfers[i].used) {
      t = &n->transfers[i];
    }
  }
  if (t == NULL && (t = node__transfer_reclaim(n)) == NULL) {
    return NULL;
  }
  memset(t, 0, sizeof(*t));
  t->used = 1;
  t->node = n;
  t->discover_link = UINT32_MAX;
  return t;
}

static int capture_segment(void *arg, const uint8_t id[CHUNKSTORE_ID_BYTES], const uint8_t *bytes,
                           size_t len) {
  struct node__transfer *t = arg;
  (void)id;
  size_t i = t->segments_have;
  uint8_t *copy = sm_malloc(len);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  memcpy(copy, bytes, len);
  t->segments[i] = copy;
  t->segment_lens[i] = len;
  t->segments_have++;
  return 0;
}

/* Keeps the manifest's encoded parts so this node can serve them too. */
int node__transfer_keep_parts(struct node__transfer *t) {
  struct chunkstore_manifest *m = t->manifest;
  size_t n_seg = m->n_segments;
  uint8_t id[CHUNKSTORE_ID_BYTES];
  memcpy(id, m->id, sizeof(id));
  t->segments = sm_calloc(n_seg ? n_seg : 1, sizeof(*t->segments));
  t->segment_lens = sm_calloc(n_seg ? n_seg : 1, sizeof(*t->segment_lens));
  t->root_part = sm_malloc(SM_SIG_BYTES + m->root_len);
  if (t->segments == NULL || t->segment_lens == NULL || t->root_part == NULL) {
    return SM_ENOMEM;
  }
  t->segments_have = 0;
  int rc = chunkstore_manifest_encode(m, capture_segment, t);
  if (rc < 0) {
    return rc;
  }
  if (memcmp(id, m->id, sizeof(id)) != 0 || t->segments_have != n_seg) {
    return SM_EHASH; /* the canonical encoding must reproduce the signed root */
  }
  memcpy(t->root_part, t->sig, SM_SIG_BYTES);
  memcpy(t->root_part + SM_SIG_BYTES, m->root, m->root_len);
  t->root_part_len = SM_SIG_BYTES + m->root_len;
  return 0;
}

static int make_swarm(struct node__transfer *t, enum swarm_role role, const uint8_t *have_bits) {
  struct swarm_config cfg;
  struct swarm_ops ops = {.user = t, .emit = on_emit};
  swarm_config_default(&cfg);
  cfg.role = role;
  cfg.seed = sm_load_be64(t->node->identity.public_key) ^ node__wall_ms();
  cfg.tick_ms = NODE__TICK_MS;
  cfg.max_conns = NODE__MAX_LINKS;
  cfg.linger_max_ms = t->node->cfg->linger_max_ms;
  cfg.linger_idle_ms = t->node->cfg->linger_idle_ms;
  cfg.donor_protect = !t->node->cfg->no_super_seed;
  uint32_t *sizes = sm_calloc(t->p->count ? t->p->count : 1, sizeof(uint32_t));
  if (sizes == NULL) {
    return SM_ENOMEM;
  }
  memcpy(sizes, t->p->raw_len, t->p->count * sizeof(uint32_t));
  int rc = swarm_new(&cfg, &ops, (uint32_t)t->p->count, sizes, have_bits, &t->swarm);
  sm_free(sizes);
  return rc;
}

int node__transfer_make_recipient_swarm(struct node__transfer *t, const uint8_t *have_bits) {
  return make_swarm(t, SWARM_ROLE_RECIPIENT, have_bits);
}

int node__transfer_serve(struct node *n, const char *store, char *err, size_t err_size) {
  struct chunkstore_manifest *m = NULL;
  uint8_t sig[SM_SIG_BYTES];
  int rc = chunkstore_store_load_manifest(store, NULL, NULL, &m, sig);
  if (rc < 0) {
    snprintf(err, err_size, "cannot serve %s: %s", store, sm_strerror(rc));
    return rc;
  }
  struct node__transfer *same = node__transfer_find(n, m->id);
  if (same != NULL && same->role == NODE__ROLE_DONOR) {
    chunkstore_manifest_free(m); /* already served: nothing new to start */
    return 0;
  }
  struct node__transfer *t = transfer_slot(n);
  if (t == NULL) {
    chunkstore_manifest_free(m);
    snprintf(err, err_size, "too many transfers on this node (max %d, all in use)",
             NODE__MAX_TRANSFERS);
    return SM_EFULL;
  }
  t->role = NODE__ROLE_DONOR;
  snprintf(t->store, sizeof(t->store), "%s", store);
  t->manifest = m;
  memcpy(t->sig, sig, SM_SIG_BYTES);
  if (memcmp(t->manifest->donor, n->identity.public_key, SM_PUBKEY_BYTES) != 0) {
    sm_log(SM_LOG_WARN, "transfer", "serving %s, signed by another node's key", store);
  }
  memcpy(t->manifest_id, t->manifest->id, CHUNKSTORE_ID_BYTES);
  rc = chunkstore_pieces_build(t->manifest, &t->pieces);
  if (rc == 0) {
    t->p = &t->pieces;
    t->pieces_total = t->p->count;
    t->piece_bytes_total = t->p->total_bytes;
    rc = node__transfer_keep_parts(t);
  }
  if (rc == 0) {
    uint8_t *all = sm_malloc(t->p->count / 8 + 1);
    rc = all == NULL ? SM_ENOMEM : 0;
    if (all != NULL) {
      memset(all, 0, t->p->count / 8 + 1);
      for (uint64_t i = 0; i < t->p->count; i++) {
        all[i / 8] |= (uint8_t)(0x80u >> (i % 8));
      }
      rc = make_swarm(t, SWARM_ROLE_DONOR, all);
      sm_free(all);
    }
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot serve %s: %s", store, sm_strerror(rc));
    node__transfer_free(t);
    return rc;
  }
  t->have_manifest = 1;
  node__stage_begin(t, NODE__STAGE_SERVE, t->p->total_bytes);
  node__cluster_announce(n, t);
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  sm_hex_encode(t->manifest_id, CHUNKSTORE_ID_BYTES, hex);
  sm_log(SM_LOG_INFO, "transfer", "serving manifest %s: %llu chunks", hex,
         (unsigned long long)t->p->count);
  return 0;
}

void node__transfer_free(struct node__transfer *t) {
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    struct node__link *l = t->node != NULL ? t->node->links[i] : NULL;
    if (l != NULL && node__link_carries(l, t)) {
      node__transfer_detach(t, l);
    }
    if (l != NULL) {
      l->lacking &= ~(1u << node__transfer_index(t)); /* the slot's next user */
      l->manifest_gets &= ~(1u << node__transfer_index(t));
    }
  }
  for (size_t i = 0; i < t->n_actions; i++) {
    sm_free(t->actions[i].bits);
  }
  sm_free(t->actions);
  swarm_free(t->swarm);
  chunkstore_staging_close(t->staging);
  chunkstore_pieces_cleanup(&t->pieces);
  if (t->segments != NULL) {
    for (size_t i = 0; i < t->segments_have; i++) {
      sm_free(t->segments[i]);
    }
  }
  sm_free(t->segments);
  sm_free(t->segment_lens);
  sm_free(t->root_part);
  chunkstore_manifest_free(t->manifest);
  memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------ links */

int node__transfer_peer_wanted(const struct node__transfer *t, uint32_t flags) {
  return !(t->role == NODE__ROLE_RECIPIENT && t->node->cfg->donor_only &&
           (flags & SWARM_PEER_DONOR) == 0);
}

unsigned node__transfer_index(const struct node__transfer *t) {
  return (unsigned)(t - t->node->transfers);
}

int node__transfer_attach(struct node__transfer *t, struct node__link *l) {
  if (t->swarm == NULL || t->failed) {
    return SM_ESTATE;
  }
  if (node__link_carries(l, t)) {
    return 0;
  }
  if (node__link_transfer(l, t->manifest_id) != NULL) {
    /* Messages are routed by manifest: two fetches of one manifest (into
     * two targets) take turns on a link; the other one has it for now. */
    return SM_EEXIST;
  }
  uint32_t flags = 0;
  if (t->manifest != NULL &&
      memcmp(l->session.peer_key, t->manifest->donor, SM_PUBKEY_BYTES) == 0) {
    flags |= SWARM_PEER_DONOR;
  }
  if (!node__transfer_peer_wanted(t, flags)) {
    return 0; /* the link stays open for gossip; it carries no chunks */
  }
  l->transfers |= 1u << node__transfer_index(t);
  l->lacking &= ~(1u << node__transfer_index(t));
  int rc = swarm_peer_connected(t->swarm, l->handle, flags, node__now(t->node));
  if (rc < 0) {
    /* A banned peer loses the link; otherwise only this transfer stays off
     * it (the caller tells the peer when the peer asked). */
    l->transfers &= ~(1u << node__transfer_index(t));
    if (rc == SM_EBANNED) {
      node__link_close(l, "banned");
    }
    return rc;
  }
  node__transfer_flush(t);
  return 0;
}

void node__transfer_detach(struct node__transfer *t, struct node__link *l) {
  unsigned ti = node__transfer_index(t);
  l->transfers &= ~(1u << ti);
  for (int i = 0; i < NODE__MAX_OUTSTANDING; i++) {
    if (l->outstanding[i].used && l->outstanding[i].transfer == ti) {
      l->outstanding[i].used = 0;
    }
  }
  if (t->swarm != NULL) {
    swarm_peer_disconnected(t->swarm, l->handle, node__now(t->node));
    node__transfer_flush(t);
  }
}

void node__transfer_leave(struct node__transfer *t, struct node__link *l, uint32_t reason) {
  node__link_send_reject(l, WIRE_REJECT_KIND_MANIFEST, t->manifest_id, 0, reason);
  node__transfer_detach(t, l);
}

/* ------------------------------------------------------------- downloads */

struct download_job {
  uv_work_t req;
  struct node__transfer *t;
  uint32_t peer, chunk;
  uint32_t encoding, raw_len;
  uint8_t *data;
  size_t data_len;
  int rc;
};

/* worker */
static void download_work(uv_work_t *req) {
  struct download_job *j = req->data;
  uint8_t *raw = j->data;
  if (j->encoding == WIRE_ENC_ZSTD) {
    raw = sm_malloc(j->raw_len);
    j->rc = raw == NULL ? SM_ENOMEM
                        : chunkstore_chunk_decode(CHUNKSTORE_ENC_ZSTD, j->data, j->data_len, raw,
                                                  j->raw_len);
  } else if (j->data_len != j->raw_len) {
    j->rc = SM_ECOMPRESS;
  }
  if (j->rc == 0) {
    j->rc = chunkstore_staging_put(j->t->staging, j->chunk, raw, j->raw_len);
  }
  if (raw != j->data) {
    sm_free(raw);
  }
}

static void download_after(uv_work_t *req, int status) {
  struct download_job *j = req->data;
  struct node__transfer *t = j->t;
  t->jobs_running--;
  int ok = status == 0 && j->rc == 0;
  if (!ok && j->rc != SM_EHASH && j->rc != SM_ECOMPRESS && status == 0) {
    node__transfer_fail(t, "cannot write chunk %u into %s: %s (the staging directory is kept; "
                        "fetch again to resume)", j->chunk, t->staging_dir, sm_strerror(j->rc));
  } else if (t->swarm != NULL) {
    if (!ok) {
      t->node->chunks_bad++;
    }
    swarm_chunk_received(t->swarm, j->peer, j->chunk, ok, node__now(t->node));
    node__transfer_flush(t);
  }
  sm_free(j->data);
  sm_free(j);
  node__transfer_release_staging(t);
}

static void on_chunk(struct node__transfer *t, struct node__link *l, const struct wire_msg_chunk *c) {
  uint64_t now = node__now(t->node);
  if (t->role != NODE__ROLE_RECIPIENT || t->staging == NULL || c->index >= t->p->count ||
      node__link_untrack_request(l, t, c->index) < 0) {
    node__link_close(l, "sent a chunk we did not ask for");
    return;
  }
  if (c->raw_len != t->p->raw_len[c->index] || c->data_len > c->raw_len ||
      (c->encoding != WIRE_ENC_RAW && c->encoding != WIRE_ENC_ZSTD)) {
    swarm_chunk_received(t->swarm, l->handle, c->index, 0, now);
    node__transfer_flush(t);
    return;
  }
  swarm_chunk_data(t->swarm, l->handle, c->index, 0, now);
  swarm_chunk_data(t->swarm, l->handle, c->index, c->data_len, now);
  struct download_job *j = sm_calloc(1, sizeof(*j));
  uint8_t *copy = sm_malloc(c->data_len ? c->data_len : 1);
  if (j == NULL || copy == NULL) {
    sm_free(j);
    sm_free(copy);
    node__transfer_fail(t, "out of memory receiving a chunk");
    return;
  }
  memcpy(copy, c->data, c->data_len);
  j->req.data = j;
  j->t = t;
  j->peer = l->handle;
  j->chunk = c->index;
  j->encoding = c->encoding;
  j->raw_len = c->raw_len;
  j->data = copy;
  j->data_len = c->data_len;
  t->jobs_running++;
  if (uv_queue_work(&t->node->loop, &j->req, download_work, download_after) < 0) {
    t->jobs_running--;
    sm_free(copy);
    sm_free(j);
  }
}

void node__transfer_on_msg(struct node__transfer *t, struct node__link *l,
                           const struct wire_msg *msg) {
  uint64_t now = node__now(t->node);
  int rc = 0;
  if (t->swarm == NULL) {
    return;
  }
  switch (msg->type) {
  case WIRE_MSG_BITFIELD:
    if (memcmp(msg->u.bitfield.manifest_id, t->manifest_id, WIRE_ID_BYTES) != 0) {
      rc = SM_EPROTO;
      break;
    }
    rc = swarm_peer_bitfield(t->swarm, l->handle, msg->u.bitfield.bits, msg->u.bitfield.bits_len,
                             now);
    break;
  case WIRE_MSG_HAVE:
    rc = swarm_peer_have(t->swarm, l->handle, msg->u.have.index, now);
    break;
  case WIRE_MSG_REQUEST:
    if (memcmp(msg->u.request.manifest_id, t->manifest_id, WIRE_ID_BYTES) == 0) {
      rc = swarm_peer_request(t->swarm, l->handle, msg->u.request.index, now);
    }
    break;
  case WIRE_MSG_CANCEL:
    if (memcmp(msg->u.cancel.manifest_id, t->manifest_id, WIRE_ID_BYTES) == 0) {
      swarm_peer_cancel(t->swarm, l->handle, msg->u.cancel.index, now);
    }
    break;
  case WIRE_MSG_CHUNK:
    if (memcmp(msg->u.chunk.manifest_id, t->manifest_id, WIRE_ID_BYTES) == 0) {
      on_chunk(t, l, &msg->u.chunk);
    }
    break;
  case WIRE_MSG_REJECT:
    node__link_untrack_request(l, t, msg->u.reject.index);
    swarm_peer_reject(t->swarm, l->handle, msg->u.reject.index, (int)msg->u.reject.reason, now);
    break;
  default:
    break;
  }
  if (rc == SM_EPROTO) {
    node__link_close(l, "protocol violation");
  }
  node__transfer_flush(t);
}

/* ------------------------------------------------------------------ tick */

void node__transfer_tick(struct node__transfer *t, uint64_t now) {
  node__upload_drain_paced(t);
  if (t->swarm != NULL) {
    swarm_tick(t->swarm, now);
    node__transfer_flush(t);
  }
  node__manifest_tick(t, now);
  if (now - t->last_speed_ms < 1000) {
    return;
  }
  double dt = (double)(now - t->last_speed_ms) / 1000.0;
  struct swarm_stats st;
  memset(&st, 0, sizeof(st));
  if (t->swarm != NULL) {
    swarm_stats_get(t->swarm, &st);
  }
  uint64_t network = t->network_in + t->network_out;
  enum node__stage s = t->role == NODE__ROLE_DONOR ? NODE__STAGE_SERVE : NODE__STAGE_FETCH;
  struct node__stage_info *si = &t->stages[s];
  if (t->swarm != NULL) {
    si->data = t->role == NODE__ROLE_DONOR ? st.bytes_up : st.bytes_have;
  }
  si->network = t->role == NODE__ROLE_DONOR ? t->network_out : t->network_in;
  if (si->state == NODE__STAGE_IN_PROGRESS && t->last_speed_ms != 0) {
    si->data_speed = (double)(si->data - t->last_data) / dt;
    si->network_speed = (double)(network - t->last_network) / dt;
  } else if (si->state != NODE__STAGE_IN_PROGRESS) {
    si->data_speed = si->network_speed = 0;
  }
  if (t->stages[NODE__STAGE_SEED].state == NODE__STAGE_IN_PROGRESS) {
    t->stages[NODE__STAGE_SEED].data = st.bytes_up;
    t->stages[NODE__STAGE_SEED].network = t->network_out;
  }
  t->last_data = si->data;
  t->last_network = network;
  t->last_speed_ms = now;
}

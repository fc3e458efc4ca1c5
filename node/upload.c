/* upload.c - serving chunks to peers: each one is read (a donor's from its
 * store, a recipient's from its staging tree), checked against its id and
 * framed on the libuv work queue, then sent on the peer's link; uploads
 * wait their turn while the node's upload bucket is in debt (--max-upload). */
#include "node/node_internal.h"

#include <string.h>

struct upload_job {
  uv_work_t req;
  struct node__transfer *t;
  struct node__link *link;     /* checked against records[peer] afterwards */
  uint32_t peer, chunk;
  int rc;
  uint32_t encoding, raw_len;
  uint8_t id[CHUNKSTORE_ID_BYTES];
  uint8_t *frame;
  size_t data_len;
  uint64_t sent;
};

/* worker */
static void upload_work(uv_work_t *req) {
  struct upload_job *j = req->data;
  struct node__transfer *t = j->t;
  uint32_t len = j->raw_len;
  if (t->role == NODE__ROLE_DONOR) {
    enum chunkstore_encoding enc;
    uint32_t raw_len = 0;
    uint8_t *data = NULL;
    size_t data_len = 0;
    j->rc = chunkstore_store_get_encoded(t->store, j->id, &enc, &raw_len, &data, &data_len);
    if (j->rc < 0) {
      return;
    }
    /* Re-check before serving: a chunk damaged on disk is never sent. */
    uint8_t *check = sm_malloc(len);
    uint8_t id[CHUNKSTORE_ID_BYTES];
    j->rc = check == NULL ? SM_ENOMEM
            : raw_len != len ? SM_EHASH
                             : chunkstore_chunk_decode(enc, data, data_len, check, len);
    if (j->rc == 0) {
      chunkstore_chunk_id(check, len, id);
      j->rc = memcmp(id, j->id, sizeof(id)) == 0 ? 0 : SM_EHASH;
    }
    sm_free(check);
    j->frame = j->rc == 0 ? sm_malloc(WIRE_FRAME_HEADER_BYTES + NODE__CHUNK_HEAD_ROOM + data_len +
                                      WIRE_FRAME_MAC_BYTES)
                          : NULL;
    if (j->rc == 0 && j->frame == NULL) {
      j->rc = SM_ENOMEM;
    }
    if (j->rc == 0) {
      memcpy(j->frame + WIRE_FRAME_HEADER_BYTES + NODE__CHUNK_HEAD_ROOM, data, data_len);
      j->data_len = data_len;
      j->encoding = enc == CHUNKSTORE_ENC_ZSTD ? WIRE_ENC_ZSTD : WIRE_ENC_RAW;
    }
    sm_free(data);
    return;
  }
  j->frame = sm_malloc(WIRE_FRAME_HEADER_BYTES + NODE__CHUNK_HEAD_ROOM + len + WIRE_FRAME_MAC_BYTES);
  if (j->frame == NULL) {
    j->rc = SM_ENOMEM;
    return;
  }
  j->rc = chunkstore_staging_read(t->staging, j->chunk,
                                  j->frame + WIRE_FRAME_HEADER_BYTES + NODE__CHUNK_HEAD_ROOM, len);
  j->data_len = len;
  j->encoding = WIRE_ENC_RAW;
}

static void upload_written(void *arg, int status) {
  struct upload_job *j = arg;
  struct node__transfer *t = j->t;
  t->jobs_running--;
  if (t->swarm != NULL) {
    swarm_upload_done(t->swarm, j->peer, j->chunk, status == 0 ? j->sent : 0, node__now(t->node));
    node__transfer_flush(t);
  }
  if (status == 0) {
    t->network_out += j->sent;
  }
  sm_free(j);
  node__transfer_release_staging(t);
}

static void upload_after(uv_work_t *req, int status) {
  struct upload_job *j = req->data;
  struct node__transfer *t = j->t;
  struct node__link *l = node__transfer_peer_link(t, j->peer);
  if (status < 0 || j->rc < 0 || l != j->link) {
    if (j->rc == SM_EHASH) {
      sm_log(SM_LOG_ERROR, "transfer", "chunk %u is damaged on this node's disk; not serving it",
             j->chunk);
    }
    if (j->rc == SM_EHASH && t->role == NODE__ROLE_RECIPIENT) {
      node__transfer_chunk_damaged(t, j->chunk);
    }
    if (l != NULL && l == j->link && j->rc < 0) {
      node__link_send_reject(l, WIRE_REJECT_KIND_CHUNK, t->manifest_id, j->chunk,
                             WIRE_REJECT_NOT_HAVE);
    }
    sm_free(j->frame);
    node__bucket_settle(&t->node->up, j->raw_len, 0);
    upload_written(j, -1);
    return;
  }
  j->sent = j->data_len;
  node__bucket_settle(&t->node->up, j->raw_len, j->data_len);
  node__link_send_chunk(l, t->manifest_id, j->chunk, j->encoding, j->raw_len, j->frame,
                        NODE__CHUNK_HEAD_ROOM, j->data_len, upload_written, j);
}

static void run_upload(struct node__transfer *t, uint32_t peer, uint32_t chunk);

/* Uploads wait while the node's upload bucket is in debt (--max-upload). */
void node__upload_start(struct node__transfer *t, uint32_t peer, uint32_t chunk) {
  if ((t->n_paced > 0 || node__bucket_wait(&t->node->up, node__now(t->node)) > 0) &&
      t->n_paced < SM_ARRAY_LEN(t->paced)) {
    t->paced[t->n_paced].peer = peer;
    t->paced[t->n_paced].chunk = chunk;
    t->n_paced++;
    return;
  }
  run_upload(t, peer, chunk);
}

void node__upload_drain_paced(struct node__transfer *t) {
  size_t done = 0;
  while (done < t->n_paced && t->swarm != NULL &&
         node__bucket_wait(&t->node->up, node__now(t->node)) == 0) {
    uint32_t peer = t->paced[done].peer;
    uint32_t chunk = t->paced[done].chunk;
    done++;
    run_upload(t, peer, chunk);
  }
  memmove(t->paced, t->paced + done, (t->n_paced - done) * sizeof(t->paced[0]));
  t->n_paced -= done;
}

static void run_upload(struct node__transfer *t, uint32_t peer, uint32_t chunk) {
  struct upload_job *j = sm_calloc(1, sizeof(*j));
  struct node__link *l = node__transfer_peer_link(t, peer);
  if (j == NULL || l == NULL || chunk >= t->p->count) {
    sm_free(j);
    swarm_upload_done(t->swarm, peer, chunk, 0, node__now(t->node));
    return;
  }
  j->req.data = j;
  j->t = t;
  j->link = l;
  j->peer = peer;
  j->chunk = chunk;
  j->raw_len = t->p->raw_len[chunk];
  memcpy(j->id, t->p->ids[chunk], CHUNKSTORE_ID_BYTES);
  /* Reserve upload tokens now, so one tick does not start every waiting
   * upload; upload_after settles the difference with the bytes sent. */
  node__bucket_take(&t->node->up, j->raw_len, node__now(t->node));
  t->jobs_running++;
  if (uv_queue_work(&t->node->loop, &j->req, upload_work, upload_after) < 0) {
    t->jobs_running--;
    sm_free(j);
    swarm_upload_done(t->swarm, peer, chunk, 0, node__now(t->node));
  }
}

/* finish.c - the end of a fetch: VERIFY (every piece journaled and read
 * back intact, the tree made durable), then, once lingering is over, the
 * final modes, fsync and rename into the target; the staging area is
 * released when no work-queue job still reads it. A piece found damaged on
 * disk after it was verified (by VERIFY or when serving it) is revoked in
 * the journal and fetched again. */
#include "node/node_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Closes a finished transfer's staging area once no job references it. */
void node__transfer_release_staging(struct node__transfer *t) {
  if (t->finished && t->staging != NULL && t->jobs_running == 0) {
    chunkstore_staging_close(t->staging);
    t->staging = NULL;
  }
}

/* ------------------------------------------------------------- finishing */

struct finish_job {
  uv_work_t req;
  struct node__transfer *t;
  int verify_only;
  uint64_t verify_round;       /* t->verify_round when it was queued */
  int rc;
  uint64_t bad;
  uint32_t *damaged;           /* pieces that no longer match their id */
  size_t n_damaged;
  char old[4200];
};

void node__transfer_chunk_damaged(struct node__transfer *t, uint32_t chunk) {
  if (t->role != NODE__ROLE_RECIPIENT || t->staging == NULL || t->swarm == NULL ||
      t->failed || t->finished) {
    return;
  }
  int rc = chunkstore_staging_revoke(t->staging, chunk);
  if (rc == 0) {
    rc = swarm_chunk_lost(t->swarm, chunk, node__now(t->node));
  }
  if (rc < 0) {
    node__transfer_fail(t, "chunk %u was damaged on disk after it was verified and cannot be "
                        "revoked (%s); the staging directory %s is kept: fetch again to "
                        "re-fetch it", chunk, sm_strerror(rc), t->staging_dir);
    return;
  }
  t->node->chunks_damaged++;
  t->verify_round++; /* a VERIFY in flight read a tree that has changed */
  sm_log(SM_LOG_WARN, "transfer", "chunk %u was damaged on this node's disk after it was "
         "verified: revoked, fetching it again", chunk);
  if (t->stages[NODE__STAGE_FETCH].state == NODE__STAGE_COMPLETED) {
    /* Back to fetching: VERIFY and SEED start over once it is back. */
    t->stages[NODE__STAGE_FETCH].state = NODE__STAGE_IN_PROGRESS;
    t->stages[NODE__STAGE_VERIFY].state = NODE__STAGE_NOT_STARTED;
    t->stages[NODE__STAGE_SEED].state = NODE__STAGE_NOT_STARTED;
    t->linger_done = 0;
  }
  node__transfer_flush(t);
}

/* worker: re-reads every piece from the staging tree (VERIFY), or renames
 * the finished tree into the target. */
static void finish_work(uv_work_t *req) {
  struct finish_job *j = req->data;
  struct node__transfer *t = j->t;
  if (j->verify_only) {
    /* Every piece was hashed in memory right before it was written; it is
     * read back and hashed again, so a piece damaged on disk since (or by a
     * faulty write path) is caught before the tree is handed over. */
    size_t cap = 0;
    uint8_t *buf = sm_malloc(t->manifest->chunk_size);
    if (buf == NULL) {
      j->rc = SM_ENOMEM;
      return;
    }
    for (uint64_t i = 0; i < t->p->count && j->rc == 0; i++) {
      if (!chunkstore_staging_has(t->staging, i)) {
        j->bad++;
        continue;
      }
      int rc = chunkstore_staging_read(t->staging, i, buf, t->p->raw_len[i]);
      if (rc == SM_EHASH) {
        if (j->n_damaged == cap) {
          cap = cap ? 2 * cap : 16;
          uint32_t *grown = sm_realloc(j->damaged, cap * sizeof(*grown));
          if (grown == NULL) {
            j->rc = SM_ENOMEM;
            break;
          }
          j->damaged = grown;
        }
        j->damaged[j->n_damaged++] = (uint32_t)i;
      } else if (rc < 0) {
        j->rc = rc;
      }
    }
    sm_free(buf);
    if (j->rc == 0 && j->n_damaged == 0) {
      j->rc = j->bad ? SM_ESTATE : chunkstore_staging_sync(t->staging);
    }
    return;
  }
  rmdir(t->target); /* an empty target directory makes way; a full one stays */
  j->rc = chunkstore_staging_finish(t->staging, t->target, NULL, j->old, sizeof(j->old));
}

static void finish_after(uv_work_t *req, int status) {
  struct finish_job *j = req->data;
  struct node__transfer *t = j->t;
  t->jobs_running--;
  if (j->verify_only && j->verify_round != t->verify_round) {
    /* A damaged piece sent us back to fetching meanwhile; the VERIFY queued
     * once it was back is the one that counts. */
  } else if (j->verify_only && status == 0 && j->rc == 0 && j->n_damaged > 0) {
    for (size_t i = 0; i < j->n_damaged && !t->failed; i++) {
      node__transfer_chunk_damaged(t, j->damaged[i]);
    }
  } else if (status < 0 || j->rc < 0) {
    if (j->verify_only) {
      node__transfer_fail(t, "cannot make the staging tree durable (%s, %llu chunks "
                          "unrecorded); fetch again to resume", sm_strerror(j->rc),
                          (unsigned long long)j->bad);
    } else {
      node__transfer_fail(t, "cannot move the finished tree to %s: %s", t->target,
                          sm_strerror(j->rc));
    }
  } else if (j->verify_only) {
    node__stage_end(t, NODE__STAGE_VERIFY, 1);
    t->stages[NODE__STAGE_VERIFY].data = t->p->total_bytes;
    node__stage_begin(t, NODE__STAGE_SEED, 0);
    node__transfer_finish_fetch(t);
  } else {
    t->finished = 1;
    node__stage_end(t, NODE__STAGE_SEED, 1);
    sm_log(SM_LOG_INFO, "transfer", "%s is complete and verified", t->target);
    /* It leaves its links and says so: the peers' transfers of the same
     * manifest stop counting on this node. The links stay open. */
    for (int i = 0; i < NODE__MAX_LINKS; i++) {
      struct node__link *l = t->node->links[i];
      if (l != NULL && l->state == NODE__LINK_OPEN && node__link_carries(l, t)) {
        node__transfer_leave(t, l, WIRE_REJECT_SHUTDOWN);
      }
    }
    swarm_stats_get(t->swarm, &t->final_stats);
    swarm_free(t->swarm);
    t->swarm = NULL;
    t->p = NULL;
    node__transfer_release_staging(t);
  }
  sm_free(j->damaged);
  sm_free(j);
}

static void queue_finish_job(struct node__transfer *t, int verify_only) {
  struct finish_job *j = sm_calloc(1, sizeof(*j));
  if (j == NULL) {
    node__transfer_fail(t, "out of memory");
    return;
  }
  j->req.data = j;
  j->t = t;
  j->verify_only = verify_only;
  j->verify_round = t->verify_round;
  t->jobs_running++;
  if (uv_queue_work(&t->node->loop, &j->req, finish_work, finish_after) < 0) {
    t->jobs_running--;
    sm_free(j);
    node__transfer_fail(t, "cannot queue work");
  }
}

static void start_verify(struct node__transfer *t) {
  node__stage_begin(t, NODE__STAGE_VERIFY, t->p->total_bytes);
  queue_finish_job(t, 1);
}

void node__transfer_fetched(struct node__transfer *t) {
  node__stage_end(t, NODE__STAGE_FETCH, 1);
  sm_log(SM_LOG_INFO, "transfer", "all %llu chunks fetched and verified",
         (unsigned long long)t->p->count);
  start_verify(t);
}

/* Renames the tree into place once both VERIFY and lingering are over. */
void node__transfer_finish_fetch(struct node__transfer *t) {
  if (t->linger_done && t->stages[NODE__STAGE_VERIFY].state == NODE__STAGE_COMPLETED &&
      !t->finished && !t->failed && t->staging != NULL) {
    queue_finish_job(t, 0);
  }
}


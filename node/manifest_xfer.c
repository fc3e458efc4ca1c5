/* manifest_xfer.c - moving manifests between nodes before any chunk moves:
 * part 0 is the donor's signature followed by the signed root, parts 1..n
 * the segments. A recipient checks the signature (and that the donor key is
 * trusted) before asking for segments, and the whole file list before it
 * creates a single file. An all-zero manifest id asks for the newest
 * manifest the peer serves. */
#include "node/node_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DISCOVER_RETRY_MS 1000
#define DISCOVER_ANSWER_MS 10000 /* a MANIFEST_GET unanswered this long is
                                    asked of another peer */


static int is_zero_id(const uint8_t *id) {
  return sm_is_zero(id, CHUNKSTORE_ID_BYTES);
}

static struct node__transfer *served_for(struct node *n, const uint8_t *id) {
  struct node__transfer *best = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (!t->used || !t->have_manifest || t->failed || t->root_part == NULL) {
      continue;
    }
    if (!is_zero_id(id)) {
      if (memcmp(t->manifest_id, id, CHUNKSTORE_ID_BYTES) == 0) {
        return t;
      }
    } else if (t->role == NODE__ROLE_DONOR &&
               (best == NULL || t->manifest->created > best->manifest->created)) {
      best = t;
    }
  }
  return best;
}

void node__manifest_on_get(struct node *n, struct node__link *l,
                           const struct wire_msg_manifest_get *get) {
  struct node__transfer *t = served_for(n, get->manifest_id);
  uint32_t nparts = t ? (uint32_t)(1 + t->manifest->n_segments) : 0;
  if (t == NULL || get->part >= nparts) {
    node__link_send_reject(l, WIRE_REJECT_KIND_MANIFEST, get->manifest_id, get->part,
                           WIRE_REJECT_NOT_HAVE);
    return;
  }
  if (memcmp(l->served_manifest, t->manifest_id, CHUNKSTORE_ID_BYTES) != 0) {
    /* A peer fetches manifest after manifest over one long-lived link: each
     * gets its own budget. */
    memcpy(l->served_manifest, t->manifest_id, CHUNKSTORE_ID_BYTES);
    l->manifest_parts_served = 0;
  }
  if (++l->manifest_parts_served > 4 * nparts + 16) {
    node__link_close(l, "too many manifest requests");
    return;
  }
  struct wire_msg msg = {.type = WIRE_MSG_MANIFEST_PART};
  memcpy(msg.u.manifest_part.manifest_id, t->manifest_id, WIRE_ID_BYTES);
  msg.u.manifest_part.part = get->part;
  msg.u.manifest_part.nparts = nparts;
  msg.u.manifest_part.data = get->part == 0 ? t->root_part : t->segments[get->part - 1];
  msg.u.manifest_part.data_len = get->part == 0 ? t->root_part_len : t->segment_lens[get->part - 1];
  node__link_send(l, &msg);
}

/* The id a transfer in DISCOVER asks for (all zero: the newest). */
static const uint8_t *asked_id(const struct node__transfer *t) {
  return t->manifest != NULL ? t->manifest->id : t->manifest_id;
}

/* The recipient transfer still looking for manifest id, if any. */
static struct node__transfer *discovering(struct node *n, const uint8_t *id) {
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (t->used && t->role == NODE__ROLE_RECIPIENT && !t->have_manifest && !t->failed &&
        memcmp(asked_id(t), id, CHUNKSTORE_ID_BYTES) == 0) {
      return t;
    }
  }
  return NULL;
}

/* The transfer in DISCOVER whose request on l an answer about manifest id
 * belongs to: the one that asked for that id, else one that asked for the
 * newest manifest. */
static struct node__transfer *asked_on(struct node *n, struct node__link *l, const uint8_t *id) {
  struct node__transfer *latest = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (!t->used || t->role != NODE__ROLE_RECIPIENT || t->have_manifest || t->failed ||
        t->discover_link != l->handle || !(l->manifest_gets & (1u << i))) {
      continue;
    }
    if (memcmp(asked_id(t), id, CHUNKSTORE_ID_BYTES) == 0) {
      return t;
    }
    if (is_zero_id(asked_id(t))) {
      latest = t;
    }
  }
  return latest;
}

static void send_get(struct node__transfer *t, struct node__link *l, uint32_t part) {
  struct wire_msg msg = {.type = WIRE_MSG_MANIFEST_GET};
  memcpy(msg.u.manifest_get.manifest_id, asked_id(t), WIRE_ID_BYTES);
  msg.u.manifest_get.part = part;
  if (node__link_send(l, &msg) == 0) {
    l->manifest_gets |= 1u << node__transfer_index(t);
    t->discover_sent_ms = node__now(t->node);
    t->discover_link = l->handle;
  }
}

void node__manifest_request(struct node__transfer *t, struct node__link *l) {
  if (t->discover_link == UINT32_MAX) {
    send_get(t, l, t->manifest == NULL ? 0 : (uint32_t)(1 + t->segments_have));
  }
}

/* The manifest is complete and valid: open the staging area and start the
 * swarm. */
static void manifest_ready(struct node__transfer *t) {
  struct node *n = t->node;
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  int rc = chunkstore_staging_open(t->staging_dir, t->manifest, t->sig, &t->staging);
  if (rc < 0) {
    node__transfer_fail(t, rc == SM_ESTATE
                               ? "%s holds another manifest's staging data: remove it or fetch "
                                 "into another target"
                               : "cannot open the staging directory %s: %s",
                        t->staging_dir, sm_strerror(rc));
    return;
  }
  t->p = chunkstore_staging_pieces(t->staging);
  t->pieces_total = t->p->count;
  t->piece_bytes_total = t->p->total_bytes;
  uint64_t need = t->p->total_bytes - chunkstore_staging_have_bytes(t->staging);
  uint64_t free_bytes = 0;
  if (sm_fs_free_bytes(t->staging_dir, &free_bytes) == 0 && free_bytes < need) {
    char a[32], b[32];
    sm_format_bytes(need, a, sizeof(a));
    sm_format_bytes(free_bytes, b, sizeof(b));
    node__transfer_fail(t, "not enough disk space under %s: %s needed, %s free", t->staging_dir,
                        a, b);
    return;
  }
  uint8_t *bits = sm_calloc(t->p->count / 8 + 1, 1);
  if (bits == NULL) {
    node__transfer_fail(t, "out of memory");
    return;
  }
  for (uint64_t i = 0; i < t->p->count; i++) {
    if (chunkstore_staging_has(t->staging, i)) {
      bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }
  }
  rc = node__transfer_make_recipient_swarm(t, bits);
  sm_free(bits);
  if (rc == 0 && t->root_part == NULL) {
    rc = node__transfer_keep_parts(t);
  }
  if (rc < 0) {
    node__transfer_fail(t, "cannot start the swarm: %s", sm_strerror(rc));
    return;
  }
  memcpy(t->manifest_id, t->manifest->id, CHUNKSTORE_ID_BYTES);
  t->have_manifest = 1;
  node__stage_end(t, NODE__STAGE_DISCOVER, 1);
  node__stage_begin(t, NODE__STAGE_FETCH, t->p->total_bytes);
  sm_hex_encode(t->manifest_id, CHUNKSTORE_ID_BYTES, hex);
  sm_log(SM_LOG_INFO, "transfer", "fetching manifest %s into %s: %llu chunks, %llu already here",
         hex, t->target, (unsigned long long)t->p->count,
         (unsigned long long)chunkstore_staging_have_count(t->staging));
  uint64_t now = node__now(n);
  for (uint32_t h = 0; h < NODE__MAX_RECORDS; h++) {
    struct node__record *r = &n->records[h];
    if (!r->used) {
      continue;
    }
    uint32_t flags = r->has_key && memcmp(r->key, t->manifest->donor, SM_PUBKEY_BYTES) == 0
                         ? SWARM_PEER_DONOR
                         : 0;
    if (r->has_addr && node__transfer_peer_wanted(t, flags)) {
      swarm_candidate_add(t->swarm, h, flags, now);
    }
    if (r->link != NULL && r->link->state == NODE__LINK_OPEN) {
      node__transfer_attach(t, r->link);
    }
  }
  node__cluster_candidates(n, t);
  node__transfer_flush(t);
  if (chunkstore_staging_have_count(t->staging) == t->p->count) {
    node__transfer_fetched(t); /* killed after the last chunk, before the rename */
  }
}

static void drop_partial_manifest(struct node__transfer *t) {
  if (t->segments != NULL) {
    for (size_t i = 0; i < t->segments_have; i++) {
      sm_free(t->segments[i]);
    }
  }
  sm_free(t->segments);
  sm_free(t->segment_lens);
  sm_free(t->root_part);
  t->segments = NULL;
  t->segment_lens = NULL;
  t->root_part = NULL;
  t->segments_have = 0;
  chunkstore_manifest_free(t->manifest);
  t->manifest = NULL;
}

static void on_root(struct node__transfer *t, struct node__link *l,
                    const struct wire_msg_manifest_part *part) {
  struct node *n = t->node;
  struct chunkstore_manifest *m = NULL;
  if (part->data_len <= SM_SIG_BYTES) {
    node__link_close(l, "manifest root too short");
    return;
  }
  int rc = chunkstore_manifest_decode_root(part->data + SM_SIG_BYTES,
                                           part->data_len - SM_SIG_BYTES, &m);
  if (rc == 0 && !is_zero_id(t->manifest_id) &&
      memcmp(m->id, t->manifest_id, CHUNKSTORE_ID_BYTES) != 0) {
    rc = SM_EHASH;
  }
  if (rc == 0) {
    rc = chunkstore_manifest_verify(m, part->data, &n->trust);
  }
  if (rc < 0) {
    sm_log(SM_LOG_WARN, "transfer", "refusing a manifest from link %u: %s", l->handle,
           sm_strerror(rc));
    chunkstore_manifest_free(m);
    node__link_close(l, "sent a manifest that does not verify");
    return;
  }
  t->manifest = m;
  memcpy(t->sig, part->data, SM_SIG_BYTES);
  t->segments = sm_calloc(m->n_segments ? m->n_segments : 1, sizeof(*t->segments));
  t->segment_lens = sm_calloc(m->n_segments ? m->n_segments : 1, sizeof(*t->segment_lens));
  t->root_part = sm_malloc(part->data_len);
  if (t->segments == NULL || t->segment_lens == NULL || t->root_part == NULL) {
    node__transfer_fail(t, "out of memory");
    return;
  }
  memcpy(t->root_part, part->data, part->data_len);
  t->root_part_len = part->data_len;
}

static void on_segment(struct node__transfer *t, struct node__link *l,
                       const struct wire_msg_manifest_part *part) {
  size_t i = part->part - 1;
  if (i != t->segments_have) {
    return; /* not the part we asked for */
  }
  int rc = chunkstore_manifest_add_segment(t->manifest, i, part->data, part->data_len);
  if (rc == SM_EHASH) {
    node__link_close(l, "sent a manifest segment that does not match its id");
    return;
  }
  if (rc < 0) {
    node__transfer_fail(t, "the manifest is refused: %s (an unsafe path or inconsistent sizes); "
                        "nothing was written", sm_strerror(rc));
    return;
  }
  t->segments[i] = sm_malloc(part->data_len);
  if (t->segments[i] == NULL) {
    node__transfer_fail(t, "out of memory");
    return;
  }
  memcpy(t->segments[i], part->data, part->data_len);
  t->segment_lens[i] = part->data_len;
  t->segments_have++;
}

void node__manifest_on_part(struct node *n, struct node__link *l,
                            const struct wire_msg_manifest_part *part) {
  struct node__transfer *t = asked_on(n, l, part->manifest_id);
  if (t == NULL) {
    return; /* a late answer; the manifest is already here */
  }
  l->manifest_gets &= ~(1u << node__transfer_index(t));
  t->discover_link = UINT32_MAX;
  if (part->part == 0 && t->manifest == NULL) {
    on_root(t, l, part);
  } else if (part->part > 0 && t->manifest != NULL &&
             memcmp(part->manifest_id, t->manifest->id, CHUNKSTORE_ID_BYTES) == 0) {
    on_segment(t, l, part);
  }
  if (t->failed || t->manifest == NULL || l->state != NODE__LINK_OPEN) {
    return;
  }
  if (t->segments_have < t->manifest->n_segments) {
    send_get(t, l, (uint32_t)(1 + t->segments_have));
    return;
  }
  int rc = chunkstore_manifest_finish(t->manifest);
  if (rc < 0) {
    node__transfer_fail(t, "the manifest is refused: %s (an unsafe path or inconsistent sizes); "
                        "nothing was written", sm_strerror(rc));
    return;
  }
  manifest_ready(t);
}

void node__manifest_on_reject(struct node *n, struct node__link *l,
                              const struct wire_msg_reject *rej) {
  struct node__transfer *t = asked_on(n, l, rej->manifest_id);
  struct node__transfer *on_link = node__link_transfer(l, rej->manifest_id);
  if (on_link != NULL) {
    /* The peer does not have that manifest (yet), or its transfer of it
     * left the link; it will announce itself with a BITFIELD once it has. */
    if (rej->reason == WIRE_REJECT_NOT_HAVE) {
      l->lacking |= 1u << node__transfer_index(on_link);
    }
    node__transfer_detach(on_link, l);
  }
  if (t != NULL && memcmp(asked_id(t), rej->manifest_id, CHUNKSTORE_ID_BYTES) == 0) {
    l->manifest_gets &= ~(1u << node__transfer_index(t));
    t->discover_link = UINT32_MAX; /* ask someone else on the next tick */
  }
}

void node__manifest_tick(struct node__transfer *t, uint64_t now) {
  struct node *n = t->node;
  if (t->role != NODE__ROLE_RECIPIENT || t->have_manifest || t->failed ||
      now - t->last_discover_ms < DISCOVER_RETRY_MS) {
    return;
  }
  t->last_discover_ms = now;
  if (t->discover_link != UINT32_MAX) {
    struct node__link *l = n->records[t->discover_link].link;
    if (l != NULL && l->state == NODE__LINK_OPEN &&
        (l->manifest_gets & (1u << node__transfer_index(t))) &&
        now - t->discover_sent_ms < DISCOVER_ANSWER_MS) {
      return; /* still waiting for an answer */
    }
    if (l != NULL) {
      l->manifest_gets &= ~(1u << node__transfer_index(t));
    }
    t->discover_link = UINT32_MAX;
    if (t->manifest != NULL && t->segments_have == 0) {
      drop_partial_manifest(t); /* start over with another peer */
    }
  }
  /* Ask the next open link, round robin; and dial every known address
   * without a link: the open links may all be recipients that cannot answer
   * "latest", while the link to the donor was lost (a duplicate link dropped
   * on both sides, say). */
  for (uint32_t k = 0; k < NODE__MAX_RECORDS; k++) {
    uint32_t h = (t->discover_next + k) % NODE__MAX_RECORDS;
    struct node__record *r = &n->records[h];
    if (r->used && r->link != NULL && r->link->state == NODE__LINK_OPEN) {
      t->discover_next = h + 1;
      node__manifest_request(t, r->link);
      break;
    }
  }
  for (uint32_t h = 0; h < NODE__MAX_RECORDS; h++) {
    struct node__record *r = &n->records[h];
    if (r->used && r->has_addr && r->link == NULL) {
      node__link_dial(n, h, t);
    }
  }
}

static int dir_is_empty_or_missing(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    return 0;
  }
  DIR *d = opendir(path);
  if (d == NULL) {
    return 0;
  }
  struct dirent *de;
  int empty = 1;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
      empty = 0;
    }
  }
  closedir(d);
  return empty;
}

int node__transfer_fetch(struct node *n, const uint8_t *manifest_id, const char *target,
                         char *err, size_t err_size, struct node__transfer **out) {
  /* Fetches of different manifests discover them at once; answers are told
   * apart by manifest id, so one id (or "latest") is looked for once. */
  uint8_t want[CHUNKSTORE_ID_BYTES] = {0};
  if (manifest_id != NULL) {
    memcpy(want, manifest_id, sizeof(want));
  } else {
    (void)node__cluster_latest(n, want);
  }
  if (discovering(n, want) != NULL) {
    snprintf(err, err_size, "another fetch is still looking for this manifest: try again when "
             "it has it");
    return SM_ESTATE;
  }
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *o = &n->transfers[i];
    if (o->used && o->role == NODE__ROLE_RECIPIENT && strcmp(o->target, target) == 0) {
      if (!o->failed) {
        *out = o; /* already fetching (or fetched) into this target */
        return 0;
      }
      node__transfer_free(o);
    }
  }
  if (!dir_is_empty_or_missing(target)) {
    snprintf(err, err_size, "%s exists and is not empty: fetch into a new directory", target);
    return SM_EEXIST;
  }
  struct node__transfer *t = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS && t == NULL; i++) {
    if (!n->transfers[i].used) {
      t = &n->transfers[i];
    }
  }
  if (t == NULL) {
    t = node__transfer_reclaim(n);
  }
  if (t == NULL) {
    snprintf(err, err_size, "too many transfers on this node (max %d)", NODE__MAX_TRANSFERS);
    return SM_EFULL;
  }
  memset(t, 0, sizeof(*t));
  t->used = 1;
  t->node = n;
  t->role = NODE__ROLE_RECIPIENT;
  t->discover_link = UINT32_MAX;
  if (manifest_id != NULL) {
    memcpy(t->manifest_id, manifest_id, CHUNKSTORE_ID_BYTES);
  } else if (node__cluster_latest(n, t->manifest_id) == 0) {
    manifest_id = t->manifest_id; /* the newest manifest the cluster announced */
  }
  snprintf(t->target, sizeof(t->target), "%s", target);
  chunkstore_staging_default_dir(target, t->staging_dir, sizeof(t->staging_dir));
  node__stage_begin(t, NODE__STAGE_DISCOVER, 0);
  /* A staging area from an interrupted run already holds the manifest. */
  struct chunkstore_manifest *m = NULL;
  if (chunkstore_staging_load_manifest(t->staging_dir, &n->trust, &m, t->sig) == 0 &&
      (manifest_id == NULL || memcmp(m->id, manifest_id, CHUNKSTORE_ID_BYTES) == 0)) {
    t->manifest = m;
    manifest_ready(t);
  } else {
    chunkstore_manifest_free(m);
    node__manifest_tick(t, node__now(n) + DISCOVER_RETRY_MS);
  }
  *out = t;
  return 0;
}

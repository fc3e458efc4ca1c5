/* state.c - dissemination: the retransmit-limited broadcast queue that
 * piggybacks membership and state news on every datagram, the per-node
 * versioned key/value state, and scuttlebutt push-pull anti-entropy over the
 * embedder's reliable stream (digest of gap-free watermarks, then deltas in
 * version order per origin). */
#include "gossip/gossip_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- the queue */
static int bcast_match(const struct gossip__bcast *b, uint8_t kind, const uint8_t *id,
                       const char *key) {
  return b->kind == kind && memcmp(b->id, id, SM_PUBKEY_BYTES) == 0 &&
         (kind != GOSSIP__B_STATE || strcmp(b->key, key) == 0);
}

void gossip__bcast_push(struct gossip *g, uint8_t kind, const uint8_t *id, const char *key) {
  struct gossip__bcast *slot = NULL;
  for (size_t i = 0; i < g->n_bcast; i++) {
    if (bcast_match(&g->bcast[i], kind, id, key)) {
      slot = &g->bcast[i];
      break;
    }
  }
  if (slot == NULL && g->n_bcast < g->cfg.broadcast_max) {
    slot = &g->bcast[g->n_bcast++];
  }
  if (slot == NULL) {
    /* Full: evict the most transmitted, oldest item. */
    slot = &g->bcast[0];
    for (size_t i = 1; i < g->n_bcast; i++) {
      const struct gossip__bcast *b = &g->bcast[i];
      if (b->transmits > slot->transmits ||
          (b->transmits == slot->transmits && b->order < slot->order)) {
        slot = &g->bcast[i];
      }
    }
    g->stats.drop_full++;
  }
  memset(slot, 0, sizeof(*slot));
  slot->kind = kind;
  memcpy(slot->id, id, SM_PUBKEY_BYTES);
  if (kind == GOSSIP__B_STATE) {
    snprintf(slot->key, sizeof(slot->key), "%s", key);
  }
  slot->order = ++g->bcast_order;
}

void gossip__bcast_drop(struct gossip *g, uint8_t kind, const uint8_t *id) {
  size_t out = 0;
  for (size_t i = 0; i < g->n_bcast; i++) {
    const struct gossip__bcast *b = &g->bcast[i];
    if (!(b->kind == kind && memcmp(b->id, id, SM_PUBKEY_BYTES) == 0)) {
      g->bcast[out++] = *b;
    }
  }
  g->n_bcast = out;
}

size_t gossip__retransmit_limit(const struct gossip *g) {
  size_t log2n = 0;
  while (((size_t)1 << log2n) < g->n_members) {
    log2n++;
  }
  return g->cfg.retransmit_mult * (log2n + 1);
}

static int bcast_cmp(const void *a, const void *b) {
  const struct gossip__bcast *x = a;
  const struct gossip__bcast *y = b;
  if (x->transmits != y->transmits) {
    return x->transmits < y->transmits ? -1 : 1;
  }
  return x->order > y->order ? -1 : x->order < y->order ? 1 : 0;
}

static struct gossip__entry *entry_find(const struct gossip__member *m, const char *key,
                                        size_t klen) {
  for (uint32_t i = 0; i < m->n_entries; i++) {
    if (strlen(m->entries[i].key) == klen && memcmp(m->entries[i].key, key, klen) == 0) {
      return &m->entries[i];
    }
  }
  return NULL;
}

static void delta_of(const struct gossip__member *m, const struct gossip__entry *e,
                     struct gossip__delta *d) {
  memcpy(d->origin, m->id, SM_PUBKEY_BYTES);
  d->key = e->key;
  d->klen = (uint32_t)strlen(e->key);
  d->val = e->val;
  d->vlen = e->vlen;
  d->version = e->version;
}

void gossip__bcast_fill(struct gossip *g, struct gossip__msg *msg, size_t budget,
                        struct gossip__mrec *mrec, size_t cap_m,
                        struct gossip__delta *delta, size_t cap_d) {
  size_t limit = gossip__retransmit_limit(g);
  size_t out = 0;
  msg->members = mrec;
  msg->deltas = delta;
  /* Our own record rides on every datagram, so whoever hears from us learns
   * our latest incarnation (refutations spread even if the queue missed). */
  if (cap_m > 0) {
    gossip__member_record(g->self, &mrec[0]);
    size_t size = gossip__mrec_size(&mrec[0]);
    if (size <= budget) {
      msg->n_members = 1;
      budget -= size;
    }
  }
  qsort(g->bcast, g->n_bcast, sizeof(*g->bcast), bcast_cmp);
  for (size_t i = 0; i < g->n_bcast && budget >= 40; i++) {
    struct gossip__bcast *b = &g->bcast[i];
    const struct gossip__member *m = gossip__member_find(g, b->id);
    size_t size = 0;
    if (m == NULL) {
      b->transmits = (uint32_t)limit; /* stale: drop below */
      continue;
    }
    if (m->is_self && b->kind == GOSSIP__B_MEMBER && msg->n_members > 0) {
      b->transmits++; /* already carried as the sender's record */
      continue;
    }
    if (b->kind == GOSSIP__B_MEMBER) {
      if (msg->n_members == cap_m) {
        continue;
      }
      gossip__member_record(m, &mrec[msg->n_members]);
      size = gossip__mrec_size(&mrec[msg->n_members]);
      if (size <= budget) {
        msg->n_members++;
      }
    } else {
      const struct gossip__entry *e = entry_find(m, b->key, strlen(b->key));
      if (e == NULL) {
        b->transmits = (uint32_t)limit;
        continue;
      }
      if (msg->n_deltas == cap_d) {
        continue;
      }
      delta_of(m, e, &delta[msg->n_deltas]);
      size = gossip__delta_size(&delta[msg->n_deltas]);
      if (size <= budget) {
        msg->n_deltas++;
      }
    }
    if (size <= budget) {
      budget -= size;
      b->transmits++;
    }
  }
  for (size_t i = 0; i < g->n_bcast; i++) {
    if (g->bcast[i].transmits < limit) {
      g->bcast[out++] = g->bcast[i];
    }
  }
  g->n_bcast = out;
}

/* ------------------------------------------------------------- entries */
/* Stores key=val at version in m, replacing an existing entry. */
static int entry_store(struct gossip *g, struct gossip__member *m, const char *key, size_t klen,
                       const uint8_t *val, size_t vlen, uint64_t version) {
  struct gossip__entry *e = entry_find(m, key, klen);
  size_t old = e != NULL ? klen + e->vlen : 0;
  uint8_t *copy = NULL;
  if (g->state_bytes - old + klen + vlen > g->cfg.max_state_bytes) {
    return SM_EFULL;
  }
  if (e == NULL && m->n_entries == GOSSIP_ENTRIES_MAX) {
    return SM_EFULL;
  }
  copy = sm_malloc(vlen);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  memcpy(copy, val, vlen);
  if (e == NULL) {
    if (m->entries == NULL) {
      m->entries = sm_calloc(GOSSIP_ENTRIES_MAX, sizeof(*m->entries));
      if (m->entries == NULL) {
        sm_free(copy);
        return SM_ENOMEM;
      }
    }
    e = &m->entries[m->n_entries++];
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
  }
  sm_free(e->val);
  e->val = copy;
  e->vlen = (uint16_t)vlen;
  e->version = version;
  g->state_bytes = g->state_bytes - old + klen + vlen;
  return 0;
}

void gossip__state_drop_all(struct gossip *g, struct gossip__member *m) {
  for (uint32_t i = 0; i < m->n_entries; i++) {
    g->state_bytes -= strlen(m->entries[i].key) + m->entries[i].vlen;
    sm_free(m->entries[i].val);
  }
  sm_free(m->entries);
  m->entries = NULL;
  m->n_entries = 0;
  gossip__bcast_drop(g, GOSSIP__B_STATE, m->id);
}

int gossip_state_set(struct gossip *g, const char *key, const void *val, size_t len) {
  size_t klen = key != NULL ? strnlen(key, GOSSIP_KEY_MAX + 1) : 0;
  int rc = 0;
  if (klen == 0 || klen > GOSSIP_KEY_MAX || (val == NULL && len > 0)) {
    return SM_EINVAL;
  }
  if (len > GOSSIP_VALUE_MAX) {
    return SM_ETOOBIG;
  }
  rc = entry_store(g, g->self, key, klen, len > 0 ? val : (const uint8_t *)"", len,
                   g->self->watermark + 1);
  if (rc < 0) {
    return rc;
  }
  g->self->watermark++;
  gossip__bcast_push(g, GOSSIP__B_STATE, g->id, key);
  return 0;
}

int gossip__state_apply(struct gossip *g, const struct gossip__delta *d, int from_stream) {
  struct gossip__member *m = NULL;
  struct gossip__entry *e = NULL;
  int rc = 0;
  if (!sm_trust_contains(g->trust, d->origin)) {
    g->stats.drop_untrusted++;
    return 0;
  }
  m = gossip__member_find(g, d->origin);
  if (m == NULL || m->is_self) {
    return 0;
  }
  e = entry_find(m, d->key, d->klen);
  if (e != NULL && e->version >= d->version) {
    return 0;
  }
  rc = entry_store(g, m, d->key, d->klen, d->val, d->vlen, d->version);
  if (rc < 0) {
    g->stats.drop_full++;
    return 0;
  }
  if (!from_stream && d->version == m->watermark + 1) {
    m->watermark = d->version;
  }
  e = entry_find(m, d->key, d->klen);
  gossip__bcast_push(g, GOSSIP__B_STATE, m->id, e->key);
  if (g->ops.on_state != NULL) {
    g->ops.on_state(g->ops.ctx, m->id, e->key, e->val, e->vlen, e->version);
  }
  return 1;
}

int gossip_state_get(const struct gossip *g, const uint8_t origin[SM_PUBKEY_BYTES],
                     const char *key, const uint8_t **out_val, size_t *out_len,
                     uint64_t *out_version) {
  const struct gossip__member *m = gossip__member_find(g, origin);
  const struct gossip__entry *e = NULL;
  if (m == NULL || key == NULL) {
    return SM_ENOTFOUND;
  }
  e = entry_find(m, key, strlen(key));
  if (e == NULL) {
    return SM_ENOTFOUND;
  }
  *out_val = e->val;
  *out_len = e->vlen;
  if (out_version != NULL) {
    *out_version = e->version;
  }
  return 0;
}

int gossip_state_foreach(const struct gossip *g, const uint8_t *origin,
                         int (*fn)(void *arg, const uint8_t origin[SM_PUBKEY_BYTES],
                                   const char *key, const uint8_t *val, size_t len,
                                   uint64_t version),
                         void *arg) {
  for (size_t i = 0; i < g->n_members; i++) {
    const struct gossip__member *m = g->members[i];
    if (origin != NULL && memcmp(origin, m->id, SM_PUBKEY_BYTES) != 0) {
      continue;
    }
    for (uint32_t j = 0; j < m->n_entries; j++) {
      const struct gossip__entry *e = &m->entries[j];
      int rc = fn(arg, m->id, e->key, e->val, e->vlen, e->version);
      if (rc != 0) {
        return rc;
      }
    }
  }
  return 0;
}

/* ------------------------------------------------------------ push-pull */
static int digest_cmp(const void *a, const void *b) {
  return memcmp(((const struct gossip__digest *)a)->origin,
                ((const struct gossip__digest *)b)->origin, SM_PUBKEY_BYTES);
}

static int entry_version_cmp(const void *a, const void *b) {
  const struct gossip__entry *x = *(const struct gossip__entry *const *)a;
  const struct gossip__entry *y = *(const struct gossip__entry *const *)b;
  return x->version < y->version ? -1 : x->version > y->version ? 1 : 0;
}

/* The peer's watermark for origin (0 when absent); peer is sorted. */
static uint64_t peer_watermark(const struct gossip__digest *peer, size_t n, const uint8_t *id) {
  struct gossip__digest key;
  const struct gossip__digest *hit = NULL;
  if (n == 0) {
    return 0;
  }
  memcpy(key.origin, id, SM_PUBKEY_BYTES);
  hit = bsearch(&key, peer, n, sizeof(*peer), digest_cmp);
  return hit != NULL ? hit->version : 0;
}

/* Builds and sends one push-pull message. want_deltas: include what the peer
 * (whose sorted digest is peer/n_peer) lacks. */
static void pushpull_send(struct gossip *g, const uint8_t *to, const struct gossip_addr *addr,
                          uint8_t type, const struct gossip__digest *peer, size_t n_peer) {
  struct gossip__msg msg;
  struct gossip__wbuf w;
  uint8_t *plain = NULL;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  size_t total_entries = 0;
  size_t budget = GOSSIP_STREAM_MAX;
  int full = 0;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  for (size_t i = 0; i < g->n_members; i++) {
    total_entries += g->members[i]->n_entries;
  }
  msg.members = sm_calloc(g->n_members, sizeof(*msg.members));
  msg.digest = sm_calloc(g->n_members, sizeof(*msg.digest));
  msg.deltas = sm_calloc(total_entries + 1, sizeof(*msg.deltas));
  plain = sm_malloc(GOSSIP_STREAM_MAX);
  sealed = sm_malloc(GOSSIP_STREAM_MAX + GOSSIP_ENVELOPE_OVERHEAD);
  if (msg.members == NULL || msg.digest == NULL || msg.deltas == NULL || plain == NULL ||
      sealed == NULL) {
    goto out;
  }
  budget -= gossip__msg_base_size(&msg) + 64;
  if (type != GOSSIP__PP_DELTA) {
    for (size_t i = 0; i < g->n_members; i++) {
      gossip__member_record(g->members[i], &msg.members[msg.n_members]);
      budget -= gossip__mrec_size(&msg.members[msg.n_members++]);
    }
  }
  /* Reserve the digest at its largest, then spend the rest on deltas. */
  budget -= g->n_members * (1 + 34 + 9);
  for (size_t i = 0; i < g->n_members; i++) {
    const struct gossip__member *m = g->members[i];
    struct gossip__entry *sorted[GOSSIP_ENTRIES_MAX];
    uint64_t pw = type == GOSSIP__PP_SYN ? UINT64_MAX : peer_watermark(peer, n_peer, m->id);
    uint64_t adv = m->watermark;
    uint32_t n = 0;
    for (uint32_t j = 0; j < m->n_entries; j++) {
      if (m->entries[j].version > pw) {
        sorted[n++] = &m->entries[j];
      }
    }
    qsort(sorted, n, sizeof(sorted[0]), entry_version_cmp);
    for (uint32_t j = 0; j < n; j++) {
      struct gossip__delta *d = &msg.deltas[msg.n_deltas];
      delta_of(m, sorted[j], d);
      size_t size = gossip__delta_size(d);
      if (full || size > budget) {
        /* Truncated: only claim what the deltas so far cover. */
        full = 1;
        adv = SM_MIN(adv, j > 0 ? sorted[j - 1]->version : pw);
        break;
      }
      budget -= size;
      msg.n_deltas++;
    }
    if (adv > 0) {
      memcpy(msg.digest[msg.n_digest].origin, m->id, SM_PUBKEY_BYTES);
      msg.digest[msg.n_digest++].version = adv;
    }
  }
  gossip__wbuf_init(&w, plain, GOSSIP_STREAM_MAX);
  if (gossip__msg_encode(&msg, &w) < 0) {
    sm_log(SM_LOG_ERROR, "gossip", "push-pull message over budget");
    goto out;
  }
  if (gossip__seal(g, GOSSIP__CH_STREAM, to, plain, w.len, sealed, &sealed_len) < 0) {
    goto out;
  }
  g->stats.tx_streams++;
  g->ops.send_stream(g->ops.ctx, addr, sealed, sealed_len);
out:
  sm_free(msg.members);
  sm_free(msg.digest);
  sm_free(msg.deltas);
  sm_free(plain);
  sm_free(sealed);
}

void gossip__pushpull_start(struct gossip *g, struct gossip__member *m) {
  if (g->ops.send_stream == NULL) {
    return;
  }
  g->stats.pushpulls++;
  pushpull_send(g, m->id, &m->addr, GOSSIP__PP_SYN, NULL, 0);
}

void gossip__pushpull_recv(struct gossip *g, const uint8_t *from,
                           const struct gossip_addr *from_addr, struct gossip__msg *msg) {
  if (msg->n_digest > 0) {
    qsort(msg->digest, msg->n_digest, sizeof(*msg->digest), digest_cmp);
  }
  for (size_t i = 0; i < msg->n_members; i++) {
    gossip__member_apply(g, &msg->members[i]);
  }
  if (msg->type == GOSSIP__PP_SYN) {
    if (g->ops.send_stream != NULL) {
      pushpull_send(g, from, from_addr, GOSSIP__PP_ACK, msg->digest, msg->n_digest);
    }
    return;
  }
  for (size_t i = 0; i < msg->n_deltas; i++) {
    gossip__state_apply(g, &msg->deltas[i], 1);
  }
  /* The sender's digest says which versions its deltas cover for us. */
  for (size_t i = 0; i < msg->n_digest; i++) {
    struct gossip__member *m = gossip__member_find(g, msg->digest[i].origin);
    if (m != NULL && !m->is_self && msg->digest[i].version > m->watermark) {
      m->watermark = msg->digest[i].version;
    }
  }
  if (msg->type == GOSSIP__PP_ACK && g->ops.send_stream != NULL) {
    pushpull_send(g, from, from_addr, GOSSIP__PP_DELTA, msg->digest, msg->n_digest);
  }
}

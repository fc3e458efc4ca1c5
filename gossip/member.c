/* member.c - SWIM failure detection with the Lifeguard refinements: the
 * member table, round-robin probing over a shuffled list, indirect probes
 * with nacks, incarnation rules, suspicion whose timeout shrinks with
 * independent confirmations, local health awareness, and reaping. */
#include "gossip/gossip_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ table */
static size_t member_lower_bound(const struct gossip *g, const uint8_t *id) {
  size_t lo = 0;
  size_t hi = g->n_members;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (memcmp(g->members[mid]->id, id, SM_PUBKEY_BYTES) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

struct gossip__member *gossip__member_find(const struct gossip *g, const uint8_t *id) {
  size_t i = member_lower_bound(g, id);
  if (i < g->n_members && memcmp(g->members[i]->id, id, SM_PUBKEY_BYTES) == 0) {
    return g->members[i];
  }
  return NULL;
}

static void notify(struct gossip *g, const struct gossip__member *m) {
  if (!m->is_self && g->ops.on_member != NULL) {
    g->ops.on_member(g->ops.ctx, m->id, (enum gossip_status)m->status, &m->addr);
  }
}

int gossip__member_add(struct gossip *g, const uint8_t *id, const struct gossip_addr *addr,
                       uint8_t status, uint64_t incarnation, struct gossip__member **out) {
  struct gossip__member *m = NULL;
  size_t pos = 0;
  if (g->n_members >= g->cfg.max_members) {
    g->stats.drop_full++;
    return SM_EFULL;
  }
  m = sm_calloc(1, sizeof(*m));
  if (m == NULL) {
    return SM_ENOMEM;
  }
  memcpy(m->id, id, SM_PUBKEY_BYTES);
  m->addr = *addr;
  m->status = status;
  m->incarnation = incarnation;
  m->changed_at = g->now;
  pos = member_lower_bound(g, id);
  memmove(&g->members[pos + 1], &g->members[pos], (g->n_members - pos) * sizeof(*g->members));
  g->members[pos] = m;
  g->n_members++;
  /* Join the current probe round at a random place (the round array has room
   * for max_members entries). */
  if (g->self != NULL && g->n_round < g->cfg.max_members) {
    size_t at = g->round_pos + gossip__rand_below(g, g->n_round - g->round_pos + 1);
    memmove(&g->round[at + 1], &g->round[at], (g->n_round - at) * sizeof(*g->round));
    memcpy(g->round[at], id, SM_PUBKEY_BYTES);
    g->n_round++;
  }
  if (g->self != NULL) {
    notify(g, m);
  }
  *out = m;
  return 0;
}

void gossip__member_free(struct gossip__member *m) {
  if (m == NULL) {
    return;
  }
  for (uint32_t i = 0; i < m->n_entries; i++) {
    sm_free(m->entries[i].val);
  }
  sm_free(m->entries);
  sm_free(m);
}

static void member_remove(struct gossip *g, size_t idx) {
  struct gossip__member *m = g->members[idx];
  if (m->status == GOSSIP_SUSPECT) {
    g->n_suspect--;
  }
  gossip__state_drop_all(g, m);
  gossip__bcast_drop(g, GOSSIP__B_MEMBER, m->id);
  memmove(&g->members[idx], &g->members[idx + 1], (g->n_members - idx - 1) * sizeof(*g->members));
  g->n_members--;
  gossip__member_free(m);
}

void gossip__member_record(const struct gossip__member *m, struct gossip__mrec *out) {
  memcpy(out->id, m->id, SM_PUBKEY_BYTES);
  out->status = m->status;
  out->incarnation = m->incarnation;
  out->addr = m->addr;
  out->has_from = m->status == GOSSIP_SUSPECT;
  if (out->has_from) {
    memcpy(out->from, m->suspect_from, SM_PUBKEY_BYTES);
  }
}

size_t gossip__alive_count(const struct gossip *g) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_members; i++) {
    n += g->members[i]->status <= GOSSIP_SUSPECT;
  }
  return n;
}

size_t gossip__member_pick(struct gossip *g, struct gossip__member **out, size_t n,
                           uint8_t max_status, const uint8_t *exclude) {
  size_t seen = 0;
  for (size_t i = 0; i < g->n_members && n > 0; i++) {
    struct gossip__member *m = g->members[i];
    if (m->is_self || m->status > max_status ||
        (exclude != NULL && memcmp(m->id, exclude, SM_PUBKEY_BYTES) == 0)) {
      continue;
    }
    if (seen < n) {
      out[seen] = m;
    } else {
      uint64_t r = gossip__rand_below(g, seen + 1);
      if (r < n) {
        out[r] = m;
      }
    }
    seen++;
  }
  return SM_MIN(seen, n);
}

/* Changes status/incarnation, keeps the suspect count, queues the news. */
static void member_set(struct gossip *g, struct gossip__member *m, uint8_t status,
                       uint64_t incarnation) {
  int changed = m->status != status;
  if (m->status == GOSSIP_SUSPECT && status != GOSSIP_SUSPECT) {
    g->n_suspect--;
  } else if (m->status != GOSSIP_SUSPECT && status == GOSSIP_SUSPECT) {
    g->n_suspect++;
  }
  m->status = status;
  m->incarnation = incarnation;
  if (changed) {
    m->changed_at = g->now;
  }
  gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
  if (changed) {
    notify(g, m);
  }
}

/* ------------------------------------------------------------- suspicion */
/* Lifeguard: start at max, shrink towards min as log(c+1)/log(k+1), where c
 * counts independent confirmations and k = suspicion_mult - 2. */
static void suspicion_recompute(const struct gossip *g, struct gossip__member *m) {
  uint64_t timeout = m->suspect_max;
  double k = (double)g->cfg.suspicion_mult - 2.0;
  double c = (double)(m->n_confirm > 0 ? m->n_confirm - 1 : 0);
  if (k < 1.0) {
    timeout = m->suspect_min;
  } else {
    double frac = log(c + 1.0) / log(k + 1.0);
    double span = (double)(m->suspect_max - m->suspect_min);
    double t = (double)m->suspect_max - frac * span;
    timeout = t < (double)m->suspect_min ? m->suspect_min : (uint64_t)t;
  }
  m->dead_at = m->suspect_start + timeout;
}

static void suspicion_start(struct gossip *g, struct gossip__member *m, uint64_t incarnation,
                            const uint8_t *from) {
  double n = (double)SM_MAX(gossip__alive_count(g), 1);
  double scale = SM_MAX(1.0, log10(n));
  m->suspect_min = (uint64_t)(g->cfg.suspicion_mult * scale * g->cfg.probe_interval_ms);
  m->suspect_max = m->suspect_min * g->cfg.suspicion_max_mult;
  m->suspect_start = g->now;
  m->n_confirm = 1;
  memcpy(m->confirm[0], from, SM_PUBKEY_BYTES);
  memcpy(m->suspect_from, from, SM_PUBKEY_BYTES);
  suspicion_recompute(g, m);
  g->stats.suspicions++;
  member_set(g, m, GOSSIP_SUSPECT, incarnation);
}

/* Returns 1 when from is a new independent confirmation. */
static int suspicion_confirm(struct gossip *g, struct gossip__member *m, const uint8_t *from) {
  for (uint32_t i = 0; i < m->n_confirm; i++) {
    if (memcmp(m->confirm[i], from, SM_PUBKEY_BYTES) == 0) {
      return 0;
    }
  }
  if (m->n_confirm == GOSSIP__CONFIRM_MAX) {
    return 0;
  }
  memcpy(m->confirm[m->n_confirm++], from, SM_PUBKEY_BYTES);
  memcpy(m->suspect_from, from, SM_PUBKEY_BYTES);
  suspicion_recompute(g, m);
  gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
  return 1;
}

void gossip__suspicion_tick(struct gossip *g) {
  if (g->n_suspect == 0) {
    return;
  }
  for (size_t i = 0; i < g->n_members; i++) {
    struct gossip__member *m = g->members[i];
    if (m->status == GOSSIP_SUSPECT && g->now >= m->dead_at) {
      g->stats.deaths++;
      member_set(g, m, GOSSIP_DEAD, m->incarnation);
    }
  }
}

static void awareness_add(struct gossip *g, int delta) {
  int64_t v = (int64_t)g->awareness + delta;
  if (v < 0) {
    v = 0;
  }
  if (v > (int64_t)g->cfg.awareness_max - 1) {
    v = g->cfg.awareness_max - 1;
  }
  g->awareness = (uint32_t)v;
}

void gossip__refute(struct gossip *g, uint64_t incarnation) {
  uint64_t inc = SM_MAX(g->self->incarnation, incarnation) + 1;
  g->stats.refutations++;
  member_set(g, g->self, GOSSIP_ALIVE, inc);
}

/* --------------------------------------------------------- incoming news */
static void apply_about_self(struct gossip *g, const struct gossip__mrec *rec) {
  if (g->leaving) {
    if (rec->incarnation >= g->self->incarnation && rec->status != GOSSIP_LEFT) {
      g->self->incarnation = rec->incarnation + 1;
      gossip__bcast_push(g, GOSSIP__B_MEMBER, g->id, NULL);
    }
    return;
  }
  if (rec->status == GOSSIP_ALIVE) {
    if (rec->incarnation > g->self->incarnation) {
      gossip__refute(g, rec->incarnation);
    }
    return;
  }
  if (rec->incarnation >= g->self->incarnation) {
    awareness_add(g, 1);
    gossip__refute(g, rec->incarnation);
  }
}

void gossip__member_apply(struct gossip *g, const struct gossip__mrec *rec) {
  struct gossip__member *m = NULL;
  if (!sm_trust_contains(g->trust, rec->id)) {
    g->stats.drop_untrusted++;
    return;
  }
  m = gossip__member_find(g, rec->id);
  if (m != NULL && m->is_self) {
    apply_about_self(g, rec);
    return;
  }
  if (m == NULL) {
    /* News of an unknown member is only worth keeping if it is alive. */
    if (rec->status == GOSSIP_ALIVE &&
        gossip__member_add(g, rec->id, &rec->addr, GOSSIP_ALIVE, rec->incarnation, &m) == 0) {
      gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
    }
    return;
  }
  if (rec->status != GOSSIP_ALIVE &&
      (rec->incarnation < m->incarnation ||
       (rec->incarnation == m->incarnation && m->status >= GOSSIP_DEAD &&
        rec->status < m->status))) {
    /* The sender has stale bad news (a suspicion already refuted, or a node
     * that has since left): send our fresher record back into circulation. */
    gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
    return;
  }
  switch (rec->status) {
  case GOSSIP_ALIVE:
    if (rec->incarnation > m->incarnation) {
      m->addr = rec->addr;
      member_set(g, m, GOSSIP_ALIVE, rec->incarnation);
    }
    break;
  case GOSSIP_SUSPECT:
    if (rec->incarnation < m->incarnation ||
        (m->status >= GOSSIP_DEAD && rec->incarnation == m->incarnation)) {
      break;
    }
    if (m->status == GOSSIP_SUSPECT && rec->incarnation == m->incarnation) {
      if (rec->has_from) {
        suspicion_confirm(g, m, rec->from);
      }
      break;
    }
    suspicion_start(g, m, rec->incarnation, rec->has_from ? rec->from : rec->id);
    break;
  default: /* DEAD, LEFT */
    if (rec->incarnation < m->incarnation ||
        (rec->incarnation == m->incarnation &&
         (m->status == GOSSIP_LEFT || m->status == rec->status))) {
      break;
    }
    member_set(g, m, rec->status, rec->incarnation);
    break;
  }
}

void gossip__member_seen(struct gossip *g, const uint8_t *id, const struct gossip_addr *from_addr) {
  struct gossip__member *m = gossip__member_find(g, id);
  if (m == NULL) {
    if (from_addr != NULL) {
      (void)gossip__member_add(g, id, from_addr, GOSSIP_ALIVE, 0, &m);
    }
    return;
  }
  if (m->status == GOSSIP_SUSPECT || m->status == GOSSIP_DEAD) {
    gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
  }
}

/* ---------------------------------------------------------------- probing */
static void send_simple(struct gossip *g, const uint8_t *id, const struct gossip_addr *addr,
                        uint8_t type, uint64_t seq, const uint8_t *target,
                        const struct gossip_addr *target_addr) {
  struct gossip__msg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  msg.seq = seq;
  if (target != NULL) {
    msg.has_target = 1;
    memcpy(msg.target, target, SM_PUBKEY_BYTES);
    msg.target_addr = *target_addr;
  }
  gossip__send_msg(g, id, addr, &msg, 1);
}

static void round_rebuild(struct gossip *g) {
  g->n_round = 0;
  g->round_pos = 0;
  for (size_t i = 0; i < g->n_members; i++) {
    const struct gossip__member *m = g->members[i];
    if (!m->is_self && m->status <= GOSSIP_SUSPECT) {
      memcpy(g->round[g->n_round++], m->id, SM_PUBKEY_BYTES);
    }
  }
  for (size_t i = g->n_round; i > 1; i--) {
    size_t j = gossip__rand_below(g, i);
    uint8_t tmp[SM_PUBKEY_BYTES];
    memcpy(tmp, g->round[i - 1], SM_PUBKEY_BYTES);
    memcpy(g->round[i - 1], g->round[j], SM_PUBKEY_BYTES);
    memcpy(g->round[j], tmp, SM_PUBKEY_BYTES);
  }
}

static struct gossip__member *round_next(struct gossip *g) {
  int rebuilt = 0;
  for (;;) {
    if (g->round_pos >= g->n_round) {
      if (rebuilt) {
        return NULL;
      }
      round_rebuild(g);
      rebuilt = 1;
      continue;
    }
    struct gossip__member *m = gossip__member_find(g, g->round[g->round_pos++]);
    if (m != NULL && !m->is_self && m->status <= GOSSIP_SUSPECT) {
      return m;
    }
  }
}

static void probe_start(struct gossip *g) {
  struct gossip__member *m = round_next(g);
  struct gossip__probe *p = &g->probe;
  if (m == NULL) {
    g->next_probe_at = g->now + gossip__scaled(g, g->cfg.probe_interval_ms);
    return;
  }
  if (m->status == GOSSIP_SUSPECT) {
    /* Lifeguard's buddy system: tell the suspect first-hand. */
    gossip__bcast_push(g, GOSSIP__B_MEMBER, m->id, NULL);
  }
  memset(p, 0, sizeof(*p));
  p->active = 1;
  memcpy(p->target, m->id, SM_PUBKEY_BYTES);
  p->addr = m->addr;
  p->seq = ++g->seq;
  p->timeout_at = g->now + gossip__scaled(g, g->cfg.probe_timeout_ms);
  p->deadline = g->now + gossip__scaled(g, g->cfg.probe_interval_ms);
  g->next_probe_at = p->deadline;
  g->stats.probes++;
  send_simple(g, m->id, &m->addr, GOSSIP__PING, p->seq, m->id, &m->addr);
}

static void probe_indirect(struct gossip *g) {
  struct gossip__member *via[16];
  struct gossip__probe *p = &g->probe;
  size_t n = SM_MIN(g->cfg.indirect_checks, SM_ARRAY_LEN(via));
  n = gossip__member_pick(g, via, n, GOSSIP_ALIVE, p->target);
  p->indirect_sent = 1;
  p->expected_nacks = (uint32_t)n;
  for (size_t i = 0; i < n; i++) {
    send_simple(g, via[i]->id, &via[i]->addr, GOSSIP__PING_REQ, p->seq, p->target, &p->addr);
  }
}

static void probe_finish(struct gossip *g) {
  struct gossip__probe *p = &g->probe;
  struct gossip__member *m = gossip__member_find(g, p->target);
  p->active = 0;
  if (p->acked) {
    awareness_add(g, -1);
    return;
  }
  g->stats.probe_failures++;
  if (p->expected_nacks > p->nacks) {
    awareness_add(g, (int)(p->expected_nacks - p->nacks));
  }
  if (m == NULL) {
    return;
  }
  if (m->status == GOSSIP_ALIVE) {
    suspicion_start(g, m, m->incarnation, g->id);
  } else if (m->status == GOSSIP_SUSPECT) {
    suspicion_confirm(g, m, g->id);
  }
}

void gossip__probe_tick(struct gossip *g) {
  struct gossip__probe *p = &g->probe;
  if (g->leaving) {
    return;
  }
  if (p->active && !p->acked && !p->indirect_sent && g->now >= p->timeout_at) {
    probe_indirect(g);
  }
  if (p->active && g->now >= p->deadline) {
    probe_finish(g);
  }
  if (!p->active && g->now >= g->next_probe_at) {
    probe_start(g);
  }
}

void gossip__on_ping(struct gossip *g, const uint8_t *from, const struct gossip_addr *from_addr,
                     const struct gossip__msg *msg) {
  if (memcmp(msg->target, g->id, SM_PUBKEY_BYTES) != 0) {
    return; /* meant for whoever had this address before */
  }
  send_simple(g, from, from_addr, GOSSIP__ACK, msg->seq, NULL, NULL);
}

void gossip__on_ack(struct gossip *g, const uint8_t *from, const struct gossip__msg *msg) {
  struct gossip__probe *p = &g->probe;
  if (p->active && msg->seq == p->seq) {
    p->acked = 1;
    return;
  }
  for (size_t i = 0; i < GOSSIP__INDIRECT_MAX; i++) {
    struct gossip__indirect *ind = &g->indirect[i];
    if (ind->used && ind->my_seq == msg->seq &&
        memcmp(ind->target, from, SM_PUBKEY_BYTES) == 0) {
      ind->used = 0;
      send_simple(g, ind->requester, &ind->req_addr, GOSSIP__ACK, ind->orig_seq, NULL, NULL);
      return;
    }
  }
}

void gossip__on_ping_req(struct gossip *g, const uint8_t *from,
                         const struct gossip_addr *from_addr, const struct gossip__msg *msg) {
  struct gossip__indirect *ind = NULL;
  if (memcmp(msg->target, g->id, SM_PUBKEY_BYTES) == 0) {
    return;
  }
  for (size_t i = 0; i < GOSSIP__INDIRECT_MAX && ind == NULL; i++) {
    if (!g->indirect[i].used) {
      ind = &g->indirect[i];
    }
  }
  if (ind == NULL) {
    g->stats.drop_full++;
    return;
  }
  ind->used = 1;
  memcpy(ind->requester, from, SM_PUBKEY_BYTES);
  memcpy(ind->target, msg->target, SM_PUBKEY_BYTES);
  ind->req_addr = *from_addr;
  ind->orig_seq = msg->seq;
  ind->my_seq = ++g->seq;
  /* Answer "no luck" before the requester's probe period ends. */
  ind->nack_at = g->now + (uint64_t)g->cfg.probe_timeout_ms * 4 / 5;
  send_simple(g, msg->target, &msg->target_addr, GOSSIP__PING, ind->my_seq, msg->target,
              &msg->target_addr);
}

void gossip__on_nack(struct gossip *g, const struct gossip__msg *msg) {
  struct gossip__probe *p = &g->probe;
  if (p->active && msg->seq == p->seq && p->nacks < p->expected_nacks) {
    p->nacks++;
  }
}

void gossip__indirect_tick(struct gossip *g) {
  for (size_t i = 0; i < GOSSIP__INDIRECT_MAX; i++) {
    struct gossip__indirect *ind = &g->indirect[i];
    if (ind->used && g->now >= ind->nack_at) {
      ind->used = 0;
      send_simple(g, ind->requester, &ind->req_addr, GOSSIP__NACK, ind->orig_seq, NULL, NULL);
    }
  }
}

void gossip__reap_tick(struct gossip *g) {
  for (size_t i = g->n_members; i-- > 0;) {
    struct gossip__member *m = g->members[i];
    if (!m->is_self && m->status >= GOSSIP_DEAD &&
        g->now - m->changed_at >= g->cfg.reap_after_ms) {
      member_remove(g, i);
    }
  }
}

uint64_t gossip__member_deadline(const struct gossip *g) {
  uint64_t t = UINT64_MAX;
  const struct gossip__probe *p = &g->probe;
  if (!g->leaving) {
    if (p->active) {
      t = p->deadline;
      if (!p->acked && !p->indirect_sent) {
        t = SM_MIN(t, p->timeout_at);
      }
    } else {
      t = g->next_probe_at;
    }
  }
  for (size_t i = 0; i < GOSSIP__INDIRECT_MAX; i++) {
    if (g->indirect[i].used) {
      t = SM_MIN(t, g->indirect[i].nack_at);
    }
  }
  if (g->n_suspect > 0) {
    for (size_t i = 0; i < g->n_members; i++) {
      if (g->members[i]->status == GOSSIP_SUSPECT) {
        t = SM_MIN(t, g->members[i]->dead_at);
      }
    }
  }
  return t;
}

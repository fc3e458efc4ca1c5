/* cluster.c - the daemon's side of gossip: SWIM datagrams on the listen
 * port (UDP), push-pull carried over peer links, members turned into swarm
 * candidates, and this node's announcements (manifests it can serve in
 * full, its progress) published as gossip state. Gossip state keys:
 *
 *   "m/<first 32 hex digits of the id>"  [id bin(32), created, bytes, chunks]
 *   "p"                                  {m: id, s: stage, h, t, bh, bt, d, u}
 */
#include "node/node_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PROGRESS_EVERY_MS 1000
#define LINK_FAMILY 0x4c /* a gossip_addr that names one of our links */

static void to_gossip_addr(const struct sockaddr_storage *sa, struct gossip_addr *out) {
  memset(out, 0, sizeof(*out));
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    out->family = GOSSIP_AF_INET4;
    memcpy(out->ip, &in->sin_addr, 4);
    out->port = ntohs(in->sin_port);
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    out->family = GOSSIP_AF_INET6;
    memcpy(out->ip, &in6->sin6_addr, 16);
    out->port = ntohs(in6->sin6_port);
  }
}

static int to_sockaddr(const struct gossip_addr *g, struct sockaddr_storage *out) {
  memset(out, 0, sizeof(*out));
  if (g->family == GOSSIP_AF_INET4) {
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, g->ip, 4);
    in->sin_port = htons(g->port);
    return 0;
  }
  if (g->family == GOSSIP_AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, g->ip, 16);
    in6->sin6_port = htons(g->port);
    return 0;
  }
  return SM_EINVAL;
}

static void addr_string(const struct gossip_addr *g, char *out, size_t size) {
  struct sockaddr_storage sa;
  char ip[64] = "?";
  if (to_sockaddr(g, &sa) == 0) {
    if (g->family == GOSSIP_AF_INET4) {
      uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof(ip));
      snprintf(out, size, "%s:%u", ip, g->port);
    } else {
      uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof(ip));
      snprintf(out, size, "[%s]:%u", ip, g->port);
    }
    return;
  }
  snprintf(out, size, "?");
}

/* ------------------------------------------------------------ transport */

static void send_udp(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  struct node *n = ctx;
  struct sockaddr_storage sa;
  if (n->stopping || to_sockaddr(to, &sa) < 0) {
    return;
  }
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  uv_udp_try_send(&n->udp, &b, 1, (const struct sockaddr *)&sa); /* best effort */
}

static void send_stream(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  struct node *n = ctx;
  struct node__link *l = NULL;
  if (to->family == LINK_FAMILY) {
    uint32_t h = sm_load_be32(to->ip);
    l = h < NODE__MAX_RECORDS ? n->records[h].link : NULL;
  } else {
    char addr[64];
    addr_string(to, addr, sizeof(addr));
    int h = node__record_by_addr(n, addr);
    l = h >= 0 ? n->records[h].link : NULL;
    if (l == NULL && h >= 0) {
      node__link_dial(n, (uint32_t)h, NULL); /* next push-pull finds it open */
    }
  }
  if (l == NULL || l->state != NODE__LINK_OPEN) {
    return;
  }
  struct wire_msg msg = {.type = WIRE_MSG_GOSSIP};
  msg.u.gossip.data = buf;
  msg.u.gossip.data_len = len;
  node__link_send(l, &msg);
}

static int record_for_member(struct node *n, const uint8_t *id, const struct gossip_addr *addr) {
  char text[64];
  addr_string(addr, text, sizeof(text));
  int h = node__record_by_key(n, id);
  if (h < 0) {
    h = node__record_by_addr(n, text);
    if (h >= 0 && n->records[h].has_key && memcmp(n->records[h].key, id, SM_PUBKEY_BYTES) != 0) {
      h = -1; /* the address moved to another node */
    }
  }
  if (h < 0) {
    h = node__record_new(n);
    if (h < 0) {
      return h;
    }
  }
  struct node__record *r = &n->records[h];
  r->has_key = 1;
  memcpy(r->key, id, SM_PUBKEY_BYTES);
  r->has_addr = 1;
  snprintf(r->addr, sizeof(r->addr), "%s", text);
  return h;
}

static int id_matches(const uint8_t *val, size_t len, const uint8_t *want) {
  return len >= CHUNKSTORE_ID_BYTES && memcmp(val, want, CHUNKSTORE_ID_BYTES) == 0;
}

/* The manifest id an "m/..." or "p" state value speaks of, if any. */
static const uint8_t *state_manifest(const char *key, const uint8_t *val, size_t len,
                                     msgpack_zone *zone) {
  msgpack_object obj;
  if (sm_mp_unpack_bounded(val, len, 64, zone, &obj) < 0) {
    return NULL;
  }
  const msgpack_object *id = NULL;
  if (strncmp(key, "m/", 2) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size >= 1) {
    id = &obj.via.array.ptr[0];
  } else if (strcmp(key, "p") == 0) {
    id = sm_mp_map_get(&obj, "m");
  }
  if (id == NULL || id->type != MSGPACK_OBJECT_BIN || id->via.bin.size != CHUNKSTORE_ID_BYTES) {
    return NULL;
  }
  return (const uint8_t *)id->via.bin.ptr;
}

static void add_candidate(struct node *n, const uint8_t *origin, const uint8_t *manifest) {
  int h = node__record_by_key(n, origin);
  if (h < 0 || !n->records[h].has_addr) {
    return;
  }
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (t->used && t->role == NODE__ROLE_RECIPIENT && t->swarm != NULL &&
        id_matches(manifest, CHUNKSTORE_ID_BYTES, t->manifest_id)) {
      uint32_t flags = t->manifest && memcmp(t->manifest->donor, origin, SM_PUBKEY_BYTES) == 0
                           ? SWARM_PEER_DONOR
                           : 0;
      if (node__transfer_peer_wanted(t, flags)) {
        swarm_candidate_add(t->swarm, (uint32_t)h, flags, node__now(n));
        node__transfer_flush(t);
      }
    }
  }
}

static void on_member(void *ctx, const uint8_t id[SM_PUBKEY_BYTES], enum gossip_status status,
                      const struct gossip_addr *addr) {
  struct node *n = ctx;
  char hex[2 * SM_PUBKEY_BYTES + 1];
  sm_hex_encode(id, SM_PUBKEY_BYTES, hex);
  sm_log(SM_LOG_INFO, "cluster", "member %.16s is %s", hex, gossip_status_name(status));
  if (status == GOSSIP_ALIVE) {
    record_for_member(n, id, addr);
    return;
  }
  int h = node__record_by_key(n, id);
  for (int i = 0; h >= 0 && i < NODE__MAX_TRANSFERS; i++) {
    struct node__transfer *t = &n->transfers[i];
    if (t->used && t->swarm != NULL) {
      swarm_candidate_remove(t->swarm, (uint32_t)h);
    }
  }
}

static void on_state(void *ctx, const uint8_t origin[SM_PUBKEY_BYTES], const char *key,
                     const uint8_t *val, size_t len, uint64_t version) {
  struct node *n = ctx;
  msgpack_zone zone;
  (void)version;
  msgpack_zone_init(&zone, 1024);
  const uint8_t *m = state_manifest(key, val, len, &zone);
  if (m != NULL) {
    uint8_t id[CHUNKSTORE_ID_BYTES];
    memcpy(id, m, sizeof(id));
    add_candidate(n, origin, id);
  }
  msgpack_zone_destroy(&zone);
}

/* ------------------------------------------------------------ lifecycle */

static void on_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                   unsigned flags) {
  struct node *n = h->data;
  (void)flags;
  if (nread <= 0 || from == NULL || n->gossip == NULL) {
    return;
  }
  struct gossip_addr ga;
  to_gossip_addr((const struct sockaddr_storage *)from, &ga);
  gossip_udp_recv(n->gossip, &ga, (const uint8_t *)buf->base, (size_t)nread, node__now(n));
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static __thread char slab[2048];
  *buf = uv_buf_init(slab, sizeof(slab));
}

int node__cluster_start(struct node *n, const struct sockaddr_storage *listen, char *err,
                        size_t err_size) {
  struct gossip_config cfg;
  struct gossip_ops ops = {.ctx = n, .send_udp = send_udp, .send_stream = send_stream,
                           .on_member = on_member, .on_state = on_state};
  uv_udp_init(&n->loop, &n->udp);
  n->udp.data = n;
  n->handles_open++;
  int rc = uv_udp_bind(&n->udp, (const struct sockaddr *)listen, 0);
  if (rc == 0) {
    rc = uv_udp_recv_start(&n->udp, udp_alloc, on_udp);
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot open the gossip port (UDP %s): %s", n->cfg->listen,
             uv_strerror(rc));
    return rc;
  }
  gossip_config_init(&cfg);
  cfg.identity = &n->identity;
  cfg.trust = &n->trust;
  to_gossip_addr(listen, &cfg.addr);
  rc = node__generation_next(n->cfg->state_dir, node__wall_ms() / 1000, &cfg.generation);
  if (rc < 0) {
    snprintf(err, err_size, "cannot record the gossip generation in %s: %s", n->cfg->state_dir,
             sm_strerror(rc));
    return rc;
  }
  randombytes_buf(&cfg.seed, sizeof(cfg.seed));
  rc = gossip_new(&cfg, &ops, node__now(n), &n->gossip);
  if (rc < 0) {
    snprintf(err, err_size, "cannot start gossip: %s", sm_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < n->cfg->n_seeds; i++) {
    struct sockaddr_storage sa;
    if (node__parse_addr(n->cfg->seeds[i], &sa) < 0) {
      snprintf(err, err_size, "--seeds entry '%s' is not HOST:PORT", n->cfg->seeds[i]);
      return SM_EINVAL;
    }
    if (strcmp(n->cfg->seeds[i], n->cfg->listen) == 0) {
      continue;
    }
    int h = node__record_by_addr(n, n->cfg->seeds[i]);
    if (h < 0) {
      h = node__record_new(n);
      if (h < 0) {
        snprintf(err, err_size, "too many peers");
        return h;
      }
      n->records[h].has_addr = 1;
      snprintf(n->records[h].addr, sizeof(n->records[h].addr), "%s", n->cfg->seeds[i]);
    }
    n->records[h].is_seed = 1;
    node__link_dial(n, (uint32_t)h, NULL); /* joins once the handshake says who it is */
  }
  return 0;
}

void node__cluster_stop(struct node *n) {
  if (n->gossip != NULL) {
    gossip_leave(n->gossip, node__now(n));
    gossip_tick(n->gossip, node__now(n));
  }
  if (n->udp.data == n && !uv_is_closing((uv_handle_t *)&n->udp)) {
    uv_close((uv_handle_t *)&n->udp, node__handle_closed);
  }
}

void node__cluster_on_link(struct node *n, struct node__link *l) {
  struct node__record *r = &n->records[l->handle];
  struct sockaddr_storage sa;
  if (n->gossip == NULL || !l->outbound || l->state != NODE__LINK_OPEN || !r->has_key ||
      !r->has_addr || node__parse_addr(r->addr, &sa) < 0) {
    return;
  }
  struct gossip_addr ga;
  to_gossip_addr(&sa, &ga);
  gossip_join(n->gossip, r->key, &ga, node__now(n));
}

void node__cluster_on_stream(struct node *n, struct node__link *l, const uint8_t *buf,
                             size_t len) {
  struct gossip_addr from;
  struct sockaddr_storage sa;
  const struct node__record *r = &n->records[l->handle];
  if (n->gossip == NULL) {
    return;
  }
  memset(&from, 0, sizeof(from));
  if (l->outbound && r->has_addr && node__parse_addr(r->addr, &sa) == 0) {
    to_gossip_addr(&sa, &from);
  } else {
    from.family = LINK_FAMILY; /* answer on this very link */
    sm_store_be32(from.ip, l->handle);
  }
  gossip_stream_recv(n->gossip, &from, buf, len, node__now(n));
}

/* ----------------------------------------------------------- announcing */

void node__cluster_announce(struct node *n, const struct node__transfer *t) {
  char key[40];
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  msgpack_sbuffer sb;
  msgpack_packer pk;
  if (n->gossip == NULL || t->manifest == NULL) {
    return;
  }
  sm_hex_encode(t->manifest_id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(key, sizeof(key), "m/%.32s", hex);
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  sm_mp_pack_bin(&pk, t->manifest_id, CHUNKSTORE_ID_BYTES);
  msgpack_pack_uint64(&pk, t->manifest->created);
  msgpack_pack_uint64(&pk, t->manifest->total_bytes);
  msgpack_pack_uint64(&pk, t->pieces_total);
  gossip_state_set(n->gossip, key, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
}

struct latest_search {
  uint64_t created;
  uint8_t id[CHUNKSTORE_ID_BYTES];
  int found;
};

static int latest_visit(void *arg, const uint8_t origin[SM_PUBKEY_BYTES], const char *key,
                        const uint8_t *val, size_t len, uint64_t version) {
  struct latest_search *ls = arg;
  msgpack_zone zone;
  msgpack_object obj;
  uint64_t created = 0;
  (void)origin;
  (void)version;
  if (strncmp(key, "m/", 2) != 0) {
    return 0;
  }
  msgpack_zone_init(&zone, 512);
  if (sm_mp_unpack_bounded(val, len, 16, &zone, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY &&
      obj.via.array.size == 4 &&
      sm_mp_u64(&obj.via.array.ptr[1], UINT64_MAX, &created) == 0 &&
      (!ls->found || created > ls->created) &&
      sm_mp_bin_exact(&obj.via.array.ptr[0], ls->id, CHUNKSTORE_ID_BYTES) == 0) {
    ls->created = created;
    ls->found = 1;
  }
  msgpack_zone_destroy(&zone);
  return 0;
}

int node__cluster_latest(struct node *n, uint8_t out_id[CHUNKSTORE_ID_BYTES]) {
  struct latest_search ls;
  memset(&ls, 0, sizeof(ls));
  if (n->gossip == NULL) {
    return SM_ENOTFOUND;
  }
  gossip_state_foreach(n->gossip, NULL, latest_visit, &ls);
  if (!ls.found) {
    return SM_ENOTFOUND;
  }
  memcpy(out_id, ls.id, CHUNKSTORE_ID_BYTES);
  return 0;
}

struct candidate_search {
  struct node *n;
  const uint8_t *manifest;
};

static int candidate_visit(void *arg, const uint8_t origin[SM_PUBKEY_BYTES], const char *key,
                           const uint8_t *val, size_t len, uint64_t version) {
  struct candidate_search *cs = arg;
  msgpack_zone zone;
  (void)version;
  msgpack_zone_init(&zone, 512);
  const uint8_t *m = state_manifest(key, val, len, &zone);
  int match = m != NULL && memcmp(m, cs->manifest, CHUNKSTORE_ID_BYTES) == 0;
  msgpack_zone_destroy(&zone);
  if (match) {
    add_candidate(cs->n, origin, cs->manifest);
  }
  return 0;
}

void node__cluster_candidates(struct node *n, struct node__transfer *t) {
  struct candidate_search cs = {n, t->manifest_id};
  if (n->gossip != NULL) {
    gossip_state_foreach(n->gossip, NULL, candidate_visit, &cs);
  }
}

/* Publishes this node's progress on its most recent transfer. */
static void publish_progress(struct node *n) {
  const struct node__transfer *best = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    const struct node__transfer *t = &n->transfers[i];
    if (t->used && t->have_manifest && (best == NULL || t->role == NODE__ROLE_RECIPIENT)) {
      best = t;
    }
  }
  if (best == NULL) {
    return;
  }
  struct swarm_stats st;
  st = best->final_stats;
  if (best->swarm != NULL) {
    swarm_stats_get(best->swarm, &st);
  }
  const char *stage = best->failed ? "FAILED" : best->finished ? "DONE" : "DISCOVER";
  for (int s = 0; !best->failed && !best->finished && s < NODE__STAGE_COUNT; s++) {
    if (best->stages[s].state != NODE__STAGE_NOT_STARTED) {
      stage = node__stage_name((enum node__stage)s);
    }
  }
  uint64_t total = best->piece_bytes_total;
  uint64_t have = best->finished ? total : st.bytes_have;
  enum node__stage s = best->role == NODE__ROLE_DONOR ? NODE__STAGE_SERVE : NODE__STAGE_FETCH;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 7);
  sm_mp_pack_cstr(&pk, "m");
  sm_mp_pack_bin(&pk, best->manifest_id, CHUNKSTORE_ID_BYTES);
  sm_mp_pack_cstr(&pk, "s");
  sm_mp_pack_cstr(&pk, stage);
  sm_mp_pack_cstr(&pk, "bh");
  msgpack_pack_uint64(&pk, have);
  sm_mp_pack_cstr(&pk, "bt");
  msgpack_pack_uint64(&pk, total);
  sm_mp_pack_cstr(&pk, "d");
  msgpack_pack_uint64(&pk, best->role == NODE__ROLE_DONOR ? 0 : (uint64_t)best->stages[s].network_speed);
  sm_mp_pack_cstr(&pk, "u");
  msgpack_pack_uint64(&pk, st.bytes_up);
  sm_mp_pack_cstr(&pk, "r");
  sm_mp_pack_cstr(&pk, best->role == NODE__ROLE_DONOR ? "donor" : "recipient");
  if (sb.size != n->last_progress_len || memcmp(sb.data, n->last_progress, sb.size) != 0) {
    if (sb.size <= sizeof(n->last_progress)) {
      gossip_state_set(n->gossip, "p", sb.data, sb.size);
      memcpy(n->last_progress, sb.data, sb.size);
      n->last_progress_len = sb.size;
    }
  }
  msgpack_sbuffer_destroy(&sb);
}

/* Until we know at least one other member, keep dialing the seeds (they may
 * start after us), backing off from 1 s to 30 s. */
static void retry_seeds(struct node *n, uint64_t now) {
  if (n->cfg->n_seeds == 0 || gossip_member_count(n->gossip) > 1 || now < n->seed_retry_at) {
    return;
  }
  n->seed_backoff_ms = n->seed_backoff_ms == 0 ? 1000 : SM_MIN(n->seed_backoff_ms * 2, 30000);
  n->seed_retry_at = now + n->seed_backoff_ms;
  for (uint32_t h = 0; h < NODE__MAX_RECORDS; h++) {
    struct node__record *r = &n->records[h];
    if (r->used && r->is_seed) {
      if (r->link == NULL) {
        node__link_dial(n, h, NULL);
      } else {
        node__cluster_on_link(n, r->link); /* joined too early: join again */
      }
    }
  }
}

void node__cluster_tick(struct node *n, uint64_t now) {
  if (n->gossip == NULL) {
    return;
  }
  retry_seeds(n, now);
  gossip_tick(n->gossip, now);
  if (now - n->progress_published_ms >= PROGRESS_EVERY_MS) {
    n->progress_published_ms = now;
    publish_progress(n);
  }
}

/* ------------------------------------------------------------- status */

struct pack_ctx {
  struct node *n;
  msgpack_packer *pk;
};

static void pack_progress(struct node *n, const uint8_t *id, msgpack_packer *pk) {
  const uint8_t *val = NULL;
  size_t len = 0;
  uint64_t version = 0;
  msgpack_zone zone;
  msgpack_object obj;
  msgpack_zone_init(&zone, 1024);
  if (gossip_state_get(n->gossip, id, "p", &val, &len, &version) != 0 ||
      sm_mp_unpack_bounded(val, len, 32, &zone, &obj) != 0 || obj.type != MSGPACK_OBJECT_MAP) {
    msgpack_pack_nil(pk);
    msgpack_zone_destroy(&zone);
    return;
  }
  char stage[16] = "", role[16] = "";
  uint64_t bh = 0, bt = 0, d = 0, u = 0;
  uint8_t mid[CHUNKSTORE_ID_BYTES];
  char hex[2 * CHUNKSTORE_ID_BYTES + 1] = "";
  sm_mp_str_copy(sm_mp_map_get(&obj, "s"), stage, sizeof(stage));
  sm_mp_str_copy(sm_mp_map_get(&obj, "r"), role, sizeof(role));
  sm_mp_u64(sm_mp_map_get(&obj, "bh"), UINT64_MAX, &bh);
  sm_mp_u64(sm_mp_map_get(&obj, "bt"), UINT64_MAX, &bt);
  sm_mp_u64(sm_mp_map_get(&obj, "d"), UINT64_MAX, &d);
  sm_mp_u64(sm_mp_map_get(&obj, "u"), UINT64_MAX, &u);
  if (sm_mp_bin_exact(sm_mp_map_get(&obj, "m"), mid, sizeof(mid)) == 0) {
    sm_hex_encode(mid, sizeof(mid), hex);
  }
  msgpack_zone_destroy(&zone);
  msgpack_pack_map(pk, 7);
  sm_mp_pack_cstr(pk, "manifest");
  sm_mp_pack_cstr(pk, hex);
  sm_mp_pack_cstr(pk, "role");
  sm_mp_pack_cstr(pk, role);
  sm_mp_pack_cstr(pk, "stage");
  sm_mp_pack_cstr(pk, stage);
  sm_mp_pack_cstr(pk, "bytes_have");
  msgpack_pack_uint64(pk, bh);
  sm_mp_pack_cstr(pk, "bytes_total");
  msgpack_pack_uint64(pk, bt);
  sm_mp_pack_cstr(pk, "down_speed");
  msgpack_pack_uint64(pk, d);
  sm_mp_pack_cstr(pk, "bytes_up");
  msgpack_pack_uint64(pk, u);
}

static int count_member(void *arg, const struct gossip_member_info *m) {
  (void)m;
  (*(size_t *)arg)++;
  return 0;
}

static int pack_member(void *arg, const struct gossip_member_info *m) {
  struct pack_ctx *c = arg;
  char hex[2 * SM_PUBKEY_BYTES + 1];
  char addr[64];
  sm_hex_encode(m->id, SM_PUBKEY_BYTES, hex);
  addr_string(&m->addr, addr, sizeof(addr));
  msgpack_pack_map(c->pk, 5);
  sm_mp_pack_cstr(c->pk, "key");
  sm_mp_pack_cstr(c->pk, hex);
  sm_mp_pack_cstr(c->pk, "addr");
  sm_mp_pack_cstr(c->pk, addr);
  sm_mp_pack_cstr(c->pk, "status");
  sm_mp_pack_cstr(c->pk, gossip_status_name(m->status));
  sm_mp_pack_cstr(c->pk, "self");
  m->is_self ? msgpack_pack_true(c->pk) : msgpack_pack_false(c->pk);
  sm_mp_pack_cstr(c->pk, "progress");
  pack_progress(c->n, m->id, c->pk);
  return 0;
}

int node__cluster_pack(struct node *n, msgpack_packer *pk) {
  size_t count = 0;
  if (n->gossip == NULL) {
    msgpack_pack_array(pk, 0);
    return 0;
  }
  gossip_member_foreach(n->gossip, count_member, &count);
  msgpack_pack_array(pk, count);
  struct pack_ctx c = {n, pk};
  gossip_member_foreach(n->gossip, pack_member, &c);
  return 0;
}

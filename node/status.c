/* status.c - the node's status as a msgpack map, for `seedmesh status`:
 * per transfer, stage rows in the spirit of performance_schema.clone_progress
 * and the coordinates like clone_status; per peer, rates and bytes. */
#include "node/node_internal.h"

#include <string.h>

static const char *const state_names[] = {"Not Started", "In Progress", "Completed", "Failed"};

static void pack_str(msgpack_packer *pk, const char *k, const char *v) {
  sm_mp_pack_cstr(pk, k);
  sm_mp_pack_cstr(pk, v);
}

static void pack_u64(msgpack_packer *pk, const char *k, uint64_t v) {
  sm_mp_pack_cstr(pk, k);
  msgpack_pack_uint64(pk, v);
}

static void pack_hex(msgpack_packer *pk, const char *k, const uint8_t *bytes, size_t len) {
  char hex[129];
  sm_hex_encode(bytes, len, hex);
  pack_str(pk, k, hex);
}

static void pack_stage(msgpack_packer *pk, enum node__stage s, const struct node__stage_info *st,
                       uint32_t peers) {
  msgpack_pack_map(pk, 10);
  pack_str(pk, "stage", node__stage_name(s));
  pack_str(pk, "state", state_names[st->state]);
  pack_u64(pk, "begin_ms", st->begin_ms);
  pack_u64(pk, "end_ms", st->end_ms);
  pack_u64(pk, "peers", peers);
  pack_u64(pk, "estimate", st->estimate);
  pack_u64(pk, "data", st->data);
  pack_u64(pk, "network", st->network);
  pack_u64(pk, "data_speed", (uint64_t)st->data_speed);
  pack_u64(pk, "network_speed", (uint64_t)st->network_speed);
}

int node__transfer_report(struct node *n, const struct node_control_request *req) {
  struct node__transfer *t = NULL;
  for (int i = 0; i < NODE__MAX_TRANSFERS && t == NULL; i++) {
    if (n->transfers[i].used && n->transfers[i].role == NODE__ROLE_RECIPIENT &&
        strcmp(n->transfers[i].target, req->target) == 0) {
      t = &n->transfers[i];
    }
  }
  if (t == NULL) {
    return SM_ENOTFOUND;
  }
  struct node__reported_stage *r = NULL;
  for (size_t i = 0; i < t->n_reported && r == NULL; i++) {
    if (strcmp(t->reported[i].name, req->stage) == 0) {
      r = &t->reported[i];
    }
  }
  if (r == NULL) {
    if (t->n_reported == SM_ARRAY_LEN(t->reported)) {
      return SM_EFULL;
    }
    r = &t->reported[t->n_reported++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", req->stage);
  }
  uint64_t now = node__wall_ms();
  if (strcmp(req->state, "In Progress") == 0) {
    r->state = NODE__STAGE_IN_PROGRESS;
    r->begin_ms = now;
    r->end_ms = 0;
  } else {
    r->state = strcmp(req->state, "Completed") == 0 ? NODE__STAGE_COMPLETED : NODE__STAGE_FAILED;
    r->begin_ms = r->begin_ms ? r->begin_ms : now;
    r->end_ms = now;
  }
  snprintf(r->detail, sizeof(r->detail), "%s", req->detail);
  return 0;
}

static void pack_reported(msgpack_packer *pk, const struct node__reported_stage *r) {
  msgpack_pack_map(pk, 11);
  pack_str(pk, "stage", r->name);
  pack_str(pk, "state", state_names[r->state]);
  pack_u64(pk, "begin_ms", r->begin_ms);
  pack_u64(pk, "end_ms", r->end_ms);
  pack_u64(pk, "peers", 0);
  pack_u64(pk, "estimate", 0);
  pack_u64(pk, "data", 0);
  pack_u64(pk, "network", 0);
  pack_u64(pk, "data_speed", 0);
  pack_u64(pk, "network_speed", 0);
  pack_str(pk, "detail", r->detail);
}

const char *node__transfer_stage_now(const struct node__transfer *t) {
  for (size_t i = t->n_reported; i-- > 0;) {
    if (t->reported[i].state == NODE__STAGE_FAILED) {
      return "FAILED";
    }
  }
  if (t->n_reported > 0) {
    return t->reported[t->n_reported - 1].name;
  }
  if (t->failed) {
    return "FAILED";
  }
  if (t->finished) {
    return "DONE";
  }
  int last = -1;
  for (int s = 0; s < NODE__STAGE_COUNT; s++) {
    if (t->stages[s].state != NODE__STAGE_NOT_STARTED) {
      last = s;
    }
  }
  return last < 0 ? "DISCOVER" : node__stage_name((enum node__stage)last);
}

static void pack_peers(msgpack_packer *pk, const struct node__transfer *t) {
  uint32_t handles[NODE__MAX_LINKS];
  uint32_t n = t->swarm ? swarm_peers_list(t->swarm, handles, NODE__MAX_LINKS) : 0;
  n = SM_MIN(n, NODE__MAX_LINKS);
  sm_mp_pack_cstr(pk, "peers");
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0; i < n; i++) {
    struct swarm_peer_stats ps;
    const struct node__record *r = &t->node->records[handles[i]];
    memset(&ps, 0, sizeof(ps));
    swarm_peer_stats_get(t->swarm, handles[i], &ps);
    msgpack_pack_map(pk, 8);
    if (r->has_key) {
      pack_hex(pk, "key", r->key, SM_PUBKEY_BYTES);
    } else {
      pack_str(pk, "key", "");
    }
    pack_str(pk, "addr", r->has_addr ? r->addr : "");
    sm_mp_pack_cstr(pk, "donor");
    (ps.flags & SWARM_PEER_DONOR) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    pack_u64(pk, "chunks", ps.chunks_have);
    pack_u64(pk, "rate", (uint64_t)(ps.rate_bpms * 1000.0));
    sm_mp_pack_cstr(pk, "rtt_ms"); /* null until a round trip was measured */
    if (ps.rtt_ms < 0.0) {
      msgpack_pack_nil(pk);
    } else {
      msgpack_pack_uint64(pk, (uint64_t)ps.rtt_ms);
    }
    pack_u64(pk, "down", ps.bytes_down);
    pack_u64(pk, "up", ps.bytes_up);
  }
}

static void pack_transfer(msgpack_packer *pk, const struct node__transfer *t) {
  struct swarm_stats st;
  st = t->final_stats;
  if (t->swarm != NULL) {
    swarm_stats_get(t->swarm, &st);
  }
  int recipient = t->role == NODE__ROLE_RECIPIENT;
  msgpack_pack_map(pk, 21);
  pack_hex(pk, "manifest", t->manifest_id, CHUNKSTORE_ID_BYTES);
  pack_str(pk, "role", recipient ? "recipient" : "donor");
  pack_str(pk, "state", node__transfer_stage_now(t));
  pack_str(pk, "error", t->error);
  pack_str(pk, "target", recipient ? t->target : t->store);
  pack_u64(pk, "chunks_total", t->pieces_total);
  pack_u64(pk, "chunks_have", t->finished ? t->pieces_total : st.chunks_have);
  pack_u64(pk, "bytes_total", t->piece_bytes_total);
  pack_u64(pk, "bytes_have", t->finished ? t->piece_bytes_total : st.bytes_have);
  pack_u64(pk, "bytes_up", st.bytes_up);
  pack_u64(pk, "bytes_down", st.bytes_down);
  pack_u64(pk, "bytes_down_donor", st.bytes_down_donor);
  pack_u64(pk, "bytes_wasted", st.bytes_wasted);
  pack_u64(pk, "chunks_bad", st.chunks_bad);
  pack_u64(pk, "chunks_unavailable", t->swarm != NULL ? swarm_chunks_unavailable(t->swarm) : 0);
  pack_u64(pk, "timeouts", st.timeouts);
  sm_mp_pack_cstr(pk, "donor");
  if (t->manifest != NULL) {
    char hex[2 * SM_PUBKEY_BYTES + 1];
    sm_hex_encode(t->manifest->donor, SM_PUBKEY_BYTES, hex);
    sm_mp_pack_cstr(pk, hex);
  } else {
    sm_mp_pack_cstr(pk, "");
  }
  sm_mp_pack_cstr(pk, "coords");
  size_t nc = t->manifest ? t->manifest->n_coords : 0;
  msgpack_pack_map(pk, nc);
  for (size_t i = 0; i < nc; i++) {
    pack_str(pk, t->manifest->coords[i].key, t->manifest->coords[i].value);
  }
  sm_mp_pack_cstr(pk, "stages");
  int first = recipient ? NODE__STAGE_DISCOVER : NODE__STAGE_SERVE;
  int last = recipient ? NODE__STAGE_SEED : NODE__STAGE_SERVE;
  msgpack_pack_array(pk, (size_t)(last - first + 1) + t->n_reported);
  for (int s = first; s <= last; s++) {
    pack_stage(pk, (enum node__stage)s, &t->stages[s], st.peers_connected);
  }
  for (size_t i = 0; i < t->n_reported; i++) {
    pack_reported(pk, &t->reported[i]);
  }
  pack_u64(pk, "peers_connected", st.peers_connected);
  pack_peers(pk, t);
}

int node__status_pack(struct node *n, msgpack_packer *pk) {
  int transfers = 0;
  int links = 0;
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    transfers += n->transfers[i].used;
  }
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    links += n->links[i] != NULL && n->links[i]->state == NODE__LINK_OPEN;
  }
  msgpack_pack_map(pk, 4);
  sm_mp_pack_cstr(pk, "cluster");
  node__cluster_pack(n, pk);
  sm_mp_pack_cstr(pk, "ok");
  msgpack_pack_true(pk);
  sm_mp_pack_cstr(pk, "node");
  msgpack_pack_map(pk, 9);
  pack_hex(pk, "key", n->identity.public_key, SM_PUBKEY_BYTES);
  pack_str(pk, "listen", n->listen_addr);
  pack_u64(pk, "uptime_ms", node__now(n) - n->started_ms);
  pack_u64(pk, "links", (uint64_t)links);
  pack_u64(pk, "bans", n->banned_count);
  pack_u64(pk, "handshakes_refused", n->rejected_handshakes);
  pack_u64(pk, "chunks_bad", n->chunks_bad);
  pack_u64(pk, "max_up", n->up.rate);
  pack_u64(pk, "max_down", n->down.rate);
  sm_mp_pack_cstr(pk, "transfers");
  msgpack_pack_array(pk, (size_t)transfers);
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    if (n->transfers[i].used) {
      pack_transfer(pk, &n->transfers[i]);
    }
  }
  return 0;
}

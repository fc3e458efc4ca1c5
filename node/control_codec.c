/* control_codec.c - the bounded codec of control-socket requests, shared by
 * the daemon (decoding) and the CLI (encoding). */
#include "node/node.h"

#include <string.h>

#include "common/common.h"

static const char *const op_names[] = {NULL, "status", "fetch", "rate", "shutdown"};

static int get_rate(const msgpack_object *o, int64_t *out) {
  if (o == NULL) {
    *out = -1;
    return 0;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 == -1) {
    *out = -1;
    return 0;
  }
  uint64_t v = 0;
  if (sm_mp_u64(o, (uint64_t)INT64_MAX, &v) < 0) {
    return SM_EMALFORMED;
  }
  *out = (int64_t)v;
  return 0;
}

int node_control_request_decode(const uint8_t *buf, size_t len,
                                struct node_control_request *out) {
  msgpack_zone zone;
  msgpack_object obj;
  char op[16];
  int rc = 0;
  memset(out, 0, sizeof(*out));
  out->up = out->down = -1;
  if (len > NODE_CONTROL_FRAME_MAX) {
    return SM_ETOOBIG;
  }
  msgpack_zone_init(&zone, 1024);
  rc = sm_mp_unpack_bounded(buf, len, 64, &zone, &obj);
  if (rc == 0 && (obj.type != MSGPACK_OBJECT_MAP ||
                  sm_mp_str_copy(sm_mp_map_get(&obj, "op"), op, sizeof(op)) < 0)) {
    rc = SM_EMALFORMED;
  }
  if (rc == 0) {
    rc = SM_EMALFORMED;
    for (size_t i = 1; i < SM_ARRAY_LEN(op_names); i++) {
      if (strcmp(op, op_names[i]) == 0) {
        out->op = (enum node_control_op)i;
        rc = 0;
      }
    }
  }
  if (rc == 0 && out->op == NODE_CONTROL_FETCH) {
    if (sm_mp_str_copy(sm_mp_map_get(&obj, "manifest"), out->manifest, sizeof(out->manifest)) < 0 ||
        sm_mp_str_copy(sm_mp_map_get(&obj, "target"), out->target, sizeof(out->target)) < 0 ||
        out->target[0] != '/') {
      rc = SM_EMALFORMED;
    }
    uint8_t id[32];
    if (rc == 0 && strcmp(out->manifest, "latest") != 0 &&
        sm_hex_decode(out->manifest, id, sizeof(id)) < 0) {
      rc = SM_EMALFORMED;
    }
  }
  if (rc == 0 && out->op == NODE_CONTROL_RATE) {
    if (get_rate(sm_mp_map_get(&obj, "up"), &out->up) < 0 ||
        get_rate(sm_mp_map_get(&obj, "down"), &out->down) < 0) {
      rc = SM_EMALFORMED;
    }
  }
  msgpack_zone_destroy(&zone);
  return rc;
}

int node_control_request_encode(const struct node_control_request *req, uint8_t **out,
                                size_t *out_len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  int bad = 0;
  if (req->op < NODE_CONTROL_STATUS || req->op > NODE_CONTROL_SHUTDOWN) {
    return SM_EINVAL;
  }
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int fields = req->op == NODE_CONTROL_FETCH ? 3 : req->op == NODE_CONTROL_RATE ? 3 : 1;
  bad |= msgpack_pack_map(&pk, (size_t)fields);
  bad |= sm_mp_pack_cstr(&pk, "op") | sm_mp_pack_cstr(&pk, op_names[req->op]);
  if (req->op == NODE_CONTROL_FETCH) {
    bad |= sm_mp_pack_cstr(&pk, "manifest") | sm_mp_pack_cstr(&pk, req->manifest);
    bad |= sm_mp_pack_cstr(&pk, "target") | sm_mp_pack_cstr(&pk, req->target);
  } else if (req->op == NODE_CONTROL_RATE) {
    bad |= sm_mp_pack_cstr(&pk, "up") | msgpack_pack_int64(&pk, req->up);
    bad |= sm_mp_pack_cstr(&pk, "down") | msgpack_pack_int64(&pk, req->down);
  }
  if (bad) {
    msgpack_sbuffer_destroy(&sb);
    return SM_ENOMEM;
  }
  *out_len = sb.size;
  *out = (uint8_t *)msgpack_sbuffer_release(&sb);
  return 0;
}

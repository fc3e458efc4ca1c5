/* control_codec.c - the bounded codec of control-socket requests, shared by
 * the daemon (decoding) and the CLI (encoding). */
#include "node/node.h"

#include <string.h>

#include "common/common.h"

static const char *const op_names[] = {NULL,       "status", "fetch", "rate",
                                        "shutdown", "report", "serve"};
static const char *const report_states[] = {"In Progress", "Completed", "Failed"};

static int report_fields_valid(const struct node_control_request *r) {
  size_t n = strlen(r->stage);
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!((r->stage[i] >= 'A' && r->stage[i] <= 'Z') || r->stage[i] == '_')) {
      return 0;
    }
  }
  int state_ok = 0;
  for (size_t i = 0; i < SM_ARRAY_LEN(report_states); i++) {
    state_ok |= strcmp(r->state, report_states[i]) == 0;
  }
  for (const char *d = r->detail; *d; d++) {
    if ((unsigned char)*d < 0x20) {
      return 0;
    }
  }
  return state_ok && r->target[0] == '/';
}

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
  if (rc == 0 && out->op == NODE_CONTROL_SERVE &&
      (sm_mp_str_copy(sm_mp_map_get(&obj, "target"), out->target, sizeof(out->target)) < 0 ||
       out->target[0] != '/')) {
    rc = SM_EMALFORMED;
  }
  if (rc == 0 && out->op == NODE_CONTROL_REPORT) {
    if (sm_mp_str_copy(sm_mp_map_get(&obj, "target"), out->target, sizeof(out->target)) < 0 ||
        sm_mp_str_copy(sm_mp_map_get(&obj, "stage"), out->stage, sizeof(out->stage)) < 0 ||
        sm_mp_str_copy(sm_mp_map_get(&obj, "state"), out->state, sizeof(out->state)) < 0 ||
        sm_mp_str_copy(sm_mp_map_get(&obj, "detail"), out->detail, sizeof(out->detail)) < 0 ||
        !report_fields_valid(out)) {
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
  if (req->op < NODE_CONTROL_STATUS || req->op > NODE_CONTROL_SERVE) {
    return SM_EINVAL;
  }
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int fields = req->op == NODE_CONTROL_FETCH  ? 3
               : req->op == NODE_CONTROL_RATE  ? 3
               : req->op == NODE_CONTROL_REPORT ? 5
               : req->op == NODE_CONTROL_SERVE  ? 2
                                                : 1;
  bad |= msgpack_pack_map(&pk, (size_t)fields);
  bad |= sm_mp_pack_cstr(&pk, "op") | sm_mp_pack_cstr(&pk, op_names[req->op]);
  if (req->op == NODE_CONTROL_FETCH) {
    bad |= sm_mp_pack_cstr(&pk, "manifest") | sm_mp_pack_cstr(&pk, req->manifest);
    bad |= sm_mp_pack_cstr(&pk, "target") | sm_mp_pack_cstr(&pk, req->target);
  } else if (req->op == NODE_CONTROL_SERVE) {
    bad |= sm_mp_pack_cstr(&pk, "target") | sm_mp_pack_cstr(&pk, req->target);
  } else if (req->op == NODE_CONTROL_REPORT) {
    bad |= sm_mp_pack_cstr(&pk, "target") | sm_mp_pack_cstr(&pk, req->target);
    bad |= sm_mp_pack_cstr(&pk, "stage") | sm_mp_pack_cstr(&pk, req->stage);
    bad |= sm_mp_pack_cstr(&pk, "state") | sm_mp_pack_cstr(&pk, req->state);
    bad |= sm_mp_pack_cstr(&pk, "detail") | sm_mp_pack_cstr(&pk, req->detail);
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

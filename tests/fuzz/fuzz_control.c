/* fuzz_control.c - libFuzzer target for the control-socket request decoder
 * (node/control_codec.c). Whatever decodes must be one of the documented
 * shapes, must re-encode, and the re-encoding must decode to the same
 * request (a fixed point). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_shape(const struct node_control_request *r) {
  if (r->op < NODE_CONTROL_STATUS || r->op > NODE_CONTROL_SERVE) {
    abort();
  }
  if (memchr(r->manifest, '\0', sizeof(r->manifest)) == NULL ||
      memchr(r->target, '\0', sizeof(r->target)) == NULL) {
    abort();
  }
  if (r->op == NODE_CONTROL_FETCH) {
    uint8_t id[32];
    if (r->target[0] != '/') {
      abort();
    }
    if (strcmp(r->manifest, "latest") != 0 && sm_hex_decode(r->manifest, id, sizeof(id)) < 0) {
      abort();
    }
  }
  if (r->op == NODE_CONTROL_SERVE && r->target[0] != '/') {
    abort();
  }
  if (r->op == NODE_CONTROL_REPORT &&
      (r->target[0] != '/' || r->stage[0] == '\0' ||
       memchr(r->detail, '\0', sizeof(r->detail)) == NULL)) {
    abort();
  }
  if (r->up < -1 || r->down < -1) {
    abort();
  }
  if (r->op != NODE_CONTROL_RATE && (r->up != -1 || r->down != -1)) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct node_control_request req;
  struct node_control_request again;
  /* Copy so that reads past the end are caught by ASan. */
  uint8_t *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  if (node_control_request_decode(buf, size, &req) == 0) {
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    check_shape(&req);
    if (node_control_request_encode(&req, &enc, &enc_len) != 0) {
      abort();
    }
    if (node_control_request_decode(enc, enc_len, &again) != 0 || again.op != req.op ||
        strcmp(again.manifest, req.manifest) != 0 || strcmp(again.target, req.target) != 0 ||
        again.up != req.up || again.down != req.down) {
      abort();
    }
    sm_free(enc);
  }
  free(buf);
  return 0;
}

/* test_node_control.c - unit tests for the control-socket request codec
 * (node/control_codec.c): every op round-trips, every strict prefix and
 * every malformed shape is refused, and the decoder never reads past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "node/node.h"

#define HEX_ID "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* One valid request of each op (index 0..3). */
static void sample(int which, struct node_control_request *r) {
  memset(r, 0, sizeof(*r));
  r->up = r->down = -1;
  switch (which) {
  case 0:
    r->op = NODE_CONTROL_STATUS;
    break;
  case 1:
    r->op = NODE_CONTROL_FETCH;
    snprintf(r->manifest, sizeof(r->manifest), "%s", HEX_ID);
    snprintf(r->target, sizeof(r->target), "/data/replica");
    break;
  case 2:
    r->op = NODE_CONTROL_RATE;
    r->up = 100000000;
    r->down = -1;
    break;
  default:
    r->op = NODE_CONTROL_SHUTDOWN;
    break;
  }
}
#define N_SAMPLES 4

/* Packs an arbitrary map body with the raw msgpack-c packer. */
struct body {
  msgpack_sbuffer sb;
  msgpack_packer pk;
};

static void body_init(struct body *b) {
  msgpack_sbuffer_init(&b->sb);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static int body_decode(struct body *b, struct node_control_request *out) {
  int rc = node_control_request_decode((const uint8_t *)b->sb.data, b->sb.size, out);
  msgpack_sbuffer_destroy(&b->sb);
  return rc;
}

static void kv_str(struct body *b, const char *k, const char *v) {
  sm_mp_pack_cstr(&b->pk, k);
  sm_mp_pack_cstr(&b->pk, v);
}

/* Decodes a copy sitting at the very end of a heap block, so that ASan
 * catches any read past len. */
static int decode_exact(const uint8_t *buf, size_t len, struct node_control_request *out) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len > 0) {
    memcpy(copy, buf, len);
  }
  int rc = node_control_request_decode(copy, len, out);
  free(copy);
  return rc;
}

static void test_round_trip(void **state) {
  (void)state;
  for (int i = 0; i < N_SAMPLES; i++) {
    struct node_control_request in, out;
    uint8_t *buf = NULL;
    size_t len = 0;
    sample(i, &in);
    assert_int_equal(node_control_request_encode(&in, &buf, &len), 0);
    assert_int_equal(decode_exact(buf, len, &out), 0);
    assert_int_equal(out.op, in.op);
    assert_string_equal(out.manifest, in.manifest);
    assert_string_equal(out.target, in.target);
    if (in.op == NODE_CONTROL_RATE) {
      assert_int_equal(out.up, in.up);
      assert_int_equal(out.down, in.down);
    } else {
      assert_int_equal(out.up, -1);
      assert_int_equal(out.down, -1);
    }
    /* Encoding the decoded request gives the same bytes. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(node_control_request_encode(&out, &again, &again_len), 0);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);
    sm_free(again);
    sm_free(buf);
  }
}

static void test_fetch_latest_and_rates(void **state) {
  (void)state;
  struct node_control_request in, out;
  uint8_t *buf = NULL;
  size_t len = 0;
  sample(1, &in);
  snprintf(in.manifest, sizeof(in.manifest), "latest");
  assert_int_equal(node_control_request_encode(&in, &buf, &len), 0);
  assert_int_equal(decode_exact(buf, len, &out), 0);
  assert_string_equal(out.manifest, "latest");
  sm_free(buf);

  const int64_t rates[][2] = {{0, 0}, {-1, -1}, {INT64_MAX, 1}, {1, INT64_MAX}};
  for (size_t i = 0; i < SM_ARRAY_LEN(rates); i++) {
    sample(2, &in);
    in.up = rates[i][0];
    in.down = rates[i][1];
    assert_int_equal(node_control_request_encode(&in, &buf, &len), 0);
    assert_int_equal(decode_exact(buf, len, &out), 0);
    assert_int_equal(out.up, in.up);
    assert_int_equal(out.down, in.down);
    sm_free(buf);
  }

  /* A rate map may leave either field out: it stays unchanged (-1). */
  struct body b;
  body_init(&b);
  msgpack_pack_map(&b.pk, 2);
  kv_str(&b, "op", "rate");
  sm_mp_pack_cstr(&b.pk, "down");
  msgpack_pack_uint64(&b.pk, 5);
  assert_int_equal(body_decode(&b, &out), 0);
  assert_int_equal(out.up, -1);
  assert_int_equal(out.down, 5);
}

static void test_every_prefix_refused(void **state) {
  (void)state;
  for (int i = 0; i < N_SAMPLES; i++) {
    struct node_control_request in, out;
    uint8_t *buf = NULL;
    size_t len = 0;
    sample(i, &in);
    assert_int_equal(node_control_request_encode(&in, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
      assert_true(decode_exact(buf, cut, &out) < 0);
      assert_int_equal(out.op, 0);
    }
    /* Trailing bytes are refused too. */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0xc0;
    assert_true(decode_exact(longer, len + 1, &out) < 0);
    free(longer);
    sm_free(buf);
  }
}

static void test_not_a_map(void **state) {
  (void)state;
  struct node_control_request out;
  struct body b;

  body_init(&b); /* an array holding the right strings */
  msgpack_pack_array(&b.pk, 2);
  sm_mp_pack_cstr(&b.pk, "op");
  sm_mp_pack_cstr(&b.pk, "status");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* a bare string */
  sm_mp_pack_cstr(&b.pk, "status");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* nil */
  msgpack_pack_nil(&b.pk);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* empty map */
  msgpack_pack_map(&b.pk, 0);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  const uint8_t ext[] = {0x81, 0xa2, 'o', 'p', 0xd4, 0x01, 0x00}; /* {op: fixext1} */
  assert_int_equal(decode_exact(ext, sizeof(ext), &out), SM_EMALFORMED);
  assert_true(decode_exact(NULL, 0, &out) < 0);
}

static void test_bad_op(void **state) {
  (void)state;
  struct node_control_request out;
  struct body b;
  const char *bad_ops[] = {"", "Status", "status ", "stat", "fetchx", "shutdown\n", "xyz"};
  for (size_t i = 0; i < SM_ARRAY_LEN(bad_ops); i++) {
    body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    kv_str(&b, "op", bad_ops[i]);
    assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);
  }

  body_init(&b); /* op with a NUL inside: "status\0" */
  msgpack_pack_map(&b.pk, 1);
  sm_mp_pack_cstr(&b.pk, "op");
  msgpack_pack_str(&b.pk, 7);
  msgpack_pack_str_body(&b.pk, "status", 7);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* op longer than any name */
  msgpack_pack_map(&b.pk, 1);
  kv_str(&b, "op", "statusstatusstatusstatusstatus");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* op as bin */
  msgpack_pack_map(&b.pk, 1);
  sm_mp_pack_cstr(&b.pk, "op");
  sm_mp_pack_bin(&b.pk, "status", 6);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* op as integer */
  msgpack_pack_map(&b.pk, 1);
  sm_mp_pack_cstr(&b.pk, "op");
  msgpack_pack_uint64(&b.pk, NODE_CONTROL_STATUS);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* key as bin instead of str */
  msgpack_pack_map(&b.pk, 1);
  sm_mp_pack_bin(&b.pk, "op", 2);
  sm_mp_pack_cstr(&b.pk, "status");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* no op at all */
  msgpack_pack_map(&b.pk, 1);
  kv_str(&b, "target", "/x");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);
}

/* A fetch map with the given manifest and target (NULL: left out). */
static int fetch_with(const char *manifest, const char *target) {
  struct node_control_request out;
  struct body b;
  body_init(&b);
  msgpack_pack_map(&b.pk, 1 + (manifest != NULL) + (target != NULL));
  kv_str(&b, "op", "fetch");
  if (manifest != NULL) {
    kv_str(&b, "manifest", manifest);
  }
  if (target != NULL) {
    kv_str(&b, "target", target);
  }
  return body_decode(&b, &out);
}

static void test_fetch_fields(void **state) {
  (void)state;
  assert_int_equal(fetch_with("latest", "/data/x"), 0);
  assert_int_equal(fetch_with(HEX_ID, "/"), 0);
  /* relative or empty target */
  assert_int_equal(fetch_with("latest", "data/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("latest", "./x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("latest", "../x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("latest", ""), SM_EMALFORMED);
  /* missing fields */
  assert_int_equal(fetch_with(NULL, "/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("latest", NULL), SM_EMALFORMED);
  /* bad ids: short, long, odd, not hex, upper-case "LATEST" */
  assert_int_equal(fetch_with("", "/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("abcd", "/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with(HEX_ID "0", "/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with(HEX_ID "00", "/x"), SM_EMALFORMED);
  char id[65];
  snprintf(id, sizeof(id), "%s", HEX_ID);
  id[63] = 'g';
  assert_int_equal(fetch_with(id, "/x"), SM_EMALFORMED);
  id[63] = ' ';
  assert_int_equal(fetch_with(id, "/x"), SM_EMALFORMED);
  assert_int_equal(fetch_with("LATEST", "/x"), SM_EMALFORMED);
  /* the longest target that fits, and one byte more */
  char *target = malloc(4097);
  assert_non_null(target);
  memset(target, 'a', 4096);
  target[0] = '/';
  target[4095] = '\0';
  assert_int_equal(fetch_with("latest", target), 0);
  target[4095] = 'a';
  target[4096] = '\0';
  assert_int_equal(fetch_with("latest", target), SM_EMALFORMED);
  free(target);
}

static void test_fetch_wrong_types(void **state) {
  (void)state;
  struct node_control_request out;
  struct body b;

  body_init(&b); /* target as bin */
  msgpack_pack_map(&b.pk, 3);
  kv_str(&b, "op", "fetch");
  kv_str(&b, "manifest", "latest");
  sm_mp_pack_cstr(&b.pk, "target");
  sm_mp_pack_bin(&b.pk, "/x", 2);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* manifest as 32 raw bytes */
  uint8_t raw[32] = {1, 2, 3};
  msgpack_pack_map(&b.pk, 3);
  kv_str(&b, "op", "fetch");
  sm_mp_pack_cstr(&b.pk, "manifest");
  sm_mp_pack_bin(&b.pk, raw, sizeof(raw));
  kv_str(&b, "target", "/x");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* target as a nested map */
  msgpack_pack_map(&b.pk, 3);
  kv_str(&b, "op", "fetch");
  kv_str(&b, "manifest", "latest");
  sm_mp_pack_cstr(&b.pk, "target");
  msgpack_pack_map(&b.pk, 1);
  kv_str(&b, "a", "/b");
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);

  body_init(&b); /* a NUL hidden in the target */
  msgpack_pack_map(&b.pk, 3);
  kv_str(&b, "op", "fetch");
  kv_str(&b, "manifest", "latest");
  sm_mp_pack_cstr(&b.pk, "target");
  msgpack_pack_str(&b.pk, 7);
  msgpack_pack_str_body(&b.pk, "/ok\0/..", 7);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);
}

static int rate_with(int type_up, int64_t up) {
  struct node_control_request out;
  struct body b;
  body_init(&b);
  msgpack_pack_map(&b.pk, 2);
  kv_str(&b, "op", "rate");
  sm_mp_pack_cstr(&b.pk, "up");
  switch (type_up) {
  case 0:
    msgpack_pack_int64(&b.pk, up);
    break;
  case 1:
    sm_mp_pack_cstr(&b.pk, "100");
    break;
  case 2:
    msgpack_pack_double(&b.pk, 1.0);
    break;
  case 3:
    msgpack_pack_true(&b.pk);
    break;
  default:
    msgpack_pack_nil(&b.pk);
    break;
  }
  return body_decode(&b, &out);
}

static void test_rate_fields(void **state) {
  (void)state;
  assert_int_equal(rate_with(0, 0), 0);
  assert_int_equal(rate_with(0, -1), 0);
  assert_int_equal(rate_with(0, INT64_MAX), 0);
  assert_int_equal(rate_with(0, -2), SM_EMALFORMED);
  assert_int_equal(rate_with(0, INT64_MIN), SM_EMALFORMED);
  assert_int_equal(rate_with(1, 0), SM_EMALFORMED);
  assert_int_equal(rate_with(2, 0), SM_EMALFORMED);
  assert_int_equal(rate_with(3, 0), SM_EMALFORMED);
  assert_int_equal(rate_with(4, 0), SM_EMALFORMED);

  /* A u64 above INT64_MAX would turn negative: refused. */
  struct node_control_request out;
  struct body b;
  body_init(&b);
  msgpack_pack_map(&b.pk, 2);
  kv_str(&b, "op", "rate");
  sm_mp_pack_cstr(&b.pk, "down");
  msgpack_pack_uint64(&b.pk, (uint64_t)INT64_MAX + 1);
  assert_int_equal(body_decode(&b, &out), SM_EMALFORMED);
}

static void test_oversize(void **state) {
  (void)state;
  struct node_control_request out;
  /* A frame over the cap is refused before it is parsed. */
  size_t len = NODE_CONTROL_FRAME_MAX + 1;
  uint8_t *big = calloc(1, len);
  assert_non_null(big);
  big[0] = 0x81;
  assert_int_equal(node_control_request_decode(big, len, &out), SM_ETOOBIG);
  free(big);

  /* A map with more objects than the decoder allows. */
  struct body b;
  body_init(&b);
  msgpack_pack_map(&b.pk, 100);
  kv_str(&b, "op", "status");
  for (int i = 1; i < 100; i++) {
    char k[16];
    snprintf(k, sizeof(k), "k%d", i);
    sm_mp_pack_cstr(&b.pk, k);
    msgpack_pack_nil(&b.pk);
  }
  assert_true(body_decode(&b, &out) < 0);

  /* Headers that announce far more than the bytes that follow. */
  const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'o', 'p'};
  assert_true(decode_exact(map32, sizeof(map32), &out) < 0);
  const uint8_t str32[] = {0x81, 0xa2, 'o', 'p', 0xdb, 0x7f, 0xff, 0xff, 0xff, 's'};
  assert_true(decode_exact(str32, sizeof(str32), &out) < 0);

  /* Deep nesting as a value. */
  uint8_t deep[4 + 200];
  memcpy(deep, (const uint8_t[]){0x81, 0xa1, 'x'}, 3);
  for (size_t i = 3; i < sizeof(deep) - 1; i++) {
    deep[i] = 0x91; /* fixarray of 1 */
  }
  deep[sizeof(deep) - 1] = 0xc0;
  assert_true(decode_exact(deep, sizeof(deep), &out) < 0);
}

static void test_extra_keys_and_duplicates(void **state) {
  (void)state;
  struct node_control_request out;
  struct body b;
  /* Unknown keys are ignored; the first "op" wins. */
  body_init(&b);
  msgpack_pack_map(&b.pk, 3);
  kv_str(&b, "op", "status");
  kv_str(&b, "op", "shutdown");
  kv_str(&b, "colour", "blue");
  assert_int_equal(body_decode(&b, &out), 0);
  assert_int_equal(out.op, NODE_CONTROL_STATUS);
}

static void test_report_round_trip_and_refusals(void **state) {
  (void)state;
  struct node_control_request r, back;
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(&r, 0, sizeof(r));
  r.op = NODE_CONTROL_REPORT;
  snprintf(r.target, sizeof(r.target), "/data/db.seedmesh-fetched");
  snprintf(r.stage, sizeof(r.stage), "CAUGHT_UP");
  snprintf(r.state, sizeof(r.state), "Completed");
  snprintf(r.detail, sizeof(r.detail), "at 0-1-854");
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), 0);
  assert_int_equal(back.op, NODE_CONTROL_REPORT);
  assert_string_equal(back.stage, "CAUGHT_UP");
  assert_string_equal(back.state, "Completed");
  assert_string_equal(back.detail, "at 0-1-854");
  assert_string_equal(back.target, r.target);
  sm_free(buf);
  static const char *const bad_stage[] = {"", "prepare", "PRE PARE", "TOOLONGSTAGENAME_X"};
  for (size_t i = 0; i < sizeof(bad_stage) / sizeof(bad_stage[0]); i++) {
    snprintf(r.stage, sizeof(r.stage), "%s", bad_stage[i]);
    if (strlen(bad_stage[i]) >= sizeof(r.stage)) {
      continue; /* cannot even be built; the decoder's cap is tested by size */
    }
    assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
    assert_int_equal(node_control_request_decode(buf, len, &back), SM_EMALFORMED);
    sm_free(buf);
  }
  snprintf(r.stage, sizeof(r.stage), "JOIN");
  snprintf(r.state, sizeof(r.state), "Done");
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), SM_EMALFORMED);
  sm_free(buf);
  snprintf(r.state, sizeof(r.state), "Failed");
  snprintf(r.detail, sizeof(r.detail), "line\nbreak");
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), SM_EMALFORMED);
  sm_free(buf);
  snprintf(r.detail, sizeof(r.detail), "ok");
  snprintf(r.target, sizeof(r.target), "relative");
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), SM_EMALFORMED);
  sm_free(buf);
}

static void test_serve_round_trip_and_refusals(void **state) {
  (void)state;
  struct node_control_request r, back;
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(&r, 0, sizeof(r));
  r.op = NODE_CONTROL_SERVE;
  snprintf(r.target, sizeof(r.target), "/srv/seedmesh/store");
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), 0);
  assert_int_equal(back.op, NODE_CONTROL_SERVE);
  assert_string_equal(back.target, r.target);
  sm_free(buf);
  snprintf(r.target, sizeof(r.target), "relative/store"); /* the node may run elsewhere */
  assert_int_equal(node_control_request_encode(&r, &buf, &len), 0);
  assert_int_equal(node_control_request_decode(buf, len, &back), SM_EMALFORMED);
  sm_free(buf);
}

static void test_encode_refuses_bad_op(void **state) {
  (void)state;
  struct node_control_request r;
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(&r, 0, sizeof(r));
  assert_int_equal(node_control_request_encode(&r, &buf, &len), SM_EINVAL);
  r.op = (enum node_control_op)(NODE_CONTROL_SERVE + 1);
  assert_int_equal(node_control_request_encode(&r, &buf, &len), SM_EINVAL);
  assert_null(buf);
}

/* Every single-byte change of every sample either decodes to a request that
 * re-encodes cleanly or is refused; it never crashes. */
static void test_byte_flips(void **state) {
  (void)state;
  for (int i = 0; i < N_SAMPLES; i++) {
    struct node_control_request in, out;
    uint8_t *buf = NULL;
    size_t len = 0;
    sample(i, &in);
    assert_int_equal(node_control_request_encode(&in, &buf, &len), 0);
    for (size_t pos = 0; pos < len; pos++) {
      for (int bit = 0; bit < 8; bit++) {
        buf[pos] ^= (uint8_t)(1u << bit);
        if (decode_exact(buf, len, &out) == 0) {
          uint8_t *again = NULL;
          size_t again_len = 0;
          assert_int_equal(node_control_request_encode(&out, &again, &again_len), 0);
          sm_free(again);
        }
        buf[pos] ^= (uint8_t)(1u << bit);
      }
    }
    sm_free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_fetch_latest_and_rates),
      cmocka_unit_test(test_every_prefix_refused),
      cmocka_unit_test(test_not_a_map),
      cmocka_unit_test(test_bad_op),
      cmocka_unit_test(test_fetch_fields),
      cmocka_unit_test(test_fetch_wrong_types),
      cmocka_unit_test(test_rate_fields),
      cmocka_unit_test(test_oversize),
      cmocka_unit_test(test_extra_keys_and_duplicates),
      cmocka_unit_test(test_serve_round_trip_and_refusals),
      cmocka_unit_test(test_encode_refuses_bad_op),
      cmocka_unit_test(test_report_round_trip_and_refusals),
      cmocka_unit_test(test_byte_flips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

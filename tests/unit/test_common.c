/* test_common.c - unit tests for common/: errors, hex, msgpack bounds, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"

static void test_strerror_names_every_code(void **state) {
  (void)state;
  for (int code = SM_E_BASE_ + 1; code < SM_E_END_; code++) {
    const char *text = sm_strerror(code);
    assert_non_null(text);
    assert_string_not_equal(text, "unknown error");
  }
  assert_string_equal(sm_strerror(-2), strerror(2));
  assert_string_equal(sm_strerror(0), "success");
}

static void test_hex_round_trip(void **state) {
  (void)state;
  uint8_t in[5] = {0x00, 0x01, 0xab, 0xcd, 0xff};
  uint8_t back[5];
  char hex[11];
  sm_hex_encode(in, sizeof(in), hex);
  assert_string_equal(hex, "0001abcdff");
  assert_int_equal(sm_hex_decode(hex, back, sizeof(back)), 0);
  assert_memory_equal(in, back, sizeof(in));
  assert_int_equal(sm_hex_decode("0001abcdfg", back, 5), SM_EMALFORMED);
  assert_int_equal(sm_hex_decode("0001", back, 5), SM_EMALFORMED);
}

static void test_mp_check_refuses_impossible_counts(void **state) {
  (void)state;
  size_t used = 0;
  /* array32 claiming 4 billion elements, followed by nothing. */
  const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(sm_mp_check(huge, sizeof(huge), 8, &used), SM_EMALFORMED);
  /* str8 longer than the input. */
  const uint8_t str[] = {0xd9, 0x10, 'a'};
  assert_int_equal(sm_mp_check(str, sizeof(str), 8, &used), SM_EMALFORMED);
  /* nesting deeper than allowed. */
  uint8_t deep[20];
  memset(deep, 0x91, sizeof(deep));
  deep[19] = 0x01;
  assert_int_equal(sm_mp_check(deep, sizeof(deep), 8, &used), SM_ETOOBIG);
  /* the reserved tag and ext types are refused. */
  const uint8_t reserved[] = {0xc1};
  assert_int_equal(sm_mp_check(reserved, 1, 8, &used), SM_EMALFORMED);
}

static void test_mp_unpack_round_trip_and_prefixes(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 3);
  sm_mp_pack_cstr(&pk, "n");
  msgpack_pack_uint64(&pk, 1234567890123ull);
  sm_mp_pack_cstr(&pk, "s");
  sm_mp_pack_cstr(&pk, "hello");
  sm_mp_pack_cstr(&pk, "b");
  sm_mp_pack_bin(&pk, "\x01\x02\x03", 3);

  msgpack_zone zone;
  msgpack_zone_init(&zone, 1024);
  msgpack_object obj;
  assert_int_equal(sm_mp_unpack((const uint8_t *)sb.data, sb.size, &zone, &obj), 0);
  uint64_t n = 0;
  assert_int_equal(sm_mp_u64(sm_mp_map_get(&obj, "n"), UINT64_MAX, &n), 0);
  assert_true(n == 1234567890123ull);
  assert_int_equal(sm_mp_u64(sm_mp_map_get(&obj, "n"), 10, &n), SM_EMALFORMED);
  char s[8];
  assert_int_equal(sm_mp_str_copy(sm_mp_map_get(&obj, "s"), s, sizeof(s)), 0);
  assert_string_equal(s, "hello");
  assert_int_equal(sm_mp_str_copy(sm_mp_map_get(&obj, "s"), s, 4), SM_EMALFORMED);
  uint8_t b[3];
  assert_int_equal(sm_mp_bin_exact(sm_mp_map_get(&obj, "b"), b, 3), 0);
  assert_int_equal(sm_mp_bin_exact(sm_mp_map_get(&obj, "b"), b, 2), SM_EMALFORMED);
  assert_null(sm_mp_map_get(&obj, "missing"));
  msgpack_zone_destroy(&zone);

  /* Every strict prefix is refused without a crash. */
  for (size_t len = 0; len < sb.size; len++) {
    msgpack_zone_init(&zone, 1024);
    assert_int_not_equal(sm_mp_unpack((const uint8_t *)sb.data, len, &zone, &obj), 0);
    msgpack_zone_destroy(&zone);
  }
  msgpack_sbuffer_destroy(&sb);
}

static void test_alloc_failure_injection(void **state) {
  (void)state;
  sm_alloc_fail_after(1);
  void *a = sm_malloc(16);
  void *b = sm_malloc(16);
  assert_non_null(a);
  assert_null(b);
  sm_alloc_fail_reset();
  b = sm_malloc(16);
  assert_non_null(b);
  sm_free(a);
  sm_free(b);
  sm_free(NULL);
}

static void test_atomic_write_and_bounded_read(void **state) {
  (void)state;
  char dir[] = "/tmp/sm-test-common-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  assert_int_equal(sm_path_join(path, sizeof(path), dir, "f"), 0);
  assert_int_equal(sm_fs_write_atomic(path, "abc", 3, 0600), 0);
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(sm_fs_read_file(path, 3, &buf, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(buf, "abc", 3);
  sm_free(buf);
  assert_int_equal(sm_fs_read_file(path, 2, &buf, &len), SM_ETOOBIG);
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
  assert_int_equal(sm_fs_mkdir_p(sub, 0700), 0);
  assert_int_equal(sm_fs_mkdir_p(sub, 0700), 0);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_is_zero(void **state) {
  (void)state;
  uint8_t buf[4099] = {0};
  assert_true(sm_is_zero(buf, sizeof(buf)));
  assert_true(sm_is_zero(buf + 1, sizeof(buf) - 1));
  buf[4098] = 1;
  assert_false(sm_is_zero(buf, sizeof(buf)));
  assert_false(sm_is_zero(buf + 3, sizeof(buf) - 3));
  assert_true(sm_is_zero(buf, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror_names_every_code),
      cmocka_unit_test(test_hex_round_trip),
      cmocka_unit_test(test_mp_check_refuses_impossible_counts),
      cmocka_unit_test(test_mp_unpack_round_trip_and_prefixes),
      cmocka_unit_test(test_alloc_failure_injection),
      cmocka_unit_test(test_atomic_write_and_bounded_read),
      cmocka_unit_test(test_is_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_node_http.c - unit tests for the metrics endpoint's request parser
 * (node/http.c): valid heads, every strict prefix ("need more"), the size
 * and header-count limits, and malformed request lines and headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node_internal.h"

static int parse(const char *s, struct node__http_request *r) {
  return node__http_parse((const uint8_t *)s, strlen(s), r);
}

static void test_valid(void **state) {
  (void)state;
  struct node__http_request r;
  const char *curl = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9400\r\n"
                     "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
  assert_int_equal(parse(curl, &r), (int)strlen(curl));
  assert_string_equal(r.method, "GET");
  assert_string_equal(r.path, "/metrics");
  assert_int_equal(r.minor, 1);
  /* Bare LF, HTTP/1.0, no headers, and bytes after the head (not read). */
  const char *lf = "HEAD /metrics?x=1 HTTP/1.0\n\nBODY";
  assert_int_equal(parse(lf, &r), (int)strlen(lf) - 4);
  assert_string_equal(r.method, "HEAD");
  assert_string_equal(r.path, "/metrics?x=1");
  assert_int_equal(r.minor, 0);
  /* Every strict prefix needs more, and reads stay within it (ASan). */
  for (size_t i = 0; i < strlen(curl); i++) {
    uint8_t *copy = malloc(i + 1);
    memcpy(copy, curl, i);
    int rc = node__http_parse(copy, i, &r);
    assert_int_equal(rc, SM_EMORE);
    free(copy);
  }
}

static void test_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "get /metrics HTTP/1.1\r\n\r\n",          /* method case */
      "GET metrics HTTP/1.1\r\n\r\n",           /* target must start with / */
      "GET /metrics HTTP/2.0\r\n\r\n",          /* version */
      "GET /metrics HTTP/1.1 \r\n\r\n",         /* trailing space */
      "GET  /metrics HTTP/1.1\r\n\r\n",         /* two spaces */
      "GET /met rics HTTP/1.1\r\n\r\n",         /* space in target */
      "GETTINGX /metrics HTTP/1.1\r\n\r\n",     /* method too long */
      "GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nX: a\rb\r\n\r\n", /* CR inside a value */
      "GET /metrics HTTP/1.1\r\nX: \x01\r\n\r\n",
      "\r\n\r\n",
  };
  struct node__http_request r;
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    if (parse(bad[i], &r) != SM_EMALFORMED) {
      fail_msg("case %zu was not refused: %s", i, bad[i]);
    }
  }
  /* A target over the path limit. */
  char longpath[600];
  snprintf(longpath, sizeof(longpath), "GET /%0300d HTTP/1.1\r\n\r\n", 0);
  assert_int_equal(parse(longpath, &r), SM_EMALFORMED);
}

static void test_limits(void **state) {
  (void)state;
  struct node__http_request r;
  char *buf = malloc(NODE__HTTP_HEAD_MAX + 100);
  size_t len = (size_t)sprintf(buf, "GET /metrics HTTP/1.1\r\n");
  /* Too many headers. */
  for (int i = 0; i <= NODE__HTTP_HEADERS_MAX; i++) {
    len += (size_t)sprintf(buf + len, "X-%d: v\r\n", i);
  }
  len += (size_t)sprintf(buf + len, "\r\n");
  assert_int_equal(node__http_parse((uint8_t *)buf, len, &r), SM_EMALFORMED);
  /* A head that never ends within the limit. */
  len = (size_t)sprintf(buf, "GET /metrics HTTP/1.1\r\nX: ");
  memset(buf + len, 'a', NODE__HTTP_HEAD_MAX + 100 - len);
  assert_int_equal(node__http_parse((uint8_t *)buf, NODE__HTTP_HEAD_MAX + 100, &r), SM_ETOOBIG);
  assert_int_equal(node__http_parse((uint8_t *)buf, NODE__HTTP_HEAD_MAX - 1, &r), SM_EMORE);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_node_generation.c - the gossip generation grows across starts even
 * when the wall clock is set back, and a damaged record falls back to the
 * clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/node_internal.h"

static void write_file(const char *dir, const char *text) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/gossip-generation", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_generation_grows(void **state) {
  (void)state;
  char dir[] = "/tmp/sm-gen.XXXXXX";
  uint64_t g = 0;
  assert_non_null(mkdtemp(dir));
  assert_int_equal(node__generation_next(dir, 1000, &g), 0);
  assert_int_equal(g, 1000);
  assert_int_equal(node__generation_next(dir, 2000, &g), 0); /* clock moved on */
  assert_int_equal(g, 2000);
  assert_int_equal(node__generation_next(dir, 500, &g), 0); /* clock set back */
  assert_int_equal(g, 2001);
  assert_int_equal(node__generation_next(dir, 2001, &g), 0); /* same second */
  assert_int_equal(g, 2002);
  write_file(dir, "12x\n"); /* damaged: the clock decides */
  assert_int_equal(node__generation_next(dir, 700, &g), 0);
  assert_int_equal(g, 700);
  write_file(dir, "99999999999999999999999\n"); /* too long */
  assert_int_equal(node__generation_next(dir, 800, &g), 0);
  assert_int_equal(g, 800);
  write_file(dir, "4294967295\n"); /* at the cap: stays there */
  assert_int_equal(node__generation_next(dir, 900, &g), 0);
  assert_int_equal(g, 900);
  assert_int_equal(node__generation_next(dir, 0xFFFFFFFFull + 5, &g), 0);
  assert_int_equal(g, 0xFFFFFFFFull);
  char path[4200];
  snprintf(path, sizeof(path), "%s/gossip-generation", dir);
  unlink(path);
  rmdir(dir);
  assert_int_not_equal(node__generation_next("/nonexistent/sm-gen", 5, &g), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generation_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sst.c - unit tests for the Galera pieces that touch no server: the
 * SST method's joiner address and donor answer (cli/sst_line.c), the IST
 * window decision and the preload line of a mariadbd log (engine/galera.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define UUID "2096eb41-e618-11f1-bc91-5e4c9602a8ef"

static int addr(const char *s, struct cli_sst_address *a) {
  return cli_sst_address_parse(s, strlen(s), a);
}

static void test_address(void **state) {
  (void)state;
  struct cli_sst_address a;
  assert_int_equal(addr("127.0.0.1:4444/seedmesh/" NONCE, &a), 0);
  assert_string_equal(a.host, "127.0.0.1");
  assert_int_equal(a.port, 4444);
  assert_string_equal(a.nonce, NONCE);
  assert_int_equal(addr("[::1]:5/seedmesh/" NONCE, &a), 0);
  assert_string_equal(a.host, "::1");
  static const char *const bad[] = {
      "127.0.0.1/seedmesh/" NONCE,               /* no port */
      "127.0.0.1:0/seedmesh/" NONCE,             /* port 0 */
      "127.0.0.1:65536/seedmesh/" NONCE,         /* too big */
      "127.0.0.1:044/seedmesh/" NONCE,           /* leading zero */
      "127.0.0.1:4444/rsync_sst",                /* another method */
      "127.0.0.1:4444/xtrabackup_sst//1",        /* another method */
      "127.0.0.1:4444/seedmesh/0123",            /* short nonce */
      "127.0.0.1:4444/seedmesh/" NONCE "0",      /* long nonce */
      "127.0.0.1:4444/seedmesh/0123456789ABCDEF0123456789abcdef", /* upper case */
      "ho st:4444/seedmesh/" NONCE,              /* space */
      "[::1:4444/seedmesh/" NONCE,               /* unclosed bracket */
      "a:b:4444/seedmesh/" NONCE,                /* v6 without brackets */
      "",
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    assert_int_equal(addr(bad[i], &a), SM_EMALFORMED);
  }
  assert_int_equal(cli_sst_hostport_parse("10.1.2.3", 8, 4444, &a), 0);
  assert_int_equal(a.port, 4444);
  assert_int_equal(cli_sst_hostport_parse("h:99", 4, 4444, &a), 0);
  assert_int_equal(a.port, 99);
  assert_int_equal(cli_sst_hostport_parse("h:", 2, 4444, &a), SM_EMALFORMED);
}

static int answer(const char *s, struct cli_sst_answer *a) {
  return cli_sst_answer_parse((const uint8_t *)s, strlen(s), a);
}

static void test_answer_round_trip(void **state) {
  (void)state;
  static const char *const good[] = {
      "SEEDMESH-SST 1 " NONCE " manifest "
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
      "SEEDMESH-SST 1 " NONCE " bypass " UUID ":11 0\n",
      "SEEDMESH-SST 1 " NONCE " error donor: the snapshot is too old\n",
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(good); i++) {
    struct cli_sst_answer a;
    char out[CLI_SST_LINE_MAX + 1];
    assert_int_equal(answer(good[i], &a), 0);
    assert_int_equal(cli_sst_answer_format(&a, out, sizeof(out)), (int)strlen(good[i]));
    assert_string_equal(out, good[i]);
  }
  struct cli_sst_answer a;
  assert_int_equal(answer(good[1], &a), 0);
  assert_int_equal(a.kind, CLI_SST_BYPASS);
  assert_string_equal(a.uuid, UUID);
  assert_int_equal(a.seqno, 11);
}

static void test_answer_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "SEEDMESH-SST 1 " NONCE " manifest 0123\n",                  /* short id */
      "SEEDMESH-SST 1 " NONCE " bypass " UUID ":11\n",              /* no domain */
      "SEEDMESH-SST 1 " NONCE " bypass " UUID ":-1 0\n",            /* no position */
      "SEEDMESH-SST 1 " NONCE " bypass " UUID ":011 0\n",           /* leading zero */
      "SEEDMESH-SST 1 " NONCE " error \n",                          /* empty text */
      "SEEDMESH-SST 1 " NONCE " error a\tb\n",                      /* control char */
      "SEEDMESH-SST 1 " NONCE " hello\n",                           /* unknown kind */
      "SEEDMESH-SST 2 " NONCE " error x\n",                         /* version */
      "SEEDMESH-SST 1 " NONCE " error x",                           /* no newline */
      "SEEDMESH-SST 1 " NONCE " error x\n\n",                       /* two lines */
      "SEEDMESH-SST 1 0123 error x\n",                              /* short nonce */
      "\n",
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    struct cli_sst_answer a;
    assert_int_equal(answer(bad[i], &a), SM_EMALFORMED);
  }
  /* Every prefix of a good line is refused. */
  const char *good = "SEEDMESH-SST 1 " NONCE " bypass " UUID ":11 0\n";
  for (size_t n = 0; n < strlen(good); n++) {
    struct cli_sst_answer a;
    assert_int_equal(cli_sst_answer_parse((const uint8_t *)good, n, &a), SM_EMALFORMED);
  }
}

static void test_ist_window(void **state) {
  (void)state;
  char err[ENGINE_ERR_MAX];
  struct engine_galera_window w = {.cached_downto = 100, .last_committed = 500};
  snprintf(w.uuid, sizeof(w.uuid), "%s", UUID);
  assert_int_equal(engine_galera_ist_check(UUID, 99, &w, err), 0);   /* needs 100.. */
  assert_int_equal(engine_galera_ist_check(UUID, 500, &w, err), 0);  /* nothing to replay */
  assert_int_equal(engine_galera_ist_check(UUID, 98, &w, err), SM_EINCOMPAT);
  assert_non_null(strstr(err, "older than the donor's IST window"));
  assert_non_null(strstr(err, "gcache.size"));
  assert_int_equal(engine_galera_ist_check(UUID, 501, &w, err), SM_EINCOMPAT);
  assert_int_equal(engine_galera_ist_check(UUID, -1, &w, err), SM_EINCOMPAT);
  assert_int_equal(engine_galera_ist_check("00000000-0000-0000-0000-000000000000", 200, &w, err),
                   SM_EINCOMPAT);
  w.cached_downto = 0; /* empty gcache: only an up-to-date snapshot joins */
  assert_int_equal(engine_galera_ist_check(UUID, 499, &w, err), SM_EINCOMPAT);
}

static void test_preload_line(void **state) {
  (void)state;
  int64_t v = -1, e = -1;
  const char *log = "x WSREP: Cert index preload: 490 -> 565\n"
                    "y WSREP: Cert index preload: 618 -> 650\nz\n";
  assert_int_equal(engine_galera_parse_preload((const uint8_t *)log, strlen(log), &v, &e), 0);
  assert_int_equal(v, 618);
  assert_int_equal(e, 650);
  /* the last well-formed line wins; a torn last line does not count */
  const char *torn = "Cert index preload: 619 -> 749\r\nCert index preload: 700 -> 7";
  assert_int_equal(engine_galera_parse_preload((const uint8_t *)torn, strlen(torn) - 1, &v, &e),
                   0);
  assert_int_equal(v, 619);
  assert_int_equal(e, 749);
  const char *none = "WSREP: Cert index preload: -> 5\nCert index preload: 7\n"
                     "Cert index preload: 8 -> x\nCert index preload: 9 - 10\n";
  v = e = -1;
  assert_int_equal(engine_galera_parse_preload((const uint8_t *)none, strlen(none), &v, &e),
                   SM_ENOTFOUND);
  assert_int_equal(v, -1);
  assert_int_equal(e, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_address),
      cmocka_unit_test(test_answer_round_trip),
      cmocka_unit_test(test_answer_malformed),
      cmocka_unit_test(test_ist_window),
      cmocka_unit_test(test_preload_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

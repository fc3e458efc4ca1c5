/* test_engine.c - unit tests for engine/'s pure parts: coordinate files
 * (every malformed variant and every prefix), the facts file, version
 * lines, compatibility decisions, join statements and their escaping,
 * server_id derivation, the backup privilege check and where passwords
 * come from (a 0600 file or env:NAME). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"
#include "engine/engine.h"

static int binlog(const char *s, struct engine_binlog_info *bi) {
  return engine_parse_binlog_info((const uint8_t *)s, strlen(s), bi);
}

static void test_binlog_info_valid(void **state) {
  (void)state;
  struct engine_binlog_info *bi = malloc(sizeof(*bi));
  assert_int_equal(binlog("mysql-bin.000001\t888\t0-11-3\n", bi), 0);
  assert_string_equal(bi->file, "mysql-bin.000001");
  assert_int_equal(bi->pos, 888);
  assert_string_equal(bi->gtid, "0-11-3");
  assert_int_equal(binlog("binlog.000002\t4", bi), 0); /* no GTID, no newline */
  assert_string_equal(bi->gtid, "");
  assert_int_equal(binlog("./binlog.000002\t4\t\n", bi), 0); /* empty GTID field */
  assert_int_equal(binlog("b.1\t18446744073709551615\t0-1-2,1-2-18446744073709551615\n", bi), 0);
  assert_int_equal(bi->pos, UINT64_MAX);
  assert_string_equal(bi->gtid, "0-1-2,1-2-18446744073709551615");
  free(bi);
}

static void test_binlog_info_malformed(void **state) {
  (void)state;
  struct engine_binlog_info *bi = malloc(sizeof(*bi));
  static const char *const bad[] = {
      "",                                  /* empty */
      "\n",                                /* only a newline */
      "binlog.000001\n",                   /* no position */
      "binlog.000001\t\t0-1-1\n",          /* empty position */
      "\t4\t0-1-1\n",                      /* empty file */
      "binlog.000001\t4x\t0-1-1\n",        /* junk in position */
      "binlog.000001\t-4\t0-1-1\n",        /* negative */
      "binlog.000001\t+4\t0-1-1\n",        /* sign */
      "binlog.000001\t04\t0-1-1\n",        /* leading zero */
      "binlog.000001\t18446744073709551616\t0-1-1\n", /* overflow */
      "binlog.000001\t4\t0-1\n",           /* short GTID */
      "binlog.000001\t4\t0-1-1-1\n",       /* long GTID */
      "binlog.000001\t4\t0-1-1,\n",        /* trailing comma */
      "binlog.000001\t4\t,0-1-1\n",        /* leading comma */
      "binlog.000001\t4\t0-1-1, 1-1-1\n",  /* space */
      "binlog.000001\t4\t4294967296-1-1\n", /* domain overflow */
      "binlog.000001\t4\t0-4294967296-1\n", /* server overflow */
      "binlog.000001\t4\t0-1-1\t\n",       /* fourth field */
      "binlog.000001\t4\t0-1-1\n\n",       /* two newlines */
      "binlog 000001\t4\t0-1-1\n",         /* space in file */
      "binlog.000001\r\t4\t0-1-1\n",       /* control byte */
      "binlog.000001\t4\t0-1-a\n",         /* letter */
      "binlog.000001\t4\t0--1\n",          /* empty part */
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    if (binlog(bad[i], bi) != SM_EMALFORMED) {
      fail_msg("accepted bad binlog info #%zu", i);
    }
  }
  /* A NUL inside, a 300-byte file name, and an over-long file. */
  assert_int_equal(engine_parse_binlog_info((const uint8_t *)"b\0.1\t4\n", 7, bi), SM_EMALFORMED);
  char name[400];
  memset(name, 'a', 300);
  snprintf(name + 300, sizeof(name) - 300, "\t4\n");
  assert_int_equal(binlog(name, bi), SM_EMALFORMED);
  uint8_t *big = calloc(1, ENGINE_COORD_FILE_MAX + 2);
  memset(big, '1', ENGINE_COORD_FILE_MAX + 1);
  assert_int_equal(engine_parse_binlog_info(big, ENGINE_COORD_FILE_MAX + 1, bi), SM_EMALFORMED);
  free(big);
  assert_int_equal(engine_parse_binlog_info(NULL, 0, bi), SM_EMALFORMED);
  free(bi);
}

static void test_binlog_info_every_prefix(void **state) {
  (void)state;
  const char *good = "mysql-bin.000001\t888\t0-11-3,1-2-40\n";
  struct engine_binlog_info *bi = malloc(sizeof(*bi));
  size_t n = strlen(good);
  for (size_t i = 0; i <= n; i++) {
    uint8_t *copy = malloc(i + 1); /* exact-size buffer: ASan sees over-reads */
    memcpy(copy, good, i);
    int rc = engine_parse_binlog_info(copy, i, bi);
    /* Prefixes that cut a number or a GTID short may still be valid shapes;
     * what matters is: no crash, and the full input parses. */
    assert_true(rc == 0 || rc == SM_EMALFORMED);
    free(copy);
  }
  assert_int_equal(binlog(good, bi), 0);
  free(bi);
}

static void test_galera_info(void **state) {
  (void)state;
  struct engine_galera_info g;
  const char *ok1 = "2096eb41-e618-11f1-bc91-5e4c9602a8ef:11 0\n";
  assert_int_equal(engine_parse_galera_info((const uint8_t *)ok1, strlen(ok1), &g), 0);
  assert_string_equal(g.uuid, "2096eb41-e618-11f1-bc91-5e4c9602a8ef");
  assert_int_equal(g.seqno, 11);
  assert_int_equal(g.has_domain, 1);
  assert_int_equal(g.domain_id, 0);
  const char *ok2 = "2096eb41-e618-11f1-bc91-5e4c9602a8ef:-1"; /* no newline, no domain */
  assert_int_equal(engine_parse_galera_info((const uint8_t *)ok2, strlen(ok2), &g), 0);
  assert_int_equal(g.seqno, -1);
  assert_int_equal(g.has_domain, 0);
  static const char *const bad[] = {
      "",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:x 0\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:-2 0\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:11 \n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:11 0 1\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:11 4294967296\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef:9223372036854775808 0\n",
      "2096eb41xe618-11f1-bc91-5e4c9602a8ef:11 0\n",
      "2096eb4g-e618-11f1-bc91-5e4c9602a8ef:11 0\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8e:11 0\n",
      "2096eb41-e618-11f1-bc91-5e4c9602a8ef;11 0\n",
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    if (engine_parse_galera_info((const uint8_t *)bad[i], strlen(bad[i]), &g) != SM_EMALFORMED) {
      fail_msg("accepted bad galera info #%zu", i);
    }
  }
  size_t n = strlen(ok1);
  for (size_t i = 0; i < n; i++) {
    uint8_t *copy = malloc(i + 1);
    memcpy(copy, ok1, i);
    int rc = engine_parse_galera_info(copy, i, &g);
    assert_true(rc == 0 || rc == SM_EMALFORMED);
    free(copy);
  }
}

static void test_facts_file_round_trip_and_rejects(void **state) {
  (void)state;
  struct engine_kvset f, c, f2, c2;
  engine_kvset_init(&f);
  engine_kvset_init(&c);
  engine_kvset_init(&f2);
  engine_kvset_init(&c2);
  assert_int_equal(engine_kvset_set(&f, "flavor", "mariadb"), 0);
  assert_int_equal(engine_kvset_set(&f, "version", "10.11.19-MariaDB-log"), 0);
  assert_int_equal(engine_kvset_set(&c, "gtid_binlog_pos", "0-1-5"), 0);
  assert_int_equal(engine_kvset_set(&f, "version", "10.11.20"), 0); /* replace */
  char *text;
  size_t len;
  assert_int_equal(engine_format_facts_file(&f, &c, &text, &len), 0);
  assert_int_equal(engine_parse_facts_file((uint8_t *)text, len, &f2, &c2), 0);
  assert_string_equal(engine_kvset_get(&f2, "version"), "10.11.20");
  assert_string_equal(engine_kvset_get(&c2, "gtid_binlog_pos"), "0-1-5");
  assert_null(engine_kvset_get(&c2, "version"));
  sm_free(text);
  static const char *const bad[] = {
      "fact.a=1",               /* no final newline */
      "fact.=1\n",              /* empty key */
      "fact.a\n",               /* no '=' */
      "other.a=1\n",            /* unknown section */
      "fact.A=1\n",             /* upper case key */
      "fact.a=1\nfact.a=2\n",   /* duplicate */
      "fact.a=\x01\n",          /* control byte */
      "fact.a-b=1\n",           /* bad key char */
      "\n",                     /* empty line */
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(bad); i++) {
    struct engine_kvset x, y;
    engine_kvset_init(&x);
    engine_kvset_init(&y);
    if (engine_parse_facts_file((const uint8_t *)bad[i], strlen(bad[i]), &x, &y) !=
        SM_EMALFORMED) {
      fail_msg("accepted bad facts file #%zu", i);
    }
    engine_kvset_cleanup(&x);
    engine_kvset_cleanup(&y);
  }
  /* More than ENGINE_KV_MAX lines is refused, not grown. */
  char *many = malloc(ENGINE_KV_MAX * 16 + 64);
  size_t ml = 0;
  for (int i = 0; i <= ENGINE_KV_MAX; i++) {
    ml += (size_t)sprintf(many + ml, "fact.k%d=v\n", i);
  }
  struct engine_kvset x, y;
  engine_kvset_init(&x);
  engine_kvset_init(&y);
  assert_int_equal(engine_parse_facts_file((uint8_t *)many, ml, &x, &y), SM_EMALFORMED);
  engine_kvset_cleanup(&x);
  engine_kvset_cleanup(&y);
  free(many);
  engine_kvset_cleanup(&f);
  engine_kvset_cleanup(&c);
  engine_kvset_cleanup(&f2);
  engine_kvset_cleanup(&c2);
}

static void test_version_lines(void **state) {
  (void)state;
  char v[128], m[64], s[32];
  assert_int_equal(engine_parse_server_version(
                       "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 "
                       "(Debian 12)\n", v, m), 0);
  assert_string_equal(v, "10.11.19-MariaDB-0+deb12u1");
  assert_string_equal(m, "x86_64");
  assert_int_equal(engine_version_series(v, s), 0);
  assert_string_equal(s, "10.11");
  assert_int_equal(engine_version_series("11.4.2", s), 0);
  assert_string_equal(s, "11.4");
  assert_int_equal(engine_version_series("10", s), SM_EMALFORMED);
  assert_int_equal(engine_version_series("x.1", s), SM_EMALFORMED);
  assert_int_equal(engine_version_series("10.", s), SM_EMALFORMED);
  assert_int_equal(engine_parse_server_version("garbage", v, m), SM_EMALFORMED);
  assert_int_equal(engine_parse_server_version("mariadbd Ver nonsense", v, m), SM_EMALFORMED);
}

static void facts(struct engine_kvset *s, const char *flavor, const char *version,
                  const char *machine, const char *page) {
  engine_kvset_init(s);
  if (flavor) {
    engine_kvset_set(s, "flavor", flavor);
  }
  if (version) {
    engine_kvset_set(s, "version", version);
  }
  if (machine) {
    engine_kvset_set(s, "machine", machine);
  }
  if (page) {
    engine_kvset_set(s, "innodb_page_size", page);
  }
}

static void test_compat_decisions(void **state) {
  (void)state;
  struct { const char *flavor, *ver, *mach, *page, *lver, *lmach, *lpage; int ok;
           const char *words; } cases[] = {
      {"mariadb", "10.11.19-MariaDB-log", "x86_64", "16384", "10.11.6-MariaDB", "x86_64", NULL,
       1, ""},
      {"mariadb", "10.11.19-MariaDB-log", "x86_64", "16384", "10.6.1-MariaDB", "x86_64", NULL, 0,
       "version mismatch"},
      {"mariadb", "10.11.19", "x86_64", "16384", "11.4.2", "x86_64", NULL, 0, "series 10.11"},
      {"mariadb", "10.11.19", "aarch64", "16384", "10.11.19", "x86_64", NULL, 0,
       "machine mismatch"},
      {"mariadb", "10.11.19", "x86_64", "12345", "10.11.19", "x86_64", NULL, 0,
       "innodb_page_size"},
      {"mariadb", "10.11.19", "x86_64", "16384", "10.11.19", "x86_64", "65536", 0,
       "page size mismatch"},
      {"mysql", "8.0.36", "x86_64", "16384", "10.11.19", "x86_64", NULL, 0, "not a MariaDB"},
      {NULL, "10.11.19", "x86_64", "16384", "10.11.19", "x86_64", NULL, 0, "not a MariaDB"},
      {"mariadb", NULL, "x86_64", "16384", "10.11.19", "x86_64", NULL, 0, "version"},
      {"mariadb", "10.11.19", "x86_64", "16384", "weird", "x86_64", NULL, 0, "local server"},
  };
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    struct engine_kvset snap, local;
    facts(&snap, cases[i].flavor, cases[i].ver, cases[i].mach, cases[i].page);
    facts(&local, NULL, cases[i].lver, cases[i].lmach, cases[i].lpage);
    char err[ENGINE_ERR_MAX] = "";
    int rc = engine_mariadb_compat(&snap, &local, err);
    if (cases[i].ok ? rc != 0 : rc != SM_EINCOMPAT) {
      fail_msg("case %zu: rc %d (%s)", i, rc, err);
    }
    if (!cases[i].ok && strstr(err, cases[i].words) == NULL) {
      fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].words);
    }
    assert_null(strchr(err, '\n'));
    engine_kvset_cleanup(&snap);
    engine_kvset_cleanup(&local);
  }
}

static void test_sql_quote_and_join_statements(void **state) {
  (void)state;
  char out[256] = "";
  assert_int_equal(engine_sql_quote(out, sizeof(out), "a'b\\c\nd\re\x1a"), 0);
  assert_string_equal(out, "'a\\'b\\\\c\\nd\\re\\Z'");
  char small[6] = "";
  assert_int_equal(engine_sql_quote(small, sizeof(small), "abcd"), SM_ETOOBIG);
  char fits[7] = "";
  assert_int_equal(engine_sql_quote(fits, sizeof(fits), "abcd"), 0);
  assert_string_equal(fits, "'abcd'");

  struct engine_join_options o = {.source_host = "db'1", .source_port = 3306,
                                  .user = "re\\pl", .password = "p'w\";--", .gtid = "0-1-5,1-2-3"};
  char g[512], cm[512];
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, sizeof(g)), 0);
  assert_string_equal(g, "SET GLOBAL gtid_slave_pos='0-1-5,1-2-3'");
  assert_string_equal(cm, "CHANGE MASTER TO MASTER_HOST='db\\'1', MASTER_PORT=3306, "
                          "MASTER_USER='re\\\\pl', MASTER_PASSWORD='p\\'w\";--', "
                          "MASTER_USE_GTID=slave_pos");
  o.gtid = "";
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, sizeof(g)), 0);
  assert_string_equal(g, "SET GLOBAL gtid_slave_pos=''");
  o.gtid = "0-1-5'; DROP TABLE x; --";
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, sizeof(g)), SM_EINVAL);
  o.gtid = "0-1-5";
  o.source_port = 0;
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, sizeof(g)), SM_EINVAL);
  o.source_port = 3306;
  o.source_host = "";
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, sizeof(g)), SM_EINVAL);
  o.source_host = "h";
  assert_int_equal(engine_mariadb_join_sql(&o, g, cm, 40), SM_ETOOBIG);
}

static void test_server_id_derivation(void **state) {
  (void)state;
  uint32_t a = engine_server_id_derive("key-a /data", 3307, 1);
  assert_int_equal(a, engine_server_id_derive("key-a /data", 3307, 1)); /* stable */
  assert_true(a >= 1000);
  assert_int_not_equal(a, engine_server_id_derive("key-b /data", 3307, 1));
  assert_int_not_equal(a, engine_server_id_derive("key-a /data", 3308, 1));
  /* Never the id to avoid. */
  uint32_t b = engine_server_id_derive("key-a /data", 3307, a);
  assert_int_not_equal(a, b);
  assert_true(b >= 1000);
  /* Spread: 1000 seeds give 1000 distinct ids. */
  uint32_t *ids = malloc(1000 * sizeof(*ids));
  for (int i = 0; i < 1000; i++) {
    char seed[32];
    snprintf(seed, sizeof(seed), "node%d", i);
    ids[i] = engine_server_id_derive(seed, 0, 1);
    for (int j = 0; j < i; j++) {
      assert_int_not_equal(ids[i], ids[j]);
    }
  }
  free(ids);
}

static void test_grants(void **state) {
  (void)state;
  char miss[256];
  const char *root[] = {"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"};
  assert_int_equal(engine_mariadb_grants_missing(root, 1, miss, sizeof(miss)), 0);
  assert_string_equal(miss, "");
  const char *some[] = {"GRANT RELOAD, PROCESS ON *.* TO `b`@`localhost` IDENTIFIED BY PASSWORD "
                        "'*X'"};
  assert_int_equal(engine_mariadb_grants_missing(some, 1, miss, sizeof(miss)), 2);
  assert_string_equal(miss, "LOCK TABLES, BINLOG MONITOR");
  const char *full[] = {"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `b`@`%`"};
  assert_int_equal(engine_mariadb_grants_missing(full, 1, miss, sizeof(miss)), 0);
  const char *old[] = {"GRANT RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT ON *.* TO `b`@`%`"};
  assert_int_equal(engine_mariadb_grants_missing(old, 1, miss, sizeof(miss)), 0);
  /* Database-level grants do not count; "RELOADX" is not RELOAD. */
  const char *db[] = {"GRANT USAGE ON *.* TO `b`@`%`",
                      "GRANT ALL PRIVILEGES ON `app`.* TO `b`@`%`",
                      "GRANT RELOADX ON *.* TO `b`@`%`"};
  assert_int_equal(engine_mariadb_grants_missing(db, 3, miss, sizeof(miss)), 4);
}

static void test_kvset_limits(void **state) {
  (void)state;
  struct engine_kvset s;
  engine_kvset_init(&s);
  char key[80];
  for (int i = 0; i < ENGINE_KV_MAX; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    assert_int_equal(engine_kvset_set(&s, key, "v"), 0);
  }
  assert_int_equal(engine_kvset_set(&s, "one-more", "v"), SM_EFULL);
  assert_int_equal(engine_kvset_set(&s, "k3", "replaced"), 0);
  assert_string_equal(engine_kvset_get(&s, "k3"), "replaced");
  memset(key, 'k', 70);
  key[70] = '\0';
  assert_int_equal(engine_kvset_set(&s, key, "v"), SM_EINVAL);
  assert_int_equal(engine_kvset_set(&s, "", "v"), SM_EINVAL);
  engine_kvset_cleanup(&s);
  /* Allocation failure leaves the set intact and leaks nothing. */
  engine_kvset_init(&s);
  sm_alloc_fail_after(0);
  assert_int_equal(engine_kvset_set(&s, "a", "b"), SM_ENOMEM);
  sm_alloc_fail_reset();
  assert_int_equal(s.n, 0);
  engine_kvset_cleanup(&s);
}

static void test_engine_table(void **state) {
  (void)state;
  assert_non_null(engine_find("dir"));
  assert_non_null(engine_find("mariadb"));
  assert_null(engine_find("oracle"));
  const struct engine_ops *d = engine_find("dir");
  struct engine_snapshot snap;
  engine_snapshot_init(&snap);
  struct engine_snapshot_options o = {.source = "/"};
  char err[ENGINE_ERR_MAX];
  assert_int_equal(d->snapshot(&o, &snap, err), 0);
  assert_string_equal(snap.dir, "/");
  assert_int_equal(snap.remove_after, 0);
  assert_string_equal(engine_kvset_get(&snap.facts, "flavor"), "dir");
  engine_snapshot_cleanup(&snap);
  engine_snapshot_init(&snap);
  o.source = "/nonexistent/seedmesh";
  assert_int_equal(d->snapshot(&o, &snap, err), SM_EINVAL);
  engine_snapshot_cleanup(&snap);
}

static void test_password_sources(void **state) {
  (void)state;
  char out[1025];
  char err[ENGINE_ERR_MAX];
  char path[] = "/tmp/sm-test-pw-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "s3cret\nsecond line\n", 19), 19);
  close(fd);
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(engine_password_read(path, out, err), 0);
  assert_string_equal(out, "s3cret");
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(engine_password_read(path, out, err), SM_EINVAL);
  assert_non_null(strstr(err, "chmod 600"));
  unlink(path);

  assert_int_equal(setenv("SM_TEST_PW", "from env\nignored", 1), 0);
  assert_int_equal(engine_password_read("env:SM_TEST_PW", out, err), 0);
  assert_string_equal(out, "from env");
  unsetenv("SM_TEST_PW");
  assert_int_equal(engine_password_read("env:SM_TEST_PW", out, err), SM_EINVAL);
  assert_non_null(strstr(err, "SM_TEST_PW is not set"));
  assert_int_equal(engine_password_read("env:1BAD", out, err), SM_EINVAL);
  assert_int_equal(engine_password_read("env:", out, err), SM_EINVAL);
  assert_int_equal(engine_password_read("env:A-B", out, err), SM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binlog_info_valid),
      cmocka_unit_test(test_binlog_info_malformed),
      cmocka_unit_test(test_binlog_info_every_prefix),
      cmocka_unit_test(test_galera_info),
      cmocka_unit_test(test_facts_file_round_trip_and_rejects),
      cmocka_unit_test(test_version_lines),
      cmocka_unit_test(test_compat_decisions),
      cmocka_unit_test(test_sql_quote_and_join_statements),
      cmocka_unit_test(test_server_id_derivation),
      cmocka_unit_test(test_grants),
      cmocka_unit_test(test_kvset_limits),
      cmocka_unit_test(test_engine_table),
      cmocka_unit_test(test_password_sources),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

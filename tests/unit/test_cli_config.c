/* test_cli_config.c - unit tests for the config-file parser (cli/config.c):
 * the my.cnf-like syntax, every rejection with its line number, the bounds,
 * refusal of secrets and unsafe files, and the arguments built from
 * [common] and a command's section. */
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

#include "cli/cli.h"
#include "common/common.h"

static const char sample[] =
    "\xef\xbb\xbf# seedmesh.cnf\r\n"
    "; another comment\n"
    "[common]\n"
    "control = /run/seedmesh/control.sock\n"
    "key=/etc/seedmesh/node.key\n"
    "json\n"
    "\n"
    "[ node ]\n"
    "listen = 10.0.0.1:7400   # the peer port\n"
    "max_upload = 100M\n"
    "seeds = \"10.0.0.2:7400,10.0.0.3:7400\"\n"
    "Log-Level = debug\n"
    "[join]\n"
    "replace = yes\n"
    "quiet = off\n"
    "start-command = 'systemctl start mariadb # not a comment'\n"
    "replication-password-file = /etc/seedmesh/repl.pw\n";

static int parse(struct cli_config *cfg, const char *text, char *err, size_t size) {
  return cli_config_parse(cfg, text, strlen(text), err, size);
}

static void test_parse_sample(void **state) {
  (void)state;
  struct cli_config *cfg = cli_config_new();
  char err[256] = "";
  assert_non_null(cfg);
  assert_int_equal(parse(cfg, sample, err, sizeof(err)), 0);
  assert_int_equal(cfg->n, 11);
  assert_string_equal(cfg->entries[0].section, "common");
  assert_string_equal(cfg->entries[0].key, "control");
  assert_string_equal(cfg->entries[0].value, "/run/seedmesh/control.sock");
  assert_int_equal(cfg->entries[0].line, 4);
  assert_null(cfg->entries[2].value);
  assert_string_equal(cfg->entries[3].section, "node");
  assert_string_equal(cfg->entries[3].value, "10.0.0.1:7400");
  assert_string_equal(cfg->entries[4].key, "max-upload");
  assert_string_equal(cfg->entries[5].value, "10.0.0.2:7400,10.0.0.3:7400");
  assert_string_equal(cfg->entries[6].key, "log-level");
  assert_string_equal(cfg->entries[9].value, "systemctl start mariadb # not a comment");
  cli_config_free(cfg);
}

static void test_argv(void **state) {
  (void)state;
  struct cli_config *cfg = cli_config_new();
  char err[256] = "";
  char **args = NULL;
  int n = 0;
  assert_int_equal(parse(cfg, sample, err, sizeof(err)), 0);
  /* node takes control and key from [common] (json is not in its list). */
  assert_int_equal(cli_config_argv(cfg, "node", "control key trust", &args, &n), 0);
  assert_int_equal(n, 6);
  assert_string_equal(args[0], "--control=/run/seedmesh/control.sock");
  assert_string_equal(args[1], "--key=/etc/seedmesh/node.key");
  assert_string_equal(args[2], "--listen=10.0.0.1:7400");
  assert_string_equal(args[5], "--log-level=debug");
  cli_config_args_free(args, n);
  /* A switch: "yes" gives it, "off" leaves it out. */
  assert_int_equal(cli_config_argv(cfg, "join", "control json", &args, &n), 0);
  assert_int_equal(n, 5);
  assert_string_equal(args[1], "--json");
  assert_string_equal(args[2], "--replace");
  assert_string_equal(args[3], "--start-command=systemctl start mariadb # not a comment");
  cli_config_args_free(args, n);
  /* A command without a section gets only its common keys. */
  assert_int_equal(cli_config_argv(cfg, "keygen", "", &args, &n), 0);
  assert_int_equal(n, 0);
  cli_config_args_free(args, n);
  assert_int_equal(cli_config_check_sections(cfg, "node join", err, sizeof(err)), 0);
  assert_int_equal(cli_config_check_sections(cfg, "node", err, sizeof(err)), SM_EMALFORMED);
  assert_non_null(strstr(err, ":13: unknown section [join]"));
  cli_config_free(cfg);
}

struct bad_case {
  const char *text;
  const char *want; /* expected in the message, after "line N: " */
  unsigned line;
};

static void test_rejects(void **state) {
  (void)state;
  static const struct bad_case cases[] = {
      {"listen = x\n", "before any [section]", 1},
      {"[node]\nlisten x y\n", "expected 'name = value'", 2},
      {"[node]\n= 5\n", "expected 'name = value'", 2},
      {"[node\n", "section header", 1},
      {"[]\n", "section header", 1},
      {"[no de]\n", "section names", 1},
      {"[join]\n\nreplication-password = hunter2\n", "secrets never go in the config file", 3},
      {"[snapshot]\npassword=x\n", "set password-file = PATH", 2},
      {"[common]\nconfig = /x\n", "cannot be set inside", 2},
      {"[node]\nlisten =\n", "has no value", 2},
      {"[node]\nlisten = \"1.2.3.4\n", "unterminated quote", 2},
      {"[node]\nlisten = \"a\" b\n", "unterminated quote", 2},
      {"[node]\nlisten = a\tb\x01\n", "control character", 2},
      {"!include /etc/other.cnf\n", "not supported", 1},
  };
  struct cli_config *cfg = cli_config_new();
  for (size_t i = 0; i < SM_ARRAY_LEN(cases); i++) {
    char err[256] = "";
    char want[64];
    assert_int_equal(parse(cfg, cases[i].text, err, sizeof(err)), SM_EMALFORMED);
    snprintf(want, sizeof(want), "line %u: ", cases[i].line);
    if (strncmp(err, want, strlen(want)) != 0 || strstr(err, cases[i].want) == NULL) {
      fail_msg("case %zu: got '%s', want '%s...%s'", i, err, want, cases[i].want);
    }
  }
  /* NUL inside a line. */
  char err[256];
  assert_int_equal(cli_config_parse(cfg, "[a]\nb = c\0d\n", 11, err, sizeof(err)), SM_EMALFORMED);
  assert_non_null(strstr(err, "line 2: holds a NUL"));
  cli_config_free(cfg);
}

static void test_bounds(void **state) {
  (void)state;
  struct cli_config *cfg = cli_config_new();
  char err[256];
  size_t cap = CLI_CONFIG_FILE_MAX + 2;
  char *text = malloc(cap);
  assert_non_null(text);
  /* A line longer than the limit. */
  memset(text, 'a', cap);
  memcpy(text, "[a]\nk = ", 8);
  assert_int_equal(cli_config_parse(cfg, text, CLI_CONFIG_LINE_MAX + 100, err, sizeof(err)),
                   SM_EMALFORMED);
  assert_non_null(strstr(err, "line 2: longer than"));
  /* A file over the size limit is refused before parsing. */
  assert_int_equal(cli_config_parse(cfg, text, CLI_CONFIG_FILE_MAX + 1, err, sizeof(err)),
                   SM_ETOOBIG);
  /* More settings than the table holds. */
  size_t len = (size_t)snprintf(text, cap, "[node]\n");
  for (int i = 0; i <= CLI_CONFIG_ENTRIES_MAX; i++) {
    len += (size_t)snprintf(text + len, cap - len, "k%d = v\n", i);
  }
  assert_int_equal(cli_config_parse(cfg, text, len, err, sizeof(err)), SM_EMALFORMED);
  assert_non_null(strstr(err, "more than 256 settings"));
  /* A name at the limit is fine, one more is not. */
  len = (size_t)snprintf(text, cap, "[node]\n%0*d = 1\n", CLI_CONFIG_NAME_MAX, 0);
  assert_int_equal(cli_config_parse(cfg, text, len, err, sizeof(err)), 0);
  len = (size_t)snprintf(text, cap, "[node]\n%0*d = 1\n", CLI_CONFIG_NAME_MAX + 1, 0);
  assert_int_equal(cli_config_parse(cfg, text, len, err, sizeof(err)), SM_EMALFORMED);
  free(text);
  cli_config_free(cfg);
}

/* Every prefix of a valid file parses or fails cleanly (ASan checks reads). */
static void test_prefixes(void **state) {
  (void)state;
  struct cli_config *cfg = cli_config_new();
  size_t len = strlen(sample);
  for (size_t i = 0; i <= len; i++) {
    char *copy = malloc(i + 1);
    char err[256];
    memcpy(copy, sample, i);
    int rc = cli_config_parse(cfg, copy, i, err, sizeof(err));
    assert_true(rc == 0 || rc == SM_EMALFORMED);
    free(copy);
  }
  cli_config_free(cfg);
}

static void write_file(const char *path, const char *text, int mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void test_load(void **state) {
  (void)state;
  const char *base = getenv("SM_TEST_TMPDIR");
  char dir[512], path[600], err[5000];
  snprintf(dir, sizeof(dir), "%s/cli-config-%d", base ? base : "/tmp", (int)getpid());
  assert_int_equal(sm_fs_mkdir_p(dir, 0700), 0);
  snprintf(path, sizeof(path), "%s/seedmesh.cnf", dir);
  struct cli_config *cfg = cli_config_new();
  write_file(path, "[node]\nlisten = 1.2.3.4:5\n[bogus]\nx = 1\n", 0600);
  assert_int_equal(cli_config_load(cfg, path, err, sizeof(err)), 0);
  assert_int_equal(cli_config_check_sections(cfg, "node", err, sizeof(err)), SM_EMALFORMED);
  char want[700];
  snprintf(want, sizeof(want), "%s:3: unknown section [bogus]", path);
  assert_non_null(strstr(err, want));
  write_file(path, "[node]\nlisten 1 2\n", 0600);
  assert_int_equal(cli_config_load(cfg, path, err, sizeof(err)), SM_EMALFORMED);
  snprintf(want, sizeof(want), "%s:2: expected", path);
  assert_non_null(strstr(err, want));
  /* Writable by others: refused, as it could make us run their commands. */
  write_file(path, "[node]\n", 0622);
  assert_int_equal(cli_config_load(cfg, path, err, sizeof(err)), SM_EINVAL);
  assert_non_null(strstr(err, "chmod go-w"));
  unlink(path);
  assert_true(cli_config_load(cfg, path, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "No such file"));
  rmdir(dir);
  cli_config_free(cfg);
}

static void test_find(void **state) {
  (void)state;
  char out[4096];
  int required = -1;
  assert_int_equal(cli_config_find("/x/given.cnf", out, sizeof(out), &required), 0);
  assert_string_equal(out, "/x/given.cnf");
  assert_int_equal(required, 1);
  setenv("SEEDMESH_CONFIG", "/x/env.cnf", 1);
  assert_int_equal(cli_config_find(NULL, out, sizeof(out), &required), 0);
  assert_string_equal(out, "/x/env.cnf");
  assert_int_equal(required, 1);
  unsetenv("SEEDMESH_CONFIG");
  setenv("XDG_CONFIG_HOME", "/nonexistent-sm", 1);
  int rc = cli_config_find(NULL, out, sizeof(out), &required);
  assert_int_equal(required, 0);
  assert_true(rc == SM_ENOTFOUND || strcmp(out, CLI_CONFIG_SYSTEM_PATH) == 0);
}

static void test_secret_names(void **state) {
  (void)state;
  assert_true(cli_config_key_is_secret("password"));
  assert_true(cli_config_key_is_secret("replication-password"));
  assert_true(cli_config_key_is_secret("local-passwd"));
  assert_false(cli_config_key_is_secret("password-file"));
  assert_false(cli_config_key_is_secret("replication-password-file"));
  assert_false(cli_config_key_is_secret("listen"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_sample), cmocka_unit_test(test_argv),
      cmocka_unit_test(test_rejects),      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_prefixes),     cmocka_unit_test(test_load),
      cmocka_unit_test(test_find),         cmocka_unit_test(test_secret_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

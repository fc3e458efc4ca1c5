/* fuzz_config.c - libFuzzer target for the config-file parser
 * (cli/config.c). Whatever parses must respect the documented bounds and
 * shapes (names of [a-z0-9-], values without control characters, no secret
 * settings), and the arguments built from it must be well formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > CLI_CONFIG_NAME_MAX) {
    abort();
  }
  for (size_t i = 0; i < len; i++) {
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct cli_config *cfg;
  char err[512];
  if (cfg == NULL) {
    cfg = cli_config_new();
  }
  /* Copy so that reads past the end are caught by ASan. */
  char *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL || cfg == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  int rc = cli_config_parse(cfg, buf, size, err, sizeof(err));
  if (rc == 0) {
    if (cfg->n > CLI_CONFIG_ENTRIES_MAX || cfg->values_used > sizeof(cfg->values)) {
      abort();
    }
    for (size_t i = 0; i < cfg->n; i++) {
      const struct cli_config_entry *e = &cfg->entries[i];
      check_name(e->section);
      check_name(e->key);
      if (cli_config_key_is_secret(e->key) || e->line == 0) {
        abort();
      }
      for (const char *p = e->value; p != NULL && *p; p++) {
        if ((unsigned char)*p < 0x20) {
          abort();
        }
      }
    }
    char **args = NULL;
    int n = 0;
    if (cli_config_argv(cfg, cfg->n ? cfg->entries[0].section : "node", "control key json",
                        &args, &n) == 0) {
      for (int i = 0; i < n; i++) {
        if (strncmp(args[i], "--", 2) != 0) {
          abort();
        }
      }
      cli_config_args_free(args, n);
    }
  } else if (rc != SM_EMALFORMED && rc != SM_ETOOBIG) {
    abort();
  } else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0') {
    abort();
  }
  free(buf);
  return 0;
}

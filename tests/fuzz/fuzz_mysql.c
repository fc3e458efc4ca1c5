/* fuzz_mysql.c - libFuzzer target for the mysql engine's parsers of what a
 * server (or a fetched snapshot) answers. The first byte picks the parser:
 *   0 a server version string     1 a `mysqld --version` line
 *   2 a GTID set (exact length, no terminator)
 *   3 a clone_status row: NUL-separated name, value, name, value...; a
 *     value of the single byte 0xff stands for SQL NULL
 * A GTID set that parses is re-parsed from a NUL-terminated copy and must
 * give the same counts; a clone_status row that parses must carry a GTID set
 * that parses on its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS_MAX 32

static char *terminated(const uint8_t *p, size_t len) {
  char *s = malloc(len + 1);
  memcpy(s, p, len);
  s[len] = '\0';
  return s;
}

static void clone_row(const uint8_t *p, size_t len) {
  char *s = terminated(p, len);
  const char *f[2 * FIELDS_MAX];
  size_t n = 0;
  for (size_t i = 0; i <= len && n < 2 * FIELDS_MAX;) {
    f[n++] = s + i;
    i += strlen(s + i) + 1;
  }
  const char *names[FIELDS_MAX], *values[FIELDS_MAX];
  size_t pairs = n / 2;
  for (size_t i = 0; i < pairs; i++) {
    names[i] = f[2 * i];
    values[i] = strcmp(f[2 * i + 1], "\xff") == 0 ? NULL : f[2 * i + 1];
  }
  struct engine_mysql_clone_status *cs = malloc(sizeof(*cs));
  if (engine_mysql_clone_status_parse(pairs, names, values, cs) == 0 &&
      engine_mysql_gtid_set_parse(cs->gtid_executed, strlen(cs->gtid_executed), NULL, NULL) != 0) {
    abort();
  }
  free(cs);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  uint8_t mode = data[0] % 4;
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  if (mode == 0) {
    char *s = terminated(p, len);
    struct engine_mysql_version v;
    engine_mysql_version_parse(s, &v);
    free(s);
  } else if (mode == 1) {
    char *s = terminated(p, len);
    char version[128], os[64], machine[64];
    if (engine_mysql_parse_version_line(s, version, os, machine) == 0) {
      struct engine_mysql_version v;
      if (engine_mysql_version_parse(version, &v) != 0) {
        abort();
      }
    }
    free(s);
  } else if (mode == 2) {
    /* an exact-size heap copy so ASan sees any read past len */
    char *s = malloc(len ? len : 1);
    memcpy(s, p, len);
    size_t u = 0, u2 = 0;
    uint64_t t = 0, t2 = 0;
    if (engine_mysql_gtid_set_parse(s, len, &u, &t) == 0) {
      char *z = terminated(p, len);
      if (strlen(z) != len || engine_mysql_gtid_set_parse(z, len, &u2, &t2) != 0 || u != u2 ||
          t != t2) {
        abort();
      }
      free(z);
    }
    free(s);
  } else {
    clone_row(p, len);
  }
  return 0;
}

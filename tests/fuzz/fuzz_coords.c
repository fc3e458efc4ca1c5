/* fuzz_coords.c - libFuzzer target for the engine's parsers of untrusted
 * bytes found in a fetched snapshot. The first byte picks the parser:
 *   0 xtrabackup_binlog_info   1 xtrabackup_galera_info
 *   2 the seedmesh facts file  3 a GTID list (NUL-terminated copy)
 * A value that parses is re-checked: a GTID it returned must itself be
 * valid, and facts must survive a format/parse round trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  uint8_t mode = data[0] % 4;
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  if (mode == 0) {
    struct engine_binlog_info *bi = malloc(sizeof(*bi));
    if (engine_parse_binlog_info(p, len, bi) == 0 && engine_gtid_check(bi->gtid) != 0) {
      abort();
    }
    free(bi);
  } else if (mode == 1) {
    struct engine_galera_info g;
    engine_parse_galera_info(p, len, &g);
  } else if (mode == 2) {
    struct engine_kvset *f = malloc(sizeof(*f)), *c = malloc(sizeof(*c));
    engine_kvset_init(f);
    engine_kvset_init(c);
    if (engine_parse_facts_file(p, len, f, c) == 0) {
      char *text = NULL;
      size_t tl = 0;
      if (engine_format_facts_file(f, c, &text, &tl) == 0) {
        struct engine_kvset *f2 = malloc(sizeof(*f2)), *c2 = malloc(sizeof(*c2));
        engine_kvset_init(f2);
        engine_kvset_init(c2);
        if (engine_parse_facts_file((const uint8_t *)text, tl, f2, c2) != 0 || f2->n != f->n ||
            c2->n != c->n) {
          abort();
        }
        engine_kvset_cleanup(f2);
        engine_kvset_cleanup(c2);
        free(f2);
        free(c2);
        sm_free(text);
      }
    }
    engine_kvset_cleanup(f);
    engine_kvset_cleanup(c);
    free(f);
    free(c);
  } else {
    char *s = malloc(len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    engine_gtid_check(s);
    free(s);
  }
  return 0;
}

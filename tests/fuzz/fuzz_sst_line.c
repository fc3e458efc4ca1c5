/* fuzz_sst_line.c - libFuzzer target for the SST method's network texts
 * (cli/sst_line.c): the joiner address and the donor's answer line, and the
 * preload line found in a mariadbd error log (engine/galera.c). What
 * parses must re-format to the same bytes and respect the documented shapes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Copy so that reads past the end are caught by ASan. */
  uint8_t *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  struct cli_sst_address addr;
  if (cli_sst_address_parse((const char *)buf, size, &addr) == 0) {
    if (addr.port == 0 || addr.port > 65535 || strlen(addr.nonce) != CLI_SST_NONCE_HEX ||
        addr.host[0] == '\0') {
      abort();
    }
  }
  if (cli_sst_hostport_parse((const char *)buf, size, CLI_SST_DEFAULT_PORT, &addr) == 0) {
    if (addr.port == 0 || strlen(addr.host) >= CLI_SST_HOST_MAX || addr.host[0] == '\0') {
      abort();
    }
  }
  struct cli_sst_answer ans;
  if (cli_sst_answer_parse(buf, size, &ans) == 0) {
    char out[CLI_SST_LINE_MAX + 1];
    int n = cli_sst_answer_format(&ans, out, sizeof(out));
    /* Round trip: the canonical form is the input itself. */
    if (n < 0 || (size_t)n != size || memcmp(out, buf, size) != 0) {
      abort();
    }
  }
  int64_t preload = -1, preload_end = -1;
  if (engine_galera_parse_preload(buf, size, &preload, &preload_end) == 0 &&
      (preload < 0 || preload_end < 0)) {
    abort();
  }
  free(buf);
  return 0;
}

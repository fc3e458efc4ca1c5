/* fuzz_http.c - libFuzzer target for the metrics endpoint's request parser
 * (node/http.c). A parsed head must lie within the input and the limit and
 * yield a method of upper-case letters and a printable target from '/'. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct node__http_request req;
  /* Copy so that reads past the end are caught by ASan. */
  uint8_t *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  int rc = node__http_parse(buf, size, &req);
  if (rc >= 0) {
    if (rc == 0 || (size_t)rc > size || rc > NODE__HTTP_HEAD_MAX || buf[rc - 1] != '\n') {
      abort();
    }
    if (req.method[0] == '\0' || req.path[0] != '/' || (req.minor != 0 && req.minor != 1)) {
      abort();
    }
    for (const char *p = req.method; *p; p++) {
      if (*p < 'A' || *p > 'Z') {
        abort();
      }
    }
    for (const char *p = req.path; *p; p++) {
      if (*p <= 0x20 || *p >= 0x7f) {
        abort();
      }
    }
  } else if (rc != SM_EMORE && rc != SM_EMALFORMED && rc != SM_ETOOBIG) {
    abort();
  }
  free(buf);
  return 0;
}

/* fuzz_wire_msg.c - libFuzzer target for the peer message decoder of
 * node/wire. Whatever decodes must re-encode (the encoder accepts all the
 * decoder accepts), and the re-encoding is a fixed point. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wire_msg m;
  struct wire_msg again;
  /* Copy so reads past the end are caught by ASan. */
  uint8_t *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) {
    abort();
  }
  memcpy(buf, data, size);
  if (wire_msg_decode(buf, size, &m) == 0) {
    size_t need = wire_msg_encoded_size(&m);
    uint8_t *enc1 = malloc(need);
    uint8_t *enc2 = malloc(need);
    size_t len1 = 0;
    size_t len2 = 0;
    if (need == 0 || need > size || enc1 == NULL || enc2 == NULL) {
      abort(); /* shortest encodings never exceed the input */
    }
    if (wire_msg_encode(&m, enc1, need, &len1) != 0 || len1 != need) {
      abort();
    }
    if (wire_msg_decode(enc1, len1, &again) != 0 || again.type != m.type) {
      abort();
    }
    if (wire_msg_encode(&again, enc2, need, &len2) != 0 || len2 != len1 ||
        memcmp(enc1, enc2, len1) != 0) {
      abort();
    }
    free(enc1);
    free(enc2);
  }
  free(buf);
  return 0;
}

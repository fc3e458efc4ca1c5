/* fuzz_wire_frame.c - libFuzzer target for the incremental frame decoder of
 * node/wire, with a fixed key.
 *
 * Input: byte 0 picks the read size (1..256), the rest is the stream. The
 * stream is fed twice: as raw attacker bytes (must never crash, must stay
 * within the cap), and sealed into frames under the fixed key, which must
 * decode back exactly whatever the read size. Decoded payloads also go
 * through the message decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/wire/wire.h"

#define FUZZ_CAP 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t KEY[WIRE_KEY_BYTES] = {
    0x73, 0x65, 0x65, 0x64, 0x6d, 0x65, 0x73, 0x68, 0x2d, 0x66, 0x75,
    0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31};

/* Feeds stream in reads of step bytes; returns frames decoded and checks
 * each against want (if given: consecutive slices of want_len each). */
static size_t feed(struct wire_frame_decoder *dec, const uint8_t *s, size_t len, size_t step,
                   const uint8_t *want, const size_t *want_lens) {
  size_t pos = 0;
  size_t frames = 0;
  size_t want_off = 0;
  while (pos < len) {
    size_t n = len - pos < step ? len - pos : step;
    while (n > 0) {
      size_t used = 0;
      const uint8_t *pl = NULL;
      size_t plen = 0;
      int rc = wire_frame_decode(dec, s + pos, n, &used, &pl, &plen);
      if (used > n || dec->buf_cap > FUZZ_CAP + WIRE_FRAME_MAC_BYTES) {
        abort();
      }
      pos += used;
      n -= used;
      if (rc == SM_EMORE) {
        if (n != 0) {
          abort();
        }
        continue;
      }
      if (rc < 0) {
        return frames;
      }
      if (plen > FUZZ_CAP) {
        abort();
      }
      struct wire_msg m;
      (void)wire_msg_decode(pl, plen, &m);
      if (want != NULL) {
        if (plen != want_lens[frames] || (plen > 0 && memcmp(pl, want + want_off, plen) != 0)) {
          abort();
        }
        want_off += plen;
      }
      frames++;
    }
  }
  return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wire_frame_decoder dec;
  struct wire_frame_encoder enc;
  if (size < 1) {
    return 0;
  }
  size_t step = (size_t)data[0] + 1;
  const uint8_t *s = data + 1;
  size_t len = size - 1;

  if (wire_frame_decoder_init(&dec, KEY, FUZZ_CAP) < 0) {
    abort();
  }
  feed(&dec, s, len, step, NULL, NULL);
  wire_frame_decoder_cleanup(&dec);

  /* Seal the input as frames of up to 3*step bytes, then decode. */
  size_t max_frames = len / 1 + 1;
  size_t *lens = malloc(max_frames * sizeof(*lens));
  uint8_t *sealed = malloc(len + max_frames * WIRE_FRAME_OVERHEAD);
  if (lens == NULL || sealed == NULL) {
    abort();
  }
  wire_frame_encoder_init(&enc, KEY, FUZZ_CAP);
  size_t nframes = 0;
  size_t slen = 0;
  size_t pos = 0;
  do {
    size_t n = len - pos < 3 * step ? len - pos : 3 * step;
    size_t flen = 0;
    if (wire_frame_encode(&enc, s + pos, n, sealed + slen, n + WIRE_FRAME_OVERHEAD, &flen) < 0) {
      abort();
    }
    lens[nframes++] = n;
    slen += flen;
    pos += n;
  } while (pos < len);
  wire_frame_decoder_init(&dec, KEY, FUZZ_CAP);
  if (feed(&dec, sealed, slen, step, s, lens) != nframes ||
      wire_frame_decoder_pending(&dec) != 0) {
    abort();
  }
  wire_frame_decoder_cleanup(&dec);
  wire_frame_encoder_cleanup(&enc);
  free(lens);
  free(sealed);
  return 0;
}

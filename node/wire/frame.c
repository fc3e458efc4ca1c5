/* frame.c - the encrypted frame codec of a peer link: length-prefixed
 * XChaCha20-Poly1305 frames with an implicit per-direction counter nonce, and
 * an incremental decoder that turns arbitrary TCP reads into whole
 * plaintext frames under a hard size cap.
 *
 *   +----------------+-------------------------------+-----------+
 *   | L (u32 BE)     | ciphertext (L - 16 bytes)     | tag (16)  |
 *   +----------------+-------------------------------+-----------+
 *   AD = the 4 header bytes, nonce = frame counter (see wire__nonce) */
#include "node/wire/wire_internal.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Smallest body buffer we allocate, so a stream of small messages does not
 * reallocate on every frame. */
#define FRAME_BUF_MIN 4096u

void wire__nonce(uint64_t counter, uint8_t out[WIRE__NONCE_BYTES]) {
  memset(out, 0, WIRE__NONCE_BYTES);
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(counter >> (8 * i));
  }
}

static int cap_valid(size_t max_payload) {
  return max_payload <= WIRE_FRAME_PAYLOAD_LIMIT;
}

int wire_frame_encoder_init(struct wire_frame_encoder *enc,
                            const uint8_t key[WIRE_KEY_BYTES], size_t max_payload) {
  memset(enc, 0, sizeof(*enc));
  if (!cap_valid(max_payload)) {
    return SM_EINVAL;
  }
  memcpy(enc->key, key, WIRE_KEY_BYTES);
  enc->max_payload = max_payload;
  return 0;
}

void wire_frame_encoder_cleanup(struct wire_frame_encoder *enc) {
  sodium_memzero(enc, sizeof(*enc));
}

int wire_frame_encode(struct wire_frame_encoder *enc, const uint8_t *payload,
                      size_t payload_len, uint8_t *out, size_t out_cap,
                      size_t *out_len) {
  uint8_t nonce[WIRE__NONCE_BYTES];
  uint8_t *body = out + WIRE_FRAME_HEADER_BYTES;
  if (payload_len > enc->max_payload) {
    return SM_ETOOBIG;
  }
  if (out_cap < WIRE_FRAME_OVERHEAD || out_cap - WIRE_FRAME_OVERHEAD < payload_len) {
    return SM_EINVAL;
  }
  /* In place (payload == body) or disjoint; anything else is API misuse. */
  if (payload != body && payload_len > 0 &&
      payload < out + payload_len + WIRE_FRAME_OVERHEAD && out < payload + payload_len) {
    abort();
  }
  if (enc->counter == UINT64_MAX) {
    return SM_ESTATE;
  }
  sm_store_be32(out, (uint32_t)(payload_len + WIRE_FRAME_MAC_BYTES));
  wire__nonce(enc->counter, nonce);
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
      body, body + payload_len, NULL, payload, payload_len, out,
      WIRE_FRAME_HEADER_BYTES, NULL, nonce, enc->key);
  enc->counter++;
  *out_len = payload_len + WIRE_FRAME_OVERHEAD;
  return 0;
}

int wire_frame_decoder_init(struct wire_frame_decoder *dec,
                            const uint8_t key[WIRE_KEY_BYTES], size_t max_payload) {
  memset(dec, 0, sizeof(*dec));
  if (!cap_valid(max_payload)) {
    return SM_EINVAL;
  }
  memcpy(dec->key, key, WIRE_KEY_BYTES);
  dec->max_payload = max_payload;
  return 0;
}

void wire_frame_decoder_cleanup(struct wire_frame_decoder *dec) {
  sm_free(dec->buf);
  sodium_memzero(dec, sizeof(*dec));
}

size_t wire_frame_decoder_pending(const struct wire_frame_decoder *dec) {
  return dec->header_have + dec->body_have;
}

void wire_frame_decoder_trim(struct wire_frame_decoder *dec) {
  if (dec->header_have == 0 && dec->body_have == 0) {
    sm_free(dec->buf);
    dec->buf = NULL;
    dec->buf_cap = 0;
  }
}

/* Makes the body buffer hold at least need bytes. The old content is never
 * needed (a new frame starts), so free + malloc rather than realloc. */
static int buf_reserve(struct wire_frame_decoder *dec, size_t need) {
  size_t cap = 0;
  uint8_t *p = NULL;
  if (dec->buf_cap >= need) {
    return 0;
  }
  cap = SM_MAX(need, FRAME_BUF_MIN);
  cap = SM_MIN(cap, dec->max_payload + WIRE_FRAME_MAC_BYTES);
  cap = SM_MAX(cap, need);
  p = sm_malloc(cap);
  if (p == NULL) {
    return SM_ENOMEM;
  }
  sm_free(dec->buf);
  dec->buf = p;
  dec->buf_cap = cap;
  return 0;
}

/* Decrypts the body at c (body_len bytes, tag last) into dec->buf. c may be
 * dec->buf itself. */
static int frame_open(struct wire_frame_decoder *dec, const uint8_t *c,
                      const uint8_t **out_payload, size_t *out_payload_len) {
  uint8_t nonce[WIRE__NONCE_BYTES];
  size_t plen = dec->body_len - WIRE_FRAME_MAC_BYTES;
  if (dec->counter == UINT64_MAX) {
    return SM_ESTATE;
  }
  wire__nonce(dec->counter, nonce);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
          dec->buf, NULL, c, plen, c + plen, dec->header, WIRE_FRAME_HEADER_BYTES,
          nonce, dec->key) != 0) {
    return SM_ECRYPTO;
  }
  dec->counter++;
  dec->header_have = 0;
  dec->body_have = 0;
  dec->body_len = 0;
  *out_payload = dec->buf;
  *out_payload_len = plen;
  return 0;
}

int wire_frame_decode(struct wire_frame_decoder *dec, const uint8_t *in,
                      size_t in_len, size_t *out_consumed,
                      const uint8_t **out_payload, size_t *out_payload_len) {
  size_t pos = 0;
  int rc = 0;
  *out_consumed = 0;
  *out_payload = NULL;
  *out_payload_len = 0;
  if (dec->error != 0) {
    return dec->error;
  }
  if (in_len == 0) {
    return SM_EMORE;
  }
  if (dec->header_have < WIRE_FRAME_HEADER_BYTES) {
    size_t n = SM_MIN(WIRE_FRAME_HEADER_BYTES - dec->header_have, in_len);
    if (n > 0) {
      memcpy(dec->header + dec->header_have, in, n);
    }
    dec->header_have += n;
    pos += n;
    if (dec->header_have < WIRE_FRAME_HEADER_BYTES) {
      rc = SM_EMORE;
      goto out;
    }
    uint32_t len = sm_load_be32(dec->header);
    if (len < WIRE_FRAME_MAC_BYTES) {
      rc = SM_EMALFORMED;
      goto out;
    }
    if (len - WIRE_FRAME_MAC_BYTES > dec->max_payload) {
      rc = SM_ETOOBIG;
      goto out;
    }
    dec->body_len = len;
    dec->body_have = 0;
    rc = buf_reserve(dec, len);
    if (rc < 0) {
      goto out;
    }
  }
  if (dec->body_have == 0 && in_len - pos >= dec->body_len) {
    /* Whole body in the input: decrypt straight from it, no copy. */
    size_t body_len = dec->body_len;
    rc = frame_open(dec, in + pos, out_payload, out_payload_len);
    if (rc == 0) {
      pos += body_len;
    }
    goto out;
  }
  size_t n = SM_MIN(dec->body_len - dec->body_have, in_len - pos);
  if (n > 0) {
    memcpy(dec->buf + dec->body_have, in + pos, n);
  }
  dec->body_have += n;
  pos += n;
  if (dec->body_have < dec->body_len) {
    rc = SM_EMORE;
    goto out;
  }
  rc = frame_open(dec, dec->buf, out_payload, out_payload_len);
out:
  *out_consumed = pos;
  if (rc < 0 && rc != SM_EMORE) {
    dec->error = rc;
  }
  return rc;
}

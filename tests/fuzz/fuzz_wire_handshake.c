/* fuzz_wire_handshake.c - libFuzzer target for the handshake reader of
 * node/wire: arbitrary bytes from a would-be peer, fed to a responder in
 * reads whose size byte 0 picks. Nothing may crash or be admitted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sm_identity g_id;
static struct sm_trust g_trust;
static int g_ready;

static void setup(void) {
  uint8_t seed[crypto_sign_SEEDBYTES] = {1};
  uint8_t keys[1][SM_PUBKEY_BYTES];
  if (sodium_init() < 0) {
    abort();
  }
  crypto_sign_seed_keypair(g_id.public_key, g_id.secret_key, seed);
  memcpy(keys[0], g_id.public_key, SM_PUBKEY_BYTES);
  if (sm_trust_init_keys(&g_trust, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, 1) < 0) {
    abort();
  }
  g_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t eph[WIRE_KEY_BYTES] = {7, 7, 7};
  struct wire_handshake hs;
  struct wire_handshake_config cfg = {.role = WIRE_ROLE_RESPONDER,
                                      .identity = &g_id,
                                      .trust = &g_trust,
                                      .ephemeral_secret = eph};
  if (!g_ready) {
    setup();
  }
  if (size < 1) {
    return 0;
  }
  size_t step = (size_t)data[0] + 1;
  size_t pos = 1;
  if (wire_handshake_init(&hs, &cfg) != 0) {
    abort();
  }
  int rc = SM_EMORE;
  while (rc == SM_EMORE && pos < size) {
    size_t n = size - pos < step ? size - pos : step;
    size_t used = 0;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    rc = wire_handshake_read(&hs, data + pos, n, &used);
    if (used > n || (rc == SM_EMORE && used != n)) {
      abort();
    }
    wire_handshake_output(&hs, &out, &out_len);
    pos += used;
  }
  /* Only a node holding our own key could pass; and that is a self-link. */
  if (rc == 0 || wire_handshake_done(&hs)) {
    abort();
  }
  wire_handshake_cleanup(&hs);
  return 0;
}

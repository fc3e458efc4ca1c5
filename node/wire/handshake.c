/* handshake.c - the mutual authentication and key exchange that opens every
 * peer link, as a sans-I/O state machine: bytes in, bytes out, a verdict.
 *
 *   initiator (dialer)                          responder (acceptor)
 *   HELLO_I {magic, ver, e_I} ------------->
 *                              <------------- HELLO_R {magic, ver, e_R}
 *   h   = BLAKE2b-256("seedmesh/v1/transcript" || HELLO_I || HELLO_R)
 *   q   = X25519(e, e_peer)
 *   k   = BLAKE2b-512(key = q, "seedmesh/v1/keys" || h): k_i2r || k_r2i
 *   frame#0 AUTH {S_I, sig_I} ------------>      sig = Ed25519(S, "seedmesh/v1/auth"
 *                              <------------ frame#0 AUTH {S_R, sig_R}  || role || h)
 *   each side: decrypt AUTH, verify sig for the peer's role, check the pin
 *   and the trust set. Application frames follow from counter 1.
 *
 * Both HELLOs are sent at once, so the exchange costs one round trip plus
 * the AUTH flight. Full rationale: docs/protocol.md. */
#include "node/wire/wire_internal.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

enum hs_state {
  HS_HELLO = 0, /* waiting for the peer's HELLO */
  HS_AUTH,      /* waiting for the peer's AUTH frame */
  HS_DONE,      /* peer authenticated */
  HS_TAKEN,     /* keys moved into a session */
  HS_FAILED,
};

static const char LABEL_TRANSCRIPT[] = "seedmesh/v1/transcript";
static const char LABEL_KEYS[] = "seedmesh/v1/keys";
static const char LABEL_AUTH[] = "seedmesh/v1/auth";
#define LABEL_AUTH_LEN (sizeof(LABEL_AUTH) - 1)
#define ROLE_BYTE_I 'I'
#define ROLE_BYTE_R 'R'

static int fail(struct wire_handshake *hs, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct wire_handshake *hs, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(hs->reason, sizeof(hs->reason), fmt, ap);
  va_end(ap);
  hs->state = HS_FAILED;
  hs->error = rc;
  sodium_memzero(hs->eph_secret, sizeof(hs->eph_secret));
  return rc;
}

static void key_prefix(const uint8_t *key, char out[17]) {
  sm_hex_encode(key, 8, out);
}

int wire_handshake_init(struct wire_handshake *hs,
                        const struct wire_handshake_config *cfg) {
  uint8_t *p = hs->hello_out;
  memset(hs, 0, sizeof(*hs));
  hs->state = HS_FAILED;
  if (cfg == NULL || cfg->identity == NULL || cfg->trust == NULL ||
      (cfg->role != WIRE_ROLE_INITIATOR && cfg->role != WIRE_ROLE_RESPONDER)) {
    hs->error = SM_EINVAL;
    snprintf(hs->reason, sizeof(hs->reason), "handshake needs an identity and a trust set");
    return SM_EINVAL;
  }
  if (sodium_init() < 0) {
    return fail(hs, SM_ECRYPTO, "libsodium failed to initialise");
  }
  hs->role = cfg->role;
  hs->identity = cfg->identity;
  hs->trust = cfg->trust;
  if (cfg->pinned_peer_key != NULL) {
    hs->has_pin = 1;
    memcpy(hs->pin, cfg->pinned_peer_key, SM_PUBKEY_BYTES);
  }
  if (cfg->ephemeral_secret != NULL) {
    memcpy(hs->eph_secret, cfg->ephemeral_secret, WIRE_KEY_BYTES);
  } else {
    randombytes_buf(hs->eph_secret, sizeof(hs->eph_secret));
  }
  memcpy(p, WIRE_MAGIC, WIRE_MAGIC_BYTES);
  sm_store_be16(p + WIRE_MAGIC_BYTES, WIRE_PROTOCOL_VERSION);
  sm_store_be16(p + WIRE_MAGIC_BYTES + 2, WIRE_KEY_BYTES);
  if (crypto_scalarmult_base(p + WIRE_MAGIC_BYTES + 4, hs->eph_secret) != 0) {
    return fail(hs, SM_ECRYPTO, "bad ephemeral secret");
  }
  memcpy(hs->out, hs->hello_out, WIRE_HELLO_BYTES);
  hs->out_len = WIRE_HELLO_BYTES;
  hs->state = HS_HELLO;
  return 0;
}

void wire_handshake_output(struct wire_handshake *hs, const uint8_t **out_bytes,
                           size_t *out_len) {
  *out_bytes = hs->out;
  *out_len = hs->out_len;
  hs->out_len = 0;
}

int wire_handshake_done(const struct wire_handshake *hs) {
  return hs->state == HS_DONE;
}

const char *wire_handshake_reason(const struct wire_handshake *hs) {
  return hs->reason;
}

/* Checks the peer's HELLO as far as it has arrived, so garbage and other
 * versions are refused early. Returns 0 when more is needed and the prefix
 * looks fine. */
static int hello_check_prefix(struct wire_handshake *hs) {
  size_t have = hs->hello_in_have;
  size_t m = SM_MIN(have, (size_t)WIRE_MAGIC_BYTES);
  if (memcmp(hs->hello_in, WIRE_MAGIC, m) != 0) {
    return fail(hs, SM_EPROTO, "peer is not a seedmesh node (bad magic)");
  }
  if (have >= WIRE_MAGIC_BYTES + 2) {
    uint16_t ver = sm_load_be16(hs->hello_in + WIRE_MAGIC_BYTES);
    if (ver != WIRE_PROTOCOL_VERSION) {
      return fail(hs, SM_EVERSION,
                  "peer speaks seedmesh protocol version %u, this node speaks %u",
                  (unsigned)ver, (unsigned)WIRE_PROTOCOL_VERSION);
    }
  }
  if (have >= WIRE_MAGIC_BYTES + 4) {
    uint16_t body = sm_load_be16(hs->hello_in + WIRE_MAGIC_BYTES + 2);
    if (body != WIRE_KEY_BYTES) {
      return fail(hs, SM_EPROTO, "malformed HELLO (body of %u bytes)", (unsigned)body);
    }
  }
  return 0;
}

/* Derives the transcript hash and the two direction keys, then queues our
 * AUTH as frame 0 of our direction. */
static int hello_complete(struct wire_handshake *hs) {
  const uint8_t *peer_eph = hs->hello_in + WIRE_MAGIC_BYTES + 4;
  const uint8_t *hello_i = hs->role == WIRE_ROLE_INITIATOR ? hs->hello_out : hs->hello_in;
  const uint8_t *hello_r = hs->role == WIRE_ROLE_INITIATOR ? hs->hello_in : hs->hello_out;
  uint8_t q[crypto_scalarmult_BYTES];
  uint8_t okm[2 * WIRE_KEY_BYTES];
  uint8_t auth[WIRE_AUTH_BYTES];
  uint8_t signed_msg[LABEL_AUTH_LEN + 1 + 32];
  crypto_generichash_state st;
  size_t frame_len = 0;
  int rc = 0;

  if (sodium_memcmp(peer_eph, hs->hello_out + WIRE_MAGIC_BYTES + 4, WIRE_KEY_BYTES) == 0) {
    rc = fail(hs, SM_EPROTO, "peer echoed our HELLO (reflection)");
    goto out;
  }
  if (crypto_scalarmult(q, hs->eph_secret, peer_eph) != 0) {
    rc = fail(hs, SM_ECRYPTO, "peer sent a weak ephemeral key");
    goto out;
  }
  sodium_memzero(hs->eph_secret, sizeof(hs->eph_secret));

  crypto_generichash_init(&st, NULL, 0, sizeof(hs->transcript));
  crypto_generichash_update(&st, (const uint8_t *)LABEL_TRANSCRIPT,
                            sizeof(LABEL_TRANSCRIPT) - 1);
  crypto_generichash_update(&st, hello_i, WIRE_HELLO_BYTES);
  crypto_generichash_update(&st, hello_r, WIRE_HELLO_BYTES);
  crypto_generichash_final(&st, hs->transcript, sizeof(hs->transcript));

  crypto_generichash_init(&st, q, sizeof(q), sizeof(okm));
  crypto_generichash_update(&st, (const uint8_t *)LABEL_KEYS, sizeof(LABEL_KEYS) - 1);
  crypto_generichash_update(&st, hs->transcript, sizeof(hs->transcript));
  crypto_generichash_final(&st, okm, sizeof(okm));

  const uint8_t *k_i2r = okm;
  const uint8_t *k_r2i = okm + WIRE_KEY_BYTES;
  int initiator = hs->role == WIRE_ROLE_INITIATOR;
  /* Both caps fit the AUTH exactly; the session re-inits them later. */
  wire_frame_encoder_init(&hs->tx, initiator ? k_i2r : k_r2i, WIRE_AUTH_BYTES);
  wire_frame_decoder_init(&hs->rx, initiator ? k_r2i : k_i2r, WIRE_AUTH_BYTES);

  memcpy(signed_msg, LABEL_AUTH, LABEL_AUTH_LEN);
  signed_msg[LABEL_AUTH_LEN] = initiator ? ROLE_BYTE_I : ROLE_BYTE_R;
  memcpy(signed_msg + LABEL_AUTH_LEN + 1, hs->transcript, sizeof(hs->transcript));
  memcpy(auth, hs->identity->public_key, SM_PUBKEY_BYTES);
  crypto_sign_detached(auth + SM_PUBKEY_BYTES, NULL, signed_msg, sizeof(signed_msg),
                       hs->identity->secret_key);
  rc = wire_frame_encode(&hs->tx, auth, sizeof(auth), hs->out + hs->out_len,
                         sizeof(hs->out) - hs->out_len, &frame_len);
  if (rc < 0) {
    rc = fail(hs, rc, "cannot seal AUTH: %s", sm_strerror(rc));
    goto out;
  }
  hs->out_len += frame_len;
  hs->state = HS_AUTH;
out:
  sodium_memzero(q, sizeof(q));
  sodium_memzero(okm, sizeof(okm));
  sodium_memzero(&st, sizeof(st));
  return rc;
}

/* Verifies the peer's decrypted AUTH. */
static int auth_verify(struct wire_handshake *hs, const uint8_t *auth, size_t len) {
  uint8_t signed_msg[LABEL_AUTH_LEN + 1 + 32];
  char got[17];
  char want[17];
  const uint8_t *peer = auth;
  if (len != WIRE_AUTH_BYTES) {
    return fail(hs, SM_EPROTO, "malformed AUTH (%zu bytes)", len);
  }
  memcpy(signed_msg, LABEL_AUTH, LABEL_AUTH_LEN);
  signed_msg[LABEL_AUTH_LEN] = hs->role == WIRE_ROLE_INITIATOR ? ROLE_BYTE_R : ROLE_BYTE_I;
  memcpy(signed_msg + LABEL_AUTH_LEN + 1, hs->transcript, sizeof(hs->transcript));
  key_prefix(peer, got);
  if (crypto_sign_verify_detached(auth + SM_PUBKEY_BYTES, signed_msg, sizeof(signed_msg),
                                  peer) != 0) {
    return fail(hs, SM_EBADSIG, "AUTH signature of peer %s... does not verify", got);
  }
  if (hs->has_pin && sodium_memcmp(peer, hs->pin, SM_PUBKEY_BYTES) != 0) {
    key_prefix(hs->pin, want);
    return fail(hs, SM_EUNTRUSTED, "peer is %s..., expected pinned key %s...", got, want);
  }
  if (!sm_trust_contains(hs->trust, peer)) {
    return fail(hs, SM_EUNTRUSTED, "peer key %s... is not in the trust file", got);
  }
  if (sodium_memcmp(peer, hs->identity->public_key, SM_PUBKEY_BYTES) == 0) {
    return fail(hs, SM_EPROTO, "peer is this node (self-connection)");
  }
  memcpy(hs->peer_key, peer, SM_PUBKEY_BYTES);
  hs->state = HS_DONE;
  return 0;
}

int wire_handshake_read(struct wire_handshake *hs, const uint8_t *in,
                        size_t in_len, size_t *out_consumed) {
  size_t pos = 0;
  int rc = 0;
  *out_consumed = 0;
  switch (hs->state) {
  case HS_HELLO:
  case HS_AUTH:
    break;
  case HS_DONE:
  case HS_TAKEN:
    return 0;
  default:
    return hs->error != 0 ? hs->error : SM_ESTATE;
  }
  if (in_len == 0) {
    return SM_EMORE;
  }
  if (hs->state == HS_HELLO) {
    size_t n = SM_MIN(WIRE_HELLO_BYTES - hs->hello_in_have, in_len);
    if (n > 0) {
      memcpy(hs->hello_in + hs->hello_in_have, in, n);
    }
    hs->hello_in_have += n;
    pos += n;
    rc = hello_check_prefix(hs);
    if (rc < 0) {
      goto out;
    }
    if (hs->hello_in_have < WIRE_HELLO_BYTES) {
      rc = SM_EMORE;
      goto out;
    }
    rc = hello_complete(hs);
    if (rc < 0) {
      goto out;
    }
  }
  const uint8_t *auth = NULL;
  size_t auth_len = 0;
  size_t used = 0;
  rc = wire_frame_decode(&hs->rx, in + pos, in_len - pos, &used, &auth, &auth_len);
  pos += used;
  if (rc == SM_EMORE) {
    goto out;
  }
  if (rc == SM_ECRYPTO) {
    rc = fail(hs, rc, "AUTH does not decrypt: handshake altered in flight");
    goto out;
  }
  if (rc < 0) {
    rc = fail(hs, rc, "bad AUTH frame: %s", sm_strerror(rc));
    goto out;
  }
  rc = auth_verify(hs, auth, auth_len);
out:
  *out_consumed = pos;
  return rc;
}

int wire_handshake_session(struct wire_handshake *hs, size_t max_payload,
                           struct wire_session *out) {
  int rc = 0;
  memset(out, 0, sizeof(*out));
  if (hs->state != HS_DONE) {
    return SM_ESTATE;
  }
  rc = wire_frame_encoder_init(&out->tx, hs->tx.key, max_payload);
  if (rc < 0) {
    goto out;
  }
  rc = wire_frame_decoder_init(&out->rx, hs->rx.key, max_payload);
  if (rc < 0) {
    goto out;
  }
  out->tx.counter = hs->tx.counter;
  out->rx.counter = hs->rx.counter;
  memcpy(out->peer_key, hs->peer_key, SM_PUBKEY_BYTES);
  wire_frame_encoder_cleanup(&hs->tx);
  wire_frame_decoder_cleanup(&hs->rx);
  hs->state = HS_TAKEN;
out:
  if (rc < 0) {
    wire_session_cleanup(out);
  }
  return rc;
}

void wire_session_cleanup(struct wire_session *s) {
  wire_frame_encoder_cleanup(&s->tx);
  wire_frame_decoder_cleanup(&s->rx);
  sodium_memzero(s->peer_key, sizeof(s->peer_key));
}

void wire_handshake_cleanup(struct wire_handshake *hs) {
  wire_frame_encoder_cleanup(&hs->tx);
  wire_frame_decoder_cleanup(&hs->rx);
  sodium_memzero(hs, sizeof(*hs));
}

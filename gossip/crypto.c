/* crypto.c - the authenticated, encrypted envelope around every gossip
 * datagram and push-pull message, and per-sender replay windows.
 *
 * Keys: each ed25519 identity is converted to X25519; a pair's shared secret
 * (crypto_box_beforenm) is split into one key per direction with keyed
 * BLAKE2b, so two peers never encrypt under the same key. Cipher:
 * XChaCha20-Poly1305 with the clear header as associated data. The nonce is
 * the sender's 64-bit counter followed by 16 bytes from the seeded PRNG, so a
 * simulation replays bit for bit. Counters start at generation << 32; the
 * receiver keeps the highest counter per sender and channel and a 64-packet
 * window below it. */
#include "gossip/gossip_internal.h"

#include <string.h>

#include <sodium.h>

static const char kdf_label[] = "seedmesh-gossip-v1";

int gossip__crypto_init(struct gossip *g, const struct sm_identity *identity) {
  if (sodium_init() < 0) {
    return SM_ECRYPTO;
  }
  memcpy(g->id, identity->public_key, SM_PUBKEY_BYTES);
  if (crypto_sign_ed25519_sk_to_curve25519(g->x_sk, identity->secret_key) != 0) {
    return SM_ECRYPTO;
  }
  g->peers = sm_calloc(g->trust->count, sizeof(*g->peers));
  if (g->peers == NULL) {
    return SM_ENOMEM;
  }
  for (int ch = 0; ch < 2; ch++) {
    g->counter[ch] = g->cfg.generation << 32;
  }
  return 0;
}

void gossip__crypto_cleanup(struct gossip *g) {
  sodium_memzero(g->x_sk, sizeof(g->x_sk));
  if (g->peers != NULL) {
    sodium_memzero(g->peers, g->trust->count * sizeof(*g->peers));
    sm_free(g->peers);
    g->peers = NULL;
  }
}

/* Index of the first trust key equal to id, or -1. */
static long trust_index(const struct sm_trust *t, const uint8_t *id) {
  size_t lo = 0;
  size_t hi = t->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (memcmp(t->keys[mid], id, SM_PUBKEY_BYTES) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < t->count && memcmp(t->keys[lo], id, SM_PUBKEY_BYTES) == 0) {
    return (long)lo;
  }
  return -1;
}

static void derive(const uint8_t *shared, const uint8_t *a, const uint8_t *b, uint8_t *out) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, shared, 32, 32);
  crypto_generichash_update(&st, (const uint8_t *)kdf_label, sizeof(kdf_label) - 1);
  crypto_generichash_update(&st, a, SM_PUBKEY_BYTES);
  crypto_generichash_update(&st, b, SM_PUBKEY_BYTES);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof(st));
}

int gossip__peer_get(struct gossip *g, const uint8_t *id, struct gossip__peer **out) {
  uint8_t xpk[32];
  uint8_t shared[32];
  long idx = trust_index(g->trust, id);
  struct gossip__peer *p = NULL;
  if (idx < 0) {
    return SM_EUNTRUSTED;
  }
  p = &g->peers[idx];
  if (!p->ready && !p->bad) {
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, id) != 0 ||
        crypto_box_beforenm(shared, xpk, g->x_sk) != 0) {
      p->bad = 1;
    } else {
      derive(shared, g->id, id, p->tx);
      derive(shared, id, g->id, p->rx);
      p->ready = 1;
    }
    sodium_memzero(shared, sizeof(shared));
  }
  if (p->bad) {
    return SM_ECRYPTO;
  }
  *out = p;
  return 0;
}

int gossip__seal(struct gossip *g, int channel, const uint8_t *peer_id, const uint8_t *plain,
                 size_t len, uint8_t *out, size_t *out_len) {
  struct gossip__peer *p = NULL;
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  unsigned long long clen = 0;
  int rc = gossip__peer_get(g, peer_id, &p);
  if (rc < 0) {
    return rc;
  }
  out[0] = channel == GOSSIP__CH_DGRAM ? GOSSIP__MAGIC_DGRAM : GOSSIP__MAGIC_STREAM;
  memcpy(out + 1, g->id, SM_PUBKEY_BYTES);
  g->counter[channel]++;
  sm_store_be64(out + 33, g->counter[channel]);
  sm_store_be64(out + 41, gossip__rand(g));
  sm_store_be64(out + 49, gossip__rand(g));
  memcpy(nonce, out + 33, sizeof(nonce));
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + GOSSIP__HEADER, &clen, plain, len, out,
                                             GOSSIP__HEADER, NULL, nonce, p->tx);
  *out_len = GOSSIP__HEADER + (size_t)clen;
  return 0;
}

int gossip__open(struct gossip *g, int channel, const uint8_t *buf, size_t len,
                 uint8_t *plain, size_t *out_plain_len, uint8_t sender[SM_PUBKEY_BYTES]) {
  struct gossip__peer *p = NULL;
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  unsigned long long plen = 0;
  uint64_t ctr = 0;
  uint64_t dist = 0;
  int rc = 0;
  uint8_t magic = channel == GOSSIP__CH_DGRAM ? GOSSIP__MAGIC_DGRAM : GOSSIP__MAGIC_STREAM;
  if (len < GOSSIP_ENVELOPE_OVERHEAD || buf[0] != magic) {
    return SM_EMALFORMED;
  }
  memcpy(sender, buf + 1, SM_PUBKEY_BYTES);
  if (memcmp(sender, g->id, SM_PUBKEY_BYTES) == 0) {
    return SM_EPROTO; /* our own packet reflected back */
  }
  rc = gossip__peer_get(g, sender, &p);
  if (rc < 0) {
    return rc;
  }
  ctr = sm_load_be64(buf + 33);
  if (p->seen[channel] && ctr <= p->top[channel]) {
    dist = p->top[channel] - ctr;
    if (dist >= 64 || (p->bits[channel] >> dist & 1u) != 0) {
      return SM_EREPLAY;
    }
  }
  memcpy(nonce, buf + 33, sizeof(nonce));
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, buf + GOSSIP__HEADER,
                                                 len - GOSSIP__HEADER, buf, GOSSIP__HEADER,
                                                 nonce, p->rx) != 0) {
    return SM_ECRYPTO;
  }
  if (!p->seen[channel]) {
    p->seen[channel] = 1;
    p->top[channel] = ctr;
    p->bits[channel] = 1;
  } else if (ctr > p->top[channel]) {
    uint64_t shift = ctr - p->top[channel];
    p->bits[channel] = shift >= 64 ? 1 : (p->bits[channel] << shift) | 1;
    p->top[channel] = ctr;
  } else {
    p->bits[channel] |= (uint64_t)1 << dist;
  }
  *out_plain_len = (size_t)plen;
  return 0;
}

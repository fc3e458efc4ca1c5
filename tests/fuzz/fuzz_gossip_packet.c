/* fuzz_gossip_packet.c - libFuzzer target for the gossip packet paths. The
 * first input byte picks the path, the rest is the payload:
 *   0: raw datagram into gossip_udp_recv (envelope checks, fixed test keys)
 *   1: the plaintext message decoder alone, plus encode/decode round trip
 *   2: payload sealed as a valid datagram from a trusted peer, then received
 *      (every plaintext reaches the protocol logic)
 *   3: as 2, over the push-pull stream channel. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/gossip_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sm_identity ids[3];
static struct sm_trust trust;
static struct gossip *peer; /* seals test inputs; lives for the whole run */
static int ready;

static void drop_udp(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  (void)ctx;
  (void)to;
  (void)buf;
  if (len > GOSSIP_PACKET_MAX) {
    abort();
  }
}

static void drop_stream(void *ctx, const struct gossip_addr *to, const uint8_t *buf,
                        size_t len) {
  (void)ctx;
  (void)to;
  (void)buf;
  if (len > GOSSIP_STREAM_MAX + GOSSIP_ENVELOPE_OVERHEAD) {
    abort();
  }
}

static struct gossip *make(size_t i) {
  struct gossip_config cfg;
  struct gossip_ops ops = {NULL, drop_udp, drop_stream, NULL, NULL};
  struct gossip *g = NULL;
  gossip_config_init(&cfg);
  cfg.identity = &ids[i];
  cfg.trust = &trust;
  cfg.addr.family = GOSSIP_AF_INET4;
  cfg.addr.ip[3] = (uint8_t)i;
  cfg.addr.port = 7946;
  cfg.seed = i;
  cfg.max_members = 16;
  if (gossip_new(&cfg, &ops, 1000, &g) < 0) {
    abort();
  }
  return g;
}

static void setup(void) {
  uint8_t keys[3][SM_PUBKEY_BYTES];
  if (sodium_init() < 0) {
    abort();
  }
  for (size_t i = 0; i < 3; i++) {
    uint8_t seed[crypto_sign_SEEDBYTES] = {0};
    seed[0] = (uint8_t)(i + 1);
    crypto_sign_seed_keypair(ids[i].public_key, ids[i].secret_key, seed);
    memcpy(keys[i], ids[i].public_key, SM_PUBKEY_BYTES);
  }
  if (sm_trust_init_keys(&trust, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, 3) < 0) {
    abort();
  }
  peer = make(0);
  ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct gossip *g = NULL;
  struct gossip_addr from = {GOSSIP_AF_INET4, {0}, 7946};
  if (!ready) {
    setup();
  }
  if (size < 1) {
    return 0;
  }
  uint8_t mode = data[0] % 4;
  data++;
  size--;
  if (mode == 1) {
    struct gossip__msg msg, again;
    const struct gossip__limits lim = {64, 64, 64};
    if (gossip__msg_decode(data, size, &lim, &msg) == 0) {
      uint8_t *buf = malloc(size + 64);
      struct gossip__wbuf w;
      gossip__wbuf_init(&w, buf, size + 64);
      if (buf == NULL || gossip__msg_encode(&msg, &w) < 0 ||
          gossip__msg_decode(buf, w.len, &lim, &again) < 0) {
        abort(); /* anything we decode we must re-encode and decode again */
      }
      if (again.type != msg.type || again.n_members != msg.n_members ||
          again.n_deltas != msg.n_deltas || again.n_digest != msg.n_digest) {
        abort();
      }
      gossip__msg_cleanup(&again);
      gossip__msg_cleanup(&msg);
      free(buf);
    }
    return 0;
  }
  g = make(1);
  if (mode == 0) {
    (void)gossip_udp_recv(g, &from, data, size, 2000);
  } else {
    size_t cap = size + GOSSIP_ENVELOPE_OVERHEAD;
    uint8_t *sealed = malloc(cap);
    size_t len = 0;
    int ch = mode == 2 ? GOSSIP__CH_DGRAM : GOSSIP__CH_STREAM;
    if (sealed != NULL && gossip__seal(peer, ch, ids[1].public_key, data, size, sealed, &len) == 0) {
      if (mode == 2) {
        (void)gossip_udp_recv(g, &from, sealed, len, 2000);
      } else {
        (void)gossip_stream_recv(g, &from, sealed, len, 2000);
      }
    }
    free(sealed);
  }
  gossip_tick(g, 2600);
  gossip_tick(g, 60000);
  gossip_free(g);
  return 0;
}

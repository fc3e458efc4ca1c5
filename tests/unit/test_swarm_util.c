/* test_swarm_util.c - shared helpers of the swarm scheduler unit tests:
 * the action recorder and the swarm and peer builders (see
 * test_swarm_util.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_swarm_util.h"

void rec_emit(void *user, const struct swarm_action *act) {
  struct rec *r = user;
  assert_true(r->n < REC_MAX);
  r->a[r->n] = *act;
  r->a[r->n].bits = NULL;
  if (act->type == SWARM_ACT_SEND_BITFIELD) {
    assert_true(act->bits_len <= sizeof(r->last_bits));
    memcpy(r->last_bits, act->bits, act->bits_len);
    r->last_bits_len = act->bits_len;
  }
  r->n++;
}

size_t rec_count(const struct rec *r, enum swarm_action_type t,
                 uint32_t peer) {
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (r->a[i].type == t && (peer == UINT32_MAX || r->a[i].peer == peer)) {
      k++;
    }
  }
  return k;
}

int rec_has(const struct rec *r, enum swarm_action_type t, uint32_t peer,
            uint32_t chunk) {
  for (size_t i = 0; i < r->n; i++) {
    if (r->a[i].type == t && r->a[i].peer == peer && r->a[i].chunk == chunk) {
      return 1;
    }
  }
  return 0;
}

/* The chunks requested from peer, in order, starting at action index from. */
size_t rec_requests(const struct rec *r, size_t from, uint32_t peer,
                    uint32_t *out, size_t max) {
  size_t k = 0;
  for (size_t i = from; i < r->n && k < max; i++) {
    if (r->a[i].type == SWARM_ACT_SEND_REQUEST && r->a[i].peer == peer) {
      out[k++] = r->a[i].chunk;
    }
  }
  return k;
}

struct swarm *mk(struct rec *r, struct swarm_config *cfg, uint32_t n,
                 int full) {
  uint32_t sizes[1024];
  uint8_t bits[128];
  struct swarm *sw = NULL;
  struct swarm_ops ops = {.user = r, .emit = rec_emit};
  assert_true(n <= 1024);
  for (uint32_t i = 0; i < n; i++) {
    sizes[i] = CHUNK;
  }
  memset(bits, full ? 0xff : 0, sizeof(bits));
  if (full && (n & 7)) {
    bits[n / 8] = (uint8_t)(0xff << (8 - (n & 7)));
    memset(bits + n / 8 + 1, 0, sizeof(bits) - n / 8 - 1);
  }
  memset(r, 0, sizeof(*r));
  assert_int_equal(swarm_new(cfg, &ops, n, sizes, full ? bits : NULL, &sw), 0);
  return sw;
}

/* A wire bitfield with chunks [lo, hi) set. */
void bits_range(uint8_t *bits, uint32_t n, uint32_t lo, uint32_t hi) {
  memset(bits, 0, (n + 7) / 8);
  for (uint32_t i = lo; i < hi; i++) {
    bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
  }
}

void connect_with(struct swarm *sw, uint32_t peer, uint32_t n,
                  uint32_t lo, uint32_t hi, uint64_t now) {
  uint8_t bits[128];
  assert_int_equal(swarm_peer_connected(sw, peer, 0, now), 0);
  bits_range(bits, n, lo, hi);
  assert_int_equal(swarm_peer_bitfield(sw, peer, bits, (n + 7) / 8, now), 0);
}

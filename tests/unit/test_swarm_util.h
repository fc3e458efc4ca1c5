/* test_swarm_util.h - shared helpers of the swarm scheduler unit tests
 * (test_swarm.c, test_swarm_peers.c): a recorder of emitted actions and
 * builders for a swarm and its scripted peers. */
#ifndef SM_TEST_SWARM_UTIL_H
#define SM_TEST_SWARM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "node/swarm/swarm.h"


#define REC_MAX 8192
#define CHUNK (1u << 20)

struct rec {
  struct swarm_action a[REC_MAX];
  size_t n;
  uint8_t last_bits[256];
  size_t last_bits_len;
};

/* swarm_ops.emit: appends act to the struct rec in user (bits not kept,
 * except the last SEND_BITFIELD's, in last_bits). */
void rec_emit(void *user, const struct swarm_action *act);
/* Actions of type t to peer (UINT32_MAX: any peer). */
size_t rec_count(const struct rec *r, enum swarm_action_type t, uint32_t peer);
/* Whether an action of type t to peer for chunk was emitted. */
int rec_has(const struct rec *r, enum swarm_action_type t, uint32_t peer,
            uint32_t chunk);
/* The chunks requested from peer, in order, starting at action index from. */
size_t rec_requests(const struct rec *r, size_t from, uint32_t peer,
                    uint32_t *out, size_t max);
/* A new swarm of n chunks of CHUNK bytes emitting into r (cleared); full:
 * we hold every chunk. Aborts the test on failure. */
struct swarm *mk(struct rec *r, struct swarm_config *cfg, uint32_t n,
                 int full);
/* A wire bitfield with chunks [lo, hi) set. */
void bits_range(uint8_t *bits, uint32_t n, uint32_t lo, uint32_t hi);
/* Connects peer at now and gives it a bitfield of chunks [lo, hi) of n. */
void connect_with(struct swarm *sw, uint32_t peer, uint32_t n, uint32_t lo,
                  uint32_t hi, uint64_t now);

#endif

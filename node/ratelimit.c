/* ratelimit.c - token buckets for the node's upload and download caps (the
 * analogue of clone_max_network_bandwidth). A bucket holds at most one
 * second of tokens and may go into debt by one large frame; the caller waits
 * until the debt is paid. */
#include "node/node_internal.h"

void node__bucket_init(struct node__bucket *b, uint64_t rate, uint64_t now) {
  b->rate = rate;
  b->tokens = (double)rate;
  b->last_ms = now;
}

void node__bucket_set_rate(struct node__bucket *b, uint64_t rate, uint64_t now) {
  node__bucket_wait(b, now); /* refill at the old rate up to now */
  b->rate = rate;
  if (b->tokens > (double)rate) {
    b->tokens = (double)rate;
  }
}

static void refill(struct node__bucket *b, uint64_t now) {
  if (now > b->last_ms) {
    b->tokens += (double)b->rate * (double)(now - b->last_ms) / 1000.0;
    if (b->tokens > (double)b->rate) {
      b->tokens = (double)b->rate;
    }
    b->last_ms = now;
  }
}

uint64_t node__bucket_wait(struct node__bucket *b, uint64_t now) {
  if (b->rate == 0) {
    return 0;
  }
  refill(b, now);
  if (b->tokens >= 0) {
    return 0;
  }
  return (uint64_t)(-b->tokens * 1000.0 / (double)b->rate) + 1;
}

uint64_t node__bucket_take(struct node__bucket *b, uint64_t bytes, uint64_t now) {
  if (b->rate == 0) {
    return 0;
  }
  refill(b, now);
  b->tokens -= (double)bytes;
  return node__bucket_wait(b, now);
}

void node__bucket_settle(struct node__bucket *b, uint64_t reserved, uint64_t used) {
  if (b->rate == 0) {
    return;
  }
  b->tokens += (double)reserved - (double)used;
  if (b->tokens > (double)b->rate) {
    b->tokens = (double)b->rate;
  }
}

/* evq.c - the simulator's event queue: a binary min-heap ordered by
 * (virtual time, insertion sequence), so simultaneous events pop in the
 * order they were scheduled and every run replays exactly. */
#include <stdint.h>
#include <string.h>

#include "common/common.h"
#include "sim/sim.h"

static int ev_before(const struct sim_event *a, const struct sim_event *b) {
  if (a->at != b->at) {
    return a->at < b->at;
  }
  return a->seq < b->seq;
}

void sim_evq_init(struct sim_evq *q) {
  memset(q, 0, sizeof(*q));
}

void sim_evq_cleanup(struct sim_evq *q) {
  for (size_t i = 0; i < q->len; i++) {
    sm_free(q->heap[i].bits);
  }
  sm_free(q->heap);
  memset(q, 0, sizeof(*q));
}

int sim_evq_push(struct sim_evq *q, const struct sim_event *ev) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? 2 * q->cap : 1024;
    struct sim_event *h = sm_realloc(q->heap, cap * sizeof(*h));
    if (h == NULL) {
      sm_free(ev->bits);
      return SM_ENOMEM;
    }
    q->heap = h;
    q->cap = cap;
  }
  struct sim_event x = *ev;
  x.seq = q->next_seq++;
  size_t i = q->len++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!ev_before(&x, &q->heap[parent])) {
      break;
    }
    q->heap[i] = q->heap[parent];
    i = parent;
  }
  q->heap[i] = x;
  return 0;
}

int sim_evq_pop(struct sim_evq *q, struct sim_event *out) {
  if (q->len == 0) {
    return SM_ENOTFOUND;
  }
  *out = q->heap[0];
  struct sim_event last = q->heap[--q->len];
  size_t n = q->len;
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= n) {
      break;
    }
    size_t m = l;
    if (l + 1 < n && ev_before(&q->heap[l + 1], &q->heap[l])) {
      m = l + 1;
    }
    if (!ev_before(&q->heap[m], &last)) {
      break;
    }
    q->heap[i] = q->heap[m];
    i = m;
  }
  if (n > 0) {
    q->heap[i] = last;
  }
  return 0;
}

uint64_t sim_evq_peek(const struct sim_evq *q) {
  return q->len > 0 ? q->heap[0].at : UINT64_MAX;
}

/* prio.c - chunks ordered by a small integer key (rarity), shuffled inside
 * each key, with O(1) moves between neighbouring keys. The picker walks it
 * from the rarest key upward. */
#include "node/swarm/swarm_internal.h"

#include <string.h>

int swarm__prio_init(struct swarm__prio *p, uint32_t n, uint32_t nkeys,
                     struct swarm *sw) {
  memset(p, 0, sizeof(*p));
  p->n = n;
  p->nkeys = nkeys;
  p->order = sm_malloc((size_t)n * sizeof(*p->order));
  p->pos = sm_malloc((size_t)n * sizeof(*p->pos));
  p->key = sm_calloc(n, sizeof(*p->key));
  p->start = sm_malloc(((size_t)nkeys + 1) * sizeof(*p->start));
  if (p->order == NULL || p->pos == NULL || p->key == NULL ||
      p->start == NULL) {
    swarm__prio_cleanup(p);
    return SM_ENOMEM;
  }
  for (uint32_t i = 0; i < n; i++) {
    p->order[i] = i;
  }
  for (uint32_t i = n; i > 1; i--) { /* Fisher-Yates */
    uint32_t j = swarm__rand_below(sw, i);
    uint32_t t = p->order[i - 1];
    p->order[i - 1] = p->order[j];
    p->order[j] = t;
  }
  for (uint32_t i = 0; i < n; i++) {
    p->pos[p->order[i]] = i;
  }
  p->start[0] = 0;
  for (uint32_t k = 1; k <= nkeys; k++) {
    p->start[k] = n; /* all items in key 0 */
  }
  return 0;
}

void swarm__prio_cleanup(struct swarm__prio *p) {
  sm_free(p->order);
  sm_free(p->pos);
  sm_free(p->key);
  sm_free(p->start);
  memset(p, 0, sizeof(*p));
}

static void prio_swap(struct swarm__prio *p, uint32_t a, uint32_t b) {
  uint32_t ia = p->order[a];
  uint32_t ib = p->order[b];
  p->order[a] = ib;
  p->order[b] = ia;
  p->pos[ib] = a;
  p->pos[ia] = b;
}

void swarm__prio_set(struct swarm__prio *p, uint32_t item, uint32_t key,
                     struct swarm *sw) {
  uint32_t k = p->key[item];
  if (key >= p->nkeys) {
    key = p->nkeys - 1;
  }
  if (k == key) {
    return;
  }
  while (k < key) {
    /* Swap to the last slot of bucket k, then shrink k by moving the
     * boundary: the item is now the first of bucket k+1. */
    uint32_t last = p->start[k + 1] - 1;
    prio_swap(p, p->pos[item], last);
    p->start[k + 1] = last;
    k++;
  }
  while (k > key) {
    uint32_t first = p->start[k];
    prio_swap(p, p->pos[item], first);
    p->start[k] = first + 1;
    k--;
  }
  p->key[item] = (uint16_t)key;
  /* Keep the bucket shuffled: the item landed on an edge. */
  uint32_t lo = p->start[key];
  uint32_t hi = p->start[key + 1];
  if (hi - lo > 1) {
    prio_swap(p, p->pos[item], lo + swarm__rand_below(sw, hi - lo));
  }
}

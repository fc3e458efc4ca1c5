/* gossip_harness.c - fake network (per-node loss, blocking, cut links,
 * 1-3 ms latency, a reliable stream for push-pull) and virtual clock driving
 * many gossip cores in one process. See gossip_harness.h. */
#include "tests/unit/gossip_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct cluster_pkt {
  uint64_t at;
  uint64_t seq;
  size_t from, to;
  int stream;
  size_t len;
  uint8_t *buf;
};

static void die(const char *what) {
  fprintf(stderr, "gossip harness: %s\n", what);
  abort();
}

uint64_t cluster_rand(struct cluster *c) {
  uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double rand_unit(struct cluster *c) {
  return (double)(cluster_rand(c) >> 11) / (double)(1ull << 53);
}

static size_t addr_index(const struct gossip_addr *a) {
  return (size_t)a->ip[2] << 8 | a->ip[3];
}

/* ------------------------------------------------------------ the heap */
static int pkt_before(const struct cluster_pkt *a, const struct cluster_pkt *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct cluster *c, struct cluster_pkt p) {
  if (c->n_heap == c->cap_heap) {
    c->cap_heap = c->cap_heap ? 2 * c->cap_heap : 256;
    c->heap = realloc(c->heap, c->cap_heap * sizeof(*c->heap));
    if (c->heap == NULL) {
      die("out of memory");
    }
  }
  size_t i = c->n_heap++;
  c->heap[i] = p;
  while (i > 0 && pkt_before(&c->heap[i], &c->heap[(i - 1) / 2])) {
    struct cluster_pkt t = c->heap[i];
    c->heap[i] = c->heap[(i - 1) / 2];
    c->heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static struct cluster_pkt heap_pop(struct cluster *c) {
  struct cluster_pkt top = c->heap[0];
  size_t i = 0;
  c->heap[0] = c->heap[--c->n_heap];
  for (;;) {
    size_t l = 2 * i + 1;
    size_t r = l + 1;
    size_t m = i;
    if (l < c->n_heap && pkt_before(&c->heap[l], &c->heap[m])) {
      m = l;
    }
    if (r < c->n_heap && pkt_before(&c->heap[r], &c->heap[m])) {
      m = r;
    }
    if (m == i) {
      break;
    }
    struct cluster_pkt t = c->heap[i];
    c->heap[i] = c->heap[m];
    c->heap[m] = t;
    i = m;
  }
  return top;
}

/* ------------------------------------------------------------ transport */
static int link_down(struct cluster *c, size_t from, size_t to) {
  return c->nodes[from].g == NULL || c->nodes[to].g == NULL || c->nodes[from].blocked ||
         c->nodes[to].blocked || c->cut[from * c->n + to];
}

static void enqueue(struct cluster_node *src, const struct gossip_addr *to, const uint8_t *buf,
                    size_t len, int stream) {
  struct cluster *c = src->c;
  struct cluster_pkt p;
  size_t dst = addr_index(to);
  if (dst >= c->n || link_down(c, src->idx, dst) ||
      (!stream && (rand_unit(c) < src->drop || rand_unit(c) < c->nodes[dst].drop))) {
    c->dropped++;
    return;
  }
  if (!stream && len > GOSSIP_PACKET_MAX) {
    die("datagram over GOSSIP_PACKET_MAX");
  }
  p.at = c->now + 1 + cluster_rand(c) % 3;
  p.seq = c->pkt_seq++;
  p.from = src->idx;
  p.to = dst;
  p.stream = stream;
  p.len = len;
  p.buf = malloc(len);
  if (p.buf == NULL) {
    die("out of memory");
  }
  memcpy(p.buf, buf, len);
  heap_push(c, p);
}

static void on_udp(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  enqueue(ctx, to, buf, len, 0);
}

static void on_stream(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  enqueue(ctx, to, buf, len, 1);
}

static void on_state(void *ctx, const uint8_t origin[SM_PUBKEY_BYTES], const char *key,
                     const uint8_t *val, size_t val_len, uint64_t version) {
  struct cluster_node *n = ctx;
  (void)origin;
  (void)key;
  (void)val;
  (void)val_len;
  (void)version;
  n->state_events++;
  n->last_state_at = n->c->now;
}

static void on_member(void *ctx, const uint8_t id[SM_PUBKEY_BYTES], enum gossip_status status,
                      const struct gossip_addr *addr) {
  struct cluster_node *n = ctx;
  (void)id;
  (void)addr;
  if (status == GOSSIP_DEAD) {
    n->dead_events++;
  }
}

/* ------------------------------------------------------------ lifecycle */
struct cluster *cluster_new(size_t n, uint64_t seed, cluster_tune_fn *tune, void *arg) {
  struct cluster *c = calloc(1, sizeof(*c));
  uint8_t(*keys)[SM_PUBKEY_BYTES] = calloc(n, SM_PUBKEY_BYTES);
  if (c == NULL || keys == NULL || n == 0 || n > 65535 || sodium_init() < 0) {
    die("cluster_new");
  }
  printf("# cluster n=%zu seed=%llu\n", n, (unsigned long long)seed);
  c->n = n;
  c->seed = seed;
  c->rng = seed;
  c->now = 1000;
  c->nodes = calloc(n, sizeof(*c->nodes));
  c->cut = calloc(n * n, 1);
  if (c->nodes == NULL || c->cut == NULL) {
    die("out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    struct cluster_node *nd = &c->nodes[i];
    uint8_t ks[crypto_sign_SEEDBYTES] = {0};
    sm_store_be64(ks, seed);
    sm_store_be64(ks + 8, i);
    crypto_sign_seed_keypair(nd->id.public_key, nd->id.secret_key, ks);
    memcpy(keys[i], nd->id.public_key, SM_PUBKEY_BYTES);
    nd->c = c;
    nd->idx = i;
    nd->addr.family = GOSSIP_AF_INET4;
    nd->addr.ip[0] = 10;
    nd->addr.ip[2] = (uint8_t)(i >> 8);
    nd->addr.ip[3] = (uint8_t)i;
    nd->addr.port = 7946;
  }
  if (sm_trust_init_keys(&c->trust, (const uint8_t(*)[SM_PUBKEY_BYTES])keys, n) < 0) {
    die("trust");
  }
  free(keys);
  for (size_t i = 0; i < n; i++) {
    struct cluster_node *nd = &c->nodes[i];
    struct gossip_config cfg;
    struct gossip_ops ops = {nd, on_udp, on_stream, on_member, on_state};
    gossip_config_init(&cfg);
    cfg.identity = &nd->id;
    cfg.trust = &c->trust;
    cfg.addr = nd->addr;
    cfg.seed = seed * 1000003u + i;
    if (tune != NULL) {
      tune(&cfg, i, arg);
    }
    if (gossip_new(&cfg, &ops, c->now, &nd->g) < 0) {
      die("gossip_new");
    }
  }
  for (size_t i = 1; i < n; i++) {
    if (gossip_join(c->nodes[i].g, c->nodes[0].id.public_key, &c->nodes[0].addr, c->now) < 0) {
      die("gossip_join");
    }
  }
  return c;
}

void cluster_free(struct cluster *c) {
  if (c == NULL) {
    return;
  }
  for (size_t i = 0; i < c->n; i++) {
    gossip_free(c->nodes[i].g);
  }
  for (size_t i = 0; i < c->n_heap; i++) {
    free(c->heap[i].buf);
  }
  sm_trust_cleanup(&c->trust);
  free(c->heap);
  free(c->nodes);
  free(c->cut);
  free(c);
}

void cluster_kill(struct cluster *c, size_t i) {
  gossip_free(c->nodes[i].g);
  c->nodes[i].g = NULL;
}

void cluster_block(struct cluster *c, size_t i, int on) {
  c->nodes[i].blocked = on;
}

void cluster_drop(struct cluster *c, size_t i, double rate) {
  c->nodes[i].drop = rate;
}

void cluster_cut(struct cluster *c, size_t a, size_t b, int on) {
  c->cut[a * c->n + b] = (uint8_t)on;
  c->cut[b * c->n + a] = (uint8_t)on;
}

/* ---------------------------------------------------------------- loop */
static void refresh(struct cluster_node *nd) {
  if (nd->g != NULL) {
    nd->deadline = gossip_next_deadline(nd->g);
    if (nd->deadline <= nd->c->now) {
      nd->deadline = nd->c->now;
    }
  }
}

static void run_to(struct cluster *c, uint64_t until) {
  for (size_t i = 0; i < c->n; i++) {
    refresh(&c->nodes[i]);
  }
  for (;;) {
    uint64_t t = UINT64_MAX;
    if (c->n_heap > 0) {
      t = c->heap[0].at;
    }
    for (size_t i = 0; i < c->n; i++) {
      if (c->nodes[i].g != NULL && c->nodes[i].deadline < t) {
        t = c->nodes[i].deadline;
      }
    }
    if (t > until) {
      c->now = until;
      return;
    }
    if (t > c->now) {
      c->now = t;
    }
    while (c->n_heap > 0 && c->heap[0].at <= c->now) {
      struct cluster_pkt p = heap_pop(c);
      struct cluster_node *dst = &c->nodes[p.to];
      if (link_down(c, p.from, p.to)) {
        c->dropped++;
      } else {
        c->delivered++;
        if (p.stream) {
          gossip_stream_recv(dst->g, &c->nodes[p.from].addr, p.buf, p.len, c->now);
        } else {
          gossip_udp_recv(dst->g, &c->nodes[p.from].addr, p.buf, p.len, c->now);
        }
        refresh(dst);
      }
      free(p.buf);
    }
    for (size_t i = 0; i < c->n; i++) {
      struct cluster_node *nd = &c->nodes[i];
      if (nd->g != NULL && nd->deadline <= c->now) {
        gossip_tick(nd->g, c->now);
        refresh(nd);
        if (nd->deadline <= c->now) {
          nd->deadline = c->now + 1; /* never spin on a stuck timer */
        }
      }
    }
  }
}

void cluster_run_for(struct cluster *c, uint64_t ms) {
  run_to(c, c->now + ms);
}

int cluster_run_until(struct cluster *c, int (*cond)(struct cluster *c, void *arg), void *arg,
                      uint64_t timeout_ms) {
  uint64_t end = c->now + timeout_ms;
  while (!cond(c, arg)) {
    if (c->now >= end) {
      return 0;
    }
    run_to(c, SM_MIN(end, c->now + 100));
  }
  return 1;
}

/* -------------------------------------------------------------- queries */
int cluster_status(struct cluster *c, size_t observer, size_t subject) {
  struct gossip_member_info info;
  if (c->nodes[observer].g == NULL ||
      gossip_member_get(c->nodes[observer].g, c->nodes[subject].id.public_key, &info) < 0) {
    return -1;
  }
  return (int)info.status;
}

int cluster_all_see(struct cluster *c, size_t subject, int status) {
  for (size_t i = 0; i < c->n; i++) {
    if (i != subject && c->nodes[i].g != NULL && cluster_status(c, i, subject) != status) {
      return 0;
    }
  }
  return 1;
}

int cluster_fullmesh_cond(struct cluster *c, void *arg) {
  (void)arg;
  for (size_t i = 0; i < c->n; i++) {
    if (c->nodes[i].g == NULL) {
      continue;
    }
    for (size_t j = 0; j < c->n; j++) {
      int st = cluster_status(c, i, j);
      if (i == j) {
        continue;
      }
      if (c->nodes[j].g != NULL ? st != GOSSIP_ALIVE
                                : (st != GOSSIP_DEAD && st != GOSSIP_LEFT && st != -1)) {
        return 0;
      }
    }
  }
  return 1;
}

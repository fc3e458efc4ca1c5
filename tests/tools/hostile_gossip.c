/* hostile_gossip.c - sm-hostile-gossip: hostile gossip datagrams against a
 * node's UDP port, for tests/integration/hostile.sh. One mode per run; the
 * tool only sends (the test judges the node through its status and metrics):
 *   garbage      random bytes of random length (bad magic, short, oversize)
 *   untrusted    well-formed envelopes, each from a fresh key nobody trusts
 *   tampered     valid datagrams from --key with one ciphertext byte flipped
 *   replay       one valid datagram from --key, sent --count times
 *   fake-members valid datagrams from --key (trusted: a malicious insider),
 *                each naming as many invented, untrusted members as fit
 * Prints "sent N datagrams (M fake members)" and exits 0; 2 on a usage or
 * setup error. Loopback only: any other address is refused. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gossip/gossip_internal.h"

#define EXIT_SETUP 2

static void drop_udp(void *ctx, const struct gossip_addr *to, const uint8_t *buf, size_t len) {
  (void)ctx;
  (void)to;
  (void)buf;
  (void)len;
}

static int usage(void) {
  fprintf(stderr, "usage: sm-hostile-gossip --mode MODE --connect 127.0.0.1:PORT --peer-key FILE\n"
                  "         [--key FILE] [--count N] [--generation G]\n"
                  "modes: garbage untrusted tampered replay fake-members\n");
  return EXIT_SETUP;
}

/* A sealed GOSSIP datagram from g to peer carrying n invented members. */
static int seal_members(struct gossip *g, const uint8_t *peer, uint64_t seq, size_t n,
                        uint8_t *out, size_t *out_len) {
  struct gossip__mrec recs[32];
  struct gossip__msg msg;
  uint8_t plain[GOSSIP_PACKET_MAX];
  struct gossip__wbuf w;
  memset(&msg, 0, sizeof(msg));
  memset(recs, 0, sizeof(recs));
  msg.type = GOSSIP__GOSSIP;
  msg.seq = seq;
  for (size_t i = 0; i < n && i < 32; i++) {
    randombytes_buf(recs[i].id, SM_PUBKEY_BYTES);
    recs[i].status = GOSSIP_ALIVE;
    recs[i].incarnation = 1;
    recs[i].addr.family = GOSSIP_AF_INET4;
    recs[i].addr.ip[0] = 127;
    recs[i].addr.ip[3] = 1;
    recs[i].addr.port = (uint16_t)(45000 + randombytes_uniform(1000));
  }
  msg.members = recs;
  msg.n_members = n < 32 ? n : 32;
  gossip__wbuf_init(&w, plain, GOSSIP__PLAIN_MAX);
  if (gossip__msg_encode(&msg, &w) < 0) {
    return -1;
  }
  return gossip__seal(g, GOSSIP__CH_DGRAM, peer, plain, w.len, out, out_len);
}

int main(int argc, char **argv) {
  const char *mode = NULL, *connect_to = NULL, *key_path = NULL, *peer_path = NULL;
  long count = 1000;
  uint64_t generation = (uint64_t)time(NULL);
  static const struct option opts[] = {
      {"mode", required_argument, NULL, 'm'},     {"connect", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},      {"peer-key", required_argument, NULL, 'p'},
      {"count", required_argument, NULL, 'n'},    {"generation", required_argument, NULL, 'g'},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'm': mode = optarg; break;
    case 'c': connect_to = optarg; break;
    case 'k': key_path = optarg; break;
    case 'p': peer_path = optarg; break;
    case 'n': count = strtol(optarg, NULL, 10); break;
    case 'g': generation = strtoull(optarg, NULL, 10); break;
    default: return usage();
    }
  }
  if (mode == NULL || connect_to == NULL || peer_path == NULL || count <= 0 ||
      generation >= (1ull << 32) || sodium_init() < 0) {
    return usage();
  }
  const char *colon = strrchr(connect_to, ':');
  struct sockaddr_in to = {.sin_family = AF_INET};
  if (colon == NULL || strncmp(connect_to, "127.", 4) != 0 || (size_t)(colon - connect_to) > 15) {
    fprintf(stderr, "sm-hostile-gossip: --connect must be a loopback 127.x.y.z:PORT\n");
    return EXIT_SETUP;
  }
  char host[16] = {0};
  memcpy(host, connect_to, (size_t)(colon - connect_to));
  to.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &to.sin_addr) != 1 || (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "sm-hostile-gossip: --connect must be a loopback 127.x.y.z:PORT\n");
    return EXIT_SETUP;
  }
  struct sm_identity peer, me;
  if (sm_identity_load(peer_path, &peer) < 0) {
    fprintf(stderr, "sm-hostile-gossip: cannot load --peer-key %s\n", peer_path);
    return EXIT_SETUP;
  }
  int trusted_mode = strcmp(mode, "tampered") == 0 || strcmp(mode, "replay") == 0 ||
                     strcmp(mode, "fake-members") == 0;
  struct gossip *g = NULL;
  struct sm_trust trust;
  if (trusted_mode) {
    if (key_path == NULL || sm_identity_load(key_path, &me) < 0 ||
        sm_trust_init_keys(&trust, (const uint8_t(*)[SM_PUBKEY_BYTES])peer.public_key, 1) < 0) {
      fprintf(stderr, "sm-hostile-gossip: mode %s needs a loadable --key\n", mode);
      return EXIT_SETUP;
    }
    struct gossip_config cfg;
    struct gossip_ops ops = {NULL, drop_udp, NULL, NULL, NULL};
    gossip_config_init(&cfg);
    cfg.identity = &me;
    cfg.trust = &trust;
    cfg.addr.family = GOSSIP_AF_INET4;
    cfg.addr.ip[0] = 127;
    cfg.addr.ip[3] = 1;
    cfg.addr.port = 9;
    cfg.generation = generation;
    randombytes_buf(&cfg.seed, sizeof(cfg.seed));
    if (gossip_new(&cfg, &ops, 0, &g) < 0) {
      fprintf(stderr, "sm-hostile-gossip: cannot set up gossip\n");
      return EXIT_SETUP;
    }
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("sm-hostile-gossip: socket");
    return EXIT_SETUP;
  }
  static uint8_t buf[GOSSIP_PACKET_MAX + 512];
  size_t len = 0;
  long sent = 0, fakes = 0;
  if (strcmp(mode, "replay") == 0 && seal_members(g, peer.public_key, 1, 0, buf, &len) < 0) {
    return EXIT_SETUP;
  }
  for (long i = 0; i < count; i++) {
    if (strcmp(mode, "garbage") == 0) {
      len = randombytes_uniform(sizeof(buf) + 1);
      randombytes_buf(buf, len);
      if (len > 0 && i % 3 == 0) {
        buf[0] = GOSSIP__MAGIC_DGRAM; /* right magic, junk after it */
      }
    } else if (strcmp(mode, "untrusted") == 0) {
      len = GOSSIP__HEADER + 64 + GOSSIP__TAG;
      randombytes_buf(buf, len);
      buf[0] = GOSSIP__MAGIC_DGRAM;
    } else if (strcmp(mode, "tampered") == 0 || strcmp(mode, "fake-members") == 0) {
      size_t n = strcmp(mode, "fake-members") == 0 ? 14 : 1;
      if (seal_members(g, peer.public_key, (uint64_t)i + 1, n, buf, &len) < 0) {
        fprintf(stderr, "sm-hostile-gossip: cannot seal a datagram\n");
        return EXIT_SETUP;
      }
      if (strcmp(mode, "tampered") == 0) {
        buf[GOSSIP__HEADER + randombytes_uniform((uint32_t)(len - GOSSIP__HEADER))] ^= 0x20;
      } else {
        fakes += (long)n;
      }
    } else if (strcmp(mode, "replay") != 0) {
      return usage();
    }
    if (sendto(fd, buf, len, 0, (const struct sockaddr *)&to, sizeof(to)) >= 0) {
      sent++;
    }
    if (i % 64 == 63) {
      usleep(2000); /* let the node read; a full socket buffer drops silently */
    }
  }
  printf("%s: sent %ld datagrams (%ld fake members)\n", mode, sent, fakes);
  close(fd);
  gossip_free(g);
  if (trusted_mode) {
    sm_trust_cleanup(&trust);
  }
  return 0;
}

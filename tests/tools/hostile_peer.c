/* hostile_peer.c - sm-hostile-peer: a misbehaving seedmesh peer for the
 * integration tests. It speaks the real wire protocol (node/wire) over
 * blocking loopback sockets and breaks it in one chosen way per run, then
 * prints one line saying what the node did and exits 0 if that was the
 * expected, safe behaviour (1 if not, 2 on a usage or setup error).
 *
 * Dialing modes (--connect, against any node):
 *   untrusted, garbage-hello, garbage-after-handshake, oversized, truncated,
 *   replay, flood
 * Serving modes (--listen, dialed by a fetching node listed in its --peers):
 *   corrupt-chunk, lying-have
 * Loopback only: any other address is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chunkstore/chunkstore.h"
#include "common/common.h"
#include "node/wire/wire.h"

#define EXIT_EXPECTED 0
#define EXIT_UNEXPECTED 1
#define EXIT_SETUP 2

#define IO_TIMEOUT_MS 5000   /* one read or write */
#define CLOSE_WAIT_MS 5000   /* how long the node may take to drop us */

struct opts {
  const char *connect;
  const char *listen;
  const char *key;
  const char *trust;
  const char *mode;
  const char *manifest;
  const char *store;
  int count;        /* flood: connections; 0 = default */
  int pings;        /* flood: PINGs on one link; 0 = default */
  int timeout_s;    /* serving modes: give up after this long */
};

struct peer {
  struct sm_identity id;
  struct sm_trust trust;
  struct sockaddr_in addr;
  struct opts o;
  /* serving modes */
  int have_store;
  struct chunkstore_manifest *m;
  struct chunkstore_pieces pieces;
  uint8_t mid[WIRE_ID_BYTES];
  int have_mid;
};

/* One link: a socket, then a session once the handshake is done. */
struct conn {
  int fd;
  int live;                      /* session initialised */
  struct wire_session s;
  uint8_t in[256 * 1024];
  size_t in_off, in_len;         /* unconsumed received bytes */
  uint64_t bytes_in, bytes_out;
  int closed;                    /* EOF or reset seen */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Prints the verdict line and returns the exit code. */
static int verdict(const struct peer *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int verdict(const struct peer *p, int code, const char *fmt, ...) {
  va_list ap;
  printf("%s: %s", p->o.mode, code == EXIT_EXPECTED ? "" : "UNEXPECTED: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  return code;
}

/* ------------------------------------------------------------- sockets */

/* "127.x.y.z:PORT" or "localhost:PORT"; anything not on loopback is refused. */
static int parse_loopback(const char *text, struct sockaddr_in *out) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) {
    return -1;
  }
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  if (strcmp(host, "localhost") == 0) {
    snprintf(host, sizeof(host), "127.0.0.1");
  }
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  memset(out, 0, sizeof(*out));
  out->sin_family = AF_INET;
  if (*end != '\0' || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &out->sin_addr) != 1) {
    return -1;
  }
  out->sin_port = htons((uint16_t)port);
  return (ntohl(out->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
}

static int dial(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void conn_init(struct conn *c, int fd) {
  memset(c, 0, offsetof(struct conn, in));
  c->fd = fd;
  c->in_off = c->in_len = 0;
  c->bytes_in = c->bytes_out = 0;
  c->closed = 0;
}

static void conn_cleanup(struct conn *c) {
  if (c->live) {
    wire_session_cleanup(&c->s);
    c->live = 0;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
}

/* Sends everything; SM_ECLOSED if the node closed or reset the link,
 * SM_ETIMEOUT if it stopped reading for IO_TIMEOUT_MS. */
static int send_all(struct conn *c, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
    int pr = poll(&pfd, 1, IO_TIMEOUT_MS);
    if (pr < 0 && errno == EINTR) {
      continue;
    }
    if (pr == 0) {
      return SM_ETIMEOUT;
    }
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      c->closed = 1;
      return SM_ECLOSED;
    }
    p += n;
    len -= (size_t)n;
    c->bytes_out += (uint64_t)n;
  }
  return 0;
}

/* Reads what is there into c->in (which must be fully consumed). Returns
 * bytes read, 0 on EOF or reset, SM_ETIMEOUT. */
static ssize_t recv_some(struct conn *c, int timeout_ms) {
  for (;;) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) {
      if (stop_requested) {
        return SM_ETIMEOUT;
      }
      continue;
    }
    if (pr == 0) {
      return SM_ETIMEOUT;
    }
    ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      c->closed = 1;
      return 0;
    }
    c->in_off = 0;
    c->in_len = (size_t)n;
    c->bytes_in += (uint64_t)n;
    return n;
  }
}

/* Reads and discards until the node closes the link: 0, or SM_ETIMEOUT. */
static int wait_closed(struct conn *c, int timeout_ms) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  c->in_off = c->in_len = 0;
  while (!c->closed) {
    uint64_t now = now_ms();
    if (now >= deadline) {
      return SM_ETIMEOUT;
    }
    ssize_t n = recv_some(c, (int)(deadline - now));
    if (n == SM_ETIMEOUT) {
      return SM_ETIMEOUT;
    }
    c->in_off = c->in_len = 0;
  }
  return 0;
}

/* ----------------------------------------------------------- protocol */

/* Runs the handshake in the given role. 0 once both sides are
 * authenticated from our point of view; unread bytes stay in c->in. */
static int handshake(struct peer *p, struct conn *c, enum wire_role role, char *why,
                     size_t why_size) {
  struct wire_handshake hs;
  struct wire_handshake_config cfg;
  const uint8_t *out = NULL;
  size_t out_len = 0;
  memset(&cfg, 0, sizeof(cfg));
  cfg.role = role;
  cfg.identity = &p->id;
  cfg.trust = &p->trust;
  int rc = wire_handshake_init(&hs, &cfg);
  snprintf(why, why_size, "handshake init failed");
  while (rc == 0 || rc == SM_EMORE) {
    wire_handshake_output(&hs, &out, &out_len);
    if (out_len > 0 && send_all(c, out, out_len) < 0) {
      rc = SM_ECLOSED;
      snprintf(why, why_size, "closed while we sent the handshake");
      break;
    }
    if (wire_handshake_done(&hs)) {
      break;
    }
    ssize_t n = recv_some(c, IO_TIMEOUT_MS);
    if (n <= 0) {
      rc = n == 0 ? SM_ECLOSED : SM_ETIMEOUT;
      snprintf(why, why_size, "%s during the handshake",
               n == 0 ? "closed by peer" : "timed out");
      break;
    }
    size_t used = 0;
    rc = wire_handshake_read(&hs, c->in, c->in_len, &used);
    c->in_off = used;
    if (rc < 0 && rc != SM_EMORE) {
      snprintf(why, why_size, "our handshake failed: %s", wire_handshake_reason(&hs));
    }
  }
  if (wire_handshake_done(&hs)) {
    rc = wire_handshake_session(&hs, WIRE_FRAME_PAYLOAD_DEFAULT, &c->s);
    c->live = rc == 0;
  }
  wire_handshake_cleanup(&hs);
  return rc;
}

/* Seals one message into a new frame (caller frees). */
static uint8_t *seal(struct conn *c, const struct wire_msg *msg, size_t *out_len) {
  size_t size = wire_msg_encoded_size(msg);
  size_t cap = size + WIRE_FRAME_OVERHEAD;
  uint8_t *frame = size == 0 ? NULL : malloc(cap);
  size_t len = 0;
  if (frame == NULL ||
      wire_msg_encode(msg, frame + WIRE_FRAME_HEADER_BYTES, size, &len) != 0 ||
      wire_frame_encode(&c->s.tx, frame + WIRE_FRAME_HEADER_BYTES, len, frame, cap, out_len) !=
          0) {
    free(frame);
    return NULL;
  }
  return frame;
}

static int send_msg(struct conn *c, const struct wire_msg *msg) {
  size_t len = 0;
  uint8_t *frame = seal(c, msg, &len);
  if (frame == NULL) {
    return SM_ENOMEM;
  }
  int rc = send_all(c, frame, len);
  free(frame);
  return rc;
}

/* Next message from the node: 0, SM_ECLOSED, SM_ETIMEOUT, or a decode
 * error (the node sent something invalid). */
static int next_msg(struct conn *c, int timeout_ms, struct wire_msg *out) {
  for (;;) {
    if (c->in_len > c->in_off) {
      size_t used = 0;
      const uint8_t *payload = NULL;
      size_t payload_len = 0;
      int rc = wire_frame_decode(&c->s.rx, c->in + c->in_off, c->in_len - c->in_off, &used,
                                 &payload, &payload_len);
      c->in_off += used;
      if (rc == 0) {
        return wire_msg_decode(payload, payload_len, out);
      }
      if (rc != SM_EMORE) {
        return rc;
      }
    }
    c->in_off = c->in_len = 0;
    ssize_t n = recv_some(c, timeout_ms);
    if (n == 0) {
      return SM_ECLOSED;
    }
    if (n < 0) {
      return (int)n;
    }
  }
}

/* Dials and authenticates; on failure prints nothing, returns the error. */
static int open_link(struct peer *p, struct conn *c, char *why, size_t why_size) {
  int fd = dial(&p->addr);
  conn_init(c, fd);
  if (fd < 0) {
    snprintf(why, why_size, "cannot connect to %s: %s", p->o.connect, strerror(errno));
    return SM_ECLOSED;
  }
  return handshake(p, c, WIRE_ROLE_INITIATOR, why, why_size);
}

/* ------------------------------------------------------- dialing modes */

static int mode_untrusted(struct peer *p) {
  struct conn c;
  char why[200];
  int rc = open_link(p, &c, why, sizeof(why));
  if (c.fd < 0) {
    return verdict(p, EXIT_SETUP, "%s", why);
  }
  if (rc == 0) {
    /* Our side is satisfied; the node must not be. A PING must get no PONG. */
    struct wire_msg ping = {.type = WIRE_MSG_PING};
    struct wire_msg m;
    ping.u.ping.token = 7;
    send_msg(&c, &ping);
    rc = next_msg(&c, CLOSE_WAIT_MS, &m);
    if (rc == 0) {
      conn_cleanup(&c);
      return verdict(p, EXIT_UNEXPECTED, "the node answered %s to a peer it does not trust",
                     wire_msg_type_name(m.type));
    }
  }
  int closed = c.closed || wait_closed(&c, CLOSE_WAIT_MS) == 0;
  uint64_t in = c.bytes_in, out = c.bytes_out;
  conn_cleanup(&c);
  if (!closed) {
    return verdict(p, EXIT_UNEXPECTED, "the node kept an untrusted link open");
  }
  return verdict(p, EXIT_EXPECTED,
                 "refused: closed by peer after %llu bytes in, %llu out, no application data",
                 (unsigned long long)in, (unsigned long long)out);
}

static int mode_garbage_hello(struct peer *p) {
  uint8_t junk[4096];
  struct conn c;
  randombytes_buf(junk, sizeof(junk));
  junk[0] = 'X'; /* never the start of the magic */
  conn_init(&c, dial(&p->addr));
  if (c.fd < 0) {
    return verdict(p, EXIT_SETUP, "cannot connect to %s", p->o.connect);
  }
  send_all(&c, junk, sizeof(junk));
  int closed = wait_closed(&c, CLOSE_WAIT_MS) == 0;
  uint64_t in = c.bytes_in, out = c.bytes_out;
  conn_cleanup(&c);
  if (!closed) {
    return verdict(p, EXIT_UNEXPECTED, "the node kept reading %llu random bytes as a HELLO",
                   (unsigned long long)out);
  }
  return verdict(p, EXIT_EXPECTED, "closed by peer after %llu bytes in (its HELLO), %llu out",
                 (unsigned long long)in, (unsigned long long)out);
}

/* After a good handshake sends what kind says, then expects the node to drop
 * the link. Returns 1 if it did. */
static int after_handshake(struct peer *p, int kind, char *what, size_t what_size) {
  struct conn c;
  char why[200];
  int rc = open_link(p, &c, why, sizeof(why));
  if (rc != 0) {
    snprintf(what, what_size, "no handshake: %.170s", why);
    conn_cleanup(&c);
    return 0;
  }
  uint8_t buf[4096];
  size_t len = 0;
  struct wire_msg ping = {.type = WIRE_MSG_PING};
  ping.u.ping.token = 99;
  switch (kind) {
  case 0: /* random bytes where a frame should be */
    randombytes_buf(buf, sizeof(buf));
    buf[0] = 0x7f; /* a length far over the cap */
    len = sizeof(buf);
    snprintf(what, what_size, "random bytes");
    break;
  case 1: { /* a well-sized PING frame with one tag bit flipped */
    uint8_t *f = seal(&c, &ping, &len);
    memcpy(buf, f, len);
    free(f);
    buf[len - 1] ^= 0x01;
    snprintf(what, what_size, "a frame with a bad tag");
    break;
  }
  case 2: { /* a correctly sealed frame whose payload is not a message */
    uint8_t junk[64];
    randombytes_buf(junk, sizeof(junk));
    junk[0] = 0xc1; /* never used in msgpack */
    wire_frame_encode(&c.s.tx, junk, sizeof(junk), buf, sizeof(buf), &len);
    snprintf(what, what_size, "a sealed frame of junk");
    break;
  }
  default: { /* a frame header announcing 1 GiB, or the cap + 1 */
    uint32_t body = kind == 3 ? (1u << 30) : WIRE_FRAME_PAYLOAD_DEFAULT + 1 + WIRE_FRAME_MAC_BYTES;
    sm_store_be32(buf, body);
    len = WIRE_FRAME_HEADER_BYTES;
    snprintf(what, what_size, "a header announcing %u bytes", body);
    break;
  }
  }
  uint64_t t0 = now_ms();
  send_all(&c, buf, len);
  int closed = wait_closed(&c, CLOSE_WAIT_MS) == 0;
  size_t l = strlen(what);
  snprintf(what + l, what_size - l, ": %s after %llu ms", closed ? "closed" : "NOT closed",
           (unsigned long long)(now_ms() - t0));
  conn_cleanup(&c);
  return closed;
}

static int mode_garbage_after_handshake(struct peer *p) {
  char a[200], b[200], d[200];
  int ok = after_handshake(p, 0, a, sizeof(a));
  ok &= after_handshake(p, 1, b, sizeof(b));
  ok &= after_handshake(p, 2, d, sizeof(d));
  return verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED, "%s; %s; %s", a, b, d);
}

static int mode_oversized(struct peer *p) {
  char a[200], b[200];
  int ok = after_handshake(p, 3, a, sizeof(a));
  ok &= after_handshake(p, 4, b, sizeof(b));
  return verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED, "%s; %s", a, b);
}

static int mode_truncated(struct peer *p) {
  /* Half a HELLO and close, then half a frame after a handshake and close. */
  struct conn c;
  char why[200];
  uint8_t hello[WIRE_HELLO_BYTES];
  memcpy(hello, WIRE_MAGIC, WIRE_MAGIC_BYTES);
  sm_store_be16(hello + WIRE_MAGIC_BYTES, WIRE_PROTOCOL_VERSION);
  sm_store_be16(hello + WIRE_MAGIC_BYTES + 2, WIRE_KEY_BYTES);
  randombytes_buf(hello + WIRE_MAGIC_BYTES + 4, WIRE_KEY_BYTES);
  conn_init(&c, dial(&p->addr));
  if (c.fd < 0) {
    return verdict(p, EXIT_SETUP, "cannot connect to %s", p->o.connect);
  }
  send_all(&c, hello, sizeof(hello) / 2);
  conn_cleanup(&c);
  int rc = open_link(p, &c, why, sizeof(why));
  if (rc != 0) {
    conn_cleanup(&c);
    return verdict(p, EXIT_UNEXPECTED, "no handshake: %s", why);
  }
  struct wire_msg ping = {.type = WIRE_MSG_PING};
  size_t len = 0;
  uint8_t *f = seal(&c, &ping, &len);
  rc = f == NULL ? SM_ENOMEM : send_all(&c, f, len / 2);
  free(f);
  conn_cleanup(&c);
  return verdict(p, rc == 0 ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                 "sent %zu of %zu bytes of a HELLO, then %zu of %zu bytes of a frame, closing "
                 "after each",
                 sizeof(hello) / 2, sizeof(hello), len / 2, len);
}

static int mode_replay(struct peer *p) {
  struct conn c;
  char why[200];
  if (open_link(p, &c, why, sizeof(why)) != 0) {
    conn_cleanup(&c);
    return verdict(p, EXIT_UNEXPECTED, "no handshake: %s", why);
  }
  struct wire_msg ping = {.type = WIRE_MSG_PING};
  struct wire_msg m;
  ping.u.ping.token = 0x5eed;
  size_t len = 0;
  uint8_t *f = seal(&c, &ping, &len);
  int rc = f == NULL ? SM_ENOMEM : send_all(&c, f, len);
  int pong = 0;
  while (rc == 0) {
    rc = next_msg(&c, IO_TIMEOUT_MS, &m);
    if (rc == 0 && m.type == WIRE_MSG_PONG && m.u.ping.token == ping.u.ping.token) {
      pong = 1;
      break;
    }
  }
  if (f != NULL && pong) {
    send_all(&c, f, len); /* the very same sealed bytes */
  }
  free(f);
  int second_answered = 0;
  rc = pong ? next_msg(&c, CLOSE_WAIT_MS, &m) : rc;
  second_answered = rc == 0;
  int closed = c.closed || wait_closed(&c, CLOSE_WAIT_MS) == 0;
  conn_cleanup(&c);
  if (!pong || second_answered || !closed) {
    return verdict(p, EXIT_UNEXPECTED, "first PING %s, replay %s, link %s",
                   pong ? "answered" : "not answered", second_answered ? "ANSWERED" : "ignored",
                   closed ? "closed" : "kept open");
  }
  return verdict(p, EXIT_EXPECTED,
                 "first PING answered with PONG; the replayed frame (%zu bytes) got no answer and "
                 "the link was closed",
                 len);
}

/* Many links that stop after part of a HELLO, then thousands of requests on
 * one authenticated link. */
static int mode_flood(struct peer *p) {
  int n = p->o.count > 0 ? p->o.count : 200;
  int pings = p->o.pings > 0 ? p->o.pings : 20000;
  int *fds = calloc((size_t)n, sizeof(int));
  int opened = 0;
  if (fds == NULL) {
    return verdict(p, EXIT_SETUP, "out of memory");
  }
  uint64_t t0 = now_ms();
  for (int i = 0; i < n; i++) {
    fds[i] = dial(&p->addr);
    if (fds[i] >= 0) {
      opened++;
      send(fds[i], WIRE_MAGIC, 4, MSG_NOSIGNAL); /* a HELLO that never ends */
    }
  }
  /* The node must drop them all by itself (handshake timeout). */
  int closed = 0;
  uint64_t deadline = now_ms() + 30000;
  while (closed < opened && now_ms() < deadline && !stop_requested) {
    for (int i = 0; i < n; i++) {
      if (fds[i] < 0) {
        continue;
      }
      struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
      uint8_t sink[512];
      if (poll(&pfd, 1, 0) == 1) {
        ssize_t r = recv(fds[i], sink, sizeof(sink), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          close(fds[i]);
          fds[i] = -1;
          closed++;
        }
      }
    }
    usleep(50 * 1000);
  }
  uint64_t held_ms = now_ms() - t0;
  for (int i = 0; i < n; i++) {
    if (fds[i] >= 0) {
      close(fds[i]);
    }
  }
  free(fds);

  /* PINGs first written without reading any PONG, then read back. The node
   * must answer them all, or drop the link once its write queue for us is
   * full; either way its memory stays bounded (the script watches it). */
  struct conn c;
  char why[200];
  if (open_link(p, &c, why, sizeof(why)) != 0) {
    conn_cleanup(&c);
    return verdict(p, EXIT_UNEXPECTED, "%d/%d idle links dropped, then no handshake: %s", closed,
                   opened, why);
  }
  int sent = 0;
  struct wire_msg msg = {.type = WIRE_MSG_PING};
  while (sent < pings && !c.closed) {
    msg.u.ping.token = (uint64_t)sent;
    if (send_msg(&c, &msg) != 0) {
      break;
    }
    sent++;
  }
  int pongs = 0;
  struct wire_msg m;
  while (pongs < sent && next_msg(&c, IO_TIMEOUT_MS, &m) == 0) {
    pongs += m.type == WIRE_MSG_PONG;
  }
  int ping_closed = c.closed;
  conn_cleanup(&c);

  /* MANIFEST_GET for the newest manifest, over and over, on a fresh link. */
  if (open_link(p, &c, why, sizeof(why)) != 0) {
    conn_cleanup(&c);
    return verdict(p, EXIT_UNEXPECTED, "no handshake after the PING flood: %s", why);
  }
  int gets = 0;
  int parts = 0;
  memset(&msg, 0, sizeof(msg));
  msg.type = WIRE_MSG_MANIFEST_GET;
  for (gets = 0; gets < 2000 && !c.closed; gets++) {
    if (send_msg(&c, &msg) != 0 || next_msg(&c, IO_TIMEOUT_MS, &m) != 0) {
      break;
    }
    parts += m.type == WIRE_MSG_MANIFEST_PART;
  }
  int get_closed = c.closed;
  conn_cleanup(&c);
  int pings_ok = pongs == pings || (ping_closed && pongs < sent);
  int ok = closed == opened && pings_ok && get_closed;
  return verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                 "%d/%d half-open links dropped by the node within %llu ms; "
                 "%d PINGs sent unread, %d PONGs then %s; %d MANIFEST_GETs, %d parts served, "
                 "then the link was %s",
                 closed, opened, (unsigned long long)held_ms, sent, pongs,
                 ping_closed ? "closed by the node" : "all answered", gets, parts,
                 get_closed ? "closed" : "kept open");
}

/* ------------------------------------------------------- serving modes */

struct serve_stats {
  uint64_t requests, chunks, links, bitfields;
  int closed_by_victim;
  uint64_t last_link_ms;
};

/* Serves one accepted link until it closes or we are told to stop. */
static void serve_link(struct peer *p, struct conn *c, int corrupt, struct serve_stats *st,
                       uint8_t *junk) {
  struct wire_msg m;
  uint64_t t0 = now_ms();
  uint32_t nbits = p->have_store ? (uint32_t)p->pieces.count : 0;
  uint64_t requests_here = 0;
  while (!stop_requested) {
    int rc = next_msg(c, 500, &m);
    if (rc == SM_ETIMEOUT) {
      if (p->o.timeout_s > 0 && now_ms() - t0 > (uint64_t)p->o.timeout_s * 1000) {
        return;
      }
      continue;
    }
    if (rc != 0) {
      st->closed_by_victim = requests_here > 0 && rc == SM_ECLOSED;
      st->last_link_ms = now_ms() - t0;
      return;
    }
    struct wire_msg out;
    memset(&out, 0, sizeof(out));
    switch (m.type) {
    case WIRE_MSG_PING:
      out.type = WIRE_MSG_PONG;
      out.u.ping.token = m.u.ping.token;
      send_msg(c, &out);
      break;
    case WIRE_MSG_MANIFEST_GET:
      /* We only pretend to hold the chunks: send the victim elsewhere. */
      out.type = WIRE_MSG_REJECT;
      out.u.reject.kind = WIRE_REJECT_KIND_MANIFEST;
      memcpy(out.u.reject.manifest_id, m.u.manifest_get.manifest_id, WIRE_ID_BYTES);
      out.u.reject.index = m.u.manifest_get.part;
      out.u.reject.reason = WIRE_REJECT_NOT_HAVE;
      send_msg(c, &out);
      break;
    case WIRE_MSG_BITFIELD: {
      if (p->have_mid && memcmp(m.u.bitfield.manifest_id, p->mid, WIRE_ID_BYTES) != 0) {
        break;
      }
      if (nbits == 0) {
        nbits = m.u.bitfield.nbits;
      }
      /* Every bit set: we claim the whole snapshot. */
      size_t blen = (nbits + 7) / 8;
      uint8_t *bits = calloc(blen ? blen : 1, 1);
      if (bits == NULL) {
        break;
      }
      for (uint32_t i = 0; i < nbits; i++) {
        bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
      }
      out.type = WIRE_MSG_BITFIELD;
      memcpy(out.u.bitfield.manifest_id, m.u.bitfield.manifest_id, WIRE_ID_BYTES);
      out.u.bitfield.nbits = nbits;
      out.u.bitfield.bits = bits;
      out.u.bitfield.bits_len = blen;
      send_msg(c, &out);
      free(bits);
      st->bitfields++;
      break;
    }
    case WIRE_MSG_REQUEST:
      st->requests++;
      requests_here++;
      if (!corrupt || !p->have_store || m.u.request.index >= p->pieces.count) {
        break; /* lying-have: silence */
      }
      out.type = WIRE_MSG_CHUNK;
      memcpy(out.u.chunk.manifest_id, m.u.request.manifest_id, WIRE_ID_BYTES);
      out.u.chunk.index = m.u.request.index;
      out.u.chunk.encoding = WIRE_ENC_RAW;
      out.u.chunk.raw_len = p->pieces.raw_len[m.u.request.index];
      out.u.chunk.data = junk;
      out.u.chunk.data_len = out.u.chunk.raw_len;
      junk[0] ^= (uint8_t)m.u.request.index; /* right length, wrong bytes */
      if (send_msg(c, &out) == 0) {
        st->chunks++;
      }
      break;
    default:
      break;
    }
  }
  st->last_link_ms = now_ms() - t0;
}

static int mode_serve(struct peer *p, int corrupt) {
  if (corrupt && !p->have_store) {
    return verdict(p, EXIT_SETUP, "--store STORE is needed to know the chunk sizes");
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (lfd < 0 || bind(lfd, (const struct sockaddr *)&p->addr, sizeof(p->addr)) != 0 ||
      listen(lfd, 16) != 0) {
    return verdict(p, EXIT_SETUP, "cannot listen on %s: %s", p->o.listen, strerror(errno));
  }
  uint8_t *junk = malloc(WIRE_CHUNK_MAX);
  struct conn *c = malloc(sizeof(*c));
  if (junk == NULL || c == NULL) {
    close(lfd);
    free(junk);
    free(c);
    return verdict(p, EXIT_SETUP, "out of memory");
  }
  memset(junk, 0x5a, WIRE_CHUNK_MAX);
  struct serve_stats st;
  memset(&st, 0, sizeof(st));
  uint64_t t0 = now_ms();
  uint64_t limit = (uint64_t)(p->o.timeout_s > 0 ? p->o.timeout_s : 120) * 1000;
  /* Serve links one at a time until one that got requests is dropped by
   * the victim (the verdict), or until time runs out. */
  while (!stop_requested && now_ms() - t0 < limit && !st.closed_by_victim) {
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    if (poll(&pfd, 1, 500) != 1) {
      continue;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    conn_init(c, fd);
    char why[200];
    if (handshake(p, c, WIRE_ROLE_RESPONDER, why, sizeof(why)) == 0) {
      st.links++;
      serve_link(p, c, corrupt, &st, junk);
    }
    conn_cleanup(c);
  }
  close(lfd);
  free(junk);
  free(c);
  if (corrupt) {
    return verdict(p, st.chunks > 0 && st.closed_by_victim ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                   "%llu links, %llu requests, %llu corrupt chunks sent; victim %s",
                   (unsigned long long)st.links, (unsigned long long)st.requests,
                   (unsigned long long)st.chunks,
                   st.closed_by_victim ? "dropped the link" : "did NOT drop the link");
  }
  return verdict(p, st.requests > 0 ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                 "%llu links, claimed all chunks, %llu requests left unanswered; victim %s "
                 "after %llu ms",
                 (unsigned long long)st.links, (unsigned long long)st.requests,
                 st.closed_by_victim ? "dropped the link" : "kept the link (we stopped)",
                 (unsigned long long)st.last_link_ms);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *out) {
  fprintf(out,
          "usage: sm-hostile-peer (--connect HOST:PORT | --listen HOST:PORT) --key KEYFILE\n"
          "                       --trust TRUSTFILE --mode MODE [--manifest HEX] [--store STORE]\n"
          "                       [--count N] [--pings N] [--timeout SECONDS]\n"
          "modes with --connect: untrusted garbage-hello garbage-after-handshake oversized\n"
          "                      truncated replay flood\n"
          "modes with --listen:  corrupt-chunk lying-have (--store: chunk sizes)\n"
          "Loopback addresses only. Prints one line; exit 0 = the node behaved.\n");
}

static int load_store(struct peer *p) {
  uint8_t sig[SM_SIG_BYTES];
  int rc = chunkstore_store_load_manifest(p->o.store, p->o.manifest, NULL, &p->m, sig);
  if (rc == 0) {
    rc = chunkstore_pieces_build(p->m, &p->pieces);
  }
  if (rc == 0) {
    p->have_store = 1;
    memcpy(p->mid, p->m->id, WIRE_ID_BYTES);
    p->have_mid = 1;
  }
  return rc;
}

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"connect", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
      {"key", required_argument, NULL, 'k'},     {"trust", required_argument, NULL, 't'},
      {"mode", required_argument, NULL, 'm'},    {"manifest", required_argument, NULL, 'M'},
      {"store", required_argument, NULL, 's'},   {"count", required_argument, NULL, 'n'},
      {"pings", required_argument, NULL, 'P'},   {"timeout", required_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  struct peer *p = calloc(1, sizeof(*p));
  int c;
  if (p == NULL) {
    return EXIT_SETUP;
  }
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'c': p->o.connect = optarg; break;
    case 'l': p->o.listen = optarg; break;
    case 'k': p->o.key = optarg; break;
    case 't': p->o.trust = optarg; break;
    case 'm': p->o.mode = optarg; break;
    case 'M': p->o.manifest = optarg; break;
    case 's': p->o.store = optarg; break;
    case 'n': p->o.count = atoi(optarg); break;
    case 'P': p->o.pings = atoi(optarg); break;
    case 'T': p->o.timeout_s = atoi(optarg); break;
    case 'h': usage(stdout); free(p); return 0;
    default: usage(stderr); free(p); return EXIT_SETUP;
    }
  }
  const char *where = p->o.connect != NULL ? p->o.connect : p->o.listen;
  if (p->o.mode == NULL || p->o.key == NULL || p->o.trust == NULL || where == NULL ||
      (p->o.connect != NULL && p->o.listen != NULL) || optind != argc) {
    usage(stderr);
    free(p);
    return EXIT_SETUP;
  }
  if (parse_loopback(where, &p->addr) < 0) {
    fprintf(stderr, "sm-hostile-peer: %s is not a loopback HOST:PORT\n", where);
    free(p);
    return EXIT_SETUP;
  }
  size_t bad_line = 0;
  if (sodium_init() < 0 || sm_identity_load(p->o.key, &p->id) < 0 ||
      sm_trust_load(p->o.trust, &p->trust, &bad_line) < 0) {
    fprintf(stderr, "sm-hostile-peer: cannot load %s or %s\n", p->o.key, p->o.trust);
    free(p);
    return EXIT_SETUP;
  }
  if (p->o.manifest != NULL) {
    if (sm_hex_decode(p->o.manifest, p->mid, WIRE_ID_BYTES) < 0) {
      fprintf(stderr, "sm-hostile-peer: --manifest %s is not a 64-digit id\n", p->o.manifest);
      free(p);
      return EXIT_SETUP;
    }
    p->have_mid = 1;
  }
  if (p->o.store != NULL && load_store(p) < 0) {
    fprintf(stderr, "sm-hostile-peer: cannot load the manifest of %s\n", p->o.store);
    free(p);
    return EXIT_SETUP;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  static const struct {
    const char *name;
    int (*run)(struct peer *p);
  } dial_modes[] = {
      {"untrusted", mode_untrusted},
      {"garbage-hello", mode_garbage_hello},
      {"garbage-after-handshake", mode_garbage_after_handshake},
      {"oversized", mode_oversized},
      {"truncated", mode_truncated},
      {"replay", mode_replay},
      {"flood", mode_flood},
  };
  int rc = -1;
  int serve = strcmp(p->o.mode, "corrupt-chunk") == 0 ? 1
              : strcmp(p->o.mode, "lying-have") == 0  ? 2
                                                      : 0;
  if (serve != 0) {
    rc = p->o.listen == NULL ? verdict(p, EXIT_SETUP, "this mode needs --listen HOST:PORT")
                             : mode_serve(p, serve == 1);
  }
  for (size_t i = 0; i < SM_ARRAY_LEN(dial_modes) && rc < 0; i++) {
    if (strcmp(p->o.mode, dial_modes[i].name) == 0) {
      rc = p->o.connect == NULL ? verdict(p, EXIT_SETUP, "this mode needs --connect HOST:PORT")
                                : dial_modes[i].run(p);
    }
  }
  if (rc < 0) {
    fprintf(stderr, "sm-hostile-peer: unknown --mode %s\n", p->o.mode);
    rc = EXIT_SETUP;
  }
  if (p->have_store) {
    chunkstore_pieces_cleanup(&p->pieces);
  }
  chunkstore_manifest_free(p->m);
  sm_trust_cleanup(&p->trust);
  sm_identity_cleanup(&p->id);
  free(p);
  return rc;
}

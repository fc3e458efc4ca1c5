/* hostile_peer_link.c - sm-hostile-peer's link machinery: loopback address
 * parsing, blocking sockets with timeouts, and the wire protocol (handshake,
 * sealing, sending and reading messages) on top of node/wire. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile_peer.h"

/* ------------------------------------------------------------- sockets */

/* "127.x.y.z:PORT" or "localhost:PORT"; anything not on loopback is refused. */
int hp_parse_loopback(const char *text, struct sockaddr_in *out) {
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

int hp_dial(const struct sockaddr_in *addr) {
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

void hp_conn_init(struct conn *c, int fd) {
  memset(c, 0, offsetof(struct conn, in));
  c->fd = fd;
  c->in_off = c->in_len = 0;
  c->bytes_in = c->bytes_out = 0;
  c->closed = 0;
}

void hp_conn_cleanup(struct conn *c) {
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
int hp_send_all(struct conn *c, const void *buf, size_t len) {
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
ssize_t hp_recv_some(struct conn *c, int timeout_ms) {
  for (;;) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) {
      if (hp_stop_requested) {
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
int hp_wait_closed(struct conn *c, int timeout_ms) {
  uint64_t deadline = hp_now_ms() + (uint64_t)timeout_ms;
  c->in_off = c->in_len = 0;
  while (!c->closed) {
    uint64_t now = hp_now_ms();
    if (now >= deadline) {
      return SM_ETIMEOUT;
    }
    ssize_t n = hp_recv_some(c, (int)(deadline - now));
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
int hp_handshake(struct peer *p, struct conn *c, enum wire_role role, char *why,
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
    if (out_len > 0 && hp_send_all(c, out, out_len) < 0) {
      rc = SM_ECLOSED;
      snprintf(why, why_size, "closed while we sent the handshake");
      break;
    }
    if (wire_handshake_done(&hs)) {
      break;
    }
    ssize_t n = hp_recv_some(c, IO_TIMEOUT_MS);
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
uint8_t *hp_seal(struct conn *c, const struct wire_msg *msg, size_t *out_len) {
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

int hp_send_msg(struct conn *c, const struct wire_msg *msg) {
  size_t len = 0;
  uint8_t *frame = hp_seal(c, msg, &len);
  if (frame == NULL) {
    return SM_ENOMEM;
  }
  int rc = hp_send_all(c, frame, len);
  free(frame);
  return rc;
}

/* Next message from the node: 0, SM_ECLOSED, SM_ETIMEOUT, or a decode
 * error (the node sent something invalid). */
int hp_next_msg(struct conn *c, int timeout_ms, struct wire_msg *out) {
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
    ssize_t n = hp_recv_some(c, timeout_ms);
    if (n == 0) {
      return SM_ECLOSED;
    }
    if (n < 0) {
      return (int)n;
    }
  }
}

/* Dials and authenticates; on failure prints nothing, returns the error. */
int hp_open_link(struct peer *p, struct conn *c, char *why, size_t why_size) {
  int fd = hp_dial(&p->addr);
  hp_conn_init(c, fd);
  if (fd < 0) {
    snprintf(why, why_size, "cannot connect to %s: %s", p->o.connect, strerror(errno));
    return SM_ECLOSED;
  }
  return hp_handshake(p, c, WIRE_ROLE_INITIATOR, why, why_size);
}

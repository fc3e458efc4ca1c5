/* hostile_peer_dial.c - sm-hostile-peer's dialing modes (--connect):
 * untrusted, garbage-hello, garbage-after-handshake, oversized, truncated,
 * replay and flood. Each breaks the protocol one way and judges how the node
 * reacted. */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile_peer.h"

/* ------------------------------------------------------- dialing modes */

int hp_mode_untrusted(struct peer *p) {
  struct conn c;
  char why[200];
  int rc = hp_open_link(p, &c, why, sizeof(why));
  if (c.fd < 0) {
    return hp_verdict(p, EXIT_SETUP, "%s", why);
  }
  if (rc == 0) {
    /* Our side is satisfied; the node must not be. A PING must get no PONG. */
    struct wire_msg ping = {.type = WIRE_MSG_PING};
    struct wire_msg m;
    ping.u.ping.token = 7;
    hp_send_msg(&c, &ping);
    rc = hp_next_msg(&c, CLOSE_WAIT_MS, &m);
    if (rc == 0) {
      hp_conn_cleanup(&c);
      return hp_verdict(p, EXIT_UNEXPECTED, "the node answered %s to a peer it does not trust",
                        wire_msg_type_name(m.type));
    }
  }
  int closed = c.closed || hp_wait_closed(&c, CLOSE_WAIT_MS) == 0;
  uint64_t in = c.bytes_in, out = c.bytes_out;
  hp_conn_cleanup(&c);
  if (!closed) {
    return hp_verdict(p, EXIT_UNEXPECTED, "the node kept an untrusted link open");
  }
  return hp_verdict(p, EXIT_EXPECTED,
                    "refused: closed by peer after %llu bytes in, %llu out, no application data",
                    (unsigned long long)in, (unsigned long long)out);
}

int hp_mode_garbage_hello(struct peer *p) {
  uint8_t junk[4096];
  struct conn c;
  randombytes_buf(junk, sizeof(junk));
  junk[0] = 'X'; /* never the start of the magic */
  hp_conn_init(&c, hp_dial(&p->addr));
  if (c.fd < 0) {
    return hp_verdict(p, EXIT_SETUP, "cannot connect to %s", p->o.connect);
  }
  hp_send_all(&c, junk, sizeof(junk));
  int closed = hp_wait_closed(&c, CLOSE_WAIT_MS) == 0;
  uint64_t in = c.bytes_in, out = c.bytes_out;
  hp_conn_cleanup(&c);
  if (!closed) {
    return hp_verdict(p, EXIT_UNEXPECTED, "the node kept reading %llu random bytes as a HELLO",
                      (unsigned long long)out);
  }
  return hp_verdict(p, EXIT_EXPECTED, "closed by peer after %llu bytes in (its HELLO), %llu out",
                    (unsigned long long)in, (unsigned long long)out);
}

/* After a good handshake sends what kind says, then expects the node to drop
 * the link. Returns 1 if it did. */
static int after_handshake(struct peer *p, int kind, char *what, size_t what_size) {
  struct conn c;
  char why[200];
  int rc = hp_open_link(p, &c, why, sizeof(why));
  if (rc != 0) {
    snprintf(what, what_size, "no handshake: %.170s", why);
    hp_conn_cleanup(&c);
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
    uint8_t *f = hp_seal(&c, &ping, &len);
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
  uint64_t t0 = hp_now_ms();
  hp_send_all(&c, buf, len);
  int closed = hp_wait_closed(&c, CLOSE_WAIT_MS) == 0;
  size_t l = strlen(what);
  snprintf(what + l, what_size - l, ": %s after %llu ms", closed ? "closed" : "NOT closed",
           (unsigned long long)(hp_now_ms() - t0));
  hp_conn_cleanup(&c);
  return closed;
}

int hp_mode_garbage_after_handshake(struct peer *p) {
  char a[200], b[200], d[200];
  int ok = after_handshake(p, 0, a, sizeof(a));
  ok &= after_handshake(p, 1, b, sizeof(b));
  ok &= after_handshake(p, 2, d, sizeof(d));
  return hp_verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED, "%s; %s; %s", a, b, d);
}

int hp_mode_oversized(struct peer *p) {
  char a[200], b[200];
  int ok = after_handshake(p, 3, a, sizeof(a));
  ok &= after_handshake(p, 4, b, sizeof(b));
  return hp_verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED, "%s; %s", a, b);
}

int hp_mode_truncated(struct peer *p) {
  /* Half a HELLO and close, then half a frame after a handshake and close. */
  struct conn c;
  char why[200];
  uint8_t hello[WIRE_HELLO_BYTES];
  memcpy(hello, WIRE_MAGIC, WIRE_MAGIC_BYTES);
  sm_store_be16(hello + WIRE_MAGIC_BYTES, WIRE_PROTOCOL_VERSION);
  sm_store_be16(hello + WIRE_MAGIC_BYTES + 2, WIRE_KEY_BYTES);
  randombytes_buf(hello + WIRE_MAGIC_BYTES + 4, WIRE_KEY_BYTES);
  hp_conn_init(&c, hp_dial(&p->addr));
  if (c.fd < 0) {
    return hp_verdict(p, EXIT_SETUP, "cannot connect to %s", p->o.connect);
  }
  hp_send_all(&c, hello, sizeof(hello) / 2);
  hp_conn_cleanup(&c);
  int rc = hp_open_link(p, &c, why, sizeof(why));
  if (rc != 0) {
    hp_conn_cleanup(&c);
    return hp_verdict(p, EXIT_UNEXPECTED, "no handshake: %s", why);
  }
  struct wire_msg ping = {.type = WIRE_MSG_PING};
  size_t len = 0;
  uint8_t *f = hp_seal(&c, &ping, &len);
  rc = f == NULL ? SM_ENOMEM : hp_send_all(&c, f, len / 2);
  free(f);
  hp_conn_cleanup(&c);
  return hp_verdict(p, rc == 0 ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                    "sent %zu of %zu bytes of a HELLO, then %zu of %zu bytes of a frame, closing "
                    "after each",
                    sizeof(hello) / 2, sizeof(hello), len / 2, len);
}

int hp_mode_replay(struct peer *p) {
  struct conn c;
  char why[200];
  if (hp_open_link(p, &c, why, sizeof(why)) != 0) {
    hp_conn_cleanup(&c);
    return hp_verdict(p, EXIT_UNEXPECTED, "no handshake: %s", why);
  }
  struct wire_msg ping = {.type = WIRE_MSG_PING};
  struct wire_msg m;
  ping.u.ping.token = 0x5eed;
  size_t len = 0;
  uint8_t *f = hp_seal(&c, &ping, &len);
  int rc = f == NULL ? SM_ENOMEM : hp_send_all(&c, f, len);
  int pong = 0;
  while (rc == 0) {
    rc = hp_next_msg(&c, IO_TIMEOUT_MS, &m);
    if (rc == 0 && m.type == WIRE_MSG_PONG && m.u.ping.token == ping.u.ping.token) {
      pong = 1;
      break;
    }
  }
  if (f != NULL && pong) {
    hp_send_all(&c, f, len); /* the very same sealed bytes */
  }
  free(f);
  int second_answered = 0;
  rc = pong ? hp_next_msg(&c, CLOSE_WAIT_MS, &m) : rc;
  second_answered = rc == 0;
  int closed = c.closed || hp_wait_closed(&c, CLOSE_WAIT_MS) == 0;
  hp_conn_cleanup(&c);
  if (!pong || second_answered || !closed) {
    return hp_verdict(p, EXIT_UNEXPECTED, "first PING %s, replay %s, link %s",
                      pong ? "answered" : "not answered", second_answered ? "ANSWERED" : "ignored",
                      closed ? "closed" : "kept open");
  }
  return hp_verdict(p, EXIT_EXPECTED,
                    "first PING answered with PONG; the replayed frame (%zu bytes) got no answer "
                    "and the link was closed",
                    len);
}

/* Many links that stop after part of a HELLO, then thousands of requests on
 * one authenticated link. */
int hp_mode_flood(struct peer *p) {
  int n = p->o.count > 0 ? p->o.count : 200;
  int pings = p->o.pings > 0 ? p->o.pings : 20000;
  int *fds = calloc((size_t)n, sizeof(int));
  int opened = 0;
  if (fds == NULL) {
    return hp_verdict(p, EXIT_SETUP, "out of memory");
  }
  uint64_t t0 = hp_now_ms();
  for (int i = 0; i < n; i++) {
    fds[i] = hp_dial(&p->addr);
    if (fds[i] >= 0) {
      opened++;
      send(fds[i], WIRE_MAGIC, 4, MSG_NOSIGNAL); /* a HELLO that never ends */
    }
  }
  /* The node must drop them all by itself (handshake timeout). */
  int closed = 0;
  uint64_t deadline = hp_now_ms() + 30000;
  while (closed < opened && hp_now_ms() < deadline && !hp_stop_requested) {
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
  uint64_t held_ms = hp_now_ms() - t0;
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
  if (hp_open_link(p, &c, why, sizeof(why)) != 0) {
    hp_conn_cleanup(&c);
    return hp_verdict(p, EXIT_UNEXPECTED, "%d/%d idle links dropped, then no handshake: %s", closed,
                      opened, why);
  }
  int sent = 0;
  struct wire_msg msg = {.type = WIRE_MSG_PING};
  while (sent < pings && !c.closed) {
    msg.u.ping.token = (uint64_t)sent;
    if (hp_send_msg(&c, &msg) != 0) {
      break;
    }
    sent++;
  }
  int pongs = 0;
  struct wire_msg m;
  while (pongs < sent && hp_next_msg(&c, IO_TIMEOUT_MS, &m) == 0) {
    pongs += m.type == WIRE_MSG_PONG;
  }
  int ping_closed = c.closed;
  hp_conn_cleanup(&c);

  /* MANIFEST_GET for the newest manifest, over and over, on a fresh link. */
  if (hp_open_link(p, &c, why, sizeof(why)) != 0) {
    hp_conn_cleanup(&c);
    return hp_verdict(p, EXIT_UNEXPECTED, "no handshake after the PING flood: %s", why);
  }
  int gets = 0;
  int parts = 0;
  memset(&msg, 0, sizeof(msg));
  msg.type = WIRE_MSG_MANIFEST_GET;
  for (gets = 0; gets < 2000 && !c.closed; gets++) {
    if (hp_send_msg(&c, &msg) != 0 || hp_next_msg(&c, IO_TIMEOUT_MS, &m) != 0) {
      break;
    }
    parts += m.type == WIRE_MSG_MANIFEST_PART;
  }
  int get_closed = c.closed;
  hp_conn_cleanup(&c);
  int pings_ok = pongs == pings || (ping_closed && pongs < sent);
  int ok = closed == opened && pings_ok && get_closed;
  return hp_verdict(p, ok ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                    "%d/%d half-open links dropped by the node within %llu ms; "
                    "%d PINGs sent unread, %d PONGs then %s; %d MANIFEST_GETs, %d parts served, "
                    "then the link was %s",
                    closed, opened, (unsigned long long)held_ms, sent, pongs,
                    ping_closed ? "closed by the node" : "all answered", gets, parts,
                    get_closed ? "closed" : "kept open");
}

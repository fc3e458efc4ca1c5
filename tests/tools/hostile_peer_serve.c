/* hostile_peer_serve.c - sm-hostile-peer's serving modes (--listen): as a
 * peer the fetching node dials, serve corrupt chunks (corrupt-chunk) or
 * announce chunks and then never answer requests for them (lying-have). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile_peer.h"

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
  uint64_t t0 = hp_now_ms();
  uint32_t nbits = p->have_store ? (uint32_t)p->pieces.count : 0;
  uint64_t requests_here = 0;
  while (!hp_stop_requested) {
    int rc = hp_next_msg(c, 500, &m);
    if (rc == SM_ETIMEOUT) {
      if (p->o.timeout_s > 0 && hp_now_ms() - t0 > (uint64_t)p->o.timeout_s * 1000) {
        return;
      }
      continue;
    }
    if (rc != 0) {
      st->closed_by_victim = requests_here > 0 && rc == SM_ECLOSED;
      st->last_link_ms = hp_now_ms() - t0;
      return;
    }
    struct wire_msg out;
    memset(&out, 0, sizeof(out));
    switch (m.type) {
    case WIRE_MSG_PING:
      out.type = WIRE_MSG_PONG;
      out.u.ping.token = m.u.ping.token;
      hp_send_msg(c, &out);
      break;
    case WIRE_MSG_MANIFEST_GET:
      /* We only pretend to hold the chunks: send the victim elsewhere. */
      out.type = WIRE_MSG_REJECT;
      out.u.reject.kind = WIRE_REJECT_KIND_MANIFEST;
      memcpy(out.u.reject.manifest_id, m.u.manifest_get.manifest_id, WIRE_ID_BYTES);
      out.u.reject.index = m.u.manifest_get.part;
      out.u.reject.reason = WIRE_REJECT_NOT_HAVE;
      hp_send_msg(c, &out);
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
      hp_send_msg(c, &out);
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
      if (hp_send_msg(c, &out) == 0) {
        st->chunks++;
      }
      break;
    default:
      break;
    }
  }
  st->last_link_ms = hp_now_ms() - t0;
}

int hp_mode_serve(struct peer *p, int corrupt) {
  if (corrupt && !p->have_store) {
    return hp_verdict(p, EXIT_SETUP, "--store STORE is needed to know the chunk sizes");
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (lfd < 0 || bind(lfd, (const struct sockaddr *)&p->addr, sizeof(p->addr)) != 0 ||
      listen(lfd, 16) != 0) {
    return hp_verdict(p, EXIT_SETUP, "cannot listen on %s: %s", p->o.listen, strerror(errno));
  }
  uint8_t *junk = malloc(WIRE_CHUNK_MAX);
  struct conn *c = malloc(sizeof(*c));
  if (junk == NULL || c == NULL) {
    close(lfd);
    free(junk);
    free(c);
    return hp_verdict(p, EXIT_SETUP, "out of memory");
  }
  memset(junk, 0x5a, WIRE_CHUNK_MAX);
  struct serve_stats st;
  memset(&st, 0, sizeof(st));
  uint64_t t0 = hp_now_ms();
  uint64_t limit = (uint64_t)(p->o.timeout_s > 0 ? p->o.timeout_s : 120) * 1000;
  /* Serve links one at a time until one that got requests is dropped by
   * the victim (the verdict), or until time runs out. */
  while (!hp_stop_requested && hp_now_ms() - t0 < limit && !st.closed_by_victim) {
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    if (poll(&pfd, 1, 500) != 1) {
      continue;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    hp_conn_init(c, fd);
    char why[200];
    if (hp_handshake(p, c, WIRE_ROLE_RESPONDER, why, sizeof(why)) == 0) {
      st.links++;
      serve_link(p, c, corrupt, &st, junk);
    }
    hp_conn_cleanup(c);
  }
  close(lfd);
  free(junk);
  free(c);
  if (corrupt) {
    return hp_verdict(p, st.chunks > 0 && st.closed_by_victim ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                      "%llu links, %llu requests, %llu corrupt chunks sent; victim %s",
                      (unsigned long long)st.links, (unsigned long long)st.requests,
                      (unsigned long long)st.chunks,
                      st.closed_by_victim ? "dropped the link" : "did NOT drop the link");
  }
  return hp_verdict(p, st.requests > 0 ? EXIT_EXPECTED : EXIT_UNEXPECTED,
                    "%llu links, claimed all chunks, %llu requests left unanswered; victim %s "
                    "after %llu ms",
                    (unsigned long long)st.links, (unsigned long long)st.requests,
                    st.closed_by_victim ? "dropped the link" : "kept the link (we stopped)",
                    (unsigned long long)st.last_link_ms);
}

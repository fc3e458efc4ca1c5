/* hostile_peer.h - internals shared by the files of sm-hostile-peer
 * (tests/tools): exit codes, options, the peer and link state, blocking
 * loopback socket helpers, the wire-protocol helpers and the modes. */
#ifndef SM_TESTS_TOOLS_HOSTILE_PEER_H
#define SM_TESTS_TOOLS_HOSTILE_PEER_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Set by SIGTERM/SIGINT: serving modes stop. */
extern volatile sig_atomic_t hp_stop_requested;

/* Monotonic clock in milliseconds. */
uint64_t hp_now_ms(void);
/* Prints the verdict line and returns the exit code. */
int hp_verdict(const struct peer *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* hostile_peer_link.c: sockets and protocol. */

/* "127.x.y.z:PORT" or "localhost:PORT"; anything not on loopback is refused. */
int hp_parse_loopback(const char *text, struct sockaddr_in *out);
/* A blocking socket connected to addr, or -1 (errno set). */
int hp_dial(const struct sockaddr_in *addr);
void hp_conn_init(struct conn *c, int fd);
void hp_conn_cleanup(struct conn *c);
/* Sends everything; SM_ECLOSED if the node closed or reset the link,
 * SM_ETIMEOUT if it stopped reading for IO_TIMEOUT_MS. */
int hp_send_all(struct conn *c, const void *buf, size_t len);
/* Reads what is there into c->in (which must be fully consumed). Returns
 * bytes read, 0 on EOF or reset, SM_ETIMEOUT. */
ssize_t hp_recv_some(struct conn *c, int timeout_ms);
/* Reads and discards until the node closes the link: 0, or SM_ETIMEOUT. */
int hp_wait_closed(struct conn *c, int timeout_ms);
/* Runs the handshake in the given role. 0 once both sides are
 * authenticated from our point of view; unread bytes stay in c->in. */
int hp_handshake(struct peer *p, struct conn *c, enum wire_role role, char *why,
                 size_t why_size);
/* Seals one message into a new frame (caller frees). */
uint8_t *hp_seal(struct conn *c, const struct wire_msg *msg, size_t *out_len);
int hp_send_msg(struct conn *c, const struct wire_msg *msg);
/* Next message from the node: 0, SM_ECLOSED, SM_ETIMEOUT, or a decode
 * error (the node sent something invalid). */
int hp_next_msg(struct conn *c, int timeout_ms, struct wire_msg *out);
/* Dials and authenticates; on failure prints nothing, returns the error. */
int hp_open_link(struct peer *p, struct conn *c, char *why, size_t why_size);

/* hostile_peer_dial.c: modes that dial the node (--connect). Each prints the
 * verdict line and returns the exit code. */
int hp_mode_untrusted(struct peer *p);
int hp_mode_garbage_hello(struct peer *p);
int hp_mode_garbage_after_handshake(struct peer *p);
int hp_mode_oversized(struct peer *p);
int hp_mode_truncated(struct peer *p);
int hp_mode_replay(struct peer *p);
int hp_mode_flood(struct peer *p);

/* hostile_peer_serve.c: modes dialed by the node (--listen): serve corrupt
 * chunks (corrupt != 0) or announce chunks and leave their requests
 * unanswered (lying-have). Prints the verdict line, returns the exit code. */
int hp_mode_serve(struct peer *p, int corrupt);

#endif

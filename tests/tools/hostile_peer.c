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
 * Loopback only: any other address is refused.
 *
 * This file holds the options, main and the verdict line; the link machinery
 * is in hostile_peer_link.c, the modes in hostile_peer_dial.c and
 * hostile_peer_serve.c. */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostile_peer.h"

volatile sig_atomic_t hp_stop_requested;

static void on_signal(int sig) {
  (void)sig;
  hp_stop_requested = 1;
}

uint64_t hp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Prints the verdict line and returns the exit code. */
int hp_verdict(const struct peer *p, int code, const char *fmt, ...) {
  va_list ap;
  printf("%s: %s", p->o.mode, code == EXIT_EXPECTED ? "" : "UNEXPECTED: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  return code;
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
  if (hp_parse_loopback(where, &p->addr) < 0) {
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
      {"untrusted", hp_mode_untrusted},
      {"garbage-hello", hp_mode_garbage_hello},
      {"garbage-after-handshake", hp_mode_garbage_after_handshake},
      {"oversized", hp_mode_oversized},
      {"truncated", hp_mode_truncated},
      {"replay", hp_mode_replay},
      {"flood", hp_mode_flood},
  };
  int rc = -1;
  int serve = strcmp(p->o.mode, "corrupt-chunk") == 0 ? 1
              : strcmp(p->o.mode, "lying-have") == 0  ? 2
                                                      : 0;
  if (serve != 0) {
    rc = p->o.listen == NULL ? hp_verdict(p, EXIT_SETUP, "this mode needs --listen HOST:PORT")
                             : hp_mode_serve(p, serve == 1);
  }
  for (size_t i = 0; i < SM_ARRAY_LEN(dial_modes) && rc < 0; i++) {
    if (strcmp(p->o.mode, dial_modes[i].name) == 0) {
      rc = p->o.connect == NULL ? hp_verdict(p, EXIT_SETUP, "this mode needs --connect HOST:PORT")
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

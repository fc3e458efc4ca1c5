/* cmd_sst.c - seedmesh sst: the Galera State Snapshot Transfer method
 * "seedmesh" (wsrep_sst_method=seedmesh; mariadbd runs
 * packaging/wsrep_sst_seedmesh, which runs this). Speaks mariadbd's script
 * protocol on stdout and nothing else; every other word goes to stderr,
 * which mariadbd copies into its error log.
 *
 * Joiner: listens on its SST address, prints "ready HOST:PORT/seedmesh/NONCE"
 * at once, and waits for the donor's one-line answer (cli/sst_line.c). For a
 * manifest it asks the local seedmesh node (control socket) to fetch the
 * snapshot from the swarm, printing "total"/"complete" progress lines,
 * checks and prepares it, swaps it into the datadir (the old files are moved
 * aside, never deleted) and prints "<uuid>:<seqno> <domain_id>"; Galera then
 * replays the rest by IST. For "bypass" (IST only) it prints the position
 * the donor names. It stops when mariadbd (--parent) dies.
 *
 * Donor: answers with the latest snapshot in its seedmesh store after
 * checking that the snapshot is still inside the node's IST window (gcache),
 * or with an error the joiner reports; then prints "done <uuid>:<seqno>".
 * docs/galera.md has the details and the failure table. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chunkstore/chunkstore.h"
#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"
#include "node/node.h"

#define SST_ANSWER_TIMEOUT_S 10   /* a connected donor sends its line within */
#define SST_CONNECT_TIMEOUT_S 30  /* the donor retries reaching the joiner */

struct sst_args {
  const char *role, *address, *datadir, *socket, *gtid, *control, *store, *key;
  long parent;
  unsigned domain;
  unsigned timeout_s;
  int bypass;
};

static void sst_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh sst --role joiner|donor --address ADDR --datadir DIR [...]\n\n"
          "The Galera SST method 'seedmesh', run by mariadbd through wsrep_sst_seedmesh\n"
          "(set wsrep_sst_method=seedmesh). Its stdout is the SST protocol; do not run it\n"
          "by hand. Settings from the [sst] section of the seedmesh config file:\n"
          "  --control PATH   joiner: the local seedmesh node's control socket\n"
          "  --store DIR      donor: the seedmesh store of --galera-info snapshots, served\n"
          "                   by the seedmesh node at --control\n"
          "  --key FILE       donor: signs a fresh snapshot when the latest one is too old\n"
          "                   (without it such a join is refused)\n"
          "  --timeout SEC    joiner: how long to wait for the donor and the fetch\n"
          "                   (default 3600)\n"
          "mariadbd's own arguments (--parent, --gtid, --bypass, --socket, ...) are read;\n"
          "everything after --mysqld-args is ignored. See docs/galera.md.\n");
}

static void sst_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sst_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "seedmesh sst: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

/* One protocol line on stdout, flushed at once. */
static void proto(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void proto(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static int parent_alive(long pid) {
  return pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int parse_args(int argc, char **argv, struct sst_args *a) {
  static const struct option options[] = {
      {"role", required_argument, NULL, 'r'},
      {"address", required_argument, NULL, 'a'},
      {"datadir", required_argument, NULL, 'd'},
      {"parent", required_argument, NULL, 'p'},
      {"socket", required_argument, NULL, 's'},
      {"gtid", required_argument, NULL, 'g'},
      {"gtid-domain-id", required_argument, NULL, 'D'},
      {"bypass", no_argument, NULL, 'b'},
      {"control", required_argument, NULL, 'c'},
      {"store", required_argument, NULL, 'S'},
      {"key", required_argument, NULL, 'k'},
      {"timeout", required_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},
      /* mariadbd's, read and unused */
      {"progress", required_argument, NULL, 'x'},
      {"local-port", required_argument, NULL, 'x'},
      {"defaults-file", required_argument, NULL, 'x'},
      {"defaults-extra-file", required_argument, NULL, 'x'},
      {"defaults-group-suffix", required_argument, NULL, 'x'},
      {"binlog", required_argument, NULL, 'x'},
      {"binlog-index", required_argument, NULL, 'x'},
      {NULL, 0, NULL, 0},
  };
  /* mariadbd appends its whole command line after --mysqld-args. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--mysqld-args") == 0) {
      argc = i;
      break;
    }
  }
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    char *end = NULL;
    unsigned long v = 0;
    if (optarg != NULL) {
      errno = 0;
      v = strtoul(optarg, &end, 10);
    }
    int num_ok = optarg != NULL && errno == 0 && end != optarg && *end == '\0';
    switch (c) {
    case 'r': a->role = optarg; break;
    case 'a': a->address = optarg; break;
    case 'd': a->datadir = optarg; break;
    case 's': a->socket = optarg; break;
    case 'g': a->gtid = optarg; break;
    case 'b': a->bypass = 1; break;
    case 'c': a->control = optarg; break;
    case 'S': a->store = optarg; break;
    case 'k': a->key = optarg; break;
    case 'x': break;
    case 'p':
      if (!num_ok || v == 0 || v > INT_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "sst", "--parent %s is not a process id", optarg);
      }
      a->parent = (long)v;
      break;
    case 'D':
      if (!num_ok || v > UINT32_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "sst", "--gtid-domain-id %s is not a number", optarg);
      }
      a->domain = (unsigned)v;
      break;
    case 'T':
      if (!num_ok || v == 0 || v > 86400) {
        return cli_fail(CLI_EXIT_USAGE, "sst", "--timeout %s: use 1..86400 seconds", optarg);
      }
      a->timeout_s = (unsigned)v;
      break;
    case 'h': sst_usage(stdout); return -1;
    default:
      sst_log("ignoring an unknown argument %s", argv[optind - 1]);
      break;
    }
  }
  if (a->role == NULL || a->address == NULL ||
      (strcmp(a->role, "joiner") != 0 && strcmp(a->role, "donor") != 0)) {
    return cli_fail(CLI_EXIT_USAGE, "sst", "--role joiner|donor and --address are required "
                    "(this command is run by mariadbd: set wsrep_sst_method=seedmesh)");
  }
  if (strcmp(a->role, "joiner") == 0 && a->datadir == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "sst", "--datadir is required for the joiner");
  }
  return 0;
}

/* ------------------------------------------------------------------ joiner */

static int listen_on(const struct cli_sst_address *a, char *err, size_t err_size) {
  struct addrinfo hints, *res = NULL;
  char port[8];
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof(port), "%u", a->port);
  int rc = getaddrinfo(a->host, port, &hints, &res);
  if (rc != 0) {
    snprintf(err, err_size, "cannot resolve the SST address %s: %s", a->host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4) != 0) {
    snprintf(err, err_size, "cannot listen on %s:%u for the donor: %s (set "
             "wsrep_sst_receive_address to a free HOST:PORT)", a->host, a->port,
             strerror(errno));
    if (fd >= 0) {
      close(fd);
    }
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

/* Reads one line (at most CLI_SST_LINE_MAX bytes) within the deadline. */
static ssize_t read_line(int fd, uint8_t *buf, size_t cap, double deadline) {
  size_t n = 0;
  while (n < cap) {
    int left = (int)((deadline - cli_now()) * 1000);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, left) <= 0) {
      return -1;
    }
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0) {
      return -1;
    }
    n++;
    if (buf[n - 1] == '\n') {
      return (ssize_t)n;
    }
  }
  return -1;
}

/* Waits for the donor's answer carrying our nonce. 0, or -1 with err. */
static int wait_answer(int lfd, const char *nonce, const struct sst_args *a,
                       struct cli_sst_answer *ans, char *err, size_t err_size) {
  double deadline = cli_now() + a->timeout_s;
  for (;;) {
    if (!parent_alive(a->parent)) {
      snprintf(err, err_size, "mariadbd (pid %ld) is gone; stopping", a->parent);
      return -1;
    }
    if (cli_now() > deadline) {
      snprintf(err, err_size, "no answer from a donor in %u s (is wsrep_sst_method=seedmesh set "
               "on the donor, and can it reach this node's SST address?)", a->timeout_s);
      return -1;
    }
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0) {
      continue;
    }
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0) {
      continue;
    }
    uint8_t line[CLI_SST_LINE_MAX];
    ssize_t n = read_line(cfd, line, sizeof(line), cli_now() + SST_ANSWER_TIMEOUT_S);
    close(cfd);
    if (n < 0 || cli_sst_answer_parse(line, (size_t)n, ans) < 0) {
      sst_log("ignoring a connection that did not send a seedmesh SST answer");
      continue;
    }
    if (sodium_memcmp(ans->nonce, nonce, CLI_SST_NONCE_HEX) != 0) {
      sst_log("ignoring an answer meant for another joiner (wrong nonce)");
      continue;
    }
    return 0;
  }
}

/* Asks the node to fetch manifest into target; follows it with progress
 * lines until the tree is in place. */
static int fetch(const struct sst_args *a, const char *manifest, const char *target, char *err,
                 size_t err_size) {
  struct node_control_request req;
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  if (strlen(target) >= sizeof(req.target)) {
    snprintf(err, err_size, "the datadir path is too long");
    return -1;
  }
  int fd = cli_control_connect(a->control, err, err_size);
  if (fd < 0) {
    return -1;
  }
  memset(&req, 0, sizeof(req));
  req.op = NODE_CONTROL_FETCH;
  snprintf(req.manifest, sizeof(req.manifest), "%s", manifest);
  memcpy(req.target, target, strlen(target) + 1);
  msgpack_zone_init(&zone, 4096);
  int rc = cli_control_call(fd, &req, &zone, &ans, &buf, err, err_size);
  sm_free(buf);
  msgpack_zone_destroy(&zone);
  uint64_t total_said = 0;
  double last = 0;
  double deadline = cli_now() + a->timeout_s;
  while (rc == 0) {
    struct node_control_request st = {.op = NODE_CONTROL_STATUS};
    if (!parent_alive(a->parent)) {
      snprintf(err, err_size, "mariadbd (pid %ld) is gone; stopping (the node keeps the fetched "
               "part for the next attempt)", a->parent);
      rc = -1;
      break;
    }
    if (cli_now() > deadline) {
      snprintf(err, err_size, "the fetch did not finish in %u s", a->timeout_s);
      rc = -1;
      break;
    }
    msgpack_zone_init(&zone, 65536);
    rc = cli_control_call(fd, &st, &zone, &ans, &buf, err, err_size);
    const msgpack_object *t = rc == 0 ? cli_status_transfer(&ans, target) : NULL;
    char state[32] = "", error[512] = "";
    uint64_t have = 0, total = 0;
    if (t != NULL) {
      cli_mp_str(t, "state", state, sizeof(state));
      cli_mp_str(t, "error", error, sizeof(error));
      have = cli_mp_u64(t, "bytes_have");
      total = cli_mp_u64(t, "bytes_total");
    } else if (rc == 0) {
      snprintf(err, err_size, "the node forgot the transfer into %.400s", target);
      rc = -1;
    }
    msgpack_zone_destroy(&zone);
    sm_free(buf);
    buf = NULL;
    if (rc < 0) {
      break;
    }
    if (total > 0 && total != total_said) {
      proto("total %" PRIu64, total);
      total_said = total;
    }
    if (total > 0 && (cli_now() - last >= 2.0 || have == total)) {
      proto("complete %" PRIu64, have);
      last = cli_now();
    }
    if (strcmp(state, "FAILED") == 0) {
      snprintf(err, err_size, "fetch failed: %s", error);
      rc = -1;
      break;
    }
    if (strcmp(state, "DONE") == 0) {
      break;
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  close(fd);
  return rc;
}

/* Reads the snapshot's Galera position from the fetched tree, where the
 * signed facts file and mariadb-backup's own file must agree. */
static int tree_position(const char *tree, struct engine_kvset *facts,
                         struct engine_galera_info *gi, char *err, size_t err_size) {
  char path[PATH_MAX + 64];
  uint8_t *buf = NULL;
  size_t len = 0;
  struct engine_kvset coords;
  engine_kvset_init(&coords);
  snprintf(path, sizeof(path), "%s/%s", tree, ENGINE_FACTS_FILE);
  int rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  if (rc == 0) {
    rc = engine_parse_facts_file(buf, len, facts, &coords);
    sm_free(buf);
    buf = NULL;
  }
  snprintf(path, sizeof(path), "%s/xtrabackup_galera_info", tree);
  if (rc == 0) {
    rc = sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, &buf, &len);
  }
  if (rc == 0) {
    rc = engine_parse_galera_info(buf, len, gi);
    sm_free(buf);
  }
  const char *u = engine_kvset_get(&coords, "galera_uuid");
  const char *s = engine_kvset_get(&coords, "galera_seqno");
  if (rc < 0 || u == NULL || s == NULL) {
    snprintf(err, err_size, "the snapshot has no Galera position: take it with seedmesh "
             "snapshot --engine mariadb --galera-info on a cluster member");
    rc = -1;
  } else if (strcmp(u, gi->uuid) != 0 || strtoll(s, NULL, 10) != gi->seqno || gi->seqno < 0) {
    snprintf(err, err_size, "the snapshot's Galera position disagrees with its facts (%s:%s)", u,
             s);
    rc = -1;
  }
  engine_kvset_cleanup(&coords);
  return rc;
}

/* Fetch, check, prepare, swap in; prints the final position. */
static int joiner_install(const struct sst_args *a, const char *datadir, const char *manifest,
                          const char *nonce) {
  char staging[PATH_MAX + 32], log[PATH_MAX + 32], aside[PATH_MAX + 64];
  char err[1024] = "", eerr[ENGINE_ERR_MAX] = "";
  struct engine_kvset facts;
  struct engine_galera_info gi;
  struct engine_local local = {NULL, NULL};
  const struct engine_ops *ops = engine_find("mariadb");
  int rc = CLI_EXIT_FAILURE;
  engine_kvset_init(&facts);
  /* One staging tree per attempt: the node remembers every fetch by its
   * target, so a later SST into the same path would find the old one. */
  snprintf(staging, sizeof(staging), "%s.seedmesh-sst-%.8s", datadir, nonce);
  snprintf(log, sizeof(log), "%s.seedmesh-sst.log", datadir);
  snprintf(aside, sizeof(aside), "%s.seedmesh-old.%ld", datadir, (long)time(NULL));
  if (a->control == NULL) {
    sst_log("no seedmesh node to fetch through: set control = PATH in the [sst] section of the "
            "seedmesh config file (or SEEDMESH_CONTROL in mariadbd's environment)");
    goto out;
  }
  if (access(staging, F_OK) == 0 && cli_sst_remove_tree(staging) < 0) {
    sst_log("cannot remove %s left by an earlier attempt: %s", staging, strerror(errno));
    goto out;
  }
  sst_log("fetching snapshot %.16s... into %s through %s", manifest, staging, a->control);
  double t0 = cli_now();
  if (fetch(a, manifest, staging, err, sizeof(err)) < 0) {
    sst_log("%s", err);
    goto out;
  }
  sst_log("fetched in %.1f s", cli_now() - t0);
  if (tree_position(staging, &facts, &gi, err, sizeof(err)) < 0) {
    sst_log("%s", err);
    goto out;
  }
  if (ops->check(&facts, &local, eerr) < 0) {
    sst_log("%s", eerr);
    goto out;
  }
  t0 = cli_now();
  if (ops->prepare(staging, &local, log, eerr) < 0) {
    sst_log("%s", eerr);
    goto out;
  }
  sst_log("prepared in %.1f s (log %s)", cli_now() - t0, log);
  if (cli_sst_swap_datadir(datadir, staging, aside, err, sizeof(err)) < 0) {
    sst_log("%s", err);
    goto out;
  }
  if (access(aside, F_OK) == 0) {
    sst_log("the old datadir files are kept in %s", aside);
  }
  cli_sst_remove_tree(staging);
  sst_log("installed the snapshot at %s:%" PRId64 "; Galera replays the rest by IST", gi.uuid,
          gi.seqno);
  proto("%s:%" PRId64 " %u", gi.uuid, gi.seqno, gi.has_domain ? gi.domain_id : 0);
  rc = CLI_EXIT_OK;
out:
  engine_kvset_cleanup(&facts);
  return rc;
}

static int joiner(const struct sst_args *a) {
  struct cli_sst_address addr;
  char err[1024] = "";
  char datadir[PATH_MAX], marker[PATH_MAX + 32];
  uint8_t raw[CLI_SST_NONCE_HEX / 2];
  char nonce[CLI_SST_NONCE_HEX + 1];
  struct cli_sst_answer ans;
  int rc = CLI_EXIT_FAILURE;
  if (cli_sst_hostport_parse(a->address, strlen(a->address), CLI_SST_DEFAULT_PORT, &addr) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "the SST address '%s' is not HOST[:PORT]",
                    a->address);
  }
  if ((size_t)snprintf(datadir, sizeof(datadir) - 64, "%s", a->datadir) >= sizeof(datadir) - 64) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "--datadir is too long");
  }
  for (size_t l = strlen(datadir); l > 1 && datadir[l - 1] == '/'; l--) {
    datadir[l - 1] = '\0';
  }
  int lfd = listen_on(&addr, err, sizeof(err));
  if (lfd < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "%s", err);
  }
  randombytes_buf(raw, sizeof(raw));
  sm_hex_encode(raw, sizeof(raw), nonce);
  int v6 = strchr(addr.host, ':') != NULL;
  /* The marker exists before "ready": whoever reads that line may look for it. */
  snprintf(marker, sizeof(marker), "%s/sst_in_progress", datadir);
  sm_fs_write_atomic(marker, "", 0, 0640);
  proto("ready %s%s%s:%u/seedmesh/%s", v6 ? "[" : "", addr.host, v6 ? "]" : "", addr.port, nonce);
  if (wait_answer(lfd, nonce, a, &ans, err, sizeof(err)) < 0) {
    sst_log("%s", err);
    goto out;
  }
  switch (ans.kind) {
  case CLI_SST_BYPASS:
    sst_log("the donor serves this node by IST only (from %s:%" PRId64 ")", ans.uuid, ans.seqno);
    proto("%s:%" PRId64 " %u", ans.uuid, ans.seqno, ans.domain);
    rc = CLI_EXIT_OK;
    break;
  case CLI_SST_ERROR:
    sst_log("the donor refused: %s", ans.text);
    break;
  case CLI_SST_MANIFEST:
    close(lfd);
    lfd = -1;
    rc = joiner_install(a, datadir, ans.manifest, nonce);
    break;
  }
out:
  if (lfd >= 0) {
    close(lfd);
  }
  unlink(marker);
  return rc;
}

/* ------------------------------------------------------------------- donor */

/* Sends the answer line to the joiner, retrying while it is not listening. */
static int send_answer(const struct cli_sst_address *to, const struct cli_sst_answer *ans,
                       char *err, size_t err_size) {
  char line[CLI_SST_LINE_MAX + 1];
  char port[8];
  int n = cli_sst_answer_format(ans, line, sizeof(line));
  if (n < 0) {
    snprintf(err, err_size, "cannot format the answer");
    return -1;
  }
  snprintf(port, sizeof(port), "%u", to->port);
  double deadline = cli_now() + SST_CONNECT_TIMEOUT_S;
  for (;;) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(to->host, port, &hints, &res);
    if (g == 0) {
      int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
          sm_fd_write_all(fd, line, (size_t)n) == 0) {
        close(fd);
        freeaddrinfo(res);
        return 0;
      }
      snprintf(err, err_size, "cannot reach the joiner at %s:%u: %s", to->host, to->port,
               strerror(errno));
      if (fd >= 0) {
        close(fd);
      }
      freeaddrinfo(res);
    } else {
      snprintf(err, err_size, "cannot resolve the joiner %s: %s", to->host, gai_strerror(g));
    }
    if (cli_now() > deadline) {
      return -1;
    }
    sleep(1);
  }
}

/* WSREP_SST_OPT_AUTH is "user:password" (mariadbd's wsrep_sst_auth). */
static void auth_from_env(char *user, size_t ucap, char *pass, size_t pcap) {
  const char *auth = getenv("WSREP_SST_OPT_AUTH");
  snprintf(user, ucap, "root");
  pass[0] = '\0';
  if (auth != NULL && auth[0] != '\0') {
    const char *colon = strchr(auth, ':');
    size_t ul = colon ? (size_t)(colon - auth) : strlen(auth);
    snprintf(user, ucap, "%.*s", (int)SM_MIN(ul, ucap - 1), auth);
    if (colon != NULL) {
      snprintf(pass, pcap, "%s", colon + 1);
    }
  }
}

/* Takes a fresh --galera-info snapshot of the local server into the store
 * and asks the local seedmesh node to serve it. 0 with the manifest id. */
static int donor_snapshot(const struct sst_args *a, const char *user, const char *pass,
                          char *out_id, char *err, size_t err_size) {
  struct sm_identity key;
  struct engine_snapshot snap;
  struct engine_snapshot_options eo;
  struct chunkstore_manifest *m = NULL;
  struct chunkstore_snapshot_stats stats;
  struct cli_progress progress;
  char bad_path[CHUNKSTORE_PATH_MAX + 1] = "";
  char eerr[ENGINE_ERR_MAX] = "";
  char pwfile[PATH_MAX] = "";
  int rc = -1;
  if (a->key == NULL || a->control == NULL) {
    snprintf(err, err_size, "set key = FILE and control = PATH in the [sst] section of the "
             "donor's seedmesh config so it can take and serve a fresh snapshot");
    return -1;
  }
  if (sm_identity_load(a->key, &key) < 0) {
    snprintf(err, err_size, "cannot load the key %s (seedmesh keygen --out FILE)", a->key);
    return -1;
  }
  memset(&eo, 0, sizeof(eo));
  eo.conn.socket = a->socket;
  eo.conn.user = user;
  eo.work_dir = a->store;
  eo.galera = 1;
  if (pass[0] != '\0') {
    /* The engine reads passwords from 0600 files only. */
    snprintf(pwfile, sizeof(pwfile), "%s/.seedmesh-sst-auth.XXXXXX", a->store);
    int fd = mkstemp(pwfile);
    if (fd < 0 || sm_fd_write_all(fd, pass, strlen(pass)) < 0) {
      snprintf(err, err_size, "cannot write a temporary password file in %s", a->store);
      if (fd >= 0) {
        close(fd);
      }
      sm_identity_cleanup(&key);
      return -1;
    }
    close(fd);
    eo.conn.password_file = pwfile;
  }
  engine_snapshot_init(&snap);
  double t0 = cli_now();
  sst_log("taking a fresh snapshot (mariadb-backup --galera-info) into %s", a->store);
  int erc = engine_find("mariadb")->snapshot(&eo, &snap, eerr);
  if (pwfile[0] != '\0') {
    unlink(pwfile);
  }
  if (erc < 0) {
    snprintf(err, err_size, "fresh snapshot failed: %s", eerr);
    goto out;
  }
  cli_progress_init(&progress, "snapshot", 1);
  erc = cli_snapshot_store(&snap, a->store, &key, CHUNKSTORE_CHUNK_DEFAULT, 1, 0, &progress, &m,
                           &stats, bad_path);
  if (erc < 0) {
    snprintf(err, err_size, "cannot store the fresh snapshot: %s %s", sm_strerror(erc), bad_path);
    goto out;
  }
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, out_id);
  sst_log("fresh snapshot %.16s... taken in %.1f s", out_id, cli_now() - t0);
  {
    struct node_control_request req;
    msgpack_zone zone;
    msgpack_object ans;
    uint8_t *buf = NULL;
    char cerr[600];
    memset(&req, 0, sizeof(req));
    req.op = NODE_CONTROL_SERVE;
    snprintf(req.target, sizeof(req.target), "%s", a->store);
    int fd = cli_control_connect(a->control, cerr, sizeof(cerr));
    if (fd < 0) {
      snprintf(err, err_size, "%s", cerr);
      goto out;
    }
    msgpack_zone_init(&zone, 1024);
    erc = cli_control_call(fd, &req, &zone, &ans, &buf, cerr, sizeof(cerr));
    msgpack_zone_destroy(&zone);
    sm_free(buf);
    close(fd);
    if (erc < 0) {
      snprintf(err, err_size, "the seedmesh node would not serve the fresh snapshot: %s", cerr);
      goto out;
    }
  }
  rc = 0;
out:
  chunkstore_manifest_free(m);
  engine_snapshot_cleanup(&snap);
  sm_identity_cleanup(&key);
  return rc;
}

/* Picks the snapshot to send. The store's latest one will do when Galera can
 * complete it: taken at or after the start of the IST that follows (the
 * certification preload the donor just logged; a joiner installed at an
 * older seqno fails with "IST started with wrong seqno"), not before its end
 * (the last membership change, see below), and inside the gcache. Otherwise
 * a fresh one is taken (when a key is configured). 0 with the manifest id,
 * or -1 with the reason (which the joiner reports too). */
static int donor_pick(const struct sst_args *a, const struct engine_galera_info *pos,
                      char *out_id, char *err, size_t err_size) {
  struct chunkstore_manifest *m = NULL;
  char eerr[ENGINE_ERR_MAX] = "";
  char why[ENGINE_ERR_MAX + 64] = "";
  char user[256], pass[1025];
  struct engine_galera_window w;
  struct engine_conn conn;
  int rc;
  if (a->store == NULL) {
    snprintf(err, err_size, "this donor has no seedmesh store: set store = DIR in the [sst] "
             "section of its seedmesh config, or name a donor that has one in "
             "wsrep_sst_donor");
    return -1;
  }
  memset(&conn, 0, sizeof(conn));
  conn.socket = a->socket;
  auth_from_env(user, sizeof(user), pass, sizeof(pass));
  conn.user = user;
  rc = engine_galera_window(&conn, pass, &w, eerr);
  if (rc < 0) {
    snprintf(err, err_size, "cannot read the donor's IST window: %s", eerr);
    goto out;
  }
  snprintf(w.uuid, sizeof(w.uuid), "%s", pos->uuid); /* the state being transferred */
  rc = chunkstore_store_load_manifest(a->store, NULL, NULL, &m, NULL);
  const char *u = rc == 0 ? chunkstore_manifest_coord(m, "galera_uuid") : NULL;
  const char *s = rc == 0 ? chunkstore_manifest_coord(m, "galera_seqno") : NULL;
  int64_t seqno = s ? strtoll(s, NULL, 10) : -1;
  if (rc < 0) {
    snprintf(why, sizeof(why), "no snapshot in %s", a->store);
  } else if (u == NULL || s == NULL) {
    snprintf(why, sizeof(why), "the latest snapshot has no Galera position (--galera-info)");
  } else if (engine_galera_ist_check(u, seqno, &w, eerr) < 0) {
    snprintf(why, sizeof(why), "%s", eerr);
  } else if (w.preload_start >= 0 ? seqno + 1 < w.preload_start : seqno < pos->seqno) {
    /* Galera's IST after an SST starts at the certification-index preload
     * it just logged; without that line, the join point is the safe bound. */
    snprintf(why, sizeof(why), "the latest snapshot (seqno %" PRId64 ") is older than where "
             "Galera's IST to the joiner starts (seqno %" PRId64 ")", seqno,
             w.preload_start >= 0 ? w.preload_start : pos->seqno);
  } else if (w.preload_end >= 0 && seqno < w.preload_end) {
    /* That IST runs to the last membership change. A joiner that was in
     * the group before it (it waited for a busy donor) also queued the
     * write-sets after its own join, so those past the snapshot would reach
     * it twice; Galera then stops it ("Attempt to reuse the same seqno"). */
    snprintf(why, sizeof(why), "the latest snapshot (seqno %" PRId64 ") is older than the last "
             "membership change (seqno %" PRId64 "), where Galera's IST to the joiner ends",
             seqno, w.preload_end);
  }
  if (why[0] == '\0') {
    sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, out_id);
    sst_log("serving snapshot %.16s... at %s:%s; donor at %s:%" PRId64 ", gcache from %" PRId64,
            out_id, u, s, pos->uuid, pos->seqno, w.cached_downto);
    rc = 0;
    goto out;
  }
  sst_log("%s", why);
  if (a->key == NULL) {
    snprintf(err, err_size, "%.400s; no fresh snapshot is taken without key = FILE in the [sst] "
             "section", why);
    rc = -1;
    goto out;
  }
  rc = donor_snapshot(a, user, pass, out_id, err, err_size);
out:
  sodium_memzero(pass, sizeof(pass));
  chunkstore_manifest_free(m);
  return rc;
}

static int donor(const struct sst_args *a) {
  struct cli_sst_address to;
  struct cli_sst_answer ans;
  struct engine_galera_info pos;
  char err[1024] = "", text[128];
  if (cli_sst_address_parse(a->address, strlen(a->address), &to) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "the joiner's address '%.200s' is not a seedmesh "
                    "one: set wsrep_sst_method=seedmesh on the joiner too", a->address);
  }
  snprintf(text, sizeof(text), "%s %u", a->gtid ? a->gtid : "", a->domain);
  if (a->gtid == NULL ||
      engine_parse_galera_info((const uint8_t *)text, strlen(text), &pos) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "--gtid UUID:SEQNO is missing or malformed");
  }
  memset(&ans, 0, sizeof(ans));
  memcpy(ans.nonce, to.nonce, sizeof(ans.nonce));
  if (a->bypass) {
    ans.kind = CLI_SST_BYPASS;
    memcpy(ans.uuid, pos.uuid, sizeof(ans.uuid));
    ans.seqno = pos.seqno;
    ans.domain = a->domain;
    sst_log("IST only: the joiner keeps its data at %s:%" PRId64, pos.uuid, pos.seqno);
  } else if (donor_pick(a, &pos, ans.manifest, err, sizeof(err)) == 0) {
    ans.kind = CLI_SST_MANIFEST;
  } else {
    ans.kind = CLI_SST_ERROR;
    snprintf(ans.text, sizeof(ans.text), "donor: %.380s", err);
    sst_log("%s", err);
  }
  char serr[512];
  if (send_answer(&to, &ans, serr, sizeof(serr)) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "sst", "%s", serr);
  }
  if (ans.kind == CLI_SST_ERROR) {
    return CLI_EXIT_FAILURE;
  }
  proto("done %s:%" PRId64, pos.uuid, pos.seqno);
  return CLI_EXIT_OK;
}

int cli_cmd_sst(int argc, char **argv) {
  struct sst_args a;
  memset(&a, 0, sizeof(a));
  a.timeout_s = 3600;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? CLI_EXIT_OK : rc;
  }
  a.control = cli_control_path(a.control);
  return strcmp(a.role, "joiner") == 0 ? joiner(&a) : donor(&a);
}

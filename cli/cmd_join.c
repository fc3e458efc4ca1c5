/* cmd_join.c - seedmesh join: turns a running node's fetch into a running
 * replica. Stages: FETCH (the node fetches into DATADIR.seedmesh-fetched and
 * lingers for its peers), CHECK, PREPARE (redo), PLACE (rename into DATADIR;
 * an old datadir is renamed aside, never deleted), START, JOIN (GTID
 * coordinates + replication), CAUGHT_UP. Everything that can be checked is
 * checked before the first irreversible step. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <sodium.h>

#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"
#include "node/node.h"

static void join_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh join --engine mariadb|mysql --control SOCK --target DATADIR\n"
          "         --source-host H --source-port P --replication-user U\n"
          "         --replication-password-file F [--manifest ID|latest]\n"
          "         [--server-id N] [--port P] [--socket PATH] [--replace]\n"
          "         [--mariadbd PATH | --mysqld PATH | --start-command CMD]\n"
          "         [--backup-tool PATH] [--local-user U] [--local-password-file F]\n"
          "         [--group-replication --group-local-address HOST:PORT\n"
          "          [--group-seeds LIST]] [--timeout SECONDS] [--quiet] [--json]\n"
          "       seedmesh join --engine galera --control SOCK --target DATADIR\n"
          "         --defaults-file NODE.cnf --source-host MEMBER --source-port P\n"
          "         [--replication-user U --replication-password-file F] [--replace] ...\n\n"
          "Makes DATADIR a running replica of the source: the node behind SOCK fetches the\n"
          "snapshot (from the donor and its peers) into DATADIR.seedmesh-fetched; then the\n"
          "snapshot is checked against the local server binary, prepared (MariaDB:\n"
          "mariadb-backup --prepare; MySQL: crash recovery when mysqld starts), renamed into\n"
          "DATADIR, started with a unique server_id, pointed at the source from the\n"
          "snapshot's GTID position, and followed until it has caught up.\n"
          "Stages are reported on stderr: FETCH CHECK PREPARE PLACE START JOIN CAUGHT_UP.\n\n"
          "  --engine mariadb     MariaDB 10.11 (docs/mariadb.md)\n"
          "  --engine mysql       MySQL 8.0.17+ from a clone snapshot (docs/mysql.md); async\n"
          "                       replication with GTID auto-position by default\n"
          "  --engine galera      a new Galera node from a --galera-info snapshot: grastate.dat\n"
          "                       at the snapshot's uuid:seqno, started with --defaults-file,\n"
          "                       joins by IST; refused before anything is written when the\n"
          "                       member --source-host no longer holds those write-sets in\n"
          "                       its gcache (docs/galera.md). The --replication-* flags are\n"
          "                       then the account used to read that member's status\n"
          "  --defaults-file F    galera: the node's option file (wsrep settings, socket, log)\n"
          "  --replace            DATADIR may hold an old datadir: it is renamed to\n"
          "                       DATADIR.seedmesh-old (never deleted); without it, DATADIR\n"
          "                       must be missing or empty\n"
          "  --server-id N        default: derived from the node key, DATADIR and port\n"
          "  --port P             TCP port of the new server (default: socket only)\n"
          "  --socket PATH        its socket (default DATADIR/mariadbd.sock or mysqld.sock)\n"
          "  --mysqld PATH        the mysqld binary for --engine mysql (default: from PATH)\n"
          "  --start-command CMD  start the server yourself (sh -c CMD, with SEEDMESH_DATADIR,\n"
          "                       SEEDMESH_SERVER_ID, SEEDMESH_SOCKET, SEEDMESH_PORT set); it\n"
          "                       must listen on --socket\n"
          "  --local-user U       account on the new server (a copy of the donor's accounts;\n"
          "                       default root with --local-password-file or no password)\n"
          "  --group-replication  mysql: join the Group Replication group the source is an\n"
          "                       ONLINE member of, instead of replicating from it; the\n"
          "                       replication user is the group's recovery account\n"
          "  --group-local-address HOST:PORT  this member's group communication address\n"
          "  --group-seeds LIST   group_replication_group_seeds (default: the source's own\n"
          "                       group_replication_local_address)\n"
          "  --timeout SECONDS    how long to wait for CAUGHT_UP (default 600)\n\n"
          "example:\n"
          "  seedmesh join --engine mariadb --control /var/lib/seedmesh/control.sock \\\n"
          "      --target /var/lib/mysql-replica --source-host 10.0.0.1 --source-port 3306 \\\n"
          "      --replication-user repl --replication-password-file /etc/seedmesh/repl.pw \\\n"
          "      --port 3307\n");
}

enum join_stage { ST_FETCH, ST_CHECK, ST_PREPARE, ST_PLACE, ST_START, ST_JOIN, ST_CAUGHT_UP,
                  ST_COUNT };
static const char *const stage_names[ST_COUNT] = {"FETCH", "CHECK", "PREPARE", "PLACE",
                                                  "START", "JOIN", "CAUGHT_UP"};

struct join_ctx {
  int quiet;
  int json;
  double begin[ST_COUNT];
  double end[ST_COUNT];
  int skipped[ST_COUNT];
  /* Stages are also reported to the node, so `seedmesh status` shows them
   * as rows of the fetch's transfer. Best effort: a node that went away
   * does not stop the join. */
  const char *control;
  const char *report_target;
  int report_fd;
  int current; /* stage in progress, or -1 */
};

static void stage_report(struct join_ctx *c, enum join_stage s, const char *state,
                         const char *detail) {
  struct node_control_request req;
  char err[600];
  if (c->control == NULL || c->report_target == NULL || c->report_fd == -2) {
    return;
  }
  if (c->report_fd < 0) {
    c->report_fd = cli_control_connect(c->control, err, sizeof(err));
    if (c->report_fd < 0) {
      c->report_fd = -2; /* stop trying */
      return;
    }
  }
  memset(&req, 0, sizeof(req));
  req.op = NODE_CONTROL_REPORT;
  snprintf(req.target, sizeof(req.target), "%.4000s", c->report_target);
  snprintf(req.stage, sizeof(req.stage), "%s", stage_names[s]);
  snprintf(req.state, sizeof(req.state), "%s", state);
  snprintf(req.detail, sizeof(req.detail), "%.250s", detail);
  for (char *p = req.detail; *p; p++) {
    if ((unsigned char)*p < 0x20) {
      *p = ' ';
    }
  }
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  msgpack_zone_init(&zone, 1024);
  cli_control_call(c->report_fd, &req, &zone, &ans, &buf, err, sizeof(err));
  msgpack_zone_destroy(&zone);
  sm_free(buf);
}

static void stage_begin(struct join_ctx *c, enum join_stage s) {
  c->begin[s] = cli_now();
  c->current = (int)s;
  if (s != ST_FETCH) {
    stage_report(c, s, "In Progress", "");
  }
  if (!c->quiet) {
    fprintf(stderr, "seedmesh join: %s ...\n", stage_names[s]);
  }
}

static void stage_end(struct join_ctx *c, enum join_stage s, const char *detail) {
  c->end[s] = cli_now();
  c->current = -1;
  if (s != ST_FETCH) {
    stage_report(c, s, "Completed", detail);
  }
  if (!c->quiet) {
    fprintf(stderr, "seedmesh join: %s done in %.1f s%s%s\n", stage_names[s],
            c->end[s] - c->begin[s], detail[0] ? ": " : "", detail);
  }
}

static int dir_state(const char *path) { /* -1 missing, 0 empty dir, 1 occupied, 2 not dir */
  struct stat st;
  if (lstat(path, &st) != 0) {
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    return 2;
  }
  DIR *d = opendir(path);
  if (d == NULL) {
    return 1;
  }
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
      n++;
      break;
    }
  }
  closedir(d);
  return n > 0;
}

static int absolute(const char *path, char *out, size_t cap) {
  if (path[0] == '/') {
    return (size_t)snprintf(out, cap, "%s", path) < cap ? 0 : -1;
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == NULL) {
    return -1;
  }
  return (size_t)snprintf(out, cap, "%s/%s", cwd, path) < cap ? 0 : -1;
}

/* Asks the node for its key (seeds the server_id). */
static int node_key(int fd, char *out, size_t cap, char *err, size_t err_size) {
  struct node_control_request st = {.op = NODE_CONTROL_STATUS};
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  msgpack_zone_init(&zone, 65536);
  int rc = cli_control_call(fd, &st, &zone, &ans, &buf, err, err_size);
  if (rc == 0) {
    const msgpack_object *n = sm_mp_map_get(&ans, "node");
    out[0] = '\0';
    if (n != NULL) {
      cli_mp_str(n, "key", out, cap);
    }
  }
  msgpack_zone_destroy(&zone);
  sm_free(buf);
  return rc;
}

/* FETCH: asks the node to fetch into target and follows it until the tree is
 * renamed into place (after lingering for peers). */
static int run_fetch(int fd, const char *manifest, const char *target, struct join_ctx *c,
                     char *out_manifest, char *err, size_t err_size) {
  struct node_control_request req;
  memset(&req, 0, sizeof(req));
  req.op = NODE_CONTROL_FETCH;
  snprintf(req.manifest, sizeof(req.manifest), "%s", manifest);
  if (strlen(target) >= sizeof(req.target)) {
    snprintf(err, err_size, "target path too long");
    return -1;
  }
  memcpy(req.target, target, strlen(target) + 1);
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  msgpack_zone_init(&zone, 4096);
  int rc = cli_control_call(fd, &req, &zone, &ans, &buf, err, err_size);
  sm_free(buf);
  msgpack_zone_destroy(&zone);
  if (rc < 0) {
    return -1;
  }
  struct cli_progress progress;
  cli_progress_init(&progress, "join FETCH", c->quiet || c->json);
  int seeding_said = 0;
  for (;;) {
    struct node_control_request st = {.op = NODE_CONTROL_STATUS};
    msgpack_zone_init(&zone, 65536);
    if (cli_control_call(fd, &st, &zone, &ans, &buf, err, err_size) < 0) {
      msgpack_zone_destroy(&zone);
      return -1;
    }
    const msgpack_object *t = cli_status_transfer(&ans, target);
    char state[32] = "", error[512] = "";
    if (t != NULL) {
      cli_mp_str(t, "state", state, sizeof(state));
      cli_mp_str(t, "error", error, sizeof(error));
      cli_mp_str(t, "manifest", out_manifest, 65);
      cli_progress_transfer(&progress, t);
    }
    msgpack_zone_destroy(&zone);
    sm_free(buf);
    buf = NULL;
    if (t == NULL) {
      snprintf(err, err_size, "the node forgot the transfer into %.400s", target);
      return -1;
    }
    if (strcmp(state, "FAILED") == 0) {
      cli_progress_done(&progress);
      snprintf(err, err_size, "fetch failed: %s", error);
      return -1;
    }
    if (strcmp(state, "DONE") == 0) {
      cli_progress_done(&progress);
      return 0;
    }
    if (strcmp(state, "SEED") == 0 && !seeding_said && !c->quiet) {
      cli_progress_done(&progress);
      fprintf(stderr, "seedmesh join: FETCH verified; seeding peers until they are done\n");
      seeding_said = 1;
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Written into DATADIR right after PLACE and removed once JOIN succeeded: a
 * join that failed in between (START or JOIN) finds it when run again and
 * starts the placed datadir instead of asking for --replace and a fetch. */
#define JOIN_PLACED_FILE "seedmesh_join_placed"

/* A server recorded in DATADIR/mariadbd.pid that is still alive, else 0. */
static long running_pid(const char *datadir) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof(path), "%s/mariadbd.pid", datadir);
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (f != NULL) {
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0 || kill((pid_t)pid, 0) != 0) {
      pid = 0;
    }
    fclose(f);
  }
  return pid;
}

static int read_tree_file(const char *dir, const char *name, uint8_t **buf, size_t *len) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return sm_fs_read_file(path, ENGINE_COORD_FILE_MAX, buf, len);
}

struct join_args {
  const char *engine, *control, *target, *manifest, *mariadbd, *backup_tool, *start_command;
  const char *socket, *local_user, *local_password_file, *repl_password_file;
  const char *defaults_file;
  struct engine_join_options jo;
  uint32_t server_id;
  unsigned port;
  unsigned timeout_s;
  int replace, quiet, json;
};

static int parse_args(int argc, char **argv, struct join_args *a) {
  static const struct option options[] = {
      {"engine", required_argument, NULL, 'e'},
      {"control", required_argument, NULL, 'c'},
      {"target", required_argument, NULL, 't'},
      {"manifest", required_argument, NULL, 'm'},
      {"source-host", required_argument, NULL, 'H'},
      {"source-port", required_argument, NULL, 'P'},
      {"replication-user", required_argument, NULL, 'u'},
      {"replication-password-file", required_argument, NULL, 'w'},
      {"server-id", required_argument, NULL, 'i'},
      {"port", required_argument, NULL, 'p'},
      {"socket", required_argument, NULL, 'S'},
      {"mariadbd", required_argument, NULL, 'M'},
      {"mysqld", required_argument, NULL, 'M'},
      {"group-replication", no_argument, NULL, 'G'},
      {"group-local-address", required_argument, NULL, 'L'},
      {"group-seeds", required_argument, NULL, 'D'},
      {"backup-tool", required_argument, NULL, 'B'},
      {"start-command", required_argument, NULL, 'C'},
      {"local-user", required_argument, NULL, 'U'},
      {"local-password-file", required_argument, NULL, 'W'},
      {"timeout", required_argument, NULL, 'T'},
      {"defaults-file", required_argument, NULL, 'F'},
      {"replace", no_argument, NULL, 'r'},
      {"quiet", no_argument, NULL, 'q'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    char *end = NULL;
    unsigned long v = 0;
    if (optarg != NULL) {
      errno = 0;
      v = strtoul(optarg, &end, 10);
    }
    int num_ok = optarg != NULL && errno == 0 && end != optarg && *end == '\0';
    switch (c) {
    case 'e': a->engine = optarg; break;
    case 'c': a->control = optarg; break;
    case 't': a->target = optarg; break;
    case 'm': a->manifest = optarg; break;
    case 'H': a->jo.source_host = optarg; break;
    case 'P':
      if (!num_ok || v == 0 || v > 65535) {
        return cli_fail(CLI_EXIT_USAGE, "join", "--source-port %s is not a port number", optarg);
      }
      a->jo.source_port = (unsigned)v;
      break;
    case 'u': a->jo.user = optarg; break;
    case 'w': a->repl_password_file = optarg; break;
    case 'i':
      if (!num_ok || v == 0 || v > UINT32_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "join", "--server-id %s: use 1..4294967295", optarg);
      }
      a->server_id = (uint32_t)v;
      break;
    case 'p':
      if (!num_ok || v == 0 || v > 65535) {
        return cli_fail(CLI_EXIT_USAGE, "join", "--port %s is not a port number", optarg);
      }
      a->port = (unsigned)v;
      break;
    case 'S': a->socket = optarg; break;
    case 'M': a->mariadbd = optarg; break;
    case 'G': a->jo.group_replication = 1; break;
    case 'L': a->jo.group_local_address = optarg; break;
    case 'D': a->jo.group_seeds = optarg; break;
    case 'B': a->backup_tool = optarg; break;
    case 'C': a->start_command = optarg; break;
    case 'U': a->local_user = optarg; break;
    case 'W': a->local_password_file = optarg; break;
    case 'F': a->defaults_file = optarg; break;
    case 'T':
      if (!num_ok || v == 0 || v > 86400 * 7) {
        return cli_fail(CLI_EXIT_USAGE, "join", "--timeout %s: use 1..604800 seconds", optarg);
      }
      a->timeout_s = (unsigned)v;
      break;
    case 'r': a->replace = 1; break;
    case 'q': a->quiet = 1; break;
    case 'j': a->json = 1; break;
    case 'h': join_usage(stdout); return -1;
    default:
      return cli_fail_option("join", argv);
    }
  }
  if (optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "join", "unexpected argument '%s'", argv[optind]);
  }
  return 0;
}

static void print_json(const struct join_args *a, const struct join_ctx *c, const char *datadir,
                       const char *manifest, const struct engine_server *srv, const char *gtid0,
                       const char *gtid1, const char *old) {
  printf("{\"datadir\":");
  cli_json_string(stdout, datadir);
  printf(",\"manifest\":\"%s\",\"engine\":", manifest);
  cli_json_string(stdout, a->engine);
  printf(",\"server_id\":%u,\"pid\":%ld,\"socket\":", srv->server_id, (long)srv->pid);
  cli_json_string(stdout, srv->socket);
  printf(",\"port\":%u,\"gtid_start\":", a->port);
  cli_json_string(stdout, gtid0);
  printf(",\"gtid_caught_up\":");
  cli_json_string(stdout, gtid1);
  printf(",\"old_datadir\":");
  cli_json_string(stdout, old);
  printf(",\"state\":\"CAUGHT_UP\",\"stages\":[");
  for (int s = 0; s < ST_COUNT; s++) {
    printf("%s{\"stage\":\"%s\",\"state\":\"%s\",\"seconds\":%.3f}", s ? "," : "", stage_names[s],
           c->skipped[s] ? "Skipped" : "Completed", c->end[s] - c->begin[s]);
  }
  printf("],\"seconds\":%.3f}\n", c->end[ST_CAUGHT_UP] - c->begin[ST_FETCH]);
}

int cli_cmd_join(int argc, char **argv) {
  struct join_args a;
  memset(&a, 0, sizeof(a));
  a.manifest = "latest";
  a.timeout_s = 600;
  int prc = parse_args(argc, argv, &a);
  if (prc != 0) {
    return prc < 0 ? CLI_EXIT_OK : prc;
  }
  const struct engine_ops *ops = a.engine ? engine_find(a.engine) : NULL;
  if (ops == NULL || ops == engine_find("dir")) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--engine %s does not start a server (use --engine "
                    "mariadb, mysql or galera; for a plain tree use seedmesh fetch)", a.engine ? a.engine : "");
  }
  const int needs_source = (ops->flags & ENGINE_JOIN_NEEDS_SOURCE) != 0;
  a.control = cli_control_path(a.control);
  if (a.control == NULL || a.target == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--control and --target are required");
  }
  if ((ops->flags & ENGINE_JOIN_NEEDS_DEFAULTS_FILE) != 0 &&
      (a.defaults_file == NULL || access(a.defaults_file, R_OK) != 0)) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--engine %s needs --defaults-file NODE.cnf, a "
                    "readable option file with the node's wsrep settings%s%s", ops->name,
                    a.defaults_file ? ": cannot read " : "", a.defaults_file ? a.defaults_file : "");
  }
  if (needs_source && (a.jo.source_host == NULL || a.jo.source_port == 0 || a.jo.user == NULL ||
                       a.repl_password_file == NULL)) {
    return cli_fail(CLI_EXIT_USAGE, "join",
                    "--engine %s replicates from a source: --source-host, --source-port, "
                    "--replication-user and --replication-password-file are all required",
                    ops->name);
  }
  if ((a.jo.group_replication || a.jo.group_local_address || a.jo.group_seeds) &&
      strcmp(ops->name, "mysql") != 0) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--group-replication and --group-* are for --engine "
                    "mysql (a Galera node joins its cluster through the galera engine)");
  }
  if (a.jo.group_replication && a.jo.group_local_address == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--group-replication needs --group-local-address "
                    "HOST:PORT (this member's group communication address)");
  }
  if (!a.jo.group_replication && (a.jo.group_local_address || a.jo.group_seeds)) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--group-local-address and --group-seeds only apply "
                    "with --group-replication");
  }
  uint8_t idbuf[32];
  if (strcmp(a.manifest, "latest") != 0 &&
      (strlen(a.manifest) != 64 || sm_hex_decode(a.manifest, idbuf, 32) < 0)) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--manifest %s is neither 'latest' nor a 64-digit id",
                    a.manifest);
  }
  struct join_ctx c;
  memset(&c, 0, sizeof(c));
  c.quiet = a.quiet;
  c.json = a.json;
  c.control = a.control;
  c.report_fd = -1;
  c.current = -1;
  char datadir[PATH_MAX], fetched[PATH_MAX + 32], old[PATH_MAX + 32], log[PATH_MAX + 32];
  char parent[PATH_MAX];
  if (absolute(a.target, datadir, sizeof(datadir) - 32) < 0) {
    return cli_fail(CLI_EXIT_USAGE, "join", "--target %s: path too long", a.target);
  }
  size_t dl = strlen(datadir);
  while (dl > 1 && datadir[dl - 1] == '/') {
    datadir[--dl] = '\0';
  }
  snprintf(fetched, sizeof(fetched), "%s.seedmesh-fetched", datadir);
  c.report_target = fetched;
  snprintf(old, sizeof(old), "%s.seedmesh-old", datadir);
  snprintf(log, sizeof(log), "%s.seedmesh-join.log", datadir);
  {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", datadir);
    snprintf(parent, sizeof(parent), "%s", dirname(tmp));
  }
  char err[1024] = "";
  char eerr[ENGINE_ERR_MAX] = "";
  struct engine_local local = {.server_binary = a.mariadbd, .backup_tool = a.backup_tool};

  /* ---- pre-flight: everything checkable before anything is written */
  struct engine_kvset localf;
  engine_kvset_init(&localf);
  int rc = ops->local_facts ? ops->local_facts(&local, &localf, eerr) : 0;
  engine_kvset_cleanup(&localf);
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "join", "%s", eerr);
  }
  int ds = dir_state(datadir);
  char placed[PATH_MAX + 64];
  snprintf(placed, sizeof(placed), "%s/%s", datadir, JOIN_PLACED_FILE);
  const int resume = ds == 1 && access(placed, F_OK) == 0;
  if (ds == 2) {
    return cli_fail(CLI_EXIT_FAILURE, "join", "%s exists and is not a directory", datadir);
  }
  if (resume && running_pid(datadir) != 0) {
    return cli_fail(CLI_EXIT_FAILURE, "join",
                    "a server (pid %ld) still runs on %s from an earlier join: stop it (kill %ld), "
                    "then run join again", running_pid(datadir), datadir, running_pid(datadir));
  }
  if (ds == 1 && !a.replace && !resume) {
    return cli_fail(CLI_EXIT_FAILURE, "join",
                    "%s is not empty: pass --replace to keep it as %s and put the replica in its "
                    "place (nothing is deleted)", datadir, old);
  }
  if (ds == 1 && !resume && dir_state(old) != -1) {
    return cli_fail(CLI_EXIT_FAILURE, "join",
                    "%s already exists: move it away first (seedmesh never deletes a datadir)",
                    old);
  }
  if (sm_fs_mkdir_p(parent, 0755) < 0 || access(parent, W_OK) != 0) {
    return cli_fail(CLI_EXIT_FAILURE, "join", "cannot write in %s: %s", parent, strerror(errno));
  }
  char password[1025] = "";
  if (a.repl_password_file != NULL && engine_password_read(a.repl_password_file, password, eerr) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "join", "%s", eerr);
  }
  a.jo.password = password;
  char *gtid_now = sm_malloc(ENGINE_VALUE_MAX + 1);
  char *gtid_done = sm_malloc(ENGINE_VALUE_MAX + 1);
  struct engine_kvset facts, coords;
  engine_kvset_init(&facts);
  engine_kvset_init(&coords);
  char *position = sm_malloc(ENGINE_VALUE_MAX + 1);
  int fd = -1;
  int exit_code = CLI_EXIT_FAILURE;
  char manifest_hex[65] = "";
  char old_kept[PATH_MAX + 32] = "";
  struct engine_server srv;
  memset(&srv, 0, sizeof(srv));
  if (gtid_now == NULL || gtid_done == NULL || position == NULL) {
    cli_fail(CLI_EXIT_FAILURE, "join", "out of memory");
    goto out;
  }
  uint32_t source_id = 0;
  gtid_now[0] = position[0] = '\0';
  if (ops->probe != NULL && ops->probe(&a.jo, gtid_now, &source_id, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s; nothing was changed", eerr);
    goto out;
  }
  fd = cli_control_connect(a.control, err, sizeof(err));
  if (fd < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s", err);
    goto out;
  }
  char key[129] = "";
  if (node_key(fd, key, sizeof(key), err, sizeof(err)) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s", err);
    goto out;
  }
  uint32_t server_id = a.server_id;
  if (server_id == 0) {
    char seed[PATH_MAX + 200];
    snprintf(seed, sizeof(seed), "%s %s", key, datadir);
    server_id = engine_server_id_derive(seed, a.port, source_id);
  } else if (server_id == source_id) {
    cli_fail(CLI_EXIT_FAILURE, "join", "--server-id %u is the source's own server_id: pick another",
             server_id);
    goto out;
  }

  /* ---- FETCH (resumable: a complete fetched tree from an earlier run is reused) */
  stage_begin(&c, ST_FETCH);
  char facts_path[PATH_MAX + 64];
  snprintf(facts_path, sizeof(facts_path), "%s/%s", fetched, ENGINE_FACTS_FILE);
  /* After a failure past PLACE the prepared tree is DATADIR itself. */
  const char *tree = resume ? datadir : fetched;
  if (resume) {
    c.skipped[ST_FETCH] = 1;
    stage_end(&c, ST_FETCH, "an earlier join placed and prepared DATADIR: starting it again");
  } else if (access(facts_path, R_OK) == 0) {
    c.skipped[ST_FETCH] = 1;
    stage_end(&c, ST_FETCH, "reusing the fetched tree from an earlier run");
  } else {
    if (run_fetch(fd, a.manifest, fetched, &c, manifest_hex, err, sizeof(err)) < 0) {
      cli_fail(CLI_EXIT_FAILURE, "join", "%s (run join again to resume; %s is untouched)", err,
               datadir);
      goto out;
    }
    stage_end(&c, ST_FETCH, fetched);
  }
  close(fd);
  fd = -1;

  /* ---- CHECK: the snapshot's own facts and coordinates (signed with it) */
  stage_begin(&c, ST_CHECK);
  uint8_t *buf = NULL;
  size_t len = 0;
  rc = read_tree_file(tree, ENGINE_FACTS_FILE, &buf, &len);
  if (rc == 0) {
    rc = engine_parse_facts_file(buf, len, &facts, &coords);
    sm_free(buf);
    buf = NULL;
  }
  if (rc < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s/%s is missing or malformed (%s): not a snapshot taken "
             "with --engine %s", tree, ENGINE_FACTS_FILE, sm_strerror(rc), ops->name);
    goto out;
  }
  if (ops->position != NULL && ops->position(tree, &coords, &a.jo, position, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s", eerr);
    goto out;
  }
  if (ops->check(&facts, &local, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s; %s and the fetched tree %s are kept", eerr, datadir,
             fetched);
    goto out;
  }
  {
    const char *lfs = engine_kvset_get(&facts, "innodb_log_file_size");
    uint64_t need = (lfs ? strtoull(lfs, NULL, 10) : 0) + (64u << 20);
    uint64_t free_bytes = 0;
    if (sm_fs_free_bytes(parent, &free_bytes) == 0 && free_bytes < need) {
      char n1[32], n2[32];
      sm_format_bytes(need, n1, sizeof(n1));
      sm_format_bytes(free_bytes, n2, sizeof(n2));
      cli_fail(CLI_EXIT_FAILURE, "join", "not enough disk in %s to prepare: %s needed, %s free",
               parent, n1, n2);
      goto out;
    }
  }
  char detail[600];
  const char *version = engine_kvset_get(&facts, "version");
  snprintf(detail, sizeof(detail), "%s %.100s, position %.400s", ops->label,
           version ? version : "(version unknown)", position[0] ? position : "(empty)");
  stage_end(&c, ST_CHECK, detail);

  /* ---- PREPARE: redo applied in place, in the fetched tree */
  stage_begin(&c, ST_PREPARE);
  if (resume) {
    /* Never prepared again once placed: the server may have run on it, and
     * for Galera a grastate.dat rewritten to the snapshot's seqno behind an
     * InnoDB that is ahead would have write-sets applied twice. */
    c.skipped[ST_PREPARE] = 1;
  } else if (ops->prepare(fetched, &local, log, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s; %s is untouched (run join again to prepare the "
             "fetched tree again)", eerr, datadir);
    goto out;
  }
  stage_end(&c, ST_PREPARE, resume ? "done by an earlier join" : "");

  /* ---- PLACE: rename; an old datadir is kept aside */
  stage_begin(&c, ST_PLACE);
  ds = resume ? -1 : dir_state(datadir);
  if (resume) {
    c.skipped[ST_PLACE] = 1;
    stage_end(&c, ST_PLACE, "done by an earlier join");
    goto start;
  }
  if (ds == 0 && rmdir(datadir) != 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "cannot remove the empty %s: %s", datadir, strerror(errno));
    goto out;
  }
  if (ds == 1) {
    if (rename(datadir, old) != 0) {
      cli_fail(CLI_EXIT_FAILURE, "join", "cannot rename %s aside: %s; nothing changed", datadir,
               strerror(errno));
      goto out;
    }
    snprintf(old_kept, sizeof(old_kept), "%s", old);
  }
  if (rename(fetched, datadir) != 0) {
    int e = errno;
    if (old_kept[0] != '\0' && rename(old, datadir) == 0) {
      old_kept[0] = '\0';
    }
    cli_fail(CLI_EXIT_FAILURE, "join", "cannot rename %s to %s: %s", fetched, datadir,
             strerror(e));
    goto out;
  }
  sm_fs_fsync_dir(parent);
  /* Best effort: without the mark a failed START can still be retried by
   * hand with --replace and a new fetch. */
  static const char mark[] = "placed and prepared by seedmesh join; removed once it joined\n";
  sm_fs_write_atomic(placed, mark, sizeof(mark) - 1, 0644);
  stage_end(&c, ST_PLACE, old_kept[0] ? old_kept : "");

  /* ---- START */
start:
  stage_begin(&c, ST_START);
  struct engine_start_options so = {
      .datadir = datadir, .server_id = server_id, .port = a.port, .socket = a.socket,
      .server_binary = a.mariadbd, .start_command = a.start_command,
      .admin_user = a.local_user, .admin_password_file = a.local_password_file,
      .defaults_file = a.defaults_file,
  };
  if (ops->start(&so, &srv, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s%s%s; once fixed, run join again: it starts %s without "
             "fetching again", eerr, old_kept[0] ? "; the old datadir is in " : "", old_kept,
             datadir);
    goto out;
  }
  snprintf(detail, sizeof(detail), "server_id %u, pid %ld, socket %s", server_id, (long)srv.pid,
           srv.socket);
  stage_end(&c, ST_START, detail);

  /* ---- JOIN */
  stage_begin(&c, ST_JOIN);
  a.jo.gtid = position;
  if (ops->join(&srv, &a.jo, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s (the server keeps running, pid %ld: stop it and run "
             "join again to retry from START)", eerr, (long)srv.pid);
    goto out;
  }
  unlink(placed); /* joined: from now on DATADIR is a replica like any other */
  if (needs_source) {
    snprintf(detail, sizeof(detail), "replicating from %.100s:%u at %.400s", a.jo.source_host,
             a.jo.source_port, position[0] ? position : "(empty GTID)");
  } else {
    snprintf(detail, sizeof(detail), "joined at %.400s", position[0] ? position : "(empty)");
  }
  stage_end(&c, ST_JOIN, detail);

  /* ---- CAUGHT_UP */
  stage_begin(&c, ST_CAUGHT_UP);
  if (ops->wait_caught_up(&srv, &a.jo, a.timeout_s, gtid_done, eerr) < 0) {
    cli_fail(CLI_EXIT_FAILURE, "join", "%s (the server keeps running, pid %ld, with replication "
             "set up: see SHOW SLAVE STATUS)", eerr, (long)srv.pid);
    goto out;
  }
  snprintf(detail, sizeof(detail), "at %.500s", gtid_done[0] ? gtid_done : "(empty GTID)");
  stage_end(&c, ST_CAUGHT_UP, detail);
  if (a.json) {
    print_json(&a, &c, datadir, manifest_hex, &srv, position, gtid_done, old_kept);
  } else if (needs_source) {
    printf("%s is a replica of %s:%u (server_id %u, pid %ld), caught up at %s\n", datadir,
           a.jo.source_host, a.jo.source_port, server_id, (long)srv.pid,
           gtid_done[0] ? gtid_done : "(empty GTID)");
  } else {
    printf("%s joined as a %s node (server_id %u, pid %ld), caught up at %s\n", datadir,
           ops->label, server_id, (long)srv.pid, gtid_done[0] ? gtid_done : "(empty)");
  }
  exit_code = CLI_EXIT_OK;
out:
  if (exit_code != CLI_EXIT_OK && c.current > ST_FETCH) {
    stage_report(&c, (enum join_stage)c.current, "Failed", "see the seedmesh join output");
  }
  if (c.report_fd >= 0) {
    close(c.report_fd);
  }
  if (fd >= 0) {
    close(fd);
  }
  sodium_memzero(password, sizeof(password));
  engine_kvset_cleanup(&facts);
  engine_kvset_cleanup(&coords);
  sm_free(position);
  sm_free(gtid_now);
  sm_free(gtid_done);
  return exit_code;
}

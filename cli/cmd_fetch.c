/* cmd_fetch.c - seedmesh fetch: asks a running node to fetch a manifest into
 * a directory, then follows its progress until it is complete. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/common.h"
#include "node/node.h"

static void fetch_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh fetch MANIFEST_ID|latest --target DIR [--control PATH]\n"
          "                      [--no-wait] [--json]\n\n"
          "Asks the node behind the control socket to fetch a snapshot into DIR (new or\n"
          "empty) from every peer at once, then shows progress until DIR is complete and\n"
          "verified. An interrupted fetch resumes where it stopped when run again.\n"
          "  --control PATH  the node's control socket (or set SEEDMESH_CONTROL)\n"
          "  --no-wait       return once the node has accepted the request\n\n"
          "example:\n  seedmesh fetch latest --target /data/replica --control /var/lib/seedmesh/control.sock\n");
}

int cli_cmd_fetch(int argc, char **argv) {
  static const struct option options[] = {
      {"target", required_argument, NULL, 't'}, {"control", required_argument, NULL, 'c'},
      {"no-wait", no_argument, NULL, 'n'},      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  const char *target = NULL;
  const char *control = NULL;
  int wait = 1;
  int json = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 't': target = optarg; break;
    case 'c': control = optarg; break;
    case 'n': wait = 0; break;
    case 'j': json = 1; break;
    case 'h': fetch_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("fetch", argv);
    }
  }
  if (argc - optind != 1 || target == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "fetch", "usage: seedmesh fetch MANIFEST_ID|latest --target DIR");
  }
  const char *which = argv[optind];
  uint8_t id[32];
  if (strcmp(which, "latest") != 0 && (strlen(which) != 64 || sm_hex_decode(which, id, 32) < 0)) {
    return cli_fail(CLI_EXIT_USAGE, "fetch", "'%s' is neither 'latest' nor a 64-digit manifest id "
                    "(see seedmesh manifest show)", which);
  }
  control = cli_control_path(control);
  if (control == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "fetch", "--control PATH (or SEEDMESH_CONTROL) is required");
  }
  struct node_control_request req;
  memset(&req, 0, sizeof(req));
  req.op = NODE_CONTROL_FETCH;
  snprintf(req.manifest, sizeof(req.manifest), "%s", which);
  /* The node may run elsewhere in the tree: send an absolute path. */
  char abs[PATH_MAX];
  if (target[0] == '/') {
    snprintf(abs, sizeof(abs), "%s", target);
  } else if (getcwd(abs, sizeof(abs)) == NULL ||
             strlen(abs) + 1 + strlen(target) >= sizeof(req.target)) {
    return cli_fail(CLI_EXIT_USAGE, "fetch", "--target %s: path too long", target);
  } else {
    size_t l = strlen(abs);
    snprintf(abs + l, sizeof(abs) - l, "/%s", target);
  }
  snprintf(req.target, sizeof(req.target), "%s", abs);
  char err[600];
  int fd = cli_control_connect(control, err, sizeof(err));
  if (fd < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "fetch", "%s", err);
  }
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  msgpack_zone_init(&zone, 4096);
  int rc = cli_control_call(fd, &req, &zone, &ans, &buf, err, sizeof(err));
  sm_free(buf);
  msgpack_zone_destroy(&zone);
  if (rc < 0) {
    close(fd);
    return cli_fail(CLI_EXIT_FAILURE, "fetch", "%s", err);
  }
  int exit_code = CLI_EXIT_OK;
  struct cli_progress progress;
  cli_progress_init(&progress, "fetch", json);
  while (wait) {
    struct node_control_request st = {.op = NODE_CONTROL_STATUS};
    msgpack_zone_init(&zone, 65536);
    if (cli_control_call(fd, &st, &zone, &ans, &buf, err, sizeof(err)) < 0) {
      msgpack_zone_destroy(&zone);
      exit_code = cli_fail(CLI_EXIT_FAILURE, "fetch", "lost the node: %s", err);
      break;
    }
    const msgpack_object *t = cli_status_transfer(&ans, req.target);
    char state[32] = "";
    char error[512] = "";
    if (t != NULL) {
      cli_mp_str(t, "state", state, sizeof(state));
      cli_mp_str(t, "error", error, sizeof(error));
      cli_progress_transfer(&progress, t);
    }
    int done = t == NULL || strcmp(state, "DONE") == 0 || strcmp(state, "FAILED") == 0;
    if (done && json && t != NULL) {
      cli_json_object(stdout, t);
      putchar('\n');
    }
    msgpack_zone_destroy(&zone);
    sm_free(buf);
    if (t == NULL) {
      exit_code = cli_fail(CLI_EXIT_FAILURE, "fetch", "the node forgot the transfer");
      break;
    }
    if (strcmp(state, "FAILED") == 0) {
      cli_progress_done(&progress);
      exit_code = cli_fail(CLI_EXIT_FAILURE, "fetch", "%s", error);
      break;
    }
    if (done) {
      cli_progress_done(&progress);
      if (!json) {
        printf("%s is complete and verified\n", req.target);
      }
      break;
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  close(fd);
  return exit_code;
}

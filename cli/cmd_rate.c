/* cmd_rate.c - seedmesh rate: changes a running node's bandwidth caps. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/common.h"
#include "node/node.h"

static void rate_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh rate [--max-upload RATE] [--max-download RATE] [--control PATH]\n\n"
          "Changes a running node's bandwidth caps at once (bytes per second, suffixes\n"
          "K M G; 0 removes a cap). Flags left out keep their current value.\n\n"
          "example:\n  seedmesh rate --max-upload 200M --control /var/lib/seedmesh/control.sock\n");
}

int cli_cmd_rate(int argc, char **argv) {
  static const struct option options[] = {
      {"max-upload", required_argument, NULL, 'U'}, {"max-download", required_argument, NULL, 'D'},
      {"control", required_argument, NULL, 'c'},    {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct node_control_request req;
  const char *control = NULL;
  int c;
  memset(&req, 0, sizeof(req));
  req.op = NODE_CONTROL_RATE;
  req.up = req.down = -1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'U':
    case 'D': {
      uint64_t v = 0;
      if (cli_parse_size(optarg, &v) < 0 || v > (uint64_t)INT64_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "rate", "--%s %s is not a rate such as 100M",
                        c == 'U' ? "max-upload" : "max-download", optarg);
      }
      *(c == 'U' ? &req.up : &req.down) = (int64_t)v;
      break;
    }
    case 'c': control = optarg; break;
    case 'h': rate_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("rate", argv);
    }
  }
  if (optind != argc || (req.up < 0 && req.down < 0)) {
    return cli_fail(CLI_EXIT_USAGE, "rate", "give --max-upload and/or --max-download");
  }
  control = cli_control_path(control);
  if (control == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "rate", "--control PATH (or SEEDMESH_CONTROL) is required");
  }
  char err[600];
  int fd = cli_control_connect(control, err, sizeof(err));
  if (fd < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "rate", "%s", err);
  }
  msgpack_zone zone;
  msgpack_object ans;
  uint8_t *buf = NULL;
  msgpack_zone_init(&zone, 1024);
  int rc = cli_control_call(fd, &req, &zone, &ans, &buf, err, sizeof(err));
  msgpack_zone_destroy(&zone);
  sm_free(buf);
  close(fd);
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "rate", "%s", err);
  }
  return CLI_EXIT_OK;
}

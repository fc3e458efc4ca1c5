/* cmd_node.c - seedmesh node: runs the daemon in the foreground. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"
#include "node/node.h"

static void node_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh node --listen HOST:PORT --key FILE --trust FILE --state DIR\n"
          "                     [--serve STORE] [--seeds H:P,...] [--peers H:P,...]\n"
          "                     [--control PATH] [--metrics HOST:PORT]\n"
          "                     [--max-upload RATE] [--max-download RATE]\n"
          "                     [--linger SECONDS] [--no-super-seed] [--donor-only]\n"
          "                     [--log-level error|warn|info|debug]\n\n"
          "Runs a node in the foreground (logs on stderr; stops cleanly on SIGTERM or\n"
          "SIGINT). It serves the latest snapshot of --serve, fetches what `seedmesh fetch`\n"
          "asks for from every peer at once, and re-serves each verified chunk at once.\n\n"
          "  --seeds H:P,...     cluster members to join through (gossip; one is enough):\n"
          "                      peers, manifests and progress are learned from gossip\n"
          "  --peers H:P,...     fixed nodes to fetch from, without gossip\n"
          "  --control PATH      control socket (default STATE/control.sock)\n"
          "  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics\n"
          "                      (unauthenticated: bind it to a private address)\n"
          "  --max-upload RATE   cap in bytes/s, e.g. 100M (also at run time: seedmesh rate)\n"
          "  --linger SECONDS    after a fetch completes, keep serving at most this long\n"
          "                      (default 300; stops earlier when no peer needs anything)\n"
          "  --no-super-seed     when serving, show every chunk to every peer instead of\n"
          "                      spreading first copies (for recipients that cannot share,\n"
          "                      e.g. a baseline where each knows only the donor)\n"
          "  --donor-only        when fetching, take chunks from the donor only, never\n"
          "                      from other recipients (a baseline to compare with)\n\n"
          "example:\n"
          "  seedmesh node --listen 10.0.0.1:7400 --key node.key --trust trust.txt \\\n"
          "      --state /var/lib/seedmesh --serve /srv/snap --metrics 127.0.0.1:9400\n\n"
          "Every flag can also go in the [node] section of the config file\n"
          "(see seedmesh --help).\n");
}

static int split_list(char *list, const char **out, size_t *n) {
  char *save = NULL;
  for (char *p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
    if (*n == NODE_MAX_STATIC_PEERS) {
      return -1;
    }
    out[(*n)++] = p;
  }
  return 0;
}

int cli_cmd_node(int argc, char **argv) {
  static const struct option options[] = {
      {"listen", required_argument, NULL, 'l'},  {"key", required_argument, NULL, 'k'},
      {"trust", required_argument, NULL, 't'},   {"state", required_argument, NULL, 's'},
      {"serve", required_argument, NULL, 'S'},   {"peers", required_argument, NULL, 'p'},
      {"seeds", required_argument, NULL, 'e'},
      {"control", required_argument, NULL, 'c'}, {"max-upload", required_argument, NULL, 'U'},
      {"max-download", required_argument, NULL, 'D'}, {"linger", required_argument, NULL, 'L'},
      {"log-level", required_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
      {"metrics", required_argument, NULL, 'm'}, {"no-super-seed", no_argument, NULL, 'N'},
      {"donor-only", no_argument, NULL, 'O'},
      {NULL, 0, NULL, 0},
  };
  struct node_config cfg;
  char *peers = NULL;
  char *seeds = NULL;
  int c;
  node_config_default(&cfg);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'l': cfg.listen = optarg; break;
    case 'k': cfg.key_path = optarg; break;
    case 't': cfg.trust_path = optarg; break;
    case 's': cfg.state_dir = optarg; break;
    case 'S': cfg.serve_store = optarg; break;
    case 'p': peers = optarg; break;
    case 'e': seeds = optarg; break;
    case 'c': cfg.control_path = optarg; break;
    case 'm': cfg.metrics_listen = optarg; break;
    case 'N': cfg.no_super_seed = 1; break;
    case 'O': cfg.donor_only = 1; break;
    case 'U':
    case 'D': {
      uint64_t rate = 0;
      if (cli_parse_size(optarg, &rate) < 0) {
        return cli_fail(CLI_EXIT_USAGE, "node", "--%s %s is not a rate such as 100M (bytes/s)",
                        c == 'U' ? "max-upload" : "max-download", optarg);
      }
      *(c == 'U' ? &cfg.max_up_bps : &cfg.max_down_bps) = rate;
      break;
    }
    case 'L': {
      char *end = NULL;
      long s = strtol(optarg, &end, 10);
      if (*end != '\0' || s < 0 || s > 86400) {
        return cli_fail(CLI_EXIT_USAGE, "node", "--linger %s is not a number of seconds (0..86400)", optarg);
      }
      cfg.linger_max_ms = (uint64_t)s * 1000;
      break;
    }
    case 'v': {
      enum sm_log_level level;
      if (sm_log_level_parse(optarg, &level) < 0) {
        return cli_fail(CLI_EXIT_USAGE, "node", "--log-level %s: use error, warn, info or debug", optarg);
      }
      sm_log_set_level(level);
      break;
    }
    case 'h': node_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("node", argv);
    }
  }
  if (optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "node", "unexpected argument '%s'", argv[optind]);
  }
  if (cfg.listen == NULL || cfg.key_path == NULL || cfg.trust_path == NULL || cfg.state_dir == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "node", "--listen, --key, --trust and --state are required");
  }
  if ((peers != NULL && split_list(peers, cfg.peers, &cfg.n_peers) < 0) ||
      (seeds != NULL && split_list(seeds, cfg.seeds, &cfg.n_seeds) < 0)) {
    return cli_fail(CLI_EXIT_USAGE, "node", "--peers/--seeds list more than %d nodes",
                    NODE_MAX_STATIC_PEERS);
  }
  char err[512] = "";
  int rc = node_run(&cfg, err);
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "node", "%s", err);
  }
  return CLI_EXIT_OK;
}

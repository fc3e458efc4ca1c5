/* main.c - the seedmesh command: dispatches to subcommands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"keygen", cli_cmd_keygen, "create a node identity (ed25519 key file)"},
    {"snapshot", cli_cmd_snapshot, "cut a tree or a database into a signed chunk store"},
    {"manifest", cli_cmd_manifest, "show a snapshot's manifest (manifest show STORE)"},
    {"materialize", cli_cmd_materialize, "build a tree from a local store, no network"},
    {"verify", cli_cmd_verify, "check a tree against a manifest"},
    {"node", cli_cmd_node, "run a node: serve and fetch snapshots, peer to peer"},
    {"fetch", cli_cmd_fetch, "ask a node to fetch a snapshot into a directory"},
    {"status", cli_cmd_status, "what a node is doing (stages, peers, speeds)"},
    {"rate", cli_cmd_rate, "change a running node's bandwidth caps"},
    {"join", cli_cmd_join, "fetch, prepare, start and join a replica (engine mariadb)"},
};

static void usage(FILE *out) {
  fprintf(out,
          "seedmesh %s - seed many MySQL/MariaDB replicas at once, peer to peer\n\n"
          "usage: seedmesh <command> [options]   (seedmesh <command> --help for details)\n\n"
          "commands:\n",
          SM_VERSION);
  for (size_t i = 0; i < SM_ARRAY_LEN(commands); i++) {
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out,
          "\nexample, on one machine:\n"
          "  seedmesh keygen --out donor.key\n"
          "  seedmesh snapshot --engine dir --source /data/src --out /srv/snap --key donor.key\n"
          "  seedmesh materialize --from /srv/snap --target /data/copy\n"
          "  seedmesh verify --manifest /srv/snap --target /data/copy\n");
}

int main(int argc, char **argv) {
  /* A node that goes away mid-request must give an error line, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("seedmesh %s\n", SM_VERSION);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < SM_ARRAY_LEN(commands); i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "seedmesh: unknown command '%s' (run 'seedmesh --help' for the list)\n", argv[1]);
  return CLI_EXIT_USAGE;
}

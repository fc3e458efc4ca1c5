/* main.c - the seedmesh command: reads the config file, refuses secrets on
 * the command line, and dispatches to subcommands. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"

/* common: the [common] settings a command takes (docs/operations.md); every
 * setting of its own section is passed whatever its name. */
struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
  const char *common;
};

static const struct command commands[] = {
    {"keygen", cli_cmd_keygen, "create a node identity (ed25519 key file)", ""},
    {"snapshot", cli_cmd_snapshot, "cut a tree or a database into a signed chunk store",
     "key json"},
    {"manifest", cli_cmd_manifest, "show a snapshot's manifest (manifest show STORE)", "json"},
    {"materialize", cli_cmd_materialize, "build a tree from a local store, no network",
     "trust json"},
    {"verify", cli_cmd_verify, "check a tree against a manifest", "json"},
    {"node", cli_cmd_node, "run a node: serve and fetch snapshots, peer to peer",
     "control key trust state log-level"},
    {"fetch", cli_cmd_fetch, "ask a node to fetch a snapshot into a directory", "control json"},
    {"status", cli_cmd_status, "what a node is doing (stages, peers, speeds)", "control json"},
    {"rate", cli_cmd_rate, "change a running node's bandwidth caps", "control"},
    {"join", cli_cmd_join, "fetch, prepare, start and join a replica (mariadb, galera, mysql)",
     "control json"},
    {"sst", cli_cmd_sst, "the Galera SST method 'seedmesh' (run by mariadbd, see wsrep_sst_seedmesh)",
     "control"},
};

/* Takes --config FILE / --config=FILE / --no-config out of args (up to a
 * "--"); returns 0 or CLI_EXIT_USAGE. */
static int take_config_flags(int *argc, char **argv, const char **config, int *no_config) {
  int out = 0;
  int i = 0;
  for (; i < *argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--no-config") == 0) {
      *no_config = 1;
    } else if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= *argc) {
        fprintf(stderr, "seedmesh: --config needs a FILE\n");
        return CLI_EXIT_USAGE;
      }
      *config = argv[++i];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      *config = argv[i] + 9;
    } else {
      argv[out++] = argv[i];
    }
  }
  for (; i < *argc; i++) {
    argv[out++] = argv[i];
  }
  argv[out] = NULL;
  *argc = out;
  return 0;
}

/* Secrets on a command line are visible to every user (ps, /proc, shell
 * history): refuse them before anything runs. */
static int refuse_secrets(const char *cmd, int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    char name[CLI_CONFIG_NAME_MAX + 1];
    if (strncmp(argv[i], "--", 2) != 0) {
      continue;
    }
    size_t len = strcspn(argv[i] + 2, "=");
    snprintf(name, sizeof(name), "%.*s", (int)SM_MIN(len, sizeof(name) - 1), argv[i] + 2);
    if (cli_config_key_is_secret(name)) {
      return cli_fail(CLI_EXIT_USAGE, cmd,
                      "--%s on the command line would show the secret to every user: write it "
                      "to a file (mode 0600) and pass --%s-file FILE", name, name);
    }
  }
  return 0;
}

static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return 1;
    }
  }
  return 0;
}

static int section_names(char *out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < SM_ARRAY_LEN(commands); i++) {
    int w = snprintf(out + used, size - used, "%s%s", i ? " " : "", commands[i].name);
    if (w < 0 || (size_t)w >= size - used) {
      return -1;
    }
    used += (size_t)w;
  }
  return 0;
}

/* Runs cmd with the config file's settings before the user's arguments. */
static int run_command(const struct command *cmd, int argc, char **argv, const char *config,
                       int no_config) {
  char path[4096];
  char err[4400];
  char sections[256];
  int required = 0;
  struct cli_config *cfg = NULL;
  char **extra = NULL;
  int n_extra = 0;
  char **full = NULL;
  int rc = refuse_secrets(cmd->name, argc, argv);
  if (rc != 0) {
    return rc;
  }
  if (no_config || wants_help(argc, argv)) {
    return cmd->run(argc, argv);
  }
  int found = cli_config_find(config, path, sizeof(path), &required);
  if (found == SM_ENOTFOUND) {
    return cmd->run(argc, argv);
  }
  if (found < 0) {
    return cli_fail(CLI_EXIT_USAGE, cmd->name, "the config file path is too long");
  }
  cfg = cli_config_new();
  if (cfg == NULL) {
    return cli_fail(CLI_EXIT_FAILURE, cmd->name, "out of memory");
  }
  if (cli_config_load(cfg, path, err, sizeof(err)) < 0) {
    rc = cli_fail(CLI_EXIT_USAGE, cmd->name, "%s%s", err,
                  required ? "" : " (or run with --no-config)");
    goto out;
  }
  section_names(sections, sizeof(sections));
  if (cli_config_check_sections(cfg, sections, err, sizeof(err)) < 0) {
    rc = cli_fail(CLI_EXIT_USAGE, cmd->name, "%s", err);
    goto out;
  }
  if (cli_config_argv(cfg, cmd->name, cmd->common, &extra, &n_extra) < 0) {
    rc = cli_fail(CLI_EXIT_FAILURE, cmd->name, "out of memory");
    goto out;
  }
  full = sm_calloc((size_t)argc + (size_t)n_extra + 1, sizeof(char *));
  if (full == NULL) {
    rc = cli_fail(CLI_EXIT_FAILURE, cmd->name, "out of memory");
    goto out;
  }
  full[0] = argv[0];
  for (int i = 0; i < n_extra; i++) {
    full[1 + i] = extra[i];
  }
  for (int i = 1; i < argc; i++) {
    full[n_extra + i] = argv[i];
  }
  rc = cmd->run(argc + n_extra, full);
out:
  sm_free(full);
  cli_config_args_free(extra, n_extra);
  cli_config_free(cfg);
  return rc;
}

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
          "  seedmesh verify --manifest /srv/snap --target /data/copy\n\n"
          "Every flag can also be set in a config file (INI, like my.cnf): [common] and one\n"
          "section per command, 'name = value' with the long flag names. It is read from\n"
          "--config FILE, else $SEEDMESH_CONFIG, else the first of\n"
          "~/.config/seedmesh/seedmesh.cnf and %s; --no-config skips it.\n"
          "The command line wins over the file. Passwords only come from *-file flags.\n"
          "Exit codes: 0 ok, 1 failed, 2 bad flags or config, 3 verify found differences.\n",
          CLI_CONFIG_SYSTEM_PATH);
}

int main(int argc, char **argv) {
  const char *config = NULL;
  int no_config = 0;
  /* A node that goes away mid-request must give an error line, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  opterr = 0; /* the commands report bad options themselves (cli_fail_option) */
  if (take_config_flags(&argc, argv, &config, &no_config) != 0) {
    return CLI_EXIT_USAGE;
  }
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
      return run_command(&commands[i], argc - 1, argv + 1, config, no_config);
    }
  }
  fprintf(stderr, "seedmesh: unknown command '%s' (run 'seedmesh --help' for the list)\n", argv[1]);
  return CLI_EXIT_USAGE;
}

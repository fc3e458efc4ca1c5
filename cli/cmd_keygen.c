/* cmd_keygen.c - seedmesh keygen: writes a new node identity. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"

static void keygen_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh keygen --out FILE\n\n"
          "Creates an ed25519 node identity in FILE (mode 0600, never overwritten) and\n"
          "prints its public key. Add that line to every node's trust file.\n\n"
          "example:\n  seedmesh keygen --out /etc/seedmesh/node.key >> trust.txt\n");
}

int cli_cmd_keygen(int argc, char **argv) {
  static const struct option options[] = {
      {"out", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *out = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
    switch (c) {
    case 'o':
      out = optarg;
      break;
    case 'h':
      keygen_usage(stdout);
      return CLI_EXIT_OK;
    default:
      return cli_fail_option("keygen", argv);
    }
  }
  if (out == NULL || optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "keygen", "--out FILE is required: where to write the new key");
  }
  struct sm_identity id;
  int rc = sm_identity_generate(out, &id);
  if (rc == SM_EEXIST) {
    return cli_fail(CLI_EXIT_FAILURE, "keygen",
                    "%s already exists: keys are never overwritten; choose another --out", out);
  }
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "keygen", "cannot write %s: %s", out, sm_strerror(rc));
  }
  char hex[2 * SM_PUBKEY_BYTES + 1];
  sm_hex_encode(id.public_key, SM_PUBKEY_BYTES, hex);
  printf("%s %s\n", hex, out);
  sm_identity_cleanup(&id);
  return CLI_EXIT_OK;
}

/* cmd_verify.c - seedmesh verify: checks a tree against a manifest. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "chunkstore/chunkstore.h"
#include "cli/cli.h"
#include "common/common.h"

static void verify_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh verify --manifest STORE|STORE/manifests/ID --target DIR [--json]\n\n"
          "Re-reads every file under DIR and checks it against the signed manifest: each\n"
          "chunk's hash, sizes, modes, nothing missing, nothing extra. Exit code 3 when\n"
          "anything differs.\n\n"
          "example:\n  seedmesh verify --manifest /srv/snap --target /data/copy\n");
}

int cli_cmd_verify(int argc, char **argv) {
  static const struct option options[] = {
      {"manifest", required_argument, NULL, 'm'}, {"target", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *ref = NULL;
  const char *target = NULL;
  int json = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'm': ref = optarg; break;
    case 't': target = optarg; break;
    case 'j': json = 1; break;
    case 'h': verify_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("verify", argv);
    }
  }
  if (ref == NULL || target == NULL || optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "verify", "--manifest STORE and --target DIR are required");
  }
  char store[4200];
  char id[80];
  if (cli_resolve_manifest(ref, store, sizeof(store), id, sizeof(id)) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "verify",
                    "%s is neither a store nor a manifest directory", ref);
  }
  struct chunkstore_manifest *m = NULL;
  int rc = chunkstore_store_load_manifest(store, id[0] ? id : NULL, NULL, &m, NULL);
  if (rc < 0) {
    return cli_manifest_error("verify", rc, ref);
  }
  struct chunkstore_verify_report rep;
  rc = chunkstore_verify_tree(m, target, 2, &rep);
  chunkstore_manifest_free(m);
  if (rc < 0 && rc != SM_EHASH) {
    return cli_fail(CLI_EXIT_FAILURE, "verify", "cannot read %s: %s", target, sm_strerror(rc));
  }
  if (json) {
    printf("{\"target\":");
    cli_json_string(stdout, target);
    printf(",\"ok\":%s,\"files\":%llu,\"bytes\":%llu,\"bad_chunks\":%llu,\"missing\":%llu,"
           "\"wrong_size\":%llu,\"wrong_mode\":%llu,\"extra\":%llu,\"first_problem\":",
           rc == 0 ? "true" : "false", (unsigned long long)rep.files_checked,
           (unsigned long long)rep.bytes_checked, (unsigned long long)rep.bad_chunks,
           (unsigned long long)rep.missing_files, (unsigned long long)rep.wrong_size,
           (unsigned long long)rep.wrong_mode, (unsigned long long)rep.extra_files);
    cli_json_string(stdout, rep.first_problem);
    printf("}\n");
  } else if (rc == 0) {
    printf("%s matches the manifest: %llu files, %llu bytes checked\n", target,
           (unsigned long long)rep.files_checked, (unsigned long long)rep.bytes_checked);
  }
  if (rc == SM_EHASH) {
    cli_fail(CLI_EXIT_MISMATCH, "verify",
             "%s differs from the manifest: %llu bad chunks, %llu missing, %llu wrong size, "
             "%llu wrong mode, %llu extra; first: %s", target,
             (unsigned long long)rep.bad_chunks, (unsigned long long)rep.missing_files,
             (unsigned long long)rep.wrong_size, (unsigned long long)rep.wrong_mode,
             (unsigned long long)rep.extra_files, rep.first_problem);
    return CLI_EXIT_MISMATCH;
  }
  return CLI_EXIT_OK;
}

/* cmd_materialize.c - seedmesh materialize: builds a tree from a local
 * store, resuming an interrupted run and keeping any old target. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkstore/chunkstore.h"
#include "cli/cli.h"
#include "common/common.h"

static void materialize_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh materialize --from STORE --target DIR [--manifest ID]\n"
          "                            [--trust FILE] [--staging DIR] [--base DIR] [--replace]\n"
          "                            [--threads N] [--max-rate SIZE] [--json]\n\n"
          "Builds DIR from a snapshot in a local store, without network. Chunks go into a\n"
          "staging directory (default DIR.seedmesh-staging) at their offsets; an interrupted\n"
          "run resumes where it stopped. When done, the tree is renamed into place.\n"
          "An existing copy (DIR itself, or --base) is reused: unchanged chunks are copied\n"
          "locally and changed chunks are patched page by page.\n\n"
          "  --trust FILE     refuse manifests not signed by a key listed in FILE\n"
          "  --replace        DIR may hold data: it is renamed to DIR.seedmesh-old, never deleted\n"
          "  --max-rate SIZE  read at most SIZE bytes per second from the store (e.g. 100M)\n"
          "  --json           print the result as JSON on stdout\n\n"
          "example:\n  seedmesh materialize --from /srv/snap --target /data/copy\n");
}

int cli_cmd_materialize(int argc, char **argv) {
  static const struct option options[] = {
      {"from", required_argument, NULL, 'f'},    {"target", required_argument, NULL, 't'},
      {"manifest", required_argument, NULL, 'm'}, {"trust", required_argument, NULL, 'T'},
      {"staging", required_argument, NULL, 's'}, {"base", required_argument, NULL, 'b'},
      {"replace", no_argument, NULL, 'r'},       {"threads", required_argument, NULL, 'n'},
      {"max-rate", required_argument, NULL, 'R'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  struct chunkstore_materialize_options opt;
  const char *trust_path = NULL;
  int json = 0;
  int c;
  memset(&opt, 0, sizeof(opt));
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'f': opt.store = optarg; break;
    case 't': opt.target = optarg; break;
    case 'm': opt.manifest_id = optarg; break;
    case 'T': trust_path = optarg; break;
    case 's': opt.staging = optarg; break;
    case 'b': opt.base = optarg; break;
    case 'r': opt.replace = 1; break;
    case 'n':
      opt.threads = atoi(optarg);
      if (opt.threads < 1 || opt.threads > 16) {
        return cli_fail(CLI_EXIT_USAGE, "materialize", "--threads %s is out of range: use 1..16", optarg);
      }
      break;
    case 'R':
      if (cli_parse_size(optarg, &opt.rate_limit) < 0 || opt.rate_limit == 0) {
        return cli_fail(CLI_EXIT_USAGE, "materialize", "--max-rate %s is not a size such as 100M", optarg);
      }
      break;
    case 'j': json = 1; break;
    case 'h': materialize_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("materialize", argv);
    }
  }
  if (optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "materialize", "unexpected argument '%s'", argv[optind]);
  }
  if (opt.store == NULL || opt.target == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "materialize", "--from STORE and --target DIR are required");
  }
  struct sm_trust trust = {0, NULL};
  if (trust_path != NULL) {
    size_t bad_line = 0;
    int rc = sm_trust_load(trust_path, &trust, &bad_line);
    if (rc < 0) {
      return bad_line ? cli_fail(CLI_EXIT_FAILURE, "materialize",
                                 "%s line %zu is not '<64 hex digits> [name]'", trust_path, bad_line)
                      : cli_fail(CLI_EXIT_FAILURE, "materialize", "cannot read trust file %s: %s",
                                 trust_path, sm_strerror(rc));
    }
    opt.trust = &trust;
  }
  struct cli_progress progress;
  cli_progress_init(&progress, "materialize", json);
  opt.progress = cli_progress_update;
  opt.progress_arg = &progress;
  struct chunkstore_materialize_stats st;
  int rc = chunkstore_materialize(&opt, &st);
  cli_progress_done(&progress);
  sm_trust_cleanup(&trust);
  switch (rc) {
  case 0:
    break;
  case SM_EEXIST:
    return cli_fail(CLI_EXIT_FAILURE, "materialize",
                    "%s exists and is not empty: add --replace to keep it as %s.seedmesh-old "
                    "and put the new tree in its place", opt.target, opt.target);
  case SM_ESTATE:
    return cli_fail(CLI_EXIT_FAILURE, "materialize",
                    "the staging directory holds another manifest's data: remove it or pass "
                    "another --staging");
  case SM_ENOSPACE:
    return cli_fail(CLI_EXIT_FAILURE, "materialize",
                    "not enough free disk space for %s: free space and run again (the staging "
                    "directory is kept and resumes)", opt.target);
  case SM_EHASH:
    if (st.pieces_total > 0) {
      return cli_fail(CLI_EXIT_FAILURE, "materialize",
                      "a chunk in %s is damaged (its bytes do not match its id); nothing bad "
                      "was written; take the snapshot again", opt.store);
    }
    return cli_manifest_error("materialize", rc, opt.store);
  case SM_EPATH:
    if (st.pieces_total > 0) {
      return cli_fail(CLI_EXIT_FAILURE, "materialize",
                      "the staging directory contains a symlink or a non-directory where a "
                      "directory belongs; refusing to write through it (remove the staging "
                      "directory)");
    }
    return cli_manifest_error("materialize", rc, opt.store);
  case SM_ENOTFOUND: case SM_EBADSIG: case SM_EUNTRUSTED: case SM_EVERSION: case SM_EMALFORMED:
    return cli_manifest_error("materialize", rc, opt.store);
  default:
    return cli_fail(CLI_EXIT_FAILURE, "materialize", "failed: %s (the staging directory is kept; "
                    "run again to resume)", sm_strerror(rc));
  }
  uint64_t written = st.pieces_from_base + st.pieces_delta + st.pieces_fetched;
  if (json) {
    printf("{\"target\":");
    cli_json_string(stdout, opt.target);
    printf(",\"pieces\":%llu,\"resumed\":%llu,\"written\":%llu,\"from_base\":%llu,"
           "\"patched\":%llu,\"fetched\":%llu,\"bytes\":%llu,\"fetched_bytes\":%llu,"
           "\"delta_bytes\":%llu,\"seconds\":%.3f,\"old_target\":",
           (unsigned long long)st.pieces_total, (unsigned long long)st.pieces_resumed,
           (unsigned long long)written, (unsigned long long)st.pieces_from_base,
           (unsigned long long)st.pieces_delta, (unsigned long long)st.pieces_fetched,
           (unsigned long long)st.bytes_total, (unsigned long long)st.bytes_fetched,
           (unsigned long long)st.bytes_delta, st.seconds);
    if (st.old_target[0]) {
      cli_json_string(stdout, st.old_target);
    } else {
      printf("null");
    }
    printf("}\n");
  } else {
    char total[32], fetched[32], delta[32];
    sm_format_bytes(st.bytes_total, total, sizeof(total));
    sm_format_bytes(st.bytes_fetched, fetched, sizeof(fetched));
    sm_format_bytes(st.bytes_delta, delta, sizeof(delta));
    printf("materialized %s: %llu chunks (%s) in %.2f s\n", opt.target,
           (unsigned long long)st.pieces_total, total, st.seconds);
    printf("  resumed %llu, written %llu: %llu from the old copy, %llu patched (%s of pages), "
           "%llu fetched (%s)\n",
           (unsigned long long)st.pieces_resumed, (unsigned long long)written,
           (unsigned long long)st.pieces_from_base, (unsigned long long)st.pieces_delta, delta,
           (unsigned long long)st.pieces_fetched, fetched);
    if (st.old_target[0]) {
      printf("  the previous %s was kept as %s\n", opt.target, st.old_target);
    }
  }
  return CLI_EXIT_OK;
}

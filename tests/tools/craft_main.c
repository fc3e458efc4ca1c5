/* craft_main.c - sm-craft-manifest: writes a chunk store whose manifest is
 * validly signed but malicious (unsafe paths, duplicates, lying sizes, a bad
 * chunk size), so end-to-end tests can check that materialize refuses it and
 * writes nothing. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/craft.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: sm-craft-manifest --key KEYFILE --out STORE --case NAME\n"
          "       sm-craft-manifest --list\n"
          "Writes STORE/segments, STORE/manifests/<id>/{root,sig} and STORE/latest\n"
          "for a manifest signed by KEYFILE that breaks one rule (see --list).\n");
}

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"key", required_argument, NULL, 'k'},
      {"out", required_argument, NULL, 'o'},
      {"case", required_argument, NULL, 'c'},
      {"list", no_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *key_path = NULL;
  const char *store = NULL;
  const char *name = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "k:o:c:lh", options, NULL)) != -1) {
    switch (opt) {
    case 'k':
      key_path = optarg;
      break;
    case 'o':
      store = optarg;
      break;
    case 'c':
      name = optarg;
      break;
    case 'l':
      for (size_t i = 0; i < craft_case_count(); i++) {
        printf("%s\n", craft_case_name(i));
      }
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc || key_path == NULL || store == NULL || name == NULL) {
    usage(stderr);
    return 2;
  }
  struct sm_identity key;
  int rc = sm_identity_load(key_path, &key);
  if (rc < 0) {
    fprintf(stderr, "sm-craft-manifest: cannot load key %s: %s\n", key_path, sm_strerror(rc));
    return 1;
  }
  struct craft c;
  rc = sm_fs_mkdir_p(store, 0755);
  if (rc == 0) {
    rc = craft_case_init(&c, name, key.public_key, store);
    if (rc == SM_ENOTFOUND) {
      sm_identity_cleanup(&key);
      fprintf(stderr, "sm-craft-manifest: unknown case '%s' (see --list)\n", name);
      return 2;
    }
    if (rc == 0) {
      rc = craft_finish(&c);
    }
    if (rc == 0) {
      rc = craft_write_store(&c, store, &key);
    }
    craft_cleanup(&c);
  }
  sm_identity_cleanup(&key);
  if (rc < 0) {
    fprintf(stderr, "sm-craft-manifest: cannot write %s: %s\n", store, sm_strerror(rc));
    return 1;
  }
  return 0;
}

/* gentree.c - sm-gentree, a deterministic generator of InnoDB-like datadir
 * trees (sparse, page-structured, mixed compressibility) for tests and
 * benchmarks, and a mutator that rewrites a fraction of their pages in place.
 * This file: usage, option parsing and main; the commands live in
 * gentree_create.c and gentree_mutate.c, the page format in gentree_page.c. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gentree.h"

#define GT_MIN_PAGE 4096u
#define GT_MAX_PAGE 65536u
#define GT_MIN_SIZE (1ull << 20)

static void gt_usage(void) {
  fputs("usage: sm-gentree create --out DIR --size BYTES[K|M|G] [--seed N] [--page BYTES] [--dense]\n"
        "       sm-gentree mutate --dir DIR --fraction F [--seed N]\n"
        "                         [--pattern random|clustered] [--page BYTES]\n"
        "create: writes a deterministic InnoDB-like tree of exactly BYTES apparent bytes\n"
        "  (ibdata1 25%, two tablespaces 15%/12%, hundreds of small .frm/.ibd files, tiny\n"
        "  text files, one empty file, one empty directory). Pages are zero (~25%, written\n"
        "  as holes unless --dense), text-like compressible (~45%) or random (~30%).\n"
        "  Same --seed, --size and --page give byte-identical trees. DIR must be new or empty.\n"
        "mutate: rewrites fraction F (0 < F <= 1) of the generated non-zero pages in place,\n"
        "  uniformly at random or in clustered runs of 8-64 pages, and prints\n"
        "  'pages=N bytes=B diff_bytes=D eligible_pages=E'.\n"
        "--page defaults to 16384 (power of two, 4096..65536; same value for both commands);\n"
        "--seed defaults to 1.\n",
        stdout);
}

/* Parses a decimal/hex count, with an optional binary K/M/G/T suffix if allowed. */
static int gt_parse_u64(const char *s, bool suffix, uint64_t *out) {
  static const char sfx[] = "KkMmGgTt";
  char *end;
  if (s[0] == '\0' || s[0] == '-') {
    return -1;
  }
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s) {
    return -1;
  }
  unsigned shift = 0;
  if (suffix && *end != '\0' && strchr(sfx, *end) != NULL) {
    shift = 10u * (unsigned)((strchr(sfx, *end) - sfx) / 2 + 1);
    end++;
  }
  if (*end != '\0' || (shift > 0 && (v >> (64 - shift)) != 0)) {
    return -1;
  }
  *out = (uint64_t)v << shift;
  return 0;
}

/* Applies one option to o; returns -1 (after printing) for a bad value. */
static int gt_opt_set(struct gt_opts *o, int ch, const char *name, const char *a) {
  uint64_t page = 0;
  char *end = NULL;
  bool ok = true;
  switch (ch) {
  case 'o':
    o->out = a;
    break;
  case 'd':
    o->dir = a;
    break;
  case 'D':
    o->dense = true;
    break;
  case 's':
    ok = gt_parse_u64(a, true, &o->size) == 0 && o->size >= GT_MIN_SIZE;
    break;
  case 'S':
    ok = gt_parse_u64(a, false, &o->seed) == 0;
    break;
  case 'p':
    ok = gt_parse_u64(a, true, &page) == 0 && page >= GT_MIN_PAGE && page <= GT_MAX_PAGE &&
         (page & (page - 1)) == 0;
    o->page = (uint32_t)page;
    break;
  case 'f':
    errno = 0;
    o->fraction = strtod(a, &end);
    ok = errno == 0 && end != a && *end == '\0' && o->fraction > 0.0 && o->fraction <= 1.0;
    break;
  case 'P':
    ok = strcmp(a, "random") == 0 || strcmp(a, "clustered") == 0;
    o->clustered = strcmp(a, "clustered") == 0;
    o->pattern_set = true;
    break;
  default:
    ok = false;
    break;
  }
  if (!ok) {
    return gt_fail("bad value '%s' for --%s (try --help)", a, name);
  }
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    { "out", required_argument, NULL, 'o' },      { "size", required_argument, NULL, 's' },
    { "seed", required_argument, NULL, 'S' },     { "page", required_argument, NULL, 'p' },
    { "dense", no_argument, NULL, 'D' },          { "dir", required_argument, NULL, 'd' },
    { "fraction", required_argument, NULL, 'f' }, { "pattern", required_argument, NULL, 'P' },
    { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
  };
  struct gt_opts o = { .seed = 1, .page = 16384, .fraction = -1.0 };
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    gt_usage();
    return 0;
  }
  bool create = argc >= 2 && strcmp(argv[1], "create") == 0;
  if (!create && (argc < 2 || strcmp(argv[1], "mutate") != 0)) {
    gt_fail("expected command 'create' or 'mutate' (try --help)");
    return 2;
  }
  opterr = 0;
  int ch, idx = 0;
  while ((ch = getopt_long(argc - 1, argv + 1, ":h", longopts, &idx)) != -1) {
    if (ch == 'h') {
      gt_usage();
      return 0;
    }
    if (ch == ':' || ch == '?') {
      gt_fail("%s option %s", ch == ':' ? "missing value for" : "unknown", argv[optind]);
      return 2;
    }
    if (gt_opt_set(&o, ch, longopts[idx].name, optarg) < 0) {
      return 2;
    }
  }
  if (optind < argc - 1) {
    gt_fail("unexpected argument '%s'", argv[optind + 1]);
    return 2;
  }
  if (create && (o.out == NULL || o.size == 0 || o.dir != NULL || o.fraction >= 0.0 ||
                 o.pattern_set)) {
    gt_fail("create takes --out DIR --size BYTES [--seed N] [--page BYTES] [--dense]");
    return 2;
  }
  if (!create && (o.dir == NULL || o.fraction < 0.0 || o.out != NULL || o.size != 0 || o.dense)) {
    gt_fail("mutate takes --dir DIR --fraction F [--seed N] [--pattern P] [--page BYTES]");
    return 2;
  }
  return (create ? gt_create_run(&o) : gt_mutate_run(&o)) == 0 ? 0 : 1;
}

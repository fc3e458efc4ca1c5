/* cmd_manifest.c - seedmesh manifest show: prints what a snapshot holds. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chunkstore/chunkstore.h"
#include "cli/cli.h"
#include "common/common.h"

static void manifest_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh manifest show STORE|STORE/manifests/ID [--files] [--json]\n\n"
          "Prints a snapshot's manifest after checking its signature: id, donor key,\n"
          "size, chunking, engine facts and replication coordinates.\n"
          "  --files   also list every file and directory\n"
          "  --json    machine-readable output on stdout\n\n"
          "example:\n  seedmesh manifest show /srv/snap --json\n");
}

static void print_kv_json(const char *name, const struct chunkstore_kv *kv, size_t n) {
  printf(",\"%s\":{", name);
  for (size_t i = 0; i < n; i++) {
    printf("%s", i ? "," : "");
    cli_json_string(stdout, kv[i].key);
    putchar(':');
    cli_json_string(stdout, kv[i].value);
  }
  putchar('}');
}

static void print_json(const struct chunkstore_manifest *m, const struct chunkstore_pieces *p,
                       int files) {
  char id[2 * CHUNKSTORE_ID_BYTES + 1];
  char donor[2 * SM_PUBKEY_BYTES + 1];
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, id);
  sm_hex_encode(m->donor, SM_PUBKEY_BYTES, donor);
  printf("{\"manifest\":\"%s\",\"format_version\":%u,\"donor\":\"%s\",\"created\":%llu,"
         "\"chunk_size\":%u,\"entries\":%zu,\"bytes\":%llu,\"chunks\":%llu,\"pieces\":%llu,"
         "\"piece_bytes\":%llu,\"segments\":%zu",
         id, m->version, donor, (unsigned long long)m->created, m->chunk_size, m->n_entries,
         (unsigned long long)m->total_bytes, (unsigned long long)m->n_slots,
         (unsigned long long)p->count, (unsigned long long)p->total_bytes, m->n_segments);
  print_kv_json("facts", m->facts, m->n_facts);
  print_kv_json("coords", m->coords, m->n_coords);
  if (files) {
    printf(",\"files\":[");
    for (size_t i = 0; i < m->n_entries; i++) {
      const struct chunkstore_entry *e = &m->entries[i];
      printf("%s{\"path\":", i ? "," : "");
      cli_json_string(stdout, e->path);
      printf(",\"type\":\"%s\",\"mode\":\"%04o\",\"size\":%llu}",
             e->kind == CHUNKSTORE_ENTRY_DIR ? "dir" : "file", e->mode,
             (unsigned long long)e->size);
    }
    putchar(']');
  }
  printf("}\n");
}

static void print_text(const struct chunkstore_manifest *m, const struct chunkstore_pieces *p,
                       int files) {
  char id[2 * CHUNKSTORE_ID_BYTES + 1];
  char donor[2 * SM_PUBKEY_BYTES + 1];
  char total[32], piece_bytes[32], chunk[32], when[64];
  time_t created = (time_t)m->created;
  struct tm tm;
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, id);
  sm_hex_encode(m->donor, SM_PUBKEY_BYTES, donor);
  sm_format_bytes(m->total_bytes, total, sizeof(total));
  sm_format_bytes(p->total_bytes, piece_bytes, sizeof(piece_bytes));
  sm_format_bytes(m->chunk_size, chunk, sizeof(chunk));
  gmtime_r(&created, &tm);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("manifest    %s\n", id);
  printf("donor key   %s (signature verified)\n", donor);
  printf("created     %s\n", when);
  printf("contents    %zu entries, %s\n", m->n_entries, total);
  printf("chunks      %llu of %s, %llu distinct non-zero (%s to transfer)\n",
         (unsigned long long)m->n_slots, chunk, (unsigned long long)p->count, piece_bytes);
  printf("segments    %zu\n", m->n_segments);
  for (size_t i = 0; i < m->n_facts; i++) {
    printf("fact        %s = %s\n", m->facts[i].key, m->facts[i].value);
  }
  for (size_t i = 0; i < m->n_coords; i++) {
    printf("coordinate  %s = %s\n", m->coords[i].key, m->coords[i].value);
  }
  if (files) {
    for (size_t i = 0; i < m->n_entries; i++) {
      const struct chunkstore_entry *e = &m->entries[i];
      printf("%s %04o %12llu %s\n", e->kind == CHUNKSTORE_ENTRY_DIR ? "d" : "f", e->mode,
             (unsigned long long)e->size, e->path);
    }
  }
}

int cli_cmd_manifest(int argc, char **argv) {
  static const struct option options[] = {
      {"json", no_argument, NULL, 'j'}, {"files", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
  };
  int json = 0;
  int files = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'j': json = 1; break;
    case 'f': files = 1; break;
    case 'h': manifest_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("manifest", argv);
    }
  }
  if (argc - optind != 2 || strcmp(argv[optind], "show") != 0) {
    return cli_fail(CLI_EXIT_USAGE, "manifest", "usage: seedmesh manifest show STORE [--json]");
  }
  const char *ref = argv[optind + 1];
  char store[4200];
  char id[80];
  if (cli_resolve_manifest(ref, store, sizeof(store), id, sizeof(id)) < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "manifest",
                    "%s is neither a store nor a manifest directory; give the --out of "
                    "seedmesh snapshot", ref);
  }
  struct chunkstore_manifest *m = NULL;
  int rc = chunkstore_store_load_manifest(store, id[0] ? id : NULL, NULL, &m, NULL);
  if (rc < 0) {
    return cli_manifest_error("manifest", rc, ref);
  }
  struct chunkstore_pieces pieces;
  rc = chunkstore_pieces_build(m, &pieces);
  if (rc < 0) {
    chunkstore_manifest_free(m);
    return cli_manifest_error("manifest", rc, ref);
  }
  if (json) {
    print_json(m, &pieces, files);
  } else {
    print_text(m, &pieces, files);
  }
  chunkstore_pieces_cleanup(&pieces);
  chunkstore_manifest_free(m);
  return CLI_EXIT_OK;
}

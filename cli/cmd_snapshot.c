/* cmd_snapshot.c - seedmesh snapshot: cuts a source into a signed chunk
 * store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkstore/chunkstore.h"
#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"

static void snapshot_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh snapshot --engine dir --source DIR --out STORE --key FILE\n"
          "       seedmesh snapshot --engine mariadb|galera|mysql (--socket S | --host H --port P)\n"
          "                         [--user U] [--password-file F | --defaults-file F]\n"
          "                         --out STORE --key FILE\n"
          "                         [--chunk-size SIZE] [--level N] [--threads N] [--json]\n\n"
          "Cuts every file under DIR into fixed-size chunks (default 4M), stores the chunks\n"
          "STORE does not have yet (zstd, level 1 by default) and writes a manifest signed\n"
          "with the key. Snapshots into the same STORE share unchanged chunks.\n\n"
          "  --engine dir       a plain directory\n"
          "  --engine mariadb   a running MariaDB server, copied with mariadb-backup while it\n"
          "                     keeps taking writes; facts and GTID coordinates go into the\n"
          "                     manifest (docs/mariadb.md). Credentials never go on a command\n"
          "                     line: --password-file (first line, mode 0600) or --defaults-file\n"
          "  --engine mysql     a running MySQL 8.0.17+ server with the clone plugin, copied\n"
          "                     with CLONE LOCAL DATA DIRECTORY into the store while it keeps\n"
          "                     taking writes (BACKUP_ADMIN); clone_status coordinates and the\n"
          "                     facts clone compares go into the manifest (docs/mysql.md).\n"
          "                     Run it on the donor's host as root or the server's user\n"
          "  --backup-tool PATH mariadb-backup to use (default: from PATH)\n"
          "  --engine galera    the same as mariadb --galera-info, on a synced Galera node:\n"
          "                     the snapshot carries the cluster's uuid:seqno for\n"
          "                     join --engine galera (docs/galera.md)\n"
          "  --galera-info      record the Galera position too (on a Galera node)\n"
          "  --chunk-size SIZE  power of two from 16K to 64M\n"
          "  --level N          zstd level 1..19\n"
          "  --threads N        hashing/compression threads (default: all CPUs)\n"
          "  --json             print the result as JSON on stdout\n\n"
          "example:\n"
          "  seedmesh snapshot --engine dir --source /data/src --out /srv/snap --key donor.key\n"
          "  seedmesh snapshot --engine mariadb --socket /run/mysqld/mysqld.sock --user backup \\\n"
          "      --password-file /etc/seedmesh/backup.pw --out /srv/snap --key donor.key\n");
}

int cli_snapshot_store(const struct engine_snapshot *snap, const char *store,
                       const struct sm_identity *key, uint32_t chunk_size, int level, int threads,
                       struct cli_progress *progress, struct chunkstore_manifest **out_m,
                       struct chunkstore_snapshot_stats *stats, char *bad_path) {
  struct chunkstore_kv facts[ENGINE_KV_MAX], coords[ENGINE_KV_MAX];
  for (size_t i = 0; i < snap->facts.n; i++) {
    memcpy(facts[i].key, snap->facts.kv[i].key, sizeof(facts[i].key));
    facts[i].value = snap->facts.kv[i].value;
  }
  for (size_t i = 0; i < snap->coords.n; i++) {
    memcpy(coords[i].key, snap->coords.kv[i].key, sizeof(coords[i].key));
    coords[i].value = snap->coords.kv[i].value;
  }
  struct chunkstore_snapshot_options opt;
  memset(&opt, 0, sizeof(opt));
  opt.source = snap->dir;
  opt.facts = facts;
  opt.n_facts = snap->facts.n;
  opt.coords = coords;
  opt.n_coords = snap->coords.n;
  opt.store = store;
  opt.chunk_size = chunk_size;
  opt.zstd_level = level;
  opt.threads = threads;
  opt.key = key;
  opt.progress = cli_progress_update;
  opt.progress_arg = progress;
  return chunkstore_snapshot(&opt, out_m, stats, bad_path);
}

int cli_cmd_snapshot(int argc, char **argv) {
  static const struct option options[] = {
      {"engine", required_argument, NULL, 'e'}, {"source", required_argument, NULL, 's'},
      {"out", required_argument, NULL, 'o'},    {"key", required_argument, NULL, 'k'},
      {"chunk-size", required_argument, NULL, 'c'}, {"level", required_argument, NULL, 'l'},
      {"threads", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
      {"socket", required_argument, NULL, 'S'},  {"host", required_argument, NULL, 'H'},
      {"port", required_argument, NULL, 'P'},    {"user", required_argument, NULL, 'u'},
      {"password-file", required_argument, NULL, 'p'},
      {"defaults-file", required_argument, NULL, 'd'},
      {"backup-tool", required_argument, NULL, 'b'}, {"galera-info", no_argument, NULL, 'g'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  struct engine_snapshot_options eo;
  memset(&eo, 0, sizeof(eo));
  const char *engine = "dir";
  const char *source = NULL;
  const char *store = NULL;
  const char *key_path = NULL;
  uint64_t chunk_size = CHUNKSTORE_CHUNK_DEFAULT;
  int level = 1;
  int threads = 0;
  int json = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'e': engine = optarg; break;
    case 's': source = optarg; break;
    case 'o': store = optarg; break;
    case 'k': key_path = optarg; break;
    case 'c':
      if (cli_parse_size(optarg, &chunk_size) < 0 || chunk_size < CHUNKSTORE_CHUNK_MIN ||
          chunk_size > CHUNKSTORE_CHUNK_MAX || (chunk_size & (chunk_size - 1)) != 0) {
        return cli_fail(CLI_EXIT_USAGE, "snapshot",
                        "--chunk-size %s is not a power of two from 16K to 64M (e.g. 4M)", optarg);
      }
      break;
    case 'l':
      level = atoi(optarg);
      if (level < 1 || level > 19) {
        return cli_fail(CLI_EXIT_USAGE, "snapshot", "--level %s is out of range: use 1..19", optarg);
      }
      break;
    case 't':
      threads = atoi(optarg);
      if (threads < 1 || threads > 64) {
        return cli_fail(CLI_EXIT_USAGE, "snapshot", "--threads %s is out of range: use 1..64", optarg);
      }
      break;
    case 'j': json = 1; break;
    case 'S': eo.conn.socket = optarg; break;
    case 'H': eo.conn.host = optarg; break;
    case 'P':
      eo.conn.port = (unsigned)atoi(optarg);
      if (eo.conn.port == 0 || eo.conn.port > 65535) {
        return cli_fail(CLI_EXIT_USAGE, "snapshot", "--port %s is not a port number", optarg);
      }
      break;
    case 'u': eo.conn.user = optarg; break;
    case 'p': eo.conn.password_file = optarg; break;
    case 'd': eo.conn.defaults_file = optarg; break;
    case 'b': eo.backup_tool = optarg; break;
    case 'g': eo.galera = 1; break;
    case 'h': snapshot_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("snapshot", argv);
    }
  }
  if (optind != argc) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot", "unexpected argument '%s'", argv[optind]);
  }
  const struct engine_ops *ops = engine_find(engine);
  if (ops == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot",
                    "unknown --engine '%s': this build supports 'dir', 'mariadb', 'galera' and 'mysql'", engine);
  }
  int is_dir = strcmp(engine, "dir") == 0;
  if (store == NULL || key_path == NULL || (is_dir && source == NULL)) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot",
                    is_dir ? "--source DIR, --out STORE and --key FILE are all required"
                           : "--out STORE and --key FILE are required");
  }
  if (!is_dir && eo.conn.socket == NULL && eo.conn.host == NULL && eo.conn.defaults_file == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot",
                    "--socket S or --host H --port P (or --defaults-file F) names the server");
  }
  struct stat st;
  if (is_dir && (stat(source, &st) != 0 || !S_ISDIR(st.st_mode))) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot", "--source %s is not a directory", source);
  }
  if (eo.conn.password_file != NULL && eo.conn.defaults_file != NULL) {
    return cli_fail(CLI_EXIT_USAGE, "snapshot",
                    "give either --password-file or --defaults-file, not both");
  }
  struct sm_identity key;
  if (cli_key_load("snapshot", key_path, &key) != 0) {
    return CLI_EXIT_FAILURE;
  }
  eo.source = source;
  eo.work_dir = store;
  struct engine_snapshot snap;
  engine_snapshot_init(&snap);
  char eerr[ENGINE_ERR_MAX] = "";
  if (!is_dir && !json && isatty(STDERR_FILENO)) {
    fprintf(stderr, "seedmesh snapshot: SNAPSHOT running %s...\n",
            strcmp(engine, "mysql") == 0 ? "CLONE LOCAL DATA DIRECTORY" : "mariadb-backup");
  }
  int erc = ops->snapshot(&eo, &snap, eerr);
  if (erc < 0) {
    engine_snapshot_cleanup(&snap);
    sm_identity_cleanup(&key);
    return cli_fail(CLI_EXIT_FAILURE, "snapshot", "%s", eerr);
  }
  struct cli_progress progress;
  cli_progress_init(&progress, "snapshot", json);
  struct chunkstore_manifest *m = NULL;
  struct chunkstore_snapshot_stats stats;
  char bad_path[CHUNKSTORE_PATH_MAX + 1] = "";
  int rc = cli_snapshot_store(&snap, store, &key, (uint32_t)chunk_size, level, threads, &progress,
                              &m, &stats, bad_path);
  cli_progress_done(&progress);
  sm_identity_cleanup(&key);
  engine_snapshot_cleanup(&snap); /* removes a temporary backup */
  if (rc == SM_EPATH) {
    return cli_fail(CLI_EXIT_FAILURE, "snapshot",
                    "cannot snapshot '%s': only regular files and directories are copied "
                    "(remove or move symlinks and special files out of the source)", bad_path);
  }
  if (rc == SM_ESTATE) {
    return cli_fail(CLI_EXIT_FAILURE, "snapshot",
                    "'%s' changed while it was read: snapshot a quiet copy (engines do this for "
                    "databases)", bad_path);
  }
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "snapshot", "failed%s%s: %s", bad_path[0] ? " at " : "",
                    bad_path, sm_strerror(rc));
  }
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  sm_hex_encode(m->id, CHUNKSTORE_ID_BYTES, hex);
  double mbps = stats.seconds > 0 ? (double)stats.bytes / stats.seconds / 1e6 : 0;
  if (json) {
    printf("{\"manifest\":\"%s\",\"store\":", hex);
    cli_json_string(stdout, store);
    printf(",\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu,\"chunks\":%llu,\"zero_chunks\":%llu,"
           "\"new_chunks\":%llu,\"reused_chunks\":%llu,\"stored_bytes\":%llu,\"seconds\":%.3f}\n",
           (unsigned long long)stats.files, (unsigned long long)stats.dirs,
           (unsigned long long)stats.bytes, (unsigned long long)stats.chunks,
           (unsigned long long)stats.zero_chunks, (unsigned long long)stats.new_chunks,
           (unsigned long long)stats.reused_chunks, (unsigned long long)stats.stored_bytes,
           stats.seconds);
  } else {
    char total[32], stored[32];
    sm_format_bytes(stats.bytes, total, sizeof(total));
    sm_format_bytes(stats.stored_bytes, stored, sizeof(stored));
    printf("manifest %s\n", hex);
    printf("%llu files, %llu dirs, %s in %llu chunks (%llu zero, %llu new, %llu already stored)\n",
           (unsigned long long)stats.files, (unsigned long long)stats.dirs, total,
           (unsigned long long)stats.chunks, (unsigned long long)stats.zero_chunks,
           (unsigned long long)stats.new_chunks, (unsigned long long)stats.reused_chunks);
    printf("stored %s new in %.2f s (%.0f MB/s)\n", stored, stats.seconds, mbps);
  }
  chunkstore_manifest_free(m);
  return CLI_EXIT_OK;
}

/* cli.h - shared pieces of the seedmesh command: subcommand entry points,
 * error reporting, size parsing, progress display and JSON output. */
#ifndef SM_CLI_H
#define SM_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes (documented in docs/cli.md). */
enum cli_exit {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILURE = 1,    /* the operation failed; the message says why */
  CLI_EXIT_USAGE = 2,      /* bad flags or arguments */
  CLI_EXIT_MISMATCH = 3,   /* verification found differences */
};

int cli_cmd_keygen(int argc, char **argv);
int cli_cmd_snapshot(int argc, char **argv);
int cli_cmd_manifest(int argc, char **argv);
int cli_cmd_materialize(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_node(int argc, char **argv);
int cli_cmd_fetch(int argc, char **argv);
int cli_cmd_status(int argc, char **argv);
int cli_cmd_rate(int argc, char **argv);
int cli_cmd_join(int argc, char **argv);
int cli_cmd_sst(int argc, char **argv);

struct cli_progress;
struct engine_snapshot;
struct sm_identity;
struct chunkstore_manifest;
struct chunkstore_snapshot_stats;
/* Chunks an engine snapshot (its directory, facts and coordinates) into
 * store under a manifest signed with key (cli/cmd_snapshot.c). bad_path
 * (CHUNKSTORE_PATH_MAX+1) names the file at fault on SM_EPATH/SM_ESTATE. */
int cli_snapshot_store(const struct engine_snapshot *snap, const char *store,
                       const struct sm_identity *key, uint32_t chunk_size, int level, int threads,
                       struct cli_progress *progress, struct chunkstore_manifest **out_m,
                       struct chunkstore_snapshot_stats *stats, char *bad_path);

/* Prints "seedmesh <cmd>: <message>" on stderr as one line; returns code. */
int cli_fail(int code, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error for getopt_long's '?' (call it right after getopt_long returned
 * it): names the option, and for one that came from the config file its
 * FILE:LINE and section. Returns CLI_EXIT_USAGE. */
int cli_fail_option(const char *cmd, char **argv);

/* Parses "4194304", "4M", "4MiB", "1G" ... into bytes; -1 on bad input. */
int cli_parse_size(const char *text, uint64_t *out);

/* Resolves a manifest reference: a store directory (its latest manifest), a
 * directory STORE/manifests/<id>, or the root file inside it. Writes the
 * store path and the hex id ("" for latest). */
int cli_resolve_manifest(const char *ref, char *store, size_t store_size, char *id,
                         size_t id_size);

/* A progress line on stderr, redrawn in place on a terminal, one line every
 * few seconds otherwise: bar, percent, bytes, rate, ETA and (when peers >= 0)
 * the peers connected. */
struct cli_progress {
  const char *label;
  int peers;                     /* -1: not shown (init sets -1) */
  double started;
  double last_print;
  int is_tty;
  int quiet;
  int printed_final;
  int has_network;               /* a transfer's FETCH stage was seen */
  uint64_t network;              /* its bytes on the network (zstd-compressed) */
};
void cli_progress_init(struct cli_progress *p, const char *label, int quiet);
void cli_progress_update(void *arg, uint64_t done, uint64_t total);
void cli_progress_done(struct cli_progress *p);
/* Updates p from a transfer of a status answer (bytes_have, bytes_total,
 * peers_connected). */
struct msgpack_object;
void cli_progress_transfer(struct cli_progress *p, const struct msgpack_object *transfer);

struct sm_identity;
/* Loads a key file, printing a one-line error with the fix on failure;
 * returns 0 or CLI_EXIT_FAILURE. */
int cli_key_load(const char *cmd, const char *path, struct sm_identity *id);
/* Prints the one-line error for a failed manifest load; returns
 * CLI_EXIT_FAILURE. */
int cli_manifest_error(const char *cmd, int rc, const char *ref);

/* Writes s as a JSON string literal (with quotes). */
void cli_json_string(FILE *out, const char *s);
double cli_now(void);

/* ------------------------------------------------------------ config file
 * An INI file like my.cnf (docs/operations.md): [common] and one section per
 * command, `name = value` with the long flag names ('_' reads as '-'), a
 * bare `name` for a switch (`name = false|no|off` leaves it out), '#' or ';'
 * comments. Bounded: CLI_CONFIG_FILE_MAX bytes, CLI_CONFIG_LINE_MAX per line,
 * CLI_CONFIG_ENTRIES_MAX settings. Password values are refused: secrets come
 * from *-file options. */
#define CLI_CONFIG_FILE_MAX (64u * 1024)
#define CLI_CONFIG_LINE_MAX 1024
#define CLI_CONFIG_ENTRIES_MAX 256
#define CLI_CONFIG_NAME_MAX 63
#define CLI_CONFIG_SYSTEM_PATH "/etc/seedmesh/seedmesh.cnf"

struct cli_config_entry {
  char section[CLI_CONFIG_NAME_MAX + 1];
  char key[CLI_CONFIG_NAME_MAX + 1];
  char *value;                   /* into cli_config.values; NULL for a switch */
  unsigned line;
  unsigned section_line;         /* where its [section] header is */
};

struct cli_config {
  char path[4096];               /* set by cli_config_load */
  size_t n;
  struct cli_config_entry entries[CLI_CONFIG_ENTRIES_MAX];
  size_t values_used;
  char values[CLI_CONFIG_FILE_MAX + 1];
};

/* A zeroed config (caller frees with cli_config_free); NULL when out of
 * memory. */
struct cli_config *cli_config_new(void);
void cli_config_free(struct cli_config *cfg);
/* Parses text (untrusted, len bytes, need not be NUL-terminated) into cfg.
 * Returns 0, SM_ETOOBIG or SM_EMALFORMED with "line N: <what is wrong>" in
 * err. */
int cli_config_parse(struct cli_config *cfg, const char *text, size_t len, char *err,
                     size_t err_size);
/* Reads and parses path; refuses files others may write. On failure err
 * holds one line, "PATH:LINE: <what is wrong>" for a bad line. */
int cli_config_load(struct cli_config *cfg, const char *path, char *err, size_t err_size);
/* SM_EMALFORMED ("PATH:N: ...") when a section is neither "common" nor one
 * of the space-separated names in sections. */
int cli_config_check_sections(const struct cli_config *cfg, const char *sections, char *err,
                              size_t err_size);
/* Builds "--name=value" / "--name" arguments: the [common] settings whose
 * name is in the space-separated common_keys, then every setting of
 * [command]. *out_args is new (free with cli_config_args_free). */
int cli_config_argv(const struct cli_config *cfg, const char *command, const char *common_keys,
                    char ***out_args, int *out_n);
void cli_config_args_free(char **args, int n);
/* For an argument made by cli_config_argv (same pointer, not yet freed):
 * writes "PATH:LINE" into out and returns its entry; NULL otherwise. */
const struct cli_config_entry *cli_config_origin(const char *arg, char *out, size_t out_size);
/* True when a flag of this name would carry a secret (a password, not a
 * *-file naming one). */
int cli_config_key_is_secret(const char *key);
/* The config file to read: given (--config), else $SEEDMESH_CONFIG, else the
 * first that exists of $XDG_CONFIG_HOME/seedmesh/seedmesh.cnf (or
 * ~/.config/seedmesh/seedmesh.cnf) and CLI_CONFIG_SYSTEM_PATH.
 * *out_required says whether a missing file is an error (given or from the
 * environment). SM_ENOTFOUND when no file is found on the search path. */
int cli_config_find(const char *given, char *out, size_t out_size, int *out_required);

/* ------------------------------------------------- control socket client */
#include <msgpack.h>
struct node_control_request;
/* The control socket to use: given, else $SEEDMESH_CONTROL, else NULL. */
const char *cli_control_path(const char *given);
/* Connects; returns an fd or -1 with a one-line reason in err. */
int cli_control_connect(const char *path, char *err, size_t err_size);
/* Sends a request and reads the answer into *out (strings point into
 * *out_buf, which the caller frees with sm_free). Returns 0 when the node
 * answered ok, -1 with the reason in err otherwise. */
int cli_control_call(int fd, const struct node_control_request *req, msgpack_zone *zone,
                     msgpack_object *out, uint8_t **out_buf, char *err, size_t err_size);
/* Prints any msgpack object as JSON. */
void cli_json_object(FILE *out, const msgpack_object *o);
uint64_t cli_mp_u64(const msgpack_object *map, const char *key);
/* The transfer fetching into target in a status answer, or NULL. */
const msgpack_object *cli_status_transfer(const msgpack_object *status, const char *target);
void cli_mp_str(const msgpack_object *map, const char *key, char *out, size_t out_size);

/* ------------------------------------------ the seedmesh SST method (Galera)
 * Texts that cross the network between the joiner's and the donor's
 * `seedmesh sst` (cli/sst_line.c, docs/galera.md). Untrusted, bounded to
 * CLI_SST_LINE_MAX bytes, parsed strictly: SM_EMALFORMED otherwise. */
#define CLI_SST_LINE_MAX 512
#define CLI_SST_NONCE_HEX 32
#define CLI_SST_HOST_MAX 256
#define CLI_SST_DEFAULT_PORT 4444

struct cli_sst_address {
  char host[CLI_SST_HOST_MAX];
  unsigned port;
  char nonce[CLI_SST_NONCE_HEX + 1]; /* "" for a bare HOST[:PORT] */
};
/* "HOST[:PORT]" or "[V6][:PORT]" (what mariadbd gives the joiner). */
int cli_sst_hostport_parse(const char *text, size_t len, unsigned default_port,
                           struct cli_sst_address *out);
/* The joiner's address as the donor sees it: "HOST:PORT/seedmesh/NONCE"
 * (32 lowercase hex digits). */
int cli_sst_address_parse(const char *text, size_t len, struct cli_sst_address *out);

enum cli_sst_kind { CLI_SST_MANIFEST = 1, CLI_SST_BYPASS, CLI_SST_ERROR };
/* The donor's answer, one line:
 *   SEEDMESH-SST 1 <nonce> manifest <64 hex>
 *   SEEDMESH-SST 1 <nonce> bypass <uuid>:<seqno> <domain_id>
 *   SEEDMESH-SST 1 <nonce> error <printable text> */
struct cli_sst_answer {
  enum cli_sst_kind kind;
  char nonce[CLI_SST_NONCE_HEX + 1];
  char manifest[65];
  char uuid[37];
  int64_t seqno;
  uint32_t domain;
  char text[400];
};
/* buf holds exactly one line, newline included. */
int cli_sst_answer_parse(const uint8_t *buf, size_t len, struct cli_sst_answer *out);
/* Formats a into out (size cap); the length written, or SM_ETOOBIG. */
int cli_sst_answer_format(const struct cli_sst_answer *a, char *out, size_t cap);
/* Joiner (cli/sst_fs.c): moves every entry of datadir but the running
 * server's own files (gcache, grastate, pid, log, socket) into aside (created
 * 0700), then the prepared tree's data files into datadir. -1 with err. */
int cli_sst_swap_datadir(const char *datadir, const char *tree, const char *aside, char *err,
                         size_t err_size);
/* rm -rf of a directory seedmesh itself created. */
int cli_sst_remove_tree(const char *dir);

#endif

/* util.c - error lines, size parsing, manifest references, progress and JSON
 * helpers shared by the subcommands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>

#include "common/common.h"

int cli_fail(int code, const char *cmd, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "seedmesh %s: %s\n", cmd, msg);
  return code;
}

int cli_parse_size(const char *text, uint64_t *out) {
  char *end = NULL;
  if (text == NULL || *text == '\0' || *text == '-') {
    return -1;
  }
  unsigned long long v = strtoull(text, &end, 10);
  uint64_t mult = 1;
  if (*end != '\0') {
    static const char *const suffixes[] = {"K", "M", "G", "T"};
    int found = 0;
    for (size_t i = 0; i < SM_ARRAY_LEN(suffixes); i++) {
      mult *= 1024;
      if (strncasecmp(end, suffixes[i], 1) == 0 &&
          (end[1] == '\0' || strcasecmp(end + 1, "iB") == 0 || strcasecmp(end + 1, "B") == 0)) {
        found = 1;
        break;
      }
    }
    if (!found) {
      return -1;
    }
  }
  if (end == text || (v != 0 && mult > UINT64_MAX / v)) {
    return -1;
  }
  *out = (uint64_t)v * mult;
  return 0;
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_resolve_manifest(const char *ref, char *store, size_t store_size, char *id,
                         size_t id_size) {
  char path[4200];
  char dir[4096];
  snprintf(path, sizeof(path), "%s/latest", ref);
  if (is_file(path)) {
    snprintf(store, store_size, "%s", ref);
    id[0] = '\0';
    return 0;
  }
  snprintf(dir, sizeof(dir), "%s", ref);
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/') {
    dir[--len] = '\0';
  }
  if (len > 5 && strcmp(dir + len - 5, "/root") == 0 && is_file(dir)) {
    dir[len - 5] = '\0';
  }
  snprintf(path, sizeof(path), "%s/root", dir);
  const char *slash = strrchr(dir, '/');
  if (!is_file(path) || slash == NULL || strlen(slash + 1) != 64) {
    return -1;
  }
  snprintf(id, id_size, "%s", slash + 1);
  snprintf(store, store_size, "%.*s/..", (int)(slash - dir), dir);
  return 0;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *label, int quiet) {
  p->label = label;
  p->peers = -1;
  p->started = cli_now();
  p->is_tty = isatty(STDERR_FILENO);
  /* Off a terminal, the first line comes after 5 s: quick runs print none. */
  p->last_print = p->is_tty ? 0 : p->started;
  p->quiet = quiet;
  p->printed_final = 0;
  p->has_network = 0;
  p->network = 0;
}

void cli_progress_update(void *arg, uint64_t done, uint64_t total) {
  struct cli_progress *p = arg;
  double now = cli_now();
  int final = done >= total && (p->is_tty || now - p->started >= 5.0);
  if (p->quiet || (!final && !p->is_tty && now - p->last_print < 5.0) ||
      (!final && p->is_tty && now - p->last_print < 0.2) || p->printed_final) {
    return;
  }
  p->printed_final = final;
  p->last_print = now;
  double elapsed = now - p->started;
  double rate = elapsed > 0 ? (double)done / elapsed : 0;
  double pct = total ? 100.0 * (double)done / (double)total : 100.0;
  double eta = rate > 0 ? (double)(total - done) / rate : 0;
  char d[32], t[32], r[32];
  sm_format_bytes(done, d, sizeof(d));
  sm_format_bytes(total, t, sizeof(t));
  sm_format_bytes((uint64_t)rate, r, sizeof(r));
  int width = 30;
  int filled = (int)(pct / 100.0 * width);
  char bar[64];
  for (int i = 0; i < width; i++) {
    bar[i] = i < filled ? '#' : '.';
  }
  bar[width] = '\0';
  char peers[32] = "";
  if (p->peers >= 0) {
    snprintf(peers, sizeof(peers), "  %d peer%s", p->peers, p->peers == 1 ? "" : "s");
  }
  char eta_text[32] = "--"; /* unknown until something arrived */
  if (rate > 0 || done >= total) {
    snprintf(eta_text, sizeof(eta_text), "%.0fs", eta);
  }
  /* The caps (--max-download/--max-upload) count network bytes; chunks
   * travel compressed, so the data rate alone can read as twice a cap. */
  char net[48] = "";
  if (p->has_network && p->network > 0 && elapsed > 0) { /* counted once a second */
    char nr[32];
    sm_format_bytes((uint64_t)((double)p->network / elapsed), nr, sizeof(nr));
    snprintf(net, sizeof(net), " (net %s/s)", nr);
  }
  fprintf(stderr, "%s%s [%s] %5.1f%% %s / %s  %s/s%s  ETA %s%s%s", p->is_tty ? "\r" : "",
          p->label, bar, pct, d, t, r, net, eta_text, peers, p->is_tty ? "\033[K" : "\n");
  fflush(stderr);
}

void cli_progress_done(struct cli_progress *p) {
  if (!p->quiet && p->is_tty && p->last_print > 0) {
    fputc('\n', stderr);
  }
}

void cli_progress_transfer(struct cli_progress *p, const struct msgpack_object *transfer) {
  uint64_t total = cli_mp_u64(transfer, "bytes_total");
  p->peers = (int)SM_MIN(cli_mp_u64(transfer, "peers_connected"), 100000);
  const msgpack_object *stages = sm_mp_map_get(transfer, "stages");
  for (uint32_t i = 0; stages && stages->type == MSGPACK_OBJECT_ARRAY && i < stages->via.array.size; i++) {
    char name[16];
    cli_mp_str(&stages->via.array.ptr[i], "stage", name, sizeof(name));
    if (strcmp(name, "FETCH") == 0) {
      p->network = cli_mp_u64(&stages->via.array.ptr[i], "network");
      p->has_network = 1;
    }
  }
  if (total > 0) {
    cli_progress_update(p, cli_mp_u64(transfer, "bytes_have"), total);
  }
}

void cli_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      fprintf(out, "\\%c", *c);
    } else if (*c < 0x20) {
      fprintf(out, "\\u%04x", *c);
    } else {
      fputc(*c, out);
    }
  }
  fputc('"', out);
}

int cli_key_load(const char *cmd, const char *path, struct sm_identity *id) {
  int rc = sm_identity_load(path, id);
  if (rc == SM_EINVAL) {
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "key file %s is readable by group or others; run: chmod 600 %s", path, path);
  }
  if (rc == SM_EMALFORMED) {
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "%s is not a seedmesh key file; create one with seedmesh keygen", path);
  }
  if (rc < 0) {
    return cli_fail(CLI_EXIT_FAILURE, cmd, "cannot read key %s: %s", path, sm_strerror(rc));
  }
  return 0;
}

int cli_manifest_error(const char *cmd, int rc, const char *ref) {
  switch (rc) {
  case SM_ENOTFOUND:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "no manifest at %s: give a store written by seedmesh snapshot", ref);
  case SM_EBADSIG:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest in %s fails its signature check: it was altered; refusing it",
                    ref);
  case SM_EUNTRUSTED:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest in %s is signed by a key missing from the trust file; add the "
                    "donor's key or use another store", ref);
  case SM_EHASH:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest files in %s are damaged (a part does not match its id); "
                    "take the snapshot again", ref);
  case SM_EPATH:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest in %s lists an unsafe path (absolute, '..', duplicate, or "
                    "below a non-directory); refusing it, nothing was written", ref);
  case SM_EVERSION:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest in %s has a format version this seedmesh does not know; "
                    "upgrade seedmesh", ref);
  case SM_EMALFORMED:
    return cli_fail(CLI_EXIT_FAILURE, cmd,
                    "the manifest in %s is malformed (a field is out of range or sizes disagree "
                    "with chunk lists); refusing it, nothing was written", ref);
  default:
    return cli_fail(CLI_EXIT_FAILURE, cmd, "cannot load the manifest in %s: %s", ref,
                    sm_strerror(rc));
  }
}

int cli_fail_option(const char *cmd, char **argv) {
  const char *arg = optind > 0 ? argv[optind - 1] : NULL;
  char where[4200];
  const struct cli_config_entry *e = cli_config_origin(arg, where, sizeof(where));
  int has_value = arg != NULL && strchr(arg, '=') != NULL;
  if (e != NULL) {
    if (optopt == 0) {
      return cli_fail(CLI_EXIT_USAGE, cmd, "%s: [%s] has no setting '%s' (the names are the long "
                      "flags of seedmesh %s --help)", where, e->section, e->key, cmd);
    }
    return cli_fail(CLI_EXIT_USAGE, cmd, "%s: setting '%s' %s", where, e->key,
                    has_value ? "takes no value (write the name alone, or 'yes'/'no')"
                              : "needs a value ('name = value')");
  }
  if (arg == NULL || strncmp(arg, "--", 2) != 0) {
    return cli_fail(CLI_EXIT_USAGE, cmd, "option '-%c' is unknown or needs a value (see seedmesh "
                    "%s --help)", optopt ? optopt : '?', cmd);
  }
  if (optopt == 0) {
    return cli_fail(CLI_EXIT_USAGE, cmd, "unknown option '%.*s' (see seedmesh %s --help)",
                    (int)strcspn(arg, "="), arg, cmd);
  }
  return cli_fail(CLI_EXIT_USAGE, cmd, "option '%.*s' %s (see seedmesh %s --help)",
                  (int)strcspn(arg, "="), arg, has_value ? "takes no value" : "needs a value", cmd);
}

/* config.c - the seedmesh configuration file: an INI file like my.cnf, with
 * a [common] section and one section per command, holding the long flags
 * (`key = value`, or a bare `key` for a switch). The parser is bounded and
 * pure; cli_config_argv turns a section into "--key=value" arguments that go
 * before the user's own, so the command line always wins. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

static int line_error(char *err, size_t err_size, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int line_error(char *err, size_t err_size, unsigned line, const char *fmt, ...) {
  int off = snprintf(err, err_size, "line %u: ", line);
  va_list ap;
  va_start(ap, fmt);
  if (off >= 0 && (size_t)off < err_size) {
    vsnprintf(err + off, err_size - (size_t)off, fmt, ap);
  }
  va_end(ap);
  return SM_EMALFORMED;
}

struct cli_config *cli_config_new(void) {
  return sm_calloc(1, sizeof(struct cli_config));
}

void cli_config_free(struct cli_config *cfg) {
  sm_free(cfg);
}

static int is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         (c >= 'A' && c <= 'Z');
}

static const char *trim(const char *s, const char *end, const char **out_end) {
  while (s < end && (*s == ' ' || *s == '\t')) {
    s++;
  }
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
    end--;
  }
  *out_end = end;
  return s;
}

/* Copies a name, lower case with '_' read as '-' (as my.cnf does). */
static int copy_name(const char *s, const char *end, char *out) {
  size_t len = (size_t)(end - s);
  if (len == 0 || len > CLI_CONFIG_NAME_MAX) {
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    if (!is_name_char(s[i])) {
      return -1;
    }
    char c = s[i] == '_' ? '-' : s[i];
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  out[len] = '\0';
  return 0;
}

/* A secret must come from a file: any key naming a password, except the
 * *-file options that point at one. */
int cli_config_key_is_secret(const char *key) {
  size_t len = strlen(key);
  if (strstr(key, "password") == NULL && strstr(key, "passwd") == NULL &&
      strstr(key, "secret") == NULL) {
    return 0;
  }
  return !(len > 5 && strcmp(key + len - 5, "-file") == 0);
}

/* Value words that turn a switch on or off (never meaningful as values of
 * the flags that take one). */
static int bool_word(const char *v) {
  static const char *const on[] = {"true", "yes", "on"};
  static const char *const off[] = {"false", "no", "off"};
  for (size_t i = 0; i < SM_ARRAY_LEN(on); i++) {
    if (strcasecmp(v, on[i]) == 0) {
      return 1;
    }
    if (strcasecmp(v, off[i]) == 0) {
      return 0;
    }
  }
  return -1;
}

static int parse_entry(struct cli_config *cfg, const char *s, const char *end, unsigned line,
                       const char *section, unsigned section_line, char *err,
                       size_t err_size) {
  const char *eq = memchr(s, '=', (size_t)(end - s));
  const char *kend = NULL;
  const char *k = trim(s, eq ? eq : end, &kend);
  if (section[0] == '\0') {
    return line_error(err, err_size, line,
                      "'%.*s' comes before any [section]: start with [common] or [<command>]",
                      (int)SM_MIN(kend - k, 64), k);
  }
  if (cfg->n == CLI_CONFIG_ENTRIES_MAX) {
    return line_error(err, err_size, line, "more than %d settings", CLI_CONFIG_ENTRIES_MAX);
  }
  struct cli_config_entry *e = &cfg->entries[cfg->n];
  memset(e, 0, sizeof(*e));
  if (copy_name(k, kend, e->key) < 0) {
    return line_error(err, err_size, line,
                      "expected 'name = value' with a flag name of letters, digits and '-' "
                      "(at most %d)", CLI_CONFIG_NAME_MAX);
  }
  if (strcmp(e->key, "config") == 0 || strcmp(e->key, "no-config") == 0) {
    return line_error(err, err_size, line, "'%s' cannot be set inside a config file", e->key);
  }
  if (cli_config_key_is_secret(e->key)) {
    return line_error(err, err_size, line,
                      "'%s': secrets never go in the config file; write the secret to a file "
                      "(mode 0600) and set %s-file = PATH instead", e->key, e->key);
  }
  snprintf(e->section, sizeof(e->section), "%s", section);
  e->line = line;
  e->section_line = section_line;
  e->value = NULL;
  if (eq != NULL) {
    const char *vend = NULL;
    const char *v = trim(eq + 1, end, &vend);
    if (v < vend && (*v == '"' || *v == '\'')) {
      char q = *v;
      const char *close = memchr(v + 1, q, (size_t)(vend - v - 1));
      const char *rest_end = NULL;
      const char *rest = close ? trim(close + 1, vend, &rest_end) : NULL;
      if (close == NULL || (rest < rest_end && *rest != '#' && *rest != ';')) {
        return line_error(err, err_size, line, "unterminated quote in the value of '%s'",
                          e->key);
      }
      v++;
      vend = close;
    } else {
      /* " #" or " ;" after a value starts a comment, as in my.cnf. */
      for (const char *p = v; p < vend; p++) {
        if ((*p == '#' || *p == ';') && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
          v = trim(v, p, &vend);
          break;
        }
      }
    }
    size_t vlen = (size_t)(vend - v);
    for (size_t i = 0; i < vlen; i++) {
      if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
        return line_error(err, err_size, line, "the value of '%s' holds a control character",
                          e->key);
      }
    }
    if (vlen == 0) {
      return line_error(err, err_size, line,
                        "'%s =' has no value: give one, or write '%s' alone for a switch",
                        e->key, e->key);
    }
    if (cfg->values_used + vlen + 1 > sizeof(cfg->values)) {
      return line_error(err, err_size, line, "the values exceed %zu bytes in all",
                        sizeof(cfg->values));
    }
    e->value = cfg->values + cfg->values_used;
    memcpy(e->value, v, vlen);
    e->value[vlen] = '\0';
    cfg->values_used += vlen + 1;
  }
  cfg->n++;
  return 0;
}

int cli_config_parse(struct cli_config *cfg, const char *text, size_t len, char *err,
                     size_t err_size) {
  char section[CLI_CONFIG_NAME_MAX + 1] = "";
  unsigned section_line = 0;
  const char *p = text;
  const char *end = text + len;
  unsigned line = 0;
  cfg->n = 0;
  cfg->values_used = 0;
  if (len > CLI_CONFIG_FILE_MAX) {
    snprintf(err, err_size, "larger than %u bytes", CLI_CONFIG_FILE_MAX);
    return SM_ETOOBIG;
  }
  if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
    p += 3; /* a UTF-8 byte order mark */
  }
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *lend = nl ? nl : end;
    line++;
    if (lend - p > CLI_CONFIG_LINE_MAX) {
      return line_error(err, err_size, line, "longer than %d characters", CLI_CONFIG_LINE_MAX);
    }
    if (memchr(p, '\0', (size_t)(lend - p)) != NULL) {
      return line_error(err, err_size, line, "holds a NUL byte: not a text file");
    }
    if (lend > p && lend[-1] == '\r') {
      lend--;
    }
    const char *tend = NULL;
    const char *s = trim(p, lend, &tend);
    p = nl ? nl + 1 : end;
    if (s == tend || *s == '#' || *s == ';') {
      continue;
    }
    if (*s == '!') {
      return line_error(err, err_size, line,
                        "!include and other directives are not supported: use one file");
    }
    if (*s == '[') {
      const char *nend = NULL;
      if (tend[-1] != ']' || tend - s < 3) {
        return line_error(err, err_size, line, "a section header is '[name]'");
      }
      const char *n = trim(s + 1, tend - 1, &nend);
      if (copy_name(n, nend, section) < 0) {
        return line_error(err, err_size, line,
                          "section names are letters, digits and '-' (e.g. [common], [node])");
      }
      section_line = line;
      continue;
    }
    int rc = parse_entry(cfg, s, tend, line, section, section_line, err, err_size);
    if (rc < 0) {
      return rc;
    }
  }
  return 0;
}

/* "line N: what" becomes "PATH:N: what", like a compiler's messages. */
static void with_path(char *err, size_t err_size, const char *path, const char *why) {
  unsigned line = 0;
  const char *colon = strchr(why, ':');
  if (sscanf(why, "line %u: ", &line) == 1 && colon != NULL) {
    snprintf(err, err_size, "%s:%u: %s", path, line, colon + 2);
  } else {
    snprintf(err, err_size, "%s: %s", path, why);
  }
}

int cli_config_load(struct cli_config *cfg, const char *path, char *err, size_t err_size) {
  struct stat st;
  uint8_t *buf = NULL;
  size_t len = 0;
  char why[300] = "";
  int rc = 0;
  if (stat(path, &st) != 0) {
    snprintf(err, err_size, "cannot read config file %s: %s", path, strerror(errno));
    return sm_errno();
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, err_size, "config file %s is not a regular file", path);
    return SM_EINVAL;
  }
  /* Settings such as join's --start-command run programs: a file others may
   * change would let them run code as us. */
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != geteuid() && st.st_uid != 0)) {
    snprintf(err, err_size,
             "config file %s may be changed by other users; run: chmod go-w %s (and own it "
             "yourself or as root)", path, path);
    return SM_EINVAL;
  }
  rc = sm_fs_read_file(path, CLI_CONFIG_FILE_MAX, &buf, &len);
  if (rc == SM_ETOOBIG) {
    snprintf(err, err_size, "config file %s is larger than %u bytes", path, CLI_CONFIG_FILE_MAX);
    goto out;
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot read config file %s: %s", path, sm_strerror(rc));
    goto out;
  }
  rc = cli_config_parse(cfg, (const char *)buf, len, why, sizeof(why));
  if (rc < 0) {
    with_path(err, err_size, path, why);
  }
  snprintf(cfg->path, sizeof(cfg->path), "%s", path);
out:
  sm_free(buf);
  return rc;
}

static int has_word(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; p != NULL && *p != '\0';) {
    const char *sp = strchr(p, ' ');
    size_t l = sp ? (size_t)(sp - p) : strlen(p);
    if (l == wl && strncmp(p, word, l) == 0) {
      return 1;
    }
    p = sp ? sp + 1 : NULL;
  }
  return 0;
}

int cli_config_check_sections(const struct cli_config *cfg, const char *sections, char *err,
                              size_t err_size) {
  for (size_t i = 0; i < cfg->n; i++) {
    const struct cli_config_entry *e = &cfg->entries[i];
    if (strcmp(e->section, "common") != 0 && !has_word(sections, e->section)) {
      char why[600];
      line_error(why, sizeof(why), e->section_line,
                 "unknown section [%s]: use [common] or a command name (%s)", e->section,
                 sections);
      with_path(err, err_size, cfg->path[0] ? cfg->path : "config", why);
      return SM_EMALFORMED;
    }
  }
  return 0;
}

/* Which entry each argument built by cli_config_argv came from, so that an
 * option the command rejects can be reported at its line in the file. */
static struct {
  const char *arg;
  const struct cli_config *cfg;
  const struct cli_config_entry *entry;
} origins[CLI_CONFIG_ENTRIES_MAX];
static size_t origins_n;

const struct cli_config_entry *cli_config_origin(const char *arg, char *out, size_t out_size) {
  for (size_t i = 0; arg != NULL && i < origins_n; i++) {
    if (origins[i].arg == arg) {
      const struct cli_config *cfg = origins[i].cfg;
      snprintf(out, out_size, "%s:%u", cfg->path[0] ? cfg->path : "config",
               origins[i].entry->line);
      return origins[i].entry;
    }
  }
  return NULL;
}

static int push_arg(char **out, int *n, const struct cli_config *cfg,
                    const struct cli_config_entry *e) {
  size_t need = 2 + strlen(e->key) + (e->value ? 1 + strlen(e->value) : 0) + 1;
  int b = e->value ? bool_word(e->value) : 1;
  if (b == 0) {
    return 0; /* a switch turned off: leave it out */
  }
  char *a = sm_malloc(need);
  if (a == NULL) {
    return SM_ENOMEM;
  }
  if (e->value != NULL && b < 0) {
    snprintf(a, need, "--%s=%s", e->key, e->value);
  } else {
    snprintf(a, need, "--%s", e->key);
  }
  out[(*n)++] = a;
  if (origins_n < CLI_CONFIG_ENTRIES_MAX) {
    origins[origins_n].arg = a;
    origins[origins_n].cfg = cfg;
    origins[origins_n].entry = e;
    origins_n++;
  }
  return 0;
}

int cli_config_argv(const struct cli_config *cfg, const char *command, const char *common_keys,
                    char ***out_args, int *out_n) {
  char **args = sm_calloc(cfg->n + 1, sizeof(char *));
  int n = 0;
  int rc = 0;
  if (args == NULL) {
    return SM_ENOMEM;
  }
  /* [common] first, then the command's own section: later wins in getopt. */
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    for (size_t i = 0; i < cfg->n && rc == 0; i++) {
      const struct cli_config_entry *e = &cfg->entries[i];
      int common = strcmp(e->section, "common") == 0;
      /* Each setting is taken at most once (the array holds cfg->n). */
      int take = pass == 0 ? common && has_word(common_keys, e->key)
                           : !common && strcmp(e->section, command) == 0;
      if (take) {
        rc = push_arg(args, &n, cfg, e);
      }
    }
  }
  if (rc < 0) {
    cli_config_args_free(args, n);
    return rc;
  }
  *out_args = args;
  *out_n = n;
  return 0;
}

void cli_config_args_free(char **args, int n) {
  if (args == NULL) {
    return;
  }
  for (int i = 0; i < n; i++) {
    sm_free(args[i]);
  }
  sm_free(args);
  origins_n = 0;
}

int cli_config_find(const char *given, char *out, size_t out_size, int *out_required) {
  const char *env = getenv("SEEDMESH_CONFIG");
  const char *home = getenv("HOME");
  const char *xdg = getenv("XDG_CONFIG_HOME");
  *out_required = 1;
  if (given != NULL) {
    return (size_t)snprintf(out, out_size, "%s", given) < out_size ? 0 : SM_ETOOBIG;
  }
  if (env != NULL && env[0] != '\0') {
    return (size_t)snprintf(out, out_size, "%s", env) < out_size ? 0 : SM_ETOOBIG;
  }
  *out_required = 0;
  char path[4096];
  struct stat st;
  if (xdg != NULL && xdg[0] == '/') {
    snprintf(path, sizeof(path), "%.4000s/seedmesh/seedmesh.cnf", xdg);
  } else if (home != NULL && home[0] == '/') {
    snprintf(path, sizeof(path), "%.4000s/.config/seedmesh/seedmesh.cnf", home);
  } else {
    path[0] = '\0';
  }
  if (path[0] != '\0' && stat(path, &st) == 0) {
    return (size_t)snprintf(out, out_size, "%s", path) < out_size ? 0 : SM_ETOOBIG;
  }
  if (stat(CLI_CONFIG_SYSTEM_PATH, &st) == 0) {
    return (size_t)snprintf(out, out_size, "%s", CLI_CONFIG_SYSTEM_PATH) < out_size ? 0
                                                                                     : SM_ETOOBIG;
  }
  return SM_ENOTFOUND;
}

/* mysql_parse.c - bounded parsers of what a MySQL 8 server answers: its
 * version string and `mysqld --version` line, GTID sets, and a row of
 * performance_schema.clone_status. Every parser accepts only the documented
 * shapes and returns SM_EMALFORMED otherwise; none reads past its input. */
#include "engine/engine.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"

#define VERSION_MAX 127

/* Reads 1..9 decimal digits at *p (no leading zero unless "0"). */
static int read_small(const char **p, unsigned *out) {
  const char *s = *p;
  unsigned v = 0;
  size_t n = 0;
  while (isdigit((unsigned char)s[n]) && n < 9) {
    v = v * 10 + (unsigned)(s[n] - '0');
    n++;
  }
  if (n == 0 || isdigit((unsigned char)s[n]) || (n > 1 && s[0] == '0')) {
    return SM_EMALFORMED;
  }
  *out = v;
  *p = s + n;
  return 0;
}

int engine_mysql_version_parse(const char *s, struct engine_mysql_version *out) {
  if (strnlen(s, VERSION_MAX + 1) > VERSION_MAX) {
    return SM_EMALFORMED;
  }
  const char *p = s;
  if (read_small(&p, &out->major) < 0 || *p++ != '.' || read_small(&p, &out->minor) < 0 ||
      *p++ != '.' || read_small(&p, &out->patch) < 0) {
    return SM_EMALFORMED;
  }
  if (*p != '\0' && *p != '-') {
    return SM_EMALFORMED;
  }
  for (const char *q = p; *q != '\0'; q++) {
    if (!isprint((unsigned char)*q)) {
      return SM_EMALFORMED;
    }
  }
  if (strstr(p, "MariaDB") != NULL) {
    return SM_EINCOMPAT;
  }
  return 0;
}

int engine_mysql_version_cmp(const struct engine_mysql_version *a, unsigned major,
                             unsigned minor, unsigned patch) {
  if (a->major != major) {
    return a->major < major ? -1 : 1;
  }
  if (a->minor != minor) {
    return a->minor < minor ? -1 : 1;
  }
  if (a->patch != patch) {
    return a->patch < patch ? -1 : 1;
  }
  return 0;
}

/* Copies the word at *p (up to a space) into out (cap); SM_EMALFORMED if
 * empty or too long. */
static int read_word(const char **p, char *out, size_t cap) {
  size_t n = 0;
  const char *s = *p;
  while (s[n] != '\0' && s[n] != ' ' && s[n] != '\n') {
    if (n + 1 >= cap || !isprint((unsigned char)s[n])) {
      return SM_EMALFORMED;
    }
    out[n] = s[n];
    n++;
  }
  if (n == 0) {
    return SM_EMALFORMED;
  }
  out[n] = '\0';
  *p = s + n;
  return 0;
}

int engine_mysql_parse_version_line(const char *line, char *version, char *os, char *machine) {
  const char *p = strstr(line, " Ver ");
  if (p == NULL || strnlen(line, 1024) >= 1024) {
    return SM_EMALFORMED;
  }
  p += 5;
  if (read_word(&p, version, 128) < 0) {
    return SM_EMALFORMED;
  }
  struct engine_mysql_version v;
  int rc = engine_mysql_version_parse(version, &v);
  if (rc < 0) {
    return rc;
  }
  if (strncmp(p, " for ", 5) != 0) {
    return SM_EMALFORMED;
  }
  p += 5;
  if (read_word(&p, os, 64) < 0 || strncmp(p, " on ", 4) != 0) {
    return SM_EMALFORMED;
  }
  p += 4;
  return read_word(&p, machine, 64);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return 1;
  }
  c = (char)tolower((unsigned char)c);
  return c >= 'a' && c <= 'f';
}

/* 8-4-4-4-12 hex digits at s (len bytes left). */
static int is_uuid(const char *s, size_t len) {
  static const size_t dash[] = {8, 13, 18, 23};
  if (len < 36) {
    return 0;
  }
  for (size_t i = 0, d = 0; i < 36; i++) {
    if (d < 4 && i == dash[d]) {
      if (s[i] != '-') {
        return 0;
      }
      d++;
    } else if (!hexval(s[i])) {
      return 0;
    }
  }
  return 1;
}

/* A positive decimal below 2^63 at s[*i..len). */
static int read_gno(const char *s, size_t len, size_t *i, uint64_t *out) {
  uint64_t v = 0;
  size_t start = *i;
  while (*i < len && isdigit((unsigned char)s[*i])) {
    if (*i - start >= 19) {
      return SM_EMALFORMED;
    }
    v = v * 10 + (uint64_t)(s[*i] - '0');
    (*i)++;
  }
  if (*i == start || v == 0 || v > (uint64_t)INT64_MAX - 1 || s[start] == '0') {
    return SM_EMALFORMED;
  }
  *out = v;
  return 0;
}

int engine_mysql_gtid_set_parse(const char *s, size_t len, size_t *out_uuids,
                                uint64_t *out_transactions) {
  size_t uuids = 0;
  uint64_t total = 0;
  if (len > ENGINE_VALUE_MAX) {
    return SM_EMALFORMED;
  }
  size_t i = 0;
  while (i < len) {
    if (uuids > 0) {
      if (s[i] != ',') {
        return SM_EMALFORMED;
      }
      i++;
      while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) {
        i++;
      }
    }
    if (!is_uuid(s + i, len - i)) {
      return SM_EMALFORMED;
    }
    i += 36;
    uuids++;
    uint64_t last = 0;
    int intervals = 0;
    while (i < len && s[i] == ':') {
      i++;
      if (i < len && (islower((unsigned char)s[i]) || s[i] == '_')) {
        /* a tag: [a-z_][a-z0-9_]{0,31}, then its own intervals */
        size_t t = 0;
        while (i < len && (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
                           s[i] == '_')) {
          i++;
          if (++t > 32) {
            return SM_EMALFORMED;
          }
        }
        last = 0;
        intervals = 0;
        if (i >= len || s[i] != ':') {
          return SM_EMALFORMED;
        }
        continue;
      }
      uint64_t a, b;
      if (read_gno(s, len, &i, &a) < 0) {
        return SM_EMALFORMED;
      }
      b = a;
      if (i < len && s[i] == '-') {
        i++;
        if (read_gno(s, len, &i, &b) < 0 || b < a) {
          return SM_EMALFORMED;
        }
      }
      if (intervals > 0 && a <= last) {
        return SM_EMALFORMED;
      }
      last = b;
      intervals++;
      uint64_t add = b - a + 1;
      total = total > UINT64_MAX - add ? UINT64_MAX : total + add;
    }
    if (intervals == 0) {
      return SM_EMALFORMED;
    }
  }
  if (out_uuids != NULL) {
    *out_uuids = uuids;
  }
  if (out_transactions != NULL) {
    *out_transactions = total;
  }
  return 0;
}

static int copy_field(char *out, size_t cap, const char *v, int printable_only) {
  size_t l = strnlen(v, cap);
  if (l >= cap) {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; printable_only && i < l; i++) {
    if (!isprint((unsigned char)v[i])) {
      return SM_EMALFORMED;
    }
  }
  memcpy(out, v, l + 1);
  return 0;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out) {
  uint64_t x = 0;
  size_t n = 0;
  for (; v[n] != '\0'; n++) {
    if (!isdigit((unsigned char)v[n]) || n >= 20) {
      return SM_EMALFORMED;
    }
    unsigned d = (unsigned)(v[n] - '0');
    if (x > (max - d) / 10) {
      return SM_EMALFORMED;
    }
    x = x * 10 + d;
  }
  if (n == 0) {
    return SM_EMALFORMED;
  }
  *out = x;
  return 0;
}

int engine_mysql_clone_status_parse(size_t n, const char *const *names,
                                    const char *const *values,
                                    struct engine_mysql_clone_status *out) {
  static const char *const states[] = {"Not Started", "In Progress", "Completed", "Failed"};
  memset(out, 0, sizeof(*out));
  unsigned seen = 0;
  for (size_t i = 0; i < n; i++) {
    const char *k = names[i];
    const char *v = values[i] != NULL ? values[i] : "";
    int rc = 0;
    uint64_t x = 0;
    if (k == NULL) {
      return SM_EMALFORMED;
    }
    if (strcasecmp(k, "STATE") == 0) {
      rc = SM_EMALFORMED;
      for (size_t s = 0; s < SM_ARRAY_LEN(states); s++) {
        if (strcmp(v, states[s]) == 0) {
          snprintf(out->state, sizeof(out->state), "%s", v);
          rc = 0;
        }
      }
      seen |= 1;
    } else if (strcasecmp(k, "ERROR_NO") == 0) {
      rc = values[i] == NULL ? 0 : parse_u64(v, 65535, &x);
      out->error_no = (unsigned)x;
      seen |= 2;
    } else if (strcasecmp(k, "ERROR_MESSAGE") == 0) {
      rc = copy_field(out->error_message, sizeof(out->error_message), v, 0);
    } else if (strcasecmp(k, "DESTINATION") == 0) {
      rc = copy_field(out->destination, sizeof(out->destination), v, 1);
    } else if (strcasecmp(k, "BINLOG_FILE") == 0) {
      rc = copy_field(out->binlog_file, sizeof(out->binlog_file), v, 1);
      if (rc == 0 && strchr(v, '/') != NULL) {
        rc = SM_EMALFORMED;
      }
    } else if (strcasecmp(k, "BINLOG_POSITION") == 0) {
      rc = values[i] == NULL ? 0 : parse_u64(v, UINT64_MAX, &out->binlog_position);
    } else if (strcasecmp(k, "GTID_EXECUTED") == 0) {
      rc = copy_field(out->gtid_executed, sizeof(out->gtid_executed), v, 0);
      if (rc == 0) {
        rc = engine_mysql_gtid_set_parse(v, strlen(v), NULL, NULL);
      }
      seen |= 4;
    }
    if (rc < 0) {
      return SM_EMALFORMED;
    }
  }
  return seen == 7 ? 0 : SM_EMALFORMED;
}

/* parse.c - strict, bounded parsers of what a snapshot carries: the
 * mariadb-backup coordinate files, the facts file, GTID lists and the
 * server's version line. Input is untrusted: nothing is read past len and
 * anything outside the exact shapes is SM_EMALFORMED. */
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

#include "common/common.h"

/* ------------------------------------------------------------- kv sets */

void engine_kvset_init(struct engine_kvset *s) {
  memset(s, 0, sizeof(*s));
}

void engine_kvset_cleanup(struct engine_kvset *s) {
  for (size_t i = 0; i < s->n; i++) {
    sm_free(s->kv[i].value);
  }
  memset(s, 0, sizeof(*s));
}

int engine_kvset_set(struct engine_kvset *s, const char *key, const char *value) {
  size_t kl = strlen(key);
  if (kl == 0 || kl > ENGINE_KEY_MAX || strlen(value) > ENGINE_VALUE_MAX) {
    return SM_EINVAL;
  }
  char *copy = sm_strdup(value);
  if (copy == NULL) {
    return SM_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (strcmp(s->kv[i].key, key) == 0) {
      sm_free(s->kv[i].value);
      s->kv[i].value = copy;
      return 0;
    }
  }
  if (s->n == ENGINE_KV_MAX) {
    sm_free(copy);
    return SM_EFULL;
  }
  memcpy(s->kv[s->n].key, key, kl + 1);
  s->kv[s->n].value = copy;
  s->n++;
  return 0;
}

const char *engine_kvset_get(const struct engine_kvset *s, const char *key) {
  for (size_t i = 0; i < s->n; i++) {
    if (strcmp(s->kv[i].key, key) == 0) {
      return s->kv[i].value;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------- helpers */

static int is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

/* Decimal without sign or leading zeros (except "0"), at most max. */
static int parse_u64(const uint8_t *p, size_t len, uint64_t max, uint64_t *out) {
  if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) {
    return SM_EMALFORMED;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(p[i])) {
      return SM_EMALFORMED;
    }
    uint64_t d = (uint64_t)(p[i] - '0');
    if (v > (max - d) / 10) {
      return SM_EMALFORMED;
    }
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* One GTID "domain-server-seqno" in p[0..len). */
static int check_one_gtid(const uint8_t *p, size_t len) {
  size_t a = 0;
  uint64_t v;
  for (int part = 0; part < 3; part++) {
    size_t b = a;
    while (b < len && p[b] != '-') {
      b++;
    }
    if ((part < 2 && b == len) || (part == 2 && b != len)) {
      return SM_EMALFORMED;
    }
    uint64_t max = part == 2 ? UINT64_MAX : UINT32_MAX;
    if (parse_u64(p + a, b - a, max, &v) < 0) {
      return SM_EMALFORMED;
    }
    a = b + 1;
  }
  return 0;
}

static int gtid_check_bytes(const uint8_t *p, size_t len) {
  if (len == 0) {
    return 0;
  }
  if (len > ENGINE_VALUE_MAX) {
    return SM_EMALFORMED;
  }
  size_t a = 0;
  while (a <= len) {
    size_t b = a;
    while (b < len && p[b] != ',') {
      b++;
    }
    if (check_one_gtid(p + a, b - a) < 0) {
      return SM_EMALFORMED;
    }
    a = b + 1;
  }
  return 0;
}

int engine_gtid_check(const char *gtid) {
  return gtid_check_bytes((const uint8_t *)gtid, strlen(gtid));
}

/* Strips one optional final "\n"; refuses any other control byte. */
static int strip_line(const uint8_t *buf, size_t *len) {
  if (*len > ENGINE_COORD_FILE_MAX) {
    return SM_EMALFORMED;
  }
  if (*len > 0 && buf[*len - 1] == '\n') {
    (*len)--;
  }
  if (*len == 0) {
    return SM_EMALFORMED;
  }
  return 0;
}

/* ------------------------------------------------- xtrabackup_binlog_info */

static int binlog_file_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

int engine_parse_binlog_info(const uint8_t *buf, size_t len, struct engine_binlog_info *out) {
  memset(out, 0, sizeof(*out));
  if (buf == NULL || strip_line(buf, &len) < 0) {
    return SM_EMALFORMED;
  }
  size_t tab1 = 0;
  while (tab1 < len && buf[tab1] != '\t') {
    tab1++;
  }
  if (tab1 == 0 || tab1 == len || tab1 >= sizeof(out->file)) {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; i < tab1; i++) {
    if (!binlog_file_char(buf[i])) {
      return SM_EMALFORMED;
    }
  }
  size_t tab2 = tab1 + 1;
  while (tab2 < len && buf[tab2] != '\t') {
    tab2++;
  }
  if (parse_u64(buf + tab1 + 1, tab2 - tab1 - 1, UINT64_MAX, &out->pos) < 0) {
    return SM_EMALFORMED;
  }
  if (tab2 < len) {
    const uint8_t *g = buf + tab2 + 1;
    size_t gl = len - tab2 - 1;
    /* Absent GTID is written as an empty third field by some versions. */
    if (gtid_check_bytes(g, gl) < 0) {
      return SM_EMALFORMED;
    }
    memcpy(out->gtid, g, gl);
    out->gtid[gl] = '\0';
  }
  memcpy(out->file, buf, tab1);
  out->file[tab1] = '\0';
  return 0;
}

/* ------------------------------------------------- xtrabackup_galera_info */

static int is_hex(uint8_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int engine_parse_galera_info(const uint8_t *buf, size_t len, struct engine_galera_info *out) {
  memset(out, 0, sizeof(*out));
  if (buf == NULL || strip_line(buf, &len) < 0 || len < 38) {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? buf[i] != '-' : !is_hex(buf[i])) {
      return SM_EMALFORMED;
    }
  }
  if (buf[36] != ':') {
    return SM_EMALFORMED;
  }
  size_t a = 37;
  size_t b = a;
  while (b < len && buf[b] != ' ') {
    b++;
  }
  uint64_t v;
  if (b - a == 2 && buf[a] == '-' && buf[a + 1] == '1') {
    out->seqno = -1;
  } else if (parse_u64(buf + a, b - a, INT64_MAX, &v) == 0) {
    out->seqno = (int64_t)v;
  } else {
    return SM_EMALFORMED;
  }
  if (b < len) {
    if (parse_u64(buf + b + 1, len - b - 1, UINT32_MAX, &v) < 0) {
      return SM_EMALFORMED;
    }
    out->domain_id = (uint32_t)v;
    out->has_domain = 1;
  }
  memcpy(out->uuid, buf, 36);
  out->uuid[36] = '\0';
  return 0;
}

/* ------------------------------------------------------------ facts file */

static int key_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
}

int engine_parse_facts_file(const uint8_t *buf, size_t len, struct engine_kvset *facts,
                            struct engine_kvset *coords) {
  if (buf == NULL || len > ENGINE_COORD_FILE_MAX) {
    return SM_EMALFORMED;
  }
  char value[ENGINE_VALUE_MAX + 1];
  size_t a = 0;
  while (a < len) {
    size_t b = a;
    while (b < len && buf[b] != '\n') {
      b++;
    }
    if (b == len) {
      return SM_EMALFORMED; /* every line ends with a newline */
    }
    struct engine_kvset *set;
    size_t k;
    if (b - a > 5 && memcmp(buf + a, "fact.", 5) == 0) {
      set = facts;
      k = a + 5;
    } else if (b - a > 6 && memcmp(buf + a, "coord.", 6) == 0) {
      set = coords;
      k = a + 6;
    } else {
      return SM_EMALFORMED;
    }
    size_t eq = k;
    while (eq < b && key_char(buf[eq])) {
      eq++;
    }
    if (eq == k || eq == b || buf[eq] != '=' || eq - k > ENGINE_KEY_MAX ||
        b - eq - 1 > ENGINE_VALUE_MAX) {
      return SM_EMALFORMED;
    }
    for (size_t i = eq + 1; i < b; i++) {
      if (buf[i] < 0x20 || buf[i] == 0x7f) {
        return SM_EMALFORMED;
      }
    }
    char key[ENGINE_KEY_MAX + 1];
    memcpy(key, buf + k, eq - k);
    key[eq - k] = '\0';
    memcpy(value, buf + eq + 1, b - eq - 1);
    value[b - eq - 1] = '\0';
    if (engine_kvset_get(set, key) != NULL) {
      return SM_EMALFORMED; /* duplicates are not ours */
    }
    int rc = engine_kvset_set(set, key, value);
    if (rc < 0) {
      return rc == SM_ENOMEM ? rc : SM_EMALFORMED;
    }
    a = b + 1;
  }
  return 0;
}

int engine_format_facts_file(const struct engine_kvset *facts, const struct engine_kvset *coords,
                             char **out, size_t *out_len) {
  size_t cap = 1;
  const struct engine_kvset *sets[2] = {facts, coords};
  for (int s = 0; s < 2; s++) {
    for (size_t i = 0; i < sets[s]->n; i++) {
      cap += 8 + strlen(sets[s]->kv[i].key) + strlen(sets[s]->kv[i].value);
    }
  }
  char *buf = sm_malloc(cap);
  if (buf == NULL) {
    return SM_ENOMEM;
  }
  size_t len = 0;
  for (int s = 0; s < 2; s++) {
    for (size_t i = 0; i < sets[s]->n; i++) {
      int n = snprintf(buf + len, cap - len, "%s.%s=%s\n", s == 0 ? "fact" : "coord",
                       sets[s]->kv[i].key, sets[s]->kv[i].value);
      len += (size_t)n;
    }
  }
  *out = buf;
  *out_len = len;
  return 0;
}

/* -------------------------------------------------------- version lines */

int engine_parse_server_version(const char *line, char *version, char *machine) {
  const char *v = strstr(line, " Ver ");
  if (v == NULL) {
    return SM_EMALFORMED;
  }
  v += 5;
  size_t vl = strcspn(v, " \n");
  if (vl == 0 || vl >= 128) {
    return SM_EMALFORMED;
  }
  memcpy(version, v, vl);
  version[vl] = '\0';
  machine[0] = '\0';
  const char *on = strstr(v + vl, " on ");
  if (on != NULL) {
    on += 4;
    size_t ml = strcspn(on, " \n");
    if (ml > 0 && ml < 64) {
      memcpy(machine, on, ml);
      machine[ml] = '\0';
    }
  }
  char series[32];
  return engine_version_series(version, series);
}

int engine_version_series(const char *version, char *out) {
  size_t i = 0;
  size_t major = 0, minor = 0;
  while (is_digit((uint8_t)version[i]) && i < 8) {
    i++;
    major++;
  }
  if (major == 0 || version[i] != '.') {
    return SM_EMALFORMED;
  }
  i++;
  while (is_digit((uint8_t)version[i]) && minor < 8) {
    i++;
    minor++;
  }
  if (minor == 0 || i >= 32) {
    return SM_EMALFORMED;
  }
  memcpy(out, version, i);
  out[i] = '\0';
  return 0;
}

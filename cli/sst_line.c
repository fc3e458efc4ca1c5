/* sst_line.c - the two small texts of the seedmesh SST method that cross the
 * network: the joiner's address (HOST:PORT/seedmesh/NONCE, relayed by Galera
 * to the donor's script) and the donor's one-line answer to the joiner
 * (manifest to fetch, the IST bypass position, or an error). Pure, bounded,
 * fuzzed (tests/fuzz/fuzz_sst_line.c). docs/galera.md describes the protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/common.h"
#include "engine/engine.h"

static int is_hex_lower(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return 0;
    }
  }
  return 1;
}

/* A port: 1..65535, digits only, no leading zero. */
static int parse_port(const char *s, size_t n, unsigned *out) {
  unsigned v = 0;
  if (n == 0 || n > 5 || s[0] == '0') {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return SM_EMALFORMED;
    }
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v == 0 || v > 65535) {
    return SM_EMALFORMED;
  }
  *out = v;
  return 0;
}

/* Host characters: names, IPv4, and IPv6 inside brackets. */
static int host_ok(const char *s, size_t n, int bracketed) {
  if (n == 0 || n >= CLI_SST_HOST_MAX) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == '_' || (bracketed && c == ':');
    if (!ok) {
      return 0;
    }
  }
  return 1;
}

int cli_sst_hostport_parse(const char *text, size_t len, unsigned default_port,
                           struct cli_sst_address *out) {
  memset(out, 0, sizeof(*out));
  if (len == 0 || len > CLI_SST_LINE_MAX) {
    return SM_EMALFORMED;
  }
  const char *host = text;
  size_t host_len;
  const char *rest;
  if (text[0] == '[') {
    const char *close = memchr(text, ']', len);
    if (close == NULL) {
      return SM_EMALFORMED;
    }
    host = text + 1;
    host_len = (size_t)(close - host);
    if (!host_ok(host, host_len, 1)) {
      return SM_EMALFORMED;
    }
    rest = close + 1;
  } else {
    const char *colon = memchr(text, ':', len);
    host_len = colon ? (size_t)(colon - text) : len;
    if (!host_ok(host, host_len, 0)) {
      return SM_EMALFORMED;
    }
    rest = text + host_len;
  }
  size_t rest_len = len - (size_t)(rest - text);
  out->port = default_port;
  if (rest_len > 0) {
    if (rest[0] != ':' || parse_port(rest + 1, rest_len - 1, &out->port) < 0) {
      return SM_EMALFORMED;
    }
  }
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  return 0;
}

int cli_sst_address_parse(const char *text, size_t len, struct cli_sst_address *out) {
  static const char tag[] = "/seedmesh/";
  memset(out, 0, sizeof(*out));
  if (len > CLI_SST_LINE_MAX) {
    return SM_EMALFORMED;
  }
  const char *slash = memchr(text, '/', len);
  if (slash == NULL) {
    return SM_EMALFORMED;
  }
  size_t hp_len = (size_t)(slash - text);
  size_t tail = len - hp_len;
  if (tail != sizeof(tag) - 1 + CLI_SST_NONCE_HEX || memcmp(slash, tag, sizeof(tag) - 1) != 0) {
    return SM_EMALFORMED;
  }
  const char *nonce = slash + sizeof(tag) - 1;
  if (!is_hex_lower(nonce, CLI_SST_NONCE_HEX)) {
    return SM_EMALFORMED;
  }
  /* The joiner always names its port. */
  if (cli_sst_hostport_parse(text, hp_len, 0, out) < 0 || out->port == 0) {
    memset(out, 0, sizeof(*out));
    return SM_EMALFORMED;
  }
  memcpy(out->nonce, nonce, CLI_SST_NONCE_HEX);
  out->nonce[CLI_SST_NONCE_HEX] = '\0';
  return 0;
}

#define ANSWER_TAG "SEEDMESH-SST 1 "

int cli_sst_answer_parse(const uint8_t *buf, size_t len, struct cli_sst_answer *out) {
  memset(out, 0, sizeof(*out));
  if (len == 0 || len > CLI_SST_LINE_MAX || buf[len - 1] != '\n') {
    return SM_EMALFORMED;
  }
  len--; /* the newline */
  const char *s = (const char *)buf;
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
      return SM_EMALFORMED;
    }
  }
  size_t tl = sizeof(ANSWER_TAG) - 1;
  if (len < tl + CLI_SST_NONCE_HEX + 1 || memcmp(s, ANSWER_TAG, tl) != 0) {
    return SM_EMALFORMED;
  }
  s += tl;
  len -= tl;
  if (!is_hex_lower(s, CLI_SST_NONCE_HEX) || s[CLI_SST_NONCE_HEX] != ' ') {
    return SM_EMALFORMED;
  }
  memcpy(out->nonce, s, CLI_SST_NONCE_HEX);
  s += CLI_SST_NONCE_HEX + 1;
  len -= CLI_SST_NONCE_HEX + 1;
  if (len == 9 + 64 && memcmp(s, "manifest ", 9) == 0) {
    if (!is_hex_lower(s + 9, 64)) {
      return SM_EMALFORMED;
    }
    out->kind = CLI_SST_MANIFEST;
    memcpy(out->manifest, s + 9, 64);
    return 0;
  }
  if (len > 7 && memcmp(s, "bypass ", 7) == 0) {
    struct engine_galera_info gi;
    if (engine_parse_galera_info((const uint8_t *)s + 7, len - 7, &gi) < 0 || !gi.has_domain ||
        gi.seqno < 0 || memchr(s + 7, '\n', len - 7) != NULL) {
      return SM_EMALFORMED;
    }
    out->kind = CLI_SST_BYPASS;
    memcpy(out->uuid, gi.uuid, sizeof(out->uuid));
    out->seqno = gi.seqno;
    out->domain = gi.domain_id;
    return 0;
  }
  if (len > 6 && len - 6 < sizeof(out->text) && memcmp(s, "error ", 6) == 0) {
    out->kind = CLI_SST_ERROR;
    memcpy(out->text, s + 6, len - 6);
    return 0;
  }
  return SM_EMALFORMED;
}

int cli_sst_answer_format(const struct cli_sst_answer *a, char *out, size_t cap) {
  int w;
  switch (a->kind) {
  case CLI_SST_MANIFEST:
    w = snprintf(out, cap, ANSWER_TAG "%s manifest %s\n", a->nonce, a->manifest);
    break;
  case CLI_SST_BYPASS:
    w = snprintf(out, cap, ANSWER_TAG "%s bypass %s:%lld %u\n", a->nonce, a->uuid,
                 (long long)a->seqno, a->domain);
    break;
  case CLI_SST_ERROR: {
    /* Only printable ASCII travels; the rest becomes '?'. */
    char text[sizeof(a->text)];
    size_t n = strnlen(a->text, sizeof(text) - 1);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)a->text[i];
      text[i] = c < 0x20 || c > 0x7e ? '?' : (char)c;
    }
    text[n] = '\0';
    w = snprintf(out, cap, ANSWER_TAG "%s error %s\n", a->nonce, n ? text : "?");
    break;
  }
  default:
    return SM_EINVAL;
  }
  if (w < 0 || (size_t)w >= cap || (size_t)w > CLI_SST_LINE_MAX) {
    return SM_ETOOBIG;
  }
  return w;
}

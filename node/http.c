/* http.c - the request-head parser of the metrics endpoint: just enough
 * HTTP/1.x to answer "GET /metrics". Pure and bounded: it reads only the
 * bytes it is given, never more than NODE__HTTP_HEAD_MAX, and refuses
 * anything that is not a well-formed request head.
 *
 *   GET /metrics HTTP/1.1\r\n          request line: METHOD SP TARGET SP VERSION
 *   Host: 10.0.0.1:9400\r\n            0..NODE__HTTP_HEADERS_MAX header lines
 *   Accept: text/plain\r\n             (names are tokens; values printable)
 *   \r\n                               end of head (bare \n accepted too)
 */
#include "node/node_internal.h"

#include <string.h>

static int is_tchar(uint8_t c) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL);
}

/* The end of the line starting at p (index of '\n'), or -1. */
static long line_end(const uint8_t *buf, size_t len, size_t p) {
  const uint8_t *nl = memchr(buf + p, '\n', len - p);
  return nl ? (long)(nl - buf) : -1;
}

static int parse_request_line(const uint8_t *s, size_t len, struct node__http_request *out) {
  size_t i = 0;
  size_t m = 0;
  while (i < len && s[i] >= 'A' && s[i] <= 'Z') {
    if (m + 1 >= sizeof(out->method)) {
      return SM_EMALFORMED;
    }
    out->method[m++] = (char)s[i++];
  }
  out->method[m] = '\0';
  if (m == 0 || i >= len || s[i++] != ' ') {
    return SM_EMALFORMED;
  }
  size_t t = 0;
  if (i >= len || s[i] != '/') {
    return SM_EMALFORMED;
  }
  while (i < len && s[i] > 0x20 && s[i] < 0x7f) {
    if (t + 1 >= sizeof(out->path)) {
      return SM_EMALFORMED;
    }
    out->path[t++] = (char)s[i++];
  }
  out->path[t] = '\0';
  if (i >= len || s[i++] != ' ') {
    return SM_EMALFORMED;
  }
  if (len - i != 8 || memcmp(s + i, "HTTP/1.", 7) != 0 || (s[i + 7] != '0' && s[i + 7] != '1')) {
    return SM_EMALFORMED;
  }
  out->minor = s[i + 7] - '0';
  return 0;
}

static int parse_header(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len && is_tchar(s[i])) {
    i++;
  }
  if (i == 0 || i >= len || s[i] != ':') {
    return SM_EMALFORMED;
  }
  for (i++; i < len; i++) {
    if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
      return SM_EMALFORMED;
    }
  }
  return 0;
}

int node__http_parse(const uint8_t *buf, size_t len, struct node__http_request *out) {
  size_t p = 0;
  int lines = 0;
  memset(out, 0, sizeof(*out));
  if (len > NODE__HTTP_HEAD_MAX) {
    len = NODE__HTTP_HEAD_MAX; /* the head must end within the limit */
  }
  for (;;) {
    long e = line_end(buf, len, p);
    if (e < 0) {
      return len == NODE__HTTP_HEAD_MAX ? SM_ETOOBIG : SM_EMORE;
    }
    size_t l = (size_t)e - p;
    if (l > 0 && buf[p + l - 1] == '\r') {
      l--;
    }
    if (lines == 0) {
      if (parse_request_line(buf + p, l, out) < 0) {
        return SM_EMALFORMED;
      }
    } else if (l == 0) {
      return (int)(e + 1);
    } else if (lines > NODE__HTTP_HEADERS_MAX || parse_header(buf + p, l) < 0) {
      return SM_EMALFORMED;
    }
    lines++;
    p = (size_t)e + 1;
  }
}

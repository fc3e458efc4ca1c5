/* gentree_page.c - sm-gentree's page format: the seeded generator, text-like
 * records, page fill and header check, shared by create and mutate, and the
 * error and I/O helpers both use. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gentree.h"

#define GT_REC_MAX 96

const uint8_t gt_tag[3] = { 0, 'C', 'R' };

static const char *const gt_words[32] = {
  "alpha", "customer", "shipped", "pending", "order", "invoice", "berlin",
  "tokyo", "lisbon", "widget", "gadget", "premium", "standard", "refund",
  "delivered", "cancelled", "north", "south", "express", "ground", "retail",
  "wholesale", "euro", "dollar", "yen", "account", "credit", "debit",
  "warehouse", "supplier", "priority", "backorder",
};
static const char *const gt_status[4] = { "ACTIVE", "CLOSED", "ON_HOLD", "ARCHIVED" };

int gt_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("sm-gentree: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

static uint64_t gt_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void gt_rng_seed(struct gt_rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t x = gt_mix64(a + 0x9e3779b97f4a7c15ull);
  x = gt_mix64(x ^ gt_mix64(b + 0x632be59bd9b4e019ull));
  x = gt_mix64(x ^ gt_mix64(c + 0x85157af5ull));
  x = gt_mix64(x ^ gt_mix64(d + 0x2545f4914f6cdd1dull));
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ull;
    r->s[i] = gt_mix64(x);
  }
}

uint64_t gt_rng_below(struct gt_rng *r, uint64_t n) {
  return n == 0 ? 0 : gt_rng_next(r) % n;
}

static void gt_put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}

static size_t gt_put_str(uint8_t *o, const char *w, char sep) {
  size_t n = strlen(w);
  memcpy(o, w, n);
  o[n] = (uint8_t)sep;
  return n + 1;
}

/* One text-like record ("rowid|word word|digits|STATUS\n"); returns its length. */
static size_t gt_record(uint8_t *o, struct gt_rng *r, uint64_t rowid) {
  static const char hex[] = "0123456789abcdef";
  uint64_t x = gt_rng_next(r);
  size_t n = 0;
  for (int i = 7; i >= 0; i--) {
    o[n++] = (uint8_t)hex[(rowid >> (4 * i)) & 15];
  }
  o[n++] = '|';
  n += gt_put_str(o + n, gt_words[x & 31], ' ');
  n += gt_put_str(o + n, gt_words[(x >> 5) & 31], '|');
  for (int i = 0; i < 10; i++) {
    o[n++] = (uint8_t)('0' + ((((x >> (10 + 4 * i)) & 15) * 10) >> 4));
  }
  o[n++] = '|';
  return n + gt_put_str(o + n, gt_status[(x >> 62) & 3], '\n');
}

/* Fill one page of len bytes (len may be short for a file's last page). */
void gt_page_fill(uint8_t *p, size_t len, uint64_t pgno, int kind, uint8_t gen,
                  struct gt_rng *r) {
  uint8_t hdr[GT_HDR] = { (uint8_t)(pgno >> 24), (uint8_t)(pgno >> 16), (uint8_t)(pgno >> 8),
                          (uint8_t)pgno, gt_tag[kind], gen, 'S', 'M' };
  memcpy(p, hdr, len < GT_HDR ? len : GT_HDR);
  size_t pos = GT_HDR;
  if (kind == GT_RAND) {
    for (; pos + 8 <= len; pos += 8) {
      gt_put_le64(p + pos, gt_rng_next(r));
    }
    uint64_t v = gt_rng_next(r);
    for (; pos < len; pos++, v >>= 8) {
      p[pos] = (uint8_t)v;
    }
    return;
  }
  uint64_t rowid = gt_rng_next(r) & 0xffffff;
  while (pos + GT_REC_MAX <= len) {
    pos += gt_record(p + pos, r, rowid++);
  }
  if (pos < len) {
    uint8_t tmp[GT_REC_MAX];
    size_t n = gt_record(tmp, r, rowid);
    size_t left = len - pos;
    memcpy(p + pos, tmp, n < left ? n : left);
    if (left > n) {
      memset(p + pos + n, ' ', left - n);
    }
  }
}

bool gt_header_valid(const uint8_t *h, uint64_t pgno) {
  uint32_t no = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
  return (h[4] == gt_tag[GT_COMP] || h[4] == gt_tag[GT_RAND]) && h[6] == 'S' && h[7] == 'M' &&
         no == (uint32_t)pgno;
}

int gt_io_all(int fd, bool wr, uint8_t *p, size_t len, uint64_t off, const char *path) {
  while (len > 0) {
    ssize_t n = wr ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return gt_fail("%s %s: %s", wr ? "write" : "read", path, n < 0 ? strerror(errno) : "short");
    }
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

int gt_path(char *dst, size_t cap, const char *root, const char *rel) {
  int n = snprintf(dst, cap, "%s/%s", root, rel);
  if (n < 0 || (size_t)n >= cap) {
    return gt_fail("path too long: %s/%s", root, rel);
  }
  return 0;
}

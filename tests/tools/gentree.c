/* gentree.c - sm-gentree, a deterministic generator of InnoDB-like datadir
 * trees (sparse, page-structured, mixed compressibility) for tests and
 * benchmarks, and a mutator that rewrites a fraction of their pages in place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GT_BUF_BYTES (1u << 20)
#define GT_MIN_PAGE 4096u
#define GT_MAX_PAGE 65536u
#define GT_MIN_SIZE (1ull << 20)
#define GT_MAX_FILES (1u << 20)
#define GT_MAX_ENTRIES (1u << 30)
#define GT_REC_MAX 96
#define GT_TEXT_MAX 8192

/* Page kinds, indexing gt_create.bytes; gt_tag is the header byte 4 of each. */
enum { GT_ZERO, GT_COMP, GT_RAND };
static const uint8_t gt_tag[3] = { 0, 'C', 'R' };

/* Non-zero page header: be32 page number, kind, generation, 'S', 'M'. */
#define GT_HDR 8

struct gt_rng {
  uint64_t s[4];
};

struct gt_opts {
  const char *out;
  const char *dir;
  uint64_t size;
  uint64_t seed;
  uint32_t page;
  double fraction;
  bool dense;
  bool clustered;
  bool pattern_set;
};

struct gt_create {
  const struct gt_opts *o;
  struct gt_rng plan;
  uint64_t file_no;
  uint8_t *buf;
  uint64_t n_files, n_dirs, pages[3], bytes[3], text;
};

struct gt_ent {
  uint32_t file;
  uint32_t page;
};

static const char *const gt_words[32] = {
  "alpha", "customer", "shipped", "pending", "order", "invoice", "berlin",
  "tokyo", "lisbon", "widget", "gadget", "premium", "standard", "refund",
  "delivered", "cancelled", "north", "south", "express", "ground", "retail",
  "wholesale", "euro", "dollar", "yen", "account", "credit", "debit",
  "warehouse", "supplier", "priority", "backorder",
};
static const char *const gt_status[4] = { "ACTIVE", "CLOSED", "ON_HOLD", "ARCHIVED" };

static int gt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int gt_fail(const char *fmt, ...) {
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

/* xoshiro256** seeded through splitmix64 from up to four 64-bit keys. */
static void gt_rng_seed(struct gt_rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t x = gt_mix64(a + 0x9e3779b97f4a7c15ull);
  x = gt_mix64(x ^ gt_mix64(b + 0x632be59bd9b4e019ull));
  x = gt_mix64(x ^ gt_mix64(c + 0x85157af5ull));
  x = gt_mix64(x ^ gt_mix64(d + 0x2545f4914f6cdd1dull));
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ull;
    r->s[i] = gt_mix64(x);
  }
}

static inline uint64_t gt_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t gt_rng_next(struct gt_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = gt_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = gt_rotl(s[3], 45);
  return out;
}

static uint64_t gt_rng_below(struct gt_rng *r, uint64_t n) {
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
static void gt_page_fill(uint8_t *p, size_t len, uint64_t pgno, int kind, uint8_t gen,
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

static bool gt_header_valid(const uint8_t *h, uint64_t pgno) {
  uint32_t no = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
  return (h[4] == gt_tag[GT_COMP] || h[4] == gt_tag[GT_RAND]) && h[6] == 'S' && h[7] == 'M' &&
         no == (uint32_t)pgno;
}

/* Reads or writes exactly len bytes at off, retrying short transfers. */
static int gt_io_all(int fd, bool wr, uint8_t *p, size_t len, uint64_t off, const char *path) {
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

/* Chooses the next extent kind, steering the tree-wide page counts in done
 * towards 25% zero, 45% compressible, 30% random pages. */
static int gt_kind_pick(struct gt_rng *r, const uint64_t done[3]) {
  static const uint64_t target[3] = { 25, 45, 30 };
  uint64_t w[3], sum = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t want = target[i] * (done[0] + done[1] + done[2] + 32);
    w[i] = want > 100 * done[i] ? want - 100 * done[i] : 0;
    sum += w[i];
  }
  if (sum == 0) {
    memcpy(w, target, sizeof(w));
    sum = 100;
  }
  uint64_t x = gt_rng_below(r, sum);
  for (int i = 0; i < 3; i++) {
    if (x < w[i]) {
      return i;
    }
    x -= w[i];
  }
  return GT_COMP;
}

static int gt_path(char *dst, size_t cap, const char *root, const char *rel) {
  int n = snprintf(dst, cap, "%s/%s", root, rel);
  if (n < 0 || (size_t)n >= cap) {
    return gt_fail("path too long: %s/%s", root, rel);
  }
  return 0;
}

static int gt_open_new(struct gt_create *c, const char *rel, mode_t mode, char *path, size_t cap) {
  if (gt_path(path, cap, c->o->out, rel) < 0) {
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return gt_fail("create %s: %s", path, strerror(errno));
  }
  if (fchmod(fd, mode) < 0) {
    gt_fail("chmod %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  c->n_files++;
  return fd;
}

/* Writes a page-structured file of size bytes; zero runs become holes unless
 * --dense. Big files get long zero runs (8-14 MiB, at most 2/3 of files >= 12 MiB) so
 * whole 4 MiB chunks are zero. */
static int gt_file_paged(struct gt_create *c, const char *rel, uint64_t size, mode_t mode,
                         bool big) {
  char path[4096];
  int rc = -1;
  int fd = gt_open_new(c, rel, mode, path, sizeof(path));
  if (fd < 0) {
    return -1;
  }
  const uint64_t page = c->o->page;
  const uint64_t npages = (size + page - 1) / page;
  const uint64_t long_min = (8ull << 20) / page, long_span = (6ull << 20) / page;
  struct gt_rng r;
  gt_rng_seed(&r, c->o->seed, c->file_no++, 0, 0);
  uint64_t buf_off = 0, buf_len = 0;
  bool had_long = false;
  uint64_t pg = 0;
  while (pg < npages) {
    int kind = gt_kind_pick(&r, c->pages);
    if (pg == 0 && kind == GT_ZERO) {
      kind = GT_COMP;
    }
    uint64_t left = npages - pg, run = 1 + gt_rng_below(&r, kind == GT_ZERO ? 48 : 64);
    if (kind == GT_ZERO && big && npages / 3 * 2 >= long_min &&
        (!had_long || gt_rng_below(&r, 4) == 0)) {
      uint64_t lr = long_min + gt_rng_below(&r, long_span);
      lr = lr > npages / 3 * 2 ? npages / 3 * 2 : lr;
      if (lr < left) {
        run = lr;
        had_long = true;
      }
    }
    run = run > left ? left : run;
    c->pages[kind] += run;
    for (uint64_t end = pg + run; pg < end; pg++) {
      uint64_t off = pg * page;
      size_t len = (size_t)(size - off < page ? size - off : page);
      c->bytes[kind] += len;
      if (kind == GT_ZERO && !c->o->dense) {
        continue;
      }
      if (buf_len > 0 && (buf_off + buf_len != off || buf_len + len > GT_BUF_BYTES)) {
        if (gt_io_all(fd, true, c->buf, buf_len, buf_off, path) < 0) {
          goto out;
        }
        buf_len = 0;
      }
      if (buf_len == 0) {
        buf_off = off;
      }
      if (kind == GT_ZERO) {
        memset(c->buf + buf_len, 0, len);
      } else {
        gt_page_fill(c->buf + buf_len, len, pg, kind, 0, &r);
      }
      buf_len += len;
    }
  }
  if (buf_len > 0 && gt_io_all(fd, true, c->buf, buf_len, buf_off, path) < 0) {
    goto out;
  }
  if (ftruncate(fd, (off_t)size) < 0) {
    gt_fail("truncate %s: %s", path, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  close(fd);
  return rc;
}

static int gt_file_text(struct gt_create *c, const char *rel, const char *text, size_t len,
                        mode_t mode) {
  char path[4096];
  int fd = gt_open_new(c, rel, mode, path, sizeof(path));
  if (fd < 0) {
    return -1;
  }
  int rc = gt_io_all(fd, true, (uint8_t *)text, len, 0, path);
  close(fd);
  c->text += len;
  return rc;
}

static int gt_dir_make(struct gt_create *c, const char *rel, mode_t mode) {
  char path[4096];
  if (gt_path(path, sizeof(path), c->o->out, rel) < 0) {
    return -1;
  }
  if (mkdir(path, 0700) < 0 || chmod(path, mode) < 0) {
    return gt_fail("mkdir %s: %s", path, strerror(errno));
  }
  c->n_dirs++;
  return 0;
}

/* Creates --out, or accepts it if it exists and is empty. */
static int gt_out_prepare(const char *out) {
  if (mkdir(out, 0750) == 0) {
    return 0;
  }
  if (errno != EEXIST) {
    return gt_fail("mkdir %s: %s", out, strerror(errno));
  }
  DIR *d = opendir(out);
  if (d == NULL) {
    return gt_fail("open %s: %s", out, strerror(errno));
  }
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      rc = gt_fail("output directory %s is not empty", out);
      break;
    }
  }
  closedir(d);
  return rc;
}

/* Rounds a large file to whole pages and keeps it off a 4 MiB multiple. */
static uint64_t gt_big_size(uint64_t want, uint64_t page) {
  uint64_t s = want / page * page;
  if (s % (4u << 20) == 0) {
    s -= page;
  }
  return s;
}

static int gt_create_run(const struct gt_opts *o) {
  static const char *const dirs[] = { "db1", "db1/part", "db1/part/p2024", "db2",
                                      "db2/archive", "mysql" };
  static const char *const table_dirs[] = { "db1", "db1/part/p2024", "db2", "db2/archive",
                                            "mysql", "db1" };
  static const char opt[] = "default-character-set=utf8mb4\ndefault-collation=utf8mb4_general_ci\n";
  static const char script[] = "#!/bin/sh\n# seedmesh test fixture\nexit 0\n";
  static const char upgrade[] = "10.11.6-MariaDB";
  struct gt_create c = { .o = o };
  char uuid[128], pool[GT_TEXT_MAX], rel[256];
  int rc = -1;
  if (gt_out_prepare(o->out) < 0) {
    return -1;
  }
  c.buf = malloc(GT_BUF_BYTES);
  if (c.buf == NULL) {
    return gt_fail("out of memory");
  }
  gt_rng_seed(&c.plan, o->seed, UINT64_MAX, 0, 0);
  uint64_t u0 = gt_rng_next(&c.plan), u1 = gt_rng_next(&c.plan);
  int ul = snprintf(uuid, sizeof(uuid), "[auto]\nserver-uuid=%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64
                    "-%04" PRIx64 "-%012" PRIx64 "\n", u0 >> 32, (u0 >> 16) & 0xffff,
                    u0 & 0xffff, u1 & 0xffff, u1 >> 16);
  size_t pl = 0;
  for (int i = 0; i < 200; i++) {
    uint64_t x = gt_rng_next(&c.plan);
    pl += (size_t)snprintf(pool + pl, sizeof(pool) - pl, "%u,%u\n", (unsigned)(x & 63),
                           (unsigned)((x >> 8) % 100000));
  }
  const struct {
    const char *rel, *text;
    size_t len;
    mode_t mode;
  } texts[] = {
    { "auto.cnf", uuid, (size_t)ul, 0640 },
    { "ib_buffer_pool", pool, pl, 0640 },
    { "mysql_upgrade_info", upgrade, sizeof(upgrade) - 1, 0644 },
    { "mysqld-init.sh", script, sizeof(script) - 1, 0755 },
    { "db1/db.opt", opt, sizeof(opt) - 1, 0644 },
    { "db2/db.opt", opt, sizeof(opt) - 1, 0644 },
    { "mysql/general_log.CSV", "", 0, 0640 },
  };
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    if (gt_dir_make(&c, dirs[i], 0750) < 0) {
      goto out;
    }
  }
  if (gt_dir_make(&c, "db_empty", 0700) < 0) {
    goto out;
  }
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    if (gt_file_text(&c, texts[i].rel, texts[i].text, texts[i].len, texts[i].mode) < 0) {
      goto out;
    }
  }
  uint64_t ib = gt_big_size(o->size / 4, o->page);
  uint64_t t1 = gt_big_size(o->size / 100 * 15, o->page);
  uint64_t t2 = gt_big_size(o->size / 100 * 12, o->page);
  if (gt_file_paged(&c, "ibdata1", ib, 0640, true) < 0 ||
      gt_file_paged(&c, "db1/orders.ibd", t1, 0640, true) < 0 ||
      gt_file_paged(&c, "db2/events.ibd", t2, 0640, true) < 0) {
    goto out;
  }
  uint64_t rest = o->size - c.text - ib - t1 - t2;
  for (unsigned t = 0; rest > 0; t++) {
    const char *dir = table_dirs[gt_rng_below(&c.plan, 6)];
    bool sys = strcmp(dir, "mysql") == 0;
    uint64_t frm = 8192 + gt_rng_below(&c.plan, 56 * 1024);
    frm = frm < rest ? frm : rest;
    snprintf(rel, sizeof(rel), "%s/t%05u.frm", dir, t);
    if (gt_file_paged(&c, rel, frm, sys ? 0600 : 0644, false) < 0) {
      goto out;
    }
    rest -= frm;
    unsigned k = (unsigned)gt_rng_below(&c.plan, 8);
    uint64_t ibd = ((1ull << k) + gt_rng_below(&c.plan, 1ull << k)) * o->page;
    if (ibd > rest) {
      ibd = rest / o->page * o->page;
    }
    if (ibd == 0) {
      continue;
    }
    snprintf(rel, sizeof(rel), "%s/t%05u.ibd", dir, t);
    if (gt_file_paged(&c, rel, ibd, sys ? 0600 : 0640, false) < 0) {
      goto out;
    }
    rest -= ibd;
  }
  double paged = (double)(c.bytes[GT_ZERO] + c.bytes[GT_COMP] + c.bytes[GT_RAND]);
  printf("files=%" PRIu64 " dirs=%" PRIu64 " bytes=%" PRIu64 " zero=%.1f%% compressible=%.1f%%"
         " random=%.1f%% text=%" PRIu64 "\n", c.n_files, c.n_dirs, (uint64_t)paged + c.text,
         100.0 * (double)c.bytes[GT_ZERO] / paged, 100.0 * (double)c.bytes[GT_COMP] / paged,
         100.0 * (double)c.bytes[GT_RAND] / paged, c.text);
  rc = 0;
out:
  free(c.buf);
  return rc;
}

struct gt_list {
  char **paths;
  size_t n;
};

static void gt_list_free(struct gt_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->paths[i]);
  }
  free(l->paths);
}

/* Collects the paths of regular files under dir into l, up to GT_MAX_FILES. */
static int gt_walk(const char *dir, struct gt_list *l) {
  char path[4096];
  int rc = -1;
  DIR *d = opendir(dir);
  if (d == NULL) {
    return gt_fail("open %s: %s", dir, strerror(errno));
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (gt_path(path, sizeof(path), dir, e->d_name) < 0) {
      goto out;
    }
    if (lstat(path, &st) < 0) {
      gt_fail("stat %s: %s", path, strerror(errno));
      goto out;
    }
    if (S_ISDIR(st.st_mode)) {
      if (gt_walk(path, l) < 0) {
        goto out;
      }
    } else if (S_ISREG(st.st_mode)) {
      if (l->n == GT_MAX_FILES) {
        gt_fail("more than %u files under %s", GT_MAX_FILES, dir);
        goto out;
      }
      char **np = l->n % 1024 ? l->paths : realloc(l->paths, (l->n + 1024) * sizeof(*np));
      char *dup = np == NULL ? NULL : strdup(path);
      if (dup == NULL) {
        gt_fail("out of memory");
        goto out;
      }
      l->paths = np;
      l->paths[l->n++] = dup;
    }
  }
  rc = 0;
out:
  closedir(d);
  return rc;
}

static int gt_strcmp_p(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every page of file idx that carries a valid generated header. */
static int gt_scan_file(const char *path, uint32_t idx, uint32_t page, struct gt_ent **ents,
                        size_t *n) {
  struct stat st;
  int rc = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) {
    gt_fail("open %s: %s", path, strerror(errno));
    goto out;
  }
  for (uint64_t pg = 0; pg * page + GT_HDR <= (uint64_t)st.st_size; pg++) {
    uint8_t h[GT_HDR];
    if (gt_io_all(fd, false, h, GT_HDR, pg * page, path) < 0) {
      goto out;
    }
    if (!gt_header_valid(h, pg)) {
      continue;
    }
    if (*n == GT_MAX_ENTRIES || pg > UINT32_MAX) {
      gt_fail("too many pages under the tree");
      goto out;
    }
    if (*n % 65536 == 0) {
      struct gt_ent *ne = realloc(*ents, (*n + 65536) * sizeof(*ne));
      if (ne == NULL) {
        gt_fail("out of memory");
        goto out;
      }
      *ents = ne;
    }
    (*ents)[(*n)++] = (struct gt_ent){ idx, (uint32_t)pg };
  }
  rc = 0;
out:
  if (fd >= 0) {
    close(fd);
  }
  return rc;
}

static void gt_select(struct gt_rng *r, const struct gt_ent *ents, size_t n, uint64_t want,
                      bool clustered, uint8_t *sel) {
  uint64_t got = 0;
  while (got < want) {
    size_t start = (size_t)gt_rng_below(r, n);
    size_t run = clustered ? 8 + (size_t)gt_rng_below(r, 57) : 1;
    for (size_t j = start; j < start + run && j < n && got < want; j++) {
      if (ents[j].file != ents[start].file) {
        break;
      }
      if (!sel[j]) {
        sel[j] = 1;
        got++;
      }
    }
  }
}

static int gt_mutate_run(const struct gt_opts *o) {
  struct gt_list l = { NULL, 0 };
  struct gt_ent *ents = NULL;
  uint8_t *sel = NULL, *oldp = NULL, *newp = NULL;
  size_t n = 0;
  int rc = -1, fd = -1;
  uint64_t pages = 0, bytes = 0, diff = 0;
  if (gt_walk(o->dir, &l) < 0) {
    goto out;
  }
  qsort(l.paths, l.n, sizeof(*l.paths), gt_strcmp_p);
  for (size_t i = 0; i < l.n; i++) {
    if (gt_scan_file(l.paths[i], (uint32_t)i, o->page, &ents, &n) < 0) {
      goto out;
    }
  }
  if (n == 0) {
    gt_fail("no generated non-zero pages found under %s", o->dir);
    goto out;
  }
  uint64_t want = (uint64_t)(o->fraction * (double)n + 0.5);
  want = want == 0 ? 1 : want > n ? n : want;
  sel = calloc(n, 1);
  oldp = malloc(o->page);
  newp = malloc(o->page);
  if (sel == NULL || oldp == NULL || newp == NULL) {
    gt_fail("out of memory");
    goto out;
  }
  struct gt_rng r;
  gt_rng_seed(&r, o->seed, UINT64_MAX - 1, 0, 0);
  gt_select(&r, ents, n, want, o->clustered, sel);
  uint32_t cur = UINT32_MAX;
  uint64_t size = 0;
  for (size_t j = 0; j < n; j++) {
    if (!sel[j]) {
      continue;
    }
    const char *path = l.paths[ents[j].file];
    if (ents[j].file != cur) {
      struct stat st;
      if (fd >= 0) {
        close(fd);
      }
      cur = ents[j].file;
      fd = open(path, O_RDWR | O_CLOEXEC);
      if (fd < 0 || fstat(fd, &st) < 0) {
        gt_fail("open %s: %s", path, strerror(errno));
        goto out;
      }
      size = (uint64_t)st.st_size;
    }
    uint64_t off = (uint64_t)ents[j].page * o->page;
    size_t len = (size_t)(size - off < o->page ? size - off : o->page);
    if (gt_io_all(fd, false, oldp, len, off, path) < 0) {
      goto out;
    }
    uint8_t gen = (uint8_t)(oldp[5] + 1);
    struct gt_rng pr;
    gt_rng_seed(&pr, o->seed, ents[j].file, ents[j].page, gen);
    gt_page_fill(newp, len, ents[j].page, oldp[4] == gt_tag[GT_RAND] ? GT_RAND : GT_COMP, gen, &pr);
    for (size_t b = 0; b < len; b++) {
      diff += oldp[b] != newp[b];
    }
    if (gt_io_all(fd, true, newp, len, off, path) < 0) {
      goto out;
    }
    pages++;
    bytes += len;
  }
  printf("pages=%" PRIu64 " bytes=%" PRIu64 " diff_bytes=%" PRIu64 " eligible_pages=%zu\n", pages,
         bytes, diff, n);
  rc = 0;
out:
  if (fd >= 0) {
    close(fd);
  }
  free(sel);
  free(oldp);
  free(newp);
  free(ents);
  gt_list_free(&l);
  return rc;
}

static void gt_usage(void) {
  fputs("usage: sm-gentree create --out DIR --size BYTES[K|M|G] [--seed N] [--page BYTES] [--dense]\n"
        "       sm-gentree mutate --dir DIR --fraction F [--seed N]\n"
        "                         [--pattern random|clustered] [--page BYTES]\n"
        "create: writes a deterministic InnoDB-like tree of exactly BYTES apparent bytes\n"
        "  (ibdata1 25%, two tablespaces 15%/12%, hundreds of small .frm/.ibd files, tiny\n"
        "  text files, one empty file, one empty directory). Pages are zero (~25%, written\n"
        "  as holes unless --dense), text-like compressible (~45%) or random (~30%).\n"
        "  Same --seed, --size and --page give byte-identical trees. DIR must be new or empty.\n"
        "mutate: rewrites fraction F (0 < F <= 1) of the generated non-zero pages in place,\n"
        "  uniformly at random or in clustered runs of 8-64 pages, and prints\n"
        "  'pages=N bytes=B diff_bytes=D eligible_pages=E'.\n"
        "--page defaults to 16384 (power of two, 4096..65536; same value for both commands);\n"
        "--seed defaults to 1.\n",
        stdout);
}

/* Parses a decimal/hex count, with an optional binary K/M/G/T suffix if allowed. */
static int gt_parse_u64(const char *s, bool suffix, uint64_t *out) {
  static const char sfx[] = "KkMmGgTt";
  char *end;
  if (s[0] == '\0' || s[0] == '-') {
    return -1;
  }
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s) {
    return -1;
  }
  unsigned shift = 0;
  if (suffix && *end != '\0' && strchr(sfx, *end) != NULL) {
    shift = 10u * (unsigned)((strchr(sfx, *end) - sfx) / 2 + 1);
    end++;
  }
  if (*end != '\0' || (shift > 0 && (v >> (64 - shift)) != 0)) {
    return -1;
  }
  *out = (uint64_t)v << shift;
  return 0;
}

/* Applies one option to o; returns -1 (after printing) for a bad value. */
static int gt_opt_set(struct gt_opts *o, int ch, const char *name, const char *a) {
  uint64_t page = 0;
  char *end = NULL;
  bool ok = true;
  switch (ch) {
  case 'o':
    o->out = a;
    break;
  case 'd':
    o->dir = a;
    break;
  case 'D':
    o->dense = true;
    break;
  case 's':
    ok = gt_parse_u64(a, true, &o->size) == 0 && o->size >= GT_MIN_SIZE;
    break;
  case 'S':
    ok = gt_parse_u64(a, false, &o->seed) == 0;
    break;
  case 'p':
    ok = gt_parse_u64(a, true, &page) == 0 && page >= GT_MIN_PAGE && page <= GT_MAX_PAGE &&
         (page & (page - 1)) == 0;
    o->page = (uint32_t)page;
    break;
  case 'f':
    errno = 0;
    o->fraction = strtod(a, &end);
    ok = errno == 0 && end != a && *end == '\0' && o->fraction > 0.0 && o->fraction <= 1.0;
    break;
  case 'P':
    ok = strcmp(a, "random") == 0 || strcmp(a, "clustered") == 0;
    o->clustered = strcmp(a, "clustered") == 0;
    o->pattern_set = true;
    break;
  default:
    ok = false;
    break;
  }
  if (!ok) {
    return gt_fail("bad value '%s' for --%s (try --help)", a, name);
  }
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    { "out", required_argument, NULL, 'o' },      { "size", required_argument, NULL, 's' },
    { "seed", required_argument, NULL, 'S' },     { "page", required_argument, NULL, 'p' },
    { "dense", no_argument, NULL, 'D' },          { "dir", required_argument, NULL, 'd' },
    { "fraction", required_argument, NULL, 'f' }, { "pattern", required_argument, NULL, 'P' },
    { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
  };
  struct gt_opts o = { .seed = 1, .page = 16384, .fraction = -1.0 };
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    gt_usage();
    return 0;
  }
  bool create = argc >= 2 && strcmp(argv[1], "create") == 0;
  if (!create && (argc < 2 || strcmp(argv[1], "mutate") != 0)) {
    gt_fail("expected command 'create' or 'mutate' (try --help)");
    return 2;
  }
  opterr = 0;
  int ch, idx = 0;
  while ((ch = getopt_long(argc - 1, argv + 1, ":h", longopts, &idx)) != -1) {
    if (ch == 'h') {
      gt_usage();
      return 0;
    }
    if (ch == ':' || ch == '?') {
      gt_fail("%s option %s", ch == ':' ? "missing value for" : "unknown", argv[optind]);
      return 2;
    }
    if (gt_opt_set(&o, ch, longopts[idx].name, optarg) < 0) {
      return 2;
    }
  }
  if (optind < argc - 1) {
    gt_fail("unexpected argument '%s'", argv[optind + 1]);
    return 2;
  }
  if (create && (o.out == NULL || o.size == 0 || o.dir != NULL || o.fraction >= 0.0 ||
                 o.pattern_set)) {
    gt_fail("create takes --out DIR --size BYTES [--seed N] [--page BYTES] [--dense]");
    return 2;
  }
  if (!create && (o.dir == NULL || o.fraction < 0.0 || o.out != NULL || o.size != 0 || o.dense)) {
    gt_fail("mutate takes --dir DIR --fraction F [--seed N] [--pattern P] [--page BYTES]");
    return 2;
  }
  return (create ? gt_create_run(&o) : gt_mutate_run(&o)) == 0 ? 0 : 1;
}

/* gentree_create.c - sm-gentree create: lays out a deterministic InnoDB-like
 * datadir tree (system tablespace, big and small tablespaces, .frm files, text
 * files, an empty file and directory) of an exact apparent size. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gentree.h"

#define GT_BUF_BYTES (1u << 20)
#define GT_TEXT_MAX 8192

struct gt_create {
  const struct gt_opts *o;
  struct gt_rng plan;
  uint64_t file_no;
  uint8_t *buf;
  uint64_t n_files, n_dirs, pages[3], bytes[3], text;
};

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

int gt_create_run(const struct gt_opts *o) {
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

/* gentree_mutate.c - sm-gentree mutate: finds the generated non-zero pages of
 * a tree and rewrites a seeded random or clustered fraction of them in place. */
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

#define GT_MAX_FILES (1u << 20)
#define GT_MAX_ENTRIES (1u << 30)

struct gt_ent {
  uint32_t file;
  uint32_t page;
};

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

int gt_mutate_run(const struct gt_opts *o) {
  struct gt_list l = { NULL, 0 };
  struct gt_ent *ents = NULL;
  uint8_t *sel = NULL, *oldp = NULL, *newp = NULL;
  size_t n = 0;
  int rc = -1, fd = -1;
  uint64_t pages = 0, bytes = 0, diff = 0;
  if (gt_walk(o->dir, &l) < 0) {
    goto out;
  }
  if (l.n > 0) { /* an empty tree leaves l.paths NULL, which qsort must not get */
    qsort(l.paths, l.n, sizeof(*l.paths), gt_strcmp_p);
  }
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

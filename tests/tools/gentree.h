/* gentree.h - internals shared by the files of sm-gentree (tests/tools):
 * options, the seeded generator, the page format and small I/O helpers. */
#ifndef SM_TESTS_TOOLS_GENTREE_H
#define SM_TESTS_TOOLS_GENTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Page kinds, indexing gt_create.bytes; gt_tag is the header byte 4 of each. */
enum { GT_ZERO, GT_COMP, GT_RAND };
extern const uint8_t gt_tag[3];

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

/* Prints "sm-gentree: error: ..." on stderr; always returns -1. */
int gt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xoshiro256** seeded through splitmix64 from up to four 64-bit keys. */
void gt_rng_seed(struct gt_rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d);

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

/* A value below n (0 when n is 0). */
uint64_t gt_rng_below(struct gt_rng *r, uint64_t n);

/* Fill one page of len bytes (len may be short for a file's last page). */
void gt_page_fill(uint8_t *p, size_t len, uint64_t pgno, int kind, uint8_t gen,
                  struct gt_rng *r);

/* True if h is the header of a generated non-zero page number pgno. */
bool gt_header_valid(const uint8_t *h, uint64_t pgno);

/* Reads or writes exactly len bytes at off, retrying short transfers;
 * -1 (after printing) on failure. */
int gt_io_all(int fd, bool wr, uint8_t *p, size_t len, uint64_t off, const char *path);

/* Writes "root/rel" into dst; -1 (after printing) if it does not fit. */
int gt_path(char *dst, size_t cap, const char *root, const char *rel);

/* The two commands; 0 on success, -1 after printing the error. */
int gt_create_run(const struct gt_opts *o);
int gt_mutate_run(const struct gt_opts *o);

#endif

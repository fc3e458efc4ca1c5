/* alloc.c - the allocator wrapper every module uses, with a failure injector
 * for out-of-memory tests. */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

/* Test-only, process-wide: negative means "never fail". */
static long alloc_fail_budget = -1;
static unsigned long alloc_successes;

static int alloc_should_fail(void) {
  if (alloc_fail_budget < 0) {
    return 0;
  }
  if (alloc_fail_budget == 0) {
    return 1;
  }
  alloc_fail_budget--;
  return 0;
}

void *sm_malloc(size_t size) {
  if (alloc_should_fail()) {
    return NULL;
  }
  void *p = malloc(size == 0 ? 1 : size);
  if (p != NULL) {
    alloc_successes++;
  }
  return p;
}

void *sm_calloc(size_t count, size_t size) {
  if (alloc_should_fail()) {
    return NULL;
  }
  void *p = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
  if (p != NULL) {
    alloc_successes++;
  }
  return p;
}

void *sm_realloc(void *ptr, size_t size) {
  if (alloc_should_fail()) {
    return NULL;
  }
  void *p = realloc(ptr, size == 0 ? 1 : size);
  if (p != NULL) {
    alloc_successes++;
  }
  return p;
}

char *sm_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = sm_malloc(n);
  if (copy != NULL) {
    memcpy(copy, s, n);
  }
  return copy;
}

void sm_free(void *ptr) {
  free(ptr);
}

void sm_alloc_fail_after(long allowed) {
  alloc_fail_budget = allowed < 0 ? 0 : allowed;
}

void sm_alloc_fail_reset(void) {
  alloc_fail_budget = -1;
}

unsigned long sm_alloc_count(void) {
  return alloc_successes;
}

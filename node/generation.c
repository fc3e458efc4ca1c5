/* generation.c - the gossip generation of this node's incarnations. Peers
 * let a member's higher generation supersede its older state, so each start
 * must use a larger number than the last even when the wall clock was set
 * back meanwhile: the last one is kept in the state directory. */
#include "node/node_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GENERATION_FILE "gossip-generation"
#define GENERATION_MAX 0xFFFFFFFFull /* gossip keeps it below 2^32 */

int node__generation_next(const char *state_dir, uint64_t wall_s, uint64_t *out) {
  char path[4200];
  char text[32];
  uint8_t *buf = NULL;
  size_t len = 0;
  uint64_t last = 0;
  int rc = sm_path_join(path, sizeof(path), state_dir, GENERATION_FILE);
  if (rc < 0) {
    return rc;
  }
  rc = sm_fs_read_file(path, 24, &buf, &len);
  if (rc == 0) {
    /* Anything but plain digits is ignored: the clock is the fallback. */
    int digits = len > 0 && len < 21;
    for (size_t i = 0; i < len && digits; i++) {
      digits = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] == '\n' && i == len - 1);
    }
    for (size_t i = 0; digits && i < len && buf[i] != '\n'; i++) {
      last = last * 10 + (uint64_t)(buf[i] - '0');
    }
    sm_free(buf);
    if (!digits || last >= GENERATION_MAX) {
      last = 0;
    }
  } else if (rc != -ENOENT && rc != SM_ETOOBIG) {
    return rc;
  }
  uint64_t next = wall_s > last ? wall_s : last + 1;
  if (next > GENERATION_MAX) {
    next = GENERATION_MAX;
  }
  int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)next);
  rc = sm_fs_write_atomic(path, text, (size_t)n, 0600);
  if (rc < 0) {
    return rc;
  }
  *out = next;
  return 0;
}

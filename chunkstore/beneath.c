/* beneath.c - opening paths inside a directory without ever following a
 * symlink, so a planted link cannot redirect writes outside the tree. */
#include "chunkstore/chunkstore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int map_open_error(void) {
  return errno == ELOOP || errno == ENOTDIR ? SM_EPATH : sm_errno();
}

int chunkstore__open_beneath(int root_fd, const char *path, int flags, int mode) {
  char comp[256];
  int dir_fd = root_fd;
  const char *p = path;
  int rc = 0;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 0 || len >= sizeof(comp)) {
      rc = SM_EPATH;
      break;
    }
    memcpy(comp, p, len);
    comp[len] = '\0';
    if (slash == NULL) {
      rc = openat(dir_fd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (rc < 0) {
        rc = map_open_error();
      }
      break;
    }
    int next = openat(dir_fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      rc = map_open_error();
      break;
    }
    if (dir_fd != root_fd) {
      close(dir_fd);
    }
    dir_fd = next;
    p = slash + 1;
  }
  if (dir_fd != root_fd) {
    close(dir_fd);
  }
  return rc;
}

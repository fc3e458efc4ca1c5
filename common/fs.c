/* fs.c - durable file helpers: atomic replace, bounded reads, mkdir -p. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int sm_path_join(char *out, size_t out_size, const char *a, const char *b) {
  size_t la = strlen(a);
  int need_slash = la > 0 && a[la - 1] != '/';
  int n = snprintf(out, out_size, "%s%s%s", a, need_slash ? "/" : "", b);
  if (n < 0 || (size_t)n >= out_size) {
    return SM_ETOOBIG;
  }
  return 0;
}

int sm_fs_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sm_errno();
  }
  int rc = fsync(fd) == 0 ? 0 : sm_errno();
  close(fd);
  return rc;
}

static int parent_dir(const char *path, char *out, size_t out_size) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    return snprintf(out, out_size, ".") < (int)out_size ? 0 : SM_ETOOBIG;
  }
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n + 1 > out_size) {
    return SM_ETOOBIG;
  }
  memcpy(out, path, n);
  out[n] = '\0';
  return 0;
}

int sm_fd_write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sm_errno();
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int sm_fd_read_exact(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sm_errno();
    }
    if (n == 0) {
      return SM_ECLOSED;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int sm_fs_write_atomic(const char *path, const void *buf, size_t len, int mode) {
  char tmp[4096];
  char dir[4096];
  int rc = 0;
  int fd = -1;
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
    return SM_ETOOBIG;
  }
  rc = parent_dir(path, dir, sizeof(dir));
  if (rc < 0) {
    return rc;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return sm_errno();
  }
  rc = sm_fd_write_all(fd, buf, len);
  if (rc == 0 && fsync(fd) != 0) {
    rc = sm_errno();
  }
  if (close(fd) != 0 && rc == 0) {
    rc = sm_errno();
  }
  if (rc == 0 && rename(tmp, path) != 0) {
    rc = sm_errno();
  }
  if (rc != 0) {
    unlink(tmp);
    return rc;
  }
  return sm_fs_fsync_dir(dir);
}

int sm_fs_read_file(const char *path, size_t max_len, uint8_t **out_buf,
                    size_t *out_len) {
  int rc = 0;
  uint8_t *buf = NULL;
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return sm_errno();
  }
  if (fstat(fd, &st) != 0) {
    rc = sm_errno();
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = SM_EINVAL;
    goto out;
  }
  if ((uint64_t)st.st_size > max_len) {
    rc = SM_ETOOBIG;
    goto out;
  }
  size_t len = (size_t)st.st_size;
  buf = sm_malloc(len + 1);
  if (buf == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      rc = sm_errno();
      goto out;
    }
    if (n == 0) {
      break;
    }
    got += (size_t)n;
  }
  buf[got] = '\0';
  *out_buf = buf;
  *out_len = got;
  buf = NULL;
out:
  sm_free(buf);
  close(fd);
  return rc;
}

int sm_fs_mkdir_p(const char *path, int mode) {
  char tmp[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof(tmp)) {
    return len == 0 ? SM_EINVAL : SM_ETOOBIG;
  }
  memcpy(tmp, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char saved = tmp[i];
      tmp[i] = '\0';
      if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) {
        return sm_errno();
      }
      tmp[i] = saved;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    return sm_errno();
  }
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int sm_fs_free_bytes(const char *path, uint64_t *out_bytes) {
  struct statvfs sv;
  if (statvfs(path, &sv) != 0) {
    return sm_errno();
  }
  *out_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
  return 0;
}

/* finish.c - turning a complete staging tree into the target: final modes,
 * fsync, keep any old target by renaming it aside, atomic rename into place,
 * then removal of the staging area. */
#include "chunkstore/chunkstore_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int apply_modes(const struct chunkstore_manifest *m, int tree_fd) {
  /* Children before parents, so a read-only directory cannot block us. */
  for (size_t i = m->n_entries; i-- > 0;) {
    const struct chunkstore_entry *e = &m->entries[i];
    int flags = O_RDONLY | (e->kind == CHUNKSTORE_ENTRY_DIR ? O_DIRECTORY : 0);
    int fd = chunkstore__open_beneath(tree_fd, e->path, flags, 0);
    if (fd < 0) {
      return fd;
    }
    int rc = fchmod(fd, (mode_t)e->mode) == 0 ? 0 : sm_errno();
    close(fd);
    if (rc < 0) {
      return rc;
    }
  }
  return 0;
}

static int remove_staging(const char *dir) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/segments", dir);
  DIR *d = opendir(path);
  if (d != NULL) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] != '.') {
        unlinkat(dirfd(d), de->d_name, 0);
      }
    }
    closedir(d);
    rmdir(path);
  }
  static const char *const files[] = {"journal", "tree.ready", "root", "sig"};
  for (size_t i = 0; i < SM_ARRAY_LEN(files); i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
    unlink(path);
  }
  return rmdir(dir) == 0 ? 0 : sm_errno();
}

static int parent_of(const char *path, char *out, size_t out_size) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    return snprintf(out, out_size, ".") < (int)out_size ? 0 : SM_ETOOBIG;
  }
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= out_size) {
    return SM_ETOOBIG;
  }
  memcpy(out, path, n);
  out[n] = '\0';
  return 0;
}

int chunkstore_staging_finish(struct chunkstore_staging *s, const char *target,
                              const char *keep_old_suffix, char *out_old_path,
                              size_t out_old_size) {
  const struct chunkstore_pieces *p = chunkstore_staging_pieces(s);
  int dir_fd = -1;
  int tree_fd = -1;
  const char *dir = NULL;
  struct stat st;
  char parent[4096];
  int rc = 0;
  if (out_old_path != NULL && out_old_size > 0) {
    out_old_path[0] = '\0';
  }
  if (chunkstore_staging_have_count(s) != p->count) {
    return SM_ESTATE;
  }
  chunkstore__staging_fds(s, &dir_fd, &tree_fd, &dir);
  const struct chunkstore_manifest *m = chunkstore__staging_manifest(s);
  rc = apply_modes(m, tree_fd);
  if (rc < 0) {
    return rc;
  }
  if (syncfs(tree_fd) != 0) {
    return sm_errno();
  }
  rc = parent_of(target, parent, sizeof(parent));
  if (rc < 0) {
    return rc;
  }
  if (lstat(target, &st) == 0) {
    if (keep_old_suffix == NULL) {
      return SM_EEXIST;
    }
    char old[4200];
    for (int n = 0;; n++) {
      if (n == 0) {
        snprintf(old, sizeof(old), "%s%s", target, keep_old_suffix);
      } else {
        snprintf(old, sizeof(old), "%s%s.%d", target, keep_old_suffix, n);
      }
      if (lstat(old, &st) != 0) {
        break;
      }
      if (n > 1000) {
        return SM_EEXIST;
      }
    }
    if (rename(target, old) != 0) {
      return sm_errno();
    }
    if (out_old_path != NULL) {
      snprintf(out_old_path, out_old_size, "%s", old);
    }
  }
  if (renameat(dir_fd, "tree", AT_FDCWD, target) != 0) {
    return sm_errno();
  }
  rc = sm_fs_fsync_dir(parent);
  if (rc == 0) {
    rc = remove_staging(dir);
  }
  return rc;
}

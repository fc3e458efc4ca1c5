/* sst_fs.c - the datadir swap of the seedmesh SST joiner. mariadbd is
 * already running when the SST script runs (storage engines start only after
 * it ends), so its own files stay in place (gcache, grastate, pid, error log,
 * socket) while the old data is moved aside, never deleted, and the prepared
 * snapshot is moved in. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* Files of the running server that must stay where they are. */
static int keep_in_datadir(const char *name) {
  static const char *const keep[] = {
      "galera.cache", "gcache.page.*", "grastate.dat", "gvwstate.dat", "sst_in_progress",
      "*.pid", "*.err", "*.sock", "*.sock.lock", "wsrep_recovery.*", "*.seedmesh-*",
  };
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    if (fnmatch(keep[i], name, 0) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Files of the backup that are not data. */
static int skip_from_snapshot(const char *name) {
  return strcmp(name, "backup-my.cnf") == 0 || strncmp(name, "xtrabackup_", 11) == 0 ||
         strcmp(name, "seedmesh_engine_facts") == 0 || strcmp(name, "grastate.dat") == 0 ||
         strcmp(name, "donor_galera_info") == 0;
}

int cli_sst_swap_datadir(const char *datadir, const char *tree, const char *aside, char *err,
                         size_t err_size) {
  DIR *d = opendir(datadir);
  struct dirent *de;
  int moved_aside = 0;
  if (d == NULL) {
    snprintf(err, err_size, "cannot open the datadir %s: %s", datadir, strerror(errno));
    return -1;
  }
  while ((de = readdir(d)) != NULL) {
    char from[8192], to[8192];
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
        keep_in_datadir(de->d_name)) {
      continue;
    }
    if (!moved_aside && mkdir(aside, 0700) != 0 && errno != EEXIST) {
      snprintf(err, err_size, "cannot create %s: %s", aside, strerror(errno));
      closedir(d);
      return -1;
    }
    moved_aside = 1;
    snprintf(from, sizeof(from), "%s/%s", datadir, de->d_name);
    snprintf(to, sizeof(to), "%s/%s", aside, de->d_name);
    if (rename(from, to) != 0) {
      snprintf(err, err_size, "cannot move %s aside to %s: %s", from, aside, strerror(errno));
      closedir(d);
      return -1;
    }
  }
  closedir(d);
  d = opendir(tree);
  if (d == NULL) {
    snprintf(err, err_size, "cannot open the prepared tree %s: %s", tree, strerror(errno));
    return -1;
  }
  while ((de = readdir(d)) != NULL) {
    char from[8192], to[8192];
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
        skip_from_snapshot(de->d_name)) {
      continue;
    }
    snprintf(from, sizeof(from), "%s/%s", tree, de->d_name);
    snprintf(to, sizeof(to), "%s/%s", datadir, de->d_name);
    if (access(to, F_OK) == 0) {
      continue; /* a kept server file (e.g. a pid file) wins */
    }
    if (rename(from, to) != 0) {
      snprintf(err, err_size, "cannot move %s into %s: %s", from, datadir, strerror(errno));
      closedir(d);
      return -1;
    }
  }
  closedir(d);
  return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int cli_sst_remove_tree(const char *dir) {
  return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

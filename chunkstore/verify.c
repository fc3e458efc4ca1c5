/* verify.c - checks a directory tree against a manifest: every chunk hashes
 * to its id, sizes and modes agree, nothing is missing and nothing extra. */
#include "chunkstore/chunkstore_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct verifier {
  const struct chunkstore_manifest *m;
  int root_fd;
  atomic_uint_fast64_t next_slot;
  atomic_uint_fast64_t bad_chunks;
  atomic_uint_fast64_t bytes;
  atomic_int io_error;
  pthread_mutex_t lock;
  struct chunkstore_verify_report *report;
};

static void note_problem(struct verifier *v, const char *what, const char *path) {
  pthread_mutex_lock(&v->lock);
  if (v->report->first_problem[0] == '\0') {
    snprintf(v->report->first_problem, sizeof(v->report->first_problem), "%s: %s", what, path);
  }
  pthread_mutex_unlock(&v->lock);
}

static int entry_index(const struct chunkstore_manifest *m, const char *path) {
  size_t lo = 0;
  size_t hi = m->n_entries;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(m->entries[mid].path, path);
    if (c == 0) {
      return (int)mid;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return -1;
}

static void *verify_thread(void *arg) {
  struct verifier *v = arg;
  const struct chunkstore_entry *open_entry = NULL;
  int fd = -1;
  uint8_t *buf = sm_malloc(v->m->chunk_size);
  if (buf == NULL) {
    atomic_store(&v->io_error, SM_ENOMEM);
    return NULL;
  }
  for (;;) {
    uint64_t slot = atomic_fetch_add(&v->next_slot, 1);
    if (slot >= v->m->n_slots) {
      break;
    }
    uint64_t offset = 0;
    const struct chunkstore_entry *e = chunkstore_slot_entry(v->m, slot, &offset);
    uint32_t len = chunkstore__slot_len(e, slot - e->first_slot, v->m->chunk_size);
    if (e != open_entry) {
      if (fd >= 0) {
        close(fd);
      }
      fd = chunkstore__open_beneath(v->root_fd, e->path, O_RDONLY, 0);
      open_entry = e;
    }
    if (fd < 0) {
      continue; /* counted as missing by the entry pass */
    }
    size_t got = 0;
    while (got < len) {
      ssize_t n = pread(fd, buf + got, len - got, (off_t)(offset + got));
      if (n <= 0) {
        break;
      }
      got += (size_t)n;
    }
    atomic_fetch_add(&v->bytes, got);
    int ok = 0;
    if (got == len) {
      if (chunkstore_id_is_zero(v->m->slots[slot])) {
        ok = sm_is_zero(buf, len);
      } else {
        uint8_t id[CHUNKSTORE_ID_BYTES];
        chunkstore_chunk_id(buf, len, id);
        ok = sodium_memcmp(id, v->m->slots[slot], sizeof(id)) == 0;
      }
    }
    if (!ok) {
      atomic_fetch_add(&v->bad_chunks, 1);
      note_problem(v, "content differs", e->path);
    }
  }
  if (fd >= 0) {
    close(fd);
  }
  sm_free(buf);
  return NULL;
}

static int count_extra(struct verifier *v, int dir_fd, const char *prefix) {
  DIR *d = fdopendir(dir_fd);
  int rc = 0;
  if (d == NULL) {
    close(dir_fd);
    return sm_errno();
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
      continue;
    }
    char path[CHUNKSTORE_PATH_MAX + 1];
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
    int idx = entry_index(v->m, path);
    if (idx < 0) {
      v->report->extra_files++;
      note_problem(v, "not in the manifest", path);
      continue;
    }
    if (v->m->entries[idx].kind == CHUNKSTORE_ENTRY_DIR) {
      int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        rc = count_extra(v, sub, path);
        if (rc < 0) {
          break;
        }
      }
    }
  }
  closedir(d);
  return rc;
}

int chunkstore_verify_tree(const struct chunkstore_manifest *m, const char *dir,
                           int threads, struct chunkstore_verify_report *out) {
  struct verifier v;
  memset(out, 0, sizeof(*out));
  memset(&v, 0, sizeof(v));
  v.m = m;
  v.report = out;
  v.root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (v.root_fd < 0) {
    return sm_errno();
  }
  pthread_mutex_init(&v.lock, NULL);
  for (size_t i = 0; i < m->n_entries; i++) {
    const struct chunkstore_entry *e = &m->entries[i];
    struct stat st;
    int flags = O_RDONLY | (e->kind == CHUNKSTORE_ENTRY_DIR ? O_DIRECTORY : 0);
    int fd = chunkstore__open_beneath(v.root_fd, e->path, flags, 0);
    if (fd < 0 || fstat(fd, &st) != 0) {
      out->missing_files++;
      note_problem(&v, "missing", e->path);
    } else if ((e->kind == CHUNKSTORE_ENTRY_FILE) != (S_ISREG(st.st_mode) != 0) ||
               (e->kind == CHUNKSTORE_ENTRY_FILE && (uint64_t)st.st_size != e->size)) {
      out->wrong_size++;
      note_problem(&v, "wrong type or size", e->path);
    } else if ((st.st_mode & 07777) != e->mode) {
      out->wrong_mode++;
      note_problem(&v, "wrong mode", e->path);
    }
    if (fd >= 0) {
      close(fd);
    }
    if (e->kind == CHUNKSTORE_ENTRY_FILE) {
      out->files_checked++;
    }
  }
  pthread_t tids[16];
  int started = 0;
  threads = SM_MAX(1, SM_MIN(threads, (int)SM_ARRAY_LEN(tids)));
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&tids[i], NULL, verify_thread, &v) == 0) {
      started++;
    }
  }
  if (started == 0) {
    verify_thread(&v);
  }
  for (int i = 0; i < started; i++) {
    pthread_join(tids[i], NULL);
  }
  int rc = atomic_load(&v.io_error);
  int dup_fd = dup(v.root_fd);
  if (rc == 0 && dup_fd >= 0) {
    rc = count_extra(&v, dup_fd, "");
  }
  out->bad_chunks = atomic_load(&v.bad_chunks);
  out->bytes_checked = atomic_load(&v.bytes);
  pthread_mutex_destroy(&v.lock);
  close(v.root_fd);
  if (rc < 0) {
    return rc;
  }
  if (out->bad_chunks || out->missing_files || out->wrong_size || out->wrong_mode ||
      out->extra_files) {
    return SM_EHASH;
  }
  return 0;
}

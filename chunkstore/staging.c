/* staging.c - the staging area a recipient writes into: sparse files at
 * their final size, pieces written at their offsets in any order, and a
 * journal that records each verified piece so a restart never fetches or
 * writes it again.
 *
 * Journal: 8-byte records, [piece: u32 BE][first 4 bytes of its id]. A
 * record with piece 0xFFFFFFFF is a checkpoint: everything before it was
 * fsynced. After kill -9 the page cache still holds every journaled write, so
 * all records count; after a power loss only the part before the last
 * checkpoint is certain, so records after it are re-read and re-hashed on
 * open (cheap: no network) instead of being trusted. A record with piece
 * 0xFFFFFFFE revokes the piece named by its last 4 bytes (u32 BE): it was
 * found damaged on disk after it was verified, and must be fetched again. */
#include "chunkstore/chunkstore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKPOINT_PIECE 0xFFFFFFFFu
#define REVOKE_PIECE 0xFFFFFFFEu
#define CHECKPOINT_BYTES (256ull << 20)
#define ZERO_BLOCK 4096u

struct chunkstore_staging {
  char *dir;
  int dir_fd;
  int tree_fd;
  int journal_fd;
  const struct chunkstore_manifest *m;
  struct chunkstore_pieces pieces;
  uint8_t *have;
  uint64_t have_count;
  uint64_t have_bytes;
  uint64_t unsynced_bytes;
  pthread_mutex_t lock;
};

static int write_segment_file(void *arg, const uint8_t id[CHUNKSTORE_ID_BYTES],
                              const uint8_t *bytes, size_t len) {
  const char *dir = arg;
  char path[4200];
  char hex[2 * CHUNKSTORE_ID_BYTES + 1];
  sm_hex_encode(id, CHUNKSTORE_ID_BYTES, hex);
  snprintf(path, sizeof(path), "%s/segments/%s", dir, hex);
  return sm_fs_write_atomic(path, bytes, len, 0600);
}

/* Saves the manifest in the staging area so a restart can resume offline. */
static int save_manifest(const char *dir, const struct chunkstore_manifest *m,
                         const uint8_t sig[SM_SIG_BYTES]) {
  char path[4200];
  struct chunkstore__encoded enc;
  snprintf(path, sizeof(path), "%s/segments", dir);
  int rc = sm_fs_mkdir_p(path, 0700);
  if (rc < 0) {
    return rc;
  }
  rc = chunkstore__manifest_encode_parts(m, write_segment_file, (void *)dir, &enc);
  if (rc < 0) {
    return rc;
  }
  if (sodium_memcmp(enc.id, m->id, CHUNKSTORE_ID_BYTES) != 0) {
    rc = SM_EHASH; /* re-encoding must reproduce the signed bytes */
  }
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/sig", dir);
    rc = sm_fs_write_atomic(path, sig, SM_SIG_BYTES, 0600);
  }
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/root", dir);
    rc = sm_fs_write_atomic(path, enc.root, enc.root_len, 0600);
  }
  sm_free(enc.root);
  sm_free(enc.segment_ids);
  sm_free(enc.segment_lens);
  return rc;
}

/* Returns 1 if the staging area already holds this manifest, 0 if it holds
 * none, SM_ESTATE if it holds another one. */
static int staged_manifest_matches(const char *dir, const struct chunkstore_manifest *m) {
  char path[4200];
  uint8_t *root = NULL;
  size_t len = 0;
  snprintf(path, sizeof(path), "%s/root", dir);
  int rc = sm_fs_read_file(path, CHUNKSTORE_ROOT_MAX, &root, &len);
  if (rc == -ENOENT) {
    return 0;
  }
  if (rc < 0) {
    return rc;
  }
  uint8_t id[CHUNKSTORE_ID_BYTES];
  crypto_generichash(id, sizeof(id), root, len, NULL, 0);
  sm_free(root);
  return sodium_memcmp(id, m->id, sizeof(id)) == 0 ? 1 : SM_ESTATE;
}

static int make_dir_beneath(int tree_fd, const char *path) {
  const char *slash = strrchr(path, '/');
  int parent = tree_fd;
  int rc = 0;
  if (slash != NULL) {
    char parent_path[CHUNKSTORE_PATH_MAX + 1];
    memcpy(parent_path, path, (size_t)(slash - path));
    parent_path[slash - path] = '\0';
    parent = chunkstore__open_beneath(tree_fd, parent_path, O_RDONLY | O_DIRECTORY, 0);
    if (parent < 0) {
      return parent;
    }
  }
  const char *name = slash ? slash + 1 : path;
  if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
    rc = sm_errno();
  }
  if (rc == 0) {
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = sm_errno();
    } else if (!S_ISDIR(st.st_mode)) {
      rc = SM_EPATH; /* something else sits where a directory goes */
    }
  }
  if (parent != tree_fd) {
    close(parent);
  }
  return rc;
}

/* Creates every directory and every file at its final size (all holes). */
static int build_skeleton(struct chunkstore_staging *s) {
  for (size_t i = 0; i < s->m->n_entries; i++) {
    const struct chunkstore_entry *e = &s->m->entries[i];
    int rc = 0;
    if (e->kind == CHUNKSTORE_ENTRY_DIR) {
      rc = make_dir_beneath(s->tree_fd, e->path);
    } else {
      int fd = chunkstore__open_beneath(s->tree_fd, e->path, O_WRONLY | O_CREAT, 0600);
      if (fd < 0) {
        return fd;
      }
      if (ftruncate(fd, (off_t)e->size) != 0) {
        rc = sm_errno();
      }
      close(fd);
    }
    if (rc < 0) {
      return rc;
    }
  }
  return sm_fs_fsync_dir(s->dir);
}

static int pread_full(int fd, void *buf, size_t len, uint64_t offset, size_t *out_got) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(offset + got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return sm_errno();
    }
    if (n == 0) {
      break;
    }
    got += (size_t)n;
  }
  *out_got = got;
  return 0;
}

/* Reads the first slot of piece p from a tree rooted at root_fd. */
static int read_piece_at(int root_fd, const struct chunkstore_manifest *m,
                         const struct chunkstore_pieces *pieces, uint64_t p, void *out,
                         size_t len, size_t *out_got) {
  uint64_t offset = 0;
  const struct chunkstore_entry *e =
      chunkstore_slot_entry(m, pieces->slot_list[pieces->slot_start[p]], &offset);
  int fd = chunkstore__open_beneath(root_fd, e->path, O_RDONLY, 0);
  if (fd < 0) {
    return fd == -ENOENT ? SM_ENOTFOUND : fd;
  }
  int rc = pread_full(fd, out, len, offset, out_got);
  close(fd);
  return rc;
}

int chunkstore_staging_read(struct chunkstore_staging *s, uint64_t piece, void *out,
                            size_t len) {
  size_t got = 0;
  uint8_t id[CHUNKSTORE_ID_BYTES];
  if (piece >= s->pieces.count || len != s->pieces.raw_len[piece]) {
    return SM_EINVAL;
  }
  int rc = read_piece_at(s->tree_fd, s->m, &s->pieces, piece, out, len, &got);
  if (rc < 0) {
    return rc;
  }
  chunkstore_chunk_id(out, got, id);
  if (got != len || sodium_memcmp(id, s->pieces.ids[piece], sizeof(id)) != 0) {
    return SM_EHASH;
  }
  return 0;
}

static void mark_have(struct chunkstore_staging *s, uint64_t p) {
  if (!s->have[p]) {
    s->have[p] = 1;
    s->have_count++;
    s->have_bytes += s->pieces.raw_len[p];
  }
}

static void unmark_have(struct chunkstore_staging *s, uint64_t p) {
  if (s->have[p]) {
    s->have[p] = 0;
    s->have_count--;
    s->have_bytes -= s->pieces.raw_len[p];
  }
}

static int replay_journal(struct chunkstore_staging *s) {
  struct stat st;
  uint8_t *buf = NULL;
  uint8_t *scratch = NULL;
  int rc = 0;
  if (fstat(s->journal_fd, &st) != 0) {
    return sm_errno();
  }
  uint64_t whole = (uint64_t)st.st_size / 8 * 8;
  if (whole == 0) {
    goto out;
  }
  buf = sm_malloc((size_t)whole);
  if (buf == NULL) {
    return SM_ENOMEM;
  }
  size_t got = 0;
  rc = pread_full(s->journal_fd, buf, (size_t)whole, 0, &got);
  if (rc < 0 || got != whole) {
    rc = rc < 0 ? rc : -EIO;
    goto out;
  }
  uint64_t last_checkpoint = 0;
  for (uint64_t off = 0; off < whole; off += 8) {
    if (sm_load_be32(buf + off) == CHECKPOINT_PIECE) {
      last_checkpoint = off + 8;
    }
  }
  scratch = sm_malloc(s->m->chunk_size);
  if (scratch == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  for (uint64_t off = 0; off < whole; off += 8) {
    uint32_t p = sm_load_be32(buf + off);
    if (p == REVOKE_PIECE) {
      uint32_t r = sm_load_be32(buf + off + 4);
      if (r < s->pieces.count) {
        unmark_have(s, r);
      }
      continue;
    }
    if (p == CHECKPOINT_PIECE || p >= s->pieces.count ||
        memcmp(buf + off + 4, s->pieces.ids[p], 4) != 0) {
      continue; /* checkpoint, or a record that is not ours */
    }
    if (off >= last_checkpoint &&
        chunkstore_staging_read(s, p, scratch, s->pieces.raw_len[p]) < 0) {
      continue; /* not synced before a crash and not intact: fetch again */
    }
    mark_have(s, p);
  }
out:
  /* A torn last record is cut off so new records stay aligned. */
  if (rc == 0 && (uint64_t)st.st_size != whole && ftruncate(s->journal_fd, (off_t)whole) != 0) {
    rc = sm_errno();
  }
  sm_free(scratch);
  sm_free(buf);
  return rc;
}

int chunkstore_staging_open(const char *dir, const struct chunkstore_manifest *m,
                            const uint8_t sig[SM_SIG_BYTES],
                            struct chunkstore_staging **out) {
  int rc = 0;
  char path[4200];
  struct chunkstore_staging *s = sm_calloc(1, sizeof(*s));
  *out = NULL;
  if (s == NULL) {
    return SM_ENOMEM;
  }
  s->dir_fd = s->tree_fd = s->journal_fd = -1;
  s->m = m;
  pthread_mutex_init(&s->lock, NULL);
  s->dir = sm_strdup(dir);
  if (s->dir == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  rc = chunkstore_pieces_build(m, &s->pieces);
  if (rc < 0) {
    goto out;
  }
  s->have = sm_calloc(s->pieces.count ? s->pieces.count : 1, 1);
  if (s->have == NULL) {
    rc = SM_ENOMEM;
    goto out;
  }
  rc = sm_fs_mkdir_p(dir, 0700);
  if (rc < 0) {
    goto out;
  }
  rc = staged_manifest_matches(dir, m);
  if (rc < 0) {
    goto out;
  }
  if (rc == 0) {
    rc = save_manifest(dir, m, sig);
    if (rc < 0) {
      goto out;
    }
  }
  s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dir_fd < 0 || (mkdirat(s->dir_fd, "tree", 0700) != 0 && errno != EEXIST)) {
    rc = sm_errno();
    goto out;
  }
  s->tree_fd = openat(s->dir_fd, "tree", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (s->tree_fd < 0) {
    rc = sm_errno();
    goto out;
  }
  struct stat st;
  if (fstatat(s->dir_fd, "tree.ready", &st, 0) != 0) {
    rc = build_skeleton(s);
    if (rc < 0) {
      goto out;
    }
    snprintf(path, sizeof(path), "%s/tree.ready", dir);
    rc = sm_fs_write_atomic(path, "", 0, 0600);
    if (rc < 0) {
      goto out;
    }
  }
  s->journal_fd = openat(s->dir_fd, "journal", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (s->journal_fd < 0) {
    rc = sm_errno();
    goto out;
  }
  rc = replay_journal(s);
  if (rc < 0) {
    goto out;
  }
  *out = s;
  s = NULL;
out:
  chunkstore_staging_close(s);
  return rc;
}

void chunkstore_staging_close(struct chunkstore_staging *s) {
  if (s == NULL) {
    return;
  }
  if (s->journal_fd >= 0) {
    close(s->journal_fd);
  }
  if (s->tree_fd >= 0) {
    close(s->tree_fd);
  }
  if (s->dir_fd >= 0) {
    close(s->dir_fd);
  }
  pthread_mutex_destroy(&s->lock);
  chunkstore_pieces_cleanup(&s->pieces);
  sm_free(s->have);
  sm_free(s->dir);
  sm_free(s);
}

const struct chunkstore_pieces *chunkstore_staging_pieces(const struct chunkstore_staging *s) {
  return &s->pieces;
}

int chunkstore_staging_has(const struct chunkstore_staging *s, uint64_t piece) {
  return piece < s->pieces.count && s->have[piece];
}

uint64_t chunkstore_staging_have_count(const struct chunkstore_staging *s) {
  return s->have_count;
}

uint64_t chunkstore_staging_have_bytes(const struct chunkstore_staging *s) {
  return s->have_bytes;
}

/* Writes the non-zero 4 KiB blocks of data at offset, so zeros stay holes. */
static int write_sparse(int fd, const uint8_t *data, size_t len, uint64_t offset) {
  size_t pos = 0;
  while (pos < len) {
    size_t block = SM_MIN(ZERO_BLOCK, len - pos);
    if (sm_is_zero(data + pos, block)) {
      pos += block;
      continue;
    }
    size_t end = pos + block;
    while (end < len && !sm_is_zero(data + end, SM_MIN(ZERO_BLOCK, len - end))) {
      end += SM_MIN(ZERO_BLOCK, len - end);
    }
    size_t done = pos;
    while (done < end) {
      ssize_t n = pwrite(fd, data + done, end - done, (off_t)(offset + done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return sm_errno();
      }
      done += (size_t)n;
    }
    pos = end;
  }
  return 0;
}

static int checkpoint_locked(struct chunkstore_staging *s) {
  uint8_t rec[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  if (syncfs(s->tree_fd) != 0) {
    return sm_errno();
  }
  if (write(s->journal_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) ||
      fdatasync(s->journal_fd) != 0) {
    return sm_errno();
  }
  s->unsynced_bytes = 0;
  return 0;
}

int chunkstore_staging_put(struct chunkstore_staging *s, uint64_t piece, const void *raw,
                           size_t len) {
  uint8_t id[CHUNKSTORE_ID_BYTES];
  int rc = 0;
  if (piece >= s->pieces.count || len != s->pieces.raw_len[piece]) {
    return SM_EINVAL;
  }
  chunkstore_chunk_id(raw, len, id);
  if (sodium_memcmp(id, s->pieces.ids[piece], sizeof(id)) != 0) {
    return SM_EHASH;
  }
  pthread_mutex_lock(&s->lock);
  int had = s->have[piece];
  pthread_mutex_unlock(&s->lock);
  if (had) {
    return 0;
  }
  for (uint64_t i = s->pieces.slot_start[piece]; i < s->pieces.slot_start[piece + 1]; i++) {
    uint64_t offset = 0;
    const struct chunkstore_entry *e = chunkstore_slot_entry(s->m, s->pieces.slot_list[i], &offset);
    int fd = chunkstore__open_beneath(s->tree_fd, e->path, O_WRONLY, 0);
    if (fd < 0) {
      return fd;
    }
    rc = write_sparse(fd, raw, len, offset);
    close(fd);
    if (rc < 0) {
      return rc;
    }
  }
  uint8_t rec[8];
  sm_store_be32(rec, (uint32_t)piece);
  memcpy(rec + 4, id, 4);
  pthread_mutex_lock(&s->lock);
  if (write(s->journal_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
    rc = errno == 0 ? -ENOSPC : sm_errno();
  } else {
    mark_have(s, piece);
    s->unsynced_bytes += len;
    if (s->unsynced_bytes >= CHECKPOINT_BYTES) {
      rc = checkpoint_locked(s);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int chunkstore_staging_read_base(const char *base, const struct chunkstore_manifest *m,
                                 const struct chunkstore_pieces *p, uint64_t piece,
                                 void *out, size_t len) {
  int root = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  size_t got = 0;
  if (root < 0) {
    return SM_ENOTFOUND;
  }
  int rc = read_piece_at(root, m, p, piece, out, len, &got);
  close(root);
  if (rc < 0) {
    return rc;
  }
  memset((uint8_t *)out + got, 0, len - got);
  return 0;
}

int chunkstore__staging_fds(const struct chunkstore_staging *s, int *out_dir_fd,
                            int *out_tree_fd, const char **out_dir) {
  *out_dir_fd = s->dir_fd;
  *out_tree_fd = s->tree_fd;
  *out_dir = s->dir;
  return 0;
}

const struct chunkstore_manifest *chunkstore__staging_manifest(const struct chunkstore_staging *s) {
  return s->m;
}

int chunkstore_staging_load_manifest(const char *dir, const struct sm_trust *trust,
                                     struct chunkstore_manifest **out,
                                     uint8_t out_sig[SM_SIG_BYTES]) {
  char path[4200];
  uint8_t *root = NULL;
  uint8_t *sig = NULL;
  size_t root_len = 0;
  size_t sig_len = 0;
  struct chunkstore_manifest *m = NULL;
  *out = NULL;
  snprintf(path, sizeof(path), "%s/root", dir);
  int rc = sm_fs_read_file(path, CHUNKSTORE_ROOT_MAX, &root, &root_len);
  if (rc == -ENOENT) {
    return SM_ENOTFOUND;
  }
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/sig", dir);
    rc = sm_fs_read_file(path, SM_SIG_BYTES, &sig, &sig_len);
  }
  if (rc == 0 && sig_len != SM_SIG_BYTES) {
    rc = SM_EBADSIG;
  }
  if (rc == 0) {
    rc = chunkstore_manifest_decode_root(root, root_len, &m);
  }
  if (rc == 0) {
    rc = chunkstore_manifest_verify(m, sig, trust);
  }
  if (rc == 0) {
    snprintf(path, sizeof(path), "%s/segments", dir);
    rc = chunkstore__load_segments(m, path);
  }
  if (rc == 0) {
    memcpy(out_sig, sig, SM_SIG_BYTES);
    *out = m;
    m = NULL;
  }
  chunkstore_manifest_free(m);
  sm_free(root);
  sm_free(sig);
  return rc;
}

/* Zeroes every place of piece p: a re-put writes only its non-zero blocks,
 * so damage inside a block that should be zero would otherwise stay. */
static int zero_piece(struct chunkstore_staging *s, uint64_t p) {
  static const uint8_t zeros[ZERO_BLOCK];
  for (uint64_t i = s->pieces.slot_start[p]; i < s->pieces.slot_start[p + 1]; i++) {
    uint64_t offset = 0;
    const struct chunkstore_entry *e = chunkstore_slot_entry(s->m, s->pieces.slot_list[i], &offset);
    int fd = chunkstore__open_beneath(s->tree_fd, e->path, O_WRONLY, 0);
    if (fd < 0) {
      return fd;
    }
    int rc = 0;
    for (uint64_t done = 0; done < s->pieces.raw_len[p] && rc == 0;) {
      size_t n = (size_t)SM_MIN((uint64_t)sizeof(zeros), s->pieces.raw_len[p] - done);
      ssize_t w = pwrite(fd, zeros, n, (off_t)(offset + done));
      if (w < 0 && errno != EINTR) {
        rc = sm_errno();
      } else if (w > 0) {
        done += (uint64_t)w;
      }
    }
    close(fd);
    if (rc < 0) {
      return rc;
    }
  }
  return 0;
}

int chunkstore_staging_revoke(struct chunkstore_staging *s, uint64_t piece) {
  uint8_t rec[8];
  int rc = 0;
  if (piece >= s->pieces.count) {
    return SM_EINVAL;
  }
  sm_store_be32(rec, REVOKE_PIECE);
  sm_store_be32(rec + 4, (uint32_t)piece);
  pthread_mutex_lock(&s->lock);
  if (s->have[piece]) {
    /* Durable before the piece is forgotten: a crash right after must not
     * bring the damaged piece back as verified. */
    if (write(s->journal_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) ||
        fdatasync(s->journal_fd) != 0) {
      rc = errno == 0 ? -ENOSPC : sm_errno();
    } else {
      unmark_have(s, piece);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rc < 0 ? rc : zero_piece(s, piece);
}

int chunkstore_staging_sync(struct chunkstore_staging *s) {
  pthread_mutex_lock(&s->lock);
  int rc = checkpoint_locked(s);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int chunkstore_staging_default_dir(const char *target, char *out, size_t out_size) {
  int n = snprintf(out, out_size, "%s.seedmesh-staging", target);
  return n < 0 || (size_t)n >= out_size ? SM_ETOOBIG : 0;
}

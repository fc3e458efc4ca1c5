/* common.h - the shared base of every seedmesh module: error codes, the
 * allocator wrapper, logging, and small byte, file and msgpack helpers. */
#ifndef SM_COMMON_H
#define SM_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* ------------------------------------------------------------------ errors
 * Functions return 0 on success and a negative code on failure. Codes are
 * either a negated errno (from the OS) or one of the SM_E* codes below, which
 * live far below any errno value. sm_strerror() names both kinds. */
#define SM_ERRNO_MAP(XX)                                                       \
  XX(MORE, "incomplete input: more bytes are needed")                          \
  XX(MALFORMED, "malformed input")                                             \
  XX(TOOBIG, "input exceeds a hard size limit")                                \
  XX(NOMEM, "out of memory")                                                   \
  XX(INVAL, "invalid argument")                                                \
  XX(VERSION, "unsupported format or protocol version")                        \
  XX(BADSIG, "signature does not verify")                                      \
  XX(UNTRUSTED, "key is not in the trust file")                                \
  XX(HASH, "content does not match its id")                                    \
  XX(PATH, "unsafe or invalid path")                                           \
  XX(EXIST, "already exists")                                                  \
  XX(NOTFOUND, "not found")                                                    \
  XX(CRYPTO, "authentication or decryption failed")                            \
  XX(REPLAY, "replayed or out-of-order message")                               \
  XX(CLOSED, "connection closed")                                              \
  XX(TIMEOUT, "timed out")                                                     \
  XX(PROTO, "protocol violation")                                              \
  XX(COMPRESS, "compression or decompression failed")                          \
  XX(STATE, "operation not valid in the current state")                        \
  XX(FULL, "table is full")                                                    \
  XX(BANNED, "peer is banned")                                                 \
  XX(CANCELED, "operation canceled")                                           \
  XX(INCOMPAT, "incompatible with the local server or snapshot")               \
  XX(ENGINE, "database engine operation failed")                               \
  XX(CONFIG, "invalid configuration")                                          \
  XX(NOSPACE, "not enough free disk space")

enum sm_error {
  SM_E_BASE_ = -10000,
#define SM_ERROR_ENUM_(name, text) SM_E##name,
  SM_ERRNO_MAP(SM_ERROR_ENUM_)
#undef SM_ERROR_ENUM_
  SM_E_END_
};

/* Returns a static, human-readable description of any return code. */
const char *sm_strerror(int code);

/* Returns -errno, or SM_EINVAL when errno is 0 (so a failure never reads as
 * success). */
int sm_errno(void);

/* ------------------------------------------------------------- allocation
 * Every allocation in seedmesh goes through these, so tests can make the Nth
 * one fail and check for a clean error and no leak. sm_free(NULL) is a no-op.
 * The failure injector is process-wide test state; production never sets it. */
void *sm_malloc(size_t size);
void *sm_calloc(size_t count, size_t size);
void *sm_realloc(void *ptr, size_t size);
char *sm_strdup(const char *s);
void sm_free(void *ptr);

/* After `allowed` more successful allocations, every allocation fails until
 * sm_alloc_fail_reset(). */
void sm_alloc_fail_after(long allowed);
void sm_alloc_fail_reset(void);
/* Number of allocations that succeeded since the process started. */
unsigned long sm_alloc_count(void);

/* ---------------------------------------------------------------- logging
 * Leveled lines on stderr: "<time> <LEVEL> <component>: <message>". The
 * level threshold is process-wide and set once at start-up. */
enum sm_log_level {
  SM_LOG_ERROR = 0,
  SM_LOG_WARN = 1,
  SM_LOG_INFO = 2,
  SM_LOG_DEBUG = 3,
};

void sm_log_set_level(enum sm_log_level level);
enum sm_log_level sm_log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns SM_EINVAL otherwise. */
int sm_log_level_parse(const char *name, enum sm_log_level *out_level);
void sm_log(enum sm_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sm_logv(enum sm_log_level level, const char *component, const char *fmt,
             va_list ap) __attribute__((format(printf, 3, 0)));

/* ------------------------------------------------------------------ bytes */
/* Writes 2*len hex digits and a NUL into out (size >= 2*len+1). */
void sm_hex_encode(const uint8_t *bytes, size_t len, char *out);
/* Decodes exactly 2*len hex digits into out; SM_EMALFORMED otherwise. */
int sm_hex_decode(const char *hex, uint8_t *out, size_t len);

void sm_store_be16(uint8_t *p, uint16_t v);
void sm_store_be32(uint8_t *p, uint32_t v);
void sm_store_be64(uint8_t *p, uint64_t v);
uint16_t sm_load_be16(const uint8_t *p);
uint32_t sm_load_be32(const uint8_t *p);
uint64_t sm_load_be64(const uint8_t *p);

/* True when all len bytes are zero. */
int sm_is_zero(const void *buf, size_t len);

/* Formats a byte count as "1.50 GiB" into out (size >= 16). */
void sm_format_bytes(uint64_t bytes, char *out, size_t out_size);

/* ------------------------------------------------------------- filesystem */
/* Writes all len bytes to fd, retrying short writes and EINTR. */
int sm_fd_write_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes from fd; SM_ECLOSED if the stream ends first. */
int sm_fd_read_exact(int fd, void *buf, size_t len);
/* Writes buf to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. Nothing is left behind on
 * failure. */
int sm_fs_write_atomic(const char *path, const void *buf, size_t len, int mode);
/* Reads a whole file of at most max_len bytes into a new buffer (caller
 * frees with sm_free). SM_ETOOBIG if the file is larger. */
int sm_fs_read_file(const char *path, size_t max_len, uint8_t **out_buf,
                    size_t *out_len);
/* mkdir -p; existing directories are fine. */
int sm_fs_mkdir_p(const char *path, int mode);
/* fsync the directory that holds path (or path itself if it is a dir). */
int sm_fs_fsync_dir(const char *dir);
/* Joins a and b with one '/' into out; SM_ETOOBIG if it does not fit. */
int sm_path_join(char *out, size_t out_size, const char *a, const char *b);
/* Frees space check: bytes available to an unprivileged writer under path. */
int sm_fs_free_bytes(const char *path, uint64_t *out_bytes);

/* --------------------------------------------------------------- msgpack
 * Decoding untrusted msgpack: sm_mp_check() walks one encoded object without
 * allocating and refuses nesting deeper than max_depth and any container or
 * string whose declared size cannot fit in the bytes that remain, so the
 * later msgpack-c unpack allocates at most a small multiple of len. */
#define SM_MP_MAX_DEPTH 16

int sm_mp_check(const uint8_t *buf, size_t len, int max_depth,
                size_t *out_consumed);
/* Checks, then unpacks exactly one object that must span all of buf (trailing
 * bytes are SM_EMALFORMED). Strings and bins in *out point into buf. */
int sm_mp_unpack(const uint8_t *buf, size_t len, msgpack_zone *zone,
                 msgpack_object *out);
/* Like sm_mp_unpack, and refuses (SM_ETOOBIG) input that declares more than
 * max_objects objects in all, before anything is allocated: for message
 * types whose shape is small and known. */
int sm_mp_unpack_bounded(const uint8_t *buf, size_t len, size_t max_objects,
                         msgpack_zone *zone, msgpack_object *out);
/* Objects (scalars, strings, containers, map keys and values) that
 * sm_mp_check counted in its last successful walk of buf. */
int sm_mp_count(const uint8_t *buf, size_t len, int max_depth, size_t *out_objects);

/* Typed accessors: each returns SM_EMALFORMED on a type or range mismatch. */
const msgpack_object *sm_mp_map_get(const msgpack_object *map, const char *key);
int sm_mp_u64(const msgpack_object *obj, uint64_t max, uint64_t *out);
int sm_mp_str(const msgpack_object *obj, size_t max_len, const char **out_ptr,
              uint32_t *out_len);
/* Copies a string into out (size out_size, NUL-terminated); rejects embedded
 * NULs and strings that do not fit. */
int sm_mp_str_copy(const msgpack_object *obj, char *out, size_t out_size);
int sm_mp_bin(const msgpack_object *obj, size_t max_len, const uint8_t **out_ptr,
              uint32_t *out_len);
/* A bin of exactly len bytes copied into out. */
int sm_mp_bin_exact(const msgpack_object *obj, uint8_t *out, size_t len);

/* Packs a NUL-terminated string / a byte string. */
int sm_mp_pack_cstr(msgpack_packer *pk, const char *s);
int sm_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len);

/* --------------------------------------------------------------- identity
 * A node's identity is an ed25519 key pair. Key file: the line
 * "seedmesh-key-v1 <128 hex digits of the libsodium secret key>", mode 0600.
 * Trust file: one "<64 hex digits of a public key> [name]" per line; blank
 * lines and lines starting with '#' are ignored. */
#define SM_PUBKEY_BYTES 32
#define SM_SECKEY_BYTES 64
#define SM_SIG_BYTES 64
#define SM_TRUST_MAX 4096

struct sm_identity {
  uint8_t public_key[SM_PUBKEY_BYTES];
  uint8_t secret_key[SM_SECKEY_BYTES];
};

struct sm_trust {
  size_t count;
  uint8_t (*keys)[SM_PUBKEY_BYTES]; /* sorted, for binary search */
};

/* Generates a new identity and writes it to path (refuses to overwrite:
 * SM_EEXIST). */
int sm_identity_generate(const char *path, struct sm_identity *out);
/* Loads an identity; SM_EMALFORMED names a bad file, SM_EINVAL a file
 * readable by group or others. */
int sm_identity_load(const char *path, struct sm_identity *out);
/* Wipes the secret key. */
void sm_identity_cleanup(struct sm_identity *id);

/* Loads a trust file into *out (caller calls sm_trust_cleanup). On a bad line
 * returns SM_EMALFORMED and sets *out_bad_line (1-based). */
int sm_trust_load(const char *path, struct sm_trust *out, size_t *out_bad_line);
/* Builds a trust set from n keys (copied). */
int sm_trust_init_keys(struct sm_trust *out, const uint8_t (*keys)[SM_PUBKEY_BYTES],
                       size_t n);
int sm_trust_contains(const struct sm_trust *trust, const uint8_t *public_key);
void sm_trust_cleanup(struct sm_trust *trust);

#define SM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SM_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif

/* chunk.c - chunk ids, bounded zstd encoding, and page-level deltas.
 *
 * Delta wire form (all integers big-endian):
 *
 *   +-----------+------------+----------------+------------+----------------+
 *   | n: u32    | page: u32  | page bytes ... | page: u32  | page bytes ... |
 *   +-----------+------------+----------------+------------+----------------+
 *
 * Pages are CHUNKSTORE_PAGE_SIZE bytes (the chunk's last page may be short),
 * listed in increasing order. */
#include "chunkstore/chunkstore.h"

#include <sodium.h>
#include <string.h>
#include <zstd.h>

void chunkstore_chunk_id(const void *data, size_t len, uint8_t out_id[CHUNKSTORE_ID_BYTES]) {
  crypto_generichash(out_id, CHUNKSTORE_ID_BYTES, data, len, NULL, 0);
}

int chunkstore_id_is_zero(const uint8_t id[CHUNKSTORE_ID_BYTES]) {
  return sm_is_zero(id, CHUNKSTORE_ID_BYTES);
}

size_t chunkstore_encode_bound(size_t raw_len) {
  return ZSTD_compressBound(raw_len);
}

int chunkstore_chunk_encode(const void *raw, size_t raw_len, int level, void *out,
                            size_t out_cap, enum chunkstore_encoding *out_enc,
                            size_t *out_len) {
  if (out_cap < chunkstore_encode_bound(raw_len)) {
    return SM_EINVAL;
  }
  size_t n = ZSTD_compress(out, out_cap, raw, raw_len, level);
  if (!ZSTD_isError(n) && n < raw_len - raw_len / 32) {
    *out_enc = CHUNKSTORE_ENC_ZSTD;
    *out_len = n;
    return 0;
  }
  memcpy(out, raw, raw_len);
  *out_enc = CHUNKSTORE_ENC_RAW;
  *out_len = raw_len;
  return 0;
}

int chunkstore_chunk_decode(enum chunkstore_encoding enc, const void *in, size_t in_len,
                            void *out, size_t raw_len) {
  if (enc == CHUNKSTORE_ENC_RAW) {
    if (in_len != raw_len) {
      return SM_ECOMPRESS;
    }
    memcpy(out, in, raw_len);
    return 0;
  }
  if (enc != CHUNKSTORE_ENC_ZSTD) {
    return SM_ECOMPRESS;
  }
  /* The frame header may claim any size; ZSTD_decompress never writes past
   * raw_len and fails if the content would be longer. */
  unsigned long long claimed = ZSTD_getFrameContentSize(in, in_len);
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != raw_len) {
    return SM_ECOMPRESS;
  }
  size_t n = ZSTD_decompress(out, raw_len, in, in_len);
  if (ZSTD_isError(n) || n != raw_len) {
    return SM_ECOMPRESS;
  }
  return 0;
}

size_t chunkstore_delta_pages(size_t chunk_len) {
  return (chunk_len + CHUNKSTORE_PAGE_SIZE - 1) / CHUNKSTORE_PAGE_SIZE;
}

static size_t page_len(size_t chunk_len, size_t page) {
  size_t start = page * CHUNKSTORE_PAGE_SIZE;
  return SM_MIN(CHUNKSTORE_PAGE_SIZE, chunk_len - start);
}

static void page_signature(const uint8_t *page, size_t len, uint8_t *out) {
  crypto_generichash(out, CHUNKSTORE_DELTA_SIG_BYTES, page, len, NULL, 0);
}

void chunkstore_delta_signature(const void *old_chunk, size_t len, uint8_t *out_sigs) {
  const uint8_t *p = old_chunk;
  size_t pages = chunkstore_delta_pages(len);
  for (size_t i = 0; i < pages; i++) {
    page_signature(p + i * CHUNKSTORE_PAGE_SIZE, page_len(len, i),
                   out_sigs + i * CHUNKSTORE_DELTA_SIG_BYTES);
  }
}

size_t chunkstore_delta_bound(size_t chunk_len) {
  return 4 + chunkstore_delta_pages(chunk_len) * 4 + chunk_len;
}

int chunkstore_delta_encode(const void *new_chunk, size_t len, const uint8_t *sigs,
                            void *out, size_t out_cap, size_t *out_len) {
  const uint8_t *p = new_chunk;
  uint8_t *o = out;
  size_t pos = 4;
  uint32_t count = 0;
  size_t pages = chunkstore_delta_pages(len);
  if (out_cap < chunkstore_delta_bound(len)) {
    return SM_EINVAL;
  }
  for (size_t i = 0; i < pages; i++) {
    uint8_t sig[CHUNKSTORE_DELTA_SIG_BYTES];
    size_t plen = page_len(len, i);
    page_signature(p + i * CHUNKSTORE_PAGE_SIZE, plen, sig);
    if (memcmp(sig, sigs + i * CHUNKSTORE_DELTA_SIG_BYTES, sizeof(sig)) == 0) {
      continue;
    }
    sm_store_be32(o + pos, (uint32_t)i);
    memcpy(o + pos + 4, p + i * CHUNKSTORE_PAGE_SIZE, plen);
    pos += 4 + plen;
    count++;
  }
  sm_store_be32(o, count);
  *out_len = pos;
  return 0;
}

int chunkstore_delta_apply(void *buf, size_t len, const void *delta, size_t delta_len) {
  const uint8_t *d = delta;
  uint8_t *b = buf;
  size_t pages = chunkstore_delta_pages(len);
  if (delta_len < 4) {
    return SM_EMALFORMED;
  }
  uint32_t count = sm_load_be32(d);
  size_t pos = 4;
  int64_t last = -1;
  if (count > pages) {
    return SM_EMALFORMED;
  }
  for (uint32_t k = 0; k < count; k++) {
    if (delta_len - pos < 4) {
      return SM_EMALFORMED;
    }
    uint32_t page = sm_load_be32(d + pos);
    if (page >= pages || (int64_t)page <= last) {
      return SM_EMALFORMED;
    }
    size_t plen = page_len(len, page);
    if (delta_len - pos - 4 < plen) {
      return SM_EMALFORMED;
    }
    memcpy(b + (size_t)page * CHUNKSTORE_PAGE_SIZE, d + pos + 4, plen);
    pos += 4 + plen;
    last = page;
  }
  return pos == delta_len ? 0 : SM_EMALFORMED;
}

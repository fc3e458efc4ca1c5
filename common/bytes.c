/* bytes.c - hex, big-endian integers and other byte-level helpers. */
#include "common/common.h"

#include <stdio.h>
#include <string.h>

void sm_hex_encode(const uint8_t *bytes, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  out[2 * len] = '\0';
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

int sm_hex_decode(const char *hex, uint8_t *out, size_t len) {
  if (strlen(hex) != 2 * len) {
    return SM_EMALFORMED;
  }
  for (size_t i = 0; i < len; i++) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return SM_EMALFORMED;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

void sm_store_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

void sm_store_be32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    p[i] = (uint8_t)(v >> (24 - 8 * i));
  }
}

void sm_store_be64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(v >> (56 - 8 * i));
  }
}

uint16_t sm_load_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t sm_load_be32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    v = v << 8 | p[i];
  }
  return v;
}

uint64_t sm_load_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    v = v << 8 | p[i];
  }
  return v;
}

int sm_is_zero(const void *buf, size_t len) {
  const uint8_t *p = buf;
  /* Word-at-a-time scan; this runs over every byte of every snapshot. */
  while (len > 0 && ((uintptr_t)p & 7) != 0) {
    if (*p != 0) {
      return 0;
    }
    p++;
    len--;
  }
  const uint64_t *w = (const uint64_t *)(const void *)p;
  while (len >= 32) {
    if ((w[0] | w[1] | w[2] | w[3]) != 0) {
      return 0;
    }
    w += 4;
    len -= 32;
  }
  p = (const uint8_t *)w;
  while (len > 0) {
    if (*p != 0) {
      return 0;
    }
    p++;
    len--;
  }
  return 1;
}

void sm_format_bytes(uint64_t bytes, char *out, size_t out_size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)bytes;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < SM_ARRAY_LEN(units)) {
    v /= 1024.0;
    u++;
  }
  if (u == 0) {
    snprintf(out, out_size, "%llu B", (unsigned long long)bytes);
  } else {
    snprintf(out, out_size, "%.2f %s", v, units[u]);
  }
}

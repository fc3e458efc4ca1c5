/* mp.c - bounded decoding of untrusted msgpack on top of msgpack-c.
 *
 * msgpack-c sizes a container's element array from the declared count before
 * it has seen the elements, so a 5-byte "array of 4 billion" would ask for
 * ~100 GB. sm_mp_check() walks the bytes first, with no allocation, and
 * accepts only input whose every declared count could be backed by the bytes
 * that follow; after that the unpack allocates O(len). */
#include "common/common.h"

#include <string.h>

/* Bytes of payload that follow a header, for the fixed-size scalar tags. */
static int scalar_payload(uint8_t tag, size_t *out) {
  switch (tag) {
  case 0xc0: case 0xc2: case 0xc3:
    *out = 0;
    return 1;
  case 0xcc: case 0xd0:
    *out = 1;
    return 1;
  case 0xcd: case 0xd1:
    *out = 2;
    return 1;
  case 0xca: case 0xce: case 0xd2:
    *out = 4;
    return 1;
  case 0xcb: case 0xcf: case 0xd3:
    *out = 8;
    return 1;
  default:
    return 0;
  }
}

static int read_len(const uint8_t *p, size_t avail, size_t width, uint64_t *out) {
  if (avail < width) {
    return SM_EMALFORMED;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < width; i++) {
    v = v << 8 | p[i];
  }
  *out = v;
  return 0;
}

static int mp_walk(const uint8_t *buf, size_t len, int max_depth, size_t *out_consumed,
                   size_t *out_objects);

int sm_mp_check(const uint8_t *buf, size_t len, int max_depth, size_t *out_consumed) {
  size_t objects = 0;
  return mp_walk(buf, len, max_depth, out_consumed, &objects);
}

int sm_mp_count(const uint8_t *buf, size_t len, int max_depth, size_t *out_objects) {
  size_t consumed = 0;
  return mp_walk(buf, len, max_depth, &consumed, out_objects);
}

static int mp_walk(const uint8_t *buf, size_t len, int max_depth, size_t *out_consumed,
                   size_t *out_objects) {
  size_t objects = 0;
  /* pending[d] = objects still expected at depth d. */
  uint64_t pending[SM_MP_MAX_DEPTH + 1];
  int depth = 0;
  size_t pos = 0;
  if (max_depth < 0 || max_depth > SM_MP_MAX_DEPTH) {
    return SM_EINVAL;
  }
  pending[0] = 1;
  while (depth >= 0) {
    if (pending[depth] == 0) {
      depth--;
      continue;
    }
    pending[depth]--;
    objects++;
    if (pos >= len) {
      return SM_EMALFORMED;
    }
    uint8_t tag = buf[pos++];
    size_t avail = len - pos;
    uint64_t count = 0;  /* elements of a container opened by this tag */
    uint64_t skip = 0;   /* payload bytes of a string/bin/scalar */
    int is_container = 0;
    size_t payload = 0;
    if (tag <= 0x7f || tag >= 0xe0) {
      continue;
    } else if (tag >= 0x80 && tag <= 0x8f) {
      count = 2u * (tag & 0x0f);
      is_container = 1;
    } else if (tag >= 0x90 && tag <= 0x9f) {
      count = tag & 0x0f;
      is_container = 1;
    } else if (tag >= 0xa0 && tag <= 0xbf) {
      skip = tag & 0x1f;
    } else if (scalar_payload(tag, &payload)) {
      skip = payload;
    } else {
      size_t width = 0;
      int rc = 0;
      switch (tag) {
      case 0xc4: case 0xd9: width = 1; break;
      case 0xc5: case 0xda: case 0xdc: case 0xde: width = 2; break;
      case 0xc6: case 0xdb: case 0xdd: case 0xdf: width = 4; break;
      default:
        return SM_EMALFORMED; /* 0xc1, ext types: never used by seedmesh */
      }
      rc = read_len(buf + pos, avail, width, &count);
      if (rc < 0) {
        return rc;
      }
      pos += width;
      avail -= width;
      if (tag == 0xdc || tag == 0xdd) {
        is_container = 1;
      } else if (tag == 0xde || tag == 0xdf) {
        count *= 2;
        is_container = 1;
      } else {
        skip = count;
        count = 0;
      }
    }
    if (is_container) {
      if (count > avail) {
        return SM_EMALFORMED;
      }
      if (count > 0) {
        if (depth + 1 > max_depth) {
          return SM_ETOOBIG;
        }
        depth++;
        pending[depth] = count;
      }
    } else {
      if (skip > avail) {
        return SM_EMALFORMED;
      }
      pos += (size_t)skip;
    }
  }
  *out_consumed = pos;
  *out_objects = objects;
  return 0;
}

int sm_mp_unpack(const uint8_t *buf, size_t len, msgpack_zone *zone,
                 msgpack_object *out) {
  size_t consumed = 0;
  int rc = sm_mp_check(buf, len, SM_MP_MAX_DEPTH, &consumed);
  if (rc < 0) {
    return rc;
  }
  if (consumed != len) {
    return SM_EMALFORMED;
  }
  size_t off = 0;
  msgpack_unpack_return ur = msgpack_unpack((const char *)buf, len, &off, zone, out);
  if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
    return SM_ENOMEM;
  }
  if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
    return SM_EMALFORMED;
  }
  return 0;
}

int sm_mp_unpack_bounded(const uint8_t *buf, size_t len, size_t max_objects,
                         msgpack_zone *zone, msgpack_object *out) {
  size_t objects = 0;
  int rc = sm_mp_count(buf, len, SM_MP_MAX_DEPTH, &objects);
  if (rc < 0) {
    return rc;
  }
  if (objects > max_objects) {
    return SM_ETOOBIG;
  }
  return sm_mp_unpack(buf, len, zone, out);
}

const msgpack_object *sm_mp_map_get(const msgpack_object *map, const char *key) {
  if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
    return NULL;
  }
  size_t klen = strlen(key);
  for (uint32_t i = 0; i < map->via.map.size; i++) {
    const msgpack_object *k = &map->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
        memcmp(k->via.str.ptr, key, klen) == 0) {
      return &map->via.map.ptr[i].val;
    }
  }
  return NULL;
}

int sm_mp_u64(const msgpack_object *obj, uint64_t max, uint64_t *out) {
  if (obj == NULL || obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      obj->via.u64 > max) {
    return SM_EMALFORMED;
  }
  *out = obj->via.u64;
  return 0;
}

int sm_mp_str(const msgpack_object *obj, size_t max_len, const char **out_ptr,
              uint32_t *out_len) {
  if (obj == NULL || obj->type != MSGPACK_OBJECT_STR || obj->via.str.size > max_len) {
    return SM_EMALFORMED;
  }
  *out_ptr = obj->via.str.ptr;
  *out_len = obj->via.str.size;
  return 0;
}

int sm_mp_str_copy(const msgpack_object *obj, char *out, size_t out_size) {
  const char *p = NULL;
  uint32_t n = 0;
  if (out_size == 0) {
    return SM_EINVAL;
  }
  int rc = sm_mp_str(obj, out_size - 1, &p, &n);
  if (rc < 0) {
    return rc;
  }
  if (n > 0 && memchr(p, '\0', n) != NULL) { /* msgpack-c gives "" a NULL ptr */
    return SM_EMALFORMED;
  }
  if (n > 0) {
    memcpy(out, p, n);
  }
  out[n] = '\0';
  return 0;
}

int sm_mp_bin(const msgpack_object *obj, size_t max_len, const uint8_t **out_ptr,
              uint32_t *out_len) {
  if (obj == NULL || obj->type != MSGPACK_OBJECT_BIN || obj->via.bin.size > max_len) {
    return SM_EMALFORMED;
  }
  *out_ptr = (const uint8_t *)obj->via.bin.ptr;
  *out_len = obj->via.bin.size;
  return 0;
}

int sm_mp_bin_exact(const msgpack_object *obj, uint8_t *out, size_t len) {
  const uint8_t *p = NULL;
  uint32_t n = 0;
  int rc = sm_mp_bin(obj, len, &p, &n);
  if (rc < 0) {
    return rc;
  }
  if (n != len) {
    return SM_EMALFORMED;
  }
  memcpy(out, p, len);
  return 0;
}

int sm_mp_pack_cstr(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0) {
    return SM_ENOMEM;
  }
  return 0;
}

int sm_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len) {
  if (msgpack_pack_bin(pk, len) != 0 || msgpack_pack_bin_body(pk, p, len) != 0) {
    return SM_ENOMEM;
  }
  return 0;
}

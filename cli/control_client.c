/* control_client.c - talks to a running node over its control socket and
 * turns msgpack answers into JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/common.h"
#include "node/node.h"

const char *cli_control_path(const char *given) {
  if (given != NULL) {
    return given;
  }
  const char *env = getenv("SEEDMESH_CONTROL");
  return env != NULL && env[0] != '\0' ? env : NULL;
}

int cli_control_connect(const char *path, char *err, size_t err_size) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path)) {
    snprintf(err, err_size, "control socket path %s is too long", path);
    return -1;
  }
  memcpy(sa.sun_path, path, strlen(path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    snprintf(err, err_size, "cannot reach a node at %s: %s (is seedmesh node running with "
             "--control %s?)", path, strerror(errno), path);
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return fd;
}

int cli_control_call(int fd, const struct node_control_request *req, msgpack_zone *zone,
                     msgpack_object *out, uint8_t **out_buf, char *err, size_t err_size) {
  uint8_t *body = NULL;
  size_t len = 0;
  uint8_t head[4];
  *out_buf = NULL;
  if (node_control_request_encode(req, &body, &len) < 0) {
    snprintf(err, err_size, "cannot encode the request");
    return -1;
  }
  sm_store_be32(head, (uint32_t)len);
  int rc = sm_fd_write_all(fd, head, 4) == 0 && sm_fd_write_all(fd, body, len) == 0 ? 0 : -1;
  sm_free(body);
  if (rc == 0) {
    rc = sm_fd_read_exact(fd, head, 4);
  }
  uint32_t answer_len = rc == 0 ? sm_load_be32(head) : 0;
  if (rc < 0 || answer_len > NODE_CONTROL_ANSWER_MAX) {
    snprintf(err, err_size, "the node closed the control connection");
    return -1;
  }
  uint8_t *buf = sm_malloc(answer_len ? answer_len : 1);
  if (buf == NULL || sm_fd_read_exact(fd, buf, answer_len) < 0 ||
      sm_mp_unpack(buf, answer_len, zone, out) < 0 || out->type != MSGPACK_OBJECT_MAP) {
    sm_free(buf);
    snprintf(err, err_size, "the node sent a malformed answer");
    return -1;
  }
  *out_buf = buf;
  const msgpack_object *ok = sm_mp_map_get(out, "ok");
  if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean) {
    char msg[512] = "request refused";
    sm_mp_str_copy(sm_mp_map_get(out, "error"), msg, sizeof(msg));
    snprintf(err, err_size, "%s", msg);
    return -1;
  }
  return 0;
}

void cli_json_object(FILE *out, const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    fputs("null", out);
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    fputs(o->via.boolean ? "true" : "false", out);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    fprintf(out, "%llu", (unsigned long long)o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    fprintf(out, "%lld", (long long)o->via.i64);
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    fprintf(out, "%g", o->via.f64);
    break;
  case MSGPACK_OBJECT_STR: {
    char *s = sm_malloc(o->via.str.size + 1u);
    if (s != NULL) {
      memcpy(s, o->via.str.ptr, o->via.str.size);
      s[o->via.str.size] = '\0';
      cli_json_string(out, s);
      sm_free(s);
    }
    break;
  }
  case MSGPACK_OBJECT_ARRAY:
    fputc('[', out);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      if (i) {
        fputc(',', out);
      }
      cli_json_object(out, &o->via.array.ptr[i]);
    }
    fputc(']', out);
    break;
  case MSGPACK_OBJECT_MAP:
    fputc('{', out);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      if (i) {
        fputc(',', out);
      }
      cli_json_object(out, &o->via.map.ptr[i].key);
      fputc(':', out);
      cli_json_object(out, &o->via.map.ptr[i].val);
    }
    fputc('}', out);
    break;
  default:
    fputs("null", out);
    break;
  }
}

uint64_t cli_mp_u64(const msgpack_object *map, const char *key) {
  uint64_t v = 0;
  sm_mp_u64(sm_mp_map_get(map, key), UINT64_MAX, &v);
  return v;
}

void cli_mp_str(const msgpack_object *map, const char *key, char *out, size_t out_size) {
  out[0] = '\0';
  sm_mp_str_copy(sm_mp_map_get(map, key), out, out_size);
}

const msgpack_object *cli_status_transfer(const msgpack_object *status, const char *target) {
  const msgpack_object *ts = sm_mp_map_get(status, "transfers");
  if (ts == NULL || ts->type != MSGPACK_OBJECT_ARRAY) {
    return NULL;
  }
  for (uint32_t i = 0; i < ts->via.array.size; i++) {
    char t[4096];
    cli_mp_str(&ts->via.array.ptr[i], "target", t, sizeof(t));
    if (strcmp(t, target) == 0) {
      return &ts->via.array.ptr[i];
    }
  }
  return NULL;
}

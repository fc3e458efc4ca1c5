/* control.c - the control socket: a unix socket only the node's owner may
 * use, answering status, fetch, rate and shutdown requests. */
#include "node/node_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CLIENTS 32

struct control_client {
  uv_pipe_t pipe;
  struct node *node;
  uint8_t buf[4 + NODE_CONTROL_FRAME_MAX];
  size_t have;
  int index;
};

struct control_write {
  uv_write_t req;
  uint8_t *buf;
};

/* Clients live in the node's state (not globals): a small table. */
struct control_table {
  struct control_client *clients[MAX_CLIENTS];
};

static struct control_table *table_of(struct node *n) {
  return (struct control_table *)n->control.data_table;
}

static void client_closed(uv_handle_t *h) {
  struct control_client *c = h->data;
  struct control_table *tab = table_of(c->node);
  if (tab != NULL && tab->clients[c->index] == c) {
    tab->clients[c->index] = NULL;
  }
  sm_free(c);
}

static void client_close(struct control_client *c) {
  if (!uv_is_closing((uv_handle_t *)&c->pipe)) {
    uv_close((uv_handle_t *)&c->pipe, client_closed);
  }
}

void node__control_close_clients(struct node *n) {
  struct control_table *tab = table_of(n);
  if (tab == NULL) {
    return;
  }
  for (int i = 0; i < MAX_CLIENTS; i++) {
    if (tab->clients[i] != NULL) {
      client_close(tab->clients[i]);
    }
  }
}

static void on_written(uv_write_t *req, int status) {
  struct control_write *w = req->data;
  (void)status;
  sm_free(w->buf);
  sm_free(w);
}

static void reply(struct control_client *c, msgpack_sbuffer *sb) {
  struct control_write *w = sm_calloc(1, sizeof(*w));
  uint8_t *buf = sm_malloc(4 + sb->size);
  if (w == NULL || buf == NULL) {
    sm_free(w);
    sm_free(buf);
    client_close(c);
    return;
  }
  sm_store_be32(buf, (uint32_t)sb->size);
  memcpy(buf + 4, sb->data, sb->size);
  w->buf = buf;
  w->req.data = w;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)(4 + sb->size));
  if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
    sm_free(buf);
    sm_free(w);
    client_close(c);
  }
}

static void reply_error(struct control_client *c, const char *msg) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  sm_mp_pack_cstr(&pk, "ok");
  msgpack_pack_false(&pk);
  sm_mp_pack_cstr(&pk, "error");
  sm_mp_pack_cstr(&pk, msg);
  reply(c, &sb);
  msgpack_sbuffer_destroy(&sb);
}

static void reply_ok(struct control_client *c, const char *key, const char *value) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, key ? 2 : 1);
  sm_mp_pack_cstr(&pk, "ok");
  msgpack_pack_true(&pk);
  if (key != NULL) {
    sm_mp_pack_cstr(&pk, key);
    sm_mp_pack_cstr(&pk, value);
  }
  reply(c, &sb);
  msgpack_sbuffer_destroy(&sb);
}

static void handle(struct control_client *c, const uint8_t *body, size_t len) {
  struct node *n = c->node;
  struct node_control_request req;
  char err[512] = "";
  if (node_control_request_decode(body, len, &req) < 0) {
    reply_error(c, "malformed request: expected a map with op status|fetch|rate|shutdown|report|serve");
    return;
  }
  switch (req.op) {
  case NODE_CONTROL_STATUS: {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (node__status_pack(n, &pk) == 0) {
      reply(c, &sb);
    } else {
      reply_error(c, "cannot build the status");
    }
    msgpack_sbuffer_destroy(&sb);
    return;
  }
  case NODE_CONTROL_FETCH: {
    uint8_t id[CHUNKSTORE_ID_BYTES];
    int latest = strcmp(req.manifest, "latest") == 0;
    if (!latest) {
      sm_hex_decode(req.manifest, id, sizeof(id));
    }
    struct node__transfer *t = NULL;
    if (node__transfer_fetch(n, latest ? NULL : id, req.target, err, sizeof(err), &t) < 0) {
      reply_error(c, err);
      return;
    }
    reply_ok(c, "target", req.target);
    return;
  }
  case NODE_CONTROL_RATE: {
    uint64_t now = node__now(n);
    if (req.up >= 0) {
      node__bucket_set_rate(&n->up, (uint64_t)req.up, now);
    }
    if (req.down >= 0) {
      node__bucket_set_rate(&n->down, (uint64_t)req.down, now);
      node__reads_rate_changed(n);
    }
    sm_log(SM_LOG_INFO, "control", "bandwidth caps now up %llu B/s, down %llu B/s (0 = none)",
           (unsigned long long)n->up.rate, (unsigned long long)n->down.rate);
    reply_ok(c, NULL, NULL);
    return;
  }
  case NODE_CONTROL_REPORT:
    if (node__transfer_report(n, &req) < 0) {
      reply_error(c, "no fetch into that target on this node");
    } else {
      reply_ok(c, NULL, NULL);
    }
    return;
  case NODE_CONTROL_SERVE:
    if (node__transfer_serve(n, req.target, err, sizeof(err)) < 0) {
      reply_error(c, err);
    } else {
      reply_ok(c, "target", req.target);
    }
    return;
  case NODE_CONTROL_SHUTDOWN:
    reply_ok(c, NULL, NULL);
    node__stop(n);
    return;
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct control_client *c = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)c->buf + c->have, (unsigned)(sizeof(c->buf) - c->have));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct control_client *c = s->data;
  (void)buf;
  if (nread < 0) {
    client_close(c);
    return;
  }
  c->have += (size_t)nread;
  while (c->have >= 4) {
    uint32_t len = sm_load_be32(c->buf);
    if (len > NODE_CONTROL_FRAME_MAX) {
      reply_error(c, "request too large");
      client_close(c);
      return;
    }
    if (c->have < 4 + (size_t)len) {
      return;
    }
    handle(c, c->buf + 4, len);
    memmove(c->buf, c->buf + 4 + len, c->have - 4 - len);
    c->have -= 4 + len;
  }
}

static int peer_is_owner(uv_pipe_t *p) {
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return 0;
  }
  return cred.uid == getuid() || cred.uid == 0;
}

static void on_connection(uv_stream_t *server, int status) {
  struct node *n = server->data;
  struct control_table *tab = table_of(n);
  if (status < 0) {
    return;
  }
  int slot = -1;
  for (int i = 0; i < MAX_CLIENTS && slot < 0; i++) {
    if (tab->clients[i] == NULL) {
      slot = i;
    }
  }
  struct control_client *c = sm_calloc(1, sizeof(*c));
  if (c == NULL) {
    return;
  }
  c->node = n;
  c->index = slot < 0 ? 0 : slot;
  uv_pipe_init(&n->loop, &c->pipe, 0);
  c->pipe.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 || slot < 0 || !peer_is_owner(&c->pipe)) {
    sm_log(SM_LOG_WARN, "control", "refusing a control connection (%s)",
           slot < 0 ? "too many clients" : "not the node's owner");
    uv_close((uv_handle_t *)&c->pipe, client_closed);
    return;
  }
  tab->clients[slot] = c;
  uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read);
}

static void table_closed(uv_handle_t *h) {
  struct node *n = h->data;
  sm_free(n->control.data_table);
  n->control.data_table = NULL;
  node__handle_closed(h);
}

int node__control_start(struct node *n, char *err, size_t err_size) {
  if (n->cfg->control_path != NULL) {
    snprintf(n->control_path, sizeof(n->control_path), "%s", n->cfg->control_path);
  } else {
    snprintf(n->control_path, sizeof(n->control_path), "%s/control.sock", n->cfg->state_dir);
  }
  uv_pipe_init(&n->loop, &n->control.pipe, 0);
  n->control.pipe.data = n;
  n->handles_open++;
  n->control.data_table = sm_calloc(1, sizeof(struct control_table));
  if (n->control.data_table == NULL) {
    snprintf(err, err_size, "out of memory");
    return SM_ENOMEM;
  }
  unlink(n->control_path); /* a stale socket from a killed node */
  mode_t old = umask(0177);
  int rc = uv_pipe_bind(&n->control.pipe, n->control_path);
  umask(old);
  if (rc == 0) {
    chmod(n->control_path, 0600);
    rc = uv_listen((uv_stream_t *)&n->control.pipe, 16, on_connection);
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot open the control socket %s: %s", n->control_path,
             uv_strerror(rc));
    return rc;
  }
  return 0;
}

void node__control_stop(struct node *n) {
  if (n->control.pipe.data != n) {
    return; /* never started */
  }
  node__control_close_clients(n);
  if (!uv_is_closing((uv_handle_t *)&n->control.pipe)) {
    uv_close((uv_handle_t *)&n->control.pipe, table_closed);
  }
}

/* daemon.c - the node's lifecycle: load identity and trust, listen for peer
 * links, serve a store, open the control socket, tick the transfers, and shut
 * down cleanly on SIGTERM/SIGINT (every handle closed, everything freed). */
#include "node/node_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void node_config_default(struct node_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->linger_max_ms = 300000;
  cfg->linger_idle_ms = 1000;
}

uint64_t node__now(struct node *n) {
  return uv_now(&n->loop);
}

uint64_t node__wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void node__handle_closed(uv_handle_t *h) {
  struct node *n = h->data;
  n->handles_open--;
}

int node__record_by_addr(struct node *n, const char *addr) {
  for (int i = 0; i < NODE__MAX_RECORDS; i++) {
    if (n->records[i].used && n->records[i].has_addr && strcmp(n->records[i].addr, addr) == 0) {
      return i;
    }
  }
  return -1;
}

int node__record_by_key(struct node *n, const uint8_t *key) {
  for (int i = 0; i < NODE__MAX_RECORDS; i++) {
    if (n->records[i].used && n->records[i].has_key &&
        memcmp(n->records[i].key, key, SM_PUBKEY_BYTES) == 0) {
      return i;
    }
  }
  return -1;
}

int node__record_new(struct node *n) {
  for (int i = 0; i < NODE__MAX_RECORDS; i++) {
    if (!n->records[i].used) {
      memset(&n->records[i], 0, sizeof(n->records[i]));
      n->records[i].used = 1;
      return i;
    }
  }
  return SM_EFULL;
}

/* Parses "host:port" or "[v6]:port" into a socket address. Host names other
 * than "localhost" must be numeric (no DNS in the daemon's hot path). */
int node__parse_addr(const char *text, struct sockaddr_storage *out) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (colon == NULL || (size_t)(colon - text) >= sizeof(host) || colon == text) {
    return SM_EINVAL;
  }
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    return SM_EINVAL;
  }
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host) - 2);
    host[strlen(host) - 2] = '\0';
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0 ? 0 : SM_EINVAL;
  }
  if (strcmp(host, "localhost") == 0) {
    snprintf(host, sizeof(host), "127.0.0.1");
  }
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) {
    return 0;
  }
  return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0 ? 0 : SM_EINVAL;
}


static void on_connection(uv_stream_t *server, int status) {
  struct node *n = server->data;
  if (status < 0) {
    sm_log(SM_LOG_WARN, "node", "accept failed: %s", uv_strerror(status));
    return;
  }
  node__link_accept(n);
}

static void on_tick(uv_timer_t *t) {
  struct node *n = t->data;
  uint64_t now = node__now(n);
  node__links_tick(n, now);
  node__cluster_tick(n, now);
  node__metrics_tick(n, now);
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    if (n->transfers[i].used) {
      node__transfer_tick(&n->transfers[i], now);
    }
  }
}

static void close_if_open(struct node *n, uv_handle_t *h) {
  if (h->data == n && !uv_is_closing(h)) {
    uv_close(h, node__handle_closed);
  }
}

void node__stop(struct node *n) {
  if (n->stopping) {
    return;
  }
  n->stopping = 1;
  sm_log(SM_LOG_INFO, "node", "shutting down");
  node__cluster_stop(n);
  for (int i = 0; i < NODE__MAX_LINKS; i++) {
    if (n->links[i] != NULL) {
      node__link_close(n->links[i], "node shutting down");
    }
  }
  close_if_open(n, (uv_handle_t *)&n->listener);
  node__control_stop(n);
  node__metrics_stop(n);
  close_if_open(n, (uv_handle_t *)&n->tick);
  close_if_open(n, (uv_handle_t *)&n->resume_read);
  close_if_open(n, (uv_handle_t *)&n->sigterm);
  close_if_open(n, (uv_handle_t *)&n->sigint);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct node *n = s->data;
  sm_log(SM_LOG_INFO, "node", "received signal %d", signum);
  node__stop(n);
}

static int start_handles(struct node *n, char *err, size_t err_size) {
  struct sockaddr_storage addr;
  int rc = node__parse_addr(n->cfg->listen, &addr);
  if (rc < 0) {
    snprintf(err, err_size, "--listen %s is not HOST:PORT (e.g. 127.0.0.1:7400)", n->cfg->listen);
    return rc;
  }
  uv_tcp_init(&n->loop, &n->listener);
  n->listener.data = n;
  n->handles_open++;
  rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) {
    rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
  }
  if (rc < 0) {
    snprintf(err, err_size, "cannot listen on %s: %s (is another node using the port?)",
             n->cfg->listen, uv_strerror(rc));
    return rc;
  }
  snprintf(n->listen_addr, sizeof(n->listen_addr), "%s", n->cfg->listen);
  rc = node__cluster_start(n, &addr, err, err_size);
  if (rc < 0) {
    return rc;
  }
  uv_timer_init(&n->loop, &n->tick);
  n->tick.data = n;
  n->handles_open++;
  uv_timer_start(&n->tick, on_tick, NODE__TICK_MS, NODE__TICK_MS);
  uv_timer_init(&n->loop, &n->resume_read);
  n->resume_read.data = n;
  n->handles_open++;
  uv_signal_init(&n->loop, &n->sigterm);
  n->sigterm.data = n;
  n->handles_open++;
  uv_signal_start(&n->sigterm, on_signal, SIGTERM);
  uv_signal_init(&n->loop, &n->sigint);
  n->sigint.data = n;
  n->handles_open++;
  uv_signal_start(&n->sigint, on_signal, SIGINT);
  return 0;
}

static int load_identity(struct node *n, char *err, size_t err_size) {
  int rc = sm_identity_load(n->cfg->key_path, &n->identity);
  if (rc < 0) {
    snprintf(err, err_size, "cannot load key %s: %s%s", n->cfg->key_path, sm_strerror(rc),
             rc == SM_EINVAL ? " (chmod 600 it)" : "");
    return rc;
  }
  size_t bad_line = 0;
  rc = sm_trust_load(n->cfg->trust_path, &n->trust, &bad_line);
  if (rc < 0) {
    if (bad_line) {
      snprintf(err, err_size, "trust file %s line %zu is not '<64 hex digits> [name]'",
               n->cfg->trust_path, bad_line);
    } else {
      snprintf(err, err_size, "cannot read trust file %s: %s", n->cfg->trust_path,
               sm_strerror(rc));
    }
    return rc;
  }
  return 0;
}

static int add_static_peers(struct node *n, char *err, size_t err_size) {
  for (size_t i = 0; i < n->cfg->n_peers; i++) {
    struct sockaddr_storage addr;
    if (node__parse_addr(n->cfg->peers[i], &addr) < 0) {
      snprintf(err, err_size, "--peers entry '%s' is not HOST:PORT", n->cfg->peers[i]);
      return SM_EINVAL;
    }
    if (strcmp(n->cfg->peers[i], n->cfg->listen) == 0 ||
        node__record_by_addr(n, n->cfg->peers[i]) >= 0) {
      continue; /* ourselves, or listed twice */
    }
    int h = node__record_new(n);
    if (h < 0) {
      snprintf(err, err_size, "too many peers (max %d)", NODE__MAX_RECORDS);
      return h;
    }
    n->records[h].has_addr = 1;
    snprintf(n->records[h].addr, sizeof(n->records[h].addr), "%s", n->cfg->peers[i]);
  }
  return 0;
}

int node_run(const struct node_config *cfg, char *out_error) {
  struct node *n = sm_calloc(1, sizeof(*n));
  char err[512] = "";
  int rc = 0;
  if (n == NULL) {
    snprintf(out_error, 512, "out of memory");
    return SM_ENOMEM;
  }
  n->cfg = cfg;
  /* A peer that closes while we write must cost an EPIPE, not the process. */
  signal(SIGPIPE, SIG_IGN);
  rc = uv_loop_init(&n->loop);
  if (rc < 0) {
    sm_free(n);
    snprintf(out_error, 512, "cannot start the event loop: %s", uv_strerror(rc));
    return rc;
  }
  n->started_ms = uv_now(&n->loop);
  n->wall_started_ms = node__wall_ms();
  node__bucket_init(&n->up, cfg->max_up_bps, n->started_ms);
  node__bucket_init(&n->down, cfg->max_down_bps, n->started_ms);
  rc = sm_fs_mkdir_p(cfg->state_dir, 0700);
  if (rc < 0) {
    snprintf(err, sizeof(err), "cannot create state directory %s: %s", cfg->state_dir,
             sm_strerror(rc));
    goto out;
  }
  rc = load_identity(n, err, sizeof(err));
  if (rc == 0) {
    rc = add_static_peers(n, err, sizeof(err));
  }
  if (rc == 0) {
    rc = start_handles(n, err, sizeof(err));
  }
  if (rc == 0) {
    rc = node__control_start(n, err, sizeof(err));
  }
  if (rc == 0) {
    rc = node__metrics_start(n, err, sizeof(err));
  }
  if (rc == 0 && cfg->serve_store != NULL) {
    rc = node__transfer_serve(n, cfg->serve_store, err, sizeof(err));
  }
  if (rc == 0) {
    char hex[2 * SM_PUBKEY_BYTES + 1];
    sm_hex_encode(n->identity.public_key, SM_PUBKEY_BYTES, hex);
    sm_log(SM_LOG_INFO, "node", "node %.16s listening on %s, control %s", hex, cfg->listen,
           n->control_path);
    uv_run(&n->loop, UV_RUN_DEFAULT);
  } else {
    node__stop(n);
  }
out:
  if (!n->stopping) {
    node__stop(n);
  }
  /* Let every close callback and work-queue job finish. */
  while (uv_run(&n->loop, UV_RUN_DEFAULT) != 0) {
  }
  for (int i = 0; i < NODE__MAX_TRANSFERS; i++) {
    if (n->transfers[i].used) {
      node__transfer_free(&n->transfers[i]);
    }
  }
  gossip_free(n->gossip);
  n->gossip = NULL;
  if (n->control_path[0] != '\0') {
    unlink(n->control_path);
  }
  uv_loop_close(&n->loop);
  sm_trust_cleanup(&n->trust);
  sm_identity_cleanup(&n->identity);
  sm_free(n);
  if (rc < 0) {
    snprintf(out_error, 512, "%s", err[0] ? err : sm_strerror(rc));
  }
  return rc;
}

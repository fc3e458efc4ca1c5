/* cmd_status.c - seedmesh status: what a node is doing, as a table in the
 * style of performance_schema.clone_progress, or as JSON. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/common.h"
#include "node/node.h"

static void status_usage(FILE *out) {
  fprintf(out,
          "usage: seedmesh status [--control PATH] [--cluster] [--json] [--watch]\n\n"
          "Shows the node's transfers: one row per stage (STAGE, STATE, BEGIN, END, PEERS,\n"
          "ESTIMATE, DATA, NETWORK, DATA_SPEED, NETWORK_SPEED) like clone_progress, the\n"
          "replication coordinates of each snapshot like clone_status, and its peers.\n"
          "  --cluster one row per node of the cluster (from gossip): stage, progress, speed\n"
          "  --json    the node's whole status as one JSON object (schema: docs/cli.md)\n"
          "  --watch   refresh every second until interrupted\n\n"
          "example:\n  seedmesh status --control /var/lib/seedmesh/control.sock\n");
}

static void fmt_time(uint64_t ms, char *out, size_t size) {
  if (ms == 0) {
    snprintf(out, size, "-");
    return;
  }
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&s, &tm);
  strftime(out, size, "%H:%M:%S", &tm);
}

static void print_transfer(const msgpack_object *t) {
  char manifest[80], role[16], state[16], target[4096], error[512];
  char have[32], total[32];
  cli_mp_str(t, "manifest", manifest, sizeof(manifest));
  cli_mp_str(t, "role", role, sizeof(role));
  cli_mp_str(t, "state", state, sizeof(state));
  cli_mp_str(t, "target", target, sizeof(target));
  cli_mp_str(t, "error", error, sizeof(error));
  uint64_t bt = cli_mp_u64(t, "bytes_total");
  uint64_t bh = cli_mp_u64(t, "bytes_have");
  sm_format_bytes(bh, have, sizeof(have));
  sm_format_bytes(bt, total, sizeof(total));
  printf("\nSOURCE   %s %s (%s)\nMANIFEST %.16s...  STATE %s  %llu/%llu chunks  %s / %s\n",
         role, target, strcmp(role, "donor") == 0 ? "serving" : "fetching", manifest, state,
         (unsigned long long)cli_mp_u64(t, "chunks_have"),
         (unsigned long long)cli_mp_u64(t, "chunks_total"), have, total);
  if (error[0]) {
    printf("ERROR    %s\n", error);
  }
  uint64_t unavailable = cli_mp_u64(t, "chunks_unavailable");
  if (unavailable > 0) {
    printf("WAITING  %llu chunks are on no connected peer, or refused by every peer that has "
           "them (is the donor down? is a chunk damaged in its store? see its log)\n",
           (unsigned long long)unavailable);
  }
  const msgpack_object *coords = sm_mp_map_get(t, "coords");
  if (coords != NULL && coords->type == MSGPACK_OBJECT_MAP && coords->via.map.size > 0) {
    for (uint32_t i = 0; i < coords->via.map.size; i++) {
      char k[80], v[1024];
      k[0] = v[0] = '\0';
      sm_mp_str_copy(&coords->via.map.ptr[i].key, k, sizeof(k));
      sm_mp_str_copy(&coords->via.map.ptr[i].val, v, sizeof(v));
      printf("%-8s %s\n", k, v);
    }
  }
  printf("%-9s %-12s %-9s %-9s %5s %11s %11s %11s %12s %13s\n", "STAGE", "STATE", "BEGIN", "END",
         "PEERS", "ESTIMATE", "DATA", "NETWORK", "DATA_SPEED", "NETWORK_SPEED");
  const msgpack_object *stages = sm_mp_map_get(t, "stages");
  for (uint32_t i = 0; stages && stages->type == MSGPACK_OBJECT_ARRAY && i < stages->via.array.size; i++) {
    const msgpack_object *s = &stages->via.array.ptr[i];
    char name[16], st[16], b[16], e[16], est[32], data[32], net[32], ds[32], ns[32];
    cli_mp_str(s, "stage", name, sizeof(name));
    cli_mp_str(s, "state", st, sizeof(st));
    fmt_time(cli_mp_u64(s, "begin_ms"), b, sizeof(b));
    fmt_time(cli_mp_u64(s, "end_ms"), e, sizeof(e));
    sm_format_bytes(cli_mp_u64(s, "estimate"), est, sizeof(est));
    sm_format_bytes(cli_mp_u64(s, "data"), data, sizeof(data));
    sm_format_bytes(cli_mp_u64(s, "network"), net, sizeof(net));
    sm_format_bytes(cli_mp_u64(s, "data_speed"), ds, sizeof(ds));
    sm_format_bytes(cli_mp_u64(s, "network_speed"), ns, sizeof(ns));
    printf("%-9s %-12s %-9s %-9s %5llu %11s %11s %11s %10s/s %11s/s\n", name, st, b, e,
           (unsigned long long)cli_mp_u64(s, "peers"), est, data, net, ds, ns);
  }
  const msgpack_object *peers = sm_mp_map_get(t, "peers");
  if (peers != NULL && peers->type == MSGPACK_OBJECT_ARRAY && peers->via.array.size > 0) {
    printf("%-18s %-22s %8s %11s %11s %11s\n", "PEER", "ADDRESS", "CHUNKS", "RATE", "DOWN", "UP");
    for (uint32_t i = 0; i < peers->via.array.size; i++) {
      const msgpack_object *p = &peers->via.array.ptr[i];
      char key[80], addr[64], rate[32], down[32], up[32];
      cli_mp_str(p, "key", key, sizeof(key));
      cli_mp_str(p, "addr", addr, sizeof(addr));
      sm_format_bytes(cli_mp_u64(p, "rate"), rate, sizeof(rate));
      sm_format_bytes(cli_mp_u64(p, "down"), down, sizeof(down));
      sm_format_bytes(cli_mp_u64(p, "up"), up, sizeof(up));
      const msgpack_object *donor = sm_mp_map_get(p, "donor");
      int is_donor = donor && donor->type == MSGPACK_OBJECT_BOOLEAN && donor->via.boolean;
      printf("%.16s%-2s %-22s %8llu %9s/s %11s %11s\n", key, is_donor ? " D" : "",
             addr[0] ? addr : "(inbound)", (unsigned long long)cli_mp_u64(p, "chunks"), rate, down, up);
    }
  }
}

static void print_cluster(const msgpack_object *ans) {
  const msgpack_object *members = sm_mp_map_get(ans, "cluster");
  printf("%-18s %-22s %-8s %-9s %-10s %7s %11s %13s %11s\n", "NODE", "ADDRESS", "STATUS", "ROLE",
         "STAGE", "PERCENT", "DATA", "DOWN_SPEED", "UP");
  for (uint32_t i = 0; members && members->type == MSGPACK_OBJECT_ARRAY &&
                       i < members->via.array.size; i++) {
    const msgpack_object *m = &members->via.array.ptr[i];
    const msgpack_object *p = sm_mp_map_get(m, "progress");
    char key[80], addr[64], status[16], role[16] = "-", stage[16] = "-";
    char data[32] = "-", down[32] = "-", up[32] = "-", pct[16] = "-";
    cli_mp_str(m, "key", key, sizeof(key));
    cli_mp_str(m, "addr", addr, sizeof(addr));
    cli_mp_str(m, "status", status, sizeof(status));
    if (p != NULL && p->type == MSGPACK_OBJECT_MAP) {
      uint64_t bh = cli_mp_u64(p, "bytes_have");
      uint64_t bt = cli_mp_u64(p, "bytes_total");
      cli_mp_str(p, "role", role, sizeof(role));
      cli_mp_str(p, "stage", stage, sizeof(stage));
      snprintf(pct, sizeof(pct), "%.1f%%", bt ? 100.0 * (double)bh / (double)bt : 0.0);
      sm_format_bytes(bh, data, sizeof(data));
      sm_format_bytes(cli_mp_u64(p, "down_speed"), down, sizeof(down));
      strncat(down, "/s", sizeof(down) - strlen(down) - 1);
      sm_format_bytes(cli_mp_u64(p, "bytes_up"), up, sizeof(up));
    }
    const msgpack_object *self = sm_mp_map_get(m, "self");
    int is_self = self && self->type == MSGPACK_OBJECT_BOOLEAN && self->via.boolean;
    printf("%.16s%-2s %-22s %-8s %-9s %-10s %7s %11s %13s %11s\n", key, is_self ? " *" : "", addr,
           status, role, stage, pct, data, down, up);
  }
}

static void print_status(const msgpack_object *ans) {
  const msgpack_object *node = sm_mp_map_get(ans, "node");
  char key[80], listen[64];
  cli_mp_str(node, "key", key, sizeof(key));
  cli_mp_str(node, "listen", listen, sizeof(listen));
  printf("NODE     %.16s...  listen %s  links %llu  bans %llu  up %llus\n", key, listen,
         (unsigned long long)cli_mp_u64(node, "links"), (unsigned long long)cli_mp_u64(node, "bans"),
         (unsigned long long)(cli_mp_u64(node, "uptime_ms") / 1000));
  const msgpack_object *ts = sm_mp_map_get(ans, "transfers");
  for (uint32_t i = 0; ts && ts->type == MSGPACK_OBJECT_ARRAY && i < ts->via.array.size; i++) {
    print_transfer(&ts->via.array.ptr[i]);
  }
}

int cli_cmd_status(int argc, char **argv) {
  static const struct option options[] = {
      {"control", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
      {"watch", no_argument, NULL, 'w'},         {"help", no_argument, NULL, 'h'},
      {"cluster", no_argument, NULL, 'C'},
      {NULL, 0, NULL, 0},
  };
  const char *control = NULL;
  int json = 0;
  int watch = 0;
  int cluster = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'c': control = optarg; break;
    case 'j': json = 1; break;
    case 'w': watch = 1; break;
    case 'C': cluster = 1; break;
    case 'h': status_usage(stdout); return CLI_EXIT_OK;
    default:
      return cli_fail_option("status", argv);
    }
  }
  control = cli_control_path(control);
  if (control == NULL) {
    return cli_fail(CLI_EXIT_USAGE, "status", "--control PATH (or SEEDMESH_CONTROL) is required");
  }
  char err[600];
  int fd = cli_control_connect(control, err, sizeof(err));
  if (fd < 0) {
    return cli_fail(CLI_EXIT_FAILURE, "status", "%s", err);
  }
  int tty = isatty(STDOUT_FILENO);
  do {
    struct node_control_request req = {.op = NODE_CONTROL_STATUS};
    msgpack_zone zone;
    msgpack_object ans;
    uint8_t *buf = NULL;
    msgpack_zone_init(&zone, 65536);
    if (cli_control_call(fd, &req, &zone, &ans, &buf, err, sizeof(err)) < 0) {
      msgpack_zone_destroy(&zone);
      close(fd);
      return cli_fail(CLI_EXIT_FAILURE, "status", "%s", err);
    }
    if (watch && tty && !json) {
      printf("\033[H\033[2J");
    }
    if (json) {
      cli_json_object(stdout, cluster ? sm_mp_map_get(&ans, "cluster") : &ans);
      putchar('\n');
    } else if (cluster) {
      print_cluster(&ans);
    } else {
      print_status(&ans);
    }
    fflush(stdout);
    msgpack_zone_destroy(&zone);
    sm_free(buf);
    if (watch) {
      sleep(1);
    }
  } while (watch);
  close(fd);
  return CLI_EXIT_OK;
}

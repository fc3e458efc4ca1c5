/* main.c - seedmesh-sim: command-line front end of the swarm simulator.
 * Parses a scenario, runs it, prints the summary (text or JSON) and
 * optionally a per-node CSV. Options: docs/simulation.md or --help. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "sim/sim.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: seedmesh-sim [options]\n"
          "  --nodes N            recipients (10)\n"
          "  --size BYTES         snapshot size F (1Gi)\n"
          "  --chunk BYTES        chunk size (4Mi)\n"
          "  --up RATE --down RATE  per recipient, bytes/s (125M = 1 Gbit/s)\n"
          "  --donor-up RATE --donor-down RATE  (default: --up / --down)\n"
          "  --latency MS         one-way latency of every link (1)\n"
          "  --loss P             control-message loss probability (0)\n"
          "  --slow-fraction F --slow-factor K  share of nodes at 1/K rates\n"
          "  --churn P            share of recipients that leave once ...\n"
          "  --churn-down S       ... for S seconds (10)\n"
          "  --donor-fail-at S    the donor dies at S seconds\n"
          "  --late-join C@S      C more recipients join at S seconds\n"
          "  --seed S             (1); same seed => identical output\n"
          "  --time-limit S       give up after S virtual seconds (3600)\n"
          "  --tick MS --max-peers N --upload-slots N  core settings\n"
          "  --csv FILE           one row per recipient\n"
          "  --json               summary as one JSON object\n"
          "  --exact-share        exact global max-min bandwidth sharing (slow;\n"
          "                       validates the default local model)\n"
          "  --gossip             membership from a real gossip core per node\n"
          "                       (recipients start knowing only the donor)\n"
          "sizes/rates take K M G T (x1000) or Ki Mi Gi Ti (x1024)\n");
}

static int parse_num(const char *name, const char *v, double *out) {
  if (sim_size_parse(v, out) != 0) {
    fprintf(stderr, "seedmesh-sim: bad value for --%s: %s\n", name, v);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  enum {
    O_NODES = 256, O_SIZE, O_CHUNK, O_UP, O_DOWN, O_DUP, O_DDOWN, O_LAT,
    O_LOSS, O_SLOWF, O_SLOWK, O_CHURN, O_CHURND, O_DFAIL, O_LATE, O_SEED,
    O_LIMIT, O_TICK, O_PEERS, O_SLOTS, O_CSV, O_JSON, O_EXACT, O_GOSSIP, O_HELP,
  };
  static const struct option opts[] = {
      {"nodes", required_argument, NULL, O_NODES},
      {"size", required_argument, NULL, O_SIZE},
      {"chunk", required_argument, NULL, O_CHUNK},
      {"up", required_argument, NULL, O_UP},
      {"down", required_argument, NULL, O_DOWN},
      {"donor-up", required_argument, NULL, O_DUP},
      {"donor-down", required_argument, NULL, O_DDOWN},
      {"latency", required_argument, NULL, O_LAT},
      {"loss", required_argument, NULL, O_LOSS},
      {"slow-fraction", required_argument, NULL, O_SLOWF},
      {"slow-factor", required_argument, NULL, O_SLOWK},
      {"churn", required_argument, NULL, O_CHURN},
      {"churn-down", required_argument, NULL, O_CHURND},
      {"donor-fail-at", required_argument, NULL, O_DFAIL},
      {"late-join", required_argument, NULL, O_LATE},
      {"seed", required_argument, NULL, O_SEED},
      {"time-limit", required_argument, NULL, O_LIMIT},
      {"tick", required_argument, NULL, O_TICK},
      {"max-peers", required_argument, NULL, O_PEERS},
      {"upload-slots", required_argument, NULL, O_SLOTS},
      {"csv", required_argument, NULL, O_CSV},
      {"json", no_argument, NULL, O_JSON},
      {"exact-share", no_argument, NULL, O_EXACT},
      {"gossip", no_argument, NULL, O_GOSSIP},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0},
  };
  struct sim_config cfg;
  struct sim_result res;
  struct sim *s = NULL;
  const char *csv = NULL;
  int json = 0;
  int dup_set = 0;
  int ddown_set = 0;
  int ret = 2;
  double v = 0.0;
  sim_config_default(&cfg);
  for (;;) {
    int c = getopt_long(argc, argv, "", opts, NULL);
    if (c == -1) {
      break;
    }
    const char *name = c >= O_NODES && c <= O_HELP ? opts[c - O_NODES].name : "?";
    if (c == O_HELP) {
      usage(stdout);
      return 0;
    }
    if (c == O_EXACT) {
      cfg.exact_share = 1;
      continue;
    }
    if (c == O_GOSSIP) {
      cfg.gossip = 1;
      continue;
    }
    if (c == O_JSON) {
      json = 1;
      continue;
    }
    if (c == O_CSV) {
      csv = optarg;
      continue;
    }
    if (c == O_LATE) {
      unsigned count = 0;
      double at = 0.0;
      if (sscanf(optarg, "%u@%lf", &count, &at) != 2 || at < 0.0) {
        fprintf(stderr, "seedmesh-sim: --late-join wants COUNT@SECONDS\n");
        goto out;
      }
      cfg.late_count = count;
      cfg.late_at = at;
      continue;
    }
    if (c == '?' || parse_num(name, optarg, &v) != 0) {
      usage(stderr);
      goto out;
    }
    switch (c) {
    case O_NODES: cfg.nodes = (uint32_t)v; break;
    case O_SIZE: cfg.size = (uint64_t)v; break;
    case O_CHUNK: cfg.chunk = (uint32_t)v; break;
    case O_UP: cfg.up = v; break;
    case O_DOWN: cfg.down = v; break;
    case O_DUP: cfg.donor_up = v; dup_set = 1; break;
    case O_DDOWN: cfg.donor_down = v; ddown_set = 1; break;
    case O_LAT: cfg.latency_ms = v; break;
    case O_LOSS: cfg.loss = v; break;
    case O_SLOWF: cfg.slow_fraction = v; break;
    case O_SLOWK: cfg.slow_factor = v; break;
    case O_CHURN: cfg.churn = v; break;
    case O_CHURND: cfg.churn_down_s = v; break;
    case O_DFAIL: cfg.donor_fail_at = v; break;
    case O_SEED: cfg.seed = (uint64_t)v; break;
    case O_LIMIT: cfg.time_limit_s = v; break;
    case O_TICK: cfg.tick_ms = (uint32_t)v; break;
    case O_PEERS: cfg.max_peers = (uint32_t)v; break;
    case O_SLOTS: cfg.upload_slots = (uint32_t)v; break;
    default: usage(stderr); goto out;
    }
  }
  if (!dup_set) {
    cfg.donor_up = cfg.up;
  }
  if (!ddown_set) {
    cfg.donor_down = cfg.down;
  }
  int rc = sim_new(&cfg, &s);
  if (rc != 0) {
    fprintf(stderr, "seedmesh-sim: %s\n", sm_strerror(rc));
    goto out;
  }
  rc = sim_run(s, &res);
  sim_report_print(&cfg, &res, json, stdout);
  if (csv != NULL && sim_report_csv(s, csv) != 0) {
    fprintf(stderr, "seedmesh-sim: cannot write %s\n", csv);
    goto out;
  }
  if (rc != 0) {
    fprintf(stderr, "seedmesh-sim: run incomplete: %s\n", sm_strerror(rc));
    ret = 1;
    goto out;
  }
  ret = 0;
out:
  sim_free(s);
  return ret;
}

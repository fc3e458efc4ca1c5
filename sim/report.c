/* report.c - the simulator's outputs: the run summary (gathered from the
 * nodes, printed as text or JSON: completion percentiles against the fluid
 * bound and the donor-only baseline, gossip figures with --gossip), the
 * per-node CSV, and the size/rate parser for options. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "sim/sim_internal.h"

int sim_size_parse(const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || errno != 0 || !(v >= 0.0) || isinf(v)) {
    return SM_EINVAL;
  }
  double mul = 1.0;
  const char *units = "KMGT";
  const char *u = *end != '\0' ? strchr(units, *end) : NULL;
  if (u != NULL) {
    int pow = (int)(u - units) + 1;
    double base = 1000.0;
    end++;
    if (*end == 'i') {
      base = 1024.0;
      end++;
    }
    for (int i = 0; i < pow; i++) {
      mul *= base;
    }
  }
  if (*end == 'B') {
    end++;
  }
  if (*end != '\0') {
    return SM_EINVAL;
  }
  *out = v * mul;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void sim__summarize(const struct sim *s, struct sim_result *r) {
  memset(r, 0, sizeof(*r));
  uint32_t nr = s->nn - 1;
  double *t = sm_calloc(nr + 1, sizeof(*t));
  uint32_t nt = 0;
  r->recipients = nr;
  r->end_s = (double)s->now / 1e6;
  for (uint32_t k = 1; k < s->nn; k++) {
    struct sim__node *nd = &s->node[k];
    struct sim_node_result *x = &s->res[k];
    x->slow = nd->slow;
    x->complete = nd->complete;
    x->completion_s = nd->complete ? (double)nd->complete_us / 1e6 : -1.0;
    x->join_s = (double)nd->join_us / 1e6;
    x->bytes_down = nd->bytes_down;
    x->bytes_up = nd->bytes_up;
    x->from_donor = nd->from_donor;
    x->chunks = nd->have;
    r->slow += (uint32_t)nd->slow;
    r->bytes_moved += nd->bytes_up;
    r->bytes_wasted += nd->wasted;
    if (nd->complete) {
      r->complete++;
      if (t != NULL) {
        t[nt++] = x->completion_s;
      }
      if (!nd->slow) {
        r->fast_max_s = fmax(r->fast_max_s, x->completion_s);
      }
    }
  }
  r->bytes_moved += s->node[0].bytes_up;
  r->donor_up = s->node[0].bytes_up;
  if (nt > 0) {
    qsort(t, nt, sizeof(*t), cmp_double);
    r->p50_s = t[(nt - 1) / 2];
    r->p99_s = t[(size_t)ceil(0.99 * nt) - 1];
    r->max_s = t[nt - 1];
  }
  sm_free(t);
  r->t_min_s = sim__bound_s(s, 0);
  r->t_min_fast_s = sim__bound_s(s, 1);
  r->baseline_s = (double)nr * (double)s->cfg.size / (s->node[0].up * 1e6);
  for (uint32_t c = 0; c < s->n; c++) {
    uint32_t k = 0;
    while (k < s->nn && !(s->node[k].up_now && s->node[k].truth[c])) {
      k++;
    }
    r->chunks_lost += (k == s->nn) ? 1u : 0u;
  }
  r->events = s->events;
  r->flow_updates = s->flow_updates;
  r->max_util = s->max_util;
  if (s->gl != NULL) {
    sim__gossip_summarize(s, r);
  }
}

static double ratio(double a, double b) {
  return b > 0.0 ? a / b : 0.0;
}

void sim_report_print(const struct sim_config *cfg, const struct sim_result *r,
                      int json, FILE *f) {
  double F = (double)cfg->size;
  double donor_x = ratio((double)r->donor_up, F);
  if (json) {
    fprintf(f,
            "{\"seed\":%llu,\"recipients\":%u,\"complete\":%u,\"slow\":%u,"
            "\"size\":%llu,\"chunk\":%u,\"up\":%.0f,\"down\":%.0f,"
            "\"donor_up\":%.0f,\"latency_ms\":%g,\"loss\":%g,"
            "\"end_s\":%.3f,\"p50_s\":%.3f,\"p99_s\":%.3f,\"max_s\":%.3f,"
            "\"t_min_s\":%.3f,\"baseline_s\":%.3f,\"max_over_t_min\":%.4f,"
            "\"p50_over_t_min\":%.4f,\"fast_max_s\":%.3f,"
            "\"t_min_fast_s\":%.3f,\"fast_max_over_t_min_fast\":%.4f,"
            "\"donor_up_bytes\":%llu,\"donor_up_over_f\":%.4f,"
            "\"bytes_moved\":%llu,\"bytes_wasted\":%llu,\"events\":%llu,"
            "\"flow_updates\":%llu,\"chunks_lost\":%u",
            (unsigned long long)cfg->seed, r->recipients, r->complete, r->slow,
            (unsigned long long)cfg->size, cfg->chunk, cfg->up, cfg->down,
            cfg->donor_up, cfg->latency_ms, cfg->loss, r->end_s, r->p50_s,
            r->p99_s, r->max_s, r->t_min_s, r->baseline_s,
            ratio(r->max_s, r->t_min_s), ratio(r->p50_s, r->t_min_s),
            r->fast_max_s, r->t_min_fast_s,
            ratio(r->fast_max_s, r->t_min_fast_s),
            (unsigned long long)r->donor_up, donor_x,
            (unsigned long long)r->bytes_moved,
            (unsigned long long)r->bytes_wasted,
            (unsigned long long)r->events,
            (unsigned long long)r->flow_updates, r->chunks_lost);
    if (cfg->gossip) {
      fprintf(f,
              ",\"gossip\":1,\"members_s\":%.3f,\"donor_dead_s\":%.3f,"
              "\"gossip_datagrams\":%llu,\"gossip_bytes\":%llu,"
              "\"gossip_lost\":%llu,\"gossip_streams\":%llu,"
              "\"gossip_stream_bytes\":%llu",
              r->members_s, r->donor_dead_s,
              (unsigned long long)r->gossip_datagrams,
              (unsigned long long)r->gossip_bytes,
              (unsigned long long)r->gossip_lost,
              (unsigned long long)r->gossip_streams,
              (unsigned long long)r->gossip_stream_bytes);
    }
    fprintf(f, "}\n");
    return;
  }
  fprintf(f, "seedmesh-sim seed=%llu\n", (unsigned long long)cfg->seed);
  fprintf(f,
          "scenario: %u recipients (%u slow at 1/%g), F=%.3f GiB in %u-byte "
          "chunks, up %.0f B/s, down %.0f B/s, donor up %.0f B/s, latency "
          "%g ms, loss %g\n",
          r->recipients, r->slow, cfg->slow_factor, F / 1073741824.0,
          cfg->chunk, cfg->up, cfg->down, cfg->donor_up, cfg->latency_ms,
          cfg->loss);
  fprintf(f, "complete: %u/%u  (run ended at %.3f s)\n", r->complete,
          r->recipients, r->end_s);
  if (r->chunks_lost > 0) {
    fprintf(f, "lost: %u chunks are held by no running node\n",
            r->chunks_lost);
  }
  fprintf(f, "completion: p50 %.3f s  p99 %.3f s  max %.3f s\n", r->p50_s,
          r->p99_s, r->max_s);
  fprintf(f, "bound: T_min %.3f s  donor-only baseline %.3f s\n", r->t_min_s,
          r->baseline_s);
  fprintf(f, "ratios: max/T_min %.3f  p50/T_min %.3f  baseline/max %.2f\n",
          ratio(r->max_s, r->t_min_s), ratio(r->p50_s, r->t_min_s),
          ratio(r->baseline_s, r->max_s));
  if (r->slow > 0) {
    fprintf(f, "fast nodes: max %.3f s  T_min(fast) %.3f s  ratio %.3f\n",
            r->fast_max_s, r->t_min_fast_s,
            ratio(r->fast_max_s, r->t_min_fast_s));
  }
  fprintf(f, "donor upload: %llu bytes = %.3f x F\n",
          (unsigned long long)r->donor_up, donor_x);
  fprintf(f, "bytes moved: %llu (%.3f x N*F), wasted %llu\n",
          (unsigned long long)r->bytes_moved,
          ratio((double)r->bytes_moved, F * r->recipients),
          (unsigned long long)r->bytes_wasted);
  fprintf(f, "events: %llu  flow rate updates: %llu\n",
          (unsigned long long)r->events, (unsigned long long)r->flow_updates);
  if (!cfg->gossip) {
    return;
  }
  if (r->members_s >= 0.0) {
    fprintf(f, "gossip: membership converged at %.3f s", r->members_s);
  } else {
    fprintf(f, "gossip: membership not converged at the end");
  }
  if (cfg->donor_fail_at >= 0.0) {
    fprintf(f, ", donor held dead by every live recipient at %.3f s",
            r->donor_dead_s);
  }
  fprintf(f, "\ngossip traffic: %llu datagrams (%llu bytes, %llu lost), "
             "%llu push-pull messages (%llu bytes)\n",
          (unsigned long long)r->gossip_datagrams,
          (unsigned long long)r->gossip_bytes,
          (unsigned long long)r->gossip_lost,
          (unsigned long long)r->gossip_streams,
          (unsigned long long)r->gossip_stream_bytes);
}

int sim_report_csv(const struct sim *s, const char *path) {
  int rc = 0;
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return sm_errno();
  }
  fprintf(f, "id,slow,completion_s,bytes_down,bytes_up,from_donor\n");
  for (uint32_t i = 0; i + 1 < s->nn; i++) {
    const struct sim_node_result *x = sim_node_get(s, i);
    fprintf(f, "%u,%d,%.6f,%llu,%llu,%llu\n", i + 1, x->slow, x->completion_s,
            (unsigned long long)x->bytes_down, (unsigned long long)x->bytes_up,
            (unsigned long long)x->from_donor);
  }
  if (fclose(f) != 0) {
    rc = sm_errno();
  }
  return rc;
}

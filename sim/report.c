/* report.c - the simulator's outputs: the run summary as text or JSON
 * (completion percentiles against the fluid bound and the donor-only
 * baseline), the per-node CSV, and the size/rate parser for options. */
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
            "\"flow_updates\":%llu,\"chunks_lost\":%u}\n",
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

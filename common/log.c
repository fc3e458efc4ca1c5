/* log.c - leveled log lines on stderr, one write per line so concurrent
 * processes sharing a terminal or journal do not interleave mid-line. */
#include "common/common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sm_log_level log_threshold = SM_LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sm_log_set_level(enum sm_log_level level) {
  log_threshold = level;
}

enum sm_log_level sm_log_get_level(void) {
  return log_threshold;
}

int sm_log_level_parse(const char *name, enum sm_log_level *out_level) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (size_t i = 0; i < SM_ARRAY_LEN(names); i++) {
    if (strcmp(name, names[i]) == 0) {
      *out_level = (enum sm_log_level)i;
      return 0;
    }
  }
  return SM_EINVAL;
}

void sm_logv(enum sm_log_level level, const char *component, const char *fmt,
             va_list ap) {
  if (level > log_threshold) {
    return;
  }
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                   level_names[level], component);
  if (n < 0) {
    return;
  }
  size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
  int m = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
  if (m > 0) {
    used += (size_t)m < sizeof(line) - used ? (size_t)m : sizeof(line) - used - 1;
  }
  if (used >= sizeof(line) - 1) {
    used = sizeof(line) - 2;
  }
  line[used++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, used);
  (void)ignored;
}

void sm_log(enum sm_log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_logv(level, component, fmt, ap);
  va_end(ap);
}

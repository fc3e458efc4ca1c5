/* mysql_standin.c - the scripted client library of mysql_standin.h. */
#include "mysql_standin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/common.h"

#define COLS_MAX 24
#define ROWS_MAX 8
#define SENT_MAX 64

static struct {
  const struct standin_step *steps;
  size_t n, at;
  unsigned err;
  char msg[512];
  char dest[4096];
  char mismatch[1024];
  /* the current result */
  char buf[16384];
  size_t ncols, nrows, row;
  const char *names[COLS_MAX];
  const char *values[ROWS_MAX][COLS_MAX];
  char *sent[SENT_MAX];
  size_t nsent;
  char all[65536];
} S;

static const struct standin_step *next_step(const char *sql) {
  if (S.mismatch[0] != '\0') {
    return NULL;
  }
  if (S.at >= S.n) {
    snprintf(S.mismatch, sizeof(S.mismatch), "unexpected extra statement: %.900s", sql);
    return NULL;
  }
  const struct standin_step *st = &S.steps[S.at];
  if (strncmp(sql, st->sql, strlen(st->sql)) != 0) {
    snprintf(S.mismatch, sizeof(S.mismatch), "step %zu: expected '%.300s', got '%.500s'", S.at,
             st->sql, sql);
    return NULL;
  }
  S.at++;
  return st;
}

static void split(char *s, char sep, const char **out, size_t max, size_t *n) {
  *n = 0;
  if (s[0] == '\0') {
    return;
  }
  for (;;) {
    assert_true(*n < max);
    out[(*n)++] = s;
    char *p = strchr(s, sep);
    if (p == NULL) {
      return;
    }
    *p = '\0';
    s = p + 1;
  }
}

static void load_result(const struct standin_step *st) {
  S.ncols = S.nrows = S.row = 0;
  if (st->cols == NULL) {
    return;
  }
  /* "cols\0rows" in buf, then cut in place */
  size_t cl = strlen(st->cols);
  char rows[8192] = "";
  if (st->rows != NULL) {
    const char *r = st->rows;
    const char *d = strstr(r, "$DEST");
    if (d != NULL) {
      snprintf(rows, sizeof(rows), "%.*s%s%s", (int)(d - r), r, S.dest, d + 5);
    } else {
      snprintf(rows, sizeof(rows), "%s", r);
    }
  }
  assert_true(cl + strlen(rows) + 2 < sizeof(S.buf));
  memcpy(S.buf, st->cols, cl + 1);
  char *rb = S.buf + cl + 1;
  memcpy(rb, rows, strlen(rows) + 1);
  split(S.buf, ',', S.names, COLS_MAX, &S.ncols);
  const char *lines[ROWS_MAX];
  split(rb, '\n', lines, ROWS_MAX, &S.nrows);
  for (size_t i = 0; i < S.nrows; i++) {
    size_t nv = 0;
    split((char *)lines[i], '|', S.values[i], COLS_MAX, &nv);
    if (nv == 0 && S.ncols == 1) {
      S.values[i][0] = lines[i];
      nv = 1;
    }
    assert_int_equal(nv, S.ncols);
    for (size_t k = 0; k < nv; k++) {
      if (strcmp(S.values[i][k], "\\N") == 0) {
        S.values[i][k] = NULL;
      }
    }
  }
}

static int sc_connect(void *ctx, const struct engine_conn *c, const char *password,
                      unsigned timeout_s, void **out_handle) {
  (void)ctx;
  (void)c;
  (void)password;
  (void)timeout_s;
  *out_handle = &S;
  const struct standin_step *st = next_step("CONNECT");
  S.err = st == NULL ? 2013 : st->err;
  snprintf(S.msg, sizeof(S.msg), "%s", st == NULL ? "Lost connection (script mismatch)"
                                                  : (st->msg ? st->msg : ""));
  return S.err ? SM_EENGINE : 0;
}

static int sc_query(void *handle, const char *sql) {
  (void)handle;
  if (S.nsent < SENT_MAX) {
    S.sent[S.nsent++] = strdup(sql);
  }
  size_t l = strlen(S.all);
  snprintf(S.all + l, sizeof(S.all) - l, "%s;\n", sql);
  S.ncols = S.nrows = S.row = 0;
  const struct standin_step *st = next_step(sql);
  if (st == NULL) {
    S.err = 2013;
    snprintf(S.msg, sizeof(S.msg), "Lost connection (script mismatch)");
    return SM_EENGINE;
  }
  if (st->mkdir_clone) {
    const char *q = strchr(sql, '\'');
    assert_non_null(q);
    snprintf(S.dest, sizeof(S.dest), "%.*s", (int)strcspn(q + 1, "'"), q + 1);
    if (st->err == 0) {
      assert_int_equal(mkdir(S.dest, 0750), 0);
    }
  }
  S.err = st->err;
  snprintf(S.msg, sizeof(S.msg), "%s", st->msg ? st->msg : "");
  if (st->err != 0) {
    return SM_EENGINE;
  }
  load_result(st);
  return 0;
}

static int sc_fetch(void *handle, size_t *out_n, const char *const **out_names,
                    const char *const **out_values) {
  (void)handle;
  if (S.row >= S.nrows) {
    return 0;
  }
  *out_n = S.ncols;
  *out_names = S.names;
  *out_values = S.values[S.row++];
  return 1;
}

static unsigned sc_error(void *handle, char *msg, size_t cap) {
  (void)handle;
  snprintf(msg, cap, "%s", S.msg);
  return S.err;
}

static void sc_close(void *handle) { (void)handle; }

static const struct engine_sql_client standin = {
    .connect = sc_connect, .query = sc_query, .fetch = sc_fetch, .error = sc_error,
    .close = sc_close,
};

void standin_start(const struct standin_step *steps, size_t n) {
  for (size_t i = 0; i < S.nsent; i++) {
    free(S.sent[i]);
  }
  memset(&S, 0, sizeof(S));
  S.steps = steps;
  S.n = n;
  engine_mysql_client_set(&standin);
}

size_t standin_finish(void) {
  engine_mysql_client_set(NULL);
  if (S.mismatch[0] != '\0') {
    fail_msg("%s", S.mismatch);
  }
  return S.at;
}

const char *standin_sent(size_t i) { return i < S.nsent ? S.sent[i] : NULL; }

const char *standin_all_sent(void) { return S.all; }

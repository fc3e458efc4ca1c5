/* mysql_client.c - the SQL client seam of the mysql engine: the default
 * implementation over libmysqlclient (MariaDB Connector/C, which speaks
 * MySQL 8's protocol), the switch tests use to put a scripted stand-in in
 * its place, and the session helpers the donor and replica flows call. */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <mysql.h>

#include "common/common.h"

#define REAL_COLS_MAX 128

struct real_handle {
  MYSQL *m;
  MYSQL_RES *res;
  size_t n;
  const char *names[REAL_COLS_MAX];
};

static int real_connect(void *ctx, const struct engine_conn *c, const char *password,
                        unsigned timeout_s, void **out_handle) {
  (void)ctx;
  struct real_handle *r = sm_calloc(1, sizeof(*r));
  *out_handle = r;
  if (r == NULL) {
    return SM_ENOMEM;
  }
  r->m = mysql_init(NULL);
  if (r->m == NULL) {
    return SM_ENOMEM;
  }
  unsigned t = timeout_s ? timeout_s : 5;
  unsigned rt = 3600 * 24; /* CLONE LOCAL of a large server takes hours */
  mysql_options(r->m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
  mysql_options(r->m, MYSQL_OPT_READ_TIMEOUT, &rt);
  if (c->defaults_file != NULL) {
    mysql_options(r->m, MYSQL_READ_DEFAULT_FILE, c->defaults_file);
    mysql_options(r->m, MYSQL_READ_DEFAULT_GROUP, "client");
  }
  const char *host = c->socket != NULL ? "localhost" : c->host;
  const char *user = c->user;
  if (user == NULL && c->defaults_file == NULL) {
    user = "root";
  }
  if (mysql_real_connect(r->m, host, user, password, NULL, c->port, c->socket, 0) == NULL) {
    return SM_EENGINE;
  }
  return 0;
}

static void real_free_result(struct real_handle *r) {
  if (r->res != NULL) {
    mysql_free_result(r->res);
    r->res = NULL;
  }
  r->n = 0;
}

static int real_query(void *handle, const char *sql) {
  struct real_handle *r = handle;
  real_free_result(r);
  if (mysql_query(r->m, sql) != 0) {
    return SM_EENGINE;
  }
  r->res = mysql_store_result(r->m);
  if (r->res == NULL) {
    return mysql_field_count(r->m) == 0 ? 0 : SM_EENGINE;
  }
  unsigned nf = mysql_num_fields(r->res);
  MYSQL_FIELD *f = mysql_fetch_fields(r->res);
  r->n = SM_MIN((size_t)nf, (size_t)REAL_COLS_MAX);
  for (size_t i = 0; i < r->n; i++) {
    r->names[i] = f[i].name;
  }
  return 0;
}

static int real_fetch(void *handle, size_t *out_n, const char *const **out_names,
                      const char *const **out_values) {
  struct real_handle *r = handle;
  if (r->res == NULL) {
    return 0;
  }
  MYSQL_ROW row = mysql_fetch_row(r->res);
  if (row == NULL) {
    return 0;
  }
  *out_n = r->n;
  *out_names = r->names;
  *out_values = (const char *const *)row;
  return 1;
}

static unsigned real_error(void *handle, char *msg, size_t cap) {
  struct real_handle *r = handle;
  if (r == NULL || r->m == NULL) {
    snprintf(msg, cap, "out of memory");
    return 0;
  }
  snprintf(msg, cap, "%s", mysql_error(r->m));
  return mysql_errno(r->m);
}

static void real_close(void *handle) {
  struct real_handle *r = handle;
  if (r == NULL) {
    return;
  }
  real_free_result(r);
  if (r->m != NULL) {
    mysql_close(r->m);
  }
  sm_free(r);
}

static const struct engine_sql_client real_client = {
    .connect = real_connect,
    .query = real_query,
    .fetch = real_fetch,
    .error = real_error,
    .close = real_close,
};

static const struct engine_sql_client *current_client;

void engine_mysql_client_set(const struct engine_sql_client *c) { current_client = c; }

const struct engine_sql_client *engine__mysql_client(void) {
  return current_client != NULL ? current_client : &real_client;
}

int engine__my_connect(struct engine__my *s, const struct engine_conn *c, const char *password,
                       unsigned timeout_s, char *err) {
  char pw[1025] = "";
  const char *pass = NULL;
  if (engine__password_for(c, password, pw, &pass, err) < 0) {
    return SM_EINVAL;
  }
  s->lib = engine__mysql_client();
  s->h = NULL;
  int rc = s->lib->connect(s->lib->ctx, c, pass, timeout_s, &s->h);
  sodium_memzero(pw, sizeof(pw));
  if (rc == 0) {
    return 0;
  }
  char where[300], msg[400] = "out of memory";
  engine__conn_describe(c, where, sizeof(where));
  unsigned e = s->h != NULL ? s->lib->error(s->h, msg, sizeof(msg)) : 0;
  if (e == 1045) {
    engine__err(err, "access denied at %s for user '%s': check the password file", where,
                c->user ? c->user : (c->defaults_file ? "(from defaults file)" : "root"));
  } else if (e == 2059 || e == 2061) {
    engine__err(err, "cannot log in at %s: %s (a caching_sha2_password account needs TLS or "
                "a cached login: log in once with the mysql client, or use the socket)",
                where, msg);
  } else {
    engine__err(err, "cannot connect to %s: %s (is the server running?)", where, msg);
  }
  engine__my_close(s);
  return rc == SM_ENOMEM ? SM_ENOMEM : SM_EENGINE;
}

void engine__my_close(struct engine__my *s) {
  if (s->lib != NULL && s->h != NULL) {
    s->lib->close(s->h);
  }
  s->h = NULL;
}

int engine__my_failed(struct engine__my *s, const char *what, unsigned *out_errno, char *err) {
  char msg[512];
  unsigned e = s->lib->error(s->h, msg, sizeof(msg));
  if (out_errno != NULL) {
    *out_errno = e;
  }
  return engine_mysql_explain(e, msg, what, err);
}

int engine__my_exec(struct engine__my *s, const char *sql, const char *what, unsigned *out_errno,
                    char *err) {
  if (out_errno != NULL) {
    *out_errno = 0;
  }
  if (s->lib->query(s->h, sql) != 0) {
    return engine__my_failed(s, what, out_errno, err);
  }
  size_t n;
  const char *const *names;
  const char *const *values;
  while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
  }
  return 0;
}

int engine__my_row(struct engine__my *s, const char *sql, const char *what,
                   struct engine_kvset *out, int *out_found, char *err) {
  *out_found = 0;
  if (s->lib->query(s->h, sql) != 0) {
    return engine__my_failed(s, what, NULL, err);
  }
  size_t n;
  const char *const *names;
  const char *const *values;
  int rc = 0;
  while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
    for (size_t i = 0; rc == 0 && !*out_found && i < n; i++) {
      char key[ENGINE_KEY_MAX + 1];
      size_t l = 0;
      for (; names[i] != NULL && names[i][l] != '\0' && l < ENGINE_KEY_MAX; l++) {
        key[l] = (char)tolower((unsigned char)names[i][l]);
      }
      key[l] = '\0';
      rc = engine_kvset_set(out, key, values[i] != NULL ? values[i] : "");
    }
    if (rc < 0) {
      engine__err(err, "%s: the server's answer does not fit (%s)", what, sm_strerror(rc));
    }
    *out_found = 1;
  }
  return rc;
}

int engine__my_value(struct engine__my *s, const char *sql, const char *what, char *out,
                     size_t cap, char *err) {
  out[0] = '\0';
  if (s->lib->query(s->h, sql) != 0) {
    return engine__my_failed(s, what, NULL, err);
  }
  size_t n;
  const char *const *names;
  const char *const *values;
  int first = 1, rc = 0;
  while (s->lib->fetch(s->h, &n, &names, &values) == 1) {
    if (first && n > 0 && values[0] != NULL) {
      if (strlen(values[0]) >= cap) {
        engine__err(err, "%s: the server's answer is longer than %zu bytes", what, cap - 1);
        rc = SM_ETOOBIG;
      } else {
        memcpy(out, values[0], strlen(values[0]) + 1);
      }
    }
    first = 0;
  }
  return rc;
}

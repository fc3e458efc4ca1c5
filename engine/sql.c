/* sql.c - thin helpers over libmysqlclient (MariaDB Connector/C): connect
 * with a password from a file or a defaults file, single-value queries and
 * statements, each failure as one line. */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <string.h>

#include <mysql.h>

#include "common/common.h"

void engine__conn_describe(const struct engine_conn *c, char *out, size_t cap) {
  if (c->socket != NULL) {
    snprintf(out, cap, "socket %s", c->socket);
  } else if (c->host != NULL) {
    snprintf(out, cap, "%s:%u", c->host, c->port ? c->port : 3306);
  } else if (c->defaults_file != NULL) {
    snprintf(out, cap, "the server named in %s", c->defaults_file);
  } else {
    snprintf(out, cap, "the default local socket");
  }
}

int engine__connect(const struct engine_conn *c, const char *password, unsigned timeout_s,
                    MYSQL **out, char *err) {
  char pw[1025] = "";
  const char *pass = NULL;
  if (engine__password_for(c, password, pw, &pass, err) < 0) {
    return SM_EINVAL;
  }
  MYSQL *m = mysql_init(NULL);
  if (m == NULL) {
    engine__err(err, "out of memory");
    return SM_ENOMEM;
  }
  unsigned t = timeout_s ? timeout_s : 5;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &(unsigned){3600});
  if (c->defaults_file != NULL) {
    mysql_options(m, MYSQL_READ_DEFAULT_FILE, c->defaults_file);
    mysql_options(m, MYSQL_READ_DEFAULT_GROUP, "client");
  }
  const char *host = c->socket != NULL ? "localhost" : c->host;
  const char *user = c->user;
  if (user == NULL && c->defaults_file == NULL) {
    user = "root";
  }
  MYSQL *r = mysql_real_connect(m, host, user, pass, NULL, c->port, c->socket, 0);
  sodium_memzero(pw, sizeof(pw));
  if (r == NULL) {
    char where[300];
    engine__conn_describe(c, where, sizeof(where));
    unsigned e = mysql_errno(m);
    if (e == 1045) {
      engine__err(err, "access denied at %s for user '%s': check the password file",
               where, user ? user : "(from defaults file)");
    } else {
      engine__err(err, "cannot connect to %s: %s (is the server running?)", where,
               mysql_error(m));
    }
    mysql_close(m);
    return SM_EENGINE;
  }
  *out = m;
  return 0;
}

void engine__close(MYSQL *m) {
  if (m != NULL) {
    mysql_close(m);
  }
}

int engine__query_value(MYSQL *m, const char *sql, char *out, size_t cap, char *err) {
  out[0] = '\0';
  if (mysql_query(m, sql) != 0) {
    engine__err(err, "%.200s failed: %s", sql, mysql_error(m));
    return SM_EENGINE;
  }
  MYSQL_RES *res = mysql_store_result(m);
  if (res == NULL) {
    if (mysql_field_count(m) == 0) {
      return 0;
    }
    engine__err(err, "%.200s failed: %s", sql, mysql_error(m));
    return SM_EENGINE;
  }
  MYSQL_ROW row = mysql_fetch_row(res);
  if (row != NULL && mysql_num_fields(res) > 0 && row[0] != NULL) {
    unsigned long *lens = mysql_fetch_lengths(res);
    size_t l = SM_MIN((size_t)lens[0], cap - 1);
    memcpy(out, row[0], l);
    out[l] = '\0';
  }
  mysql_free_result(res);
  return 0;
}

int engine__exec(MYSQL *m, const char *sql, char *err) {
  if (mysql_query(m, sql) != 0) {
    /* Never echo a statement that may carry a password. */
    engine__err(err, "%s", mysql_error(m));
    return SM_EENGINE;
  }
  MYSQL_RES *res = mysql_store_result(m);
  if (res != NULL) {
    mysql_free_result(res);
  }
  return 0;
}

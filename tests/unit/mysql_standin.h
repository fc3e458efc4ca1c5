/* mysql_standin.h - a scripted stand-in for the client library behind the
 * mysql engine's engine_sql_client seam. A script is the exact sequence of
 * connects and statements a flow must issue, each with the answer MySQL's
 * documentation gives (a result set, or an error number and message). Any
 * statement out of order fails the test, and the script must be used up. */
#ifndef SM_TEST_MYSQL_STANDIN_H
#define SM_TEST_MYSQL_STANDIN_H

#include <stddef.h>

#include "engine/engine.h"

struct standin_step {
  const char *sql;  /* the statement must start with this; "CONNECT" for a login */
  unsigned err;     /* 0: success, else the server's error number */
  const char *msg;  /* its message */
  const char *cols; /* "A,B": a result set with these columns; NULL: none */
  const char *rows; /* rows split by '\n', values by '|'; "\\N" is NULL; "$DEST" is the
                       directory of the last CLONE statement */
  int mkdir_clone;  /* CLONE: create the directory as the server would */
};

/* Installs the script as the engine's client (n steps, copied pointers). */
void standin_start(const struct standin_step *steps, size_t n);
/* Puts libmysqlclient back; returns how many steps ran. Fails the test if a
 * statement did not match its step. */
size_t standin_finish(void);
/* The i-th statement the flow sent (after standin_start), or NULL. */
const char *standin_sent(size_t i);
/* Concatenation of every statement sent, for "never contains" checks. */
const char *standin_all_sent(void);

#endif

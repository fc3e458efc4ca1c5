/* engine_internal.h - helpers shared by the engine's files. */
#ifndef SM_ENGINE_INTERNAL_H
#define SM_ENGINE_INTERNAL_H

#include <sodium.h>

#include "engine/engine.h"

extern const struct engine_ops engine__dir_ops;
extern const struct engine_ops engine__mariadb_ops;
extern const struct engine_ops engine__galera_ops; /* galera_join.c */

/* Writes a one-line reason into err (ENGINE_ERR_MAX bytes, truncated). */
void engine__err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Finds name on PATH (plus the sbin dirs) or checks a path with a '/'. */
int engine__which(const char *name, char *out, size_t out_size);
/* Starts argv with stdin from /dev/null and stdout+stderr appended to
 * log_path (NULL: /dev/null); new_session detaches it from our terminal. */
int engine__spawn(char *const argv[], const char *log_path, int new_session, pid_t *out_pid);
/* Runs argv to completion; *out_status is its exit code (128+signal). */
int engine__run(char *const argv[], const char *log_path, int *out_status);
void engine__log_last_error(const char *log_path, char *out, size_t out_size);
/* rm -rf of a tree the engine itself created. */
int engine__remove_tree(const char *dir);
/* A [client] option file (mode 0600, must not exist) with the connection
 * and the password read from c->password_file. */
int engine__write_client_cnf(const char *path, const struct engine_conn *c, char *err);
/* 1 while the child (or any process) pid runs; reaps an exited child. */
int engine__pid_alive(pid_t pid);

/* Monotonic clock and sleeping, for the engines' wait loops. */
void engine__sleep_ms(long ms);
double engine__now_s(void);
/* Runs the user's --start-command (sh -c) with SEEDMESH_DATADIR,
 * SEEDMESH_SERVER_ID, SEEDMESH_SOCKET and SEEDMESH_PORT set. */
int engine__run_start_command(const struct engine_start_options *o, const char *socket,
                              char *err);
/* The local facts (local_facts) against a snapshot's (compat). */
int engine__check_local(int (*local_facts)(const struct engine_local *, struct engine_kvset *,
                                           char *),
                        int (*compat)(const struct engine_kvset *, const struct engine_kvset *,
                                      char *),
                        const struct engine_kvset *facts, const struct engine_local *local,
                        char *err);

/* Runs argv and captures up to cap-1 bytes of its stdout into out. */
int engine__capture(char *const argv[], char *out, size_t cap, int *out_status);

/* ---------------------------------------------------------- libmysqlclient */
typedef struct st_mysql MYSQL;
/* Connects with c (password: given, else read from c->password_file);
 * a one-line reason in err on failure. */
int engine__connect(const struct engine_conn *c, const char *password, unsigned timeout_s,
                    MYSQL **out, char *err);
void engine__close(MYSQL *m);
/* Runs sql and copies the first column of the first row into out (cap);
 * "" for NULL or no row. SM_EENGINE with the server's message in err. */
int engine__query_value(MYSQL *m, const char *sql, char *out, size_t cap, char *err);
/* The password to log in with: given, else c->password_file read into buf
 * (1025 bytes; the caller wipes it), else NULL. */
int engine__password_for(const struct engine_conn *c, const char *given, char *buf,
                         const char **out, char *err);
/* One global status variable of a Galera node (e.g. "WSREP_LAST_COMMITTED"). */
int engine__galera_status(MYSQL *m, const char *name, char *out, size_t cap, char *err);
/* Runs a statement that returns no rows. */
int engine__exec(MYSQL *m, const char *sql, char *err);
/* Describes where c points ("socket /x" or "127.0.0.1:3306"). */
void engine__conn_describe(const struct engine_conn *c, char *out, size_t cap);

/* The MariaDB replica side (mariadb_replica.c). */
int engine__mariadb_check(const struct engine_kvset *facts, const struct engine_local *local,
                          char *err);
int engine__mariadb_prepare(const char *dir, const struct engine_local *local,
                            const char *log_path, char *err);
int engine__mariadb_start(const struct engine_start_options *o, struct engine_server *out,
                          char *err);
int engine__mariadb_join(const struct engine_server *srv, const struct engine_join_options *o,
                         char *err);
int engine__mariadb_wait(const struct engine_server *srv, const struct engine_join_options *o,
                         unsigned timeout_s, char *out_gtid, char *err);
/* The GTID of xtrabackup_binlog_info in a fetched tree, checked against the
 * signed coords (engine_ops.position). */
int engine__mariadb_position(const char *tree, const struct engine_kvset *coords,
                             const struct engine_join_options *o, char *out,
                             char *err);

/* ------------------------------------------------- mysql engine sessions
 * (mysql_client.c): a connection through the engine_sql_client seam, with
 * every server error explained by engine_mysql_explain. */
struct engine__my {
  const struct engine_sql_client *lib;
  void *h;
};
/* The client in use: the one set by engine_mysql_client_set, else
 * libmysqlclient. */
const struct engine_sql_client *engine__mysql_client(void);
int engine__my_connect(struct engine__my *s, const struct engine_conn *c, const char *password,
                       unsigned timeout_s, char *err);
void engine__my_close(struct engine__my *s);
/* Explains the session's last error (after a failed query) into err;
 * SM_EENGINE. */
int engine__my_failed(struct engine__my *s, const char *what, unsigned *out_errno, char *err);
/* Runs sql and discards any rows. On failure: the server's error number in
 * *out_errno (may be NULL) and an explained line naming `what` in err. */
int engine__my_exec(struct engine__my *s, const char *sql, const char *what, unsigned *out_errno,
                    char *err);
/* Runs sql and copies the first row into out, keyed by lower-cased column
 * name (SQL NULL as ""); *out_found is 0 when there was no row. */
int engine__my_row(struct engine__my *s, const char *sql, const char *what,
                   struct engine_kvset *out, int *out_found, char *err);
/* The first column of the first row into out (cap; "" for NULL or none);
 * SM_ETOOBIG when it does not fit (never truncated). */
int engine__my_value(struct engine__my *s, const char *sql, const char *what, char *out,
                     size_t cap, char *err);

/* The MySQL donor (mysql_donor.c); the rest of engine__mysql_ops is in
 * mysql_replica.c. */
extern const struct engine_ops engine__mysql_ops;
int engine__mysql_check(const struct engine_kvset *facts, const struct engine_local *local,
                        char *err);
int engine__mysql_prepare(const char *dir, const struct engine_local *local, const char *log_path,
                          char *err);
int engine__mysql_start(const struct engine_start_options *o, struct engine_server *out,
                        char *err);
int engine__mysql_probe(const struct engine_join_options *o, char *out_position,
                        uint32_t *out_server_id, char *err);
int engine__mysql_position(const char *tree, const struct engine_kvset *coords,
                           const struct engine_join_options *o, char *out,
                           char *err);
/* Connects to the join source with the replication account. */
int engine__mysql_source_connect(const struct engine_join_options *o, struct engine__my *s,
                                 char *err);
int engine__mysql_snapshot(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                           char *err);

#endif

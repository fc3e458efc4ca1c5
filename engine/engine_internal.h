/* engine_internal.h - helpers shared by the engine's files. */
#ifndef SM_ENGINE_INTERNAL_H
#define SM_ENGINE_INTERNAL_H

#include <sodium.h>

#include "engine/engine.h"

extern const struct engine_ops engine__dir_ops;
extern const struct engine_ops engine__mariadb_ops;

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
int engine__mariadb_position(const char *tree, const struct engine_kvset *coords, char *out,
                             char *err);

#endif

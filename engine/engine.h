/* engine.h - database adapters behind one interface: how a donor takes a
 * snapshot (a directory plus facts and replication coordinates), and how a
 * recipient checks, prepares, starts and joins a server on a fetched tree.
 *
 * Engines: "dir" (a plain directory, nothing to prepare or start),
 * "mariadb" (mariadb-backup + GTID replication; docs/mariadb.md) and "mysql"
 * (MySQL 8 clone plugin + GTID auto-position or Group Replication;
 * docs/mysql.md).
 *
 * Every operation returns 0 or a negative SM_E* / -errno code and, on
 * failure, writes a one-line reason (with the fix when there is one) into
 * err (ENGINE_ERR_MAX bytes). The pure helpers at the end (parsers, the
 * compatibility decision, statement building, server_id derivation) touch no
 * server and no file, and are unit-tested and fuzzed. */
#ifndef SM_ENGINE_H
#define SM_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ENGINE_ERR_MAX 512
#define ENGINE_KV_MAX 64             /* facts or coordinates */
#define ENGINE_KEY_MAX 64
#define ENGINE_VALUE_MAX 16384       /* a long GTID list still fits */
#define ENGINE_COORD_FILE_MAX 65536  /* bytes read from a coordinate file */
#define ENGINE_FACTS_FILE "seedmesh_engine_facts" /* written into a snapshot */

/* ----------------------------------------------------------- key/values */
struct engine_kv {
  char key[ENGINE_KEY_MAX + 1];
  char *value; /* owned by the set */
};

struct engine_kvset {
  size_t n;
  struct engine_kv kv[ENGINE_KV_MAX];
};

void engine_kvset_init(struct engine_kvset *s);
void engine_kvset_cleanup(struct engine_kvset *s);
/* Sets or replaces key (copied). SM_EFULL past ENGINE_KV_MAX, SM_EINVAL for a
 * key that is empty or too long or a value over ENGINE_VALUE_MAX. */
int engine_kvset_set(struct engine_kvset *s, const char *key, const char *value);
/* The value or NULL. */
const char *engine_kvset_get(const struct engine_kvset *s, const char *key);

/* ------------------------------------------------------------ interface */
/* How to reach a server as an administrator. Credentials never travel on a
 * command line: a password file (first line) or a client defaults file. */
struct engine_conn {
  const char *socket;        /* unix socket, or NULL to use host/port */
  const char *host;
  unsigned port;
  const char *user;          /* NULL: "root" */
  const char *password_file; /* NULL: no password */
  const char *defaults_file; /* NULL: none; else read with [client] groups */
};

struct engine_snapshot_options {
  const char *source;        /* dir engine: the tree */
  struct engine_conn conn;   /* mariadb */
  const char *work_dir;      /* where a temporary backup may go (the store) */
  const char *backup_tool;   /* NULL: "mariadb-backup" from PATH */
  int galera;                /* pass --galera-info */
};

/* The result of a snapshot: a directory to chunk, and what goes into the
 * manifest. When remove_after is set, engine_snapshot_cleanup deletes dir
 * (a temporary backup made by the engine); 2: and then its parent, which
 * must be empty by then (a staging directory). */
struct engine_snapshot {
  char dir[4096];
  int remove_after;
  struct engine_kvset facts;
  struct engine_kvset coords;
};
void engine_snapshot_init(struct engine_snapshot *s);
void engine_snapshot_cleanup(struct engine_snapshot *s);

/* What the recipient host runs. */
struct engine_local {
  const char *server_binary;  /* NULL: the engine's ("mariadbd", "mysqld") from PATH */
  const char *backup_tool;    /* NULL: "mariadb-backup" from PATH */
};

struct engine_start_options {
  const char *datadir;
  uint32_t server_id;
  unsigned port;              /* 0: no TCP (--skip-networking) */
  const char *socket;         /* NULL: DATADIR/mariadbd.sock (mysql: mysqld.sock) */
  const char *server_binary;  /* NULL: "mariadbd" (mysql: "mysqld") */
  const char *start_command;  /* NULL: supervise the server binary ourselves */
  const char *log_path;       /* server error log; NULL: DATADIR/mariadbd.err */
  unsigned timeout_s;         /* how long to wait for it to answer; 0: 120 */
  const char *bind_address;   /* NULL: 127.0.0.1 */
  /* How to log in to the started server. The datadir is a copy of the donor,
   * so these are the donor's accounts (NULL user: root, no password). */
  const char *admin_user;
  const char *admin_password_file;
  /* galera: the node's own option file (wsrep settings, socket, log); the
   * server then starts with it instead of the backup's backup-my.cnf, and
   * only datadir (and socket when given) are set on the command line. */
  const char *defaults_file;
};

/* A started server. pid is the supervised child, or 0 when a user command
 * started it. */
struct engine_server {
  pid_t pid;
  char socket[256];
  uint32_t server_id;
  struct engine_conn admin;   /* how we talk to it (socket set to .socket) */
};

struct engine_join_options {
  const char *source_host;
  unsigned source_port;
  const char *user;           /* replication user */
  const char *password;       /* its password (read from a file by the CLI) */
  const char *gtid;           /* gtid_slave_pos to start from ("" allowed) */
  /* mysql only: join a Group Replication group instead of replicating from
   * the source (which is then any ONLINE member: it names the group). */
  int group_replication;
  const char *group_local_address; /* this member's HOST:PORT for the group */
  const char *group_seeds;         /* NULL: the source's own local address */
};

/* engine_ops.flags */
#define ENGINE_JOIN_NEEDS_SOURCE 1u /* join replicates from --source-host/port/user/password */
#define ENGINE_JOIN_NEEDS_DEFAULTS_FILE 2u /* the server starts from the user's option file */

/* One engine. `seedmesh join` runs the same stages for every engine and asks
 * it through these hooks; an optional hook left NULL means "nothing to do". */
struct engine_ops {
  const char *name;
  const char *label;  /* product name for messages: "MariaDB" */
  unsigned flags;     /* ENGINE_JOIN_* */
  int (*snapshot)(const struct engine_snapshot_options *o, struct engine_snapshot *out,
                  char *err);
  /* Facts of a manifest against the local binaries: 0 or SM_EINCOMPAT. */
  int (*check)(const struct engine_kvset *facts, const struct engine_local *local, char *err);
  /* Applies redo in place on a staging tree. */
  int (*prepare)(const char *dir, const struct engine_local *local, const char *log_path,
                 char *err);
  int (*start)(const struct engine_start_options *o, struct engine_server *out, char *err);
  int (*join)(const struct engine_server *srv, const struct engine_join_options *o, char *err);
  /* Waits until the replica has applied everything the source had written
   * when the wait began; *out_gtid (size ENGINE_VALUE_MAX+1) is that point. */
  int (*wait_caught_up)(const struct engine_server *srv, const struct engine_join_options *o,
                        unsigned timeout_s, char *out_gtid, char *err);
  /* Optional. Facts of the local server binary, read before anything is
   * written (a missing binary fails here, not after the fetch). */
  int (*local_facts)(const struct engine_local *local, struct engine_kvset *out, char *err);
  /* Optional. Checks the source (or cluster) is reachable before anything is
   * written; *out_position (ENGINE_VALUE_MAX+1) its current position,
   * *out_server_id its server_id (0: none). */
  int (*probe)(const struct engine_join_options *o, char *out_position, uint32_t *out_server_id,
               char *err);
  /* Optional. The position the snapshot starts from, read from the fetched
   * (unprepared) tree and cross-checked against the signed coords, into out
   * (ENGINE_VALUE_MAX+1); it becomes engine_join_options.gtid. NULL: "". */
  int (*position)(const char *tree, const struct engine_kvset *coords,
                  const struct engine_join_options *o, char *out, char *err);
};

/* The engine called name, or NULL. */
const struct engine_ops *engine_find(const char *name);

/* Reads the first line of a password file (at most 1024 bytes, trailing
 * newline removed) into out (size 1025). The file must not be readable by
 * group or others (SM_EINVAL, with the chmod fix in err). A path of the form
 * "env:NAME" reads the environment variable NAME instead (for secrets
 * handed over by systemd credentials, Kubernetes or a vault agent). */
int engine_password_read(const char *path, char *out, char *err);

/* Connects to the source with the replication user to check it is reachable;
 * *out_gtid (ENGINE_VALUE_MAX+1) receives its @@gtid_binlog_pos and
 * *out_server_id its server_id. SM_EENGINE with the reason otherwise. */
int engine_mariadb_probe_source(const struct engine_join_options *o, char *out_gtid,
                                uint32_t *out_server_id, char *err);

/* Reads "mariadbd --version" of the local binary into facts (version,
 * version_series, machine). */
int engine_mariadb_local_facts(const struct engine_local *local, struct engine_kvset *out,
                               char *err);

/* ---------------------------------------------------- pure, bounded helpers
 * Parsers of untrusted bytes never read past len and accept only the exact
 * shapes below; SM_EMALFORMED otherwise. */

/* xtrabackup_binlog_info: "file<TAB>pos[<TAB>gtid]" with an optional final
 * newline. */
struct engine_binlog_info {
  char file[256];
  uint64_t pos;
  char gtid[ENGINE_VALUE_MAX + 1]; /* "" when absent */
};
int engine_parse_binlog_info(const uint8_t *buf, size_t len, struct engine_binlog_info *out);

/* xtrabackup_galera_info: "uuid:seqno[ domain_id]" with an optional final
 * newline; seqno may be -1. */
struct engine_galera_info {
  char uuid[37];
  int64_t seqno;
  uint32_t domain_id;
  int has_domain;
};
int engine_parse_galera_info(const uint8_t *buf, size_t len, struct engine_galera_info *out);

/* A MariaDB GTID list "d-s-n[,d-s-n]..." (or ""), strictly. 0 or
 * SM_EMALFORMED. */
int engine_gtid_check(const char *gtid);

/* The facts file written into a snapshot: "fact.KEY=VALUE" and
 * "coord.KEY=VALUE" lines. Parses into facts and coords (both initialised by
 * the caller). */
int engine_parse_facts_file(const uint8_t *buf, size_t len, struct engine_kvset *facts,
                            struct engine_kvset *coords);
/* Formats facts and coords as that file into a new buffer (sm_free). */
int engine_format_facts_file(const struct engine_kvset *facts, const struct engine_kvset *coords,
                             char **out, size_t *out_len);

/* Parses "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on
 * x86_64 (Debian 12)" into version (size 128) and machine (size 64). */
int engine_parse_server_version(const char *line, char *version, char *machine);
/* "10.11.19-MariaDB-log" -> "10.11"; SM_EMALFORMED if it does not start
 * with MAJOR.MINOR. out has size 32. */
int engine_version_series(const char *version, char *out);

/* The compatibility decision: the snapshot's facts against the local facts
 * (version, version_series, machine). 0 when the server can start on the
 * snapshot, else SM_EINCOMPAT with one line in err. */
int engine_mariadb_compat(const struct engine_kvset *snapshot, const struct engine_kvset *local,
                          char *err);

/* Appends s as a single-quoted SQL string literal with every special byte
 * escaped ('\'', '\\', NUL-free input, \n, \r, \x1a) into out (size cap).
 * SM_ETOOBIG when it does not fit. */
int engine_sql_quote(char *out, size_t cap, const char *s);
/* Builds the three join statements. Each out_* has size cap. */
int engine_mariadb_join_sql(const struct engine_join_options *o, char *out_gtid_sql,
                            char *out_change_sql, size_t cap);

/* A server_id for a replica: derived from a seed text (a node key, a host
 * name) and the port, in [1000, 4294967295], never equal to avoid. */
uint32_t engine_server_id_derive(const char *seed, unsigned port, uint32_t avoid);

/* Given SHOW GRANTS lines, names the privileges mariadb-backup needs that
 * are missing into out (size cap; "" when none). Returns how many. */
int engine_mariadb_grants_missing(const char *const *grants, size_t n, char *out, size_t cap);

/* ------------------------------------------------------------ MySQL 8
 * The mysql engine talks to servers only through this client seam, so the
 * whole donor and join flows run in tests against a scripted stand-in.
 * The default is libmysqlclient (MariaDB Connector/C speaks MySQL 8's
 * protocol). A handle is always returned by connect, even on failure, so
 * error() can describe the failure; close() frees it. */
struct engine_sql_client {
  void *ctx;
  int (*connect)(void *ctx, const struct engine_conn *c, const char *password,
                 unsigned timeout_s, void **out_handle);   /* 0 or SM_EENGINE */
  int (*query)(void *handle, const char *sql);              /* 0 or SM_EENGINE */
  /* The next row of the last query's result: 1 with *out_n columns, names
   * and values (NULL for SQL NULL; valid until the next call), 0 at the end
   * or when the statement returned no rows. */
  int (*fetch)(void *handle, size_t *out_n, const char *const **out_names,
               const char *const **out_values);
  /* The last error's number (0: none) and message (size cap). */
  unsigned (*error)(void *handle, char *msg, size_t cap);
  void (*close)(void *handle);
};
/* Makes c the client for every later mysql engine call (tests); NULL puts
 * libmysqlclient back. Not thread-safe: set it before any call. */
void engine_mysql_client_set(const struct engine_sql_client *c);

#define ENGINE_MYSQL_SQL_MAX 4096 /* one built statement */
#define ENGINE_MYSQL_STMTS_MAX 8

/* What a server version implies (all from the version string). */
struct engine_mysql_version {
  unsigned major, minor, patch;
};
/* "8.0.36", "8.0.36-log", "8.4.2-commercial", "8.0.36-0ubuntu0.22.04.1":
 * MAJOR.MINOR.PATCH then nothing or '-' and printable text, at most 127
 * bytes. A "-MariaDB" suffix is SM_EINCOMPAT (not a MySQL server). */
int engine_mysql_version_parse(const char *s, struct engine_mysql_version *out);
/* Compares a with major.minor.patch: <0, 0, >0. */
int engine_mysql_version_cmp(const struct engine_mysql_version *a, unsigned major,
                             unsigned minor, unsigned patch);

/* Parses "mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server -
 * GPL)" into version (size 128), os (size 64) and machine (size 64). */
int engine_mysql_parse_version_line(const char *line, char *version, char *os, char *machine);

/* A MySQL GTID set: "" or uuid:interval[:interval]...[,uuid...] where an
 * interval is N or N-M (1 <= N <= M < 2^63, increasing within a uuid),
 * optionally uuid:tag:interval (8.3+ tags), with optional whitespace after
 * commas (the server prints ",\n"). At most ENGINE_VALUE_MAX bytes.
 * *out_uuids and *out_transactions (saturating) may be NULL. */
int engine_mysql_gtid_set_parse(const char *s, size_t len, size_t *out_uuids,
                                uint64_t *out_transactions);

/* One row of performance_schema.clone_status (column names as the server
 * sends them, any order, any case). */
struct engine_mysql_clone_status {
  char state[16];          /* Not Started, In Progress, Completed, Failed */
  unsigned error_no;
  char error_message[512];
  char destination[4096];
  char binlog_file[256];
  uint64_t binlog_position;
  char gtid_executed[ENGINE_VALUE_MAX + 1];
};
int engine_mysql_clone_status_parse(size_t n, const char *const *names,
                                    const char *const *values,
                                    struct engine_mysql_clone_status *out);

/* The statements that make a started server (version v) replicate:
 *   async, 8.0.23+: CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1;
 *                   START REPLICA
 *   async, 8.0.22:  CHANGE MASTER TO ... MASTER_AUTO_POSITION=1; START REPLICA
 *   async, older:   CHANGE MASTER TO ... MASTER_AUTO_POSITION=1; START SLAVE
 *   group:          SET GLOBAL group_replication_* (name, local address,
 *                   seeds, bootstrap off); START GROUP_REPLICATION USER=...,
 *                   PASSWORD=... (8.0.21+), or before 8.0.21 the recovery
 *                   channel's CHANGE MASTER TO ... FOR CHANNEL
 *                   'group_replication_recovery' and START GROUP_REPLICATION.
 * group_name is required for group mode. *out_n statements go into out;
 * *out_secret is the index of the one that carries the password. */
int engine_mysql_join_sql(const struct engine_mysql_version *v, const struct engine_join_options *o,
                          const char *group_name, char (*out)[ENGINE_MYSQL_SQL_MAX],
                          size_t *out_n, size_t *out_secret);

/* The checks the clone plugin itself makes, on the snapshot's facts against
 * the local ones (keys absent locally are not compared): flavor, version
 * (same release before 8.0.37, same series from 8.0.37 on), os, machine,
 * innodb_page_size, innodb_data_file_path, character_set_server,
 * collation_server, character_set_filesystem, max_allowed_packet >= 2 MiB,
 * and every plugin library of the snapshot present locally. 0 or
 * SM_EINCOMPAT with one line in err. */
int engine_mysql_compat(const struct engine_kvset *snapshot, const struct engine_kvset *local,
                        char *err);

/* A server error (number, message) from the statement `what` as one line a
 * DBA can act on (missing plugin, missing privilege, DDL lock timeout,
 * clone configuration mismatch ...) into err. Returns SM_EENGINE. */
int engine_mysql_explain(unsigned error_no, const char *message, const char *what, char *err);

/* Reads "mysqld --version" of the local binary (engine_local.server_binary,
 * default "mysqld") into facts (version, os, machine, plugin_libraries). */
int engine_mysql_local_facts(const struct engine_local *local, struct engine_kvset *out,
                             char *err);
/* ------------------------------------------------------------------ Galera
 * (engine/galera.c, docs/galera.md) */
/* What a running Galera node can still replay by IST: the write-sets it
 * holds in its gcache (cached_downto..last_committed) and its state uuid. */
struct engine_galera_window {
  int64_t cached_downto;   /* wsrep_local_cached_downto (0 or -1: empty) */
  int64_t last_committed;  /* wsrep_last_committed */
  char uuid[64];           /* wsrep_local_state_uuid */
  int64_t preload_start;   /* first seqno of the last certification-index
                              preload the node logged (the start of the IST
                              that follows an SST), or -1 when unknown */
  int64_t preload_end;     /* its last seqno: where that IST ends (the last
                              membership change), or -1 when unknown */
};
/* Reads the window over c (password given, else c->password_file). */
int engine_galera_window(const struct engine_conn *c, const char *password,
                         struct engine_galera_window *out, char *err);
/* Finds the last "Cert index preload: A -> B" line in the tail of a mariadbd
 * error log (len bytes, untrusted) and returns A in *start and B in *end;
 * SM_ENOTFOUND when there is none. Pure, bounded. */
int engine_galera_parse_preload(const uint8_t *buf, size_t len, int64_t *start, int64_t *end);
/* 0 when a node seeded from a snapshot at snap_uuid:snap_seqno can catch up
 * by IST from a donor with window w; SM_EINCOMPAT with the reason and the
 * fix (a new snapshot, or the gcache.size needed) otherwise. Pure. */
int engine_galera_ist_check(const char *snap_uuid, int64_t snap_seqno,
                            const struct engine_galera_window *w, char *err);
/* Writes DATADIR/grastate.dat (uuid, seqno, safe_to_bootstrap: 0). */
int engine_galera_grastate_write(const char *datadir, const char *uuid, int64_t seqno,
                                 char *err);

#endif

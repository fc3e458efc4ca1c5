/* engine.h - database adapters behind one interface: how a donor takes a
 * snapshot (a directory plus facts and replication coordinates), and how a
 * recipient checks, prepares, starts and joins a server on a fetched tree.
 *
 * Engines: "dir" (a plain directory, nothing to prepare or start) and
 * "mariadb" (mariadb-backup + GTID replication; docs/mariadb.md).
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
 * (a temporary backup made by the engine). */
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
  const char *server_binary;  /* NULL: "mariadbd" from PATH */
  const char *backup_tool;    /* NULL: "mariadb-backup" from PATH */
};

struct engine_start_options {
  const char *datadir;
  uint32_t server_id;
  unsigned port;              /* 0: no TCP (--skip-networking) */
  const char *socket;         /* NULL: DATADIR/mariadbd.sock */
  const char *server_binary;  /* NULL: "mariadbd" */
  const char *start_command;  /* NULL: supervise the server binary ourselves */
  const char *log_path;       /* server error log; NULL: DATADIR/mariadbd.err */
  unsigned timeout_s;         /* how long to wait for it to answer; 0: 120 */
  const char *bind_address;   /* NULL: 127.0.0.1 */
  /* How to log in to the started server. The datadir is a copy of the donor,
   * so these are the donor's accounts (NULL user: root, no password). */
  const char *admin_user;
  const char *admin_password_file;
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
};

/* engine_ops.flags */
#define ENGINE_JOIN_NEEDS_SOURCE 1u /* join replicates from --source-host/port/user/password */

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
  int (*position)(const char *tree, const struct engine_kvset *coords, char *out, char *err);
};

/* The engine called name, or NULL. */
const struct engine_ops *engine_find(const char *name);

/* Reads the first line of a password file (at most 1024 bytes, trailing
 * newline removed) into out (size 1025). The file must not be readable by
 * group or others (SM_EINVAL, with the chmod fix in err). */
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

#endif

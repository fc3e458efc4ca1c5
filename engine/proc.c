/* proc.c - the engine's contact with the host: running the database's own
 * tools with their output in a log file, finding binaries, credentials in
 * 0600 files, and removing a temporary backup tree. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"

void engine__err(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ENGINE_ERR_MAX, fmt, ap);
  va_end(ap);
}

int engine__which(const char *name, char *out, size_t out_size) {
  if (strchr(name, '/') != NULL) {
    if (access(name, X_OK) != 0) {
      return SM_ENOTFOUND;
    }
    snprintf(out, out_size, "%s", name);
    return 0;
  }
  const char *path = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin:/sbin", path ? path : "/usr/bin:/bin");
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
    if ((size_t)snprintf(out, out_size, "%s/%s", d, name) < out_size && access(out, X_OK) == 0) {
      return 0;
    }
  }
  return SM_ENOTFOUND;
}

int engine__spawn(char *const argv[], const char *log_path, int new_session, pid_t *out_pid) {
  int logfd = -1;
  if (log_path != NULL) {
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
      return sm_errno();
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    int rc = sm_errno();
    if (logfd >= 0) {
      close(logfd);
    }
    return rc;
  }
  if (pid == 0) {
    if (new_session) {
      setsid();
    }
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(logfd >= 0 ? logfd : devnull, 1);
      dup2(logfd >= 0 ? logfd : devnull, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  if (logfd >= 0) {
    close(logfd);
  }
  *out_pid = pid;
  return 0;
}

int engine__run(char *const argv[], const char *log_path, int *out_status) {
  pid_t pid;
  int rc = engine__spawn(argv, log_path, 0, &pid);
  if (rc < 0) {
    return rc;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return sm_errno();
    }
  }
  *out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return 0;
}

/* Copies the last line of the log holding "[ERROR]" other than "Aborting"
 * (else the last non-empty line) into out, trimmed to one line. */
void engine__log_last_error(const char *log_path, char *out, size_t out_size) {
  out[0] = '\0';
  uint8_t *buf = NULL;
  size_t len = 0;
  FILE *f = fopen(log_path, "rb");
  if (f == NULL) {
    return;
  }
  /* Only the tail matters. */
  if (fseek(f, 0, SEEK_END) == 0) {
    long end = ftell(f);
    long start = end > 65536 ? end - 65536 : 0;
    fseek(f, start, SEEK_SET);
    buf = sm_malloc(65537);
    if (buf != NULL) {
      len = fread(buf, 1, 65536, f);
      buf[len] = '\0';
    }
  }
  fclose(f);
  if (buf == NULL) {
    return;
  }
  const char *best = NULL;
  size_t best_len = 0;
  const char *last = NULL;
  size_t last_len = 0;
  char *p = (char *)buf;
  while (*p != '\0') {
    char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l > 0) {
      last = p;
      last_len = l;
      /* mariadbd ends with "[ERROR] Aborting": the reason is the line before */
      if ((memmem(p, l, "[ERROR]", 7) != NULL || memmem(p, l, "ERROR", 5) != NULL) &&
          memmem(p, l, "] Aborting", 10) == NULL) {
        best = p;
        best_len = l;
      }
    }
    if (e == NULL) {
      break;
    }
    p = e + 1;
  }
  if (best == NULL) {
    best = last;
    best_len = last_len;
  }
  if (best != NULL) {
    size_t l = SM_MIN(best_len, out_size - 1);
    memcpy(out, best, l);
    out[l] = '\0';
    for (size_t i = 0; i < l; i++) {
      if ((unsigned char)out[i] < 0x20) {
        out[i] = ' ';
      }
    }
  }
  sm_free(buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int engine__remove_tree(const char *dir) {
  if (nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
    return sm_errno();
  }
  return 0;
}

/* Quotes a value for a MariaDB option file: "..." with \\ and \" escaped. */
static int put_option(FILE *f, const char *name, const char *value) {
  fprintf(f, "%s=\"", name);
  for (const char *p = value; *p != '\0'; p++) {
    if (*p == '\n' || *p == '\r') {
      return SM_EINVAL;
    }
    if (*p == '"' || *p == '\\') {
      fputc('\\', f);
    }
    fputc(*p, f);
  }
  fputs("\"\n", f);
  return 0;
}

int engine__write_client_cnf(const char *path, const struct engine_conn *c, char *err) {
  char password[1025] = "";
  if (c->password_file != NULL && engine_password_read(c->password_file, password, err) < 0) {
    return SM_EINVAL;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int rc = sm_errno();
    engine__err(err, "cannot create %s: %s", path, sm_strerror(rc));
    sodium_memzero(password, sizeof(password));
    return rc;
  }
  FILE *f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    return SM_ENOMEM;
  }
  int rc = 0;
  fputs("[client]\n", f);
  rc |= put_option(f, "user", c->user ? c->user : "root");
  if (c->password_file != NULL) {
    rc |= put_option(f, "password", password);
  }
  if (c->socket != NULL) {
    rc |= put_option(f, "socket", c->socket);
  } else if (c->host != NULL) {
    rc |= put_option(f, "host", c->host);
    fprintf(f, "port=%u\nprotocol=TCP\n", c->port ? c->port : 3306);
  }
  sodium_memzero(password, sizeof(password));
  if (fclose(f) != 0 || rc != 0) {
    unlink(path);
    engine__err(err, "cannot write the temporary option file %s", path);
    return SM_EINVAL;
  }
  return 0;
}

/* "env:NAME": the secret is the value of the environment variable NAME. */
static int password_from_env(const char *name, char *out, char *err) {
  size_t n = strlen(name);
  int ok = n > 0 && n <= 128 && !(name[0] >= '0' && name[0] <= '9');
  for (size_t i = 0; ok && i < n; i++) {
    char c = name[i];
    ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (!ok) {
    engine__err(err, "env:%.140s is not a variable name (use env:NAME with letters, digits, _)",
                name);
    return SM_EINVAL;
  }
  const char *v = getenv(name);
  if (v == NULL) {
    engine__err(err, "environment variable %s is not set: export it, or name a password file",
                name);
    return SM_EINVAL;
  }
  size_t len = strcspn(v, "\r\n");
  if (len > 1024) {
    engine__err(err, "environment variable %s is over 1024 bytes", name);
    return SM_EINVAL;
  }
  memcpy(out, v, len);
  out[len] = '\0';
  return 0;
}

int engine__password_for(const struct engine_conn *c, const char *given, char *buf,
                         const char **out, char *err) {
  *out = given;
  if (given == NULL && c->password_file != NULL) {
    if (engine_password_read(c->password_file, buf, err) < 0) {
      return SM_EINVAL;
    }
    *out = buf;
  }
  return 0;
}

int engine_password_read(const char *path, char *out, char *err) {
  struct stat st;
  out[0] = '\0';
  if (strncmp(path, "env:", 4) == 0) {
    return password_from_env(path + 4, out, err);
  }
  if (stat(path, &st) != 0) {
    engine__err(err, "cannot read password file %s: %s", path, strerror(errno));
    return SM_EINVAL;
  }
  if ((st.st_mode & 077) != 0) {
    engine__err(err, "password file %s is readable by others: chmod 600 %s", path,
             path);
    return SM_EINVAL;
  }
  FILE *f = fopen(path, "r");
  if (f == NULL || fgets(out, 1025, f) == NULL) {
    if (f != NULL) {
      fclose(f);
      out[0] = '\0';
      return 0; /* an empty file is an empty password */
    }
    engine__err(err, "cannot read password file %s: %s", path, strerror(errno));
    return SM_EINVAL;
  }
  fclose(f);
  out[strcspn(out, "\r\n")] = '\0';
  return 0;
}

int engine__pid_alive(pid_t pid) {
  int status;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) {
    return 0;
  }
  if (r == 0) {
    return 1;
  }
  return kill(pid, 0) == 0;
}

int engine__capture(char *const argv[], char *out, size_t cap, int *out_status) {
  int fds[2];
  out[0] = '\0';
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return sm_errno();
  }
  pid_t pid = fork();
  if (pid < 0) {
    int rc = sm_errno();
    close(fds[0]);
    close(fds[1]);
    return rc;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(fds[1], 1);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t len = 0;
  for (;;) {
    char tmp[4096];
    ssize_t n = read(fds[0], tmp, sizeof(tmp));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    size_t take = SM_MIN((size_t)n, cap - 1 - len);
    memcpy(out + len, tmp, take);
    len += take;
  }
  out[len] = '\0';
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return sm_errno();
    }
  }
  *out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return 0;
}

void engine__sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

double engine__now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int engine__run_start_command(const struct engine_start_options *o, const char *socket,
                              char *err) {
  char id[32], port[32];
  snprintf(id, sizeof(id), "%u", o->server_id);
  snprintf(port, sizeof(port), "%u", o->port);
  setenv("SEEDMESH_DATADIR", o->datadir, 1);
  setenv("SEEDMESH_SERVER_ID", id, 1);
  setenv("SEEDMESH_SOCKET", socket, 1);
  setenv("SEEDMESH_PORT", port, 1);
  char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)o->start_command, NULL};
  int status = -1;
  int rc = engine__run(argv, NULL, &status);
  if (rc < 0 || status != 0) {
    engine__err(err, "the start command failed (exit %d): %s", status, o->start_command);
    return SM_EENGINE;
  }
  return 0;
}

int engine__check_local(int (*local_facts)(const struct engine_local *, struct engine_kvset *,
                                           char *),
                        int (*compat)(const struct engine_kvset *, const struct engine_kvset *,
                                      char *),
                        const struct engine_kvset *facts, const struct engine_local *local,
                        char *err) {
  struct engine_kvset mine;
  engine_kvset_init(&mine);
  int rc = local_facts(local, &mine, err);
  if (rc == 0) {
    rc = compat(facts, &mine, err);
  }
  engine_kvset_cleanup(&mine);
  return rc;
}

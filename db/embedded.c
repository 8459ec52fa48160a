/* Running a private PostgreSQL cluster for the out-of-the-box set-up.
 * PostgreSQL refuses to run as root, so initdb and postgres are started as
 * the configured server user. Everything here blocks: it runs in the
 * master before any worker exists. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "embedded.h"
#include "log.h"
#include "xmalloc.h"

struct pg_embedded {
	pid_t pid;
	bool child; /* started by us (can be reaped) or adopted */
	char *datadir;
};

static char embedded_error[1024];

static void msleep(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Finds /usr/lib/postgresql/<highest>/bin when no directory is configured. */
static char *embedded_find_bindir(void)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *de;
	long best = -1;
	char *path;

	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (end != de->d_name && *end == '\0' && v > best) {
			char *p = xasprintf("/usr/lib/postgresql/%ld/bin/postgres", v);

			if (access(p, X_OK) == 0)
				best = v;
			free(p);
		}
	}
	closedir(d);
	if (best < 0)
		return NULL;
	path = xasprintf("/usr/lib/postgresql/%ld/bin", best);
	return path;
}

static int embedded_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		snprintf(embedded_error, sizeof(embedded_error), "cannot create %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && chown(path, uid, gid) < 0) {
		snprintf(embedded_error, sizeof(embedded_error), "cannot chown %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (chmod(path, mode) < 0) {
		snprintf(embedded_error, sizeof(embedded_error), "cannot chmod %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* In a child: becomes uid/gid (when root), sends output to logfile, and
 * executes argv. Never returns. */
static void __attribute__((noreturn))
embedded_exec(uid_t uid, gid_t gid, const char *logfile, char *const argv[], bool pdeath)
{
	int fd;

	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
			fprintf(stderr, "floed: cannot switch to uid %ld: %s\n", (long)uid,
				strerror(errno));
			_exit(127);
		}
	}
	/* Stop the cluster (fast shutdown) if the master dies without doing it. */
	if (pdeath)
		prctl(PR_SET_PDEATHSIG, SIGINT);
	fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	setsid();
	execv(argv[0], argv);
	fprintf(stderr, "floed: cannot execute %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int embedded_run(uid_t uid, gid_t gid, const char *logfile, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		snprintf(embedded_error, sizeof(embedded_error), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		embedded_exec(uid, gid, logfile, argv, false);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(embedded_error, sizeof(embedded_error), "waitpid: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(embedded_error, sizeof(embedded_error), "%s failed (see %s)", argv[0],
			 logfile);
		return -1;
	}
	return 0;
}

static pid_t embedded_running_pid(const char *datadir)
{
	char *path = xasprintf("%s/postmaster.pid", datadir);
	FILE *f = fopen(path, "r");
	long pid = 0;

	free(path);
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	return (pid_t)pid;
}

static int embedded_wait_ready(const char *conninfo, pid_t pid, bool child, unsigned timeout_ms)
{
	for (unsigned waited = 0;; waited += 100) {
		int status;

		if (PQping(conninfo) == PQPING_OK)
			return 0;
		if (child && waitpid(pid, &status, WNOHANG) == pid) {
			snprintf(embedded_error, sizeof(embedded_error),
				 "PostgreSQL exited during start-up");
			return -1;
		}
		if (waited >= timeout_ms) {
			snprintf(embedded_error, sizeof(embedded_error),
				 "PostgreSQL did not accept connections within %u ms", timeout_ms);
			return -1;
		}
		msleep(100);
	}
}

static int embedded_create_database(const char *sockdir)
{
	char *conninfo = xasprintf("host=%s port=5432 dbname=postgres user=floe", sockdir);
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;
	int ret = 0;

	free(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(embedded_error, sizeof(embedded_error), "cannot connect: %s",
			 PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = 'floe'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(conn, "CREATE DATABASE floe ENCODING 'UTF8' TEMPLATE template0");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(embedded_error, sizeof(embedded_error), "CREATE DATABASE: %s",
				 PQresultErrorMessage(res));
			ret = -1;
		} else {
			log_info("embedded PostgreSQL: created database floe");
		}
	}
	PQclear(res);
	PQfinish(conn);
	return ret;
}

int pg_embedded_start(const char *state_dir, const char *bindir_cfg, uid_t uid, gid_t gid,
		      unsigned timeout_ms, struct pg_embedded **pg_r, const char **error_r)
{
	char *bindir = NULL, *datadir = NULL, *sockdir = NULL, *logfile = NULL, *conninfo = NULL;
	char *exe = NULL, *initdb = NULL, *version = NULL;
	struct pg_embedded *pg = NULL;
	pid_t pid;
	int ret = -1;

	bindir = bindir_cfg != NULL && *bindir_cfg != '\0' ? xstrdup(bindir_cfg)
							   : embedded_find_bindir();
	if (bindir == NULL) {
		snprintf(embedded_error, sizeof(embedded_error),
			 "no PostgreSQL server found under /usr/lib/postgresql (install the "
			 "postgresql package or set [db] pg_bindir)");
		goto out;
	}
	exe = xasprintf("%s/postgres", bindir);
	initdb = xasprintf("%s/initdb", bindir);
	if (access(exe, X_OK) != 0 || access(initdb, X_OK) != 0) {
		snprintf(embedded_error, sizeof(embedded_error), "%s/postgres or initdb missing",
			 bindir);
		goto out;
	}
	datadir = xasprintf("%s/pgdata", state_dir);
	sockdir = xasprintf("%s/run", state_dir);
	logfile = xasprintf("%s/postgresql.log", state_dir);
	conninfo = xasprintf("host=%s port=5432 dbname=postgres user=floe connect_timeout=2",
			     sockdir);
	if (embedded_mkdir(sockdir, 0700, uid, gid) < 0)
		goto out;
	version = xasprintf("%s/PG_VERSION", datadir);
	if (access(version, F_OK) != 0) {
		char *argv[] = {initdb, "-D", datadir, "-U", "floe", "-A", "trust", "-E", "UTF8",
				"--no-locale", "--no-instructions", NULL};
		char *conf = xasprintf("%s/postgresql.conf", datadir);
		FILE *f;

		if (embedded_mkdir(datadir, 0700, uid, gid) < 0) {
			free(conf);
			goto out;
		}
		log_info("embedded PostgreSQL: creating a cluster in %s", datadir);
		if (embedded_run(uid, gid, logfile, argv) < 0) {
			free(conf);
			goto out;
		}
		f = fopen(conf, "a");
		if (f == NULL) {
			snprintf(embedded_error, sizeof(embedded_error), "cannot append to %s: %s",
				 conf, strerror(errno));
			free(conf);
			goto out;
		}
		fprintf(f, "\n# Written by floed for its embedded cluster.\n"
			   "listen_addresses = ''\n"
			   "unix_socket_directories = '%s'\n"
			   "unix_socket_permissions = 0700\n"
			   "port = 5432\n"
			   "max_connections = 300\n",
			sockdir);
		fclose(f);
		free(conf);
	}

	pg = xcalloc(1, sizeof(*pg));
	pg->datadir = xstrdup(datadir);
	pid = embedded_running_pid(datadir);
	if (pid > 0 && PQping(conninfo) == PQPING_OK) {
		/* A floed that was killed left its cluster running; the state
		 * directory lock proves no other floed owns it now. */
		log_warning("embedded PostgreSQL: adopting the running cluster (pid %ld)",
			    (long)pid);
		pg->pid = pid;
		pg->child = false;
	} else {
		char *argv[] = {exe, "-D", datadir, NULL};

		pid = fork();
		if (pid < 0) {
			snprintf(embedded_error, sizeof(embedded_error), "fork: %s",
				 strerror(errno));
			goto out;
		}
		if (pid == 0)
			embedded_exec(uid, gid, logfile, argv, true);
		pg->pid = pid;
		pg->child = true;
		log_info("embedded PostgreSQL: started (pid %ld, socket %s)", (long)pid, sockdir);
	}
	if (embedded_wait_ready(conninfo, pg->pid, pg->child, timeout_ms) < 0)
		goto out;
	if (embedded_create_database(sockdir) < 0)
		goto out;
	*pg_r = pg;
	pg = NULL;
	ret = 0;
out:
	if (pg != NULL)
		pg_embedded_stop(&pg, 5000);
	if (ret < 0)
		*error_r = embedded_error;
	free(bindir);
	free(exe);
	free(initdb);
	free(datadir);
	free(sockdir);
	free(logfile);
	free(conninfo);
	free(version);
	return ret;
}

pid_t pg_embedded_pid(const struct pg_embedded *pg)
{
	return pg->pid;
}

bool pg_embedded_is_child(const struct pg_embedded *pg, pid_t pid)
{
	return pg != NULL && pg->child && pg->pid == pid;
}

void pg_embedded_forget(struct pg_embedded **pgp)
{
	if (*pgp == NULL)
		return;
	free((*pgp)->datadir);
	free(*pgp);
	*pgp = NULL;
}

void pg_embedded_stop(struct pg_embedded **pgp, unsigned timeout_ms)
{
	struct pg_embedded *pg = *pgp;
	unsigned waited = 0;
	int status;

	if (pg == NULL)
		return;
	if (pg->pid > 0 && kill(pg->pid, SIGINT) == 0) {
		for (;;) {
			bool gone;

			if (pg->child) {
				pid_t r = waitpid(pg->pid, &status, WNOHANG);

				gone = r == pg->pid || (r < 0 && errno == ECHILD);
			} else
				gone = kill(pg->pid, 0) < 0 && errno == ESRCH;
			if (gone)
				break;
			if (waited >= timeout_ms) {
				log_warning("embedded PostgreSQL: no exit after %u ms, forcing",
					    timeout_ms);
				kill(pg->pid, SIGQUIT);
				if (pg->child)
					waitpid(pg->pid, &status, 0);
				break;
			}
			msleep(50);
			waited += 50;
		}
		log_info("embedded PostgreSQL: stopped");
	}
	pg_embedded_forget(pgp);
}

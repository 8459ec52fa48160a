/* The master: everything that happens once per server rather than once per
 * connection. It never serves clients itself; it owns the listeners, the
 * embedded PostgreSQL child and the workers, and reacts to signals. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conn-limits.h"
#include "embedded.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "migrate.h"
#include "tls.h"
#include "worker.h"
#include "xmalloc.h"

/* A worker that lived this long is considered healthy again. */
#define WORKER_HEALTHY_SECS  30
#define WORKER_BACKOFF_MIN   250u
#define MIGRATE_RETRY_MS     3000
#define KILL_AFTER_GRACE_MS  5000
#define PG_START_TIMEOUT_MS  60000

struct worker_slot {
	struct master *master;
	unsigned index;
	pid_t pid;
	int limits_row; /* its row of shared connection counters, -1: none */
	time_t started;
	unsigned crashes;
	struct event *restart;
};

/* A worker of an older configuration, finishing its requests. */
struct draining_worker {
	pid_t pid;
	int limits_row;
};

struct master {
	struct floe_config *cfg;
	struct event_base *base;
	struct listener_set listeners;
	SSL_CTX *ssl;
	struct worker_slot *slots;
	unsigned nslots;
	struct draining_worker *draining;
	size_t ndraining;
	struct conn_limits *limits;
	struct pg_embedded *pg;
	unsigned pg_restarts;
	uid_t uid;
	gid_t gid;
	bool drop_user;
	bool stopping;
	bool migrated;
	int lock_fd;
	struct event *sig_term, *sig_int, *sig_hup, *sig_chld, *kill_timer, *migrate_timer;
};

static void master_spawn(struct master *m, struct worker_slot *slot);

static void ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static const char *describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped (status 0x%x)", status);
	return buf;
}

static int master_mkdir_state(struct master *m)
{
	const char *dir = m->cfg->server.state_dir;
	char *copy = xstrdup(dir);

	/* mkdir -p for the parents, owned by whoever we are. */
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
				log_error("cannot create %s: %s", copy, strerror(errno));
				free(copy);
				return -1;
			}
			*p = '/';
		}
	}
	free(copy);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (m->drop_user && chown(dir, m->uid, m->gid) < 0) {
		log_error("cannot give %s to user %s: %s", dir, m->cfg->server.user,
			  strerror(errno));
		return -1;
	}
	return 0;
}

/* One floed per state directory: a second one would start a second
 * PostgreSQL on the same data and fight over the sockets. */
static int master_lock_state(struct master *m)
{
	char *path = config_state_path(m->cfg, "floed.pid");
	char buf[32];
	ssize_t n;

	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->lock_fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(m->lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_error("another floed (pid %s) is already running on state directory %s",
			  buf[0] != '\0' ? buf : "?", m->cfg->server.state_dir);
		free(path);
		close(m->lock_fd);
		m->lock_fd = -1;
		return -1;
	}
	free(path);
	return 0;
}

static void master_write_pid(struct master *m)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(m->lock_fd, 0) < 0 || pwrite(m->lock_fd, buf, (size_t)len, 0) != len)
		log_warning("cannot write the pid file: %s", strerror(errno));
}

static int master_drop_privileges(struct master *m)
{
	if (!m->drop_user)
		return 0;
	if (initgroups(m->cfg->server.user, m->gid) < 0 || setgid(m->gid) < 0 ||
	    setuid(m->uid) < 0) {
		log_error("cannot switch to user %s: %s", m->cfg->server.user, strerror(errno));
		return -1;
	}
	log_info("running as user %s", m->cfg->server.user);
	return 0;
}

/* Applies the schema migrations. Blocking, but the master serves no
 * client; a database that is down is retried from a timer. */
static int master_migrate(struct master *m)
{
	char *conninfo = config_db_conninfo(m->cfg);
	char *full = xasprintf("%s connect_timeout=%u", conninfo,
			       (m->cfg->db.connect_timeout_ms + 999) / 1000);
	PGconn *conn;
	const char *error;
	int applied;

	/* A URL cannot take a trailing keyword; connect with the plain string. */
	conn = PQconnectdb(strchr(conninfo, '=') != NULL && strstr(conninfo, "://") == NULL
				   ? full
				   : conninfo);
	free(full);
	free(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		char *msg = xstrdup(PQerrorMessage(conn));

		msg[strcspn(msg, "\n")] = '\0';
		log_warning("database unavailable, schema not checked yet: %s", msg);
		free(msg);
		PQfinish(conn);
		return -1;
	}
	applied = db_migrate(conn, &error);
	PQfinish(conn);
	if (applied < 0) {
		/* Retrying cannot mend a failed migration or a newer schema. */
		log_error("schema migration failed: %s", error);
		return -2;
	}
	if (applied > 0)
		log_info("database schema migrated to version %d (%d migration(s) applied)",
			 db_migrations_latest(), applied);
	else
		log_info("database schema is up to date (version %d)", db_migrations_latest());
	m->migrated = true;
	return 0;
}

static void master_migrate_retry(evutil_socket_t fd, short what, void *ctx)
{
	struct master *m = ctx;
	struct timeval tv;

	int ret;

	if (m->stopping || (ret = master_migrate(m)) == 0)
		return;
	if (ret == -2) {
		log_error("refusing to serve with a database schema this floed cannot use; stopping");
		raise(SIGTERM);
		return;
	}
	ms_to_tv(MIGRATE_RETRY_MS, &tv);
	evtimer_add(m->migrate_timer, &tv);
}

static void master_restart_slot(evutil_socket_t fd, short what, void *ctx)
{
	struct worker_slot *slot = ctx;

	if (!slot->master->stopping && slot->pid == 0)
		master_spawn(slot->master, slot);
}

static void master_spawn(struct master *m, struct worker_slot *slot)
{
	pid_t pid;

	slot->limits_row = m->limits != NULL ? conn_limits_row_take(m->limits) : -1;
	if (m->limits != NULL && slot->limits_row < 0)
		log_warning("worker %u: no free row of shared connection counters; its "
			    "connection limits apply to it alone",
			    slot->index);
	pid = fork();

	if (pid < 0) {
		struct timeval tv;

		log_error("cannot fork worker %u: %s; retrying", slot->index, strerror(errno));
		if (m->limits != NULL)
			conn_limits_row_release(m->limits, slot->limits_row);
		ms_to_tv(1000, &tv);
		evtimer_add(slot->restart, &tv);
		return;
	}
	if (pid == 0) {
		/* The child gets a fresh loop; the master's events stay behind. */
		event_reinit(m->base);
		event_base_free(m->base);
		conn_limits_attach(m->limits, slot->limits_row);
		worker_main(m->cfg, &m->listeners, m->ssl, slot->index);
	}
	slot->pid = pid;
	slot->started = time(NULL);
	log_info("started worker %u (pid %ld)", slot->index, (long)pid);
}

static void master_start_workers(struct master *m)
{
	m->nslots = m->cfg->server.workers;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	for (unsigned i = 0; i < m->nslots; i++) {
		m->slots[i].master = m;
		m->slots[i].index = i + 1;
		m->slots[i].restart = evtimer_new(m->base, master_restart_slot, &m->slots[i]);
	}
	for (unsigned i = 0; i < m->nslots; i++)
		master_spawn(m, &m->slots[i]);
}

/* Moves the current workers to the draining list and tells them to stop. */
static void master_retire_workers(struct master *m)
{
	for (unsigned i = 0; i < m->nslots; i++) {
		struct worker_slot *slot = &m->slots[i];

		if (slot->pid > 0) {
			kill(slot->pid, SIGTERM);
			m->draining = xreallocarray(m->draining, m->ndraining + 1,
						    sizeof(*m->draining));
			m->draining[m->ndraining].pid = slot->pid;
			m->draining[m->ndraining++].limits_row = slot->limits_row;
		} else if (m->limits != NULL) {
			conn_limits_row_release(m->limits, slot->limits_row);
		}
		event_free(slot->restart);
	}
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
}

static size_t master_children(const struct master *m)
{
	size_t n = m->ndraining;

	for (unsigned i = 0; i < m->nslots; i++)
		n += m->slots[i].pid > 0;
	return n;
}

static void master_check_done(struct master *m)
{
	if (m->stopping && master_children(m) == 0)
		event_base_loopbreak(m->base);
}

static void master_pg_died(struct master *m, int status)
{
	char desc[128];
	const char *error;
	unsigned delay;

	pg_embedded_forget(&m->pg);
	if (m->stopping)
		return;
	log_error("embedded PostgreSQL %s; restarting it",
		  describe_status(status, desc, sizeof(desc)));
	delay = m->pg_restarts < 6 ? 250u << m->pg_restarts : 10000u;
	m->pg_restarts++;
	usleep(delay * 1000);
	if (pg_embedded_start(m->cfg->server.state_dir, m->cfg->db.pg_bindir, m->uid, m->gid,
			      PG_START_TIMEOUT_MS, &m->pg, &error) < 0)
		log_error("embedded PostgreSQL: %s", error);
}

static void master_on_child(evutil_socket_t sig, short what, void *ctx)
{
	struct master *m = ctx;
	char desc[128];
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool found = false;

		if (pg_embedded_is_child(m->pg, pid)) {
			master_pg_died(m, status);
			continue;
		}
		for (size_t i = 0; i < m->ndraining; i++) {
			if (m->draining[i].pid == pid) {
				if (m->limits != NULL)
					conn_limits_row_release(m->limits, m->draining[i].limits_row);
				m->draining[i] = m->draining[--m->ndraining];
				log_info("worker of the previous configuration (pid %ld) %s",
					 (long)pid, describe_status(status, desc, sizeof(desc)));
				found = true;
				break;
			}
		}
		for (unsigned i = 0; !found && i < m->nslots; i++) {
			struct worker_slot *slot = &m->slots[i];
			struct timeval tv;
			unsigned delay;

			if (slot->pid != pid)
				continue;
			found = true;
			slot->pid = 0;
			if (m->limits != NULL)
				conn_limits_row_release(m->limits, slot->limits_row);
			slot->limits_row = -1;
			if (m->stopping) {
				log_info("worker %u (pid %ld) %s", slot->index, (long)pid,
					 describe_status(status, desc, sizeof(desc)));
				break;
			}
			if (time(NULL) - slot->started >= WORKER_HEALTHY_SECS)
				slot->crashes = 0;
			delay = slot->crashes >= 16 ? m->cfg->server.restart_backoff_max_ms
						    : WORKER_BACKOFF_MIN << slot->crashes;
			if (slot->crashes == 0)
				delay = 0;
			if (delay > m->cfg->server.restart_backoff_max_ms)
				delay = m->cfg->server.restart_backoff_max_ms;
			slot->crashes++;
			log_error("worker %u (pid %ld) %s; restarting it in %u ms", slot->index,
				  (long)pid, describe_status(status, desc, sizeof(desc)), delay);
			ms_to_tv(delay, &tv);
			evtimer_add(slot->restart, &tv);
		}
		if (!found)
			log_debug("reaped unknown child %ld", (long)pid);
	}
	master_check_done(m);
}

static void master_kill_stragglers(evutil_socket_t fd, short what, void *ctx)
{
	struct master *m = ctx;

	log_warning("%zu worker(s) did not stop in time; killing them", master_children(m));
	for (unsigned i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, SIGKILL);
	for (size_t i = 0; i < m->ndraining; i++)
		kill(m->draining[i].pid, SIGKILL);
}

static void master_on_term(evutil_socket_t sig, short what, void *ctx)
{
	struct master *m = ctx;
	struct timeval tv;

	if (m->stopping)
		return;
	m->stopping = true;
	log_info("shutting down (signal %d): waiting up to %u ms for in-flight requests",
		 (int)sig, m->cfg->server.shutdown_timeout_ms);
	for (unsigned i = 0; i < m->nslots; i++) {
		evtimer_del(m->slots[i].restart);
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, SIGTERM);
	}
	for (size_t i = 0; i < m->ndraining; i++)
		kill(m->draining[i].pid, SIGTERM);
	ms_to_tv(m->cfg->server.shutdown_timeout_ms + KILL_AFTER_GRACE_MS, &tv);
	m->kill_timer = evtimer_new(m->base, master_kill_stragglers, m);
	evtimer_add(m->kill_timer, &tv);
	master_check_done(m);
}

static bool str_changed(const char *a, const char *b)
{
	return strcmp(a, b) != 0;
}

static void master_on_hup(evutil_socket_t sig, short what, void *ctx)
{
	struct master *m = ctx;
	struct config_errors errors = {NULL, 0};
	struct floe_config *cfg;
	struct listener_set set;
	SSL_CTX *ssl;
	const char *error;
	enum log_level level;

	if (m->stopping)
		return;
	log_info("reloading %s", m->cfg->path);
	cfg = config_load(m->cfg->path, &errors);
	if (cfg == NULL) {
		for (size_t i = 0; i < errors.count; i++)
			log_error("reload refused: %s", errors.lines[i]);
		log_error("reload refused: still running with the previous configuration");
		config_errors_clear(&errors);
		return;
	}
	if (str_changed(cfg->server.state_dir, m->cfg->server.state_dir) ||
	    str_changed(cfg->server.user, m->cfg->server.user) ||
	    str_changed(cfg->db.url, m->cfg->db.url) ||
	    str_changed(cfg->db.pg_bindir, m->cfg->db.pg_bindir)) {
		log_error("reload refused: %s: [server] state_dir, [server] user, [db] url and "
			  "[db] pg_bindir only change with a restart",
			  cfg->path);
		config_free(&cfg);
		return;
	}
	ssl = tls_ctx_create(cfg, &error);
	if (ssl == NULL && error != NULL) {
		log_error("reload refused: %s", error);
		config_free(&cfg);
		return;
	}
	if (listeners_bind(cfg, &m->listeners, &set, &errors) < 0) {
		for (size_t i = 0; i < errors.count; i++)
			log_error("reload refused: %s", errors.lines[i]);
		config_errors_clear(&errors);
		tls_ctx_free(&ssl);
		config_free(&cfg);
		return;
	}
	/* The old workers keep their own copies of everything they use. */
	master_retire_workers(m);
	listeners_close(&m->listeners);
	m->listeners = set;
	tls_ctx_free(&m->ssl);
	m->ssl = ssl;
	config_free(&m->cfg);
	m->cfg = cfg;
	if (log_level_parse(cfg->log.level, &level) == 0)
		log_set_level(level);
	if (cfg->log.file[0] != '\0' && log_open_file(cfg->log.file, &error) < 0)
		log_error("cannot reopen log file %s: %s", cfg->log.file, error);
	master_start_workers(m);
	log_info("configuration reloaded: %u worker(s), %zu listener(s)", m->nslots,
		 m->listeners.count);
}

/* Tens of thousands of parked Pings need as many descriptors: use all the
 * hard limit allows (and, as root, raise it). */
static void master_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (geteuid() == 0 && rl.rlim_max < 1048576)
		rl.rlim_max = 1048576;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int master_daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

int master_run(struct floe_config *cfg, bool foreground)
{
	struct master m;
	struct config_errors errors = {NULL, 0};
	const char *error;
	struct timeval tv;
	int status = 1;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.lock_fd = -1;
	m.uid = getuid();
	m.gid = getgid();
	log_set_role("master");

	if (geteuid() == 0 && cfg->server.user[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->server.user);

		if (pw == NULL) {
			log_error("%s: [server] user %s does not exist", cfg->path,
				  cfg->server.user);
			goto out;
		}
		m.uid = pw->pw_uid;
		m.gid = pw->pw_gid;
		m.drop_user = pw->pw_uid != 0;
	} else if (geteuid() != 0 && cfg->server.user[0] != '\0') {
		struct passwd *pw = getpwuid(geteuid());

		if (pw == NULL || strcmp(pw->pw_name, cfg->server.user) != 0)
			log_info("not started as root: running as uid %ld, [server] user %s "
				 "does not apply",
				 (long)geteuid(), cfg->server.user);
	}

	master_raise_fd_limit();
	if (master_mkdir_state(&m) < 0 || master_lock_state(&m) < 0)
		goto out;
	if (!foreground) {
		char *path = cfg->log.file[0] != '\0' ? xstrdup(cfg->log.file)
						       : config_state_path(cfg, "floed.log");

		if (log_open_file(path, &error) < 0) {
			log_error("cannot open log file %s: %s", path, error);
			free(path);
			goto out;
		}
		free(path);
		if (master_daemonize() < 0) {
			log_error("cannot run in the background: %s", strerror(errno));
			goto out;
		}
	}
	master_write_pid(&m);

	m.ssl = tls_ctx_create(cfg, &error);
	if (m.ssl == NULL && error != NULL) {
		log_error("%s", error);
		goto out;
	}
	if (listeners_bind(cfg, NULL, &m.listeners, &errors) < 0) {
		for (size_t i = 0; i < errors.count; i++)
			log_error("%s", errors.lines[i]);
		config_errors_clear(&errors);
		goto out;
	}
	if (master_drop_privileges(&m) < 0)
		goto out;
	if (strcmp(cfg->db.url, "local") == 0 &&
	    pg_embedded_start(cfg->server.state_dir, cfg->db.pg_bindir, m.uid, m.gid,
			      PG_START_TIMEOUT_MS, &m.pg, &error) < 0) {
		log_error("embedded PostgreSQL: %s", error);
		goto out;
	}

	m.base = event_base_new();
	if (m.base == NULL) {
		log_error("cannot create the event loop");
		goto out;
	}
	m.migrate_timer = evtimer_new(m.base, master_migrate_retry, &m);
	switch (master_migrate(&m)) {
	case 0:
		break;
	case -2:
		goto out;
	default:
		ms_to_tv(MIGRATE_RETRY_MS, &tv);
		evtimer_add(m.migrate_timer, &tv);
		break;
	}
	signal(SIGPIPE, SIG_IGN);
	m.sig_term = evsignal_new(m.base, SIGTERM, master_on_term, &m);
	m.sig_int = evsignal_new(m.base, SIGINT, master_on_term, &m);
	m.sig_hup = evsignal_new(m.base, SIGHUP, master_on_hup, &m);
	m.sig_chld = evsignal_new(m.base, SIGCHLD, master_on_child, &m);
	evsignal_add(m.sig_term, NULL);
	evsignal_add(m.sig_int, NULL);
	evsignal_add(m.sig_hup, NULL);
	evsignal_add(m.sig_chld, NULL);

	for (size_t i = 0; i < m.listeners.count; i++) {
		const struct listener *l = &m.listeners.items[i];

		log_info("listening on %s %s (%s)", l->text, l->name, listen_proto_name(l->proto));
	}
	/* Rows for the workers plus those of a previous configuration still
	 * draining after a reload. */
	m.limits = conn_limits_create(cfg->server.workers * 3 + 2 > 64 ? 64
									: cfg->server.workers * 3 + 2);
	master_start_workers(&m);
	log_info("floed %s started: %u worker(s)", PACKAGE_VERSION, m.nslots);
	event_base_dispatch(m.base);

	pg_embedded_stop(&m.pg, m.cfg->server.shutdown_timeout_ms + 10000);
	log_info("stopped");
	status = 0;
out:
	if (m.base != NULL) {
		for (unsigned i = 0; i < m.nslots; i++)
			event_free(m.slots[i].restart);
		free(m.slots);
		free(m.draining);
		struct event *evs[] = {m.kill_timer, m.migrate_timer, m.sig_term,
				       m.sig_int,    m.sig_hup,	      m.sig_chld};

		for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
			if (evs[i] != NULL)
				event_free(evs[i]);
		event_base_free(m.base);
	}
	if (status != 0 && m.pg != NULL)
		pg_embedded_stop(&m.pg, 10000);
	listeners_close(&m.listeners);
	conn_limits_destroy(&m.limits);
	tls_ctx_free(&m.ssl);
	if (m.lock_fd >= 0)
		close(m.lock_fd);
	config_free(&m.cfg);
	return status;
}

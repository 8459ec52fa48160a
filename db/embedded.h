/* The embedded PostgreSQL cluster behind "[db] url = local": created under
 * state_dir on first run, started by the master as the unprivileged server
 * user, listening only on a Unix socket in state_dir/run, stopped when the
 * master stops. */
#ifndef FLOE_EMBEDDED_H
#define FLOE_EMBEDDED_H

#include <stdbool.h>
#include <sys/types.h>

struct pg_embedded;

/* Creates the cluster if needed (initdb, database "floe", role "floe") and
 * starts it as uid/gid (when running as root; otherwise as ourselves),
 * waiting up to timeout_ms for it to accept connections. A cluster left
 * running by a floed that was killed is adopted. Blocking: master start-up
 * only. Returns 0, or -1 with *error_r (static text). */
int pg_embedded_start(const char *state_dir, const char *bindir, uid_t uid, gid_t gid,
		      unsigned timeout_ms, struct pg_embedded **pg_r, const char **error_r);
/* The postmaster's pid, for the master's child bookkeeping. */
pid_t pg_embedded_pid(const struct pg_embedded *pg);
/* True when pid is our child postmaster (the master reaped it: it died). */
bool pg_embedded_is_child(const struct pg_embedded *pg, pid_t pid);
/* Asks for a fast shutdown and waits up to timeout_ms, then forces it.
 * Frees and sets *pg to NULL; accepts NULL. */
void pg_embedded_stop(struct pg_embedded **pg, unsigned timeout_ms);
/* Forgets a cluster that already exited (reaped by the caller). */
void pg_embedded_forget(struct pg_embedded **pg);

#endif

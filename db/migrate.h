/* Schema migrations: numbered SQL files from db/migrations/, compiled into
 * the binaries and applied in order at start-up under an advisory lock so
 * that two nodes starting together do not race. */
#ifndef FLOE_MIGRATE_H
#define FLOE_MIGRATE_H

#include <libpq-fe.h>

struct db_migration {
	int version;
	const char *name;
	const char *sql;
};

/* Terminated by an entry with name == NULL. */
extern const struct db_migration db_migrations[];

/* Applies every migration newer than the database's version, each in its
 * own transaction, holding the advisory lock. Blocking: for start-up and
 * floectl only, never from a worker. Returns the number applied, or -1 with
 * *error_r set (static storage, valid until the next call). */
int db_migrate(PGconn *conn, const char **error_r);
/* The newest migration compiled in. */
int db_migrations_latest(void);

#endif

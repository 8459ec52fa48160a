/* Connection counters shared by every worker of one floed: how many
 * connections a client address or an account has open, so that limits
 * such as [imap] max_connections_per_ip hold for the whole server rather
 * than per worker.
 *
 * The master maps one shared region before forking: one row of counters
 * per worker (keys hashed into a fixed number of slots; two keys that
 * share a slot share a count, which can only make a limit bite early).
 * A worker counts in its own row and reads all rows; when a worker dies
 * the master zeroes its row, so its connections stop counting. */
#ifndef FLOE_CONN_LIMITS_H
#define FLOE_CONN_LIMITS_H

struct conn_limits;

/* Master: maps room for rows workers (old and new generations together).
 * Returns NULL when shared memory cannot be had (limits then apply per
 * worker). */
struct conn_limits *conn_limits_create(unsigned rows);
void conn_limits_destroy(struct conn_limits **limits);
/* Master: a free row for a worker about to start, or -1 when none is
 * free. */
int conn_limits_row_take(struct conn_limits *limits);
/* Master: the worker using row exited; its counts are dropped. */
void conn_limits_row_release(struct conn_limits *limits, int row);

/* Worker: from now on this process counts in row (-1: not shared). */
void conn_limits_attach(struct conn_limits *limits, int row);
/* Worker: the attached instance, or NULL. */
struct conn_limits *conn_limits_worker(void);
/* Worker: counts one more connection for key unless the total over every
 * worker already reached limit. Returns 0, or -1 when over the limit. */
int conn_limits_acquire(struct conn_limits *limits, const char *key, unsigned limit);
/* Worker: one connection for key ended. */
void conn_limits_release(struct conn_limits *limits, const char *key);

#endif

/* Watching a libpq connection's socket from a libevent loop. The socket
 * can change between connection attempts (and during PQconnectPoll), so
 * the event is recreated whenever the descriptor or the wanted events
 * change. Used by the query pool (db.c) and the notice listener (notify.c). */
#ifndef FLOE_PG_SOCKET_H
#define FLOE_PG_SOCKET_H

#include <event2/event.h>
#include <libpq-fe.h>

struct pg_socket {
	struct event *ev; /* NULL while nothing is watched */
	evutil_socket_t fd;
	short what;
};

/* Sets up an empty watch. */
void pg_socket_init(struct pg_socket *sock);
/* Watches pg's current socket for what (EV_READ and/or EV_WRITE,
 * persistent), calling cb(fd, events, arg). Does nothing when that is
 * already being watched; watches nothing when pg has no socket. */
void pg_socket_watch(struct pg_socket *sock, struct event_base *base, PGconn *pg, short what,
                     event_callback_fn cb, void *arg);
/* Stops watching. */
void pg_socket_clear(struct pg_socket *sock);

#endif

/* libpq socket watches on a libevent loop (see pg-socket.h). */
#include "pg-socket.h"

void
pg_socket_init(struct pg_socket *sock)
{
	sock->ev = NULL;
	sock->fd = -1;
	sock->what = 0;
}

void
pg_socket_clear(struct pg_socket *sock)
{
	if (sock->ev != NULL)
		event_free(sock->ev);
	pg_socket_init(sock);
}

void
pg_socket_watch(struct pg_socket *sock, struct event_base *base, PGconn *pg, short what,
                event_callback_fn cb, void *arg)
{
	evutil_socket_t fd = PQsocket(pg);

	if (sock->ev != NULL && fd == sock->fd && what == sock->what)
		return;
	pg_socket_clear(sock);
	sock->fd = fd;
	sock->what = what;
	if (fd < 0)
		return;
	sock->ev = event_new(base, fd, what | EV_PERSIST, cb, arg);
	event_add(sock->ev, NULL);
}

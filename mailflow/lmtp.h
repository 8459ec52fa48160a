/* The LMTP server (RFC 2033) through which an MTA such as Postfix delivers
 * into Floe: one per worker, on the [lmtp] listen addresses (loopback).
 * LHLO with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE; each RCPT
 * is resolved at once (550 5.1.1 for unknown addresses); after DATA one
 * reply per accepted recipient, from modules/delivery.h. Nothing blocks:
 * a session waits for the store with its input paused. */
#ifndef FLOE_LMTP_H
#define FLOE_LMTP_H

#include <stddef.h>
#include <sys/socket.h>

struct bufferevent;
struct delivery;
struct event_base;
struct floe_config;
struct lmtp_server;

/* cfg and delivery are not owned and must outlive the server. */
struct lmtp_server *lmtp_server_create(struct event_base *base, const struct floe_config *cfg,
                                       struct delivery *delivery);
/* Closes every session at once (deliveries in progress are abandoned:
 * the MTA tries again) and frees the server. Accepts NULL; sets *server
 * to NULL. */
void lmtp_server_destroy(struct lmtp_server **server);

/* Takes ownership of bev, an accepted connection from peer. While the
 * server is shutting down it only gets "421 4.3.2". */
void lmtp_server_accept(struct lmtp_server *server, struct bufferevent *bev,
                        const struct sockaddr *peer, socklen_t peer_len);
/* Graceful stop: idle sessions get "421 4.3.2 shutting down" at once, a
 * session receiving or delivering a message first finishes it. done(ctx)
 * is called from the event loop once no session is left. */
void lmtp_server_shutdown(struct lmtp_server *server, void (*done)(void *ctx), void *ctx);
size_t lmtp_server_connection_count(const struct lmtp_server *server);

#endif

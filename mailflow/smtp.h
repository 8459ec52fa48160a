/* SMTP submission (RFC 6409) for Outlook and phones: [smtp] listen (with
 * STARTTLS, RFC 3207) and listen_tls (implicit TLS, RFC 8314). AUTH PLAIN
 * and LOGIN only once the connection is encrypted; the envelope sender
 * must be one of the account's own addresses, aliases or delegated
 * addresses; size, recipient and hourly rate limits; local recipients are
 * delivered at once, remote ones queued (modules/delivery.h). One server
 * per worker. */
#ifndef FLOE_SMTP_H
#define FLOE_SMTP_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct auth;
struct bufferevent;
struct db;
struct delivery;
struct event_base;
struct floe_config;
struct smtp_server;

/* None of the objects is owned; all must outlive the server. ssl may be
 * NULL (no certificate: no STARTTLS, hence no AUTH: nobody can submit). */
struct smtp_server *smtp_server_create(struct event_base *base, const struct floe_config *cfg,
                                       struct db *db, struct auth *auth, struct delivery *delivery,
                                       SSL_CTX *ssl);
/* Closes every session at once (their pending operations are abandoned)
 * and frees the server. Accepts NULL; sets *server to NULL. */
void smtp_server_destroy(struct smtp_server **server);

/* Takes ownership of bev, an accepted connection from peer (tls: an
 * implicit-TLS bufferevent). While shutting down it answers "421" and
 * closes. */
void smtp_server_accept(struct smtp_server *server, struct bufferevent *bev,
                        const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Graceful stop: idle sessions get "421 4.3.2" at once, the others once
 * their running command (a message being received or stored) has been
 * answered. done(ctx) is called from the event loop once none is left. */
void smtp_server_shutdown(struct smtp_server *server, void (*done)(void *ctx), void *ctx);
size_t smtp_server_connection_count(const struct smtp_server *server);

#endif

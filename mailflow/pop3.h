/* The per-worker POP3 server (RFC 1939 with CAPA, STLS, AUTH and response
 * codes): what every session shares (store, auth, TLS context, [pop3]
 * settings), the list of sessions, the connection limits per client address
 * and per account, and graceful shutdown. Sessions serve the account's
 * INBOX only. */
#ifndef FLOE_POP3_H
#define FLOE_POP3_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct auth;
struct bufferevent;
struct event_base;
struct floe_config;
struct pop3_server;
struct store;

/* None of the objects is owned; all must outlive the server. ssl may be
 * NULL (no certificate: no STLS, and no login unless [pop3]
 * allow_plaintext_auth). */
struct pop3_server *pop3_server_create(struct event_base *base, const struct floe_config *cfg,
                                       struct store *store, struct auth *auth, SSL_CTX *ssl);
/* Closes every session at once (none enters the UPDATE state: their
 * deletions are dropped) and frees the server. Accepts NULL; sets *server
 * to NULL. */
void pop3_server_destroy(struct pop3_server **server);

/* Takes ownership of bev, an accepted connection from peer (tls: an
 * implicit-TLS bufferevent). Refuses it with "-ERR [SYS/TEMP]" when the
 * server is shutting down or the address has too many connections. */
void pop3_server_accept(struct pop3_server *server, struct bufferevent *bev,
                        const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Graceful stop: a session waiting for a command gets "-ERR [SYS/TEMP]
 * Server shutting down" and is closed without entering the UPDATE state; a
 * running command (a RETR being sent, a QUIT's deletions) finishes first.
 * done(ctx) is called from the event loop once no session is left. */
void pop3_server_shutdown(struct pop3_server *server, void (*done)(void *ctx), void *ctx);
size_t pop3_server_connection_count(const struct pop3_server *server);

#endif

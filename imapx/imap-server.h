/* The per-worker IMAP server: what every session shares (store, auth,
 * change-notice bus, TLS context, [imap] settings), the list of sessions,
 * the connection limits per account and per client address (counted per
 * worker), and graceful shutdown. */
#ifndef FLOE_IMAP_SERVER_H
#define FLOE_IMAP_SERVER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct auth;
struct bufferevent;
struct event_base;
struct floe_config;
struct imap_cache;
struct imap_client;
struct imap_server;
struct notify_bus;
struct store;

/* None of the objects is owned; all must outlive the server. ssl may be
 * NULL (no certificate: no STARTTLS). */
struct imap_server *imap_server_create(struct event_base *base, const struct floe_config *cfg,
                                       struct store *store, struct auth *auth,
                                       struct notify_bus *bus, SSL_CTX *ssl);
/* Closes every session at once (their commands' cleanup runs) and frees
 * the server. Accepts NULL; sets *server to NULL. */
void imap_server_destroy(struct imap_server **server);

/* Takes ownership of bev, an accepted connection from peer (tls: an
 * implicit-TLS bufferevent). Refuses it with "* BYE [UNAVAILABLE]" when
 * the server is shutting down or the address has too many connections. */
void imap_server_accept(struct imap_server *server, struct bufferevent *bev,
                        const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Graceful stop: every session gets "* BYE Server shutting down" once its
 * running command (if any) has finished; IDLE ends at once. done(ctx) is
 * called from the event loop once no session is left. */
void imap_server_shutdown(struct imap_server *server, void (*done)(void *ctx), void *ctx);
size_t imap_server_connection_count(const struct imap_server *server);

/* Shared objects, for the sessions. */
struct event_base *imap_server_base(const struct imap_server *server);
const struct floe_config *imap_server_config(const struct imap_server *server);
struct store *imap_server_store(const struct imap_server *server);
struct auth *imap_server_auth(const struct imap_server *server);
struct notify_bus *imap_server_bus(const struct imap_server *server);
SSL_CTX *imap_server_ssl(const struct imap_server *server);
/* The worker's message cache (msg-cache.h), sized by [imap] cache_size. */
struct imap_cache *imap_server_cache(const struct imap_server *server);
bool imap_server_is_stopping(const struct imap_server *server);

/* Session registry (client.c). add checks the per-address limit: returns
 * 0 with the session's slot in *slot_r, or -1 when ip already has
 * max_connections_per_ip sessions. remove may move another session to the
 * freed slot (it tells it with imap_client_set_slot). */
int imap_server_client_add(struct imap_server *server, struct imap_client *client, const char *ip,
                           size_t *slot_r);
void imap_server_client_remove(struct imap_server *server, size_t slot, const char *ip);
/* Per-account limit: returns 0 and counts the session, or -1 when the
 * account already has max_connections_per_account sessions here. */
int imap_server_account_ref(struct imap_server *server, uint64_t account_id);
void imap_server_account_unref(struct imap_server *server, uint64_t account_id);

#endif

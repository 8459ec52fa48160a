/* TLS with OpenSSL: one server context from [tls] cert/key (TLS 1.2 and
 * newer only), bufferevents for implicit-TLS listeners, and STARTTLS for
 * line protocols. */
#ifndef FLOE_TLS_H
#define FLOE_TLS_H

#include <openssl/ssl.h>

struct event_base;
struct bufferevent;
struct floe_config;

/* Builds the server context. Returns NULL with *error_r NULL when no
 * certificate is configured, or NULL with *error_r set ("file:line: ...")
 * when the certificate or key cannot be used. Error text is static. */
SSL_CTX *tls_ctx_create(const struct floe_config *cfg, const char **error_r);
void tls_ctx_free(SSL_CTX **ctx);

/* A server-side TLS bufferevent on an accepted socket (owns fd). */
struct bufferevent *tls_bufferevent_accept(struct event_base *base, int fd, SSL_CTX *ctx);

/* STARTTLS: wraps an established plain bufferevent in TLS. Whatever the
 * client sent in clear after the STARTTLS command is discarded first, so
 * no plaintext can be injected into the encrypted session. Returns the new
 * bufferevent, which owns plain; NULL on failure (plain untouched). */
struct bufferevent *tls_bufferevent_starttls(struct bufferevent *plain, SSL_CTX *ctx);

#endif

/* OpenSSL server context and TLS bufferevents. SSL_MODE_RELEASE_BUFFERS
 * keeps idle connections (parked EAS Pings, IMAP IDLE) small: OpenSSL drops
 * its read and write buffers while nothing is in flight. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tls.h"

static char tls_error[1024];

static const char *tls_last_error(void)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	return ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "unknown error";
}

SSL_CTX *tls_ctx_create(const struct floe_config *cfg, const char **error_r)
{
	SSL_CTX *ctx;

	*error_r = NULL;
	if (cfg->tls.cert[0] == '\0')
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(tls_error, sizeof(tls_error), "%s: cannot create TLS context: %s",
			 cfg->path, tls_last_error());
		*error_r = tls_error;
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_cipher_list(ctx, cfg->tls.ciphers) != 1) {
		snprintf(tls_error, sizeof(tls_error), "%s: [tls] ciphers \"%s\": %s", cfg->path,
			 cfg->tls.ciphers, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls.cert) != 1) {
		snprintf(tls_error, sizeof(tls_error), "%s:%u: [tls] cert %s: %s", cfg->path,
			 cfg->line_tls_cert, cfg->tls.cert, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls.key, SSL_FILETYPE_PEM) != 1) {
		snprintf(tls_error, sizeof(tls_error), "%s:%u: [tls] key %s: %s", cfg->path,
			 cfg->line_tls_key, cfg->tls.key, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(tls_error, sizeof(tls_error), "%s:%u: [tls] key %s does not match cert %s",
			 cfg->path, cfg->line_tls_key, cfg->tls.key, cfg->tls.cert);
		goto fail;
	}
	return ctx;
fail:
	*error_r = tls_error;
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(SSL_CTX **ctx)
{
	if (*ctx != NULL)
		SSL_CTX_free(*ctx);
	*ctx = NULL;
}

struct bufferevent *tls_bufferevent_accept(struct event_base *base, int fd, SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Many clients just close the socket; that is not an attack. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *tls_bufferevent_starttls(struct bufferevent *plain, SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	/* Drop anything pipelined in clear after STARTTLS (CVE-2011-0411 class). */
	evbuffer_drain(bufferevent_get_input(plain), evbuffer_get_length(bufferevent_get_input(plain)));
	bev = bufferevent_openssl_filter_new(bufferevent_get_base(plain), plain, ssl,
					     BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Unit tests for server/tls.c: the server context refuses old protocol
 * versions, and STARTTLS discards whatever the client sent in clear after
 * the command (no plaintext injection into the TLS session). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "tls.h"
#include "xmalloc.h"

static char cert_path[64], key_path[64];

/* A throw-away self-signed pair, written to /tmp. */
static int make_pair(void)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	FILE *f;
	int fd;

	snprintf(cert_path, sizeof(cert_path), "/tmp/floe-test-cert-XXXXXX");
	snprintf(key_path, sizeof(key_path), "/tmp/floe-test-key-XXXXXX");
	if (pkey == NULL || x == NULL)
		return -1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, pkey, EVP_sha256());
	fd = mkstemp(cert_path);
	f = fdopen(fd, "w");
	PEM_write_X509(f, x);
	fclose(f);
	fd = mkstemp(key_path);
	f = fdopen(fd, "w");
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return 0;
}

static SSL_CTX *server_ctx(void)
{
	struct floe_config cfg;
	const char *error = NULL;
	SSL_CTX *ctx;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = "test.conf";
	cfg.tls.cert = cert_path;
	cfg.tls.key = key_path;
	cfg.tls.ciphers = "HIGH:!aNULL";
	ctx = tls_ctx_create(&cfg, &error);
	if (ctx == NULL)
		printf("# tls_ctx_create: %s\n", error != NULL ? error : "(no error)");
	return ctx;
}

struct starttls_state {
	struct event_base *base;
	SSL_CTX *sctx, *cctx;
	struct bufferevent *server, *client;
	bool upgraded;
	char received[256];
};

static void server_read(struct bufferevent *bev, void *arg)
{
	struct starttls_state *st = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!st->upgraded) {
		char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);

		if (line != NULL && strcmp(line, "STARTTLS") == 0) {
			free(line);
			st->server = tls_bufferevent_starttls(bev, st->sctx);
			st->upgraded = true;
			bufferevent_setcb(st->server, server_read, NULL, NULL, st);
			bufferevent_enable(st->server, EV_READ | EV_WRITE);
			return;
		}
		free(line);
		return;
	}
	{
		size_t n = evbuffer_get_length(in), have = strlen(st->received);

		if (n > sizeof(st->received) - 1 - have)
			n = sizeof(st->received) - 1 - have;
		evbuffer_remove(in, st->received + have, n);
		st->received[have + n] = '\0';
		if (strstr(st->received, "\r\n") != NULL)
			event_base_loopexit(st->base, NULL);
	}
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct starttls_state *st = arg;

	if (what & BEV_EVENT_CONNECTED)
		bufferevent_write(bev, "HELLO\r\n", 7);
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		event_base_loopexit(st->base, NULL);
}

static void test_starttls_discards_cleartext(void)
{
	struct starttls_state st;
	struct bufferevent *plain_client;
	struct timeval tv = {5, 0};
	int sv[2];

	memset(&st, 0, sizeof(st));
	st.base = event_base_new();
	st.sctx = server_ctx();
	ok(st.sctx != NULL, "server context from PEM files");
	if (st.sctx == NULL)
		return;
	st.cctx = SSL_CTX_new(TLS_client_method());
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	st.server = bufferevent_socket_new(st.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(st.server, server_read, NULL, NULL, &st);
	bufferevent_enable(st.server, EV_READ | EV_WRITE);

	/* The attacker's injection rides in the same packet as STARTTLS. */
	if (write(sv[1], "STARTTLS\r\nINJECTED\r\n", 20) != 20)
		printf("# short write\n");
	event_base_loop(st.base, EVLOOP_NONBLOCK);
	event_base_loop(st.base, EVLOOP_NONBLOCK);
	ok(st.upgraded, "server switched to TLS after STARTTLS");

	plain_client = bufferevent_socket_new(st.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	st.client = bufferevent_openssl_filter_new(st.base, plain_client, SSL_new(st.cctx),
						  BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(st.client, NULL, NULL, client_event, &st);
	bufferevent_enable(st.client, EV_READ | EV_WRITE);
	event_base_loopexit(st.base, &tv);
	event_base_dispatch(st.base);
	is_str(st.received, "HELLO\r\n", "only the encrypted line arrives; the clear one is gone");

	bufferevent_free(st.client);
	if (st.server != NULL)
		bufferevent_free(st.server);
	SSL_CTX_free(st.cctx);
	SSL_CTX_free(st.sctx);
	event_base_free(st.base);
}

static void test_ctx_errors(void)
{
	struct floe_config cfg;
	const char *error = NULL;
	SSL_CTX *ctx;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = "test.conf";
	cfg.tls.cert = "";
	cfg.tls.key = "";
	cfg.tls.ciphers = "HIGH";
	ctx = tls_ctx_create(&cfg, &error);
	ok(ctx == NULL && error == NULL, "no certificate configured: no context, no error");

	cfg.tls.cert = key_path; /* a key is not a certificate */
	cfg.tls.key = key_path;
	cfg.line_tls_cert = 7;
	ctx = tls_ctx_create(&cfg, &error);
	ok(ctx == NULL && error != NULL && strstr(error, "test.conf:7: [tls] cert") != NULL,
	   "unusable certificate reported with file:line (%s)", error != NULL ? error : "");

	ctx = server_ctx();
	ok(ctx != NULL && SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION,
	   "minimum protocol is TLS 1.2");
	if (ctx != NULL)
		SSL_CTX_free(ctx);
}

int main(void)
{
	ok(make_pair() == 0, "generated a test certificate");
	test_ctx_errors();
	test_starttls_discards_cleartext();
	unlink(cert_path);
	unlink(key_path);
	return done_testing();
}

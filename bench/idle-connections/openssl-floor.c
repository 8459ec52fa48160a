/* How much heap one server-side OpenSSL connection keeps after its
 * handshake and a first record, with SSL_MODE_RELEASE_BUFFERS, measured
 * without sockets or libevent: the floor under Floe's per-connection cost
 * for TLS. Build and run:
 *   cc -O2 bench/idle-connections/openssl-floor.c -o /tmp/openssl-floor -lssl -lcrypto
 *   /tmp/openssl-floor CERT.pem KEY.pem [tls12] */
#include <malloc.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECTIONS 2000

static size_t heap_used(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

int main(int argc, char **argv)
{
	SSL_CTX *server, *client;
	SSL **kept;
	size_t base, after;

	if (argc < 3) {
		fprintf(stderr, "usage: openssl-floor CERT.pem KEY.pem [tls12]\n");
		return 2;
	}
	server = SSL_CTX_new(TLS_server_method());
	client = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(server, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(server, argv[2], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "cannot load %s / %s\n", argv[1], argv[2]);
		return 1;
	}
	SSL_CTX_set_mode(server, SSL_MODE_RELEASE_BUFFERS);
	if (argc > 3 && strcmp(argv[3], "tls12") == 0)
		SSL_CTX_set_max_proto_version(server, TLS1_2_VERSION);
	kept = calloc(CONNECTIONS, sizeof(*kept));
	base = heap_used();
	for (int i = 0; i < CONNECTIONS; i++) {
		SSL *sv = SSL_new(server), *cl = SSL_new(client);
		BIO *b1, *b2;
		char buf[64];

		/* Small pair buffers: they stand in for the kernel's socket. */
		BIO_new_bio_pair(&b1, 512, &b2, 512);
		SSL_set_bio(sv, b1, b1);
		SSL_set_bio(cl, b2, b2);
		SSL_set_accept_state(sv);
		SSL_set_connect_state(cl);
		for (int k = 0; k < 200 && !(SSL_is_init_finished(sv) && SSL_is_init_finished(cl)); k++) {
			SSL_do_handshake(cl);
			SSL_do_handshake(sv);
		}
		SSL_write(cl, "x", 1);
		SSL_read(sv, buf, sizeof(buf));
		SSL_read(sv, buf, sizeof(buf));
		SSL_free(cl);
		kept[i] = sv;
	}
	after = heap_used();
	printf("%s: %.0f bytes of heap per server connection after handshake (%d connections)\n",
	       OpenSSL_version(OPENSSL_VERSION), (double)(after - base) / CONNECTIONS, CONNECTIONS);
	return 0;
}

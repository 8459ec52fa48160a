/* A non-blocking SMTP client for the outgoing queue: one session to one
 * server address carrying one message to some recipients (RFC 5321):
 * greeting, EHLO (HELO as a fallback), STARTTLS (RFC 3207) or implicit
 * TLS, AUTH PLAIN/LOGIN (only over TLS), MAIL FROM with SIZE (RFC 1870)
 * and BODY=8BITMIME, one RCPT TO per recipient, DATA with dot-stuffing and
 * CRLF line ends, QUIT. Every step has the timeout RFC 5321 4.5.3.2
 * suggests (configurable). Runs on bufferevents in the worker's loop. */
#ifndef FLOE_SMTP_CLIENT_H
#define FLOE_SMTP_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct smtp_client;

enum smtp_client_tls {
	SMTP_CLIENT_TLS_OFF,           /* never */
	SMTP_CLIENT_TLS_OPPORTUNISTIC, /* STARTTLS when offered */
	SMTP_CLIENT_TLS_REQUIRED,      /* STARTTLS, or no delivery */
	SMTP_CLIENT_TLS_IMPLICIT,      /* TLS from the first byte */
};

struct smtp_client_settings {
	const char *helo; /* our name for EHLO */
	enum smtp_client_tls tls;
	bool tls_verify;  /* check the certificate and that it names server_name */
	const char *user; /* AUTH credentials; NULL or "": no AUTH */
	const char *password;
	unsigned connect_timeout_ms;    /* TCP connect and TLS handshake */
	unsigned command_timeout_ms;    /* each reply before the message */
	unsigned data_block_timeout_ms; /* each write of the message */
	unsigned data_end_timeout_ms;   /* the reply to the final dot */
};

/* The outcome of a session. Every recipient gets an SMTP reply: code and
 * text ("5.1.1 No such user", the enhanced code first when the server
 * gave one). When the session failed before the recipients were tried
 * (connection, greeting, EHLO, TLS, AUTH, a 421, a timeout or MAIL FROM),
 * session_failed is set and every recipient carries that failure;
 * try_next is then set when another address or MX host may do better
 * (everything except a permanent refusal of MAIL FROM). Network failures
 * are reported as code 451 ("4.4.1 ..."/"4.4.2 ..."). All strings are
 * valid during the callback only. */
struct smtp_client_result {
	bool session_failed;
	bool try_next;
	bool tls;                /* the session was encrypted */
	const char *server_name; /* as given to smtp_client_start */
	const int *codes;        /* per recipient */
	const char *const *texts;
	size_t nrcpts;
};
typedef void smtp_client_cb(const struct smtp_client_result *result, void *ctx);

/* Connects to addr (server_name names it for TLS and the log) and sends
 * data (size bytes; CRLF or LF line ends) from mail_from ("" for <>) to
 * rcpts. ssl is a client context (smtp_client_ssl_ctx); every string and
 * the data are copied. cb is called exactly once from the event loop,
 * never from inside this call, unless the session is abandoned first. */
struct smtp_client *smtp_client_start(struct event_base *base, SSL_CTX *ssl,
                                      const struct smtp_client_settings *settings,
                                      const char *server_name, const struct sockaddr *addr,
                                      socklen_t addr_len, const char *mail_from,
                                      const char *const *rcpts, size_t nrcpts, const void *data,
                                      size_t size, smtp_client_cb *cb, void *ctx);
/* Drops the connection; the callback will not be called. Sets *c to NULL;
 * accepts NULL. */
void smtp_client_abandon(struct smtp_client **c);

/* A client TLS context (TLS 1.2 and newer) with the system's CA paths. */
SSL_CTX *smtp_client_ssl_ctx(void);

/* ---------------------------------------------------------------------
 * Pure helpers (for tests)
 */

/* Appends data to out with CRLF line ends and dot-stuffing (RFC 5321
 * 4.5.2), then the terminating ".\r\n" (after a CRLF if data does not end
 * with one). */
struct evbuffer;
void smtp_client_stuff(struct evbuffer *out, const void *data, size_t size);

/* Parses one complete reply at the start of buf (len bytes): returns the
 * bytes it spans and sets *code_r and, in text (at most size - 1 bytes),
 * the lines' texts joined with "\n"; 0 when more input is needed; -1 when
 * it is malformed (or longer than max_len). */
long smtp_client_parse_reply(const char *buf, size_t len, size_t max_len, int *code_r, char *text,
                             size_t size);

#endif

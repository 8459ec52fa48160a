/* Unit tests for the pure parts of the outgoing path: dot-stuffing and
 * reply parsing of the SMTP client, MX answer parsing and ordering, relay
 * host:port splitting, and the queue's back-off. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "queue.h"
#include "smtp-client.h"
#include "tap.h"

static char *
stuffed(const char *in)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *s;

	smtp_client_stuff(out, in, strlen(in));
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

static void
test_stuff(void)
{
	char *s;

	s = stuffed("a\r\n.b\r\n.\r\nc\r\n");
	is_str(s, "a\r\n..b\r\n..\r\nc\r\n.\r\n", "leading dots doubled, terminator added");
	free(s);
	s = stuffed("bare\nlf\n.x");
	is_str(s, "bare\r\nlf\r\n..x\r\n.\r\n", "LF becomes CRLF; missing final CRLF added");
	free(s);
	s = stuffed(".first");
	is_str(s, "..first\r\n.\r\n", "a dot on the first line");
	free(s);
	s = stuffed("");
	is_str(s, ".\r\n", "empty message");
	free(s);
	s = stuffed("mid.dle\r\n");
	is_str(s, "mid.dle\r\n.\r\n", "a dot inside a line is left alone");
	free(s);
}

static void
test_reply(void)
{
	char text[64];
	int code = 0;
	const char *multi = "250-mx.test hello\r\n250-SIZE 1000\r\n250 STARTTLS\r\nNEXT";

	is_int(smtp_client_parse_reply("220 ready\r\n", 11, 1024, &code, text, sizeof(text)), 11,
	       "one line");
	is_int(code, 220, "code");
	is_str(text, "ready", "text");
	is_int(smtp_client_parse_reply(multi, strlen(multi), 1024, &code, text, sizeof(text)),
	       (long)strlen(multi) - 4, "multi-line reply spans its lines");
	is_str(text, "mx.test hello\nSIZE 1000\nSTARTTLS", "lines joined");
	is_int(smtp_client_parse_reply("250-a\r\n250 b", 13, 1024, &code, text, sizeof(text)), 0,
	       "incomplete: more input needed");
	is_int(smtp_client_parse_reply("250-a\r\n251 b\r\n", 14, 1024, &code, text, sizeof(text)),
	       -1, "codes differ between lines");
	is_int(smtp_client_parse_reply("hello\r\n", 7, 1024, &code, text, sizeof(text)), -1,
	       "no code");
	is_int(smtp_client_parse_reply("250\r\n", 5, 1024, &code, text, sizeof(text)), 5,
	       "code without text");
	is_str(text, "", "empty text");
	is_int(smtp_client_parse_reply("250 abc", 7, 4, &code, text, sizeof(text)), -1,
	       "too long without end");
	is_int(smtp_client_parse_reply("550 5.1.1 a very long reply text that is cut\n", 45, 1024,
	                               &code, text, 12),
	       45, "LF alone ends a line; text truncated to the buffer");
	is_str(text, "5.1.1 a ver", "truncated text");
}

/* Appends a DNS name in wire form. */
static size_t
put_name(unsigned char *p, const char *name)
{
	size_t n = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t len = dot != NULL ? (size_t)(dot - name) : strlen(name);

		p[n++] = (unsigned char)len;
		memcpy(p + n, name, len);
		n += len;
		name += len;
		if (*name == '.')
			name++;
	}
	p[n++] = 0;
	return n;
}

static size_t
put_mx(unsigned char *p, unsigned pref, const char *host)
{
	size_t n = 0, rdlen;

	p[n++] = 0xc0; /* pointer to the question name */
	p[n++] = 12;
	p[n++] = 0;
	p[n++] = 15; /* MX */
	p[n++] = 0;
	p[n++] = 1; /* IN */
	memset(p + n, 0, 4);
	p[n + 3] = 60; /* TTL */
	n += 4;
	rdlen = 2 + put_name(p + n + 4, host);
	p[n++] = (unsigned char)(rdlen >> 8);
	p[n++] = (unsigned char)rdlen;
	p[n++] = (unsigned char)(pref >> 8);
	p[n++] = (unsigned char)pref;
	return n + rdlen - 2;
}

static void
test_mx(void)
{
	unsigned char pkt[512];
	struct mx_record recs[MX_MAX_HOSTS];
	const char *error = NULL;
	size_t n = 0;
	char host[64];
	uint16_t port;

	memset(pkt, 0, sizeof(pkt));
	pkt[2] = 0x81;
	pkt[3] = 0x80;
	pkt[5] = 1; /* one question */
	pkt[7] = 3; /* three answers */
	n = 12;
	n += put_name(pkt + n, "example.test");
	pkt[n + 1] = 15;
	pkt[n + 3] = 1;
	n += 4;
	n += put_mx(pkt + n, 20, "b.mx.example.test");
	n += put_mx(pkt + n, 10, "a.mx.example.test");
	n += put_mx(pkt + n, 20, "c.mx.example.test");

	is_int(mx_parse_answer(pkt, (int)n, recs, MX_MAX_HOSTS, &error), 3, "three MX records");
	mx_sort(recs, 3);
	is_str(recs[0].name, "a.mx.example.test", "lowest preference first");
	is_int(recs[0].preference, 10, "its preference");
	is_str(recs[1].name, "b.mx.example.test", "stable among equals");
	is_str(recs[2].name, "c.mx.example.test", "stable among equals (2)");
	is_int(mx_parse_answer(pkt, (int)n, recs, 1, &error), 1, "at most max records");
	is_int(mx_parse_answer(pkt, (int)n - 3, recs, MX_MAX_HOSTS, &error), -1,
	       "truncated packet");
	ok(error != NULL, "with a reason");
	is_int(mx_parse_answer(pkt, 5, recs, MX_MAX_HOSTS, &error), -1, "shorter than a header");

	/* A null MX (RFC 7505): preference 0, host "." */
	memset(pkt + 6, 0, 2);
	pkt[7] = 1;
	n = 12 + put_name(pkt + 12, "example.test") + 4;
	n += put_mx(pkt + n, 0, "");
	is_int(mx_parse_answer(pkt, (int)n, recs, MX_MAX_HOSTS, &error), 1, "null MX parsed");
	is_str(recs[0].name, "", "as the root");

	ok(mx_split_hostport("smtp.example.test:587", host, sizeof(host), 25, &port) == 0 &&
	       strcmp(host, "smtp.example.test") == 0 && port == 587,
	   "host:port");
	ok(mx_split_hostport("relay.test", host, sizeof(host), 25, &port) == 0 && port == 25,
	   "default port");
	ok(mx_split_hostport("[::1]:2525", host, sizeof(host), 25, &port) == 0 &&
	       strcmp(host, "::1") == 0 && port == 2525,
	   "bracketed IPv6");
	ok(mx_split_hostport("::1", host, sizeof(host), 25, &port) < 0, "bare IPv6 refused");
	ok(mx_split_hostport("host:0", host, sizeof(host), 25, &port) < 0, "port 0 refused");
	ok(mx_split_hostport("host:99999", host, sizeof(host), 25, &port) < 0, "port too large");
	ok(mx_split_hostport("bad host:25", host, sizeof(host), 25, &port) < 0, "blank refused");
	ok(mx_split_hostport(":25", host, sizeof(host), 25, &port) < 0, "no host");
}

static void
test_backoff(void)
{
	is_int(queue_retry_delay(300000, 14400000, 1), 300000, "first retry after retry_min");
	is_int(queue_retry_delay(300000, 14400000, 2), 600000, "then doubled");
	is_int(queue_retry_delay(300000, 14400000, 4), 2400000, "doubled each attempt");
	is_int(queue_retry_delay(300000, 14400000, 10), 14400000, "at most retry_max");
	is_int(queue_retry_delay(300000, 14400000, 1000), 14400000, "no overflow");
}

int
main(void)
{
	test_stuff();
	test_reply();
	test_mx();
	test_backoff();
	return done_testing();
}

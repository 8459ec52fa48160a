/* The RFC 3464 bounce builder (see dsn.h). The report is plain text built
 * line by line with CRLF; nothing in it comes unsanitised from the
 * network, so a hostile reply cannot add headers or MIME parts. */
#include "dsn.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "xmalloc.h"

/* Header lines of the original returned at most (a larger header section
 * is cut at a line boundary). */
#define DSN_HEADERS_MAX (64 * 1024)

struct dsn_buf {
	char *s;
	size_t len, cap;
};

static void
buf_add(struct dsn_buf *b, const char *text, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap == 0 ? 4096 : b->cap * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, text, len);
	b->len += len;
	b->s[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3))) buf_line(struct dsn_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	buf_add(b, line, strlen(line));
	buf_add(b, "\r\n", 2);
	free(line);
}

char *
dsn_sanitize(const char *text, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return buf;
	for (; text != NULL && *text != '\0' && n + 1 < size; text++) {
		unsigned char c = (unsigned char)*text;

		if (c == '\r' || c == '\n' || c == '\t' || c < 0x20 || c == 0x7f)
			buf[n++] = ' ';
		else if (c >= 0x80)
			buf[n++] = '?';
		else
			buf[n++] = (char)c;
	}
	/* Trailing blanks say nothing. */
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

const char *
dsn_status_of_reply(int code, const char *text, char *buf, size_t size)
{
	int cls = code / 100, a, b, c, used = 0;

	if (text != NULL && sscanf(text, "%1d.%3d.%3d%n", &a, &b, &c, &used) == 3 && used > 0 &&
	    a == cls && (a == 2 || a == 4 || a == 5) && (text[used] == '\0' || text[used] == ' ')) {
		snprintf(buf, size, "%d.%d.%d", a, b, c);
		return buf;
	}
	if (cls != 2 && cls != 4 && cls != 5)
		cls = 4;
	snprintf(buf, size, "%d.0.0", cls);
	return buf;
}

const char *
dsn_date(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return buf;
}

/* The header section of msg with CRLF line ends, cut at DSN_HEADERS_MAX. */
static void
add_headers(struct dsn_buf *b, const char *msg, size_t size)
{
	size_t i = 0, added = 0;

	while (i < size) {
		const char *nl = memchr(msg + i, '\n', size - i);
		size_t end = nl != NULL ? (size_t)(nl - msg) : size;
		size_t len = end - i;

		if (len > 0 && msg[i + len - 1] == '\r')
			len--;
		if (len == 0)
			break; /* the empty line that ends the headers */
		if (added + len + 2 > DSN_HEADERS_MAX)
			break;
		buf_add(b, msg + i, len);
		buf_add(b, "\r\n", 2);
		added += len + 2;
		i = end + 1;
	}
}

char *
dsn_build(const struct dsn_params *p, size_t *size_r)
{
	struct dsn_buf b = {0};
	char host[256], from[512], date[64], arrival[64], unique[40], envid[256];
	bool any_failed = false;

	dsn_sanitize(p->reporting_mta, host, sizeof(host));
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	dsn_sanitize(p->mail_from, from, sizeof(from));
	if (p->unique != NULL) {
		dsn_sanitize(p->unique, unique, sizeof(unique));
	} else {
		unsigned char rnd[12];

		randombytes_buf(rnd, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(unique + 2 * i, 3, "%02x", rnd[i]);
	}
	for (size_t i = 0; i < p->nrcpts; i++) {
		if (p->rcpts[i].action != NULL && strcmp(p->rcpts[i].action, "failed") == 0)
			any_failed = true;
	}
	dsn_date(p->now, date, sizeof(date));
	dsn_date(p->arrival_date, arrival, sizeof(arrival));

	buf_line(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>", host);
	buf_line(&b, "To: <%s>", from);
	buf_line(&b, "Subject: %s",
	         any_failed ? "Undelivered Mail Returned to Sender"
	                    : "Delayed Mail (still being retried)");
	buf_line(&b, "Date: %s", date);
	buf_line(&b, "Message-ID: <dsn.%s@%s>", unique, host);
	buf_line(&b, "Auto-Submitted: auto-replied");
	buf_line(&b, "MIME-Version: 1.0");
	buf_line(&b, "Content-Type: multipart/report; report-type=delivery-status;");
	buf_line(&b, "\tboundary=\"=_dsn_%s\"", unique);
	buf_line(&b, "%s", "");
	buf_line(&b, "This is a MIME-encapsulated message (RFC 3464 delivery status).");
	buf_line(&b, "%s", "");

	/* 1. For people. */
	buf_line(&b, "--=_dsn_%s", unique);
	buf_line(&b, "Content-Type: text/plain; charset=us-ascii");
	buf_line(&b, "Content-Description: Notification");
	buf_line(&b, "%s", "");
	buf_line(&b, "This is the mail system at %s.", host);
	buf_line(&b, "%s", "");
	if (any_failed) {
		buf_line(&b, "Your message could not be delivered to one or more recipients.");
		buf_line(&b, "It is attached below (headers only).");
	} else {
		buf_line(&b, "Your message has not been delivered yet to one or more recipients.");
		buf_line(&b, "The mail system will keep trying; you need not send it again.");
	}
	buf_line(&b, "%s", "");
	for (size_t i = 0; i < p->nrcpts; i++) {
		const struct dsn_recipient *r = &p->rcpts[i];
		char addr[512], diag[1024];

		dsn_sanitize(r->address, addr, sizeof(addr));
		dsn_sanitize(r->diagnostic, diag, sizeof(diag));
		buf_line(&b, "<%s>: %s", addr, diag[0] != '\0' ? diag : "delivery failed");
	}
	buf_line(&b, "%s", "");

	/* 2. For programs. */
	buf_line(&b, "--=_dsn_%s", unique);
	buf_line(&b, "Content-Type: message/delivery-status");
	buf_line(&b, "Content-Description: Delivery report");
	buf_line(&b, "%s", "");
	buf_line(&b, "Reporting-MTA: dns; %s", host);
	if (p->envelope_id != NULL && p->envelope_id[0] != '\0')
		buf_line(&b, "Original-Envelope-Id: %s",
		         dsn_sanitize(p->envelope_id, envid, sizeof(envid)));
	buf_line(&b, "Arrival-Date: %s", arrival);
	for (size_t i = 0; i < p->nrcpts; i++) {
		const struct dsn_recipient *r = &p->rcpts[i];
		char addr[512], status[32], mta[256], diag[1024];

		dsn_sanitize(r->address, addr, sizeof(addr));
		dsn_sanitize(r->status, status, sizeof(status));
		buf_line(&b, "%s", "");
		buf_line(&b, "Final-Recipient: rfc822; %s", addr);
		buf_line(&b, "Action: %s", r->action != NULL ? r->action : "failed");
		buf_line(&b, "Status: %s", status[0] != '\0' ? status : "5.0.0");
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0')
			buf_line(&b, "Remote-MTA: dns; %s",
			         dsn_sanitize(r->remote_mta, mta, sizeof(mta)));
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0')
			buf_line(&b, "Diagnostic-Code: smtp; %s",
			         dsn_sanitize(r->diagnostic, diag, sizeof(diag)));
		buf_line(&b, "Last-Attempt-Date: %s", date);
	}
	buf_line(&b, "%s", "");

	/* 3. What was sent. */
	buf_line(&b, "--=_dsn_%s", unique);
	buf_line(&b, "Content-Type: text/rfc822-headers");
	buf_line(&b, "Content-Description: Undelivered message headers");
	buf_line(&b, "%s", "");
	add_headers(&b, p->original, p->original_size);
	buf_line(&b, "%s", "");
	buf_line(&b, "--=_dsn_%s--", unique);

	*size_r = b.len;
	return b.s;
}

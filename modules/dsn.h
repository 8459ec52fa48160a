/* Delivery status notifications (RFC 3464): the bounce sent to the sender
 * of a message that could not be delivered. A multipart/report with a
 * human-readable part, the message/delivery-status part (Reporting-MTA,
 * Arrival-Date, then per recipient Final-Recipient, Action, Status,
 * Remote-MTA, Diagnostic-Code) and the original message's header section
 * (text/rfc822-headers), from MAILER-DAEMON with Auto-Submitted (RFC
 * 3834). Pure code: no I/O. */
#ifndef FLOE_DSN_H
#define FLOE_DSN_H

#include <stddef.h>
#include <stdint.h>

struct dsn_recipient {
	const char *address;    /* the recipient as given in RCPT TO */
	const char *action;     /* "failed" or "delayed" */
	const char *status;     /* RFC 3463 code: "5.1.1" */
	const char *diagnostic; /* the remote reply ("550 5.1.1 No such user") or a
	                           local reason; may be NULL */
	const char *remote_mta; /* host name of the server that answered; may be NULL */
};

struct dsn_params {
	const char *reporting_mta; /* our host name */
	const char *mail_from;     /* the original envelope sender: the DSN goes to it */
	const char *envelope_id;   /* RFC 3461 ENVID or NULL */
	int64_t arrival_date;      /* Unix time the message was accepted */
	int64_t now;               /* Unix time for Date: */
	const char *unique;        /* makes Message-ID and boundary unique; NULL: random */
	const struct dsn_recipient *rcpts;
	size_t nrcpts;
	const void *original; /* the original message (CRLF or LF line ends) */
	size_t original_size;
};

/* Builds the DSN message with CRLF line ends. Every value taken from the
 * network (addresses, replies, host names) is made a single line of
 * printable ASCII first. Returns a NUL-terminated buffer the caller frees;
 * *size_r is its length without the NUL. */
char *dsn_build(const struct dsn_params *params, size_t *size_r);

/* The RFC 3463 status of an SMTP reply: the enhanced code at the start of
 * text ("5.1.1 No such user") when there is one whose class matches code,
 * else "<class>.0.0" from code. Writes into buf (at least 16 bytes) and
 * returns it. */
const char *dsn_status_of_reply(int code, const char *text, char *buf, size_t size);

/* At most size - 1 bytes of text as a single line of printable ASCII
 * (controls and line breaks become spaces, other bytes '?'). Returns buf. */
char *dsn_sanitize(const char *text, char *buf, size_t size);

/* An RFC 5322 date ("Tue, 4 Mar 2025 10:00:00 +0000") in UTC. Returns buf
 * (at least 40 bytes). */
const char *dsn_date(int64_t when, char *buf, size_t size);

#endif

/* The auto-responder's pure logic (RFC 3834): header scan, the decision
 * whether to answer, %%Variable%% expansion and the reply message. See
 * responder.h. */
#include "base64.h"
#include "responder.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "xmalloc.h"

/* A growing byte string. */
struct rbuf {
	char *s;
	size_t len, cap;
};

static void
rbuf_add(struct rbuf *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
}

static void
rbuf_str(struct rbuf *b, const char *s)
{
	rbuf_add(b, s, strlen(s));
}

static char *
rbuf_take(struct rbuf *b)
{
	if (b->s == NULL)
		return xstrdup("");
	return b->s;
}

/* ---------------------------------------------------------------------
 * Header scan
 */

static char *
lower_trim(const char *s, size_t len)
{
	char *out;
	size_t i = 0, j = 0;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (i < len && isspace((unsigned char)s[i]))
		i++;
	out = xmalloc(len - i + 1);
	for (; i < len; i++)
		out[j++] = (char)tolower((unsigned char)s[i]);
	out[j] = '\0';
	return out;
}

/* The address inside <...> of a value, or the value, lower-cased. */
static char *
value_address(const char *v, size_t len)
{
	const char *lt = memchr(v, '<', len), *gt;

	if (lt != NULL) {
		gt = memchr(lt, '>', len - (size_t)(lt - v));
		if (gt != NULL)
			return lower_trim(lt + 1, (size_t)(gt - lt - 1));
	}
	return lower_trim(v, len);
}

/* A comma-separated value contains token (any case)? */
static bool
value_has_token(const char *v, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (isspace((unsigned char)v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',' && v[i] != ';')
			i++;
		end = i;
		while (end > start && isspace((unsigned char)v[end - 1]))
			end--;
		if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0)
			return true;
		while (i < len && v[i] != ',')
			i++;
	}
	return false;
}

static void
scan_field(struct responder_msg *msg, const char *name, size_t nlen, const char *v, size_t vlen)
{
#define IS(n) (nlen == sizeof(n) - 1 && strncasecmp(name, n, nlen) == 0)
	if (nlen > 5 && strncasecmp(name, "List-", 5) == 0) {
		msg->list = true;
	} else if (IS("Precedence")) {
		char *p = lower_trim(v, vlen);

		if (strcmp(p, "bulk") == 0 || strcmp(p, "list") == 0 || strcmp(p, "junk") == 0)
			msg->bulk = true;
		free(p);
	} else if (IS("Auto-Submitted")) {
		char *p = lower_trim(v, vlen);
		size_t n = strcspn(p, " \t;(");

		/* "no" with optional parameters or comments means a person. */
		if (!(n == 2 && strncmp(p, "no", 2) == 0))
			msg->auto_submitted = true;
		free(p);
	} else if (IS("X-Auto-Response-Suppress")) {
		if (value_has_token(v, vlen, "All") || value_has_token(v, vlen, "OOF") ||
		    value_has_token(v, vlen, "AutoReply"))
			msg->suppress = true;
	} else if (IS("Received")) {
		msg->received++;
	} else if (IS("Delivered-To")) {
		if (msg->ndelivered_to < 1000) {
			msg->delivered_to =
			    xrealloc(msg->delivered_to, (msg->ndelivered_to + 1) * sizeof(char *));
			msg->delivered_to[msg->ndelivered_to++] = value_address(v, vlen);
		}
	}
#undef IS
}

void
responder_scan(const void *data, size_t size, struct responder_msg *msg_r)
{
	const char *d = data;
	size_t p = 0;
	struct rbuf value = {0};

	memset(msg_r, 0, sizeof(*msg_r));
	while (p < size) {
		size_t line_end, next, colon, name_len;

		/* The blank line ends the header block. */
		if (d[p] == '\n' || (d[p] == '\r' && p + 1 < size && d[p + 1] == '\n'))
			break;
		line_end = p;
		while (line_end < size && d[line_end] != '\n')
			line_end++;
		next = line_end < size ? line_end + 1 : size;
		for (colon = p; colon < line_end && d[colon] != ':'; colon++)
			;
		if (colon == line_end || colon == p) {
			p = next; /* not a field: skip the line */
			continue;
		}
		name_len = colon - p;
		while (name_len > 0 && (d[p + name_len - 1] == ' ' || d[p + name_len - 1] == '\t'))
			name_len--;
		value.len = 0;
		rbuf_add(&value, d + colon + 1, line_end - colon - 1);
		/* Continuation lines start with white space. */
		while (next < size && (d[next] == ' ' || d[next] == '\t')) {
			size_t e = next;

			while (e < size && d[e] != '\n')
				e++;
			rbuf_add(&value, " ", 1);
			rbuf_add(&value, d + next, e - next);
			next = e < size ? e + 1 : size;
		}
		while (value.len > 0 && value.s[value.len - 1] == '\r')
			value.s[--value.len] = '\0';
		for (size_t i = 0; i < value.len; i++) {
			if (value.s[i] == '\r')
				value.s[i] = ' ';
		}
		scan_field(msg_r, d + p, name_len, value.s != NULL ? value.s : "", value.len);
		p = next;
	}
	free(value.s);
}

void
responder_msg_clear(struct responder_msg *msg)
{
	for (size_t i = 0; i < msg->ndelivered_to; i++)
		free(msg->delivered_to[i]);
	free(msg->delivered_to);
	memset(msg, 0, sizeof(*msg));
}

bool
responder_delivered_to(const struct responder_msg *msg, const char *address)
{
	for (size_t i = 0; i < msg->ndelivered_to; i++) {
		if (strcasecmp(msg->delivered_to[i], address) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * The decision
 */

bool
responder_never_match(const char *const *never, size_t n, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *domain = at != NULL ? at + 1 : "";

	for (size_t i = 0; i < n; i++) {
		const char *e = never[i];

		if (e == NULL || *e == '\0')
			continue;
		if (strcasecmp(e, address) == 0)
			return true;
		if (*domain != '\0' && ((e[0] == '@' && strcasecmp(e + 1, domain) == 0) ||
		                        (strchr(e, '@') == NULL && strcasecmp(e, domain) == 0)))
			return true;
	}
	return false;
}

/* Senders that are programs (RFC 3834 section 2: not to be answered). */
static bool
daemon_sender(const char *sender)
{
	static const char *const exact[] = {"mailer-daemon", "listserv", "majordomo",
	                                    "noreply",       "no-reply", "donotreply",
	                                    "do-not-reply",  NULL};
	static const char *const suffixes[] = {"-request", "-owner", "-bounces", NULL};
	const char *at = strrchr(sender, '@');
	size_t len = at != NULL ? (size_t)(at - sender) : strlen(sender);

	for (size_t i = 0; exact[i] != NULL; i++) {
		if (len == strlen(exact[i]) && strncasecmp(sender, exact[i], len) == 0)
			return true;
	}
	if (len > 6 && strncasecmp(sender, "owner-", 6) == 0)
		return true;
	for (size_t i = 0; suffixes[i] != NULL; i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && strncasecmp(sender + len - sl, suffixes[i], sl) == 0)
			return true;
	}
	return false;
}

enum responder_verdict
responder_decide(const struct store_responder *r, time_t now, const char *sender, bool sender_local,
                 const char *own_address, const struct responder_msg *msg)
{
	if (r->mode == STORE_RESPONDER_OFF)
		return RESPONDER_OFF;
	if ((r->starts_at != 0 && now < r->starts_at) || (r->ends_at != 0 && now > r->ends_at))
		return RESPONDER_NOT_NOW;
	if (sender == NULL || *sender == '\0')
		return RESPONDER_NULL_SENDER;
	if (daemon_sender(sender))
		return RESPONDER_DAEMON;
	if (msg->list || msg->bulk)
		return RESPONDER_LIST;
	if (msg->auto_submitted || msg->suppress)
		return RESPONDER_AUTOMATIC;
	if (own_address != NULL && strcasecmp(sender, own_address) == 0)
		return RESPONDER_SELF;
	if (responder_never_match(r->never_reply, r->nnever_reply, sender))
		return RESPONDER_NEVER;
	if (!sender_local && !r->reply_external)
		return RESPONDER_EXTERNAL;
	return RESPONDER_REPLY;
}

const char *
responder_verdict_text(enum responder_verdict v)
{
	switch (v) {
	case RESPONDER_REPLY:
		return "answered";
	case RESPONDER_OFF:
		return "mode off";
	case RESPONDER_NOT_NOW:
		return "outside the date window";
	case RESPONDER_NULL_SENDER:
		return "null sender";
	case RESPONDER_DAEMON:
		return "sender is a program";
	case RESPONDER_LIST:
		return "mailing list or bulk mail";
	case RESPONDER_AUTOMATIC:
		return "automatic message";
	case RESPONDER_NEVER:
		return "sender on the never-answer list";
	case RESPONDER_EXTERNAL:
		return "outside sender";
	case RESPONDER_SELF:
		return "message from the account itself";
	}
	return "?";
}

/* ---------------------------------------------------------------------
 * Variables
 */

void
responder_split_from(const char *from, char **name_r, char **email_r)
{
	const char *lt, *gt;
	size_t nlen;

	if (from == NULL)
		from = "";
	lt = strrchr(from, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (lt == NULL || gt == NULL) {
		*name_r = xstrdup("");
		*email_r = lower_trim(from, strlen(from));
		return;
	}
	*email_r = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	nlen = (size_t)(lt - from);
	while (nlen > 0 && isspace((unsigned char)from[nlen - 1]))
		nlen--;
	while (nlen > 0 && isspace((unsigned char)*from)) {
		from++;
		nlen--;
	}
	if (nlen >= 2 && from[0] == '"' && from[nlen - 1] == '"') {
		from++;
		nlen -= 2;
	}
	*name_r = xstrndup(from, nlen);
}

char *
responder_expand(const char *text, const struct responder_vars *vars)
{
	struct rbuf out = {0};
	char *name, *email, date[16], hm[8];
	struct tm tm;
	const char *p = text != NULL ? text : "";

	responder_split_from(vars->from, &name, &email);
	localtime_r(&vars->now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	strftime(hm, sizeof(hm), "%H:%M", &tm);
	struct {
		const char *name, *value;
	} table[] = {
	    {"Subject", vars->subject},
	    {"From", vars->from},
	    {"From_Name", name[0] != '\0' ? name : email},
	    {"From_Email", email},
	    {"To", vars->to},
	    {"To_Email", vars->to},
	    {"Email", vars->to},
	    {"Date", date},
	    {"Time", hm},
	};

	while (*p != '\0') {
		const char *start = strstr(p, "%%"), *end;
		bool done = false;

		if (start == NULL) {
			rbuf_str(&out, p);
			break;
		}
		rbuf_add(&out, p, (size_t)(start - p));
		end = strstr(start + 2, "%%");
		if (end != NULL) {
			size_t nlen = (size_t)(end - start - 2);

			for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
				if (nlen == strlen(table[i].name) &&
				    strncasecmp(start + 2, table[i].name, nlen) == 0) {
					rbuf_str(&out,
					         table[i].value != NULL ? table[i].value : "");
					p = end + 2;
					done = true;
					break;
				}
			}
		}
		if (!done) {
			/* Not a variable: keep the first "%" and look again after it. */
			rbuf_add(&out, start, 1);
			p = start + 1;
		}
	}
	free(name);
	free(email);
	return rbuf_take(&out);
}

/* ---------------------------------------------------------------------
 * The reply
 */

void
responder_date(time_t t, char buf[64])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(buf, 64, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

static bool
is_ascii_printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x7f || ((unsigned char)*s < 0x20 && *s != '\t'))
			return false;
	}
	return true;
}

/* RFC 2047 "B" words of UTF-8 text, never splitting a character, each
 * word at most 75 characters, folded onto continuation lines. */
static void
add_encoded_words(struct rbuf *b, const char *s)
{
	size_t len = strlen(s), i = 0;
	bool first = true;

	while (i < len) {
		/* 45 bytes of text give 60 characters of base64, 72 with "=?UTF-8?B??=". */
		size_t n = len - i > 45 ? 45 : len - i;
		char word[80];
		size_t w = 0;

		while (n > 0 && i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		if (!first)
			rbuf_str(b, "\r\n ");
		first = false;
		rbuf_str(b, "=?UTF-8?B?");
		w = (size_t)(base64_encode_into(word, s + i, n) - word);
		rbuf_add(b, word, w);
		rbuf_str(b, "?=");
		i += n;
	}
}

/* Quoted-printable (RFC 2045) of text, with CRLF line ends. */
static void
add_quoted_printable(struct rbuf *b, const char *s)
{
	size_t col = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char enc[4];
		size_t n;

		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n') {
			rbuf_str(b, "\r\n");
			col = 0;
			continue;
		}
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && p[1] != '\n' && p[1] != '\r' && p[1] != '\0')) {
			enc[0] = (char)*p;
			n = 1;
		} else {
			snprintf(enc, sizeof(enc), "=%02X", *p);
			n = 3;
		}
		if (col + n > 75) {
			rbuf_str(b, "=\r\n");
			col = 0;
		}
		rbuf_add(b, enc, n);
		col += n;
	}
	rbuf_str(b, "\r\n");
}

char *
responder_build(const struct responder_reply *reply, size_t *size_r)
{
	struct rbuf b = {0};
	char date[64], id[64];
	uint64_t rnd[2] = {0};
	bool irt = reply->in_reply_to != NULL && reply->in_reply_to[0] != '\0';
	bool refs = reply->references != NULL && reply->references[0] != '\0';

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd[0] = (uint64_t)reply->now ^ (uint64_t)(uintptr_t)&b;
	snprintf(id, sizeof(id), "%016llx.%08llx", (unsigned long long)rnd[0],
	         (unsigned long long)(rnd[1] & 0xffffffffu));
	responder_date(reply->now, date);
	rbuf_str(&b, "From: <");
	rbuf_str(&b, reply->from);
	rbuf_str(&b, ">\r\nTo: <");
	rbuf_str(&b, reply->to);
	rbuf_str(&b, ">\r\nSubject: ");
	if (is_ascii_printable(reply->subject))
		rbuf_str(&b, reply->subject);
	else
		add_encoded_words(&b, reply->subject);
	rbuf_str(&b, "\r\nDate: ");
	rbuf_str(&b, date);
	rbuf_str(&b, "\r\nMessage-ID: <");
	rbuf_str(&b, id);
	rbuf_str(&b, "@");
	rbuf_str(&b, reply->hostname);
	rbuf_str(&b, ">\r\n");
	if (irt && is_ascii_printable(reply->in_reply_to)) {
		rbuf_str(&b, "In-Reply-To: ");
		rbuf_str(&b, reply->in_reply_to);
		rbuf_str(&b, "\r\n");
	}
	if ((refs && is_ascii_printable(reply->references)) || irt) {
		rbuf_str(&b, "References:");
		if (refs && is_ascii_printable(reply->references)) {
			rbuf_str(&b, " ");
			rbuf_str(&b, reply->references);
		}
		if (irt && is_ascii_printable(reply->in_reply_to)) {
			rbuf_str(&b, " ");
			rbuf_str(&b, reply->in_reply_to);
		}
		rbuf_str(&b, "\r\n");
	}
	rbuf_str(&b, "Auto-Submitted: auto-replied\r\n"
	             "X-Auto-Response-Suppress: All\r\n"
	             "MIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n"
	             "\r\n");
	add_quoted_printable(&b, reply->body != NULL ? reply->body : "");
	*size_r = b.len;
	return rbuf_take(&b);
}

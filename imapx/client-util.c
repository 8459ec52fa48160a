/* What commands use around the session core: writing responses and IMAP
 * strings (atoms, quoted strings, literals, mailbox names), decoding
 * mailbox-name arguments, resolving sequence sets against the selected
 * mailbox, and turning store errors into NO responses. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-client.h"
#include "log.h"
#include "mutf7.h"
#include "xmalloc.h"

void
imap_client_write(struct imap_client *c, const void *data, size_t len)
{
	evbuffer_add(imap_client_output(c), data, len);
}

void
imap_client_vprintf(struct imap_client *c, const char *fmt, va_list ap)
{
	evbuffer_add_vprintf(imap_client_output(c), fmt, ap);
}

void
imap_client_printf(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_client_vprintf(c, fmt, ap);
	va_end(ap);
}

void
imap_client_untagged(struct imap_client *c, const char *fmt, ...)
{
	struct evbuffer *out = imap_client_output(c);
	va_list ap;

	evbuffer_add(out, "* ", 2);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* ATOM-CHAR plus ']' (ASTRING-CHAR): no atom-specials, no 8-bit. */
static bool
imap_is_astring_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\", ch) == NULL;
}

void
imap_write_literal_header(struct imap_client *c, uint64_t size, bool binary)
{
	evbuffer_add_printf(imap_client_output(c), "%s{%llu}\r\n", binary ? "~" : "",
	                    (unsigned long long)size);
}

void
imap_write_literal(struct imap_client *c, const void *s, size_t len)
{
	imap_write_literal_header(c, len, false);
	evbuffer_add(imap_client_output(c), s, len);
}

void
imap_write_quoted(struct imap_client *c, const char *s, size_t len)
{
	bool utf8 = imap_client_has(c, IMAP_ENABLED_UTF8 | IMAP_ENABLED_REV2);
	bool eight_bit = false;
	struct evbuffer *out = imap_client_output(c);
	const char *err;
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0' || ch == '\r' || ch == '\n') {
			imap_write_literal(c, s, len);
			return;
		}
		if (ch >= 0x80)
			eight_bit = true;
	}
	if (eight_bit && (!utf8 || mutf7_utf8_validate(s, len, &err) < 0)) {
		imap_write_literal(c, s, len);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			evbuffer_add(out, s + start, i - start);
			evbuffer_add(out, "\\", 1);
			start = i;
		}
	}
	evbuffer_add(out, s + start, len - start);
	evbuffer_add(out, "\"", 1);
}

void
imap_write_astring(struct imap_client *c, const char *s, size_t len)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);

	for (size_t i = 0; atom && i < len; i++)
		atom = imap_is_astring_char((unsigned char)s[i]);
	if (atom)
		evbuffer_add(imap_client_output(c), s, len);
	else
		imap_write_quoted(c, s, len);
}

void
imap_write_nstring(struct imap_client *c, const char *s, size_t len)
{
	if (s == NULL)
		evbuffer_add(imap_client_output(c), "NIL", 3);
	else
		imap_write_quoted(c, s, len);
}

void
imap_write_mailbox(struct imap_client *c, const char *utf8_name)
{
	const char *err;
	char *wire;

	if (imap_client_has(c, IMAP_ENABLED_UTF8 | IMAP_ENABLED_REV2) ||
	    mutf7_is_plain(utf8_name, strlen(utf8_name))) {
		imap_write_astring(c, utf8_name, strlen(utf8_name));
		return;
	}
	if (mutf7_encode(utf8_name, strlen(utf8_name), &wire, &err) < 0) {
		/* The store holds only valid UTF-8; show it as it is rather than
		 * lose the mailbox from a listing. */
		log_warning("imap: mailbox name not valid UTF-8: %s", err);
		imap_write_quoted(c, utf8_name, strlen(utf8_name));
		return;
	}
	imap_write_astring(c, wire, strlen(wire));
	free(wire);
}

int
imap_arg_mailbox(struct imap_client *c, const struct imap_arg *arg, char **utf8_r,
                 const char **error_r)
{
	const char *s;
	size_t len;
	char *name;

	if (!imap_arg_astring(arg, &s, &len)) {
		*error_r = "Mailbox name expected";
		return -1;
	}
	if (len == 0) {
		*error_r = "Empty mailbox name";
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		*error_r = "Mailbox name contains NUL";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			*error_r = "Mailbox name contains control characters";
			return -1;
		}
	}
	if (imap_client_has(c, IMAP_ENABLED_UTF8 | IMAP_ENABLED_REV2)) {
		if (mutf7_utf8_validate(s, len, error_r) < 0)
			return -1;
		name = xstrndup(s, len);
	} else if (mutf7_decode(s, len, &name, error_r) < 0) {
		return -1;
	}
	/* INBOX is case-insensitive, also as the parent of a hierarchy. */
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	*utf8_r = name;
	return 0;
}

/* The first sequence number whose UID is >= uid; count + 1 if none. */
static uint32_t
view_seq_at_or_above(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 1, hi = imap_view_count(v) + 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (imap_view_seq_to_uid(v, mid) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
imap_cmd_seqset(struct imap_cmd *cmd, const struct imap_arg *arg, bool uid, struct seqset **uids_r,
                const char **error_r)
{
	struct imap_view *v = imap_client_view(cmd->client);
	uint32_t count, last_uid, star;
	const struct seqset_range *ranges;
	struct seqset *set, *uids;
	size_t nranges;
	const char *s;
	int ret;

	if (v == NULL) {
		*error_r = "No mailbox selected";
		return -1;
	}
	if (arg->type != IMAP_ARG_ATOM || !imap_arg_atom(arg, &s)) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	count = imap_view_count(v);
	last_uid = imap_view_seq_to_uid(v, count);
	star = uid ? last_uid : count;
	set = seqset_create();
	ret = seqset_parse(set, s, arg->len, star, SEQSET_PARSE_SAVED, error_r);
	if (ret < 0) {
		seqset_destroy(&set);
		return -1;
	}
	if (ret == SEQSET_SAVED) {
		seqset_destroy(&set);
		*uids_r =
		    imap_view_saved(v) != NULL ? seqset_dup(imap_view_saved(v)) : seqset_create();
		imap_view_subtract_hidden(v, *uids_r);
		return 0;
	}
	if (!uid && count > 0 && seqset_max(set) > count) {
		seqset_destroy(&set);
		*error_r = "Invalid sequence number: beyond the last message";
		return -1;
	}
	uids = seqset_create();
	ranges = seqset_ranges(set, &nranges);
	for (size_t i = 0; i < nranges && count > 0; i++) {
		uint32_t lo = ranges[i].lo, hi = ranges[i].hi, lo_seq, hi_seq;

		if (uid) {
			/* The view's first message at or above lo and its last one
			 * at or below hi: the UIDs between are the view's or gone. */
			if (lo > last_uid)
				continue;
			if (hi > last_uid)
				hi = last_uid;
			lo_seq = view_seq_at_or_above(v, lo);
			hi_seq = view_seq_at_or_above(v, hi);
			if (hi_seq > count || imap_view_seq_to_uid(v, hi_seq) > hi)
				hi_seq--;
			if (lo_seq > hi_seq)
				continue;
		} else {
			lo_seq = lo;
			hi_seq = hi > count ? count : hi;
		}
		seqset_add_range(uids, imap_view_seq_to_uid(v, lo_seq),
		                 imap_view_seq_to_uid(v, hi_seq));
	}
	seqset_destroy(&set);
	/* The ranges span the view's UIDs: a private item hidden from this
	 * session may lie between two of them, and must behave as if it did
	 * not exist. */
	imap_view_subtract_hidden(v, uids);
	*uids_r = uids;
	return 0;
}

void
imap_uid_ranges_init(struct imap_uid_ranges *r, const struct seqset *uids)
{
	const struct seqset_range *ranges;
	size_t n;

	ranges = seqset_ranges(uids, &n);
	r->pairs = xcalloc(n + 1, sizeof(*r->pairs));
	for (size_t i = 0; i < n; i++) {
		r->pairs[i][0] = ranges[i].lo;
		r->pairs[i][1] = ranges[i].hi;
	}
	r->ranges.ranges = (const uint32_t(*)[2])r->pairs;
	r->ranges.count = n;
}

void
imap_uid_ranges_clear(struct imap_uid_ranges *r)
{
	free(r->pairs);
	r->pairs = NULL;
	r->ranges.ranges = NULL;
	r->ranges.count = 0;
}

void
imap_cmd_store_error(struct imap_cmd *cmd, const char *prefix, enum store_err code,
                     const char *error)
{
	const char *rc;

	if (error == NULL)
		error = "unknown error";
	switch (code) {
	case STORE_ERR_NOT_FOUND:
		rc = "[NONEXISTENT] ";
		break;
	case STORE_ERR_EXISTS:
		rc = "[ALREADYEXISTS] ";
		break;
	case STORE_ERR_OVER_QUOTA:
		rc = "[OVERQUOTA] ";
		break;
	case STORE_ERR_INVALID:
	case STORE_ERR_NOT_EMPTY:
		rc = "[CANNOT] ";
		break;
	case STORE_ERR_MODIFIED:
		rc = "";
		break;
	default:
		if (strncmp(error, "database unavailable", 20) == 0 ||
		    strncmp(error, "query timed out", 15) == 0 || strstr(error, "shutting down")) {
			rc = "[UNAVAILABLE] ";
		} else {
			rc = "[SERVERBUG] ";
		}
		log_error("imap %s: %s %s: %s", imap_client_peer(cmd->client), cmd->name, prefix,
		          error);
		imap_cmd_no(cmd, "%s%s: internal error", rc, prefix);
		return;
	}
	imap_cmd_no(cmd, "%s%s: %s", rc, prefix, error);
}

/* Building groupware items in the Kolab-style MIME form
 * (groupware-item.h): by hand, so that the bytes are deterministic and the
 * object is kept exactly (8bit when its lines allow, else base64), after
 * validating the object. File items are built here too. */
#include "groupware-item.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "groupware-item-private.h"
#include "xmalloc.h"

#define SUMMARY_MAX     200
#define SUBJECT_RAW_MAX 900
#define LINE_MAX_OCTETS 998
/* Base64 of n bytes in lines of 76 characters with CRLF. */
#define BASE64_LINES_LEN(n) (((n) + 2) / 3 * 4 / 76 * 78 + 80)

/* --- Building --- */

struct buf {
	char *s;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_str(b, s);
	free(s);
}

/* Base64 in lines of 76 characters, each ending in CRLF. */
static void
buf_base64(struct buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	char line[80];

	/* 57 bytes make one line; no copy of the whole encoding. */
	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;

		sodium_bin2base64(line, sizeof(line), p + i, n, sodium_base64_VARIANT_ORIGINAL);
		buf_str(b, line);
		buf_str(b, "\r\n");
	}
}

static bool
printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* The bytes of one character of Q encoding: itself or "=XX". */
static size_t
q_len(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	        strchr("!*+-/", c) != NULL) &&
	               c != '\0'
	           ? 1
	           : 3;
}

/* Subject: the UID, or RFC 2047 encoded words when it is not plain: one B
 * word when it is short, else Q words of whole UTF-8 sequences. (Readers
 * such as GMime join adjacent words before decoding them, which breaks on
 * the padding inside split base64; Q has none.) */
static void
put_subject(struct buf *b, const char *uid)
{
	size_t len = strlen(uid), pos = 0;

	if (len <= SUBJECT_RAW_MAX && printable_ascii(uid, len) && uid[0] != ' ' &&
	    uid[len - 1] != ' ' && strstr(uid, "=?") == NULL) {
		buf_printf(b, "Subject: %s\r\n", uid);
		return;
	}
	if (len <= 45) {
		char enc[80];

		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)uid, len,
		                  sodium_base64_VARIANT_ORIGINAL);
		buf_printf(b, "Subject: =?UTF-8?B?%s?=\r\n", enc);
		return;
	}
	buf_str(b, "Subject:");
	while (pos < len) {
		size_t n = 0, out = 0;

		/* At most 63 encoded characters (a word of 75), whole
		 * UTF-8 sequences. */
		while (pos + n < len) {
			size_t seq = 1, w;

			while (pos + n + seq < len &&
			       ((unsigned char)uid[pos + n + seq] & 0xc0) == 0x80)
				seq++;
			w = 0;
			for (size_t k = 0; k < seq; k++)
				w += q_len((unsigned char)uid[pos + n + k]);
			if (out + w > 63 && n > 0)
				break;
			n += seq;
			out += w;
		}
		buf_str(b, pos == 0 ? " =?UTF-8?Q?" : "\r\n =?UTF-8?Q?");
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)uid[pos + k];

			if (q_len(c) == 1)
				buf_add(b, &c, 1);
			else
				buf_printf(b, "=%02X", c);
		}
		buf_str(b, "?=");
		pos += n;
	}
	buf_str(b, "\r\n");
}

static void
put_date(struct buf *b, time_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
	           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A Content-Disposition filename parameter: quoted when plain ASCII, else
 * RFC 2231 (filename*=UTF-8''...). */
static void
put_filename(struct buf *b, const char *param, const char *name)
{
	size_t len = strlen(name);

	/* "=?" would read as an encoded word to lenient parsers. */
	if (printable_ascii(name, len) && strpbrk(name, "\"\\") == NULL &&
	    strstr(name, "=?") == NULL) {
		buf_printf(b, "; %s=\"%s\"", param, name);
		return;
	}
	buf_printf(b, "; %s*=UTF-8''", param);
	for (const unsigned char *s = (const unsigned char *)name; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$&+-.^_`|~", *s) != NULL)
			buf_add(b, s, 1);
		else
			buf_printf(b, "%%%02X", *s);
	}
}

static bool
is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
			return false;
	}
	return true;
}

/* "type/subtype", lower-cased into out; false when malformed. */
static bool
content_type_ok(const char *ct, char *out, size_t outsize)
{
	const char *slash = strchr(ct, '/');
	size_t len = strlen(ct);

	if (slash == NULL || len >= outsize || !is_token(ct, (size_t)(slash - ct)) ||
	    !is_token(slash + 1, len - (size_t)(slash - ct) - 1))
		return false;
	for (size_t i = 0; i <= len; i++)
		out[i] = (char)((ct[i] >= 'A' && ct[i] <= 'Z') ? ct[i] - 'A' + 'a' : ct[i]);
	return true;
}

/* The object can travel as 8bit: CRLF lines of at most 998 octets. */
static bool
fits_8bit(const char *s, size_t len)
{
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r')
				return false;
			line = 0;
			continue;
		}
		if (s[i] == '\0' || (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n')))
			return false;
		if (s[i] != '\r' && ++line > LINE_MAX_OCTETS)
			return false;
	}
	return true;
}

/* Copies text without control characters, at most SUMMARY_MAX bytes of
 * whole UTF-8 sequences. */
static char *
summary_line(const char *text)
{
	size_t len = text != NULL ? strlen(text) : 0, n = 0;
	char *out;

	if (len > SUMMARY_MAX) {
		len = SUMMARY_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	out = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		out[n++] = ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) ? ' ' : text[i];
	out[n] = '\0';
	return out;
}

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Validates the object for the type; returns its UID and summary (or name)
 * as allocated strings. */
static const char *
build_validate(const struct groupware_build *build, char **uid_r, char **summary_r)
{
	const char *error = NULL;

	*uid_r = *summary_r = NULL;
	if (groupware_is_calendar(build->type)) {
		struct ical_item *item = ical_item_parse(build->object, build->object_len,
		                                         groupware_ical_kind(build->type), &error);
		icalcomponent *c;

		if (item == NULL)
			return error;
		c = item->master != NULL ? item->master : item->overrides[0];
		*uid_r = xstrdup(icalcomponent_get_uid(c));
		*summary_r = xstrdup(
		    icalcomponent_get_summary(c) != NULL ? icalcomponent_get_summary(c) : "");
		ical_item_free(&item);
		return NULL;
	}
	{
		struct vcard *card = vcard_parse(build->object, build->object_len, &error);
		struct vcard_index idx;
		bool group;

		if (card == NULL)
			return error;
		vcard_index_get(card, &idx);
		group = strcmp(idx.kind, "group") == 0;
		if (idx.uid == NULL)
			error = groupware_fail("the card has no UID");
		else if (group != (build->type == GROUPWARE_DISTLIST))
			error = groupware_fail(
			    group ? "a distribution list (KIND:group) is not a contact"
			          : "a distribution list needs KIND:group");
		else {
			*uid_r = xstrdup(idx.uid);
			*summary_r = xstrdup(idx.fn != NULL ? idx.fn : "");
		}
		vcard_index_clear(&idx);
		vcard_free(&card);
		return error;
	}
}

/* The header fields every item starts with, up to the multipart
 * Content-Type. */
static void
put_item_header(struct buf *b, const char *from, time_t date, const char *uid,
                enum groupware_type type, const char *boundary)
{
	if (from != NULL)
		buf_printf(b, "From: %s\r\n", from);
	put_date(b, date != 0 ? date : time(NULL));
	put_subject(b, uid);
	buf_str(b, "MIME-Version: 1.0\r\n");
	buf_printf(b, "X-Kolab-Type: %s\r\n", groupware_types[type].kolab);
	buf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
	buf_str(b, "This is a multi-part message in MIME format.\r\n");
}

char *
groupware_item_build(const struct groupware_build *build, size_t *len_r, const char **error_r)
{
	struct buf b = {0};
	char boundary[40], ct[128], *uid, *summary, *line;
	const char *error;
	bool calendar = groupware_is_calendar(build->type);
	bool eight = fits_8bit(build->object, build->object_len);
	uint64_t h = 14695981039346656037ULL;

	if (build->type == GROUPWARE_FILE) {
		*error_r = "a file item is built with groupware_file_build";
		return NULL;
	}
	if (build->object == NULL || build->object_len == 0) {
		*error_r = "empty object";
		return NULL;
	}
	if (build->from != NULL &&
	    (has_control(build->from) || !printable_ascii(build->from, strlen(build->from)))) {
		*error_r = "invalid From address";
		return NULL;
	}
	for (size_t i = 0; i < build->nattachments; i++) {
		const struct groupware_attachment *a = &build->attachments[i];

		if (a->content_type != NULL && !content_type_ok(a->content_type, ct, sizeof(ct))) {
			*error_r = "invalid attachment content type";
			return NULL;
		}
		if (a->filename != NULL && has_control(a->filename)) {
			*error_r = "control character in an attachment name";
			return NULL;
		}
		if (a->data == NULL && a->size > 0) {
			*error_r = "attachment without data";
			return NULL;
		}
	}
	if ((error = build_validate(build, &uid, &summary)) != NULL) {
		*error_r = error;
		return NULL;
	}
	line = summary_line(summary);

	/* The boundary depends on the content only; it must not occur in the
	 * 8bit parts (base64 has no '_'). */
	h = fnv1a(h, build->object, build->object_len);
	h = fnv1a(h, uid, strlen(uid));
	for (;;) {
		snprintf(boundary, sizeof(boundary), "=_floe_%016llx", (unsigned long long)h);
		if ((!eight || memmem(build->object, build->object_len, boundary,
		                      strlen(boundary)) == NULL) &&
		    strstr(line, boundary) == NULL)
			break;
		h = fnv1a(h, "x", 1);
	}

	put_item_header(&b, build->from, build->date, uid, build->type, boundary);

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_printf(
	    &b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
	    printable_ascii(line, strlen(line)) ? "7bit" : "8bit");
	buf_printf(&b, "This is a groupware %s stored by Floe for groupware clients.\r\n",
	           groupware_types[build->type].label);
	if (line[0] != '\0')
		buf_printf(&b, "%s: %s\r\n", calendar ? "Summary" : "Name", line);

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_printf(&b, "Content-Type: %s; charset=UTF-8\r\n",
	           calendar ? "text/calendar" : "text/vcard");
	buf_printf(&b, "Content-Transfer-Encoding: %s\r\n", eight ? "8bit" : "base64");
	buf_printf(&b, "Content-Disposition: attachment; filename=\"%s.%s\"\r\n",
	           groupware_types[build->type].kind, calendar ? "ics" : "vcf");
	buf_printf(&b, "X-Kolab-Type: %s\r\n\r\n", groupware_types[build->type].kolab);
	if (eight) {
		buf_add(&b, build->object, build->object_len);
		/* The line break before the next boundary belongs to it: the
		 * object's own final CRLF stays part of the object. */
		buf_str(&b, "\r\n");
	} else {
		buf_base64(&b, build->object, build->object_len);
	}

	for (size_t i = 0; i < build->nattachments; i++) {
		const struct groupware_attachment *a = &build->attachments[i];

		if (a->content_type != NULL)
			content_type_ok(a->content_type, ct, sizeof(ct));
		else
			strcpy(ct, "application/octet-stream");
		buf_printf(&b, "--%s\r\nContent-Type: %s", boundary, ct);
		if (a->filename != NULL)
			put_filename(&b, "name", a->filename);
		buf_str(&b,
		        "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment");
		if (a->filename != NULL)
			put_filename(&b, "filename", a->filename);
		buf_str(&b, "\r\n\r\n");
		buf_base64(&b, a->data, a->size);
		buf_str(&b, "\r\n");
	}
	buf_printf(&b, "--%s--\r\n", boundary);
	free(uid);
	free(summary);
	free(line);
	*len_r = b.len;
	return b.s;
}

/* --- Files --- */

static const char *
file_build_check(const struct groupware_file_build *build, char *ct, size_t ctsize)
{
	const char *error;
	size_t uidlen = build->uid != NULL ? strlen(build->uid) : 0;

	if (uidlen == 0 || build->uid[0] == ' ' || build->uid[uidlen - 1] == ' ')
		return "the UID is empty or starts or ends with a space";
	if (uidlen > GROUPWARE_FILE_UID_MAX)
		return "the UID is longer than 255 bytes";
	if (has_control(build->uid) || !g_utf8_validate(build->uid, -1, NULL))
		return "the UID holds control characters or is not UTF-8";
	if (groupware_file_name_check(build->filename, &error) < 0)
		return error;
	if (build->from != NULL &&
	    (has_control(build->from) || !printable_ascii(build->from, strlen(build->from))))
		return "invalid From address";
	if (build->media_type == NULL)
		strcpy(ct, "application/octet-stream");
	else if (!content_type_ok(build->media_type, ct, ctsize))
		return "invalid media type";
	if (build->data == NULL && build->size > 0)
		return "file without data";
	return NULL;
}

char *
groupware_file_build(const struct groupware_file_build *build, size_t *len_r, const char **error_r)
{
	struct buf b = {0};
	char boundary[40], ct[128], *line;
	const char *error;
	uint64_t h = 14695981039346656037ULL;

	if ((error = file_build_check(build, ct, sizeof(ct))) != NULL) {
		*error_r = error;
		return NULL;
	}
	line = summary_line(build->filename);
	h = fnv1a(h, build->uid, strlen(build->uid));
	h = fnv1a(h, build->filename, strlen(build->filename));
	h = fnv1a(h, build->data != NULL ? build->data : "", build->size);
	/* The file is base64 (no '_'); only the text part could hold it. */
	for (;;) {
		snprintf(boundary, sizeof(boundary), "=_floe_%016llx", (unsigned long long)h);
		if (strstr(line, boundary) == NULL)
			break;
		h = fnv1a(h, "x", 1);
	}
	b.cap = BASE64_LINES_LEN(build->size) + 2048;
	b.s = xmalloc(b.cap);
	b.s[0] = '\0';
	put_item_header(&b, build->from, build->date, build->uid, GROUPWARE_FILE, boundary);

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_printf(
	    &b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
	    printable_ascii(line, strlen(line)) ? "7bit" : "8bit");
	buf_str(&b, "This is a file stored by Floe for groupware clients.\r\n");
	buf_printf(&b, "Name: %s\r\nSize: %zu bytes\r\n", line, build->size);

	buf_printf(&b, "\r\n--%s\r\nContent-Type: %s", boundary, ct);
	put_filename(&b, "name", build->filename);
	buf_str(&b, "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment");
	put_filename(&b, "filename", build->filename);
	buf_str(&b, "\r\n\r\n");
	buf_base64(&b, build->data, build->size);
	buf_printf(&b, "--%s--\r\n", boundary);
	free(line);
	*len_r = b.len;
	return b.s;
}

/* The Kolab-style MIME form of groupware items: built by hand (so that the
 * bytes are deterministic and the object is kept exactly), parsed with
 * GMime, validated with modules/ical-item.c and modules/vcard.c, and
 * turned into the store's index. */
#include "groupware-item.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <sodium.h>

#include "xmalloc.h"

#define SUMMARY_MAX     200
#define SUBJECT_RAW_MAX 900
#define LINE_MAX_OCTETS 998

static char errbuf[320];

static const char *__attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return errbuf;
}

static const struct {
	const char *kolab, *folder, *kind, *label;
} types[] = {
    [GROUPWARE_EVENT] = {"application/x-vnd.kolab.event", "event", "event", "event"},
    [GROUPWARE_TASK] = {"application/x-vnd.kolab.task", "task", "task", "task"},
    [GROUPWARE_NOTE] = {"application/x-vnd.kolab.note", "note", "note", "note"},
    [GROUPWARE_JOURNAL] = {"application/x-vnd.kolab.journal", "journal", "journal",
                           "journal entry"},
    [GROUPWARE_CONTACT] = {"application/x-vnd.kolab.contact", "contact", "contact", "contact"},
    [GROUPWARE_DISTLIST] = {"application/x-vnd.kolab.distribution-list", "contact", "distlist",
                            "distribution list"},
};

const char *
groupware_type_kolab(enum groupware_type type)
{
	return types[type].kolab;
}

const char *
groupware_type_folder(enum groupware_type type)
{
	return types[type].folder;
}

const char *
groupware_type_kind(enum groupware_type type)
{
	return types[type].kind;
}

int
groupware_type_from_kolab(const char *value, enum groupware_type *type_r)
{
	size_t len;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strcspn(value, " \t;\r\n");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].kolab) == len && strncasecmp(types[i].kolab, value, len) == 0) {
			*type_r = (enum groupware_type)i;
			return 0;
		}
	}
	return -1;
}

static bool
is_calendar_type(enum groupware_type type)
{
	return type != GROUPWARE_CONTACT && type != GROUPWARE_DISTLIST;
}

static enum ical_item_kind
ical_kind_of(enum groupware_type type)
{
	switch (type) {
	case GROUPWARE_EVENT:
		return ICAL_ITEM_EVENT;
	case GROUPWARE_TASK:
		return ICAL_ITEM_TASK;
	case GROUPWARE_NOTE:
		return ICAL_ITEM_NOTE;
	case GROUPWARE_JOURNAL:
		return ICAL_ITEM_JOURNAL;
	default:
		break;
	}
	return ICAL_ITEM_ANY;
}

static enum groupware_type
type_of_ical(enum ical_item_kind kind)
{
	switch (kind) {
	case ICAL_ITEM_TASK:
		return GROUPWARE_TASK;
	case ICAL_ITEM_NOTE:
		return GROUPWARE_NOTE;
	case ICAL_ITEM_JOURNAL:
		return GROUPWARE_JOURNAL;
	default:
		break;
	}
	return GROUPWARE_EVENT;
}

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
	size_t enclen = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *enc = xmalloc(enclen);
	size_t n;

	sodium_bin2base64(enc, enclen, len > 0 ? data : (const void *)"", len,
	                  sodium_base64_VARIANT_ORIGINAL);
	n = strlen(enc);
	for (size_t i = 0; i < n; i += 76) {
		buf_add(b, enc + i, n - i < 76 ? n - i : 76);
		buf_str(b, "\r\n");
	}
	free(enc);
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

/* Subject: the UID, or RFC 2047 encoded words when it is not plain. */
static void
put_subject(struct buf *b, const char *uid)
{
	size_t len = strlen(uid), pos = 0;

	if (len <= SUBJECT_RAW_MAX && printable_ascii(uid, len) && uid[0] != ' ' &&
	    uid[len - 1] != ' ' && strstr(uid, "=?") == NULL) {
		buf_printf(b, "Subject: %s\r\n", uid);
		return;
	}
	buf_str(b, "Subject:");
	while (pos < len) {
		size_t n = len - pos > 45 ? 45 : len - pos;

		/* Encoded words hold whole UTF-8 sequences. */
		while (pos + n < len && n > 1 && ((unsigned char)uid[pos + n] & 0xc0) == 0x80)
			n--;
		buf_str(b, pos == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
		{
			size_t enclen =
			    sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
			char *enc = xmalloc(enclen);

			sodium_bin2base64(enc, enclen, (const unsigned char *)uid + pos, n,
			                  sodium_base64_VARIANT_ORIGINAL);
			buf_str(b, enc);
			free(enc);
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

	if (printable_ascii(name, len) && strpbrk(name, "\"\\") == NULL) {
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
	if (is_calendar_type(build->type)) {
		struct ical_item *item = ical_item_parse(build->object, build->object_len,
		                                         ical_kind_of(build->type), &error);
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
			error = fail("the card has no UID");
		else if (group != (build->type == GROUPWARE_DISTLIST))
			error = fail(group ? "a distribution list (KIND:group) is not a contact"
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

char *
groupware_item_build(const struct groupware_build *build, size_t *len_r, const char **error_r)
{
	struct buf b = {0};
	char boundary[40], ct[128], *uid, *summary, *line;
	const char *error;
	bool calendar = is_calendar_type(build->type);
	bool eight = fits_8bit(build->object, build->object_len);
	uint64_t h = 14695981039346656037ULL;

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

	if (build->from != NULL)
		buf_printf(&b, "From: %s\r\n", build->from);
	put_date(&b, build->date != 0 ? build->date : time(NULL));
	put_subject(&b, uid);
	buf_str(&b, "MIME-Version: 1.0\r\n");
	buf_printf(&b, "X-Kolab-Type: %s\r\n", types[build->type].kolab);
	buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
	buf_str(&b, "This is a multi-part message in MIME format.\r\n");

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_printf(
	    &b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
	    printable_ascii(line, strlen(line)) ? "7bit" : "8bit");
	buf_printf(&b, "This is a groupware %s stored by Floe for groupware clients.\r\n",
	           types[build->type].label);
	if (line[0] != '\0')
		buf_printf(&b, "%s: %s\r\n", calendar ? "Summary" : "Name", line);

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	buf_printf(&b, "Content-Type: %s; charset=UTF-8\r\n",
	           calendar ? "text/calendar" : "text/vcard");
	buf_printf(&b, "Content-Transfer-Encoding: %s\r\n", eight ? "8bit" : "base64");
	buf_printf(&b, "Content-Disposition: attachment; filename=\"%s.%s\"\r\n",
	           types[build->type].kind, calendar ? "ics" : "vcf");
	buf_printf(&b, "X-Kolab-Type: %s\r\n\r\n", types[build->type].kolab);
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

/* --- Parsing --- */

static void
gmime_init_once(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		g_mime_init();
		g_once_init_leave(&once, 1);
	}
}

static unsigned char *
part_decode(GMimePart *part, size_t *len_r)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *arr;
	unsigned char *out;

	*len_r = 0;
	if (dw == NULL)
		return xcalloc(1, 1);
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	out = xmalloc(arr->len + 1);
	memcpy(out, arr->data, arr->len);
	out[arr->len] = '\0';
	*len_r = arr->len;
	g_object_unref(mem);
	return out;
}

static bool
is_object_type(GMimeContentType *ct, bool *calendar_r)
{
	if (g_mime_content_type_is_type(ct, "text", "calendar")) {
		*calendar_r = true;
		return true;
	}
	*calendar_r = false;
	return g_mime_content_type_is_type(ct, "text", "vcard") ||
	       g_mime_content_type_is_type(ct, "text", "x-vcard") ||
	       g_mime_content_type_is_type(ct, "text", "directory");
}

struct walk {
	GMimePart *object;  /* the chosen object part */
	bool object_kolab;  /* it has X-Kolab-Type */
	GMimePart **leaves; /* every other leaf part */
	size_t nleaves;
};

static void
walk_parts(GMimeObject *obj, struct walk *w, int depth)
{
	bool calendar;

	if (depth > 16)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk_parts(g_mime_multipart_get_part(mp, i), w, depth + 1);
		return;
	}
	if (!GMIME_IS_PART(obj))
		return; /* an attached message is not looked into */
	if (is_object_type(g_mime_object_get_content_type(obj), &calendar)) {
		bool kolab = g_mime_object_get_header(obj, "X-Kolab-Type") != NULL;

		if (w->object == NULL || (kolab && !w->object_kolab)) {
			if (w->object != NULL) {
				w->leaves =
				    xreallocarray(w->leaves, w->nleaves + 1, sizeof(*w->leaves));
				w->leaves[w->nleaves++] = w->object;
			}
			w->object = GMIME_PART(obj);
			w->object_kolab = kolab;
			return;
		}
	}
	w->leaves = xreallocarray(w->leaves, w->nleaves + 1, sizeof(*w->leaves));
	w->leaves[w->nleaves++] = GMIME_PART(obj);
}

static bool
is_attachment(GMimePart *part)
{
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(GMIME_OBJECT(part));

	return (cd != NULL && g_mime_content_disposition_is_attachment(cd)) ||
	       g_mime_part_get_filename(part) != NULL;
}

static void
fill_calendar_index(struct groupware_item *item)
{
	struct ical_item_index *ix = &item->ical_index;
	struct store_gw_index *x = &item->index;

	ical_item_index_get(item->ical, ix);
	x->uid = ix->uid;
	x->title = ix->summary;
	x->location = ix->location;
	x->status = ix->status;
	x->klass = ix->klass;
	x->rrule = ix->rrule;
	x->organizer = ix->organizer;
	x->is_private = ix->is_private;
	x->has_start = ix->has_start || ix->has_due;
	x->start = ix->has_start ? ix->start : ix->due;
	x->has_end = ix->has_end;
	x->end = ix->has_end ? ix->end : x->start;
	x->all_day = ix->all_day;
	x->floating = ix->floating;
	x->recurring = ix->recurring;
	x->infinite = ix->infinite;
	x->range_end = ix->has_start ? ix->range_end : x->end;
	if (x->range_end < x->end)
		x->range_end = x->end;
	x->has_due = ix->has_due;
	x->due = ix->due;
	x->has_completed = ix->has_completed;
	x->completed = ix->completed;
	x->percent = ix->percent;
	x->priority = ix->priority;
	x->categories = (const char *const *)ix->categories;
	x->ncategories = ix->ncategories;
	item->attendees = xcalloc(ix->nattendees + 1, sizeof(*item->attendees));
	for (size_t i = 0; i < ix->nattendees; i++) {
		item->attendees[i].address = ix->attendees[i].address;
		item->attendees[i].name = ix->attendees[i].name;
		item->attendees[i].partstat = ix->attendees[i].partstat;
		item->attendees[i].role = ix->attendees[i].role;
	}
	x->attendees = item->attendees;
	x->nattendees = ix->nattendees;
}

static void
fill_card_index(struct groupware_item *item)
{
	struct vcard_index *ix = &item->card_index;
	struct store_gw_index *x = &item->index;

	x->uid = ix->uid;
	x->title = ix->fn;
	x->klass = ix->klass;
	x->is_private = ix->klass != NULL && strcasecmp(ix->klass, "PRIVATE") == 0;
	x->percent = -1;
	x->given_name = ix->n_given;
	x->family_name = ix->n_family;
	x->org = ix->org;
	x->emails = (const char *const *)ix->emails;
	x->nemails = ix->nemails;
	x->phones = (const char *const *)ix->tels;
	x->nphones = ix->ntels;
	x->members = (const char *const *)ix->members;
	x->nmembers = ix->nmembers;
	x->categories = (const char *const *)ix->categories;
	x->ncategories = ix->ncategories;
	if (ix->has_bday) {
		x->bday_year = ix->bday_year;
		x->bday_month = ix->bday_month;
		x->bday_day = ix->bday_day;
	}
}

/* Validates the object part and sets the type. */
static const char *
parse_object(struct groupware_item *item, bool calendar, bool have_kolab, enum groupware_type kolab,
             const char *folder_type)
{
	const char *error = NULL;

	if (calendar) {
		enum ical_item_kind expect = ICAL_ITEM_ANY;

		if (have_kolab && !is_calendar_type(kolab))
			return fail("X-Kolab-Type names a %s but the object is iCalendar",
			            types[kolab].label);
		if (have_kolab)
			expect = ical_kind_of(kolab);
		else if (folder_type != NULL)
			expect = ical_item_kind_from_name(folder_type);
		if (folder_type != NULL && strcmp(folder_type, "contact") == 0)
			return fail("a calendar object cannot be stored in a contact folder");
		item->ical = ical_item_parse(item->object, item->object_len, expect, &error);
		if (item->ical == NULL)
			return error;
		item->type = type_of_ical(item->ical->kind);
		item->index.kind = types[item->type].kind;
		fill_calendar_index(item);
	} else {
		bool group;

		if (have_kolab && is_calendar_type(kolab))
			return fail("X-Kolab-Type names a%s %s but the object is a vCard",
			            kolab == GROUPWARE_EVENT ? "n" : "", types[kolab].label);
		item->card = vcard_parse(item->object, item->object_len, &error);
		if (item->card == NULL)
			return error;
		vcard_index_get(item->card, &item->card_index);
		group = strcmp(item->card_index.kind, "group") == 0;
		if (have_kolab && kolab == GROUPWARE_DISTLIST && !group)
			return fail("a distribution list needs KIND:group");
		item->type = group ? GROUPWARE_DISTLIST : GROUPWARE_CONTACT;
		if (item->card_index.uid == NULL)
			return fail("the card has no UID");
		item->index.kind = types[item->type].kind;
		fill_card_index(item);
	}
	if (folder_type != NULL && strcmp(folder_type, types[item->type].folder) != 0)
		return fail("a%s %s cannot be stored in a folder of type %s",
		            item->type == GROUPWARE_EVENT ? "n" : "", types[item->type].label,
		            folder_type);
	return NULL;
}

struct groupware_item *
groupware_item_parse(const void *data, size_t len, const char *folder_type, const char **error_r)
{
	struct groupware_item *item;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeContentType *ct;
	struct walk w = {0};
	const char *error = NULL, *header, *charset;
	enum groupware_type kolab = GROUPWARE_EVENT;
	bool have_kolab = false, calendar;

	if (data == NULL || len == 0) {
		*error_r = "empty message";
		return NULL;
	}
	gmime_init_once();
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg == NULL || g_mime_message_get_mime_part(msg) == NULL) {
		if (msg != NULL)
			g_object_unref(msg);
		*error_r = "not a MIME message";
		return NULL;
	}
	item = xcalloc(1, sizeof(*item));
	walk_parts(g_mime_message_get_mime_part(msg), &w, 0);
	if (w.object == NULL) {
		error = "no text/calendar or text/vcard part in the message";
		goto out;
	}
	header = g_mime_object_get_header(GMIME_OBJECT(msg), "X-Kolab-Type");
	if (header == NULL)
		header = g_mime_object_get_header(GMIME_OBJECT(w.object), "X-Kolab-Type");
	if (header != NULL) {
		if (groupware_type_from_kolab(header, &kolab) < 0) {
			error = fail("unknown X-Kolab-Type \"%.80s\"", header);
			goto out;
		}
		have_kolab = true;
	}
	ct = g_mime_object_get_content_type(GMIME_OBJECT(w.object));
	is_object_type(ct, &calendar);
	charset = g_mime_content_type_get_parameter(ct, "charset");
	if (charset != NULL && strcasecmp(charset, "utf-8") != 0 &&
	    strcasecmp(charset, "us-ascii") != 0) {
		error =
		    fail("the object part's charset %.40s is not supported (UTF-8 is)", charset);
		goto out;
	}
	item->object = (char *)part_decode(w.object, &item->object_len);
	if ((error = parse_object(item, calendar, have_kolab, kolab, folder_type)) != NULL)
		goto out;
	for (size_t i = 0; i < w.nleaves; i++) {
		struct groupware_part *a;
		const char *fn;
		char *type;

		if (!is_attachment(w.leaves[i]))
			continue;
		if (item->nattachments == GROUPWARE_MAX_ATTACHMENTS) {
			error = fail("more than %d attachments", GROUPWARE_MAX_ATTACHMENTS);
			goto out;
		}
		item->attachments = xreallocarray(item->attachments, item->nattachments + 1,
		                                  sizeof(*item->attachments));
		a = &item->attachments[item->nattachments++];
		memset(a, 0, sizeof(*a));
		fn = g_mime_part_get_filename(w.leaves[i]);
		a->filename = fn != NULL ? xstrdup(fn) : NULL;
		type = g_mime_content_type_get_mime_type(
		    g_mime_object_get_content_type(GMIME_OBJECT(w.leaves[i])));
		a->content_type = xstrdup(type);
		g_free(type);
		for (char *c = a->content_type; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		a->data = part_decode(w.leaves[i], &a->size);
	}
out:
	free(w.leaves);
	g_object_unref(msg);
	if (error != NULL) {
		groupware_item_free(&item);
		*error_r = error;
		return NULL;
	}
	return item;
}

void
groupware_item_free(struct groupware_item **itemp)
{
	struct groupware_item *item = *itemp;

	if (item == NULL)
		return;
	ical_item_index_clear(&item->ical_index);
	vcard_index_clear(&item->card_index);
	ical_item_free(&item->ical);
	vcard_free(&item->card);
	for (size_t i = 0; i < item->nattachments; i++) {
		free(item->attachments[i].filename);
		free(item->attachments[i].content_type);
		free(item->attachments[i].data);
	}
	free(item->attachments);
	free(item->attendees);
	free(item->object);
	free(item);
	*itemp = NULL;
}

/* The Email class on the wire (MS-ASEMAIL, MS-ASAIRS): a message's
 * ApplicationData with the Body in the type and size the client asked
 * for, its attachments as FileReferences "<folder>:<uid>:<part>", flags
 * as Read / Flag / Categories both ways (\Seen, \Flagged, "$Completed",
 * categories as keywords), and the conversation ids. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail-private.h"
#include "xmalloc.h"

#define KEYWORD_COMPLETED "$Completed"
#define KEYWORD_MAX       255

/* ---------------------------------------------------------------------
 * Flags and categories
 */

void
eas_strv_free(char **v, size_t count)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(v[i]);
	free(v);
}

static bool
has_flag(const char *const *flags, size_t n, const char *flag)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(flags[i], flag) == 0)
			return true;
	}
	return false;
}

bool
eas_flags_same(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		if (!has_flag(b, nb, a[i]))
			return false;
	}
	for (size_t i = 0; i < nb; i++) {
		if (!has_flag(a, na, b[i]))
			return false;
	}
	return true;
}

static bool
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]&", c) == NULL;
}

char *
eas_category_keyword(const char *category)
{
	size_t len = strlen(category), n = 0;
	char *out;

	if (len == 0)
		return NULL;
	out = xmalloc(len * 3 + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)category[i];

		/* '$' starts system keywords: a category never does. */
		if (atom_char(c) && !(i == 0 && c == '$')) {
			out[n++] = (char)c;
		} else {
			snprintf(out + n, 4, "&%02X", c);
			n += 3;
		}
	}
	out[n] = '\0';
	if (n > KEYWORD_MAX) {
		free(out);
		return NULL;
	}
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
eas_keyword_category(const char *keyword)
{
	size_t len = strlen(keyword), n = 0;
	char *out;

	/* System flags, system keywords ($...) and the junk markers of
	 * clients that spell them without '$' are not categories. */
	if (len == 0 || keyword[0] == '\\' || keyword[0] == '$' ||
	    strcasecmp(keyword, "Junk") == 0 || strcasecmp(keyword, "NonJunk") == 0 ||
	    strcasecmp(keyword, "NotJunk") == 0)
		return NULL;
	out = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (keyword[i] == '&' && i + 2 < len && hexval(keyword[i + 1]) >= 0 &&
		    hexval(keyword[i + 2]) >= 0) {
			out[n++] = (char)(hexval(keyword[i + 1]) * 16 + hexval(keyword[i + 2]));
			i += 2;
		} else {
			out[n++] = keyword[i];
		}
	}
	out[n] = '\0';
	/* Decoded bytes must be a UTF-8 string without NULs. */
	if (strlen(out) != n) {
		free(out);
		return NULL;
	}
	return out;
}

void
eas_flag_change_clear(struct eas_flag_change *c)
{
	eas_strv_free(c->categories, c->ncategories);
	memset(c, 0, sizeof(*c));
}

int
eas_email_parse_change(const struct wbxml_node *appdata, struct eas_flag_change *c)
{
	const struct wbxml_node *n;
	const char *t;

	memset(c, 0, sizeof(*c));
	if ((t = wbxml_child_text(appdata, EAS_EMAIL_READ)) != NULL) {
		if (strcmp(t, "0") != 0 && strcmp(t, "1") != 0)
			return -1;
		c->set_read = true;
		c->read = t[0] == '1';
	}
	if ((n = wbxml_child(appdata, EAS_EMAIL_FLAG)) != NULL) {
		c->set_flag = true;
		t = wbxml_child_text(n, EAS_EMAIL_STATUS);
		if (t != NULL) {
			if (strlen(t) != 1 || t[0] < '0' || t[0] > '2')
				return -1;
			c->flag_status = (unsigned)(t[0] - '0');
		}
	}
	if ((n = wbxml_child(appdata, EAS_EMAIL_CATEGORIES)) != NULL) {
		size_t cap = 0;

		c->set_categories = true;
		for (const struct wbxml_node *cat = wbxml_child(n, EAS_EMAIL_CATEGORY); cat != NULL;
		     cat = wbxml_next(cat, EAS_EMAIL_CATEGORY)) {
			t = wbxml_text(cat);
			if (t == NULL || *t == '\0' || cat->opaque)
				continue;
			if (c->ncategories == cap) {
				cap = cap == 0 ? 4 : cap * 2;
				c->categories = xreallocarray(c->categories, cap, sizeof(char *));
			}
			c->categories[c->ncategories++] = xstrdup(t);
			if (c->ncategories > 300)
				return -1;
		}
	}
	return 0;
}

struct strv {
	char **v;
	size_t n, cap;
};

static void
strv_add(struct strv *s, const char *flag)
{
	if (has_flag((const char *const *)s->v, s->n, flag))
		return;
	if (s->n + 1 >= s->cap) {
		s->cap = s->cap == 0 ? 8 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof(char *));
	}
	s->v[s->n++] = xstrdup(flag);
	s->v[s->n] = NULL;
}

static void
strv_remove(struct strv *s, const char *flag)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcasecmp(s->v[i], flag) == 0) {
			free(s->v[i]);
			memmove(&s->v[i], &s->v[i + 1], (s->n - i) * sizeof(char *));
			s->n--;
			return;
		}
	}
}

char **
eas_email_apply_change(const char *const *flags, size_t nflags, const struct eas_flag_change *c,
                       size_t *count_r)
{
	struct strv s = {0};

	s.v = xcalloc(8, sizeof(char *));
	s.cap = 8;
	for (size_t i = 0; i < nflags; i++) {
		char *cat = c->set_categories ? eas_keyword_category(flags[i]) : NULL;

		/* A Categories element replaces every category. */
		if (cat == NULL)
			strv_add(&s, flags[i]);
		free(cat);
	}
	if (c->set_read) {
		if (c->read)
			strv_add(&s, "\\Seen");
		else
			strv_remove(&s, "\\Seen");
	}
	if (c->set_flag) {
		strv_remove(&s, "\\Flagged");
		strv_remove(&s, KEYWORD_COMPLETED);
		if (c->flag_status == 2)
			strv_add(&s, "\\Flagged");
		else if (c->flag_status == 1)
			strv_add(&s, KEYWORD_COMPLETED);
	}
	for (size_t i = 0; c->set_categories && i < c->ncategories; i++) {
		char *kw = eas_category_keyword(c->categories[i]);

		if (kw != NULL)
			strv_add(&s, kw);
		free(kw);
	}
	*count_r = s.n;
	return s.v;
}

void
eas_email_write_flags(struct wbxml_writer *w, unsigned version, const char *const *flags,
                      size_t nflags)
{
	bool any = false;

	wbxml_string(w, EAS_EMAIL_READ, has_flag(flags, nflags, "\\Seen") ? "1" : "0");
	if (has_flag(flags, nflags, "\\Flagged")) {
		wbxml_start(w, EAS_EMAIL_FLAG);
		wbxml_string(w, EAS_EMAIL_STATUS, "2");
		wbxml_string(w, EAS_EMAIL_FLAGTYPE, "Flag for follow up");
		wbxml_end(w);
	} else if (has_flag(flags, nflags, KEYWORD_COMPLETED)) {
		wbxml_start(w, EAS_EMAIL_FLAG);
		wbxml_string(w, EAS_EMAIL_STATUS, "1");
		wbxml_end(w);
	} else {
		wbxml_empty(w, EAS_EMAIL_FLAG);
	}
	if (version < EAS_VERSION_140)
		return;
	for (size_t i = 0; i < nflags; i++) {
		char *cat = eas_keyword_category(flags[i]);

		if (cat == NULL)
			continue;
		if (!any)
			wbxml_start(w, EAS_EMAIL_CATEGORIES);
		any = true;
		wbxml_string(w, EAS_EMAIL_CATEGORY, cat);
		free(cat);
	}
	if (any)
		wbxml_end(w);
	else
		wbxml_empty(w, EAS_EMAIL_CATEGORIES);
}

/* ---------------------------------------------------------------------
 * Bodies
 */

static const struct eas_body_pref *
find_pref(const struct eas_mail_options *o, unsigned type)
{
	for (unsigned i = 0; i < o->nbody; i++) {
		if (o->body[i].type == type)
			return &o->body[i];
	}
	return NULL;
}

unsigned
eas_email_body_type(const struct eas_mail_options *o, const struct message_eas *msg)
{
	bool smime = msg != NULL && strncmp(msg->message_class, "IPM.Note.SMIME", 14) == 0;

	if (find_pref(o, 4) != NULL && (o->mime_support == 2 || (o->mime_support == 1 && smime)))
		return 4;
	if (msg != NULL && msg->native_type == 2 && find_pref(o, 2) != NULL)
		return 2;
	if (find_pref(o, 1) != NULL)
		return 1;
	if (find_pref(o, 2) != NULL)
		return 2;
	if (find_pref(o, 4) != NULL)
		return 4;
	return 1;
}

/* The bytes of the body and how many of them to send. */
static void
body_data(const struct eas_mail_item *it, const struct eas_mail_options *o, unsigned type,
          const char **data_r, size_t *len_r, size_t *send_r)
{
	const struct eas_body_pref *p = find_pref(o, type);
	const char *data;
	size_t len, max = SIZE_MAX;

	if (type == 4) {
		data = it->raw != NULL ? (const char *)it->raw : "";
		len = it->raw != NULL ? it->raw_len : 0;
	} else if (type == 2) {
		data = it->msg.html;
		len = strlen(data);
	} else {
		data = it->msg.text;
		len = strlen(data);
	}
	if (p != NULL && p->has_truncation)
		max = p->truncation;
	*data_r = data;
	*len_r = len;
	*send_r = type == 4 ? (len < max ? len : max) : message_eas_truncate(data, len, max);
	if (p != NULL && p->all_or_none && *send_r < len)
		*send_r = 0;
}

size_t
eas_email_body_bytes(const struct eas_mail_item *it, const struct eas_mail_options *o)
{
	const char *data;
	size_t len, send;

	if (!it->parsed)
		return 0;
	body_data(it, o, eas_email_body_type(o, &it->msg), &data, &len, &send);
	return send;
}

unsigned
eas_parts_add(struct eas_parts *p, const void *data, size_t len)
{
	if (p->n == p->cap) {
		p->cap = p->cap == 0 ? 4 : p->cap * 2;
		p->bufs = xreallocarray(p->bufs, p->cap, sizeof(*p->bufs));
	}
	p->bufs[p->n] = evbuffer_new();
	evbuffer_add(p->bufs[p->n], data, len);
	p->n++;
	return (unsigned)p->n;
}

void
eas_parts_free(struct eas_parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		evbuffer_free(p->bufs[i]);
	free(p->bufs);
	memset(p, 0, sizeof(*p));
}

static void
put_le32(struct evbuffer *out, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};

	evbuffer_add(out, b, 4);
}

void
eas_parts_build(struct evbuffer *out, struct evbuffer *wbxml, const struct eas_parts *p)
{
	uint32_t count = (uint32_t)p->n + 1;
	uint32_t offset = 4 + 8 * count;

	put_le32(out, count);
	put_le32(out, offset);
	put_le32(out, (uint32_t)evbuffer_get_length(wbxml));
	offset += (uint32_t)evbuffer_get_length(wbxml);
	for (size_t i = 0; i < p->n; i++) {
		put_le32(out, offset);
		put_le32(out, (uint32_t)evbuffer_get_length(p->bufs[i]));
		offset += (uint32_t)evbuffer_get_length(p->bufs[i]);
	}
	evbuffer_add_buffer(out, wbxml);
	for (size_t i = 0; i < p->n; i++)
		evbuffer_add_buffer(out, p->bufs[i]);
}

static void
write_body(struct wbxml_writer *w, unsigned version, const struct eas_mail_item *it,
           const struct eas_mail_options *o, struct eas_parts *parts)
{
	unsigned type = eas_email_body_type(o, &it->msg);
	const struct eas_body_pref *p = find_pref(o, type);
	const char *data;
	size_t len, send;

	body_data(it, o, type, &data, &len, &send);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_uint(w, EAS_AIRSYNCBASE_TYPE, type);
	wbxml_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, len);
	if (send < len)
		wbxml_string(w, EAS_AIRSYNCBASE_TRUNCATED, "1");
	if (parts != NULL) {
		if (send > 0)
			wbxml_uint(w, EAS_ITEMOPERATIONS_PART, eas_parts_add(parts, data, send));
	} else if (send > 0 || len == 0) {
		if (type == 4)
			wbxml_opaque(w, EAS_AIRSYNCBASE_DATA, data, send);
		else
			wbxml_stringn(w, EAS_AIRSYNCBASE_DATA, data, send);
	}
	if (p != NULL && p->preview > 0 && version >= EAS_VERSION_140) {
		char *pv = message_eas_preview(it->msg.text, p->preview);

		wbxml_string(w, EAS_AIRSYNCBASE_PREVIEW, pv);
		free(pv);
	}
	wbxml_end(w);
}

static void
write_body_part(struct wbxml_writer *w, const struct eas_mail_item *it,
                const struct eas_mail_options *o)
{
	const char *data = it->msg.html;
	size_t len = strlen(data), send = len;

	if (o->part.has_truncation)
		send = message_eas_truncate(data, len, o->part.truncation);
	if (o->part.all_or_none && send < len)
		send = 0;
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPART);
	wbxml_string(w, EAS_AIRSYNCBASE_STATUS, "1");
	wbxml_string(w, EAS_AIRSYNCBASE_TYPE, "2");
	wbxml_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, len);
	if (send < len)
		wbxml_string(w, EAS_AIRSYNCBASE_TRUNCATED, "1");
	if (send > 0 || len == 0)
		wbxml_stringn(w, EAS_AIRSYNCBASE_DATA, data, send);
	if (o->part.preview > 0) {
		char *pv = message_eas_preview(it->msg.text, o->part.preview);

		wbxml_string(w, EAS_AIRSYNCBASE_PREVIEW, pv);
		free(pv);
	}
	wbxml_end(w);
}

static void
write_attachments(struct wbxml_writer *w, const struct eas_mail_item *it)
{
	if (it->msg.nattachments == 0)
		return;
	wbxml_start(w, EAS_AIRSYNCBASE_ATTACHMENTS);
	for (size_t i = 0; i < it->msg.nattachments; i++) {
		const struct message_eas_attachment *a = &it->msg.attachments[i];

		wbxml_start(w, EAS_AIRSYNCBASE_ATTACHMENT);
		wbxml_string(w, EAS_AIRSYNCBASE_DISPLAYNAME, a->display_name);
		wbxml_stringf(w, EAS_AIRSYNCBASE_FILEREFERENCE, "%llu:%u:%s",
		              (unsigned long long)it->folder_id, it->uid, a->part);
		wbxml_uint(w, EAS_AIRSYNCBASE_METHOD, a->method);
		wbxml_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, a->estimated_size);
		if (a->content_id != NULL)
			wbxml_string(w, EAS_AIRSYNCBASE_CONTENTID, a->content_id);
		if (a->content_location != NULL)
			wbxml_string(w, EAS_AIRSYNCBASE_CONTENTLOCATION, a->content_location);
		wbxml_string(w, EAS_AIRSYNCBASE_ISINLINE, a->is_inline ? "1" : "0");
		wbxml_end(w);
	}
	wbxml_end(w);
}

/* ConversationId: 16 bytes from the thread id ("T" and 24 hex digits). */
static bool
conversation_id(const char *thread_id, unsigned char out[16])
{
	size_t len = thread_id != NULL ? strlen(thread_id) : 0;
	size_t n = 0;

	if (len < 3)
		return false;
	memset(out, 0, 16);
	for (size_t i = 1; i + 1 < len && n < 16; i += 2) {
		int a = hexval(thread_id[i]), b = hexval(thread_id[i + 1]);

		if (a < 0 || b < 0)
			return false;
		out[n++] = (unsigned char)(a * 16 + b);
	}
	/* Fill the rest from what there is, so ids stay distinct. */
	for (size_t i = n; i < 16 && n > 0; i++)
		out[i] = (unsigned char)(out[i - n] ^ 0x5a);
	return n > 0;
}

void
eas_email_write(struct wbxml_writer *w, unsigned version, const struct eas_mail_item *it,
                const struct eas_mail_options *o)
{
	eas_email_write_parts(w, version, it, o, NULL);
}

void
eas_email_write_parts(struct wbxml_writer *w, unsigned version, const struct eas_mail_item *it,
                      const struct eas_mail_options *o, struct eas_parts *parts)
{
	const struct message_eas *m = &it->msg;
	char date[32];

	if (!it->parsed) {
		/* Unreadable content: the flags at least. */
		eas_email_write_flags(w, version, (const char *const *)it->flags, it->nflags);
		return;
	}
	wbxml_string(w, EAS_EMAIL_TO, m->to);
	if (*m->cc != '\0')
		wbxml_string(w, EAS_EMAIL_CC, m->cc);
	wbxml_string(w, EAS_EMAIL_FROM, m->from);
	wbxml_string(w, EAS_EMAIL_SUBJECT, m->subject);
	if (*m->reply_to != '\0')
		wbxml_string(w, EAS_EMAIL_REPLYTO, m->reply_to);
	eas_format_date(it->internal_date, date);
	wbxml_string(w, EAS_EMAIL_DATERECEIVED, date);
	wbxml_string(w, EAS_EMAIL_DISPLAYTO, m->display_to);
	wbxml_string(w, EAS_EMAIL_THREADTOPIC, m->thread_topic);
	wbxml_uint(w, EAS_EMAIL_IMPORTANCE, m->importance);
	wbxml_string(w, EAS_EMAIL_READ,
	             has_flag((const char *const *)it->flags, it->nflags, "\\Seen") ? "1" : "0");
	if (version >= EAS_VERSION_120) {
		write_attachments(w, it);
		write_body(w, version, it, o, parts);
		if (o->has_part && version >= EAS_VERSION_160)
			write_body_part(w, it, o);
	} else {
		const char *data;
		size_t len, send;
		struct eas_mail_options plain = *o;

		plain.nbody = 0;
		body_data(it, &plain, 1, &data, &len, &send);
		wbxml_stringn(w, EAS_EMAIL_BODY, data, send);
		wbxml_string(w, EAS_EMAIL_BODYTRUNCATED, send < len ? "1" : "0");
	}
	wbxml_string(w, EAS_EMAIL_MESSAGECLASS, m->message_class);
	wbxml_string(w, EAS_EMAIL_INTERNETCPID, "65001");
	if (version >= EAS_VERSION_120) {
		/* Flag (and Categories below) as eas_email_write_flags has them. */
		if (has_flag((const char *const *)it->flags, it->nflags, "\\Flagged")) {
			wbxml_start(w, EAS_EMAIL_FLAG);
			wbxml_string(w, EAS_EMAIL_STATUS, "2");
			wbxml_string(w, EAS_EMAIL_FLAGTYPE, "Flag for follow up");
			wbxml_end(w);
		} else if (has_flag((const char *const *)it->flags, it->nflags,
		                    KEYWORD_COMPLETED)) {
			wbxml_start(w, EAS_EMAIL_FLAG);
			wbxml_string(w, EAS_EMAIL_STATUS, "1");
			wbxml_end(w);
		} else {
			wbxml_empty(w, EAS_EMAIL_FLAG);
		}
		wbxml_string(w, EAS_EMAIL_CONTENTCLASS, "urn:content-classes:message");
		wbxml_uint(w, EAS_AIRSYNCBASE_NATIVEBODYTYPE, m->native_type);
	}
	if (version >= EAS_VERSION_140) {
		unsigned char cid[16], idx[5];
		uint64_t ft =
		    ((uint64_t)(it->internal_date > 0 ? it->internal_date : 0) + 11644473600ULL) *
		    10000000ULL;
		bool any = false;

		if (conversation_id(it->thread_id, cid)) {
			wbxml_opaque(w, EAS_EMAIL2_CONVERSATIONID, cid, sizeof(cid));
			/* The header block of a conversation index: the delivery
			 * time as the top bytes of a FILETIME. */
			for (int i = 0; i < 5; i++)
				idx[i] = (unsigned char)(ft >> (48 - 8 * i));
			wbxml_opaque(w, EAS_EMAIL2_CONVERSATIONINDEX, idx, sizeof(idx));
		}
		for (size_t i = 0; i < it->nflags; i++) {
			char *cat = eas_keyword_category(it->flags[i]);

			if (cat == NULL)
				continue;
			if (!any)
				wbxml_start(w, EAS_EMAIL_CATEGORIES);
			any = true;
			wbxml_string(w, EAS_EMAIL_CATEGORY, cat);
			free(cat);
		}
		if (any)
			wbxml_end(w);
	}
}

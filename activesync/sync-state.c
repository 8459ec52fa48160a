/* ActiveSync sync state helpers: SyncKeys "{generation}N", item ids and
 * FileReferences, the Email class options (parsed from a request, kept as
 * JSON in the sync state), FilterType windows, EAS dates, and
 * eas_sync_pending for Ping (one query over every watched folder). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mail-private.h"
#include "store-eassync.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Keys and ids
 */

char *
eas_sync_key_format(const char *generation, uint32_t n)
{
	return xasprintf("{%s}%" PRIu32, generation, n);
}

static int
parse_u64(const char *s, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*v_r = v;
	return 0;
}

int
eas_sync_key_parse(const char *text, char generation_r[40], uint32_t *n_r)
{
	const char *close;
	uint64_t n;
	size_t glen;

	generation_r[0] = '\0';
	*n_r = 0;
	if (text == NULL)
		return -1;
	if (strcmp(text, "0") == 0)
		return 0;
	if (text[0] != '{')
		return -1;
	close = strchr(text, '}');
	if (close == NULL)
		return -1;
	glen = (size_t)(close - text - 1);
	if (glen == 0 || glen >= 40)
		return -1;
	for (size_t i = 1; i <= glen; i++) {
		if (!isxdigit((unsigned char)text[i]) && text[i] != '-')
			return -1;
	}
	if (parse_u64(close + 1, strlen(close + 1), INT32_MAX, &n) < 0 || n == 0)
		return -1;
	memcpy(generation_r, text + 1, glen);
	generation_r[glen] = '\0';
	*n_r = (uint32_t)n;
	return 0;
}

int
eas_mail_folder_id(const char *text, uint64_t *folder_r)
{
	uint64_t v;

	if (text == NULL || parse_u64(text, strlen(text), INT64_MAX, &v) < 0 || v == 0)
		return -1;
	*folder_r = v;
	return 0;
}

int
eas_mail_item_id(const char *text, uint64_t *folder_r, uint32_t *uid_r)
{
	const char *colon = text != NULL ? strchr(text, ':') : NULL;
	uint64_t f, u;

	if (colon == NULL || parse_u64(text, (size_t)(colon - text), INT64_MAX, &f) < 0 || f == 0 ||
	    parse_u64(colon + 1, strlen(colon + 1), UINT32_MAX, &u) < 0 || u == 0)
		return -1;
	*folder_r = f;
	*uid_r = (uint32_t)u;
	return 0;
}

int
eas_mail_file_ref(const char *text, uint64_t *folder_r, uint32_t *uid_r, char part_r[64])
{
	const char *c1 = text != NULL ? strchr(text, ':') : NULL;
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	uint64_t f, u;
	size_t plen;

	if (c2 == NULL || parse_u64(text, (size_t)(c1 - text), INT64_MAX, &f) < 0 || f == 0 ||
	    parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), UINT32_MAX, &u) < 0 || u == 0)
		return -1;
	plen = strlen(c2 + 1);
	if (plen == 0 || plen >= 64 || strspn(c2 + 1, "0123456789.") != plen)
		return -1;
	*folder_r = f;
	*uid_r = (uint32_t)u;
	memcpy(part_r, c2 + 1, plen + 1);
	return 0;
}

/* ---------------------------------------------------------------------
 * Options
 */

static int
child_uint(const struct wbxml_node *n, uint16_t tag, uint64_t max, uint64_t *v_r,
           const char **error_r)
{
	int r = wbxml_child_uint(n, tag, v_r);

	if (r < 0 || (r == 0 && *v_r > max)) {
		*error_r = "option value out of range";
		return -1;
	}
	return r;
}

static int
parse_body_pref(const struct wbxml_node *bp, struct eas_body_pref *p, const char **error_r)
{
	uint64_t v;
	int r;

	memset(p, 0, sizeof(*p));
	if (child_uint(bp, EAS_AIRSYNCBASE_TYPE, 4, &v, error_r) != 0 || v == 0) {
		*error_r = "BodyPreference without a valid Type";
		return -1;
	}
	p->type = (unsigned)v;
	r = child_uint(bp, EAS_AIRSYNCBASE_TRUNCATIONSIZE, UINT32_MAX, &v, error_r);
	if (r < 0)
		return -1;
	if (r == 0) {
		p->has_truncation = true;
		p->truncation = (uint32_t)v;
	}
	r = child_uint(bp, EAS_AIRSYNCBASE_ALLORNONE, 1, &v, error_r);
	if (r < 0)
		return -1;
	p->all_or_none = r == 0 && v == 1;
	r = child_uint(bp, EAS_AIRSYNCBASE_PREVIEW, 255, &v, error_r);
	if (r < 0)
		return -1;
	if (r == 0)
		p->preview = (uint32_t)v;
	return 0;
}

int
eas_mail_options_parse(const struct wbxml_node *options, struct eas_mail_options *o,
                       const char **error_r)
{
	uint64_t v;
	int r;
	bool first_pref = true;

	r = child_uint(options, EAS_AIRSYNC_FILTERTYPE, 8, &v, error_r);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (v > 7) {
			*error_r = "FilterType not valid for e-mail";
			return -1;
		}
		o->filter_type = (unsigned)v;
	}
	r = child_uint(options, EAS_AIRSYNC_MIMESUPPORT, 2, &v, error_r);
	if (r < 0)
		return -1;
	if (r == 0)
		o->mime_support = (unsigned)v;
	r = child_uint(options, EAS_AIRSYNC_MIMETRUNCATION, 8, &v, error_r);
	if (r < 0)
		return -1;
	if (r == 0) {
		o->has_mime_truncation = v < 8;
		o->mime_truncation = (unsigned)v;
	}
	for (const struct wbxml_node *bp = wbxml_child(options, EAS_AIRSYNCBASE_BODYPREFERENCE);
	     bp != NULL; bp = wbxml_next(bp, EAS_AIRSYNCBASE_BODYPREFERENCE)) {
		struct eas_body_pref p;

		if (parse_body_pref(bp, &p, error_r) < 0)
			return -1;
		if (first_pref) {
			o->nbody = 0;
			first_pref = false;
		}
		/* One preference per type; a repeated type replaces it. */
		for (unsigned i = 0; i < o->nbody; i++) {
			if (o->body[i].type == p.type) {
				o->body[i] = p;
				goto next;
			}
		}
		if (o->nbody < 4)
			o->body[o->nbody++] = p;
	next:;
	}
	{
		const struct wbxml_node *bpp =
		    wbxml_child(options, EAS_AIRSYNCBASE_BODYPARTPREFERENCE);

		if (bpp != NULL) {
			if (parse_body_pref(bpp, &o->part, error_r) < 0)
				return -1;
			o->has_part = true;
		}
	}
	if (wbxml_child(options, EAS_RIGHTSMANAGEMENT_RIGHTSMANAGEMENTSUPPORT) != NULL) {
		r = child_uint(options, EAS_RIGHTSMANAGEMENT_RIGHTSMANAGEMENTSUPPORT, 1, &v,
		               error_r);
		if (r < 0)
			return -1;
		o->rights_management = r == 0 && v == 1;
	}
	return 0;
}

static json_t *
pref_json(const struct eas_body_pref *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_integer(p->type));
	if (p->has_truncation)
		json_object_set_new(o, "trunc", json_integer(p->truncation));
	if (p->all_or_none)
		json_object_set_new(o, "all", json_true());
	if (p->preview > 0)
		json_object_set_new(o, "preview", json_integer(p->preview));
	return o;
}

static void
pref_from_json(json_t *j, struct eas_body_pref *p)
{
	json_t *t = json_object_get(j, "trunc");

	memset(p, 0, sizeof(*p));
	p->type = (unsigned)json_integer_value(json_object_get(j, "type"));
	if (json_is_integer(t)) {
		p->has_truncation = true;
		p->truncation = (uint32_t)json_integer_value(t);
	}
	p->all_or_none = json_is_true(json_object_get(j, "all"));
	p->preview = (uint32_t)json_integer_value(json_object_get(j, "preview"));
}

char *
eas_mail_options_json(const struct eas_mail_options *o)
{
	json_t *j = json_object(), *prefs = json_array();
	char *s, *ret;

	json_object_set_new(j, "filter", json_integer(o->filter_type));
	for (unsigned i = 0; i < o->nbody; i++)
		json_array_append_new(prefs, pref_json(&o->body[i]));
	json_object_set_new(j, "body", prefs);
	if (o->has_part)
		json_object_set_new(j, "part", pref_json(&o->part));
	json_object_set_new(j, "mime", json_integer(o->mime_support));
	if (o->has_mime_truncation)
		json_object_set_new(j, "mimetrunc", json_integer(o->mime_truncation));
	if (o->rights_management)
		json_object_set_new(j, "rm", json_true());
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	ret = xstrdup(s != NULL ? s : "{}");
	free(s);
	return ret;
}

void
eas_mail_options_from_json(const char *json, struct eas_mail_options *o)
{
	json_t *j, *prefs, *v;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (json == NULL || (j = json_loads(json, 0, NULL)) == NULL)
		return;
	o->filter_type = (unsigned)json_integer_value(json_object_get(j, "filter"));
	if (o->filter_type > 7)
		o->filter_type = 0;
	prefs = json_object_get(j, "body");
	json_array_foreach(prefs, i, v)
	{
		if (o->nbody < 4) {
			pref_from_json(v, &o->body[o->nbody]);
			if (o->body[o->nbody].type >= 1 && o->body[o->nbody].type <= 4)
				o->nbody++;
		}
	}
	v = json_object_get(j, "part");
	if (json_is_object(v)) {
		pref_from_json(v, &o->part);
		o->has_part = true;
	}
	o->mime_support = (unsigned)json_integer_value(json_object_get(j, "mime"));
	if (o->mime_support > 2)
		o->mime_support = 0;
	v = json_object_get(j, "mimetrunc");
	if (json_is_integer(v) && json_integer_value(v) < 8) {
		o->has_mime_truncation = true;
		o->mime_truncation = (unsigned)json_integer_value(v);
	}
	o->rights_management = json_is_true(json_object_get(j, "rm"));
	json_decref(j);
}

time_t
eas_filter_since(unsigned filter_type, time_t now)
{
	static const unsigned days[] = {0, 1, 3, 7, 14, 31, 92, 183};

	if (filter_type == 0 || filter_type >= sizeof(days) / sizeof(days[0]))
		return 0;
	return now - (time_t)days[filter_type] * 86400;
}

/* ---------------------------------------------------------------------
 * Dates
 */

void
eas_format_date(time_t t, char out[32])
{
	struct tm tm;

	if (t < 0)
		t = 0;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int
eas_parse_date(const char *text, time_t *t_r)
{
	struct tm tm = {0};
	int n = 0;

	if (text == NULL || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
	                           &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t_r = timegm(&tm);
	return 0;
}

/* ---------------------------------------------------------------------
 * Ping
 */

struct eas_pending {
	struct store_op *op;
	eas_pending_cb *cb;
	void *ctx;
	bool in_callback, abandoned;
};

static void
pending_done(const uint64_t *changed, size_t count, enum store_err code, const char *error,
             void *ctx)
{
	struct eas_pending *p = ctx;

	(void)code;
	p->op = NULL;
	/* The caller may abandon the handle from its callback. */
	p->in_callback = true;
	p->cb(changed, count, error, p->ctx);
	free(p);
}

struct eas_pending *
eas_sync_pending(struct eas_request *req, const uint64_t *folder_ids, size_t count,
                 uint64_t notice_folder, uint64_t notice_modseq, eas_pending_cb *cb, void *ctx)
{
	struct eas_pending *p = xcalloc(1, sizeof(*p));

	p->cb = cb;
	p->ctx = ctx;
	p->op = store_eassync_pending(req->store, req->account_id, req->device->id, folder_ids,
	                              count, notice_folder, notice_modseq, pending_done, p);
	return p;
}

void
eas_pending_abandon(struct eas_pending **pp)
{
	struct eas_pending *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->in_callback) {
		p->abandoned = true;
		return;
	}
	store_op_abandon(&p->op);
	free(p);
}

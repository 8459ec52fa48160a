/* Settings (MS-ASCMD 2.2.1.18): DeviceInformation Set (stored with the
 * device), UserInformation Get (primary address and aliases; the Accounts
 * form from 14.1), Oof Get/Set over the auto-responder settings the
 * delivery code answers with (store-responder.h), RightsManagementInformation
 * Get (no templates), and a per-element Status for anything else. The
 * elements are handled in request order, each answered in turn. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "eas-private.h"
#include "log.h"
#include "store-responder.h"
#include "xmalloc.h"

struct settings {
	struct eas_request *req;
	struct store_op *op;
	struct evbuffer *out;
	struct wbxml_writer *w;
	const struct wbxml_node *cur; /* the element being handled */
	struct store_responder oof;   /* Oof Set: the merged settings */
	char *oof_body, *oof_external;
};

static void settings_next(struct settings *s);

static void
settings_free(struct settings *s)
{
	store_op_abandon(&s->op);
	if (s->w != NULL)
		wbxml_writer_finish(&s->w);
	if (s->out != NULL)
		evbuffer_free(s->out);
	free(s->oof_body);
	free(s->oof_external);
	free(s);
}

static void
settings_abort(struct eas_request *req, void *ctx)
{
	settings_free(ctx);
}

void
eas_device_info_parse(const struct wbxml_node *set, struct store_device_info *info)
{
	memset(info, 0, sizeof(*info));
	info->model = wbxml_child_text(set, EAS_SETTINGS_MODEL);
	info->imei = wbxml_child_text(set, EAS_SETTINGS_IMEI);
	info->os = wbxml_child_text(set, EAS_SETTINGS_OS);
	info->os_language = wbxml_child_text(set, EAS_SETTINGS_OSLANGUAGE);
	info->friendly_name = wbxml_child_text(set, EAS_SETTINGS_FRIENDLYNAME);
	info->phone_number = wbxml_child_text(set, EAS_SETTINGS_PHONENUMBER);
	info->mobile_operator = wbxml_child_text(set, EAS_SETTINGS_MOBILEOPERATOR);
	info->user_agent = wbxml_child_text(set, EAS_SETTINGS_USERAGENT);
}

/* <Element><Status>status</Status></Element> */
static void
element_status(struct settings *s, uint16_t tag, unsigned status)
{
	wbxml_start(s->w, tag);
	wbxml_uint(s->w, EAS_SETTINGS_STATUS, status);
	wbxml_end(s->w);
}

/* --- DeviceInformation --- */

static void
devinfo_done(enum store_err code, const char *error, void *ctx)
{
	struct settings *s = ctx;

	s->op = NULL;
	if (code != STORE_OK)
		eas_log(s->req, "storing DeviceInformation: %s", error);
	element_status(s, EAS_SETTINGS_DEVICEINFORMATION, code == STORE_OK ? 1 : 4);
	settings_next(s);
}

/* --- UserInformation --- */

static void
userinfo_done(const char *const *addresses, size_t count, enum store_err code, const char *error,
              void *ctx)
{
	struct settings *s = ctx;
	struct wbxml_writer *w = s->w;

	s->op = NULL;
	if (addresses == NULL) {
		eas_log(s->req, "reading addresses: %s", error);
		element_status(s, EAS_SETTINGS_USERINFORMATION, 4);
		settings_next(s);
		return;
	}
	wbxml_start(w, EAS_SETTINGS_USERINFORMATION);
	wbxml_uint(w, EAS_SETTINGS_STATUS, 1);
	wbxml_start(w, EAS_SETTINGS_GET);
	if (s->req->version >= EAS_VERSION_141) {
		wbxml_start(w, EAS_SETTINGS_ACCOUNTS);
		wbxml_start(w, EAS_SETTINGS_ACCOUNT);
		if (s->req->display_name != NULL && s->req->display_name[0] != '\0')
			wbxml_string(w, EAS_SETTINGS_USERDISPLAYNAME, s->req->display_name);
		wbxml_start(w, EAS_SETTINGS_EMAILADDRESSES);
		wbxml_string(w, EAS_SETTINGS_PRIMARYSMTPADDRESS, addresses[0]);
		for (size_t i = 0; i < count; i++)
			wbxml_string(w, EAS_SETTINGS_SMTPADDRESS, addresses[i]);
		wbxml_end(w);
		wbxml_end(w);
		wbxml_end(w);
	} else {
		wbxml_start(w, EAS_SETTINGS_EMAILADDRESSES);
		for (size_t i = 0; i < count; i++)
			wbxml_string(w, EAS_SETTINGS_SMTPADDRESS, addresses[i]);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_end(w);
	settings_next(s);
}

/* --- Oof --- */

static void
oof_time(struct wbxml_writer *w, uint16_t tag, time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	wbxml_string(w, tag, buf);
}

/* "2024-05-01T08:00:00.000Z" (fraction and Z optional). Returns -1 when
 * malformed. */
static int
oof_parse_time(const char *text, time_t *t_r)
{
	struct tm tm;
	const char *p;

	if (text == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -1;
	*t_r = timegm(&tm);
	return 0;
}

static bool
want_html(const struct wbxml_node *get)
{
	const char *bt = wbxml_child_text(get, EAS_SETTINGS_BODYTYPE);

	return bt != NULL && strcasecmp(bt, "HTML") == 0;
}

/* Text as requested: plain, or HTML-escaped with line breaks. */
static void
oof_message(struct wbxml_writer *w, uint16_t applies, bool enabled, const char *text, bool html)
{
	wbxml_start(w, EAS_SETTINGS_OOFMESSAGE);
	wbxml_empty(w, applies);
	wbxml_uint(w, EAS_SETTINGS_ENABLED, enabled ? 1 : 0);
	if (html) {
		struct evbuffer *b = evbuffer_new();
		size_t len;
		char *s;

		evbuffer_add_printf(b, "<html><body>");
		for (const char *p = text; *p != '\0'; p++) {
			switch (*p) {
			case '<':
				evbuffer_add_printf(b, "&lt;");
				break;
			case '>':
				evbuffer_add_printf(b, "&gt;");
				break;
			case '&':
				evbuffer_add_printf(b, "&amp;");
				break;
			case '\n':
				evbuffer_add_printf(b, "<br>");
				break;
			case '\r':
				break;
			default:
				evbuffer_add(b, p, 1);
			}
		}
		evbuffer_add_printf(b, "</body></html>");
		len = evbuffer_get_length(b);
		s = xmalloc(len + 1);
		evbuffer_remove(b, s, len);
		s[len] = '\0';
		evbuffer_free(b);
		wbxml_string(w, EAS_SETTINGS_REPLYMESSAGE, s);
		free(s);
	} else {
		wbxml_string(w, EAS_SETTINGS_REPLYMESSAGE, text);
	}
	wbxml_string(w, EAS_SETTINGS_BODYTYPE, html ? "HTML" : "Text");
	wbxml_end(w);
}

static void
oof_get_done(const struct store_responder *r, enum store_err code, const char *error, void *ctx)
{
	struct settings *s = ctx;
	struct wbxml_writer *w = s->w;
	const struct wbxml_node *get = wbxml_child(s->cur, EAS_SETTINGS_GET);
	bool html = want_html(get), on, timed;
	const char *external;

	s->op = NULL;
	if (r == NULL) {
		eas_log(s->req, "reading Oof: %s", error);
		element_status(s, EAS_SETTINGS_OOF, 4);
		settings_next(s);
		return;
	}
	on = r->mode != STORE_RESPONDER_OFF;
	timed = on && (r->starts_at != 0 || r->ends_at != 0);
	external = r->external_body != NULL ? r->external_body : r->body;
	wbxml_start(w, EAS_SETTINGS_OOF);
	wbxml_uint(w, EAS_SETTINGS_STATUS, 1);
	wbxml_start(w, EAS_SETTINGS_GET);
	wbxml_uint(w, EAS_SETTINGS_OOFSTATE, !on ? 0 : timed ? 2 : 1);
	if (timed) {
		oof_time(w, EAS_SETTINGS_STARTTIME, r->starts_at);
		oof_time(w, EAS_SETTINGS_ENDTIME,
		         r->ends_at != 0 ? r->ends_at : (time_t)4102444800);
	}
	oof_message(w, EAS_SETTINGS_APPLIESTOINTERNAL, on, r->body != NULL ? r->body : "", html);
	oof_message(w, EAS_SETTINGS_APPLIESTOEXTERNALKNOWN, on && r->reply_external,
	            external != NULL ? external : "", html);
	oof_message(w, EAS_SETTINGS_APPLIESTOEXTERNALUNKNOWN, on && r->reply_external,
	            external != NULL ? external : "", html);
	wbxml_end(w);
	wbxml_end(w);
	settings_next(s);
}

static void
oof_set_done(enum store_err code, const char *error, void *ctx)
{
	struct settings *s = ctx;

	s->op = NULL;
	if (code != STORE_OK)
		eas_log(s->req, "storing Oof: %s", error);
	else
		eas_log(s->req, "Oof set to mode %d", (int)s->oof.mode);
	element_status(s, EAS_SETTINGS_OOF,
	               code == STORE_OK            ? 1
	               : code == STORE_ERR_INVALID ? 5
	                                           : 4);
	settings_next(s);
}

/* A message's text as plain text (HTML tags dropped). */
static char *
oof_text(const struct wbxml_node *msg)
{
	const char *text = wbxml_child_text(msg, EAS_SETTINGS_REPLYMESSAGE);
	const char *bt = wbxml_child_text(msg, EAS_SETTINGS_BODYTYPE);
	char *out, *o;
	bool tag = false;

	if (text == NULL)
		return NULL;
	if (bt == NULL || strcasecmp(bt, "HTML") != 0)
		return xstrdup(text);
	out = o = xmalloc(strlen(text) + 1);
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '<') {
			if (strncasecmp(p, "<br", 3) == 0 || strncasecmp(p, "</p", 3) == 0)
				*o++ = '\n';
			tag = true;
		} else if (*p == '>') {
			tag = false;
		} else if (!tag) {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Merges the Set request into the stored settings and writes them. */
static void
oof_set_merge(const struct store_responder *r, enum store_err code, const char *error, void *ctx)
{
	struct settings *s = ctx;
	const struct wbxml_node *set = wbxml_child(s->cur, EAS_SETTINGS_SET), *m;
	struct eas_request *req = s->req;
	uint64_t state = 0;

	s->op = NULL;
	if (r == NULL) {
		eas_log(req, "reading Oof: %s", error);
		element_status(s, EAS_SETTINGS_OOF, 4);
		settings_next(s);
		return;
	}
	s->oof = *r;
	if (wbxml_child_uint(set, EAS_SETTINGS_OOFSTATE, &state) != 0 || state > 2) {
		element_status(s, EAS_SETTINGS_OOF, 5);
		settings_next(s);
		return;
	}
	if (state == 0) {
		s->oof.mode = STORE_RESPONDER_OFF;
	} else {
		/* Keep the administrator's mode if there is one; otherwise
		 * answer each sender once, as out-of-office replies do. */
		if (s->oof.mode == STORE_RESPONDER_OFF)
			s->oof.mode = STORE_RESPONDER_ONCE;
		s->oof.starts_at = s->oof.ends_at = 0;
		if (state == 2 && (oof_parse_time(wbxml_child_text(set, EAS_SETTINGS_STARTTIME),
		                                  &s->oof.starts_at) < 0 ||
		                   oof_parse_time(wbxml_child_text(set, EAS_SETTINGS_ENDTIME),
		                                  &s->oof.ends_at) < 0)) {
			element_status(s, EAS_SETTINGS_OOF, 5);
			settings_next(s);
			return;
		}
	}
	for (m = wbxml_child(set, EAS_SETTINGS_OOFMESSAGE); m != NULL;
	     m = wbxml_next(m, EAS_SETTINGS_OOFMESSAGE)) {
		uint64_t enabled = 0;
		char *text = oof_text(m);

		wbxml_child_uint(m, EAS_SETTINGS_ENABLED, &enabled);
		if (wbxml_child(m, EAS_SETTINGS_APPLIESTOINTERNAL) != NULL) {
			if (text != NULL) {
				free(s->oof_body);
				s->oof_body = text;
				text = NULL;
			}
		} else if (wbxml_child(m, EAS_SETTINGS_APPLIESTOEXTERNALKNOWN) != NULL ||
		           wbxml_child(m, EAS_SETTINGS_APPLIESTOEXTERNALUNKNOWN) != NULL) {
			s->oof.reply_external = enabled != 0;
			if (text != NULL) {
				free(s->oof_external);
				s->oof_external = text;
				text = NULL;
			}
		}
		free(text);
	}
	if (s->oof_body != NULL)
		s->oof.body = s->oof_body;
	if (s->oof_external != NULL)
		s->oof.external_body = s->oof_external;
	s->op = store_responder_set(req->store, req->account_id, &s->oof, oof_set_done, s);
}

/* --- Dispatch --- */

static void
settings_finish(struct settings *s)
{
	struct eas_request *req = s->req;
	struct evbuffer *out = s->out;

	wbxml_end(s->w);
	wbxml_writer_finish(&s->w);
	s->out = NULL;
	settings_free(s);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

/* Starts handling element n: true when an operation is running (its
 * callback goes on with the next element), false when n was answered at
 * once. */
static bool
settings_start(struct settings *s, const struct wbxml_node *n)
{
	struct eas_request *req = s->req;

	switch (n->tag) {
	case EAS_SETTINGS_DEVICEINFORMATION: {
		const struct wbxml_node *set = wbxml_child(n, EAS_SETTINGS_SET);
		struct store_device_info info;

		if (set == NULL) {
			element_status(s, n->tag, 2);
			return false;
		}
		eas_device_info_parse(set, &info);
		s->op = store_device_set_info(req->store, req->account_id, req->device->id, &info,
		                              devinfo_done, s);
		return true;
	}
	case EAS_SETTINGS_USERINFORMATION:
		if (wbxml_child(n, EAS_SETTINGS_GET) == NULL) {
			element_status(s, n->tag, 2);
			return false;
		}
		s->op = store_account_addresses(req->store, req->account_id, userinfo_done, s);
		return true;
	case EAS_SETTINGS_OOF:
		if (wbxml_child(n, EAS_SETTINGS_GET) != NULL) {
			s->op = store_responder_get(req->store, req->account_id, oof_get_done, s);
		} else if (wbxml_child(n, EAS_SETTINGS_SET) != NULL) {
			s->op = store_responder_get(req->store, req->account_id, oof_set_merge, s);
		} else {
			element_status(s, n->tag, 2);
			return false;
		}
		return true;
	case EAS_SETTINGS_RIGHTSMANAGEMENTINFORMATION:
		wbxml_start(s->w, n->tag);
		wbxml_uint(s->w, EAS_SETTINGS_STATUS, 1);
		wbxml_start(s->w, EAS_SETTINGS_GET);
		wbxml_empty(s->w, EAS_RIGHTSMANAGEMENT_RIGHTSMANAGEMENTTEMPLATES);
		wbxml_end(s->w);
		wbxml_end(s->w);
		return false;
	case EAS_SETTINGS_DEVICEPASSWORD:
		/* Password recovery is not offered (PasswordRecoveryEnabled 0):
		 * the recovery password is not stored. 7: denied by policy. */
		eas_log(req, "DevicePassword refused: password recovery is off");
		element_status(s, n->tag, 7);
		return false;
	default:
		/* Settings elements Floe does not know: protocol error. */
		if (WBXML_TAG_PAGE(n->tag) == EAS_PAGE_SETTINGS)
			element_status(s, n->tag, 2);
		else
			eas_log(req, "ignoring element %s in Settings", wbxml_tag_name(n->tag));
		return false;
	}
}

static void
settings_next(struct settings *s)
{
	for (;;) {
		const struct wbxml_node *n =
		    s->cur != NULL ? s->cur->next : s->req->body->first_child;

		s->cur = n;
		if (n == NULL) {
			settings_finish(s);
			return;
		}
		if (settings_start(s, n))
			return;
	}
}

void
eas_cmd_settings(struct eas_request *req)
{
	struct settings *s;

	if (req->body == NULL || req->body->tag != EAS_SETTINGS_SETTINGS) {
		eas_respond_status(req, 200, 2);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->req = req;
	eas_request_set_abort(req, settings_abort, s);
	s->out = evbuffer_new();
	s->w = wbxml_writer_new(s->out);
	wbxml_start(s->w, EAS_SETTINGS_SETTINGS);
	wbxml_uint(s->w, EAS_SETTINGS_STATUS, 1);
	s->cur = NULL;
	settings_next(s);
}

/* The ActiveSync transport (MS-ASHTTP): /Microsoft-Server-ActiveSync on the
 * worker's HTTP server. OPTIONS answers without credentials (devices ask
 * before they authenticate); POST goes query -> Basic auth (auth_password
 * on every request) -> device registration -> body (gunzip, WBXML decode)
 * -> protocol log -> blocked/policy-key checks -> the command's handler,
 * which answers once with an eas_respond_* function. */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "auth.h"
#include "config.h"
#include "eas-private.h"
#include "eas-server.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define EAS_PATH           "/Microsoft-Server-ActiveSync"
#define EAS_VERSIONS       "2.5,12.0,12.1,14.0,14.1,16.0,16.1"
#define EAS_SERVER_VERSION "16.1"
#define EAS_WBXML_TYPE     "application/vnd.ms-sync.wbxml"
#define EAS_GZIP_MIN       1024 /* smaller answers are sent as they are */

/* --- Request lifetime --- */

static void
eas_req_free(struct eas_req *r)
{
	TAILQ_REMOVE(&r->server->requests, r, entry);
	auth_request_abandon(&r->auth);
	store_op_abandon(&r->op);
	if (r->doc != NULL)
		wbxml_doc_free(&r->doc);
	if (r->body != NULL)
		evbuffer_free(r->body);
	free(r->param_names);
	free(r->param_values);
	free((void *)r->dev.ping_folders);
	free(r);
}

void
eas_request_release_body(struct eas_request *req)
{
	struct eas_req *r = EAS_REQ(req);

	if (r->doc != NULL)
		wbxml_doc_free(&r->doc);
	r->pub.body = NULL;
	if (r->body != NULL) {
		evbuffer_free(r->body);
		r->body = NULL;
	}
	r->pub.raw_body = NULL;
	/* The HTTP layer's copy of the body too (its buffer chain). */
	evbuffer_drain(http_request_body(req->http),
	               evbuffer_get_length(http_request_body(req->http)));
}

const struct store_device *
eas_request_device(const struct eas_request *req)
{
	return &EAS_REQ(req)->dev;
}

static const char *
eas_param(const struct eas_request *req, const char *name)
{
	const struct eas_req *r = (const struct eas_req *)req;

	for (size_t i = 0; i < r->nparams; i++) {
		if (strcasecmp(r->param_names[i], name) == 0)
			return r->param_values[i];
	}
	return NULL;
}

/* The client went away or the server closes the connection. */
static void
eas_http_abort(struct http_request *http, void *ctx)
{
	struct eas_req *r = ctx;

	if (r->in_handler && r->abort_fn != NULL)
		r->abort_fn(&r->pub, r->abort_ctx);
	eas_req_free(r);
}

void
eas_request_set_abort(struct eas_request *req, eas_abort_fn *fn, void *ctx)
{
	struct eas_req *r = EAS_REQ(req);

	r->abort_fn = fn;
	r->abort_ctx = ctx;
	/* Without an abort function the HTTP layer keeps the request alive
	 * until the handler answers, so a handler's late answer is safe. */
	http_request_set_abort_cb(req->http, fn != NULL ? eas_http_abort : NULL,
	                          fn != NULL ? r : NULL);
}

/* --- gzip --- */

/* Inflates a gzip (or zlib) body into out, at most max bytes. */
static int
eas_gunzip(struct evbuffer *in, struct evbuffer *out, size_t max, const char **error_r)
{
	z_stream z;
	size_t len = evbuffer_get_length(in);
	unsigned char chunk[16384];
	int ret;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 32) != Z_OK) {
		*error_r = "cannot start zlib";
		return -1;
	}
	z.next_in = evbuffer_pullup(in, -1);
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		ret = inflate(&z, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END) {
			inflateEnd(&z);
			*error_r = "malformed gzip body";
			return -1;
		}
		evbuffer_add(out, chunk, sizeof(chunk) - z.avail_out);
		if (evbuffer_get_length(out) > max) {
			inflateEnd(&z);
			*error_r = "gzip body too large once inflated";
			return -1;
		}
		if (ret != Z_STREAM_END && z.avail_in == 0 && z.avail_out != 0) {
			inflateEnd(&z);
			*error_r = "truncated gzip body";
			return -1;
		}
	} while (ret != Z_STREAM_END);
	inflateEnd(&z);
	return 0;
}

/* Replaces the contents of body by their gzip form. */
static int
eas_gzip(struct evbuffer *body)
{
	struct evbuffer *out = evbuffer_new();
	size_t len = evbuffer_get_length(body);
	unsigned char chunk[16384];
	z_stream z;
	int ret;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		evbuffer_free(out);
		return -1;
	}
	z.next_in = evbuffer_pullup(body, -1);
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		ret = deflate(&z, Z_FINISH);
		evbuffer_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (ret == Z_OK);
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		evbuffer_free(out);
		return -1;
	}
	evbuffer_drain(body, len);
	evbuffer_add_buffer(body, out);
	evbuffer_free(out);
	return 0;
}

/* --- Answers --- */

static void
eas_common_headers(struct http_request *http)
{
	http_response_header(http, "MS-Server-ActiveSync", EAS_SERVER_VERSION);
	http_response_header(http, "Cache-Control", "private");
}

/* Sends status with body (may be NULL) and ends the request. */
static void
eas_finish(struct eas_req *r, int status, const char *content_type, struct evbuffer *body)
{
	struct http_request *http = r->pub.http;
	struct evbuffer *empty = NULL;

	if (r->log_on)
		eas_log_response(r, status, content_type, body);
	eas_common_headers(http);
	if (body == NULL)
		body = empty = evbuffer_new();
	if (r->accept_gzip && evbuffer_get_length(body) >= EAS_GZIP_MIN && eas_gzip(body) == 0)
		http_response_header(http, "Content-Encoding", "gzip");
	http_response_send_buffer(http, status, evbuffer_get_length(body) > 0 ? content_type : NULL,
	                          body);
	if (empty != NULL)
		evbuffer_free(empty);
	eas_req_free(r);
}

void
eas_respond_wbxml(struct eas_request *req, struct evbuffer *wbxml)
{
	eas_finish(EAS_REQ(req), 200, EAS_WBXML_TYPE, wbxml);
}

void
eas_respond_empty(struct eas_request *req)
{
	eas_finish(EAS_REQ(req), 200, NULL, NULL);
}

void
eas_respond_raw(struct eas_request *req, const char *content_type, struct evbuffer *body)
{
	eas_finish(EAS_REQ(req), 200, content_type, body);
}

void
eas_respond_http(struct eas_request *req, int status, const char *reason)
{
	struct eas_req *r = EAS_REQ(req);
	struct evbuffer *text = evbuffer_new();

	log_info("eas: %s %s %s: HTTP %d: %s", req->address != NULL ? req->address : "-",
	         r->device_id != NULL ? r->device_id : "-", req->cmd != NULL ? req->cmd : "-",
	         status, reason);
	evbuffer_add_printf(text, "%s\n", reason);
	if (status == 503)
		http_response_header(req->http, "Retry-After", "30");
	eas_finish(r, status, "text/plain; charset=utf-8", text);
	evbuffer_free(text);
}

/* Root element page of each command's answer, for eas_respond_status. */
static const struct {
	const char *cmd, *page;
} eas_status_pages[] = {
    {"Sync", "AirSync"},
    {"FolderSync", "FolderHierarchy"},
    {"FolderCreate", "FolderHierarchy"},
    {"FolderUpdate", "FolderHierarchy"},
    {"FolderDelete", "FolderHierarchy"},
    {"GetItemEstimate", "GetItemEstimate"},
    {"MoveItems", "Move"},
    {"MeetingResponse", "MeetingResponse"},
    {"ResolveRecipients", "ResolveRecipients"},
    {"ValidateCert", "ValidateCert"},
    {"Ping", "Ping"},
    {"Provision", "Provision"},
    {"Search", "Search"},
    {"Settings", "Settings"},
    {"ItemOperations", "ItemOperations"},
    {"SendMail", "ComposeMail"},
    {"SmartReply", "ComposeMail"},
    {"SmartForward", "ComposeMail"},
    {"Find", "Find"},
};

void
eas_respond_status(struct eas_request *req, int http_status, unsigned status)
{
	uint16_t root = 0, st = 0;
	struct evbuffer *out;
	struct wbxml_writer *w;

	for (size_t i = 0; i < sizeof(eas_status_pages) / sizeof(eas_status_pages[0]); i++) {
		if (req->cmd != NULL && strcasecmp(req->cmd, eas_status_pages[i].cmd) == 0) {
			root = wbxml_tag_lookup(eas_status_pages[i].page, eas_status_pages[i].cmd);
			st = wbxml_tag_lookup(eas_status_pages[i].page, "Status");
		}
	}
	if (root == 0 || st == 0) {
		/* A command without a WBXML answer (GetAttachment): HTTP only. */
		eas_respond_http(req, status == 129 ? 403 : 449,
		                 status == 129 ? "device blocked" : "device must provision");
		return;
	}
	out = evbuffer_new();
	w = wbxml_writer_new(out);
	wbxml_start(w, root);
	wbxml_uint(w, st, status);
	wbxml_end(w);
	wbxml_writer_finish(&w);
	eas_finish(EAS_REQ(req), http_status, EAS_WBXML_TYPE, out);
	evbuffer_free(out);
}

void
eas_log(struct eas_request *req, const char *fmt, ...)
{
	struct eas_req *r = EAS_REQ(req);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_info("eas: %s %s %s: %s", req->address != NULL ? req->address : "-",
	         r->device_id != NULL ? r->device_id : "-", req->cmd != NULL ? req->cmd : "-", msg);
	if (r->log_on)
		eas_log_text(r, msg);
	free(msg);
}

/* --- OPTIONS --- */

static void
eas_options(struct http_request *http)
{
	eas_common_headers(http);
	http_response_header(http, "MS-ASProtocolVersions", EAS_VERSIONS);
	http_response_header(http, "MS-ASProtocolCommands", eas_command_list());
	http_response_header(http, "Allow", "OPTIONS,POST");
	http_response_header(http, "Public", "OPTIONS,POST");
	http_response_send(http, 200, NULL, "", 0);
}

/* --- POST: policy and access checks --- */

/* Whether the device may run a command that needs a policy: 0 yes, else
 * the MS-ASCMD status (142 not provisioned, 143 policy refresh, 144
 * invalid key). */
static unsigned
eas_policy_status(struct eas_req *r)
{
	struct eas_server *s = r->server;
	struct eas_policy policy;
	char hash[17];

	if (strcmp(r->dev.wipe_state, "none") != 0 && strcmp(r->dev.wipe_state, "wiped") != 0)
		return 144; /* a pending wipe travels in the next Provision */
	if (!r->have_policy_key) {
		eas_policy_effective(&r->pub, &policy);
		return policy.allow_non_provisionable ? 0 : 142;
	}
	if (r->policy_key_sent == 0 || r->dev.policy_key == 0)
		return r->policy_key_sent == 0 ? 142 : 144;
	if (r->policy_key_sent != r->dev.policy_key)
		return 144;
	eas_policy_effective(&r->pub, &policy);
	eas_policy_hash(&policy, hash);
	if (r->dev.policy_hash[0] != '\0' && strcmp(r->dev.policy_hash, hash) != 0)
		return 143;
	if (policy.refresh_interval > 0 && r->dev.policy_acked_at > 0 &&
	    time(NULL) - r->dev.policy_acked_at > (time_t)policy.refresh_interval)
		return 143;
	(void)s;
	return 0;
}

static void
eas_refuse_policy(struct eas_req *r, unsigned status)
{
	struct eas_server *s = r->server;

	eas_log(&r->pub, "policy key %s: status %u", r->have_policy_key ? "not valid" : "missing",
	        status);
	if (r->pub.version < EAS_VERSION_140 || s->provision_mode == EAS_PROVMODE_449) {
		eas_respond_http(&r->pub, 449, "device must provision (Retry With)");
		return;
	}
	eas_respond_status(&r->pub, s->provision_mode == EAS_PROVMODE_BOTH ? 449 : 200, status);
}

/* --- POST: body and dispatch --- */

static void
eas_dispatch(struct eas_req *r)
{
	struct http_request *http = r->pub.http;
	struct evbuffer *raw = http_request_body(http);
	const char *enc = http_request_header(http, "Content-Encoding");
	const char *error;
	unsigned status;

	r->pub.content_type = http_request_header(http, "Content-Type");
	if (r->pub.content_type == NULL)
		r->pub.content_type = "";
	r->pub.raw_body = raw;
	if (enc != NULL && (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0) &&
	    evbuffer_get_length(raw) > 0) {
		r->body = evbuffer_new();
		if (eas_gunzip(raw, r->body, r->server->cfg->http.max_body_size, &error) < 0) {
			eas_log(&r->pub, "request body: %s", error);
			eas_respond_http(&r->pub, 400, error);
			return;
		}
		r->pub.raw_body = r->body;
	} else if (enc != NULL && strcasecmp(enc, "identity") != 0 &&
	           evbuffer_get_length(raw) > 0) {
		eas_respond_http(&r->pub, 415, "unsupported Content-Encoding");
		return;
	}
	if (r->command->wbxml_body && evbuffer_get_length(r->pub.raw_body) > 0 &&
	    strncasecmp(r->pub.content_type, "message/rfc822", 14) != 0) {
		size_t len = evbuffer_get_length(r->pub.raw_body);

		if (wbxml_decode(evbuffer_pullup(r->pub.raw_body, -1), len, &r->doc, &error) < 0) {
			if (r->log_on)
				eas_log_request(r);
			eas_log(&r->pub, "malformed request: %s", error);
			eas_respond_http(&r->pub, 400, error);
			return;
		}
		r->pub.body = wbxml_doc_root(r->doc);
	}
	if (r->log_on)
		eas_log_request(r);

	if (strcmp(r->dev.access_state, "blocked") == 0) {
		eas_log(&r->pub, "device is blocked");
		if (r->pub.version < EAS_VERSION_140)
			eas_respond_http(&r->pub, 403, "device blocked");
		else
			eas_respond_status(&r->pub, 200, 129);
		return;
	}
	if (r->command->needs_policy && (status = eas_policy_status(r)) != 0) {
		eas_refuse_policy(r, status);
		return;
	}
	r->in_handler = true;
	http_request_set_abort_cb(http, NULL, NULL);
	r->command->handler(&r->pub);
}

/* Copies the device row into request memory (the store's copy dies with
 * the callback). */
static void
eas_keep_device(struct eas_req *r, const struct store_device *d)
{
	struct http_request *http = r->pub.http;
	uint64_t *folders = NULL;

#define KEEP(f) r->dev.f = http_request_strdup(http, d->f)
	r->dev = *d;
	KEEP(device_id);
	KEEP(device_type);
	KEEP(user_agent);
	KEEP(protocol_version);
	KEEP(model);
	KEEP(imei);
	KEEP(os);
	KEEP(os_language);
	KEEP(friendly_name);
	KEEP(phone_number);
	KEEP(mobile_operator);
	KEEP(policy_hash);
	KEEP(access_state);
	KEEP(wipe_state);
	KEEP(folder_hash);
#undef KEEP
	if (d->nping_folders > 0) {
		folders = xcalloc(d->nping_folders, sizeof(*folders));
		memcpy(folders, d->ping_folders, d->nping_folders * sizeof(*folders));
	}
	r->dev.ping_folders = folders;
	r->device.id = d->id;
	r->device.account_id = d->account_id;
	r->device.device_id = r->dev.device_id;
	r->device.device_type = r->dev.device_type;
	r->device.policy_key = d->policy_key;
	r->pub.device = &r->device;
	r->log_on = d->protocol_log;
}

static void
eas_touch_done(const struct store_device *dev, enum store_err code, const char *error, void *ctx)
{
	struct eas_req *r = ctx;

	r->op = NULL;
	if (dev == NULL) {
		log_error("eas: %s %s: device registration failed: %s", r->pub.address,
		          r->device_id, error);
		eas_respond_http(&r->pub, 503, "database unavailable");
		return;
	}
	eas_keep_device(r, dev);
	eas_log_device_hash(r);
	eas_dispatch(r);
}

static void
eas_auth_done(enum auth_result result, const struct auth_user *user, const char *error, void *ctx)
{
	struct eas_req *r = ctx;
	struct http_request *http = r->pub.http;

	r->auth = NULL;
	switch (result) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
	case AUTH_LOCKED:
		log_info("eas: login %s from %s: %s", r->login, http_request_peer(http), error);
		http_response_unauthorized(http, "ActiveSync");
		eas_req_free(r);
		return;
	case AUTH_DISABLED:
		eas_respond_http(&r->pub, 403, error);
		return;
	case AUTH_TEMPFAIL:
		eas_respond_http(&r->pub, 503, error);
		return;
	}
	r->pub.account_id = user->account_id;
	r->pub.address = http_request_strdup(http, user->address);
	r->pub.display_name = http_request_strdup(http, user->display_name);
	if (r->command == NULL) {
		eas_respond_http(&r->pub, 501, "command not implemented");
		return;
	}
	r->op = store_device_touch(r->pub.store, r->pub.account_id, r->device_id, r->device_type,
	                           r->pub.user_agent, eas_version_text(r->pub.version),
	                           eas_touch_done, r);
}

static char *
eas_query_strdup(void *ctx, const char *s)
{
	return http_request_strdup(ctx, s);
}

static void
eas_post(struct eas_server *s, struct http_request *http)
{
	struct eas_req *r = xcalloc(1, sizeof(*r));
	struct eas_query q;
	const struct eas_query_alloc alloc = {eas_query_strdup, http};
	const char *error, *user, *password, *text;

	r->server = s;
	r->seq = ++s->seq;
	TAILQ_INSERT_TAIL(&s->requests, r, entry);
	r->pub.server = s;
	r->pub.http = http;
	r->pub.param = eas_param;
	r->pub.base = s->base;
	r->pub.cfg = s->cfg;
	r->pub.db = s->db;
	r->pub.store = s->store;
	r->pub.bus = s->bus;
	r->pub.auth = s->auth;
	http_request_set_abort_cb(http, eas_http_abort, r);

	text = http_request_header(http, "User-Agent");
	r->pub.user_agent = text != NULL ? text : "";
	if (eas_query_parse(&alloc, http_request_query(http), &q, &error) < 0) {
		eas_respond_http(&r->pub, 400, error);
		return;
	}
	r->pub.cmd = q.cmd;
	r->device_id = q.device_id;
	r->device_type = q.device_type;
	r->nparams = q.nparams;
	r->param_names = xcalloc(q.nparams + 1, sizeof(char *));
	r->param_values = xcalloc(q.nparams + 1, sizeof(char *));
	memcpy(r->param_names, q.names, q.nparams * sizeof(char *));
	memcpy(r->param_values, q.values, q.nparams * sizeof(char *));
	if (q.base64) {
		r->pub.version = q.version;
		r->have_policy_key = q.have_policy_key;
		r->policy_key_sent = q.policy_key;
		if (eas_version_parse(eas_version_text(q.version)) == 0 ||
		    q.version < EAS_VERSION_121) {
			eas_respond_http(&r->pub, 400,
			                 "unsupported protocol version in the base64 query");
			return;
		}
	} else {
		text = http_request_header(http, "MS-ASProtocolVersion");
		if (text == NULL) {
			eas_respond_http(&r->pub, 400, "MS-ASProtocolVersion header missing");
			return;
		}
		r->pub.version = eas_version_parse(text);
		if (r->pub.version == 0) {
			eas_respond_http(
			    &r->pub, 400,
			    "unsupported MS-ASProtocolVersion (supported: " EAS_VERSIONS ")");
			return;
		}
		text = http_request_header(http, "X-MS-PolicyKey");
		if (text != NULL) {
			char *end;
			unsigned long long v = strtoull(text, &end, 10);

			r->have_policy_key = true;
			r->policy_key_sent =
			    (*text != '\0' && *end == '\0' && v <= UINT32_MAX) ? (uint32_t)v : 0;
		}
	}
	text = http_request_header(http, "Accept-Encoding");
	r->accept_gzip = text != NULL && strcasestr(text, "gzip") != NULL;
	r->command = eas_command_find(q.cmd);
	if (r->command != NULL)
		r->pub.cmd = r->command->name;

	if (http_request_basic_auth(http, &user, &password) < 0) {
		http_response_unauthorized(http, "ActiveSync");
		eas_req_free(r);
		return;
	}
	r->login = user;
	r->auth = auth_password(s->auth, user, password, http_request_peer(http), "eas",
	                        eas_auth_done, r);
}

static void
eas_http_handler(struct http_request *http, void *ctx)
{
	struct eas_server *s = ctx;
	const char *method = http_request_method(http);
	const char *path = http_request_path(http);

	/* The route is a prefix: only the path itself (and a trailing '/'). */
	if (strcasecmp(path, EAS_PATH) != 0 && strcasecmp(path, EAS_PATH "/") != 0) {
		http_response_error(http, 404, "no such resource");
		return;
	}
	if (strcmp(method, "OPTIONS") == 0) {
		eas_options(http);
	} else if (strcmp(method, "POST") == 0) {
		eas_post(s, http);
	} else {
		http_response_header(http, "Allow", "OPTIONS,POST");
		http_response_error(http, 405, "ActiveSync uses OPTIONS and POST");
	}
}

/* --- The server --- */

struct eas_server *
eas_server_create(struct event_base *base, const struct floe_config *cfg, struct http_server *http,
                  struct db *db, struct store *store, struct auth *auth, struct notify_bus *bus)
{
	struct eas_server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->cfg = cfg;
	s->http = http;
	s->db = db;
	s->store = store;
	s->auth = auth;
	s->bus = bus;
	TAILQ_INIT(&s->requests);
	eas_policy_init(s);
	s->log_dir = config_state_path(cfg, "eas-log");
	s->route.prefix = EAS_PATH;
	s->route.icase = true;
	s->route.handler = eas_http_handler;
	s->route.ctx = s;
	http_server_add_route(http, &s->route);
	return s;
}

static void
eas_shutdown_done_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct eas_server *s = ctx;
	void (*done)(void *) = s->shutdown_done;

	s->shutdown_done = NULL;
	if (done != NULL)
		done(s->shutdown_ctx);
}

void
eas_server_check_drained(struct eas_server *server)
{
	if (server->shutting_down && server->shutdown_done != NULL && server->ping_count == 0)
		event_base_once(server->base, -1, EV_TIMEOUT, eas_shutdown_done_cb, server, NULL);
}

void
eas_server_shutdown(struct eas_server *server, void (*done)(void *ctx), void *ctx)
{
	server->shutting_down = true;
	server->shutdown_done = done;
	server->shutdown_ctx = ctx;
	eas_ping_shutdown_all(server);
	eas_server_check_drained(server);
}

void
eas_server_destroy(struct eas_server **_server)
{
	struct eas_server *s = *_server;
	struct eas_req *r;

	if (s == NULL)
		return;
	*_server = NULL;
	/* The HTTP server was destroyed first and aborted what it held; a
	 * request left here lost its connection without an abort callback. */
	while ((r = TAILQ_FIRST(&s->requests)) != NULL)
		eas_req_free(r);
	eas_ping_registry_free(s);
	free(s->log_dir);
	free(s);
}

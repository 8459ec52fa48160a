/* Internals of the ActiveSync front-end shared by the transport (eas.c,
 * eas-query.c, eas-log.c) and the commands it owns (provision.c,
 * folders.c, settings.c, ping.c): the per-worker server, the request
 * behind struct eas_request, the effective policy, and the parked-Ping
 * registry. Not for other parts of Floe. */
#ifndef FLOE_EAS_PRIVATE_H
#define FLOE_EAS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "eas.h"
#include "http.h"
#include "store-device.h"

struct auth_request;
struct store_op;
struct eas_ping;
struct eas_ping_acct;

/* How a request without a valid policy key is refused ([eas]
 * provision_status). Versions before 14.0 always get HTTP 449. */
enum eas_provision_mode {
	EAS_PROVMODE_449,    /* HTTP 449 for every version */
	EAS_PROVMODE_STATUS, /* 14.0+: HTTP 200 with the command's Status 142-144 */
	EAS_PROVMODE_BOTH,   /* 14.0+: HTTP 449 carrying that Status body too */
};

/* The security policy a device gets (provision.c builds EASProvisionDoc
 * from it). Sizes in bytes, times in seconds; 0 means "no limit". */
struct eas_policy {
	bool password_required;
	bool alphanumeric_password;
	bool allow_simple_password;
	unsigned min_password_length;
	unsigned min_complex_characters;
	unsigned max_inactivity;        /* seconds before the device locks */
	unsigned max_password_failures; /* before a local wipe */
	unsigned password_expiration;   /* days */
	unsigned password_history;
	bool require_encryption;
	bool require_storage_card_encryption;
	bool allow_storage_card;
	bool allow_camera;
	bool allow_attachments;
	bool allow_html_email;
	bool allow_browser;
	bool allow_consumer_email;
	bool allow_bluetooth; /* 0 disabled, 2 allowed (MS-ASPROV) */
	uint64_t max_attachment_size;
	unsigned max_email_age_filter;    /* MS-ASPROV MaxEmailAgeFilter 0..5 */
	unsigned max_calendar_age_filter; /* 0, 4..7 */
	unsigned refresh_interval;        /* seconds; 0: never ask again */
	bool allow_non_provisionable;
};

/* One EAS request from arrival to its answer. pub is what handlers see. */
struct eas_req {
	struct eas_request pub;
	struct eas_server *server;
	TAILQ_ENTRY(eas_req) entry;
	unsigned seq; /* per worker, for the protocol log */
	const struct eas_command *command;
	/* query parameters other than Cmd/User/DeviceId/DeviceType */
	const char **param_names, **param_values;
	size_t nparams;
	const char *device_id, *device_type, *login;
	bool have_policy_key;
	uint32_t policy_key_sent;
	bool accept_gzip;
	/* the device row at arrival (strings in the request's pool) */
	struct store_device dev;
	struct eas_device device;
	char device_hash[33];
	bool log_on;
	/* work in progress before the handler runs */
	struct auth_request *auth;
	struct store_op *op;
	struct wbxml_doc *doc;
	struct evbuffer *body; /* the (gunzipped) body */
	/* set by a parking handler */
	eas_abort_fn *abort_fn;
	void *abort_ctx;
	bool in_handler;
};

#define EAS_REQ(r) ((struct eas_req *)(r))

struct eas_ping_slot;

struct eas_server {
	struct event_base *base;
	const struct floe_config *cfg;
	struct http_server *http;
	struct db *db;
	struct store *store;
	struct auth *auth;
	struct notify_bus *bus;
	struct http_route route;
	TAILQ_HEAD(, eas_req) requests;
	unsigned seq;
	struct eas_policy policy;
	char policy_hash[17];
	enum eas_provision_mode provision_mode;
	char *log_dir; /* <state_dir>/eas-log */
	bool log_dir_warned;
	/* parked Pings by device row id (ping.c) */
	struct eas_ping **pings;
	size_t ping_buckets, ping_count;
	/* per account with parked Pings: one watch and one hierarchy check */
	struct eas_ping_acct **accts;
	size_t acct_buckets, acct_count;
	uint64_t nonce_base;
	bool shutting_down;
	void (*shutdown_done)(void *ctx);
	void *shutdown_ctx;
};

/* --- eas.c --- */
/* Frees the request's decoded body and raw body early (a parked Ping keeps
 * neither); req->body becomes NULL. */
void eas_request_release_body(struct eas_request *req);
/* A minimal answer of the request's command carrying only Status (e.g. 142
 * not provisioned, 129 blocked), as HTTP 200 or, with http_status, that
 * status. */
void eas_respond_status(struct eas_request *req, int http_status, unsigned status);
/* The request's device row as it was at arrival. */
const struct store_device *eas_request_device(const struct eas_request *req);
/* "14.1" for EAS_VERSION_141 and so on. */
const char *eas_version_text(unsigned version);
/* Called by ping.c when the last parked Ping is gone during a shutdown. */
void eas_server_check_drained(struct eas_server *server);

/* --- eas-query.c: the request URI --- */
struct eas_query {
	const char *cmd;
	const char *user, *device_id, *device_type;
	unsigned version;     /* base64 form: from the URI; plain: 0 */
	bool have_policy_key; /* base64 form only */
	uint32_t policy_key;
	bool base64;
	size_t nparams;
	const char *names[16], *values[16];
};
/* Where the parser copies strings (the request's pool in eas.c). */
struct eas_query_alloc {
	char *(*strdup)(void *ctx, const char *s);
	void *ctx;
};
/* Parses the query string (plain or base64 form) into q; strings come from
 * a. Returns 0 or -1 with *error_r (static text). */
int eas_query_parse(const struct eas_query_alloc *a, const char *query, struct eas_query *q,
                    const char **error_r);
/* Parses "14.1" etc. into EAS_VERSION_*; 0 when unsupported. */
unsigned eas_version_parse(const char *text);

/* --- eas-log.c: the per-device protocol log --- */
/* Fills req->device_hash (32 hex digits identifying account and device). */
void eas_log_device_hash(struct eas_req *r);
/* "<<< Cmd" with the request decoded (or a note on a non-WBXML body). */
void eas_log_request(struct eas_req *r);
/* ">>> status" with the response decoded when it is WBXML. */
void eas_log_response(struct eas_req *r, int http_status, const char *content_type,
                      struct evbuffer *body);
/* A free-text line. */
void eas_log_text(struct eas_req *r, const char *text);
/* The file of a device's log: <state_dir>/eas-log/<devices.id>.log. */
char *eas_log_path(const struct eas_server *server, uint64_t device_row_id);

/* --- provision.c --- */
/* The policy for this device: the global one from [eas] now; the
 * device-security issue adds domain, user and device levels here. */
void eas_policy_effective(const struct eas_request *req, struct eas_policy *policy_r);
/* Reads the global policy from the configuration and digests it. */
void eas_policy_init(struct eas_server *server);
/* A digest of a policy (16 hex digits), to tell a changed policy. */
void eas_policy_hash(const struct eas_policy *policy, char hash_r[17]);

/* --- ping.c --- */
/* Ends every parked Ping with Status 1 (server going down). */
void eas_ping_shutdown_all(struct eas_server *server);
void eas_ping_registry_free(struct eas_server *server);

/* --- eas-folders.c --- */
/* The EAS view of a folder list (skips what EAS cannot show): lines
 * "id\tparent\ttype\tname\n" in list order, parents first. Caller frees. */
struct store_folder_list;
char *eas_folders_state(const struct store_folder_list *list);
/* A digest of a state text independent of the order of its lines (16 hex
 * digits): the same folder set gives the same digest. */
void eas_folders_hash(const char *state, char hash_r[17]);
/* FNV-1a digest of a text, 16 hex digits. */
void eas_hash_text(const char *text, char hash_r[17]);

/* --- eas-folders.c: the EAS view of the folder tree --- */
struct eas_view_folder {
	uint64_t id, parent;
	unsigned type;
	char *name; /* last path component */
	char *path;
};
struct eas_view {
	struct eas_view_folder *items;
	size_t count;
};
/* A parsed state line. */
struct eas_state_entry {
	uint64_t id, parent;
	unsigned type;
	const char *name; /* into the state copy */
	const char *line;
	size_t line_len;
};
void eas_view_build(const struct store_folder_list *list, struct eas_view *v);
void eas_view_free(struct eas_view *v);
const struct eas_view_folder *eas_view_find(const struct eas_view *v, uint64_t id);
/* The state text of a view (the caller frees). */
char *eas_view_state(const struct eas_view *v);
void eas_state_add_line(struct evbuffer *out, uint64_t id, uint64_t parent, unsigned type,
                        const char *name);
/* Splits text (modified in place) into entries (the caller frees the array). */
struct eas_state_entry *eas_state_parse(char *text, size_t *count_r);
const struct eas_state_entry *eas_state_find(const struct eas_state_entry *e, size_t n,
                                             uint64_t id);
/* A decimal number of at most 20 digits: 0 or -1. */
int eas_parse_u64(const char *s, size_t len, uint64_t *v_r);
/* Default folders (types 2-11), which a device may not rename or delete. */
bool eas_type_is_special(unsigned type);

/* --- settings.c --- */
/* Reads Settings:DeviceInformation/Set into info (strings point into the
 * tree; absent fields NULL). */
void eas_device_info_parse(const struct wbxml_node *set, struct store_device_info *info);

#endif

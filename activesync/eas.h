/* The ActiveSync front-end: what every command handler gets and how it
 * answers. eas.c (the transport) authenticates the request, parses the
 * plain or base64 query, registers the device, checks the policy key,
 * decodes the WBXML body (gunzipping it first when needed), writes the
 * protocol log, and calls the command's handler from the table in
 * commands.c. The handler answers exactly once with one of the
 * eas_respond_* functions, at once or later (Ping parks the request). */
#ifndef FLOE_EAS_H
#define FLOE_EAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wbxml.h"

struct auth;
struct db;
struct evbuffer;
struct event_base;
struct floe_config;
struct http_request;
struct http_server;
struct notify_bus;
struct store;
struct eas_server;
struct eas_request;

/* Protocol versions as numbers: 25, 120, 121, 140, 141, 160, 161. */
#define EAS_VERSION_25  25
#define EAS_VERSION_120 120
#define EAS_VERSION_121 121
#define EAS_VERSION_140 140
#define EAS_VERSION_141 141
#define EAS_VERSION_160 160
#define EAS_VERSION_161 161

/* The per-worker EAS server; registers /Microsoft-Server-ActiveSync on
 * http. None of the objects is owned. */
struct eas_server *eas_server_create(struct event_base *base, const struct floe_config *cfg,
                                     struct http_server *http, struct db *db, struct store *store,
                                     struct auth *auth, struct notify_bus *bus);
/* Parked requests are answered or dropped by the HTTP layer's shutdown;
 * this frees what is left. Accepts NULL; sets *server to NULL. */
void eas_server_destroy(struct eas_server **server);

/* The registered device a request comes from (devices table, 0005). */
struct eas_device {
	uint64_t id; /* devices.id */
	uint64_t account_id;
	const char *device_id; /* as sent by the client */
	const char *device_type;
	uint32_t policy_key; /* the final key the device holds; 0 none */
};

/* What a command handler gets. Everything is owned by the request and
 * valid until it is answered (or aborted). */
struct eas_request {
	struct eas_server *server;
	struct http_request *http;
	const char *cmd;     /* "Sync", "Ping", ... as in the query */
	unsigned version;    /* EAS_VERSION_* of this request */
	uint64_t account_id; /* the authenticated account */
	const char *address; /* its primary address */
	const char *display_name;
	const struct eas_device *device;
	const char *user_agent; /* may be "" */
	/* Query parameters other than Cmd/User/DeviceId/DeviceType (plain
	 * form: ItemId, CollectionId, AttachmentName, SaveInSent, Occurrence,
	 * LongId; base64 form: the same decoded). NULL when absent. */
	const char *(*param)(const struct eas_request *req, const char *name);
	/* The decoded WBXML body, NULL when the body was empty. */
	const struct wbxml_node *body;
	/* The raw body (SendMail in 12.x and earlier sends MIME as the body
	 * with Content-Type message/rfc822). */
	struct evbuffer *raw_body;
	const char *content_type;
	/* Shared objects. */
	struct event_base *base;
	const struct floe_config *cfg;
	struct db *db;
	struct store *store;
	struct notify_bus *bus;
	struct auth *auth;
};

/* Answers 200 with a WBXML body (application/vnd.ms-sync.wbxml), gzipped
 * when the client accepts it and it is large enough, logging the response
 * decoded when the device's protocol log is on. Takes the contents of
 * wbxml. Ends the request (do not touch req afterwards). */
void eas_respond_wbxml(struct eas_request *req, struct evbuffer *wbxml);
/* 200 with an empty body (e.g. an empty Sync answer). */
void eas_respond_empty(struct eas_request *req);
/* 200 with another content type (ItemOperations multipart, GetAttachment,
 * message/rfc822). Takes the contents of body. */
void eas_respond_raw(struct eas_request *req, const char *content_type, struct evbuffer *body);
/* An HTTP error status (400 malformed, 403, 449, 500, 501, 503) with a
 * short text reason for the log. */
void eas_respond_http(struct eas_request *req, int status, const char *reason);

/* A handler that parks the request (Ping, Sync with Wait) sets this: it
 * runs when the client goes away, a newer request of the device replaces
 * it (eas_server ends the older Ping), or the server shuts down. After it
 * returns the request is freed. */
typedef void eas_abort_fn(struct eas_request *req, void *ctx);
void eas_request_set_abort(struct eas_request *req, eas_abort_fn *fn, void *ctx);

/* Logs a line for this request (prefixed with account, device and
 * command) at info level, and into the device's protocol log when on. */
void eas_log(struct eas_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Command handlers (commands.c maps Cmd= names to these). A handler
 * validates its body and answers with the command's Status codes. */
typedef void eas_command_fn(struct eas_request *req);

struct eas_command {
	const char *name; /* "Sync" */
	eas_command_fn *handler;
	bool needs_policy; /* refused with 449/142 without a valid policy key */
	bool wbxml_body;   /* the body is WBXML (decoded before the call) */
};
/* The table, terminated by name == NULL; lookup is case-insensitive. */
const struct eas_command *eas_command_find(const char *name);
/* "Sync,SendMail,..." for MS-ASProtocolCommands (only implemented ones). */
const char *eas_command_list(void);

/* Every handler, by owner file. */
eas_command_fn eas_cmd_provision;       /* provision.c */
eas_command_fn eas_cmd_foldersync;      /* folders.c */
eas_command_fn eas_cmd_foldercreate;    /* folders.c */
eas_command_fn eas_cmd_folderupdate;    /* folders.c */
eas_command_fn eas_cmd_folderdelete;    /* folders.c */
eas_command_fn eas_cmd_ping;            /* ping.c */
eas_command_fn eas_cmd_settings;        /* settings.c */
eas_command_fn eas_cmd_sync;            /* sync.c */
eas_command_fn eas_cmd_getitemestimate; /* sync.c */
eas_command_fn eas_cmd_itemoperations;  /* itemoperations.c */
eas_command_fn eas_cmd_moveitems;       /* moveitems.c */
eas_command_fn eas_cmd_search;          /* search.c */
eas_command_fn eas_cmd_sendmail;        /* sendmail.c */
eas_command_fn eas_cmd_smartreply;      /* sendmail.c */
eas_command_fn eas_cmd_smartforward;    /* sendmail.c */
eas_command_fn eas_cmd_getattachment;   /* itemoperations.c (<= 12.1) */

/* ---------------------------------------------------------------------
 * Folder ids the device sees (folders.c): EAS ServerIds of folders are the
 * decimal folder id; of items "<folder id>:<uid>". Parsers return 0 or -1.
 */
int eas_parse_item_id(const char *server_id, uint64_t *folder_id_r, uint32_t *uid_r);
/* EAS folder type (MS-ASCMD FolderSync Type: 1 user generic, 2 Inbox,
 * 3 Drafts, 4 Deleted Items, 5 Sent Items, 6 Outbox, 7 Tasks, 8 Calendar,
 * 9 Contacts, 10 Notes, 11 Journal, 12 user mail, 13 user calendar, 14
 * user contacts, 15 user tasks, 16 user journal, 17 user notes, 19
 * Recipient information cache) of a store folder. */
struct store_folder;
unsigned eas_folder_type(const struct store_folder *folder);

/* ---------------------------------------------------------------------
 * For Ping (ping.c) from the sync state (sync-state.c): which of the
 * folders have changes the device has not synced yet. A folder the device
 * never synced counts as changed only when it has items. cb gets the
 * changed ids (a subset of folder_ids, same order); error non-NULL on a
 * database failure. With notice_folder non-zero the same statement sends
 * the change notice (account, notice_folder, notice_modseq) to every
 * worker and node. Returns a handle for eas_pending_abandon.
 */
struct eas_pending;
typedef void eas_pending_cb(const uint64_t *changed, size_t count, const char *error, void *ctx);
struct eas_pending *eas_sync_pending(struct eas_request *req, const uint64_t *folder_ids,
                                     size_t count, uint64_t notice_folder, uint64_t notice_modseq,
                                     eas_pending_cb *cb, void *ctx);
void eas_pending_abandon(struct eas_pending **p);

#endif

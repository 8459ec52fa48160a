/* Folder types in the Kolab vocabulary: the mapping between a value such
 * as "mail.sentitems" or "event.default" and the folders table's type,
 * special_use and is_default columns, and the one statement that sets the
 * type of an empty plain mail folder (IMAP SETMETADATA after CREATE). */
#include "store-foldertype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store-private.h"
#include "xmalloc.h"

static const char *const folder_types[] = {
    "mail", "event", "contact", "task", "note", "journal", "file",
};

/* Kolab's mail subtypes and the store's special uses. */
static const struct {
	const char *kolab, *special_use;
} mail_subtypes[] = {
    {"inbox", "inbox"},    {"drafts", "drafts"},     {"sentitems", "sent"},
    {"junkemail", "junk"}, {"wastebasket", "trash"},
};

const char *
store_foldertype_format(const struct store_folder *folder, bool own, char *buf, size_t size)
{
	const char *type = folder->type != NULL ? folder->type : "mail";
	const char *suffix = NULL;

	if (own && strcmp(type, "mail") == 0 && folder->special_use != NULL) {
		for (size_t i = 0; i < sizeof(mail_subtypes) / sizeof(*mail_subtypes); i++) {
			if (strcmp(mail_subtypes[i].special_use, folder->special_use) == 0)
				suffix = mail_subtypes[i].kolab;
		}
	} else if (own && strcmp(type, "mail") != 0 && folder->is_default) {
		suffix = "default";
	}
	snprintf(buf, size, "%s%s%s", type, suffix != NULL ? "." : "",
	         suffix != NULL ? suffix : "");
	return buf;
}

int
store_foldertype_parse(const char *value, size_t len, struct store_foldertype *type_r,
                       const char **error_r)
{
	const char *dot = value != NULL ? memchr(value, '.', len) : NULL;
	size_t base = dot != NULL ? (size_t)(dot - value) : len;

	memset(type_r, 0, sizeof(*type_r));
	if (value == NULL || len == 0 || memchr(value, '\0', len) != NULL) {
		*error_r = "empty folder type";
		return -1;
	}
	for (size_t i = 0; i < sizeof(folder_types) / sizeof(*folder_types); i++) {
		if (strlen(folder_types[i]) == base &&
		    strncasecmp(value, folder_types[i], base) == 0)
			type_r->type = folder_types[i];
	}
	if (type_r->type == NULL) {
		*error_r = "unknown folder type (mail, event, contact, task, note, journal, file)";
		return -1;
	}
	if (dot == NULL)
		return 0;
	dot++;
	len -= base + 1;
	if (strcmp(type_r->type, "mail") != 0) {
		if (len == 7 && strncasecmp(dot, "default", 7) == 0) {
			type_r->is_default = true;
			return 0;
		}
		*error_r = "the only suffix of a groupware folder type is .default";
		return -1;
	}
	for (size_t i = 0; i < sizeof(mail_subtypes) / sizeof(*mail_subtypes); i++) {
		if (strlen(mail_subtypes[i].kolab) == len &&
		    strncasecmp(dot, mail_subtypes[i].kolab, len) == 0) {
			type_r->special_use = mail_subtypes[i].special_use;
			return 0;
		}
	}
	*error_r = "unknown mail subtype (inbox, drafts, sentitems, junkemail, wastebasket)";
	return -1;
}

struct foldertype_op {
	struct store_op op;
	store_done_cb *cb;
	struct store_foldertype want;
};

static void
foldertype_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct foldertype_op *)op)->cb(code, error, op->ctx);
}

static void
foldertype_reply(struct store_op *op, enum store_err code, const char *error)
{
	struct foldertype_op *t = (struct foldertype_op *)op;

	store_op_deliver_begin(op);
	t->cb(code, error, op->ctx);
	store_op_finish(op);
}

/* Columns: type, special_use, is_default, noselect, messages, special use
 * taken, default taken, rows updated. */
static void
foldertype_done(struct store_op *op, const struct db_result *res)
{
	struct foldertype_op *t = (struct foldertype_op *)op;
	const char *type, *special;
	bool is_default;
	char *error;

	if (db_result_rows(res) == 0) {
		foldertype_reply(op, STORE_ERR_NOT_FOUND, "no such folder");
		return;
	}
	if (store_u64(db_result_value(res, 0, 7)) > 0) {
		foldertype_reply(op, STORE_OK, NULL);
		return;
	}
	type = db_result_value(res, 0, 0);
	special = db_result_isnull(res, 0, 1) ? NULL : db_result_value(res, 0, 1);
	is_default = store_bool(db_result_value(res, 0, 2));
	if (strcmp(type, t->want.type) == 0 && (special == NULL) == (t->want.special_use == NULL) &&
	    (special == NULL || strcmp(special, t->want.special_use) == 0) &&
	    (strcmp(type, "mail") == 0 || is_default == t->want.is_default)) {
		foldertype_reply(op, STORE_OK, NULL);
		return;
	}
	if (store_bool(db_result_value(res, 0, 3))) {
		foldertype_reply(op, STORE_ERR_INVALID, "the name holds no folder (\\Noselect)");
		return;
	}
	if (strcmp(type, "mail") != 0 || special != NULL || is_default) {
		struct store_folder f = {
		    .type = type, .special_use = special, .is_default = is_default};
		char now[STORE_FOLDERTYPE_MAX];

		error = xasprintf("the folder already has the type %s; a type is set only when "
		                  "the folder is created",
		                  store_foldertype_format(&f, true, now, sizeof(now)));
		foldertype_reply(op, STORE_ERR_INVALID, error);
		free(error);
		return;
	}
	if (store_u64(db_result_value(res, 0, 4)) > 0) {
		foldertype_reply(op, STORE_ERR_NOT_EMPTY,
		                 "the folder holds messages; only an empty folder gets a type");
		return;
	}
	if (store_bool(db_result_value(res, 0, 5))) {
		foldertype_reply(op, STORE_ERR_INVALID,
		                 "another folder already has that mail subtype (special use)");
		return;
	}
	if (store_bool(db_result_value(res, 0, 6))) {
		error = xasprintf("another folder already is the default %s folder", t->want.type);
		foldertype_reply(op, STORE_ERR_INVALID, error);
		free(error);
		return;
	}
	/* The row changed between the statement's snapshot and its update. */
	foldertype_reply(op, STORE_ERR_INVALID, "the folder changed meanwhile; try again");
}

/* $1 account, $2 folder, $3 type, $4 special use (NULL), $5 default. The
 * update's conditions are on the locked row itself, so that a concurrent
 * append (which updates the folder row first) is seen: messages is kept
 * by the items triggers in the appending transaction. The notice CTE runs
 * only when referenced, hence the count. */
static const char set_sql[] =
    "WITH cur AS (SELECT f.type, f.special_use, f.is_default, f.noselect, f.messages"
    " FROM folders f WHERE f.account_id = $1 AND f.id = $2),"
    " taken AS (SELECT EXISTS (SELECT 1 FROM folders o WHERE o.account_id = $1 AND o.id <> $2"
    " AND o.special_use = $4::text) AS special,"
    " EXISTS (SELECT 1 FROM folders o WHERE o.account_id = $1 AND o.id <> $2"
    " AND $5::boolean AND o.type = $3::text AND o.is_default) AS dflt),"
    " upd AS (UPDATE folders f SET type = $3::text, special_use = $4::text,"
    " is_default = $5::boolean, highestmodseq = f.highestmodseq + 1"
    " FROM taken WHERE f.account_id = $1 AND f.id = $2 AND f.messages = 0 AND NOT f.noselect"
    " AND f.type = 'mail' AND f.special_use IS NULL AND NOT f.is_default"
    " AND NOT ($3::text = 'mail' AND $4::text IS NULL)"
    " AND NOT taken.special AND NOT taken.dflt RETURNING f.highestmodseq),"
    " note AS (SELECT floe_notify($1, $2, u.highestmodseq) FROM upd u)"
    " SELECT cur.type, cur.special_use, cur.is_default::text, cur.noselect::text,"
    " cur.messages::text, taken.special::text, taken.dflt::text,"
    " (SELECT count(*) FROM note)::text FROM cur, taken";

struct store_op *
store_foldertype_set(struct store *store, uint64_t account_id, uint64_t folder_id,
                     const struct store_foldertype *type, store_done_cb *cb, void *ctx)
{
	struct foldertype_op *t =
	    (struct foldertype_op *)store_op_new(store, sizeof(*t), foldertype_fail, ctx);
	struct store_params p = {0};
	bool known = false;

	t->cb = cb;
	for (size_t i = 0;
	     type != NULL && type->type != NULL && i < sizeof(folder_types) / sizeof(*folder_types);
	     i++)
		known = known || strcmp(type->type, folder_types[i]) == 0;
	if (!known || (type->special_use != NULL && strcmp(type->type, "mail") != 0) ||
	    (type->is_default && strcmp(type->type, "mail") == 0))
		return store_op_fail_later(&t->op, STORE_ERR_INVALID, "invalid folder type");
	t->want.type = store_op_strdup(&t->op, type->type);
	t->want.special_use =
	    type->special_use != NULL ? store_op_strdup(&t->op, type->special_use) : NULL;
	t->want.is_default = type->is_default;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param(&p, type->type);
	store_param(&p, type->special_use);
	store_param(&p, type->is_default ? "true" : "false");
	store_op_query(&t->op, set_sql, &p, foldertype_done);
	return &t->op;
}

/* LIST's METADATA return option (RFC 9590): the entries a client asks for,
 * written after each mailbox's LIST response, so that a Kolab or IceWarp
 * client gets every folder's type (and other entries) in one round trip.
 * Computed entries come from the folder rows LIST already has; stored
 * entries of all folders are read with one query beforehand, and so is
 * IceWarp's /public/vendor/icewarp/folderinfo/changedsince/<modseq> (one
 * query per modseq asked for, for every folder: the same value
 * GETMETADATA gives). The loading state belongs to the imap_list_metadata:
 * imap_list_metadata_free abandons whatever is in flight. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "groupware-imap.h"
#include "store-metadata.h"
#include "store-groupware.h"
#include "store-share.h"
#include "xmalloc.h"

/* Entries one LIST may ask for. */
#define LIST_METADATA_MAX 32

struct list_md_value {
	uint64_t owner_id, folder_id;
	size_t entry; /* index into names */
	unsigned char *value;
	size_t len;
	/* A changedsince value without the folder's private items, for a
	 * user who may not see them (imap_view_restricts); the folder then
	 * also has the full value, for one who may. */
	bool restricted;
};

/* A shared folder's changedsince answer, kept while the private items
 * among its changes are read. */
struct list_md_pending {
	uint64_t owner_id, folder_id;
	uint32_t *uids, *vanished;
	size_t nuids, nvanished;
};

struct imap_list_metadata {
	char **names; /* lower case */
	enum imap_meta_computed *kinds;
	uint64_t *since; /* changedsince entries: the modseq */
	size_t count;
	/* Stored entries and changedsince values (NUL-terminated). */
	struct list_md_value *values;
	size_t nvalues, cap;
	struct store_op *op;
	size_t next; /* the next changedsince entry to load */
	bool shared;
	struct imap_client *client;
	imap_list_metadata_done_fn *done;
	void *ctx;
	struct list_md_pending *pending;
	size_t npending;
};

static void
list_md_pending_clear(struct imap_list_metadata *md)
{
	for (size_t i = 0; i < md->npending; i++) {
		free(md->pending[i].uids);
		free(md->pending[i].vanished);
	}
	free(md->pending);
	md->pending = NULL;
	md->npending = 0;
}

void
imap_list_metadata_free(struct imap_list_metadata **mdp)
{
	struct imap_list_metadata *md = *mdp;

	if (md == NULL)
		return;
	store_op_abandon(&md->op);
	list_md_pending_clear(md);
	for (size_t i = 0; i < md->count; i++)
		free(md->names[i]);
	free(md->names);
	free(md->kinds);
	free(md->since);
	for (size_t i = 0; i < md->nvalues; i++)
		free(md->values[i].value);
	free(md->values);
	free(md);
	*mdp = NULL;
}

/* A valid entry name: what GETMETADATA accepts, /public names included. */
static bool
list_md_name_valid(const char *s, size_t len)
{
	char *as_shared;
	bool ok;

	if (store_metadata_name_valid(s, len))
		return true;
	if (len <= 8 || strncasecmp(s, "/public/", 8) != 0)
		return false;
	as_shared = xasprintf("/shared%.*s", (int)(len - 7), s + 7);
	ok = store_metadata_name_valid(as_shared, strlen(as_shared));
	free(as_shared);
	return ok;
}

int
imap_list_metadata_parse(const struct imap_arg *arg, struct imap_list_metadata **md_r,
                         const char **error_r)
{
	const struct imap_arg *list;
	struct imap_list_metadata *md;
	size_t count;

	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "METADATA takes a list of entry names";
		return -1;
	}
	if (count > LIST_METADATA_MAX) {
		*error_r = "Too many METADATA entries in LIST";
		return -1;
	}
	if (*md_r != NULL) {
		*error_r = "METADATA given twice";
		return -1;
	}
	md = xcalloc(1, sizeof(*md));
	md->names = xcalloc(count, sizeof(*md->names));
	md->kinds = xcalloc(count, sizeof(*md->kinds));
	md->since = xcalloc(count, sizeof(*md->since));
	for (size_t i = 0; i < count; i++) {
		const char *s;
		size_t len;
		char *name;

		if (!imap_arg_astring(&list[i], &s, &len) || list[i].type == IMAP_ARG_NIL ||
		    memchr(s, '\0', len) != NULL || !list_md_name_valid(s, len)) {
			imap_list_metadata_free(&md);
			*error_r = "Invalid METADATA entry name (/private/... or /shared/...)";
			return -1;
		}
		name = xstrndup(s, len);
		for (char *p = name; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		}
		md->names[md->count] = name;
		md->kinds[md->count] = imap_meta_computed(name, &md->since[md->count]);
		md->count++;
	}
	*md_r = md;
	return 0;
}

bool
imap_list_metadata_needs_load(const struct imap_list_metadata *md)
{
	for (size_t i = 0; md != NULL && i < md->count; i++) {
		if (md->kinds[i] == IMAP_META_STORED || md->kinds[i] == IMAP_META_CHANGEDSINCE)
			return true;
	}
	return false;
}

static void
list_md_add(struct imap_list_metadata *md, uint64_t owner_id, uint64_t folder_id, size_t entry,
            const void *value, size_t len)
{
	struct list_md_value *v;

	if (md->nvalues == md->cap) {
		md->cap = md->cap == 0 ? 16 : md->cap * 2;
		md->values = xreallocarray(md->values, md->cap, sizeof(*md->values));
	}
	v = &md->values[md->nvalues++];
	v->owner_id = owner_id;
	v->folder_id = folder_id;
	v->entry = entry;
	v->value = xmalloc(len + 1);
	v->len = len;
	memcpy(v->value, value, len);
	v->value[len] = '\0';
	v->restricted = false;
}

static void list_md_next(struct imap_list_metadata *md);

/* The private items among the shared folders' changes are known: each
 * such folder gets a second value without them. */
static void
list_md_private(const struct store_gw_private_uid *rows, size_t count, enum store_err code,
                const char *error, void *ctx)
{
	struct imap_list_metadata *md = ctx;
	size_t entry = md->next, r = 0;

	(void)code;
	md->op = NULL;
	if (rows == NULL) {
		md->done(error != NULL ? error : "cannot read the private items", md->ctx);
		return;
	}
	for (size_t i = 0; i < md->npending; i++) {
		struct list_md_pending *p = &md->pending[i];
		struct store_msg *msgs = xcalloc(p->nuids + 1, sizeof(*msgs));
		struct store_msg_list list = {
		    .msgs = msgs, .vanished = p->vanished, .nvanished = p->nvanished};
		char *value;

		/* Both sorted by (owner, folder) then uid. */
		while (r < count &&
		       (rows[r].owner_id < p->owner_id ||
		        (rows[r].owner_id == p->owner_id && rows[r].folder_id < p->folder_id)))
			r++;
		for (size_t k = 0; k < p->nuids; k++) {
			while (r < count && rows[r].owner_id == p->owner_id &&
			       rows[r].folder_id == p->folder_id && rows[r].uid < p->uids[k])
				r++;
			if (r < count && rows[r].owner_id == p->owner_id &&
			    rows[r].folder_id == p->folder_id && rows[r].uid == p->uids[k])
				continue;
			msgs[list.count++].uid = p->uids[k];
		}
		value = imap_meta_changedsince(&list);
		list_md_add(md, p->owner_id, p->folder_id, entry, value, strlen(value));
		md->values[md->nvalues - 1].restricted = true;
		free(value);
		free(msgs);
	}
	list_md_pending_clear(md);
	md->next = entry + 1;
	list_md_next(md);
}

static int
list_md_pending_cmp(const void *a, const void *b)
{
	const struct list_md_pending *x = a, *y = b;

	if (x->owner_id != y->owner_id)
		return x->owner_id < y->owner_id ? -1 : 1;
	return x->folder_id < y->folder_id ? -1 : x->folder_id > y->folder_id;
}

static void
list_md_changes(const struct store_folder_changes *folders, size_t count, enum store_err code,
                const char *error, void *ctx)
{
	struct imap_list_metadata *md = ctx;
	size_t entry = md->next;
	uint64_t(*pairs)[2];

	(void)code;
	md->op = NULL;
	if (folders == NULL) {
		md->done(error != NULL ? error : "cannot read the changes", md->ctx);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const struct store_msg_list *l = &folders[i].list;
		char *value = imap_meta_changedsince(l);
		struct list_md_pending *p;

		list_md_add(md, folders[i].owner_id, folders[i].folder_id, entry, value,
		            strlen(value));
		free(value);
		/* Another account's folder with changes: some may be private
		 * items a grantee without Administer must not learn of. */
		if (folders[i].owner_id == imap_client_account_id(md->client) || l->count == 0 ||
		    md->npending == STORE_GW_COUNTS_MAX)
			continue;
		md->pending = xreallocarray(md->pending, md->npending + 1, sizeof(*md->pending));
		p = &md->pending[md->npending++];
		p->owner_id = folders[i].owner_id;
		p->folder_id = folders[i].folder_id;
		p->nuids = l->count;
		p->uids = xcalloc(l->count, sizeof(*p->uids));
		for (size_t k = 0; k < l->count; k++)
			p->uids[k] = l->msgs[k].uid;
		p->nvanished = l->nvanished;
		p->vanished = xcalloc(l->nvanished + 1, sizeof(*p->vanished));
		if (l->nvanished > 0)
			memcpy(p->vanished, l->vanished, l->nvanished * sizeof(*p->vanished));
	}
	if (md->npending == 0) {
		md->next = entry + 1;
		list_md_next(md);
		return;
	}
	qsort(md->pending, md->npending, sizeof(*md->pending), list_md_pending_cmp);
	pairs = xcalloc(md->npending, sizeof(*pairs));
	for (size_t i = 0; i < md->npending; i++) {
		pairs[i][0] = md->pending[i].owner_id;
		pairs[i][1] = md->pending[i].folder_id;
	}
	md->op =
	    store_groupware_private_many(imap_client_store(md->client), (const uint64_t(*)[2])pairs,
	                                 md->npending, md->since[entry], list_md_private, md);
	free(pairs);
}

/* Loads the next changedsince entry, or reports that all are there. */
static void
list_md_next(struct imap_list_metadata *md)
{
	for (; md->next < md->count; md->next++) {
		if (md->kinds[md->next] == IMAP_META_CHANGEDSINCE) {
			md->op = store_changes_folders(
			    imap_client_store(md->client), imap_client_account_id(md->client),
			    md->since[md->next], md->shared, list_md_changes, md);
			return;
		}
	}
	md->done(NULL, md->ctx);
}

static void
list_md_loaded(const struct store_metadata_folder_list *list, enum store_err code,
               const char *error, void *ctx)
{
	struct imap_list_metadata *md = ctx;

	(void)code;
	md->op = NULL;
	if (list == NULL) {
		md->done(error != NULL ? error : "cannot read metadata", md->ctx);
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct store_metadata_folder_entry *e = &list->entries[i];

		for (size_t k = 0; k < md->count; k++) {
			if (md->kinds[k] != IMAP_META_STORED || strcmp(md->names[k], e->name) != 0)
				continue;
			list_md_add(md, e->owner_id, e->folder_id, k, e->value, e->len);
			break;
		}
	}
	md->next = 0;
	list_md_next(md);
}

struct store_op *
imap_list_metadata_load(struct imap_list_metadata *md, struct imap_client *client, bool shared,
                        imap_list_metadata_done_fn *done, void *ctx)
{
	const char **names = xcalloc(md->count + 1, sizeof(*names));
	size_t n = 0;

	for (size_t i = 0; i < md->count; i++) {
		if (md->kinds[i] == IMAP_META_STORED)
			names[n++] = md->names[i];
	}
	md->done = done;
	md->ctx = ctx;
	md->client = client;
	md->shared = shared;
	md->next = 0;
	if (n == 0) {
		free(names);
		/* Only changedsince: its first query. */
		list_md_next(md);
		return md->op;
	}
	md->op = store_metadata_folders(imap_client_store(client), imap_client_account_id(client),
	                                names, n, shared, list_md_loaded, md);
	free(names);
	return md->op;
}

static void
list_md_value(struct imap_client *c, const unsigned char *value, size_t len)
{
	if (value == NULL) {
		imap_client_printf(c, "NIL");
		return;
	}
	if (memchr(value, '\0', len) != NULL) {
		imap_write_literal_header(c, len, true);
		imap_client_write(c, value, len);
		return;
	}
	imap_write_quoted(c, (const char *)value, len);
}

void
imap_list_metadata_write(struct imap_client *client, const struct imap_list_metadata *md,
                         uint64_t owner_id, const struct store_folder *f, const char *name,
                         bool own, unsigned rights)
{
	bool restricted;

	if (md == NULL || f == NULL || f->noselect ||
	    (!own && (rights & ACL_METADATA_READ) != ACL_METADATA_READ))
		return;
	restricted =
	    !own && imap_view_restricts(imap_client_account_id(client), owner_id, f->type, rights);
	imap_client_printf(client, "* METADATA ");
	imap_write_mailbox(client, name);
	imap_client_printf(client, " (");
	for (size_t i = 0; i < md->count; i++) {
		const unsigned char *value = NULL;
		size_t len = 0;
		char *computed = NULL;

		if (md->kinds[i] == IMAP_META_STORED || md->kinds[i] == IMAP_META_CHANGEDSINCE) {
			for (size_t k = 0; k < md->nvalues; k++) {
				const struct list_md_value *v = &md->values[k];

				if (v->entry != i || v->owner_id != owner_id ||
				    v->folder_id != f->id)
					continue;
				/* A restricted value comes after the full one. */
				value = v->value;
				len = v->len;
				if (!restricted)
					break;
			}
		} else {
			computed = imap_meta_value(client, md->kinds[i], f, name, own);
			value = (const unsigned char *)computed;
			len = computed != NULL ? strlen(computed) : 0;
		}
		if (i > 0)
			imap_client_printf(client, " ");
		imap_write_astring(client, md->names[i], strlen(md->names[i]));
		imap_client_printf(client, " ");
		list_md_value(client, value, len);
		free(computed);
	}
	imap_client_printf(client, ")\r\n");
}

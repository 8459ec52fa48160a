/* floectl's folder and sharing commands: folder list/create/remove,
 * share grant/revoke/list/inherit/subscribe/unsubscribe/subscriptions and
 * public-folder create, as tables or JSON. Rights are given as the clients
 * name them (read, write, modify, delete, administer, all, full;
 * modules/acl.h) or as RFC 4314 letters. The SQL is in db/admin-share.c. */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "admin-share.h"
#include "admin.h"
#include "floectl.h"
#include "xmalloc.h"

const struct floectl_option floectl_folder_list_options[] = {
    {.name = "--type", .arg = "TYPE", .help = "only folders of this type"},
    {0},
};

const struct floectl_option floectl_folder_create_options[] = {
    {.name = "--type",
     .arg = "TYPE",
     .help = "mail (default), event, contact, task, note, journal or file"},
    {0},
};

const struct floectl_option floectl_public_folder_create_options[] = {
    {.name = "--type",
     .arg = "TYPE",
     .help = "mail (default), event, contact, task, note, journal or file"},
    {.name = "--rights",
     .arg = "RIGHTS",
     .help = "the members' rights (default all: everything but administer)"},
    {0},
};

/* --- Arguments --- */

/* "owner@domain[/path]": the owner normalised and the path (NULL when
 * none), both allocated. need_path: the path is required. */
static int
parse_target(const struct floectl_command *cmd, const char *text, bool need_path, char **owner_r,
             char **path_r)
{
	const char *slash = strchr(text, '/'), *error;
	char *owner = slash != NULL ? xstrndup(text, (size_t)(slash - text)) : xstrdup(text);
	int ret;

	*owner_r = *path_r = NULL;
	ret = admin_address_normalize(owner, owner_r, NULL, NULL, &error);
	free(owner);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (slash != NULL && slash[1] == '\0') {
		xfree_ptr(owner_r);
		return floectl_usage_fail(cmd, "empty folder path after %s", text);
	}
	if (slash == NULL && need_path) {
		xfree_ptr(owner_r);
		return floectl_usage_fail(cmd, "missing folder: give OWNER/PATH, e.g. %s/Calendar",
		                          text);
	}
	*path_r = slash != NULL ? xstrdup(slash + 1) : NULL;
	return 0;
}

/* A grantee: "anyone" (any case) or an address, normalised. */
static char *
parse_grantee(const char *text)
{
	const char *error;
	char *address;

	if (strcasecmp(text, "anyone") == 0)
		return xstrdup("anyone");
	if (admin_address_normalize(text, &address, NULL, NULL, &error) < 0) {
		floectl_fail("grantee: %s (give an address or anyone)", error);
		return NULL;
	}
	return address;
}

/* Rights as a comma-separated list of client names (read, write, modify,
 * delete, administer, all, full) or as RFC 4314 letters (c and d expanded
 * as modules/acl.h says). Names are tried first: "read" is a name, not
 * the letters r, e, a, d. Writes the letters in canonical order. */
static int
parse_rights(const struct floectl_command *cmd, const char *text, char letters[ACL_RIGHTS_BUFSIZE])
{
	unsigned rights = 0, one;
	const char *error;
	bool names = true;
	char *copy = xstrdup(text), *save = NULL;

	for (char *word = strtok_r(copy, ",", &save); word != NULL;
	     word = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*word))
			word++;
		for (char *end = word + strlen(word);
		     end > word && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		if (acl_client_name_rights(word, &one) < 0) {
			names = false;
			break;
		}
		rights |= one;
	}
	free(copy);
	if (!names && (strchr(text, ',') != NULL ||
	               acl_rights_parse(text, strlen(text), &rights, &error) < 0))
		return floectl_usage_fail(cmd,
		                          "RIGHTS '%s' is neither a list of read, write, modify, "
		                          "delete, administer, all, full nor RFC 4314 letters "
		                          "(lrswipkxteacd)",
		                          text);
	if (rights == 0)
		return floectl_usage_fail(cmd, "no rights given (share revoke takes rights away)");
	acl_rights_format(rights, false, letters);
	return 0;
}

/* The client names of letters, lower-cased, into names_r (at most 8). */
static size_t
rights_names(const char *letters, char names_r[8][16])
{
	const char *names[8];
	unsigned rights = 0, one;
	const char *error;
	size_t n, k;

	for (const char *c = letters; *c != '\0'; c++) {
		if (acl_rights_parse(c, 1, &one, &error) == 0)
			rights |= one;
	}
	n = acl_rights_client_names(rights, names, 8);
	for (size_t i = 0; i < n; i++) {
		for (k = 0; names[i][k] != '\0' && k + 1 < 16; k++)
			names_r[i][k] = (char)tolower((unsigned char)names[i][k]);
		names_r[i][k] = '\0';
	}
	return n;
}

/* "lrs (read)", "lrswipkxte (all)", "lw (-)". */
static const char *
rights_text(const char *letters, char *buf, size_t size)
{
	char names[8][16];
	size_t n = rights_names(letters, names), len;

	len = (size_t)snprintf(buf, size, "%s (", letters);
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i > 0 ? ", " : "", names[i]);
	if (len < size)
		snprintf(buf + len, size - len, "%s)", n == 0 ? "-" : "");
	return buf;
}

static json_t *
rights_json_names(const char *letters)
{
	char names[8][16];
	size_t n = rights_names(letters, names);
	json_t *array = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(array, json_string(names[i]));
	return array;
}

static const char *
type_option(const struct floectl_command *cmd, const struct floectl_args *args)
{
	const char *type = floectl_option(cmd, args, "--type");

	if (type == NULL)
		return "mail";
	if (!admin_folder_type_valid(type)) {
		floectl_usage_fail(cmd,
		                   "--type: expected mail, event, contact, task, note, journal or "
		                   "file, not '%s'",
		                   type);
		return NULL;
	}
	return type;
}

/* --- Folders --- */

/* "own", "from Calendar", "from account", "-" (inherits, nothing granted). */
static const char *
folder_acl_text(const struct admin_folder *f, char *buf, size_t size)
{
	if (f->acl_own)
		snprintf(buf, size, "own (%lu)", f->acl_entries);
	else if (f->acl_entries == 0)
		snprintf(buf, size, "inherits (none)");
	else if (f->acl_source[0] == '\0')
		snprintf(buf, size, "from account (%lu)", f->acl_entries);
	else
		snprintf(buf, size, "from %s (%lu)", f->acl_source, f->acl_entries);
	return buf;
}

static json_t *
folder_json(const struct admin_folder *f)
{
	json_t *acl = json_pack("{s:b, s:b, s:I}", "inherit", f->acl_inherit, "own", f->acl_own,
	                        "entries", (json_int_t)f->acl_entries);

	if (f->acl_own)
		json_object_set_new(acl, "source", json_string(f->path));
	else if (f->acl_source[0] == '\0')
		json_object_set_new(acl, "source", json_null());
	else
		json_object_set_new(acl, "source", json_string(f->acl_source));
	return json_pack("{s:I, s:s, s:s, s:o, s:b, s:b, s:I, s:I, s:o}", "id", (json_int_t)f->id,
	                 "path", f->path, "type", f->type, "special_use",
	                 f->special_use != NULL ? json_string(f->special_use) : json_null(),
	                 "default", f->is_default, "noselect", f->noselect, "messages",
	                 (json_int_t)f->messages, "size", (json_int_t)f->size, "acl", acl);
}

int
floectl_cmd_folder_list(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	static const char *const headers[] = {"PATH", "TYPE", "DEFAULT", "MESSAGES", "SIZE", "ACL"};
	const char *type = floectl_option(cmd, args, "--type"), *error;
	struct admin_folder_list list;
	struct floectl_table table;
	char *address;
	PGconn *conn;
	int ret;

	if (type != NULL && type_option(cmd, args) == NULL)
		return -1;
	if ((conn = floectl_db_account(ctl, args->pos[0], &address)) == NULL)
		return -1;
	ret = admin_folder_list(conn, address, type, &list, &error);
	free(address);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, folder_json(&list.items[i]));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 6, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_folder *f = &list.items[i];
			char messages[24], size[32], acl[1400];

			snprintf(messages, sizeof(messages), "%" PRId64, f->messages);
			const char *row[] = {f->path,
			                     f->noselect ? "(container)" : f->type,
			                     f->is_default ? "yes" : "-",
			                     messages,
			                     f->size > 0 ? floectl_format_size(f->size, size) : "0",
			                     folder_acl_text(f, acl, sizeof(acl))};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_folder_list_free(&list);
	return 0;
}

int
floectl_cmd_folder_create(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *type = type_option(cmd, args), *path = args->pos[1], *error;
	struct admin_folder folder;
	char *address;
	PGconn *conn;
	int ret = -1;

	if (type == NULL)
		return -1;
	if (admin_folder_path_check(path, true, &error) < 0)
		return floectl_usage_fail(cmd, "%s", error);
	if (admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_folder_create(conn, address, path, type, &error) < 0 ||
	    admin_folder_get(conn, address, path, &folder, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(folder_json(&folder));
	else
		printf("folder %s (%s) created in %s\n", folder.path, folder.type, address);
	admin_folder_clear(&folder);
	ret = 0;
out:
	free(address);
	return ret;
}

int
floectl_cmd_folder_remove(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *path = args->pos[1], *error;
	char *address;
	PGconn *conn;
	bool kept;
	int ret = -1;

	if (admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_folder_remove(conn, address, path, &kept, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:s, s:s, s:b}", "ok", 1, "command",
		                             cmd->name, "target", address, "path", path,
		                             "kept_for_subfolders", kept));
	else if (kept)
		printf("folder %s removed from %s; its name stays for its subfolders\n", path,
		       address);
	else
		printf("folder %s removed from %s\n", path, address);
	ret = 0;
out:
	free(address);
	return ret;
}

int
floectl_cmd_public_folder_create(struct floectl *ctl, const struct floectl_command *cmd,
                                 const struct floectl_args *args)
{
	const char *type = type_option(cmd, args), *path = args->pos[1], *error;
	const char *rights_text_given = floectl_option(cmd, args, "--rights");
	char letters[ACL_RIGHTS_BUFSIZE], shown[128];
	struct admin_folder folder;
	char *group;
	PGconn *conn;
	int ret = -1;

	if (type == NULL)
		return -1;
	if (parse_rights(cmd, rights_text_given != NULL ? rights_text_given : "all", letters) < 0)
		return -1;
	if (admin_folder_path_check(path, true, &error) < 0)
		return floectl_usage_fail(cmd, "%s", error);
	if (admin_address_normalize(args->pos[0], &group, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_public_folder_create(conn, group, path, type, letters, &error) < 0 ||
	    admin_folder_get(conn, group, path, &folder, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl)) {
		json_t *obj = folder_json(&folder);

		json_object_set_new(obj, "group", json_string(group));
		json_object_set_new(obj, "rights", json_string(letters));
		json_object_set_new(obj, "rights_names", rights_json_names(letters));
		floectl_json_print(obj);
	} else {
		printf("public folder %s (%s) created in %s; members have %s\n", folder.path,
		       folder.type, group, rights_text(letters, shown, sizeof(shown)));
	}
	admin_folder_clear(&folder);
	ret = 0;
out:
	free(group);
	return ret;
}

/* --- Sharing --- */

static const char *
where_text(const char *owner, const char *path, char *buf, size_t size)
{
	if (path == NULL)
		snprintf(buf, size, "the whole account %s", owner);
	else
		snprintf(buf, size, "%s/%s", owner, path);
	return buf;
}

/* grant (modify false) or revoke. */
static int
share_change(struct floectl *ctl, const struct floectl_command *cmd,
             const struct floectl_args *args, bool grant)
{
	enum admin_share_mode mode = grant ? ADMIN_SHARE_REPLACE : ADMIN_SHARE_DELETE;
	char letters[ACL_RIGHTS_BUFSIZE] = "", shown[128], where[1400];
	char *owner = NULL, *path = NULL, *grantee = NULL, *now = NULL;
	const char *rights = args->npos > 2 ? args->pos[2] : NULL, *error;
	PGconn *conn;
	int ret = -1;

	if (rights != NULL) {
		if (grant && rights[0] == '+') {
			mode = ADMIN_SHARE_ADD;
			rights++;
		} else if (!grant) {
			mode = ADMIN_SHARE_REMOVE;
		}
		if (parse_rights(cmd, rights, letters) < 0)
			return -1;
	}
	if (parse_target(cmd, args->pos[0], false, &owner, &path) < 0)
		return -1;
	if ((grantee = parse_grantee(args->pos[1])) == NULL)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_share_set(conn, owner, path, grantee, mode, letters, &now, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	where_text(owner, path, where, sizeof(where));
	if (floectl_json(ctl)) {
		json_t *obj = json_pack("{s:b, s:s, s:s, s:o, s:s, s:s}", "ok", 1, "command",
		                        cmd->name, "owner", owner, "path",
		                        path != NULL ? json_string(path) : json_null(), "grantee",
		                        grantee, "rights", now);

		json_object_set_new(obj, "rights_names", rights_json_names(now));
		floectl_json_print(obj);
	} else if (now[0] == '\0') {
		printf("%s has no rights on %s any more\n", grantee, where);
	} else {
		printf("%s has %s on %s\n", grantee, rights_text(now, shown, sizeof(shown)), where);
	}
	ret = 0;
out:
	free(now);
	free(grantee);
	free(owner);
	free(path);
	return ret;
}

int
floectl_cmd_share_grant(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	return share_change(ctl, cmd, args, true);
}

int
floectl_cmd_share_revoke(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args)
{
	return share_change(ctl, cmd, args, false);
}

int
floectl_cmd_share_list(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	static const char *const headers[] = {"FOLDER", "GRANTEE", "KIND", "RIGHTS", "FROM"};
	struct admin_share_list list;
	struct floectl_table table;
	char *owner, *path;
	const char *error;
	PGconn *conn;
	int ret;

	if (parse_target(cmd, args->pos[0], false, &owner, &path) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL) {
		free(owner);
		free(path);
		return -1;
	}
	ret = admin_share_list(conn, owner, path, &list, &error);
	free(owner);
	free(path);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *entries = json_array();
		json_t *obj = json_pack("{s:s}", "owner", list.owner);

		for (size_t i = 0; i < list.count; i++) {
			const struct admin_share_entry *e = &list.items[i];
			json_t *entry =
			    json_pack("{s:o, s:s, s:s, s:s}", "folder",
			              e->folder != NULL ? json_string(e->folder) : json_null(),
			              "grantee", e->grantee, "kind", e->kind, "rights", e->rights);

			json_object_set_new(entry, "rights_names", rights_json_names(e->rights));
			json_array_append_new(entries, entry);
		}
		if (list.path != NULL) {
			json_object_set_new(obj, "path", json_string(list.path));
			json_object_set_new(obj, "inherited", json_boolean(list.inherited));
			json_object_set_new(obj, "source",
			                    list.source != NULL ? json_string(list.source)
			                                        : json_null());
			json_object_set_new(obj, "inherit", json_boolean(list.acl_inherit));
		} else {
			json_object_set_new(obj, "path", json_null());
		}
		json_object_set_new(obj, "entries", entries);
		floectl_json_print(obj);
		admin_share_list_free(&list);
		return 0;
	}
	if (list.path != NULL) {
		printf("%s/%s: %s", list.owner, list.path,
		       !list.inherited       ? "own entries"
		       : list.source == NULL ? "inherits the account's entries"
		                             : "inherits the entries of ");
		if (list.inherited && list.source != NULL)
			printf("%s", list.source);
		printf("%s\n", list.acl_inherit ? "" : " (inheritance off)");
	}
	if (list.count == 0) {
		printf("nothing shared\n");
		admin_share_list_free(&list);
		return 0;
	}
	floectl_table_init(&table, list.path != NULL ? 5 : 4, headers);
	for (size_t i = 0; i < list.count; i++) {
		const struct admin_share_entry *e = &list.items[i];
		char shown[128];
		const char *from = list.path == NULL   ? "-"
		                   : !list.inherited   ? "own"
		                   : e->folder == NULL ? "account"
		                                       : e->folder;
		const char *row[] = {list.path != NULL   ? list.path
		                     : e->folder != NULL ? e->folder
		                                         : "(account)",
		                     e->grantee, e->kind,
		                     rights_text(e->rights, shown, sizeof(shown)), from};

		floectl_table_row(&table, row);
	}
	floectl_table_print(&table);
	admin_share_list_free(&list);
	return 0;
}

int
floectl_cmd_share_inherit(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *mode = args->pos[1], *error;
	char *owner, *path;
	PGconn *conn;
	bool on;
	int ret = -1;

	if (strcmp(mode, "on") == 0)
		on = true;
	else if (strcmp(mode, "off") == 0)
		on = false;
	else
		return floectl_usage_fail(cmd, "expected on or off, not '%s'", mode);
	if (parse_target(cmd, args->pos[0], true, &owner, &path) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_share_inherit(conn, owner, path, on, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:s, s:s, s:b}", "ok", 1, "command",
		                             cmd->name, "owner", owner, "path", path, "inherit",
		                             on));
	else if (on)
		printf("%s/%s inherits its parent's entries again\n", owner, path);
	else
		printf("%s/%s keeps a copy of its entries and no longer inherits\n", owner, path);
	ret = 0;
out:
	free(owner);
	free(path);
	return ret;
}

/* --- Subscriptions --- */

/* share subscribe|unsubscribe GRANTEE OWNER [FOLDER] */
static int
share_subscribe(struct floectl *ctl, const struct floectl_command *cmd,
                const struct floectl_args *args, bool subscribe)
{
	const char *path = args->npos > 2 ? args->pos[2] : NULL, *error;
	char *grantee = NULL, *owner = NULL, where[1400];
	PGconn *conn;
	int ret = -1;

	if (path != NULL && admin_folder_path_check(path, false, &error) < 0)
		return floectl_usage_fail(cmd, "%s", error);
	if (admin_address_normalize(args->pos[0], &grantee, NULL, NULL, &error) < 0)
		return floectl_fail("grantee: %s", error);
	if (admin_address_normalize(args->pos[1], &owner, NULL, NULL, &error) < 0) {
		floectl_fail("owner: %s", error);
		goto out;
	}
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_share_subscribe(conn, grantee, owner, path, subscribe, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	where_text(owner, path, where, sizeof(where));
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:s, s:s, s:o}", "ok", 1, "command",
		                             cmd->name, "grantee", grantee, "owner", owner, "path",
		                             path != NULL ? json_string(path) : json_null()));
	else if (subscribe)
		printf("%s subscribed to %s\n", grantee, where);
	else
		printf("%s no longer subscribed to %s\n", grantee, where);
	ret = 0;
out:
	free(grantee);
	free(owner);
	return ret;
}

int
floectl_cmd_share_subscribe(struct floectl *ctl, const struct floectl_command *cmd,
                            const struct floectl_args *args)
{
	return share_subscribe(ctl, cmd, args, true);
}

int
floectl_cmd_share_unsubscribe(struct floectl *ctl, const struct floectl_command *cmd,
                              const struct floectl_args *args)
{
	return share_subscribe(ctl, cmd, args, false);
}

int
floectl_cmd_share_subscriptions(struct floectl *ctl, const struct floectl_command *cmd,
                                const struct floectl_args *args)
{
	static const char *const headers[] = {"OWNER", "FOLDER", "STATE", "RIGHTS"};
	struct admin_share_subscription_list list;
	struct floectl_table table;
	char *grantee = NULL, *owner = NULL;
	const char *error;
	PGconn *conn;
	int ret = -1;

	if (admin_address_normalize(args->pos[0], &grantee, NULL, NULL, &error) < 0)
		return floectl_fail("grantee: %s", error);
	if (args->npos > 1 &&
	    admin_address_normalize(args->pos[1], &owner, NULL, NULL, &error) < 0) {
		floectl_fail("owner: %s", error);
		goto out;
	}
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_share_subscriptions(conn, grantee, owner, &list, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl)) {
		json_t *items = json_array();

		for (size_t i = 0; i < list.count; i++) {
			const struct admin_share_subscription *s = &list.items[i];
			json_t *item =
			    json_pack("{s:s, s:o, s:b, s:s}", "owner", s->owner, "folder",
			              s->folder != NULL ? json_string(s->folder) : json_null(),
			              "subscribed", s->subscribed, "rights", s->rights);

			json_object_set_new(item, "rights_names", rights_json_names(s->rights));
			json_array_append_new(items, item);
		}
		floectl_json_print(
		    json_pack("{s:s, s:o}", "grantee", list.grantee, "subscriptions", items));
	} else if (list.count == 0) {
		printf("%s has no subscriptions to shared folders\n", list.grantee);
	} else {
		floectl_table_init(&table, 4, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_share_subscription *s = &list.items[i];
			char shown[128];
			const char *row[] = {
			    s->owner, s->folder != NULL ? s->folder : "(whole account)",
			    s->subscribed ? "subscribed" : "hidden",
			    s->rights[0] != '\0' ? rights_text(s->rights, shown, sizeof(shown))
			                         : "none"};

			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_share_subscription_list_free(&list);
	ret = 0;
out:
	free(grantee);
	free(owner);
	return ret;
}

/* floectl's GroupWare Trash commands: trash list, trash restore and trash
 * purge, as tables or JSON. The SQL is in db/admin-trash.c; the server
 * purges by itself after [groupware] trash_days (db/store-gwtrash.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-trash.h"
#include "admin.h"
#include "config.h"
#include "floectl.h"
#include "xmalloc.h"

const struct floectl_option floectl_trash_restore_options[] = {
    {.name = "--uid", .arg = "OBJECT-UID", .help = "the item with this object UID"},
    {.name = "--all", .help = "every item (of FOLDER when given)"},
    {0},
};

const struct floectl_option floectl_trash_purge_options[] = {
    {.name = "--older-than",
     .arg = "DAYS",
     .help = "only items deleted at least DAYS days ago (default: [groupware] trash_days; 0: all)"},
    {0},
};

static json_t *
text_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* --- trash list --- */

static json_t *
entry_json(const struct admin_trash_entry *e)
{
	return json_pack("{s:I, s:s, s:s, s:b, s:s, s:o, s:o, s:I, s:s}", "id", (json_int_t)e->id,
	                 "folder", e->folder_path, "type", e->folder_type, "folder_removed",
	                 e->folder_gone, "uid", e->object_uid, "kind", text_or_null(e->kind),
	                 "title", text_or_null(e->title), "size", (json_int_t)e->size, "deleted_at",
	                 e->deleted_at);
}

int
floectl_cmd_trash_list(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	static const char *const headers[] = {"DELETED", "FOLDER", "TYPE", "UID", "TITLE", "SIZE"};
	const char *folder = args->npos > 1 ? args->pos[1] : NULL, *error;
	struct admin_trash_list list;
	struct floectl_table table;
	char *address;
	PGconn *conn;
	int ret;

	(void)cmd;
	if ((conn = floectl_db_account(ctl, args->pos[0], &address)) == NULL)
		return -1;
	ret = admin_trash_list(conn, address, folder, &list, &error);
	free(address);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, entry_json(&list.items[i]));
		floectl_json_print(json_pack("{s:s, s:I, s:o}", "owner", list.owner, "total_size",
		                             (json_int_t)list.total_size, "items", array));
	} else if (list.count == 0) {
		printf("the trash of %s%s%s is empty\n", list.owner, folder != NULL ? " for " : "",
		       folder != NULL ? folder : "");
	} else {
		floectl_table_init(&table, 6, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_trash_entry *e = &list.items[i];
			char size[24], path[1100];

			snprintf(size, sizeof(size), "%" PRId64, e->size);
			snprintf(path, sizeof(path), "%s%s", e->folder_path,
			         e->folder_gone ? " (removed)" : "");
			const char *row[] = {e->deleted_at,
			                     path,
			                     e->kind != NULL ? e->kind : e->folder_type,
			                     e->object_uid,
			                     e->title != NULL ? e->title : "-",
			                     size};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
		printf("%zu item(s), %" PRId64 " bytes in the trash of %s (counted in its quota)\n",
		       list.count, list.total_size, list.owner);
	}
	admin_trash_list_free(&list);
	return 0;
}

/* --- trash restore --- */

static json_t *
restored_json(const struct admin_trash_restored *x)
{
	json_t *obj =
	    json_pack("{s:I, s:o, s:o, s:b, s:o, s:b}", "id", (json_int_t)x->id, "uid",
	              text_or_null(x->object_uid), "from", text_or_null(x->from_path), "restored",
	              x->restored, "folder", text_or_null(x->folder_path), "moved", x->moved);

	if (x->restored)
		json_object_set_new(obj, "imap_uid", json_integer(x->uid));
	else
		json_object_set_new(obj, "error", text_or_null(x->error));
	return obj;
}

int
floectl_cmd_trash_restore(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *folder = args->npos > 1 ? args->pos[1] : NULL, *error;
	const char *uid = floectl_option(cmd, args, "--uid");
	bool all = floectl_option(cmd, args, "--all") != NULL;
	struct admin_trash_restore_result result;
	char *address;
	PGconn *conn;
	int ret;

	if (uid != NULL && all)
		return floectl_usage_fail(cmd, "give either --uid or --all, not both");
	if (uid == NULL && !all)
		return floectl_usage_fail(cmd, "give --uid OBJECT-UID or --all");
	if ((conn = floectl_db_account(ctl, args->pos[0], &address)) == NULL)
		return -1;
	ret = admin_trash_restore(conn, address, folder, uid, &result, &error);
	free(address);
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < result.count; i++)
			json_array_append_new(array, restored_json(&result.items[i]));
		floectl_json_print(json_pack("{s:s, s:I, s:o}", "owner", result.owner, "restored",
		                             (json_int_t)result.restored, "items", array));
	} else {
		for (size_t i = 0; i < result.count; i++) {
			const struct admin_trash_restored *x = &result.items[i];

			if (x->restored && x->moved)
				printf("restored %s to %s (UID %" PRId64 "): its folder %s was "
				       "removed, so it went to the default folder of its type\n",
				       x->object_uid, x->folder_path, x->uid,
				       x->from_path != NULL ? x->from_path : "?");
			else if (x->restored)
				printf("restored %s to %s (UID %" PRId64 ")\n", x->object_uid,
				       x->folder_path, x->uid);
			else
				floectl_fail("not restored %s: %s",
				             x->object_uid != NULL ? x->object_uid : "?",
				             x->error != NULL ? x->error : "unknown reason");
		}
	}
	/* Any refusal makes the command fail, after the others were done. */
	ret = result.restored == result.count ? 0 : -1;
	if (ret < 0 && floectl_json(ctl))
		floectl_fail("%zu of %zu item(s) not restored", result.count - result.restored,
		             result.count);
	admin_trash_restore_result_free(&result);
	return ret;
}

/* --- trash purge --- */

int
floectl_cmd_trash_purge(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	const char *days_text = floectl_option(cmd, args, "--older-than"), *error;
	unsigned long purged, collected;
	int64_t days = -1;
	char *address, *end;
	PGconn *conn;
	int ret;

	if (days_text != NULL) {
		errno = 0;
		days = strtoll(days_text, &end, 10);
		if (days_text[0] < '0' || days_text[0] > '9' || *end != '\0' || errno != 0 ||
		    days > 1000000)
			return floectl_usage_fail(
			    cmd, "--older-than: expected a number of days, not '%s'", days_text);
	}
	if ((conn = floectl_db_account(ctl, args->pos[0], &address)) == NULL)
		return -1;
	if (days < 0) {
		/* What the workers purge by themselves: [groupware] trash_days. */
		days = floectl_config(ctl)->groupware.trash_days;
		if (days == 0) {
			free(address);
			return floectl_fail("nothing expires with [groupware] trash_days = 0; give "
			                    "--older-than DAYS");
		}
	}
	ret = admin_trash_purge(conn, address, days, &purged, &collected, &error);
	if (ret < 0) {
		free(address);
		return floectl_fail("%s", error);
	}
	if (floectl_json(ctl))
		floectl_json_print(json_pack(
		    "{s:s, s:I, s:I, s:I}", "owner", address, "older_than_days", (json_int_t)days,
		    "purged", (json_int_t)purged, "collected", (json_int_t)collected));
	else
		printf("purged %lu item(s) deleted at least %" PRId64 " day(s) ago from the trash "
		       "of %s\n",
		       purged, days, address);
	free(address);
	return 0;
}

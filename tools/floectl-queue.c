/* floectl's outgoing-queue commands (queue list, show, retry, remove) and
 * the per-account SMTP submission setting (smtp save-sent). The SQL is in
 * db/admin-queue.c; this file checks arguments and prints tables or JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-queue.h"
#include "admin.h"
#include "floectl.h"
#include "xmalloc.h"

const struct floectl_option floectl_queue_retry_options[] = {
    {.name = "--all", .help = "retry every waiting message"},
    {0},
};

static int
queue_id_arg(const struct floectl_command *cmd, const char *text, int64_t *id_r)
{
	char *end;
	long long v;

	if (text == NULL || *text < '1' || *text > '9')
		return floectl_usage_fail(cmd, "not a message id: %s", text != NULL ? text : "");
	v = strtoll(text, &end, 10);
	if (*end != '\0' || v <= 0)
		return floectl_usage_fail(cmd, "not a message id: %s", text);
	*id_r = v;
	return 0;
}

static json_t *
queue_json(const struct admin_queue_message *m)
{
	json_t *rcpts = json_array();
	json_t *obj = json_pack("{s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)m->id, "account",
	                        m->account, "mail_from", m->mail_from, "size", (json_int_t)m->size,
	                        "created", m->created);

	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct admin_queue_rcpt *r = &m->rcpts[i];

		json_array_append_new(rcpts,
		                      json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "recipient",
		                                r->recipient, "state", r->state, "attempts",
		                                r->attempts, "next_try", r->next_try, "last_error",
		                                r->last_error, "leased_by", r->leased_by));
	}
	json_object_set_new(obj, "recipients", rcpts);
	if (m->headers != NULL)
		json_object_set_new(obj, "headers", json_string(m->headers));
	return obj;
}

int
floectl_cmd_queue_list(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	static const char *const headers[] = {"ID",       "FROM",     "RECIPIENT", "STATE",
	                                      "ATTEMPTS", "NEXT TRY", "LAST ERROR"};
	struct admin_queue_list list;
	struct floectl_table table;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_queue_list(conn, &list, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, queue_json(&list.items[i]));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 7, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_queue_message *m = &list.items[i];
			char id[24];

			snprintf(id, sizeof(id), "%" PRId64, m->id);
			for (size_t j = 0; j < m->nrcpts; j++) {
				const struct admin_queue_rcpt *r = &m->rcpts[j];
				char attempts[16], err[72];
				const char *row[7];

				snprintf(attempts, sizeof(attempts), "%d", r->attempts);
				snprintf(err, sizeof(err), "%.60s%s", r->last_error,
				         strlen(r->last_error) > 60 ? "..." : "");
				row[0] = id;
				row[1] = m->mail_from[0] != '\0' ? m->mail_from : "<>";
				row[2] = r->recipient;
				row[3] = r->state;
				row[4] = attempts;
				row[5] = strcmp(r->state, "queued") == 0 ||
				                 strcmp(r->state, "deferred") == 0
				             ? r->next_try
				             : "-";
				row[6] = err[0] != '\0' ? err : "-";
				floectl_table_row(&table, row);
			}
		}
		if (list.count == 0)
			printf("the queue is empty\n");
		else
			floectl_table_print(&table);
	}
	admin_queue_list_free(&list);
	return 0;
}

int
floectl_cmd_queue_show(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	struct admin_queue_message m;
	const char *error;
	PGconn *conn;
	int64_t id;

	if (queue_id_arg(cmd, args->pos[0], &id) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_queue_show(conn, id, &m, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		floectl_json_print(queue_json(&m));
	} else {
		char size[32];

		printf("%-11s%" PRId64 "\n", "id:", m.id);
		printf("%-11s<%s>\n", "from:", m.mail_from);
		printf("%-11s%s\n", "account:", m.account[0] != '\0' ? m.account : "-");
		printf("%-11s%s\n", "size:", floectl_format_size(m.size, size));
		printf("%-11s%s\n", "queued:", m.created);
		for (size_t i = 0; i < m.nrcpts; i++) {
			const struct admin_queue_rcpt *r = &m.rcpts[i];

			printf("%-11s%s: %s, %d attempt(s)", i == 0 ? "recipients:" : "",
			       r->recipient, r->state, r->attempts);
			if (strcmp(r->state, "queued") == 0 || strcmp(r->state, "deferred") == 0)
				printf(", next try %s", r->next_try);
			if (r->leased_by[0] != '\0')
				printf(", being delivered by %s", r->leased_by);
			printf("\n");
			if (r->last_error[0] != '\0')
				printf("%-11s  last error: %s\n", "", r->last_error);
		}
		printf("\n%s", m.headers);
	}
	admin_queue_message_clear(&m);
	return 0;
}

int
floectl_cmd_queue_retry(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	bool all = floectl_option(cmd, args, "--all") != NULL;
	unsigned long count;
	const char *error;
	PGconn *conn;
	int64_t id = 0;

	if (all == (args->npos > 0))
		return floectl_usage_fail(cmd, "give a message id or --all");
	if (!all && queue_id_arg(cmd, args->pos[0], &id) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_queue_retry(conn, id, &count, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:I}", "ok", 1, "command", cmd->name,
		                             "recipients", (json_int_t)count));
	else
		printf("%lu recipient(s) will be retried now\n", count);
	return 0;
}

int
floectl_cmd_queue_remove(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	int64_t id;

	if (queue_id_arg(cmd, args->pos[0], &id) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_queue_remove(conn, id, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:I}", "ok", 1, "command", cmd->name, "id",
		                             (json_int_t)id));
	else
		printf("message %" PRId64 " removed from the queue\n", id);
	return 0;
}

int
floectl_cmd_smtp_save_sent(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args)
{
	const char *error;
	char *address;
	PGconn *conn;
	bool value;
	int ret = -1;

	if (admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if (args->npos > 1 && floectl_parse_bool(cmd, "yes|no", args->pos[1], &value) < 0)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (args->npos > 1 && admin_smtp_save_sent_set(conn, address, value, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (admin_smtp_save_sent_get(conn, address, &value, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(
		    json_pack("{s:s, s:b}", "address", address, "save_to_sent", value));
	else
		printf("%s: SMTP submissions %s saved to Sent\n", address,
		       value ? "are" : "are not");
	ret = 0;
out:
	free(address);
	return ret;
}

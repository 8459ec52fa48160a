/* floectl's delivery commands: forwarding (forward set|clear|show), the
 * auto-responder (responder set|show) and send-as delegation (sendas
 * add|remove|list). The SQL is in db/admin-delivery.c; this file checks
 * the command line and prints tables or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-delivery.h"
#include "floectl.h"
#include "xmalloc.h"

#define BODY_MAX (64 * 1024)

static char *
address_arg(const char *text)
{
	const char *error;
	char *normal;

	if (admin_address_normalize(text, &normal, NULL, NULL, &error) < 0) {
		floectl_fail("%s", error);
		return NULL;
	}
	return normal;
}

static json_t *
strings_json(const struct admin_strings *list)
{
	json_t *array = json_array();

	for (size_t i = 0; i < list->count; i++)
		json_array_append_new(array, json_string(list->items[i]));
	return array;
}

static json_t *
opt_json(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static void
print_list(const char *label, const struct admin_strings *list)
{
	printf("%-16s", label);
	if (list->count == 0)
		printf("-");
	for (size_t i = 0; i < list->count; i++)
		printf("%s%s", i > 0 ? ", " : "", list->items[i]);
	printf("\n");
}

/* --- forward --- */

const struct floectl_option floectl_forward_set_options[] = {
    {.name = "--keep-copy",
     .arg = "yes|no",
     .help = "also keep the message in the account's INBOX (default yes)"},
    {0},
};

static int
forward_print(struct floectl *ctl, PGconn *conn, const char *address)
{
	struct admin_forward fwd;
	const char *error;

	if (admin_forward_get(conn, address, &fwd, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		floectl_json_print(json_pack("{s:s, s:o, s:b, s:o}", "address", fwd.address,
		                             "targets", strings_json(&fwd.targets), "keep_copy",
		                             fwd.keep_copy, "updated", opt_json(fwd.updated)));
	} else {
		printf("%-16s%s\n", "address:", fwd.address);
		print_list("forward to:", &fwd.targets);
		printf("%-16s%s\n",
		       "keep a copy:", fwd.targets.count > 0 ? floectl_yes_no(fwd.keep_copy) : "-");
	}
	admin_forward_free(&fwd);
	return 0;
}

int
floectl_cmd_forward_set(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	const char *keep = floectl_option(cmd, args, "--keep-copy"), *error;
	char *address, **targets;
	bool keep_copy = true;
	PGconn *conn;
	int ret = -1;
	size_t n = 0;

	if (keep != NULL && floectl_parse_bool(cmd, "--keep-copy", keep, &keep_copy) < 0)
		return -1;
	if ((address = address_arg(args->pos[0])) == NULL)
		return -1;
	targets = xcalloc(args->npos, sizeof(char *));
	for (size_t i = 1; i < args->npos; i++) {
		if ((targets[n] = address_arg(args->pos[i])) == NULL)
			goto out;
		n++;
	}
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_forward_set(conn, address, (const char *const *)targets, n, keep_copy, &error) <
	    0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		ret = forward_print(ctl, conn, address);
	else {
		printf("%s now forwards to %zu address(es)%s\n", address, n,
		       keep_copy ? " and keeps a copy" : " without keeping a copy");
		ret = 0;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
	free(address);
	return ret;
}

int
floectl_cmd_forward_clear(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *error;
	char *address;
	PGconn *conn;
	int ret = -1;

	if ((address = address_arg(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) != NULL) {
		if (admin_forward_clear(conn, address, &error) < 0) {
			floectl_fail("%s", error);
		} else {
			if (floectl_json(ctl))
				floectl_json_print(json_pack("{s:b, s:s, s:s}", "ok", 1, "command",
				                             cmd->name, "target", address));
			else
				printf("%s no longer forwards\n", address);
			ret = 0;
		}
	}
	free(address);
	return ret;
}

int
floectl_cmd_forward_show(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args)
{
	char *address;
	PGconn *conn;
	int ret = -1;

	if ((address = address_arg(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) != NULL)
		ret = forward_print(ctl, conn, address);
	free(address);
	return ret;
}

/* --- responder --- */

const struct floectl_option floectl_responder_set_options[] = {
    {.name = "--mode",
     .arg = "off|always|once|interval",
     .help = "never, every message, once per sender, or again after --days"},
    {.name = "--days", .arg = "N", .help = "interval mode: answer a sender again after N days"},
    {.name = "--from", .arg = "DATE", .help = "answer only from DATE (YYYY-MM-DD; \"\": no start)"},
    {.name = "--until", .arg = "DATE", .help = "answer only until the end of DATE (\"\": no end)"},
    {.name = "--subject", .arg = "S", .help = "reply subject; %%Subject%% is the original's"},
    {.name = "--body-file", .arg = "F", .help = "reply text from file F (UTF-8)"},
    {.name = "--body", .arg = "T", .help = "reply text"},
    {.name = "--never",
     .arg = "LIST",
     .help = "comma-separated addresses or @domains never answered (\"\": none)"},
    {0},
};

static int
read_body_file(const char *path, char **body_r)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return floectl_fail("--body-file %s: %s", path, strerror(errno));
	buf = xmalloc(BODY_MAX + 2);
	n = fread(buf, 1, BODY_MAX + 1, f);
	fclose(f);
	if (n > BODY_MAX) {
		free(buf);
		return floectl_fail("--body-file %s: longer than %d bytes", path, BODY_MAX);
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		free(buf);
		return floectl_fail("--body-file %s: not a text file", path);
	}
	*body_r = buf;
	return 0;
}

/* Splits "a@b, @c" into normalised, lower-cased entries. */
static int
never_parse(const char *text, struct admin_strings *list)
{
	char *copy = xstrdup(text), *save = NULL;

	memset(list, 0, sizeof(*list));
	for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char *entry;
		const char *error;

		if (tok[0] == '@' || strchr(tok, '@') == NULL) {
			char *domain;

			if (admin_domain_normalize(tok[0] == '@' ? tok + 1 : tok, &domain, &error) <
			    0) {
				floectl_fail("--never: %s", error);
				goto fail;
			}
			entry = xasprintf("@%s", domain);
			free(domain);
		} else if (admin_address_normalize(tok, &entry, NULL, NULL, &error) < 0) {
			floectl_fail("--never: %s", error);
			goto fail;
		}
		list->items = xreallocarray(list->items, list->count + 1, sizeof(char *));
		list->items[list->count++] = entry;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	admin_strings_free(list);
	return -1;
}

static int
responder_print(struct floectl *ctl, PGconn *conn, const char *address)
{
	struct admin_responder r;
	const char *error;

	if (admin_responder_get(conn, address, &r, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		floectl_json_print(json_pack(
		    "{s:s, s:s, s:i, s:o, s:o, s:s, s:s, s:o, s:I}", "address", r.address, "mode",
		    r.mode, "days", (int)r.interval_days, "from", opt_json(r.starts), "until",
		    opt_json(r.ends), "subject", r.subject, "body", r.body, "never",
		    strings_json(&r.never), "answered", (json_int_t)r.answered));
	} else {
		printf("%-16s%s\n", "address:", r.address);
		printf("%-16s%s\n", "mode:", r.mode);
		if (strcmp(r.mode, "interval") == 0)
			printf("%-16s%u\n", "days:", r.interval_days);
		printf("%-16s%s\n", "from:", r.starts != NULL ? r.starts : "-");
		printf("%-16s%s\n", "until:", r.ends != NULL ? r.ends : "-");
		printf("%-16s%s\n", "subject:", r.subject[0] != '\0' ? r.subject : "-");
		print_list("never answer:", &r.never);
		printf("%-16s%lu\n", "answered:", r.answered);
		printf("body:\n%s%s", r.body,
		       r.body[0] != '\0' && r.body[strlen(r.body) - 1] != '\n' ? "\n" : "");
	}
	admin_responder_free(&r);
	return 0;
}

int
floectl_cmd_responder_set(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	struct admin_responder_changes c = {0};
	struct admin_strings never = {0};
	const char *body_file = floectl_option(cmd, args, "--body-file");
	const char *days = floectl_option(cmd, args, "--days"), *never_text, *error;
	char *address = NULL, *body = NULL, *end;
	PGconn *conn;
	int ret = -1;

	c.mode = floectl_option(cmd, args, "--mode");
	if (c.mode == NULL)
		return floectl_usage_fail(cmd, "--mode is required");
	if (strcmp(c.mode, "off") != 0 && strcmp(c.mode, "always") != 0 &&
	    strcmp(c.mode, "once") != 0 && strcmp(c.mode, "interval") != 0)
		return floectl_usage_fail(cmd, "--mode: expected off, always, once or interval");
	if (days != NULL) {
		unsigned long v = strtoul(days, &end, 10);

		if (*days == '\0' || *end != '\0' || v < 1 || v > 3650)
			return floectl_usage_fail(cmd, "--days: expected a number from 1 to 3650");
		c.interval_days = days;
	}
	if (strcmp(c.mode, "interval") == 0 && days == NULL)
		return floectl_usage_fail(cmd, "--mode interval needs --days N");
	if (body_file != NULL && floectl_option(cmd, args, "--body") != NULL)
		return floectl_usage_fail(cmd, "give --body or --body-file, not both");
	c.starts = floectl_option(cmd, args, "--from");
	c.ends = floectl_option(cmd, args, "--until");
	c.subject = floectl_option(cmd, args, "--subject");
	c.body = floectl_option(cmd, args, "--body");
	if (body_file != NULL) {
		if (read_body_file(body_file, &body) < 0)
			return -1;
		c.body = body;
	}
	if ((never_text = floectl_option(cmd, args, "--never")) != NULL) {
		if (never_parse(never_text, &never) < 0)
			goto out;
		c.never = &never;
	}
	if ((address = address_arg(args->pos[0])) == NULL)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_responder_set(conn, address, &c, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		ret = responder_print(ctl, conn, address);
	else {
		printf("responder of %s set to %s\n", address, c.mode);
		ret = 0;
	}
out:
	admin_strings_free(&never);
	free(body);
	free(address);
	return ret;
}

int
floectl_cmd_responder_show(struct floectl *ctl, const struct floectl_command *cmd,
                           const struct floectl_args *args)
{
	char *address;
	PGconn *conn;
	int ret = -1;

	if ((address = address_arg(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) != NULL)
		ret = responder_print(ctl, conn, address);
	free(address);
	return ret;
}

/* --- sendas --- */

static int
sendas_change(struct floectl *ctl, const struct floectl_command *cmd,
              const struct floectl_args *args, bool add)
{
	char *account, *address = NULL;
	const char *error;
	PGconn *conn;
	int ret = -1;

	if ((account = address_arg(args->pos[0])) == NULL ||
	    (address = address_arg(args->pos[1])) == NULL)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if ((add ? admin_send_as_add(conn, account, address, &error)
	         : admin_send_as_remove(conn, account, address, &error)) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:s, s:s, s:b}", "account", account, "address",
		                             address, "allowed", add));
	else
		printf("%s %s send as %s\n", account, add ? "may now" : "may no longer", address);
	ret = 0;
out:
	free(account);
	free(address);
	return ret;
}

int
floectl_cmd_sendas_add(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	return sendas_change(ctl, cmd, args, true);
}

int
floectl_cmd_sendas_remove(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	return sendas_change(ctl, cmd, args, false);
}

int
floectl_cmd_sendas_list(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	struct admin_strings list;
	const char *error;
	char *account;
	PGconn *conn;
	int ret = -1;

	if ((account = address_arg(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_send_as_list(conn, account, &list, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl)) {
		floectl_json_print(strings_json(&list));
	} else {
		for (size_t i = 0; i < list.count; i++)
			printf("%s\n", list.items[i]);
	}
	admin_strings_free(&list);
	ret = 0;
out:
	free(account);
	return ret;
}

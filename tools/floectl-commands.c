/* floectl's commands: one function per command and the table that names
 * them, their arguments, options and help. The store work is done by
 * db/admin.c; this file checks the command line, reads passwords, and
 * prints the results as tables or JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "floectl.h"
#include "migrate.h"
#include "password.h"
#include "xmalloc.h"

/* Helpers */

/* Checks an address or domain name before anything else happens (no
 * password prompt for a typo); returns the normalised form or NULL. */
static char *
floectl_address(const char *address)
{
	const char *error;
	char *normal;

	if (admin_address_normalize(address, &normal, NULL, NULL, &error) < 0) {
		floectl_fail("%s", error);
		return NULL;
	}
	return normal;
}

static char *
floectl_domain(const char *name)
{
	const char *error;
	char *normal;

	if (admin_domain_normalize(name, &normal, &error) < 0) {
		floectl_fail("%s", error);
		return NULL;
	}
	return normal;
}

static json_t *
floectl_strings_json(const struct admin_strings *list)
{
	json_t *array = json_array();

	for (size_t i = 0; i < list->count; i++)
		json_array_append_new(array, json_string(list->items[i]));
	return array;
}

static json_t *
floectl_account_json(const struct admin_account *a, bool detailed)
{
	json_t *obj =
	    json_pack("{s:I, s:s, s:s, s:s, s:b, s:I, s:s}", "id", (json_int_t)a->id, "address",
	              a->address, "kind", a->kind, "display_name", a->display_name, "enabled",
	              a->enabled, "quota_bytes", (json_int_t)a->quota_bytes, "created", a->created);

	if (strcmp(a->kind, "group") == 0 && !detailed)
		json_object_set_new(obj, "members", json_integer((json_int_t)a->members));
	if (!detailed)
		return obj;
	json_object_set_new(obj, "has_password", json_boolean(a->has_password));
	json_object_set_new(obj, "folders", json_integer((json_int_t)a->folders));
	json_object_set_new(obj, "aliases", floectl_strings_json(&a->aliases));
	json_object_set_new(obj, "groups", floectl_strings_json(&a->groups));
	if (strcmp(a->kind, "group") == 0)
		json_object_set_new(obj, "members", floectl_strings_json(&a->member_addresses));
	return obj;
}

static json_t *
floectl_domain_json(const struct admin_domain *d)
{
	return json_pack("{s:I, s:s, s:b, s:I, s:I, s:s}", "id", (json_int_t)d->id, "name", d->name,
	                 "local_login", d->local_login, "accounts", (json_int_t)d->accounts,
	                 "aliases", (json_int_t)d->aliases, "created", d->created);
}

/* The JSON answer of a write that has no object to show. */
static void
floectl_json_done(const struct floectl_command *cmd, const char *target)
{
	floectl_json_print(
	    json_pack("{s:b, s:s, s:s}", "ok", 1, "command", cmd->name, "target", target));
}

/* One "label: value" line of user show; "-" stands for nothing. */
static void
floectl_print_field(const char *label, const char *value)
{
	printf("%-14s%s\n", label, value[0] != '\0' ? value : "-");
}

static void
floectl_print_list(const char *label, const struct admin_strings *list)
{
	printf("%-14s", label);
	if (list->count == 0)
		printf("-");
	for (size_t i = 0; i < list->count; i++)
		printf("%s%s", i > 0 ? ", " : "", list->items[i]);
	printf("\n");
}

static void
floectl_print_account(const struct admin_account *a)
{
	char size[32];

	printf("%-14s%s\n", "address:", a->address);
	printf("%-14s%lld\n", "id:", (long long)a->id);
	printf("%-14s%s\n", "kind:", a->kind);
	floectl_print_field("display name:", a->display_name);
	printf("%-14s%s\n", "enabled:", floectl_yes_no(a->enabled));
	if (strcmp(a->kind, "group") != 0) {
		printf("%-14s%s\n", "quota:", floectl_format_size(a->quota_bytes, size));
		printf("%-14s%s\n", "password:", a->has_password ? "set" : "none");
		printf("%-14s%lu\n", "folders:", a->folders);
	}
	floectl_print_list("aliases:", &a->aliases);
	floectl_print_list("groups:", &a->groups);
	if (strcmp(a->kind, "group") == 0)
		floectl_print_list("members:", &a->member_addresses);
	printf("%-14s%s\n", "created:", a->created);
}

/* Shows an account after a write: the whole object as JSON, or one line. */
static int
floectl_report_account(struct floectl *ctl, PGconn *conn, const char *address, const char *what)
{
	struct admin_account account;
	const char *error;

	if (admin_account_show(conn, address, &account, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(floectl_account_json(&account, true));
	else if (strcmp(account.kind, "group") == 0 || strcmp(what, "added") != 0)
		printf("%s %s %s\n", account.kind, account.address, what);
	else
		printf("%s %s %s (%lu folders)\n", account.kind, account.address, what,
		       account.folders);
	admin_account_clear(&account);
	return 0;
}

static void
floectl_print_accounts(struct floectl *ctl, const struct admin_account_list *list, bool groups)
{
	static const char *const user_headers[] = {"ADDRESS", "KIND", "DISPLAY NAME", "ENABLED",
	                                           "QUOTA"};
	static const char *const group_headers[] = {"ADDRESS", "DISPLAY NAME", "ENABLED",
	                                            "MEMBERS"};
	struct floectl_table table;
	char size[32], members[24];

	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list->count; i++)
			json_array_append_new(array, floectl_account_json(&list->items[i], false));
		floectl_json_print(array);
		return;
	}
	floectl_table_init(&table, groups ? 4 : 5, groups ? group_headers : user_headers);
	for (size_t i = 0; i < list->count; i++) {
		const struct admin_account *a = &list->items[i];

		snprintf(members, sizeof(members), "%lu", a->members);
		if (groups) {
			const char *row[] = {a->address, a->display_name,
			                     floectl_yes_no(a->enabled), members};
			floectl_table_row(&table, row);
		} else {
			const char *row[] = {a->address, a->kind, a->display_name,
			                     floectl_yes_no(a->enabled),
			                     floectl_format_size(a->quota_bytes, size)};
			floectl_table_row(&table, row);
		}
	}
	floectl_table_print(&table);
}

/* The password from --password, or read from the terminal or stdin, hashed. */
static int
floectl_password_hash(const struct floectl_command *cmd, const struct floectl_args *args,
                      char **hash_r)
{
	const char *given = floectl_option(cmd, args, "--password");
	char *password = NULL;
	const char *error;
	int ret;

	if (given == NULL && floectl_read_password(true, &password) < 0)
		return -1;
	ret = password_hash(given != NULL ? given : password, hash_r, &error);
	if (password != NULL) {
		sodium_memzero(password, strlen(password));
		free(password);
	}
	if (ret < 0)
		return floectl_fail("%s", error);
	return 0;
}

/* domain */

static int
cmd_domain_add(struct floectl *ctl, const struct floectl_command *cmd,
               const struct floectl_args *args)
{
	const char *local_login = floectl_option(cmd, args, "--local-login"), *error;
	struct admin_domain domain;
	bool local = false;
	PGconn *conn;
	char *name;
	int ret = -1;

	if (local_login != NULL &&
	    floectl_parse_bool(cmd, "--local-login", local_login, &local) < 0)
		return -1;
	if ((name = floectl_domain(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_domain_add(conn, name, local, &error) < 0 ||
	    admin_domain_get(conn, name, &domain, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(floectl_domain_json(&domain));
	else
		printf("domain %s added\n", domain.name);
	admin_domain_clear(&domain);
	ret = 0;
out:
	free(name);
	return ret;
}

static int
cmd_domain_list(struct floectl *ctl, const struct floectl_command *cmd,
                const struct floectl_args *args)
{
	static const char *const headers[] = {"DOMAIN", "ACCOUNTS", "ALIASES", "LOCAL LOGIN",
	                                      "CREATED"};
	struct admin_domain_list list;
	struct floectl_table table;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_domain_list(conn, &list, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, floectl_domain_json(&list.items[i]));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 5, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_domain *d = &list.items[i];
			char accounts[24], aliases[24];

			snprintf(accounts, sizeof(accounts), "%lu", d->accounts);
			snprintf(aliases, sizeof(aliases), "%lu", d->aliases);
			const char *row[] = {d->name, accounts, aliases,
			                     floectl_yes_no(d->local_login), d->created};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_domain_list_free(&list);
	return 0;
}

static int
cmd_domain_remove(struct floectl *ctl, const struct floectl_command *cmd,
                  const struct floectl_args *args)
{
	bool force = floectl_option(cmd, args, "--force") != NULL;
	const char *error;
	PGconn *conn;
	char *name;
	int ret = -1;

	if ((name = floectl_domain(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_domain_remove(conn, name, force, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_done(cmd, name);
	else
		printf("domain %s removed\n", name);
	ret = 0;
out:
	free(name);
	return ret;
}

/* user */

static int
cmd_user_add(struct floectl *ctl, const struct floectl_command *cmd,
             const struct floectl_args *args)
{
	const char *quota_text = floectl_option(cmd, args, "--quota");
	const char *kind = floectl_option(cmd, args, "--kind"), *error;
	bool no_password = floectl_option(cmd, args, "--no-password") != NULL;
	struct admin_user_new user = {
	    .display_name = floectl_option(cmd, args, "--display-name"),
	};
	char *address, *hash = NULL;
	PGconn *conn;
	int ret = -1;

	if (kind != NULL && strcmp(kind, "user") != 0 && strcmp(kind, "resource") != 0)
		return floectl_usage_fail(cmd, "--kind: expected user or resource, not '%s'", kind);
	if (no_password && floectl_option(cmd, args, "--password") != NULL)
		return floectl_usage_fail(cmd, "--password and --no-password exclude each other");
	if (quota_text != NULL && floectl_parse_quota(cmd, quota_text, &user.quota_bytes) < 0)
		return -1;
	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if (!no_password && floectl_password_hash(cmd, args, &hash) < 0)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	user.address = address;
	user.kind = kind;
	user.password_hash = hash;
	if (admin_user_add(conn, &user, NULL, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	ret = floectl_report_account(ctl, conn, address, "added");
out:
	free(hash);
	free(address);
	return ret;
}

static int
cmd_user_list(struct floectl *ctl, const struct floectl_command *cmd,
              const struct floectl_args *args)
{
	struct admin_account_list list;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_user_list(conn, args->npos > 0 ? args->pos[0] : NULL, &list, &error) < 0)
		return floectl_fail("%s", error);
	floectl_print_accounts(ctl, &list, false);
	admin_account_list_free(&list);
	return 0;
}

static int
cmd_user_show(struct floectl *ctl, const struct floectl_command *cmd,
              const struct floectl_args *args)
{
	struct admin_account account;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_account_show(conn, args->pos[0], &account, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(floectl_account_json(&account, true));
	else
		floectl_print_account(&account);
	admin_account_clear(&account);
	return 0;
}

static int
cmd_user_remove(struct floectl *ctl, const struct floectl_command *cmd,
                const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	char *address;
	int ret = -1;

	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_user_remove(conn, address, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_done(cmd, address);
	else
		printf("account %s removed\n", address);
	ret = 0;
out:
	free(address);
	return ret;
}

static int
cmd_user_passwd(struct floectl *ctl, const struct floectl_command *cmd,
                const struct floectl_args *args)
{
	char *address, *hash = NULL;
	const char *error;
	PGconn *conn;
	int ret = -1;

	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if (floectl_password_hash(cmd, args, &hash) < 0)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_user_passwd(conn, address, hash, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_done(cmd, address);
	else
		printf("password of %s changed\n", address);
	ret = 0;
out:
	free(hash);
	free(address);
	return ret;
}

static int
cmd_user_set(struct floectl *ctl, const struct floectl_command *cmd,
             const struct floectl_args *args)
{
	const char *quota = floectl_option(cmd, args, "--quota");
	const char *enabled = floectl_option(cmd, args, "--enabled"), *error;
	struct admin_user_changes changes = {
	    .display_name = floectl_option(cmd, args, "--display-name"),
	};
	PGconn *conn;
	char *address;
	int ret = -1;

	if (changes.display_name == NULL && quota == NULL && enabled == NULL)
		return floectl_usage_fail(cmd, "nothing to change (give --display-name, --quota "
		                               "or --enabled)");
	if (quota != NULL) {
		if (floectl_parse_quota(cmd, quota, &changes.quota_bytes) < 0)
			return -1;
		changes.set_quota = true;
	}
	if (enabled != NULL) {
		if (floectl_parse_bool(cmd, "--enabled", enabled, &changes.enabled) < 0)
			return -1;
		changes.set_enabled = true;
	}
	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_user_set(conn, address, &changes, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	ret = floectl_report_account(ctl, conn, address, "updated");
out:
	free(address);
	return ret;
}

/* alias */

static int
cmd_alias_add(struct floectl *ctl, const struct floectl_command *cmd,
              const struct floectl_args *args)
{
	char *alias, *address = NULL;
	const char *error;
	PGconn *conn;
	int ret = -1;

	if ((alias = floectl_address(args->pos[0])) == NULL ||
	    (address = floectl_address(args->pos[1])) == NULL)
		goto out;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_alias_add(conn, alias, address, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:s, s:s}", "alias", alias, "address", address));
	else
		printf("alias %s added for %s\n", alias, address);
	ret = 0;
out:
	free(alias);
	free(address);
	return ret;
}

static int
cmd_alias_remove(struct floectl *ctl, const struct floectl_command *cmd,
                 const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	char *alias;
	int ret = -1;

	if ((alias = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_alias_remove(conn, alias, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_done(cmd, alias);
	else
		printf("alias %s removed\n", alias);
	ret = 0;
out:
	free(alias);
	return ret;
}

static int
cmd_alias_list(struct floectl *ctl, const struct floectl_command *cmd,
               const struct floectl_args *args)
{
	static const char *const headers[] = {"ALIAS", "ADDRESS"};
	struct admin_alias_list list;
	struct floectl_table table;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_alias_list(conn, args->npos > 0 ? args->pos[0] : NULL, &list, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array,
			                      json_pack("{s:s, s:s}", "alias", list.items[i].alias,
			                                "address", list.items[i].address));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 2, headers);
		for (size_t i = 0; i < list.count; i++) {
			const char *row[] = {list.items[i].alias, list.items[i].address};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_alias_list_free(&list);
	return 0;
}

/* group */

static int
cmd_group_add(struct floectl *ctl, const struct floectl_command *cmd,
              const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	char *address;
	int ret = -1;

	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_group_add(conn, address, floectl_option(cmd, args, "--display-name"), &error) <
	    0) {
		floectl_fail("%s", error);
		goto out;
	}
	ret = floectl_report_account(ctl, conn, address, "added");
out:
	free(address);
	return ret;
}

static int
cmd_group_list(struct floectl *ctl, const struct floectl_command *cmd,
               const struct floectl_args *args)
{
	struct admin_account_list list;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_group_list(conn, args->npos > 0 ? args->pos[0] : NULL, &list, &error) < 0)
		return floectl_fail("%s", error);
	floectl_print_accounts(ctl, &list, true);
	admin_account_list_free(&list);
	return 0;
}

static int
cmd_group_remove(struct floectl *ctl, const struct floectl_command *cmd,
                 const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	char *address;
	int ret = -1;

	if ((address = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if (admin_group_remove(conn, address, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl))
		floectl_json_done(cmd, address);
	else
		printf("group %s removed\n", address);
	ret = 0;
out:
	free(address);
	return ret;
}

static int
cmd_group_members_change(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args, bool add)
{
	const char *error;
	PGconn *conn;
	char *group;
	int ret = -1;

	if ((group = floectl_address(args->pos[0])) == NULL)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		goto out;
	if ((add ? admin_group_members_add : admin_group_members_remove)(
	        conn, group, args->pos + 1, args->npos - 1, &error) < 0) {
		floectl_fail("%s", error);
		goto out;
	}
	if (floectl_json(ctl)) {
		floectl_json_done(cmd, group);
	} else {
		printf("%s: %zu member%s %s\n", group, args->npos - 1, args->npos == 2 ? "" : "s",
		       add ? "added" : "removed");
	}
	ret = 0;
out:
	free(group);
	return ret;
}

static int
cmd_group_members_add(struct floectl *ctl, const struct floectl_command *cmd,
                      const struct floectl_args *args)
{
	return cmd_group_members_change(ctl, cmd, args, true);
}

static int
cmd_group_members_remove(struct floectl *ctl, const struct floectl_command *cmd,
                         const struct floectl_args *args)
{
	return cmd_group_members_change(ctl, cmd, args, false);
}

static int
cmd_group_members_list(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	struct admin_account_list list;
	const char *error;
	PGconn *conn;

	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_group_members_list(conn, args->pos[0], &list, &error) < 0)
		return floectl_fail("%s", error);
	floectl_print_accounts(ctl, &list, false);
	admin_account_list_free(&list);
	return 0;
}

/* db */

static int
cmd_db_migrate(struct floectl *ctl, const struct floectl_command *cmd,
               const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	int applied;

	if ((conn = floectl_db(ctl, false)) == NULL)
		return -1;
	applied = db_migrate(conn, &error);
	if (applied < 0)
		return floectl_fail("database migration failed: %s", error);
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:i, s:i}", "schema_version", db_migrations_latest(),
		                             "applied", applied));
	else
		printf("schema version %d (%d migration%s applied)\n", db_migrations_latest(),
		       applied, applied == 1 ? "" : "s");
	return 0;
}

/* The table */

static const struct floectl_option floectl_domain_add_options[] = {
    {.name = "--local-login",
     .arg = "yes|no",
     .help = "users may log in with the local part alone (default no)"},
    {0},
};

static const struct floectl_option floectl_domain_remove_options[] = {
    {.name = "--force", .help = "also remove the domain's accounts and aliases"},
    {0},
};

static const struct floectl_option floectl_user_add_options[] = {
    {.name = "--password", .arg = "P", .help = "the password (else read from standard input)"},
    {.name = "--no-password", .help = "create the account without a password"},
    {.name = "--display-name", .arg = "NAME", .help = "the name shown to people"},
    {.name = "--quota", .arg = "SIZE", .help = "storage limit: 500M, 2G, unlimited (default)"},
    {.name = "--kind", .arg = "user|resource", .help = "a person (default) or a resource"},
    {0},
};

static const struct floectl_option floectl_user_passwd_options[] = {
    {.name = "--password", .arg = "P", .help = "the new password (else read from standard input)"},
    {0},
};

static const struct floectl_option floectl_user_set_options[] = {
    {.name = "--display-name", .arg = "NAME", .help = "the name shown to people"},
    {.name = "--quota", .arg = "SIZE", .help = "storage limit: 500M, 2G or unlimited"},
    {.name = "--enabled",
     .arg = "yes|no",
     .help = "whether the account may log in and receive mail"},
    {0},
};

static const struct floectl_option floectl_group_add_options[] = {
    {.name = "--display-name", .arg = "NAME", .help = "the name shown to people"},
    {0},
};

const struct floectl_command floectl_commands[] = {
    {
        .name = "domain add",
        .args = "NAME",
        .summary = "add a mail domain",
        .help = "Adds the domain NAME (e.g. example.org). Accounts, groups and aliases can\n"
                "only be created in domains that exist.",
        .options = floectl_domain_add_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_domain_add,
    },
    {
        .name = "domain list",
        .args = "",
        .summary = "list the domains with their numbers of accounts and aliases",
        .help = "Lists every domain, the number of accounts (users, resources and groups)\n"
                "and aliases in it, whether local-part logins are allowed, and when it\n"
                "was created.",
        .max_args = 0,
        .exec = cmd_domain_list,
    },
    {
        .name = "domain remove",
        .args = "NAME",
        .summary = "remove a domain",
        .help = "Removes the domain NAME. While the domain still has accounts or aliases\n"
                "this is refused, unless --force is given: then every account of the\n"
                "domain is removed with all its folders and items.",
        .options = floectl_domain_remove_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_domain_remove,
    },
    {
        .name = "user add",
        .args = "ADDRESS",
        .summary = "add a user (or resource) with its default folders",
        .help = "Creates the account ADDRESS in an existing domain with its password and\n"
                "its default folders (INBOX, Sent, Drafts, Trash, Spam, Calendar,\n"
                "Contacts, Tasks, Notes, Journal, Files), all in one transaction.\n"
                "Without --password the password is read from standard input: one line,\n"
                "or typed twice without echo when standard input is a terminal.",
        .options = floectl_user_add_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_user_add,
    },
    {
        .name = "user list",
        .args = "[DOMAIN]",
        .summary = "list users and resources, of every domain or of DOMAIN",
        .help = "Lists users and resources (groups: see group list) with kind, display\n"
                "name, whether they are enabled, and quota.",
        .max_args = 1,
        .exec = cmd_user_list,
    },
    {
        .name = "user show",
        .args = "ADDRESS",
        .summary = "show everything about one account",
        .help = "Shows the account's id, address, kind, display name, enabled flag, quota,\n"
                "whether it has a password, its number of folders, its aliases, the\n"
                "groups it belongs to and (for a group) its members.",
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_user_show,
    },
    {
        .name = "user remove",
        .args = "ADDRESS",
        .summary = "remove a user or resource with everything it owns",
        .help = "Removes the account ADDRESS together with its folders, items, aliases,\n"
                "credentials and group memberships. Groups are removed with group remove.",
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_user_remove,
    },
    {
        .name = "user passwd",
        .args = "ADDRESS",
        .summary = "set a user's password",
        .help = "Replaces the password of ADDRESS (stored as an Argon2id hash). Without\n"
                "--password it is read from standard input as for user add.",
        .options = floectl_user_passwd_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_user_passwd,
    },
    {
        .name = "user set",
        .args = "ADDRESS",
        .summary = "change an account's display name, quota or enabled flag",
        .help = "Changes the settings given and leaves the others as they are. A disabled\n"
                "account keeps its data but may not log in.",
        .options = floectl_user_set_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_user_set,
    },
    {
        .name = "alias add",
        .args = "ALIAS ADDRESS",
        .summary = "make ALIAS a further address of the account ADDRESS",
        .help = "Mail to ALIAS is delivered to ADDRESS. The alias must be in an existing\n"
                "domain and may not be the address of an account or of another alias.",
        .min_args = 2,
        .max_args = 2,
        .exec = cmd_alias_add,
    },
    {
        .name = "alias remove",
        .args = "ALIAS",
        .summary = "remove an alias",
        .help = "Removes the alias ALIAS; the account it pointed to is not changed.",
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_alias_remove,
    },
    {
        .name = "alias list",
        .args = "[ADDRESS|DOMAIN]",
        .summary = "list aliases: all, those of an account, or those in a domain",
        .help = "With an address, lists the aliases of that account; with a domain name,\n"
                "the aliases in that domain; with nothing, every alias.",
        .max_args = 1,
        .exec = cmd_alias_list,
    },
    {
        .name = "group add",
        .args = "ADDRESS",
        .summary = "add a group (a distribution address with members)",
        .help = "Creates the group ADDRESS in an existing domain. Groups have members\n"
                "(group members add) but no password and no folders.",
        .options = floectl_group_add_options,
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_group_add,
    },
    {
        .name = "group list",
        .args = "[DOMAIN]",
        .summary = "list groups with their numbers of members",
        .help = "Lists the groups of every domain, or of DOMAIN.",
        .max_args = 1,
        .exec = cmd_group_list,
    },
    {
        .name = "group remove",
        .args = "ADDRESS",
        .summary = "remove a group",
        .help = "Removes the group ADDRESS and its memberships; the member accounts are\n"
                "not changed.",
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_group_remove,
    },
    {
        .name = "group members add",
        .args = "GROUP MEMBER...",
        .summary = "add accounts to a group",
        .help = "Adds each MEMBER (the address of an account of any kind) to GROUP;\n"
                "accounts that already are members are left alone. All or nothing: one\n"
                "unknown address and no member is added.",
        .min_args = 2,
        .max_args = SIZE_MAX,
        .exec = cmd_group_members_add,
    },
    {
        .name = "group members remove",
        .args = "GROUP MEMBER...",
        .summary = "remove accounts from a group",
        .help = "Removes each MEMBER from GROUP. All or nothing: if one of them is not a\n"
                "member, none is removed.",
        .min_args = 2,
        .max_args = SIZE_MAX,
        .exec = cmd_group_members_remove,
    },
    {
        .name = "group members list",
        .args = "GROUP",
        .summary = "list the members of a group",
        .help = "Lists the accounts that are members of GROUP.",
        .min_args = 1,
        .max_args = 1,
        .exec = cmd_group_members_list,
    },
    {
        .name = "db migrate",
        .args = "",
        .summary = "bring the database schema up to date and print its version",
        .help = "Applies every schema migration the database does not have yet, under an\n"
                "advisory lock (safe while floed runs). Every other command does this\n"
                "too before it starts, so this is only needed to prepare a database.",
        .max_args = 0,
        .exec = cmd_db_migrate,
    },
    /* commands of later parts: folders and sharing (tools/floectl-share.c) */
    {
        .name = "folder list",
        .args = "ADDRESS",
        .summary = "list the folders of an account with types, sizes and sharing",
        .help = "Lists every folder of ADDRESS (a user, resource or group) by path: its\n"
                "type (mail, event, contact, task, note, journal, file; \"(container)\"\n"
                "for a name kept only for its subfolders), whether it is the default\n"
                "folder of its type, its messages and size, and whose access control\n"
                "entries are in force: its own, inherited from a parent folder or from\n"
                "the account (see share list).",
        .options = floectl_folder_list_options,
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_folder_list,
    },
    {
        .name = "folder create",
        .args = "ADDRESS PATH",
        .summary = "create a folder of a given type in an account",
        .help = "Creates PATH ('/'-separated, e.g. Calendar/Team) of --type in the\n"
                "account ADDRESS and subscribes it for the owner. Missing parents are\n"
                "created as mail folders. Connected clients see it at once. Folders of\n"
                "groups are created with public-folder create.",
        .options = floectl_folder_create_options,
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_folder_create,
    },
    {
        .name = "folder remove",
        .args = "ADDRESS PATH",
        .summary = "remove a folder with its items",
        .help = "Removes PATH of ADDRESS with every item in it, as IMAP DELETE does: a\n"
                "folder that has subfolders keeps its name as a container for them.\n"
                "INBOX and the default folders (Calendar, Contacts, ...) cannot be\n"
                "removed, nor a container that still has subfolders.",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_folder_remove,
    },
    {
        .name = "share grant",
        .args = "OWNER[/PATH] GRANTEE RIGHTS",
        .summary = "give a user, a group or anyone rights on a folder or account",
        .help = "Sets the rights of GRANTEE (an address of a user or group, or anyone:\n"
                "every user of every domain) on folder PATH of OWNER, or without PATH on\n"
                "the whole account. RIGHTS are names separated by commas: read (lrs),\n"
                "write (ik), modify (w), delete (xte), administer (a), all (everything\n"
                "but administer), full (everything); or RFC 4314 letters (lrswipkxtea;\n"
                "c and d as RFC 4314 2.1.1). They replace the grantee's rights there;\n"
                "with a leading + they are added. Same as IMAP SETACL: a folder that\n"
                "inherited its entries first gets its own copy of them. A user who gains\n"
                "rights (each member of a group) gets a notification mail, sent by the\n"
                "running floed ([sharing] notify); so does one who loses the last.",
        .min_args = 3,
        .max_args = 3,
        .exec = floectl_cmd_share_grant,
    },
    {
        .name = "share revoke",
        .args = "OWNER[/PATH] GRANTEE [RIGHTS]",
        .summary = "take rights away from a grantee",
        .help = "Removes the entry of GRANTEE on PATH of OWNER (or on the whole account),\n"
                "or with RIGHTS only those rights. Same as IMAP DELETEACL (SETACL -rights):\n"
                "on a folder that inherited the entry, the folder keeps a copy of the\n"
                "others. Sessions of the grantee lose access at once.",
        .min_args = 2,
        .max_args = 3,
        .exec = floectl_cmd_share_revoke,
    },
    {
        .name = "share list",
        .args = "OWNER[/PATH]",
        .summary = "list who has which rights on a folder or account",
        .help = "With PATH: the entries in force on that folder and where they come from\n"
                "(its own, a parent folder's or the account's). Without: every entry of\n"
                "the account, the account level first, then each folder's own.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_share_list,
    },
    {
        .name = "share inherit",
        .args = "OWNER/PATH on|off",
        .summary = "make a folder follow its parent's rights, or stop following",
        .help = "on: the folder drops its own entries and follows its parent folder (at\n"
                "the top: the account) again, also when that changes later. off: the\n"
                "folder keeps a copy of what it inherited and no longer follows.",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_share_inherit,
    },
    {
        .name = "share subscribe",
        .args = "GRANTEE OWNER [PATH]",
        .summary = "show a folder (or all) another account shares in a user's folder list",
        .help = "Subscribes GRANTEE to folder PATH of OWNER (and the folders below it),\n"
                "or without PATH to the whole account: every folder OWNER shares with\n"
                "GRANTEE, now or later. Same as IMAP SUBSCRIBE \"~OWNER/PATH\" by the\n"
                "grantee: the folders appear under ~OWNER/ in its LIST. The folder must\n"
                "exist and be visible to GRANTEE (rights l or r). Subscriptions follow\n"
                "renames. Access itself depends on the rights alone.",
        .min_args = 2,
        .max_args = 3,
        .exec = floectl_cmd_share_subscribe,
    },
    {
        .name = "share unsubscribe",
        .args = "GRANTEE OWNER [PATH]",
        .summary = "remove a shared folder or account from a user's folder list",
        .help = "Same as IMAP UNSUBSCRIBE \"~OWNER/PATH\" (or \"~OWNER\") by GRANTEE: the\n"
                "folder and those below it (or the whole account) leave its LIST, also\n"
                "a folder inside a subscribed account. Rights do not change.",
        .min_args = 2,
        .max_args = 3,
        .exec = floectl_cmd_share_unsubscribe,
    },
    {
        .name = "share subscriptions",
        .args = "GRANTEE [OWNER]",
        .summary = "list a user's subscriptions to shared folders and accounts",
        .help = "Every subscription of GRANTEE (or those to OWNER's folders): the whole\n"
                "account or a folder by its current path, hidden for a folder\n"
                "unsubscribed inside a subscribed account, and GRANTEE's rights there\n"
                "now (a subscription without rights shows nothing until rights come).",
        .min_args = 1,
        .max_args = 2,
        .exec = floectl_cmd_share_subscriptions,
    },
    {
        .name = "public-folder create",
        .args = "GROUP PATH",
        .summary = "create a public folder that every member of a group sees",
        .help = "Creates PATH of --type in the group account GROUP and grants the group\n"
                "itself (every member, also later ones) --rights on it (default all:\n"
                "read, write, modify and delete). Members see it under ~GROUP/PATH\n"
                "without a share to accept. Change the members' rights later with share\n"
                "grant GROUP/PATH GROUP RIGHTS.",
        .options = floectl_public_folder_create_options,
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_public_folder_create,
    },
    /* commands of later parts: device (ActiveSync) */
    {
        .name = "device list",
        .args = "[ADDRESS]",
        .summary = "list ActiveSync devices, of every account or of one",
        .help = "Lists the ActiveSync devices known to the server (every account, or the\n"
                "account ADDRESS): id, account, DeviceId, type, model, protocol version,\n"
                "whether it is provisioned, its access state, whether its protocol log is\n"
                "on, and its last contact.",
        .max_args = 1,
        .exec = floectl_cmd_device_list,
    },
    {
        .name = "device show",
        .args = "ID",
        .summary = "show everything about one ActiveSync device",
        .help = "Shows device ID: its account, DeviceId and type, User-Agent, protocol\n"
                "version, what it reported about itself (model, OS, phone number...),\n"
                "first and last contact, provisioning, access and wipe state, hierarchy\n"
                "key, its last Ping and whether its protocol log is on.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_device_show,
    },
    {
        .name = "device log",
        .args = "on|off ADDRESS|ID",
        .summary = "switch the ActiveSync protocol log of a device or an account",
        .help = "Switches the protocol log of device ID, or of every device of the\n"
                "account ADDRESS. Each device's requests and responses are then written,\n"
                "decoded to XML with passwords and bodies elided, to\n"
                "<state_dir>/eas-log/<device id>.log ([eas] log_bodies shows bodies).",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_device_log,
    },
    {
        .name = "device remove",
        .args = "ID",
        .summary = "forget an ActiveSync device",
        .help = "Removes device ID with its provisioning, folder hierarchy and sync state.\n"
                "If the device connects again it is registered anew and must provision\n"
                "and synchronise from scratch.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_device_remove,
    },
    /* commands of later parts: delivery (forwarding, responder) */
    {
        .name = "forward set",
        .args = "ADDRESS TARGET...",
        .summary = "forward the mail of an account to other addresses",
        .help = "Every message delivered to ADDRESS (a user or resource, or one of its\n"
                "aliases) is forwarded to each TARGET, local or remote. With --keep-copy\n"
                "no the INBOX of ADDRESS does not keep it. Replaces earlier targets.",
        .options = floectl_forward_set_options,
        .min_args = 2,
        .max_args = SIZE_MAX,
        .exec = floectl_cmd_forward_set,
    },
    {
        .name = "forward clear",
        .args = "ADDRESS",
        .summary = "stop forwarding the mail of an account",
        .help = "Removes the forwarding of ADDRESS; its mail stays in its INBOX again.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_forward_clear,
    },
    {
        .name = "forward show",
        .args = "ADDRESS",
        .summary = "show the forwarding of an account",
        .help = "Shows the targets ADDRESS forwards to and whether it keeps a copy.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_forward_show,
    },
    {
        .name = "responder set",
        .args = "ADDRESS",
        .summary = "set the auto-responder of an account",
        .help = "Sets the mode of the auto-responder of ADDRESS and, when given, its date\n"
                "window, subject, text and never-answer list (others stay as they were).\n"
                "The subject and text may use %%Subject%%, %%From%%, %%From_Name%%,\n"
                "%%From_Email%%, %%To%%, %%Email%%, %%Date%% and %%Time%%. Mailing lists,\n"
                "bounces and automatic messages are never answered (RFC 3834). Changing\n"
                "the settings forgets whom the responder has already answered.",
        .options = floectl_responder_set_options,
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_responder_set,
    },
    {
        .name = "responder show",
        .args = "ADDRESS",
        .summary = "show the auto-responder of an account",
        .help = "Shows the responder settings of ADDRESS and how many senders it has\n"
                "answered since they were last changed.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_responder_show,
    },
    {
        .name = "sendas add",
        .args = "ACCOUNT ADDRESS",
        .summary = "let an account send as another address",
        .help = "ACCOUNT may use ADDRESS as its sender in SMTP submission and ActiveSync\n"
                "(besides its own address and aliases), e.g. a shared mailbox.",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_sendas_add,
    },
    {
        .name = "sendas remove",
        .args = "ACCOUNT ADDRESS",
        .summary = "take back a send-as delegation",
        .help = "ACCOUNT may no longer send as ADDRESS.",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_sendas_remove,
    },
    {
        .name = "sendas list",
        .args = "ACCOUNT",
        .summary = "list the addresses an account may send as",
        .help = "Lists the addresses delegated to ACCOUNT (its own address and aliases are\n"
                "always allowed and not listed).",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_sendas_list,
    },
    /* commands of later parts: GroupWare Trash (tools/floectl-trash.c) */
    {
        .name = "trash list",
        .args = "ADDRESS [FOLDER]",
        .summary = "list the deleted groupware items of an account",
        .help = "Lists the GroupWare Trash of ADDRESS, newest first: events, contacts,\n"
                "tasks, notes, journal entries and files deleted from their folders\n"
                "(or removed with them), with the folder they left, their object UID,\n"
                "title and size. With FOLDER, only what was deleted from that folder.\n"
                "The trash is not an IMAP folder; its size counts against the quota.\n"
                "Items are purged after [groupware] trash_days (default 30).",
        .min_args = 1,
        .max_args = 2,
        .exec = floectl_cmd_trash_list,
    },
    {
        .name = "trash restore",
        .args = "ADDRESS [FOLDER]",
        .summary = "put deleted groupware items back into their folders",
        .help = "Restores the item with --uid OBJECT-UID, or with --all every item (of\n"
                "FOLDER when given), into the folder it was deleted from as a new item\n"
                "with the same object UID and content; clients see it appear. An item\n"
                "whose folder was removed goes to the default folder of its type (the\n"
                "output says so). An item whose UID the folder already holds is not\n"
                "restored (no duplicate) and stays in the trash; floectl then fails.",
        .options = floectl_trash_restore_options,
        .min_args = 1,
        .max_args = 2,
        .exec = floectl_cmd_trash_restore,
    },
    {
        .name = "trash purge",
        .args = "ADDRESS",
        .summary = "delete old items from the GroupWare Trash of an account now",
        .help = "Deletes for good the items of ADDRESS deleted at least --older-than\n"
                "days ago (default 30; 0: every item), and the stored content nothing\n"
                "else uses. floed does this by itself for every account after\n"
                "[groupware] trash_days.",
        .options = floectl_trash_purge_options,
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_trash_purge,
    },
    /* commands of later parts: files (tools/floectl-file.c) */
    {
        .name = "file put",
        .args = "ADDRESS FOLDER PATH",
        .summary = "store a local file in a file folder of an account",
        .help = "Stores the file at PATH in FOLDER (a folder of type file, e.g. Files) of\n"
                "ADDRESS as a groupware file item, the form IMAP clients append, under\n"
                "its own name or --name. A file of that name already there is replaced\n"
                "and keeps its UID; clients see the change at once. At most 64 MB.",
        .options = floectl_file_put_options,
        .min_args = 3,
        .max_args = 3,
        .exec = floectl_cmd_file_put,
    },
    {
        .name = "file get",
        .args = "ADDRESS FOLDER NAME",
        .summary = "write a stored file to standard output",
        .help = "Writes the file called NAME in FOLDER of ADDRESS (the newest, when\n"
                "several have that name) to standard output, decoded, byte for byte:\n"
                "floectl file get a@example.com Files report.pdf > report.pdf",
        .min_args = 3,
        .max_args = 3,
        .exec = floectl_cmd_file_get,
    },
    {
        .name = "file list",
        .args = "ADDRESS FOLDER",
        .summary = "list the files of a file folder",
        .help = "Lists the files in FOLDER of ADDRESS with their size, media type, IMAP\n"
                "UID and when they were stored (--json adds the SHA-256 and object UID).",
        .min_args = 2,
        .max_args = 2,
        .exec = floectl_cmd_file_list,
    },
    /* commands of later parts: queue */
    {
        .name = "queue list",
        .args = "",
        .summary = "list the outgoing queue: one line per message and recipient",
        .help = "Lists every message in the outgoing queue with, per recipient, its state\n"
                "(queued, deferred, delivering, delivered, failed, bounced), the number of\n"
                "attempts, the next try and the last error. Finished messages stay listed\n"
                "for [queue] keep_done.",
        .max_args = 0,
        .exec = floectl_cmd_queue_list,
    },
    {
        .name = "queue show",
        .args = "ID",
        .summary = "show one queued message: envelope, recipients and headers",
        .help = "Shows the sender, submitting account, size, each recipient's state and\n"
                "last error, and the message's header section.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_queue_show,
    },
    {
        .name = "queue retry",
        .args = "[ID]",
        .summary = "try waiting recipients again now",
        .help = "Makes the queued and deferred recipients of message ID (or of every\n"
                "message with --all) due at once; a runner picks them up within [queue]\n"
                "poll_interval. Failed and delivered recipients are not touched.",
        .options = floectl_queue_retry_options,
        .max_args = 1,
        .exec = floectl_cmd_queue_retry,
    },
    {
        .name = "queue remove",
        .args = "ID",
        .summary = "delete a message from the queue without bouncing it",
        .help = "Deletes message ID and all its recipients. Nobody is told; a delivery\n"
                "already under way may still complete.",
        .min_args = 1,
        .max_args = 1,
        .exec = floectl_cmd_queue_remove,
    },
    {
        .name = "smtp save-sent",
        .args = "ADDRESS [yes|no]",
        .summary = "show or set whether SMTP submissions are saved to Sent",
        .help = "With yes, every message ADDRESS submits over SMTP is also stored (read)\n"
                "in its Sent folder. The default is no: Outlook and most phones save\n"
                "their own copy. Without a value, shows the setting.",
        .min_args = 1,
        .max_args = 2,
        .exec = floectl_cmd_smtp_save_sent,
    },
    {0},
};

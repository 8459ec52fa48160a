/* The administration store API behind floectl (see admin.h): blocking
 * libpq queries for domains, accounts, aliases and groups, one transaction
 * per write, database errors turned into one-line messages. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin-sql.h"
#include "xmalloc.h"

#define ADMIN_LOCAL_MAX        64
#define ADMIN_DOMAIN_MAX       253
#define ADMIN_LABEL_MAX        63
#define ADMIN_DISPLAY_NAME_MAX 256

/* The columns admin_account_from_row reads, in order; needs accounts a and
 * domains d joined. */
#define ADMIN_ACCOUNT_COLUMNS                                                                      \
	"a.id, a.local_part || '@' || d.name, a.kind, a.display_name, a.enabled, "                 \
	"a.quota_bytes, to_char(a.created_at AT TIME ZONE 'UTC', "                                 \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                                                      \
	"(SELECT count(*) FROM group_members gm WHERE gm.account_id = a.id)"
#define ADMIN_ACCOUNT_NCOLUMNS 8

#define ADMIN_DOMAIN_COLUMNS                                                                       \
	"d.id, d.name, d.local_login, "                                                            \
	"(SELECT count(*) FROM accounts a WHERE a.domain_id = d.id), "                             \
	"(SELECT count(*) FROM aliases al WHERE al.domain_id = d.id), "                            \
	"to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Validation and normalisation */

static bool
admin_is_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
admin_is_ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Checks a lower-cased domain name; returns NULL or the reason. */
static const char *
admin_domain_problem(const char *name)
{
	size_t len = strlen(name), label = 0;
	bool digits_only = true;

	if (len == 0)
		return "empty";
	if (len > ADMIN_DOMAIN_MAX)
		return "longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "empty label";
			if (name[i - 1] == '-')
				return "a label ends with '-'";
			if (c == '.')
				digits_only = true;
			label = 0;
			continue;
		}
		if (c >= 0x80)
			return "not ASCII (use the xn-- form)";
		if (!admin_is_ascii_alnum(c) && c != '-')
			return "letters, digits, '-' and '.' only";
		if (c == '-' && label == 0)
			return "a label starts with '-'";
		if (c < '0' || c > '9')
			digits_only = false;
		if (++label > ADMIN_LABEL_MAX)
			return "a label is longer than 63 characters";
	}
	if (digits_only)
		return "the last label is numeric";
	return NULL;
}

static char *
admin_lower(const char *text, size_t len)
{
	char *out = xstrndup(text, len);

	for (char *p = out; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return out;
}

int
admin_domain_normalize(const char *name, char **name_r, const char **error_r)
{
	char *lower = admin_lower(name, strlen(name));
	const char *problem = admin_domain_problem(lower);

	if (problem != NULL) {
		free(lower);
		return admin_fail(error_r, "invalid domain name '%s': %s", admin_quote(name),
		                  problem);
	}
	*name_r = lower;
	return 0;
}

int
admin_address_normalize(const char *address, char **address_r, char **local_r, char **domain_r,
                        const char **error_r)
{
	const char *at = strchr(address, '@');
	const char *problem = NULL;
	char *local, *domain;
	size_t local_len;

	if (strlen(address) > ADMIN_ADDRESS_MAX)
		return admin_fail(error_r, "invalid address '%s': longer than %d characters",
		                  admin_quote(address), ADMIN_ADDRESS_MAX);
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return admin_fail(error_r, "invalid address '%s': expected local-part@domain",
		                  admin_quote(address));
	local_len = (size_t)(at - address);
	if (local_len == 0)
		problem = "empty local part";
	else if (local_len > ADMIN_LOCAL_MAX)
		problem = "local part longer than 64 characters";
	else if (address[0] == '.' || at[-1] == '.')
		problem = "local part starts or ends with '.'";
	for (size_t i = 0; problem == NULL && i < local_len; i++) {
		unsigned char c = (unsigned char)address[i];

		if (c == '.' && address[i + 1] == '.')
			problem = "'..' in the local part";
		else if (c != '.' && (c >= 0x80 || !admin_is_atext(c)))
			problem = "invalid character in the local part";
	}
	if (problem != NULL)
		return admin_fail(error_r, "invalid address '%s': %s", admin_quote(address),
		                  problem);

	domain = admin_lower(at + 1, strlen(at + 1));
	problem = admin_domain_problem(domain);
	if (problem != NULL) {
		free(domain);
		return admin_fail(error_r, "invalid address '%s': domain %s", admin_quote(address),
		                  problem);
	}
	local = admin_lower(address, local_len);
	*address_r = xasprintf("%s@%s", local, domain);
	if (local_r != NULL)
		*local_r = local;
	else
		free(local);
	if (domain_r != NULL)
		*domain_r = domain;
	else
		free(domain);
	return 0;
}

/* Display names: printable UTF-8 without control characters. */
static int
admin_check_display_name(const char *name, const char **error_r)
{
	const unsigned char *p = (const unsigned char *)name;

	if (strlen(name) > ADMIN_DISPLAY_NAME_MAX)
		return admin_fail(error_r, "display name longer than %d bytes",
		                  ADMIN_DISPLAY_NAME_MAX);
	while (*p != '\0') {
		int extra;
		uint32_t cp;

		if (*p < 0x20 || *p == 0x7f)
			return admin_fail(error_r, "display name contains a control character");
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			extra = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			extra = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			extra = 3;
			cp = *p & 0x07;
		} else {
			return admin_fail(error_r, "display name is not valid UTF-8");
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return admin_fail(error_r, "display name is not valid UTF-8");
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return admin_fail(error_r, "display name is not valid UTF-8");
		if (cp >= 0x80 && cp < 0xa0)
			return admin_fail(error_r, "display name contains a control character");
	}
	return 0;
}

/* Lookups used inside transactions */

/* Finds a domain's id: 1 found, 0 not found, -1 error. */
static int
admin_domain_id(PGconn *conn, const char *domain, bool lock, char id_r[24], const char **error_r)
{
	const char *params[] = {domain};
	PGresult *res = admin_exec(conn,
	                           lock ? "SELECT id FROM domains WHERE name = $1 FOR UPDATE"
	                                : "SELECT id FROM domains WHERE name = $1",
	                           1, params, error_r);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found)
		snprintf(id_r, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* The domain must exist: 0, or -1 with "unknown domain d". */
static int
admin_need_domain(PGconn *conn, const char *domain, char id_r[24], const char **error_r)
{
	int ret = admin_domain_id(conn, domain, false, id_r, error_r);

	if (ret == 0)
		return admin_fail(error_r, "unknown domain %s", domain);
	return ret < 0 ? -1 : 0;
}

struct admin_target {
	char *address; /* normalised */
	char id[24];
	char kind[16];
};

static void
admin_target_clear(struct admin_target *target)
{
	xfree_ptr(&target->address);
}

/* Resolves an account address (not an alias) to its id and kind, locking
 * the row when the caller is going to change it. */
static int
admin_target_find(PGconn *conn, const char *address, bool lock, struct admin_target *target_r,
                  const char **error_r)
{
	char *local, *domain;
	PGresult *res;

	memset(target_r, 0, sizeof(*target_r));
	if (admin_address_normalize(address, &target_r->address, &local, &domain, error_r) < 0)
		return -1;
	const char *params[] = {domain, local};
	res =
	    admin_exec(conn,
	               lock ? "SELECT a.id, a.kind FROM accounts a JOIN domains d ON d.id = "
	                      "a.domain_id WHERE d.name = $1 AND a.local_part = $2 FOR UPDATE OF a"
	                    : "SELECT a.id, a.kind FROM accounts a JOIN domains d ON d.id = "
	                      "a.domain_id WHERE d.name = $1 AND a.local_part = $2",
	               2, params, error_r);
	free(local);
	free(domain);
	if (res == NULL) {
		admin_target_clear(target_r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		admin_fail(error_r, "unknown account %s", target_r->address);
		admin_target_clear(target_r);
		return -1;
	}
	snprintf(target_r->id, sizeof(target_r->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(target_r->kind, sizeof(target_r->kind), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

/* Makes sure local@domain names neither an account nor an alias. The
 * message depends on what is being created (an account or an alias). */
static int
admin_address_unused(PGconn *conn, const char *domain_id, const char *local, const char *address,
                     bool for_alias, const char **error_r)
{
	const char *params[] = {domain_id, local};
	PGresult *res = admin_exec(
	    conn,
	    "SELECT 'account', '' FROM accounts WHERE domain_id = $1 AND local_part = $2 "
	    "UNION ALL "
	    "SELECT 'alias', t.local_part || '@' || td.name FROM aliases al "
	    "JOIN accounts t ON t.id = al.account_id JOIN domains td ON td.id = t.domain_id "
	    "WHERE al.domain_id = $1 AND al.local_part = $2",
	    2, params, error_r);
	int ret = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		if (strcmp(PQgetvalue(res, 0, 0), "alias") == 0)
			ret = admin_fail(error_r, "address %s already used as an alias of %s",
			                 address, PQgetvalue(res, 0, 1));
		else if (for_alias)
			ret = admin_fail(error_r, "address %s already used by an account", address);
		else
			ret = admin_fail(error_r, "account %s already exists", address);
	}
	PQclear(res);
	return ret;
}

/* Result rows into structures */

static void
admin_strings_from_result(const PGresult *res, struct admin_strings *list_r)
{
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count, sizeof(char *));
	for (size_t i = 0; i < list_r->count; i++)
		list_r->items[i] = admin_value(res, (int)i, 0);
}

static void
admin_strings_clear(struct admin_strings *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	xfree_ptr(&list->items);
	list->count = 0;
}

static void
admin_account_from_row(const PGresult *res, int row, struct admin_account *account_r)
{
	memset(account_r, 0, sizeof(*account_r));
	account_r->id = admin_int(res, row, 0);
	account_r->address = admin_value(res, row, 1);
	account_r->kind = admin_value(res, row, 2);
	account_r->display_name = admin_value(res, row, 3);
	account_r->enabled = admin_bool(res, row, 4);
	account_r->quota_bytes = admin_int(res, row, 5);
	account_r->created = admin_value(res, row, 6);
	account_r->members = (unsigned long)admin_int(res, row, 7);
}

static int
admin_account_list_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                         struct admin_account_list *list_r, const char **error_r)
{
	PGresult *res = admin_exec(conn, sql, nparams, params, error_r);

	list_r->items = NULL;
	list_r->count = 0;
	if (res == NULL)
		return -1;
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++)
		admin_account_from_row(res, (int)i, &list_r->items[i]);
	PQclear(res);
	return 0;
}

void
admin_account_clear(struct admin_account *account)
{
	xfree_ptr(&account->address);
	xfree_ptr(&account->kind);
	xfree_ptr(&account->display_name);
	xfree_ptr(&account->created);
	admin_strings_clear(&account->aliases);
	admin_strings_clear(&account->groups);
	admin_strings_clear(&account->member_addresses);
}

void
admin_account_list_free(struct admin_account_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_account_clear(&list->items[i]);
	xfree_ptr(&list->items);
	list->count = 0;
}

static void
admin_domain_from_row(const PGresult *res, int row, struct admin_domain *domain_r)
{
	domain_r->id = admin_int(res, row, 0);
	domain_r->name = admin_value(res, row, 1);
	domain_r->local_login = admin_bool(res, row, 2);
	domain_r->accounts = (unsigned long)admin_int(res, row, 3);
	domain_r->aliases = (unsigned long)admin_int(res, row, 4);
	domain_r->created = admin_value(res, row, 5);
}

void
admin_domain_clear(struct admin_domain *domain)
{
	xfree_ptr(&domain->name);
	xfree_ptr(&domain->created);
}

void
admin_domain_list_free(struct admin_domain_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_domain_clear(&list->items[i]);
	xfree_ptr(&list->items);
	list->count = 0;
}

/* Domains */

int
admin_domain_add(PGconn *conn, const char *name, bool local_login, const char **error_r)
{
	char *domain;
	PGresult *res;
	int ret = 0;

	if (admin_domain_normalize(name, &domain, error_r) < 0)
		return -1;
	const char *params[] = {domain, local_login ? "true" : "false"};
	res = admin_exec(conn,
	                 "INSERT INTO domains (name, local_login) VALUES ($1, $2) "
	                 "ON CONFLICT (name) DO NOTHING",
	                 2, params, error_r);
	if (res == NULL)
		ret = -1;
	else if (strcmp(PQcmdTuples(res), "0") == 0)
		ret = admin_fail(error_r, "domain %s already exists", domain);
	PQclear(res);
	free(domain);
	return ret;
}

int
admin_domain_get(PGconn *conn, const char *name, struct admin_domain *domain_r,
                 const char **error_r)
{
	char *domain;
	PGresult *res;
	int ret = 0;

	memset(domain_r, 0, sizeof(*domain_r));
	if (admin_domain_normalize(name, &domain, error_r) < 0)
		return -1;
	const char *params[] = {domain};
	res = admin_exec(conn, "SELECT " ADMIN_DOMAIN_COLUMNS " FROM domains d WHERE d.name = $1",
	                 1, params, error_r);
	if (res == NULL)
		ret = -1;
	else if (PQntuples(res) == 0)
		ret = admin_fail(error_r, "unknown domain %s", domain);
	else
		admin_domain_from_row(res, 0, domain_r);
	PQclear(res);
	free(domain);
	return ret;
}

int
admin_domain_list(PGconn *conn, struct admin_domain_list *list_r, const char **error_r)
{
	PGresult *res =
	    admin_exec(conn, "SELECT " ADMIN_DOMAIN_COLUMNS " FROM domains d ORDER BY d.name", 0,
	               NULL, error_r);

	list_r->items = NULL;
	list_r->count = 0;
	if (res == NULL)
		return -1;
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++)
		admin_domain_from_row(res, (int)i, &list_r->items[i]);
	PQclear(res);
	return 0;
}

int
admin_domain_remove(PGconn *conn, const char *name, bool force, const char **error_r)
{
	char *domain, id[24];
	PGresult *res = NULL;
	int ret = -1;

	if (admin_domain_normalize(name, &domain, error_r) < 0)
		return -1;
	if (admin_begin(conn, error_r) < 0) {
		free(domain);
		return -1;
	}
	int found = admin_domain_id(conn, domain, true, id, error_r);
	if (found == 0)
		admin_fail(error_r, "unknown domain %s", domain);
	if (found <= 0)
		goto out;

	const char *params[] = {id};
	res = admin_exec(conn,
	                 "SELECT (SELECT count(*) FROM accounts WHERE domain_id = $1), "
	                 "(SELECT count(*) FROM aliases WHERE domain_id = $1)",
	                 1, params, error_r);
	if (res == NULL)
		goto out;
	long accounts = (long)admin_int(res, 0, 0), aliases = (long)admin_int(res, 0, 1);
	if (!force && (accounts > 0 || aliases > 0)) {
		admin_fail(error_r,
		           "domain %s still has %ld account%s and %ld alias%s "
		           "(--force removes them with it)",
		           domain, accounts, accounts == 1 ? "" : "s", aliases,
		           aliases == 1 ? "" : "es");
		goto out;
	}
	if (admin_run(conn, "DELETE FROM domains WHERE id = $1", 1, params, error_r) < 0)
		goto out;
	ret = admin_commit(conn, error_r);
out:
	if (ret < 0)
		admin_rollback(conn);
	PQclear(res);
	free(domain);
	return ret;
}

/* Accounts */

static int
admin_account_insert(PGconn *conn, const char *address, const char *kind, const char *display_name,
                     int64_t quota_bytes, const char *password_hash, bool folders, int64_t *id_r,
                     const char **error_r)
{
	char *normal, *local, *domain, domain_id[24], quota[24];
	PGresult *res;
	int ret = -1;

	if (quota_bytes < 0)
		return admin_fail(error_r, "invalid quota");
	if (display_name == NULL)
		display_name = "";
	if (admin_check_display_name(display_name, error_r) < 0)
		return -1;
	if (admin_address_normalize(address, &normal, &local, &domain, error_r) < 0)
		return -1;
	admin_id_text(quota_bytes, quota);
	if (admin_begin(conn, error_r) < 0)
		goto out_free;
	if (admin_need_domain(conn, domain, domain_id, error_r) < 0 ||
	    admin_address_unused(conn, domain_id, local, normal, false, error_r) < 0)
		goto out;

	const char *params[] = {domain_id, local, kind, display_name, quota};
	res = admin_exec(conn,
	                 "INSERT INTO accounts (domain_id, local_part, kind, display_name, "
	                 "quota_bytes) VALUES ($1, $2, $3, $4, $5) RETURNING id",
	                 5, params, error_r);
	if (res == NULL)
		goto out;
	const char *id_params[] = {PQgetvalue(res, 0, 0), password_hash};
	if (id_r != NULL)
		*id_r = admin_int(res, 0, 0);
	if (password_hash != NULL &&
	    admin_run(
	        conn,
	        "INSERT INTO credentials (account_id, kind, secret) VALUES ($1, 'password', $2)", 2,
	        id_params, error_r) < 0) {
		PQclear(res);
		goto out;
	}
	if (folders &&
	    admin_run(conn, "SELECT floe_create_default_folders($1)", 1, id_params, error_r) < 0) {
		PQclear(res);
		goto out;
	}
	PQclear(res);
	ret = admin_commit(conn, error_r);
out:
	if (ret < 0)
		admin_rollback(conn);
out_free:
	free(normal);
	free(local);
	free(domain);
	return ret;
}

int
admin_user_add(PGconn *conn, const struct admin_user_new *user, int64_t *id_r, const char **error_r)
{
	const char *kind = user->kind != NULL ? user->kind : "user";

	if (strcmp(kind, "user") != 0 && strcmp(kind, "resource") != 0)
		return admin_fail(error_r, "invalid kind '%s' (user or resource)",
		                  admin_quote(kind));
	return admin_account_insert(conn, user->address, kind, user->display_name,
	                            user->quota_bytes, user->password_hash, true, id_r, error_r);
}

/* Lists accounts of the given kinds, optionally within one domain. */
static int
admin_account_list(PGconn *conn, const char *kinds, const char *domain_filter,
                   struct admin_account_list *list_r, const char **error_r)
{
	char *domain = NULL, domain_id[24];
	int ret;

	list_r->items = NULL;
	list_r->count = 0;
	if (domain_filter != NULL) {
		if (admin_domain_normalize(domain_filter, &domain, error_r) < 0)
			return -1;
		if (admin_need_domain(conn, domain, domain_id, error_r) < 0) {
			free(domain);
			return -1;
		}
	}
	const char *params[] = {kinds, domain};
	ret = admin_account_list_query(
	    conn,
	    "SELECT " ADMIN_ACCOUNT_COLUMNS " FROM accounts a JOIN domains d ON d.id = "
	    "a.domain_id WHERE a.kind = ANY (string_to_array($1, ',')) "
	    "AND ($2::text IS NULL OR d.name = $2) ORDER BY d.name, a.local_part",
	    2, params, list_r, error_r);
	free(domain);
	return ret;
}

int
admin_user_list(PGconn *conn, const char *domain, struct admin_account_list *list_r,
                const char **error_r)
{
	return admin_account_list(conn, "user,resource", domain, list_r, error_r);
}

static int
admin_strings_query(PGconn *conn, const char *sql, const char *id, struct admin_strings *list_r,
                    const char **error_r)
{
	const char *params[] = {id};
	PGresult *res = admin_exec(conn, sql, 1, params, error_r);

	if (res == NULL)
		return -1;
	admin_strings_from_result(res, list_r);
	PQclear(res);
	return 0;
}

int
admin_account_show(PGconn *conn, const char *address, struct admin_account *account_r,
                   const char **error_r)
{
	struct admin_target target;
	PGresult *res;
	int ret = -1;

	memset(account_r, 0, sizeof(*account_r));
	/* one snapshot for the several queries below */
	if (admin_run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, error_r) <
	    0)
		return -1;
	if (admin_target_find(conn, address, false, &target, error_r) < 0) {
		admin_rollback(conn);
		return -1;
	}
	const char *params[] = {target.id};
	res = admin_exec(conn,
	                 "SELECT " ADMIN_ACCOUNT_COLUMNS ", "
	                 "EXISTS (SELECT 1 FROM credentials c WHERE c.account_id = a.id AND "
	                 "c.kind = 'password'), "
	                 "(SELECT count(*) FROM folders f WHERE f.account_id = a.id) "
	                 "FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = $1",
	                 1, params, error_r);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		admin_fail(error_r, "unknown account %s", target.address);
		goto out;
	}
	admin_account_from_row(res, 0, account_r);
	account_r->has_password = admin_bool(res, 0, ADMIN_ACCOUNT_NCOLUMNS);
	account_r->folders = (unsigned long)admin_int(res, 0, ADMIN_ACCOUNT_NCOLUMNS + 1);
	PQclear(res);

	if (admin_strings_query(
	        conn,
	        "SELECT al.local_part || '@' || d.name FROM aliases al JOIN domains "
	        "d ON d.id = al.domain_id WHERE al.account_id = $1 "
	        "ORDER BY d.name, al.local_part",
	        target.id, &account_r->aliases, error_r) < 0 ||
	    admin_strings_query(conn,
	                        "SELECT g.local_part || '@' || d.name FROM group_members m "
	                        "JOIN accounts g ON g.id = m.account_id JOIN domains d ON d.id = "
	                        "g.domain_id WHERE m.member_id = $1 ORDER BY d.name, g.local_part",
	                        target.id, &account_r->groups, error_r) < 0 ||
	    admin_strings_query(conn,
	                        "SELECT u.local_part || '@' || d.name FROM group_members m "
	                        "JOIN accounts u ON u.id = m.member_id JOIN domains d ON d.id = "
	                        "u.domain_id WHERE m.account_id = $1 ORDER BY d.name, u.local_part",
	                        target.id, &account_r->member_addresses, error_r) < 0)
		goto out;
	ret = admin_commit(conn, error_r);
out:
	if (ret < 0) {
		admin_rollback(conn);
		admin_account_clear(account_r);
	}
	admin_target_clear(&target);
	return ret;
}

/* Finds the account and checks its kind: want_group selects groups only,
 * otherwise users and resources only. */
static int
admin_target_find_kind(PGconn *conn, const char *address, bool want_group,
                       struct admin_target *target_r, const char **error_r)
{
	if (admin_target_find(conn, address, true, target_r, error_r) < 0)
		return -1;
	bool is_group = strcmp(target_r->kind, "group") == 0;
	if (want_group && !is_group) {
		admin_fail(error_r, "%s is not a group", target_r->address);
		admin_target_clear(target_r);
		return -1;
	}
	if (!want_group && is_group) {
		admin_fail(error_r, "%s is a group (use floectl group ...)", target_r->address);
		admin_target_clear(target_r);
		return -1;
	}
	return 0;
}

/* Runs one statement on the account found by address, in a transaction. */
static int
admin_account_write(PGconn *conn, const char *address, bool want_group, const char *sql,
                    const char *param2, const char *param3, const char *param4,
                    const char **error_r)
{
	struct admin_target target;
	int ret = -1;

	if (admin_begin(conn, error_r) < 0)
		return -1;
	if (admin_target_find_kind(conn, address, want_group, &target, error_r) < 0)
		return admin_rollback(conn);
	const char *params[] = {target.id, param2, param3, param4};
	int nparams = param4 != NULL ? 4 : param3 != NULL ? 3 : param2 != NULL ? 2 : 1;
	if (admin_run(conn, sql, nparams, params, error_r) == 0)
		ret = admin_commit(conn, error_r);
	if (ret < 0)
		admin_rollback(conn);
	admin_target_clear(&target);
	return ret;
}

int
admin_user_remove(PGconn *conn, const char *address, const char **error_r)
{
	return admin_account_write(conn, address, false, "DELETE FROM accounts WHERE id = $1", NULL,
	                           NULL, NULL, error_r);
}

int
admin_user_passwd(PGconn *conn, const char *address, const char *password_hash,
                  const char **error_r)
{
	if (password_hash == NULL || password_hash[0] == '\0')
		return admin_fail(error_r, "empty password hash");
	return admin_account_write(conn, address, false,
	                           "INSERT INTO credentials (account_id, kind, secret) "
	                           "VALUES ($1, 'password', $2) ON CONFLICT (account_id, kind) "
	                           "DO UPDATE SET secret = EXCLUDED.secret, updated_at = now()",
	                           password_hash, NULL, NULL, error_r);
}

int
admin_user_set(PGconn *conn, const char *address, const struct admin_user_changes *changes,
               const char **error_r)
{
	struct admin_target target;
	char quota[24];
	int ret = -1;

	if (changes->display_name == NULL && !changes->set_quota && !changes->set_enabled)
		return admin_fail(error_r, "nothing to change");
	if (changes->display_name != NULL &&
	    admin_check_display_name(changes->display_name, error_r) < 0)
		return -1;
	if (changes->set_quota && changes->quota_bytes < 0)
		return admin_fail(error_r, "invalid quota");
	admin_id_text(changes->quota_bytes, quota);
	if (admin_begin(conn, error_r) < 0)
		return -1;
	if (admin_target_find(conn, address, true, &target, error_r) < 0)
		return admin_rollback(conn);
	const char *params[] = {target.id, changes->display_name, changes->set_quota ? quota : NULL,
	                        !changes->set_enabled ? NULL
	                        : changes->enabled    ? "true"
	                                              : "false"};
	if (admin_run(conn,
	              "UPDATE accounts SET display_name = coalesce($2, display_name), "
	              "quota_bytes = coalesce($3::bigint, quota_bytes), "
	              "enabled = coalesce($4::boolean, enabled), updated_at = now() WHERE id = $1",
	              4, params, error_r) == 0)
		ret = admin_commit(conn, error_r);
	if (ret < 0)
		admin_rollback(conn);
	admin_target_clear(&target);
	return ret;
}

/* Aliases */

int
admin_alias_add(PGconn *conn, const char *alias, const char *address, const char **error_r)
{
	char *normal, *local, *domain, domain_id[24];
	struct admin_target target = {0};
	int ret = -1;

	if (admin_address_normalize(alias, &normal, &local, &domain, error_r) < 0)
		return -1;
	if (admin_begin(conn, error_r) < 0)
		goto out_free;
	if (admin_need_domain(conn, domain, domain_id, error_r) < 0 ||
	    admin_target_find(conn, address, true, &target, error_r) < 0 ||
	    admin_address_unused(conn, domain_id, local, normal, true, error_r) < 0)
		goto out;
	const char *params[] = {target.id, domain_id, local};
	if (admin_run(conn,
	              "INSERT INTO aliases (account_id, domain_id, local_part) VALUES ($1, $2, $3)",
	              3, params, error_r) < 0)
		goto out;
	ret = admin_commit(conn, error_r);
out:
	if (ret < 0)
		admin_rollback(conn);
	admin_target_clear(&target);
out_free:
	free(normal);
	free(local);
	free(domain);
	return ret;
}

int
admin_alias_remove(PGconn *conn, const char *alias, const char **error_r)
{
	char *normal, *local, *domain;
	PGresult *res;
	int ret = 0;

	if (admin_address_normalize(alias, &normal, &local, &domain, error_r) < 0)
		return -1;
	const char *params[] = {domain, local};
	res = admin_exec(conn,
	                 "DELETE FROM aliases al USING domains d WHERE d.id = al.domain_id "
	                 "AND d.name = $1 AND al.local_part = $2",
	                 2, params, error_r);
	if (res == NULL)
		ret = -1;
	else if (strcmp(PQcmdTuples(res), "0") == 0)
		ret = admin_fail(error_r, "unknown alias %s", normal);
	PQclear(res);
	free(normal);
	free(local);
	free(domain);
	return ret;
}

int
admin_alias_list(PGconn *conn, const char *filter, struct admin_alias_list *list_r,
                 const char **error_r)
{
	struct admin_target target = {0};
	char *domain = NULL, domain_id[24] = "";
	PGresult *res;

	list_r->items = NULL;
	list_r->count = 0;
	if (filter != NULL && strchr(filter, '@') != NULL) {
		if (admin_target_find(conn, filter, false, &target, error_r) < 0)
			return -1;
	} else if (filter != NULL) {
		if (admin_domain_normalize(filter, &domain, error_r) < 0)
			return -1;
		int ret = admin_need_domain(conn, domain, domain_id, error_r);
		free(domain);
		if (ret < 0)
			return -1;
	}
	const char *params[] = {target.address != NULL ? target.id : NULL,
	                        domain_id[0] != '\0' ? domain_id : NULL};
	res = admin_exec(conn,
	                 "SELECT al.local_part || '@' || d.name, a.local_part || '@' || ad.name "
	                 "FROM aliases al JOIN domains d ON d.id = al.domain_id "
	                 "JOIN accounts a ON a.id = al.account_id JOIN domains ad ON ad.id = "
	                 "a.domain_id WHERE ($1::bigint IS NULL OR al.account_id = $1) "
	                 "AND ($2::bigint IS NULL OR al.domain_id = $2) "
	                 "ORDER BY d.name, al.local_part",
	                 2, params, error_r);
	admin_target_clear(&target);
	if (res == NULL)
		return -1;
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++) {
		list_r->items[i].alias = admin_value(res, (int)i, 0);
		list_r->items[i].address = admin_value(res, (int)i, 1);
	}
	PQclear(res);
	return 0;
}

void
admin_alias_list_free(struct admin_alias_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].alias);
		free(list->items[i].address);
	}
	xfree_ptr(&list->items);
	list->count = 0;
}

/* Groups */

int
admin_group_add(PGconn *conn, const char *address, const char *display_name, const char **error_r)
{
	return admin_account_insert(conn, address, "group", display_name, 0, NULL, false, NULL,
	                            error_r);
}

int
admin_group_list(PGconn *conn, const char *domain, struct admin_account_list *list_r,
                 const char **error_r)
{
	return admin_account_list(conn, "group", domain, list_r, error_r);
}

int
admin_group_remove(PGconn *conn, const char *address, const char **error_r)
{
	return admin_account_write(conn, address, true, "DELETE FROM accounts WHERE id = $1", NULL,
	                           NULL, NULL, error_r);
}

static int
admin_group_members_change(PGconn *conn, const char *group, const char *const *members,
                           size_t count, bool add, const char **error_r)
{
	struct admin_target target, member;
	int ret = -1;

	if (count == 0)
		return admin_fail(error_r, "no members given");
	if (admin_begin(conn, error_r) < 0)
		return -1;
	if (admin_target_find_kind(conn, group, true, &target, error_r) < 0)
		return admin_rollback(conn);
	for (size_t i = 0; i < count; i++) {
		PGresult *res;

		if (admin_target_find(conn, members[i], false, &member, error_r) < 0)
			goto out;
		if (strcmp(member.id, target.id) == 0) {
			admin_fail(error_r, "a group cannot be a member of itself");
			admin_target_clear(&member);
			goto out;
		}
		const char *params[] = {target.id, member.id};
		res = admin_exec(conn,
		                 add ? "INSERT INTO group_members (account_id, member_id) VALUES "
		                       "($1, $2) ON CONFLICT DO NOTHING"
		                     : "DELETE FROM group_members WHERE account_id = $1 AND "
		                       "member_id = $2",
		                 2, params, error_r);
		if (res != NULL && !add && strcmp(PQcmdTuples(res), "0") == 0) {
			admin_fail(error_r, "%s is not a member of %s", member.address,
			           target.address);
			PQclear(res);
			res = NULL;
		}
		admin_target_clear(&member);
		if (res == NULL)
			goto out;
		PQclear(res);
	}
	ret = admin_commit(conn, error_r);
out:
	if (ret < 0)
		admin_rollback(conn);
	admin_target_clear(&target);
	return ret;
}

int
admin_group_members_add(PGconn *conn, const char *group, const char *const *members, size_t count,
                        const char **error_r)
{
	return admin_group_members_change(conn, group, members, count, true, error_r);
}

int
admin_group_members_remove(PGconn *conn, const char *group, const char *const *members,
                           size_t count, const char **error_r)
{
	return admin_group_members_change(conn, group, members, count, false, error_r);
}

int
admin_group_members_list(PGconn *conn, const char *group, struct admin_account_list *list_r,
                         const char **error_r)
{
	struct admin_target target;
	int ret;

	list_r->items = NULL;
	list_r->count = 0;
	if (admin_target_find(conn, group, false, &target, error_r) < 0)
		return -1;
	if (strcmp(target.kind, "group") != 0) {
		admin_fail(error_r, "%s is not a group", target.address);
		admin_target_clear(&target);
		return -1;
	}
	const char *params[] = {target.id};
	ret = admin_account_list_query(
	    conn,
	    "SELECT " ADMIN_ACCOUNT_COLUMNS " FROM group_members m JOIN accounts a ON a.id = "
	    "m.member_id JOIN domains d ON d.id = a.domain_id WHERE m.account_id = $1 "
	    "ORDER BY d.name, a.local_part",
	    1, params, list_r, error_r);
	admin_target_clear(&target);
	return ret;
}

/* The administration store API behind floectl: domains, accounts (users,
 * resources, groups), aliases and group membership over one BLOCKING libpq
 * connection. For the command-line tool only, never for a worker.
 *
 * Conventions: addresses are "local@domain", accepted in any case and
 * stored lower-cased; every function that writes does so in one
 * transaction (nothing is written when it fails); functions return 0 or -1
 * with *error_r set to a one-line message in static storage, valid until
 * the next admin_* call ("unknown domain example.org", "account a@b already
 * exists", "database error: ..."). Returned structures are owned by the
 * caller and released with the matching _clear/_free function. */
#ifndef FLOE_ADMIN_H
#define FLOE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Longest address accepted (RFC 5321 path limit less the angle brackets). */
#define ADMIN_ADDRESS_MAX 254

struct admin_strings {
	char **items;
	size_t count;
};

struct admin_domain {
	int64_t id;
	char *name;
	bool local_login;
	unsigned long accounts; /* accounts of every kind in the domain */
	unsigned long aliases;  /* aliases whose address is in the domain */
	char *created;          /* "YYYY-MM-DDTHH:MM:SSZ" */
};

struct admin_domain_list {
	struct admin_domain *items;
	size_t count;
};

struct admin_account {
	int64_t id;
	char *address;
	char *kind; /* "user", "group" or "resource" */
	char *display_name;
	bool enabled;
	int64_t quota_bytes; /* 0: unlimited */
	char *created;
	unsigned long members; /* groups: number of members */

	/* Filled by admin_account_show only. */
	bool has_password;
	unsigned long folders;
	struct admin_strings aliases;          /* further addresses of the account */
	struct admin_strings groups;           /* groups it is a member of */
	struct admin_strings member_addresses; /* groups: its members */
};

struct admin_account_list {
	struct admin_account *items;
	size_t count;
};

struct admin_alias {
	char *alias;
	char *address; /* the account it delivers to */
};

struct admin_alias_list {
	struct admin_alias *items;
	size_t count;
};

/* Checks and lower-cases a domain name (LDH labels, at most 253 bytes).
 * Returns 0 with *name_r allocated, or -1 with *error_r set. */
int admin_domain_normalize(const char *name, char **name_r, const char **error_r);
/* Checks and lower-cases "local@domain" (RFC 5321 dot-atom local part of at
 * most 64 bytes, a valid domain name). Returns 0 with *address_r allocated
 * ("local@domain") and, when not NULL, *local_r and *domain_r allocated, or
 * -1 with *error_r set ("invalid address ..."). */
int admin_address_normalize(const char *address, char **address_r, char **local_r, char **domain_r,
                            const char **error_r);

/* Domains. admin_domain_remove refuses while the domain still has accounts
 * or aliases, unless force is set: then they are removed with it. */
int admin_domain_add(PGconn *conn, const char *name, bool local_login, const char **error_r);
int admin_domain_get(PGconn *conn, const char *name, struct admin_domain *domain_r,
                     const char **error_r);
int admin_domain_list(PGconn *conn, struct admin_domain_list *list_r, const char **error_r);
int admin_domain_remove(PGconn *conn, const char *name, bool force, const char **error_r);
void admin_domain_clear(struct admin_domain *domain);
void admin_domain_list_free(struct admin_domain_list *list);

/* A new user or resource account. */
struct admin_user_new {
	const char *address;
	const char *kind;          /* "user" or "resource"; NULL: "user" */
	const char *display_name;  /* NULL: empty */
	int64_t quota_bytes;       /* 0: unlimited */
	const char *password_hash; /* the Argon2id string; NULL: no password */
};

/* Creates the account, its password credential and its default folders
 * (floe_create_default_folders) in one transaction. Fails with "unknown
 * domain d", "account a already exists", "address a already used as an
 * alias of b". Returns 0 with *id_r set (when not NULL). */
int admin_user_add(PGconn *conn, const struct admin_user_new *user, int64_t *id_r,
                   const char **error_r);
/* Users and resources, optionally only those of one domain (NULL: all),
 * ordered by domain and local part. */
int admin_user_list(PGconn *conn, const char *domain, struct admin_account_list *list_r,
                    const char **error_r);
/* Everything about one account of any kind ("unknown account a"). */
int admin_account_show(PGconn *conn, const char *address, struct admin_account *account_r,
                       const char **error_r);
/* Removes a user or resource with everything it owns (folders, items,
 * aliases, credentials, memberships: the schema cascades). Groups are
 * refused: see admin_group_remove. */
int admin_user_remove(PGconn *conn, const char *address, const char **error_r);
/* Replaces the password of a user or resource. */
int admin_user_passwd(PGconn *conn, const char *address, const char *password_hash,
                      const char **error_r);

/* Changes to an account of any kind; fields not set stay as they are. */
struct admin_user_changes {
	const char *display_name; /* NULL: unchanged */
	bool set_quota;
	int64_t quota_bytes;
	bool set_enabled;
	bool enabled;
};
int admin_user_set(PGconn *conn, const char *address, const struct admin_user_changes *changes,
                   const char **error_r);

/* Aliases: alias becomes a further address of the account address names. */
int admin_alias_add(PGconn *conn, const char *alias, const char *address, const char **error_r);
int admin_alias_remove(PGconn *conn, const char *alias, const char **error_r);
/* filter: NULL for every alias, an account address for its aliases, or a
 * domain name for the aliases in that domain. */
int admin_alias_list(PGconn *conn, const char *filter, struct admin_alias_list *list_r,
                     const char **error_r);
void admin_alias_list_free(struct admin_alias_list *list);

/* Groups are accounts of kind "group" without password or folders; their
 * members are accounts of any kind (not the group itself). */
int admin_group_add(PGconn *conn, const char *address, const char *display_name,
                    const char **error_r);
int admin_group_list(PGconn *conn, const char *domain, struct admin_account_list *list_r,
                     const char **error_r);
int admin_group_remove(PGconn *conn, const char *address, const char **error_r);
/* Adds members (already present ones are left alone) or removes them ("a
 * is not a member of g"); all or nothing. */
int admin_group_members_add(PGconn *conn, const char *group, const char *const *members,
                            size_t count, const char **error_r);
int admin_group_members_remove(PGconn *conn, const char *group, const char *const *members,
                               size_t count, const char **error_r);
int admin_group_members_list(PGconn *conn, const char *group, struct admin_account_list *list_r,
                             const char **error_r);

void admin_account_clear(struct admin_account *account);
void admin_account_list_free(struct admin_account_list *list);

#endif

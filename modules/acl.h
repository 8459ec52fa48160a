/* Access rights (RFC 4314) as protocol-independent data: rights strings
 * parsed and written in canonical form with the obsolete RFC 2086 "c" and
 * "d" rights, the rights each operation needs, the LISTRIGHTS answer, and
 * the rights as IceWarp's clients name them (Read, Write, Modify, Delete,
 * Administer; presets All and Full), so that IMAP, the sharing dialogs and
 * floectl describe the same stored rights.
 *
 * Rights are bit masks of ACL_* values. The store keeps them as the
 * letters "lrswipkxtea" (never "c" or "d"); owners always have every
 * right. */
#ifndef FLOE_ACL_H
#define FLOE_ACL_H

#include <stdbool.h>
#include <stddef.h>

#define ACL_LOOKUP         0x001u /* l: the folder is visible to LIST, SUBSCRIBE */
#define ACL_READ           0x002u /* r: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from */
#define ACL_SEEN           0x004u /* s: keep \Seen (STORE, APPEND/COPY, FETCH BODY[]) */
#define ACL_WRITE          0x008u /* w: other flags and keywords */
#define ACL_INSERT         0x010u /* i: APPEND, COPY/MOVE into */
#define ACL_POST           0x020u /* p: send to the folder's submission address */
#define ACL_CREATE         0x040u /* k: CREATE children, RENAME into as new parent */
#define ACL_DELETE_MAILBOX 0x080u /* x: DELETE, RENAME away */
#define ACL_DELETE_MSGS    0x100u /* t: set or clear \Deleted */
#define ACL_EXPUNGE        0x200u /* e: EXPUNGE, the expunge of CLOSE, MOVE from */
#define ACL_ADMIN          0x400u /* a: SETACL, DELETEACL, GETACL, LISTRIGHTS */
#define ACL_ALL            0x7ffu

/* The obsolete rights of RFC 2086, as RFC 4314 2.1.1 lets a server define
 * them: "c" is k and x, "d" is e, t and x. Floe grants x with either, so
 * that clients of both RFC 2086 schools (one used "c", the other "d" for
 * DELETE) get at least what they asked for; they are reported whenever
 * any member is granted. */
#define ACL_OBSOLETE_C (ACL_CREATE | ACL_DELETE_MAILBOX)
#define ACL_OBSOLETE_D (ACL_EXPUNGE | ACL_DELETE_MSGS | ACL_DELETE_MAILBOX)

/* Rights that make a SELECT read-write (RFC 4314 5.2: i, e and the rights
 * of the flags Floe shares between users: \Seen, \Deleted and the others). */
#define ACL_WRITE_ANY (ACL_INSERT | ACL_EXPUNGE | ACL_SEEN | ACL_WRITE | ACL_DELETE_MSGS)
/* MYRIGHTS needs any of these (RFC 4314 4). */
#define ACL_MYRIGHTS_ANY                                                                           \
	(ACL_LOOKUP | ACL_READ | ACL_INSERT | ACL_CREATE | ACL_DELETE_MAILBOX | ACL_ADMIN)

/* METADATA (RFC 5464) on a mailbox: reading any entry needs l and r,
 * writing a /private entry l and r, writing a /shared entry also w. */
#define ACL_METADATA_READ    (ACL_LOOKUP | ACL_READ)
#define ACL_METADATA_PRIVATE (ACL_LOOKUP | ACL_READ)
#define ACL_METADATA_SHARED  (ACL_LOOKUP | ACL_READ | ACL_WRITE)

/* Canonical letters, in the order they are written. */
#define ACL_LETTERS "lrswipkxtea"
/* Room for every letter, "c", "d" and the NUL. */
#define ACL_RIGHTS_BUFSIZE 16

/* Parses a rights string: lower-case letters of ACL_LETTERS plus "c" and
 * "d" (expanded as above), each at most once or repeated (no matter).
 * Returns 0 with *rights_r, or -1 with *error_r (static text) for an
 * upper-case letter, a digit or any other character (RFC 4314 3.1: an
 * unknown right is a BAD). The empty string is valid: no rights. */
int acl_rights_parse(const char *s, size_t len, unsigned *rights_r, const char **error_r);

enum acl_modify {
	ACL_MODIFY_REPLACE, /* "lrs" */
	ACL_MODIFY_ADD,     /* "+lrs" */
	ACL_MODIFY_REMOVE,  /* "-lrs" */
};

/* Parses SETACL's third argument: an optional "+" or "-" and rights.
 * Returns 0 or -1 with *error_r as acl_rights_parse. */
int acl_modify_parse(const char *s, size_t len, enum acl_modify *mode_r, unsigned *rights_r,
                     const char **error_r);
/* The rights after applying a modification to current. */
unsigned acl_modify_apply(unsigned current, enum acl_modify mode, unsigned rights);

/* Writes rights in canonical order into buf (ACL_RIGHTS_BUFSIZE bytes),
 * followed by "c" and "d" when with_obsolete and any of their members is
 * granted (RFC 4314 2.1.1: MYRIGHTS and ACL responses). Returns buf. */
char *acl_rights_format(unsigned rights, bool with_obsolete, char *buf);

/* LISTRIGHTS (RFC 4314 3.7): the rights always granted, then the groups
 * that may be granted, each independently. The owner always has every
 * right (required = all, no optional groups); anybody else is granted
 * nothing by default and may get each right on its own. The strings are
 * static; *optional_r holds *noptional_r of them. */
void acl_listrights(bool owner, const char **required_r, const char *const **optional_r,
                    size_t *noptional_r);

/* The right that setting or clearing flag needs (RFC 4314 4): \Seen s,
 * \Deleted t, anything else w. flag is compared case-insensitively. */
unsigned acl_flag_right(const char *flag);
/* The union of acl_flag_right over flags. */
unsigned acl_flags_rights(const char *const *flags, size_t count);
/* True when rights allow keeping flag on a copied or appended message. */
bool acl_flag_allowed(unsigned rights, const char *flag);

/* Predicates. */
static inline bool
acl_has(unsigned rights, unsigned needed)
{
	return (rights & needed) == needed;
}
/* A folder is visible (its existence may be revealed) with l or r; a
 * command refused on an invisible folder answers "no such mailbox". */
static inline bool
acl_visible(unsigned rights)
{
	return (rights & (ACL_LOOKUP | ACL_READ)) != 0;
}
/* SELECT gives READ-WRITE (else READ-ONLY). */
static inline bool
acl_writable(unsigned rights)
{
	return (rights & ACL_WRITE_ANY) != 0;
}

/* ---------------------------------------------------------------------
 * Rights as the clients name them (issue 4; Outlook Sync and WebClient
 * sharing dialogs). Each name stands for a fixed set of letters:
 *
 *   Read        lrs   see the folder, read items, keep their read state
 *   Write       ik    create items and subfolders
 *   Modify      w     change items (flags, keywords; a groupware item's
 *                     new version is checked against w by the groupware
 *                     layer)
 *   Delete      tex   delete items (\Deleted, expunge) and subfolders
 *   Administer  a     the ACL and private items
 *
 *   All         lrswipkxte   everything but Administer
 *   Full        lrswipkxtea  everything
 *
 * p (post) is part of All and Full only. Clients that show Administer as
 * "everything" send Full; Floe keeps exactly the letters granted.
 */
struct acl_client_right {
	const char *name;
	unsigned rights;
	bool preset; /* All, Full */
};

extern const struct acl_client_right acl_client_rights[];
extern const size_t acl_client_rights_count;

/* The rights of a client name (Read, ..., Full), case-insensitive.
 * Returns 0 with *rights_r, or -1 for an unknown name. */
int acl_client_name_rights(const char *name, unsigned *rights_r);
/* The client names that describe rights: the preset when rights are
 * exactly a preset, else every right name whose letters are all granted
 * (in the order of the table). Returns the number written to names_r
 * (at most max). Letters no name covers alone are not described. */
size_t acl_rights_client_names(unsigned rights, const char **names_r, size_t max);

#endif

/* RFC 4314 rights strings, the rights operations need, LISTRIGHTS, and the
 * client-facing names of rights (see acl.h for the mapping). Pure code,
 * no I/O. */
#include "acl.h"

#include <string.h>
#include <strings.h>

static const struct {
	char letter;
	unsigned bit;
} acl_letters[] = {
    {'l', ACL_LOOKUP},      {'r', ACL_READ},    {'s', ACL_SEEN},   {'w', ACL_WRITE},
    {'i', ACL_INSERT},      {'p', ACL_POST},    {'k', ACL_CREATE}, {'x', ACL_DELETE_MAILBOX},
    {'t', ACL_DELETE_MSGS}, {'e', ACL_EXPUNGE}, {'a', ACL_ADMIN},
};

int
acl_rights_parse(const char *s, size_t len, unsigned *rights_r, const char **error_r)
{
	unsigned rights = 0;

	if (s == NULL && len > 0) {
		*error_r = "Missing rights";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		size_t k;

		if (ch == 'c') {
			rights |= ACL_OBSOLETE_C;
			continue;
		}
		if (ch == 'd') {
			rights |= ACL_OBSOLETE_D;
			continue;
		}
		for (k = 0; k < sizeof(acl_letters) / sizeof(*acl_letters); k++) {
			if (acl_letters[k].letter == ch)
				break;
		}
		if (k < sizeof(acl_letters) / sizeof(*acl_letters)) {
			rights |= acl_letters[k].bit;
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			*error_r = "Uppercase rights are not allowed";
		else if (ch >= '0' && ch <= '9')
			*error_r = "Numeric rights are not supported (rights are lrswipkxteacd)";
		else
			*error_r = "Unsupported right (rights are lrswipkxteacd)";
		return -1;
	}
	*rights_r = rights;
	return 0;
}

int
acl_modify_parse(const char *s, size_t len, enum acl_modify *mode_r, unsigned *rights_r,
                 const char **error_r)
{
	enum acl_modify mode = ACL_MODIFY_REPLACE;

	if (s != NULL && len > 0 && (s[0] == '+' || s[0] == '-')) {
		mode = s[0] == '+' ? ACL_MODIFY_ADD : ACL_MODIFY_REMOVE;
		s++;
		len--;
	}
	if (acl_rights_parse(s, len, rights_r, error_r) < 0)
		return -1;
	*mode_r = mode;
	return 0;
}

unsigned
acl_modify_apply(unsigned current, enum acl_modify mode, unsigned rights)
{
	switch (mode) {
	case ACL_MODIFY_ADD:
		return (current | rights) & ACL_ALL;
	case ACL_MODIFY_REMOVE:
		return current & ~rights & ACL_ALL;
	case ACL_MODIFY_REPLACE:
		break;
	}
	return rights & ACL_ALL;
}

char *
acl_rights_format(unsigned rights, bool with_obsolete, char *buf)
{
	size_t n = 0;

	for (size_t k = 0; k < sizeof(acl_letters) / sizeof(*acl_letters); k++) {
		if ((rights & acl_letters[k].bit) != 0)
			buf[n++] = acl_letters[k].letter;
	}
	if (with_obsolete && (rights & ACL_OBSOLETE_C) != 0)
		buf[n++] = 'c';
	if (with_obsolete && (rights & ACL_OBSOLETE_D) != 0)
		buf[n++] = 'd';
	buf[n] = '\0';
	return buf;
}

void
acl_listrights(bool owner, const char **required_r, const char *const **optional_r,
               size_t *noptional_r)
{
	static const char *const each[] = {"l", "r", "s", "w", "i", "p", "k",
	                                   "x", "t", "e", "a", "c", "d"};

	if (owner) {
		*required_r = ACL_LETTERS "cd";
		*optional_r = each;
		*noptional_r = 0;
		return;
	}
	*required_r = "";
	*optional_r = each;
	*noptional_r = sizeof(each) / sizeof(*each);
}

unsigned
acl_flag_right(const char *flag)
{
	if (flag != NULL && strcasecmp(flag, "\\Seen") == 0)
		return ACL_SEEN;
	if (flag != NULL && strcasecmp(flag, "\\Deleted") == 0)
		return ACL_DELETE_MSGS;
	return ACL_WRITE;
}

unsigned
acl_flags_rights(const char *const *flags, size_t count)
{
	unsigned rights = 0;

	for (size_t i = 0; i < count; i++)
		rights |= acl_flag_right(flags[i]);
	return rights;
}

bool
acl_flag_allowed(unsigned rights, const char *flag)
{
	return (rights & acl_flag_right(flag)) != 0;
}

/* --- Client names --- */

const struct acl_client_right acl_client_rights[] = {
    {.name = "Read", .rights = ACL_LOOKUP | ACL_READ | ACL_SEEN},
    {.name = "Write", .rights = ACL_INSERT | ACL_CREATE},
    {.name = "Modify", .rights = ACL_WRITE},
    {.name = "Delete", .rights = ACL_DELETE_MSGS | ACL_EXPUNGE | ACL_DELETE_MAILBOX},
    {.name = "Administer", .rights = ACL_ADMIN},
    {.name = "All", .rights = ACL_ALL & ~ACL_ADMIN, .preset = true},
    {.name = "Full", .rights = ACL_ALL, .preset = true},
};
const size_t acl_client_rights_count = sizeof(acl_client_rights) / sizeof(*acl_client_rights);

int
acl_client_name_rights(const char *name, unsigned *rights_r)
{
	for (size_t i = 0; name != NULL && i < acl_client_rights_count; i++) {
		if (strcasecmp(acl_client_rights[i].name, name) == 0) {
			*rights_r = acl_client_rights[i].rights;
			return 0;
		}
	}
	return -1;
}

size_t
acl_rights_client_names(unsigned rights, const char **names_r, size_t max)
{
	size_t n = 0;

	rights &= ACL_ALL;
	for (size_t i = 0; i < acl_client_rights_count; i++) {
		if (acl_client_rights[i].preset && acl_client_rights[i].rights == rights) {
			if (max > 0)
				names_r[n++] = acl_client_rights[i].name;
			return n;
		}
	}
	for (size_t i = 0; i < acl_client_rights_count && n < max; i++) {
		if (!acl_client_rights[i].preset && acl_has(rights, acl_client_rights[i].rights))
			names_r[n++] = acl_client_rights[i].name;
	}
	return n;
}

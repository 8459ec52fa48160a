/* Unit test for modules/acl.c: rights strings with the obsolete c and d
 * rights, SETACL modifications, canonical output, LISTRIGHTS, the rights
 * flags need, and the client names of rights. */
#include <string.h>

#include "acl.h"
#include "tap.h"

static const char *
fmt(unsigned rights, bool obsolete)
{
	static char buf[ACL_RIGHTS_BUFSIZE];

	return acl_rights_format(rights, obsolete, buf);
}

static unsigned
parse(const char *s)
{
	unsigned rights = 0xdead;
	const char *error = NULL;

	if (acl_rights_parse(s, strlen(s), &rights, &error) < 0)
		return 0xffffffffu;
	return rights;
}

static void
test_parse(void)
{
	const char *error = NULL;
	unsigned rights;

	is_str(fmt(parse("lrswipkxtea"), false), "lrswipkxtea", "every letter");
	is_str(fmt(parse("aetxkpiwsrl"), false), "lrswipkxtea", "any order, canonical output");
	is_int(parse(""), 0, "empty string: no rights");
	is_str(fmt(parse("lrr"), false), "lr", "repeated letter");
	is_str(fmt(parse("c"), false), "kx", "c is k and x");
	is_str(fmt(parse("d"), false), "xte", "d is e, t and x");
	is_str(fmt(parse("lrswicda"), false), "lrswikxtea", "RFC 2086 full set");
	is_int(acl_rights_parse("lrQs", 4, &rights, &error), -1, "uppercase refused");
	is_str(error, "Uppercase rights are not allowed", "uppercase error");
	is_int(acl_rights_parse("lrq", 3, &rights, &error), -1, "unknown right refused");
	is_int(acl_rights_parse("l1", 2, &rights, &error), -1, "digit refused");
	is_int(acl_rights_parse("l r", 3, &rights, &error), -1, "space refused");
	is_int(acl_rights_parse("l\0r", 3, &rights, &error), -1, "NUL refused");
	is_int(acl_rights_parse("+l", 2, &rights, &error), -1, "sign is not a right");
}

static void
test_modify(void)
{
	enum acl_modify mode;
	unsigned rights;
	const char *error;

	is_int(acl_modify_parse("+cda", 4, &mode, &rights, &error), 0, "+cda parses");
	is_int(mode, ACL_MODIFY_ADD, "+ adds");
	is_str(fmt(acl_modify_apply(parse("lrswi"), mode, rights), true), "lrswikxteacd",
	       "RFC 4314 3.1 example: lrswi +cda");
	is_int(acl_modify_parse("-w", 2, &mode, &rights, &error), 0, "-w parses");
	is_int(mode, ACL_MODIFY_REMOVE, "- removes");
	is_str(fmt(acl_modify_apply(parse("lrsw"), mode, rights), false), "lrs", "lrsw -w");
	is_int(acl_modify_parse("lr", 2, &mode, &rights, &error), 0, "plain parses");
	is_int(mode, ACL_MODIFY_REPLACE, "no sign replaces");
	is_str(fmt(acl_modify_apply(parse("lrswite"), mode, rights), false), "lr", "replace");
	is_int(acl_modify_parse("-", 1, &mode, &rights, &error), 0, "bare - parses");
	is_int(rights, 0, "bare -: nothing");
	is_int(acl_modify_parse("", 0, &mode, &rights, &error), 0, "empty parses");
	is_int(acl_modify_parse("+X", 2, &mode, &rights, &error), -1, "+X refused");
	is_int(acl_modify_parse("++l", 3, &mode, &rights, &error), -1, "two signs refused");
}

static void
test_format(void)
{
	is_str(fmt(ACL_ALL, true), "lrswipkxteacd", "all with c and d");
	is_str(fmt(ACL_LOOKUP | ACL_READ, true), "lr", "no c/d without members");
	is_str(fmt(ACL_CREATE, true), "kc", "k alone reports c");
	is_str(fmt(ACL_DELETE_MSGS, true), "td", "t alone reports d");
	is_str(fmt(ACL_EXPUNGE, true), "ed", "e alone reports d");
	is_str(fmt(ACL_DELETE_MAILBOX, true), "xcd", "x reports both");
	is_str(fmt(ACL_CREATE, false), "k", "without obsolete letters");
	is_str(fmt(0, true), "", "nothing");
	/* RFC 4314 2.1.1 example: SETACL lrswikda, GETACL shows c and d */
	is_str(fmt(parse("lrswikda"), true), "lrswikxteacd", "lrswikda round trip");
	is_str(fmt(parse(fmt(ACL_ALL, true)), true), "lrswipkxteacd", "output parses back");
}

static void
test_listrights(void)
{
	const char *required;
	const char *const *optional;
	size_t n;
	char all[64] = "";

	acl_listrights(false, &required, &optional, &n);
	is_str(required, "", "nothing required for others");
	is_int(n, 13, "13 independent rights");
	for (size_t i = 0; i < n; i++)
		strcat(all, optional[i]);
	is_str(all, "lrswipkxteacd", "each right on its own, c and d last");
	acl_listrights(true, &required, &optional, &n);
	is_str(required, "lrswipkxteacd", "owner always has everything");
	is_int(n, 0, "owner: nothing optional");
}

static void
test_flags(void)
{
	const char *const flags[] = {"\\Seen", "\\Answered", "$Label"};
	const char *const deleted[] = {"\\DELETED"};

	is_int(acl_flag_right("\\Seen"), ACL_SEEN, "\\Seen needs s");
	is_int(acl_flag_right("\\seen"), ACL_SEEN, "any case");
	is_int(acl_flag_right("\\Deleted"), ACL_DELETE_MSGS, "\\Deleted needs t");
	is_int(acl_flag_right("\\Flagged"), ACL_WRITE, "\\Flagged needs w");
	is_int(acl_flag_right("$Forwarded"), ACL_WRITE, "keyword needs w");
	is_int(acl_flags_rights(flags, 3), ACL_SEEN | ACL_WRITE, "union");
	is_int(acl_flags_rights(deleted, 1), ACL_DELETE_MSGS, "\\DELETED");
	is_int(acl_flags_rights(NULL, 0), 0, "no flags");
	ok(acl_flag_allowed(parse("rwis"), "\\Seen"), "rwis keeps \\Seen");
	ok(!acl_flag_allowed(parse("rwis"), "\\Deleted"), "rwis drops \\Deleted");
	ok(acl_flag_allowed(parse("rwis"), "$Forwarded"), "rwis keeps keywords");
	ok(!acl_flag_allowed(parse("rsti"), "\\Answered"), "rsti drops \\Answered");
}

static void
test_predicates(void)
{
	ok(acl_visible(ACL_LOOKUP), "l is visible");
	ok(acl_visible(ACL_READ), "r is visible");
	ok(!acl_visible(ACL_INSERT | ACL_POST), "i p is not");
	ok(!acl_writable(parse("lr")), "lr is read-only");
	ok(acl_writable(parse("lrs")), "lrs writes \\Seen: read-write");
	ok(acl_writable(parse("lri")), "i is read-write");
	ok(acl_writable(parse("lre")), "e is read-write");
	ok(!acl_writable(parse("lrpka")), "p k a are not");
	ok(acl_has(parse("lrswipkxtea"), ACL_METADATA_SHARED), "all has metadata rights");
	ok(!acl_has(parse("lrs"), ACL_METADATA_SHARED), "lrs cannot write shared metadata");
	ok(acl_has(parse("lrs"), ACL_METADATA_PRIVATE), "lrs can write private metadata");
	ok((parse("x") & ACL_MYRIGHTS_ANY) != 0, "x allows MYRIGHTS");
	ok((parse("swte") & ACL_MYRIGHTS_ANY) == 0, "swte do not");
}

static void
test_client_names(void)
{
	const char *names[8];
	unsigned rights;
	size_t n;

	is_int(acl_client_name_rights("Read", &rights), 0, "Read");
	is_str(fmt(rights, false), "lrs", "Read is lrs");
	is_int(acl_client_name_rights("write", &rights), 0, "write (any case)");
	is_str(fmt(rights, false), "ik", "Write is ik");
	is_int(acl_client_name_rights("Modify", &rights), 0, "Modify");
	is_str(fmt(rights, false), "w", "Modify is w");
	is_int(acl_client_name_rights("Delete", &rights), 0, "Delete");
	is_str(fmt(rights, false), "xte", "Delete is xte");
	is_int(acl_client_name_rights("Administer", &rights), 0, "Administer");
	is_str(fmt(rights, false), "a", "Administer is a");
	is_int(acl_client_name_rights("All", &rights), 0, "All");
	is_str(fmt(rights, false), "lrswipkxte", "All is everything but a");
	is_int(acl_client_name_rights("Full", &rights), 0, "Full");
	is_str(fmt(rights, false), "lrswipkxtea", "Full is everything");
	is_int(acl_client_name_rights("Owner", &rights), -1, "unknown name");
	is_int(acl_client_name_rights(NULL, &rights), -1, "NULL name");

	n = acl_rights_client_names(ACL_ALL, names, 8);
	ok(n == 1 && strcmp(names[0], "Full") == 0, "all rights: Full");
	n = acl_rights_client_names(ACL_ALL & ~ACL_ADMIN, names, 8);
	ok(n == 1 && strcmp(names[0], "All") == 0, "all but a: All");
	n = acl_rights_client_names(parse("lrsik"), names, 8);
	ok(n == 2 && strcmp(names[0], "Read") == 0 && strcmp(names[1], "Write") == 0,
	   "lrsik: Read Write");
	n = acl_rights_client_names(parse("lrswa"), names, 8);
	ok(n == 3 && strcmp(names[2], "Administer") == 0, "lrswa: Read Modify Administer");
	n = acl_rights_client_names(parse("lr"), names, 8);
	is_int(n, 0, "lr alone has no client name");
	n = acl_rights_client_names(parse("lrsik"), names, 1);
	is_int(n, 1, "max is respected");
	/* Every name maps back to its letters. */
	for (size_t i = 0; i < acl_client_rights_count; i++) {
		n = acl_rights_client_names(acl_client_rights[i].rights, names, 8);
		ok(n >= 1 && strcmp(names[n - 1], acl_client_rights[i].name) == 0, "%s round trip",
		   acl_client_rights[i].name);
	}
}

int
main(void)
{
	test_parse();
	test_modify();
	test_format();
	test_listrights();
	test_flags();
	test_predicates();
	test_client_names();
	return done_testing();
}

/* Unit tests for the pure parts of groupware over IMAP: Kolab folder types
 * (parse and format, the owner's and a grantee's view), the names of the
 * computed METADATA entries, the changedsince value, and the parsing of
 * LIST's METADATA return option. */

#include <stdlib.h>
#include <string.h>

#include "imapx/groupware-imap.h"
#include "store-foldertype.h"
#include "tap.h"

static const char *
fmt(const char *type, const char *special, bool dflt, bool own)
{
	static char buf[STORE_FOLDERTYPE_MAX];
	struct store_folder f = {.type = type, .special_use = special, .is_default = dflt};

	return store_foldertype_format(&f, own, buf, sizeof(buf));
}

static void
test_format(void)
{
	is_str(fmt("mail", "inbox", true, true), "mail.inbox", "INBOX");
	is_str(fmt("mail", "sent", false, true), "mail.sentitems", "Sent");
	is_str(fmt("mail", "trash", false, true), "mail.wastebasket", "Trash");
	is_str(fmt("mail", "junk", false, true), "mail.junkemail", "Spam");
	is_str(fmt("mail", "drafts", false, true), "mail.drafts", "Drafts");
	is_str(fmt("mail", "archive", false, true), "mail", "archive has no Kolab subtype");
	is_str(fmt("mail", NULL, false, true), "mail", "plain mail");
	is_str(fmt("event", NULL, true, true), "event.default", "default calendar");
	is_str(fmt("contact", NULL, false, true), "contact", "other address book");
	is_str(fmt("event", NULL, true, false), "event", "a grantee sees no .default");
	is_str(fmt("mail", "sent", false, false), "mail", "nor mail subtypes");
}

static void
test_parse(void)
{
	struct store_foldertype t;
	const char *error;

	ok(store_foldertype_parse("event", 5, &t, &error) == 0 && strcmp(t.type, "event") == 0 &&
	       !t.is_default && t.special_use == NULL,
	   "event");
	ok(store_foldertype_parse("Task.Default", 12, &t, &error) == 0 &&
	       strcmp(t.type, "task") == 0 && t.is_default,
	   "task.default, any case");
	ok(store_foldertype_parse("mail.sentitems", 14, &t, &error) == 0 &&
	       strcmp(t.special_use, "sent") == 0,
	   "mail.sentitems");
	ok(store_foldertype_parse("mail.wastebasket", 16, &t, &error) == 0 &&
	       strcmp(t.special_use, "trash") == 0,
	   "mail.wastebasket");
	ok(store_foldertype_parse("mail.default", 12, &t, &error) < 0, "mail.default refused");
	ok(store_foldertype_parse("event.inbox", 11, &t, &error) < 0, "event.inbox refused");
	ok(store_foldertype_parse("calendar", 8, &t, &error) < 0, "unknown type refused");
	ok(store_foldertype_parse("", 0, &t, &error) < 0, "empty refused");
	ok(store_foldertype_parse("eventx", 5, &t, &error) == 0 && strcmp(t.type, "event") == 0,
	   "length is respected");
	ok(store_foldertype_parse("ev\0nt", 5, &t, &error) < 0, "NUL refused");
}

static void
test_computed_names(void)
{
	uint64_t m = 0;

	is_int(imap_meta_computed("/shared/vendor/kolab/folder-type", NULL), IMAP_META_FOLDERTYPE,
	       "shared folder type");
	is_int(imap_meta_computed("/private/vendor/kolab/folder-type", NULL), IMAP_META_FOLDERTYPE,
	       "private folder type");
	is_int(imap_meta_computed("/public/vendor/kolab/folder-type/value.shared", NULL),
	       IMAP_META_FOLDERTYPE, "IceWarp's folder type");
	is_int(imap_meta_computed("/shared/vendor/kolab/folder-type/x", NULL), IMAP_META_STORED,
	       "below it: stored");
	is_int(imap_meta_computed("/public/vendor/icewarp/folderinfo/changedsince/42", &m),
	       IMAP_META_CHANGEDSINCE, "changedsince");
	is_int((int)m, 42, "its modseq");
	is_int(imap_meta_computed("/public/vendor/icewarp/folderinfo/changedsince/4x", NULL),
	       IMAP_META_PUBLIC_UNKNOWN, "changedsince of no number");
	is_int(imap_meta_computed("/public/vendor/icewarp/folderinfo/changedsince/"
	                          "99999999999999999999",
	                          NULL),
	       IMAP_META_PUBLIC_UNKNOWN, "changedsince out of range");
	is_int(imap_meta_computed("/public/vendor/icewarp/serverinfo/clientip", NULL),
	       IMAP_META_CLIENTIP, "clientip");
	is_int(imap_meta_computed("/public/x", NULL), IMAP_META_PUBLIC_UNKNOWN, "other public");
	is_int(imap_meta_computed("/shared/comment", NULL), IMAP_META_STORED, "stored");
}

static void
test_changedsince(void)
{
	struct store_msg msgs[] = {{.uid = 1}, {.uid = 2}, {.uid = 3}, {.uid = 7}};
	uint32_t vanished[] = {4, 9};
	struct store_msg_list list = {
	    .msgs = msgs, .count = 4, .vanished = vanished, .nvanished = 2};
	struct store_msg_list empty = {0};
	char *s;

	s = imap_meta_changedsince(&list);
	is_str(s, "changed=1%3A3%2C7&vanished=4%2C9", "changed and vanished");
	free(s);
	s = imap_meta_changedsince(&empty);
	is_str(s, "changed=&vanished=", "nothing changed");
	free(s);
}

static void
test_list_metadata_parse(void)
{
	struct imap_arg names[2] = {
	    {.type = IMAP_ARG_QUOTED, .str = "/Shared/Vendor/Kolab/Folder-Type", .len = 32},
	    {.type = IMAP_ARG_ATOM, .str = "/shared/comment", .len = 15},
	};
	struct imap_arg list = {.type = IMAP_ARG_LIST, .list = names, .count = 2};
	struct imap_arg bad_name = {.type = IMAP_ARG_QUOTED, .str = "comment", .len = 7};
	struct imap_arg bad = {.type = IMAP_ARG_LIST, .list = &bad_name, .count = 1};
	struct imap_arg empty = {.type = IMAP_ARG_LIST, .list = NULL, .count = 0};
	struct imap_list_metadata *md = NULL;
	const char *error;

	ok(imap_list_metadata_parse(&list, &md, &error) == 0 && md != NULL, "two entries");
	ok(imap_list_metadata_needs_load(md), "a stored entry needs the query");
	ok(imap_list_metadata_parse(&list, &md, &error) < 0, "METADATA twice refused");
	imap_list_metadata_free(&md);
	ok(md == NULL, "freed");
	list.count = 1;
	ok(imap_list_metadata_parse(&list, &md, &error) == 0 && !imap_list_metadata_needs_load(md),
	   "the folder type alone needs no query");
	imap_list_metadata_free(&md);
	ok(imap_list_metadata_parse(&bad, &md, &error) < 0 && md == NULL, "bad name refused");
	ok(imap_list_metadata_parse(&empty, &md, &error) < 0, "empty list refused");
	ok(imap_list_metadata_parse(&bad_name, &md, &error) < 0, "not a list refused");
}

int
main(void)
{
	test_format();
	test_parse();
	test_computed_names();
	test_changedsince();
	test_list_metadata_parse();
	return done_testing();
}

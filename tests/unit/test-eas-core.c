/* Unit tests of the ActiveSync transport's pure parts: the plain and
 * base64 request URIs (MS-ASHTTP 2.2.1.1.1), protocol versions, item
 * ServerIds, and the folder-set digests Ping compares. */
#include <stdlib.h>
#include <string.h>

#include "eas-private.h"
#include "tap.h"

/* Strings handed out by the parser, freed at the end. */
static char *kept[256];
static size_t nkept;

static char *
keep(void *ctx, const char *s)
{
	char *copy = strdup(s);

	if (nkept < sizeof(kept) / sizeof(kept[0]))
		kept[nkept++] = copy;
	return copy;
}

static const struct eas_query_alloc alloc = {keep, NULL};

static const char *
param(const struct eas_query *q, const char *name)
{
	for (size_t i = 0; i < q->nparams; i++) {
		if (strcmp(q->names[i], name) == 0)
			return q->values[i];
	}
	return NULL;
}

static void
test_plain(void)
{
	struct eas_query q;
	const char *error = NULL;

	ok(eas_query_parse(&alloc,
	                   "Cmd=SmartReply&User=jo%40example.com&DeviceId=ABC123&DeviceType=iPhone"
	                   "&ItemId=5%3A12&SaveInSent=T",
	                   &q, &error) == 0,
	   "plain query parses");
	is_str(q.cmd, "SmartReply", "Cmd");
	is_str(q.user, "jo@example.com", "User %%-decoded");
	is_str(q.device_id, "ABC123", "DeviceId");
	is_str(q.device_type, "iPhone", "DeviceType");
	is_str(param(&q, "ItemId"), "5:12", "ItemId %%-decoded");
	is_str(param(&q, "SaveInSent"), "T", "SaveInSent");
	ok(!q.base64 && q.version == 0, "plain form carries no version");

	ok(eas_query_parse(&alloc, "Cmd=Sync&DeviceType=iPhone", &q, &error) < 0,
	   "DeviceId is required");
	ok(eas_query_parse(&alloc, "Cmd=Sync&DeviceId=a%2Fb&DeviceType=x", &q, &error) < 0,
	   "a DeviceId with '/' is refused");
	ok(eas_query_parse(&alloc, "Cmd=Sync&DeviceId=a%zz&DeviceType=x", &q, &error) < 0,
	   "bad %%-escape");
	ok(eas_query_parse(&alloc, "Cmd=Sync&DeviceId=a%00&DeviceType=x", &q, &error) < 0,
	   "%%00 refused");
	ok(eas_query_parse(&alloc, "", &q, &error) < 0, "empty query");
	ok(eas_query_parse(&alloc, NULL, &q, &error) < 0, "no query");
}

static void
test_base64(void)
{
	struct eas_query q;
	const char *error = NULL;

	/* The example of MS-ASHTTP 2.2.1.1.1.1: 14.0, Sync, en-us,
	 * "v140Device", no policy key, "SmartPhone". */
	ok(eas_query_parse(&alloc, "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", &q, &error) == 0,
	   "specification example parses");
	ok(q.base64, "base64 form detected");
	is_int(q.version, EAS_VERSION_140, "version 14.0");
	is_str(q.cmd, "Sync", "command code 0");
	is_str(q.device_id, "v140Device", "DeviceId");
	is_str(q.device_type, "SmartPhone", "DeviceType");
	ok(!q.have_policy_key, "no policy key");

	/* 14.1 Ping, binary DeviceId, policy key 0x01020304, User and
	 * Options (SaveInSent): 8d 12 0904 04 deadbeef 04 04030201 07
	 * "Android" 08 01 "u" 07 01 01 */
	ok(eas_query_parse(&alloc, "jRIJBATerb7vBAQDAgEHQW5kcm9pZAgBdQcBAQ==", &q, &error) == 0,
	   "binary DeviceId, key and parameters parse");
	is_str(q.cmd, "Ping", "command code 18");
	is_str(q.device_id, "deadbeef", "binary DeviceId as hex");
	ok(q.have_policy_key && q.policy_key == 0x01020304u, "policy key little-endian");
	is_str(q.user, "u", "User parameter");
	is_str(param(&q, "SaveInSent"), "T", "Options bit 0 is SaveInSent");

	ok(eas_query_parse(&alloc, "jAAJ", &q, &error) < 0, "truncated");
	/* command code 99 */
	ok(eas_query_parse(&alloc, "jGMJBAF4AAF4", &q, &error) < 0, "unknown command code");
	/* policy key length 3 */
	ok(eas_query_parse(&alloc, "jAAJBAF4AwECAwF4", &q, &error) < 0, "bad key length");
	/* DeviceId length past the end */
	ok(eas_query_parse(&alloc, "jAAJBPB4", &q, &error) < 0, "DeviceId past the end");
	ok(eas_query_parse(&alloc, "!!!!", &q, &error) < 0, "not base64");
	/* unknown parameter tag 2 */
	ok(eas_query_parse(&alloc, "jAAJBAF4AAF4AgF4", &q, &error) < 0, "unknown parameter tag");
}

static void
test_versions_and_ids(void)
{
	uint64_t folder;
	uint32_t uid;

	is_int(eas_version_parse("2.5"), EAS_VERSION_25, "2.5");
	is_int(eas_version_parse("16.1"), EAS_VERSION_161, "16.1");
	is_int(eas_version_parse("13.0"), 0, "13.0 unsupported");
	is_int(eas_version_parse("14.1 "), 0, "trailing blank");
	is_str(eas_version_text(EAS_VERSION_121), "12.1", "version text");

	ok(eas_parse_item_id("12:345", &folder, &uid) == 0 && folder == 12 && uid == 345,
	   "item id");
	ok(eas_parse_item_id("12", &folder, &uid) < 0, "folder id only");
	ok(eas_parse_item_id("12:0", &folder, &uid) < 0, "uid 0");
	ok(eas_parse_item_id("0:5", &folder, &uid) < 0, "folder 0");
	ok(eas_parse_item_id("12:4294967296", &folder, &uid) < 0, "uid over 32 bits");
	ok(eas_parse_item_id("1a:5", &folder, &uid) < 0, "not decimal");
	ok(eas_parse_item_id(":5", &folder, &uid) < 0, "empty folder");
	ok(eas_parse_item_id(NULL, &folder, &uid) < 0, "NULL");
}

static void
test_folder_hash(void)
{
	char a[17], b[17], c[17];

	eas_folders_hash("1\t0\t2\tINBOX\n5\t0\t12\tWork\n7\t5\t12\tSub\n", a);
	eas_folders_hash("7\t5\t12\tSub\n1\t0\t2\tINBOX\n5\t0\t12\tWork\n", b);
	eas_folders_hash("1\t0\t2\tINBOX\n5\t0\t12\tWork\n7\t0\t12\tSub\n", c);
	is_str(a, b, "the digest ignores the order of lines");
	ok(strcmp(a, c) != 0, "a moved folder changes the digest");
	eas_folders_hash("", c);
	ok(strlen(c) == 16 && strcmp(a, c) != 0, "empty set digest");
	eas_hash_text("abc", a);
	eas_hash_text("abd", b);
	ok(strlen(a) == 16 && strcmp(a, b) != 0, "text digest");
}

int
main(void)
{
	test_plain();
	test_base64();
	test_versions_and_ids();
	test_folder_hash();
	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	return done_testing();
}

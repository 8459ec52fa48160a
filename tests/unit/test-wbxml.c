/* Unit tests for the WBXML codec: the MS-ASWBXML worked example byte for
 * byte, every class of malformed input, writer/decoder round trips over
 * every tag of every code page, the XML rendering with ELIDE, and XML back
 * to WBXML. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tap.h"
#include "wbxml.h"

/* MS-ASWBXML section 4.1: a Sync response adding a contact. */
static const unsigned char example[] = {
    0x03, 0x01, 0x6A, 0x00, 0x45, 0x5C, 0x4F, 0x50, 0x03, 0x43, 0x6F, 0x6E, 0x74, 0x61, 0x63, 0x74,
    0x73, 0x00, 0x01, 0x4B, 0x03, 0x32, 0x00, 0x01, 0x52, 0x03, 0x32, 0x00, 0x01, 0x4E, 0x03, 0x31,
    0x00, 0x01, 0x56, 0x47, 0x4D, 0x03, 0x32, 0x3A, 0x31, 0x00, 0x01, 0x5D, 0x00, 0x11, 0x4A, 0x46,
    0x03, 0x31, 0x00, 0x01, 0x4C, 0x03, 0x30, 0x00, 0x01, 0x4D, 0x03, 0x31, 0x00, 0x01, 0x01, 0x00,
    0x01, 0x5E, 0x03, 0x46, 0x75, 0x6E, 0x6B, 0x2C, 0x20, 0x44, 0x6F, 0x6E, 0x00, 0x01, 0x5F, 0x03,
    0x44, 0x6F, 0x6E, 0x00, 0x01, 0x69, 0x03, 0x46, 0x75, 0x6E, 0x6B, 0x00, 0x01, 0x00, 0x11, 0x56,
    0x03, 0x31, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
};

static const char example_xml[] =
    "<Sync xmlns=\"AirSync\" xmlns:contacts=\"Contacts\" xmlns:airsyncbase=\"AirSyncBase\">\n"
    "  <Collections>\n"
    "    <Collection>\n"
    "      <Class>Contacts</Class>\n"
    "      <SyncKey>2</SyncKey>\n"
    "      <CollectionId>2</CollectionId>\n"
    "      <Status>1</Status>\n"
    "      <Commands>\n"
    "        <Add>\n"
    "          <ServerId>2:1</ServerId>\n"
    "          <ApplicationData>\n"
    "            <airsyncbase:Body>\n"
    "              <airsyncbase:Type>1</airsyncbase:Type>\n"
    "              <airsyncbase:EstimatedDataSize>0</airsyncbase:EstimatedDataSize>\n"
    "              <airsyncbase:Truncated>1</airsyncbase:Truncated>\n"
    "            </airsyncbase:Body>\n"
    "            <contacts:FileAs>Funk, Don</contacts:FileAs>\n"
    "            <contacts:FirstName>Don</contacts:FirstName>\n"
    "            <contacts:LastName>Funk</contacts:LastName>\n"
    "            <airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>\n"
    "          </ApplicationData>\n"
    "        </Add>\n"
    "      </Commands>\n"
    "    </Collection>\n"
    "  </Collections>\n"
    "</Sync>\n";

static char *
buffer_string(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char *s = malloc(len + 1);

	evbuffer_copyout(b, s, len);
	s[len] = '\0';
	return s;
}

static int
same_bytes(struct evbuffer *b, const unsigned char *want, size_t want_len)
{
	size_t len = evbuffer_get_length(b);
	const unsigned char *got = evbuffer_pullup(b, -1);

	if (len != want_len || memcmp(got, want, len) != 0) {
		for (size_t i = 0; i < len && i < want_len; i++) {
			if (got[i] != want[i]) {
				printf("#   first difference at byte %zu: 0x%02x vs 0x%02x\n", i,
				       got[i], want[i]);
				break;
			}
		}
		printf("#   length %zu, want %zu\n", len, want_len);
		return 0;
	}
	return 1;
}

static void
write_example(struct wbxml_writer *w)
{
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_start(w, EAS_AIRSYNC_COLLECTIONS);
	wbxml_start(w, EAS_AIRSYNC_COLLECTION);
	wbxml_string(w, EAS_AIRSYNC_CLASS, "Contacts");
	wbxml_string(w, EAS_AIRSYNC_SYNCKEY, "2");
	wbxml_uint(w, EAS_AIRSYNC_COLLECTIONID, 2);
	wbxml_stringf(w, EAS_AIRSYNC_STATUS, "%d", 1);
	wbxml_start(w, EAS_AIRSYNC_COMMANDS);
	wbxml_start(w, EAS_AIRSYNC_ADD);
	wbxml_string(w, EAS_AIRSYNC_SERVERID, "2:1");
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_uint(w, EAS_AIRSYNCBASE_TYPE, 1);
	wbxml_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, 0);
	wbxml_string(w, EAS_AIRSYNCBASE_TRUNCATED, "1");
	wbxml_end(w);
	wbxml_string(w, EAS_CONTACTS_FILEAS, "Funk, Don");
	wbxml_stringn(w, EAS_CONTACTS_FIRSTNAME, "Donald", 3);
	wbxml_string(w, EAS_CONTACTS_LASTNAME, "Funk");
	wbxml_string(w, EAS_AIRSYNCBASE_NATIVEBODYTYPE, "1");
	ok(wbxml_writer_depth(w) == 6, "writer depth inside ApplicationData");
	for (int i = 0; i < 6; i++)
		wbxml_end(w);
}

static void
test_worked_example(void)
{
	struct wbxml_doc *doc;
	const char *error = NULL;
	const struct wbxml_node *root, *coll, *add, *app, *body;
	uint64_t v = 99;

	int ret = wbxml_decode(example, sizeof(example), &doc, &error);

	ok(ret == 0, "example decodes (%s)", ret == 0 ? "" : error);
	root = wbxml_doc_root(doc);
	is_int(root->tag, EAS_AIRSYNC_SYNC, "root is AirSync:Sync");
	coll = wbxml_child(wbxml_child(root, EAS_AIRSYNC_COLLECTIONS), EAS_AIRSYNC_COLLECTION);
	ok(coll != NULL, "Collections/Collection");
	is_str(wbxml_child_text(coll, EAS_AIRSYNC_CLASS), "Contacts", "Class");
	is_str(wbxml_child_text(coll, EAS_AIRSYNC_SYNCKEY), "2", "SyncKey");
	is_int(wbxml_child_uint(coll, EAS_AIRSYNC_STATUS, &v), 0, "Status is a number");
	is_int(v, 1, "Status = 1");
	is_int(wbxml_child_uint(coll, EAS_AIRSYNC_WINDOWSIZE, &v), 1, "absent child -> 1");
	is_int(v, 1, "value untouched when absent");
	is_int(wbxml_child_uint(coll, EAS_AIRSYNC_CLASS, &v), -1, "text is not a number");
	add = wbxml_child(wbxml_child(coll, EAS_AIRSYNC_COMMANDS), EAS_AIRSYNC_ADD);
	is_str(wbxml_child_text(add, EAS_AIRSYNC_SERVERID), "2:1", "ServerId");
	app = wbxml_child(add, EAS_AIRSYNC_APPLICATIONDATA);
	body = wbxml_child(app, EAS_AIRSYNCBASE_BODY);
	is_str(wbxml_child_text(body, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE), "0", "EstimatedDataSize");
	is_str(wbxml_child_text(app, EAS_CONTACTS_FILEAS), "Funk, Don", "FileAs");
	is_str(wbxml_child_text(app, EAS_AIRSYNCBASE_NATIVEBODYTYPE), "1", "NativeBodyType");
	ok(wbxml_child(app, EAS_CONTACTS_ANNIVERSARY) == NULL, "absent child is NULL");
	ok(wbxml_child_text(NULL, EAS_CONTACTS_FILEAS) == NULL, "child_text(NULL) is NULL");
	ok(wbxml_next(wbxml_child(coll, EAS_AIRSYNC_CLASS), EAS_AIRSYNC_CLASS) == NULL,
	   "no second Class");
	ok(wbxml_child(app, EAS_CONTACTS_FILEAS)->has_content, "has_content set");
	ok(!wbxml_child(app, EAS_CONTACTS_FILEAS)->opaque, "text is not opaque");

	/* Rendered as XML the way the specification shows it. */
	struct evbuffer *xml = evbuffer_new();
	char *s;

	wbxml_to_xml(root, WBXML_XML_INDENT, xml);
	s = buffer_string(xml);
	is_str(s, example_xml, "example as XML");
	free(s);

	/* And back from XML to the same bytes. */
	struct evbuffer *back = evbuffer_new();

	ok(wbxml_from_xml(example_xml, strlen(example_xml), back, &error) == 0, "XML -> WBXML");
	ok(same_bytes(back, example, sizeof(example)), "XML -> WBXML gives the example bytes");
	evbuffer_free(back);
	evbuffer_free(xml);
	wbxml_doc_free(&doc);
	ok(doc == NULL, "doc_free sets NULL");
	wbxml_doc_free(&doc);

	/* The writer produces the same bytes: SWITCH_PAGE only on change. */
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);

	write_example(w);
	is_int(wbxml_writer_finish(&w), 0, "writer finishes cleanly");
	ok(w == NULL, "finish sets NULL");
	ok(same_bytes(out, example, sizeof(example)), "writer output is the example byte for byte");
	evbuffer_free(out);
}

struct bad_case {
	const char *what;
	const unsigned char *data;
	size_t len;
	const char *error_part;
};

#define BAD(what, part, ...)                                                                       \
	{                                                                                          \
		what, (const unsigned char[]){__VA_ARGS__},                                        \
		    sizeof((const unsigned char[]){__VA_ARGS__}), part                             \
	}

static void
test_malformed(void)
{
	const struct bad_case cases[] = {
	    BAD("wrong version", "unsupported version 0x02", 0x02, 0x01, 0x6a, 0x00, 0x45, 0x01),
	    BAD("public id 0 (string table)", "public identifier 0", 0x03, 0x00, 0x00, 0x6a, 0x00,
	        0x45, 0x01),
	    BAD("charset not UTF-8", "charset 4", 0x03, 0x01, 0x04, 0x00, 0x45, 0x01),
	    BAD("string table", "string table of 2 bytes", 0x03, 0x01, 0x6a, 0x02, 0x41, 0x00, 0x45,
	        0x01),
	    BAD("mb_u_int32 overflow", "overflow at byte 1", 0x03, 0x9f, 0xff, 0xff, 0xff, 0x7f),
	    BAD("mb_u_int32 too long", "longer than 5 bytes", 0x03, 0x81, 0x80, 0x80, 0x80, 0x80,
	        0x01),
	    BAD("truncated mb_u_int32", "truncated multi-byte integer", 0x03, 0x01, 0xea),
	    BAD("truncated header", "truncated multi-byte integer", 0x03),
	    BAD("no body", "no root element", 0x03, 0x01, 0x6a, 0x00),
	    BAD("unknown code page", "unknown code page 26 at byte 4", 0x03, 0x01, 0x6a, 0x00, 0x00,
	        0x1a, 0x45, 0x01),
	    BAD("truncated SWITCH_PAGE", "truncated SWITCH_PAGE", 0x03, 0x01, 0x6a, 0x00, 0x00),
	    BAD("unknown token", "unknown token 0x11 in code page 0 at byte 5", 0x03, 0x01, 0x6a,
	        0x00, 0x45, 0x51, 0x01, 0x01),
	    BAD("unknown token on page 13", "unknown token 0x3e in code page 13", 0x03, 0x01, 0x6a,
	        0x00, 0x00, 0x0d, 0x45, 0x3e, 0x01),
	    BAD("attributes", "attributes at byte 4", 0x03, 0x01, 0x6a, 0x00, 0xc5, 0x01, 0x01),
	    BAD("entity", "entity at byte 5", 0x03, 0x01, 0x6a, 0x00, 0x45, 0x02, 0x41, 0x01),
	    BAD("string table reference", "string table reference", 0x03, 0x01, 0x6a, 0x00, 0x45,
	        0x83, 0x00, 0x01),
	    BAD("processing instruction", "processing instruction", 0x03, 0x01, 0x6a, 0x00, 0x45,
	        0x43, 0x01, 0x01),
	    BAD("literal tag", "literal tag 0x04", 0x03, 0x01, 0x6a, 0x00, 0x04, 0x00, 0x01),
	    BAD("extension token", "extension token 0xc0", 0x03, 0x01, 0x6a, 0x00, 0x45, 0xc0,
	        0x01),
	    BAD("END without element", "END without an open element at byte 4", 0x03, 0x01, 0x6a,
	        0x00, 0x01),
	    BAD("unclosed element", "1 element(s) not closed", 0x03, 0x01, 0x6a, 0x00, 0x45),
	    BAD("unterminated string", "unterminated inline string at byte 5", 0x03, 0x01, 0x6a,
	        0x00, 0x45, 0x03, 'a', 'b'),
	    BAD("text outside element", "text outside an element", 0x03, 0x01, 0x6a, 0x00, 0x03,
	        'a', 0x00),
	    BAD("opaque outside element", "opaque data outside an element", 0x03, 0x01, 0x6a, 0x00,
	        0xc3, 0x01, 'a'),
	    BAD("opaque past the end", "opaque length 5 at byte 5 runs past the end", 0x03, 0x01,
	        0x6a, 0x00, 0x45, 0xc3, 0x05, 'a', 'b', 0x01),
	    BAD("opaque of 4 GiB", "opaque length 4294967295", 0x03, 0x01, 0x6a, 0x00, 0x45, 0xc3,
	        0x8f, 0xff, 0xff, 0xff, 0x7f, 0x01),
	    BAD("invalid UTF-8", "invalid UTF-8 at byte 7", 0x03, 0x01, 0x6a, 0x00, 0x45, 0x03, 'a',
	        0xc0, 0xaf, 0x00, 0x01),
	    BAD("UTF-8 surrogate", "invalid UTF-8", 0x03, 0x01, 0x6a, 0x00, 0x45, 0x03, 0xed, 0xa0,
	        0x80, 0x00, 0x01),
	    BAD("truncated UTF-8", "invalid UTF-8", 0x03, 0x01, 0x6a, 0x00, 0x45, 0x03, 0xe2, 0x82,
	        0x00, 0x01),
	    BAD("data after the root", "data after the root element at byte 6", 0x03, 0x01, 0x6a,
	        0x00, 0x45, 0x01, 0x45, 0x01),
	    BAD("second empty root", "data after the root element", 0x03, 0x01, 0x6a, 0x00, 0x05,
	        0x05),
	};
	struct wbxml_doc *doc;
	const char *error;
	int ret;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		doc = (struct wbxml_doc *)1;
		ret = wbxml_decode(cases[i].data, cases[i].len, &doc, &error);
		ok(ret == -1 && doc == NULL, "%s is rejected", cases[i].what);
		ok(error != NULL && strstr(error, cases[i].error_part) != NULL &&
		       strncmp(error, "WBXML: ", 7) == 0,
		   "%s: error \"%s\"", cases[i].what, error ? error : "(null)");
	}
	error = NULL;
	ret = wbxml_decode("", 0, &doc, &error);

	ok(ret == -1 && strstr(error, "empty") != NULL, "empty input: %s", error);

	/* Nesting: 64 levels decode, 65 do not. */
	for (int levels = 64; levels <= 65; levels++) {
		struct evbuffer *b = evbuffer_new();
		static const unsigned char hdr[] = {0x03, 0x01, 0x6a, 0x00};
		unsigned char open = 0x4f, end = 0x01;

		evbuffer_add(b, hdr, sizeof(hdr));
		for (int i = 0; i < levels; i++)
			evbuffer_add(b, &open, 1);
		for (int i = 0; i < levels; i++)
			evbuffer_add(b, &end, 1);
		ret = wbxml_decode(evbuffer_pullup(b, -1), evbuffer_get_length(b), &doc, &error);
		if (levels == 64) {
			ok(ret == 0, "64 nested elements decode");
			wbxml_doc_free(&doc);
		} else {
			ok(ret == -1 && strstr(error, "nested deeper than 64") != NULL,
			   "65 nested elements: %s", ret == 0 ? "accepted" : error);
		}
		evbuffer_free(b);
	}

	/* Node count: WBXML_MAX_NODES elements decode, one more does not. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = WBXML_MAX_NODES - 1 + (size_t)extra; /* children of the root */
		size_t len = 4 + 1 + n + 1;
		unsigned char *buf = malloc(len);

		memcpy(buf, "\x03\x01\x6a\x00\x45", 5);
		memset(buf + 5, 0x0b, n);
		buf[len - 1] = 0x01;
		ret = wbxml_decode(buf, len, &doc, &error);
		if (extra == 0) {
			ok(ret == 0, "%d elements decode", WBXML_MAX_NODES);
			wbxml_doc_free(&doc);
		} else {
			ok(ret == -1 && strstr(error, "more than 200000 elements") != NULL,
			   "%d elements: %s", WBXML_MAX_NODES + 1, ret == 0 ? "accepted" : error);
		}
		free(buf);
	}
}

static void
test_all_tags(void)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	unsigned count = 0, lookups_ok = 0, switches = 0;
	struct wbxml_doc *doc;
	const char *error;

	/* Every tag once, with its own name as text. */
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	for (unsigned page = 0; page < EAS_PAGE_COUNT; page++) {
		for (unsigned tok = 0x05; tok <= 0x3f; tok++) {
			uint16_t tag = WBXML_TAG(page, tok);
			const char *name = wbxml_tag_name(tag);

			if (name == NULL)
				continue;
			count++;
			if (wbxml_tag_lookup(wbxml_page_name(page), name) == tag)
				lookups_ok++;
			wbxml_string(w, tag, name);
		}
	}
	wbxml_end(w);
	is_int(wbxml_writer_finish(&w), 0, "writer: every tag written");
	is_int(count, 641, "641 tags over 26 pages");
	is_int(lookups_ok, count, "wbxml_tag_lookup finds every tag by page and name");

	/* Count SWITCH_PAGE opcodes: a tag byte never is 0x00, and inside
	 * STR_I the names contain no NUL before the terminator, so walk. */
	const unsigned char *p = evbuffer_pullup(out, -1);
	size_t len = evbuffer_get_length(out);

	for (size_t i = 4; i < len; i++) {
		if (p[i] == 0x03) {
			i += strlen((const char *)p + i + 1) + 1;
		} else if (p[i] == 0x00) {
			switches++;
			i++;
		}
	}
	is_int(switches, 25, "SWITCH_PAGE only when the page changes (25 times)");

	ok(wbxml_decode(p, len, &doc, &error) == 0, "all tags decode");
	const struct wbxml_node *n = wbxml_doc_root(doc)->first_child;
	unsigned good = 0;

	for (unsigned page = 0; page < EAS_PAGE_COUNT; page++) {
		for (unsigned tok = 0x05; tok <= 0x3f; tok++) {
			uint16_t tag = WBXML_TAG(page, tok);

			if (wbxml_tag_name(tag) == NULL)
				continue;
			if (n != NULL && n->tag == tag &&
			    strcmp(wbxml_text(n), wbxml_tag_name(tag)) == 0)
				good++;
			n = n != NULL ? n->next : NULL;
		}
	}
	is_int(good, count, "every tag comes back with its text");
	wbxml_doc_free(&doc);
	evbuffer_free(out);

	/* Names, pages and a few constants against the specification. */
	is_int(EAS_AIRSYNC_SYNCKEY, 0x000b, "AirSync:SyncKey = page 0, 0x0B");
	is_int(EAS_FOLDERHIERARCHY_FOLDERSYNC, 0x0716, "FolderHierarchy:FolderSync");
	is_int(EAS_PING_HEARTBEATINTERVAL, 0x0d08, "Ping:HeartbeatInterval");
	is_int(EAS_AIRSYNCBASE_BODYPREFERENCE, 0x1105, "AirSyncBase:BodyPreference");
	is_int(EAS_ITEMOPERATIONS_FETCH, 0x1406, "ItemOperations:Fetch");
	is_int(EAS_AIRSYNCBASE_INSTANCEID, 0x112d, "AirSyncBase:InstanceId (16.0)");
	is_int(EAS_CALENDAR_CLIENTUID, 0x043c, "Calendar:ClientUid (16.0)");
	is_int(EAS_EMAIL2_SEND, 0x1617, "Email2:Send (16.0)");
	is_int(EAS_COMPOSEMAIL_FORWARDEEEMAIL, 0x1518, "ComposeMail:ForwardeeEmail (16.0)");
	is_int(EAS_PROVISION_ACCOUNTONLYREMOTEWIPE, 0x0e3b, "Provision:AccountOnlyRemoteWipe");
	is_int(EAS_SETTINGS_RIGHTSMANAGEMENTINFORMATION, 0x122b, "Settings:RMInformation");
	is_int(EAS_FIND_PICTURE, 0x1922, "Find:Picture (16.1)");
	is_str(wbxml_page_name(EAS_PAGE_GETITEMESTIMATE), "GetItemEstimate", "page 6 name");
	is_str(wbxml_page_name(25), "Find", "page 25 name");
	ok(wbxml_page_name(26) == NULL, "page 26 does not exist");
	is_str(wbxml_tag_name(EAS_EMAIL2_UMCALLERID), "UmCallerID", "tag name");
	ok(wbxml_tag_name(WBXML_TAG(0, 0x11)) == NULL, "AirSync 0x11 is unknown");
	ok(wbxml_tag_name(WBXML_TAG(30, 0x05)) == NULL, "page 30 is unknown");
	is_int(wbxml_tag_lookup("ItemEstimate", "Estimate"), EAS_GETITEMESTIMATE_ESTIMATE,
	       "lookup with the ItemEstimate namespace");
	is_int(wbxml_tag_lookup("AirSync", "synckey"), 0, "lookup is case-sensitive");
	is_int(wbxml_tag_lookup("Nope", "Sync"), 0, "lookup of an unknown page");
}

static void
test_writer(void)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct wbxml_doc *doc;
	const char *error;
	static const unsigned char bin[] = {0x00, 0x01, 0xff, 0x00, 0x7f};
	char longtext[1000];

	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';

	wbxml_start(w, EAS_ITEMOPERATIONS_ITEMOPERATIONS);
	wbxml_opaque(w, EAS_ITEMOPERATIONS_DATA, bin, sizeof(bin));
	wbxml_start(w, EAS_ITEMOPERATIONS_PROPERTIES);
	wbxml_start(w, EAS_AIRSYNCBASE_DATA);
	wbxml_opaque_begin(w, 6);
	wbxml_opaque_data(w, "abc", 3);
	wbxml_opaque_data(w, "def", 3);
	wbxml_end(w);
	wbxml_start(w, EAS_ITEMOPERATIONS_RANGE);
	wbxml_text_append(w, "0-", 2);
	wbxml_text_append(w, "99", 2);
	wbxml_end(w);
	wbxml_stringf(w, EAS_ITEMOPERATIONS_TOTAL, "%s", longtext);
	wbxml_string(w, EAS_ITEMOPERATIONS_STATUS, "");
	wbxml_stringn(w, EAS_ITEMOPERATIONS_VERSION, "a\0b", 3);
	wbxml_uint(w, EAS_ITEMOPERATIONS_SCHEMA, UINT64_MAX);
	wbxml_empty(w, EAS_ITEMOPERATIONS_DELETESUBFOLDERS);
	wbxml_end(w);
	wbxml_end(w);
	is_int(wbxml_writer_finish(&w), 0, "writer: opaque, pieces, long text");

	ok(wbxml_decode(evbuffer_pullup(out, -1), evbuffer_get_length(out), &doc, &error) == 0,
	   "writer output decodes");
	const struct wbxml_node *root = wbxml_doc_root(doc), *data, *props;

	data = wbxml_child(root, EAS_ITEMOPERATIONS_DATA);
	ok(data != NULL && data->opaque && data->len == sizeof(bin) &&
	       memcmp(data->data, bin, sizeof(bin)) == 0,
	   "OPAQUE with NULs comes back whole");
	props = wbxml_child(root, EAS_ITEMOPERATIONS_PROPERTIES);
	data = wbxml_child(props, EAS_AIRSYNCBASE_DATA);
	ok(data != NULL && data->opaque && data->len == 6 && memcmp(data->data, "abcdef", 7) == 0,
	   "OPAQUE streamed in chunks, NUL-terminated");
	is_str(wbxml_child_text(props, EAS_ITEMOPERATIONS_RANGE), "0-99",
	       "STR_I pieces concatenated");
	is_str(wbxml_child_text(props, EAS_ITEMOPERATIONS_TOTAL), longtext, "long stringf");
	is_str(wbxml_child_text(props, EAS_ITEMOPERATIONS_STATUS), "", "empty string");
	ok(!wbxml_child(props, EAS_ITEMOPERATIONS_STATUS)->has_content,
	   "empty string written as an empty element");
	is_str(wbxml_child_text(props, EAS_ITEMOPERATIONS_VERSION), "ab", "NUL dropped from text");
	is_str(wbxml_child_text(props, EAS_ITEMOPERATIONS_SCHEMA), "18446744073709551615",
	       "uint64 max");
	uint64_t v = 0;
	is_int(wbxml_child_uint(props, EAS_ITEMOPERATIONS_SCHEMA, &v), 0, "uint64 max parses");
	ok(v == UINT64_MAX, "uint64 max value");
	is_int(wbxml_child_uint(props, EAS_ITEMOPERATIONS_TOTAL, &v), -1, "1000 x's: not a number");
	is_int(wbxml_child_uint(props, EAS_ITEMOPERATIONS_STATUS, &v), -1, "empty: not a number");
	wbxml_doc_free(&doc);
	evbuffer_free(out);

	/* uint64 overflow in wbxml_child_uint */
	static const unsigned char big[] = {
	    0x03, 0x01, 0x6a, 0x00, 0x45, 0x4e, 0x03, '1', '8', '4', '4', '6', '7',  '4',  '4',
	    '0',  '7',  '3',  '7',  '0',  '9',  '5',  '5', '1', '6', '1', '6', 0x00, 0x01, 0x01};
	ok(wbxml_decode(big, sizeof(big), &doc, &error) == 0, "decode 2^64");
	is_int(wbxml_child_uint(wbxml_doc_root(doc), EAS_AIRSYNC_STATUS, &v), -1, "2^64 overflows");
	wbxml_doc_free(&doc);

	/* Programming errors make finish fail (they are logged). */
	struct {
		const char *what;
		int step;
	} bugs[] = {{"unclosed element", 0},  {"END at top level", 1}, {"short OPAQUE", 2},
	            {"second root", 3},       {"unknown tag", 4},      {"no root", 5},
	            {"tag inside OPAQUE", 6}, {"text at top level", 7}};

	for (size_t i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++) {
		out = evbuffer_new();
		w = wbxml_writer_new(out);
		switch (bugs[i].step) {
		case 0:
			wbxml_start(w, EAS_PING_PING);
			break;
		case 1:
			wbxml_empty(w, EAS_PING_PING);
			wbxml_end(w);
			break;
		case 2:
			wbxml_start(w, EAS_PING_PING);
			wbxml_opaque_begin(w, 10);
			wbxml_opaque_data(w, "abc", 3);
			wbxml_end(w);
			break;
		case 3:
			wbxml_empty(w, EAS_PING_PING);
			wbxml_empty(w, EAS_PING_PING);
			break;
		case 4:
			wbxml_start(w, EAS_PING_PING);
			wbxml_empty(w, WBXML_TAG(13, 0x3f));
			wbxml_end(w);
			break;
		case 5:
			break;
		case 6:
			wbxml_start(w, EAS_PING_PING);
			wbxml_opaque_begin(w, 1);
			wbxml_empty(w, EAS_PING_STATUS);
			wbxml_opaque_data(w, "x", 1);
			wbxml_end(w);
			break;
		case 7:
			wbxml_text_append(w, "x", 1);
			wbxml_empty(w, EAS_PING_PING);
			break;
		}
		is_int(wbxml_writer_finish(&w), -1, "writer: %s is an error", bugs[i].what);
		evbuffer_free(out);
	}
}

static void
test_elide(void)
{
	struct evbuffer *out = evbuffer_new(), *xml = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct wbxml_doc *doc;
	const char *error;
	char *s;

	wbxml_start(w, EAS_SETTINGS_SETTINGS);
	wbxml_start(w, EAS_SETTINGS_DEVICEPASSWORD);
	wbxml_start(w, EAS_SETTINGS_SET);
	wbxml_string(w, EAS_SETTINGS_PASSWORD, "s3cret&<x>");
	wbxml_end(w);
	wbxml_end(w);
	wbxml_start(w, EAS_SETTINGS_DEVICEINFORMATION);
	wbxml_start(w, EAS_SETTINGS_SET);
	wbxml_string(w, EAS_SETTINGS_MODEL, "Pixel & <Co>");
	wbxml_end(w);
	wbxml_end(w);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_string(w, EAS_AIRSYNCBASE_DATA, "Dear Bob, the body");
	wbxml_end(w);
	wbxml_opaque(w, EAS_COMPOSEMAIL_MIME, "MIME-Version: 1.0", 17);
	wbxml_end(w);
	is_int(wbxml_writer_finish(&w), 0, "settings document written");
	ok(wbxml_decode(evbuffer_pullup(out, -1), evbuffer_get_length(out), &doc, &error) == 0,
	   "settings document decodes");

	wbxml_to_xml(wbxml_doc_root(doc), 0, xml);
	s = buffer_string(xml);
	ok(strstr(s, "<Password>s3cret&amp;&lt;x&gt;</Password>") != NULL,
	   "without ELIDE the password is shown, escaped: %s", s);
	ok(strstr(s, "<composemail:Mime><![CDATA[TUlNRS1WZXJzaW9uOiAxLjA=]]></composemail:Mime>") !=
	       NULL,
	   "opaque data as base64 CDATA");
	ok(strstr(s, "xmlns=\"Settings\"") != NULL &&
	       strstr(s, "xmlns:airsyncbase=\"AirSyncBase\""),
	   "namespaces declared on the root");
	ok(strchr(s, '\n') == NULL, "compact form is one line");

	/* XML -> WBXML gives the same document back, opaque included. */
	struct evbuffer *back = evbuffer_new();

	int ret = wbxml_from_xml(s, strlen(s), back, &error);

	ok(ret == 0, "compact XML converts back (%s)", ret == 0 ? "" : error);
	ok(evbuffer_get_length(back) == evbuffer_get_length(out) &&
	       memcmp(evbuffer_pullup(back, -1), evbuffer_pullup(out, -1),
	              evbuffer_get_length(out)) == 0,
	   "same WBXML after XML round trip");
	evbuffer_free(back);
	free(s);

	evbuffer_drain(xml, evbuffer_get_length(xml));
	wbxml_to_xml(wbxml_doc_root(doc), WBXML_XML_ELIDE | WBXML_XML_INDENT, xml);
	s = buffer_string(xml);
	ok(strstr(s, "s3cret") == NULL && strstr(s, "<Password>[elided 10 bytes]</Password>"),
	   "ELIDE hides the password");
	ok(strstr(s, "Dear Bob") == NULL && strstr(s, "[elided 18 bytes]") != NULL,
	   "ELIDE hides AirSyncBase:Data");
	ok(strstr(s, "MIME-Version") == NULL && strstr(s, "TUlNRS") == NULL &&
	       strstr(s, "[elided 17 bytes]") != NULL,
	   "ELIDE hides opaque data");
	ok(strstr(s, "<Model>Pixel &amp; &lt;Co&gt;</Model>") != NULL, "ELIDE keeps other text");
	free(s);
	wbxml_doc_free(&doc);
	evbuffer_free(out);
	evbuffer_free(xml);
}

static void
test_from_xml(void)
{
	/* libwbxml2's shape: a default namespace per element, with colons. */
	static const char libwbxml[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" "
	    "\"http://www.microsoft.com/\">\n"
	    "<FolderSync xmlns=\"FolderHierarchy:\">\n<SyncKey>0</SyncKey>\n"
	    "<Changes><Add><Type>2</Type><x xmlns=\"AirSyncBase:\"/></Add></Changes>\n"
	    "</FolderSync>";
	static const char *const bad[][2] = {
	    {"<Sync xmlns=\"AirSync\"><Nope/></Sync>", "unknown element Nope in code page AirSync"},
	    {"<Sync xmlns=\"Unheard\"/>", "unknown namespace \"Unheard\""},
	    {"<Sync xmlns=\"AirSync\"><Status a=\"1\"/></Sync>", "attribute on element Status"},
	    {"<Sync xmlns=\"AirSync\"><Status>", "not well-formed"},
	    {"<Sync xmlns=\"AirSync\"><Status><![CDATA[@@@]]></Status></Sync>", "not base64"},
	};
	struct evbuffer *out = evbuffer_new();
	const char *error = NULL;
	struct wbxml_doc *doc;

	int ret = wbxml_from_xml(libwbxml, strlen(libwbxml), out, &error);

	ok(ret == -1 && strstr(error, "unknown element x in code page AirSyncBase") != NULL,
	   "libwbxml2 shape parsed, unknown element named: %s", ret == 0 ? "-" : error);
	is_int(evbuffer_get_length(out), 0, "nothing written on error");

	const char *good = "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>0</SyncKey>"
	                   "<Changes><Add><Type>2</Type><Data xmlns=\"AirSyncBase:\">d</Data>"
	                   "</Add></Changes></FolderSync>";
	ok(wbxml_from_xml(good, strlen(good), out, &error) == 0, "libwbxml2 shape converts");
	ok(wbxml_decode(evbuffer_pullup(out, -1), evbuffer_get_length(out), &doc, &error) == 0,
	   "and decodes");
	const struct wbxml_node *add = wbxml_child(
	    wbxml_child(wbxml_doc_root(doc), EAS_FOLDERHIERARCHY_CHANGES), EAS_FOLDERHIERARCHY_ADD);
	is_str(wbxml_child_text(add, EAS_FOLDERHIERARCHY_TYPE), "2", "FolderHierarchy:Type");
	is_str(wbxml_child_text(add, EAS_AIRSYNCBASE_DATA), "d", "AirSyncBase:Data");
	wbxml_doc_free(&doc);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		evbuffer_drain(out, evbuffer_get_length(out));
		error = NULL;
		ret = wbxml_from_xml(bad[i][0], strlen(bad[i][0]), out, &error);
		ok(ret == -1 && strstr(error, bad[i][1]) != NULL, "from_xml rejects: %s",
		   ret == 0 ? "(accepted)" : error);
	}
	evbuffer_free(out);
}

int
main(void)
{
	test_worked_example();
	test_malformed();
	test_all_tags();
	test_writer();
	test_elide();
	test_from_xml();
	return done_testing();
}

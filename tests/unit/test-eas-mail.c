/* tests/unit/test-eas-mail.c: the pure helpers of the ActiveSync e-mail
 * commands: SyncKeys, item ids and FileReferences, the Email options as
 * parsed from WBXML and kept as JSON, FilterType windows, EAS dates,
 * categories as IMAP keywords, client flag changes, and an item's
 * ApplicationData as written (decoded back). */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "mail-private.h"
#include "tap.h"
#include "xmalloc.h"

static void
test_keys(void)
{
	char gen[40];
	uint32_t n;
	char *k = eas_sync_key_format("0a1b2c3d-1111-2222-3333-444455556666", 17);

	is_str(k, "{0a1b2c3d-1111-2222-3333-444455556666}17", "key format");
	ok(eas_sync_key_parse(k, gen, &n) == 0 && n == 17 &&
	       strcmp(gen, "0a1b2c3d-1111-2222-3333-444455556666") == 0,
	   "key parses back");
	free(k);
	ok(eas_sync_key_parse("0", gen, &n) == 0 && n == 0 && gen[0] == '\0', "key 0");
	ok(eas_sync_key_parse("{abc}0", gen, &n) < 0, "counter 0 refused");
	ok(eas_sync_key_parse("{abc}", gen, &n) < 0, "no counter");
	ok(eas_sync_key_parse("{xyz}1", gen, &n) < 0, "generation not hex");
	ok(eas_sync_key_parse("12", gen, &n) < 0, "bare number");
	ok(eas_sync_key_parse("{a}99999999999", gen, &n) < 0, "counter too large");
	ok(eas_sync_key_parse(NULL, gen, &n) < 0, "NULL");
}

static void
test_ids(void)
{
	uint64_t f;
	uint32_t u;
	char part[64];

	ok(eas_mail_item_id("12:34", &f, &u) == 0 && f == 12 && u == 34, "item id");
	ok(eas_mail_item_id("12:0", &f, &u) < 0, "uid 0");
	ok(eas_mail_item_id("12:4294967296", &f, &u) < 0, "uid too large");
	ok(eas_mail_item_id("12", &f, &u) < 0, "no colon");
	ok(eas_mail_item_id(":5", &f, &u) < 0, "no folder");
	ok(eas_mail_item_id("1x:5", &f, &u) < 0, "junk");
	ok(eas_mail_file_ref("7:8:1.2", &f, &u, part) == 0 && f == 7 && u == 8 &&
	       strcmp(part, "1.2") == 0,
	   "file reference");
	ok(eas_mail_file_ref("7:8:", &f, &u, part) < 0, "no part");
	ok(eas_mail_file_ref("7:8:1;2", &f, &u, part) < 0, "bad part");
	ok(eas_mail_folder_id("42", &f) == 0 && f == 42, "folder id");
	ok(eas_mail_folder_id("0", &f) < 0 && eas_mail_folder_id("", &f) < 0, "bad folder ids");
}

static struct wbxml_doc *
decode(struct evbuffer *buf)
{
	struct wbxml_doc *doc = NULL;
	const char *error;
	size_t len = evbuffer_get_length(buf);

	if (wbxml_decode(evbuffer_pullup(buf, (ssize_t)len), len, &doc, &error) < 0) {
		printf("# decode: %s\n", error);
		return NULL;
	}
	return doc;
}

static void
test_options(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(buf);
	struct eas_mail_options o, back;
	struct wbxml_doc *doc;
	const char *error;
	char *json;

	wbxml_start(w, EAS_AIRSYNC_OPTIONS);
	wbxml_string(w, EAS_AIRSYNC_FILTERTYPE, "3");
	wbxml_string(w, EAS_AIRSYNC_MIMESUPPORT, "2");
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_string(w, EAS_AIRSYNCBASE_TYPE, "2");
	wbxml_string(w, EAS_AIRSYNCBASE_TRUNCATIONSIZE, "5120");
	wbxml_string(w, EAS_AIRSYNCBASE_PREVIEW, "100");
	wbxml_end(w);
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_string(w, EAS_AIRSYNCBASE_TYPE, "4");
	wbxml_end(w);
	wbxml_end(w);
	ok(wbxml_writer_finish(&w) == 0, "options written");
	doc = decode(buf);
	memset(&o, 0, sizeof(o));
	ok(doc != NULL && eas_mail_options_parse(wbxml_doc_root(doc), &o, &error) == 0,
	   "options parse");
	is_int(o.filter_type, 3, "FilterType");
	is_int(o.mime_support, 2, "MIMESupport");
	is_int(o.nbody, 2, "two preferences");
	ok(o.body[0].type == 2 && o.body[0].has_truncation && o.body[0].truncation == 5120 &&
	       o.body[0].preview == 100,
	   "HTML preference");
	ok(o.body[1].type == 4 && !o.body[1].has_truncation, "MIME preference");
	json = eas_mail_options_json(&o);
	eas_mail_options_from_json(json, &back);
	ok(memcmp(&o, &back, sizeof(o)) == 0, "JSON round trip: %s", json);
	free(json);
	eas_mail_options_from_json("not json", &back);
	ok(back.filter_type == 0 && back.nbody == 0, "bad JSON gives defaults");
	wbxml_doc_free(&doc);
	evbuffer_free(buf);

	/* Out of range. */
	buf = evbuffer_new();
	w = wbxml_writer_new(buf);
	wbxml_start(w, EAS_AIRSYNC_OPTIONS);
	wbxml_string(w, EAS_AIRSYNC_FILTERTYPE, "9");
	wbxml_end(w);
	wbxml_writer_finish(&w);
	doc = decode(buf);
	memset(&o, 0, sizeof(o));
	ok(doc != NULL && eas_mail_options_parse(wbxml_doc_root(doc), &o, &error) < 0,
	   "FilterType 9 refused");
	wbxml_doc_free(&doc);
	evbuffer_free(buf);

	is_int(eas_filter_since(0, 1000000), 0, "no window");
	is_int(eas_filter_since(1, 1000000), 1000000 - 86400, "one day");
	is_int(eas_filter_since(5, 10000000), 10000000 - 31 * 86400, "one month");
}

static void
test_dates(void)
{
	char out[32];
	time_t t;

	eas_format_date(760686745, out);
	is_str(out, "1994-02-08T05:52:25.000Z", "date format");
	ok(eas_parse_date(out, &t) == 0 && t == 760686745, "date parse");
	ok(eas_parse_date("2010-01-01T00:00:00Z", &t) == 0 && t == 1262304000, "without ms");
	ok(eas_parse_date("2010-13-01T00:00:00Z", &t) < 0, "bad month");
	ok(eas_parse_date("yesterday", &t) < 0, "not a date");
}

static void
test_categories(void)
{
	char *kw = eas_category_keyword("Red category"), *back;

	is_str(kw, "Red&20category", "space encoded");
	back = eas_keyword_category(kw);
	is_str(back, "Red category", "decoded back");
	free(kw);
	free(back);
	kw = eas_category_keyword("$money & (more) é");
	back = eas_keyword_category(kw);
	is_str(back, "$money & (more) é", "specials round trip");
	ok(kw[0] != '$' && strchr(kw, ' ') == NULL && strchr(kw, '(') == NULL,
	   "keyword is an atom");
	free(kw);
	free(back);
	ok(eas_keyword_category("\\Seen") == NULL, "system flag");
	ok(eas_keyword_category("$Forwarded") == NULL, "system keyword");
	ok(eas_keyword_category("NonJunk") == NULL, "junk marker");
	ok(eas_category_keyword("") == NULL, "empty category");
}

static void
test_changes(void)
{
	const char *cur[] = {"\\Seen", "Old", "$Forwarded"};
	struct eas_flag_change c = {0};
	char *cats[] = {"New one"};
	char **out;
	size_t n;
	const char *want[] = {"$Forwarded", "\\Flagged", "New&20one"};

	c.set_read = true;
	c.read = false;
	c.set_flag = true;
	c.flag_status = 2;
	c.set_categories = true;
	c.categories = cats;
	c.ncategories = 1;
	out = eas_email_apply_change(cur, 3, &c, &n);
	ok(eas_flags_same((const char *const *)out, n, want, 3), "unread, flagged, categories");
	eas_strv_free(out, n);
	c.set_read = c.set_categories = false;
	c.flag_status = 1;
	out = eas_email_apply_change(want, 3, &c, &n);
	ok(n == 3 && !eas_flags_same((const char *const *)out, n, want, 3), "completed");
	ok(eas_flags_same((const char *const *)out, n,
	                  (const char *[]){"$Forwarded", "$Completed", "New&20one"}, 3),
	   "flag becomes complete");
	eas_strv_free(out, n);
	ok(eas_flags_same(cur, 3, (const char *[]){"$FORWARDED", "old", "\\seen"}, 3),
	   "flags compare without case");
}

static void
test_write_item(void)
{
	static const char raw[] = "From: a@example.com\r\nTo: \"B\" <b@example.com>\r\n"
	                          "Subject: s\r\nContent-Type: text/plain\r\n\r\nbody text\r\n";
	struct eas_mail_item it = {0};
	struct eas_mail_options o = {0};
	char *flags[] = {"\\Seen", "Blue", NULL};
	struct evbuffer *buf = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(buf);
	struct wbxml_doc *doc;
	const struct wbxml_node *root, *body;
	const char *error;

	it.folder_id = 5;
	it.uid = 9;
	it.found = true;
	it.flags = flags;
	it.nflags = 2;
	it.internal_date = 760686745;
	it.thread_id = "T0123456789abcdef01234567";
	ok(message_eas_parse(raw, strlen(raw), &it.msg, &error) == 0, "parsed");
	it.parsed = true;
	o.nbody = 1;
	o.body[0].type = 1;
	o.body[0].has_truncation = true;
	o.body[0].truncation = 4;
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	eas_email_write(w, EAS_VERSION_161, &it, &o);
	wbxml_end(w);
	ok(wbxml_writer_finish(&w) == 0, "item written");
	doc = decode(buf);
	root = doc != NULL ? wbxml_doc_root(doc) : NULL;
	is_str(wbxml_child_text(root, EAS_EMAIL_SUBJECT), "s", "Subject");
	is_str(wbxml_child_text(root, EAS_EMAIL_READ), "1", "Read");
	is_str(wbxml_child_text(root, EAS_EMAIL_DISPLAYTO), "B", "DisplayTo");
	is_str(wbxml_child_text(root, EAS_EMAIL_DATERECEIVED), "1994-02-08T05:52:25.000Z",
	       "DateReceived");
	body = wbxml_child(root, EAS_AIRSYNCBASE_BODY);
	is_str(wbxml_child_text(body, EAS_AIRSYNCBASE_DATA), "body", "truncated body");
	is_str(wbxml_child_text(body, EAS_AIRSYNCBASE_TRUNCATED), "1", "Truncated");
	is_str(wbxml_child_text(wbxml_child(root, EAS_EMAIL_CATEGORIES), EAS_EMAIL_CATEGORY),
	       "Blue", "category");
	ok(wbxml_child(root, EAS_EMAIL2_CONVERSATIONID) != NULL &&
	       wbxml_child(root, EAS_EMAIL2_CONVERSATIONID)->len == 16,
	   "ConversationId of 16 bytes");
	is_int(eas_email_body_type(&o, &it.msg), 1, "body type");
	wbxml_doc_free(&doc);
	evbuffer_free(buf);
	message_eas_clear(&it.msg);
}

int
main(void)
{
	test_keys();
	test_ids();
	test_options();
	test_dates();
	test_categories();
	test_changes();
	test_write_item();
	return done_testing();
}

/* Unit tests of modules/groupware-item.c: building the Kolab-style MIME
 * form of each type and parsing it back byte for byte, attachments,
 * encodings, messages shaped by clients, the index handed to the store,
 * and refusals. */
#include <stdlib.h>
#include <string.h>

#include "groupware-item.h"
#include "tap.h"

#define CAL(body)                                                                                  \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//test//EN\r\n" body "END:VCALENDAR\r\n"

static const char event[] = CAL("BEGIN:VEVENT\r\nUID:ev-42@example.com\r\n"
                                "DTSTART:20240105T100000Z\r\nDTEND:20240105T110000Z\r\n"
                                "SUMMARY:Budget review\r\nCLASS:PRIVATE\r\n"
                                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n"
                                "END:VEVENT\r\n");

static const char card[] =
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:c1\r\nFN:J\xc3\xb6rg Smith\r\n"
    "N:Smith;J\xc3\xb6rg;;;\r\nEMAIL:jorg@example.com\r\nTEL:+49 30 1234\r\n"
    "ORG:Acme;Sales\r\nBDAY:--0704\r\nEND:VCARD\r\n";

static char *
build(enum groupware_type type, const char *object, size_t len,
      const struct groupware_attachment *att, size_t natt, size_t *len_r)
{
	struct groupware_build b = {.type = type,
	                            .object = object,
	                            .object_len = len,
	                            .from = "owner@example.com",
	                            .date = 1704448800,
	                            .attachments = att,
	                            .nattachments = natt};
	const char *error = NULL;
	char *msg = groupware_item_build(&b, len_r, &error);

	if (msg == NULL)
		printf("# build error: %s\n", error);
	return msg;
}

static struct groupware_item *
parse(const char *msg, size_t len, const char *folder)
{
	const char *error = NULL;
	struct groupware_item *item = groupware_item_parse(msg, len, folder, &error);

	if (item == NULL)
		printf("# parse error: %s\n", error);
	return item;
}

static void
refused(const char *msg, const char *folder, const char *want, const char *what)
{
	const char *error = NULL;
	struct groupware_item *item = groupware_item_parse(msg, strlen(msg), folder, &error);

	ok(item == NULL, "%s: refused", what);
	ok(error != NULL && strstr(error, want) != NULL, "%s: \"%s\" says \"%s\"", what,
	   error != NULL ? error : "(none)", want);
	groupware_item_free(&item);
}

static void
test_event(void)
{
	size_t len, len2;
	char *msg = build(GROUPWARE_EVENT, event, strlen(event), NULL, 0, &len);
	char *again = build(GROUPWARE_EVENT, event, strlen(event), NULL, 0, &len2);
	struct groupware_item *item;

	ok(msg != NULL, "event item built");
	if (msg == NULL)
		return;
	ok(len == len2 && memcmp(msg, again, len) == 0, "building is deterministic");
	ok(strstr(msg, "\r\nSubject: ev-42@example.com\r\n") != NULL, "Subject is the UID");
	ok(strncmp(msg, "From: owner@example.com\r\nDate: Fri, 5 Jan 2024 10:00:00 +0000\r\n",
	           63) == 0,
	   "From and Date");
	ok(strstr(msg, "\r\nX-Kolab-Type: application/x-vnd.kolab.event\r\nContent-Type: "
	               "multipart/mixed; boundary=\"=_floe_") != NULL,
	   "message-level X-Kolab-Type and multipart");
	ok(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: "
	               "7bit\r\n\r\nThis is a groupware event stored by Floe for groupware "
	               "clients.\r\nSummary: Budget review\r\n") != NULL,
	   "human-readable part");
	ok(strstr(msg,
	          "Content-Type: text/calendar; charset=UTF-8\r\n"
	          "Content-Transfer-Encoding: 8bit\r\n"
	          "Content-Disposition: attachment; filename=\"event.ics\"\r\n"
	          "X-Kolab-Type: application/x-vnd.kolab.event\r\n\r\nBEGIN:VCALENDAR") != NULL,
	   "object part, 8bit");
	item = parse(msg, len, "event");
	ok(item != NULL && item->type == GROUPWARE_EVENT, "parsed back as an event");
	if (item != NULL) {
		ok(item->object_len == strlen(event) &&
		       memcmp(item->object, event, item->object_len) == 0,
		   "object byte for byte");
		is_str(item->index.kind, "event", "index kind");
		is_str(item->index.uid, "ev-42@example.com", "index uid");
		is_str(item->index.title, "Budget review", "index title");
		ok(item->index.has_start && item->index.start == 1704448800 &&
		       item->index.end == 1704452400 && item->index.range_end == 1704452400,
		   "index times");
		ok(item->index.is_private, "index private");
		ok(item->index.nattendees == 1 &&
		       strcmp(item->index.attendees[0].address, "bob@example.com") == 0 &&
		       strcmp(item->index.attendees[0].partstat, "ACCEPTED") == 0,
		   "index attendees");
		is_int(item->nattachments, 0, "no attachments");
	}
	groupware_item_free(&item);
	refused(msg, "task", "an event cannot be stored in a folder of type task",
	        "an event into a task folder");
	refused(msg, "contact", "cannot be stored in a contact folder",
	        "an event into a contact folder");
	free(msg);
	free(again);
}

static void
test_contact_attachments(void)
{
	static const unsigned char bin[] = {0, 1, 2, 0xff, 0xfe, '\r', '\n', 'x', '-', '-'};
	struct groupware_attachment att[] = {
	    {.filename = "photo.jpg",
	     .content_type = "IMAGE/JPEG",
	     .data = bin,
	     .size = sizeof(bin)},
	    {.filename = "Pr\xc3\xa4sentation \"final\".pdf", .data = "%PDF", .size = 4},
	};
	size_t len;
	char *msg = build(GROUPWARE_CONTACT, card, strlen(card), att, 2, &len);
	struct groupware_item *item;

	ok(msg != NULL, "contact with two attachments built");
	if (msg == NULL)
		return;
	ok(strstr(msg, "Subject: urn:uuid:c1\r\n") != NULL, "contact Subject");
	ok(strstr(msg, "Content-Type: text/vcard; charset=UTF-8\r\n") != NULL, "text/vcard part");
	ok(strstr(msg, "Content-Transfer-Encoding: 8bit\r\n\r\nName: J\xc3\xb6rg Smith") == NULL &&
	       strstr(msg, "Name: J\xc3\xb6rg Smith\r\n") != NULL,
	   "name in the text part");
	ok(strstr(msg, "filename*=UTF-8''Pr%C3%A4sentation%20%22final%22.pdf") != NULL,
	   "RFC 2231 file name");
	item = parse(msg, len, "contact");
	ok(item != NULL && item->type == GROUPWARE_CONTACT, "parsed back as a contact");
	if (item != NULL) {
		ok(item->object_len == strlen(card) &&
		       memcmp(item->object, card, item->object_len) == 0,
		   "card byte for byte");
		ok(item->nattachments == 2, "two attachments");
		if (item->nattachments == 2) {
			is_str(item->attachments[0].filename, "photo.jpg", "first name");
			is_str(item->attachments[0].content_type, "image/jpeg", "first type");
			ok(item->attachments[0].size == sizeof(bin) &&
			       memcmp(item->attachments[0].data, bin, sizeof(bin)) == 0,
			   "binary attachment intact");
			is_str(item->attachments[1].filename, "Pr\xc3\xa4sentation \"final\".pdf",
			       "UTF-8 name decoded");
			is_str(item->attachments[1].content_type, "application/octet-stream",
			       "default type");
		}
		is_str(item->index.kind, "contact", "kind contact");
		is_str(item->index.title, "J\xc3\xb6rg Smith", "title is FN");
		is_str(item->index.family_name, "Smith", "family name");
		is_str(item->index.org, "Acme", "organization");
		ok(item->index.nemails == 1 && item->index.nphones == 1, "emails and phones");
		ok(item->index.bday_year == 0 && item->index.bday_month == 7 &&
		       item->index.bday_day == 4,
		   "birthday without year");
		ok(!item->index.has_start, "a contact has no time");
	}
	groupware_item_free(&item);
	refused(msg, "event", "a contact cannot be stored in a folder of type event",
	        "a contact into an event folder");
	free(msg);
}

static void
test_encodings(void)
{
	/* LF line ends cannot be 8bit MIME: base64 keeps them. */
	static const char lf[] = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTODO\nUID:t\xc3\xa4sk-1\n"
	                         "SUMMARY:Line\\nbreak\nEND:VTODO\nEND:VCALENDAR\n";
	static const char dl[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dl-1\r\nFN:Team\r\n"
	                         "X-ADDRESSBOOKSERVER-KIND:group\r\n"
	                         "X-ADDRESSBOOKSERVER-MEMBER:mailto:a@example.com\r\nEND:VCARD\r\n";
	static const char note[] = CAL("BEGIN:VJOURNAL\r\nUID:n-1\r\nX-FLOE-KIND:note\r\n"
	                               "SUMMARY:Milk\r\nEND:VJOURNAL\r\n");
	size_t len;
	char *msg = build(GROUPWARE_TASK, lf, strlen(lf), NULL, 0, &len);
	struct groupware_item *item;
	const char *error;
	struct groupware_build b = {
	    .type = GROUPWARE_CONTACT, .object = dl, .object_len = strlen(dl)};

	ok(msg != NULL && strstr(msg, "Content-Transfer-Encoding: base64\r\n") != NULL,
	   "LF-only object goes as base64");
	ok(msg != NULL && strstr(msg, "Subject: =?UTF-8?B?dMOkc2stMQ==?=\r\n") != NULL,
	   "non-ASCII UID as an encoded word");
	item = msg != NULL ? parse(msg, len, "task") : NULL;
	ok(item != NULL && item->object_len == strlen(lf) &&
	       memcmp(item->object, lf, strlen(lf)) == 0,
	   "LF-only object back byte for byte");
	groupware_item_free(&item);
	free(msg);

	msg = build(GROUPWARE_DISTLIST, dl, strlen(dl), NULL, 0, &len);
	ok(msg != NULL &&
	       strstr(msg, "X-Kolab-Type: application/x-vnd.kolab.distribution-list") != NULL,
	   "distribution list type");
	item = msg != NULL ? parse(msg, len, "contact") : NULL;
	ok(item != NULL && item->type == GROUPWARE_DISTLIST && item->index.nmembers == 1 &&
	       strcmp(item->index.kind, "distlist") == 0,
	   "distribution list parsed with its member");
	groupware_item_free(&item);
	free(msg);
	ok(groupware_item_build(&b, &len, &error) == NULL && strstr(error, "KIND:group") != NULL,
	   "a group card built as a contact is refused");

	msg = build(GROUPWARE_NOTE, note, strlen(note), NULL, 0, &len);
	item = msg != NULL ? parse(msg, len, "note") : NULL;
	ok(item != NULL && item->type == GROUPWARE_NOTE && strcmp(item->index.kind, "note") == 0,
	   "note round trip");
	groupware_item_free(&item);
	free(msg);
}

static void
test_client_messages(void)
{
	struct groupware_item *item;
	const char *qp = "Subject: t-9\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: text/calendar; charset=\"utf-8\"\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t-9\r\n"
	                 "SUMMARY:Caf=C3=A9\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
	const char *nested = "Subject: x\r\nX-Kolab-Type: application/x-vnd.kolab.contact\r\n"
	                     "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
	                     "--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
	                     "--b2\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	                     "--b2\r\nContent-Type: text/x-vcard\r\n\r\n"
	                     "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v1\r\nFN:V\r\nEND:VCARD\r\n"
	                     "--b2--\r\n--b1--\r\n";

	item = parse(qp, strlen(qp), "task");
	ok(item != NULL && item->type == GROUPWARE_TASK, "single-part quoted-printable task");
	if (item != NULL)
		is_str(item->index.title, "Caf\xc3\xa9", "quoted-printable decoded");
	groupware_item_free(&item);
	item = parse(nested, strlen(nested), NULL);
	ok(item != NULL && item->type == GROUPWARE_CONTACT && item->nattachments == 0,
	   "text/x-vcard inside multipart/alternative, any folder");
	groupware_item_free(&item);

	refused("Subject: x\r\nContent-Type: text/plain\r\n\r\nhello\r\n", NULL,
	        "no text/calendar or text/vcard part", "no object part");
	refused("Subject: x\r\nX-Kolab-Type: application/x-vnd.kolab.mail\r\n"
	        "Content-Type: text/calendar\r\n\r\n" CAL(""),
	        NULL, "unknown X-Kolab-Type \"application/x-vnd.kolab.mail\"", "unknown type");
	refused("Subject: x\r\nX-Kolab-Type: application/x-vnd.kolab.contact\r\n"
	        "Content-Type: text/calendar\r\n\r\n" CAL("BEGIN:VEVENT\r\nUID:e\r\n"
	                                                  "DTSTART:20240101T000000Z\r\n"
	                                                  "END:VEVENT\r\n"),
	        NULL, "X-Kolab-Type names a contact but the object is iCalendar",
	        "type disagrees with the object");
	refused("Subject: x\r\nX-Kolab-Type: application/x-vnd.kolab.task\r\n"
	        "Content-Type: text/calendar\r\n\r\n" CAL("BEGIN:VEVENT\r\nUID:e\r\n"
	                                                  "DTSTART:20240101T000000Z\r\n"
	                                                  "END:VEVENT\r\n"),
	        NULL, "the object is an event, the folder holds tasks", "task header on an event");
	refused("Subject: x\r\nContent-Type: text/calendar; charset=iso-8859-1\r\n\r\n" CAL(""),
	        NULL, "charset iso-8859-1 is not supported", "charset");
	refused("Subject: x\r\nContent-Type: text/calendar\r\n\r\n" CAL("BEGIN:VEVENT\r\nUID:e\r\n"
	                                                                "END:VEVENT\r\n"),
	        "event", "VEVENT without DTSTART", "invalid object: the parser's reason");
	refused("Subject: x\r\nContent-Type: text/vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:4.0\r\n"
	        "FN:x\r\nEND:VCARD\r\n",
	        "contact", "the card has no UID", "card without UID");
}

static void
test_build_refusals(void)
{
	const char *error = NULL;
	size_t len;
	struct groupware_attachment bad = {.content_type = "image", .data = "x", .size = 1};
	struct groupware_build b = {.type = GROUPWARE_EVENT,
	                            .object = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
	                            .object_len = 32};

	ok(groupware_item_build(&b, &len, &error) == NULL && strstr(error, "VERSION") != NULL,
	   "invalid object refused with the parser's reason");
	b.object = event;
	b.object_len = strlen(event);
	b.attachments = &bad;
	b.nattachments = 1;
	ok(groupware_item_build(&b, &len, &error) == NULL &&
	       strcmp(error, "invalid attachment content type") == 0,
	   "bad content type refused");
	b.nattachments = 0;
	b.from = "a@b\r\nBcc: x";
	ok(groupware_item_build(&b, &len, &error) == NULL, "header injection refused");
	b.from = NULL;
	b.type = GROUPWARE_TASK;
	ok(groupware_item_build(&b, &len, &error) == NULL && strstr(error, "folder holds tasks"),
	   "an event built as a task is refused");

	{
		enum groupware_type t;

		ok(groupware_type_from_kolab(" application/x-vnd.kolab.TASK", &t) == 0 &&
		       t == GROUPWARE_TASK,
		   "X-Kolab-Type parsed case-insensitively");
		ok(groupware_type_from_kolab("text/plain", &t) < 0, "unknown X-Kolab-Type");
		is_str(groupware_type_folder(GROUPWARE_DISTLIST), "contact",
		       "lists live in contacts");
	}
}

int
main(void)
{
	test_event();
	test_contact_attachments();
	test_encodings();
	test_client_messages();
	test_build_refusals();
	return done_testing();
}

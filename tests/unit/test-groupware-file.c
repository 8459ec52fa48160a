/* Unit tests of file items (modules/groupware-item-file.c and
 * groupware_file_build): building and parsing back byte for byte, RFC 2231
 * and encoded-word file names, every transfer encoding, the index handed
 * to the store, streaming decode, and every refusal with its message. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "groupware-item.h"
#include "tap.h"

#define HDR(subject, kolab)                                                                        \
	"From: owner@example.com\r\nSubject: " subject "\r\nMIME-Version: 1.0\r\n" kolab

#define KOLAB  "X-Kolab-Type: application/x-vnd.kolab.file\r\n"
#define MIXED  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
#define TEXT   "--b1\r\nContent-Type: text/plain\r\n\r\nA file.\r\n"
#define FILEHD "--b1\r\nContent-Type: application/octet-stream\r\n"

/* A file item with one file part: its extra headers and body. */
#define ITEM(part_headers, body)                                                                   \
	HDR("file-1", KOLAB) MIXED TEXT FILEHD part_headers "\r\n" body "\r\n--b1--\r\n"

struct sink {
	unsigned char *data;
	size_t len;
	size_t stop_after; /* 0: never */
};

static int
sink_write(const void *data, size_t len, void *ctx)
{
	struct sink *s = ctx;

	s->data = realloc(s->data, s->len + len + 1);
	memcpy(s->data + s->len, data, len);
	s->len += len;
	if (s->stop_after > 0 && s->len >= s->stop_after)
		return -1;
	return 0;
}

static void
hex_sha256(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static struct groupware_item *
parse_file(const char *msg, size_t len)
{
	const char *error = NULL;
	struct groupware_item *item = groupware_item_parse(msg, len, "file", &error);

	if (item == NULL)
		printf("# parse error: %s\n", error);
	return item;
}

/* Parses msg as a file item: its name and decoded bytes must be these. */
static void
decodes_to(const char *msg, const char *name, const void *want, size_t want_len, const char *what)
{
	struct groupware_item *item = parse_file(msg, strlen(msg));
	struct groupware_file_info info;
	struct sink s = {0};
	const char *error = NULL;
	char sha[65];

	hex_sha256(want, want_len, sha);
	ok(item != NULL && item->type == GROUPWARE_FILE, "%s: parsed", what);
	if (item != NULL) {
		is_str(item->file.filename, name, "%s: name", what);
		is_int(item->file.size, want_len, "%s: size", what);
		is_str(item->file.sha256, sha, "%s: hash", what);
	}
	ok(groupware_file_decode(msg, strlen(msg), sink_write, &s, &info, &error) == 0,
	   "%s: decoded (%s)", what, error != NULL ? error : "ok");
	ok(s.len == want_len && (want_len == 0 || memcmp(s.data, want, want_len) == 0),
	   "%s: bytes (%zu of %zu)", what, s.len, want_len);
	groupware_file_info_clear(&info);
	groupware_item_free(&item);
	free(s.data);
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
test_round_trip(void)
{
	unsigned char data[3000];
	struct groupware_file_build b = {
	    .uid = "f-0001",
	    .filename = "report.pdf",
	    .media_type = "Application/PDF",
	    .data = data,
	    .size = sizeof(data),
	    .from = "owner@example.com",
	    .date = 1704448800,
	};
	struct groupware_item *item;
	struct groupware_file_info info;
	struct sink s = {0};
	const char *error = NULL;
	size_t len, len2;
	char *msg, *msg2, sha[65];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + i / 256);
	data[10] = '\0';
	hex_sha256(data, sizeof(data), sha);
	msg = groupware_file_build(&b, &len, &error);
	ok(msg != NULL, "built (%s)", error != NULL ? error : "ok");
	msg2 = groupware_file_build(&b, &len2, &error);
	ok(msg2 != NULL && len == len2 && memcmp(msg, msg2, len) == 0, "deterministic");
	free(msg2);
	ok(strstr(msg, "Subject: f-0001\r\n") != NULL, "Subject is the UID");
	ok(strstr(msg, "X-Kolab-Type: application/x-vnd.kolab.file\r\n") != NULL, "X-Kolab-Type");
	ok(strstr(msg, "Content-Type: application/pdf; name=\"report.pdf\"\r\n") != NULL,
	   "media type lower-cased, with name");
	ok(strstr(msg, "Content-Disposition: attachment; filename=\"report.pdf\"\r\n") != NULL,
	   "disposition with filename");
	ok(strstr(msg, "Name: report.pdf\r\nSize: 3000 bytes\r\n") != NULL, "text part");

	item = parse_file(msg, len);
	ok(item != NULL && item->type == GROUPWARE_FILE, "parsed back as a file");
	if (item != NULL) {
		is_str(item->index.kind, "file", "index kind");
		is_str(item->index.uid, "f-0001", "index uid");
		is_str(item->index.title, "report.pdf", "title is the name");
		is_str(item->index.filename, "report.pdf", "index filename");
		is_str(item->index.media_type, "application/pdf", "index media type");
		is_int(item->index.file_size, sizeof(data), "index size");
		is_str(item->index.sha256, sha, "index sha256");
		ok(item->object == NULL && item->nattachments == 0, "no object, no attachments");
		is_str(item->file.uid, "f-0001", "file uid");
	}
	groupware_item_free(&item);

	ok(groupware_file_decode(msg, len, sink_write, &s, &info, &error) == 0, "decoded");
	ok(s.len == sizeof(data) && memcmp(s.data, data, sizeof(data)) == 0, "bytes identical");
	is_str(info.uid, "f-0001", "decode: uid");
	is_str(info.filename, "report.pdf", "decode: name");
	is_str(info.sha256, sha, "decode: hash");
	groupware_file_info_clear(&info);
	free(s.data);

	/* The writer may stop the decoding. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	ok(groupware_file_decode(msg, len, sink_write, &s, &info, &error) < 0 &&
	       strstr(error, "could not be written") != NULL,
	   "a writer that stops ends the decoding");
	free(s.data);
	free(msg);

	/* Any item parse with no folder type finds the file by X-Kolab-Type. */
	b.media_type = NULL;
	b.size = 0;
	b.filename = "\xe2\x82\xac rates \"2024\".txt";
	b.uid = "\xc3\xa9t\xc3\xa9-1";
	msg = groupware_file_build(&b, &len, &error);
	ok(msg != NULL, "UTF-8 name and UID built");
	ok(msg != NULL &&
	       strstr(msg, "filename*=UTF-8''%E2%82%AC%20rates%20%222024%22.txt") != NULL,
	   "name as RFC 2231");
	ok(msg != NULL && strstr(msg, "Subject: =?UTF-8?B?") != NULL, "UID as an encoded word");
	ok(msg != NULL && strstr(msg, "Content-Type: application/octet-stream;") != NULL,
	   "default media type");
	{
		const char *e2 = NULL;

		item = msg != NULL ? groupware_item_parse(msg, len, NULL, &e2) : NULL;
	}
	ok(item != NULL && item->type == GROUPWARE_FILE, "empty file parsed without folder type");
	if (item != NULL) {
		is_str(item->file.filename, "\xe2\x82\xac rates \"2024\".txt", "UTF-8 name back");
		is_str(item->file.uid, "\xc3\xa9t\xc3\xa9-1", "UTF-8 UID back");
		is_int(item->file.size, 0, "empty");
		is_str(item->file.sha256,
		       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		       "hash of nothing");
	}
	groupware_item_free(&item);
	free(msg);
}

/* Long UIDs travel as several encoded words; they must come back whole
 * (GMime joins adjacent words, so split base64 with padding would not). */
static void
test_long_uids(void)
{
	static const char *const uids[] = {
	    /* a 4-byte character, then 3-byte ones: no chunk of whole
	     * characters is a multiple of 3 bytes */
	    "\xf0\x9f\x93\x84\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87"
	    "\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87"
	    "\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87-end",
	    "\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf"
	    "\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf"
	    "\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf\xc3\xbf a_b=c?d",
	    "plain but with =? inside and long enough to need more than one encoded word",
	};

	for (size_t i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
		struct groupware_file_build b = {
		    .uid = uids[i], .filename = "f.txt", .data = "x", .size = 1, .date = 1};
		struct groupware_item *item;
		const char *error = NULL;
		size_t len;
		char *msg = groupware_file_build(&b, &len, &error);

		item = msg != NULL ? parse_file(msg, len) : NULL;
		ok(item != NULL && strcmp(item->file.uid, uids[i]) == 0, "long UID %zu round trip",
		   i);
		groupware_item_free(&item);
		free(msg);
	}
}

static void
test_large(void)
{
	size_t size = 3 * 1024 * 1024 + 17, len;
	unsigned char *data = malloc(size);
	struct groupware_file_build b = {
	    .uid = "big", .filename = "big.bin", .data = data, .size = size, .date = 1};
	struct groupware_item *item;
	const char *error = NULL;
	char *msg, sha[65];

	randombytes_buf(data, size);
	hex_sha256(data, size, sha);
	msg = groupware_file_build(&b, &len, &error);
	item = msg != NULL ? parse_file(msg, len) : NULL;
	ok(item != NULL && item->file.size == size && strcmp(item->file.sha256, sha) == 0,
	   "3 MB of random bytes round trip");
	groupware_item_free(&item);
	free(msg);
	free(data);
}

static void
test_names(void)
{
	decodes_to(
	    ITEM("Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf\r\n",
	         "abc"),
	    "\xe2\x82\xac rates.pdf", "abc", 3, "RFC 2231 name");
	decodes_to(ITEM("Content-Disposition: attachment; filename*0*=UTF-8''%E2%82%AC;"
	                " filename*1=\" long name.pdf\"\r\n",
	                "abc"),
	           "\xe2\x82\xac long name.pdf", "abc", 3, "RFC 2231 continuations");
	decodes_to(
	    ITEM("Content-Disposition: attachment; filename*=iso-8859-1''caf%E9.txt\r\n", "abc"),
	    "caf\xc3\xa9.txt", "abc", 3, "RFC 2231 Latin-1 name to UTF-8");
	decodes_to(ITEM("Content-Disposition: attachment;"
	                " filename=\"=?UTF-8?B?4oKsIHJhdGVzLnBkZg==?=\"\r\n",
	                "abc"),
	           "\xe2\x82\xac rates.pdf", "abc", 3, "encoded-word name");
	decodes_to(ITEM("Content-Disposition: attachment;"
	                " filename=\"=?ISO-8859-1?Q?caf=E9?=.txt\"\r\n",
	                "abc"),
	           "caf\xc3\xa9.txt", "abc", 3, "Latin-1 encoded-word name");
	decodes_to(
	    HDR("file-1", KOLAB) MIXED TEXT
	    "--b1\r\nContent-Type: image/png; name=\"only-name.png\"\r\n\r\nabc\r\n--b1--\r\n",
	    "only-name.png", "abc", 3, "Content-Type name only");
}

static void
test_encodings(void)
{
	static const char qp_want[] = "caf\xc3\xa9 = done\r\nline 2\tend\r\nlast";

	decodes_to(ITEM("Content-Disposition: attachment; filename=a.bin\r\n"
	                "Content-Transfer-Encoding: base64\r\n",
	                "AAEC/w==\r\n"),
	           "a.bin", "\x00\x01\x02\xff", 4, "base64");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.bin\r\n"
	                "Content-Transfer-Encoding: BASE64\r\n",
	                "SGVs\r\n bG8"),
	           "a.bin", "Hello", 5, "base64 without padding, with blanks");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.txt\r\n"
	                "Content-Transfer-Encoding: quoted-printable\r\n",
	                "caf=C3=A9 =3D do=\r\nne   \r\nline 2=09end\t\r\nla=  \r\nst"),
	           "a.txt", qp_want, sizeof(qp_want) - 1, "quoted-printable");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.txt\r\n"
	                "Content-Transfer-Encoding: quoted-printable\r\n",
	                "lower =c3=a9"),
	           "a.txt", "lower \xc3\xa9", 8, "quoted-printable lower-case hex");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.txt\r\n"
	                "Content-Transfer-Encoding: 8bit\r\n",
	                "caf\xc3\xa9\r\nline"),
	           "a.txt", "caf\xc3\xa9\r\nline", 11, "8bit");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.txt\r\n"
	                "Content-Transfer-Encoding: binary\r\n",
	                "x\ry\nz"),
	           "a.txt", "x\ry\nz", 5, "binary");
	decodes_to(ITEM("Content-Disposition: attachment; filename=a.txt\r\n", "plain\r\n"),
	           "a.txt", "plain\r\n", 7, "no transfer encoding, final line break kept");
	decodes_to(HDR("single", KOLAB) "Content-Type: text/csv\r\n"
	                                "Content-Disposition: attachment; filename=\"t.csv\"\r\n"
	                                "Content-Transfer-Encoding: 7bit\r\n\r\na,b\r\n",
	           "t.csv", "a,b\r\n", 5, "a single-part item");
	decodes_to(HDR("file-1", KOLAB) MIXED TEXT
	           "--b1\r\nContent-Type: application/vnd.kolab+xml\r\n"
	           "Content-Disposition: attachment; filename=\"kolab.xml\"\r\n\r\n<file/>\r\n"
	           "--b1\r\nContent-Type: text/plain\r\n"
	           "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nhi\r\n"
	           "--b1--\r\n",
	           "notes.txt", "hi", 2, "Kolab XML part ignored");
}

static void
test_refusals(void)
{
	char longname[400], msg[1024];

	refused(HDR("file-1", KOLAB) MIXED TEXT "--b1--\r\n", "file", "no file part",
	        "no file part");
	refused(HDR("file-1", KOLAB) MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n" FILEHD
	        "Content-Disposition: attachment; filename=b\r\n\r\nB\r\n--b1--\r\n",
	        "file", "2 file parts; a file item holds exactly one", "two file parts");
	refused(ITEM("Content-Disposition: attachment\r\n", "x"), "file",
	        "the file part has no filename", "no filename");
	refused(ITEM("Content-Disposition: attachment; filename=\"\"\r\n", "x"), "file",
	        "the file part has no filename", "empty filename");
	refused(ITEM("Content-Disposition: attachment; filename=\"a/b.txt\"\r\n", "x"), "file",
	        "the file name contains '/'", "slash");
	refused(ITEM("Content-Disposition: attachment; filename*=UTF-8''a%01b.txt\r\n", "x"),
	        "file", "the file name contains control characters", "control character");
	refused(ITEM("Content-Disposition: attachment; filename*=UTF-8''a%C2%85b.txt\r\n", "x"),
	        "file", "the file name contains control characters", "C1 control character");
	refused(ITEM("Content-Disposition: attachment; filename*=UTF-8''%FF%FE.txt\r\n", "x"),
	        "file", "the file name is not valid UTF-8", "invalid UTF-8 name");
	refused(ITEM("Content-Disposition: attachment; filename=\"..\"\r\n", "x"), "file",
	        "cannot be \".\" or \"..\"", "dot-dot");
	memset(longname, 'n', 256);
	longname[256] = '\0';
	snprintf(msg, sizeof(msg),
	         ITEM("Content-Disposition: attachment; filename=\"%s\"\r\n", "x"), longname);
	refused(msg, "file", "the file name is longer than 255 bytes", "256-byte name");
	longname[255] = '\0';
	snprintf(msg, sizeof(msg),
	         ITEM("Content-Disposition: attachment; filename=\"%s\"\r\n", "x"), longname);
	{
		const char *error = NULL;
		struct groupware_item *item =
		    groupware_item_parse(msg, strlen(msg), "file", &error);

		ok(item != NULL, "a 255-byte name is accepted");
		groupware_item_free(&item);
	}
	refused(HDR("file-1", "X-Kolab-Type: application/x-vnd.kolab.event\r\n") MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "X-Kolab-Type names an event; a file folder holds files",
	        "wrong X-Kolab-Type");
	refused(HDR("file-1", "") MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "no X-Kolab-Type header", "missing X-Kolab-Type");
	refused(HDR("file-1", "X-Kolab-Type: application/x-vnd.kolab.folder\r\n") MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "unknown X-Kolab-Type \"application/x-vnd.kolab.folder\"",
	        "unknown X-Kolab-Type");
	refused("From: a@b\r\n" KOLAB MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "no Subject (a file item's Subject is its UID)", "missing Subject");
	refused(HDR("  ", KOLAB) MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "the Subject (the file's UID) is empty", "empty Subject");
	refused(HDR("=?UTF-8?B?YQFi?=", KOLAB) MIXED TEXT FILEHD
	        "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	        "file", "the Subject (the file's UID) contains control characters",
	        "control character in the UID");
	memset(longname, 'u', 256);
	longname[256] = '\0';
	snprintf(msg, sizeof(msg),
	         HDR("%s", KOLAB) MIXED TEXT FILEHD
	         "Content-Disposition: attachment; filename=a\r\n\r\nA\r\n--b1--\r\n",
	         longname);
	refused(msg, "file", "the Subject (the file's UID) is longer than 255 bytes", "long UID");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: base64\r\n",
	             "AAE*"),
	        "file", "invalid character in the base64 file part", "bad base64 character");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: base64\r\n",
	             "AAECA"),
	        "file", "the base64 file part is truncated", "truncated base64");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: base64\r\n",
	             "AA==AAAA"),
	        "file", "data after the padding", "base64 after padding");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: base64\r\n",
	             "A==="),
	        "file", "misplaced '='", "misplaced padding");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n",
	             "ab=ZZcd"),
	        "file", "invalid '=' escape in the quoted-printable file part", "bad QP escape");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n",
	             "ab=4"),
	        "file", "ends inside an '=' escape", "QP ends in an escape");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n"
	             "Content-Transfer-Encoding: x-uuencode\r\n",
	             "x"),
	        "file", "Content-Transfer-Encoding \"x-uuencode\" is not supported",
	        "unknown encoding");
	refused(ITEM("Content-Disposition: attachment; filename=a\r\n", "x"), "event",
	        "a file cannot be stored in a folder of type event", "file into an event folder");
	refused(HDR("file-1", KOLAB) MIXED TEXT
	        "--b1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
	        "Subject: inner\r\n\r\nbody\r\n--b1--\r\n",
	        "file", "attached message", "an attached message is not a file");
	refused("", "file", "empty message", "empty");
	refused(HDR("file-1", KOLAB) MIXED TEXT "--b1--\r\n", NULL, "no file part",
	        "X-Kolab-Type alone picks the file form");
}

static void
test_build_refusals(void)
{
	struct groupware_file_build b = {.uid = "u", .filename = "a.txt", .data = "x", .size = 1};
	struct groupware_build gb = {.type = GROUPWARE_FILE, .object = "x", .object_len = 1};
	const char *error = NULL;
	size_t len;
	char big[300];

	b.uid = "";
	ok(groupware_file_build(&b, &len, &error) == NULL && strstr(error, "UID is empty"),
	   "empty UID refused");
	b.uid = "a\r\nBcc: x";
	ok(groupware_file_build(&b, &len, &error) == NULL && strstr(error, "control"),
	   "UID with CRLF refused");
	memset(big, 'u', 256);
	big[256] = '\0';
	b.uid = big;
	ok(groupware_file_build(&b, &len, &error) == NULL && strstr(error, "longer than 255"),
	   "long UID refused");
	b.uid = "u";
	b.filename = "x/y";
	ok(groupware_file_build(&b, &len, &error) == NULL && strstr(error, "'/'"),
	   "name with a slash refused");
	b.filename = "a.txt";
	b.media_type = "text";
	ok(groupware_file_build(&b, &len, &error) == NULL &&
	       strcmp(error, "invalid media type") == 0,
	   "malformed media type refused");
	b.media_type = NULL;
	b.from = "a@b\r\nX: y";
	ok(groupware_file_build(&b, &len, &error) == NULL && strstr(error, "From"),
	   "From injection refused");
	ok(groupware_item_build(&gb, &len, &error) == NULL && strstr(error, "groupware_file_build"),
	   "groupware_item_build refuses files");
	{
		enum groupware_type t;

		ok(groupware_type_from_kolab("Application/X-Vnd.Kolab.File", &t) == 0 &&
		       t == GROUPWARE_FILE,
		   "X-Kolab-Type of files");
		is_str(groupware_type_folder(GROUPWARE_FILE), "file", "files live in file folders");
		is_str(groupware_type_kind(GROUPWARE_FILE), "file", "index kind file");
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_round_trip();
	test_long_uids();
	test_large();
	test_names();
	test_encodings();
	test_refusals();
	test_build_refusals();
	return done_testing();
}

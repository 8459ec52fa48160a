/* The share notification mail (modules/share-notice.c): headers, encodings
 * of names and folders, the texts of share and unshare, and that the
 * result is a message modules/message.c parses as intended. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "share-notice.h"
#include "tap.h"

/* The value of header name (first occurrence, unfolded), or NULL; the
 * caller frees. */
static char *
header(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *end = strstr(msg, "\r\n\r\n");

	for (const char *p = msg; p != NULL && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = v;
			char *out, *o;

			while (*v == ' ')
				v++;
			while (!(e[0] == '\r' && e[1] == '\n' && e[2] != ' '))
				e++;
			out = malloc((size_t)(e - v) + 1);
			o = out;
			for (const char *q = v; q < e; q++) {
				if (*q != '\r' && *q != '\n')
					*o++ = *q;
			}
			*o = '\0';
			return out;
		}
	}
	return NULL;
}

static void
is_header(const char *msg, const char *name, const char *want)
{
	char *got = header(msg, name);

	is_str(got != NULL ? got : "(none)", want != NULL ? want : "(none)", "%s", name);
	free(got);
}

static void
test_folder_share(void)
{
	struct share_notice_mail m = {
	    .owner = "alice@example.com",
	    .owner_name = "Alice \"A\" Example",
	    .grantee = "bob@example.com",
	    .grantee_name = "",
	    .folder = "Calendar",
	    .rights = "lrsw",
	    .date = 1700000000,
	    .message_id = "share.1.1700000000@example.com",
	};
	struct message_info info;
	const char *error;
	size_t size;
	char *msg = share_notice_compose(&m, &size);

	ok(strlen(msg) == size, "size");
	is_header(msg, "Date", "Tue, 14 Nov 2023 22:13:20 +0000");
	is_header(msg, "From", "\"Alice \\\"A\\\" Example\" <alice@example.com>");
	is_header(msg, "To", "<bob@example.com>");
	is_header(msg, "Subject", "Alice \"A\" Example shared the folder \"Calendar\" with you");
	is_header(msg, "Message-ID", "<share.1.1700000000@example.com>");
	is_header(msg, "Content-Transfer-Encoding", "7bit");
	is_header(msg, "Auto-Submitted", "auto-generated");
	is_header(msg, "X-IceWarp-Server-Request",
	          "method=share; user=alice@example.com; folder=Calendar; right=lrsw");
	is_header(msg, "X-Floe-Share-Method", "share");
	is_header(msg, "X-Floe-Share-Owner", "alice@example.com");
	is_header(msg, "X-Floe-Share-Folder", "Calendar");
	is_header(msg, "X-Floe-Share-Mailbox", "~alice@example.com/Calendar");
	is_header(msg, "X-Floe-Share-Rights", "lrsw");
	is_header(msg, "X-Floe-Share-Access", "Read, Modify");
	ok(strstr(msg, "Alice \"A\" Example <alice@example.com> has shared the folder "
	               "\"Calendar\" with you.") != NULL,
	   "who shared what");
	ok(strstr(msg, "Your rights: Read, Modify (RFC 4314: lrsw)") != NULL, "rights");
	ok(strstr(msg, "\"Subscribe folder\"") != NULL, "how to subscribe");
	ok(message_parse(msg, size, &info, &error) == 0, "parses");
	is_str(info.meta.subject, "Alice \"A\" Example shared the folder \"Calendar\" with you",
	       "parsed subject");
	is_str(info.meta.message_id, "<share.1.1700000000@example.com>", "parsed message-id");
	message_info_clear(&info);
	free(msg);
}

static void
test_account_unshare_and_utf8(void)
{
	struct share_notice_mail m = {
	    .owner = "jose@example.com",
	    .owner_name = "José Ñandú",
	    .grantee = "bob@example.com",
	    .grantee_name = "Bob",
	    .folder = "Équipe/Réunions 2025",
	    .unshare = true,
	    .rights = "",
	    .date = 0,
	};
	struct message_info info;
	const char *error;
	size_t size;
	char *msg = share_notice_compose(&m, &size), *subject;

	is_header(msg, "From", "=?UTF-8?B?Sm9zw6kgw5FhbmTDug==?= <jose@example.com>");
	is_header(msg, "To", "\"Bob\" <bob@example.com>");
	is_header(msg, "Content-Transfer-Encoding", "8bit");
	is_header(msg, "X-IceWarp-Server-Request",
	          "method=unshare; user=jose@example.com; "
	          "folder=%C3%89quipe/R%C3%A9unions%202025; right=");
	is_header(msg, "X-Floe-Share-Access", NULL);
	subject = header(msg, "Subject");
	ok(subject != NULL && strncmp(subject, "=?UTF-8?B?", 10) == 0, "subject encoded");
	free(subject);
	ok(message_parse(msg, size, &info, &error) == 0, "parses");
	is_str(info.meta.subject,
	       "José Ñandú stopped sharing the folder \"Équipe/Réunions 2025\" with you",
	       "decoded subject");
	message_info_clear(&info);
	ok(strstr(msg, "no longer shares the folder \"Équipe/Réunions 2025\"") != NULL, "text");
	free(msg);

	m.folder = NULL;
	m.unshare = false;
	m.rights = "lrswipkxtea";
	m.owner_name = "";
	msg = share_notice_compose(&m, &size);
	is_header(msg, "Subject", "jose@example.com shared the whole account with you");
	is_header(msg, "X-IceWarp-Server-Request",
	          "method=share; user=jose@example.com; folder=*; right=lrswipkxtea");
	is_header(msg, "X-Floe-Share-Folder", "*");
	is_header(msg, "X-Floe-Share-Mailbox", "~jose@example.com");
	is_header(msg, "X-Floe-Share-Access", "Full");
	is_header(msg, "Message-ID", "<share.0@example.com>");
	ok(strstr(msg, "subscribe to \"~jose@example.com\".") != NULL, "how to subscribe");
	free(msg);
}

static void
test_hostile_names(void)
{
	char *long_folder = malloc(1001), *msg, *enc;
	struct share_notice_mail m = {
	    .owner = "a@example.com",
	    .owner_name = "Evil\r\nBcc: x@example.com",
	    .grantee = "b@example.com",
	    .folder = long_folder,
	    .rights = "l",
	    .date = 1,
	};
	struct message_info info;
	const char *error;
	size_t size;

	memset(long_folder, 'x', 1000);
	long_folder[1000] = '\0';
	msg = share_notice_compose(&m, &size);
	ok(header(msg, "Bcc") == NULL, "no header injection through the name");
	is_header(msg, "X-Floe-Share-Access", NULL);
	ok(strstr(msg, "Your rights (RFC 4314): l") != NULL, "letters without names");
	ok(message_parse(msg, size, &info, &error) == 0, "a long folder still parses");
	message_info_clear(&info);
	free(msg);
	free(long_folder);

	enc = share_notice_url_encode("a b/c%d;e=f~g.h-i_j");
	is_str(enc, "a%20b/c%25d%3Be%3Df~g.h-i_j", "url encoding");
	free(enc);
}

int
main(void)
{
	test_folder_share();
	test_account_unshare_and_utf8();
	test_hostile_names();
	return done_testing();
}

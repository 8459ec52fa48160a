/* libFuzzer target for what mail flow parses from the network: SMTP
 * submission and LMTP command lines (verb split, MAIL/RCPT paths, MAIL
 * parameters), the SASL PLAIN and LOGIN responses of SMTP AUTH, the
 * replies of remote SMTP servers to the queue's client, DNS answers for
 * MX lookups, and the DSN helpers fed with remote replies. The first byte
 * chooses the parser; the rest is the input. Invariants are checked with
 * abort() so that libFuzzer reports them. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "dsn.h"
#include "mx.h"
#include "smtp-client.h"
#include "smtp-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* The command line as a session sees it: NUL-terminated, no NUL inside. */
static void
fuzz_command(const char *line, size_t len)
{
	size_t verb_len, args_len;
	const char *args = smtp_split_command(line, len, &verb_len, &args_len);
	char *copy;
	const char *p, *error = NULL, *params;
	char *addr, why[128];
	struct smtp_mail_params mp;

	check(verb_len <= len && args >= line + verb_len && args + args_len <= line + len);
	copy = strndup(args, args_len);
	check(copy != NULL);
	/* Submission: MAIL FROM: / RCPT TO: then the parameters. */
	for (int allow_empty = 0; allow_empty < 2; allow_empty++) {
		p = copy;
		addr = smtp_parse_path(&p, allow_empty, &error);
		if (addr != NULL) {
			check(strlen(addr) <= SMTP_PATH_MAX);
			check(allow_empty || addr[0] != '\0');
			check(p > copy && p <= copy + args_len && p[-1] == '>');
			check(strchr(addr, '>') == NULL && strchr(addr, ' ') == NULL);
			free(addr);
			(void)smtp_parse_mail_params(p, allow_empty, &mp, why, sizeof(why));
		} else {
			check(error != NULL);
		}
	}
	/* LMTP */
	for (int k = 0; k < 2; k++) {
		if (lmtp_parse_path(copy, k == 0 ? "FROM:" : "TO:", &addr, &params, &error) == 0) {
			check(params >= copy && params <= copy + args_len);
			check(strlen(addr) <= 256);
			free(addr);
			if (smtp_parse_mail_params(params, false, &mp, why, sizeof(why)) < 0)
				check(why[0] == '5');
		} else {
			check(error != NULL && error[0] == '5');
		}
	}
	free(copy);
}

static void
fuzz_auth(const char *text, size_t len)
{
	unsigned char *decoded;
	size_t dlen;
	const char *error;
	char *value;
	struct auth_credentials creds = {0};

	if (auth_base64_decode(text, len, &decoded, &dlen, &error) == 0) {
		if (auth_sasl_plain_decode(decoded, dlen, &creds, &error) == 0)
			auth_credentials_clear(&creds);
		free(decoded);
	}
	if (auth_sasl_login_decode(text, len, 320, &value, &error) == 0)
		free(value);
}

static void
fuzz_reply(const char *buf, size_t len)
{
	size_t off = 0;

	/* Pipelined replies, as the client reads them one after another. */
	while (off < len) {
		int code = 0;
		char text[512], status[16], line[600];
		long n =
		    smtp_client_parse_reply(buf + off, len - off, 4096, &code, text, sizeof(text));

		if (n <= 0)
			break;
		check((size_t)n <= len - off);
		check(code >= 100 && code <= 599);
		check(strlen(text) < sizeof(text));
		dsn_status_of_reply(code, text, status, sizeof(status));
		check(strlen(status) < sizeof(status) && (status[0] == '2' || status[0] == '4' ||
		                                          status[0] == '5' || status[0] == '1'));
		dsn_sanitize(text, line, sizeof(line));
		for (const char *c = line; *c != '\0'; c++)
			check(*c >= 0x20 && *c < 0x7f);
		off += (size_t)n;
	}
}

static void
fuzz_dns(const uint8_t *packet, size_t len)
{
	struct mx_record records[16];
	const char *error = NULL;
	int n = mx_parse_answer(packet, (int)(len > 65535 ? 65535 : len), records, 16, &error);

	if (n < 0) {
		check(error != NULL);
		return;
	}
	check(n <= 16);
	for (int i = 0; i < n; i++)
		check(memchr(records[i].name, '\0', sizeof(records[i].name)) != NULL);
	mx_sort(records, (size_t)n);
	for (int i = 1; i < n; i++)
		check(records[i - 1].preference <= records[i].preference);
}

static void
fuzz_hostport(const char *text)
{
	char host[256];
	uint16_t port;

	if (mx_split_hostport(text, host, sizeof(host), 25, &port) == 0)
		check(strlen(host) < sizeof(host));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	if (data[0] % 5 == 3) {
		fuzz_dns(data + 1, size - 1);
		return 0;
	}
	/* The line readers stop at NUL (submission refuses such a line,
	 * LMTP too); the parsers only ever see NUL-terminated text. */
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		fuzz_command(text, strlen(text));
		break;
	case 1:
		fuzz_auth(text, strlen(text));
		break;
	case 2:
		/* Replies may carry NULs: the client parses the raw buffer. */
		fuzz_reply((const char *)data + 1, size - 1);
		break;
	case 4:
		fuzz_hostport(text);
		break;
	}
	free(text);
	return 0;
}

/* SMTP and LMTP syntax (see smtp-parse.h): pure functions over the
 * command line, shared by submission, LMTP and the fuzz target. */
#include "smtp-parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

/* LMTP paths may be a little longer: the MTA sends what it accepted. */
#define LMTP_PATH_MAX 256

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

const char *
smtp_split_command(const char *line, size_t len, size_t *verb_len_r, size_t *args_len_r)
{
	size_t n = 0, a;

	while (n < len && !is_blank(line[n]))
		n++;
	*verb_len_r = n;
	a = n;
	while (a < len && is_blank(line[a]))
		a++;
	len -= a;
	while (len > 0 && is_blank(line[a + len - 1]))
		len--;
	*args_len_r = len;
	return line + a;
}

char *
smtp_parse_path(const char **pp, bool allow_empty, const char **error_r)
{
	const char *p = *pp, *end, *at;
	size_t len;

	while (is_blank(*p))
		p++;
	if (*p != '<') {
		*error_r = "the address must be in angle brackets";
		return NULL;
	}
	p++;
	/* A source route (@a,@b:user@host) is accepted and ignored
	 * (RFC 5321 4.1.2 and C.2). */
	if (*p == '@') {
		const char *colon = strchr(p, ':');
		const char *close = strchr(p, '>');

		if (colon == NULL || (close != NULL && close < colon)) {
			*error_r = "bad source route";
			return NULL;
		}
		p = colon + 1;
	}
	end = strchr(p, '>');
	if (end == NULL) {
		*error_r = "missing '>'";
		return NULL;
	}
	len = (size_t)(end - p);
	if (len == 0) {
		if (!allow_empty) {
			*error_r = "an empty address is not allowed here";
			return NULL;
		}
		*pp = end + 1;
		return xstrdup("");
	}
	if (len > SMTP_PATH_MAX) {
		*error_r = "address too long";
		return NULL;
	}
	for (const char *c = p; c < end; c++) {
		unsigned char u = (unsigned char)*c;

		if (u <= ' ' || u == 0x7f || u == '<' || u == '(' || u == ')' || u == ',' ||
		    u == ';' || u == '\\' || u == '"') {
			*error_r = "invalid character in address";
			return NULL;
		}
	}
	at = memrchr(p, '@', len);
	if (at == NULL || at == p || at == end - 1) {
		*error_r = "the address must be local-part@domain";
		return NULL;
	}
	*pp = end + 1;
	return xstrndup(p, len);
}

int
lmtp_parse_path(const char *args, const char *keyword, char **addr_r, const char **params_r,
                const char **error_r)
{
	size_t klen = strlen(keyword);
	const char *p = args, *start, *end;
	bool quoted = false;

	if (strncasecmp(p, keyword, klen) != 0) {
		*error_r = "501 5.5.4 Syntax: expected FROM:<address> or TO:<address>";
		return -1;
	}
	p += klen;
	while (*p == ' ')
		p++;
	if (*p != '<') {
		*error_r = "501 5.5.4 Syntax: expected FROM:<address> or TO:<address>";
		return -1;
	}
	start = ++p;
	for (end = p; *end != '\0'; end++) {
		if (*end == '\\' && quoted && end[1] != '\0')
			end++;
		else if (*end == '"')
			quoted = !quoted;
		else if (*end == '>' && !quoted)
			break;
	}
	if (*end != '>') {
		*error_r = "501 5.5.4 Syntax: missing \">\"";
		return -1;
	}
	/* A source route ("@a,@b:user@d") is to be ignored (RFC 5321 C). */
	if (*start == '@') {
		const char *colon = memchr(start, ':', (size_t)(end - start));

		if (colon == NULL) {
			*error_r = "501 5.1.3 Bad address syntax";
			return -1;
		}
		start = colon + 1;
	}
	if ((size_t)(end - start) > LMTP_PATH_MAX) {
		*error_r = "501 5.1.3 Address too long";
		return -1;
	}
	for (const char *c = start; c < end; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*error_r = "501 5.1.3 Bad address syntax";
			return -1;
		}
	}
	*addr_r = xstrndup(start, (size_t)(end - start));
	p = end + 1;
	while (*p == ' ')
		p++;
	*params_r = p;
	return 0;
}

int
smtp_parse_mail_params(const char *p, bool allow_auth, struct smtp_mail_params *params_r,
                       char *error, size_t size)
{
	memset(params_r, 0, sizeof(*params_r));
	for (;;) {
		const char *word;
		size_t n;

		while (is_blank(*p))
			p++;
		if (*p == '\0')
			return 0;
		word = p;
		while (*p != '\0' && !is_blank(*p))
			p++;
		n = (size_t)(p - word);
		if (n >= 5 && strncasecmp(word, "SIZE=", 5) == 0) {
			uint64_t v = 0;
			size_t i;

			/* Digits only: no sign, no blanks, no base prefix. */
			for (i = 5; i < n && isdigit((unsigned char)word[i]); i++) {
				unsigned d = (unsigned)(word[i] - '0');

				v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
			}
			if (i != n || n == 5) {
				snprintf(error, size, "501 5.5.4 Bad SIZE parameter");
				return -1;
			}
			params_r->have_size = true;
			params_r->size = v;
		} else if ((n == 9 && strncasecmp(word, "BODY=7BIT", 9) == 0) ||
		           (n == 13 && strncasecmp(word, "BODY=8BITMIME", 13) == 0)) {
			/* both fine: the message is stored as received */
		} else if (allow_auth && n >= 5 && strncasecmp(word, "AUTH=", 5) == 0) {
			/* RFC 4954 5: ignored from a client that is not a trusted MTA */
		} else {
			snprintf(error, size, "555 5.5.4 Unsupported MAIL FROM parameter %.*s",
			         (int)(n > 64 ? 64 : n), word);
			return -1;
		}
	}
}

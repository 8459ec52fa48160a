/* The pure half of authentication (see auth.h): login validation, base64,
 * and the decoders of SASL PLAIN, SASL LOGIN and HTTP Basic credentials.
 * No state and no I/O, so every parser here is unit-tested on buffers. */
#include "auth.h"
#include "base64.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "password.h"
#include "utf8.h"
#include "xmalloc.h"

/* Whether s is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF) without control characters. */
static bool
auth_text_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(s + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			return false;
		i += n;
	}
	return true;
}

bool
auth_login_valid(const char *login, size_t len)
{
	return len >= 1 && len <= AUTH_LOGIN_MAX &&
	       auth_text_valid((const unsigned char *)login, len);
}

int
auth_address_key(const char *ip, char *buf, size_t size)
{
	struct in6_addr a6;
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		inet_ntop(AF_INET, &a4, text, sizeof(text));
		snprintf(buf, size, "%s", text);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
			inet_ntop(AF_INET, &a4, text, sizeof(text));
			snprintf(buf, size, "%s", text);
		} else {
			memset(&a6.s6_addr[8], 0, 8);
			inet_ntop(AF_INET6, &a6, text, sizeof(text));
			snprintf(buf, size, "%s/64", text);
		}
		return 0;
	}
	snprintf(buf, size, "%s", ip);
	return -1;
}

int
auth_base64_decode(const char *text, size_t len, unsigned char **data_r, size_t *len_r,
                   const char **error_r)
{
	if (len % 4 != 0) {
		*data_r = NULL;
		*len_r = 0;
		*error_r = "invalid base64 (length not a multiple of 4)";
		return -1;
	}
	if (base64_decode(text, len, BASE64_STRICT, data_r, len_r) < 0) {
		*error_r = "invalid base64";
		return -1;
	}
	return 0;
}

char *
auth_base64_encode(const void *data, size_t len)
{
	return base64_encode(data, len);
}

void
auth_credentials_clear(struct auth_credentials *creds)
{
	xfree_ptr(&creds->login);
	if (creds->password != NULL) {
		sodium_memzero(creds->password, strlen(creds->password));
		xfree_ptr(&creds->password);
	}
}

/* Checks and copies login and password (not NUL-terminated). */
static int
auth_credentials_set(struct auth_credentials *creds, const char *login, size_t login_len,
                     const char *password, size_t password_len, const char **error_r)
{
	creds->login = NULL;
	creds->password = NULL;
	if (login_len == 0) {
		*error_r = "empty user name";
		return -1;
	}
	if (login_len > AUTH_LOGIN_MAX) {
		*error_r = "user name too long";
		return -1;
	}
	if (!auth_text_valid((const unsigned char *)login, login_len)) {
		*error_r = "invalid characters in user name";
		return -1;
	}
	if (password_len == 0) {
		*error_r = "empty password";
		return -1;
	}
	if (password_len > PASSWORD_MAX_LENGTH) {
		*error_r = "password too long";
		return -1;
	}
	if (memchr(password, '\0', password_len) != NULL) {
		*error_r = "NUL in password";
		return -1;
	}
	creds->login = xstrndup(login, login_len);
	creds->password = xstrndup(password, password_len);
	return 0;
}

int
auth_sasl_plain_decode(const void *data, size_t len, struct auth_credentials *creds,
                       const char **error_r)
{
	const char *p = data, *nul1, *nul2;
	size_t zid_len, cid_len;

	creds->login = NULL;
	creds->password = NULL;
	nul1 = memchr(p, '\0', len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - p)) : NULL;
	if (nul2 == NULL) {
		*error_r = "malformed PLAIN response (expected authzid NUL authcid NUL password)";
		return -1;
	}
	zid_len = (size_t)(nul1 - p);
	cid_len = (size_t)(nul2 - (nul1 + 1));
	if (auth_credentials_set(creds, nul1 + 1, cid_len, nul2 + 1, len - (size_t)(nul2 + 1 - p),
	                         error_r) < 0)
		return -1;
	if (zid_len > 0 && (zid_len != cid_len || strncasecmp(p, nul1 + 1, cid_len) != 0)) {
		auth_credentials_clear(creds);
		*error_r = "authorization identity must be empty or the user name";
		return -1;
	}
	return 0;
}

int
auth_sasl_plain_response(const char *text, size_t len, struct auth_credentials *creds,
                         bool *bad_base64_r, const char **error_r)
{
	unsigned char *data;
	size_t n;
	int ret;

	creds->login = NULL;
	creds->password = NULL;
	*bad_base64_r = false;
	if (auth_base64_decode(text, len, &data, &n, error_r) < 0) {
		*bad_base64_r = true;
		return -1;
	}
	ret = auth_sasl_plain_decode(data, n, creds, error_r);
	sodium_memzero(data, n);
	free(data);
	return ret;
}

int
auth_sasl_login_decode(const char *text, size_t len, size_t max_len, char **value_r,
                       const char **error_r)
{
	unsigned char *data;
	size_t n;

	*value_r = NULL;
	if (auth_base64_decode(text, len, &data, &n, error_r) < 0)
		return -1;
	if (n == 0 || n > max_len || memchr(data, '\0', n) != NULL) {
		*error_r = n == 0        ? "empty response"
		           : n > max_len ? "response too long"
		                         : "NUL in response";
		sodium_memzero(data, n);
		free(data);
		return -1;
	}
	*value_r = (char *)data;
	return 0;
}

int
auth_basic_decode(const char *text, size_t len, struct auth_credentials *creds,
                  const char **error_r)
{
	unsigned char *data;
	const char *colon;
	size_t n;
	int ret;

	creds->login = NULL;
	creds->password = NULL;
	if (auth_base64_decode(text, len, &data, &n, error_r) < 0)
		return -1;
	colon = memchr(data, ':', n);
	if (colon == NULL) {
		*error_r = "malformed Basic credentials (no ':')";
		ret = -1;
	} else {
		size_t ulen = (size_t)(colon - (const char *)data);

		ret = auth_credentials_set(creds, (const char *)data, ulen, colon + 1, n - ulen - 1,
		                           error_r);
	}
	sodium_memzero(data, n);
	free(data);
	return ret;
}

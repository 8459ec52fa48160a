/* The ActiveSync request URI (MS-ASHTTP 2.2.1.1.1): the plain query
 * "Cmd=..&User=..&DeviceId=..&DeviceType=..&more" with %-escapes, and the
 * base64-encoded binary form (version, command code, locale, DeviceId,
 * PolicyKey, DeviceType, tagged command parameters). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "eas-private.h"
#include "xmalloc.h"

#define EAS_FIELD_MAX 128

static const struct {
	unsigned code;
	const char *name;
} eas_command_codes[] = {
    {0, "Sync"},
    {1, "SendMail"},
    {2, "SmartForward"},
    {3, "SmartReply"},
    {4, "GetAttachment"},
    {9, "FolderSync"},
    {10, "FolderCreate"},
    {11, "FolderDelete"},
    {12, "FolderUpdate"},
    {13, "MoveItems"},
    {14, "GetItemEstimate"},
    {15, "MeetingResponse"},
    {16, "Search"},
    {17, "Settings"},
    {18, "Ping"},
    {19, "ItemOperations"},
    {20, "Provision"},
    {21, "ResolveRecipients"},
    {22, "ValidateCert"},
    {23, "Find"},
};

static const char *const eas_param_tags[] = {
    [0] = "AttachmentName", [1] = "CollectionId", [3] = "ItemId", [4] = "LongId",
    [6] = "Occurrence",     [7] = "Options",      [8] = "User",
};

unsigned
eas_version_parse(const char *text)
{
	static const struct {
		const char *text;
		unsigned version;
	} versions[] = {
	    {"2.5", EAS_VERSION_25},   {"12.0", EAS_VERSION_120}, {"12.1", EAS_VERSION_121},
	    {"14.0", EAS_VERSION_140}, {"14.1", EAS_VERSION_141}, {"16.0", EAS_VERSION_160},
	    {"16.1", EAS_VERSION_161},
	};

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		if (strcmp(text, versions[i].text) == 0)
			return versions[i].version;
	}
	return 0;
}

const char *
eas_version_text(unsigned version)
{
	switch (version) {
	case EAS_VERSION_25:
		return "2.5";
	case EAS_VERSION_120:
		return "12.0";
	case EAS_VERSION_121:
		return "12.1";
	case EAS_VERSION_140:
		return "14.0";
	case EAS_VERSION_141:
		return "14.1";
	case EAS_VERSION_160:
		return "16.0";
	case EAS_VERSION_161:
		return "16.1";
	}
	return "?";
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* %-decodes s[0..len) into the request pool; -1 for a bad escape or NUL. */
static char *
unescape(const struct eas_query_alloc *a, const char *s, size_t len)
{
	char *tmp = xmalloc(len + 1), *out;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(tmp);
				return NULL;
			}
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(tmp);
				return NULL;
			}
			tmp[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			tmp[n++] = s[i];
		}
	}
	tmp[n] = '\0';
	out = a->strdup(a->ctx, tmp);
	free(tmp);
	return out;
}

/* DeviceId and DeviceType: printable ASCII without blanks or separators. */
static bool
field_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EAS_FIELD_MAX)
		return false;
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s >= 0x7f || *s == '/' || *s == '\\')
			return false;
	}
	return true;
}

static int
parse_plain(const struct eas_query_alloc *a, const char *query, struct eas_query *q,
            const char **error_r)
{
	const char *p = query;

	while (*p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		char *name, *value;

		eq = memchr(p, '=', len);
		if (len == 0) {
			p += amp != NULL ? 1 : 0;
			if (amp == NULL)
				break;
			continue;
		}
		if (eq == NULL) {
			*error_r = "query parameter without a value";
			return -1;
		}
		name = unescape(a, p, (size_t)(eq - p));
		value = unescape(a, eq + 1, len - (size_t)(eq - p) - 1);
		if (name == NULL || value == NULL) {
			*error_r = "bad %-escape in the query";
			return -1;
		}
		if (strcasecmp(name, "Cmd") == 0)
			q->cmd = value;
		else if (strcasecmp(name, "User") == 0)
			q->user = value;
		else if (strcasecmp(name, "DeviceId") == 0)
			q->device_id = value;
		else if (strcasecmp(name, "DeviceType") == 0)
			q->device_type = value;
		else if (q->nparams < sizeof(q->names) / sizeof(q->names[0])) {
			q->names[q->nparams] = name;
			q->values[q->nparams++] = value;
		} else {
			*error_r = "too many query parameters";
			return -1;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	if (q->cmd == NULL || q->cmd[0] == '\0') {
		*error_r = "the query has no Cmd";
		return -1;
	}
	if (q->device_id == NULL || !field_ok(q->device_id)) {
		*error_r = "the query has no valid DeviceId";
		return -1;
	}
	if (q->device_type == NULL || !field_ok(q->device_type)) {
		*error_r = "the query has no valid DeviceType";
		return -1;
	}
	return 0;
}

/* The DeviceId of the base64 form: kept as text when it is printable,
 * else as lower-case hex (a binary GUID). */
static char *
device_id_text(const struct eas_query_alloc *a, const unsigned char *p, size_t len)
{
	char tmp[2 * 255 + 1];
	bool printable = true;

	for (size_t i = 0; i < len; i++) {
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '/' || p[i] == '\\')
			printable = false;
	}
	if (printable) {
		memcpy(tmp, p, len);
		tmp[len] = '\0';
	} else {
		for (size_t i = 0; i < len; i++)
			snprintf(tmp + 2 * i, 3, "%02x", p[i]);
	}
	return a->strdup(a->ctx, tmp);
}

static int
parse_base64(const struct eas_query_alloc *a, const char *query, struct eas_query *q,
             const char **error_r)
{
	unsigned char *data;
	size_t len, pos = 0, n;
	const char *err;
	char *text;
	int ret = -1;

	/* The value may arrive %-escaped ("=" as %3D, "+" as %2B). */
	text = unescape(a, query, strlen(query));
	if (text == NULL || auth_base64_decode(text, strlen(text), &data, &len, &err) < 0) {
		*error_r = "the query is neither a plain nor a valid base64 query";
		return -1;
	}
	q->base64 = true;
	/* version, command code, locale (2), DeviceId length */
	if (len < 5) {
		*error_r = "base64 query: truncated";
		goto out;
	}
	q->version = data[0];
	for (size_t i = 0; i < sizeof(eas_command_codes) / sizeof(eas_command_codes[0]); i++) {
		if (eas_command_codes[i].code == data[1])
			q->cmd = eas_command_codes[i].name;
	}
	if (q->cmd == NULL) {
		*error_r = "base64 query: unknown command code";
		goto out;
	}
	pos = 4;
	n = data[pos++];
	if (n == 0 || pos + n > len) {
		*error_r = "base64 query: bad DeviceId";
		goto out;
	}
	q->device_id = device_id_text(a, data + pos, n);
	pos += n;
	if (pos >= len) {
		*error_r = "base64 query: truncated";
		goto out;
	}
	n = data[pos++];
	if (n == 4 && pos + 4 <= len) {
		q->have_policy_key = true;
		q->policy_key = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 |
		                (uint32_t)data[pos + 2] << 16 | (uint32_t)data[pos + 3] << 24;
		pos += 4;
	} else if (n != 0) {
		*error_r = "base64 query: bad PolicyKey length";
		goto out;
	}
	if (pos >= len) {
		*error_r = "base64 query: truncated";
		goto out;
	}
	n = data[pos++];
	if (n == 0 || pos + n > len) {
		*error_r = "base64 query: bad DeviceType";
		goto out;
	}
	{
		char tmp[256];

		memcpy(tmp, data + pos, n);
		tmp[n] = '\0';
		q->device_type = a->strdup(a->ctx, tmp);
		pos += n;
	}
	if (!field_ok(q->device_type)) {
		*error_r = "base64 query: bad DeviceType";
		goto out;
	}
	while (pos < len) {
		unsigned tag;
		char tmp[256];

		if (pos + 2 > len) {
			*error_r = "base64 query: truncated parameter";
			goto out;
		}
		tag = data[pos];
		n = data[pos + 1];
		pos += 2;
		if (pos + n > len || tag >= sizeof(eas_param_tags) / sizeof(eas_param_tags[0]) ||
		    eas_param_tags[tag] == NULL) {
			*error_r = "base64 query: bad parameter";
			goto out;
		}
		if (tag == 7) {
			/* Options: a bit mask; SaveInSent (0x01) and AcceptMultiPart
			 * (0x02) become the plain form's parameters. */
			unsigned bits = n > 0 ? data[pos] : 0;

			if (q->nparams + 2 > sizeof(q->names) / sizeof(q->names[0])) {
				*error_r = "base64 query: too many parameters";
				goto out;
			}
			q->names[q->nparams] = "SaveInSent";
			q->values[q->nparams++] = (bits & 1) != 0 ? "T" : "F";
			if ((bits & 2) != 0) {
				q->names[q->nparams] = "AcceptMultiPart";
				q->values[q->nparams++] = "T";
			}
		} else if (tag == 8) {
			memcpy(tmp, data + pos, n);
			tmp[n] = '\0';
			q->user = a->strdup(a->ctx, tmp);
		} else {
			if (memchr(data + pos, '\0', n) != NULL ||
			    q->nparams >= sizeof(q->names) / sizeof(q->names[0])) {
				*error_r = "base64 query: bad parameter";
				goto out;
			}
			memcpy(tmp, data + pos, n);
			tmp[n] = '\0';
			q->names[q->nparams] = eas_param_tags[tag];
			q->values[q->nparams++] = a->strdup(a->ctx, tmp);
		}
		pos += n;
	}
	ret = 0;
out:
	free(data);
	return ret;
}

int
eas_query_parse(const struct eas_query_alloc *a, const char *query, struct eas_query *q,
                const char **error_r)
{
	memset(q, 0, sizeof(*q));
	if (query == NULL || query[0] == '\0') {
		*error_r = "the request has no query";
		return -1;
	}
	/* The plain form always carries "Cmd="; base64 text has no '&' and
	 * at most trailing '='. */
	if (strchr(query, '&') != NULL || strncasecmp(query, "Cmd=", 4) == 0)
		return parse_plain(a, query, q, error_r);
	return parse_base64(a, query, q, error_r);
}

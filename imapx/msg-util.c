/* Helpers shared by the IMAP message commands (see msg-util.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-client.h"
#include "msg-util.h"
#include "parser.h"
#include "seqset.h"
#include "xmalloc.h"

static const char *const system_flags[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                           "\\Draft"};

static bool
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static int
add_flag(struct imap_flag_list *list, const char *s, const char **error_r)
{
	const char *flag = s;

	if (s[0] == '\\') {
		flag = NULL;
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
			if (strcasecmp(s, system_flags[i]) == 0)
				flag = system_flags[i];
		if (flag == NULL) {
			*error_r = strcasecmp(s, "\\Recent") == 0 ? "\\Recent cannot be set"
			                                          : "unknown system flag";
			return -1;
		}
	} else {
		if (s[0] == '\0') {
			*error_r = "empty flag";
			return -1;
		}
		for (const char *p = s; *p != '\0'; p++) {
			if (!is_atom_char((unsigned char)*p)) {
				*error_r = "invalid character in keyword";
				return -1;
			}
		}
		if (strlen(s) > 255) {
			*error_r = "keyword too long";
			return -1;
		}
	}
	for (size_t i = 0; i < list->count; i++)
		if (strcasecmp(list->flags[i], flag) == 0)
			return 0;
	list->flags = xreallocarray(list->flags, list->count + 1, sizeof(char *));
	list->flags[list->count++] = xstrdup(flag);
	return 0;
}

int
imap_flag_list_parse(const struct imap_arg *args, size_t count, struct imap_flag_list *list_r,
                     const char **error_r)
{
	const struct imap_arg *items = args;
	size_t n = count;

	memset(list_r, 0, sizeof(*list_r));
	if (count == 1 && args[0].type == IMAP_ARG_LIST) {
		items = args[0].list;
		n = args[0].count;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].type != IMAP_ARG_ATOM) {
			*error_r = "flags must be atoms";
			goto fail;
		}
		if (add_flag(list_r, items[i].str, error_r) < 0)
			goto fail;
	}
	return 0;
fail:
	imap_flag_list_clear(list_r);
	return -1;
}

void
imap_flag_list_clear(struct imap_flag_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->flags[i]);
	free(list->flags);
	list->flags = NULL;
	list->count = 0;
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
digits(const char *s, size_t n, int *v_r)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return true;
}

int
imap_date_time_parse(const char *s, size_t len, time_t *time_r)
{
	/* "dd-Mon-yyyy hh:mm:ss +zzzz", 26 characters; " d-..." too. */
	struct tm tm;
	int day, mon = -1, year, h, m, sec, zh, zm;
	char buf[27];

	if (len != 26)
		return -1;
	memcpy(buf, s, 26);
	buf[26] = '\0';
	if (buf[0] == ' ')
		buf[0] = '0';
	if (buf[2] != '-' || buf[6] != '-' || buf[11] != ' ' || buf[14] != ':' || buf[17] != ':' ||
	    buf[20] != ' ' || (buf[21] != '+' && buf[21] != '-'))
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(buf + 3, months[i], 3) == 0)
			mon = i;
	if (mon < 0 || !digits(buf, 2, &day) || !digits(buf + 7, 4, &year) ||
	    !digits(buf + 12, 2, &h) || !digits(buf + 15, 2, &m) || !digits(buf + 18, 2, &sec) ||
	    !digits(buf + 22, 2, &zh) || !digits(buf + 24, 2, &zm))
		return -1;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap) || year < 1900 ||
	    h > 23 || m > 59 || sec > 60 || zm > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	long off = (zh * 60 + zm) * 60L;
	*time_r = buf[21] == '+' ? t - off : t + off;
	return 0;
}

void
imap_date_time_format(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, months[tm.tm_mon],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *
imap_uid_list_format(const uint32_t *uids, const uint32_t *pair, size_t count)
{
	size_t cap = count * 24 + 1, len = 0;
	char *out = xmalloc(cap);

	out[0] = '\0';
	for (size_t i = 0; i < count;) {
		size_t j = i;

		while (j + 1 < count && uids[j + 1] == uids[j] + 1 &&
		       (pair == NULL || pair[j + 1] == pair[j] + 1))
			j++;
		if (j == i)
			len += (size_t)snprintf(out + len, cap - len, "%s%u", len > 0 ? "," : "",
			                        uids[i]);
		else
			len += (size_t)snprintf(out + len, cap - len, "%s%u:%u", len > 0 ? "," : "",
			                        uids[i], uids[j]);
		i = j + 1;
	}
	return out;
}

void
imap_uid_array_ranges(const uint32_t *uids, size_t count, struct store_uid_ranges *ranges_r,
                      uint32_t (**pairs_r)[2])
{
	uint32_t(*pairs)[2] = count == 0 ? NULL : xreallocarray(NULL, count, sizeof(*pairs));
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		if (n > 0 && (uint64_t)pairs[n - 1][1] + 1 >= uids[i]) {
			if (uids[i] > pairs[n - 1][1])
				pairs[n - 1][1] = uids[i];
			continue;
		}
		pairs[n][0] = pairs[n][1] = uids[i];
		n++;
	}
	ranges_r->ranges = (const uint32_t(*)[2])pairs;
	ranges_r->count = n;
	*pairs_r = pairs;
}

int
imap_msg_resolve_set(const char *set, bool uid, struct seqset *uids_r, void *ctx,
                     const char **error_r)
{
	struct imap_arg arg = {.type = IMAP_ARG_ATOM, .str = set, .len = strlen(set)};
	struct seqset *uids;

	if (imap_cmd_seqset(ctx, &arg, uid, &uids, error_r) < 0)
		return -1;
	seqset_merge(uids_r, uids);
	seqset_destroy(&uids);
	return 0;
}

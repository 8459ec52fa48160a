/* SEARCH criteria over the view and the message cache, mirroring the SQL
 * db/store-search.c builds: see search-cache.h. */
#include "search-cache.h"

#include <string.h>
#include <strings.h>

#include "mailbox-view.h"
#include "msg-cache.h"
#include "store.h"

#define SEARCH_DEPTH_MAX 64
#define DAY              86400
#define US               1000000LL

static bool
ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x80)
			return false;
	}
	return true;
}

static enum imap_search_cache_need
need_max(enum imap_search_cache_need a, enum imap_search_cache_need b)
{
	if (a == SEARCH_CACHE_NO || b == SEARCH_CACHE_NO)
		return SEARCH_CACHE_NO;
	return a > b ? a : b;
}

static enum imap_search_cache_need
classify(const struct store_search *s, int depth)
{
	enum imap_search_cache_need need = SEARCH_CACHE_VIEW;

	if (depth > SEARCH_DEPTH_MAX)
		return SEARCH_CACHE_NO;
	switch (s->key) {
	case SK_ALL:
		return SEARCH_CACHE_VIEW;
	case SK_MODSEQ:
		/* The SQL takes numbers as bigint parameters. */
		return s->number > INT64_MAX ? SEARCH_CACHE_NO : SEARCH_CACHE_VIEW;
	case SK_AND:
	case SK_OR:
	case SK_NOT:
		if (s->key == SK_NOT && s->nchildren != 1)
			return SEARCH_CACHE_NO;
		if (s->nchildren > 0 && s->children == NULL)
			return SEARCH_CACHE_NO;
		for (size_t i = 0; i < s->nchildren; i++)
			need = need_max(need, classify(&s->children[i], depth + 1));
		return need;
	case SK_UID:
		if (s->uids.count > 0 && s->uids.ranges == NULL)
			return SEARCH_CACHE_NO;
		for (size_t i = 0; i < s->uids.count; i++) {
			if (s->uids.ranges[i][0] == 0 ||
			    s->uids.ranges[i][0] > s->uids.ranges[i][1])
				return SEARCH_CACHE_NO;
		}
		return SEARCH_CACHE_VIEW;
	case SK_FLAG:
	case SK_NOFLAG:
		return s->text == NULL ? SEARCH_CACHE_NO : SEARCH_CACHE_VIEW;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return SEARCH_CACHE_DATA;
	case SK_LARGER:
	case SK_SMALLER:
		return s->number > INT64_MAX ? SEARCH_CACHE_NO : SEARCH_CACHE_DATA;
	case SK_SUBJECT:
	case SK_FROM:
	case SK_TO:
	case SK_CC:
	case SK_BCC:
		/* The needle is folded as PostgreSQL would only when it is
		 * ASCII (then lower-casing is the same everywhere). */
		return s->text == NULL || !ascii(s->text) ? SEARCH_CACHE_NO : SEARCH_CACHE_DATA;
	case SK_EMAILID:
	case SK_THREADID:
		return s->text == NULL ? SEARCH_CACHE_NO : SEARCH_CACHE_DATA;
	case SK_HEADER:
	case SK_BODY:
	case SK_TEXT:
	case SK_OLDER:
	case SK_YOUNGER:
		return SEARCH_CACHE_NO;
	}
	return SEARCH_CACHE_NO;
}

enum imap_search_cache_need
imap_search_cache_classify(const struct store_search *tree)
{
	return tree == NULL ? SEARCH_CACHE_VIEW : classify(tree, 0);
}

static int64_t
day_start(time_t t)
{
	return (int64_t)t - (((int64_t)t % DAY) + DAY) % DAY;
}

/* floe_fold(column) LIKE floe_fold('%text%') for an ASCII text: the
 * column as PostgreSQL folded it holds the text lower-cased. NULL
 * matches nothing. */
static bool
contains_folded(const char *haystack, const char *text)
{
	char needle[1024];
	size_t len = strlen(text);

	if (haystack == NULL)
		return false;
	if (len < sizeof(needle)) {
		for (size_t i = 0; i <= len; i++) {
			char ch = text[i];

			needle[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
		}
		return strstr(haystack, needle) != NULL;
	}
	/* Longer than any header field worth matching: compare in place. */
	for (const char *h = haystack; *h != '\0'; h++) {
		size_t i = 0;

		while (i < len && h[i] != '\0' &&
		       h[i] == (text[i] >= 'A' && text[i] <= 'Z' ? text[i] - 'A' + 'a' : text[i]))
			i++;
		if (i == len)
			return true;
	}
	return false;
}

static bool
match_flag(const struct store_search *s, const struct imap_view *v, uint32_t seq)
{
	const char *canon, *error;
	const char *const *flags;
	size_t n;
	bool want = s->key == SK_FLAG, has = false;

	/* A flag the store cannot hold (\Recent, say) is on no message. */
	if (store_flag_check(s->text, &error) < 0)
		return !want;
	canon = store_system_flag(s->text);
	imap_view_flags(v, seq, &flags, &n);
	for (size_t i = 0; i < n && !has; i++) {
		/* System flags are stored in their canonical spelling;
		 * keywords (ASCII atoms) match in any case. */
		has = canon != NULL ? strcmp(flags[i], canon) == 0
		                    : strcasecmp(flags[i], s->text) == 0;
	}
	return has == want;
}

static bool
match_date(const struct store_search *s, const struct imap_cache_msg *m)
{
	bool sent = s->key == SK_SENTBEFORE || s->key == SK_SENTON || s->key == SK_SENTSINCE;
	int64_t t = sent && m->has_sent_date ? m->sent_us : m->internal_us;
	int64_t day = day_start(s->date) * US;

	switch (s->key) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		return t < day;
	case SK_SINCE:
	case SK_SENTSINCE:
		return t >= day;
	default:
		return t >= day && t < day + DAY * US;
	}
}

static bool
match(const struct store_search *s, const struct imap_view *v, uint32_t seq,
      const struct imap_cache_msg *m)
{
	switch (s->key) {
	case SK_ALL:
		return true;
	case SK_AND:
		for (size_t i = 0; i < s->nchildren; i++) {
			if (!match(&s->children[i], v, seq, m))
				return false;
		}
		return true;
	case SK_OR:
		for (size_t i = 0; i < s->nchildren; i++) {
			if (match(&s->children[i], v, seq, m))
				return true;
		}
		return false;
	case SK_NOT:
		/* NOT coalesce(child, false): a child on a NULL field is
		 * false here already. */
		return !match(&s->children[0], v, seq, m);
	case SK_UID: {
		uint32_t uid = imap_view_seq_to_uid(v, seq);

		for (size_t i = 0; i < s->uids.count; i++) {
			if (uid >= s->uids.ranges[i][0] && uid <= s->uids.ranges[i][1])
				return true;
		}
		return false;
	}
	case SK_FLAG:
	case SK_NOFLAG:
		return match_flag(s, v, seq);
	case SK_MODSEQ:
		return imap_view_modseq(v, seq) >= s->number;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return match_date(s, m);
	case SK_LARGER:
		return m->size > s->number;
	case SK_SMALLER:
		return m->size < s->number;
	case SK_SUBJECT:
	case SK_FROM:
	case SK_TO:
	case SK_CC:
	case SK_BCC: {
		const char *field = s->key == SK_SUBJECT ? m->subject
		                    : s->key == SK_FROM  ? m->from
		                    : s->key == SK_TO    ? m->to
		                    : s->key == SK_CC    ? m->cc
		                                         : m->bcc;

		/* An empty text matches every message, even without the field. */
		if (*s->text == '\0')
			return true;
		return contains_folded(field, s->text);
	}
	case SK_EMAILID:
		return m->email_id != NULL && strcmp(m->email_id, s->text) == 0;
	case SK_THREADID:
		return m->thread_id != NULL && strcmp(m->thread_id, s->text) == 0;
	case SK_HEADER:
	case SK_BODY:
	case SK_TEXT:
	case SK_OLDER:
	case SK_YOUNGER:
		break;
	}
	return false;
}

bool
imap_search_cache_match(const struct store_search *tree, const struct imap_view *view, uint32_t seq,
                        const struct imap_cache_msg *m)
{
	return tree == NULL || match(tree, view, seq, m);
}

/* Parsing of SEARCH and SORT criteria into a neutral tree, and its
 * translation into the store's criteria (see search-parse.h). Flag keys
 * become SK_FLAG/SK_NOFLAG with the system flag's name; RECENT is the
 * flag "\Recent", which Floe never stores (IMAP4rev2 has no \Recent), so
 * RECENT and NEW match nothing and OLD matches everything. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser.h"
#include "search-parse.h"
#include "seqset.h"
#include "xmalloc.h"

/* Deeper nesting of NOT/OR chains than any client sends. */
#define SEARCH_MAX_DEPTH 64
#define SORT_MAX_KEYS    16

struct search_ctx {
	struct imap_search_query *q;
	const struct imap_arg *args;
	size_t count, pos;
	bool ascii; /* CHARSET US-ASCII */
	const char *error;
};

static void
node_clear(struct imap_search_node *node)
{
	for (size_t i = 0; i < node->nchildren; i++)
		node_clear(&node->children[i]);
	free(node->children);
	free(node->field);
	free(node->text);
	free(node->set);
	memset(node, 0, sizeof(*node));
}

void
imap_search_query_clear(struct imap_search_query *q)
{
	node_clear(&q->root);
}

static struct imap_search_node *
node_add_child(struct imap_search_node *parent)
{
	parent->children =
	    xreallocarray(parent->children, parent->nchildren + 1, sizeof(*parent->children));
	struct imap_search_node *n = &parent->children[parent->nchildren++];
	memset(n, 0, sizeof(*n));
	return n;
}

static int
fail(struct search_ctx *c, const char *msg)
{
	c->error = msg;
	return -1;
}

static int
fail_at(struct search_ctx *c, const char *msg, const char *word)
{
	snprintf(c->q->errbuf, sizeof(c->q->errbuf), "%s: %.60s", msg, word);
	c->error = c->q->errbuf;
	return -1;
}

static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
next_arg(struct search_ctx *c, const struct imap_arg **arg_r)
{
	if (c->pos >= c->count)
		return false;
	*arg_r = &c->args[c->pos++];
	return true;
}

/* An astring operand, checked for the charset. */
static int
take_string(struct search_ctx *c, const char *key, char **text_r)
{
	const struct imap_arg *arg;
	const char *s;
	size_t len;

	if (!next_arg(c, &arg) || !imap_arg_astring(arg, &s, &len))
		return fail_at(c, "missing string argument for", key);
	if (memchr(s, '\0', len) != NULL)
		return fail_at(c, "NUL in string argument for", key);
	if (c->ascii) {
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] >= 0x80)
				return fail_at(c, "8-bit text with CHARSET US-ASCII for", key);
	} else if (!valid_utf8((const unsigned char *)s, len)) {
		return fail_at(c, "invalid UTF-8 in argument of", key);
	}
	*text_r = xstrndup(s, len);
	return 0;
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (*s == '\0' || strlen(s) > 20)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*n_r = n;
	return true;
}

static int
take_number(struct search_ctx *c, const char *key, uint64_t max, bool nonzero, uint64_t *n_r)
{
	const struct imap_arg *arg;
	const char *s;

	if (!next_arg(c, &arg) || arg->type != IMAP_ARG_ATOM || !imap_arg_atom(arg, &s) ||
	    !parse_u64(s, max, n_r) || (nonzero && *n_r == 0))
		return fail_at(c, "missing or invalid number for", key);
	return 0;
}

static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};

int
imap_search_parse_date(const char *s, size_t len, time_t *date_r)
{
	struct tm tm;
	size_t i = 0;
	int day = 0, year = 0, mon = -1;

	memset(&tm, 0, sizeof(tm));
	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (s[i++] - '0');
	if (i == 0 || i >= len || s[i] != '-')
		return -1;
	i++;
	if (i + 4 > len || s[i + 3] != '-')
		return -1;
	for (int m = 0; m < 12; m++)
		if (strncasecmp(s + i, months[m], 3) == 0)
			mon = m;
	if (mon < 0)
		return -1;
	i += 4;
	if (len - i != 4)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		year = year * 10 + (s[i] - '0');
	}
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap) || year < 1)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	*date_r = timegm(&tm);
	return 0;
}

static int
take_date(struct search_ctx *c, const char *key, time_t *date_r)
{
	const struct imap_arg *arg;
	const char *s;
	size_t len;

	if (!next_arg(c, &arg) || !imap_arg_astring(arg, &s, &len) ||
	    imap_search_parse_date(s, len, date_r) < 0)
		return fail_at(c, "missing or invalid date (d-Mon-yyyy) for", key);
	return 0;
}

static void
set_flag(struct imap_search_node *n, bool present, const char *flag)
{
	n->type = IMAP_SEARCH_KEY;
	n->key = present ? SK_FLAG : SK_NOFLAG;
	n->text = xstrdup(flag);
}

struct flag_key {
	const char *name;
	bool present;
	const char *flag;
};

static const struct flag_key flag_keys[] = {
    {"ANSWERED", true, "\\Answered"}, {"UNANSWERED", false, "\\Answered"},
    {"DELETED", true, "\\Deleted"},   {"UNDELETED", false, "\\Deleted"},
    {"DRAFT", true, "\\Draft"},       {"UNDRAFT", false, "\\Draft"},
    {"FLAGGED", true, "\\Flagged"},   {"UNFLAGGED", false, "\\Flagged"},
    {"SEEN", true, "\\Seen"},         {"UNSEEN", false, "\\Seen"},
    {"RECENT", true, "\\Recent"},     {"OLD", false, "\\Recent"},
};

struct text_key {
	const char *name;
	enum store_search_key key;
};

static const struct text_key text_keys[] = {
    {"BCC", SK_BCC},   {"BODY", SK_BODY},       {"CC", SK_CC},
    {"FROM", SK_FROM}, {"SUBJECT", SK_SUBJECT}, {"TEXT", SK_TEXT},
    {"TO", SK_TO},     {"EMAILID", SK_EMAILID}, {"THREADID", SK_THREADID},
};

static const struct text_key date_keys[] = {
    {"BEFORE", SK_BEFORE},         {"ON", SK_ON},         {"SINCE", SK_SINCE},
    {"SENTBEFORE", SK_SENTBEFORE}, {"SENTON", SK_SENTON}, {"SENTSINCE", SK_SENTSINCE},
};

/* A system flag spelled with its canonical capitalization. */
static char *
canonical_flag(const char *s)
{
	static const char *const system[] = {"\\Answered", "\\Flagged", "\\Deleted",
	                                     "\\Seen",     "\\Draft",   "\\Recent"};

	for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (strcasecmp(s, system[i]) == 0)
			return xstrdup(system[i]);
	return xstrdup(s);
}

static int parse_key(struct search_ctx *c, struct imap_search_node *n, unsigned int depth);

/* Keys until the end of args (top level) or of a list, ANDed into parent. */
static int
parse_keys(struct search_ctx *c, struct imap_search_node *parent, unsigned int depth)
{
	parent->type = IMAP_SEARCH_KEY;
	parent->key = SK_AND;
	if (c->pos >= c->count)
		return fail(c, "missing search criteria");
	while (c->pos < c->count) {
		struct imap_search_node *n = node_add_child(parent);
		if (parse_key(c, n, depth) < 0)
			return -1;
	}
	return 0;
}

static int
parse_key(struct search_ctx *c, struct imap_search_node *n, unsigned int depth)
{
	const struct imap_arg *arg;
	const char *word;

	if (depth > SEARCH_MAX_DEPTH)
		return fail(c, "search criteria nested too deeply");
	if (!next_arg(c, &arg))
		return fail(c, "missing search key");

	if (arg->type == IMAP_ARG_LIST) {
		struct search_ctx sub = *c;

		if (arg->count == 0)
			return fail(c, "empty parenthesized search key");
		sub.args = arg->list;
		sub.count = arg->count;
		sub.pos = 0;
		if (parse_keys(&sub, n, depth + 1) < 0) {
			c->error = sub.error;
			return -1;
		}
		return 0;
	}
	if (arg->type != IMAP_ARG_ATOM || !imap_arg_atom(arg, &word))
		return fail(c, "search key must be an atom");

	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (strcasecmp(word, flag_keys[i].name) == 0) {
			set_flag(n, flag_keys[i].present, flag_keys[i].flag);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(text_keys) / sizeof(text_keys[0]); i++) {
		if (strcasecmp(word, text_keys[i].name) == 0) {
			n->type = IMAP_SEARCH_KEY;
			n->key = text_keys[i].key;
			if (take_string(c, text_keys[i].name, &n->text) < 0)
				return -1;
			if ((n->key == SK_EMAILID || n->key == SK_THREADID) && n->text[0] == '\0')
				return fail_at(c, "empty object id for", text_keys[i].name);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++) {
		if (strcasecmp(word, date_keys[i].name) == 0) {
			n->type = IMAP_SEARCH_KEY;
			n->key = date_keys[i].key;
			return take_date(c, date_keys[i].name, &n->date);
		}
	}
	if (strcasecmp(word, "ALL") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_ALL;
		return 0;
	}
	if (strcasecmp(word, "NEW") == 0) {
		/* RECENT UNSEEN */
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_AND;
		set_flag(node_add_child(n), true, "\\Recent");
		set_flag(node_add_child(n), false, "\\Seen");
		return 0;
	}
	if (strcasecmp(word, "KEYWORD") == 0 || strcasecmp(word, "UNKEYWORD") == 0) {
		const struct imap_arg *kw;
		const char *flag;

		if (!next_arg(c, &kw) || kw->type != IMAP_ARG_ATOM || !imap_arg_atom(kw, &flag))
			return fail_at(c, "missing keyword for", word);
		n->type = IMAP_SEARCH_KEY;
		n->key = strcasecmp(word, "UNKEYWORD") == 0 ? SK_NOFLAG : SK_FLAG;
		n->text = canonical_flag(flag);
		return 0;
	}
	if (strcasecmp(word, "HEADER") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_HEADER;
		if (take_string(c, "HEADER", &n->field) < 0)
			return -1;
		if (n->field[0] == '\0' || strchr(n->field, ':') != NULL)
			return fail(c, "invalid header name in HEADER");
		for (const char *p = n->field; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				return fail(c, "invalid header name in HEADER");
		return take_string(c, "HEADER", &n->text);
	}
	if (strcasecmp(word, "LARGER") == 0 || strcasecmp(word, "SMALLER") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = strcasecmp(word, "LARGER") == 0 ? SK_LARGER : SK_SMALLER;
		return take_number(c, word, INT64_MAX, false, &n->number);
	}
	if (strcasecmp(word, "OLDER") == 0 || strcasecmp(word, "YOUNGER") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = strcasecmp(word, "OLDER") == 0 ? SK_OLDER : SK_YOUNGER;
		return take_number(c, word, 4294967295u, true, &n->number);
	}
	if (strcasecmp(word, "MODSEQ") == 0) {
		const struct imap_arg *a;
		const char *s;
		size_t len;

		/* [entry-name entry-type-req]: the per-flag modseq, which
		 * Floe does not keep apart from the message's. */
		if (c->pos + 1 < c->count && imap_arg_string(&c->args[c->pos], &s, &len)) {
			a = &c->args[c->pos + 1];
			if (!imap_arg_atom_equals(a, "priv") &&
			    !imap_arg_atom_equals(a, "shared") && !imap_arg_atom_equals(a, "all"))
				return fail(c, "MODSEQ entry type must be priv, shared or all");
			c->pos += 2;
		}
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_MODSEQ;
		c->q->uses_modseq = true;
		return take_number(c, "MODSEQ", INT64_MAX, false, &n->number);
	}
	if (strcasecmp(word, "NOT") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_NOT;
		return parse_key(c, node_add_child(n), depth + 1);
	}
	if (strcasecmp(word, "OR") == 0) {
		n->type = IMAP_SEARCH_KEY;
		n->key = SK_OR;
		if (parse_key(c, node_add_child(n), depth + 1) < 0)
			return -1;
		if (c->pos >= c->count)
			return fail(c, "OR needs two search keys");
		return parse_key(c, node_add_child(n), depth + 1);
	}
	if (strcasecmp(word, "UID") == 0) {
		const struct imap_arg *set;
		const char *s;

		if (!next_arg(c, &set) || set->type != IMAP_ARG_ATOM || !imap_arg_atom(set, &s) ||
		    !seqset_is_syntax(s, strlen(s), SEQSET_PARSE_SAVED))
			return fail(c, "UID needs a sequence set");
		n->type = IMAP_SEARCH_UIDSET;
		n->set = xstrdup(s);
		if (strcmp(s, "$") == 0)
			c->q->uses_saved = true;
		return 0;
	}
	if (seqset_is_syntax(word, strlen(word), SEQSET_PARSE_SAVED)) {
		n->type = IMAP_SEARCH_SEQSET;
		n->set = xstrdup(word);
		if (strcmp(word, "$") == 0)
			c->q->uses_saved = true;
		return 0;
	}
	return fail_at(c, "unknown search key", word);
}

static int
parse_return(struct search_ctx *c, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_list(arg, &list, &count))
		return fail(c, "RETURN needs a list of options");
	c->q->esearch = true;
	for (size_t i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "MIN"))
			c->q->returns |= IMAP_SEARCH_RETURN_MIN;
		else if (imap_arg_atom_equals(&list[i], "MAX"))
			c->q->returns |= IMAP_SEARCH_RETURN_MAX;
		else if (imap_arg_atom_equals(&list[i], "COUNT"))
			c->q->returns |= IMAP_SEARCH_RETURN_COUNT;
		else if (imap_arg_atom_equals(&list[i], "ALL"))
			c->q->returns |= IMAP_SEARCH_RETURN_ALL;
		else if (imap_arg_atom_equals(&list[i], "SAVE"))
			c->q->returns |= IMAP_SEARCH_RETURN_SAVE;
		else
			return fail(c, "unknown RETURN option");
	}
	if (count == 0)
		c->q->returns = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

/* Sets the charset mode; -1 with badcharset for an unsupported one. */
static int
use_charset(struct search_ctx *c, const char *charset)
{
	if (charset == NULL || strcasecmp(charset, "UTF-8") == 0 ||
	    strcasecmp(charset, "UTF8") == 0) {
		c->ascii = false;
		return 0;
	}
	if (strcasecmp(charset, "US-ASCII") == 0 || strcasecmp(charset, "ASCII") == 0) {
		c->ascii = true;
		return 0;
	}
	c->q->badcharset = true;
	return fail(c, "unsupported charset");
}

static int
finish(struct search_ctx *c, const char **error_r)
{
	if (parse_keys(c, &c->q->root, 0) < 0) {
		*error_r = c->error;
		return -1;
	}
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t count, struct imap_search_query *q_r,
                  const char **error_r)
{
	struct search_ctx c = {.q = q_r, .args = args, .count = count};
	const char *charset;

	memset(q_r, 0, sizeof(*q_r));
	if (c.pos + 1 < c.count && imap_arg_atom_equals(&args[c.pos], "RETURN")) {
		if (parse_return(&c, &args[c.pos + 1]) < 0) {
			*error_r = c.error;
			return -1;
		}
		c.pos += 2;
	}
	if (c.pos < c.count && imap_arg_atom_equals(&args[c.pos], "CHARSET")) {
		if (c.pos + 1 >= c.count || !imap_arg_astring(&args[c.pos + 1], &charset, NULL)) {
			*error_r = "CHARSET needs a name";
			return -1;
		}
		if (use_charset(&c, charset) < 0) {
			*error_r = c.error;
			return -1;
		}
		c.pos += 2;
	}
	return finish(&c, error_r);
}

int
imap_search_parse_criteria(const struct imap_arg *args, size_t count, const char *charset,
                           struct imap_search_query *q_r, const char **error_r)
{
	struct search_ctx c = {.q = q_r, .args = args, .count = count};

	memset(q_r, 0, sizeof(*q_r));
	if (use_charset(&c, charset) < 0) {
		*error_r = c.error;
		return -1;
	}
	return finish(&c, error_r);
}

/* ---------------------------------------------------------------------
 * Translation into the store's tree
 */

void
imap_search_store_free(struct store_search *tree)
{
	for (size_t i = 0; i < tree->nchildren; i++)
		imap_search_store_free((struct store_search *)&tree->children[i]);
	free((void *)tree->children);
	free((void *)tree->uids.ranges);
	memset(tree, 0, sizeof(*tree));
}

static void
set_uids(struct store_search *out, const struct seqset *set)
{
	size_t n;
	const struct seqset_range *r = seqset_ranges(set, &n);
	uint32_t(*ranges)[2] = n == 0 ? NULL : xreallocarray(NULL, n, sizeof(*ranges));

	for (size_t i = 0; i < n; i++) {
		ranges[i][0] = r[i].lo;
		ranges[i][1] = r[i].hi;
	}
	out->key = SK_UID;
	out->uids.ranges = (const uint32_t(*)[2])ranges;
	out->uids.count = n;
}

int
imap_search_to_store(const struct imap_search_node *node, imap_search_resolve_fn *resolve,
                     void *ctx, struct store_search *tree_r, const char **error_r)
{
	memset(tree_r, 0, sizeof(*tree_r));
	if (node->type != IMAP_SEARCH_KEY) {
		struct seqset *set = seqset_create();
		int ret = resolve(node->set, node->type == IMAP_SEARCH_UIDSET, set, ctx, error_r);

		if (ret == 0)
			set_uids(tree_r, set);
		seqset_destroy(&set);
		return ret;
	}
	/* An AND of one key is that key (the top level usually is). */
	if (node->key == SK_AND && node->nchildren == 1)
		return imap_search_to_store(&node->children[0], resolve, ctx, tree_r, error_r);

	tree_r->key = node->key;
	tree_r->field = node->field;
	tree_r->text = node->text;
	tree_r->number = node->number;
	tree_r->date = node->date;
	if (node->nchildren > 0) {
		struct store_search *children = xcalloc(node->nchildren, sizeof(*children));

		tree_r->children = children;
		tree_r->nchildren = node->nchildren;
		for (size_t i = 0; i < node->nchildren; i++) {
			if (imap_search_to_store(&node->children[i], resolve, ctx, &children[i],
			                         error_r) < 0) {
				imap_search_store_free(tree_r);
				return -1;
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * SORT criteria
 */

static const struct {
	const char *name;
	enum store_sort_key key;
} sort_keys[] = {
    {"ARRIVAL", SORT_ARRIVAL},
    {"DATE", SORT_DATE},
    {"FROM", SORT_FROM},
    {"SUBJECT", SORT_SUBJECT},
    {"SIZE", SORT_SIZE},
    {"TO", SORT_TO},
    {"CC", SORT_CC},
    {"DISPLAYFROM", SORT_DISPLAYFROM},
    {"DISPLAYTO", SORT_DISPLAYTO},
};

int
imap_sort_parse_criteria(const struct imap_arg *arg, struct store_sort **keys_r, size_t *count_r,
                         const char **error_r)
{
	const struct imap_arg *list;
	size_t count, n = 0;
	struct store_sort *keys;
	bool reverse = false;

	*keys_r = NULL;
	*count_r = 0;
	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "SORT needs a parenthesized list of sort criteria";
		return -1;
	}
	keys = xcalloc(count, sizeof(*keys));
	for (size_t i = 0; i < count; i++) {
		bool found = false;

		if (imap_arg_atom_equals(&list[i], "REVERSE")) {
			if (reverse) {
				*error_r = "REVERSE given twice";
				goto fail;
			}
			reverse = true;
			continue;
		}
		for (size_t k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++) {
			if (imap_arg_atom_equals(&list[i], sort_keys[k].name)) {
				keys[n].key = sort_keys[k].key;
				keys[n].reverse = reverse;
				n++;
				found = true;
				break;
			}
		}
		if (!found) {
			*error_r = "unknown sort criterion";
			goto fail;
		}
		reverse = false;
		if (n > SORT_MAX_KEYS) {
			*error_r = "too many sort criteria";
			goto fail;
		}
	}
	if (reverse || n == 0) {
		*error_r = "REVERSE must precede a sort key";
		goto fail;
	}
	*keys_r = keys;
	*count_r = n;
	return 0;
fail:
	free(keys);
	return -1;
}

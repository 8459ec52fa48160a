/* SEARCH criteria and SORT criteria of IMAP (RFC 3501 6.4.4, RFC 9051,
 * ESEARCH RFC 4731, SEARCHRES RFC 5182, CONDSTORE RFC 7162, WITHIN RFC
 * 5032, OBJECTID RFC 8474, SORT RFC 5256/5957) parsed into a neutral tree.
 * Sequence sets and UID sets stay unresolved text; the command resolves
 * them against its mailbox view when it translates the tree into the
 * store's search tree (imap_search_to_store). Pure code. */
#ifndef FLOE_IMAPX_SEARCH_PARSE_H
#define FLOE_IMAPX_SEARCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct imap_arg;
struct seqset;

enum imap_search_node_type {
	IMAP_SEARCH_KEY,    /* a store key: key and its operands */
	IMAP_SEARCH_SEQSET, /* message sequence numbers: set ("$" = saved result) */
	IMAP_SEARCH_UIDSET, /* UID set: set ("$" = saved result) */
};

struct imap_search_node {
	enum imap_search_node_type type;
	enum store_search_key key;
	char *field; /* SK_HEADER: the header name */
	char *text;  /* text operands (UTF-8), flags and keywords */
	uint64_t number;
	time_t date; /* the UTC start of the day given */
	char *set;   /* SEQSET, UIDSET: the set as sent */
	struct imap_search_node *children;
	size_t nchildren;
};

/* ESEARCH RETURN options (RFC 4731, RFC 5182). */
#define IMAP_SEARCH_RETURN_MIN   0x01
#define IMAP_SEARCH_RETURN_MAX   0x02
#define IMAP_SEARCH_RETURN_COUNT 0x04
#define IMAP_SEARCH_RETURN_ALL   0x08
#define IMAP_SEARCH_RETURN_SAVE  0x10

struct imap_search_query {
	/* RETURN (...) was given: answer with ESEARCH. RETURN () means ALL. */
	bool esearch;
	unsigned int returns;
	/* The criteria use MODSEQ: the answer carries (MODSEQ n). */
	bool uses_modseq;
	/* The criteria refer to the saved result "$". */
	bool uses_saved;
	/* The failure is NO [BADCHARSET (UTF-8 US-ASCII)], not BAD. */
	bool badcharset;
	/* The criteria: an SK_AND of the top-level keys. */
	struct imap_search_node root;
	char errbuf[160];
};

/* Parses the arguments of SEARCH (after "SEARCH"): [RETURN (opts)]
 * [CHARSET name] criteria. Returns 0, or -1 with *error_r (static text or
 * q_r->errbuf): BAD, or NO [BADCHARSET] when q_r->badcharset is set.
 * q_r is always initialized and must be cleared. */
int imap_search_parse(const struct imap_arg *args, size_t count, struct imap_search_query *q_r,
                      const char **error_r);

/* Parses just criteria (SORT's, after its charset), with the charset
 * already known (NULL: none given). Same results as imap_search_parse. */
int imap_search_parse_criteria(const struct imap_arg *args, size_t count, const char *charset,
                               struct imap_search_query *q_r, const char **error_r);

void imap_search_query_clear(struct imap_search_query *q);

/* Resolves a set of a SEQSET (uid = false) or UIDSET (uid = true) node
 * into UIDs (the session's view knows "*", the sequence map and the saved
 * result "$"). Returns 0, or -1 with *error_r. */
typedef int imap_search_resolve_fn(const char *set, bool uid, struct seqset *uids_r, void *ctx,
                                   const char **error_r);

/* Builds the store's criteria tree from node, resolving every set with
 * resolve. The tree is allocated; free it with imap_search_store_free.
 * Returns 0, or -1 with *error_r (from resolve). */
int imap_search_to_store(const struct imap_search_node *node, imap_search_resolve_fn *resolve,
                         void *ctx, struct store_search *tree_r, const char **error_r);
void imap_search_store_free(struct store_search *tree);

/* Parses SORT's criteria list "(REVERSE DATE SUBJECT ...)" into *keys_r
 * (allocated, *count_r >= 1). Returns 0, or -1 with *error_r (static). */
int imap_sort_parse_criteria(const struct imap_arg *arg, struct store_sort **keys_r,
                             size_t *count_r, const char **error_r);

/* Parses an IMAP date "d-Mon-yyyy" into the UTC start of that day.
 * Returns 0, or -1. */
int imap_search_parse_date(const char *s, size_t len, time_t *date_r);

#endif

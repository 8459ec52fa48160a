/* The data items of an IMAP FETCH (RFC 3501, RFC 9051, BINARY RFC 3516,
 * CONDSTORE/QRESYNC RFC 7162, OBJECTID RFC 8474, PREVIEW RFC 8970): the
 * item list, the macros ALL/FAST/FULL, BODY[section]<partial> and its
 * relatives, and the FETCH modifiers CHANGEDSINCE and VANISHED. Pure code:
 * it parses the arguments into a description cmd-fetch.c then serves. */
#ifndef FLOE_IMAPX_FETCH_ITEMS_H
#define FLOE_IMAPX_FETCH_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"

struct imap_arg;

/* Simple (non-body) items, as a bit set. */
enum imap_fetch_attr {
	IMAP_FETCH_UID = 1 << 0,
	IMAP_FETCH_FLAGS = 1 << 1,
	IMAP_FETCH_INTERNALDATE = 1 << 2,
	IMAP_FETCH_RFC822_SIZE = 1 << 3,
	IMAP_FETCH_ENVELOPE = 1 << 4,
	IMAP_FETCH_BODYSTRUCTURE = 1 << 5,
	IMAP_FETCH_BODY = 1 << 6, /* BODY without a section: non-extended structure */
	IMAP_FETCH_MODSEQ = 1 << 7,
	IMAP_FETCH_EMAILID = 1 << 8,
	IMAP_FETCH_THREADID = 1 << 9,
	IMAP_FETCH_PREVIEW = 1 << 10,
};

enum imap_fetch_body_type {
	IMAP_FETCH_BODY_SECTION, /* BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER/TEXT */
	IMAP_FETCH_BODY_BINARY,  /* BINARY[...], BINARY.PEEK[...] */
	IMAP_FETCH_BODY_BINARY_SIZE,
};

/* One body item. */
struct imap_fetch_body {
	enum imap_fetch_body_type type;
	/* The item name the response uses, without the partial origin:
	 * "BODY[1.HEADER.FIELDS (From To)]", "RFC822.HEADER", "BINARY[2]",
	 * "BINARY.SIZE[2]". Allocated. */
	char *name;
	/* What to serve; fields are upper-cased (message_section_find and
	 * message_header_filter take it as is). */
	struct message_section section;
	/* Fetching it does not set \Seen (BODY.PEEK, BINARY.PEEK,
	 * RFC822.HEADER, BINARY.SIZE). */
	bool peek;
	/* <offset.length>: only that range of the (decoded, for BINARY)
	 * content; the response names it "name<offset>". */
	bool partial;
	uint32_t offset, length;
};

struct imap_fetch_items {
	unsigned int attrs; /* enum imap_fetch_attr bits */
	struct imap_fetch_body *bodies;
	size_t nbodies;
	/* A body item without peek: the fetch sets \Seen (read-write only). */
	bool sets_seen;
	/* Modifiers. CHANGEDSINCE also adds IMAP_FETCH_MODSEQ to attrs, as
	 * RFC 7162 3.1.4.1 requires. VANISHED is only checked for syntax
	 * here; that it comes with UID FETCH, CHANGEDSINCE and QRESYNC is the
	 * command's business. */
	bool changedsince_set;
	uint64_t changedsince;
	bool vanished;
	/* PREVIEW (LAZY) was asked (we never defer, so it only matters for
	 * syntax). */
	bool preview_lazy;
	/* Storage for error messages that name the bad item. */
	char errbuf[160];
};

/* Parses the arguments of FETCH after the sequence set: args[0] is a macro
 * (ALL, FAST, FULL), a single item, or a parenthesized list of items;
 * args[1], if present, is the parenthesized modifier list. Returns 0, or -1
 * with *error_r (static text or items_r->errbuf) for a syntax error, which
 * the command answers with BAD. items_r is always initialized and must be
 * cleared with imap_fetch_items_clear. */
int imap_fetch_items_parse(const struct imap_arg *args, size_t count,
                           struct imap_fetch_items *items_r, const char **error_r);
void imap_fetch_items_clear(struct imap_fetch_items *items);

/* Parses a section spec (the text between the brackets of BODY[...]) into
 * section_r and writes the canonical spelling for the response name into
 * canon_r (allocated). binary: BINARY's grammar (part numbers only).
 * Returns 0, or -1 with *error_r (static). section_r's fields must be
 * released with imap_fetch_section_clear. */
int imap_fetch_section_parse(const char *text, size_t len, bool binary,
                             struct message_section *section_r, char **canon_r,
                             const char **error_r);
void imap_fetch_section_clear(struct message_section *section);

/* Storage needed by the store for these items (enum store_fetch_fields). */
unsigned int imap_fetch_items_store_fields(const struct imap_fetch_items *items);

#endif

/* libFuzzer target for the arguments of the IMAP message commands: the
 * input is split into arguments by the command parser (args_only mode),
 * then run through the FETCH item parser, the SEARCH criteria parser (and
 * its translation into the store's tree, with a resolver that parses the
 * sets for real), and the SORT criteria parser. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imapx/fetch-items.h"
#include "imapx/parser.h"
#include "imapx/search-parse.h"
#include "imapx/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
resolve(const char *set, bool uid, struct seqset *uids_r, void *ctx, const char **error_r)
{
	(void)ctx;
	if (strcmp(set, "$") == 0)
		return 0;
	return seqset_parse(uids_r, set, strlen(set), uid ? 5000 : 100, 0, error_r) < 0 ? -1 : 0;
}

static void
run(const struct imap_command *cmd)
{
	struct imap_fetch_items items;
	struct imap_search_query q;
	struct store_search tree;
	struct store_sort *keys;
	size_t nkeys;
	const char *error = NULL;

	if (imap_fetch_items_parse(cmd->args, cmd->count, &items, &error) == 0) {
		for (size_t i = 0; i < items.nbodies; i++)
			if (items.bodies[i].name == NULL || items.bodies[i].name[0] == '\0')
				abort();
	}
	imap_fetch_items_clear(&items);

	error = NULL;
	if (imap_search_parse(cmd->args, cmd->count, &q, &error) == 0) {
		if (imap_search_to_store(&q.root, resolve, NULL, &tree, &error) == 0)
			imap_search_store_free(&tree);
	} else if (error == NULL) {
		abort();
	}
	imap_search_query_clear(&q);

	if (cmd->count > 0 && imap_sort_parse_criteria(&cmd->args[0], &keys, &nkeys, &error) == 0) {
		if (nkeys == 0)
			abort();
		free(keys);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_settings set = {.args_only = true, .utf8 = size > 0 && data[0] & 1};
	struct imap_parser *parser = imap_parser_create(&set);
	size_t pos = 0;
	unsigned stalls = 0;

	while (pos < size && stalls < 4) {
		size_t consumed = 0;
		enum imap_parser_result r =
		    imap_parser_parse_data(parser, data + pos, size - pos, &consumed);

		pos += consumed;
		stalls = consumed == 0 ? stalls + 1 : 0;
		if (r == IMAP_PARSER_COMMAND)
			run(imap_parser_command(parser));
		else if (r == IMAP_PARSER_LITERAL)
			imap_parser_literal_buffer(parser);
		else if (r == IMAP_PARSER_NEED_MORE)
			break;
	}
	imap_parser_destroy(&parser);
	return 0;
}

/* libFuzzer target for the WBXML decoder: every input is decoded; what
 * decodes is walked with the accessors, rendered as XML (plain and elided)
 * and converted back, so that AddressSanitizer sees every path. */
#include <stdint.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "wbxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct wbxml_node *n, unsigned depth)
{
	uint64_t v;

	for (; n != NULL; n = n->next) {
		(void)wbxml_text(n);
		(void)wbxml_child_uint(n, n->first_child != NULL ? n->first_child->tag : 0, &v);
		if (n->first_child != NULL)
			(void)wbxml_next(n->first_child, n->first_child->tag);
		if (depth < WBXML_MAX_DEPTH)
			walk(n->first_child, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wbxml_doc *doc;
	const char *error;

	if (wbxml_decode(data, size, &doc, &error) < 0)
		return 0;
	walk(wbxml_doc_root(doc), 0);

	struct evbuffer *xml = evbuffer_new(), *back = evbuffer_new();

	wbxml_to_xml(wbxml_doc_root(doc), WBXML_XML_INDENT | WBXML_XML_ELIDE, xml);
	evbuffer_drain(xml, evbuffer_get_length(xml));
	wbxml_to_xml(wbxml_doc_root(doc), 0, xml);
	size_t len = evbuffer_get_length(xml);
	(void)wbxml_from_xml((const char *)evbuffer_pullup(xml, -1), len, back, &error);
	evbuffer_free(xml);
	evbuffer_free(back);
	wbxml_doc_free(&doc);
	return 0;
}

/* wbxml-tool: converts between XML and WBXML with Floe's own codec, for the
 * protocol tests and for looking at captured ActiveSync bodies.
 *   wbxml-tool encode < request.xml > request.wbxml
 *   wbxml-tool decode [--elide] [--compact] < response.wbxml > response.xml */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "wbxml.h"

static int
read_all(struct evbuffer *in)
{
	for (;;) {
		int n = evbuffer_read(in, STDIN_FILENO, 65536);

		if (n == 0)
			return 0;
		if (n < 0) {
			perror("wbxml-tool: read");
			return -1;
		}
	}
}

static int
write_all(struct evbuffer *out)
{
	while (evbuffer_get_length(out) > 0) {
		if (evbuffer_write(out, STDOUT_FILENO) < 0) {
			perror("wbxml-tool: write");
			return -1;
		}
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: wbxml-tool encode < in.xml > out.wbxml\n"
	                "       wbxml-tool decode [--elide] [--compact] < in.wbxml > out.xml\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	const char *error;
	int ret = 0;

	if (argc < 2)
		usage();
	if (read_all(in) < 0)
		return 1;
	size_t len = evbuffer_get_length(in);
	const unsigned char *data = evbuffer_pullup(in, -1);

	if (strcmp(argv[1], "encode") == 0 && argc == 2) {
		if (wbxml_from_xml((const char *)data, len, out, &error) < 0) {
			fprintf(stderr, "wbxml-tool: %s\n", error);
			ret = 1;
		}
	} else if (strcmp(argv[1], "decode") == 0) {
		unsigned flags = WBXML_XML_INDENT;
		struct wbxml_doc *doc;

		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--elide") == 0)
				flags |= WBXML_XML_ELIDE;
			else if (strcmp(argv[i], "--compact") == 0)
				flags &= ~(unsigned)WBXML_XML_INDENT;
			else
				usage();
		}
		if (wbxml_decode(data, len, &doc, &error) < 0) {
			fprintf(stderr, "wbxml-tool: %s\n", error);
			ret = 1;
		} else {
			wbxml_to_xml(wbxml_doc_root(doc), flags, out);
			wbxml_doc_free(&doc);
		}
	} else {
		usage();
	}
	if (ret == 0 && write_all(out) < 0)
		ret = 1;
	evbuffer_free(in);
	evbuffer_free(out);
	return ret;
}

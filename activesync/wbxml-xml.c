/* XML text for WBXML trees: wbxml_to_xml renders a decoded request or
 * response for the protocol log and the tools (secrets elided on request);
 * wbxml_from_xml turns such XML (or libwbxml2's) back into WBXML for tests
 * and tools, through libxml2. */
#include "wbxml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "base64.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * WBXML tree -> XML
 */

/* Elements whose content is a secret or a message body: elided in the
 * protocol log unless the administrator asks for everything. */
static const uint16_t elided_tags[] = {
    EAS_SETTINGS_PASSWORD, EAS_ITEMOPERATIONS_PASSWORD, EAS_SEARCH_PASSWORD, EAS_COMPOSEMAIL_MIME,
    EAS_AIRSYNCBASE_DATA,  EAS_ITEMOPERATIONS_DATA,     EAS_EMAIL_BODY,      EAS_EMAIL_MIMEDATA,
    EAS_CONTACTS_BODY,     EAS_CALENDAR_BODY,           EAS_TASKS_BODY,      EAS_CONTACTS_PICTURE,
    EAS_GAL_DATA,          EAS_RESOLVERECIPIENTS_DATA,
};

static bool
is_elided(const struct wbxml_node *n)
{
	if (n->opaque)
		return true;
	for (size_t i = 0; i < sizeof(elided_tags) / sizeof(elided_tags[0]); i++) {
		if (elided_tags[i] == n->tag)
			return n->first_child == NULL;
	}
	return false;
}

static void
xml_escape(struct evbuffer *out, const unsigned char *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		char ref[8];

		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '\r':
			/* XML parsers turn a literal CR LF into LF. */
			rep = "&#xd;";
			break;
		default:
			/* Control characters cannot appear in XML 1.0 text: show
			 * them as references so the log line stays one line. */
			if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') {
				snprintf(ref, sizeof(ref), "&#x%x;", s[i]);
				rep = ref;
			}
			break;
		}
		if (rep != NULL) {
			evbuffer_add(out, s + start, i - start);
			evbuffer_add(out, rep, strlen(rep));
			start = i + 1;
		}
	}
	evbuffer_add(out, s + start, len - start);
}

/* The XML prefix of a page: its name in lower case. */
static void
add_prefix(struct evbuffer *out, uint8_t page)
{
	const char *name = wbxml_page_name(page);

	for (const char *p = name; *p != '\0'; p++) {
		char c = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);

		evbuffer_add(out, &c, 1);
	}
}

static void
add_name(struct evbuffer *out, const struct wbxml_node *n, uint8_t root_page)
{
	const char *name = wbxml_tag_name(n->tag);

	if (WBXML_TAG_PAGE(n->tag) != root_page) {
		add_prefix(out, WBXML_TAG_PAGE(n->tag));
		evbuffer_add(out, ":", 1);
	}
	if (name != NULL)
		evbuffer_add(out, name, strlen(name));
	else
		evbuffer_add_printf(out, "Unknown_0x%04x", n->tag);
}

static void
collect_pages(const struct wbxml_node *n, uint32_t *pages)
{
	for (; n != NULL; n = n->next) {
		*pages |= UINT32_C(1) << (WBXML_TAG_PAGE(n->tag) & 31);
		collect_pages(n->first_child, pages);
	}
}

static void
indent(struct evbuffer *out, unsigned flags, unsigned depth)
{
	if ((flags & WBXML_XML_INDENT) == 0)
		return;
	for (unsigned i = 0; i < depth; i++)
		evbuffer_add(out, "  ", 2);
}

static void
newline(struct evbuffer *out, unsigned flags)
{
	if (flags & WBXML_XML_INDENT)
		evbuffer_add(out, "\n", 1);
}

static void
render_content(const struct wbxml_node *n, unsigned flags, struct evbuffer *out)
{
	if ((flags & WBXML_XML_ELIDE) && is_elided(n)) {
		evbuffer_add_printf(out, "[elided %zu bytes]", n->len);
	} else if (n->opaque) {
		evbuffer_add(out, "<![CDATA[", 9);
		base64_encode_evbuffer(out, n->data, n->len);
		evbuffer_add(out, "]]>", 3);
	} else {
		xml_escape(out, n->data, n->len);
	}
}

static void
render(const struct wbxml_node *n, unsigned flags, struct evbuffer *out, unsigned depth,
       uint8_t root_page, uint32_t pages)
{
	indent(out, flags, depth);
	evbuffer_add(out, "<", 1);
	add_name(out, n, root_page);
	if (depth == 0) {
		evbuffer_add_printf(out, " xmlns=\"%s\"", wbxml_page_name(root_page));
		for (uint8_t p = 0; p < EAS_PAGE_COUNT; p++) {
			if (p == root_page || (pages & (UINT32_C(1) << p)) == 0)
				continue;
			evbuffer_add(out, " xmlns:", 7);
			add_prefix(out, p);
			evbuffer_add_printf(out, "=\"%s\"", wbxml_page_name(p));
		}
	}
	if (n->data == NULL && n->first_child == NULL) {
		evbuffer_add(out, "/>", 2);
		newline(out, flags);
		return;
	}
	evbuffer_add(out, ">", 1);
	if (n->data != NULL)
		render_content(n, flags, out);
	if (n->first_child != NULL) {
		newline(out, flags);
		for (const struct wbxml_node *c = n->first_child; c != NULL; c = c->next)
			render(c, flags, out, depth + 1, root_page, pages);
		indent(out, flags, depth);
	}
	evbuffer_add(out, "</", 2);
	add_name(out, n, root_page);
	evbuffer_add(out, ">", 1);
	newline(out, flags);
}

void
wbxml_to_xml(const struct wbxml_node *root, unsigned flags, struct evbuffer *out)
{
	uint32_t pages = 0;

	if (root == NULL)
		return;
	collect_pages(root->first_child, &pages);
	render(root, flags, out, 0, WBXML_TAG_PAGE(root->tag), pages);
}

/* ---------------------------------------------------------------------
 * XML -> WBXML
 */

static __thread char xml_error[200];

static int __attribute__((format(printf, 2, 3)))
xml_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xml_error, sizeof(xml_error), fmt, ap);
	va_end(ap);
	*error_r = xml_error;
	return -1;
}

/* Namespace name -> page. Accepts the MS-ASWBXML names in any case, with
 * or without libwbxml2's trailing colon, and the old spellings. */
static int
page_by_namespace(const char *href)
{
	static const struct {
		const char *name;
		uint8_t page;
	} aliases[] = {
	    {"ItemEstimate", EAS_PAGE_GETITEMESTIMATE},
	    {"ValidateCerts", EAS_PAGE_VALIDATECERT},
	    {"POOMCONTACTS", EAS_PAGE_CONTACTS},
	    {"POOMMAIL", EAS_PAGE_EMAIL},
	    {"POOMCAL", EAS_PAGE_CALENDAR},
	    {"POOMTASKS", EAS_PAGE_TASKS},
	    {"POOMCONTACTS2", EAS_PAGE_CONTACTS2},
	    {"POOMMAIL2", EAS_PAGE_EMAIL2},
	};
	size_t len = strlen(href);

	if (len > 0 && href[len - 1] == ':')
		len--;
	for (uint8_t p = 0; p < EAS_PAGE_COUNT; p++) {
		const char *name = wbxml_page_name(p);

		if (strlen(name) == len && strncasecmp(name, href, len) == 0)
			return p;
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strlen(aliases[i].name) == len && strncasecmp(aliases[i].name, href, len) == 0)
			return aliases[i].page;
	}
	return -1;
}

static bool
is_blank(const xmlChar *s)
{
	for (; *s != '\0'; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	}
	return true;
}

static int
emit_element(struct wbxml_writer *w, xmlNode *el, unsigned depth, const char **error_r)
{
	const char *href =
	    el->ns != NULL && el->ns->href != NULL ? (const char *)el->ns->href : "AirSync";
	int page = page_by_namespace(href);
	uint16_t tag;
	bool has_elements = false;

	if (depth >= WBXML_MAX_DEPTH)
		return xml_fail(error_r, "XML: elements nested deeper than %d", WBXML_MAX_DEPTH);
	if (page < 0)
		return xml_fail(error_r, "XML: unknown namespace \"%.60s\" (line %ld)", href,
		                xmlGetLineNo(el));
	tag = wbxml_tag_lookup(wbxml_page_name((uint8_t)page), (const char *)el->name);
	if (tag == 0)
		return xml_fail(error_r, "XML: unknown element %.60s in code page %s (line %ld)",
		                (const char *)el->name, wbxml_page_name((uint8_t)page),
		                xmlGetLineNo(el));
	if (el->properties != NULL)
		return xml_fail(error_r, "XML: attribute on element %.60s (line %ld)",
		                (const char *)el->name, xmlGetLineNo(el));
	for (xmlNode *c = el->children; c != NULL; c = c->next)
		has_elements = has_elements || c->type == XML_ELEMENT_NODE;
	if (el->children == NULL) {
		wbxml_empty(w, tag);
		return 0;
	}
	wbxml_start(w, tag);
	for (xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			if (emit_element(w, c, depth + 1, error_r) < 0)
				return -1;
		} else if (c->type == XML_TEXT_NODE && c->content != NULL) {
			if (has_elements && is_blank(c->content))
				continue;
			wbxml_text_append(w, (const char *)c->content,
			                  strlen((const char *)c->content));
		} else if (c->type == XML_CDATA_SECTION_NODE && c->content != NULL) {
			/* CDATA holds base64 OPAQUE data, as wbxml_to_xml writes it. */
			const char *b64 = (const char *)c->content;
			unsigned char *bin = xmalloc(BASE64_DECODED_MAX(strlen(b64)));
			long n = base64_decode_into(b64, strlen(b64), BASE64_LENIENT, bin);

			if (n < 0) {
				free(bin);
				return xml_fail(error_r,
				                "XML: CDATA of %.60s is not base64 (line %ld)",
				                (const char *)el->name, xmlGetLineNo(c));
			}
			wbxml_opaque_begin(w, (size_t)n);
			wbxml_opaque_data(w, bin, (size_t)n);
			free(bin);
		}
	}
	wbxml_end(w);
	return 0;
}

int
wbxml_from_xml(const char *xml, size_t len, struct evbuffer *out, const char **error_r)
{
	xmlDoc *doc;
	xmlNode *root;
	struct evbuffer *tmp;
	struct wbxml_writer *w;
	int ret;

	if (len > INT32_MAX)
		return xml_fail(error_r, "XML: document too large");
	doc = xmlReadMemory(xml, (int)len, NULL, NULL,
	                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL) {
		const xmlError *e = xmlGetLastError();
		const char *msg = e != NULL && e->message != NULL ? e->message : "?";
		int msg_len = (int)strcspn(msg, "\n");

		return xml_fail(error_r, "XML: not well-formed (line %d: %.*s)",
		                e != NULL ? e->line : 0, msg_len > 100 ? 100 : msg_len, msg);
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL) {
		xmlFreeDoc(doc);
		return xml_fail(error_r, "XML: no root element");
	}
	tmp = evbuffer_new();
	w = wbxml_writer_new(tmp);
	ret = emit_element(w, root, 0, error_r);
	if (ret < 0)
		wbxml_writer_abort(&w);
	else if (wbxml_writer_finish(&w) < 0)
		ret = xml_fail(error_r, "XML: could not be written as WBXML");
	if (ret == 0)
		evbuffer_add_buffer(out, tmp);
	evbuffer_free(tmp);
	xmlFreeDoc(doc);
	return ret;
}

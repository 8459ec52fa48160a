"""A small pure-Python WBXML (MS-ASWBXML) codec for the ActiveSync protocol
tests: build requests with E(), encode() them, decode() responses and look
into them with find()/findall()/findtext().

The code pages and tag names are read from the C header
activesync/wbxml-tags.h (the one source of truth), found through
FLOE_SRCDIR or relative to this file. The codec itself is written
independently of the C one, so that each checks the other.

    req = E("FolderHierarchy:FolderSync", E("SyncKey", "0"))
    body = encode(req)                      # bytes for the POST
    resp = decode(data)                     # Node
    resp.findtext("Status")                 # "1"
    for c in resp.findall("Changes/Add"): c.findtext("DisplayName")
"""

import base64
import os
import re
import xml.etree.ElementTree as ET

__all__ = ["Node", "E", "encode", "decode", "to_xml", "from_xml", "WBXMLError",
           "PAGES", "PAGE_NUMBERS", "TAG_NAMES", "TAG_TOKENS"]

SWITCH_PAGE = 0x00
END = 0x01
ENTITY = 0x02
STR_I = 0x03
LITERAL = 0x04
PI = 0x43
STR_T = 0x83
OPAQUE = 0xC3

HEADER = bytes([0x03, 0x01, 0x6A, 0x00])


class WBXMLError(ValueError):
    """Malformed WBXML or an unknown tag."""


def _header_path():
    candidates = []
    src = os.environ.get("FLOE_SRCDIR")
    if src:
        candidates.append(os.path.join(src, "activesync", "wbxml-tags.h"))
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(here, "..", "..", "activesync", "wbxml-tags.h"))
    for c in candidates:
        if os.path.exists(c):
            return c
    raise RuntimeError("easwbxml: activesync/wbxml-tags.h not found (set FLOE_SRCDIR)")


_PAGE_RE = re.compile(r"^#define\s+EAS_PAGE_([A-Z0-9]+)\s+(\d+)\s*/\*\s*(\w+)\s*\*/")
_TAG_RE = re.compile(
    r"^#define\s+EAS_([A-Z0-9]+)_([A-Z0-9]+)\s+WBXML_TAG\(\s*(\d+)\s*,\s*0x([0-9A-Fa-f]+)\s*\)"
    r"\s*/\*\s*(\w+)\s*\*/")


def _load_tables(path):
    pages = {}        # number -> name
    tag_names = {}    # (page, token) -> name
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = _PAGE_RE.match(line)
            if m:
                pages[int(m.group(2))] = m.group(3)
                continue
            m = _TAG_RE.match(line)
            if m:
                tag_names[(int(m.group(3)), int(m.group(4), 16))] = m.group(5)
    if len(pages) != 26 or not tag_names:
        raise RuntimeError("easwbxml: could not read the code pages from " + path)
    return pages, tag_names


PAGES, TAG_NAMES = _load_tables(_header_path())
PAGE_NUMBERS = {name: num for num, name in PAGES.items()}
PAGE_NUMBERS.setdefault("ItemEstimate", PAGE_NUMBERS["GetItemEstimate"])
TAG_TOKENS = {(page, name): tok for (page, tok), name in TAG_NAMES.items()}


def _split(tag, default_page=None):
    """'Page:Name' -> (page number, 'Name'); 'Name' -> (default_page, 'Name')."""
    if ":" in tag:
        page_name, name = tag.split(":", 1)
        if page_name not in PAGE_NUMBERS:
            raise WBXMLError("unknown code page %r in tag %r" % (page_name, tag))
        return PAGE_NUMBERS[page_name], name
    return default_page, tag


class Node:
    """One element: tag is "Page:Name" once resolved; children is a list of
    Node; text is the string content (str or None); opaque the OPAQUE
    content (bytes or None)."""

    def __init__(self, tag, children=None, text=None, opaque=None):
        self.tag = tag
        self.children = list(children or [])
        self.text = text
        self.opaque = opaque

    @property
    def page(self):
        return self.tag.split(":", 1)[0] if ":" in self.tag else None

    @property
    def name(self):
        return self.tag.split(":", 1)[-1]

    def _qualify(self, tag):
        page, name = _split(tag)
        if page is None:
            return "%s:%s" % (self.page, name)
        return "%s:%s" % (PAGES[page], name)

    def _match(self, step):
        qualified = self._qualify(step)
        return [c for c in self.children if c.tag == qualified]

    def findall(self, path):
        """All descendants along path ("A/B/C"); each step is "Page:Name" or
        "Name" (in the page of the node the step starts from)."""
        nodes = [self]
        for step in path.split("/"):
            nodes = [c for n in nodes for c in n._match(step)]
        return nodes

    def find(self, path):
        found = self.findall(path)
        return found[0] if found else None

    def findtext(self, path, default=None):
        n = self.find(path)
        if n is None:
            return default
        if n.text is not None:
            return n.text
        if n.opaque is not None:
            return n.opaque.decode("utf-8", "replace")
        return ""

    def __iter__(self):
        return iter(self.children)

    def __len__(self):
        return len(self.children)

    def __eq__(self, other):
        return (isinstance(other, Node) and self.tag == other.tag and
                (self.text or None) == (other.text or None) and
                self.opaque == other.opaque and self.children == other.children)

    def __repr__(self):
        return to_xml(self)


def _resolve(node, page):
    p, name = _split(node.tag, page)
    if p is None:
        p = PAGE_NUMBERS["AirSync"]
    if (p, name) not in TAG_TOKENS:
        raise WBXMLError("unknown tag %r in code page %s" % (name, PAGES[p]))
    node.tag = "%s:%s" % (PAGES[p], name)
    for c in node.children:
        _resolve(c, p)


def E(tag, *content, opaque=None):
    """Builds a Node. content items: Node children, str/int text, bytes
    (opaque). A tag without "Page:" takes its parent's page (AirSync at
    the top)."""
    node = Node(tag)
    texts = []
    for c in content:
        if isinstance(c, Node):
            node.children.append(c)
        elif isinstance(c, (bytes, bytearray)):
            node.opaque = (node.opaque or b"") + bytes(c)
        elif c is None:
            continue
        else:
            texts.append(str(c))
    if texts:
        node.text = "".join(texts)
    if opaque is not None:
        node.opaque = (node.opaque or b"") + bytes(opaque)
    if ":" in tag:
        _resolve(node, None)
    return node


def _mb_u_int32(n):
    if n < 0 or n > 0xFFFFFFFF:
        raise WBXMLError("mb_u_int32 out of range: %d" % n)
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def encode(node):
    """The WBXML bytes of the tree (header 03 01 6A 00, code page 0 at
    the start, SWITCH_PAGE only when the page changes)."""
    _resolve(node, None)
    out = bytearray(HEADER)
    state = {"page": 0}

    def emit(n):
        page, name = _split(n.tag)
        token = TAG_TOKENS[(page, name)]
        if page != state["page"]:
            out.extend((SWITCH_PAGE, page))
            state["page"] = page
        # Like the C writer: an empty string is written as an empty element.
        has_content = bool(n.children) or bool(n.text) or n.opaque is not None
        out.append(token | (0x40 if has_content else 0))
        if not has_content:
            return
        if n.text:
            data = n.text.encode("utf-8")
            if b"\0" in data:
                raise WBXMLError("text of %s contains NUL" % n.tag)
            out.append(STR_I)
            out.extend(data)
            out.append(0)
        if n.opaque is not None:
            out.append(OPAQUE)
            out.extend(_mb_u_int32(len(n.opaque)))
            out.extend(n.opaque)
        for c in n.children:
            emit(c)
        out.append(END)

    emit(node)
    return bytes(out)


def decode(data):
    """Parses a whole WBXML document into a Node tree. Raises WBXMLError
    for anything malformed (wrong header, unknown page or token, attributes,
    truncation, string table references, trailing bytes)."""
    data = bytes(data)
    pos = 0

    def need(n):
        if pos + n > len(data):
            raise WBXMLError("truncated at byte %d" % pos)

    def mb():
        nonlocal pos
        value = 0
        for i in range(5):
            need(1)
            b = data[pos]
            pos += 1
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                if value > 0xFFFFFFFF:
                    raise WBXMLError("mb_u_int32 overflow at byte %d" % (pos - 1))
                return value
        raise WBXMLError("mb_u_int32 too long at byte %d" % pos)

    need(1)
    if data[0] != 0x03:
        raise WBXMLError("unsupported WBXML version 0x%02x" % data[0])
    pos = 1
    if mb() != 1:
        raise WBXMLError("unexpected public identifier")
    if mb() != 106:
        raise WBXMLError("charset is not UTF-8")
    if mb() != 0:
        raise WBXMLError("non-empty string table")

    page = 0
    root = None
    stack = []
    while pos < len(data):
        b = data[pos]
        at = pos
        pos += 1
        if b == SWITCH_PAGE:
            need(1)
            page = data[pos]
            pos += 1
            if page not in PAGES:
                raise WBXMLError("unknown code page %d at byte %d" % (page, at))
        elif b == END:
            if not stack:
                raise WBXMLError("unbalanced END at byte %d" % at)
            stack.pop()
            if not stack:
                break
        elif b == STR_I:
            end = data.find(b"\0", pos)
            if end < 0:
                raise WBXMLError("unterminated string at byte %d" % at)
            if not stack:
                raise WBXMLError("text outside an element at byte %d" % at)
            try:
                s = data[pos:end].decode("utf-8")
            except UnicodeDecodeError:
                raise WBXMLError("string at byte %d is not UTF-8" % at) from None
            pos = end + 1
            n = stack[-1]
            n.text = (n.text or "") + s
        elif b == OPAQUE:
            length = mb()
            need(length)
            if not stack:
                raise WBXMLError("opaque data outside an element at byte %d" % at)
            n = stack[-1]
            n.opaque = (n.opaque or b"") + data[pos:pos + length]
            pos += length
        elif b in (ENTITY, LITERAL, PI, STR_T) or b & 0x3F in (0, 1, 2, 3, 4) or b & 0x80:
            raise WBXMLError("unsupported token 0x%02x at byte %d" % (b, at))
        else:
            token = b & 0x3F
            name = TAG_NAMES.get((page, token))
            if name is None:
                raise WBXMLError("unknown token 0x%02x in code page %d at byte %d" %
                                 (token, page, at))
            n = Node("%s:%s" % (PAGES[page], name))
            if stack:
                stack[-1].children.append(n)
            elif root is None:
                root = n
            else:
                raise WBXMLError("second root element at byte %d" % at)
            if b & 0x40:
                stack.append(n)
            elif not stack:
                break
    if root is None:
        raise WBXMLError("no root element")
    if stack:
        raise WBXMLError("truncated: %d element(s) not closed" % len(stack))
    if pos != len(data):
        raise WBXMLError("trailing data at byte %d" % pos)
    return root


def _escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#xD;"))


def to_xml(node, indent=True):
    """XML text of the tree: the root's page is the default namespace, the
    other pages are declared on the root as xmlns:<lowercase page name>;
    opaque content is base64."""
    root_page = node.page or "AirSync"
    used = []

    def collect(n):
        p = n.page or root_page
        if p != root_page and p not in used:
            used.append(p)
        for c in n.children:
            collect(c)

    collect(node)
    out = []

    def qname(n):
        p = n.page or root_page
        return n.name if p == root_page else "%s:%s" % (p.lower(), n.name)

    def emit(n, depth, is_root):
        pad = "  " * depth if indent else ""
        attrs = ""
        if is_root:
            attrs = ' xmlns="%s"' % root_page + "".join(
                ' xmlns:%s="%s"' % (p.lower(), p) for p in used)
        q = qname(n)
        if n.children:
            out.append("%s<%s%s>" % (pad, q, attrs))
            if n.text:
                out.append(pad + "  " + _escape(n.text) if indent else _escape(n.text))
            for c in n.children:
                emit(c, depth + 1, False)
            out.append("%s</%s>" % (pad, q))
        elif n.text is None and n.opaque is None:
            out.append("%s<%s%s/>" % (pad, q, attrs))
        else:
            body = _escape(n.text or "")
            if n.opaque is not None:
                body += "<![CDATA[%s]]>" % base64.b64encode(n.opaque).decode("ascii")
            out.append("%s<%s%s>%s</%s>" % (pad, q, attrs, body, q))

    emit(node, 0, True)
    return ("\n" if indent else "").join(out)


_OPAQUE_MARK = "\ue000"
_CDATA_RE = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)


def from_xml(text, namespace_map=None, opaque_tags=()):
    """Parses XML (as to_xml and the C codec write it, or any namespaced
    form) into a Node. A CDATA section holds base64 OPAQUE data.
    namespace_map maps other namespace URIs to page names; opaque_tags lists
    "Page:Name" tags whose plain text is base64 of OPAQUE data."""
    namespace_map = namespace_map or {}
    # ElementTree forgets CDATA: mark it with a private-use character.
    text = _CDATA_RE.sub(lambda m: _OPAQUE_MARK + m.group(1), text)
    root = ET.fromstring(text)

    def conv(el):
        if el.tag.startswith("{"):
            uri, name = el.tag[1:].split("}", 1)
        else:
            uri, name = "AirSync", el.tag
        page = namespace_map.get(uri, uri.rstrip(":"))
        if page not in PAGE_NUMBERS:
            raise WBXMLError("unknown namespace %r" % uri)
        tag = "%s:%s" % (PAGES[PAGE_NUMBERS[page]], name)
        n = Node(tag)
        for c in el:
            n.children.append(conv(c))
        t = el.text
        if t is not None and t.strip() == "" and len(el):
            t = None
        if t is not None:
            if t.startswith(_OPAQUE_MARK):
                n.opaque = base64.b64decode(t[1:])
            elif tag in opaque_tags:
                n.opaque = base64.b64decode(t)
            else:
                n.text = t
        return n

    node = conv(root)
    _resolve(node, None)
    return node

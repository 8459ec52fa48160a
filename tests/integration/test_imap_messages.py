"""IMAP message commands against a real floed and PostgreSQL: APPEND and
MULTIAPPEND, FETCH of every data item (exact bytes of BODY[] and its
sections, partials, BINARY of a base64 part, HEADER.FIELDS), STORE with
UNCHANGEDSINCE, SEARCH (keys, UTF-8, ESEARCH, SEARCHRES), SORT, COPY/MOVE
with COPYUID, EXPUNGE visibility between sessions, CHANGEDSINCE/VANISHED,
an APPEND cut off mid-literal, a 2 MB round trip, and mbsync.

A small raw client is used rather than imaplib so that literals (and
literal8), response codes and the exact untagged responses can be checked."""

import base64
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

import floe

PASSWORD = "imap2 secret"


# ---------------------------------------------------------------------------
# A raw IMAP client


def tokenize(data):
    """Parses one response (literals inline) into nested lists: atoms as str,
    quoted strings and literals as bytes, NIL as None."""
    i, n = 0, len(data)
    stack = [[]]
    while i < n:
        c = data[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c == b"(":
            stack.append([])
            i += 1
        elif c == b")":
            lst = stack.pop()
            stack[-1].append(lst)
            i += 1
        elif c == b'"':
            i += 1
            out = bytearray()
            while data[i:i + 1] != b'"':
                if data[i:i + 1] == b"\\":
                    i += 1
                out += data[i:i + 1]
                i += 1
            i += 1
            stack[-1].append(bytes(out))
        elif c == b"{" or data[i:i + 2] == b"~{":
            m = re.compile(rb"~?\{(\d+)\}\r\n").match(data, i)
            size = int(m.group(1))
            start = m.end()
            stack[-1].append(data[start:start + size])
            i = start + size
        else:
            j = i
            depth = 0
            while j < n:
                ch = data[j:j + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b")", b"(", b"\r", b"\n"):
                    break
                j += 1
            atom = data[i:j].decode()
            stack[-1].append(None if atom.upper() == "NIL" else atom)
            i = j
    return stack[0]


def fetch_items(resp):
    """'* n FETCH (...)' -> (n, {ITEM: value}) with item names upper-cased."""
    tok = tokenize(resp)
    assert tok[0] == "*" and tok[2].upper() == "FETCH", resp[:200]
    items = tok[3]
    return int(tok[1]), {items[k].upper(): items[k + 1] for k in range(0, len(items), 2)}


class Imap(floe.ImapWire):
    def __init__(self, port, user=None, password=PASSWORD):
        super().__init__(port)
        greeting = self.read_response()
        assert greeting.startswith(b"* OK"), greeting
        if user:
            st, _, line = self.cmd(f'LOGIN "{user}" "{password}"')
            assert st == "OK", line

    def readexact(self, size):
        while len(self.buf) < size:
            self._fill()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def tag(self):
        self.n += 1
        return f"t{self.n}"

    def cmd(self, text, *literals):
        """Sends a command; text may hold '{}' placeholders for synchronizing
        literals. Returns (status, [untagged responses], tagged line)."""
        tag = self.tag()
        parts = text.split("{}")
        assert len(parts) == len(literals) + 1
        data = f"{tag} ".encode() + parts[0].encode()
        for lit, rest in zip(literals, parts[1:]):
            self.send(data + b"{%d}\r\n" % len(lit))
            cont = self.read_response()
            if not cont.startswith(b"+"):
                return self._finish(tag, [cont])
            data = lit + rest.encode()
        self.send(data + b"\r\n")
        return self._finish(tag, [])

    def _finish(self, tag, untagged):
        while True:
            r = untagged.pop() if untagged and untagged[-1].startswith(tag.encode() + b" ") else None
            if r is not None:
                resp = r
            else:
                resp = self.read_response()
            if resp.startswith(tag.encode() + b" "):
                line = resp.decode(errors="replace").rstrip("\r\n")
                return line.split(" ")[1], untagged, line
            untagged.append(resp)

    def ok(self, text, *literals):
        st, untagged, line = self.cmd(text, *literals)
        assert st == "OK", line
        return untagged, line

    def fetch(self, text):
        """Runs a FETCH; returns {seq: items} of its FETCH responses."""
        untagged, line = self.ok(text)
        out = {}
        for r in untagged:
            if re.match(rb"\* \d+ FETCH ", r):
                seq, items = fetch_items(r)
                out.setdefault(seq, {}).update(items)
        return out

    def select(self, mailbox="INBOX", extra=""):
        untagged, line = self.ok(f'SELECT "{mailbox}"{extra}')
        info = {"line": line}
        for r in untagged:
            s = r.decode(errors="replace")
            m = re.match(r"\* (\d+) EXISTS", s)
            if m:
                info["exists"] = int(m.group(1))
            m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", s)
            if m:
                info["highestmodseq"] = int(m.group(1))
            m = re.search(r"\[UIDVALIDITY (\d+)\]", s)
            if m:
                info["uidvalidity"] = int(m.group(1))
            m = re.search(r"\[UIDNEXT (\d+)\]", s)
            if m:
                info["uidnext"] = int(m.group(1))
        return info

    def search(self, text):
        untagged, _ = self.ok(text)
        for r in untagged:
            if r.startswith(b"* SEARCH"):
                return [int(x) for x in re.findall(rb"\d+", r.split(b"(MODSEQ")[0])]
        raise AssertionError(f"no SEARCH response: {untagged}")


def uid_list(s):
    """Expands a UID set '1:3,7' to [1, 2, 3, 7] (ranges in the order given)."""
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            step = 1 if b >= a else -1
            out.extend(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def appenduid(line):
    m = re.search(r"\[APPENDUID (\d+) ([\d:,]+)\]", line)
    assert m, line
    return int(m.group(1)), uid_list(m.group(2))


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def simple_message(subject, body="Hello.\n", sender="alice@example.com", to="bob@example.org",
                   date="Mon, 7 Feb 1994 21:52:25 -0800", extra=""):
    return crlf(f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {date}\n"
                f"Message-ID: <{uuid.uuid4().hex}@example.com>\n{extra}\n{body}")


ATTACHMENT = bytes(range(256)) * 4
B64 = base64.encodebytes(ATTACHMENT).decode()  # 76-column lines

MULTIPART = crlf(
    "From: Alice Example <alice@example.com>\n"
    "To: Bob <bob@example.org>\n"
    "Cc: carol@example.net\n"
    "Subject: Multipart sample\n"
    "Date: Tue, 8 Feb 1994 10:00:00 +0000\n"
    "Message-ID: <multi@example.com>\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="XYZ"\n'
    "\n"
    "preamble\n"
    "--XYZ\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Hello Bob, caf\u00e9 \u017c\u00f3\u0142w.\n"
    "--XYZ\n"
    'Content-Type: application/octet-stream; name="data.bin"\n'
    "Content-Transfer-Encoding: base64\n"
    'Content-Disposition: attachment; filename="data.bin"\n'
    "\n" + B64 +
    "--XYZ--\n")


def mime_parts(raw):
    """(header, text, [(mime header, body) per part]) of MULTIPART, per RFC 2046:
    the CRLF before a boundary belongs to the boundary."""
    hdr_end = raw.index(b"\r\n\r\n") + 4
    header, text = raw[:hdr_end], raw[hdr_end:]
    chunks = text.split(b"\r\n--XYZ")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:]  # CRLF after the boundary line
        i = chunk.index(b"\r\n\r\n") + 4
        parts.append((chunk[:i], chunk[i:]))
    return header, text, parts


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.pg = pg
    srv.start()
    yield srv
    srv.stop()


def floectl(server, *args, input=None):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args), input=input,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def domain(server):
    name = f"m{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


@pytest.fixture
def user(server, domain):
    """A fresh account per test, so that mailboxes start empty."""
    address = f"u{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


@pytest.fixture
def imap(server, user):
    c = Imap(server.imap_port, user)
    yield c
    c.close()


def session(server, user):
    return Imap(server.imap_port, user)


# ---------------------------------------------------------------------------
# APPEND and FETCH


def test_append_fetch_every_item(imap):
    st, _, line = imap.cmd('APPEND INBOX (\\Flagged $Work) "08-Feb-1994 10:00:00 +0100" {}',
                           MULTIPART)
    assert st == "OK", line
    uidvalidity, (uid,) = appenduid(line)
    sel = imap.select()
    assert sel["exists"] == 1 and sel["uidvalidity"] == uidvalidity

    header, text, parts = mime_parts(MULTIPART)
    got = imap.fetch(f"UID FETCH {uid} (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE "
                     "BODY BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[2] "
                     "BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1] "
                     "BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[HEADER.FIELDS.NOT (Subject)] "
                     "BODY.PEEK[]<10.20> BODY.PEEK[1]<6.3> MODSEQ EMAILID THREADID)")
    it = got[1]
    assert int(it["UID"]) == uid
    assert sorted(f.lower() for f in it["FLAGS"]) == ["$work", "\\flagged"]
    assert it["INTERNALDATE"] == b"08-Feb-1994 09:00:00 +0000"
    assert int(it["RFC822.SIZE"]) == len(MULTIPART)
    env = it["ENVELOPE"]
    assert env[1] == b"Multipart sample"
    assert env[2][0][2] == b"alice" and env[2][0][3] == b"example.com"
    assert env[9] == b"<multi@example.com>"
    bs = it["BODYSTRUCTURE"]
    assert isinstance(bs[0], list) and isinstance(bs[1], list)
    assert bs[2].upper() == b"MIXED"
    assert bs[1][0].upper() == b"APPLICATION" and bs[1][5].upper() == b"BASE64"
    assert isinstance(it["BODY"], list)
    assert it["BODY[]"] == MULTIPART
    assert it["BODY[HEADER]"] == header
    assert it["BODY[TEXT]"] == text
    assert it["BODY[1]"] == parts[0][1]
    assert it["BODY[2]"] == parts[1][1]
    assert it["BODY[2.MIME]"] == parts[1][0]
    assert it["BINARY[2]"] == ATTACHMENT
    assert int(it["BINARY.SIZE[2]"]) == len(ATTACHMENT)
    assert it["BINARY[1]"] == "Hello Bob, caf\u00e9 \u017c\u00f3\u0142w.".encode()
    assert it["BODY[HEADER.FIELDS (SUBJECT FROM)]"] == (
        b"From: Alice Example <alice@example.com>\r\nSubject: Multipart sample\r\n\r\n")
    fields_not = it["BODY[HEADER.FIELDS.NOT (SUBJECT)]"]
    assert b"Subject:" not in fields_not and fields_not.startswith(b"From: Alice")
    assert fields_not.endswith(b"\r\n\r\n")
    assert it["BODY[]<10>"] == MULTIPART[10:30]
    assert it["BODY[1]<6>"] == parts[0][1][6:9]
    assert int(it["MODSEQ"][0]) >= 1
    assert it["EMAILID"][0] and isinstance(it["EMAILID"], list)
    assert "THREADID" in it
    # PEEK everything: still unseen
    assert imap.search("SEARCH UNSEEN") == [1]
    # OBJECTID search keys
    assert imap.search(f"SEARCH EMAILID {it['EMAILID'][0]}") == [1]
    assert imap.search("SEARCH EMAILID Mnonexistent") == []
    if it["THREADID"]:
        assert imap.search(f"SEARCH THREADID {it['THREADID'][0]}") == [1]


def test_fetch_header_sections_exact_bytes(imap):
    """The top-level header comes with the metadata query (one query for a
    whole FETCH of headers): its bytes must be exactly the message's, also
    with raw 8-bit bytes, and a header too large for that path (over 64 KiB)
    is read from the blob as before."""
    raw8 = (b"From: J\xf6rg <joerg@example.com>\r\nTo: bob@example.org\r\n"
            b"Subject: caf\xe9 \xff\r\nX-Folded: one\r\n two\r\n\r\nBody \xe9.\r\n")
    big_hdr = "".join(f"X-Filler-{i}: {'y' * 70}\r\n" for i in range(1000))
    big = crlf(f"From: big@example.com\nSubject: big header\n") + big_hdr.encode() + b"\r\nSmall body.\r\n"
    plain = [simple_message(f"plain {i}") for i in range(5)]
    for m in [raw8, big] + plain:
        imap.ok("APPEND INBOX {}", m)
    imap.select()
    msgs = [raw8, big] + plain
    got = imap.fetch("FETCH 1:7 (UID BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (SUBJECT X-FOLDED)] "
                     "BODY.PEEK[HEADER.FIELDS.NOT (FROM)] RFC822.SIZE)")
    for seq, m in enumerate(msgs, 1):
        header = m[:m.index(b"\r\n\r\n") + 4]
        it = got[seq]
        assert it["BODY[HEADER]"] == header, seq
        assert int(it["RFC822.SIZE"]) == len(m)
        assert it["BODY[HEADER.FIELDS.NOT (FROM)]"] == b"".join(
            line for line in re.findall(rb"(?m)^[^ \t\r][^\r]*\r\n(?:[ \t][^\r]*\r\n)*", header)
            if not line.lower().startswith(b"from:")) + b"\r\n", seq
    assert got[1]["BODY[HEADER.FIELDS (SUBJECT X-FOLDED)]"] == (
        b"Subject: caf\xe9 \xff\r\nX-Folded: one\r\n two\r\n\r\n")
    assert got[2]["BODY[HEADER.FIELDS (SUBJECT X-FOLDED)]"] == b"Subject: big header\r\n\r\n"
    # With an item the header does not cover, every byte still comes right.
    got = imap.fetch("FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT] RFC822.HEADER)")
    assert got[1]["BODY[TEXT]"] == b"Body \xe9.\r\n"
    assert got[2]["BODY[TEXT]"] == b"Small body.\r\n"
    assert got[1]["RFC822.HEADER"] == raw8[:raw8.index(b"\r\n\r\n") + 4]
    assert got[2]["RFC822.HEADER"] == big[:big.index(b"\r\n\r\n") + 4]


def test_fetch_sets_seen_unless_peek_or_examine(imap):
    for i in range(3):
        imap.ok("APPEND INBOX {}", simple_message(f"seen {i}"))
    imap.ok("EXAMINE INBOX")
    imap.fetch("FETCH 1 BODY[]")
    imap.select()
    assert imap.search("SEARCH UNSEEN") == [1, 2, 3], "EXAMINE must not set \\Seen"
    got = imap.fetch("FETCH 1 BODY[TEXT]")
    assert "\\Seen" in got[1]["FLAGS"], "implicit \\Seen is reported in the same FETCH"
    imap.fetch("FETCH 2 BODY.PEEK[]")
    imap.fetch("FETCH 3 RFC822.HEADER")
    assert imap.search("SEARCH UNSEEN") == [2, 3]
    got = imap.fetch("FETCH 3 RFC822")
    assert got[3]["RFC822"].startswith(b"From: alice@example.com")
    assert imap.search("SEARCH SEEN") == [1, 3]


def test_fetch_errors_and_sequence_rules(imap):
    for i in range(3):
        imap.ok("APPEND INBOX {}", simple_message(f"msg {i}"))
    imap.select()
    assert imap.cmd("FETCH 1 (FLAGS FOO)")[0] == "BAD"
    assert imap.cmd("FETCH 1 BODY[1.0]")[0] == "BAD"
    assert imap.cmd("FETCH 4 FLAGS")[0] == "BAD", "sequence number beyond the mailbox"
    assert imap.cmd("FETCH 1 (FLAGS) (VANISHED)")[0] == "BAD"
    # UID sets beyond the mailbox are silently ignored
    assert imap.fetch("UID FETCH 1000:2000 FLAGS") == {}
    got = imap.fetch("FETCH * (UID)")
    assert list(got) == [3]
    got = imap.fetch("UID FETCH 1:* FLAGS")
    assert sorted(got) == [1, 2, 3] and all("UID" in v for v in got.values()), \
        "UID FETCH always includes UID"
    # an empty section of a non-multipart message part that does not exist
    got = imap.fetch("FETCH 1 BODY.PEEK[5]")
    assert got[1]["BODY[5]"] in (b"", None)


def test_binary_encodings(imap):
    qp = crlf("From: a@example.com\nSubject: qp\nMIME-Version: 1.0\n"
              "Content-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: quoted-printable\n\n"
              "caf=C3=A9 =\nsoft break\n")
    odd = crlf("From: a@example.com\nSubject: odd\nMIME-Version: 1.0\n"
               "Content-Type: application/octet-stream\n"
               "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n`\nend\n")
    imap.ok("APPEND INBOX {}", qp)
    imap.ok("APPEND INBOX {}", odd)
    imap.select()
    got = imap.fetch("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<2.4>)")
    decoded = "caf\u00e9 soft break\r\n".encode()
    assert got[1]["BINARY[1]"] == decoded
    assert int(got[1]["BINARY.SIZE[1]"]) == len(decoded)
    assert got[1]["BINARY[1]<2>"] == decoded[2:6]
    st, untagged, line = imap.cmd("FETCH 2 BINARY.PEEK[1]")
    assert st == "NO" and "[UNKNOWN-CTE]" in line, line
    # the connection is still in step
    assert imap.fetch("FETCH 2 (UID)")[2]["UID"]


def test_malformed_message_commands(imap):
    """Every malformed message command gets BAD (or NO) and the session goes on."""
    imap.ok("APPEND INBOX {}", simple_message("target"))
    imap.select()
    for text in ("FETCH", "FETCH 1", "FETCH x FLAGS", "FETCH 1 ()", "FETCH 1 (FLAGS",
                 "FETCH 1 BODY[", "FETCH 1 BODY[]<>", "FETCH 1 BODY[HEADER.FIELDS]",
                 "FETCH 1 (FLAGS) (CHANGEDSINCE)", "FETCH 1 FLAGS (FOO)", "FETCH 1 FLAGS () ()",
                 "STORE", "STORE 1", "STORE 1 FLAGS", "STORE 1 +FLAGS \"x\"", "STORE 1 (FOO 1) FLAGS ()",
                 "STORE 1 (UNCHANGEDSINCE x) FLAGS ()", "STORE 1 BOGUS (\\Seen)",
                 "SEARCH", "SEARCH (", "SEARCH OR", "SEARCH HEADER", "SEARCH RETURN (MIN",
                 "SEARCH CHARSET", "SEARCH UID 1:x", "SORT", "SORT (DATE)", "SORT (DATE) UTF-8",
                 "SORT DATE UTF-8 ALL", "COPY", "COPY 1", "COPY x INBOX", "MOVE 1",
                 "UID EXPUNGE", "UID EXPUNGE x", "EXPUNGE 1", "APPEND", "APPEND INBOX",
                 "APPEND INBOX (\\Seen)", "APPEND INBOX \"x\"", "UID FETCH 1:* (FLAGS) (VANISHED)"):
        st, _, line = imap.cmd(text)
        assert st in ("BAD", "NO"), (text, line)
        imap.ok("NOOP")  # the session ends a run of 20 BADs in a row
    assert imap.fetch("FETCH 1 (UID)")[1]["UID"]


def test_large_message_round_trip(imap):
    line = ("0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "\n")
    body = line * (2 * 1024 * 1024 // len(line) + 1)
    msg = simple_message("big one", body=body)
    assert len(msg) > 2 * 1024 * 1024
    _, line = imap.ok("APPEND INBOX {}", msg)
    imap.select()
    got = imap.fetch("FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[]<1000000.70000>)")
    assert int(got[1]["RFC822.SIZE"]) == len(msg)
    assert got[1]["BODY[]"] == msg
    assert got[1]["BODY[]<1000000>"] == msg[1000000:1070000]


def test_fetch_streams_to_slow_reader(server, user):
    """A client that reads slowly gets the whole literal intact."""
    c = session(server, user)
    msg = simple_message("slow", body="x" * 3_000_000 + "\n")
    c.ok("APPEND INBOX {}", msg)
    c.select()
    c.send(b"s1 FETCH 1 BODY.PEEK[]\r\n")
    time.sleep(1.0)  # let the server fill the socket buffers and wait
    resp = c.read_response()
    _, items = fetch_items(resp)
    assert items["BODY[]"] == msg
    assert c.readline().startswith(b"s1 OK")
    c.close()


def asan_build():
    with open(floe.FLOED, "rb") as f:
        return b"__asan_init" in f.read()


def worker_rss_kb(server):
    total = 0
    for pid in server.worker_pids():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def test_fetch_does_not_load_whole_message(pg, tmp_path):
    """BODY[] of a 24 MB message streams: a client that does not read makes
    the worker hold a few chunks, not the message."""
    srv = floe.Floed(None, pg, workers=1, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    try:
        name = f"r{uuid.uuid4().hex[:8]}.example"
        floectl(srv, "domain", "add", name)
        user = f"big@{name}"
        floectl(srv, "user", "add", user, "--password", PASSWORD)
        c = session(srv, user)
        msg = simple_message("huge", body=("%076d\n" % 7) * (24 * 1024 * 1024 // 78))
        c.ok("APPEND INBOX {}", msg)
        c.close()
        # a fresh worker, so that the APPEND's buffers do not count
        srv.stop()
        srv.start()
        c = session(srv, user)
        c.select()
        c.ok("FETCH 1 (FLAGS)")
        before = worker_rss_kb(srv)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.send(b"big FETCH 1 BODY.PEEK[]\r\n")
        time.sleep(1.5)
        during = worker_rss_kb(srv)
        # AddressSanitizer keeps freed chunks in quarantine: RSS says nothing there
        if not asan_build():
            assert during - before < 12 * 1024, (before, during)
        resp = c.read_response()
        assert fetch_items(resp)[1]["BODY[]"] == msg
        assert c.readline().startswith(b"big OK")
        c.close()
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# MULTIAPPEND and interrupted APPEND


def test_multiappend(imap):
    msgs = [simple_message(f"multi {i}") for i in range(3)]
    st, _, line = imap.cmd("APPEND INBOX (\\Seen) {} {} (\\Draft) {}", *msgs)
    assert st == "OK", line
    _, uids = appenduid(line)
    assert len(uids) == 3 and uids == sorted(uids)
    imap.select()
    got = imap.fetch("FETCH 1:3 (FLAGS BODY.PEEK[])")
    assert [got[i]["BODY[]"] for i in (1, 2, 3)] == msgs
    assert "\\Seen" in got[1]["FLAGS"] and got[2]["FLAGS"] == [] and "\\Draft" in got[3]["FLAGS"]


def test_multiappend_all_or_nothing(server, user):
    c = session(server, user)
    c.select()
    # the second literal is over the APPENDLIMIT: refused before it is sent
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{{len(simple_message('a'))}}}\r\n".encode())
    assert c.read_response().startswith(b"+")
    c.send(simple_message("a") + b" {99999999999}\r\n")
    resp = c.read_response()
    assert resp.startswith(f"{tag} NO".encode()) and b"TOOBIG" in resp, resp
    # still in sync, and nothing was stored
    st, untagged, _ = c.cmd("NOOP")
    assert st == "OK"
    assert c.select()["exists"] == 0
    # a bad date in the third message makes the whole command BAD
    st, _, _ = c.cmd('APPEND INBOX {} {} "not a date" {}', simple_message("x"), simple_message("y"),
                     simple_message("z"))
    assert st == "BAD"
    assert c.select()["exists"] == 0
    c.close()


def test_multiappend_over_quota_stores_nothing(server, user):
    floectl(server, "user", "set", user, "--quota", "10K")
    c = session(server, user)
    small = simple_message("fits")
    big = simple_message("too big", body="z" * 12000 + "\n")
    st, _, line = c.cmd("APPEND INBOX {} {}", small, big)
    assert st == "NO" and "[OVERQUOTA]" in line, line
    assert c.select()["exists"] == 0
    c.ok("APPEND INBOX {}", small)
    assert c.select()["exists"] == 1
    c.close()


def test_append_disconnect_mid_literal_stores_nothing(server, user):
    msg = simple_message("cut", body="y" * 100000 + "\n")
    s = socket.create_connection(("127.0.0.1", server.imap_port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(f'a LOGIN "{user}" "{PASSWORD}"\r\n'.encode())
    while not f.readline().startswith(b"a "):
        pass
    s.sendall(b"b APPEND INBOX {%d}\r\n" % len(msg))
    assert f.readline().startswith(b"+")
    s.sendall(msg[:len(msg) // 2])
    time.sleep(0.3)
    s.close()
    # also with a non-synchronizing literal
    s = socket.create_connection(("127.0.0.1", server.imap_port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(f'a LOGIN "{user}" "{PASSWORD}"\r\n'.encode())
    while not f.readline().startswith(b"a "):
        pass
    s.sendall(b"b APPEND INBOX {%d+}\r\n" % len(msg) + msg[:-10])
    time.sleep(0.3)
    s.close()
    time.sleep(0.5)
    c = session(server, user)
    assert c.select()["exists"] == 0
    c.close()


def test_append_trycreate_and_bad_flags(imap):
    st, _, line = imap.cmd('APPEND "No Such Folder" {}', simple_message("x"))
    assert st == "NO" and "[TRYCREATE]" in line
    st, _, line = imap.cmd("APPEND INBOX (\\Recent) {}", simple_message("x"))
    assert st == "BAD"
    st, _, line = imap.cmd("APPEND INBOX (\\Bogus) {}", simple_message("x"))
    assert st == "BAD"
    # APPEND to the selected mailbox: EXISTS before the tagged OK
    imap.select()
    untagged, _ = imap.ok("APPEND INBOX {}", simple_message("seen by exists"))
    assert any(re.match(rb"\* 1 EXISTS", r) for r in untagged), untagged


# ---------------------------------------------------------------------------
# STORE


def test_store_flags_and_unchangedsince(server, user):
    c = session(server, user)
    for i in range(4):
        c.ok("APPEND INBOX {}", simple_message(f"store {i}"))
    c.select()
    untagged, _ = c.ok("STORE 1:2 +FLAGS (\\Flagged $Label1)")
    fetched = [fetch_items(r) for r in untagged if b"FETCH" in r]
    assert sorted(s for s, _ in fetched) == [1, 2]
    assert all("\\Flagged" in i["FLAGS"] and "$Label1" in i["FLAGS"] for _, i in fetched)
    untagged, _ = c.ok("STORE 1 -FLAGS.SILENT (\\Flagged)")
    assert not [r for r in untagged if b"FETCH" in r], ".SILENT sends no FETCH"
    untagged, _ = c.ok("UID STORE 3 FLAGS (\\Answered)")
    (seq, items), = [fetch_items(r) for r in untagged if b"FETCH" in r]
    assert seq == 3 and "UID" in items and items["FLAGS"] == ["\\Answered"]
    assert c.cmd("STORE 1 +FLAGS (\\Recent)")[0] == "BAD"
    assert c.cmd("STORE 1 XFLAGS (\\Seen)")[0] == "BAD"

    # CONDSTORE: UNCHANGEDSINCE with a stale modseq fails for that message only
    got = c.fetch("FETCH 1:4 (MODSEQ)")
    m = {s: int(v["MODSEQ"][0]) for s, v in got.items()}
    other = session(server, user)
    other.select()
    other.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
    other.close()
    c.ok("NOOP")
    untagged, line = c.ok(f"STORE 1,2 (UNCHANGEDSINCE {max(m[1], m[2])}) +FLAGS (\\Deleted)")
    assert "[MODIFIED 2]" in line, line
    flags = c.fetch("FETCH 1:2 FLAGS")
    assert "\\Deleted" in flags[1]["FLAGS"] and "\\Deleted" not in flags[2]["FLAGS"]
    uids = c.search("UID SEARCH ALL")
    untagged, line = c.ok("UID STORE 1:* (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
    assert f"[MODIFIED {uids[0]}:{uids[3]}]" in line, line
    c.close()


def test_store_fast_after_bulk_append(imap):
    """Outlook Sync uploads whole mailboxes on first bind and then sets
    flags: STORE on a freshly filled 2000-message folder must not wait for
    PostgreSQL's statistics to catch up (autovacuum's ANALYZE runs a minute
    or more later)."""
    for start in range(0, 2000, 200):
        batch = [simple_message(f"bulk {i}") for i in range(start, start + 200)]
        imap.ok("APPEND INBOX" + " {}" * len(batch), *batch)
    imap.select()
    t0 = time.time()
    imap.ok("STORE 1:10 +FLAGS.SILENT (\\Flagged)")
    imap.ok("UID STORE 5 +FLAGS.SILENT (\\Seen)")
    imap.ok("STORE 1999 +FLAGS.SILENT (\\Deleted)")
    imap.ok("EXPUNGE")
    assert time.time() - t0 < 3.0


def test_examine_store_refused(imap):
    imap.ok("APPEND INBOX {}", simple_message("ro"))
    imap.ok("EXAMINE INBOX")
    st, _, line = imap.cmd("STORE 1 +FLAGS (\\Seen)")
    assert st == "NO"
    assert imap.cmd("EXPUNGE")[0] == "NO"


# ---------------------------------------------------------------------------
# SEARCH and SORT


@pytest.fixture
def searchbox(imap):
    msgs = [
        simple_message("Quarterly report", body="Numbers are up.\n", sender="Zed <zed@example.com>",
                       to="bob@example.org", date="Mon, 1 Jan 2024 10:00:00 +0000"),
        simple_message("Caf\u00e9 meeting", body="We meet at the caf\u00e9. \u017b\u00f3\u0142w.\n",
                       sender="Anna <anna@example.com>", to="carl@example.org",
                       date="Wed, 3 Jan 2024 10:00:00 +0000", extra="X-Priority: 1\n"),
        simple_message("Re: quarterly report", body="Looks good " + "pad " * 2000 + "\n",
                       sender="Mike <mike@example.com>", to="alice@example.org",
                       date="Tue, 2 Jan 2024 10:00:00 +0000"),
        simple_message("lunch", body="Pizza?\n", sender="Bea <bea@example.com>",
                       to="zed@example.org", date="Thu, 4 Jan 2024 10:00:00 +0000"),
    ]
    msgs[1] = msgs[1].replace(b"Subject: Caf\xc3\xa9 meeting", b"Subject: =?UTF-8?Q?Caf=C3=A9?= meeting")
    msgs[1] = msgs[1].replace(b"\r\n\r\n", b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
                              b"Content-Transfer-Encoding: 8bit\r\n\r\n", 1)
    for m in msgs:
        imap.ok("APPEND INBOX {}", m)
    imap.select()
    imap.ok("STORE 1 +FLAGS (\\Seen)")
    imap.ok("STORE 4 +FLAGS (\\Flagged)")
    return imap


def test_search_keys(searchbox):
    s = searchbox
    assert s.search("SEARCH ALL") == [1, 2, 3, 4]
    assert s.search("SEARCH SUBJECT quarterly") == [1, 3]
    assert s.search("SEARCH FROM anna") == [2]
    assert s.search("SEARCH TO zed") == [4]
    assert s.search("SEARCH BODY pizza") == [4]
    assert s.search("SEARCH TEXT numbers") == [1]
    assert s.search("SEARCH SEEN") == [1]
    assert s.search("SEARCH UNSEEN") == [2, 3, 4]
    assert s.search("SEARCH FLAGGED") == [4]
    assert s.search("SEARCH NOT FLAGGED UNSEEN") == [2, 3]
    assert s.search("SEARCH OR FROM zed FROM bea") == [1, 4]
    assert s.search("SEARCH LARGER 5000") == [3]
    assert s.search("SEARCH SMALLER 5000") == [1, 2, 4]
    assert s.search("SEARCH HEADER X-Priority 1") == [2]
    assert s.search("SEARCH SENTSINCE 3-Jan-2024") == [2, 4]
    assert s.search("SEARCH SENTBEFORE 2-Jan-2024") == [1]
    assert s.search("SEARCH SENTON 2-Jan-2024") == [3]
    assert s.search("SEARCH SINCE 1-Jan-2000") == [1, 2, 3, 4]
    assert s.search("SEARCH BEFORE 1-Jan-2000") == []
    assert s.search("SEARCH 2:3") == [2, 3]
    assert s.search("SEARCH 2:* SUBJECT report") == [3]
    uids = s.search("UID SEARCH ALL")
    assert s.search(f"UID SEARCH UID {uids[1]}:{uids[2]}") == uids[1:3]
    assert s.search(f"SEARCH UID {uids[3]}") == [4]
    assert s.search("SEARCH RECENT") == [] and s.search("SEARCH NEW") == []
    assert s.search("SEARCH OLD") == [1, 2, 3, 4]
    assert s.search("SEARCH ANSWERED") == [] and s.search("SEARCH UNDRAFT") == [1, 2, 3, 4]
    assert s.search("SEARCH KEYWORD $Nothing") == []
    assert s.search("SEARCH YOUNGER 3600") == [1, 2, 3, 4]
    assert s.search("SEARCH OLDER 3600") == []
    assert s.cmd("SEARCH FOO")[0] == "BAD"
    assert s.cmd("SEARCH SENTON 31-Feb-2024")[0] == "BAD"


def test_search_utf8_and_charset(searchbox):
    s = searchbox
    st, untagged, line = s.cmd("SEARCH CHARSET UTF-8 SUBJECT {}", "caf\u00e9".encode())
    assert st == "OK" and any(r.startswith(b"* SEARCH 2") for r in untagged), (line, untagged)
    st, untagged, line = s.cmd("SEARCH CHARSET UTF-8 BODY {}", "\u017c\u00f3\u0142w".encode())
    assert st == "OK" and [r for r in untagged if r.startswith(b"* SEARCH")] == [b"* SEARCH 2\r\n"], \
        "case-insensitive UTF-8 body search"
    st, untagged, line = s.cmd("SEARCH CHARSET UTF-8 SUBJECT {}", "CAF\u00c9".encode())
    assert [r for r in untagged if r.startswith(b"* SEARCH")] == [b"* SEARCH 2\r\n"]
    st, _, line = s.cmd("SEARCH CHARSET KOI8-R SUBJECT x")
    assert st == "NO" and "[BADCHARSET" in line
    assert s.search("SEARCH CHARSET US-ASCII FROM mike") == [3]


def test_esearch_and_searchres(searchbox):
    s = searchbox
    tag_untagged, line = s.ok("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    es = [r for r in tag_untagged if r.startswith(b"* ESEARCH")]
    assert len(es) == 1
    text = es[0].decode()
    assert re.search(r'\(TAG "t\d+"\)', text)
    assert " MIN 2" in text and " MAX 4" in text and " COUNT 3" in text and " ALL 2:4" in text
    untagged, _ = s.ok("UID SEARCH RETURN (COUNT) SUBJECT nothing-matches")
    es = [r for r in untagged if r.startswith(b"* ESEARCH")][0].decode()
    assert " UID" in es and "COUNT 0" in es and "ALL" not in es
    untagged, _ = s.ok("SEARCH RETURN () FLAGGED")
    assert [r for r in untagged if r.startswith(b"* ESEARCH")][0].decode().rstrip().endswith("ALL 4")
    # SEARCHRES: SAVE alone answers nothing; $ then refers to the result
    untagged, _ = s.ok("SEARCH RETURN (SAVE) SUBJECT report")
    assert not [r for r in untagged if b"SEARCH" in r]
    got = s.fetch("FETCH $ (FLAGS)")
    assert sorted(got) == [1, 3]
    assert s.search("SEARCH NOT $") == [2, 4]
    assert s.search("UID SEARCH UID $") == [u for i, u in enumerate(s.search("UID SEARCH ALL")) if i in (0, 2)]
    untagged, _ = s.ok("SEARCH RETURN (SAVE MIN) UNSEEN")
    assert s.search("SEARCH $") == [2]


def test_search_modseq(searchbox):
    s = searchbox
    got = s.fetch("FETCH 1:4 MODSEQ")
    top = max(int(v["MODSEQ"][0]) for v in got.values())
    s.ok("STORE 2 +FLAGS (\\Answered)")
    untagged, _ = s.ok(f"SEARCH MODSEQ {top + 1}")
    line = [r for r in untagged if r.startswith(b"* SEARCH")][0].decode()
    m = re.fullmatch(r"\* SEARCH 2 \(MODSEQ (\d+)\)\r\n", line)
    assert m and int(m.group(1)) > top, line
    untagged, _ = s.ok('SEARCH MODSEQ "/flags/\\\\answered" all 1')
    assert [r for r in untagged if r.startswith(b"* SEARCH")][0].startswith(b"* SEARCH 1 2 3 4 (MODSEQ")


def test_sort(searchbox):
    s = searchbox

    def sort(text):
        untagged, _ = s.ok(text)
        line = [r for r in untagged if r.startswith(b"* SORT")][0]
        return [int(x) for x in line.split()[2:]]

    assert sort("SORT (ARRIVAL) UTF-8 ALL") == [1, 2, 3, 4]
    assert sort("SORT (REVERSE ARRIVAL) UTF-8 ALL") == [4, 3, 2, 1]
    assert sort("SORT (DATE) UTF-8 ALL") == [1, 3, 2, 4]
    assert sort("SORT (SUBJECT) UTF-8 ALL") == [2, 4, 1, 3]
    assert sort("SORT (SIZE) UTF-8 ALL")[-1] == 3
    assert sort("SORT (FROM) US-ASCII ALL") == [2, 4, 3, 1]
    assert sort("SORT (REVERSE FROM) UTF-8 UNSEEN") == [3, 4, 2]
    assert sort("SORT (TO) UTF-8 ALL") == [3, 1, 2, 4]
    assert sort("SORT (DISPLAYFROM) UTF-8 ALL") == [2, 4, 3, 1]
    assert sort("SORT (CC SIZE) UTF-8 ALL")[0] in (1, 2, 4)
    uids = s.search("UID SEARCH ALL")
    assert sort("UID SORT (REVERSE DATE) UTF-8 ALL") == [uids[3], uids[1], uids[2], uids[0]]
    assert s.cmd("SORT (BOGUS) UTF-8 ALL")[0] == "BAD"
    st, _, line = s.cmd("SORT (DATE) KOI8-R ALL")
    assert st == "NO" and "BADCHARSET" in line


# ---------------------------------------------------------------------------
# COPY, MOVE, EXPUNGE


def test_copy_and_move(imap):
    msgs = [simple_message(f"cm {i}") for i in range(4)]
    for m in msgs:
        imap.ok("APPEND INBOX {}", m)
    sel = imap.select()
    assert sel["exists"] == 4
    src = imap.search("UID SEARCH ALL")
    _, line = imap.ok("COPY 2:3 Trash")
    m = re.search(r"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", line)
    assert m, line
    assert uid_list(m.group(2)) == src[1:3]
    dest = uid_list(m.group(3))
    assert len(dest) == 2
    st, _, line = imap.cmd("COPY 1 Nowhere")
    assert st == "NO" and "[TRYCREATE]" in line

    untagged, line = imap.ok("UID MOVE %d,%d Drafts" % (src[0], src[3]))
    texts = [r.decode() for r in untagged]
    copyuid = [t for t in texts if t.startswith("* OK [COPYUID")]
    assert copyuid, texts
    assert uid_list(copyuid[0].split()[4]) == [src[0], src[3]]
    expunges = [int(re.match(r"\* (\d+) EXPUNGE", t).group(1)) for t in texts if "EXPUNGE" in t]
    assert expunges == [4, 1], "highest first so that sequence numbers stay valid"
    assert texts.index(copyuid[0]) < texts.index("* 4 EXPUNGE\r\n")
    assert imap.search("SEARCH ALL") == [1, 2]

    # the copies have the same bytes
    imap.select("Trash")
    got = imap.fetch("FETCH 1:2 BODY.PEEK[]")
    assert [got[1]["BODY[]"], got[2]["BODY[]"]] == msgs[1:3]
    imap.select("Drafts")
    got = imap.fetch("FETCH 1:2 BODY.PEEK[]")
    assert [got[1]["BODY[]"], got[2]["BODY[]"]] == [msgs[0], msgs[3]]


def test_move_with_qresync_sends_vanished(imap):
    for i in range(3):
        imap.ok("APPEND INBOX {}", simple_message(f"q {i}"))
    imap.ok("ENABLE QRESYNC")
    imap.select()
    uids = imap.search("UID SEARCH ALL")
    untagged, _ = imap.ok("MOVE 2 Trash")
    assert f"* VANISHED {uids[1]}\r\n".encode() in untagged, untagged


def test_expunge_and_uid_expunge(imap):
    for i in range(5):
        imap.ok("APPEND INBOX {}", simple_message(f"x {i}"))
    imap.select()
    uids = imap.search("UID SEARCH ALL")
    imap.ok("STORE 1,2,4 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = imap.ok(f"UID EXPUNGE {uids[3]}:{uids[4]}")
    assert untagged == [b"* 4 EXPUNGE\r\n"]
    untagged, line = imap.ok("EXPUNGE")
    assert untagged == [b"* 2 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"]
    assert imap.search("UID SEARCH ALL") == [uids[2], uids[4]]
    imap.ok("ENABLE CONDSTORE")
    _, line = imap.ok("EXPUNGE")
    assert "[HIGHESTMODSEQ " in line


def test_expunge_visible_only_when_allowed(server, user):
    a = session(server, user)
    b = session(server, user)
    for i in range(3):
        a.ok("APPEND INBOX {}", simple_message(f"vis {i}"))
    a.select()
    b.select()
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    time.sleep(0.3)  # the change notice reaches a's worker
    for cmd in ("FETCH 1:3 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "UID SEARCH ALL"):
        st, untagged, line = a.cmd(cmd)
        assert st in ("OK", "NO"), line
        assert not [r for r in untagged if b"EXPUNGE" in r], f"EXPUNGE during {cmd}: {untagged}"
    # the sequence map is unchanged until then: message 3 is still number 3
    got = a.fetch("FETCH 3 (UID)")
    assert 3 in got
    untagged, _ = a.ok("NOOP")
    assert b"* 2 EXPUNGE\r\n" in untagged
    assert a.search("SEARCH ALL") == [1, 2]
    a.close()
    b.close()


def test_flag_change_from_other_session(server, user):
    a = session(server, user)
    b = session(server, user)
    a.ok("APPEND INBOX {}", simple_message("flags race"))
    a.select()
    b.select()
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    untagged, _ = a.ok("NOOP")
    fetched = [fetch_items(r)[1] for r in untagged if b"FETCH" in r]
    assert fetched and "\\Flagged" in fetched[-1]["FLAGS"]
    a.close()
    b.close()


def test_flag_changes_racing(server, user):
    """Two sessions add different keywords to the same messages at once:
    every change survives."""
    a = session(server, user)
    b = session(server, user)
    for i in range(5):
        a.ok("APPEND INBOX {}", simple_message(f"race {i}"))
    a.select()
    b.select()
    n = 20
    a.send(b"".join(b"a%d STORE 1:5 +FLAGS.SILENT ($A%d)\r\n" % (i, i) for i in range(n)))
    b.send(b"".join(b"b%d STORE 1:5 +FLAGS.SILENT ($B%d)\r\n" % (i, i) for i in range(n)))
    for c, tag in ((a, b"a"), (b, b"b")):
        done = 0
        while done < n:
            line = c.read_response()
            if line.startswith(tag):
                assert line.split()[1] == b"OK", line
                done += 1
    a.ok("NOOP")
    got = a.fetch("FETCH 1:5 (FLAGS MODSEQ)")
    want = {f"$A{i}" for i in range(n)} | {f"$B{i}" for i in range(n)}
    for seq in range(1, 6):
        assert set(got[seq]["FLAGS"]) == want, got[seq]["FLAGS"]
    a.close()
    b.close()


def test_changedsince_vanished_exact(server, user):
    a = session(server, user)
    for i in range(6):
        a.ok("APPEND INBOX {}", simple_message(f"cs {i}"))
    a.ok("ENABLE QRESYNC")
    sel = a.select()
    base = sel["highestmodseq"]
    uids = a.search("UID SEARCH ALL")
    # another session changes a flag and expunges two messages, one of them the last
    b = session(server, user)
    b.select()
    b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    b.ok(f"UID STORE {uids[3]},{uids[5]} +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    b.close()

    c = session(server, user)
    c.ok("ENABLE QRESYNC")
    c.select()
    untagged, _ = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)")
    vanished = [r.decode() for r in untagged if r.startswith(b"* VANISHED")]
    assert vanished == [f"* VANISHED (EARLIER) {uids[3]},{uids[5]}\r\n"], untagged
    fetched = [fetch_items(r)[1] for r in untagged if b"FETCH" in r]
    assert [int(f["UID"]) for f in fetched] == [uids[1]]
    assert "\\Flagged" in fetched[0]["FLAGS"] and "MODSEQ" in fetched[0]
    # CHANGEDSINCE without VANISHED, and with nothing changed
    top = max(int(f["MODSEQ"][0]) for f in fetched)
    assert c.fetch(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {top + 100})") == {}
    assert c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)")[0] == "BAD"
    c.close()
    a.close()


# ---------------------------------------------------------------------------
# A real client: mbsync (isync)


MBSYNC_MESSAGES = 2000


def test_mbsync_two_way(server, user, tmp_path):
    mbsync = shutil.which("mbsync")
    if not mbsync:
        pytest.skip("mbsync (isync) is not installed")
    a = session(server, user)
    for start in range(0, MBSYNC_MESSAGES, 100):
        batch = [simple_message(f"sync {i}", body=f"message {i}\n" * 5)
                 for i in range(start, start + 100)]
        a.ok("APPEND INBOX" + " {}" * len(batch), *batch)
    a.ok('CREATE "Projects"')
    for i in range(20):
        a.ok('APPEND "Projects" (\\Seen) {}', simple_message(f"proj {i}"))
    # test_store_fast_after_bulk_append covers STORE right after a bulk
    # load; here the statistics are brought up to date first
    server.pg.psql("ANALYZE items")
    a.select()
    a.ok("STORE 1:10 +FLAGS.SILENT (\\Flagged)")
    a.close()

    maildir = tmp_path / "mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""
IMAPAccount floe
Host 127.0.0.1
Port {server.imap_port}
User {user}
Pass "{PASSWORD}"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account floe

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Projects
Create Both
Expunge Both
SyncState *
Sync All
""")

    def run(*opts):
        r = subprocess.run([mbsync, "-c", str(rc), *opts, "sync"], capture_output=True,
                           text=True, errors="replace", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout + r.stderr

    def quiet_run():
        """A run with nothing to do: only listing, selecting and UID FETCH (UID FLAGS)."""
        out = run("-Dn")
        sent = [l[4:] for l in out.splitlines() if l.startswith(">>> ")]
        verbs = {" ".join(c.split()[1:3]).upper() for c in sent}
        for bad in ("APPEND", "STORE", "EXPUNGE", "MOVE", "COPY", "BODY"):
            assert not [c for c in sent if bad in c.upper()], (bad, sent)
        assert "UID FETCH" in verbs, sent

    def maildir_files(box):
        return list((maildir / box / "cur").iterdir()) + list((maildir / box / "new").iterdir())

    def flagged(box, letter):
        return [f for f in maildir_files(box) if letter in f.name.split(":2,")[-1]]

    run()
    assert len(maildir_files("INBOX")) == MBSYNC_MESSAGES
    assert len(maildir_files("Projects")) == 20
    assert len(flagged("INBOX", "F")) == 10
    assert len(flagged("Projects", "S")) == 20
    quiet_run()

    # local changes: delete one, add one, flag one; remote: \Seen one, expunge one
    victim = sorted(maildir_files("INBOX"))[-1]
    victim.unlink()
    newmsg = maildir / "INBOX" / "new" / f"{int(time.time())}.local.host"
    newmsg.write_bytes(simple_message("from maildir"))
    unflagged = sorted(f for f in maildir_files("INBOX") if f != newmsg and
                       "F" not in (f.name.split(":2,")[1] if ":2," in f.name else ""))[0]
    base, _, info = unflagged.name.partition(":2,")
    unflagged.rename(maildir / "INBOX" / "cur" / (base + ":2," + "".join(sorted(info + "F"))))
    a = session(server, user)
    a.select()
    a.ok("STORE 100 +FLAGS.SILENT (\\Seen)")
    a.ok("STORE 150 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    a.close()
    run()

    a = session(server, user)
    # one expunged far, one deleted near, one new near
    assert a.select()["exists"] == MBSYNC_MESSAGES - 1
    assert len(a.search('SEARCH SUBJECT "from maildir"')) == 1
    assert len(a.search("SEARCH FLAGGED")) == 11
    a.close()
    assert len(maildir_files("INBOX")) == MBSYNC_MESSAGES - 1
    assert len(flagged("INBOX", "S")) == 1
    quiet_run()

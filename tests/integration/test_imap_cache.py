"""The IMAP workers' message cache ([imap] cache_size) against the store.

Two floeds share one database: one with the cache (one worker, so that its
cache is the one every session uses), one with cache_size = 0 (every FETCH
and SEARCH goes to PostgreSQL, as before the cache). The same mailbox is
read through both and the answers must be byte for byte the same: FETCH of
every item kind (attributes, macros, body sections, partials, BINARY, a
message too large to be kept whole, one without a header block), twice on
the cached server (the first fills the cache, the second is served from
it), and SEARCH with every key the worker evaluates (flags, UIDs, sequence
sets, MODSEQ, dates at day boundaries, sizes, Subject and address fields
with non-ASCII case folding and RFC 2047 encoded words, object ids,
NOT/OR) next to keys only the store answers. Also: the cached server's
answers follow other sessions' changes (flags from the view after a
barrier on the change-notice bus), and the debug log shows that the cache
and the view actually answered."""

import base64
import re
import subprocess
import uuid

import pytest

import floe
from test_imap_messages import Imap, crlf

PASSWORD = "cache secret"


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def servers(pg):
    cached = floe.Floed(None, pg, workers=1, config={
        "imap": {"allow_plaintext_auth": "yes", "cache_size": "64M"},
        "log": {"level": "debug"}})
    plain = floe.Floed(None, pg, workers=1, config={
        "imap": {"allow_plaintext_auth": "yes", "cache_size": "0"}})
    cached.start()
    plain.start()
    yield cached, plain
    plain.stop()
    cached.stop()


@pytest.fixture(scope="module")
def account(servers):
    cached, _ = servers
    domain = f"c{uuid.uuid4().hex[:8]}.example"
    floectl(cached, "domain", "add", domain)
    address = f"u{uuid.uuid4().hex[:8]}@{domain}"
    floectl(cached, "user", "add", address, "--password", PASSWORD)
    return address


ATTACHMENT = bytes(range(256)) * 8


def messages():
    """(message, flags, internal date) for APPEND."""
    b64 = base64.encodebytes(ATTACHMENT).decode()
    big_body = ("A line of text that makes this message larger than what the cache "
                "keeps whole.\n") * 4000
    many_headers = "".join(f"X-Filler-{i}: {'v' * 70}\n" for i in range(1000))
    return [
        (crlf("From: Alice Example <alice@example.com>\nTo: bob@example.org\n"
              "Cc: Carol <carol@example.net>\nBcc: dave@example.com\n"
              "Subject: Budget report for November\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"
              f"Message-ID: <{uuid.uuid4().hex}@example.com>\n\nPlain body text.\n"),
         "(\\Seen $Work)", "01-Nov-2026 23:59:59 +0000"),
        (crlf("From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>\n"
              "To: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\n"
              "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen_REPORT?=\n"
              "Date: Tue, 3 Nov 2026 00:00:00 +0100\n"
              f"Message-ID: <{uuid.uuid4().hex}@example.com>\nMIME-Version: 1.0\n"
              "Content-Type: multipart/mixed; boundary=\"xyz\"\n\n"
              "--xyz\nContent-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: 8bit\n\nGr\u00fc\u00dfe!\n"
              "--xyz\nContent-Type: application/octet-stream; name=a.bin\n"
              "Content-Transfer-Encoding: base64\n"
              f"Content-Disposition: attachment; filename=a.bin\n\n{b64}--xyz--\n"),
         "(\\Flagged)", "02-Nov-2026 00:00:00 +0000"),
        (crlf("From: \u212aelvin Scale <kelvin@example.com>\nTo: bob@example.org\n"
              "Subject: \u0130stanbul trip, \u212aelvin notes\n"
              f"Message-ID: <{uuid.uuid4().hex}@example.com>\n\nNo Date header.\n"),
         "()", "02-Nov-2026 12:30:00 -0500"),
        (crlf("From: big@example.com\nTo: bob@example.org\nSubject: Large message\n"
              "Date: Wed, 4 Nov 2026 08:00:00 +0000\n"
              f"Message-ID: <{uuid.uuid4().hex}@example.com>\n\n{big_body}"),
         "(\\Answered $Work)", "04-Nov-2026 08:00:00 +0000"),
        (crlf("From: filler@example.com\nTo: bob@example.org\nSubject: Huge header\n"
              f"{many_headers}Message-ID: <{uuid.uuid4().hex}@example.com>\n\nShort.\n"),
         "(\\Deleted)", "31-Oct-2026 23:59:59 -0100"),
        (crlf("From: \"Report, Team\" <team@example.com>\nTo: list@example.org\n"
              "Subject: weekly REPORT\nDate: Sun, 1 Nov 2026 23:59:59 +0000\n"
              f"Message-ID: <{uuid.uuid4().hex}@example.com>\n\nreport body\n"),
         "(\\Seen \\Draft)", "03-Nov-2026 06:00:00 +0000"),
    ]


@pytest.fixture(scope="module")
def mailbox(servers, account):
    cached, _ = servers
    c = Imap(cached.imap_port, account, PASSWORD)
    for data, flags, date in messages():
        st, _, line = c.cmd(f'APPEND INBOX {flags} "{date}" {{}}', data)
        assert st == "OK", line
    c.close()
    return account


def answer(c, cmd, *literals):
    """(status, untagged responses, tagged text without the tag)."""
    st, untagged, line = c.cmd(cmd, *literals)
    return st, untagged, line.split(" ", 1)[1]


def sessions(servers, account):
    cached, plain = servers
    a = Imap(cached.imap_port, account, PASSWORD)
    b = Imap(plain.imap_port, account, PASSWORD)
    for c in (a, b):
        c.ok("SELECT INBOX")
    return a, b


FETCHES = [
    "FETCH 1:* (UID FLAGS)",
    "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])",
    "FETCH 1:* ALL",
    "FETCH 1:* FAST",
    "FETCH 1:* FULL",
    "FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)",
    "FETCH 1:* (EMAILID THREADID PREVIEW)",
    "FETCH 1:* (BODY.PEEK[])",
    "FETCH 1:* (BODY.PEEK[HEADER])",
    "FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT MESSAGE-ID)])",
    "FETCH 1:* (BODY.PEEK[TEXT])",
    "FETCH 1:* (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2]<10.20>)",
    "FETCH 1:* (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])",
    "FETCH 1:* (RFC822.HEADER RFC822.SIZE)",
    "FETCH 2,4 (BODY.PEEK[]<0.100> BODY.PEEK[]<100000.50>)",
    "UID FETCH 1:* (FLAGS MODSEQ)",
    "UID FETCH 3:5 (BODY.PEEK[HEADER] BODY.PEEK[])",
    "FETCH 4 (BODY.PEEK[2.HEADER] BODY.PEEK[3])",
]


def test_fetch_same_bytes_with_and_without_cache(servers, mailbox):
    cached, plain = servers
    a, b = sessions(servers, mailbox)
    for cmd in FETCHES:
        # Twice each: the first may fill the cache, the second is served
        # from it (and MODSEQ's first use enables CONDSTORE in both).
        for _ in range(2):
            want = answer(b, cmd)
            assert want[0] == "OK", want
            assert answer(a, cmd) == want, cmd
    # With CONDSTORE (MODSEQ with every FLAGS), and a non-peek BODY[] that
    # sets \Seen (the flags come back in the same response): take \Seen
    # away between the two so that both start alike.
    for c in (a, b):
        c.ok("ENABLE CONDSTORE")
    for cmd in ("FETCH 1:* (FLAGS BODY.PEEK[HEADER])", "FETCH 2 (BODY[TEXT])",
                "FETCH 3 (RFC822.TEXT)"):
        seq = cmd.split()[1]
        sets_seen = "PEEK" not in cmd
        if sets_seen:
            b.ok(f"STORE {seq} -FLAGS.SILENT (\\Seen)")
        a.ok("NOOP")
        b.ok("NOOP")
        want = answer(b, cmd)
        if sets_seen:
            b.ok(f"STORE {seq} -FLAGS.SILENT (\\Seen)")
            a.ok("NOOP")
        got = answer(a, cmd)
        # The MODSEQ differs by the STORE in between; compare the rest.
        strip = re.compile(rb"MODSEQ \(\d+\)")
        assert [strip.sub(b"MODSEQ", r) for r in got[1]] == \
            [strip.sub(b"MODSEQ", r) for r in want[1]], cmd
        assert got[2] == want[2], cmd
    assert cached.wait_log("FETCH of 6 messages, 6 from the cache, flags from the view")
    a.close()
    b.close()


SEARCHES = [
    "SEARCH ALL", "SEARCH UNSEEN", "SEARCH SEEN", "SEARCH FLAGGED", "SEARCH DELETED",
    "SEARCH UNDELETED", "SEARCH ANSWERED DRAFT", "SEARCH KEYWORD $work", "SEARCH UNKEYWORD $Work",
    "SEARCH KEYWORD $Nothing", "SEARCH RECENT", "SEARCH NEW", "SEARCH OLD",
    "SEARCH 2:4", "SEARCH UID 2:3,6", "SEARCH NOT 1:2", "SEARCH OR 1 FLAGGED",
    "SEARCH MODSEQ 1", "SEARCH SINCE 2-Nov-2026", "SEARCH BEFORE 2-Nov-2026",
    "SEARCH ON 2-Nov-2026", "SEARCH ON 1-Nov-2026", "SEARCH ON 31-Oct-2026", "SEARCH ON 1-Nov-2026 NOT ON 2-Nov-2026",
    "SEARCH SENTSINCE 2-Nov-2026", "SEARCH SENTBEFORE 2-Nov-2026", "SEARCH SENTON 2-Nov-2026",
    "SEARCH SENTON 1-Nov-2026", "SEARCH SENTON 3-Nov-2026",
    "SEARCH LARGER 2000", "SEARCH SMALLER 2000", "SEARCH LARGER 300000",
    "SEARCH SUBJECT report", "SEARCH SUBJECT REPORT", "SEARCH SUBJECT \"\"",
    "SEARCH SUBJECT kelvin", "SEARCH SUBJECT istanbul", "SEARCH SUBJECT trip",
    "SEARCH FROM kelvin", "SEARCH FROM J", "SEARCH FROM mueller", "SEARCH FROM m\u00fcller",
    "SEARCH CHARSET UTF-8 FROM M\u00dcLLER", "SEARCH CHARSET UTF-8 SUBJECT GR\u00dc\u00dfE",
    "SEARCH CHARSET UTF-8 SUBJECT \u0130stanbul",
    "SEARCH TO andre", "SEARCH TO \"Andr\"", "SEARCH CC carol", "SEARCH BCC dave", "SEARCH BCC nobody",
    "SEARCH FROM \"report, team\"", "SEARCH NOT SUBJECT report", "SEARCH NOT CC carol",
    "SEARCH OR SUBJECT budget FROM big", "SEARCH NOT OR SEEN SUBJECT huge",
    "SEARCH HEADER X-Filler-5 vvv", "SEARCH BODY text", "SEARCH TEXT report",
    "SEARCH YOUNGER 100000000", "SEARCH SINCE 1-Nov-2026 FROM example",
    "SEARCH RETURN (MIN MAX COUNT) SUBJECT report", "UID SEARCH SUBJECT report",
    "SEARCH SUBJECT 100%", "SEARCH SUBJECT _",
]


def test_search_same_results_with_and_without_cache(servers, mailbox):
    cached, _ = servers
    a, b = sessions(servers, mailbox)
    for cmd in SEARCHES:
        args = (cmd,)
        if not cmd.isascii():
            # A UTF-8 search text goes as a literal.
            head, _, text = cmd.rpartition(" ")
            args = (head + " {}", text.encode())
        # Twice each: the first may fill the cache (and MODSEQ's first use
        # enables CONDSTORE in both sessions).
        for _ in range(2):
            want = answer(b, *args)
            assert want[0] == "OK", (cmd, want)
            assert answer(a, *args) == want, cmd
    # The same with the messages' EMAILIDs and THREADIDs.
    for item, key in (("EMAILID", "EMAILID"), ("THREADID", "THREADID")):
        untagged, _ = b.ok(f"FETCH 2 ({item})")
        oid = re.search(rb"%s \(([^)]+)\)" % item.encode(), untagged[0]).group(1).decode()
        assert a.cmd(f"SEARCH {key} {oid}")[1] == b.cmd(f"SEARCH {key} {oid}")[1] == \
            [b"* SEARCH 2\r\n"]
    assert cached.wait_log("SEARCH answered in the worker (view and cache)")
    assert cached.wait_log("SEARCH answered in the worker (view)")
    # Expected answers, so that both paths cannot be wrong alike.
    assert a.search("SEARCH SUBJECT report") == [1, 2, 6]
    assert a.search("SEARCH SUBJECT kelvin") == [3]
    assert a.search("SEARCH SUBJECT istanbul") == []
    # 01-Nov-2026 23:59:59 +0000 and 31-Oct-2026 23:59:59 -0100 (00:59:59 UTC)
    assert a.search("SEARCH ON 1-Nov-2026") == [1, 5]
    assert a.search("SEARCH ON 31-Oct-2026") == []
    assert a.search("SEARCH BEFORE 2-Nov-2026") == [1, 5]
    assert a.search("SEARCH SENTON 2-Nov-2026") == [1, 2, 3]
    assert a.search("SEARCH LARGER 300000") == [4]
    a.close()
    b.close()


STATUSES = [
    "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
    "STATUS inbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ DELETED RECENT MAILBOXID)",
    "STATUS INBOX (SIZE MESSAGES)",
]


def test_status_of_selected_mailbox(servers, mailbox):
    """STATUS of the selected mailbox comes from the view (after a barrier),
    with the numbers the folder row holds; SIZE from the store."""
    cached, _ = servers
    a, b = sessions(servers, mailbox)
    for cmd in STATUSES:
        for _ in range(2):
            want = answer(b, cmd)
            assert want[0] == "OK", want
            assert answer(a, cmd) == want, cmd
    # After changes by the other session: flags, a new message, an expunge.
    b.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
    st, _, line = b.cmd("APPEND INBOX {}", crlf("From: s@example.com\nSubject: status\n\nx\n"))
    assert st == "OK", line
    uid = re.search(r"APPENDUID \d+ (\d+)", line).group(1)
    a.ok("NOOP")
    b.ok("NOOP")
    for cmd in STATUSES:
        assert answer(a, cmd) == answer(b, cmd), cmd
    b.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    b.ok(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
    b.ok(f"UID EXPUNGE {uid}")
    a.ok("NOOP")
    for cmd in STATUSES:
        assert answer(a, cmd) == answer(b, cmd), cmd
    assert cached.wait_log("STATUS answered from the view")
    a.close()
    b.close()


def test_cached_answers_follow_other_sessions(servers, mailbox):
    """Flags come from the view, made exact by a barrier on the change-notice
    bus: a change another session committed (on another server, even) is in
    the next FETCH and SEARCH without a NOOP."""
    cached, plain = servers
    a, b = sessions(servers, mailbox)
    a.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER])")  # fill
    for flag in ("$Fresh", "\\Flagged"):
        b.ok(f"STORE 3 +FLAGS ({flag})")
        assert flag.encode() in a.ok("FETCH 3 (FLAGS)")[0][0]
        assert 3 in a.search(f"SEARCH KEYWORD {flag}" if flag[0] == "$" else "SEARCH FLAGGED")
        b.ok(f"STORE 3 -FLAGS ({flag})")
        untagged, _ = a.ok("FETCH 3 (FLAGS)")
        assert flag.encode() not in b"".join(untagged), untagged
    # A message appended elsewhere appears (EXISTS after the NOOP) and is
    # fetched and searched like the others.
    st, _, line = b.cmd("APPEND INBOX (\\Seen) {}", crlf(
        "From: late@example.com\nSubject: Late REPORT\n\nlate\n"))
    assert st == "OK", line
    uid = re.search(r"APPENDUID \d+ (\d+)", line).group(1)
    untagged, _ = a.ok("NOOP")
    assert b"* 7 EXISTS\r\n" in untagged, untagged
    assert answer(a, "FETCH 7 (BODY.PEEK[] FLAGS)") == answer(b, "FETCH 7 (BODY.PEEK[] FLAGS)")
    assert a.search("SEARCH SUBJECT report") == [1, 2, 6, 7]
    # Expunged elsewhere: the store would still have the FETCH data in the
    # view until the next NOOP; both answer alike after it.
    b.ok("STORE 7 +FLAGS.SILENT (\\Deleted)")
    b.ok(f"UID EXPUNGE {uid}")
    untagged, _ = a.ok("NOOP")
    assert b"* 7 EXPUNGE\r\n" in untagged, untagged
    assert a.search("SEARCH SUBJECT report") == [1, 2, 6]
    a.close()
    b.close()

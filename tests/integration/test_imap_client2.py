"""IMAP's second real client: python3-imap-tools (0.54) against floed, with
every result checked: login over cleartext, STARTTLS and implicit TLS;
folders (list, create, status, rename, subscribe, delete); APPEND of
multipart messages and FETCH of headers, text, HTML and attachments; SEARCH
by criteria (AND/OR/NOT, internal and sent dates, subject, from, body, size,
header, flags, UIDs); flags; copy; move; delete + expunge; IDLE woken by a
change made on another connection."""

import datetime
import email.message
import imaplib
import ssl
import subprocess
import threading
import time
import uuid

import pytest

import floe
from floe import floectl

imap_tools = pytest.importorskip("imap_tools")
from imap_tools import AND, NOT, OR, Header, MailBox, MailBoxTls, MailBoxUnencrypted  # noqa: E402
from imap_tools import MailMessageFlags, UidRange  # noqa: E402

PASSWORD = "client2 secret"
UTC = datetime.timezone.utc


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2,
                     config={"imap": {"allow_plaintext_auth": "yes", "idle_keepalive": "2m"}})
    srv.enable("imaps")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    name = f"c{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


@pytest.fixture
def user(server, domain):
    address = f"u{uuid.uuid4().hex[:10]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


@pytest.fixture
def mb(server, user):
    box = MailBoxUnencrypted("127.0.0.1", server.imap_port, timeout=30).login(user, PASSWORD)
    yield box
    try:
        box.logout()
    except Exception:
        pass


def simple(subject, frm="alice@example.com", to="bob@example.com", body="Hello.\n",
           date="Mon, 07 Feb 1994 21:52:25 -0800", headers=None):
    m = email.message.EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    return m.as_bytes().replace(b"\n", b"\r\n")


def append_uid(mb, data, folder="INBOX", dt=None, flags=None):
    typ, resp = mb.append(data, folder, dt=dt, flag_set=flags)
    assert typ == "OK"
    text = resp[0].decode()
    assert "APPENDUID" in text, text
    return text.split("APPENDUID ")[1].split()[1].rstrip("]")


# ---------------------------------------------------------------------------


def test_login_over_starttls_and_implicit_tls(server, user):
    with MailBoxTls("127.0.0.1", server.imap_port, timeout=30,
                    ssl_context=tls_context()).login(user, PASSWORD) as box:
        assert box.folder.get() == "INBOX"
        assert box.login_result[0] == "OK"
    with MailBox("127.0.0.1", server.imaps_port, timeout=30,
                 ssl_context=tls_context()).login(user, PASSWORD) as box:
        assert box.folder.status("INBOX")["MESSAGES"] == 0
    with pytest.raises(imap_tools.MailboxLoginError):
        MailBoxUnencrypted("127.0.0.1", server.imap_port, timeout=30).login(user, "wrong")


def test_folders(mb):
    names = {f.name for f in mb.folder.list()}
    assert "INBOX" in names
    delim = mb.folder.list("", "INBOX")[0].delim
    assert delim == "/"
    mb.folder.create("Projects")
    mb.folder.create("Projects/2024")
    mb.folder.create("Zürich Ünïcode")
    assert mb.folder.exists("Projects/2024")
    listed = {f.name: f for f in mb.folder.list()}
    assert "Zürich Ünïcode" in listed, "modified UTF-7 round trip"
    assert "\\HasChildren" in listed["Projects"].flags
    assert "\\HasNoChildren" in listed["Projects/2024"].flags
    # The reference is prefixed as it is (RFC 3501 6.3.8): "Projects" + "%"
    # names Projects itself, "Projects/" + "%" its children.
    assert [f.name for f in mb.folder.list("Projects", "%")] == ["Projects"]
    assert [f.name for f in mb.folder.list("Projects/", "%")] == ["Projects/2024"]
    st = mb.folder.status("Projects/2024")
    assert st["MESSAGES"] == 0 and st["UNSEEN"] == 0 and st["UIDNEXT"] >= 1
    assert st["UIDVALIDITY"] > 0

    mb.folder.rename("Projects/2024", "Projects/Archive")
    names = {f.name for f in mb.folder.list()}
    assert "Projects/Archive" in names and "Projects/2024" not in names

    mb.folder.subscribe("Projects/Archive", True)
    assert "Projects/Archive" in {f.name for f in mb.folder.list(subscribed_only=True)}
    mb.folder.subscribe("Projects/Archive", False)
    assert "Projects/Archive" not in {f.name for f in mb.folder.list(subscribed_only=True)}

    mb.folder.delete("Projects/Archive")
    mb.folder.delete("Zürich Ünïcode")
    assert not mb.folder.exists("Projects/Archive")
    assert not mb.folder.exists("Zürich Ünïcode")
    with pytest.raises(imap_tools.MailboxFolderSelectError):
        mb.folder.set("Does/Not/Exist")
    with pytest.raises(imap_tools.MailboxFolderCreateError):
        mb.folder.create("Projects")


def test_append_and_fetch_headers_bodies_attachments(mb):
    m = email.message.EmailMessage()
    m["From"] = "Alice Example <alice@example.com>"
    m["To"] = "Bob <bob@example.com>, carol@example.com"
    m["Cc"] = "dave@example.com"
    m["Subject"] = "Quarterly report — ready"
    m["Date"] = "Tue, 05 Mar 2024 10:00:00 +0100"
    m["Message-ID"] = "<report-1@example.com>"
    m.set_content("Plain text body.\nSecond line.\n")
    m.add_alternative("<html><body><p>HTML body</p></body></html>", subtype="html")
    pdf = bytes(range(256)) * 40
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="report.pdf")
    m.add_attachment("a,b\n1,2\n", subtype="csv", filename="data.csv")
    data = m.as_bytes().replace(b"\n", b"\r\n")
    dt = datetime.datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    uid = append_uid(mb, data, dt=dt, flags=[MailMessageFlags.FLAGGED])

    msgs = list(mb.fetch(mark_seen=False))
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.uid == uid
    assert msg.subject == "Quarterly report — ready"
    assert msg.from_ == "alice@example.com"
    assert msg.to == ("bob@example.com", "carol@example.com")
    assert msg.cc == ("dave@example.com",)
    assert msg.date == datetime.datetime(2024, 3, 5, 10, 0,
                                         tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert msg.text.replace("\r\n", "\n") == "Plain text body.\nSecond line.\n"
    assert "<p>HTML body</p>" in msg.html
    assert msg.size_rfc822 == len(data)
    assert msg.obj.as_bytes().replace(b"\n", b"").replace(b"\r", b"") == \
        data.replace(b"\r\n", b"")
    atts = {a.filename: a for a in msg.attachments}
    assert set(atts) == {"report.pdf", "data.csv"}
    assert atts["report.pdf"].payload == pdf
    assert atts["report.pdf"].content_type == "application/pdf"
    assert atts["data.csv"].payload.replace(b"\r\n", b"\n") == b"a,b\n1,2\n"
    assert MailMessageFlags.FLAGGED in msg.flags
    assert MailMessageFlags.SEEN not in msg.flags, "BODY.PEEK does not set \\Seen"

    head = list(mb.fetch(headers_only=True, mark_seen=False))[0]
    assert head.subject == msg.subject and head.text == "" and head.attachments == []
    assert head.headers["message-id"] == ("<report-1@example.com>",)

    # A fetch without PEEK marks the message \Seen.
    list(mb.fetch(mark_seen=True))
    assert MailMessageFlags.SEEN in list(mb.fetch(mark_seen=False))[0].flags
    st = mb.folder.status("INBOX")
    assert st["MESSAGES"] == 1 and st["UNSEEN"] == 0


def test_search_criteria(mb):
    d = datetime.datetime
    uids = {
        "a": append_uid(mb, simple("alpha report", frm="x@one.example", body="apples\n",
                                   date="Wed, 10 Jan 2024 12:00:00 +0000",
                                   headers={"X-Project": "floe"}),
                        dt=d(2024, 1, 10, 12, tzinfo=UTC)),
        "b": append_uid(mb, simple("beta notes", frm="y@two.example", body="bananas\n",
                                   date="Thu, 15 Feb 2024 12:00:00 +0000"),
                        dt=d(2024, 2, 15, 12, tzinfo=UTC), flags=[MailMessageFlags.SEEN]),
        "c": append_uid(mb, simple("alpha follow-up", frm="z@three.example",
                                   body="cherries " * 400 + "\n",
                                   date="Fri, 01 Mar 2024 12:00:00 +0000"),
                        dt=d(2024, 3, 1, 12, tzinfo=UTC),
                        flags=[MailMessageFlags.SEEN, MailMessageFlags.FLAGGED]),
    }

    def found(criteria):
        return set(mb.uids(criteria))

    A, B, C = uids["a"], uids["b"], uids["c"]
    assert found("ALL") == {A, B, C}
    assert found(AND(subject="alpha")) == {A, C}
    assert found(AND(subject="alpha", seen=False)) == {A}
    assert found(AND(seen=False)) == {A}
    assert found(OR(from_=["x@one.example", "y@two.example"])) == {A, B}
    assert found(NOT(subject="alpha")) == {B}
    assert found(AND(OR(subject="beta", flagged=True), seen=True)) == {B, C}
    # Internal dates (APPEND's date-time) and Date: headers.
    assert found(AND(date_gte=datetime.date(2024, 2, 1),
                     date_lt=datetime.date(2024, 3, 1))) == {B}
    assert found(AND(date=datetime.date(2024, 3, 1))) == {C}
    assert found(AND(sent_date_lt=datetime.date(2024, 2, 1))) == {A}
    assert found(AND(sent_date_gte=datetime.date(2024, 2, 15))) == {B, C}
    assert found(AND(body="bananas")) == {B}
    assert found(AND(text="cherries")) == {C}
    assert found(AND(size_gt=2000)) == {C}
    assert found(AND(size_lt=2000)) == {A, B}
    assert found(AND(header=Header("X-Project", "floe"))) == {A}
    assert found(AND(uid=UidRange(B, "*"))) == {B, C}
    assert found(AND(uid=[A, C])) == {A, C}
    assert found(AND(subject="nothing like this")) == set()
    # Paging and bulk fetch, newest first.
    page = list(mb.fetch(limit=2, reverse=True, bulk=True, mark_seen=False))
    assert [m.uid for m in page] == [C, B]
    assert [m.subject for m in page] == ["alpha follow-up", "beta notes"]


def test_search_utf8_literal(mb):
    u = append_uid(mb, simple("Grüße aus Zürich", body="Käse und Brötchen\n"))
    append_uid(mb, simple("plain ascii"))
    # Non-ASCII criteria as a literal, the way RFC 3501 asks for them.
    mb.client.literal = "Zürich".encode()
    typ, data = mb.client.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT")
    assert typ == "OK" and data[0].split() == [u.encode()]


# imap_tools sends non-ASCII search strings as quoted strings with 8-bit
# bytes (valid in IMAP4rev2 / UTF8=ACCEPT, and accepted by Dovecot in
# IMAP4rev1 too), without ENABLE. Mailbox names keep modified UTF-7.
def test_search_utf8_quoted(mb):
    u = append_uid(mb, simple("Grüße aus Zürich", body="Käse und Brötchen\n"))
    append_uid(mb, simple("plain ascii"))
    assert set(mb.uids(AND(subject="Zürich"), charset="UTF-8")) == {u}
    assert set(mb.uids(AND(body="Brötchen"), charset="UTF-8")) == {u}
    assert list(mb.fetch(AND(subject="Zürich"), charset="UTF-8",
                         mark_seen=False))[0].subject == "Grüße aus Zürich"
    # Invalid UTF-8 in a quoted string is still a syntax error, and the
    # connection goes on.
    with pytest.raises(imaplib.IMAP4.error, match="BAD.*invalid UTF-8"):
        mb.client.uid("SEARCH", "SUBJECT", b'"Z\xfcrich"')
    # A mailbox name stays modified UTF-7 before ENABLE UTF8=ACCEPT.
    with pytest.raises(imaplib.IMAP4.error, match="modified UTF-7"):
        mb.client.status('"Zürich"'.encode(), "(MESSAGES)")
    assert mb.client.noop()[0] == "OK"


def test_flags(mb):
    a = append_uid(mb, simple("flag me"))
    b = append_uid(mb, simple("and me"))
    mb.flag([a, b], [MailMessageFlags.FLAGGED, MailMessageFlags.ANSWERED], True)
    flags = {m.uid: set(m.flags) for m in mb.fetch(mark_seen=False)}
    assert {"\\Flagged", "\\Answered"} <= flags[a] and {"\\Flagged", "\\Answered"} <= flags[b]
    mb.flag(b, MailMessageFlags.FLAGGED, False)
    mb.flag(a, "$Important", True)
    flags = {m.uid: set(m.flags) for m in mb.fetch(mark_seen=False)}
    assert "\\Flagged" in flags[a] and "$Important" in flags[a]
    assert "\\Flagged" not in flags[b] and "\\Answered" in flags[b]
    assert set(mb.uids(AND(keyword="$Important"))) == {a}
    assert set(mb.uids(AND(flagged=True))) == {a}


def test_copy_move_delete_expunge(mb):
    mb.folder.create("Saved")
    data = simple("keep a copy", body="copy body\n")
    uid = append_uid(mb, data)
    other = append_uid(mb, simple("move me"))
    gone = append_uid(mb, simple("delete me"))

    typ, _ = mb.copy(uid, "Saved")
    assert typ == "OK"
    assert mb.client.untagged_responses.get("COPYUID"), "COPYUID response code"
    mb.move(other, "Saved")
    assert set(mb.uids()) == {uid, gone}

    mb.delete(gone)
    assert set(mb.uids()) == {uid}

    mb.folder.set("Saved")
    saved = {m.subject: m for m in mb.fetch(mark_seen=False)}
    assert set(saved) == {"keep a copy", "move me"}
    assert saved["keep a copy"].obj.as_bytes().replace(b"\r\n", b"\n") == \
        data.replace(b"\r\n", b"\n")
    # \Deleted alone keeps a message until EXPUNGE.
    mb.client.uid("STORE", saved["move me"].uid, "+FLAGS", "(\\Deleted)")
    assert len(mb.uids()) == 2
    mb.expunge()
    assert [m.subject for m in mb.fetch(mark_seen=False)] == ["keep a copy"]
    mb.folder.set("INBOX")
    mb.folder.delete("Saved")
    assert not mb.folder.exists("Saved")


def idle_until(mb, action, want, timeout=10):
    """Starts IDLE, runs action on another thread, and collects untagged
    responses until want(responses) or timeout; then ends IDLE."""
    responses = []
    t = threading.Timer(0.5, action)
    with mb.idle as idle:
        t.start()
        deadline = time.time() + timeout
        while not want(responses) and time.time() < deadline:
            responses += idle.poll(timeout=max(0.1, deadline - time.time()))
    t.join()
    return responses


def test_idle_sees_other_connection(server, user, mb):
    other = MailBoxUnencrypted("127.0.0.1", server.imap_port, timeout=30).login(user, PASSWORD)
    try:
        # imap_tools' own one-shot wait, woken by an APPEND elsewhere.
        t = threading.Timer(0.5, lambda: other.append(simple("pushed"), "INBOX"))
        t.start()
        responses = mb.idle.wait(timeout=10)
        t.join()
        assert any(r.endswith(b"EXISTS") for r in responses), responses
        uid = mb.uids(AND(subject="pushed"))
        assert len(uid) == 1

        # A flag change made elsewhere arrives as FETCH during IDLE.
        responses = idle_until(mb, lambda: other.client.uid("STORE", uid[0], "+FLAGS",
                                                            "(\\Flagged)"),
                               lambda rs: any(b"FETCH" in r and b"\\Flagged" in r for r in rs))
        assert any(b"FETCH" in r and b"\\Flagged" in r for r in responses), responses

        # And an expunge made elsewhere.
        responses = idle_until(mb, lambda: other.delete(uid),
                               lambda rs: any(r.endswith(b"EXPUNGE") for r in rs))
        assert any(r.endswith(b"EXPUNGE") for r in responses), responses
        assert mb.uids() == []
    finally:
        other.logout()


def test_idle_times_out_quietly(mb):
    t0 = time.time()
    assert mb.idle.wait(timeout=1) == []
    assert time.time() - t0 < 8
    assert mb.folder.status("INBOX")["MESSAGES"] == 0


def big_message():
    line = b"z" * 98 + b"\r\n"
    return b"From: a@example.com\r\nSubject: big one\r\n\r\n" + line * 40000


def test_large_fetch_over_implicit_tls(server, user, mb):
    data = big_message()
    append_uid(mb, data)
    with MailBox("127.0.0.1", server.imaps_port, timeout=20,
                 ssl_context=tls_context()).login(user, PASSWORD) as box:
        msg = list(box.fetch(mark_seen=False))[0]
        assert msg.size_rfc822 == len(data)
        assert msg.obj.as_bytes().replace(b"\n", b"").replace(b"\r", b"") == \
            data.replace(b"\r\n", b"")


# After STARTTLS the TLS filter sits on the socket bufferevent; a large
# FETCH must keep streaming to the end (it once stopped after 256 KiB).
def test_large_fetch_after_starttls(server, user, mb):
    data = big_message()
    append_uid(mb, data)
    with MailBoxTls("127.0.0.1", server.imap_port, timeout=15,
                    ssl_context=tls_context()).login(user, PASSWORD) as box:
        msg = list(box.fetch(mark_seen=False))[0]
        assert msg.size_rfc822 == len(data)
        assert msg.obj.as_bytes().replace(b"\n", b"").replace(b"\r", b"") == \
            data.replace(b"\r\n", b"")
        # And the session goes on after it.
        assert box.client.noop()[0] == "OK"

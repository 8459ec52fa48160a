"""Local delivery over LMTP against a real floed and PostgreSQL: one
transaction to several recipients with one over quota (one reply per
recipient after DATA, the others' copies visible over IMAP, the message
stored once), aliases and groups expanded (one copy per account), unknown
recipients, the trace fields, protocol errors and limits; the
auto-responder (always, once per sender, interval, date window, never-answer
list, no answer to lists, automatic messages or <>); forwarding with and
without a copy, loops; a Unix socket listener (stale socket replaced,
permissions and group set, other protocols refused); and a real Postfix
from Debian delivering into Floe over lmtp:inet and lmtp:unix."""

import base64
import email
import grp
import imaplib
import os
import shutil
import smtplib
import socket
import stat
import subprocess
import time
import uuid

import pytest

import floe


def new_domain(server):
    return floe.new_domain(server, "l")


def new_user(server, domain, *extra):
    return floe.new_user(server, domain, PASSWORD, *extra)

PASSWORD = "lmtp secret 1"


def floectl(server, *args, check=True):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r


def message(subject="Hello", body="Hi there.\r\n", sender="alice@example.net", extra=""):
    return (f"From: Alice Example <{sender}>\r\nTo: someone@example.org\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"{extra}\r\n{body}").encode()


class Lmtp:
    """A raw LMTP client: exact replies, pipelining, per-recipient answers."""

    def __init__(self, port, lhlo=True, timeout=20):
        if isinstance(port, str):  # the path of a Unix socket
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(port)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()
        if lhlo:
            self.lhlo = self.cmd("LHLO test.example")

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed; buffered {self.buf!r}")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """One (possibly multi-line) reply as a list of lines."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def transaction(self, sender, rcpts, data):
        """Returns (rcpt replies, data replies: one per accepted recipient)."""
        assert self.cmd(f"MAIL FROM:<{sender}>")[0].startswith("250"), "MAIL"
        rr = [self.cmd(f"RCPT TO:<{r}>")[0] for r in rcpts]
        accepted = sum(1 for r in rr if r.startswith("250"))
        if accepted == 0:
            self.cmd("RSET")
            return rr, []
        assert self.cmd("DATA")[0].startswith("354")
        stuffed = b"\r\n".join((b"." + ln if ln.startswith(b".") else ln)
                               for ln in data.split(b"\r\n"))
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        self.send(stuffed + b".\r\n")
        return rr, [self.reply()[0] for _ in range(accepted)]

    def close(self):
        try:
            self.cmd("QUIT")
        except OSError:
            pass
        self.sock.close()


def deliver(server, sender, rcpts, data):
    c = Lmtp(server.lmtp_port)
    try:
        return c.transaction(sender, rcpts, data)
    finally:
        c.close()


def imap_inbox(server, address, folder="INBOX"):
    """Every message of the folder over IMAP, as bytes, in UID order."""
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        m.login(address, PASSWORD)
        typ, _ = m.select(folder, readonly=True)
        assert typ == "OK"
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                out.append(item[1])
        return out
    finally:
        m.logout()


def inbox(server, address, folder="inbox"):
    """Every message in the account's folder with that special use, read
    from the store, as bytes, in UID order."""
    rows = server.pg.psql(
        "SELECT translate(encode(b.data, 'base64'), E'\\n', '') FROM items i"
        " JOIN folders f ON f.id = i.folder_id JOIN blobs b ON b.hash = i.blob_hash"
        " JOIN accounts a ON a.id = i.account_id JOIN domains d ON d.id = a.domain_id"
        f" WHERE a.local_part || '@' || d.name = '{address.lower()}'"
        f" AND f.special_use = '{folder}' ORDER BY i.uid")
    return [base64.b64decode(r) for r in rows.split("\n") if r]


def wait_inbox(server, address, count, timeout=15):
    deadline = time.time() + timeout
    while True:
        msgs = inbox(server, address)
        if len(msgs) >= count or time.time() > deadline:
            return msgs
        time.sleep(0.1)


def postfix_group():
    try:
        return grp.getgrnam("postfix")
    except KeyError:
        return None


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.enable("lmtp")
    srv.pg = pg
    # Also on a Unix socket the MTA's group may use (Postfix lmtp:unix:).
    srv.lmtp_socket = os.path.join(srv.dir, "lmtp.sock")
    srv.write_config({"lmtp": {
        "listen": f"127.0.0.1:{srv.lmtp_port}, unix:{srv.lmtp_socket}",
        "socket_group": postfix_group().gr_name if postfix_group() and floe.IS_ROOT else ""}})
    srv.start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------------
# Delivery


def test_greeting_and_lhlo(server):
    c = Lmtp(server.lmtp_port)
    try:
        assert c.greeting[0].startswith("220 ") and "LMTP" in c.greeting[0]
        caps = [ln[4:] for ln in c.lhlo]
        assert c.lhlo[-1].startswith("250 ")
        assert "PIPELINING" in caps and "ENHANCEDSTATUSCODES" in caps and "8BITMIME" in caps
        assert any(cap.startswith("SIZE ") for cap in caps)
    finally:
        c.close()


def test_several_recipients_one_over_quota(server, pg):
    d = new_domain(server)
    a, b = new_user(server, d), new_user(server, d)
    full = new_user(server, d, "--quota", "1K")
    body = "x" * 3000 + "\r\n"
    data = message("multi", body)
    rr, dr = deliver(server, "sender@example.net", [a, f"nobody@{d}", full, b], data)
    assert rr[0].startswith("250 2.1.5") and rr[2].startswith("250") and rr[3].startswith("250")
    assert rr[1].startswith("550 5.1.1"), rr[1]
    assert len(dr) == 3
    assert dr[0].startswith("250 2.0.0") and f"<{a}>" in dr[0], dr
    assert dr[1].startswith("452 4.2.2") and f"<{full}>" in dr[1], dr
    assert dr[2].startswith("250 2.0.0") and f"<{b}>" in dr[2], dr
    for who in (a, b):
        msgs = imap_inbox(server, who)
        assert len(msgs) == 1
        assert msgs == inbox(server, who)
        m = email.message_from_bytes(msgs[0])
        assert m["Subject"] == "multi"
        assert m["Return-Path"] == "<sender@example.net>"
        assert "by " in m["Received"] and "LMTP" in m["Received"]
        # Several accounts share one blob: no per-recipient field in it.
        assert m["Delivered-To"] is None
        assert body.strip() in msgs[0].decode()
    assert inbox(server, full) == []
    # Stored once: both items point at one blob.
    hashes = pg.psql(
        "SELECT count(DISTINCT i.blob_hash), count(*) FROM items i JOIN accounts a ON a.id = i.account_id"
        f" JOIN domains dm ON dm.id = a.domain_id WHERE dm.name = '{d}'")
    assert hashes == "1|2", hashes


def test_single_recipient_trace_fields(server):
    d = new_domain(server)
    a = new_user(server, d)
    _, dr = deliver(server, "bob@example.net", [a.upper()], message("trace"))
    assert dr[0].startswith("250 2.0.0") and a.upper() in dr[0]
    raw = inbox(server, a)[0]
    m = email.message_from_bytes(raw)
    assert raw.startswith(b"Return-Path: <bob@example.net>\r\nDelivered-To: " + a.encode() + b"\r\n")
    assert m["Delivered-To"] == a
    assert f"for <{a}>" in m["Received"]


def test_aliases_and_groups_one_copy_per_account(server):
    d = new_domain(server)
    a, b = new_user(server, d), new_user(server, d)
    alias, group = f"alias{uuid.uuid4().hex[:6]}@{d}", f"team{uuid.uuid4().hex[:6]}@{d}"
    floectl(server, "alias", "add", alias, a)
    floectl(server, "group", "add", group)
    floectl(server, "group", "members", "add", group, a, b)
    rr, dr = deliver(server, "s@example.net", [alias, group, a], message("group"))
    assert all(r.startswith("250") for r in rr), rr
    assert all(r.startswith("250 2.0.0") for r in dr), dr
    assert len(inbox(server, a)) == 1
    assert len(inbox(server, b)) == 1
    # Sub-addressing reaches the account too.
    local, dom = b.split("@")
    rr, dr = deliver(server, "s@example.net", [f"{local}+tag@{dom}"], message("plus"))
    assert rr[0].startswith("250") and dr[0].startswith("250"), (rr, dr)
    assert len(inbox(server, b)) == 2


def test_unknown_remote_and_disabled_recipients(server):
    d = new_domain(server)
    a = new_user(server, d)
    off = new_user(server, d)
    floectl(server, "user", "set", off, "--enabled", "no")
    c = Lmtp(server.lmtp_port)
    try:
        assert c.cmd("MAIL FROM:<s@example.net>")[0].startswith("250")
        assert c.cmd(f"RCPT TO:<ghost@{d}>")[0].startswith("550 5.1.1")
        assert c.cmd("RCPT TO:<x@not-ours.example>")[0].startswith("550 5.1.1")
        assert c.cmd(f"RCPT TO:<{off}>")[0].startswith("550 5.2.1")
        assert c.cmd("DATA")[0].startswith("503 5.5.1")
        assert c.cmd(f"RCPT TO:<{a}>")[0].startswith("250")
        assert c.cmd("RSET")[0].startswith("250")
        assert c.cmd("DATA")[0].startswith("503")
    finally:
        c.close()


def test_protocol_errors_and_limits(server):
    d = new_domain(server)
    a = new_user(server, d)
    c = Lmtp(server.lmtp_port, lhlo=False)
    try:
        assert c.cmd("HELO x")[0].startswith("500 5.5.1")
        assert c.cmd("MAIL FROM:<a@b>")[0].startswith("503 5.5.1")
        c.cmd("LHLO test.example")
        assert c.cmd("FOO")[0].startswith("500 5.5.2")
        assert c.cmd("VRFY " + a)[0].startswith("252")
        assert c.cmd("NOOP")[0].startswith("250 2.0.0")
        assert c.cmd("MAIL FROM:a@b")[0].startswith("501 5.5.4")
        assert c.cmd("MAIL FROM:<a@b> SIZE=99999999999")[0].startswith("552 5.3.4")
        assert c.cmd("MAIL FROM:<a@b> FOO=1")[0].startswith("555 5.5.4")
        assert c.cmd("RCPT TO:<x@y>")[0].startswith("503 5.5.1")
        # A line over the limit (64k) is refused; the session goes on.
        assert c.cmd("NOOP " + "x" * 70000)[0].startswith("500 5.5.2")
        assert c.cmd("NOOP")[0].startswith("250")
        # Pipelining: several commands at once, answered in order.
        c.send(f"MAIL FROM:<s@example.net> BODY=8BITMIME SIZE=100\r\nRCPT TO:<{a}>\r\n"
               f"RCPT TO:<nobody@{d}>\r\nDATA\r\n")
        assert c.reply()[0].startswith("250")
        assert c.reply()[0].startswith("250")
        assert c.reply()[0].startswith("550")
        assert c.reply()[0].startswith("354")
        c.send("Subject: dots\r\n\r\n..leading dot\r\n.\r\n")
        assert c.reply()[0].startswith("250 2.0.0")
        assert c.cmd("QUIT")[0].startswith("221")
    finally:
        c.sock.close()
    raw = inbox(server, a)[0]
    assert b"\r\n.leading dot\r\n" in raw and b"..leading" not in raw


def test_size_and_recipient_limits_and_shutdown(pg):
    srv = floe.Floed(None, pg, workers=1, config={
        "lmtp": {"max_message_size": "2k", "max_recipients": "2"},
        "imap": {"allow_plaintext_auth": "yes"}})
    srv.enable("lmtp")
    srv.pg = pg
    srv.start()
    try:
        d = new_domain(srv)
        a, b, c3 = new_user(srv, d), new_user(srv, d), new_user(srv, d)
        c = Lmtp(srv.lmtp_port)
        assert "250 SIZE 2048" in c.lhlo
        rr, dr = c.transaction("s@example.net", [a, b, c3], message("big", "y" * 5000 + "\r\n"))
        assert rr[2].startswith("452 4.5.3"), rr
        assert len(dr) == 2
        assert dr[0].startswith("552 5.3.4") and a in dr[0]
        assert dr[1].startswith("552 5.3.4") and b in dr[1]
        assert c.cmd("NOOP")[0].startswith("250")
        c.close()
        assert inbox(srv, a) == []
        # An idle session is told when the server stops.
        idle = Lmtp(srv.lmtp_port)
        srv.stop()
        assert idle.reply()[0].startswith("421 4.3.2")
        idle.sock.close()
    finally:
        srv.stop()


# ---------------------------------------------------------------------
# Auto-responder


def replies_to(server, address, count, timeout=15):
    msgs = wait_inbox(server, address, count, timeout)
    return [email.message_from_bytes(m) for m in msgs]


def test_responder_always_answers_every_message(server):
    d = new_domain(server)
    me, sender = new_user(server, d), new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "always", "--subject", "Re: %%Subject%%",
            "--body", "Dear %%From_Name%%, I am away.")
    data = message("Lunch?", sender=sender)
    _, dr = deliver(server, sender, [me], data)
    assert dr[0].startswith("250")
    got = replies_to(server, sender, 1)
    assert len(got) == 1
    r = got[0]
    assert r["Subject"] == "Re: Lunch?"
    assert r["Auto-Submitted"] == "auto-replied"
    assert r["From"] == f"<{me}>" and r["To"] == f"<{sender}>"
    orig_id = email.message_from_bytes(data)["Message-ID"]
    assert r["In-Reply-To"] == orig_id and orig_id in r["References"]
    assert r["Return-Path"] == "<>"
    assert "Dear Alice Example, I am away." in r.get_payload(decode=True).decode()
    deliver(server, sender, [me], message("Again", sender=sender))
    assert len(replies_to(server, sender, 2)) == 2


def test_responder_once_per_sender(server):
    d = new_domain(server)
    me, sender = new_user(server, d), new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "once", "--body", "away")
    deliver(server, sender, [me], message("one", sender=sender))
    assert len(replies_to(server, sender, 1)) == 1
    deliver(server, sender, [me], message("two", sender=sender))
    assert server.wait_log(f"auto-reply of {me} to {sender} not sent: already answered")
    assert len(inbox(server, sender)) == 1
    assert floectl(server, "responder", "show", me).stdout.count("answered:       1") == 1


def test_responder_interval(server, pg):
    d = new_domain(server)
    me, sender = new_user(server, d), new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "interval", "--days", "3", "--body", "x")
    deliver(server, sender, [me], message("one", sender=sender))
    assert len(replies_to(server, sender, 1)) == 1
    deliver(server, sender, [me], message("two", sender=sender))
    assert server.wait_log(f"auto-reply of {me} to {sender} not sent: already answered")
    # Four days later the sender is answered again.
    pg.psql(f"UPDATE responder_log SET last_sent_at = now() - interval '4 days'"
            f" WHERE sender = '{sender}'")
    deliver(server, sender, [me], message("three", sender=sender))
    assert len(replies_to(server, sender, 2)) == 2


def test_responder_window_and_never_list(server):
    d = new_domain(server)
    me, early, blocked = new_user(server, d), new_user(server, d), new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "always", "--from", "2999-01-01",
            "--body", "x")
    deliver(server, early, [me], message("early", sender=early))
    assert server.wait_log(f"auto-reply of {me} to <{early}> not sent: outside the date window")
    floectl(server, "responder", "set", me, "--mode", "always", "--from", "", "--until", "",
            "--never", f"{blocked}, @never.example")
    deliver(server, blocked, [me], message("blocked", sender=blocked))
    assert server.wait_log(f"auto-reply of {me} to <{blocked}> not sent: sender on the never-answer list")
    deliver(server, "x@never.example", [me], message("dom", sender="x@never.example"))
    assert server.wait_log(f"auto-reply of {me} to <x@never.example> not sent: sender on the never-answer")
    out = floectl(server, "--json", "responder", "show", me).stdout
    assert "@never.example" in out and blocked in out


def test_responder_ignores_lists_automatic_and_bounces(server):
    d = new_domain(server)
    me, sender = new_user(server, d), new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "always", "--body", "x")
    deliver(server, sender, [me], message("list", sender=sender, extra="List-Id: <l.example>\r\n"))
    assert server.wait_log(f"auto-reply of {me} to <{sender}> not sent: mailing list or bulk mail")
    deliver(server, sender, [me], message("bulk", sender=sender, extra="Precedence: bulk\r\n"))
    deliver(server, sender, [me],
            message("auto", sender=sender, extra="Auto-Submitted: auto-generated\r\n"))
    assert server.wait_log(f"auto-reply of {me} to <{sender}> not sent: automatic message")
    deliver(server, "", [me], message("bounce"))
    assert server.wait_log(f"auto-reply of {me} to <> not sent: null sender")
    # None of these was answered.
    assert inbox(server, sender) == []
    assert len(inbox(server, me)) == 4


def test_responder_reply_to_outside_sender_is_queued(server):
    d = new_domain(server)
    me = new_user(server, d)
    floectl(server, "responder", "set", me, "--mode", "once", "--body", "away")
    deliver(server, "far@remote.example", [me], message("from afar", sender="far@remote.example"))
    deadline = time.time() + 10
    while time.time() < deadline:
        log = server.log()
        if f"auto-reply of {me} to far@remote.example queued as" in log:
            break
        if f"auto-reply of {me} to far@remote.example failed temporarily: no outgoing queue" in log:
            pytest.skip("this build has no outgoing queue (modules/queue.c) in the worker")
        time.sleep(0.1)
    assert f"auto-reply of {me} to far@remote.example queued as" in server.log()


# ---------------------------------------------------------------------
# Forwarding


def test_forward_with_and_without_copy(server):
    d = new_domain(server)
    a, b, c = new_user(server, d), new_user(server, d), new_user(server, d)
    floectl(server, "forward", "set", a, b, "--keep-copy", "yes")
    floectl(server, "forward", "set", c, b, "--keep-copy", "no")
    out = floectl(server, "forward", "show", c).stdout
    assert b in out and "keep a copy:    no" in out
    _, dr = deliver(server, "s@example.net", [a], message("fwd-copy"))
    assert dr[0].startswith("250")
    _, dr = deliver(server, "s@example.net", [c], message("fwd-nocopy"))
    assert dr[0].startswith("250")
    assert len(inbox(server, a)) == 1
    got = [email.message_from_bytes(m) for m in wait_inbox(server, b, 2)]
    assert sorted(m["Subject"] for m in got) == ["fwd-copy", "fwd-nocopy"]
    by_subject = {m["Subject"]: m for m in got}
    assert a in by_subject["fwd-copy"].get_all("Delivered-To")
    assert c in by_subject["fwd-nocopy"].get_all("Delivered-To")
    assert by_subject["fwd-nocopy"]["Return-Path"] == "<s@example.net>"
    assert inbox(server, c) == []
    floectl(server, "forward", "clear", c)
    deliver(server, "s@example.net", [c], message("after-clear"))
    assert len(inbox(server, c)) == 1


def test_forwarding_loop_is_stopped(server):
    d = new_domain(server)
    x, y = new_user(server, d), new_user(server, d)
    floectl(server, "forward", "set", x, y, "--keep-copy", "no")
    floectl(server, "forward", "set", y, x, "--keep-copy", "no")
    _, dr = deliver(server, "s@example.net", [x], message("loop"))
    assert dr[0].startswith("250")
    # x forwards to y, y back to x, which sees its own Delivered-To: kept.
    msgs = wait_inbox(server, x, 1)
    assert len(msgs) == 1 and b"Subject: loop" in msgs[0]
    assert server.wait_log(f"forwarding loop: the message to {x} already went through it")
    assert inbox(server, y) == []


def test_remote_forward_is_queued(server):
    d = new_domain(server)
    a = new_user(server, d)
    floectl(server, "forward", "set", a, "far@remote.example", "--keep-copy", "yes")
    deliver(server, "s@example.net", [a], message("remote"))
    deadline = time.time() + 10
    while time.time() < deadline:
        log = server.log()
        if f"forwarding for {a}: queued as" in log:
            break
        if f"forwarding for {a} to far@remote.example failed temporarily: no outgoing queue" in log:
            pytest.skip("this build has no outgoing queue (modules/queue.c) in the worker")
        time.sleep(0.1)
    assert f"forwarding for {a}: queued as" in server.log()
    assert len(inbox(server, a)) == 1


def test_floectl_validation(server):
    d = new_domain(server)
    a = new_user(server, d)
    r = floectl(server, "forward", "set", a, a, check=False)
    assert r.returncode == 1 and "cannot forward to itself" in r.stderr
    r = floectl(server, "forward", "set", f"ghost@{d}", a, check=False)
    assert r.returncode == 1 and "unknown account" in r.stderr
    r = floectl(server, "responder", "set", a, "--mode", "interval", check=False)
    assert r.returncode == 2 and "--days" in r.stderr
    r = floectl(server, "responder", "set", a, "--mode", "sometimes", check=False)
    assert r.returncode == 2
    r = floectl(server, "responder", "set", a, "--mode", "always", "--from", "2025-02-01",
                "--until", "2025-01-01", check=False)
    assert r.returncode == 1 and "end may not be before the start" in r.stderr
    other = f"shared@{d}"
    floectl(server, "sendas", "add", a, other)
    assert other in floectl(server, "sendas", "list", a).stdout
    floectl(server, "sendas", "remove", a, other)
    r = floectl(server, "sendas", "remove", a, other, check=False)
    assert r.returncode == 1 and "may not send as" in r.stderr


# ---------------------------------------------------------------------
# A Unix socket listener


def test_unix_socket_delivery_and_permissions(server):
    st = os.stat(server.lmtp_socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    if floe.IS_ROOT and postfix_group():
        assert st.st_gid == postfix_group().gr_gid
    d = new_domain(server)
    a = new_user(server, d)
    c = Lmtp(server.lmtp_socket)
    try:
        assert c.greeting[0].startswith("220 ")
        assert "250-PIPELINING" in c.lhlo
        rr, dr = c.transaction("s@example.net", [a, f"ghost@{d}"], message("over unix"))
        assert rr[0].startswith("250") and rr[1].startswith("550 5.1.1")
        assert len(dr) == 1 and dr[0].startswith("250 2.0.0") and f"<{a}>" in dr[0], dr
    finally:
        c.close()
    m = email.message_from_bytes(inbox(server, a)[0])
    assert m["Subject"] == "over unix"
    assert "LMTP" in m["Received"]


def start_fails(pg, lmtp, extra=None):
    cfg = {"lmtp": lmtp}
    cfg.update(extra or {})
    srv = floe.Floed(None, pg, workers=1, config=cfg)
    assert srv.start(expect_fail=True) != 0
    return srv.log()


def test_unix_socket_stale_in_use_and_refused(pg):
    top = floe.make_dir("lmtp-sock-")
    path = os.path.join(top, "lmtp")
    # A socket file left behind by a process that died: replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    srv = floe.Floed(None, pg, workers=1, config={"lmtp": {
        "listen": f"unix:{path}", "socket_mode": "0600", "socket_group": ""}})
    srv.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        c = Lmtp(path)
        assert c.greeting[0].startswith("220 ")
        c.close()
        # Another floed may not take a socket that is in use.
        log = start_fails(pg, {"listen": f"unix:{path}"})
        assert f"lmtp.listen = unix:{path}: cannot listen: another process is listening on " \
               "this socket" in log, log
    finally:
        srv.stop()
    # A path that is not a socket is never removed.
    plain = os.path.join(top, "plain")
    with open(plain, "w") as f:
        f.write("keep me")
    log = start_fails(pg, {"listen": f"unix:{plain}"})
    assert "the path exists and is not a socket" in log, log
    assert open(plain).read() == "keep me"
    # Only LMTP listens on a Unix socket; the path must be absolute.
    log = start_fails(pg, {"listen": ""}, {"imap": {"listen": f"unix:{top}/imap"}})
    assert "imap.listen = unix:" in log and "a Unix socket is only for [lmtp] listen" in log, log
    log = start_fails(pg, {"listen": "unix:relative/path"})
    assert "bad listen address \"unix:relative/path\"" in log, log
    log = start_fails(pg, {"listen": f"unix:{path}", "socket_mode": "0999"})
    assert "lmtp.socket_mode = \"0999\": expected octal permissions" in log, log
    log = start_fails(pg, {"listen": f"unix:{path}", "socket_group": "no-such-group-x"})
    assert "[lmtp] socket_group \"no-such-group-x\" does not exist" in log, log


# ---------------------------------------------------------------------
# A real Postfix in front of Floe

POSTFIX = "/usr/sbin/postfix"


def postfix_master_cf(port):
    services = [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "lmtp unix - - n - - lmtp",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ]
    return "\n".join(services) + "\n"


@pytest.mark.skipif(not (floe.IS_ROOT and os.access(POSTFIX, os.X_OK)),
                    reason="needs root and Debian's postfix")
@pytest.mark.parametrize("transport", ["inet", "unix"])
def test_postfix_delivers_through_lmtp(server, transport):
    d = new_domain(server)
    a, b = new_user(server, d), new_user(server, d)
    top = floe.make_dir("postfix-")
    conf, queue, data = (os.path.join(top, n) for n in ("etc", "queue", "data"))
    os.makedirs(conf)
    os.makedirs(queue)
    os.makedirs(data)
    shutil.chown(data, "postfix", "postfix")
    port = floe.free_port()
    nexthop = (f"lmtp:inet:127.0.0.1:{server.lmtp_port}" if transport == "inet"
               else f"lmtp:unix:{server.lmtp_socket}")
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
myhostname = mx.test.example
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relay_domains = {d}
transport_maps = inline:{{ {d}={nexthop} }}
smtpd_recipient_restrictions = permit_mynetworks, reject
local_recipient_maps =
relay_recipient_maps =
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
alias_maps =
alias_database =
smtputf8_enable = no
""")
    with open(os.path.join(conf, "master.cf"), "w") as f:
        f.write(postfix_master_cf(port))
    env = dict(os.environ, MAIL_CONFIG=conf)
    r = subprocess.run([POSTFIX, "-c", conf, "start"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        deadline = time.time() + 20
        while True:
            try:
                s = smtplib.SMTP("127.0.0.1", port, timeout=10)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        try:
            refused = s.sendmail("carol@example.net", [a, b],
                                 message(f"via postfix {transport}", sender="carol@example.net"))
            assert refused == {}
        finally:
            s.quit()
        for who in (a, b):
            msgs = wait_inbox(server, who, 1, timeout=30)
            assert len(msgs) == 1, open(os.path.join(top, "maillog")).read()
            if transport == "unix":
                assert server.lmtp_socket in open(os.path.join(top, "maillog")).read()
            m = email.message_from_bytes(msgs[0])
            assert m["Subject"] == f"via postfix {transport}"
            assert m["Return-Path"] == "<carol@example.net>"
            # Postfix's own Received: below ours.
            assert any("mx.test.example" in h for h in m.get_all("Received"))
    finally:
        subprocess.run([POSTFIX, "-c", conf, "stop"], capture_output=True, env=env, timeout=60)

"""SMTP submission and the outgoing queue against a real floed and
PostgreSQL: no AUTH before TLS (530), AUTH PLAIN/LOGIN after STARTTLS and on
implicit TLS, cleartext pipelined after STARTTLS discarded, the envelope
sender limited to the account (553), size, recipient and hourly limits,
unknown local recipients refused, local recipients delivered (seen over
IMAP), remote ones queued and delivered to a loopback SMTP sink written
here (the relay): retried after a temporary failure, bounced with an RFC
3464 DSN after a permanent one, delivered exactly once with two workers,
surviving floed being killed; STARTTLS and AUTH towards the relay;
floectl queue list/show/retry/remove and smtp save-sent.

The module runs floed on a database of its own so that no other test's
server runs queue runners over its messages."""

import base64
import email
import email.policy
import imaplib
import json
import smtplib
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import uuid

import pytest

import floe
from floe import floectl, run_floectl


def new_domain(server):
    return floe.new_domain(server, "m")


def new_user(server, domain):
    return floe.new_user(server, domain, PASSWORD)

PASSWORD = "smtp secret"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def remote(tag="r"):
    return f"{tag}{uuid.uuid4().hex[:8]}@remote-{uuid.uuid4().hex[:6]}.test"


def message(sender, rcpt, subject="Hello", body="Hi there.\r\n"):
    return (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"\r\n{body}").encode()


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def queue_json(server):
    return json.loads(floectl(server, "--json", "queue", "list"))


def queue_entry(server, rcpt):
    for m in queue_json(server):
        for r in m["recipients"]:
            if r["recipient"] == rcpt:
                return m, r
    return None, None


def rcpt_state(server, rcpt):
    _, r = queue_entry(server, rcpt)
    return r["state"] if r else None


# ---------------------------------------------------------------------------
# A loopback SMTP server standing in for the relay


class Sink:
    """Records every message it accepts. rcpt_replies[address] is a list of
    replies used for successive RCPT TOs of that address (then 250). A
    message to an address in hang is read but never answered (nor
    accepted) until release is set; stalled lists those recipients."""

    def __init__(self, tls=False, auth=None, implicit=False):
        self.implicit = implicit
        self.hang = set()
        self.stalled = []
        self.release = threading.Event()
        self.messages = []
        self.sessions = []
        self.rcpt_replies = {}
        self.lock = threading.Lock()
        self.auth = auth
        self.tls_ctx = None
        if tls or implicit:
            cert, key = floe.tls_pair()
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(cert, key)
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink.session(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def reply_for(self, rcpt):
        with self.lock:
            replies = self.rcpt_replies.get(rcpt)
            if replies:
                return replies.pop(0)
        return "250 2.1.5 ok"

    def delivered_to(self, rcpt):
        with self.lock:
            return [m for m in self.messages if rcpt in m["rcpts"]]

    def session(self, sock):
        info = {"tls": False, "auth": None, "ehlo": None}
        with self.lock:
            self.sessions.append(info)
        if self.implicit:
            try:
                sock = self.tls_ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                info["tls_error"] = str(e)
                return
            info["tls"] = True
        f = sock.makefile("rwb")

        def send(line):
            f.write(line.encode() + b"\r\n")
            f.flush()

        send("220 sink.test ESMTP")
        mail, rcpts = None, []
        while True:
            raw = f.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            up = line.upper()
            if up.startswith("EHLO"):
                info["ehlo"] = line[5:]
                caps = ["sink.test", "PIPELINING", "SIZE 10000000", "8BITMIME"]
                if self.tls_ctx and not info["tls"] and not self.implicit:
                    caps.append("STARTTLS")
                if self.auth and info["tls"]:
                    caps.append("AUTH PLAIN LOGIN")
                for i, c in enumerate(caps):
                    send(("250 " if i == len(caps) - 1 else "250-") + c)
            elif up == "STARTTLS" and self.tls_ctx:
                send("220 2.0.0 go ahead")
                try:
                    sock = self.tls_ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    info["tls_error"] = str(e)
                    return
                f = sock.makefile("rwb")
                info["tls"] = True
            elif up.startswith("AUTH PLAIN "):
                parts = base64.b64decode(line[11:]).split(b"\0")
                if self.auth and parts[1:] == [self.auth[0].encode(), self.auth[1].encode()]:
                    info["auth"] = self.auth[0]
                    send("235 2.7.0 ok")
                else:
                    send("535 5.7.8 bad credentials")
            elif up.startswith("MAIL FROM:"):
                mail = line[10:].split(">")[0].lstrip(" <")
                info["mail_line"] = line
                rcpts = []
                send("250 2.1.0 ok")
            elif up.startswith("RCPT TO:"):
                addr = line[8:].split(">")[0].lstrip(" <")
                reply = self.reply_for(addr)
                if reply.startswith("2"):
                    rcpts.append(addr)
                send(reply)
            elif up == "DATA":
                send("354 go")
                data = b""
                while True:
                    chunk = f.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    if chunk.startswith(b"."):
                        chunk = chunk[1:]
                    data += chunk
                if self.hang.intersection(rcpts):
                    with self.lock:
                        self.stalled.extend(rcpts)
                    self.release.wait(60)
                    return
                with self.lock:
                    self.messages.append({"mail_from": mail, "rcpts": list(rcpts), "data": data,
                                          "tls": info["tls"], "auth": info["auth"]})
                send("250 2.0.0 queued here")
            elif up == "RSET":
                mail, rcpts = None, []
                send("250 2.0.0 ok")
            elif up == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("502 5.5.1 not here")


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.close()


def queue_config(sink, **extra):
    q = {"relay": f"127.0.0.1:{sink.port}", "relay_tls": "off", "retry_min": "1s",
         "retry_max": "2s", "poll_interval": "300ms", "hostname": "mx.floe.test"}
    q.update(extra)
    return q


@pytest.fixture(scope="module")
def server(pg, sink):
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=2, db_url=db, config={
        "imap": {"allow_plaintext_auth": "yes"},
        "auth": {"failure_delay": "100ms"},
        "smtp": {"max_message_size": "200k", "max_recipients": "5", "messages_per_hour": "8",
                 "max_connections_per_ip": "6"},
        "queue": queue_config(sink),
    })
    srv.enable("smtp", "smtps")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    return new_domain(server)


def submitter(server, user):
    s = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30)
    s.starttls(context=tls_context())
    s.login(user, PASSWORD)
    return s


def submit(server, user, rcpts, msg=None, subject="Hello"):
    with submitter(server, user) as s:
        refused = s.sendmail(user, rcpts, msg or message(user, ", ".join(rcpts), subject))
    assert refused == {}
    return msg


def imap_messages(server, user, folder="INBOX"):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    try:
        c.login(user, PASSWORD)
        typ, _ = c.select(folder)
        assert typ == "OK"
        typ, data = c.search(None, "ALL")
        out = []
        for num in data[0].split():
            typ, parts = c.fetch(num, "(RFC822)")
            out.append(parts[0][1])
        return out
    finally:
        c.logout()


class Raw:
    """A line-oriented raw SMTP client."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r[0].startswith("220 "), r
        self.sock = tls_context().wrap_socket(self.sock)

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------
# Submission


def test_no_auth_before_tls(server, domain):
    user = new_user(server, domain)
    c = Raw(server.smtp_port)
    try:
        assert c.greeting[0].startswith("220 ") and "ESMTP" in c.greeting[0]
        ehlo = c.cmd("EHLO client.test")
        caps = [l[4:] for l in ehlo]
        assert "STARTTLS" in caps and "PIPELINING" in caps and "ENHANCEDSTATUSCODES" in caps
        assert "8BITMIME" in caps and "SIZE 204800" in caps
        assert not any(cap.startswith("AUTH") for cap in caps), caps
        plain = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        assert c.cmd(f"AUTH PLAIN {plain}") == ["530 5.7.0 Must issue a STARTTLS command first"]
        assert c.cmd("AUTH LOGIN") == ["530 5.7.0 Must issue a STARTTLS command first"]
        assert c.cmd(f"MAIL FROM:<{user}>") == ["530 5.7.0 Authentication required"]
        assert c.cmd("RCPT TO:<a@b.test>")[0].startswith("503 5.5.1")
        assert c.cmd("BOGUS")[0].startswith("500 5.5.2")
        assert c.cmd("QUIT")[0].startswith("221 ")
    finally:
        c.close()


def test_auth_after_starttls_both_mechanisms(server, domain):
    user = new_user(server, domain)
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as s:
        s.starttls(context=tls_context())
        s.ehlo()
        assert s.has_extn("auth") and "PLAIN" in s.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(user, "wrong password")
        assert e.value.smtp_code == 535
        s.login(user, PASSWORD)
        assert s.noop()[0] == 250
    # AUTH LOGIN over implicit TLS
    with smtplib.SMTP_SSL("127.0.0.1", server.smtps_port, timeout=30, context=tls_context()) as s:
        s.ehlo()
        assert "LOGIN" in s.esmtp_features["auth"]
        assert "starttls" not in s.esmtp_features
        s.user, s.password = user, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        code, text = s.docmd("AUTH", "PLAIN")
        assert code == 503


def test_cleartext_after_starttls_is_discarded(server, domain):
    c = Raw(server.smtp_port)
    try:
        c.cmd("EHLO client.test")
        # Pipelined in clear after STARTTLS: must never be executed.
        c.sock.sendall(b"STARTTLS\r\nNOOP\r\n")
        assert c.reply()[0].startswith("220 ")
        c.sock = tls_context().wrap_socket(c.sock)
        c.buf = b""
        r = c.cmd("EHLO again.test")
        assert r[0].startswith("250-"), r
        assert any(l[4:].startswith("AUTH PLAIN LOGIN") for l in r)
        assert not any("STARTTLS" in l for l in r)
    finally:
        c.close()


def test_foreign_sender_refused(server, domain):
    user = new_user(server, domain)
    other = new_user(server, domain)
    with submitter(server, user) as s:
        code, text = s.mail(other)
        assert code == 553 and text.startswith(b"5.7.1"), (code, text)
        code, text = s.mail("someone@elsewhere.test")
        assert code == 553
        code, _ = s.mail("<>")
        assert code == 553
        # An alias of the account is its own address.
        alias = f"alias{uuid.uuid4().hex[:6]}@{domain}"
        floectl(server, "alias", "add", alias, user)
        code, _ = s.mail(alias)
        assert code == 250
        s.rset()
        code, _ = s.mail(user)
        assert code == 250


def test_unknown_local_recipient_refused(server, domain):
    user = new_user(server, domain)
    with submitter(server, user) as s:
        assert s.mail(user)[0] == 250
        code, text = s.rcpt(f"nobody{uuid.uuid4().hex[:6]}@{domain}")
        assert code == 550 and text.startswith(b"5.1.1")
        assert s.rcpt("bad address")[0] == 501
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.data(b"Subject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 554  # no valid recipients


def test_size_limit(server, domain):
    user = new_user(server, domain)
    rcpt = new_user(server, domain)
    with submitter(server, user) as s:
        code, text = s.docmd("MAIL", f"FROM:<{user}> SIZE=300000")
        assert code == 552 and text.startswith(b"5.3.4")
        assert s.mail(user)[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        big = message(user, rcpt, body=("x" * 998 + "\r\n") * 250)
        code, text = s.data(big)
        assert code == 552 and text.startswith(b"5.3.4"), (code, text)
        # The session goes on.
        assert s.noop()[0] == 250
    assert imap_messages(server, rcpt) == []


def test_recipient_limit(server, domain):
    user = new_user(server, domain)
    with submitter(server, user) as s:
        assert s.mail(user)[0] == 250
        for i in range(5):
            assert s.rcpt(remote())[0] == 250
        code, text = s.rcpt(remote())
        assert code == 452 and text.startswith(b"4.5.3")
        s.rset()


def test_rate_limit_per_account(server, domain):
    user = new_user(server, domain)
    rcpt = new_user(server, domain)
    with submitter(server, user) as s:
        for i in range(8):
            assert s.sendmail(user, [rcpt], message(user, rcpt, f"n{i}")) == {}
        code, text = s.mail(user)
        assert code == 450 and text.startswith(b"4.7.1"), (code, text)
    # Another account is not affected.
    other = new_user(server, domain)
    submit(server, other, [rcpt])


def test_local_recipient_delivered(server, domain):
    user = new_user(server, domain)
    rcpt = new_user(server, domain)
    subject = f"local {uuid.uuid4().hex[:8]}"
    submit(server, user, [rcpt], subject=subject)
    msgs = imap_messages(server, rcpt)
    assert len(msgs) == 1
    parsed = email.message_from_bytes(msgs[0], policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert "ESMTPSA" in str(parsed.get_all("Received"))
    # Not saved to Sent by default.
    assert imap_messages(server, user, "Sent") == []


def test_save_to_sent_setting(server, domain):
    user = new_user(server, domain)
    rcpt = new_user(server, domain)
    assert "are not saved" in floectl(server, "smtp", "save-sent", user)
    assert "are saved" in floectl(server, "smtp", "save-sent", user, "yes")
    out = json.loads(floectl(server, "--json", "smtp", "save-sent", user))
    assert out == {"address": user, "save_to_sent": True}
    subject = f"sent {uuid.uuid4().hex[:8]}"
    submit(server, user, [rcpt], subject=subject)
    sent = imap_messages(server, user, "Sent")
    assert len(sent) == 1 and subject.encode() in sent[0]


# ---------------------------------------------------------------------------
# The queue


def test_remote_recipient_queued_and_delivered(server, domain, sink):
    user = new_user(server, domain)
    local = new_user(server, domain)
    far = remote()
    subject = f"remote {uuid.uuid4().hex[:8]}"
    submit(server, user, [far, local], subject=subject)
    # The local one at once, the remote one through the queue.
    assert len(imap_messages(server, local)) == 1
    got = wait_for(lambda: sink.delivered_to(far), what="delivery to the sink")
    assert len(got) == 1
    assert got[0]["mail_from"] == user and got[0]["rcpts"] == [far]
    assert subject.encode() in got[0]["data"] and got[0]["data"].endswith(b"\r\n")
    m, r = wait_for(lambda: queue_entry(server, far)[1] and
                    queue_entry(server, far)[1]["state"] == "delivered" and queue_entry(server, far))
    assert r["attempts"] == 1 and m["mail_from"] == user and m["account"] == user
    assert any(s["ehlo"] == "mx.floe.test" for s in sink.sessions)


def test_dot_stuffing_and_8bit_through_the_relay(server, domain, sink):
    user = new_user(server, domain)
    far = remote()
    body = ".leading dot\r\n..two dots\r\n.\r\nvalue: caf\u00e9\r\n"
    msg = message(user, far, body=body).replace(b"Subject: Hello", b"Subject: dots")
    with submitter(server, user) as s:
        assert s.sendmail(user, [far], msg) == {}
    got = wait_for(lambda: sink.delivered_to(far), what="delivery to the sink")
    assert got[0]["data"].endswith(".leading dot\r\n..two dots\r\n.\r\nvalue: café\r\n".encode())


def test_retry_after_temporary_failure(server, domain, sink):
    user = new_user(server, domain)
    far = remote("t")
    sink.rcpt_replies[far] = ["451 4.3.0 try again later"]
    submit(server, user, [far])
    got = wait_for(lambda: sink.delivered_to(far), what="delivery after the retry")
    assert len(got) == 1
    _, r = wait_for(lambda: queue_entry(server, far)[1]["state"] == "delivered" and
                    queue_entry(server, far))
    assert r["attempts"] == 2
    assert "451 4.3.0 try again later" in r["last_error"]
    time.sleep(1.5)
    assert len(sink.delivered_to(far)) == 1


def test_bounce_after_permanent_failure(server, domain, sink):
    user = new_user(server, domain)
    far = remote("p")
    ok = remote("o")
    sink.rcpt_replies[far] = ["550 5.1.1 no such mailbox here"]
    subject = f"doomed {uuid.uuid4().hex[:8]}"
    submit(server, user, [far, ok], subject=subject)
    wait_for(lambda: sink.delivered_to(ok), what="the good recipient")
    inbox = wait_for(lambda: imap_messages(server, user), what="the bounce in the sender's INBOX")
    assert len(inbox) == 1
    dsn = email.message_from_bytes(inbox[0], policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["From"].addresses[0].addr_spec == "MAILER-DAEMON@mx.floe.test"
    assert dsn["Auto-Submitted"] == "auto-replied"
    parts = list(dsn.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status",
                                                     "text/rfc822-headers"]
    assert far in parts[0].get_content()
    status = parts[1].get_payload()
    per_msg, per_rcpt = status[0], status[1]
    assert per_msg["Reporting-MTA"] == "dns; mx.floe.test"
    assert per_rcpt["Final-Recipient"] == f"rfc822; {far}"
    assert per_rcpt["Action"] == "failed"
    assert per_rcpt["Status"] == "5.1.1"
    assert per_rcpt["Diagnostic-Code"] == "smtp; 550 5.1.1 no such mailbox here"
    assert len(status) == 2  # the delivered recipient is not reported
    headers = parts[2].get_payload() if isinstance(parts[2].get_payload(), str) else \
        parts[2].get_payload(decode=True).decode()
    assert f"Subject: {subject}" in headers
    # The return path of the bounce is the null sender.
    assert b"Return-Path: <>" in inbox[0]
    wait_for(lambda: rcpt_state(server, far) == "bounced", what="state bounced")
    assert rcpt_state(server, ok) == "delivered"
    assert sink.delivered_to(far) == []


def test_exactly_one_delivery_with_two_workers(server, domain, sink):
    users = [new_user(server, domain) for _ in range(3)]
    rcpts = []
    for u in users:
        for i in range(4):
            far = remote("x")
            rcpts.append(far)
            submit(server, u, [far])
    for far in rcpts:
        wait_for(lambda: sink.delivered_to(far), what=f"delivery to {far}")
    time.sleep(2)
    for far in rcpts:
        assert len(sink.delivered_to(far)) == 1, far
    # Both workers ran deliveries (they all poll the same queue).
    assert len(server.worker_pids()) == 2


def test_floectl_queue_commands(server, domain, sink):
    user = new_user(server, domain)
    far = remote("q")
    sink.rcpt_replies[far] = ["451 4.2.0 busy"] * 100
    subject = f"stuck {uuid.uuid4().hex[:8]}"
    submit(server, user, [far], subject=subject)
    m, r = wait_for(lambda: queue_entry(server, far)[1] and
                    queue_entry(server, far)[1]["state"] == "deferred" and queue_entry(server, far),
                    what="a deferred recipient")
    mid = str(m["id"])
    out = floectl(server, "queue", "list")
    assert "ATTEMPTS" in out and far in out and "deferred" in out and "451 4.2.0 busy" in out
    shown = floectl(server, "queue", "show", mid)
    assert f"Subject: {subject}" in shown and far in shown and f"<{user}>" in shown
    js = json.loads(floectl(server, "--json", "queue", "show", mid))
    assert js["id"] == m["id"] and js["recipients"][0]["recipient"] == far
    before = js["recipients"][0]["attempts"]
    floectl(server, "queue", "retry", mid)
    wait_for(lambda: queue_entry(server, far)[1]["attempts"] > before, what="a retry")
    assert "will be retried" in floectl(server, "queue", "retry", "--all")
    bad = run_floectl(server, "queue", "retry")
    assert bad.returncode == 2
    assert "removed" in floectl(server, "queue", "remove", mid)
    assert queue_entry(server, far) == (None, None)
    again = run_floectl(server, "queue", "remove", mid)
    assert again.returncode == 1 and "no queued message" in again.stderr
    assert run_floectl(server, "queue", "show", mid).returncode == 1


def test_relay_starttls_and_auth(pg, domain):
    relay = Sink(tls=True, auth=("relayuser", "relay pass"))
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=1, db_url=db, config={
        "queue": queue_config(relay, relay_tls="required", relay_tls_verify="no",
                              relay_user="relayuser", relay_password="relay pass")})
    srv.enable("smtp")
    srv.start()
    try:
        dom = new_domain(srv)
        user = new_user(srv, dom)
        far = remote()
        submit(srv, user, [far])
        got = wait_for(lambda: relay.delivered_to(far), what="delivery over TLS with AUTH")
        assert got[0]["tls"] is True and got[0]["auth"] == "relayuser"
        assert "SIZE=" in relay.sessions[-1]["mail_line"]
    finally:
        srv.stop()
        relay.close()


def test_relay_implicit_tls_and_certificate_check(pg):
    relay = Sink(implicit=True)
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    # Verification on: the test certificate is self-signed, so nothing may
    # be sent and the message waits with the reason.
    srv = floe.Floed(None, pg, workers=1, db_url=db, config={
        "queue": queue_config(relay, relay_tls="implicit", relay_tls_verify="yes")})
    srv.enable("smtp")
    srv.start()
    try:
        dom = new_domain(srv)
        user = new_user(srv, dom)
        far = remote()
        submit(srv, user, [far])
        _, r = wait_for(lambda: queue_entry(srv, far)[1] and
                        queue_entry(srv, far)[1]["state"] == "deferred" and queue_entry(srv, far),
                        what="a deferral for the untrusted certificate")
        assert "TLS" in r["last_error"] and r["last_error"].startswith("451 4.7.0"), r
        assert relay.delivered_to(far) == []
        srv.stop()
        srv.write_config({"queue": {"relay_tls_verify": "no"}})
        srv.start()
        got = wait_for(lambda: relay.delivered_to(far), what="delivery over implicit TLS")
        assert got[0]["tls"] is True
        wait_for(lambda: rcpt_state(srv, far) == "delivered", what="state delivered")
    finally:
        srv.stop()
        relay.close()


def test_queue_survives_kill(pg):
    sink = Sink()
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=2, db_url=db, config={"queue": queue_config(sink)})
    srv.enable("smtp")
    srv.start()
    try:
        dom = new_domain(srv)
        user = new_user(srv, dom)
        far = remote("k")
        sink.rcpt_replies[far] = ["421 4.3.2 not now"] * 1000
        submit(srv, user, [far])
        wait_for(lambda: queue_entry(srv, far)[1] and queue_entry(srv, far)[1]["attempts"] >= 1 and
                 queue_entry(srv, far)[1]["state"] == "deferred", what="a deferred message")
        srv.kill()  # SIGKILL: master and workers
        sink.rcpt_replies[far] = []
        assert sink.delivered_to(far) == []
        srv.start()
        got = wait_for(lambda: sink.delivered_to(far), what="delivery after the restart")
        assert len(got) == 1
        wait_for(lambda: rcpt_state(srv, far) == "delivered", what="state delivered")
    finally:
        srv.stop()
        sink.close()


def test_graceful_shutdown_and_timeout(pg):
    sink = Sink()
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=1, db_url=db, config={
        "smtp": {"timeout": "1s"}, "queue": queue_config(sink)})
    srv.enable("smtp")
    srv.start()
    try:
        idle = Raw(srv.smtp_port)
        assert idle.reply() == ["421 4.4.2 mx.floe.test Timeout, closing connection"]
        idle.close()
        c = Raw(srv.smtp_port)
        c.cmd("EHLO client.test")
        srv.proc.send_signal(15)
        assert c.reply() == ["421 4.3.2 Service shutting down, closing connection"]
        c.close()
        assert srv.proc.wait(timeout=20) == 0
    finally:
        srv.stop()
        sink.close()


def test_connections_per_ip(server):
    conns = []
    try:
        for _ in range(6):
            c = Raw(server.smtp_port)
            assert c.greeting[0].startswith("220 "), c.greeting
            conns.append(c)
        # Both workers count together: the seventh is refused, whichever
        # worker accepts it.
        extra = Raw(server.smtp_port)
        assert extra.greeting == ["421 4.7.0 Too many connections from your address, try again later"]
        with pytest.raises(ConnectionError):
            extra.line()
        extra.close()
        assert conns[0].cmd("NOOP")[0].startswith("250 ")
        conns.pop().close()

        def one_more():
            c = Raw(server.smtp_port)
            if c.greeting[0].startswith("220 "):
                conns.append(c)
                return True
            c.close()
            return False
        wait_for(one_more, timeout=10, what="a free connection slot")
    finally:
        for c in conns:
            c.close()
    assert server.wait_log("too many connections from this address (at most 6)")


def test_shutdown_gives_back_a_stuck_delivery(pg):
    """SIGTERM while the relay sits on the end of DATA: the worker abandons
    that delivery shortly before shutdown_timeout and gives its lease back,
    so the next floed delivers it at once (not after [queue] lease, 30
    minutes by default), exactly once."""
    sink = Sink()
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=2, db_url=db, config={
        "server": {"shutdown_timeout": "3s"}, "queue": queue_config(sink)})
    srv.enable("smtp")
    srv.start()
    try:
        dom = new_domain(srv)
        user = new_user(srv, dom)
        far = remote("g")
        sink.hang.add(far)
        submit(srv, user, [far])
        wait_for(lambda: sink.stalled, what="the relay holding the message")
        _, r = queue_entry(srv, far)
        assert r["state"] == "delivering" and r["attempts"] == 1 and r["leased_by"] != ""
        srv.proc.send_signal(15)
        assert srv.proc.wait(timeout=20) == 0
        log = srv.log()
        assert "interrupted by the shutdown; giving it back" in log
        assert "gave 1 unfinished recipient(s) back for another runner" in log
        _, r = queue_entry(srv, far)
        assert r["state"] == "queued" and r["attempts"] == 0 and r["leased_by"] == "", r
        assert sink.delivered_to(far) == []
        # The relay answers again; a new floed takes the message at once.
        sink.hang.clear()
        sink.release.set()
        srv.start()
        got = wait_for(lambda: sink.delivered_to(far), timeout=20, what="the retry")
        assert len(got) == 1 and got[0]["mail_from"] == user
        wait_for(lambda: rcpt_state(srv, far) == "delivered", what="state delivered")
        _, r = queue_entry(srv, far)
        assert r["attempts"] == 1
        time.sleep(1.5)
        assert len(sink.delivered_to(far)) == 1
    finally:
        sink.release.set()
        srv.stop()
        sink.close()


def test_idle_queue_stops_at_once(pg):
    sink = Sink()
    db = pg.create_database(f"smtp_{uuid.uuid4().hex[:8]}")
    srv = floe.Floed(None, pg, workers=1, db_url=db, config={
        "server": {"shutdown_timeout": "20s"}, "queue": queue_config(sink)})
    srv.start()
    try:
        start = time.time()
        srv.proc.send_signal(15)
        assert srv.proc.wait(timeout=30) == 0
        # Nothing to wait for: well before the 20 s shutdown timeout.
        assert time.time() - start < 10
        assert "shutdown timeout" not in srv.log()
    finally:
        srv.stop()
        sink.close()


def test_bounce_waits_until_it_can_be_handed_over(server, domain, sink):
    """The first hand-over of the DSN fails (the sender's account is over
    quota): the recipient stays bounce_pending and the DSN goes out on a
    later try, once there is room; exactly one DSN."""
    user = new_user(server, domain)
    floectl(server, "user", "set", user, "--quota", "1K")
    far = remote("w")
    sink.rcpt_replies[far] = ["550 5.1.1 no such mailbox here"]
    subject = f"over quota {uuid.uuid4().hex[:8]}"
    submit(server, user, [far], subject=subject)
    wait_for(lambda: rcpt_state(server, far) == "bounce_pending", what="state bounce_pending")
    _, r = queue_entry(server, far)
    assert r["last_error"] == "550 5.1.1 no such mailbox here", r
    assert server.wait_log(f"the bounce to <{user}> waits")
    assert "4.2.2" in server.log()
    assert imap_messages(server, user) == []
    # Still retried (and still refused) while the account is full.
    assert server.wait_log(f"to <{far}>: the bounce to <{user}> waits (attempt 2", timeout=15)
    floectl(server, "user", "set", user, "--quota", "unlimited")
    inbox = wait_for(lambda: imap_messages(server, user), what="the DSN after the quota was raised")
    wait_for(lambda: rcpt_state(server, far) == "bounced", what="state bounced")
    dsn = email.message_from_bytes(inbox[0], policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    status = list(dsn.iter_parts())[1].get_payload()
    assert status[1]["Final-Recipient"] == f"rfc822; {far}"
    assert status[1]["Status"] == "5.1.1"
    assert status[1]["Diagnostic-Code"] == "smtp; 550 5.1.1 no such mailbox here"
    assert status[1]["Remote-MTA"] is not None
    assert subject in list(dsn.iter_parts())[2].as_string()
    time.sleep(2.5)
    assert len(imap_messages(server, user)) == 1
    assert sink.delivered_to(far) == []

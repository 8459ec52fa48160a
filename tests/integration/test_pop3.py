"""POP3 against a real floed and PostgreSQL, with Python's poplib where it
fits and a raw socket client where the exact bytes matter: CAPA before and
after STLS, logins refused in clear, USER/PASS and AUTH PLAIN/LOGIN after STLS
and on implicit TLS, STAT/LIST/UIDL against what was APPENDed over IMAP, RETR
byte-exact (dot-stuffing, a 2 MB message), TOP, DELE + QUIT removing exactly
those messages (seen over IMAP; a message \\Deleted over IMAP but not DELE'd
stays), DELE + RSET and DELE + a dropped connection removing nothing,
pipelining, bad commands, limits, autologout, concurrent sessions, the
database being down and a graceful shutdown."""

import base64
import hashlib
import imaplib
import poplib
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest

import floe
from floe import floectl


def new_domain(server):
    return floe.new_domain(server, "p")


def new_user(server, domain):
    return floe.new_user(server, domain, PASSWORD)

PASSWORD = "pop3 secret"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(subject="Hello", body="Hi there.\r\n"):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"\r\n{body}").encode()


class Imap:
    """What the tests need from IMAP: append, flags, what is left."""

    def __init__(self, server, user):
        self.c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
        self.c.login(user, PASSWORD)
        self.c.select("INBOX")

    def append(self, data, flags=None):
        typ, resp = self.c.append("INBOX", flags, None, data)
        assert typ == "OK", resp
        m = re.search(rb"APPENDUID (\d+) (\d+)", resp[0])
        return int(m.group(1)), int(m.group(2))

    def flags(self):
        """{uid: set of flags} of INBOX now."""
        self.c.noop()
        typ, data = self.c.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK", data
        out = {}
        for item in data:
            if item is None:
                continue
            m = re.search(rb"UID (\d+)", item)
            f = re.search(rb"FLAGS \(([^)]*)\)", item)
            if m:
                out[int(m.group(1))] = set(f.group(1).decode().split())
        return out

    def close(self):
        try:
            self.c.logout()
        except Exception:
            pass


class Raw:
    """A raw POP3 client: exact bytes, pipelining, STLS with pipelined data."""

    def __init__(self, port, tls=False, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def multi(self):
        """The body of a multi-line response, still dot-stuffed, with the
        final ".\\r\\n"."""
        self.buf = b"\r\n" + self.buf
        start = 0
        while b"\r\n.\r\n" not in self.buf[start:]:
            start = max(0, len(self.buf) - 4)
            self._fill()
        i = self.buf.index(b"\r\n.\r\n", start) + 5
        out, self.buf = self.buf[2:i], self.buf[i:]
        return out

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def login(self, user):
        assert self.cmd(f"USER {user}").startswith(b"+OK")
        r = self.cmd(f"PASS {PASSWORD}")
        assert r.startswith(b"+OK"), r

    def wait_closed(self, timeout=10):
        self.sock.settimeout(timeout)
        out, self.buf = self.buf, b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return out
                out += chunk
        except (ConnectionError, ssl.SSLError):
            return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop_tls(server, user=None):
    """poplib over implicit TLS, logged in when user is given."""
    p = poplib.POP3_SSL("127.0.0.1", server.pop3s_port, context=tls_context(), timeout=30)
    if user:
        p.user(user)
        p.pass_(PASSWORD)
    return p


def pop_stls(server, user=None):
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    p.stls(tls_context())
    if user:
        p.user(user)
        p.pass_(PASSWORD)
    return p


def err_text(excinfo):
    return excinfo.value.args[0].decode() if isinstance(excinfo.value.args[0], bytes) \
        else str(excinfo.value.args[0])


# ---------------------------------------------------------------------------
# Servers


AUTH = {"failure_delay": "50ms", "max_failures": "1000"}


@pytest.fixture(scope="module")
def server(pg):
    """Production defaults for POP3: no login in clear. IMAP in clear for
    the test's own checks."""
    srv = floe.Floed(None, pg, workers=2,
                     config={"imap": {"allow_plaintext_auth": "yes"}, "auth": AUTH})
    srv.enable("pop3", "pop3s")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    return new_domain(server)


@pytest.fixture
def user(server, domain):
    return new_user(server, domain)


@pytest.fixture(scope="module")
def loose(pg):
    """Plain-text login allowed, small limits, one worker."""
    srv = floe.Floed(None, pg, workers=1,
                     config={"imap": {"allow_plaintext_auth": "yes"}, "auth": AUTH,
                             "pop3": {"allow_plaintext_auth": "yes", "autologout": "2s",
                                      "max_connections_per_account": "2",
                                      "max_connections_per_ip": "6",
                                      "max_line_length": "512"}})
    srv.enable("pop3")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def luser(loose):
    return new_user(loose, new_domain(loose))


# ---------------------------------------------------------------------------
# CAPA, STLS, authentication


def test_greeting_and_capa_before_and_after_stls(server):
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"):
        assert c in caps, caps
    assert caps["IMPLEMENTATION"] == ["Floe"]
    assert "USER" not in caps and "SASL" not in caps, "no login offered in clear"
    p.stls(tls_context())
    caps = p.capa()
    assert "STLS" not in caps
    assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"]
    assert "TOP" in caps and "UIDL" in caps
    p.quit()


def test_login_refused_without_tls(server, user):
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    with pytest.raises(poplib.error_proto) as e:
        p.user(user)
    assert err_text(e).startswith("-ERR [AUTH]") and "STLS" in err_text(e)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_text(e).startswith("-ERR [AUTH]")
    plain = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd(f"AUTH PLAIN {plain}")
    assert err_text(e).startswith("-ERR [AUTH]")
    # Still usable: STLS then a login.
    p.stls(tls_context())
    p.user(user)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_user_pass_after_stls_and_implicit_tls(server, user):
    p = pop_stls(server, user)
    assert p.stat() == (0, 0)
    p.quit()
    p = pop_tls(server, user)
    assert p.stat() == (0, 0)
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_auth_plain_and_login(server, user):
    plain = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
    # Initial response, after STLS.
    p = pop_stls(server)
    assert p._shortcmd(f"AUTH PLAIN {plain}").startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()
    # Continuation, on implicit TLS.
    p = pop_tls(server)
    assert p._shortcmd("AUTH PLAIN") == b"+ "
    assert p._shortcmd(plain).startswith(b"+OK")
    p.quit()
    # AUTH LOGIN, and the mechanism list Outlook asks for.
    p = pop_tls(server)
    resp, mechs, _ = p._longcmd("AUTH")
    assert resp.startswith(b"+OK") and mechs == [b"PLAIN", b"LOGIN"]
    assert p._shortcmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
    assert p._shortcmd(base64.b64encode(user.encode()).decode()) == \
        b"+ " + base64.b64encode(b"Password:")
    assert p._shortcmd(base64.b64encode(PASSWORD.encode()).decode()).startswith(b"+OK")
    p.quit()
    # Cancelled exchange, then a bad mechanism: the session goes on.
    p = pop_tls(server)
    assert p._shortcmd("AUTH PLAIN") == b"+ "
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("*")
    assert "cancelled" in err_text(e)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH CRAM-MD5")
    assert "Unsupported" in err_text(e)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH PLAIN !!notbase64")
    assert "base64" in err_text(e)
    p.user(user)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_wrong_password(server, user):
    p = pop_tls(server)
    p.user(user)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong password")
    assert err_text(e) == "-ERR [AUTH] Authentication failed"
    with pytest.raises(poplib.error_proto) as e:
        p.user("nobody@nowhere.example")
        p.pass_(PASSWORD)
    assert err_text(e) == "-ERR [AUTH] Authentication failed"
    bad = base64.b64encode(f"\0{user}\0nope".encode()).decode()
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd(f"AUTH PLAIN {bad}")
    assert err_text(e) == "-ERR [AUTH] Authentication failed"
    # PASS without USER, and transaction commands before login.
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert "USER first" in err_text(e)
    with pytest.raises(poplib.error_proto) as e:
        p.stat()
    assert "before login" in err_text(e)
    p.user(user)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_plaintext_allowed_when_configured(loose, luser):
    p = poplib.POP3("127.0.0.1", loose.pop3_port, timeout=30)
    caps = p.capa()
    assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"]
    p.user(luser)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_stls_discards_pipelined_cleartext(server, user):
    r = Raw(server.pop3_port)
    # CAPA sent in clear behind STLS must never be answered.
    r.send("STLS\r\nCAPA\r\n")
    assert r.line().startswith(b"+OK")
    time.sleep(0.2)
    assert r.buf == b""
    r.sock.settimeout(15)
    r.sock = tls_context().wrap_socket(r.sock)
    r.send(f"USER {user}\r\n")
    assert r.line() == b"+OK Send your password\r\n"
    assert r.cmd(f"PASS {PASSWORD}").startswith(b"+OK")
    assert r.cmd("STLS").startswith(b"-ERR"), "STLS only before login"
    r.close()


# ---------------------------------------------------------------------------
# The maildrop


def test_stat_list_uidl_match_imap(server, user):
    imap = Imap(server, user)
    msgs = [message("one"), message("two", "a longer body\r\n" * 20), message("three")]
    uids = [imap.append(m) for m in msgs]
    uidvalidity = uids[0][0]
    imap.close()

    p = pop_tls(server, user)
    assert p.stat() == (3, sum(len(m) for m in msgs))
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert lines == [f"{i + 1} {len(m)}".encode() for i, m in enumerate(msgs)]
    assert p.list(2) == f"+OK 2 {len(msgs[1])}".encode()
    resp, lines, _ = p.uidl()
    assert lines == [f"{i + 1} {uidvalidity}.{uid}".encode() for i, (_, uid) in enumerate(uids)]
    assert p.uidl(3) == f"+OK 3 {uidvalidity}.{uids[2][1]}".encode()
    p.quit()
    # Stable across sessions.
    p = pop_tls(server, user)
    assert p.uidl()[1] == lines
    p.quit()


def test_retr_byte_exact_with_dot_lines(server, user):
    body = ".starts with a dot\r\n..two dots\r\n.\r\nnormal . line\r\n. \r\n"
    data = message("dots", body)
    imap = Imap(server, user)
    imap.append(data)
    imap.close()

    p = pop_tls(server, user)
    resp, lines, octets = p.retr(1)
    assert resp == f"+OK {len(data)} octets".encode()
    assert b"\r\n".join(lines) + b"\r\n" == data
    p.quit()

    # On the wire: each line starting with '.' gets one more.
    r = Raw(server.pop3s_port, tls=True)
    r.login(user)
    assert r.cmd("RETR 1") == f"+OK {len(data)} octets\r\n".encode()
    wire = r.multi()
    assert b"\r\n...starts with a dot\r\n" not in wire
    assert b"\r\n..starts with a dot\r\n...two dots\r\n..\r\nnormal . line\r\n.. \r\n.\r\n" in wire
    r.close()


def test_retr_large_message(server, user):
    line = b"x" * 70 + b"\r\n"
    parts = [b"From: a@example.com\r\nSubject: big\r\n\r\n"]
    n, total = 0, len(parts[0])
    while total < 2 * 1024 * 1024:
        parts.append(b"." + line if n % 997 == 0 else line)
        total += len(parts[-1])
        n += 1
    data = b"".join(parts)
    imap = Imap(server, user)
    imap.append(data)
    imap.close()

    # Implicit TLS, and STLS (where the TLS filter sits on the socket).
    for connect in (pop_tls, pop_stls):
        p = connect(server, user)
        assert p.list(1) == f"+OK 1 {len(data)}".encode()
        resp, lines, _ = p.retr(1)
        got = b"\r\n".join(lines) + b"\r\n"
        assert len(got) == len(data)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        p.quit()


def test_top(server, user):
    data = message("top", "l1\r\n.l2\r\nl3\r\nl4\r\n")
    header = data.split(b"\r\n\r\n")[0]
    imap = Imap(server, user)
    imap.append(data)
    imap.close()
    p = pop_tls(server, user)
    resp, lines, _ = p.top(1, 0)
    assert resp.startswith(b"+OK")
    assert b"\r\n".join(lines) == header + b"\r\n"
    resp, lines, _ = p.top(1, 2)
    assert b"\r\n".join(lines) == header + b"\r\n\r\nl1\r\n.l2"
    resp, lines, _ = p.top(1, 100)
    assert b"\r\n".join(lines) + b"\r\n" == data
    with pytest.raises(poplib.error_proto):
        p._longcmd("TOP 1")
    with pytest.raises(poplib.error_proto):
        p._longcmd("TOP 2 1")
    p.quit()
    # TOP does not mark the message \Seen; RETR does (at QUIT).
    imap = Imap(server, user)
    assert "\\Seen" not in list(imap.flags().values())[0]
    imap.close()


def test_dele_quit_removes_exactly_those(server, user):
    imap = Imap(server, user)
    uids = [imap.append(message(f"m{i}"))[1] for i in range(5)]
    # Deleted over IMAP but never DELE'd: listed, and stays.
    imap.c.uid("STORE", str(uids[4]), "+FLAGS", "(\\Deleted)")
    p = pop_tls(server, user)
    assert p.stat()[0] == 5
    assert p.dele(1).startswith(b"+OK")
    assert p.dele(3).startswith(b"+OK")
    assert p.stat()[0] == 3
    assert [x.split()[0] for x in p.list()[1]] == [b"2", b"4", b"5"]
    with pytest.raises(poplib.error_proto) as e:
        p.retr(1)
    assert "deleted" in err_text(e)
    with pytest.raises(poplib.error_proto):
        p.dele(1)
    p.retr(2)
    # IMAP does not see anything yet.
    assert sorted(imap.flags()) == uids
    resp = p.quit()
    assert resp.startswith(b"+OK") and b"2 messages deleted" in resp
    flags = imap.flags()
    assert sorted(flags) == [uids[1], uids[3], uids[4]]
    assert "\\Deleted" in flags[uids[4]]
    assert "\\Deleted" not in flags[uids[1]] and "\\Deleted" not in flags[uids[3]]
    assert "\\Seen" in flags[uids[1]], "RETR marks \\Seen"
    assert "\\Seen" not in flags[uids[3]]
    imap.close()


def test_dele_rset_removes_nothing(server, user):
    imap = Imap(server, user)
    uids = [imap.append(message(f"r{i}"))[1] for i in range(3)]
    p = pop_tls(server, user)
    size = p.stat()[1]
    p.dele(1)
    p.dele(2)
    assert p.stat()[0] == 1
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, size)
    assert p.quit().startswith(b"+OK")
    assert sorted(imap.flags()) == uids
    imap.close()


def test_dele_without_quit_removes_nothing(server, user):
    imap = Imap(server, user)
    uids = [imap.append(message(f"d{i}"))[1] for i in range(3)]
    r = Raw(server.pop3s_port, tls=True)
    r.login(user)
    assert r.cmd("DELE 1").startswith(b"+OK")
    assert r.cmd("DELE 2").startswith(b"+OK")
    r.close()
    # A new session (after the old one is surely gone) still sees them all.
    time.sleep(0.5)
    p = pop_tls(server, user)
    assert p.stat()[0] == 3
    p.quit()
    assert sorted(imap.flags()) == uids
    imap.close()


def test_quit_then_close_still_deletes(server, user):
    imap = Imap(server, user)
    uids = [imap.append(message(f"q{i}"))[1] for i in range(2)]
    r = Raw(server.pop3s_port, tls=True)
    r.login(user)
    r.send("DELE 1\r\nQUIT\r\n")
    r.close()
    deadline = time.time() + 10
    while time.time() < deadline and sorted(imap.flags()) != uids[1:]:
        time.sleep(0.1)
    assert sorted(imap.flags()) == uids[1:]
    imap.close()


def test_pipelining(server, user):
    imap = Imap(server, user)
    data = message("pipe")
    imap.append(data)
    imap.close()
    r = Raw(server.pop3s_port, tls=True)
    r.send(f"USER {user}\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 1\r\nLIST\r\nBOGUS\r\nUIDL 1\r\n"
           "NOOP\r\n")
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK Logged in")
    assert r.line() == f"+OK 1 {len(data)}\r\n".encode()
    assert r.line().startswith(b"+OK")
    assert r.multi() == data + b".\r\n"
    assert r.line().startswith(b"+OK 1 messages")
    assert r.multi() == f"1 {len(data)}\r\n.\r\n".encode()
    assert r.line().startswith(b"-ERR")
    assert r.line().startswith(b"+OK 1 ")
    assert r.line().startswith(b"+OK")
    r.close()


def test_bad_commands_keep_the_session(server, user):
    imap = Imap(server, user)
    imap.append(message("bad"))
    imap.close()
    r = Raw(server.pop3s_port, tls=True)
    assert r.cmd("HELLO").startswith(b"-ERR Unknown command")
    assert r.cmd("").startswith(b"-ERR")
    assert r.cmd("STAT").startswith(b"-ERR STAT is not allowed before login")
    assert r.cmd("APOP x y").startswith(b"-ERR")
    r.login(user)
    assert r.cmd("USER again").startswith(b"-ERR USER is not allowed after login")
    assert r.cmd("RETR").startswith(b"-ERR")
    assert r.cmd("RETR x").startswith(b"-ERR Invalid message number")
    assert r.cmd("RETR 0").startswith(b"-ERR No such message")
    assert r.cmd("RETR 2").startswith(b"-ERR No such message")
    assert r.cmd("LIST 99999999999999999999").startswith(b"-ERR")
    assert r.cmd("TOP 1 x").startswith(b"-ERR")
    assert r.cmd("STAT extra").startswith(b"-ERR")
    assert r.cmd("NO\0OP").startswith(b"-ERR")
    assert r.cmd("X" * 20000).startswith(b"-ERR Line too long")
    assert r.cmd("stat").startswith(b"+OK 1 "), "case-insensitive, still alive"
    r.close()


def test_too_many_bad_commands_close(loose, luser):
    r = Raw(loose.pop3_port)
    r.send("BOGUS\r\n" * 25)
    out = r.wait_closed()
    assert out.count(b"-ERR Unknown command") == 20
    assert b"Too many bad commands" in out


def test_line_length_limit(loose, luser):
    r = Raw(loose.pop3_port)
    assert r.cmd("USER " + "a" * 600).startswith(b"-ERR Line too long (at most 512")
    r.login(luser)
    assert r.cmd("STAT").startswith(b"+OK")
    r.close()


def test_autologout_drops_deletions(loose, luser):
    imap = Imap(loose, luser)
    uid = imap.append(message("auto"))[1]
    r = Raw(loose.pop3_port)
    r.login(luser)
    assert r.cmd("DELE 1").startswith(b"+OK")
    t0 = time.time()
    out = r.wait_closed(timeout=20)
    assert out == b"", "RFC 1939: closed without a response"
    assert time.time() - t0 < 15
    assert sorted(imap.flags()) == [uid]
    imap.close()


def test_account_connection_limit(loose, luser):
    sessions = []
    for _ in range(2):
        r = Raw(loose.pop3_port)
        r.login(luser)
        sessions.append(r)
    r = Raw(loose.pop3_port)
    assert r.cmd(f"USER {luser}").startswith(b"+OK")
    assert r.cmd(f"PASS {PASSWORD}").startswith(b"-ERR [IN-USE]")
    sessions.pop().cmd("QUIT")
    time.sleep(0.3)
    assert r.cmd(f"USER {luser}").startswith(b"+OK")
    assert r.cmd(f"PASS {PASSWORD}").startswith(b"+OK")
    for s in sessions + [r]:
        s.close()


def test_address_connection_limit(loose):
    time.sleep(0.5)
    conns = [Raw(loose.pop3_port) for _ in range(6)]
    assert all(c.greeting.startswith(b"+OK") for c in conns)
    extra = socket.create_connection(("127.0.0.1", loose.pop3_port), timeout=10)
    out = b""
    while not out.endswith(b"\r\n"):
        chunk = extra.recv(1024)
        if not chunk:
            break
        out += chunk
    assert out.startswith(b"-ERR [SYS/TEMP] Too many connections")
    extra.close()
    for c in conns:
        c.close()


def test_concurrent_sessions_own_snapshots(server, user):
    imap = Imap(server, user)
    uids = [imap.append(message(f"c{i}"))[1] for i in range(2)]
    a = pop_tls(server, user)
    b = pop_tls(server, user)
    a.dele(1)
    assert a.quit().startswith(b"+OK")
    # b still lists it, but cannot read it any more.
    assert b.stat()[0] == 2
    with pytest.raises(poplib.error_proto) as e:
        b.retr(1)
    assert "removed by another session" in err_text(e)
    b.retr(2)
    b.dele(1)  # already gone: nothing more is removed
    assert b.quit().startswith(b"+OK")
    assert sorted(imap.flags()) == uids[1:]
    # A message delivered meanwhile is not in an older snapshot.
    c = pop_tls(server, user)
    imap.append(message("late"))
    assert c.stat()[0] == 1
    c.quit()
    imap.close()


# ---------------------------------------------------------------------------
# The database going away, and shutting down


def test_database_down_and_shutdown():
    cluster = floe.PgCluster()
    srv = floe.Floed(None, cluster, workers=1,
                     config={"imap": {"allow_plaintext_auth": "yes"}, "auth": AUTH,
                             "pop3": {"allow_plaintext_auth": "yes"},
                             "db": {"query_timeout": "3s"}})
    srv.enable("pop3")
    srv.start()
    try:
        u = new_user(srv, new_domain(srv))
        imap = Imap(srv, u)
        uid = imap.append(message("db"))[1]
        imap.close()
        r = Raw(srv.pop3_port)
        r.login(u)
        assert r.cmd("DELE 1").startswith(b"+OK")
        cluster.stop()
        # Reading and the UPDATE state fail with [SYS/TEMP]; a new login too.
        r2 = Raw(srv.pop3_port)
        assert r2.cmd(f"USER {u}").startswith(b"+OK")
        assert r2.cmd(f"PASS {PASSWORD}").startswith(b"-ERR [SYS/TEMP]")
        assert r2.cmd("QUIT").startswith(b"+OK")
        assert r.cmd("RSET").startswith(b"+OK")
        assert r.cmd("RETR 1").startswith(b"-ERR [SYS/TEMP]")
        assert r.cmd("DELE 1").startswith(b"+OK")
        assert r.cmd("QUIT").startswith(b"-ERR [SYS/TEMP]")
        assert r.wait_closed() == b""
        cluster.start()
        deadline = time.time() + 20
        while True:
            try:
                imap = Imap(srv, u)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        assert sorted(imap.flags()) == [uid], "nothing removed"
        assert "\\Deleted" not in imap.flags()[uid]
        imap.close()
        # Graceful shutdown: a waiting session is told.
        r = Raw(srv.pop3_port)
        r.login(u)
        srv.proc.send_signal(15)
        out = r.wait_closed()
        assert out == b"-ERR [SYS/TEMP] Server shutting down\r\n"
        assert srv.proc.wait(timeout=20) == 0
    finally:
        srv.stop()
        cluster.stop()

"""The IMAP session against a real floed and PostgreSQL: greeting and
capabilities, STARTTLS (and the cleartext it must discard), implicit TLS,
LOGINDISABLED, LOGIN and AUTHENTICATE (PLAIN and LOGIN, SASL-IR), delayed
failures and lockout, LIST/LSUB (special use, LIST-EXTENDED, LIST-STATUS),
CREATE/RENAME/DELETE/SUBSCRIBE with modified UTF-7 and UTF8=ACCEPT names,
SELECT/EXAMINE (CONDSTORE, QRESYNC), STATUS, ENABLE, ID, NAMESPACE, bad
commands, oversized literals, IDLE (woken by other sessions, also on the
other worker, keepalive), COMPRESS=DEFLATE, CLOSE, connection and rate
limits, autologout and the BYE of a graceful shutdown.

Python's imaplib is used where it fits; a small raw client elsewhere, so
that exact responses, literals and pipelining can be checked."""

import base64
import imaplib
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import uuid
import zlib

import pytest

import floe

PASSWORD = "imap1 secret"
HAVE_APPEND = os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", "imapx",
                                          "cmd-append.c"))
needs_append = pytest.mark.skipif(not HAVE_APPEND, reason="imapx/cmd-append.c (APPEND) is absent")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(subject="Hello", body="Hi there.\r\n"):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"\r\n{body}").encode()


class Raw:
    """A raw IMAP client over a socket (optionally TLS or compressed)."""

    def __init__(self, port, tls=False, user=None, password=PASSWORD, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.n = 0
        self.inflate = self.deflate = None
        self.greeting = self.line()
        if user:
            st, _, line = self.cmd(f'LOGIN "{user}" "{password}"')
            assert st == "OK", line

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        if self.inflate is not None:
            chunk = self.inflate.decompress(chunk)
        self.buf += chunk

    def line(self):
        """One response line (a literal's bytes included)."""
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        m = re.search(rb"\{(\d+)\}\r\n$", out)
        if m:
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += self.buf[:size]
            self.buf = self.buf[size:]
            out += self.line()
        return out

    def wait_closed(self, timeout=5):
        """Reads until the server closes; returns what came."""
        self.sock.settimeout(timeout)
        out = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return out
                out += chunk
        except (ConnectionError, ssl.SSLError):
            return out

    def tag(self):
        self.n += 1
        return f"a{self.n}"

    def cmd(self, text):
        """Sends one command; returns (status, [untagged lines], tagged line)."""
        if isinstance(text, str):
            text = text.encode()
        tag = self.tag()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.result(tag)

    def result(self, tag):
        untagged = []
        while True:
            resp = self.line()
            if resp.startswith(tag.encode() + b" "):
                line = resp.decode(errors="replace").rstrip("\r\n")
                return line.split(" ")[1], untagged, line
            untagged.append(resp)

    def ok(self, text):
        st, untagged, line = self.cmd(text)
        assert st == "OK", line
        return untagged, line


# ---------------------------------------------------------------------------
# Servers and users


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


def new_user(server, domain):
    address = f"u{uuid.uuid4().hex[:10]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


def new_domain(server):
    name = f"s{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


@pytest.fixture(scope="module")
def server(pg):
    """Plain-text login allowed; a short IDLE keepalive."""
    srv = floe.Floed(None, pg, workers=2,
                     config={"imap": {"allow_plaintext_auth": "yes", "idle_keepalive": "1s"}})
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
def strict(pg):
    """The production default: no plain-text login without TLS; an implicit
    TLS listener too."""
    tls_port = floe.free_port()
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"listen_tls": f"127.0.0.1:{tls_port}"}})
    srv.imap_tls_port = tls_port
    srv.start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------
# Greeting, capabilities, TLS, authentication


BASE_CAPS = ("IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT "
             "CONDSTORE QRESYNC ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS SPECIAL-USE CHILDREN "
             "COMPRESS=DEFLATE STATUS=SIZE MULTIAPPEND SORT OBJECTID BINARY UTF8=ACCEPT "
             "ACL RIGHTS=texk METADATA METADATA-SERVER").split()


def caps_of(line):
    m = re.search(rb"CAPABILITY ([^\]\r\n]*)", line)
    assert m, line
    return m.group(1).decode().split()


def test_greeting_and_capability(server):
    c = Raw(server.imap_port)
    assert re.match(rb"\* OK \[CAPABILITY [^\]]+\] Floe ready\r\n$", c.greeting), c.greeting
    caps = caps_of(c.greeting)
    for cap in BASE_CAPS + ["AUTH=PLAIN", "AUTH=LOGIN", "STARTTLS"]:
        assert cap in caps, cap
    assert any(cap.startswith("APPENDLIMIT=") for cap in caps)
    assert "LOGINDISABLED" not in caps
    assert "X-ICEWARP-SERVER" not in caps
    untagged, _ = c.ok("CAPABILITY")
    assert caps_of(untagged[0]) == caps
    untagged, _ = c.ok("LOGOUT")
    assert untagged[0].startswith(b"* BYE")
    assert c.wait_closed() == b""


def test_logindisabled_then_starttls(strict, pg):
    c = Raw(strict.imap_port)
    caps = caps_of(c.greeting)
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert not any(cap.startswith("AUTH=") for cap in caps)
    st, _, line = c.cmd('LOGIN "x@y" "z"')
    assert st == "NO" and "[PRIVACYREQUIRED]" in line
    st, _, line = c.cmd("AUTHENTICATE PLAIN " + base64.b64encode(b"\0x@y\0z").decode())
    assert st == "NO" and "[PRIVACYREQUIRED]" in line
    c.close()

    address = new_user(strict, new_domain(strict))
    m = imaplib.IMAP4("127.0.0.1", strict.imap_port)
    assert "LOGINDISABLED" in m.capabilities
    m.starttls(ssl_context=tls_context())
    assert "LOGINDISABLED" not in m.capabilities and "STARTTLS" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    typ, _ = m.login(address, PASSWORD)
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_starttls_discards_pipelined_cleartext(strict):
    c = Raw(strict.imap_port)
    # Injected after STARTTLS in the same packet: must never run.
    c.send(b"a1 STARTTLS\r\nx1 CAPABILITY\r\nx2 LOGOUT\r\n")
    assert c.line().startswith(b"a1 OK")
    c.sock = tls_context().wrap_socket(c.sock)
    c.buf = b""
    c.n = 1
    untagged, line = c.ok("NOOP")
    assert untagged == [] and line.startswith("a2 OK")
    untagged, _ = c.ok("CAPABILITY")
    caps = caps_of(untagged[0])
    assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps
    st, _, _ = c.cmd("STARTTLS")
    assert st == "BAD"
    c.close()


def test_implicit_tls(strict):
    address = new_user(strict, new_domain(strict))
    c = Raw(strict.imap_tls_port, tls=True)
    caps = caps_of(c.greeting)
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
    _, line = c.ok(f'LOGIN "{address}" "{PASSWORD}"')
    assert "[CAPABILITY " in line
    c.ok("SELECT INBOX")
    c.close()
    m = imaplib.IMAP4_SSL("127.0.0.1", strict.imap_tls_port, ssl_context=tls_context())
    assert m.login(address, PASSWORD)[0] == "OK"
    m.logout()


def test_login_and_authenticate(server, user):
    c = Raw(server.imap_port)
    # LOGIN with quoted and literal arguments
    c.send(b'a1 LOGIN {%d}\r\n' % len(user))
    assert c.line().startswith(b"+")
    c.send(user.encode() + b' "' + PASSWORD.encode() + b'"\r\n')
    st, _, line = c.result("a1")
    assert st == "OK" and "[CAPABILITY " in line and "AUTH=PLAIN" not in line
    st, _, line = c.cmd(f'LOGIN "{user}" "{PASSWORD}"')
    assert st == "BAD"
    c.close()

    # AUTHENTICATE PLAIN with SASL-IR
    c = Raw(server.imap_port)
    ir = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
    st, _, line = c.cmd(f"AUTHENTICATE PLAIN {ir}")
    assert st == "OK", line
    c.ok("SELECT INBOX")
    c.close()

    # AUTHENTICATE PLAIN without initial response, with an authzid
    c = Raw(server.imap_port)
    c.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert c.line() == b"+ \r\n"
    c.send(base64.b64encode(f"{user}\0{user}\0{PASSWORD}".encode()) + b"\r\n")
    st, _, line = c.result("a1")
    assert st == "OK", line
    c.close()

    # AUTHENTICATE LOGIN
    c = Raw(server.imap_port)
    c.send(b"a1 AUTHENTICATE LOGIN\r\n")
    assert base64.b64decode(c.line()[2:].strip()) == b"Username:"
    c.send(base64.b64encode(user.encode()) + b"\r\n")
    assert base64.b64decode(c.line()[2:].strip()) == b"Password:"
    c.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    st, _, line = c.result("a1")
    assert st == "OK", line
    c.close()

    # cancel, bad base64, unknown mechanism; the session goes on
    c = Raw(server.imap_port)
    c.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert c.line().startswith(b"+")
    c.send(b"*\r\n")
    assert c.result("a1")[0] == "BAD"
    st, _, _ = c.cmd("AUTHENTICATE PLAIN !!notbase64!!")
    assert st == "BAD"
    st, _, _ = c.cmd("AUTHENTICATE CRAM-MD5")
    assert st == "NO"
    c.ok("NOOP")
    # imaplib's own AUTHENTICATE
    c.close()
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    typ, _ = m.authenticate("PLAIN", lambda _: f"\0{user}\0{PASSWORD}".encode())
    assert typ == "OK"
    m.logout()


def test_wrong_password_delay_and_lockout(pg):
    """Failures are delayed by failure_delay; after max_failures even the right
    password is refused for the lockout time. A database of its own, since
    locks are shared through the database."""
    dbname = "imaplock" + uuid.uuid4().hex[:8]
    pg.create_database(dbname)
    srv = floe.Floed(None, pg, workers=1, db_url=pg.url_for(dbname),
                     config={"imap": {"allow_plaintext_auth": "yes"},
                             "auth": {"max_failures": "3", "failure_delay": "200ms",
                                      "lockout": "3s"}})
    srv.start()
    try:
        address = new_user(srv, new_domain(srv))
        c = Raw(srv.imap_port)
        for i in range(3):
            t0 = time.time()
            st, _, line = c.cmd(f'LOGIN "{address}" "wrong{i}"')
            assert st == "NO" and "[AUTHENTICATIONFAILED]" in line, line
            assert time.time() - t0 >= 0.18
        st, _, line = c.cmd(f'LOGIN "{address}" "{PASSWORD}"')
        assert st == "NO" and "[AUTHENTICATIONFAILED]" in line, line
        c.ok("NOOP")
        c.close()
        time.sleep(3.5)
        c = Raw(srv.imap_port, user=address)
        c.close()
    finally:
        srv.stop()


def test_disconnect_while_waiting(server, user):
    """A client that goes away while its command waits (a delayed failed
    login, a SELECT in flight, IDLE) is cleaned up; the workers live on."""
    pids = server.worker_pids()
    # One failure only: failures from 127.0.0.1 count in the shared database.
    c = Raw(server.imap_port)
    c.send(f'a1 LOGIN "{user}" "wrong"\r\n'.encode())
    c.close()
    for _ in range(3):
        c = Raw(server.imap_port, user=user)
        c.send(b"a1 SELECT INBOX\r\na2 IDLE\r\n")
        c.close()
        c = Raw(server.imap_port)
        c.send(b"a1 AUTHENTICATE PLAIN\r\n")
        c.close()
    time.sleep(2.5)
    assert server.worker_pids() == pids
    Raw(server.imap_port, user=user).ok("NOOP")


# ---------------------------------------------------------------------------
# Mailboxes


def list_names(untagged, verb=b"LIST"):
    """{name: attributes} of the LIST/LSUB responses."""
    out = {}
    for r in untagged:
        m = re.match(rb'\* ' + verb + rb' \(([^)]*)\) "/" (.*)\r\n$', r)
        if m:
            name = m.group(2)
            if name.startswith(b'"'):
                name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
            out[name.decode()] = m.group(1).decode().split()
    return out


def test_list_default_folders_and_special_use(server, user):
    c = Raw(server.imap_port, user=user)
    untagged, _ = c.ok('LIST "" ""')
    assert untagged == [b'* LIST (\\Noselect) "/" ""\r\n']
    untagged, _ = c.ok('LIST "" "*"')
    names = list_names(untagged)
    for name in ["INBOX", "Sent", "Drafts", "Trash", "Spam"]:
        assert name in names, names
    assert "\\Sent" in names["Sent"] and "\\Drafts" in names["Drafts"]
    assert "\\Trash" in names["Trash"] and "\\Junk" in names["Spam"]
    assert "\\HasNoChildren" in names["INBOX"]
    # case-insensitive INBOX, % and patterns
    untagged, _ = c.ok('LIST "" "inbox"')
    assert list(list_names(untagged)) == ["INBOX"]
    untagged, _ = c.ok('LIST "" "Dr%"')
    assert list(list_names(untagged)) == ["Drafts"]
    # LIST-EXTENDED: selection SPECIAL-USE, several patterns, RETURN
    untagged, _ = c.ok('LIST (SPECIAL-USE) "" "*"')
    assert set(list_names(untagged)) >= {"Sent", "Drafts", "Trash", "Spam"}
    assert "INBOX" not in list_names(untagged)
    untagged, _ = c.ok('LIST "" ("INBOX" "Sent") RETURN (CHILDREN SPECIAL-USE SUBSCRIBED)')
    assert set(list_names(untagged)) == {"INBOX", "Sent"}
    # LIST-STATUS
    untagged, _ = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN SIZE))')
    statuses = [r for r in untagged if r.startswith(b"* STATUS")]
    assert len(statuses) == len(list_names(untagged))
    assert any(re.match(rb"\* STATUS INBOX \(MESSAGES 0 UIDNEXT \d+ UNSEEN 0 SIZE 0\)", r)
               for r in statuses), statuses
    st, _, _ = c.cmd('LIST (BOGUS) "" "*"')
    assert st == "BAD"
    # imaplib agrees
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(user, PASSWORD)
    typ, data = m.list()
    assert typ == "OK" and any(b'"INBOX"' in d or d.endswith(b" INBOX") for d in data)
    m.logout()
    c.close()


def test_create_rename_delete_subscribe(server, user):
    c = Raw(server.imap_port, user=user)
    c.ok('CREATE "Work/Projects/"')
    untagged, _ = c.ok('LIST "" "Work*"')
    names = list_names(untagged)
    assert "\\HasChildren" in names["Work"] and "\\HasNoChildren" in names["Work/Projects"]
    st, _, line = c.cmd("CREATE Work")
    assert st == "NO" and "[ALREADYEXISTS]" in line
    st, _, line = c.cmd("CREATE INBOX")
    assert st == "NO"
    c.ok("CREATE Old (USE (\\Archive))")
    untagged, _ = c.ok('LIST "" "Old"')
    assert "\\Archive" in list_names(untagged)["Old"]
    st, _, line = c.cmd("CREATE Bad (USE (\\Bogus))")
    assert st == "NO" and "[USEATTR]" in line
    c.ok("RENAME Work Job")
    untagged, _ = c.ok('LIST "" "*"')
    names = list_names(untagged)
    assert "Job/Projects" in names and "Work" not in names and "Work/Projects" not in names
    st, _, line = c.cmd("RENAME Nothing Else")
    assert st == "NO" and "[NONEXISTENT]" in line
    st, _, line = c.cmd("RENAME Job Sent")
    assert st == "NO" and "[ALREADYEXISTS]" in line
    c.ok("SUBSCRIBE Job")
    c.ok("SUBSCRIBE Ghost")
    untagged, _ = c.ok('LSUB "" "*"')
    lsub = list_names(untagged, b"LSUB")
    assert "Job" in lsub and "Ghost" in lsub and "\\Noselect" in lsub["Ghost"]
    untagged, _ = c.ok('LIST (SUBSCRIBED) "" "*"')
    names = list_names(untagged)
    assert "\\Subscribed" in names["Job"] and "\\NonExistent" in names["Ghost"]
    untagged, _ = c.ok('LIST "" "*" RETURN (SUBSCRIBED)')
    assert "\\Subscribed" in list_names(untagged)["Job"]
    c.ok("UNSUBSCRIBE Job")
    untagged, _ = c.ok('LSUB "" "Job"')
    assert list_names(untagged, b"LSUB") == {}
    c.ok("DELETE Job/Projects")
    c.ok("DELETE Job")
    st, _, line = c.cmd("DELETE Job")
    assert st == "NO" and "[NONEXISTENT]" in line
    st, _, line = c.cmd("DELETE INBOX")
    assert st == "NO"
    c.close()


def test_utf7_and_utf8_names(server, user):
    c = Raw(server.imap_port, user=user)
    c.ok('CREATE "&AMk-t&AOk-"')  # Été
    untagged, _ = c.ok('LIST "" "&AMk-*"')
    assert list(list_names(untagged)) == ["&AMk-t&AOk-"]
    # malformed modified UTF-7: BAD, and the connection stays
    for bad in ['"&Jjo"', '"&AGE-"', '"a&"']:
        st, _, line = c.cmd(f"CREATE {bad}")
        assert st == "BAD", line
    c.ok("NOOP")
    untagged, _ = c.ok("ENABLE UTF8=ACCEPT")
    assert untagged == [b"* ENABLED UTF8=ACCEPT\r\n"]
    untagged, _ = c.ok('LIST "" "*t*"')
    assert "Été" in list_names(untagged)
    c.ok('CREATE "Über"')
    c.ok('SELECT "Über"')
    c.close()
    c = Raw(server.imap_port, user=user)
    untagged, _ = c.ok('LIST "" "&ANw-ber"')
    assert list(list_names(untagged)) == ["&ANw-ber"]
    c.close()


def select_info(untagged):
    text = b"".join(untagged).decode(errors="replace")
    info = {}
    for key in ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ", "UNSEEN"):
        m = re.search(r"\[" + key + r" (\d+)\]", text)
        if m:
            info[key] = int(m.group(1))
    m = re.search(r"\* (\d+) EXISTS", text)
    info["EXISTS"] = int(m.group(1)) if m else None
    info["text"] = text
    return info


def test_select_examine_status(server, user):
    c = Raw(server.imap_port, user=user)
    untagged, line = c.ok("SELECT INBOX")
    info = select_info(untagged)
    assert "[READ-WRITE]" in line
    assert info["EXISTS"] == 0 and info["UIDVALIDITY"] > 0 and info["HIGHESTMODSEQ"] >= 1
    assert info["UIDNEXT"] >= 1
    assert "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" in info["text"]
    assert "[PERMANENTFLAGS (" in info["text"] and "\\*)]" in info["text"]
    assert "* 0 RECENT" in info["text"]
    c.close()
    c = Raw(server.imap_port, user=user)
    untagged, line = c.ok("EXAMINE inbox")
    again = select_info(untagged)
    assert "[READ-ONLY]" in line and again["UIDVALIDITY"] == info["UIDVALIDITY"]
    assert "[PERMANENTFLAGS ()]" in again["text"]
    st, _, line = c.cmd("SELECT Nope")
    assert st == "NO" and "[NONEXISTENT]" in line
    # a failed SELECT leaves no mailbox selected
    st, _, line = c.cmd("CHECK")
    assert st == "BAD"
    untagged, line = c.ok("SELECT INBOX (CONDSTORE)")
    assert "HIGHESTMODSEQ" in select_info(untagged)["text"]
    st, _, _ = c.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert st == "BAD"  # QRESYNC not enabled
    c.ok("UNSELECT")
    st, _, _ = c.cmd("UNSELECT")
    assert st == "BAD"
    untagged, _ = c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE "
                       "DELETED RECENT)")
    m = re.match(rb"\* STATUS INBOX \(MESSAGES 0 UIDNEXT (\d+) UIDVALIDITY (\d+) UNSEEN 0 "
                 rb"HIGHESTMODSEQ (\d+) SIZE 0 DELETED 0 RECENT 0\)", untagged[0])
    assert m, untagged
    assert int(m.group(2)) == info["UIDVALIDITY"] and int(m.group(3)) >= 1
    st, _, line = c.cmd("STATUS Nope (MESSAGES)")
    assert st == "NO" and "[NONEXISTENT]" in line
    st, _, _ = c.cmd("STATUS INBOX (BOGUS)")
    assert st == "BAD"
    c.close()


def test_enable_id_namespace(server, user):
    c = Raw(server.imap_port)
    untagged, _ = c.ok('ID ("name" "pytest" "version" "1")')
    assert untagged[0].startswith(b'* ID ("name" "Floe"')
    c.ok("ID NIL")
    assert c.cmd('ID ("odd")')[0] == "BAD"
    assert c.cmd("ENABLE CONDSTORE")[0] == "BAD"  # not authenticated
    c.ok(f'LOGIN "{user}" "{PASSWORD}"')
    untagged, _ = c.ok("NAMESPACE")
    assert untagged == [b'* NAMESPACE (("" "/")) (("~" "/")) NIL\r\n']
    untagged, _ = c.ok("ENABLE QRESYNC X-UNKNOWN")
    assert untagged == [b"* ENABLED CONDSTORE QRESYNC\r\n"]
    untagged, _ = c.ok("ENABLE CONDSTORE")
    assert untagged == [b"* ENABLED\r\n"]
    untagged, _ = c.ok("ENABLE IMAP4rev2")
    assert untagged == [b"* ENABLED IMAP4rev2\r\n"]
    untagged, _ = c.ok("SELECT INBOX")
    text = b"".join(untagged)
    assert b"RECENT" not in text and b'* LIST () "/" INBOX' in text
    assert c.cmd("ENABLE")[0] == "BAD"
    c.close()


# ---------------------------------------------------------------------------
# Bad input and limits


def test_bad_commands_keep_the_connection(server, user):
    c = Raw(server.imap_port, user=user)
    for text in ["FOO", "SELECT", "LOGIN a b", 'SELECT "unterminated', "FETCH 1 (FLAGS)",
                 "UID NOOP", "LIST \"\" (", "CREATE (x)", "STATUS INBOX MESSAGES"]:
        st, _, line = c.cmd(text)
        assert st == "BAD", (text, line)
    c.send(b")\r\n")
    assert c.line().startswith(b"* BAD") or True
    c.ok("NOOP")
    c.close()


def test_too_many_bad_commands_bye(server):
    c = Raw(server.imap_port)
    c.send(b"".join(b"x%d BOGUS\r\n" % i for i in range(25)))
    out = c.wait_closed()
    assert out.count(b" BAD ") == 20 and b"* BYE" in out, out


def test_oversized_literal_refused_unread(server, user):
    c = Raw(server.imap_port, user=user)
    # synchronizing: refused before the client sends it
    c.send(b"a1 SUBSCRIBE {100000}\r\n")
    resp = c.line()
    assert resp.startswith(b"a1 BAD") and b"TOOBIG" in resp, resp
    c.ok("NOOP")
    # non-synchronizing: its bytes are thrown away, never run as commands
    payload = b"z1 CAPABILITY\r\nz2 LOGOUT\r\n" * 4000
    c.send(b"a2 SUBSCRIBE {%d+}\r\n" % len(payload) + payload + b"\r\na3 NOOP\r\n")
    resp = c.line()
    assert resp.startswith(b"a2 BAD") and b"TOOBIG" in resp, resp
    resp = c.line()
    assert resp.startswith(b"a3 OK"), resp
    # APPEND over APPENDLIMIT: NO [TOOBIG]
    c.send(b"a4 APPEND INBOX {999999999}\r\n")
    resp = c.line()
    assert resp.startswith(b"a4 NO [TOOBIG]"), resp
    c.ok("NOOP")
    # an over-long command line
    c.send(b"a5 NOOP " + b"x" * 70000 + b"\r\n")
    c.n = 5
    resp = c.line()
    assert resp.startswith(b"a5 BAD [TOOBIG]") or resp.startswith(b"* BAD [TOOBIG]"), resp
    c.ok("NOOP")
    c.close()


@pytest.fixture(scope="module")
def limited(pg):
    srv = floe.Floed(None, pg, workers=1,
                     config={"imap": {"allow_plaintext_auth": "yes", "max_connections_per_ip": "4",
                                      "max_connections_per_account": "2",
                                      "commands_per_second": "10", "autologout": "2s"}})
    srv.start()
    yield srv
    srv.stop()


def test_connection_limits(limited):
    address = new_user(limited, new_domain(limited))
    a = Raw(limited.imap_port, user=address)
    b = Raw(limited.imap_port, user=address)
    c = Raw(limited.imap_port)
    st, _, line = c.cmd(f'LOGIN "{address}" "{PASSWORD}"')
    assert st == "NO" and "[LIMIT]" in line, line
    d = Raw(limited.imap_port)
    e = socket.create_connection(("127.0.0.1", limited.imap_port), timeout=5)
    data = e.recv(4096)
    assert data.startswith(b"* BYE [LIMIT]"), data
    e.close()
    b.ok("LOGOUT")
    b.close()
    time.sleep(0.2)
    c.ok(f'LOGIN "{address}" "{PASSWORD}"')
    for x in (a, c, d):
        x.close()


def test_rate_limit_delays_not_drops(limited):
    c = Raw(limited.imap_port)
    t0 = time.time()
    c.send(b"".join(b"n%d NOOP\r\n" % i for i in range(30)))
    for i in range(30):
        assert c.line().startswith(b"n%d OK" % i)
    # 10 at once, then 10 a second
    assert time.time() - t0 >= 1.5
    c.close()


def test_autologout(limited):
    c = Raw(limited.imap_port)
    out = c.wait_closed(timeout=10)
    assert b"* BYE" in out and b"utologout" in out, out


def test_shutdown_sends_bye(pg):
    srv = floe.Floed(None, pg, workers=1, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    address = new_user(srv, new_domain(srv))
    idle = Raw(srv.imap_port)
    busy = Raw(srv.imap_port, user=address)
    busy.ok("SELECT INBOX")
    busy.send(b"i1 IDLE\r\n")
    assert busy.line().startswith(b"+")
    result = {}
    t = threading.Thread(target=lambda: result.update(code=srv.stop()))
    t.start()
    assert b"* BYE Server shutting down" in idle.wait_closed(timeout=10)
    assert b"* BYE Server shutting down" in busy.wait_closed(timeout=10)
    t.join(30)
    assert result.get("code") == 0


# ---------------------------------------------------------------------------
# COMPRESS, IDLE, CLOSE, QRESYNC


def test_compress_deflate(server, user):
    c = Raw(server.imap_port, user=user)
    c.ok("COMPRESS DEFLATE")
    c.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    c.inflate = zlib.decompressobj(-15)
    untagged, _ = c.ok("CAPABILITY")
    assert "COMPRESS=DEFLATE" not in caps_of(untagged[0])
    untagged, _ = c.ok('LIST "" "*"')
    assert "INBOX" in list_names(untagged)
    st, _, line = c.cmd("COMPRESS DEFLATE")
    assert st == "NO" and "COMPRESSIONACTIVE" in line
    c.ok("SELECT INBOX")
    untagged, _ = c.ok("LOGOUT")
    assert untagged[0].startswith(b"* BYE")
    c.close()


def append(c, mailbox, data, flags=""):
    tag = c.tag()
    c.send(f"{tag} APPEND {mailbox} {flags}{{{len(data)}}}\r\n".encode())
    assert c.line().startswith(b"+")
    c.send(data + b"\r\n")
    st, untagged, line = c.result(tag)
    assert st == "OK", line
    return untagged


def read_until(c, pattern, timeout=5):
    """Reads lines until one matches pattern; returns (line, seconds)."""
    t0 = time.time()
    c.sock.settimeout(timeout)
    while True:
        line = c.line()
        if re.search(pattern, line):
            return line, time.time() - t0


def worker_of(port, sock):
    """pid of the floed worker holding the server side of sock."""
    local = sock.getsockname()[1]
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if f":{local} " in line + " ":
            m = re.search(r"pid=(\d+)", line)
            if m:
                return int(m.group(1))
    return None


@needs_append
def test_idle_woken_by_other_session(server, user):
    a = Raw(server.imap_port, user=user)
    b = Raw(server.imap_port, user=user)
    a.ok("SELECT INBOX")
    a.send(b"i1 IDLE\r\n")
    assert a.line() == b"+ idling\r\n"
    time.sleep(0.2)
    t0 = time.time()
    append(b, "INBOX", message())
    line, _ = read_until(a, rb"^\* 1 EXISTS")
    assert time.time() - t0 < 1.0
    # flag change by the other session
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    line, _ = read_until(a, rb"^\* 1 FETCH")
    assert b"\\Flagged" in line
    # keepalive (idle_keepalive = 1s)
    read_until(a, rb"^\* OK Still here", timeout=3)
    a.send(b"DONE\r\n")
    st, _, line = a.result("i1")
    assert st == "OK"
    a.close()
    b.close()


@needs_append
def test_idle_reports_changes_before_it_started(server, user):
    a = Raw(server.imap_port, user=user)
    b = Raw(server.imap_port, user=user)
    a.ok("SELECT INBOX")
    append(b, "INBOX", message())
    append(b, "INBOX", message())
    # No NOOP in between: IDLE itself must report them.
    a.send(b"i1 IDLE\r\n")
    assert a.line() == b"+ idling\r\n"
    read_until(a, rb"^\* 2 EXISTS", timeout=3)
    a.send(b"DONE\r\n")
    assert a.result("i1")[0] == "OK"
    a.close()
    b.close()


@needs_append
def test_idle_across_workers(server, user):
    conns = [Raw(server.imap_port, user=user) for _ in range(8)]
    by_worker = {}
    for c in conns:
        by_worker.setdefault(worker_of(server.imap_port, c.sock), []).append(c)
    workers = [w for w in by_worker if w is not None]
    if len(workers) < 2:
        pytest.skip(f"all connections landed on one worker: {list(by_worker)}")
    a, b = by_worker[workers[0]][0], by_worker[workers[1]][0]
    a.ok("SELECT INBOX")
    a.send(b"i1 IDLE\r\n")
    assert a.line() == b"+ idling\r\n"
    time.sleep(0.2)
    t0 = time.time()
    append(b, "INBOX", message())
    read_until(a, rb"^\* \d+ EXISTS")
    elapsed = time.time() - t0
    print(f"IDLE across workers: EXISTS {elapsed * 1000:.1f} ms after the APPEND was sent")
    assert elapsed < 1.0, elapsed
    a.send(b"DONE\r\n")
    assert a.result("i1")[0] == "OK"
    for c in conns:
        c.close()


@needs_append
def test_noop_sees_every_committed_change(server, user):
    """NOOP reports what another session (on any worker) committed before
    it, every time: no notice-driven shortcut may hide a change."""
    a = Raw(server.imap_port, user=user)
    b = Raw(server.imap_port, user=user)
    append(b, "INBOX", message("base"))
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    for i in range(10):
        append(b, "INBOX", message(f"r{i}"))
        untagged, _ = a.ok("NOOP")
        assert f"* {i + 2} EXISTS\r\n".encode() in untagged, (i, untagged)
        b.ok(f"STORE {i + 2} +FLAGS.SILENT (\\Flagged)")
        untagged, _ = a.ok("NOOP")
        assert any(re.match(rb"\* %d FETCH .*\\Flagged" % (i + 2), r) for r in untagged), \
            (i, untagged)
    a.close()
    b.close()


@needs_append
def test_noop_sees_change_made_while_notices_were_down(server, user, pg):
    """The change-notice connections are cut (pg_terminate_backend): a
    change made while no notice can arrive is still reported by NOOP, both
    at once and once the bus is back."""
    a = Raw(server.imap_port, user=user)
    b = Raw(server.imap_port, user=user)
    append(b, "INBOX", message("before"))
    a.ok("SELECT INBOX")
    untagged, _ = a.ok("NOOP")
    listening = server.log().count("notify: listening")
    # The listeners' last statement is LISTEN, or the empty barrier query
    # (notify_bus_sync) when one ran since.
    killed = pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE query ILIKE 'LISTEN%' OR (query = '' AND backend_type = 'client backend')")
    assert int(killed) >= 1
    append(b, "INBOX", message("during"))
    untagged, _ = a.ok("NOOP")
    assert b"* 2 EXISTS\r\n" in untagged, untagged
    append(b, "INBOX", message("still down?"))
    deadline = time.time() + 15
    while server.log().count("notify: listening") <= listening and time.time() < deadline:
        time.sleep(0.05)
    assert server.log().count("notify: listening") > listening, "the bus did not come back"
    untagged, _ = a.ok("NOOP")
    assert b"* 3 EXISTS\r\n" in untagged, untagged
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    untagged, _ = a.ok("NOOP")
    assert any(re.match(rb"\* 1 FETCH .*\\Seen", r) for r in untagged), untagged
    a.close()
    b.close()


@needs_append
def test_close_expunges_silently(server, user):
    c = Raw(server.imap_port, user=user)
    append(c, "INBOX", message("one"))
    append(c, "INBOX", message("two"))
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = c.ok("CLOSE")
    assert not any(b"EXPUNGE" in r for r in untagged), untagged
    assert c.cmd("NOOP")[0] == "OK"
    untagged, _ = c.ok("EXAMINE INBOX")
    assert select_info(untagged)["EXISTS"] == 1
    c.close()


@needs_append
def test_expunge_reported_at_noop_not_during_fetch(server, user):
    a = Raw(server.imap_port, user=user)
    b = Raw(server.imap_port, user=user)
    for i in range(3):
        append(a, "INBOX", message(f"m{i}"))
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    time.sleep(0.3)
    untagged, _ = a.ok("FETCH 1:3 (UID)")
    assert not any(b"EXPUNGE" in r for r in untagged)
    assert len([r for r in untagged if b" FETCH " in r]) >= 2
    untagged, _ = a.ok("NOOP")
    assert b"* 2 EXPUNGE\r\n" in untagged, untagged
    untagged, _ = a.ok("FETCH 1:2 (UID)")
    assert len(untagged) == 2
    a.close()
    b.close()


@needs_append
def test_qresync_select(server, user):
    c = Raw(server.imap_port, user=user)
    for i in range(3):
        append(c, "INBOX", message(f"q{i}"))
    c.ok("ENABLE QRESYNC")
    untagged, _ = c.ok("SELECT INBOX")
    info = select_info(untagged)
    uids = []
    for r in c.ok("FETCH 1:* (UID)")[0]:
        uids.append(int(re.search(rb"UID (\d+)", r).group(1)))
    c.ok("UNSELECT")
    other = Raw(server.imap_port, user=user)
    other.ok("SELECT INBOX")
    other.ok(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Seen)")
    other.ok(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    other.close()
    untagged, line = c.ok(f"SELECT INBOX (QRESYNC ({info['UIDVALIDITY']} {info['HIGHESTMODSEQ']}))")
    text = b"".join(untagged)
    assert b"* VANISHED (EARLIER) %d\r\n" % uids[1] in text, text
    fetches = [r for r in untagged if b" FETCH " in r]
    assert len(fetches) == 1 and b"UID %d" % uids[0] in fetches[0] and b"\\Seen" in fetches[0]
    assert b"MODSEQ (" in fetches[0]
    # selecting again while selected: [CLOSED] first
    untagged, _ = c.ok("SELECT INBOX")
    assert untagged[0].startswith(b"* OK [CLOSED]")
    c.close()

"""Sharing as IceWarp's clients use it, against a real floed and PostgreSQL
over IMAP: the notification mail a grantee gets (for a user, each member of
a group once, a whole account, a revocation; none for "anyone"), parsed
header by header; the subscription flow (a shared folder or a whole account
appears under ~owner@domain/ only once subscribed, later grants appear
without a new subscription, UNSUBSCRIBE hides, an owner's rename keeps the
subscription); revocation reaching a selected session at once; groups as
grantees and public folders of group accounts; IceWarp's changedsince
entry in LIST RETURN (METADATA ...); and a notice queued while floed is
down delivered after it starts."""

import email
import email.policy
import imaplib
import re
import socket
import time
import uuid
from urllib.parse import unquote

import pytest

import floe

PASSWORD = "share secret"
CHANGEDSINCE = "/public/vendor/icewarp/folderinfo/changedsince"


# ---------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    return floe.new_domain(server, "share")


def user(server, domain, prefix):
    return floe.new_user(server, domain, PASSWORD, prefix=prefix)


class Imap:
    """A small raw client: tagged status, untagged lines, literals inline."""

    def __init__(self, port, address):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.n = 0
        assert self.read().startswith(b"* OK")
        self.ok(f'LOGIN "{address}" "{PASSWORD}"')

    def close(self):
        self.sock.close()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read(self):
        out = self.line()
        while True:
            m = re.search(rb"\{(\d+)\}\r\n$", out)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self.buf += self.sock.recv(65536)
            out += self.buf[:size]
            self.buf = self.buf[size:]
            out += self.line()

    def cmd(self, text):
        self.n += 1
        tag = f"s{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            r = self.read()
            if r.startswith(tag.encode() + b" "):
                line = r.decode(errors="replace").rstrip("\r\n")
                return line.split(" ")[1], untagged, line
            untagged.append(r)

    def ok(self, text):
        st, untagged, line = self.cmd(text)
        assert st == "OK", line
        return untagged

    def no(self, text, code):
        st, _, line = self.cmd(text)
        assert st == "NO" and f"[{code}]" in line, line

    def names(self, pattern="*"):
        out = {}
        for r in self.ok(f'LIST "" "{pattern}"'):
            m = re.match(rb'\* LIST \(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))\r\n', r)
            if m:
                name = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
                out[name] = m.group(1).decode().split()
        return out

    def shared_names(self):
        return {n for n in self.names() if n.startswith("~")}


@pytest.fixture
def sessions(server):
    opened = []

    def login(address):
        c = Imap(server.imap_port, address)
        opened.append(c)
        return c

    yield login
    for c in opened:
        c.close()


def notices(server, address, owner):
    """Every share notice from owner in address's INBOX, parsed."""
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    try:
        m.login(address, PASSWORD)
        m.select("INBOX", readonly=True)
        typ, data = m.uid("SEARCH", None, "HEADER", "X-Floe-Share-Owner", owner)
        assert typ == "OK", data
        out = []
        for uid in data[0].split():
            typ, msg = m.uid("FETCH", uid, "(BODY.PEEK[])")
            assert typ == "OK", msg
            out.append(email.message_from_bytes(msg[0][1], policy=email.policy.default))
        return out
    finally:
        m.logout()


def wait_notices(server, address, owner, count, timeout=25):
    """Waits until address has count notices from owner (and no more)."""
    deadline = time.time() + timeout
    got = []
    while time.time() < deadline:
        got = notices(server, address, owner)
        if len(got) >= count:
            break
        time.sleep(0.2)
    assert len(got) == count, [m["Subject"] for m in got]
    return got


def request(msg):
    """X-IceWarp-Server-Request as a dict."""
    value = " ".join(str(msg["X-IceWarp-Server-Request"]).split())
    return dict(part.strip().split("=", 1) for part in value.split(";"))


def check_notice(msg, owner, grantee, folder, rights, method="share", access=None):
    assert msg["From"].addresses[0].addr_spec == owner
    assert msg["To"].addresses[0].addr_spec == grantee
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].startswith("<share.")
    req = request(msg)
    assert req == {"method": method, "user": owner,
                   "folder": "*" if folder is None else req["folder"], "right": rights}, req
    if folder is not None:
        assert unquote(req["folder"]) == folder
    assert msg["X-Floe-Share-Method"] == method
    assert msg["X-Floe-Share-Owner"] == owner
    assert msg["X-Floe-Share-Rights"] == rights
    if folder is None:
        assert msg["X-Floe-Share-Folder"] == "*"
        assert msg["X-Floe-Share-Mailbox"] == f"~{owner}"
    else:
        assert unquote(msg["X-Floe-Share-Folder"]) == folder
        assert unquote(msg["X-Floe-Share-Mailbox"]) == f"~{owner}/{folder}"
    if access is not None:
        assert msg["X-Floe-Share-Access"] == access
    return msg.get_content()


# ---------------------------------------------------------------------------
# The notification mail


def test_user_grant_notice(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a = sessions(alice)
    a.ok('SETACL "Calendar" "%s" lrs' % bob)
    (msg,) = wait_notices(server, bob, alice, 1)
    text = check_notice(msg, alice, bob, "Calendar", "lrs", access="Read")
    assert msg["Subject"] == f'{alice} shared the folder "Calendar" with you'
    assert f"{alice}" in text and '"Calendar"' in text and "Read" in text
    assert f'"~{alice}/Calendar"' in text and "Subscribe folder" in text

    # Nothing new for rights bob already has; more rights: a new mail.
    a.ok('SETACL "Calendar" "%s" +l' % bob)
    a.ok('SETACL "Calendar" "%s" +w' % bob)
    msgs = wait_notices(server, bob, alice, 2)
    check_notice(msgs[1], alice, bob, "Calendar", "lrsw", access="Read, Modify")
    # Taking some rights away but not all is not a revocation.
    a.ok('SETACL "Calendar" "%s" -w' % bob)
    a.ok('SETACL "Calendar" "%s" +i' % bob)  # a marker: the next mail
    msgs = wait_notices(server, bob, alice, 3)
    assert request(msgs[2])["right"] == "lrsi"
    # The owner is never mailed about herself (and cannot be granted).
    assert a.cmd('SETACL "Calendar" "%s" lr' % alice)[0] == "NO"


def test_folder_name_encoding(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a = sessions(alice)
    a.ok('ENABLE UTF8=ACCEPT')
    a.ok('CREATE "Équipe/Réunions 2025"')
    a.ok('SETACL "Équipe/Réunions 2025" "%s" lrswipkxte' % bob)
    (msg,) = wait_notices(server, bob, alice, 1)
    text = check_notice(msg, alice, bob, "Équipe/Réunions 2025", "lrswipkxte", access="All")
    assert request(msg)["folder"] == "%C3%89quipe/R%C3%A9unions%202025"
    assert msg["Subject"] == f'{alice} shared the folder "Équipe/Réunions 2025" with you'
    assert "Équipe/Réunions 2025" in text


def test_group_grant_notice_each_member_once(server, domain, sessions):
    alice, bob, carol, dave = (user(server, domain, p) for p in ("alice", "bob", "carol", "dave"))
    group = f"team{uuid.uuid4().hex[:8]}@{domain}"
    floe.floectl(server, "group", "add", group)
    floe.floectl(server, "group", "members", "add", group, alice, bob, carol, dave)
    a = sessions(alice)
    a.ok('CREATE "Team"')
    a.ok('SETACL "Team" "%s" lrs' % bob)
    wait_notices(server, bob, alice, 1)
    a.ok('SETACL "Team" "%s" lrs' % group)
    for member in (carol, dave):
        (msg,) = wait_notices(server, member, alice, 1)
        check_notice(msg, alice, member, "Team", "lrs", access="Read")
    # bob had these rights already; the owner, a member too, gets nothing.
    assert len(notices(server, bob, alice)) == 1
    assert notices(server, alice, alice) == []
    # The group's members have the rights.
    c = sessions(carol)
    untagged = c.ok(f'MYRIGHTS "~{alice}/Team"')
    assert untagged[0].endswith(b" lrs\r\n"), untagged


def test_whole_account_notice_and_revoke(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    floe.floectl(server, "share", "grant", alice, bob, "full")
    (msg,) = wait_notices(server, bob, alice, 1)
    text = check_notice(msg, alice, bob, None, "lrswipkxtea", access="Full")
    assert msg["Subject"] == f"{alice} shared the whole account with you"
    assert "whole account" in text and "Subscribe account" in text and f'"~{alice}"' in text

    floe.floectl(server, "share", "revoke", alice, bob)
    msgs = wait_notices(server, bob, alice, 2)
    text = check_notice(msgs[1], alice, bob, None, "", method="unshare")
    assert msgs[1]["X-Floe-Share-Access"] is None
    assert msgs[1]["Subject"] == f"{alice} stopped sharing the whole account with you"
    assert "no longer shares the whole account" in text

    # A folder: DELETEACL over IMAP is a revocation too.
    a = sessions(alice)
    a.ok('SETACL "Notes" "%s" lr' % bob)
    a.ok('DELETEACL "Notes" "%s"' % bob)
    msgs = wait_notices(server, bob, alice, 4)
    check_notice(msgs[2], alice, bob, "Notes", "lr")
    check_notice(msgs[3], alice, bob, "Notes", "", method="unshare")


def test_notices_arrive_in_order(server, domain, sessions):
    """Share and unshare in quick succession: each worker's runner may take
    notices, but a grantee's notices are mailed in the order they were made."""
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a = sessions(alice)
    for _ in range(6):
        a.ok('SETACL "Tasks" "%s" lr' % bob)
        a.ok('DELETEACL "Tasks" "%s"' % bob)
    msgs = wait_notices(server, bob, alice, 12)
    assert [request(m)["method"] for m in msgs] == ["share", "unshare"] * 6


def test_no_notice_for_anyone(server, domain, sessions, pg):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a = sessions(alice)
    a.ok('CREATE "Everyone"')
    a.ok('SETACL "Everyone" anyone lr')
    queued = pg.psql("SELECT count(*) FROM share_notices n JOIN accounts o ON o.id = n.owner_id"
                     f" WHERE o.local_part = '{alice.split('@')[0]}'").strip()
    assert queued == "0", queued
    # A later grant to bob is the only mail he gets.
    a.ok('SETACL "Journal" "%s" lr' % bob)
    (msg,) = wait_notices(server, bob, alice, 1)
    assert request(msg)["folder"] == "Journal"
    a.ok('DELETEACL "Everyone" anyone')


def test_notice_survives_a_restart(server, domain, pg):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    server.stop()
    try:
        # floed is down: the grant queues the notice all the same.
        floe.floectl(server, "share", "grant", f"{alice}/Contacts", bob, "read,write")
        queued = pg.psql("SELECT count(*) FROM share_notices n JOIN accounts g"
                         f" ON g.id = n.account_id WHERE g.local_part = '{bob.split('@')[0]}'")
        assert queued == "1", queued
    finally:
        server.start()
    (msg,) = wait_notices(server, bob, alice, 1)
    check_notice(msg, alice, bob, "Contacts", "lrsik", access="Read, Write")


# ---------------------------------------------------------------------------
# Subscriptions


def test_subscribe_folder_and_account(server, domain, sessions):
    alice, bob, carol = (user(server, domain, p) for p in ("alice", "bob", "carol"))
    a, b = sessions(alice), sessions(bob)
    a.ok('CREATE "Projects/2025"')
    a.ok('CREATE "Private"')
    a.ok('SETACL "Projects" "%s" lr' % bob)
    # Listed only once subscribed; direct access by name works at once.
    assert b.shared_names() == set()
    assert b.names(f"~{alice}/*") == {}
    b.ok(f'STATUS "~{alice}/Projects" (MESSAGES)')
    b.no(f'SUBSCRIBE "~{alice}/Private"', "NONEXISTENT")
    b.no(f'SUBSCRIBE "~nobody@{domain}/INBOX"', "NONEXISTENT")
    b.no(f'SUBSCRIBE "~{alice}/Nope"', "NONEXISTENT")
    b.ok(f'UNSUBSCRIBE "~{alice}/Private"')  # reveals nothing either way

    b.ok(f'SUBSCRIBE "~{alice}/Projects"')
    names = b.names()
    assert names[f"~{alice}"] == ["\\Noselect", "\\HasChildren"]
    assert names[f"~{alice}/Projects"] == ["\\HasChildren"]
    assert names[f"~{alice}/Projects/2025"] == ["\\HasNoChildren"]
    assert b.shared_names() == {f"~{alice}", f"~{alice}/Projects", f"~{alice}/Projects/2025"}
    untagged = b.ok('LSUB "" "~*"')
    assert {r.decode().split(" ")[-1].strip() for r in untagged} == \
        {f"~{alice}/Projects", f"~{alice}/Projects/2025"}
    # A later grant on another folder needs its own subscription...
    a.ok('SETACL "Private" "%s" lr' % bob)
    assert f"~{alice}/Private" not in b.names()
    # ... unless the whole account is subscribed: then it appears.
    b.ok(f'SUBSCRIBE "~{alice}"')
    assert f"~{alice}/Private" in b.names()
    a.ok('SETACL "Notes" "%s" lr' % bob)
    assert f"~{alice}/Notes" in b.names()
    # Rights still decide: nothing without l.
    assert f"~{alice}/INBOX" not in b.names()
    # Another user subscribing sees only what it has rights on.
    c = sessions(carol)
    c.ok(f'SUBSCRIBE "~{alice}"')
    assert c.shared_names() == set()

    # Unsubscribing one folder inside the subscribed account hides it.
    b.ok(f'UNSUBSCRIBE "~{alice}/Projects"')
    names = b.names()
    assert f"~{alice}/Projects" not in names and f"~{alice}/Projects/2025" not in names
    assert f"~{alice}/Private" in names
    # Subscribing it again shows it and its subfolders again.
    b.ok(f'SUBSCRIBE "~{alice}/Projects"')
    assert f"~{alice}/Projects/2025" in b.names()
    # Removing the shared account removes everything.
    b.ok(f'UNSUBSCRIBE "~{alice}"')
    assert b.shared_names() == set()


def test_rename_keeps_the_subscription(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a, b = sessions(alice), sessions(bob)
    a.ok('CREATE "Old Name/Child"')
    a.ok('SETACL "Old Name" "%s" lr' % bob)
    b.ok(f'SUBSCRIBE "~{alice}/Old Name"')
    assert f"~{alice}/Old Name/Child" in b.names()
    a.ok('RENAME "Old Name" "Archive/New Name"')
    names = b.names()
    assert f"~{alice}/Archive/New Name" in names
    assert f"~{alice}/Archive/New Name/Child" in names
    assert f"~{alice}/Old Name" not in names
    # Parents the grantee may not see are \Noselect names only.
    assert names[f"~{alice}/Archive"] == ["\\Noselect", "\\HasChildren"]


def test_revoke_reaches_a_selected_session(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a, b = sessions(alice), sessions(bob)
    a.ok('CREATE "Shared"')
    st, _, line = a.cmd('APPEND "Shared" {12+}\r\nSubject: x\r\n')
    assert st == "OK", line
    floe.floectl(server, "share", "grant", f"{alice}/Shared", bob, "read")
    b.ok(f'SUBSCRIBE "~{alice}/Shared"')
    b.ok(f'SELECT "~{alice}/Shared"')
    b.ok("FETCH 1 (FLAGS)")
    floe.floectl(server, "share", "revoke", f"{alice}/Shared", bob)
    st, _, line = b.cmd("FETCH 1 (BODY.PEEK[])")
    assert st == "NO" and "[NOPERM]" in line, line
    b.ok("CLOSE")
    b.no(f'SELECT "~{alice}/Shared"', "NONEXISTENT")
    assert b.shared_names() == set()
    # Granted again, the kept subscription lists it again.
    floe.floectl(server, "share", "grant", f"{alice}/Shared", bob, "read")
    assert f"~{alice}/Shared" in b.names()


# ---------------------------------------------------------------------------
# Groups and public folders


def test_group_grantee_and_public_folders(server, domain, sessions):
    bob, carol, dave = (user(server, domain, p) for p in ("bob", "carol", "dave"))
    group = f"team{uuid.uuid4().hex[:8]}@{domain}"
    floe.floectl(server, "group", "add", group)
    floe.floectl(server, "group", "members", "add", group, bob, carol)
    floe.floectl(server, "public-folder", "create", group, "Board", "--rights", "full")
    b, c, d = sessions(bob), sessions(carol), sessions(dave)
    # Members see public folders without subscribing; others do not.
    assert f"~{group}/Board" in b.names() and f"~{group}/Board" in c.names()
    assert d.shared_names() == set()
    d.no(f'SUBSCRIBE "~{group}/Board"', "NONEXISTENT")
    # A member with the a right sets the group's own rights over IMAP.
    b.ok(f'SETACL "~{group}/Board" "{group}" lrsia')
    untagged = c.ok(f'MYRIGHTS "~{group}/Board"')
    assert untagged[0].endswith(b" lrsia\r\n"), untagged
    untagged = b.ok(f'GETACL "~{group}/Board"')
    assert f" {group} lrsia".encode() in untagged[0], untagged
    # A member may hide a public folder, and show it again.
    c.ok(f'UNSUBSCRIBE "~{group}/Board"')
    assert f"~{group}/Board" not in c.names()
    c.ok(f'SUBSCRIBE "~{group}/Board"')
    assert f"~{group}/Board" in c.names()
    # No mail for public folders.
    assert notices(server, carol, group) == []
    # A user may never be given rights on its own folders.
    assert b.cmd(f'SETACL "INBOX" "{bob}" lr')[0] == "NO"


# ---------------------------------------------------------------------------
# changedsince in LIST RETURN (METADATA ...)


def metadata_values(untagged):
    out = {}
    for r in untagged:
        m = re.match(rb'\* METADATA (?:"([^"]+)"|(\S+)) \((\S+) (NIL|"[^"]*")\)\r\n', r)
        if m:
            name = (m.group(1) or m.group(2)).decode()
            value = m.group(4).decode()
            out[name] = None if value == "NIL" else value.strip('"')
    return out


def test_list_metadata_changedsince(server, domain, sessions):
    alice, bob = user(server, domain, "alice"), user(server, domain, "bob")
    a, b = sessions(alice), sessions(bob)
    a.ok('CREATE "Feed"')
    for i in range(3):
        st, _, line = a.cmd('APPEND "Feed" {%d+}\r\n%s' % (len(f"Subject: {i}\r\n"),
                                                            f"Subject: {i}\r\n"))
        assert st == "OK", line
    untagged = a.ok('STATUS "Feed" (HIGHESTMODSEQ)')
    since = int(re.search(rb"HIGHESTMODSEQ (\d+)", untagged[0]).group(1)) - 1
    a.ok('SELECT "Feed"')
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    a.ok("UNSELECT")
    entry = f"{CHANGEDSINCE}/{since}"
    listed = metadata_values(a.ok(f'LIST "" "*" RETURN (METADATA ("{entry}"))'))
    got = metadata_values(a.ok(f'GETMETADATA "Feed" ("{entry}")'))
    assert listed["Feed"] == got["Feed"] and got["Feed"].startswith("changed=3&vanished=1"), \
        (listed, got)
    assert listed["INBOX"] == got_value(a, "INBOX", entry)
    # A grantee's shared folder: the same value as its GETMETADATA.
    a.ok('SETACL "Feed" "%s" lr' % bob)
    b.ok(f'SUBSCRIBE "~{alice}/Feed"')
    listed = metadata_values(b.ok(f'LIST "" "~{alice}/*" RETURN (METADATA ("{entry}"))'))
    assert listed == {f"~{alice}/Feed": got["Feed"]}, listed
    assert got_value(b, f"~{alice}/Feed", entry) == got["Feed"]
    # Two modseqs at once.
    both = a.ok(f'LIST "" "Feed" RETURN (METADATA ("{entry}" "{CHANGEDSINCE}/0"))')
    text = b"".join(both).decode()
    assert f'{entry} "{got["Feed"]}"' in text and "changed=2%3A3&vanished=" in text, text


def got_value(client, mailbox, entry):
    return metadata_values(client.ok(f'GETMETADATA "{mailbox}" ("{entry}")'))[mailbox]

"""Shared folders over IMAP against a real floed and PostgreSQL: RFC 4314
ACL commands (SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS) with the
obsolete c and d rights, the other users' namespace "~owner@domain/", rights
enforced on every command (SELECT, FETCH, STORE per flag, EXPUNGE, APPEND,
COPY, CREATE, DELETE, RENAME, STATUS), folders without l or r looking
missing, grants to users, groups, anyone and whole accounts, inheritance,
revocation reaching sessions that have the folder selected (the next
command fails with NO [NOPERM]; a session in IDLE is told at once), shared
folders listed once subscribed, and RFC 5464 METADATA on folders and the
server level with its limits."""

import re
import subprocess
import time
import uuid

import pytest

import floe

PASSWORD = "acl secret"


# ---------------------------------------------------------------------------
# A small raw client: literals inline, tagged status and untagged responses


class Imap(floe.ImapWire):
    def __init__(self, port, user=None):
        super().__init__(port)
        assert self.read_response().startswith(b"* OK")
        if user:
            st, _, line = self.cmd(f'LOGIN "{user}" "{PASSWORD}"')
            assert st == "OK", line

    def cmd(self, text, *literals):
        """Sends a command ('{}' marks a synchronizing literal); returns
        (status, [untagged responses], tagged line)."""
        self.n += 1
        tag = f"a{self.n}"
        parts = text.split("{}")
        data = f"{tag} {parts[0]}".encode()
        for lit, rest in zip(literals, parts[1:]):
            self.send(data + b"{%d}\r\n" % len(lit))
            cont = self.read_response()
            assert cont.startswith(b"+"), cont
            data = lit + rest.encode()
        self.send(data + b"\r\n")
        untagged = []
        while True:
            resp = self.read_response()
            if resp.startswith(tag.encode() + b" "):
                line = resp.decode(errors="replace").rstrip("\r\n")
                return line.split(" ")[1], untagged, line
            untagged.append(resp)

    def ok(self, text, *literals):
        st, untagged, line = self.cmd(text, *literals)
        assert st == "OK", line
        return untagged, line

    def no(self, text, code=None):
        st, untagged, line = self.cmd(text)
        assert st == "NO", line
        if code:
            assert f"[{code}]" in line, line
        return untagged, line

    def names(self, pattern='"*"', ref='""'):
        """LIST ref pattern -> {name: attributes}."""
        untagged, _ = self.ok(f"LIST {ref} {pattern}")
        out = {}
        for r in untagged:
            if not r.startswith(b"* LIST "):
                continue
            m = re.match(rb'\* LIST \(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))\r\n', r)
            assert m, r
            name = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
            out[name] = m.group(1).decode().split()
        return out

    def append(self, mailbox, message, flags=""):
        return self.cmd(f'APPEND "{mailbox}" {flags}{{}}', message)

    def fetch_flags(self, seq="1:*"):
        untagged, _ = self.ok(f"FETCH {seq} (FLAGS)")
        out = {}
        for r in untagged:
            m = re.match(rb"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", r)
            if m:
                out[int(m.group(1))] = m.group(2).decode().split()
        return out


def message(subject="Hello", body="Shared text.\r\n"):
    return (f"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\n{body}").encode()


def untagged_text(untagged):
    return b"".join(untagged).decode(errors="replace")


# ---------------------------------------------------------------------------
# Fixtures


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def server(pg):
    # The share notification mail is tested in test_sharing.py; here it
    # would land in INBOXes whose contents the tests count.
    srv = floe.Floed(None, pg, workers=2,
                     config={"imap": {"allow_plaintext_auth": "yes", "idle_keepalive": "1s"},
                             "sharing": {"notify": "no"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    name = f"acl{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


def new_user(server, domain, prefix="u"):
    address = f"{prefix}{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


class People:
    """alice and bob (and carol) with open sessions; closed afterwards."""

    def __init__(self, server, domain):
        self.server = server
        self.alice_addr = new_user(server, domain, "alice")
        self.bob_addr = new_user(server, domain, "bob")
        self.carol_addr = new_user(server, domain, "carol")
        self.sessions = []
        self.alice = self.login(self.alice_addr)
        self.bob = self.login(self.bob_addr)

    def login(self, address):
        c = Imap(self.server.imap_port, address)
        self.sessions.append(c)
        return c

    def close(self):
        for c in self.sessions:
            c.close()


@pytest.fixture
def people(server, domain):
    p = People(server, domain)
    yield p
    p.close()


def shared(owner, path=None):
    return f"~{owner}" if path is None else f"~{owner}/{path}"


# ---------------------------------------------------------------------------
# Capabilities and namespace


def test_capabilities_and_namespace(people):
    untagged, _ = people.alice.ok("CAPABILITY")
    caps = untagged_text(untagged).split()
    for cap in ("ACL", "RIGHTS=texk", "METADATA", "METADATA-SERVER"):
        assert cap in caps, caps
    untagged, _ = people.alice.ok("NAMESPACE")
    assert untagged == [b'* NAMESPACE (("" "/")) (("~" "/")) NIL\r\n']


# ---------------------------------------------------------------------------
# Sharing with a user: visibility, read-only access, refusals


def test_user_share_read_only(people):
    alice, bob, b = people.alice, people.bob, people.bob_addr
    bob.ok('CREATE "Projects/X"')
    bob.ok('CREATE "Private"')
    st, _, line = bob.append("Projects", message("for alice"))
    assert st == "OK", line

    # Nothing of bob's is visible before a grant.
    assert not [n for n in alice.names() if n.startswith("~")]
    alice.no(f'SELECT "{shared(b, "Projects")}"', "NONEXISTENT")
    alice.no(f'STATUS "{shared(b, "Projects")}" (MESSAGES)', "NONEXISTENT")

    bob.ok(f'SETACL "Projects" "{people.alice_addr}" lr')
    # Shared folders are listed once subscribed (here: the whole account).
    assert not [n for n in alice.names() if n.startswith("~")]
    alice.ok(f'SUBSCRIBE "{shared(b)}"')
    names = alice.names()
    assert names[shared(b)] == ["\\Noselect", "\\HasChildren"]
    assert names[shared(b, "Projects")] == ["\\HasChildren"]
    assert names[shared(b, "Projects/X")] == ["\\HasNoChildren"]
    assert shared(b, "Private") not in names and shared(b, "INBOX") not in names
    # LIST % reaches the owner's root only; ~owner/% its top level.
    assert shared(b) in alice.names('"%"')
    assert list(alice.names(f'"{shared(b)}/%"')) == [shared(b, "Projects")]

    untagged, _ = alice.ok(f'STATUS "{shared(b, "Projects")}" (MESSAGES UIDNEXT)')
    assert b"(MESSAGES 1 UIDNEXT 2)" in untagged[0], untagged

    untagged, line = alice.ok(f'SELECT "{shared(b, "Projects")}"')
    assert "[READ-ONLY]" in line, line
    text = untagged_text(untagged)
    assert "1 EXISTS" in text and "PERMANENTFLAGS ()" in text, text
    untagged, _ = alice.ok("FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: for alice" in untagged[0]
    untagged, _ = alice.ok("FETCH 1 BODY[]")
    assert b"Shared text." in untagged_text(untagged).encode()
    assert alice.fetch_flags() == {1: []}, "no \\Seen without the s right"
    alice.no("STORE 1 +FLAGS (\\Flagged)")
    alice.no("EXPUNGE")
    untagged, _ = alice.ok("SEARCH SUBJECT alice")
    assert untagged[0].startswith(b"* SEARCH 1"), untagged

    # Folders without l or r look missing, whatever the command.
    alice.no(f'SELECT "{shared(b, "Private")}"', "NONEXISTENT")
    alice.no(f'EXAMINE "{shared(b, "Private")}"', "NONEXISTENT")
    alice.no(f'STATUS "{shared(b, "Private")}" (MESSAGES)', "NONEXISTENT")
    alice.no(f'MYRIGHTS "{shared(b, "Private")}"', "NONEXISTENT")
    alice.no(f'GETACL "{shared(b, "Private")}"', "NONEXISTENT")
    alice.no(f'DELETE "{shared(b, "Private")}"', "NONEXISTENT")
    alice.no(f'SELECT "{shared("nobody@" + b.split("@")[1], "INBOX")}"', "NONEXISTENT")
    alice.no(f'SELECT "{shared(b)}"', "NONEXISTENT")
    # With l alone a folder is listed, but may not be opened.
    bob.ok(f'SETACL "Private" "{people.alice_addr}" l')
    assert alice.names()[shared(b, "Private")] == ["\\HasNoChildren"]
    alice.no(f'SELECT "{shared(b, "Private")}"', "NOPERM")
    alice.no(f'STATUS "{shared(b, "Private")}" (MESSAGES)', "NOPERM")
    untagged, _ = alice.ok(f'LIST "" "{shared(b)}/*" RETURN (STATUS (MESSAGES))')
    statuses = [r for r in untagged if r.startswith(b"* STATUS")]
    assert len(statuses) == 2 and not [r for r in statuses if b"/Private " in r], untagged
    # Visible, but without the a right: GETACL is refused.
    alice.no(f'GETACL "{shared(b, "Projects")}"', "NOPERM")
    untagged, _ = alice.ok(f'MYRIGHTS "{shared(b, "Projects")}"')
    assert untagged == [f'* MYRIGHTS {shared(b, "Projects")} lr\r\n'.encode()], untagged


def test_write_rights_per_flag(people):
    alice, bob, b = people.alice, people.bob, people.bob_addr
    box = shared(b, "INBOX")
    assert bob.append("INBOX", message("one"))[0] == "OK"
    bob.ok(f'SETACL INBOX "{people.alice_addr}" lrsw')

    untagged, line = alice.ok(f'SELECT "{box}"')
    assert "[READ-WRITE]" in line, line
    perm = re.search(r"PERMANENTFLAGS \(([^)]*)\)", untagged_text(untagged)).group(1).split()
    assert "\\Seen" in perm and "\\Flagged" in perm and "\\*" in perm
    assert "\\Deleted" not in perm, perm

    alice.ok("STORE 1 +FLAGS (\\Flagged)")
    alice.no("STORE 1 +FLAGS (\\Deleted)", "NOPERM")
    # A mix: what may change changes, the rest is left alone.
    alice.ok("STORE 1 +FLAGS (\\Deleted $Later)")
    assert sorted(alice.fetch_flags()[1]) == ["$Later", "\\Flagged"]
    alice.no("STORE 1 FLAGS (\\Seen)", "NOPERM")
    alice.no("EXPUNGE", "NOPERM")
    alice.no("MOVE 1 INBOX", "NOPERM")
    alice.ok("FETCH 1 BODY[]")
    assert "\\Seen" in alice.fetch_flags()[1], "FETCH BODY[] sets \\Seen with s"

    # APPEND needs i; without t the \Deleted of an appended message goes.
    st, _, line = alice.append(box, message("from alice"))
    assert st == "NO" and "[NOPERM]" in line, line
    bob.ok(f'SETACL INBOX "{people.alice_addr}" +i')
    st, _, line = alice.append(box, message("from alice"), "(\\Seen \\Deleted $Tag) ")
    assert st == "OK" and "APPENDUID" in line, line
    flags = alice.fetch_flags()
    assert sorted(flags[2]) == ["$Tag", "\\Seen"], flags

    # COPY into it from alice's own INBOX: allowed with i, flags filtered.
    alice.ok("UNSELECT")
    assert alice.append("INBOX", message("copy me"), "(\\Deleted \\Answered) ")[0] == "OK"
    alice.ok("SELECT INBOX")
    untagged, line = alice.ok(f'COPY 1 "{box}"')
    assert "COPYUID" in line, line
    alice.ok(f'SELECT "{box}"')
    assert sorted(alice.fetch_flags()[3]) == ["\\Answered"]
    # MOVE out of a folder needs t and e there.
    alice.no(f"MOVE 1 INBOX", "NOPERM")
    bob.ok(f'SETACL INBOX "{people.alice_addr}" +te')
    alice.ok("MOVE 3 INBOX")
    # Now alice may replace flags and expunge.
    alice.ok("STORE 1 FLAGS (\\Deleted)")
    untagged, _ = alice.ok("EXPUNGE")
    assert b"* 1 EXPUNGE\r\n" in untagged, untagged


def test_create_delete_rename_need_rights(people):
    alice, bob, b = people.alice, people.bob, people.bob_addr
    bob.ok('CREATE "Team"')
    bob.ok(f'SETACL Team "{people.alice_addr}" lr')
    alice.no(f'CREATE "{shared(b, "Team/New")}"', "NOPERM")
    alice.no(f'CREATE "{shared(b, "TopLevel")}"', "NOPERM")
    bob.ok(f'SETACL Team "{people.alice_addr}" +k')
    alice.ok(f'CREATE "{shared(b, "Team/New")}"')
    assert "Team/New" in bob.names('"Team/*"')
    # The new folder inherits Team's entry.
    untagged, _ = alice.ok(f'MYRIGHTS "{shared(b, "Team/New")}"')
    assert untagged[0].endswith(b" lrkc\r\n"), untagged
    alice.no(f'CREATE "{shared(b, "Team/New")}"', "ALREADYEXISTS")
    alice.no(f'DELETE "{shared(b, "Team/New")}"', "NOPERM")
    alice.no(f'RENAME "{shared(b, "Team/New")}" "{shared(b, "Team/Newer")}"', "NOPERM")
    bob.ok(f'SETACL Team "{people.alice_addr}" +x')
    alice.ok(f'RENAME "{shared(b, "Team/New")}" "{shared(b, "Team/Newer")}"')
    assert "Team/Newer" in bob.names('"Team/*"')
    alice.no(f'RENAME "{shared(b, "Team/Newer")}" "Mine"', "CANNOT")
    alice.ok(f'DELETE "{shared(b, "Team/Newer")}"')
    assert bob.names('"Team/*"') == {}


# ---------------------------------------------------------------------------
# Grantees: groups, anyone, whole accounts


def test_group_grant(server, domain, people):
    group = f"team{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "group", "add", group)
    floectl(server, "group", "members", "add", group, people.carol_addr)
    carol = people.login(people.carol_addr)
    people.bob.ok('CREATE "GroupBox"')
    people.bob.ok(f'SETACL GroupBox "{group}" lrs')
    carol.ok(f'SUBSCRIBE "{shared(people.bob_addr, "GroupBox")}"')
    assert shared(people.bob_addr, "GroupBox") in carol.names()
    people.alice.no(f'SUBSCRIBE "{shared(people.bob_addr, "GroupBox")}"', "NONEXISTENT")
    assert shared(people.bob_addr, "GroupBox") not in people.alice.names()
    untagged, _ = people.bob.ok("GETACL GroupBox")
    assert f" {group} lrs".encode() in untagged[0], untagged
    untagged, _ = carol.ok(f'MYRIGHTS "{shared(people.bob_addr, "GroupBox")}"')
    assert untagged[0].endswith(b" lrs\r\n"), untagged


def test_anyone_grant(server, domain, people):
    b = people.bob_addr
    people.alice.ok(f'SUBSCRIBE "{shared(b)}"')
    people.bob.ok('CREATE "Everyone"')
    people.bob.ok("SETACL Everyone anyone lr")
    try:
        other_domain = f"other{uuid.uuid4().hex[:8]}.example"
        floectl(server, "domain", "add", other_domain)
        stranger = people.login(new_user(server, other_domain))
        stranger.ok(f'SUBSCRIBE "{shared(b, "Everyone")}"')
        assert shared(b, "Everyone") in stranger.names()
        assert shared(b, "Everyone") in people.alice.names()
        untagged, _ = people.bob.ok("GETACL Everyone")
        assert b" anyone lr" in untagged[0], untagged
    finally:
        people.bob.ok("DELETEACL Everyone anyone")
    assert shared(b, "Everyone") not in people.alice.names()


def test_whole_account_share(server, people, pg):
    a, b = people.alice_addr, people.bob_addr
    pg.psql(f"INSERT INTO acl (account_id, folder_id, grantee_kind, grantee_id, rights) "
            f"SELECT o.id, NULL, 'user', g.id, 'lr' FROM accounts o, accounts g "
            f"WHERE o.local_part = '{b.split('@')[0]}' AND g.local_part = '{a.split('@')[0]}'")
    try:
        assert people.alice.names(f'"{shared(b)}/*"') == {}, "not subscribed yet"
        people.alice.ok(f'SUBSCRIBE "{shared(b)}"')
        names = people.alice.names(f'"{shared(b)}/*"')
        for folder in ("INBOX", "Sent", "Calendar"):
            assert shared(b, folder) in names, names
        # A folder's own ACL wins over the account's.
        people.bob.ok('CREATE "Closed"')
        people.bob.ok(f'SETACL Closed "{people.carol_addr}" lr')
        assert shared(b, "Closed") in people.alice.names(), "copied from the account level"
        people.bob.ok(f'DELETEACL Closed "{a}"')
        assert shared(b, "Closed") not in people.alice.names()
    finally:
        pg.psql(f"DELETE FROM acl WHERE folder_id IS NULL AND account_id = "
                f"(SELECT id FROM accounts WHERE local_part = '{b.split('@')[0]}')")
    assert not [n for n in people.alice.names() if n.startswith("~")]


# ---------------------------------------------------------------------------
# Inheritance


def test_inheritance(people):
    alice, bob, a, b = people.alice, people.bob, people.alice_addr, people.bob_addr
    alice.ok(f'SUBSCRIBE "{shared(b)}"')
    bob.ok('CREATE "Parent"')
    bob.ok(f'SETACL Parent "{a}" lr')
    bob.ok('CREATE "Parent/Later"')
    bob.ok('CREATE "Parent/Other"')
    names = alice.names()
    assert shared(b, "Parent/Later") in names and shared(b, "Parent/Other") in names
    untagged, line = bob.ok("GETACL Parent/Later")
    assert f" {a} lr".encode() in untagged[0], untagged
    # A change on a child detaches it (keeping what it inherited) ...
    bob.ok(f'SETACL Parent/Later "{people.carol_addr}" lrs')
    untagged, _ = bob.ok("GETACL Parent/Later")
    assert f" {a} lr".encode() in untagged[0] and f" {people.carol_addr} lrs".encode() in untagged[0]
    # ... so a later change of the parent reaches only inheriting children.
    bob.ok(f'SETACL Parent "{a}" lrsw')
    untagged, _ = alice.ok(f'MYRIGHTS "{shared(b, "Parent/Other")}"')
    assert untagged[0].endswith(b" lrsw\r\n"), untagged
    untagged, _ = alice.ok(f'MYRIGHTS "{shared(b, "Parent/Later")}"')
    assert untagged[0].endswith(b" lr\r\n"), untagged
    bob.ok(f'DELETEACL Parent "{a}"')
    names = alice.names()
    assert shared(b, "Parent/Other") not in names
    assert shared(b, "Parent/Later") in names
    # The parent she may no longer see shows as \Noselect above a visible child.
    assert names[shared(b, "Parent")] == ["\\Noselect", "\\HasChildren"]


# ---------------------------------------------------------------------------
# Revocation reaches open sessions


def test_deleteacl_revokes_selected_session(people):
    alice, bob, a, b = people.alice, people.bob, people.alice_addr, people.bob_addr
    bob.ok('CREATE "Revoke"')
    assert bob.append("Revoke", message("secret"))[0] == "OK"
    bob.ok(f'SETACL Revoke "{a}" lrsw')
    alice.ok(f'SUBSCRIBE "{shared(b, "Revoke")}"')
    assert shared(b, "Revoke") in alice.names()
    alice.ok(f'SELECT "{shared(b, "Revoke")}"')
    alice.ok("FETCH 1 (FLAGS)")

    # Write access withdrawn: the next command learns it.
    bob.ok(f'SETACL Revoke "{a}" lr')
    st, untagged, line = alice.cmd("STORE 1 +FLAGS (\\Flagged)")
    assert st == "NO", line
    assert "[READ-ONLY]" in untagged_text(untagged), untagged

    # Read access withdrawn: every selected-state command fails.
    bob.ok(f'DELETEACL Revoke "{a}"')
    st, untagged, line = alice.cmd("FETCH 1 (BODY[])")
    assert st == "NO" and "[NOPERM]" in line, line
    assert b"secret" not in b"".join(untagged)
    alice.no("SEARCH ALL", "NOPERM")
    alice.ok("NOOP")
    alice.ok("CLOSE")
    alice.no(f'SELECT "{shared(b, "Revoke")}"', "NONEXISTENT")
    assert shared(b, "Revoke") not in alice.names()

    # A session in IDLE is told when its read access goes, and sees no new mail.
    bob.ok(f'SETACL Revoke "{a}" lr')
    alice.ok(f'SELECT "{shared(b, "Revoke")}"')
    alice.send(b"i1 IDLE\r\n")
    assert alice.readline().startswith(b"+")
    bob.ok(f'DELETEACL Revoke "{a}"')
    assert bob.append("Revoke", message("after revocation"))[0] == "OK"
    deadline = time.time() + 10
    seen = b""
    while b"NOPERM" not in seen and time.time() < deadline:
        seen += alice.readline()
    assert b"* NO [NOPERM]" in seen, seen
    alice.send(b"DONE\r\n")
    while True:
        line = alice.readline()
        seen += line
        if line.startswith(b"i1 "):
            break
    assert b"EXISTS" not in seen, seen


# ---------------------------------------------------------------------------
# ACL commands


def test_acl_commands_and_obsolete_rights(people):
    alice, bob, a, b = people.alice, people.bob, people.alice_addr, people.bob_addr
    bob.ok('CREATE "Acl"')
    untagged, _ = bob.ok("GETACL Acl")
    assert untagged == [f'* ACL Acl {b} lrswipkxteacd\r\n'.encode()], untagged
    untagged, _ = bob.ok("MYRIGHTS INBOX")
    assert untagged == [b"* MYRIGHTS INBOX lrswipkxteacd\r\n"], untagged
    untagged, _ = bob.ok(f'LISTRIGHTS Acl "{a}"')
    assert untagged == [f'* LISTRIGHTS Acl {a} "" l r s w i p k x t e a c d\r\n'.encode()]
    untagged, _ = bob.ok(f"LISTRIGHTS Acl {b}")
    assert untagged == [f"* LISTRIGHTS Acl {b} lrswipkxteacd\r\n".encode()], untagged

    def entry():
        untagged, _ = bob.ok("GETACL Acl")
        m = re.search(rf" {re.escape(a)} (\S+)", untagged[0].decode())
        return m.group(1) if m else None

    bob.ok(f'SETACL Acl "{a}" lrc')       # c = k x
    assert entry() == "lrkxcd"
    bob.ok(f'SETACL Acl "{a}" lrd')       # d = e t x
    assert entry() == "lrxtecd"
    bob.ok(f'SETACL Acl "{a}" lrswi')
    bob.ok(f'SETACL Acl "{a}" +cda')      # RFC 4314 3.1 example
    assert entry() == "lrswikxteacd"
    bob.ok(f'SETACL Acl "{a}" -d')
    assert entry() == "lrswikac"
    bob.ok(f'SETACL Acl "{a.upper()}" -ck')  # identifiers in any case
    assert entry() == "lrswia"

    # With a, alice administers the folder too.
    untagged, _ = alice.ok(f'GETACL "{shared(b, "Acl")}"')
    assert untagged[0].startswith(f'* ACL {shared(b, "Acl")} {b} lrswipkxteacd'.encode())
    alice.ok(f'SETACL "{shared(b, "Acl")}" "{people.carol_addr}" lr')
    alice.ok(f'LISTRIGHTS "{shared(b, "Acl")}" anyone')

    st, _, line = bob.cmd(f'SETACL Acl "{a}" lrQ')
    assert st == "BAD", line
    st, _, line = bob.cmd(f'SETACL Acl "{a}" lrz')
    assert st == "BAD", line
    bob.no(f'SETACL Acl "-{a}" w', "CANNOT")
    bob.no(f'SETACL Acl "nobody@{b.split("@")[1]}" lr', "CANNOT")
    bob.no(f'SETACL Acl "{b}" lr', "CANNOT")
    bob.ok(f'SETACL Acl "{a}" ""')
    assert entry() is None
    bob.ok(f'DELETEACL Acl "{people.carol_addr}"')
    untagged, _ = bob.ok("GETACL Acl")
    assert untagged == [f'* ACL Acl {b} lrswipkxteacd\r\n'.encode()], untagged


# ---------------------------------------------------------------------------
# METADATA


def metadata(untagged):
    text = untagged_text(untagged)
    assert text.startswith("* METADATA "), text
    return text


def test_metadata_folder_and_server(people):
    bob = people.bob
    bob.ok('SETMETADATA INBOX (/private/comment "mine" /shared/comment "us" '
           '/shared/vendor/test/a "1" /shared/vendor/test/a/b "2" /shared/vendor/test/a/b/c "3")')
    untagged, _ = bob.ok("GETMETADATA INBOX (/private/comment /SHARED/Comment /shared/missing)")
    text = metadata(untagged)
    assert text == ('* METADATA INBOX (/private/comment "mine" /shared/comment "us" '
                    '/shared/missing NIL)\r\n'), text
    untagged, _ = bob.ok("GETMETADATA INBOX /shared/vendor/test/a")
    assert "/shared/vendor/test/a/b" not in metadata(untagged)
    untagged, _ = bob.ok("GETMETADATA (DEPTH 1) INBOX /shared/vendor/test/a")
    text = metadata(untagged)
    assert '/shared/vendor/test/a/b "2"' in text and "a/b/c" not in text, text
    untagged, _ = bob.ok("GETMETADATA (DEPTH infinity) INBOX /shared/vendor/test/a")
    assert '/shared/vendor/test/a/b/c "3"' in metadata(untagged)
    # Options after the mailbox, as older clients send them.
    untagged, _ = bob.ok("GETMETADATA INBOX (DEPTH 1) /shared/vendor/test/a")
    assert '/shared/vendor/test/a/b "2"' in metadata(untagged)
    untagged, line = bob.ok("GETMETADATA (MAXSIZE 3) INBOX (/private/comment /shared/comment)")
    assert "[METADATA LONGENTRIES 4]" in line and '"us"' in metadata(untagged), line
    assert "mine" not in metadata(untagged)
    # Deleting with NIL.
    bob.ok("SETMETADATA INBOX (/private/comment NIL)")
    untagged, _ = bob.ok("GETMETADATA INBOX /private/comment")
    assert metadata(untagged) == "* METADATA INBOX (/private/comment NIL)\r\n"
    # Binary values round-trip as literal8.
    value = b"a\x00b\xffc"
    bob.send(b"m1 SETMETADATA INBOX (/shared/vendor/test/bin ~{%d+}\r\n" % len(value) + value
             + b")\r\n")
    line = bob.readline()
    assert line.startswith(b"m1 OK"), line
    untagged, _ = bob.ok("GETMETADATA INBOX /shared/vendor/test/bin")
    assert b"~{5}\r\n" + value in b"".join(untagged), untagged
    # The server level ("").
    bob.ok('SETMETADATA "" (/private/vendor/test/pref "dark" /shared/comment "server note")')
    untagged, _ = bob.ok('GETMETADATA "" (/private/vendor/test/pref /shared/comment)')
    assert metadata(untagged) == ('* METADATA "" (/private/vendor/test/pref "dark" '
                                  '/shared/comment "server note")\r\n')
    # ... kept per account.
    untagged, _ = people.alice.ok('GETMETADATA "" /shared/comment')
    assert "NIL" in metadata(untagged)
    # Unknown /public names read as NIL and cannot be set (the IceWarp ones
    # Floe computes are tested in test_imap_groupware.py).
    untagged, _ = bob.ok("GETMETADATA INBOX /public/vendor/icewarp/unknown")
    assert "NIL" in metadata(untagged)
    bob.no('SETMETADATA INBOX (/public/vendor/x "1")', "CANNOT")
    for bad in ("/foo/bar", "/shared", "/shared//comment", "/shared/comment/", "/shared/a*",
                "/shared/a%", "comment"):
        st, _, line = bob.cmd(f'GETMETADATA INBOX "{bad}"')
        assert st == "BAD", (bad, line)
        st, _, line = bob.cmd(f'SETMETADATA INBOX ("{bad}" "v")')
        assert st == "BAD", (bad, line)
    bob.no('GETMETADATA "NoSuchBox" /shared/comment', "NONEXISTENT")


def test_metadata_limits(people):
    bob = people.bob
    big = b"x" * 32769
    st, _, line = bob.cmd("SETMETADATA INBOX (/shared/vendor/test/applied \"no\" "
                          "/shared/vendor/test/huge {})", big)
    assert st == "NO" and "[METADATA MAXSIZE 32768]" in line, line
    pairs = " ".join(f'/private/vendor/test/many{n} "{n}"' for n in range(101))
    bob.no(f"SETMETADATA INBOX ({pairs} /private/vendor/test/applied \"no\")", "METADATA TOOMANY")
    untagged, _ = bob.ok("GETMETADATA (DEPTH infinity) INBOX (/private/vendor/test "
                         "/shared/vendor/test/applied)")
    text = metadata(untagged)
    assert "many0" not in text and '"no"' not in text, text
    # Exactly the limit is fine; one more is too many.
    pairs = " ".join(f'/private/vendor/test/many{n} "{n}"' for n in range(100))
    bob.ok(f"SETMETADATA INBOX ({pairs})")
    bob.no('SETMETADATA INBOX (/private/vendor/test/extra "x")', "METADATA TOOMANY")
    bob.ok('SETMETADATA INBOX (/private/vendor/test/many0 NIL /private/vendor/test/extra "x")')


def test_metadata_on_shared_folder(people):
    alice, bob, a, b = people.alice, people.bob, people.alice_addr, people.bob_addr
    bob.ok('CREATE "Meta"')
    bob.ok('SETMETADATA Meta (/shared/comment "from bob" /private/comment "bob only")')
    box = shared(b, "Meta")
    alice.no(f'GETMETADATA "{box}" /shared/comment', "NONEXISTENT")
    bob.ok(f'SETACL Meta "{a}" lrs')
    untagged, _ = alice.ok(f'GETMETADATA "{box}" (/shared/comment /private/comment)')
    text = metadata(untagged)
    assert '/shared/comment "from bob"' in text and "/private/comment NIL" in text, text
    alice.ok(f'SETMETADATA "{box}" (/private/comment "alice only")')
    alice.no(f'SETMETADATA "{box}" (/shared/comment "changed")', "NOPERM")
    untagged, _ = bob.ok("GETMETADATA Meta (/private/comment /shared/comment)")
    text = metadata(untagged)
    assert '"bob only"' in text and '"from bob"' in text and "alice only" not in text, text
    untagged, _ = alice.ok(f'GETMETADATA "{box}" /private/comment')
    assert '"alice only"' in metadata(untagged)
    bob.ok(f'SETACL Meta "{a}" +w')
    alice.ok(f'SETMETADATA "{box}" (/shared/comment "changed")')
    untagged, _ = bob.ok("GETMETADATA Meta /shared/comment")
    assert '"changed"' in metadata(untagged)


# ---------------------------------------------------------------------------
# Subscriptions and LIST options in the namespace


def test_subscriptions_and_list_status(people):
    alice, bob, a, b = people.alice, people.bob, people.alice_addr, people.bob_addr
    bob.ok('CREATE "Sub"')
    assert bob.append("Sub", message())[0] == "OK"
    bob.ok(f'SETACL Sub "{a}" lr')
    alice.ok(f'SUBSCRIBE "{shared(b, "Sub")}"')
    untagged, _ = alice.ok('LSUB "" "~*"')
    assert untagged == [f'* LSUB () "/" {shared(b, "Sub")}\r\n'.encode()], untagged
    names = alice.names('"*" RETURN (SUBSCRIBED STATUS (MESSAGES))')
    assert "\\Subscribed" in names[shared(b, "Sub")]
    untagged, _ = alice.ok('LIST "" "~*" RETURN (STATUS (MESSAGES))')
    assert f'* STATUS {shared(b, "Sub")} (MESSAGES 1)\r\n'.encode() in untagged, untagged
    untagged, _ = alice.ok('LIST (SUBSCRIBED) "" "*"')
    assert any(shared(b, "Sub").encode() in r and b"\\Subscribed" in r for r in untagged)
    # Once access is gone the subscription shows nothing (it names the
    # folder by id, and comes back with the rights).
    bob.ok(f'DELETEACL Sub "{a}"')
    untagged, _ = alice.ok('LSUB "" "~*"')
    assert untagged == [], untagged
    untagged, _ = alice.ok('LIST (SUBSCRIBED) "" "~*"')
    assert untagged == [], untagged
    bob.ok(f'SETACL Sub "{a}" lr')
    untagged, _ = alice.ok('LSUB "" "~*"')
    assert untagged == [f'* LSUB () "/" {shared(b, "Sub")}\r\n'.encode()], untagged
    alice.ok(f'UNSUBSCRIBE "{shared(b, "Sub")}"')
    assert alice.ok('LSUB "" "~*"')[0] == []
    assert shared(b, "Sub") not in alice.names()

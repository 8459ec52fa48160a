"""floectl's folder and sharing commands against a real floed and
PostgreSQL: folder list/create/remove with types, default folders and
containers; share grant/revoke/list/inherit with client names and RFC 4314
letters, on folders and whole accounts, for users, groups and anyone, with
inheritance; share subscribe/unsubscribe/subscriptions; public-folder
create for group accounts; and what a grantee then sees over IMAP
(Python's imaplib: LIST under ~owner@domain/ once subscribed, MYRIGHTS,
GETACL, APPEND refused without the right, access gone at once after a
revoke). Errors are one line on stderr with exit status 1 (refused) or 2
(command line)."""

import imaplib
import json
import re
import subprocess
import uuid

import pytest

import floe

PASSWORD = "share secret"
DEFAULTS = {"INBOX": "mail", "Sent": "mail", "Drafts": "mail", "Trash": "mail", "Spam": "mail",
            "Calendar": "event", "Contacts": "contact", "Tasks": "task", "Notes": "note",
            "Journal": "journal", "Files": "file"}


# ---------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


def run(server, *args):
    return subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                          capture_output=True, text=True, timeout=60)


def ctl(server, *args):
    r = run(server, *args)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    assert r.stderr == "", r.stderr
    return r.stdout


def ctl_json(server, *args):
    return json.loads(ctl(server, "--json", *args))


def ctl_fail(server, *args, status=1):
    """Runs a command that must fail: returns its one error line."""
    r = run(server, *args)
    assert r.returncode == status, (args, r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("floectl: "), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def domain(server):
    name = f"share{uuid.uuid4().hex[:8]}.example"
    ctl(server, "domain", "add", name)
    return name


def new_user(server, domain, prefix="u"):
    address = f"{prefix}{uuid.uuid4().hex[:8]}@{domain}"
    ctl(server, "user", "add", address, "--password", PASSWORD)
    return address


def new_group(server, domain, *members):
    address = f"team{uuid.uuid4().hex[:8]}@{domain}"
    ctl(server, "group", "add", address)
    if members:
        ctl(server, "group", "members", "add", address, *members)
    return address


def login(server, address):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    m.login(address, PASSWORD)
    return m


def list_names(m, pattern="*"):
    typ, data = m.list('""', pattern)
    assert typ == "OK", data
    names = []
    for line in data:
        if line is None:
            continue
        line = line.decode() if isinstance(line, bytes) else line
        mo = re.match(r'\(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
        assert mo, line
        names.append(mo.group(2) if mo.group(2) is not None else mo.group(3))
    return names


def myrights(m, mailbox):
    typ, data = m.myrights(f'"{mailbox}"')
    assert typ == "OK", data
    # "~owner/path lrs"; c and d are reported along with their members
    return set(data[0].decode().rsplit(" ", 1)[1]) - set("cd")


def getacl(m, mailbox, owner):
    """GETACL's entries other than the owner's (always every right)."""
    typ, data = m.getacl(f'"{mailbox}"')
    assert typ == "OK", data
    words = data[0].decode().split(" ")[1:]
    acl = {words[i].strip('"'): set(words[i + 1]) - set("cd") for i in range(0, len(words), 2)}
    assert acl.pop(owner) == set("lrswipkxtea")
    return acl


def message(subject="Hello"):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\nText.\r\n").encode()


def folders(server, address, *extra):
    return {f["path"]: f for f in ctl_json(server, "folder", "list", address, *extra)}


def shared(owner, path):
    return f"~{owner}/{path}"


# ---------------------------------------------------------------------------
# folder list / create / remove


def test_folder_list_defaults(server, domain):
    alice = new_user(server, domain, "alice")
    fs = folders(server, alice)
    assert {p: f["type"] for p, f in fs.items()} == DEFAULTS
    assert fs["INBOX"]["default"] and fs["Calendar"]["default"] and not fs["Sent"]["default"]
    assert fs["Sent"]["special_use"] == "sent" and fs["Calendar"]["special_use"] is None
    assert fs["INBOX"]["messages"] == 0 and fs["INBOX"]["size"] == 0
    assert fs["Calendar"]["acl"] == {"inherit": True, "own": False, "entries": 0,
                                     "source": None}

    assert list(folders(server, alice, "--type", "event")) == ["Calendar"]
    assert sorted(folders(server, alice, "--type", "mail")) == sorted(
        p for p, t in DEFAULTS.items() if t == "mail")

    out = ctl(server, "folder", "list", alice).splitlines()
    assert out[0].split() == ["PATH", "TYPE", "DEFAULT", "MESSAGES", "SIZE", "ACL"]
    row = next(line for line in out if line.startswith("Calendar "))
    assert row.split()[:5] == ["Calendar", "event", "yes", "0", "0"], row
    assert "inherits (none)" in row

    # Counts follow what IMAP stores.
    m = login(server, alice)
    try:
        assert m.append("INBOX", None, None, message())[0] == "OK"
    finally:
        m.logout()
    inbox = folders(server, alice)["INBOX"]
    assert inbox["messages"] == 1 and inbox["size"] == len(message())

    assert "unknown account" in ctl_fail(server, "folder", "list", f"nobody@{domain}")
    assert "--type" in ctl_fail(server, "folder", "list", alice, "--type", "calendar", status=2)
    assert "invalid address" in ctl_fail(server, "folder", "list", "not-an-address")


def test_folder_create_remove(server, domain):
    alice = new_user(server, domain, "alice")
    m = login(server, alice)
    try:
        out = ctl(server, "folder", "create", alice, "Projects", "--type", "task")
        assert out == f"folder Projects (task) created in {alice}\n"
        created = ctl_json(server, "folder", "create", alice, "Projects/2024", "--type", "event")
        assert created["path"] == "Projects/2024" and created["type"] == "event"
        assert not created["default"] and created["messages"] == 0
        assert ctl_json(server, "folder", "create", alice, "Archive/Old")["type"] == "mail"
        fs = folders(server, alice)
        assert fs["Projects"]["type"] == "task" and fs["Archive"]["type"] == "mail"

        # A running server sees them at once, subscribed.
        assert {"Projects", "Projects/2024", "Archive/Old"} <= set(list_names(m))
        typ, data = m.lsub('""', "*")
        assert typ == "OK" and any(b"Projects/2024" in d for d in data), data

        assert "already exists" in ctl_fail(server, "folder", "create", alice, "Projects")
        assert "--type" in ctl_fail(server, "folder", "create", alice, "X", "--type", "bogus",
                                    status=2)
        assert "'~'" in ctl_fail(server, "folder", "create", alice, "~other", status=2)
        assert "empty component" in ctl_fail(server, "folder", "create", alice, "a//b",
                                             status=2)
        assert "unknown account" in ctl_fail(server, "folder", "create", f"x@{domain}", "A")

        # Items go with their folder.
        assert m.append("Archive/Old", None, None, message("old"))[0] == "OK"
        assert folders(server, alice)["Archive/Old"]["messages"] == 1
        assert ctl(server, "folder", "remove", alice, "Archive/Old") == \
            f"folder Archive/Old removed from {alice}\n"
        assert "Archive/Old" not in folders(server, alice)
        assert "Archive/Old" not in list_names(m)
        typ, data = m.select("Archive/Old")
        assert typ == "NO", data

        # A folder with subfolders stays as a container, as IMAP DELETE does.
        done = ctl_json(server, "folder", "remove", alice, "Projects")
        assert done["ok"] and done["kept_for_subfolders"]
        fs = folders(server, alice)
        assert fs["Projects"]["noselect"] and "Projects/2024" in fs
        assert "(container)" in ctl(server, "folder", "list", alice)
        assert "subfolders" in ctl_fail(server, "folder", "remove", alice, "Projects")
        ctl(server, "folder", "remove", alice, "Projects/2024")
        ctl(server, "folder", "remove", alice, "Projects")
        assert "Projects" not in folders(server, alice)

        # A container becomes a folder again when created.
        ctl(server, "folder", "create", alice, "Box/Sub")
        ctl(server, "folder", "remove", alice, "Box")
        assert ctl_json(server, "folder", "create", alice, "Box", "--type", "note")["type"] == \
            "note"

        for default in ("INBOX", "inbox", "Calendar", "Contacts", "Files"):
            assert "cannot be deleted" in ctl_fail(server, "folder", "remove", alice, default)
        assert "no folder Nope" in ctl_fail(server, "folder", "remove", alice, "Nope")
        assert set(DEFAULTS) <= set(folders(server, alice))
    finally:
        m.logout()


def test_folder_create_refused_for_groups(server, domain):
    group = new_group(server, domain)
    assert "public-folder create" in ctl_fail(server, "folder", "create", group, "X")


# ---------------------------------------------------------------------------
# share grant / revoke and what the grantee sees over IMAP


def test_grant_read_then_revoke(server, domain):
    alice, bob = new_user(server, domain, "alice"), new_user(server, domain, "bob")
    ctl(server, "folder", "create", alice, "Shared")
    ma, mb = login(server, alice), login(server, bob)
    try:
        assert ma.append("Shared", None, None, message("for bob"))[0] == "OK"
        assert shared(alice, "Shared") not in list_names(mb)

        out = ctl(server, "share", "grant", f"{alice}/Shared", bob, "read")
        assert out == f"{bob} has lrs (read) on {alice}/Shared\n"
        # Listed once subscribed (what bob's client does after the mail).
        assert shared(alice, "Shared") not in list_names(mb)
        assert ctl(server, "share", "subscribe", bob, alice, "Shared") == \
            f"{bob} subscribed to {alice}/Shared\n"
        assert shared(alice, "Shared") in list_names(mb)
        assert shared(alice, "Calendar") not in list_names(mb)
        assert myrights(mb, shared(alice, "Shared")) == set("lrs")
        assert getacl(ma, "Shared", alice) == {bob: set("lrs")}

        # Read only: FETCH works, APPEND does not.
        typ, data = mb.select(f'"{shared(alice, "Shared")}"', readonly=True)
        assert typ == "OK" and data == [b"1"], data
        typ, data = mb.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"for bob" in data[0][1], data
        typ, data = mb.append(f'"{shared(alice, "Shared")}"', None, None, message("no"))
        assert typ == "NO", data

        # Revoking takes effect at once, also in the selected session.
        out = ctl(server, "share", "revoke", f"{alice}/Shared", bob)
        assert out == f"{bob} has no rights on {alice}/Shared any more\n"
        typ, data = mb.fetch("1", "(FLAGS)")
        assert typ == "NO" and b"NOPERM" in data[0], data
        mb.close()
        assert shared(alice, "Shared") not in list_names(mb)
        assert getacl(ma, "Shared", alice) == {}
        typ, data = mb.select(f'"{shared(alice, "Shared")}"', readonly=True)
        assert typ == "NO", data
    finally:
        ma.logout()
        mb.logout()


def test_rights_names_letters_and_modes(server, domain):
    alice, bob = new_user(server, domain, "alice"), new_user(server, domain, "bob")
    target = f"{alice}/Calendar"

    def rights():
        entries = ctl_json(server, "share", "list", target)["entries"]
        return {e["grantee"]: e["rights"] for e in entries}

    assert ctl_json(server, "share", "grant", target, bob, "read,write")["rights"] == "lrsik"
    grant = ctl_json(server, "share", "grant", target, bob, "+delete")
    assert grant["rights"] == "lrsikxte"
    assert grant["rights_names"] == ["read", "write", "delete"]
    assert ctl_json(server, "share", "grant", target, bob, "Read, Modify")["rights"] == "lrsw"
    assert ctl_json(server, "share", "grant", target, bob, "all")["rights_names"] == ["all"]
    assert ctl_json(server, "share", "grant", target, bob, "all")["rights"] == "lrswipkxte"
    assert ctl_json(server, "share", "grant", target, bob, "FULL")["rights"] == "lrswipkxtea"
    # RFC 4314 letters, with c and d expanded as for IMAP SETACL.
    assert ctl_json(server, "share", "grant", target, bob, "lr")["rights"] == "lr"
    assert ctl_json(server, "share", "grant", target, bob, "+c")["rights"] == "lrkx"
    assert ctl_json(server, "share", "grant", target, bob, "lrd")["rights"] == "lrxte"
    assert rights() == {bob: "lrxte"}

    # Taking some rights away, then the rest.
    assert ctl(server, "share", "revoke", target, bob, "delete") == \
        f"{bob} has lr (-) on {alice}/Calendar\n"
    assert ctl_json(server, "share", "revoke", target, bob, "lr")["rights"] == ""
    assert rights() == {}

    assert "no rights" in ctl_fail(server, "share", "revoke", target, bob)
    assert "neither" in ctl_fail(server, "share", "grant", target, bob, "read,everything",
                                 status=2)
    assert "neither" in ctl_fail(server, "share", "grant", target, bob, "lrz", status=2)
    assert "neither" in ctl_fail(server, "share", "grant", target, bob, "LR", status=2)
    assert "no rights" in ctl_fail(server, "share", "grant", target, bob, "", status=2)
    assert "no such user or group" in ctl_fail(server, "share", "grant", target,
                                               f"ghost@{domain}", "read")
    assert "owner" in ctl_fail(server, "share", "grant", target, alice, "read")
    assert "grantee" in ctl_fail(server, "share", "grant", target, "bad address", "read")
    assert "no folder Nope" in ctl_fail(server, "share", "grant", f"{alice}/Nope", bob, "read")
    assert "unknown account" in ctl_fail(server, "share", "grant", f"x@{domain}/Calendar", bob,
                                         "read")
    assert "empty folder path" in ctl_fail(server, "share", "grant", f"{alice}/", bob, "read",
                                           status=2)
    assert rights() == {}


def test_account_share_and_inheritance(server, domain):
    alice = new_user(server, domain, "alice")
    bob, carol = new_user(server, domain, "bob"), new_user(server, domain, "carol")
    ctl(server, "folder", "create", alice, "Calendar/Team", "--type", "event")
    mb = login(server, bob)
    try:
        # The whole account, for bob: every folder, inherited from the account.
        assert ctl(server, "share", "grant", alice, bob, "read") == \
            f"{bob} has lrs (read) on the whole account {alice}\n"
        typ, data = mb.subscribe(f'"~{alice}"')
        assert typ == "OK", data
        names = list_names(mb, f"~{alice}/*")
        for folder in ("INBOX", "Calendar", "Calendar/Team", "Files"):
            assert shared(alice, folder) in names, names
        listing = ctl_json(server, "share", "list", f"{alice}/Calendar/Team")
        assert listing["inherited"] and listing["source"] is None and listing["inherit"]
        assert [(e["grantee"], e["rights"]) for e in listing["entries"]] == [(bob, "lrs")]
        assert folders(server, alice)["Calendar"]["acl"]["source"] is None
        assert "from account (1)" in ctl(server, "folder", "list", alice)

        # A grant on Calendar gives it its own copy; Calendar/Team follows it.
        ctl(server, "share", "grant", f"{alice}/Calendar", carol, "write")
        cal = ctl_json(server, "share", "list", f"{alice}/Calendar")
        assert not cal["inherited"] and cal["source"] == "Calendar" and not cal["inherit"]
        assert {e["grantee"]: e["rights"] for e in cal["entries"]} == {bob: "lrs", carol: "ik"}
        team = ctl_json(server, "share", "list", f"{alice}/Calendar/Team")
        assert team["inherited"] and team["source"] == "Calendar"
        assert {e["grantee"] for e in team["entries"]} == {bob, carol}
        text = ctl(server, "share", "list", f"{alice}/Calendar/Team")
        assert text.splitlines()[0] == \
            f"{alice}/Calendar/Team: inherits the entries of Calendar"
        assert re.search(rf"Calendar/Team\s+{re.escape(carol)}\s+user\s+ik \(write\)\s+Calendar",
                         text), text
        assert folders(server, alice)["Calendar/Team"]["acl"]["source"] == "Calendar"
        assert myrights(mb, shared(alice, "Calendar/Team")) == set("lrs")

        # Off: Team keeps a copy and no longer follows Calendar.
        assert "no longer inherits" in ctl(server, "share", "inherit",
                                           f"{alice}/Calendar/Team", "off")
        ctl(server, "share", "revoke", f"{alice}/Calendar", bob)
        assert myrights(mb, shared(alice, "Calendar/Team")) == set("lrs")
        # (LIST may still show Calendar as the \Noselect parent of Team.)
        assert mb.myrights(f'"{shared(alice, "Calendar")}"')[0] == "NO"
        team = ctl_json(server, "share", "list", f"{alice}/Calendar/Team")
        assert not team["inherited"] and not team["inherit"]

        # On: back to Calendar's entries (bob is gone there).
        ctl(server, "share", "inherit", f"{alice}/Calendar/Team", "on")
        team = ctl_json(server, "share", "list", f"{alice}/Calendar/Team")
        assert team["inherited"] and team["inherit"] and team["source"] == "Calendar"
        assert [e["grantee"] for e in team["entries"]] == [carol]
        assert shared(alice, "Calendar/Team") not in list_names(mb)
        assert shared(alice, "INBOX") in list_names(mb)

        # The account-wide overview.
        every = ctl_json(server, "share", "list", alice)
        assert every["path"] is None
        assert [(e["folder"], e["grantee"], e["rights"]) for e in every["entries"]] == \
            [(None, bob, "lrs"), ("Calendar", carol, "ik")]
        text = ctl(server, "share", "list", alice)
        assert re.search(rf"\(account\)\s+{re.escape(bob)}\s+user\s+lrs \(read\)", text), text

        ctl(server, "share", "revoke", alice, bob)
        assert not [n for n in list_names(mb) if n.startswith("~")]
        assert "inherit" in ctl_fail(server, "share", "inherit", alice, "on", status=2)
        assert "on or off" in ctl_fail(server, "share", "inherit", f"{alice}/Calendar", "maybe",
                                       status=2)
        assert "nothing shared" in ctl(server, "share", "list", f"{alice}/Files")
    finally:
        mb.logout()


def test_group_and_anyone_grantees(server, domain):
    alice, bob, carol = (new_user(server, domain, p) for p in ("alice", "bob", "carol"))
    group = new_group(server, domain, carol)
    ctl(server, "folder", "create", alice, "Team")
    ctl(server, "folder", "create", alice, "Public")
    mc, mb = login(server, carol), login(server, bob)
    other_domain = f"other{uuid.uuid4().hex[:8]}.example"
    ctl(server, "domain", "add", other_domain)
    stranger = new_user(server, other_domain, "x")
    ms = login(server, stranger)
    try:
        ctl(server, "share", "grant", f"{alice}/Team", group, "read,write")
        for m in (mb, ms):
            assert m.subscribe(f'"~{alice}"')[0] == "OK"
        entry = ctl_json(server, "share", "list", f"{alice}/Team")["entries"][0]
        assert entry["grantee"] == group and entry["kind"] == "group"
        assert myrights(mc, shared(alice, "Team")) == set("lrsik")
        assert shared(alice, "Team") not in list_names(mb)
        assert mc.append(f'"{shared(alice, "Team")}"', None, None, message())[0] == "OK"

        ctl(server, "share", "grant", f"{alice}/Public", "ANYONE", "read")
        listing = ctl_json(server, "share", "list", f"{alice}/Public")
        assert [(e["grantee"], e["kind"]) for e in listing["entries"]] == [("anyone", "anyone")]
        assert shared(alice, "Public") in list_names(ms)
        assert shared(alice, "Public") in list_names(mb)
        ctl(server, "share", "revoke", f"{alice}/Public", "anyone")
        assert shared(alice, "Public") not in list_names(ms)
    finally:
        for m in (mc, mb, ms):
            m.logout()


def test_subscribe_unsubscribe_subscriptions(server, domain):
    alice, bob = new_user(server, domain, "alice"), new_user(server, domain, "bob")
    ctl(server, "folder", "create", alice, "Projects/Old")
    ctl(server, "folder", "create", alice, "Hidden")
    ctl(server, "share", "grant", f"{alice}/Projects", bob, "read")
    mb = login(server, bob)
    try:
        assert ctl_json(server, "share", "subscriptions", bob)["subscriptions"] == []
        assert "no subscriptions" in ctl(server, "share", "subscriptions", bob)
        # A folder bob may not see cannot be subscribed, nor one's own.
        assert f"no folder Hidden in {alice} visible to {bob}" in \
            ctl_fail(server, "share", "subscribe", bob, alice, "Hidden")
        assert "no folder Nope" in ctl_fail(server, "share", "subscribe", bob, alice, "Nope")
        assert "is the owner" in ctl_fail(server, "share", "subscribe", bob, bob, "INBOX")
        assert "unknown account" in ctl_fail(server, "share", "subscribe", bob,
                                             f"ghost@{domain}")

        made = ctl_json(server, "share", "subscribe", bob, alice, "Projects")
        assert made["ok"] and made["path"] == "Projects" and made["owner"] == alice
        assert {shared(alice, "Projects"), shared(alice, "Projects/Old")} <= \
            set(list_names(mb))
        # The owner renames: the subscription follows the folder.
        ma = login(server, alice)
        try:
            assert ma.rename("Projects", "Work")[0] == "OK"
        finally:
            ma.logout()
        names = list_names(mb)
        assert shared(alice, "Work") in names and shared(alice, "Work/Old") in names
        subs = ctl_json(server, "share", "subscriptions", bob, alice)["subscriptions"]
        assert subs == [{"owner": alice, "folder": "Work", "subscribed": True,
                         "rights": "lrs", "rights_names": ["read"]}]
        # The whole account; then one folder hidden inside it.
        ctl(server, "share", "subscribe", bob, alice)
        ctl(server, "share", "unsubscribe", bob, alice, "Work/Old")
        names = list_names(mb)
        assert shared(alice, "Work") in names and shared(alice, "Work/Old") not in names
        text = ctl(server, "share", "subscriptions", bob)
        assert re.search(rf"{re.escape(alice)}\s+\(whole account\)\s+subscribed\s+none", text), \
            text
        assert re.search(rf"{re.escape(alice)}\s+Work/Old\s+hidden\s+lrs \(read\)", text), text
        assert ctl(server, "share", "unsubscribe", bob, alice) == \
            f"{bob} no longer subscribed to the whole account {alice}\n"
        assert not [n for n in list_names(mb) if n.startswith("~")]
        assert ctl_json(server, "share", "subscriptions", bob)["subscriptions"] == []
        # Unsubscribing what is not subscribed is fine.
        ctl(server, "share", "unsubscribe", bob, alice, "Hidden")
        assert "missing" in ctl_fail(server, "share", "subscribe", bob, status=2)
    finally:
        mb.logout()


# ---------------------------------------------------------------------------
# public-folder create


def test_public_folder(server, domain):
    bob, carol = new_user(server, domain, "bob"), new_user(server, domain, "carol")
    outsider = new_user(server, domain, "dave")
    group = new_group(server, domain, bob)
    out = ctl(server, "public-folder", "create", group, "Team Calendar", "--type", "event")
    assert out == (f"public folder Team Calendar (event) created in {group}; members have "
                   f"lrswipkxte (all)\n")
    made = ctl_json(server, "public-folder", "create", group, "Announcements", "--rights", "read")
    assert made["type"] == "mail" and made["rights"] == "lrs" and made["group"] == group
    fs = folders(server, group)
    assert fs["Team Calendar"]["type"] == "event" and fs["Team Calendar"]["acl"]["own"]
    listing = ctl_json(server, "share", "list", f"{group}/Team Calendar")
    assert [(e["grantee"], e["kind"], e["rights"]) for e in listing["entries"]] == \
        [(group, "group", "lrswipkxte")]

    mb, md = login(server, bob), login(server, outsider)
    try:
        names = list_names(mb)
        assert shared(group, "Team Calendar") in names and shared(group, "Announcements") in names
        assert myrights(mb, shared(group, "Team Calendar")) == set("lrswipkxte")
        assert myrights(mb, shared(group, "Announcements")) == set("lrs")
        assert not [n for n in list_names(md) if n.startswith("~")]

        # Later members see them too; the group's rights can be changed.
        ctl(server, "group", "members", "add", group, carol)
        mc = login(server, carol)
        try:
            assert shared(group, "Announcements") in list_names(mc)
        finally:
            mc.logout()
        ctl(server, "share", "grant", f"{group}/Announcements", group, "+write")
        assert myrights(mb, shared(group, "Announcements")) == set("lrsik")
        ctl(server, "share", "revoke", f"{group}/Announcements", group)
        assert shared(group, "Announcements") not in list_names(mb)
    finally:
        mb.logout()
        md.logout()

    assert "not a group" in ctl_fail(server, "public-folder", "create", bob, "X")
    assert "already exists" in ctl_fail(server, "public-folder", "create", group,
                                        "Announcements")
    assert "neither" in ctl_fail(server, "public-folder", "create", group, "Y", "--rights",
                                 "sometimes", status=2)
    assert "Y" not in folders(server, group)


def test_help_and_usage(server):
    r = subprocess.run([floe.FLOECTL, "share", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("share grant", "share revoke", "share list", "share inherit",
                "share subscribe", "share unsubscribe", "share subscriptions"):
        assert cmd in r.stdout
    r = subprocess.run([floe.FLOECTL, "help", "public-folder", "create"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "--rights" in r.stdout
    assert "missing" in ctl_fail(server, "share", "grant", "a@b.example", status=2)
    assert "missing" in ctl_fail(server, "folder", "create", "a@b.example", status=2)

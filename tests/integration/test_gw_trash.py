"""The GroupWare Trash against a real floed and PostgreSQL: groupware items
expunged over IMAP (or removed with their folder) are kept in the account's
trash, listed and restored with floectl (same object UID and bytes, a new
IMAP UID that an IDLE session sees arrive), never for a replacement (APPEND
of the new version + EXPUNGE of the old) nor for mail; a restore into a
folder that already holds the UID is refused; purging (by floectl and by
the workers' timer after [groupware] trash_days) deletes the entries and
the content garbage collection then removes their blobs; trashed items
count against the quota."""

import base64
import hashlib
import imaplib
import json
import os
import re
import subprocess
import time
import uuid

import pytest

import floe

PASSWORD = "trash secret"


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
    return floe.new_domain(server, "trash")


def ctl(server, *args):
    return floe.floectl(server, *args)


def ctl_json(server, *args):
    return json.loads(floe.floectl(server, "--json", *args))


def trash(server, address, folder=None):
    args = ["trash", "list", address] + ([folder] if folder else [])
    return ctl_json(server, *args)["items"]


class Client:
    def __init__(self, server, address):
        self.address = address
        self.m = imaplib.IMAP4("127.0.0.1", server.imap_port)
        self.m.login(address, PASSWORD)

    def close(self):
        try:
            self.m.logout()
        except Exception:
            pass

    def append(self, mailbox, data, flags=None):
        typ, dat = self.m.append(f'"{mailbox}"', flags, None, data)
        assert typ == "OK", dat
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", dat[0])
        assert m, dat
        return int(m.group(2))

    def select(self, mailbox):
        typ, dat = self.m.select(f'"{mailbox}"')
        assert typ == "OK", dat

    def uids(self):
        typ, dat = self.m.uid("SEARCH", None, "ALL")
        assert typ == "OK", dat
        return [int(x) for x in dat[0].split()]

    def delete(self, uid):
        """STORE \\Deleted + UID EXPUNGE of one item of the selected folder."""
        typ, dat = self.m.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        assert typ == "OK", dat
        typ, dat = self.m.uid("EXPUNGE", str(uid))
        assert typ == "OK", dat

    def body(self, uid):
        typ, dat = self.m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK" and dat and dat[0] is not None, dat
        return dat[0][1]

    def messages(self, mailbox):
        typ, dat = self.m.status(f'"{mailbox}"', "(MESSAGES)")
        assert typ == "OK", dat
        return int(re.search(rb"MESSAGES (\d+)", dat[0]).group(1))


@pytest.fixture
def user(server, domain):
    return floe.new_user(server, domain, PASSWORD)


@pytest.fixture
def client(server, user):
    c = Client(server, user)
    yield c
    c.close()


def event(uid, summary="Planning"):
    """A Kolab event item (a MIME message, Subject = object UID)."""
    boundary = "=_" + uuid.uuid4().hex
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//trash test//EN\r\n"
           f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
           "DTSTART:20240325T090000Z\r\nDTEND:20240325T100000Z\r\n"
           f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    return (f"From: owner@example.com\r\nSubject: {uid}\r\n"
            f"Date: Mon, 25 Mar 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.event\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            f"This is a Kolab groupware object.\r\n"
            f"--{boundary}\r\nContent-Type: text/calendar; charset=UTF-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.event\r\n\r\n"
            f"{ics}--{boundary}--\r\n").encode()


def new_uid(prefix="ev"):
    return f"{prefix}-{uuid.uuid4().hex}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def content_rows(pg, data):
    """(blobs, message_meta, groupware_index) rows holding these bytes."""
    h = sha(data)
    out = pg.psql(f"SELECT (SELECT count(*) FROM blobs WHERE hash = decode('{h}', 'hex')),"
                  f" (SELECT count(*) FROM message_meta WHERE hash = decode('{h}', 'hex')),"
                  f" (SELECT count(*) FROM groupware_index WHERE hash = decode('{h}', 'hex'))")
    return tuple(int(x) for x in out.split("|"))


def account_sql(address):
    return f"(SELECT r_id FROM floe_account_by_address('{address}'))"


# ---------------------------------------------------------------------------
# Delete and restore


def test_deleted_event_is_kept_and_restored_with_its_uid(server, pg, client, user):
    uid = new_uid()
    data = event(uid)
    old = client.append("Calendar", data)
    client.select("Calendar")
    client.delete(old)
    assert client.uids() == []

    items = trash(server, user)
    assert len(items) == 1, items
    e = items[0]
    assert (e["uid"], e["folder"], e["type"], e["kind"], e["title"]) == \
        (uid, "Calendar", "event", "event", "Planning")
    assert e["size"] == len(data) and not e["folder_removed"]
    # Listed by folder too; another folder's list is empty.
    assert [x["uid"] for x in trash(server, user, "Calendar")] == [uid]
    assert trash(server, user, "Tasks") == []
    # The content stayed (blob, parse results, index) while trashed.
    assert content_rows(pg, data) == (1, 1, 1)
    # Not an IMAP mailbox: LIST shows no trash folder of groupware items.
    typ, dat = client.m.list()
    assert not any(b"GroupWare" in line or b"groupware" in line.lower() for line in dat), dat

    # An IDLE session on the folder sees the restored item arrive.
    watcher = Client(server, user)
    try:
        watcher.select("Calendar")
        tag = watcher.m._new_tag()
        watcher.m.send(tag + b" IDLE\r\n")
        assert watcher.m._get_line().startswith(b"+")
        out = ctl(server, "trash", "restore", user, "--uid", uid)
        m = re.search(r"restored (\S+) to Calendar \(UID (\d+)\)", out)
        assert m and m.group(1) == uid, out
        new = int(m.group(2))
        assert new > old
        watcher.m.sock.settimeout(10)
        line = watcher.m._get_line()
        assert re.match(rb"\* 1 EXISTS", line), line
        watcher.m.send(b"DONE\r\n")
        while not watcher.m._get_line().startswith(tag):
            pass
    finally:
        watcher.close()

    # The same object, byte for byte, under a new UID.
    client.m.noop()
    assert client.uids() == [new]
    assert client.body(new) == data
    typ, dat = client.m.uid("FETCH", str(new), "(FLAGS)")
    assert b"\\Deleted" not in dat[0], dat
    out = pg.psql(f"SELECT g.uid FROM groupware_index g JOIN items i"
                  f" ON i.account_id = g.account_id AND i.blob_hash = g.hash"
                  f" WHERE i.account_id = {account_sql(user)} AND i.uid = {new}")
    assert out == uid
    assert trash(server, user) == []


def file_item(uid, data, filename):
    """A Kolab file item: the file as the one attachment part."""
    enc = base64.b64encode(data)
    body = b"".join(enc[i:i + 76] + b"\r\n" for i in range(0, len(enc), 76))
    head = (f"From: owner@example.com\r\nSubject: {uid}\r\nMIME-Version: 1.0\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.file\r\n"
            f'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            f"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nA file.\r\n"
            f"--b1\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n')
    return head.encode() + body + b"--b1--\r\n"


def test_deleted_file_is_kept_and_restored(server, client, user):
    uid = new_uid("file")
    data = file_item(uid, bytes(range(256)) * 40, "budget.xlsx")
    old = client.append("Files", data)
    client.select("Files")
    client.delete(old)
    items = trash(server, user)
    assert [(x["uid"], x["type"], x["kind"], x["title"]) for x in items] == \
        [(uid, "file", "file", "budget.xlsx")]
    out = ctl(server, "trash", "restore", user, "Files", "--uid", uid)
    new = int(re.search(r"to Files \(UID (\d+)\)", out).group(1))
    client.m.noop()
    assert client.body(new) == data


def test_replacement_does_not_fill_the_trash(server, pg, client, user):
    uid = new_uid()
    v1, v2 = event(uid, "First version"), event(uid, "Second version")
    old = client.append("Calendar", v1)
    new = client.append("Calendar", v2)
    client.select("Calendar")
    client.delete(old)
    assert client.uids() == [new]
    assert trash(server, user) == []
    # The old version is simply dropped, content and all.
    assert content_rows(pg, v1) == (0, 0, 0)
    assert content_rows(pg, v2) == (1, 1, 1)


def test_two_versions_expunged_together_keep_the_newest(server, client, user):
    uid = new_uid()
    client.append("Calendar", event(uid, "Old"))
    client.append("Calendar", event(uid, "Newest"))
    client.select("Calendar")
    typ, dat = client.m.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
    assert typ == "OK", dat
    assert client.m.expunge()[0] == "OK"
    items = trash(server, user)
    assert [(x["uid"], x["title"]) for x in items] == [(uid, "Newest")]


def test_mail_is_never_trashed(server, pg, client, user):
    msg = (f"From: a@example.com\r\nTo: {user}\r\nSubject: {new_uid('mail')}\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\nHello.\r\n").encode()
    uid = client.append("INBOX", msg)
    client.select("INBOX")
    client.delete(uid)
    assert client.uids() == []
    assert trash(server, user) == []
    assert pg.psql(f"SELECT count(*) FROM groupware_trash"
                   f" WHERE account_id = {account_sql(user)}") == "0"


def test_restore_refused_when_the_folder_has_the_uid(server, client, user):
    uid = new_uid()
    first = event(uid, "Deleted one")
    old = client.append("Calendar", first)
    client.select("Calendar")
    client.delete(old)
    again = client.append("Calendar", event(uid, "Created again"))
    r = floe.run_floectl(server, "trash", "restore", user, "--uid", uid)
    assert r.returncode != 0
    assert f"already holds an item with UID {uid}" in r.stderr, r.stderr
    # Nothing duplicated, and the entry stays.
    client.m.noop()
    assert client.uids() == [again]
    assert [x["uid"] for x in trash(server, user)] == [uid]


def test_restore_usage_and_unknown_entries(server, user):
    r = floe.run_floectl(server, "trash", "restore", user)
    assert r.returncode == 2 and "--uid" in r.stderr, r.stderr
    r = floe.run_floectl(server, "trash", "restore", user, "--uid", "x", "--all")
    assert r.returncode == 2, r.stderr
    r = floe.run_floectl(server, "trash", "restore", user, "--uid", "no-such-uid")
    assert r.returncode == 1 and "nothing in the trash" in r.stderr, r.stderr
    r = floe.run_floectl(server, "trash", "list", "nobody@nowhere.example")
    assert r.returncode == 1 and "unknown account" in r.stderr, r.stderr
    assert "trash restore" in floe.floectl(server, "--help")


def test_removed_folder_is_trashed_and_restored_to_the_default(server, client, user):
    ctl(server, "folder", "create", user, "Projects", "--type", "event")
    uids = [new_uid(), new_uid()]
    datas = [event(uids[0], "Kick-off"), event(uids[1], "Review")]
    for d in datas:
        client.append("Projects", d)
    ctl(server, "folder", "remove", user, "Projects")
    items = trash(server, user, "Projects")
    assert sorted(x["uid"] for x in items) == sorted(uids)
    assert all(x["folder"] == "Projects" and x["folder_removed"] for x in items), items
    out = floe.floectl(server, "trash", "list", user)
    assert "Projects (removed)" in out, out

    out = ctl(server, "trash", "restore", user, "Projects", "--all")
    assert out.count("went to the default folder of its type") == 2, out
    assert out.count("to Calendar") == 2, out
    client.select("Calendar")
    got = sorted(client.body(u) for u in client.uids())
    assert got == sorted(datas)
    assert trash(server, user) == []


def test_restore_all_of_one_folder_only(server, client, user):
    a, b = new_uid(), new_uid()
    ua = client.append("Calendar", event(a))
    ctl(server, "folder", "create", user, "Team", "--type", "event")
    ub = client.append("Team", event(b))
    client.select("Calendar")
    client.delete(ua)
    client.select("Team")
    client.delete(ub)
    out = ctl(server, "trash", "restore", user, "Team", "--all")
    assert f"restored {b} to Team" in out, out
    assert [x["uid"] for x in trash(server, user)] == [a]
    client.m.noop()
    assert len(client.uids()) == 1


def test_account_with_trash_can_be_removed(server, pg, domain):
    address = floe.new_user(server, domain, PASSWORD)
    data = event(new_uid())
    c = Client(server, address)
    try:
        uid = c.append("Calendar", data)
        c.select("Calendar")
        c.delete(uid)
    finally:
        c.close()
    assert len(trash(server, address)) == 1
    ctl(server, "user", "remove", address)
    assert pg.psql(f"SELECT count(*) FROM groupware_trash t"
                   f" WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)") == "0"
    # Its content went with the account (the blob once collected).
    assert content_rows(pg, data)[1:] == (0, 0)


def test_store_api_against_postgresql(server, pg, client, user):
    """The asynchronous store API (db/store-gwtrash.h) through the unit test
    binary: list, restore by entry and by folder + UID, refusal, purge."""
    binary = os.path.join(floe.BUILDDIR, "tests/unit/test-gwtrash")
    if not os.path.exists(binary):
        pytest.skip("tests/unit/test-gwtrash is not built")
    older, newer = new_uid(), new_uid()
    u1 = client.append("Calendar", event(older, "Older"))
    u2 = client.append("Calendar", event(newer, "Newer"))
    client.select("Calendar")
    client.delete(u1)
    client.delete(u2)
    client.append("Calendar", event(older, "Older, created again"))
    acct = pg.psql(f"SELECT {account_sql(user)}")
    folder = pg.psql(f"SELECT floe_folder_find({acct}, 'Calendar')")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, FLOE_TEST_PG_URL=pg.url,
                                FLOE_TEST_GWTRASH_ACCOUNT=acct,
                                FLOE_TEST_GWTRASH_FOLDER=folder, FLOE_TEST_GWTRASH_UID=newer))
    failed = [line for line in r.stdout.splitlines() if line.startswith("not ok")]
    assert not failed, r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restore by folder and UID: restored" in r.stdout
    # The restored item is there for IMAP.
    client.m.noop()
    subjects = sorted(re.search(rb"Subject: (\S+)", client.body(u)).group(1).decode()
                      for u in client.uids())
    assert subjects == sorted([older, newer])
    assert trash(server, user) == []


# ---------------------------------------------------------------------------
# Purge


def test_purge_deletes_entries_and_their_content(server, pg, client, user):
    old_uid, new_uid_ = new_uid(), new_uid()
    old_data, new_data = event(old_uid), event(new_uid_)
    u1 = client.append("Calendar", old_data)
    u2 = client.append("Calendar", new_data)
    client.select("Calendar")
    client.delete(u1)
    client.delete(u2)
    pg.psql(f"UPDATE groupware_trash SET deleted_at = now() - interval '40 days'"
            f" WHERE account_id = {account_sql(user)} AND object_uid = '{old_uid}'")
    # Default age: the default trash_days (30).
    out = ctl(server, "trash", "purge", user)
    assert "purged 1 item(s)" in out, out
    assert [x["uid"] for x in trash(server, user)] == [new_uid_]
    # The content garbage collection took the purged item's blob.
    assert content_rows(pg, old_data) == (0, 0, 0)
    assert content_rows(pg, new_data) == (1, 1, 1)

    res = ctl_json(server, "trash", "purge", user, "--older-than", "0")
    assert res["purged"] == 1, res
    assert trash(server, user) == []
    assert content_rows(pg, new_data) == (0, 0, 0)
    r = floe.run_floectl(server, "trash", "purge", user, "--older-than", "soon")
    assert r.returncode == 2, r.stderr


def test_trash_counts_against_the_quota(server, domain):
    data = event(new_uid(), "x" * 3000)
    quota = len(data) * 3 // 2
    address = floe.new_user(server, domain, PASSWORD, "--quota", str(quota))
    c = Client(server, address)
    try:
        uid = c.append("Calendar", data)
        c.select("Calendar")
        c.delete(uid)
        typ, dat = c.m.append('"Calendar"', None, None, event(new_uid(), "y" * 3000))
        assert typ == "NO" and b"OVERQUOTA" in dat[0].upper(), dat
        assert b"deleted groupware items" in dat[0], dat
        ctl(server, "trash", "purge", address, "--older-than", "0")
        c.append("Calendar", event(new_uid(), "y" * 3000))
    finally:
        c.close()


def test_workers_purge_expired_entries(pg):
    srv = floe.Floed(None, pg, workers=2, config={
        "imap": {"allow_plaintext_auth": "yes"},
        "groupware": {"trash_days": "1", "trash_purge_interval": "1s"}})
    srv.start()
    try:
        address = floe.new_user(srv, floe.new_domain(srv, "purge"), PASSWORD)
        c = Client(srv, address)
        expired, fresh = new_uid(), new_uid()
        expired_data = event(expired)
        try:
            u1 = c.append("Calendar", expired_data)
            u2 = c.append("Calendar", event(fresh))
            c.select("Calendar")
            c.delete(u1)
            c.delete(u2)
        finally:
            c.close()
        pg.psql(f"UPDATE groupware_trash SET deleted_at = now() - interval '2 days'"
                f" WHERE account_id = {account_sql(address)} AND object_uid = '{expired}'")
        deadline = time.time() + 20
        while time.time() < deadline:
            if [x["uid"] for x in trash(srv, address)] == [fresh]:
                break
            time.sleep(0.2)
        assert [x["uid"] for x in trash(srv, address)] == [fresh]
        srv.wait_log("groupware trash: purged")
        deadline = time.time() + 10
        while time.time() < deadline and content_rows(pg, expired_data) != (0, 0, 0):
            time.sleep(0.2)
        assert content_rows(pg, expired_data) == (0, 0, 0)
    finally:
        srv.stop()

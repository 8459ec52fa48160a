"""ActiveSync Sync of large folders: a SyncKey keeps an add cursor (0006),
so that a diff reads the changes since the key's modseq and the next
messages below the cursor instead of the whole folder. These tests change
the folder in every way while a device walks through an initial sync in
windows, and check that the device ends with exactly the server's
messages and flags: nothing lost, nothing twice (Folder.apply refuses a
duplicate Add or a Change of an unknown item).

Helpers come from test_eas_mail (the Folder device model)."""

import time

import pytest

import eas
import floe
from eas import E
from test_eas_mail import (CONFIG, Folder, append, body_pref, imap, inbox_of, message, new_user,
                           options, ready, sid)


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config=CONFIG)
    srv.start()
    yield srv
    srv.stop()


def server_state(m):
    """{uid: read?} of the INBOX messages not flagged \\Deleted."""
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
    state = {}
    for line in data:
        if not line:
            continue
        text = line.decode() if isinstance(line, bytes) else line[0].decode()
        uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
        if "\\Deleted" not in text:
            state[uid] = "\\Seen" in text
    return state


def device_state(f):
    return {int(s.split(":")[1]): d.findtext("Email:Read") == "1" for s, d in f.items.items()}


def estimate(c, f):
    node = c.command("GetItemEstimate", E("GetItemEstimate:GetItemEstimate",
                     E("GetItemEstimate:Collections", E("GetItemEstimate:Collection",
                       E("AirSync:SyncKey", f.key), E("GetItemEstimate:CollectionId", f.cid),
                       E("AirSync:Options", E("AirSync:FilterType", "0"))))), expect_status=None)
    return int(node.findtext("Response/Collection/Estimate"))


def test_changes_during_an_initial_sync(server):
    user = new_user(server)
    m = imap(server, user)
    now = time.time()
    uids = [append(m, "INBOX", message(f"m{i}"), when=now - 1000 + i) for i in range(300)]
    c = ready(server, user, "android")
    f = Folder(c, inbox_of(c), window=50, opts=options(0, [body_pref(1, 100)]))
    f.initial()
    f.sync()
    f.sync()
    assert len(f.items) == 100
    # Highest UIDs first: the device has the newest 100.
    assert sorted(device_state(f)) == uids[200:]
    assert estimate(c, f) == 200

    m.select("INBOX")
    new = [append(m, "INBOX", message(f"new{i}")) for i in range(2)]
    m.uid("STORE", str(uids[250]), "+FLAGS", "(\\Seen)")       # on the device: a Change
    m.uid("STORE", str(uids[120]), "+FLAGS", "(\\Seen)")       # not yet sent: an Add, read
    m.uid("STORE", str(uids[10]), "+FLAGS", "(\\Deleted)")     # not yet sent: never sent
    m.uid("STORE", str(uids[20]), "+FLAGS", "(\\Deleted)")     # deleted then restored
    m.uid("STORE", f"{uids[210]},{uids[30]}", "+FLAGS", "(\\Deleted)")
    m.uid("EXPUNGE", f"{uids[210]},{uids[30]}")                 # one sent, one not
    col = f.sync()
    got = [a.findtext("ServerId") for a in col.findall("Commands/Add")]
    assert sid(f, new[0]) in got and sid(f, new[1]) in got
    assert [d.findtext("ServerId") for d in col.findall("Commands/Delete")] == [sid(f, uids[210])]
    assert [ch.findtext("ServerId") for ch in col.findall("Commands/Change")] == [sid(f, uids[250])]
    m.uid("STORE", str(uids[20]), "-FLAGS", "(\\Deleted)")
    f.sync_all()
    assert device_state(f) == server_state(m)
    assert uids[20] in device_state(f) and uids[10] not in device_state(f)
    assert device_state(f)[uids[120]] is True
    assert f.sync() is None
    assert estimate(c, f) == 0
    m.logout()


def test_more_changes_than_the_window(server):
    user = new_user(server)
    m = imap(server, user)
    uids = [append(m, "INBOX", message(f"m{i}")) for i in range(120)]
    c = ready(server, user)
    f = Folder(c, inbox_of(c), window=50, opts=options(0, [body_pref(1, 100)]))
    f.initial()
    f.sync_all()
    assert len(f.items) == 120
    m.select("INBOX")
    m.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")
    changes = 0
    for _ in range(3):
        col = f.sync()
        changes += len(col.findall("Commands/Change"))
    assert changes == 120
    assert all(device_state(f).values())
    # Then new messages go on from where the walk ended.
    new = append(m, "INBOX", message("after"))
    col = f.sync()
    assert [a.findtext("ServerId") for a in col.findall("Commands/Add")] == [sid(f, new)]
    assert f.sync() is None
    assert device_state(f) == server_state(m)
    assert len(uids) == 120
    m.logout()


def test_lost_response_during_an_initial_sync(server):
    """SmartSync: repeating the previous key replays the same window, and
    the walk goes on from there."""
    user = new_user(server)
    m = imap(server, user)
    [append(m, "INBOX", message(f"m{i}")) for i in range(150)]
    c = ready(server, user, "android")
    f = Folder(c, inbox_of(c), window=40, opts=options(0, [body_pref(1, 100)]))
    f.initial()
    f.sync()
    before = f.key
    lost = f.sync(apply=False)
    again = f.sync(key=before)
    assert ([a.findtext("ServerId") for a in again.findall("Commands/Add")] ==
            [a.findtext("ServerId") for a in lost.findall("Commands/Add")])
    f.sync_all()
    assert device_state(f) == server_state(m)
    m.logout()


def test_filter_window_then_all(server):
    """A FilterType window keeps no cursor; going back to all messages
    brings the ones outside the window."""
    user = new_user(server)
    m = imap(server, user)
    now = time.time()
    old = [append(m, "INBOX", message(f"old{i}"), when=now - 30 * 86400 + i) for i in range(5)]
    recent = [append(m, "INBOX", message(f"new{i}"), when=now - 3600 + i) for i in range(5)]
    c = ready(server, user)
    f = Folder(c, inbox_of(c), window=3, opts=options(3, [body_pref(1)]))  # one week
    f.initial()
    f.sync_all()
    assert sorted(device_state(f)) == recent
    f.opts = options(0, [body_pref(1)])
    f.sync_all()
    assert sorted(device_state(f)) == sorted(old + recent)
    assert f.sync() is None
    m.logout()

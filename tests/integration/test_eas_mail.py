"""ActiveSync e-mail against a real floed and PostgreSQL, with iOS-like
(16.1) and Android-like (14.1) request shapes: initial Sync of 500
messages in windows, messages appended over IMAP arriving by Sync, flag
changes both ways, deletes both ways (DeletesAsMoves to Deleted Items),
SmartSync after a lost response (server and client adds), FilterType
narrowing, BodyPreference plain/HTML/MIME with truncation, Fetch,
empty Sync requests, Wait, GetItemEstimate, ItemOperations, MoveItems,
Search, SendMail/SmartReply/SmartForward, and the Status codes of bad
requests.

The client is tests/integration/eas.py; the mailbox is also checked and
changed over IMAP (imaplib)."""

import email.utils
import imaplib
import re
import threading
import time
import uuid

import pytest

import eas
import floe
from eas import E

PASSWORD = "eas mail secret"

CONFIG = {
    "imap": {"allow_plaintext_auth": "yes"},
    "auth": {"failure_delay": "300ms"},
}


floectl = floe.floectl


def new_domain(server):
    return floe.new_domain(server, "m")


def new_user(server, domain=None):
    return floe.new_user(server, domain or new_domain(server), PASSWORD)


def imap(server, user):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port)
    c.login(user, PASSWORD)
    return c


def message(subject="Hello", body="Hi there.", date=None, extra=""):
    date = date or email.utils.formatdate(localtime=False)
    return (f"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n"
            f"Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"{extra}\r\n{body}\r\n").encode()


def append(m, folder, msg, flags=None, when=None):
    typ, data = m.append(folder, flags, imaplib.Time2Internaldate(when or time.time()), msg)
    assert typ == "OK", data
    return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config=CONFIG)
    srv.start()
    yield srv
    srv.stop()


def ready(server, user, kind="ios", **kw):
    make = eas.ios if kind == "ios" else eas.android
    c = make(server.http_port, user, PASSWORD, **kw)
    c.provision()
    c.foldersync("0")
    return c


def inbox_of(c):
    return c.folder_by_type(eas.TYPE_INBOX).server_id


def body_pref(type_, size=None, preview=None):
    children = [E("AirSyncBase:Type", str(type_))]
    if size is not None:
        children.append(E("AirSyncBase:TruncationSize", str(size)))
    if preview is not None:
        children.append(E("AirSyncBase:Preview", str(preview)))
    return E("AirSyncBase:BodyPreference", *children)


def options(filter_type=None, prefs=(), mime_support=None):
    children = []
    if filter_type is not None:
        children.append(E("AirSync:FilterType", str(filter_type)))
    if mime_support is not None:
        children.append(E("AirSync:MIMESupport", str(mime_support)))
    children.extend(prefs)
    return E("AirSync:Options", *children)


def sync_body(cid, key, window=None, opts=None, commands=None, get_changes=True,
              deletes_as_moves=None, wait=None):
    children = [E("AirSync:SyncKey", key), E("AirSync:CollectionId", cid)]
    if deletes_as_moves is not None:
        children.append(E("AirSync:DeletesAsMoves", "1" if deletes_as_moves else "0"))
    if get_changes is not None and key != "0":
        children.append(E("AirSync:GetChanges", "1" if get_changes else "0"))
    if window is not None:
        children.append(E("AirSync:WindowSize", str(window)))
    if opts is not None:
        children.append(opts)
    if commands:
        children.append(E("AirSync:Commands", *commands))
    top = [E("AirSync:Collections", E("AirSync:Collection", *children))]
    if wait is not None:
        top.append(E("AirSync:Wait", str(wait)))
    return E("AirSync:Sync", *top)


class Folder:
    """A device's copy of one collection: key, items by ServerId."""

    def __init__(self, c, cid, opts=None, window=None):
        self.c, self.cid, self.opts, self.window = c, cid, opts, window
        self.key = "0"
        self.items = {}
        self.last = None

    def post(self, body, **kw):
        r = self.c.post("Sync", body, **kw)
        assert r.status == 200, r
        return r

    def sync(self, commands=None, key=None, apply=True, get_changes=True, **kw):
        """One Sync; applies the server's commands. Returns the Collection
        node (None for an empty response)."""
        key = self.key if key is None else key
        if apply:
            # The device deletes its own copies at once.
            for cmd in commands or ():
                if cmd.name == "Delete":
                    self.items.pop(cmd.findtext("ServerId"), None)
        r = self.post(sync_body(self.cid, key, window=self.window, opts=self.opts,
                                commands=commands, get_changes=get_changes, **kw))
        self.last = r
        if not r.body:
            return None
        col = r.node.find("Collections/Collection")
        assert col is not None, r.node
        assert col.findtext("Status") == "1", r.node
        if apply:
            self.key = col.findtext("SyncKey")
            self.apply(col)
        return col

    def apply(self, col):
        for add in col.findall("Commands/Add"):
            sid = add.findtext("ServerId")
            assert sid not in self.items, f"duplicate Add of {sid}"
            self.items[sid] = add.find("ApplicationData")
        for ch in col.findall("Commands/Change"):
            sid = ch.findtext("ServerId")
            assert sid in self.items, f"Change of unknown {sid}"
            data = self.items[sid]
            for child in ch.find("ApplicationData"):
                data.children = [x for x in data.children if x.tag != child.tag] + [child]
        for tag in ("Delete", "SoftDelete"):
            for d in col.findall("Commands/" + tag):
                sid = d.findtext("ServerId")
                assert sid in self.items, f"{tag} of unknown {sid}"
                del self.items[sid]

    def initial(self):
        col = self.sync()
        assert col is not None and self.key.endswith("}1"), col
        assert col.find("Commands") is None
        return col

    def sync_all(self, max_rounds=100):
        rounds = 0
        while True:
            col = self.sync()
            rounds += 1
            if col is None or col.find("MoreAvailable") is None:
                return rounds
            assert rounds < max_rounds


def subject_of(data):
    return data.findtext("Email:Subject")


# --- Initial sync and windows ---


def test_initial_sync_of_500_in_windows(server):
    user = new_user(server)
    m = imap(server, user)
    for i in range(500):
        append(m, "INBOX", message(f"msg {i}"), when=time.time() - 500 + i)
    c = ready(server, user, "android")
    f = Folder(c, inbox_of(c), window=100, opts=options(0, [body_pref(1, 200)]))
    f.initial()
    col = f.sync()
    assert col.find("MoreAvailable") is not None
    adds = col.findall("Commands/Add")
    assert len(adds) == 100
    # Newest first.
    assert subject_of(adds[0].find("ApplicationData")) == "msg 499"
    rounds = f.sync_all()
    assert rounds == 4  # 4 more windows of 100, the last without MoreAvailable
    assert len(f.items) == 500
    assert sorted(subject_of(d) for d in f.items.values()) == sorted(f"msg {i}" for i in range(500))
    # Nothing more: an empty response.
    assert f.sync() is None
    m.logout()


def synced(server, kind="ios", n=0, opts=None, window=None):
    """A user with n messages in INBOX and a device that has them all."""
    user = new_user(server)
    m = imap(server, user)
    uids = [append(m, "INBOX", message(f"m{i}"), when=time.time() - 3600 + i) for i in range(n)]
    c = ready(server, user, kind)
    f = Folder(c, inbox_of(c), opts=opts if opts is not None else options(0, [body_pref(1)]),
               window=window)
    f.initial()
    f.sync_all()
    assert len(f.items) == n
    return user, m, c, f, uids


def sid(f, uid):
    return f"{f.cid}:{uid}"


def test_imap_append_arrives_by_sync(server):
    user, m, c, f, _ = synced(server, n=2)
    uid = append(m, "INBOX", message("from imap", body="Über text"))
    col = f.sync()
    adds = col.findall("Commands/Add")
    assert [a.findtext("ServerId") for a in adds] == [sid(f, uid)]
    data = adds[0].find("ApplicationData")
    assert data.findtext("Email:Subject") == "from imap"
    assert "alice@example.com" in data.findtext("Email:From")
    assert data.findtext("Email:Read") == "0"
    assert data.findtext("AirSyncBase:Body/AirSyncBase:Type") == "1"
    assert data.findtext("AirSyncBase:Body/AirSyncBase:Data").startswith("Über text")
    assert data.findtext("Email:MessageClass") == "IPM.Note"
    assert data.findtext("Email:InternetCPID") == "65001"
    assert data.find("Email2:ConversationId") is not None
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$", data.findtext("Email:DateReceived"))
    assert f.sync() is None
    m.logout()


def read_flag(m, uid):
    m.select("INBOX")
    typ, data = m.uid("FETCH", str(uid), "(FLAGS)")
    return data[0].decode()


def test_flags_both_ways(server):
    user, m, c, f, uids = synced(server, n=3)
    # EAS -> IMAP: Read, follow-up flag, categories.
    change = E("AirSync:Change", E("AirSync:ServerId", sid(f, uids[0])),
               E("AirSync:ApplicationData", E("Email:Read", "1"),
                 E("Email:Flag", E("Email:Status", "2"), E("Email:FlagType", "Flag for follow up")),
                 E("Email:Categories", E("Email:Category", "Red category"))))
    col = f.sync([change])
    assert col.find("Responses") is None, col
    # The device's own change is not echoed back.
    assert col.find("Commands") is None, col
    flags = read_flag(m, uids[0])
    assert "\\Seen" in flags and "\\Flagged" in flags and "Red&20category" in flags, flags
    # IMAP -> EAS.
    m.select("INBOX")
    m.uid("STORE", str(uids[1]), "+FLAGS", "(\\Seen)")
    m.uid("STORE", str(uids[0]), "-FLAGS", "(\\Seen Red&20category)")
    col = f.sync()
    changes = {ch.findtext("ServerId"): ch.find("ApplicationData") for ch in col.findall("Commands/Change")}
    assert set(changes) == {sid(f, uids[0]), sid(f, uids[1])}
    assert changes[sid(f, uids[1])].findtext("Email:Read") == "1"
    assert changes[sid(f, uids[0])].findtext("Email:Read") == "0"
    assert changes[sid(f, uids[0])].findtext("Email:Flag/Email:Status") == "2"
    assert changes[sid(f, uids[0])].find("Email:Categories/Email:Category") is None
    # Clearing the flag and a change of a message that does not exist.
    col = f.sync([E("AirSync:Change", E("AirSync:ServerId", sid(f, uids[0])),
                    E("AirSync:ApplicationData", E("Email:Flag"))),
                  E("AirSync:Change", E("AirSync:ServerId", sid(f, 999999)),
                    E("AirSync:ApplicationData", E("Email:Read", "1")))])
    resp = col.findall("Responses/Change")
    assert [(r.findtext("ServerId"), r.findtext("Status")) for r in resp] == [(sid(f, 999999), "8")]
    assert "\\Flagged" not in read_flag(m, uids[0])
    m.logout()


def test_conflict_server_wins(server):
    user, m, c, f, uids = synced(server, n=1)
    m.select("INBOX")
    m.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")
    # The device marks it read without having seen the server's change:
    # server wins, the device gets the server's state.
    col = f.sync([E("AirSync:Change", E("AirSync:ServerId", sid(f, uids[0])),
                    E("AirSync:ApplicationData", E("Email:Read", "1")))])
    ch = col.findall("Commands/Change")
    assert len(ch) == 1 and ch[0].findtext("ApplicationData/Email:Read") == "0"
    assert ch[0].findtext("ApplicationData/Email:Flag/Email:Status") == "2"
    assert "\\Seen" not in read_flag(m, uids[0])
    m.logout()


def folder_uids(m, folder):
    typ, _ = m.select(folder)
    assert typ == "OK"
    typ, data = m.uid("SEARCH", "ALL")
    return [int(x) for x in data[0].split()]


def test_delete_both_ways(server):
    user, m, c, f, uids = synced(server, n=4)
    # EAS -> IMAP with DeletesAsMoves (the default): to Deleted Items.
    col = f.sync([E("AirSync:Delete", E("AirSync:ServerId", sid(f, uids[0])))])
    assert col.find("Commands") is None
    assert uids[0] not in folder_uids(m, "INBOX")
    assert len(folder_uids(m, "Trash")) == 1
    # Without DeletesAsMoves: gone.
    col = f.sync([E("AirSync:Delete", E("AirSync:ServerId", sid(f, uids[1])))],
                 deletes_as_moves=False)
    assert uids[1] not in folder_uids(m, "INBOX")
    assert len(folder_uids(m, "Trash")) == 1
    # IMAP -> EAS: an expunge and a message flagged \Deleted.
    m.select("INBOX")
    m.uid("STORE", str(uids[2]), "+FLAGS", "(\\Deleted)")
    col = f.sync()
    assert [d.findtext("ServerId") for d in col.findall("Commands/Delete")] == [sid(f, uids[2])]
    m.expunge()
    m.uid("MOVE", str(uids[3]), "Trash")
    col = f.sync()
    assert [d.findtext("ServerId") for d in col.findall("Commands/Delete")] == [sid(f, uids[3])]
    assert f.items == {}
    # The Deleted Items collection has both moved messages.
    t = Folder(c, c.folder_by_type(eas.TYPE_DELETED).server_id, opts=options(0, [body_pref(1)]))
    t.initial()
    t.sync_all()
    assert sorted(subject_of(d) for d in t.items.values()) == ["m0", "m3"]
    m.logout()


def test_smartsync_server_adds(server):
    user, m, c, f, uids = synced(server, n=1)
    new = [append(m, "INBOX", message(f"new {i}")) for i in range(3)]
    key = f.key
    lost = f.sync(apply=False)  # the response never reaches the device
    assert len(lost.findall("Commands/Add")) == 3
    extra = append(m, "INBOX", message("later"))
    col = f.sync(key=key)  # the device repeats its key
    got = sorted(a.findtext("ServerId") for a in col.findall("Commands/Add"))
    assert got == sorted(sid(f, u) for u in new + [extra])
    assert f.sync() is None
    assert len(f.items) == 5
    # Once two more responses went through, the old key is invalid.
    append(m, "INBOX", message("one"))
    f.sync()
    append(m, "INBOX", message("two"))
    f.sync()
    r = f.post(sync_body(f.cid, key))
    assert r.node.findtext("Collections/Collection/Status") == "3"
    m.logout()


def test_smartsync_client_adds_16(server):
    user, m, c, f, uids = synced(server, n=0)
    drafts = Folder(c, c.folder_by_type(eas.TYPE_DRAFTS).server_id, opts=options(0, [body_pref(1)]))
    drafts.initial()
    add = E("AirSync:Add", E("AirSync:ClientId", "client-1"),
            E("AirSync:ApplicationData", E("Email:To", "bob@example.com"),
              E("Email:Subject", "my draft"),
              E("AirSyncBase:Body", E("AirSyncBase:Type", "1"), E("AirSyncBase:Data", "draft text"))))
    key = drafts.key
    lost = drafts.sync([add], apply=False)
    first = lost.findall("Responses/Add")
    assert len(first) == 1 and first[0].findtext("Status") == "1"
    server_id = first[0].findtext("ServerId")
    # The device did not get the answer and sends the same request again.
    col = drafts.sync([add], key=key)
    again = col.findall("Responses/Add")
    assert [(a.findtext("ClientId"), a.findtext("ServerId"), a.findtext("Status")) for a in again] == \
        [("client-1", server_id, "1")]
    assert col.find("Commands/Add") is None  # its own item is not sent back
    # A repeat without the commands (the iPhone of the seed) gets the outcome too.
    drafts.key = key
    col = drafts.sync(key=key)
    assert [a.findtext("ServerId") for a in col.findall("Responses/Add")] == [server_id]
    assert col.find("Commands/Add") is None
    assert drafts.sync() is None
    assert len(folder_uids(m, "Drafts")) == 1
    m.logout()


def test_filter_type_narrowing(server):
    user = new_user(server)
    m = imap(server, user)
    now = time.time()
    old = append(m, "INBOX", message("old"), when=now - 20 * 86400)
    mid = append(m, "INBOX", message("mid"), when=now - 5 * 86400)
    new = append(m, "INBOX", message("new"), when=now - 3600)
    c = ready(server, user)
    f = Folder(c, inbox_of(c), opts=options(0, [body_pref(1)]))
    f.initial()
    f.sync_all()
    assert len(f.items) == 3
    f.opts = options(3, [body_pref(1)])  # one week
    col = f.sync()
    assert [d.findtext("ServerId") for d in col.findall("Commands/SoftDelete")] == [sid(f, old)]
    f.opts = options(1, [body_pref(1)])  # one day
    col = f.sync()
    assert [d.findtext("ServerId") for d in col.findall("Commands/SoftDelete")] == [sid(f, mid)]
    assert list(f.items) == [sid(f, new)]
    # Widening brings them back.
    f.opts = options(0, [body_pref(1)])
    col = f.sync()
    assert sorted(a.findtext("ServerId") for a in col.findall("Commands/Add")) == sorted([sid(f, old), sid(f, mid)])
    m.logout()


HTML_MSG = ("From: a@example.com\r\nTo: b@example.com\r\nSubject: rich\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n"
            "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "plain words " * 50 + "\r\n"
            "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><b>bold</b> "
            + "html words " * 50 + "</body></html>\r\n--b2--\r\n"
            "--b1\r\nContent-Type: application/pdf; name=\"doc.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1--\r\n").encode()


def test_body_preferences_and_truncation(server):
    user = new_user(server)
    m = imap(server, user)
    uid = append(m, "INBOX", HTML_MSG)
    c = ready(server, user)
    cid = inbox_of(c)
    for prefs, mime, want_type, check in [
        ([body_pref(1, 20)], None, "1", lambda d: d.startswith("plain words")),
        ([body_pref(2, 100000)], None, "2", lambda d: "<b>bold</b>" in d),
        ([body_pref(4, 50)], 2, "4", lambda d: d.startswith("From: a@example.com")),
    ]:
        f = Folder(c, cid, opts=options(0, prefs, mime_support=mime))
        f.initial()
        col = f.sync()
        data = col.find("Commands/Add/ApplicationData")
        body = data.find("AirSyncBase:Body")
        assert body.findtext("AirSyncBase:Type") == want_type
        text = body.findtext("AirSyncBase:Data")
        assert check(text), text
        if want_type == "1":
            assert len(text.encode()) <= 20 and body.findtext("AirSyncBase:Truncated") == "1"
            assert int(body.findtext("AirSyncBase:EstimatedDataSize")) > 500
        if want_type == "2":
            assert body.find("AirSyncBase:Truncated") is None
        if want_type == "4":
            assert len(text) == 50 and body.findtext("AirSyncBase:Truncated") == "1"
            assert int(body.findtext("AirSyncBase:EstimatedDataSize")) == len(HTML_MSG)
        assert data.findtext("AirSyncBase:NativeBodyType") == "2"
        att = data.find("AirSyncBase:Attachments/AirSyncBase:Attachment")
        assert att.findtext("AirSyncBase:DisplayName") == "doc.pdf"
        assert att.findtext("AirSyncBase:FileReference") == f"{cid}:{uid}:2"
        assert att.findtext("AirSyncBase:Method") == "1"
    # Preview (14.0+).
    f = Folder(c, cid, opts=options(0, [body_pref(2, 10, preview=30)]))
    f.initial()
    col = f.sync()
    pv = col.findtext("Commands/Add/ApplicationData/AirSyncBase:Body/AirSyncBase:Preview")
    assert pv == ("plain words " * 3).strip()[:30].rstrip() or pv.startswith("plain words"), pv
    m.logout()


def test_fetch_in_sync(server):
    user, m, c, f, uids = synced(server, n=2, opts=options(0, [body_pref(1, 0)]))
    col = f.sync([E("AirSync:Fetch", E("AirSync:ServerId", sid(f, uids[1]))),
                  E("AirSync:Fetch", E("AirSync:ServerId", sid(f, 424242)))], get_changes=False)
    fetches = col.findall("Responses/Fetch")
    assert [(x.findtext("ServerId"), x.findtext("Status")) for x in fetches] == \
        [(sid(f, uids[1]), "1"), (sid(f, 424242), "8")]
    assert fetches[0].findtext("ApplicationData/Email:Subject") == "m1"
    m.logout()


def test_invalid_sync_key_and_bad_requests(server):
    user, m, c, f, uids = synced(server, n=1)
    for key in ("{00000000-0000-0000-0000-000000000000}1", "garbage", f.key + "7"):
        r = f.post(sync_body(f.cid, key))
        assert r.node.findtext("Collections/Collection/Status") == "3", key
    # A collection that does not exist: the folder hierarchy changed.
    r = f.post(sync_body("987654321", "0"))
    assert r.node.findtext("Collections/Collection/Status") == "12"
    # Wait out of range: Status 14 with the limit.
    r = f.post(sync_body(f.cid, f.key, wait=90))
    assert r.node.findtext("Status") == "14" and r.node.findtext("Limit") == "59"
    # Not a Sync document.
    r = f.post(E("Ping:Ping"))
    assert r.node.findtext("Status") == "4"
    # The state survived all that.
    assert f.sync() is None
    m.logout()


def test_empty_and_partial_requests_reuse_the_cache(server):
    user, m, c, f, uids = synced(server, n=1)
    # A full request with nothing new: empty answer, request cached.
    assert f.sync() is None
    uid = append(m, "INBOX", message("while idle"))
    r = c.post("Sync", None)
    assert r.status == 200 and r.node is not None
    col = r.node.find("Collections/Collection")
    assert col.findtext("CollectionId") == f.cid
    assert [a.findtext("ServerId") for a in col.findall("Commands/Add")] == [sid(f, uid)]
    f.key = col.findtext("SyncKey")
    r = c.post("Sync", None)
    assert r.status == 200 and r.body == b""
    # A device that never sent a request has nothing cached: Status 13.
    c2 = ready(server, user)
    r = c2.post("Sync", None)
    assert r.node.findtext("Status") == "13"
    m.logout()


def test_wait_parks_until_a_change(server):
    user, m, c, f, uids = synced(server, n=1)
    result = {}

    def run():
        result["r"] = c.post("Sync", sync_body(f.cid, f.key, wait=1), timeout=120)
        result["t"] = time.time()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(1.5)
    assert "r" not in result
    sent = time.time()
    uid = append(m, "INBOX", message("pushed"))
    t.join(30)
    assert "r" in result and result["t"] - sent < 5
    col = result["r"].node.find("Collections/Collection")
    assert [a.findtext("ServerId") for a in col.findall("Commands/Add")] == [sid(f, uid)]
    m.logout()


def test_getitemestimate(server):
    user, m, c, f, uids = synced(server, n=2)
    for i in range(3):
        append(m, "INBOX", message(f"e{i}"))

    def estimate(key, cid=None):
        node = c.command("GetItemEstimate", E("GetItemEstimate:GetItemEstimate",
                         E("GetItemEstimate:Collections", E("GetItemEstimate:Collection",
                           E("AirSync:SyncKey", key), E("GetItemEstimate:CollectionId", cid or f.cid),
                           E("AirSync:Options", E("AirSync:FilterType", "0"))))), expect_status=None)
        return node.findtext("Response/Status"), node.findtext("Response/Collection/Estimate")

    assert estimate(f.key) == ("1", "3")
    assert estimate("0") == ("3", None)
    assert estimate("{11111111-1111-1111-1111-111111111111}1")[0] == "4"
    assert estimate(f.key, "99999999")[0] == "2"
    m.logout()


# --- ItemOperations, MoveItems, Search ---


def test_itemoperations_fetch(server):
    user = new_user(server)
    m = imap(server, user)
    uid = append(m, "INBOX", HTML_MSG)
    c = ready(server, user)
    cid = inbox_of(c)
    fref = f"{cid}:{uid}:2"
    body = E("ItemOperations:ItemOperations",
             E("ItemOperations:Fetch", E("ItemOperations:Store", "Mailbox"),
               E("AirSyncBase:FileReference", fref)),
             E("ItemOperations:Fetch", E("ItemOperations:Store", "Mailbox"),
               E("AirSync:CollectionId", cid), E("AirSync:ServerId", f"{cid}:{uid}"),
               E("ItemOperations:Options", body_pref(1, 5))),
             E("ItemOperations:Fetch", E("ItemOperations:Store", "Mailbox"),
               E("AirSyncBase:FileReference", f"{cid}:{uid}:9")))
    node = c.command("ItemOperations", body)
    fetches = node.findall("Response/Fetch")
    assert [f.findtext("Status") for f in fetches] == ["1", "1", "15"]
    props = fetches[0].find("Properties")
    import base64
    assert base64.b64decode(props.findtext("Data")) == base64.b64decode("JVBERi0xLjQKJcfsj6IK")
    assert props.findtext("AirSyncBase:ContentType") == "application/pdf"
    assert fetches[1].findtext("Properties/Email:Subject") == "rich"
    assert fetches[1].findtext("Properties/AirSyncBase:Body/AirSyncBase:Data") == "plain"
    # Multipart: the data in a part after the WBXML.
    r = c.post("ItemOperations", E("ItemOperations:ItemOperations",
               E("ItemOperations:Fetch", E("ItemOperations:Store", "Mailbox"),
                 E("AirSyncBase:FileReference", fref))),
               headers={"MS-ASAcceptMultiPart": "T"})
    assert r.status == 200 and r.headers["content-type"].startswith("application/vnd.ms-sync.multipart")
    import struct
    count = struct.unpack("<I", r.body[:4])[0]
    parts = [struct.unpack("<II", r.body[4 + 8 * i:12 + 8 * i]) for i in range(count)]
    assert count == 2
    doc = eas.decode(r.body[parts[0][0]:parts[0][0] + parts[0][1]])
    assert doc.findtext("Response/Fetch/Properties/Part") == "1"
    assert r.body[parts[1][0]:parts[1][0] + parts[1][1]] == base64.b64decode("JVBERi0xLjQKJcfsj6IK")
    # GetAttachment (12.1).
    r = c.post("GetAttachment", None, params={"AttachmentName": fref}, version="12.1")
    assert r.status == 200 and r.body == base64.b64decode("JVBERi0xLjQKJcfsj6IK")
    m.logout()


def test_itemoperations_empty_folder(server):
    user = new_user(server)
    m = imap(server, user)
    m.create("Trash/sub")
    for i in range(3):
        append(m, "Trash", message(f"t{i}"))
    c = ready(server, user)
    trash = c.folder_by_type(eas.TYPE_DELETED).server_id
    node = c.command("ItemOperations", E("ItemOperations:ItemOperations",
                     E("ItemOperations:EmptyFolderContents", E("AirSync:CollectionId", trash),
                       E("ItemOperations:Options", E("ItemOperations:DeleteSubFolders")))))
    assert node.findtext("Response/EmptyFolderContents/Status") == "1"
    assert folder_uids(m, "Trash") == []
    typ, data = m.list('""', "Trash/*")
    assert data == [None], data
    m.logout()


def test_moveitems_visible_over_imap(server):
    user, m, c, f, uids = synced(server, n=2)
    m.create("Archive2")
    c.foldersync()
    dst = c.folder_by_name("Archive2").server_id
    node = c.command("MoveItems", E("Move:MoveItems",
                     E("Move:Move", E("Move:SrcMsgId", sid(f, uids[0])), E("Move:SrcFldId", f.cid),
                       E("Move:DstFldId", dst)),
                     E("Move:Move", E("Move:SrcMsgId", sid(f, 777777)), E("Move:SrcFldId", f.cid),
                       E("Move:DstFldId", dst)),
                     E("Move:Move", E("Move:SrcMsgId", sid(f, uids[1])), E("Move:SrcFldId", f.cid),
                       E("Move:DstFldId", "123456789")),
                     E("Move:Move", E("Move:SrcMsgId", sid(f, uids[1])), E("Move:SrcFldId", f.cid),
                       E("Move:DstFldId", f.cid))), expect_status=None)
    resp = node.findall("Response")
    assert [r.findtext("Status") for r in resp] == ["3", "1", "2", "4"]
    new_id = resp[0].findtext("DstMsgId")
    new_uid = int(new_id.split(":")[1])
    assert folder_uids(m, "Archive2") == [new_uid]
    assert uids[0] not in folder_uids(m, "INBOX")
    # The source collection reports the move as a delete.
    col = f.sync()
    assert [d.findtext("ServerId") for d in col.findall("Commands/Delete")] == [sid(f, uids[0])]
    m.logout()


def search(c, *criteria, range_="0-9", deep=False, status=1):
    opts = [E("Search:Range", range_)]
    if deep:
        opts.append(E("Search:DeepTraversal"))
    opts.append(body_pref(1, 100))
    node = c.command("Search", E("Search:Search", E("Search:Store", E("Search:Name", "Mailbox"),
                     E("Search:Query", E("Search:And", E("AirSync:Class", "Email"), *criteria)),
                     E("Search:Options", *opts))))
    assert node.findtext("Response/Store/Status") == str(status), node
    return node.find("Response/Store")


def test_search_mailbox(server):
    user = new_user(server)
    m = imap(server, user)
    m.create("INBOX/Projects")
    now = time.time()
    a = append(m, "INBOX", message("quarterly report", body="numbers inside"), when=now - 10 * 86400)
    b = append(m, "INBOX", message("lunch", body="the Quarterly numbers again"), when=now - 3600)
    p = append(m, "INBOX/Projects", message("project quarterly"), when=now - 60)
    append(m, "INBOX", message("unrelated"))
    c = ready(server, user)
    inbox = inbox_of(c)
    store = search(c, E("AirSync:CollectionId", inbox), E("Search:FreeText", "quarterly"))
    results = store.findall("Result")
    assert store.findtext("Total") == "2"
    assert [r.findtext("LongId") for r in results] == [f"{inbox}:{b}", f"{inbox}:{a}"]
    assert results[0].findtext("Properties/Email:Subject") == "lunch"
    store = search(c, E("AirSync:CollectionId", inbox), E("Search:FreeText", "quarterly"), deep=True)
    assert store.findtext("Total") == "3"
    assert store.findall("Result")[0].findtext("Properties/Email:Subject") == "project quarterly"
    since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 86400))
    store = search(c, E("AirSync:CollectionId", inbox), E("Search:FreeText", "quarterly"),
                   E("Search:GreaterThan", E("Email:DateReceived"), E("Search:Value", since)))
    assert store.findtext("Total") == "1"
    store = search(c, E("AirSync:CollectionId", inbox), E("Search:FreeText", "quarterly"), range_="1-1")
    assert [r.findtext("LongId") for r in store.findall("Result")] == [f"{inbox}:{a}"]
    assert store.findtext("Range") == "1-1"
    store = search(c, E("AirSync:CollectionId", inbox), E("Search:FreeText", "nothing-like-this"))
    assert store.findtext("Total") == "0"
    # The LongId fetches the message.
    node = c.command("ItemOperations", E("ItemOperations:ItemOperations",
                     E("ItemOperations:Fetch", E("ItemOperations:Store", "Mailbox"),
                       E("Search:LongId", f"{inbox}:{b}"))))
    assert node.findtext("Response/Fetch/Properties/Email:Subject") == "lunch"
    m.logout()


# --- SendMail, SmartReply, SmartForward ---


def mail_to(frm, to, subject, extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from EAS\r\n").encode()


def wait_for(fn, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def subjects(m, folder):
    m.select(folder)
    typ, data = m.search(None, "ALL")
    out = []
    for n in data[0].split():
        typ, d = m.fetch(n, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out.append(d[0][1].decode().strip().split(":", 1)[1].strip())
    return out


def test_sendmail_to_local_user(server):
    domain = new_domain(server)
    sender, rcpt = new_user(server, domain), new_user(server, domain)
    c = ready(server, sender)
    mime = mail_to(sender, rcpt, "via eas 14", extra="Bcc: nobody@" + domain + "\r\n")
    r = c.post("SendMail", E("ComposeMail:SendMail", E("ComposeMail:ClientId", "c1"),
                              E("ComposeMail:SaveInSentItems"), E("ComposeMail:Mime", mime)))
    assert r.status == 200 and r.body == b"", r
    mr = imap(server, rcpt)
    assert wait_for(lambda: subjects(mr, "INBOX")) == ["via eas 14"]
    mr.select("INBOX")
    typ, data = mr.fetch("1", "(BODY.PEEK[HEADER])")
    assert b"Bcc" not in data[0][1]
    ms = imap(server, sender)
    assert subjects(ms, "Sent") == ["via eas 14"]
    # 12.x form: the MIME is the body.
    r = c.post("SendMail", mail_to(sender, rcpt, "via eas 12"), params={"SaveInSent": "F"},
               version="12.1", content_type="message/rfc822")
    assert r.status == 200, r
    assert wait_for(lambda: len(subjects(mr, "INBOX")) == 2)
    assert subjects(ms, "Sent") == ["via eas 14"]
    # Errors: no recipient, not MIME, someone else's address.
    r = c.post("SendMail", E("ComposeMail:SendMail", E("ComposeMail:ClientId", "c2"),
                              E("ComposeMail:Mime", f"From: {sender}\r\nSubject: x\r\n\r\nx\r\n")))
    assert r.node.findtext("Status") == "119"
    r = c.post("SendMail", E("ComposeMail:SendMail", E("ComposeMail:ClientId", "c3")))
    assert r.node.findtext("Status") == "103"
    r = c.post("SendMail", E("ComposeMail:SendMail", E("ComposeMail:ClientId", "c4"),
                              E("ComposeMail:Mime", mail_to("ceo@" + domain, rcpt, "spoof"))))
    assert r.node.findtext("Status") == "120"
    mr.logout()
    ms.logout()


def test_smartreply_and_smartforward(server):
    domain = new_domain(server)
    me, other = new_user(server, domain), new_user(server, domain)
    m = imap(server, me)
    uid = append(m, "INBOX", HTML_MSG)
    c = ready(server, me)
    inbox = inbox_of(c)
    reply = mail_to(me, other, "RE: rich")
    r = c.post("SmartReply", E("ComposeMail:SmartReply", E("ComposeMail:ClientId", "r1"),
               E("ComposeMail:Source", E("ComposeMail:FolderId", inbox),
                 E("ComposeMail:ItemId", f"{inbox}:{uid}")),
               E("ComposeMail:SaveInSentItems"), E("ComposeMail:Mime", reply)))
    assert r.status == 200 and r.body == b"", r
    mo = imap(server, other)
    assert wait_for(lambda: subjects(mo, "INBOX")) == ["RE: rich"]
    mo.select("INBOX")
    typ, data = mo.fetch("1", "(BODY[])")
    text = data[0][1]
    assert b"Hello from EAS" in text and b"plain words" in text and b"Original Message" in text
    assert b"doc.pdf" not in text
    assert "\\Answered" in read_flag(m, uid)
    fwd = mail_to(me, other, "FW: rich")
    r = c.post("SmartForward", E("ComposeMail:SmartForward", E("ComposeMail:ClientId", "f1"),
               E("ComposeMail:Source", E("ComposeMail:FolderId", inbox),
                 E("ComposeMail:ItemId", f"{inbox}:{uid}")),
               E("ComposeMail:Mime", fwd)))
    assert r.status == 200 and r.body == b"", r
    assert wait_for(lambda: len(subjects(mo, "INBOX")) == 2)
    mo.select("INBOX")
    typ, data = mo.fetch("2", "(BODY[])")
    assert b"doc.pdf" in data[0][1] and b"plain words" in data[0][1]
    # ReplaceMime: the client's message as it is.
    r = c.post("SmartForward", E("ComposeMail:SmartForward", E("ComposeMail:ClientId", "f2"),
               E("ComposeMail:Source", E("ComposeMail:ItemId", f"{inbox}:{uid}")),
               E("ComposeMail:ReplaceMime"), E("ComposeMail:Mime", mail_to(me, other, "FW2"))))
    assert r.status == 200
    assert wait_for(lambda: len(subjects(mo, "INBOX")) == 3)
    mo.select("INBOX")
    typ, data = mo.fetch("3", "(BODY[])")
    assert b"doc.pdf" not in data[0][1] and b"plain words" not in data[0][1]
    # A source that does not exist.
    r = c.post("SmartReply", E("ComposeMail:SmartReply", E("ComposeMail:ClientId", "r2"),
               E("ComposeMail:Source", E("ComposeMail:ItemId", f"{inbox}:99999")),
               E("ComposeMail:Mime", reply)))
    assert r.node.findtext("Status") == "150"
    m.logout()
    mo.logout()

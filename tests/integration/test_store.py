"""The mail store (db/store.h) through its test driver tests/store/store-driver,
on a fresh database migrated and populated with floectl: account lookup,
folders (defaults, counters, nesting, rename, delete), append with blob
deduplication and quota, flags with UNCHANGEDSINCE, expunge with
tombstones, copy and move, fetch and blob slices, search and sort, change
notices, abandoned operations and concurrent writers."""

import hashlib
import json
import os
import select
import subprocess
import time
import uuid

import pytest

import floe

BUILDDIR = os.environ.get("FLOE_BUILDDIR", floe.BUILDDIR)
DRIVER = os.path.join(BUILDDIR, "tests", "store", "store-driver")
FLOECTL = os.path.join(BUILDDIR, "floectl")
DEFAULT_FOLDERS = ["Calendar", "Contacts", "Drafts", "Files", "INBOX", "Journal", "Notes", "Sent",
                   "Spam", "Tasks", "Trash"]
DAY = 86400
T0 = 1700000000 - 1700000000 % DAY  # a UTC midnight (2023-11-14)


class Driver:
    """The store driver: one JSON command a line in, one JSON answer out;
    change notices are collected on the side."""

    def __init__(self, url):
        self.proc = subprocess.Popen([DRIVER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""
        self.notices = []
        self.contract = []

    def _line(self, timeout):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("store-driver did not answer")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise EOFError(f"store-driver exited ({self.proc.wait()})")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def _side(self, obj):
        if "notice" in obj:
            self.notices.append(tuple(obj["notice"]))
            return True
        if "possibly" in obj:
            return True
        if set(obj) == {"contract"}:
            self.contract.append(obj["contract"])
            return True
        return False

    def call(self, timeout=30, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            obj = self._line(timeout)
            if not self._side(obj):
                assert "contract" not in obj, obj
                return obj

    def ok(self, **cmd):
        r = self.call(**cmd)
        assert r["ok"], r
        return r

    def fail(self, code, **cmd):
        r = self.call(**cmd)
        assert not r["ok"] and r["code"] == code, r
        return r

    def wait_notices(self, n, timeout=5):
        """Collects side lines until at least n notices arrived."""
        deadline = time.time() + timeout
        while len(self.notices) < n and time.time() < deadline:
            self.ok(op="sleep", ms=50)
        return self.notices

    def close(self):
        self.proc.stdin.close()
        try:
            status = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        assert not self.contract, self.contract
        # Non-zero after a sanitizer report (leaks included) or a crash.
        assert status == 0, f"store-driver exited with {status}"


class Env:
    def __init__(self, pg, dbname, url, config):
        self.pg, self.dbname, self.url, self.config = pg, dbname, url, config
        self.domain = f"st{uuid.uuid4().hex[:8]}.example"
        self.ctl("domain", "add", self.domain)

    def ctl(self, *args):
        r = subprocess.run([FLOECTL, "--config", self.config] + list(args), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, f"floectl {' '.join(args)}: {r.stderr}"
        return r.stdout

    def sql(self, query):
        return self.pg.psql(query, db=self.dbname)

    def user(self, local=None, quota=None):
        """A new account with its default folders: (address, id)."""
        address = f"{local or 'u' + uuid.uuid4().hex[:8]}@{self.domain}"
        args = ["user", "add", address, "--password", "secret"]
        if quota:
            args += ["--quota", quota]
        self.ctl(*args)
        local_part, domain = address.split("@")
        acct = int(self.sql(f"SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id "
                            f"WHERE d.name = '{domain}' AND a.local_part = '{local_part}'"))
        return address, acct


@pytest.fixture(scope="module")
def env(pg, tmp_path_factory):
    for path in (DRIVER, FLOECTL):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is not built (make check builds it)")
    dbname = "store_" + uuid.uuid4().hex[:12]
    url = pg.create_database(dbname)
    d = tmp_path_factory.mktemp("store")
    config = d / "floe.conf"
    config.write_text(floe.render_config({
        "server": {"state_dir": str(d / "state"), "workers": 1, "user": ""},
        "db": {"url": url, "connect_timeout": "2s"},
        "http": {"listen": "", "listen_tls": ""},
        "imap": {"listen": "", "listen_tls": ""},
        "lmtp": {"listen": ""},
        "smtp": {"listen": "", "listen_tls": ""},
        "pop3": {"listen": "", "listen_tls": ""},
    }))
    e = Env(pg, dbname, url, str(config))
    e.ctl("db", "migrate")
    return e


@pytest.fixture
def drv(env):
    d = Driver(env.url)
    yield d
    d.close()


@pytest.fixture
def acct(env):
    return env.user()[1]


def folder_id(drv, acct, path):
    return drv.ok(op="get", account=acct, path=path)["folder"]["id"]


def message(subject="Hello", body="Body text\r\n", sender="alice@example.com", to="bob@example.com",
            flags=(), internal_date=0, **meta):
    """An append item: raw bytes and the metadata the parser would give."""
    raw = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"Message-ID: {meta.get('message_id', '<' + uuid.uuid4().hex + '@example.com>')}\r\n"
           f"\r\n{body}")
    m = {
        "envelope": f'(NIL "{subject}" NIL NIL NIL NIL NIL NIL NIL NIL)',
        "bodystructure": '("text" "plain" NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL)',
        "body": '("text" "plain" NIL NIL NIL "7bit" 10 1)',
        "partmap": '{"parts":[]}',
        "subject": subject, "base_subject": subject.lower(),
        "from_addr": sender, "to_addr": to, "sort_from": sender.lower(), "sort_to": to.lower(),
        "sort_display_from": sender.lower(), "sort_display_to": to.lower(),
        "preview": body.strip()[:200], "search_text": body,
        "headers_text": f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}",
    }
    m.update(meta)
    return {"data": raw, "flags": list(flags), "internal_date": internal_date, "meta": m}


def folder_by_path(listing, path):
    return next(f for f in listing["folders"] if f["path"] == path)


# ---------------------------------------------------------------------------
# Accounts


def test_account_lookup(env, drv):
    address, acct = env.user()
    local, domain = address.split("@")
    r = drv.ok(op="lookup", login=address.upper())
    a = r["account"]
    assert a["id"] == acct and a["address"] == address and a["enabled"] and a["kind"] == "user"
    assert a["password_hash"].startswith("$argon2id$") and a["quota_bytes"] == 0

    alias = f"alias{uuid.uuid4().hex[:6]}@{domain}"
    env.ctl("alias", "add", alias, address)
    assert drv.ok(op="lookup", login=alias)["account"]["id"] == acct

    # A bare local part only in domains that allow it, and only when unique.
    assert drv.ok(op="lookup", login=local)["account"] is None
    ll1, ll2 = f"ll{uuid.uuid4().hex[:8]}.example", f"ll{uuid.uuid4().hex[:8]}.example"
    env.ctl("domain", "add", ll1, "--local-login", "yes")
    shared = "p" + uuid.uuid4().hex[:8]
    env.ctl("user", "add", f"{shared}@{ll1}", "--password", "x", "--quota", "10M")
    r = drv.ok(op="lookup", login=shared)["account"]
    assert r["address"] == f"{shared}@{ll1}" and r["quota_bytes"] == 10 * 1024 * 1024
    env.ctl("domain", "add", ll2, "--local-login", "yes")
    env.ctl("user", "add", f"{shared}@{ll2}", "--no-password")
    assert drv.ok(op="lookup", login=shared)["account"] is None
    assert drv.ok(op="lookup", login=f"{shared}@{ll2}")["account"]["password_hash"] is None

    for bad in ["", "@", "x@", "@" + domain, "nobody@" + domain, "a@b@c", "\u00e9t\u00e9"]:
        assert drv.ok(op="lookup", login=bad)["account"] is None, bad


# ---------------------------------------------------------------------------
# Folders


def test_default_folders_and_counters(env, drv, acct):
    r = drv.ok(op="list", account=acct)
    paths = [f["path"] for f in r["folders"]]
    assert paths == sorted(DEFAULT_FOLDERS)
    inbox = folder_by_path(r, "INBOX")
    assert inbox["special_use"] == "inbox" and inbox["is_default"] and inbox["subscribed"]
    assert inbox["uidvalidity"] > 0 and inbox["uidnext"] == 1 and inbox["highestmodseq"] >= 1
    assert folder_by_path(r, "Spam")["special_use"] == "junk"
    assert folder_by_path(r, "Calendar")["type"] == "event"
    assert all(f["messages"] == 0 and f["owner_id"] == acct and not f["noselect"]
               for f in r["folders"])
    assert r["orphans"] == []

    drv.ok(op="append", account=acct, folder=inbox["id"],
           items=[message(flags=["\\Seen"]), message(), message(flags=["\\Deleted"])])
    i = folder_by_path(drv.ok(op="list", account=acct), "INBOX")
    raw_sizes = env.sql(f"SELECT sum(size) FROM items WHERE account_id = {acct}")
    assert (i["messages"], i["unseen"], i["deleted"], i["size"]) == (3, 2, 1, int(raw_sizes))
    assert i["uidnext"] == 4

    # The same counters from STATUS-like lookups by path and id, INBOX in any case.
    g = drv.ok(op="get", account=acct, path="inbox")["folder"]
    assert g == i
    assert drv.ok(op="get", account=acct, folder=inbox["id"])["folder"] == i
    drv.fail("not_found", op="get", account=acct, path="Nope")
    drv.fail("not_found", op="get", account=acct, folder=999999999)
    drv.fail("not_found", op="get", account=acct + 100000, path="INBOX")

    # Subscriptions are names; one naming no folder is an orphan.
    drv.ok(op="subscribe", account=acct, name="Gone/Away")
    drv.ok(op="subscribe", account=acct, name="Trash", subscribe=False)
    drv.ok(op="subscribe", account=acct, name="Trash", subscribe=False)
    r = drv.ok(op="list", account=acct)
    assert r["orphans"] == ["Gone/Away"]
    assert not folder_by_path(r, "Trash")["subscribed"]
    drv.ok(op="subscribe", account=acct, name="inbox/Sub")
    assert env.sql(f"SELECT name FROM subscriptions WHERE account_id = {acct} AND name LIKE '%Sub'") \
        == "INBOX/Sub"


def test_folder_create_rename_delete(env, drv, acct):
    f = drv.ok(op="create", account=acct, path="Projects/2024/Q1")["folder"]
    assert f["path"] == "Projects/2024/Q1" and f["type"] == "mail" and not f["subscribed"]
    listing = drv.ok(op="list", account=acct)
    projects = folder_by_path(listing, "Projects")
    assert projects["has_children"] and folder_by_path(listing, "Projects/2024")["has_children"]
    assert not folder_by_path(listing, "Projects/2024/Q1")["has_children"]
    paths = [x["path"] for x in listing["folders"]]
    assert paths.index("Projects") < paths.index("Projects/2024") < paths.index("Projects/2024/Q1")

    drv.fail("exists", op="create", account=acct, path="Projects/2024")
    drv.fail("exists", op="create", account=acct, path="inbox")
    for bad in ["", "/x", "x/", "a//b", "tab\there", "x" * 300]:
        drv.fail("invalid", op="create", account=acct, path=bad)
    drv.fail("invalid", op="create", account=acct, path="Odd", type="weird")
    drv.fail("invalid", op="create", account=acct, path="Odd", special_use="weird")
    drv.fail("invalid", op="create", account=acct, path="Sent2", special_use="sent")
    arch = drv.ok(op="create", account=acct, path="Archive", special_use="archive")["folder"]
    assert arch["special_use"] == "archive"
    cal = drv.ok(op="create", account=acct, path="Team Calendar", type="event")["folder"]
    assert cal["type"] == "event"
    utf = drv.ok(op="create", account=acct, path="Ünïcødé/日本")["folder"]
    assert utf["path"] == "Ünïcødé/日本"
    assert drv.ok(op="get", account=acct, path="Ünïcødé/日本")["folder"]["id"] == utf["id"]

    # Rename moves the subtree and creates missing parents; ids stay.
    q1 = f["id"]
    drv.ok(op="append", account=acct, folder=q1, items=[message()])
    drv.ok(op="rename", account=acct, folder=projects["id"], path="Old/Projects")
    listing = drv.ok(op="list", account=acct)
    moved = folder_by_path(listing, "Old/Projects/2024/Q1")
    assert moved["id"] == q1 and moved["messages"] == 1 and moved["uidvalidity"] == f["uidvalidity"]
    assert not any(x["path"].startswith("Projects") for x in listing["folders"])
    drv.fail("exists", op="rename", account=acct, folder=q1, path="Archive")
    drv.fail("invalid", op="rename", account=acct, folder=projects["id"], path="Old/Projects/2024/X")
    drv.fail("not_found", op="rename", account=acct, folder=999999999, path="Whatever")
    drv.fail("invalid", op="rename", account=acct, folder=q1, path="a//b")

    # Deleting a folder with children keeps its name as \Noselect.
    y2024 = folder_by_path(listing, "Old/Projects/2024")
    drv.ok(op="append", account=acct, folder=y2024["id"], items=[message()])
    drv.ok(op="delete", account=acct, folder=y2024["id"])
    g = drv.ok(op="get", account=acct, path="Old/Projects/2024")["folder"]
    assert g["noselect"] and g["has_children"] and g["messages"] == 0
    drv.fail("invalid", op="select", account=acct, folder=y2024["id"])
    drv.fail("invalid", op="append", account=acct, folder=y2024["id"], items=[message()])
    drv.fail("not_empty", op="delete", account=acct, folder=y2024["id"])
    # ... and creating it again makes it a folder with a new UIDVALIDITY.
    again = drv.ok(op="create", account=acct, path="Old/Projects/2024")["folder"]
    assert again["id"] == y2024["id"] and not again["noselect"]
    assert again["uidvalidity"] != y2024["uidvalidity"] and again["messages"] == 0
    assert drv.ok(op="select", account=acct, folder=again["id"])["msgs"] == []

    drv.ok(op="delete", account=acct, folder=q1)
    drv.fail("not_found", op="get", account=acct, folder=q1)
    drv.fail("not_found", op="delete", account=acct, folder=q1)
    inbox = folder_id(drv, acct, "INBOX")
    drv.fail("invalid", op="delete", account=acct, folder=inbox)
    drv.fail("invalid", op="delete", account=acct, folder=folder_id(drv, acct, "Calendar"))
    # Sent, Trash and the like are not default folders: they may go.
    drv.ok(op="delete", account=acct, folder=folder_id(drv, acct, "Trash"))

    # Another account's folder is not reachable under this account.
    _, other = env.user()
    drv.fail("not_found", op="delete", account=other, folder=again["id"])
    drv.fail("not_found", op="rename", account=other, folder=again["id"], path="Mine")


def test_rename_inbox(env, drv, acct):
    inbox = drv.ok(op="get", account=acct, path="INBOX")["folder"]
    drv.ok(op="append", account=acct, folder=inbox["id"],
           items=[message("one", flags=["\\Seen"]), message("two")])
    child = drv.ok(op="create", account=acct, path="INBOX/Child")["folder"]
    drv.ok(op="rename", account=acct, folder=inbox["id"], path="Old Mail")
    old = drv.ok(op="get", account=acct, path="Old Mail")["folder"]
    assert old["messages"] == 2 and old["unseen"] == 1
    sel = drv.ok(op="select", account=acct, folder=old["id"])
    assert [m["uid"] for m in sel["msgs"]] == [1, 2]
    assert sel["msgs"][0]["flags"] == ["\\Seen"]
    after = drv.ok(op="changes", account=acct, folder=inbox["id"], since=inbox["highestmodseq"])
    assert after["folder"]["messages"] == 0 and after["vanished"] == [1, 2]
    assert after["folder"]["uidvalidity"] == inbox["uidvalidity"]
    assert drv.ok(op="get", account=acct, path="INBOX/Child")["folder"]["id"] == child["id"]


# ---------------------------------------------------------------------------
# Append


def test_append_uids_modseq_and_dedup(env, drv, acct):
    inbox = drv.ok(op="get", account=acct, path="INBOX")["folder"]
    item = message("same", message_id="<same@example.com>")
    r1 = drv.ok(op="append", account=acct, folder=inbox["id"], items=[item, item])
    assert r1["uids"] == [1, 2] and r1["uidvalidity"] == inbox["uidvalidity"]
    assert r1["modseq"] > inbox["highestmodseq"]
    r2 = drv.ok(op="append", account=acct, folder=inbox["id"], items=[item])
    assert r2["uids"] == [3] and r2["modseq"] > r1["modseq"]

    digest = hashlib.sha256(item["data"].encode()).hexdigest()
    assert env.sql(f"SELECT count(*) FROM blobs WHERE hash = '\\x{digest}'") == "1"
    assert env.sql(f"SELECT count(*) FROM items WHERE blob_hash = '\\x{digest}'") == "3"
    rows = drv.ok(op="fetch", account=acct, folder=inbox["id"], uids=None, fields=["ids"])["rows"]
    assert [r["blob_hash"] for r in rows] == [digest] * 3
    # Each append gets its own EMAILID; copies of one message share a thread.
    assert len({r["email_id"] for r in rows}) == 3
    assert all(r["email_id"].startswith("M") for r in rows)
    assert len({r["thread_id"] for r in rows}) == 1

    # Binary bytes (NUL, 8-bit) come back exactly.
    raw = bytes(range(256)) * 3
    r = drv.ok(op="append", account=acct, folder=inbox["id"],
               items=[{"data_hex": raw.hex(), "flags": [], "meta": None}])
    f = drv.ok(op="fetch", account=acct, folder=inbox["id"], uids=[[r["uids"][0]] * 2],
               fields=["envelope"])["rows"][0]
    assert f["size"] == len(raw) and f["envelope"] is None
    got = drv.ok(op="blob", account=acct, folder=inbox["id"], hash=f["blob_hash"], offset=0,
                 length=10000)
    assert bytes.fromhex(got["hex"]) == raw

    # Internal dates: given or now.
    r = drv.ok(op="append", account=acct, folder=inbox["id"],
               items=[message(internal_date=T0), message()])
    rows = drv.ok(op="fetch", account=acct, folder=inbox["id"], uids=[[r["uids"][0], r["uids"][1]]],
                  fields=["internaldate"])["rows"]
    assert rows[0]["internal_date"] == T0 and abs(rows[1]["internal_date"] - time.time()) < 600

    # Metadata that is not valid UTF-8 cannot reach the database unchanged,
    # but the message is stored; bad input is refused whole.
    drv.fail("invalid", op="append", account=acct, folder=inbox["id"],
             items=[message(), message(flags=["bad flag"])])
    drv.fail("invalid", op="append", account=acct, folder=inbox["id"],
             items=[message(flags=["\\Recent"])])
    drv.fail("invalid", op="append", account=acct, folder=inbox["id"], items=[])
    drv.fail("not_found", op="append", account=acct, folder=999999999, items=[message()])
    after = drv.ok(op="get", account=acct, folder=inbox["id"])["folder"]
    assert after["messages"] == 6 and after["uidnext"] == 7


def test_append_quota(env, drv):
    address, acct = env.user(quota="1K")
    inbox = folder_id(drv, acct, "INBOX")
    big = message(body="x" * 600)
    drv.ok(op="append", account=acct, folder=inbox, items=[big])
    before = drv.ok(op="get", account=acct, folder=inbox)["folder"]
    r = drv.fail("over_quota", op="append", account=acct, folder=inbox, items=[big])
    assert "quota" in r["error"]
    after = drv.ok(op="get", account=acct, folder=inbox)["folder"]
    assert after == before  # nothing written, not even the UID allocation
    # Copies count against the quota too; moves within the account do not.
    sent = folder_id(drv, acct, "Sent")
    drv.fail("over_quota", op="copy", account=acct, folder=inbox, uids=[[1, 1]],
             dest_account=acct, dest_folder=sent)
    drv.ok(op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=acct,
           dest_folder=sent, move=True)
    env.ctl("user", "set", address, "--quota", "unlimited")
    drv.ok(op="append", account=acct, folder=inbox, items=[big, big, big])


def test_concurrent_appends(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    ops = [dict(op="append", account=acct, folder=inbox, items=[message(f"m{i}")])
           for i in range(12)]
    res = drv.ok(op="parallel", ops=ops)["results"]
    assert all(r["ok"] for r in res), res
    uids = sorted(r["uids"][0] for r in res)
    modseqs = {r["modseq"] for r in res}
    assert uids == list(range(1, 13)) and len(modseqs) == 12
    f = drv.ok(op="get", account=acct, folder=inbox)["folder"]
    assert f["messages"] == 12 and f["uidnext"] == 13 and f["highestmodseq"] == max(modseqs)


# ---------------------------------------------------------------------------
# Flags, expunge, changes


def test_flags(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    drv.ok(op="append", account=acct, folder=inbox, items=[message() for _ in range(4)])
    m0 = drv.ok(op="get", account=acct, folder=inbox)["folder"]["highestmodseq"]

    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 2]], mode="add",
               flags=["\\SEEN", "$Work"])
    assert [c["uid"] for c in r["changed"]] == [1, 2] and r["highestmodseq"] == m0 + 1
    # System flags in their canonical spelling; order is not significant.
    assert sorted(r["changed"][0]["flags"]) == ["$Work", "\\Seen"]
    assert all(c["modseq"] == m0 + 1 for c in r["changed"]) and r["modified"] == []

    # Nothing changes: no new modseq.
    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="add",
               flags=["\\Seen", "$work"])
    assert r["changed"] == [] and r["highestmodseq"] == m0 + 1

    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 4]], mode="remove",
               flags=["$WORK"])
    assert [c["uid"] for c in r["changed"]] == [1, 2] and r["changed"][0]["flags"] == ["\\Seen"]
    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[2, 3]], mode="set",
               flags=["\\Flagged", "\\Answered", "\\flagged"])
    assert [sorted(c["flags"]) for c in r["changed"]] == [["\\Answered", "\\Flagged"]] * 2
    m1 = r["highestmodseq"]

    sel = drv.ok(op="select", account=acct, folder=inbox)
    assert [(m["uid"], sorted(m["flags"])) for m in sel["msgs"]] == [
        (1, ["\\Seen"]), (2, ["\\Answered", "\\Flagged"]), (3, ["\\Answered", "\\Flagged"]),
        (4, [])]
    assert sel["folder"]["unseen"] == 3

    # UNCHANGEDSINCE: messages changed after it are reported, not touched.
    mod_of = {m["uid"]: m["modseq"] for m in sel["msgs"]}
    since = mod_of[1]
    assert mod_of[2] > since and mod_of[4] < since
    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 4]], mode="add",
               flags=["\\Deleted"], unchangedsince=since)
    assert sorted(r["modified"]) == [2, 3]
    assert [c["uid"] for c in r["changed"]] == [1, 4] and r["highestmodseq"] == m1 + 1
    assert drv.ok(op="get", account=acct, folder=inbox)["folder"]["deleted"] == 2

    drv.fail("invalid", op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="add",
             flags=["\\Recent"])
    drv.fail("invalid", op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="add",
             flags=["a(b"])
    drv.fail("invalid", op="flags", account=acct, folder=inbox, uids=[[3, 1]], mode="add",
             flags=["x"])
    drv.fail("invalid", op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="toggle",
             flags=["x"])
    drv.fail("not_found", op="flags", account=acct, folder=999999999, uids=[[1, 1]], mode="add",
             flags=["x"])
    r = drv.ok(op="flags", account=acct, folder=inbox, uids=[[100, 200]], mode="add", flags=["x"])
    assert r["changed"] == [] and r["modified"] == []


def test_expunge_tombstones_and_changes(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    unique = message(body="only here " + uuid.uuid4().hex)
    drv.ok(op="append", account=acct, folder=inbox, items=[message() for _ in range(5)] + [unique])
    start = drv.ok(op="get", account=acct, folder=inbox)["folder"]["highestmodseq"]
    drv.ok(op="flags", account=acct, folder=inbox, uids=[[2, 4], [6, 6]], mode="add",
           flags=["\\Deleted"])

    r = drv.ok(op="expunge", account=acct, folder=inbox, uids=[[1, 3]])
    assert r["uids"] == [2, 3]
    r2 = drv.ok(op="expunge", account=acct, folder=inbox)
    assert r2["uids"] == [4, 6] and r2["highestmodseq"] > r["highestmodseq"]
    r3 = drv.ok(op="expunge", account=acct, folder=inbox)
    assert r3["uids"] == [] and r3["highestmodseq"] == r2["highestmodseq"]

    ch = drv.ok(op="changes", account=acct, folder=inbox, since=start)
    assert ch["vanished"] == [2, 3, 4, 6]
    assert [m["uid"] for m in ch["msgs"]] == []  # 1 and 5 did not change after start
    assert ch["folder"]["messages"] == 2 and ch["folder"]["deleted"] == 0
    ch = drv.ok(op="changes", account=acct, folder=inbox, since=r["highestmodseq"])
    assert ch["vanished"] == [4, 6]
    ch = drv.ok(op="changes", account=acct, folder=inbox, since=r2["highestmodseq"])
    assert ch["vanished"] == [] and ch["msgs"] == []
    ch = drv.ok(op="changes", account=acct, folder=inbox, since=0)
    assert [m["uid"] for m in ch["msgs"]] == [1, 5]
    assert env.sql(f"SELECT count(*) FROM tombstones WHERE account_id = {acct} "
                   f"AND folder_id = {inbox}") == "4"
    # The only copy of a message's bytes goes with it, at the next content
    # garbage collection (expunges only queue it).
    digest = hashlib.sha256(unique["data"].encode()).hexdigest()
    assert env.sql(f"SELECT count(*) FROM blobs WHERE hash = '\\x{digest}'") == "1"
    assert drv.ok(op="gc")["handled"] >= 1
    assert env.sql(f"SELECT count(*) FROM blobs WHERE hash = '\\x{digest}'") == "0"
    assert env.sql(f"SELECT count(*) FROM message_meta WHERE account_id = {acct} "
                   f"AND hash = '\\x{digest}'") == "0"
    drv.fail("not_found", op="changes", account=acct, folder=999999999, since=0)
    drv.fail("not_found", op="expunge", account=acct, folder=999999999)


def blob_count(env, item):
    digest = hashlib.sha256(item["data"].encode()).hexdigest()
    return int(env.sql(f"SELECT count(*) FROM blobs WHERE hash = '\\x{digest}'"))


def meta_count(env, acct, item):
    digest = hashlib.sha256(item["data"].encode()).hexdigest()
    return int(env.sql(f"SELECT count(*) FROM message_meta WHERE account_id = {acct} "
                       f"AND hash = '\\x{digest}'"))


def expunge_all(drv, acct, folder):
    drv.ok(op="flags", account=acct, folder=folder, uids=[[1, 4294967295]], mode="add",
           flags=["\\Deleted"])
    return drv.ok(op="expunge", account=acct, folder=folder)


def test_content_gc_keeps_what_is_still_used(env, drv):
    """The content garbage collection deletes parse results and blobs only
    when no item refers to them: not a content appended again after its
    expunge, not one another folder or account still has."""
    _, acct = env.user()
    _, other = env.user()
    inbox, oinbox = folder_id(drv, acct, "INBOX"), folder_id(drv, other, "INBOX")
    archive = drv.ok(op="create", account=acct, path="Archive")["folder"]["id"]
    again = message("again", body="appended again " + uuid.uuid4().hex)
    kept = message("kept", body="kept in Archive " + uuid.uuid4().hex)
    shared = message("shared", body="the other account has it " + uuid.uuid4().hex)
    gone = message("gone", body="nobody has it " + uuid.uuid4().hex)
    drv.ok(op="append", account=acct, folder=inbox, items=[again, kept, shared, gone])
    drv.ok(op="append", account=acct, folder=archive, items=[kept])
    drv.ok(op="append", account=other, folder=oinbox, items=[shared])
    assert expunge_all(drv, acct, inbox)["uids"] == [1, 2, 3, 4]
    # Appended again before the collection: the parse results are reused.
    r = drv.ok(op="append", account=acct, folder=inbox, items=[again])
    drv.ok(op="gc")
    assert blob_count(env, again) == 1 and meta_count(env, acct, again) == 1
    assert blob_count(env, kept) == 1 and meta_count(env, acct, kept) == 1
    assert blob_count(env, shared) == 1 and meta_count(env, acct, shared) == 0
    assert meta_count(env, other, shared) == 1
    assert blob_count(env, gone) == 0 and meta_count(env, acct, gone) == 0
    # What was kept is still whole: searchable and readable.
    found = drv.ok(op="search", account=acct, folder=inbox,
                   criteria={"key": "body", "text": "appended again"})
    assert found["uids"] == r["uids"]
    rows = drv.ok(op="fetch", account=acct, folder=archive, uids=None, fields=["ids"])["rows"]
    data = drv.ok(op="blob", account=acct, folder=archive, hash=rows[0]["blob_hash"], offset=0,
                  length=1 << 20)
    assert bytes.fromhex(data["hex"]) == kept["data"].encode()
    # Nothing left queued: a second run has nothing to do.
    assert drv.ok(op="gc")["handled"] == 0


def test_content_gc_against_a_concurrent_append(env, drv, pg):
    """An append of the same bytes that is still running when the
    collection comes (here: an item row inserted in an open transaction,
    which locks the parse results as an append's insert does) wins: the
    collection waits for it and keeps the content."""
    _, acct = env.user()
    inbox = folder_id(drv, acct, "INBOX")
    item = message("race", body="raced " + uuid.uuid4().hex)
    drv.ok(op="append", account=acct, folder=inbox, items=[item])
    expunge_all(drv, acct, inbox)
    digest = hashlib.sha256(item["data"].encode()).hexdigest()
    psql = subprocess.Popen([f"{floe.PG_BINDIR}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                             "-h", "127.0.0.1", "-p", str(pg.port), "-U", "floe", "-d", env.dbname],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    psql.stdin.write(
        "BEGIN;\n"
        "INSERT INTO items (account_id, folder_id, uid, modseq, size, blob_hash) "
        f"SELECT {acct}, {inbox}, 1000, f.highestmodseq, 10, '\\x{digest}' FROM folders f "
        f"WHERE f.id = {inbox};\n"
        "SELECT pg_sleep(3) AS floe_gc_race;\n"
        "COMMIT;\n")
    psql.stdin.close()
    deadline = time.time() + 20
    while env.sql("SELECT count(*) FROM pg_stat_activity "
                  "WHERE query LIKE 'SELECT pg_sleep(3) AS floe_gc_race%'") != "1":
        assert time.time() < deadline, "the open transaction did not start"
        time.sleep(0.05)
    drv.ok(op="gc", timeout=30)
    assert psql.wait(timeout=30) == 0, psql.stderr.read()
    assert blob_count(env, item) == 1 and meta_count(env, acct, item) == 1
    # Once that item is gone too, the content goes.
    env.sql(f"DELETE FROM items WHERE account_id = {acct} AND folder_id = {inbox} AND uid = 1000")
    env.sql(f"INSERT INTO content_gc (account_id, hash) VALUES ({acct}, '\\x{digest}')")
    drv.ok(op="gc")
    assert blob_count(env, item) == 0 and meta_count(env, acct, item) == 0


def test_copy_and_move(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    archive = drv.ok(op="create", account=acct, path="Archive")["folder"]
    drv.ok(op="append", account=acct, folder=inbox,
           items=[message(f"m{i}", flags=["\\Seen"] if i == 1 else []) for i in range(1, 6)])
    src = drv.ok(op="fetch", account=acct, folder=inbox, uids=None, fields=["ids"])["rows"]
    blobs_before = env.sql("SELECT count(*) FROM blobs")

    r = drv.ok(op="copy", account=acct, folder=inbox, uids=[[1, 2], [4, 4], [9, 12]],
               dest_account=acct, dest_folder=archive["id"])
    assert r["src_uids"] == [1, 2, 4] and r["dest_uids"] == [1, 2, 3]
    assert r["dest_uidvalidity"] == archive["uidvalidity"]
    assert env.sql("SELECT count(*) FROM blobs") == blobs_before
    dst = drv.ok(op="fetch", account=acct, folder=archive["id"], uids=None, fields=["ids"])["rows"]
    assert [d["email_id"] for d in dst] == [src[i]["email_id"] for i in (0, 1, 3)]
    assert [d["blob_hash"] for d in dst] == [src[i]["blob_hash"] for i in (0, 1, 3)]
    assert dst[0]["flags"] == ["\\Seen"] and dst[0]["internal_date"] == src[0]["internal_date"]
    assert drv.ok(op="get", account=acct, folder=inbox)["folder"]["messages"] == 5

    before = drv.ok(op="get", account=acct, folder=inbox)["folder"]["highestmodseq"]
    r = drv.ok(op="copy", account=acct, folder=inbox, uids=[[2, 3]], dest_account=acct,
               dest_folder=archive["id"], move=True)
    assert r["src_uids"] == [2, 3] and r["dest_uids"] == [4, 5]
    assert r["src_highestmodseq"] > before
    ch = drv.ok(op="changes", account=acct, folder=inbox, since=before)
    assert ch["vanished"] == [2, 3] and ch["folder"]["highestmodseq"] == r["src_highestmodseq"]
    a = drv.ok(op="get", account=acct, folder=archive["id"])["folder"]
    assert a["messages"] == 5 and a["unseen"] == 4

    r = drv.ok(op="copy", account=acct, folder=inbox, uids=[[50, 60]], dest_account=acct,
               dest_folder=archive["id"])
    assert r["src_uids"] == [] and r["dest_uidvalidity"] == archive["uidvalidity"]
    drv.fail("invalid", op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=acct,
             dest_folder=inbox, move=True)
    r = drv.ok(op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=acct,
               dest_folder=inbox)
    assert r["dest_uids"] == [6]
    drv.fail("not_found", op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=acct,
             dest_folder=999999999)

    # Into another account's folder (the caller checked its rights).
    _, other = env.user()
    oinbox = folder_id(drv, other, "INBOX")
    r = drv.ok(op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=other,
               dest_folder=oinbox, move=True)
    assert r["dest_uids"] == [1]
    assert drv.ok(op="get", account=other, folder=oinbox)["folder"]["messages"] == 1
    drv.fail("not_found", op="copy", account=acct, folder=inbox, uids=[[4, 4]],
             dest_account=other, dest_folder=archive["id"])


# ---------------------------------------------------------------------------
# Reading


def test_fetch_and_blob_read(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    big_body = "".join(f"line {i:06d}\r\n" for i in range(30000))
    drv.ok(op="append", account=acct, folder=inbox,
           items=[message("small"), message("big", body=big_body)])
    rows = drv.ok(op="fetch", account=acct, folder=inbox, uids=[[1, 2]],
                  fields=["envelope", "bodystructure", "partmap", "preview", "ids"])["rows"]
    assert rows[0]["envelope"] == '(NIL "small" NIL NIL NIL NIL NIL NIL NIL NIL)'
    assert rows[0]["bodystructure"].startswith('("text"') and rows[0]["body"].startswith('("text"')
    assert rows[0]["partmap"] == '{"parts":[]}' and rows[0]["preview"] == "Body text"
    bare = drv.ok(op="fetch", account=acct, folder=inbox, uids=[[1, 1]], fields=[])["rows"][0]
    assert bare["envelope"] is None and bare["partmap"] is None and bare["preview"] is None
    assert bare["uid"] == 1 and bare["size"] == rows[0]["size"]

    # CHANGEDSINCE
    m = drv.ok(op="flags", account=acct, folder=inbox, uids=[[2, 2]], mode="add",
               flags=["\\Seen"])["highestmodseq"]
    got = drv.ok(op="fetch", account=acct, folder=inbox, uids=None, fields=[], changedsince=m - 1)
    assert [r["uid"] for r in got["rows"]] == [2]
    assert drv.ok(op="fetch", account=acct, folder=inbox, uids=[[3, 9]], fields=[])["rows"] == []

    raw = message("big", body=big_body)["data"]
    h = rows[1]["blob_hash"]
    assert rows[1]["size"] > 300000

    def read(offset, length, **kw):
        r = drv.ok(op="blob", account=acct, folder=inbox, hash=h, offset=offset, length=length, **kw)
        return bytes.fromhex(r["hex"])

    # The parser's Message-ID differs per call: compare against the stored bytes.
    whole = b"".join(read(o, 65536) for o in range(0, rows[1]["size"], 65536))
    assert len(whole) == rows[1]["size"] and whole.endswith(big_body.encode())
    assert read(100000, 50) == whole[100000:100050]
    assert read(rows[1]["size"] - 10, 1000) == whole[-10:]
    assert read(rows[1]["size"] + 5, 10) == b""
    assert read(0, 0) == b""
    assert raw.split("\r\n\r\n", 1)[1].encode() == whole.split(b"\r\n\r\n", 1)[1]
    # The blob must belong to an item of the folder named.
    drv.fail("not_found", op="blob", account=acct, folder=folder_id(drv, acct, "Sent"), hash=h,
             offset=0, length=10)
    _, other = env.user()
    drv.fail("not_found", op="blob", account=other, folder=inbox, hash=h, offset=0, length=10)
    drv.fail("invalid", op="blob", account=acct, folder=inbox, hash="xyz", offset=0, length=10)
    drv.fail("not_found", op="blob", account=acct, folder=inbox, hash="0" * 64, offset=0, length=1)


# ---------------------------------------------------------------------------
# Search and sort


@pytest.fixture
def corpus(env, drv, acct):
    """Five messages with distinct fields; returns (folder id, {name: uid})."""
    inbox = folder_id(drv, acct, "INBOX")
    items = [
        message("Quarterly report", body="Revenue grew 10% in Q3.\r\n", sender="alice@corp.example",
                to="bob@corp.example", cc_addr="carol@corp.example", flags=["\\Seen", "$Work"],
                internal_date=T0 + 3600, sent_date=T0 - DAY + 100, sort_cc="carol@corp.example",
                headers_text="From: alice@corp.example\r\nSubject: Quarterly report\r\n"
                             "X-Priority: 1 (Highest)\r\nList-Id: <reports.corp.example>"),
        message("Lunch?", body="Pizza or sushi_bar today\r\n", sender="dave@food.example",
                to="alice@corp.example", bcc_addr="eve@spy.example", flags=["\\Flagged"],
                internal_date=T0 + DAY + 60, sent_date=T0 + DAY + 30,
                headers_text="From: dave@food.example\r\nSubject: Lunch?\r\nX-Mailer: Pine"),
        message("Ärger mit dem Drucker", body="Der DRUCKER ist kaputt. Größe: A4\r\n",
                sender="zoe@example.de", to="it@corp.example", flags=["\\Seen"],
                internal_date=T0 + 2 * DAY, sort_display_from="zoe",
                headers_text="From: zoe@example.de\r\nSubject: =?utf-8?q?=C3=84rger?="),
        message("Re: Quarterly report", body="Thanks!\r\n" + "padding " * 2000,
                sender="bob@corp.example", to="alice@corp.example", flags=["\\Answered"],
                internal_date=T0 + 3 * DAY, in_reply_to="<q1@corp.example>",
                headers_text="From: bob@corp.example\r\nSubject: Re: Quarterly report"),
        message("", body="", sender="", to="", internal_date=T0 + 4 * DAY,
                headers_text="X-Empty: yes"),
    ]
    items[0]["meta"]["message_id"] = "<q1@corp.example>"
    items[4]["meta"]["subject"] = None
    items[4]["meta"]["from_addr"] = None
    items[4]["meta"]["sort_from"] = None
    items[4]["meta"]["base_subject"] = None
    r = drv.ok(op="append", account=acct, folder=inbox, items=items)
    names = ["report", "lunch", "drucker", "reply", "empty"]
    return inbox, dict(zip(names, r["uids"]))


def test_search_keys(env, drv, acct, corpus):
    inbox, u = corpus

    def search(**crit):
        return drv.ok(op="search", account=acct, folder=inbox, criteria=crit)["uids"]

    def names(uids):
        inv = {v: k for k, v in u.items()}
        return sorted(inv[x] for x in uids)

    assert names(search(key="all")) == sorted(u)
    assert names(search(key="subject", text="QUARTERLY")) == ["reply", "report"]
    assert names(search(key="subject", text="ärger")) == ["drucker"]  # Unicode case folding
    assert names(search(key="subject", text="")) == sorted(u)
    assert names(search(key="from", text="Corp.Example")) == ["reply", "report"]
    assert names(search(key="to", text="alice@")) == ["lunch", "reply"]
    assert names(search(key="cc", text="carol")) == ["report"]
    assert names(search(key="bcc", text="eve")) == ["lunch"]
    assert names(search(key="body", text="drucker IST")) == ["drucker"]
    assert names(search(key="body", text="GRÖSSE")) == []  # no ß -> ss expansion
    assert names(search(key="body", text="größe")) == ["drucker"]
    # LIKE wildcards in the text are literal.
    assert names(search(key="body", text="10%")) == ["report"]
    assert names(search(key="body", text="%")) == ["report"]
    assert names(search(key="body", text="pizza_or")) == []
    assert names(search(key="body", text="sushi_bar")) == ["lunch"]
    assert names(search(key="text", text="pine")) == ["lunch"]  # header
    assert names(search(key="text", text="thanks")) == ["reply"]  # body
    assert names(search(key="text", text="Ärger")) == ["drucker"]  # decoded subject
    assert names(search(key="header", field="X-PRIORITY", text="highest")) == ["report"]
    assert names(search(key="header", field="x-priority", text="")) == ["report"]
    assert names(search(key="header", field="List-Id", text="reports.corp")) == ["report"]
    # The value, not the name, is matched; decoded values count.
    assert names(search(key="header", field="x-mailer", text="x-mailer")) == []
    assert names(search(key="header", field="subject", text="ärger")) == ["drucker"]
    assert names(search(key="header", field="X-Nothing", text="")) == []
    drv.fail("invalid", op="search", account=acct, folder=inbox,
             criteria={"key": "header", "field": "Bad Name", "text": "x"})

    assert names(search(key="flag", text="\\seen")) == ["drucker", "report"]
    assert names(search(key="noflag", text="\\Seen")) == ["empty", "lunch", "reply"]
    assert names(search(key="flag", text="$work")) == ["report"]
    assert names(search(key="flag", text="\\Recent")) == []
    assert names(search(key="noflag", text="$Nope")) == sorted(u)

    assert names(search(key="before", date=T0 + DAY)) == ["report"]
    assert names(search(key="on", date=T0 + DAY + 5000)) == ["lunch"]
    assert names(search(key="since", date=T0 + 3 * DAY)) == ["empty", "reply"]
    assert names(search(key="sentbefore", date=T0)) == ["report"]
    assert names(search(key="senton", date=T0 + DAY)) == ["lunch"]
    # Without a Date: the internal date stands in.
    assert names(search(key="sentsince", date=T0 + 3 * DAY)) == ["empty", "reply"]

    sizes = {r["uid"]: r["size"] for r in
             drv.ok(op="fetch", account=acct, folder=inbox, uids=None, fields=[])["rows"]}
    assert names(search(key="larger", number=10000)) == ["reply"]
    assert names(search(key="smaller", number=sizes[u["empty"]] + 1)) == ["empty"]

    assert names(search(key="uid", uids=[[u["lunch"], u["drucker"]]])) == ["drucker", "lunch"]
    many = [[x, x] for x in range(1000, 1100)] + [[u["reply"], u["reply"]]]
    assert names(search(key="uid", uids=many)) == ["reply"]
    assert search(key="uid", uids=[]) == []

    m = drv.ok(op="flags", account=acct, folder=inbox, uids=[[u["empty"], u["empty"]]], mode="add",
               flags=["x"])["highestmodseq"]
    r = drv.ok(op="search", account=acct, folder=inbox, criteria={"key": "modseq", "number": m})
    assert names(r["uids"]) == ["empty"] and r["highestmodseq"] == m

    now = int(time.time())
    assert names(search(key="older", number=now - (T0 + 2 * DAY + 10))) == \
        ["drucker", "lunch", "report"]
    assert names(search(key="younger", number=now - (T0 + 2 * DAY + 10))) == ["empty", "reply"]

    rows = drv.ok(op="fetch", account=acct, folder=inbox, uids=None, fields=["ids"])["rows"]
    ids = {r["uid"]: r for r in rows}
    assert search(key="emailid", text=ids[u["lunch"]]["email_id"]) == [u["lunch"]]
    # The reply joined the report's thread.
    assert ids[u["reply"]]["thread_id"] == ids[u["report"]]["thread_id"]
    assert ids[u["lunch"]]["thread_id"] != ids[u["report"]]["thread_id"]
    assert names(search(key="threadid", text=ids[u["report"]]["thread_id"])) == ["reply", "report"]

    # Combinations; NOT of a missing field matches.
    assert names(search(key="and", children=[{"key": "flag", "text": "\\Seen"},
                                             {"key": "from", "text": "zoe"}])) == ["drucker"]
    assert names(search(key="or", children=[{"key": "subject", "text": "lunch"},
                                            {"key": "cc", "text": "carol"}])) == ["lunch", "report"]
    assert names(search(key="not", children=[{"key": "subject", "text": "report"}])) == \
        ["drucker", "empty", "lunch"]
    assert names(search(key="not", children=[{"key": "from", "text": "@"}])) == ["empty"]
    assert names(search(key="and", children=[])) == sorted(u)
    assert search(key="or", children=[]) == []
    drv.fail("invalid", op="search", account=acct, folder=inbox,
             criteria={"key": "not", "children": []})
    drv.fail("invalid", op="search", account=acct, folder=inbox, criteria={"key": "bogus"})
    deep = {"key": "all"}
    for _ in range(100):
        deep = {"key": "not", "children": [deep]}
    drv.fail("invalid", op="search", account=acct, folder=inbox, criteria=deep)
    # Another account sees nothing of this folder.
    _, other = env.user()
    assert drv.ok(op="search", account=other, folder=inbox, criteria={"key": "all"})["uids"] == []


def test_sort(env, drv, acct, corpus):
    inbox, u = corpus

    def sort(*keys, crit=None):
        spec = [{"key": k.lstrip("-"), "reverse": k.startswith("-")} for k in keys]
        r = drv.ok(op="search", account=acct, folder=inbox, criteria=crit or {"key": "all"},
                   sort=spec)
        inv = {v: k for k, v in u.items()}
        return [inv[x] for x in r["uids"]]

    assert sort("arrival") == ["report", "lunch", "drucker", "reply", "empty"]
    assert sort("-arrival") == ["empty", "reply", "drucker", "lunch", "report"]
    # DATE: the sent date, else the internal date.
    assert sort("date") == ["report", "lunch", "drucker", "reply", "empty"]
    # i;ascii-casemap: bytes after ASCII case folding, so "ä" sorts last.
    assert sort("subject") == ["empty", "lunch", "report", "reply", "drucker"]
    assert sort("size")[-1] == "reply"
    assert sort("from") == ["empty", "report", "reply", "lunch", "drucker"]
    assert sort("cc", "arrival")[0] == "lunch" and sort("cc")[-1] == "report"
    assert sort("displayfrom") == ["empty", "report", "reply", "lunch", "drucker"]
    assert sort("-displayfrom") == ["drucker", "lunch", "reply", "report", "empty"]
    assert sort("to", "-arrival") == ["empty", "reply", "lunch", "report", "drucker"]
    assert sort("displayto")[0] == "empty"
    # Ties keep mailbox (UID) order, even reversed.
    same = [{"key": "flag", "text": "\\Seen"}]
    assert sort("-cc", crit={"key": "or", "children": same + [{"key": "all"}]})[-1] == "empty"
    drv.fail("invalid", op="search", account=acct, folder=inbox, criteria={"key": "all"},
             sort=[{"key": "nonsense"}])


def test_trigram_indexes(env):
    """The search columns have GIN trigram indexes that the planner uses."""
    idx = env.sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                  "WHERE tablename = 'message_meta' AND indexname LIKE '%trgm'").split(",")
    assert "message_meta_search_text_trgm" in idx and "message_meta_subject_trgm" in idx
    plan = env.sql("SET enable_seqscan = off; EXPLAIN SELECT m.hash FROM message_meta m "
                   "WHERE m.search_text LIKE floe_fold('%quarterly%')")
    assert "message_meta_search_text_trgm" in plan, plan


# ---------------------------------------------------------------------------
# Notices, abandonment


def test_change_notices(env, drv, acct):
    drv.ok(op="watch", account=acct, folder=0)
    inbox = folder_id(drv, acct, "INBOX")
    # The listener may need a moment; writes before it listens are not seen.
    deadline = time.time() + 10
    while time.time() < deadline:
        r = drv.ok(op="append", account=acct, folder=inbox, items=[message()])
        drv.wait_notices(1, timeout=1)
        if drv.notices:
            break
    assert drv.notices
    drv.notices.clear()
    r = drv.ok(op="append", account=acct, folder=inbox, items=[message()])
    assert (acct, inbox, r["modseq"]) in drv.wait_notices(1)
    drv.notices.clear()
    f = drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="add", flags=["\\Seen"])
    assert drv.wait_notices(1) == [(acct, inbox, f["highestmodseq"])]
    drv.notices.clear()
    # Nothing changed: no notice.
    drv.ok(op="flags", account=acct, folder=inbox, uids=[[1, 1]], mode="add", flags=["\\Seen"])
    drv.ok(op="sleep", ms=300)
    assert drv.notices == []
    # A failed write sends none either (the transaction rolled back).
    drv.fail("invalid", op="append", account=acct, folder=inbox, items=[message(flags=["\\X"])])
    drv.fail("not_found", op="expunge", account=acct, folder=999999999)
    drv.ok(op="sleep", ms=300)
    assert drv.notices == []
    sent = folder_id(drv, acct, "Sent")
    m = drv.ok(op="copy", account=acct, folder=inbox, uids=[[1, 1]], dest_account=acct,
               dest_folder=sent, move=True)
    got = drv.wait_notices(2)
    assert (acct, inbox, m["src_highestmodseq"]) in got and any(n[1] == sent for n in got)


def test_abandon(env, drv, acct):
    inbox = folder_id(drv, acct, "INBOX")
    # The callbacks of abandoned operations must not run (the driver flags it).
    drv.ok(op="abandon", inner={"op": "list", "account": acct})
    drv.ok(op="abandon", inner={"op": "create", "account": acct, "path": "a//b"})
    drv.ok(op="abandon", inner={"op": "append", "account": acct, "folder": inbox,
                                "items": [message()]})
    drv.ok(op="abandon", inner={"op": "select", "account": acct, "folder": inbox})
    drv.ok(op="sleep", ms=200)
    # Store calls answered after abandoning still work.
    assert drv.ok(op="select", account=acct, folder=inbox)["folder"]["id"] == inbox


def test_remove_user_with_messages(env, drv):
    """Removing an account (floectl) takes its messages and their parse
    results along; shared blobs stay for the other account."""
    address, acct = env.user()
    _, other = env.user()
    item = message("shared", body="shared body " + uuid.uuid4().hex)
    only = message("only", body="only body " + uuid.uuid4().hex)
    drv.ok(op="append", account=acct, folder=folder_id(drv, acct, "INBOX"), items=[item, only])
    drv.ok(op="append", account=other, folder=folder_id(drv, other, "INBOX"), items=[item])
    env.ctl("user", "remove", address)
    assert env.sql(f"SELECT count(*) FROM items WHERE account_id = {acct}") == "0"
    assert env.sql(f"SELECT count(*) FROM message_meta WHERE account_id = {acct}") == "0"
    digest = hashlib.sha256(item["data"].encode()).hexdigest()
    assert env.sql(f"SELECT count(*) FROM blobs WHERE hash = '\\x{digest}'") == "1"
    r = drv.ok(op="search", account=other, folder=folder_id(drv, other, "INBOX"),
               criteria={"key": "body", "text": "shared body"})
    assert r["uids"] == [1]


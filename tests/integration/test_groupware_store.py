"""The groupware store (db/store-groupware.h) with the item form of
modules/groupware-item.h, through tests/store/groupware-driver, on a fresh
database migrated and populated with floectl: items appended with their
index in one transaction, invalid objects refused with nothing stored,
time-range queries (recurring, all-day, floating), GAL-like prefix search
of contacts, lookup by object UID, replacement with modseq conflict
detection, the index following copies, moves and expunges, and the
expansion of stored items across a DST change."""

import calendar
import json
import os
import select
import subprocess
import time
import uuid

import pytest

import floe

BUILDDIR = os.environ.get("FLOE_BUILDDIR", floe.BUILDDIR)
DRIVER = os.path.join(BUILDDIR, "tests", "store", "groupware-driver")
FLOECTL = os.path.join(BUILDDIR, "floectl")
DAY = 86400


def utc(s):
    """'20240325T090000' (UTC) as Unix seconds."""
    return calendar.timegm(time.strptime(s, "%Y%m%dT%H%M%S"))


def cal(body):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//test//EN\r\n" + body + \
        "END:VCALENDAR\r\n"


def event(uid, start, end, summary="Meeting", extra=""):
    return cal(f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
               f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n")


NEW_YORK = ("BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"
            "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
            "DTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
            "BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
            "DTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
            "END:VTIMEZONE\r\n")


def card(uid, fn, n="", emails=(), org=None, extra=""):
    lines = [f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{fn}\r\n"]
    if n:
        lines.append(f"N:{n}\r\n")
    for e in emails:
        lines.append(f"EMAIL:{e}\r\n")
    if org:
        lines.append(f"ORG:{org}\r\n")
    lines.append(extra + "END:VCARD\r\n")
    return "".join(lines)


class Driver:
    def __init__(self, url):
        self.proc = subprocess.Popen([DRIVER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""

    def call(self, timeout=30, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("groupware-driver did not answer")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise EOFError(f"groupware-driver exited ({self.proc.wait()})")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        obj = json.loads(line)
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

    def close(self):
        self.proc.stdin.close()
        status = self.proc.wait(timeout=10)
        assert status == 0, f"groupware-driver exited with {status}"


class Env:
    def __init__(self, pg, dbname, url, config):
        self.pg, self.dbname, self.url, self.config = pg, dbname, url, config
        self.domain = f"gw{uuid.uuid4().hex[:8]}.example"
        self.ctl("domain", "add", self.domain)

    def ctl(self, *args):
        r = subprocess.run([FLOECTL, "--config", self.config] + list(args), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, f"floectl {' '.join(args)}: {r.stderr}"
        return r.stdout

    def sql(self, query):
        return self.pg.psql(query, db=self.dbname)

    def user(self):
        local = "u" + uuid.uuid4().hex[:8]
        self.ctl("user", "add", f"{local}@{self.domain}", "--password", "secret")
        return int(self.sql(f"SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id "
                            f"WHERE d.name = '{self.domain}' AND a.local_part = '{local}'"))


@pytest.fixture(scope="module")
def env(pg, tmp_path_factory):
    for path in (DRIVER, FLOECTL):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is not built (make check builds it)")
    dbname = "gw_" + uuid.uuid4().hex[:12]
    url = pg.create_database(dbname)
    d = tmp_path_factory.mktemp("groupware")
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


def folder(drv, acct, path):
    return drv.ok(op="folder", account=acct, path=path)


def put(drv, acct, fid, type_, obj, folder_type=None):
    cmd = {"op": "put", "account": acct, "folder": fid, "type": type_, "object": obj}
    if folder_type is not None:
        cmd["folder_type"] = folder_type
    return drv.call(**cmd)


def uids(rows):
    return [r["object_uid"] for r in rows]


def test_put_event_and_time_ranges(env, drv):
    acct = env.user()
    cal_ = folder(drv, acct, "Calendar")
    assert cal_["type"] == "event"
    r = put(drv, acct, cal_["id"], "event",
            event("e1", "20240105T100000Z", "20240105T110000Z", "Budget"), "event")
    assert r["ok"] and r["uid"] == 1, r
    after = folder(drv, acct, "Calendar")
    assert after["messages"] == 1 and after["highestmodseq"] > cal_["highestmodseq"]
    # A weekly event that never ends, an all-day one (floating), and an
    # undated task elsewhere.
    assert put(drv, acct, cal_["id"], "event",
               event("e2", "20240101T080000Z", "20240101T083000Z", "Standup",
                     "RRULE:FREQ=WEEKLY\r\n"), "event")["ok"]
    assert put(drv, acct, cal_["id"], "event",
               cal("BEGIN:VEVENT\r\nUID:e3\r\nDTSTART;VALUE=DATE:20240110\r\n"
                   "SUMMARY:Holiday\r\nEND:VEVENT\r\n"), "event")["ok"]

    rows = drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20240105T103000"), "to": utc("20240105T120000")})["rows"]
    # Sorted by first start; the endless weekly event is a candidate for
    # every later window (the caller expands it).
    assert uids(rows) == ["e2", "e1"]
    e1 = rows[1]
    assert (e1["start"], e1["end"], e1["range_end"]) == (utc("20240105T100000"),
                                                         utc("20240105T110000"),
                                                         utc("20240105T110000"))
    assert e1["title"] == "Budget" and e1["kind"] == "event" and not e1["recurring"]
    # Years later only the endless weekly event is there.
    rows = drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20300101T000000"), "to": utc("20300201T000000")})["rows"]
    assert uids(rows) == ["e2"] and rows[0]["range_end"] is None and rows[0]["recurring"]
    # Nothing at all before the first item.
    assert drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20231201T000000"), "to": utc("20231231T000000")})["rows"] == []
    # The all-day event is found with the floating margin around its day,
    # not a day away.
    rows = drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20240110T200000"), "to": utc("20240111T060000")})["rows"]
    assert "e3" in uids(rows) and next(r for r in rows if r["object_uid"] == "e3")["all_day"]
    rows = drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20240112T000000"), "to": utc("20240113T000000")})["rows"]
    assert "e3" not in uids(rows)
    drv.fail("invalid", op="range", account=acct, folder=cal_["id"], **{"from": 10, "to": 5})


def test_invalid_objects_store_nothing(env, drv):
    acct = env.user()
    cal_ = folder(drv, acct, "Calendar")
    tasks = folder(drv, acct, "Tasks")
    before = env.sql(f"SELECT count(*) FROM items WHERE account_id = {acct}")
    r = put(drv, acct, cal_["id"], "event",
            event("bad", "20240105T100000Z", "20240105T090000Z"), "event")
    assert r["code"] == "invalid" and "DTEND is before DTSTART" in r["error"], r
    r = drv.call(op="put", account=acct, folder=cal_["id"], folder_type="event",
                 message="Subject: x\r\nContent-Type: text/calendar\r\n\r\n" +
                 cal("BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\n"))
    assert r["code"] == "invalid" and "folder holds events" in r["error"], r
    # The store checks the folder type itself (no folder type given to the
    # parser): a task cannot go into the calendar.
    r = put(drv, acct, cal_["id"], "task", cal("BEGIN:VTODO\r\nUID:t2\r\nEND:VTODO\r\n"))
    assert r["code"] == "invalid" and "task cannot be stored in a folder of type event" in \
        r["error"], r
    r = put(drv, acct, tasks["id"], "contact", card("c", "Name"))
    assert r["code"] == "invalid", r
    assert env.sql(f"SELECT count(*) FROM items WHERE account_id = {acct}") == before
    assert env.sql(f"SELECT count(*) FROM groupware_index WHERE account_id = {acct}") == "0"
    assert folder(drv, acct, "Calendar")["highestmodseq"] == cal_["highestmodseq"]


def test_contacts_prefix_search(env, drv):
    acct = env.user()
    contacts = folder(drv, acct, "Contacts")
    env.sql(f"SELECT floe_folder_create({acct}, 'Contacts/Work', 'contact', NULL)")
    work = folder(drv, acct, "Contacts/Work")
    for fid, obj in [
        (contacts["id"], card("c1", "J\u00f6rg Smith", "Smith;J\u00f6rg;;;",
                              ["jorg@example.com", "js@home.example"], "Acme;Sales")),
        (contacts["id"], card("c2", "Anna Berg", "Berg;Anna;;;", ["anna@example.com"])),
        (work["id"], card("c3", "Bob Smithers", "Smithers;Bob;;;", ["bob@work.example"])),
    ]:
        assert put(drv, acct, fid, "contact", obj, "contact")["ok"]
    dl = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:dl1\r\nKIND:group\r\nFN:Sales team\r\n"
          "MEMBER:mailto:anna@example.com\r\nEND:VCARD\r\n")
    assert put(drv, acct, contacts["id"], "distlist", dl, "contact")["ok"]

    def search(prefix, fid=0):
        return sorted(uids(drv.ok(op="contacts", account=acct, folder=fid,
                                  prefix=prefix)["rows"]))

    assert search("smi") == ["c1", "c3"]          # family name / word of the name
    assert search("SMITH", contacts["id"]) == ["c1"]  # one folder only
    assert search("J\u00d6") == ["c1"]             # case folding beyond ASCII
    assert search("js@") == ["c1"]                 # any address
    assert search("acm") == ["c1"]                 # organization
    assert search("sales") == ["dl1"]              # a distribution list by name
    assert search("bob@w") == ["c3"]
    assert search("zz") == []
    assert search("") == ["c1", "c2", "c3", "dl1"]
    rows = drv.ok(op="contacts", account=acct, folder=0, prefix="anna")["rows"]
    assert rows[0]["emails"] == ["anna@example.com"] and rows[0]["family_name"] == "Berg"
    # Another account sees none of them.
    other = env.user()
    assert drv.ok(op="contacts", account=other, folder=0, prefix="")["rows"] == []


def test_find_and_replace_with_conflict_detection(env, drv):
    acct = env.user()
    cal_ = folder(drv, acct, "Calendar")
    v1 = put(drv, acct, cal_["id"], "event",
             event("r1", "20240105T100000Z", "20240105T110000Z", "v1"), "event")
    rows = drv.ok(op="find", account=acct, folder=cal_["id"], uid="r1")["rows"]
    assert [r["uid"] for r in rows] == [v1["uid"]]
    v2 = drv.ok(op="replace", account=acct, folder=cal_["id"], old_uid=v1["uid"],
                unchangedsince=v1["modseq"], type="event", folder_type="event",
                object=event("r1", "20240106T100000Z", "20240106T110000Z", "v2"))
    rows = drv.ok(op="find", account=acct, folder=cal_["id"], uid="r1")["rows"]
    assert [(r["uid"], r["title"]) for r in rows] == [(v2["uid"], "v2")]
    tomb = env.sql(f"SELECT modseq FROM tombstones WHERE account_id = {acct} "
                   f"AND folder_id = {cal_['id']} AND uid = {v1['uid']}")
    assert int(tomb) == v2["modseq"]
    state = folder(drv, acct, "Calendar")
    assert state["messages"] == 1
    # A stale modseq: nothing written, the client learns the copy changed.
    r = drv.fail("modified", op="replace", account=acct, folder=cal_["id"], old_uid=v2["uid"],
                 unchangedsince=v1["modseq"], type="event",
                 object=event("r1", "20240107T100000Z", "20240107T110000Z", "v3"))
    assert "changed since" in r["error"]
    after = folder(drv, acct, "Calendar")
    assert (after["messages"], after["highestmodseq"]) == (1, state["highestmodseq"])
    drv.fail("not_found", op="replace", account=acct, folder=cal_["id"], old_uid=999,
             unchangedsince=0, type="event",
             object=event("r1", "20240107T100000Z", "20240107T110000Z", "v3"))
    assert folder(drv, acct, "Calendar")["messages"] == 1


def test_index_follows_copies_moves_and_expunge(env, drv):
    acct, other = env.user(), env.user()
    cal_ = folder(drv, acct, "Calendar")
    env.sql(f"SELECT floe_folder_create({acct}, 'Calendar/Team', 'event', NULL)")
    team = folder(drv, acct, "Calendar/Team")
    other_cal = folder(drv, other, "Calendar")
    src = put(drv, acct, cal_["id"], "event",
              event("m1", "20240105T100000Z", "20240105T110000Z"), "event")
    window = {"from": utc("20240105T000000"), "to": utc("20240106T000000")}

    copy = drv.ok(op="copy", account=acct, folder=cal_["id"], uid=src["uid"],
                  dest_account=acct, dest_folder=team["id"], move=False)
    assert uids(drv.ok(op="range", account=acct, folder=team["id"], **window)["rows"]) == ["m1"]
    # Into another account: the index comes along.
    drv.ok(op="copy", account=acct, folder=cal_["id"], uid=src["uid"], dest_account=other,
           dest_folder=other_cal["id"], move=False)
    assert uids(drv.ok(op="range", account=other, folder=other_cal["id"],
                       **window)["rows"]) == ["m1"]
    # Expunging one copy keeps the other's index; the last one takes it.
    assert drv.ok(op="expunge", account=acct, folder=cal_["id"], uid=src["uid"])["count"] == 1
    assert drv.ok(op="range", account=acct, folder=cal_["id"], **window)["rows"] == []
    assert uids(drv.ok(op="range", account=acct, folder=team["id"], **window)["rows"]) == ["m1"]
    moved = drv.ok(op="copy", account=acct, folder=team["id"], uid=copy["uid"],
                   dest_account=acct, dest_folder=cal_["id"], move=True)
    assert uids(drv.ok(op="range", account=acct, folder=cal_["id"], **window)["rows"]) == ["m1"]
    assert env.sql(f"SELECT count(*) FROM groupware_index WHERE account_id = {acct}") == "1"
    drv.ok(op="expunge", account=acct, folder=cal_["id"], uid=moved["uid"])
    assert drv.ok(op="range", account=acct, folder=cal_["id"], **window)["rows"] == []
    # Both expunged copies went to the GroupWare Trash, which keeps their
    # (shared) content and index until restored or purged (test_gw_trash.py).
    assert env.sql(f"SELECT count(*) FROM groupware_trash WHERE account_id = {acct}") == "2"
    assert env.sql(f"SELECT count(*) FROM groupware_index WHERE account_id = {acct}") == "1"
    assert env.sql(f"SELECT count(*) FROM groupware_index WHERE account_id = {other}") == "1"


def test_occurrences_across_dst(env, drv):
    """Range query, item bytes and expansion chained, as free/busy will."""
    acct = env.user()
    cal_ = folder(drv, acct, "Calendar")
    obj = cal(NEW_YORK +
              "BEGIN:VEVENT\r\nUID:ny1\r\nDTSTART;TZID=America/New_York:20241021T100000\r\n"
              "DTEND;TZID=America/New_York:20241021T110000\r\n"
              "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n"
              "BEGIN:VEVENT\r\nUID:ny1\r\nRECURRENCE-ID;TZID=America/New_York:20241104T100000\r\n"
              "DTSTART;TZID=America/New_York:20241105T130000\r\n"
              "DTEND;TZID=America/New_York:20241105T140000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n")
    assert put(drv, acct, cal_["id"], "event", obj, "event")["ok"]
    rows = drv.ok(op="range", account=acct, folder=cal_["id"], **{
        "from": utc("20241001T000000"), "to": utc("20250101T000000")})["rows"]
    assert rows[0]["range_end"] == utc("20241111T160000")  # last instance, EST
    occ = drv.ok(op="occurrences", account=acct, folder=cal_["id"], **{
        "from": utc("20241001T000000"), "to": utc("20250101T000000")})["occurrences"]
    assert [(o["start"], o["override"]) for o in occ] == [
        (utc("20241021T140000"), False),  # 10:00 EDT
        (utc("20241028T140000"), False),
        (utc("20241105T180000"), True),   # moved to 13:00 EST
        (utc("20241111T150000"), False),  # 10:00 EST
    ]

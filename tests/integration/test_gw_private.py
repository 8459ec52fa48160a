"""Private items (CLASS:PRIVATE) are invisible to grantees without
Administer, against a real floed over IMAP: an owner's calendar holds
public events, a CLASS:CONFIDENTIAL one (shown: like IceWarp, only PRIVATE
hides an item) and a CLASS:PRIVATE one. A Read grantee (lrs) and an All
grantee (lrswipkxte, every right but Administer) never see the private
item: not in SELECT's EXISTS, FETCH, SEARCH/ESEARCH/SORT, STATUS counts,
MSEARCH or the changedsince feed, not through UID sets naming it (STORE,
COPY, MOVE, UID EXPUNGE act as if it did not exist), not through EXPUNGE
or CLOSE after flagging everything \\Deleted, and not through IDLE when the
owner appends one. An item replaced by a private version vanishes like an
expunged one. A Full grantee (with Administer) and the owner see
everything."""

import re
import uuid

import pytest

import floe

PASSWORD = "private secret"
FT_SHARED = "/shared/vendor/kolab/folder-type"
CHANGEDSINCE = "/public/vendor/icewarp/folderinfo/changedsince/"


# ---------------------------------------------------------------------------
# Client and items


class Client(floe.ImapWire):
    def __init__(self, server, address):
        super().__init__(server.imap_port)
        self.address = address
        assert self.read_response().startswith(b"* OK")
        self.ok(f'LOGIN "{address}" "{PASSWORD}"')

    def cmd(self, text):
        self.n += 1
        tag = f"p{self.n}"
        self.send(f"{tag} {text}\r\n".encode())
        return self.finish(tag)

    def finish(self, tag):
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag.encode() + b" "):
                line = r.decode(errors="replace").rstrip("\r\n")
                return line.split(" ")[1], untagged, line
            untagged.append(r)

    def ok(self, text):
        st, untagged, line = self.cmd(text)
        assert st == "OK", line
        return untagged

    def append(self, mailbox, data):
        self.n += 1
        tag = f"p{self.n}"
        self.send(f'{tag} APPEND "{mailbox}" {{{len(data)}}}\r\n'.encode())
        assert self.read_response().startswith(b"+")
        self.send(data + b"\r\n")
        st, _, line = self.finish(tag)
        assert st == "OK", line
        return int(re.search(r"\[APPENDUID \d+ (\d+)\]", line).group(1))

    def select(self, mailbox, examine=False):
        untagged = self.ok(f'{"EXAMINE" if examine else "SELECT"} "{mailbox}"')
        state = {}
        for r in untagged:
            m = re.match(rb"\* (\d+) EXISTS", r)
            if m:
                state["EXISTS"] = int(m.group(1))
            m = re.match(rb"\* OK \[(UIDNEXT|HIGHESTMODSEQ|UIDVALIDITY) (\d+)\]", r)
            if m:
                state[m.group(1).decode()] = int(m.group(2))
        return state

    def fetch_uids(self, command):
        """UID -> the rest of the FETCH response, for every FETCH line."""
        out = {}
        for r in self.ok(command):
            m = re.match(rb"\* \d+ FETCH \(.*?UID (\d+)", r, re.S)
            if m:
                out[int(m.group(1))] = r
        return out

    def uid_search(self, criteria):
        for r in self.ok(f"UID SEARCH {criteria}"):
            if r.startswith(b"* SEARCH"):
                return sorted(int(x) for x in r.split()[2:])
        raise AssertionError("no SEARCH response")

    def status(self, mailbox, items="MESSAGES UNSEEN SIZE DELETED UIDNEXT"):
        for r in self.ok(f'STATUS "{mailbox}" ({items})'):
            m = re.match(rb"\* STATUS .*\((.*)\)\r\n", r)
            if m:
                v = m.group(1).split()
                return {v[i].decode(): int(v[i + 1]) for i in range(0, len(v), 2)}
        raise AssertionError("no STATUS response")

    def flags(self, uid):
        rows = self.fetch_uids(f"UID FETCH {uid} (FLAGS)")
        return rows[uid].decode() if uid in rows else None


def event(summary, klass=None, uid=None):
    uid = uid or uuid.uuid4().hex
    boundary = "=_" + uuid.uuid4().hex
    klass_line = f"CLASS:{klass}\r\n" if klass else ""
    obj = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//test//EN\r\n"
           f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
           "DTSTART:20240325T090000Z\r\nDTEND:20240325T100000Z\r\n"
           f"SUMMARY:{summary}\r\n{klass_line}END:VEVENT\r\nEND:VCALENDAR\r\n")
    return (f"From: owner@example.com\r\nSubject: {uid}\r\n"
            "Date: Mon, 25 Mar 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "X-Kolab-Type: application/x-vnd.kolab.event\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            f"This is a Kolab groupware object: {summary}.\r\n"
            f"--{boundary}\r\nContent-Type: text/calendar; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "X-Kolab-Type: application/x-vnd.kolab.event\r\n\r\n"
            f"{obj}--{boundary}--\r\n").encode()


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def people(server):
    domain = floe.new_domain(server, "priv")
    return {role: floe.new_user(server, domain, PASSWORD, prefix=role)
            for role in ("owner", "reader", "all", "full")}


@pytest.fixture
def sessions(server, people):
    opened = []

    def login(role):
        c = Client(server, people[role])
        opened.append(c)
        return c

    yield login
    for c in opened:
        c.close()


RIGHTS = {"reader": "lrs", "all": "lrswipkxte", "full": "lrswipkxtea"}


class Calendar:
    """An owner's calendar: public P1, confidential C, private S, public P2
    (in UID order), shared with the three grantees."""

    def __init__(self, people, owner):
        self.people = people
        self.name = "Cal-" + uuid.uuid4().hex[:8]
        self.word = "secret" + uuid.uuid4().hex[:8]
        self.pword = "public" + uuid.uuid4().hex[:8]
        owner.ok(f'CREATE "{self.name}"')
        owner.ok(f'SETMETADATA "{self.name}" ("{FT_SHARED}" "event")')
        self.p1 = owner.append(self.name, event(f"Standup {self.pword}"))
        self.c = owner.append(self.name, event("Review", "CONFIDENTIAL"))
        self.s = owner.append(self.name, event(f"Doctor {self.word}", "PRIVATE"))
        self.p2 = owner.append(self.name, event("Lunch", "PUBLIC"))
        for role, letters in RIGHTS.items():
            owner.ok(f'SETACL "{self.name}" "{people[role]}" {letters}')
        self.visible = [self.p1, self.c, self.p2]
        self.all = [self.p1, self.c, self.s, self.p2]

    def path(self, role):
        return self.name if role == "owner" else f"~{self.people['owner']}/{self.name}"


@pytest.fixture
def cal(people, sessions):
    return Calendar(people, sessions("owner"))


# ---------------------------------------------------------------------------
# Reading


def test_select_fetch_hide_private(cal, sessions):
    states = {}
    for role in ("owner", "reader", "all", "full"):
        c = sessions(role)
        states[role] = c.select(cal.path(role), examine=(role == "reader"))
        want = cal.visible if role in ("reader", "all") else cal.all
        assert states[role]["EXISTS"] == len(want), role
        rows = c.fetch_uids("FETCH 1:* (UID FLAGS)")
        assert sorted(rows) == want, role
        # The hidden UID, named directly or within a range: nothing.
        rows = c.fetch_uids(f"UID FETCH {cal.s} (FLAGS BODY.PEEK[])")
        assert (cal.s in rows) == (want == cal.all), role
        rows = c.fetch_uids(f"UID FETCH {cal.p1}:* (BODY.PEEK[])")
        assert sorted(rows) == want, role
        body = b"".join(rows.values())
        assert (cal.word.encode() in body) == (want == cal.all), role
        # Sequence numbers map onto the visible items only.
        rows = c.fetch_uids("FETCH 3 (UID)")
        assert list(rows) == [want[2]], role
    # UIDNEXT and HIGHESTMODSEQ are the folder's, not counts.
    for key in ("UIDNEXT", "HIGHESTMODSEQ", "UIDVALIDITY"):
        assert len({s[key] for s in states.values()}) == 1, (key, states)


def test_search_sort_hide_private(cal, sessions):
    for role in ("owner", "reader", "all", "full"):
        c = sessions(role)
        c.select(cal.path(role))
        want = cal.visible if role in ("reader", "all") else cal.all
        assert c.uid_search("ALL") == want, role
        assert c.uid_search(f"TEXT {cal.word}") == ([] if want == cal.visible else [cal.s])
        assert c.uid_search(f"UID {cal.s}") == ([] if want == cal.visible else [cal.s])
        assert c.uid_search(f"TEXT {cal.pword}") == [cal.p1]
        untagged = c.ok("UID SEARCH RETURN (COUNT ALL) ALL")
        assert any(f"COUNT {len(want)}".encode() in r for r in untagged), untagged
        sort = [r for r in c.ok("UID SORT (SUBJECT) UTF-8 ALL") if r.startswith(b"* SORT")]
        assert sorted(int(x) for x in sort[0].split()[2:]) == want, role
        # SEARCHRES: the saved result and the command using it.
        c.ok("SEARCH RETURN (SAVE) ALL")
        rows = c.fetch_uids("UID FETCH $ (UID)")
        assert sorted(rows) == want, role


def test_status_counts_hide_private(cal, sessions):
    owner = sessions("owner")
    owner.select(cal.name)
    owner.ok(f"UID STORE {cal.p1} +FLAGS (\\Seen)")
    sizes = {}
    for uid, r in owner.fetch_uids("UID FETCH 1:* (RFC822.SIZE)").items():
        sizes[uid] = int(re.search(rb"RFC822.SIZE (\d+)", r).group(1))
    full = {"MESSAGES": 4, "UNSEEN": 3, "SIZE": sum(sizes.values()), "DELETED": 0}
    part = {"MESSAGES": 3, "UNSEEN": 2, "SIZE": full["SIZE"] - sizes[cal.s], "DELETED": 0}
    uidnext = owner.status(cal.name)["UIDNEXT"]
    for role in ("owner", "reader", "all", "full"):
        c = sessions(role)
        st = c.status(cal.path(role))
        want = part if role in ("reader", "all") else full
        assert {k: st[k] for k in want} == want, (role, st)
        assert st["UIDNEXT"] == uidnext
    # LIST-STATUS says the same.
    c = sessions("reader")
    c.ok(f'SUBSCRIBE "{cal.path("reader")}"')
    untagged = c.ok(f'LIST "" "{cal.path("reader")}" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    st = [r for r in untagged if r.startswith(b"* STATUS")]
    assert st and f"MESSAGES 3 UNSEEN 2 SIZE {part['SIZE']}".encode() in st[0], untagged


# ---------------------------------------------------------------------------
# Writing through UID sets and EXPUNGE


def test_uid_sets_skip_private(cal, sessions, people):
    owner, c = sessions("owner"), sessions("all")
    mine = "Mine-" + uuid.uuid4().hex[:8]
    c.ok(f'CREATE "{mine}"')
    c.ok(f'SETMETADATA "{mine}" ("{FT_SHARED}" "event")')
    c.select(cal.path("all"))
    # STORE naming the hidden UID: no effect, no FETCH.
    untagged = c.ok(f"UID STORE {cal.s} +FLAGS (\\Flagged)")
    assert not any(b"FETCH" in r for r in untagged), untagged
    untagged = c.ok(f"UID STORE {cal.p1}:{cal.p2} +FLAGS (\\Seen)")
    assert sorted(int(re.search(rb"UID (\d+)", r).group(1))
                  for r in untagged if b"FETCH" in r) == cal.visible
    # COPY and MOVE of the hidden UID copy nothing.
    st, _, line = c.cmd(f'UID COPY {cal.s} "{mine}"')
    assert st == "OK" and "COPYUID" not in line, line
    st, untagged, line = c.cmd(f'UID MOVE {cal.s} "{mine}"')
    assert st == "OK" and "COPYUID" not in line, line
    assert not any(b"EXPUNGE" in r or b"VANISHED" in r for r in untagged), untagged
    assert c.status(mine)["MESSAGES"] == 0
    # UID EXPUNGE of the hidden UID, flagged \Deleted by its owner.
    owner.select(cal.name)
    owner.ok(f"UID STORE {cal.s} +FLAGS (\\Deleted)")
    untagged = c.ok(f"UID EXPUNGE {cal.s}")
    assert not any(b"EXPUNGE" in r or b"VANISHED" in r for r in untagged), untagged
    flags = owner.flags(cal.s)
    assert flags is not None and "\\Flagged" not in flags and "\\Seen" not in flags, flags
    # Everything the grantee sees flagged and expunged: the private item,
    # though flagged \Deleted too, survives.
    c.ok("STORE 1:* +FLAGS (\\Deleted)")
    untagged = c.ok("EXPUNGE")
    assert sum(1 for r in untagged if r.endswith(b" EXPUNGE\r\n")) == 3, untagged
    assert c.select(cal.path("all"))["EXISTS"] == 0
    owner.ok("NOOP")
    assert sorted(owner.fetch_uids("UID FETCH 1:* (UID)")) == [cal.s]


def test_close_keeps_private(cal, sessions):
    owner, c = sessions("owner"), sessions("all")
    owner.select(cal.name)
    owner.ok(f"UID STORE {cal.s} +FLAGS (\\Deleted)")
    c.select(cal.path("all"))
    c.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    c.ok("CLOSE")
    owner.ok("NOOP")
    assert sorted(owner.fetch_uids("UID FETCH 1:* (UID)")) == [cal.s]
    # The Full grantee's EXPUNGE does take it.
    f = sessions("full")
    assert f.select(cal.path("full"))["EXISTS"] == 1
    f.ok("EXPUNGE")
    owner.ok("NOOP")
    assert owner.fetch_uids("UID FETCH 1:* (UID)") == {}


# ---------------------------------------------------------------------------
# Changes while selected


def idle_until_exists(c):
    """Reads untagged responses during IDLE up to the first EXISTS."""
    seen = []
    while True:
        r = c.read_response()
        seen.append(r)
        if r.endswith(b" EXISTS\r\n"):
            return seen


def test_idle_not_told_of_private(cal, sessions):
    owner, c, f = sessions("owner"), sessions("reader"), sessions("full")
    c.select(cal.path("reader"))
    f.select(cal.path("full"))
    for x in (c, f):
        x.send(b"i1 IDLE\r\n")
        assert x.read_response().startswith(b"+")
    hidden = owner.append(cal.name, event(f"Therapy {cal.word}", "PRIVATE"))
    shown = owner.append(cal.name, event("Team lunch"))
    # The reader's first news is the public item: 3 + 1, nothing before.
    seen = idle_until_exists(c)
    assert seen == [b"* 4 EXISTS\r\n"], seen
    c.send(b"DONE\r\n")
    st, untagged, line = c.finish("i1")
    assert st == "OK" and not any(b"EXISTS" in r for r in untagged), (line, untagged)
    rows = c.fetch_uids("FETCH 1:* (UID)")
    assert sorted(rows) == cal.visible + [shown]
    assert c.fetch_uids(f"UID FETCH {hidden} (UID)") == {}
    # The Full grantee hears of both.
    got = []
    while not got or got[-1] != b"* 6 EXISTS\r\n":
        got += idle_until_exists(f)
    f.send(b"DONE\r\n")
    assert f.finish("i1")[0] == "OK"
    assert sorted(f.fetch_uids("FETCH 1:* (UID)")) == cal.all + [hidden, shown]


@pytest.mark.parametrize("qresync", [False, True])
def test_replaced_by_private_vanishes(cal, sessions, qresync):
    owner, c = sessions("owner"), sessions("reader")
    if qresync:
        c.ok("ENABLE QRESYNC")
    c.select(cal.path("reader"))
    # The owner makes P1 private: a new version, then the old one goes.
    owner.select(cal.name)
    new = owner.append(cal.name, event(f"Standup {cal.word}", "PRIVATE"))
    owner.ok(f"UID STORE {cal.p1} +FLAGS.SILENT (\\Deleted)")
    owner.ok(f"UID EXPUNGE {cal.p1}")
    untagged = c.ok("NOOP")
    if qresync:
        assert untagged == [f"* VANISHED {cal.p1}\r\n".encode()], untagged
    else:
        assert untagged == [b"* 1 EXPUNGE\r\n"], untagged
    assert sorted(c.fetch_uids("FETCH 1:* (UID)")) == [cal.c, cal.p2]
    assert c.fetch_uids(f"UID FETCH {new} (UID)") == {}
    assert c.uid_search(f"TEXT {cal.word}") == []
    # A later flag change of the hidden item is not announced either.
    owner.ok(f"UID STORE {new} +FLAGS (\\Flagged)")
    assert c.ok("NOOP") == []
    # Nor does CONDSTORE's MODSEQ of a search reveal its modseq.
    rows = owner.fetch_uids(f"UID FETCH {new} (MODSEQ)")
    hidden_modseq = int(re.search(rb"MODSEQ \((\d+)\)", rows[new]).group(1))
    line = [r for r in c.ok("UID SEARCH MODSEQ 1") if r.startswith(b"* SEARCH")][0]
    got = int(re.search(rb"\(MODSEQ (\d+)\)", line).group(1))
    assert 0 < got < hidden_modseq, (line, hidden_modseq)


# ---------------------------------------------------------------------------
# Multi-folder answers


def test_msearch_and_changedsince_hide_private(cal, sessions, people):
    for role in ("reader", "full"):
        c = sessions(role)
        untagged = c.ok(f'MSEARCH (mailboxes ("{cal.path(role)}")) (X-NOFALLBACK ALL) ALL')
        line = [r for r in untagged if r.startswith(b"* ESEARCH")]
        want = cal.visible if role == "reader" else cal.all
        assert line and _all_set(line[0]) == want, (role, line)
        untagged = c.ok(f'MSEARCH (mailboxes ("{cal.path(role)}")) TEXT {cal.word}')
        assert (len(untagged) == 0) == (role == "reader"), untagged
        key = CHANGEDSINCE + "0"
        untagged = c.ok(f'GETMETADATA "{cal.path(role)}" "{key}"')
        m = re.search(rb"changed=([^&]*)&", b"".join(untagged))
        assert m, untagged
        assert _set(m.group(1).decode().replace("%3A", ":").replace("%2C", ",")) == want
        # The same entry through LIST RETURN (METADATA ...).
        c.ok(f'SUBSCRIBE "{cal.path(role)}"')
        untagged = c.ok(f'LIST "" "{cal.path(role)}" RETURN (METADATA ("{key}"))')
        m = re.search(rb"changed=([^&]*)&", b"".join(untagged))
        assert m, untagged
        assert _set(m.group(1).decode().replace("%3A", ":").replace("%2C", ",")) == want


def _set(text):
    out = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return sorted(out)


def _all_set(line):
    m = re.search(rb" ALL (\S+)", line)
    return _set(m.group(1).decode()) if m else []


def test_losing_administer_hides_at_once(cal, sessions, people):
    owner, f = sessions("owner"), sessions("full")
    assert f.select(cal.path("full"))["EXISTS"] == 4
    owner.ok(f'SETACL "{cal.name}" "{people["full"]}" lrswipkxte')
    # The next command learns the new rights; the private item goes
    # like an expunged one.
    untagged = f.ok("NOOP")
    assert untagged == [b"* 3 EXPUNGE\r\n"], untagged
    assert sorted(f.fetch_uids("FETCH 1:* (UID)")) == cal.visible
    assert f.fetch_uids(f"UID FETCH {cal.s} (UID)") == {}
    # Administer again: a new SELECT shows it.
    owner.ok(f'SETACL "{cal.name}" "{people["full"]}" lrswipkxtea')
    f.ok("NOOP")
    assert f.select(cal.path("full"))["EXISTS"] == 4

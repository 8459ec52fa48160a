"""Groupware over IMAP against a real floed and PostgreSQL, with Python's
imaplib: items of every type (events with recurrence, an exception and a
time zone; tasks, notes, journal entries, vCard 3.0 and 4.0 contacts,
distribution lists) appended to typed folders and fetched back byte for
byte with their index written; invalid objects refused with nothing
stored; replacement with UNCHANGEDSINCE conflict detection; folder types
through the three METADATA spellings and set at creation; IceWarp's
X-ICEWARP-SERVER command and capability and its computed METADATA entries
(server info, full folder path, the changedsince feed); LIST's METADATA
return option; multi-mailbox search (RFC 7377 ESEARCH IN and IceWarp's
MSEARCH) over several folders, and a grantee's search never reaching
folders it may not read."""

import imaplib
import re
import subprocess
import uuid

import pytest

import floe

PASSWORD = "gw secret"

imaplib.Commands.setdefault("X-ICEWARP-SERVER", ("NONAUTH", "AUTH", "SELECTED"))
imaplib.Commands.setdefault("MSEARCH", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("ESEARCH", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("GETMETADATA", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))

FT_SHARED = "/shared/vendor/kolab/folder-type"
FT_PRIVATE = "/private/vendor/kolab/folder-type"
FT_PUBLIC = "/public/vendor/kolab/folder-type/value.shared"
CHANGEDSINCE = "/public/vendor/icewarp/folderinfo/changedsince/"


# ---------------------------------------------------------------------------
# Fixtures


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    name = f"gw{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


def new_user(server, domain, prefix="u"):
    address = f"{prefix}{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


class Client:
    """imaplib with the few helpers these tests need."""

    def __init__(self, server, address):
        self.address = address
        self.m = imaplib.IMAP4("127.0.0.1", server.imap_port)
        self.m.login(address, PASSWORD)

    def close(self):
        try:
            self.m.logout()
        except Exception:
            pass

    def cmd(self, text):
        """Sends one raw command line; returns (status, [untagged], tagged line)."""
        m = self.m
        tag = m._new_tag()
        m.send(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        while True:
            line = m._get_line()
            while re.search(rb"\{(\d+)\}$", line):
                size = int(re.search(rb"\{(\d+)\}$", line).group(1))
                line += b"\r\n" + m.read(size) + m._get_line()
            if line.startswith(tag + b" "):
                text = line.decode(errors="replace")
                return text.split(" ")[1], untagged, text
            untagged.append(line)

    def ok(self, text):
        st, untagged, line = self.cmd(text)
        assert st == "OK", line
        return untagged, line

    def append(self, mailbox, data, flags=None):
        return self.m.append(f'"{mailbox}"', flags, None, data)

    def appenduid(self, mailbox, data):
        typ, dat = self.append(mailbox, data)
        assert typ == "OK", dat
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", dat[0])
        assert m, dat
        return int(m.group(2))

    def status(self, mailbox, items="MESSAGES UIDNEXT HIGHESTMODSEQ"):
        untagged, _ = self.ok(f'STATUS "{mailbox}" ({items})')
        m = re.search(rb"\(([^)]*)\)", untagged[-1])
        v = m.group(1).decode().split()
        return {v[i]: int(v[i + 1]) for i in range(0, len(v), 2)}

    def fetch_body(self, uid):
        typ, dat = self.m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK", dat
        return dat[0][1]

    def metadata(self, mailbox, *entries, options=""):
        """GETMETADATA -> {entry: value or None}."""
        names = " ".join(f'"{e}"' for e in entries)
        untagged, _ = self.ok(f'GETMETADATA {options}"{mailbox}" ({names})')
        out = {}
        for line in untagged:
            if not line.startswith(b"* METADATA "):
                continue
            body = line[line.index(b"(") + 1:line.rindex(b")")]
            for m in re.finditer(rb'(?:"([^"]+)"|([^\s"()]+)) (NIL|"((?:[^"\\]|\\.)*)")',
                                 body):
                name = (m.group(1) or m.group(2)).decode()
                out[name] = None if m.group(3) == b"NIL" else m.group(4).decode()
        return out

    def set_type(self, mailbox, value, entry=FT_SHARED):
        return self.cmd(f'SETMETADATA "{mailbox}" ("{entry}" "{value}")')


@pytest.fixture
def alice(server, domain):
    c = Client(server, new_user(server, domain, "alice"))
    yield c
    c.close()


@pytest.fixture
def bob(server, domain):
    c = Client(server, new_user(server, domain, "bob"))
    yield c
    c.close()


# ---------------------------------------------------------------------------
# Items in the Kolab form


def item(uid, obj, kolab, content_type="text/calendar"):
    """A Kolab-style MIME item (CRLF, 8bit object part)."""
    boundary = "=_" + uuid.uuid4().hex
    return (f"From: alice@example.com\r\nSubject: {uid}\r\n"
            f"Date: Mon, 25 Mar 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.{kolab}\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            f"This is a Kolab groupware object.\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}; charset=UTF-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.{kolab}\r\n\r\n"
            f"{obj}--{boundary}--\r\n").encode()


def cal(body):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//test//EN\r\n" + body + \
        "END:VCALENDAR\r\n"


PRAGUE = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Prague\r\n"
          "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
          "DTSTART:19810329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
          "END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
          "TZNAME:CET\r\nDTSTART:19961027T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
          "END:STANDARD\r\nEND:VTIMEZONE\r\n")


def event_item(uid, summary="Weekly meeting", extra=""):
    return item(uid, cal(
        PRAGUE +
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
        f"DTSTART;TZID=Europe/Prague:20240325T090000\r\n"
        f"DTEND;TZID=Europe/Prague:20240325T100000\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
        f"RECURRENCE-ID;TZID=Europe/Prague:20240401T090000\r\n"
        f"DTSTART;TZID=Europe/Prague:20240402T140000\r\n"
        f"DTEND;TZID=Europe/Prague:20240402T150000\r\n"
        f"SUMMARY:{summary} (moved)\r\nEND:VEVENT\r\n"), "event")


def task_item(uid):
    return item(uid, cal(f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
                         f"SUMMARY:Write the report\r\nDUE:20240410T170000Z\r\n"
                         f"PERCENT-COMPLETE:40\r\nPRIORITY:1\r\nEND:VTODO\r\n"), "task")


def note_item(uid):
    return item(uid, cal(f"BEGIN:VJOURNAL\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
                         f"SUMMARY:Shopping\r\nDESCRIPTION:Milk\\, bread\r\n"
                         f"END:VJOURNAL\r\n"), "note")


def journal_item(uid):
    return item(uid, cal(f"BEGIN:VJOURNAL\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
                         f"DTSTART;VALUE=DATE:20240325\r\nSUMMARY:Day one\r\n"
                         f"DESCRIPTION:Started the project.\r\nEND:VJOURNAL\r\n"), "journal")


def vcard3_item(uid):
    return item(uid, f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Jan Novák\r\n"
                     f"N:Novák;Jan;;;\r\nEMAIL;TYPE=INTERNET:jan@example.cz\r\n"
                     f"TEL;TYPE=CELL:+420 123 456 789\r\nORG:Example s.r.o.\r\nEND:VCARD\r\n",
                "contact", "text/vcard")


def vcard4_item(uid):
    return item(uid, f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Eva Svobodová\r\n"
                     f"N:Svobodová;Eva;;;\r\nEMAIL;TYPE=work:eva@example.cz\r\n"
                     f"BDAY:19850412\r\nEND:VCARD\r\n", "contact", "text/vcard")


def distlist_item(uid):
    return item(uid, f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nKIND:group\r\n"
                     f"FN:Project team\r\nMEMBER:mailto:jan@example.cz\r\n"
                     f"MEMBER:mailto:eva@example.cz\r\nEND:VCARD\r\n",
                "distribution-list", "text/vcard")


def mail(subject="Hello", body="Plain text.\r\n"):
    return (f"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\n{body}").encode()


def uid_of(text):
    return f"{text}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------
# APPEND and FETCH


def test_every_type_round_trips_byte_for_byte(server, pg, alice):
    cases = [
        ("Calendar", event_item(uid_of("ev")), "event"),
        ("Tasks", task_item(uid_of("task")), "task"),
        ("Notes", note_item(uid_of("note")), "note"),
        ("Journal", journal_item(uid_of("jr")), "journal"),
        ("Contacts", vcard3_item(uid_of("c3")), "contact"),
        ("Contacts", vcard4_item(uid_of("c4")), "contact"),
        ("Contacts", distlist_item(uid_of("dl")), "distlist"),
    ]
    for folder, data, kind in cases:
        uid = alice.appenduid(folder, data)
        alice.m.select(f'"{folder}"')
        assert alice.fetch_body(uid) == data, folder
        subject = re.search(rb"Subject: (\S+)", data).group(1).decode()
        out = pg.psql(f"SELECT g.kind FROM groupware_index g"
                      f" WHERE floe_account_address(g.account_id) = '{alice.address}'"
                      f" AND g.uid = '{subject}'")
        assert out.strip() == kind, (folder, out)
        # An ordinary message otherwise: ENVELOPE has the object UID as subject.
        typ, dat = alice.m.uid("FETCH", str(uid), "(ENVELOPE)")
        assert subject.encode() in dat[0]


def test_multiappend_of_items_is_all_or_nothing(server, alice):
    before = alice.status("Tasks")
    a, b = task_item(uid_of("t1")), task_item(uid_of("t2"))
    bad = item(uid_of("bad"), cal("BEGIN:VTODO\r\nSUMMARY:No UID\r\nEND:VTODO\r\n"), "task")
    st, _, line = alice.cmd_literals("Tasks", [a, bad])
    assert st == "NO" and "[CANNOT]" in line and "Message 2" in line, line
    assert alice.status("Tasks") == before
    st, _, line = alice.cmd_literals("Tasks", [a, b])
    assert st == "OK", line
    m = re.search(r"\[APPENDUID \d+ (\d+):(\d+)\]", line)
    assert m and int(m.group(2)) == int(m.group(1)) + 1, line
    assert alice.status("Tasks")["MESSAGES"] == before["MESSAGES"] + 2


def _cmd_literals(self, mailbox, messages):
    """MULTIAPPEND with synchronizing literals."""
    m = self.m
    tag = m._new_tag()
    m.send(tag + f' APPEND "{mailbox}"'.encode())
    for data in messages:
        m.send(b" {%d}\r\n" % len(data))
        cont = m._get_line()
        if not cont.startswith(b"+"):
            text = cont.decode(errors="replace")
            return text.split(" ")[1], [], text
        m.send(data)
    m.send(b"\r\n")
    while True:
        line = m._get_line()
        if line.startswith(tag + b" "):
            text = line.decode(errors="replace")
            return text.split(" ")[1], [], text


Client.cmd_literals = _cmd_literals


@pytest.mark.parametrize("folder,data,reason", [
    ("Calendar", item("x1", cal("BEGIN:VEVENT\r\nSUMMARY:No UID\r\n"
                                "DTSTART:20240325T090000Z\r\nEND:VEVENT\r\n"), "event"), "UID"),
    ("Calendar", vcard4_item("card-in-calendar"), "event"),
    ("Calendar", mail(), "text/calendar"),
    ("Contacts", event_item("event-in-contacts"), "contact"),
    ("Contacts", item("x2", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:x2\r\nEND:VCARD\r\n",
                      "contact", "text/vcard"), "FN"),
    ("Tasks", item("x3", cal("BEGIN:VTODO\r\nUID:x3\r\nDTSTART:garbage\r\nEND:VTODO\r\n"),
                   "task"), ""),
])
def test_invalid_objects_are_refused_with_nothing_stored(server, alice, folder, data, reason):
    before = alice.status(folder)
    st, _, line = alice.cmd_literals(folder, [data])
    assert st == "NO" and "[CANNOT]" in line, line
    assert reason.lower() in line.lower(), line
    assert alice.status(folder) == before
    # The connection goes on.
    alice.ok("NOOP")


def test_replacement_detects_a_concurrent_change(server, domain, alice):
    other = Client(server, alice.address)
    try:
        uid_obj = uid_of("rep")
        old = alice.appenduid("Calendar", event_item(uid_obj, "Version 1"))
        alice.m.select('"Calendar"')
        typ, dat = alice.m.uid("FETCH", str(old), "(MODSEQ)")
        seen = int(re.search(rb"MODSEQ \((\d+)\)", dat[0]).group(1))
        # Someone else changes the item meanwhile.
        other.m.select('"Calendar"')
        typ, dat = other.m.uid("STORE", str(old), "+FLAGS", r"(\Flagged)")
        assert typ == "OK"
        new = alice.appenduid("Calendar", event_item(uid_obj, "Version 2"))
        st, _, line = alice.cmd(f"UID STORE {old} (UNCHANGEDSINCE {seen}) "
                                f"+FLAGS.SILENT (\\Deleted)")
        assert st == "OK" and f"[MODIFIED {old}]" in line, line
        typ, dat = alice.m.uid("FETCH", str(old), "(FLAGS MODSEQ)")
        assert b"\\Deleted" not in dat[0]
        fresh = int(re.search(rb"MODSEQ \((\d+)\)", dat[0]).group(1))
        assert fresh > seen
        # With the current modseq the replacement goes through.
        st, _, line = alice.cmd(f"UID STORE {old} (UNCHANGEDSINCE {fresh}) "
                                f"+FLAGS.SILENT (\\Deleted)")
        assert st == "OK" and "MODIFIED" not in line, line
        alice.ok(f"UID EXPUNGE {old}")
        typ, dat = alice.m.uid("SEARCH", None, "ALL")
        uids = [int(x) for x in dat[0].split()]
        assert old not in uids and new in uids
        assert b"Version 2" in alice.fetch_body(new)
    finally:
        other.close()


# ---------------------------------------------------------------------------
# Folder types


def test_folder_types_of_the_default_folders(server, alice):
    expect = {"INBOX": "mail.inbox", "Sent": "mail.sentitems", "Drafts": "mail.drafts",
              "Trash": "mail.wastebasket", "Spam": "mail.junkemail",
              "Calendar": "event.default", "Contacts": "contact.default",
              "Tasks": "task.default", "Notes": "note.default",
              "Journal": "journal.default", "Files": "file.default"}
    for folder, value in expect.items():
        md = alice.metadata(folder, FT_SHARED, FT_PRIVATE, FT_PUBLIC)
        assert md == {FT_SHARED: value, FT_PRIVATE: value, FT_PUBLIC: value}, folder
    # The entry is found below /shared with a depth too.
    md = alice.metadata("Calendar", "/shared/vendor", options="(DEPTH infinity) ")
    assert md.get(FT_SHARED) == "event.default"
    # The server level has no type.
    assert alice.metadata("", FT_SHARED) == {FT_SHARED: None}


def test_folder_type_set_at_creation(server, alice):
    alice.ok('CREATE "Team calendar"')
    assert alice.metadata("Team calendar", FT_SHARED) == {FT_SHARED: "mail"}
    st, _, line = alice.set_type("Team calendar", "event")
    assert st == "OK", line
    assert alice.metadata("Team calendar", FT_SHARED, FT_PUBLIC) == \
        {FT_SHARED: "event", FT_PUBLIC: "event"}
    # The same value again is fine; another one is not.
    assert alice.set_type("Team calendar", "event")[0] == "OK"
    st, _, line = alice.set_type("Team calendar", "contact")
    assert st == "NO" and "[CANNOT]" in line and "already" in line, line
    # Now a typed folder: it takes events, not mail.
    alice.appenduid("Team calendar", event_item(uid_of("team")))
    st, _, line = alice.cmd_literals("Team calendar", [mail()])
    assert st == "NO" and "[CANNOT]" in line, line

    # IceWarp's spelling and the private one set it too.
    alice.ok('CREATE "Ideas"')
    assert alice.set_type("Ideas", "note", FT_PUBLIC)[0] == "OK"
    assert alice.metadata("Ideas", FT_SHARED) == {FT_SHARED: "note"}
    alice.ok('CREATE "Todo"')
    assert alice.set_type("Todo", "task", FT_PRIVATE)[0] == "OK"
    assert alice.metadata("Todo", FT_PRIVATE) == {FT_PRIVATE: "task"}

    # A folder that holds messages keeps its type.
    alice.ok('CREATE "Full"')
    alice.appenduid("Full", mail())
    st, _, line = alice.set_type("Full", "task")
    assert st == "NO" and "[CANNOT]" in line and "messages" in line, line
    # A second default calendar, a taken special use, a bad value.
    alice.ok('CREATE "Other"')
    st, _, line = alice.set_type("Other", "event.default")
    assert st == "NO" and "default event" in line, line
    st, _, line = alice.set_type("Other", "mail.sentitems")
    assert st == "NO" and "[CANNOT]" in line, line
    st, _, line = alice.set_type("Other", "bogus")
    assert st == "NO" and "Invalid folder type" in line, line
    assert alice.metadata("Other", FT_SHARED) == {FT_SHARED: "mail"}
    # Other /public entries stay read-only.
    st, _, line = alice.cmd('SETMETADATA "Other" '
                            '("/public/vendor/icewarp/folderinfo/fullfolderpath" "x")')
    assert st == "NO", line


def test_grantee_sees_the_type_without_default(server, alice, bob):
    alice.ok(f'SETACL "Calendar" {bob.address} lr')
    md = bob.metadata(f"~{alice.address}/Calendar", FT_SHARED, FT_PUBLIC)
    assert md == {FT_SHARED: "event", FT_PUBLIC: "event"}
    # Without rights the folder looks missing.
    st, _, line = bob.cmd(f'GETMETADATA "~{alice.address}/Tasks" ("{FT_SHARED}")')
    assert st == "NO" and "NONEXISTENT" in line, line


def list_metadata(client, pattern, entries):
    """LIST "" pattern RETURN (METADATA (entries)) -> {mailbox: {entry: value}}."""
    names = " ".join(f'"{e}"' for e in entries)
    untagged, _ = client.ok(f'LIST "" "{pattern}" RETURN (METADATA ({names}))')
    out, last = {}, None
    for line in untagged:
        m = re.match(rb'\* LIST \(([^)]*)\) "/" "?([^"\r\n]+)"?', line)
        if m:
            last = m.group(2).decode()
            continue
        m = re.match(rb'\* METADATA "?([^"]+?)"? \((.*)\)$', line)
        assert m, line
        assert m.group(1).decode() == last, line
        out[last] = {}
        for e in re.finditer(rb'(?:"([^"]+)"|([^\s"()]+)) (NIL|"((?:[^"\\]|\\.)*)")',
                             m.group(2)):
            name = (e.group(1) or e.group(2)).decode()
            out[last][name] = None if e.group(3) == b"NIL" else e.group(4).decode()
    return out


def test_list_returns_folder_types_in_one_round_trip(server, alice, bob):
    alice.ok('CREATE "Cal2"')
    alice.set_type("Cal2", "event")
    alice.ok('SETMETADATA "Cal2" ("/shared/comment" "team calendar")')
    alice.ok('SETMETADATA "Cal2" ("/private/color" "red")')
    md = list_metadata(alice, "*", [FT_SHARED, "/shared/comment", "/private/color"])
    assert md["INBOX"] == {FT_SHARED: "mail.inbox", "/shared/comment": None,
                           "/private/color": None}
    assert md["Calendar"][FT_SHARED] == "event.default"
    assert md["Sent"][FT_SHARED] == "mail.sentitems"
    assert md["Cal2"] == {FT_SHARED: "event", "/shared/comment": "team calendar",
                          "/private/color": "red"}
    assert len(md) >= 12
    # A grantee: the shared folder with its type (no .default) and the
    # shared entry; not alice's private one; nothing for a folder without r.
    alice.ok(f'SETACL "Cal2" {bob.address} lr')
    alice.ok(f'SETACL "Calendar" {bob.address} l')
    bob.ok(f'SUBSCRIBE "~{alice.address}"')  # shared folders are listed once subscribed
    md = list_metadata(bob, f"~{alice.address}/*", [FT_SHARED, "/shared/comment",
                                                    "/private/color"])
    assert md == {f"~{alice.address}/Cal2": {FT_SHARED: "event",
                                            "/shared/comment": "team calendar",
                                            "/private/color": None}}
    assert alice.cmd('LIST "" "*" RETURN (METADATA ())')[0] == "BAD"
    assert alice.cmd('LIST "" "*" RETURN (METADATA ("nonsense"))')[0] == "BAD"


# ---------------------------------------------------------------------------
# IceWarp


def test_capability_and_x_icewarp_server(server, alice):
    untagged, _ = alice.ok("CAPABILITY")
    caps = untagged[0].decode().split()
    for cap in ("X-ICEWARP-SERVER", "MULTISEARCH", "MSEARCH", "METADATA", "CONDSTORE"):
        assert cap in caps
    st, _, line = alice.cmd('X-ICEWARP-SERVER iwconnector "12.1.2.0.31125 (2018-06-13)"')
    assert st == "OK", line
    server.wait_log("IceWarp connector 12.1.2.0.31125 (2018-06-13)")
    assert alice.cmd("X-ICEWARP-SERVER")[0] == "BAD"
    assert alice.cmd('X-ICEWARP-SERVER other "1"')[0] == "BAD"
    # CONDSTORE behaviour without ENABLE: MODSEQ in STORE answers.
    uid = alice.appenduid("INBOX", mail())
    alice.m.select("INBOX")
    untagged, _ = alice.ok(f"UID STORE {uid} +FLAGS (\\Seen)")
    assert any(b"MODSEQ (" in u for u in untagged), untagged


def test_icewarp_server_and_folder_info(server, alice):
    md = alice.metadata("", "/public/vendor/icewarp/serverinfo/defaultcharset",
                        "/public/vendor/icewarp/serverinfo/clientip",
                        "/public/vendor/icewarp/other")
    assert md == {"/public/vendor/icewarp/serverinfo/defaultcharset": "UTF-8",
                  "/public/vendor/icewarp/serverinfo/clientip": "127.0.0.1",
                  "/public/vendor/icewarp/other": None}
    alice.ok('CREATE "Projects/Alpha"')
    md = alice.metadata("Projects/Alpha", "/public/vendor/icewarp/folderinfo/fullfolderpath")
    assert md == {"/public/vendor/icewarp/folderinfo/fullfolderpath": "Projects/Alpha"}


def test_changedsince_feed(server, alice):
    alice.ok('CREATE "Feed"')
    start = alice.status("Feed")["HIGHESTMODSEQ"]
    uids = [alice.appenduid("Feed", mail(f"m{i}")) for i in range(3)]
    key = CHANGEDSINCE + str(start)
    assert alice.metadata("Feed", key) == \
        {key: f"changed={uids[0]}%3A{uids[2]}&vanished="}
    mid = alice.status("Feed")["HIGHESTMODSEQ"]
    alice.m.select('"Feed"')
    alice.m.uid("STORE", str(uids[1]), "+FLAGS", r"(\Flagged)")
    alice.m.uid("STORE", str(uids[2]), "+FLAGS", r"(\Deleted)")
    alice.ok(f"UID EXPUNGE {uids[2]}")
    added = alice.appenduid("Feed", mail("m3"))
    key = CHANGEDSINCE + str(mid)
    assert alice.metadata("Feed", key) == \
        {key: f"changed={uids[1]}%2C{added}&vanished={uids[2]}"}
    now = alice.status("Feed")["HIGHESTMODSEQ"]
    key = CHANGEDSINCE + str(now)
    assert alice.metadata("Feed", key) == {key: "changed=&vanished="}
    # Not a number: not an entry.
    key = CHANGEDSINCE + "abc"
    assert alice.metadata("Feed", key) == {key: None}


# ---------------------------------------------------------------------------
# Multi-mailbox search


def esearch_results(untagged):
    """{mailbox: (uidvalidity, 'rest of the response')}."""
    out = {}
    for line in untagged:
        m = re.match(rb'\* ESEARCH \(TAG "[^"]+" MAILBOX "?([^" ]+)"? UIDVALIDITY (\d+)\) '
                     rb'UID(.*)', line)
        assert m, line
        out[m.group(1).decode()] = (int(m.group(2)), m.group(3).decode().strip())
    return out


def test_msearch_over_three_folders(server, alice):
    needle = uuid.uuid4().hex[:10]
    for f in ("MS-A", "MS-B", "MS-C"):
        alice.ok(f'CREATE "{f}"')
    found = {}
    for f, n in (("MS-A", 2), ("MS-B", 1), ("MS-C", 0)):
        alice.appenduid(f, mail("unrelated"))
        found[f] = [alice.appenduid(f, mail(f"about {needle}")) for _ in range(n)]
    untagged, _ = alice.ok(f'MSEARCH (mailboxes ("MS-A" "MS-B" "MS-C")) (X-NOFALLBACK ALL) '
                           f'SUBJECT "{needle}"')
    res = esearch_results(untagged)
    assert set(res) == {"MS-A", "MS-B"}
    assert res["MS-A"][1] == f"ALL {found['MS-A'][0]}:{found['MS-A'][1]}"
    assert res["MS-B"][1] == f"ALL {found['MS-B'][0]}"
    assert res["MS-A"][0] == alice.status("MS-A", "UIDVALIDITY")["UIDVALIDITY"]
    # RFC 7377 spelling over every personal mailbox, with COUNT.
    untagged, _ = alice.ok(f'ESEARCH IN (personal) RETURN (COUNT) SUBJECT "{needle}"')
    res = esearch_results(untagged)
    assert {k: v[1] for k, v in res.items()} == {"MS-A": "COUNT 2", "MS-B": "COUNT 1"}
    # subtree, and a folder that does not exist (skipped).
    untagged, _ = alice.ok(f'ESEARCH IN (subtree "MS-B" mailboxes "Nope") '
                           f'SUBJECT "{needle}"')
    assert set(esearch_results(untagged)) == {"MS-B"}
    # Sequence numbers and SAVE have no meaning across mailboxes.
    assert alice.cmd('ESEARCH IN (personal) 1:3')[0] == "BAD"
    assert alice.cmd('ESEARCH IN (personal) RETURN (SAVE) ALL')[0] == "BAD"
    assert alice.cmd('ESEARCH IN (nowhere) ALL')[0] == "BAD"
    # UID sets do.
    untagged, _ = alice.ok(f'ESEARCH IN (mailboxes "MS-A") UID {found["MS-A"][1]}:* '
                           f'SUBJECT "{needle}"')
    assert esearch_results(untagged)["MS-A"][1] == f"ALL {found['MS-A'][1]}"


def test_grantee_msearch_sees_only_readable_folders(server, alice, bob):
    needle = uuid.uuid4().hex[:10]
    for f in ("Shared-R", "Shared-L", "Private"):
        alice.ok(f'CREATE "{f}"')
        alice.appenduid(f, mail(f"secret {needle}"))
    alice.ok(f'SETACL "Shared-R" {bob.address} lr')
    alice.ok(f'SETACL "Shared-L" {bob.address} l')
    bob.appenduid("INBOX", mail(f"bob's own {needle}"))
    owner = f"~{alice.address}"
    untagged, _ = bob.ok(f'MSEARCH (mailboxes ("{owner}/Shared-R" "{owner}/Shared-L" '
                         f'"{owner}/Private" "INBOX")) SUBJECT "{needle}"')
    res = esearch_results(untagged)
    assert set(res) == {f"{owner}/Shared-R", "INBOX"}, res
    untagged, _ = bob.ok(f'ESEARCH IN (subtree "{owner.upper()}") SUBJECT "{needle}"')
    assert set(esearch_results(untagged)) == {f"{owner}/Shared-R"}
    # personal is bob's own account only.
    untagged, _ = bob.ok(f'ESEARCH IN (personal) SUBJECT "{needle}"')
    assert set(esearch_results(untagged)) == {"INBOX"}
    # And alice never sees bob's.
    untagged, _ = alice.ok(f'ESEARCH IN (personal) SUBJECT "{needle}"')
    assert set(esearch_results(untagged)) == {"Shared-R", "Shared-L", "Private"}

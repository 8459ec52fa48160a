"""The authorization matrix of shared folders (issue 4, "Sharing" and
"Tests"), against a real floed and PostgreSQL over IMAP.

For every right set as the clients name them (Read, Write, Modify, Delete,
Administer, the presets All and Full, and none) an owner shares an event, a
contact and a mail folder (with items and a subfolder) with a grantee; a
stranger has no grant. Each cell (right set x principal x command) runs one
IMAP command against the shared folder and checks that it is allowed exactly
when RFC 4314 section 4 and the mapping of modules/acl.h (README "Folders
and sharing") say so, that an allowed command did what it says, and that a
refusal never leaks: a folder the principal may see neither with l nor r
answers exactly like a folder (or an account) that does not exist (RFC 4314
section 6), and no refused command returns item data. LIST checks subscribe
first (README "Sharing": shared folders are listed once subscribed).

The mapping under test: Read = lrs, Write = ik, Modify = w, Delete = xte,
Administer = a, All = lrswipkxte, Full = lrswipkxtea. Grants through IMAP
SETACL with letters and through `floectl share grant` with the client names
store the same rights (test_grant_paths_agree). Then: LIST never naming a
hidden folder whatever the pattern or option, inheritance and its
cancellation, the "anyone" grantee, a group grantee, a whole-account grant,
and a revocation reaching a session that has the folder selected.

Two owner accounts serve every right set: "a" holds each set's long-lived
folders ("Read-Box"...; only read by the cells), "b" a fresh folder per cell
that changes something (STORE, EXPUNGE, APPEND, DELETE, RENAME, SETACL...),
shared with the set's grantee like the long-lived ones (SETACL with the
letters). The stranger is one account for all sets."""

import itertools
import json
import re
import subprocess
import uuid

import pytest

import floe

PASSWORD = "authz secret"
ALL_LETTERS = "lrswipkxtea"
RIGHT_SETS = {
    "Read": "lrs",
    "Write": "ik",
    "Modify": "w",
    "Delete": "xte",
    "Administer": "a",
    "All": "lrswipkxte",
    "Full": "lrswipkxtea",
    "None": "",
}
PRINCIPALS = ("owner", "grantee", "stranger")
# The long-lived shared folders of account "a" (each set's, under a
# "<set>-" prefix) and their item counts.
MAIN = {"Box": 2, "Box/Sub": 1, "Cal": 1, "Book": 1}
FT_SHARED = "/shared/vendor/kolab/folder-type"
ICEWARP_PATH = "/public/vendor/icewarp/folderinfo/fullfolderpath"
ICEWARP_FEED = "/public/vendor/icewarp/folderinfo/changedsince/"


# ---------------------------------------------------------------------------
# A small raw IMAP client


class Imap(floe.ImapWire):
    def __init__(self, port, user, wait=True):
        """Connects and sends LOGIN; wait=False leaves the answer to
        finish_login() so that many sessions log in at once."""
        self.user = user
        super().__init__(port)
        self.selected = False
        assert self.read_response().startswith(b"* OK")
        self.sock.sendall(f'z0 LOGIN "{user}" "{PASSWORD}"\r\n'.encode())
        if wait:
            self.finish_login()

    def finish_login(self):
        while True:
            line = self.read_response()
            if line.startswith(b"z0 "):
                assert line.startswith(b"z0 OK"), line
                return

    def cmd(self, text, *literals):
        """Sends a command ('{}' marks a synchronizing literal); returns
        (status, [untagged responses], tagged line without the tag)."""
        self.n += 1
        tag = f"z{self.n}"
        parts = text.split("{}")
        data = f"{tag} {parts[0]}".encode()
        for lit, rest in zip(literals, parts[1:]):
            self.sock.sendall(data + b"{%d}\r\n" % len(lit))
            cont = self.read_response()
            if not cont.startswith(b"+"):
                # Refused before the literal (RFC 3501 7.5): the tagged answer.
                line = cont.decode(errors="replace").rstrip("\r\n")
                assert line.startswith(tag + " "), line
                return line.split(" ")[1], [], line[len(tag) + 1:]
            data = lit + rest.encode()
        self.sock.sendall(data + b"\r\n")
        untagged = []
        while True:
            resp = self.read_response()
            if resp.startswith(tag.encode() + b" "):
                line = resp.decode(errors="replace").rstrip("\r\n")
                status = line.split(" ")[1]
                verb = text.split(" ")[0].upper()
                if verb in ("SELECT", "EXAMINE"):
                    self.selected = status == "OK"
                elif verb in ("UNSELECT", "CLOSE"):
                    self.selected = False
                if b"[CLOSED]" in b"".join(untagged) and verb == "DELETE":
                    self.selected = False
                return status, untagged, line[len(tag) + 1:]
            untagged.append(resp)

    def ok(self, text, *literals):
        st, untagged, line = self.cmd(text, *literals)
        assert st == "OK", f"{text!r}: {line}"
        return untagged, line

    def reset(self):
        """Back to the authenticated state."""
        if self.selected:
            self.ok("UNSELECT")

    def append(self, mailbox, data, flags=""):
        _, line = self.ok(f'APPEND "{mailbox}" {flags}{{}}', data)
        m = re.search(r"\[APPENDUID \d+ (\d+)\]", line)
        assert m, line
        return int(m.group(1))

    def names(self, pattern='"*"', ref='""', verb="LIST"):
        """LIST/LSUB ref pattern -> {name: [attributes]}."""
        untagged, _ = self.ok(f"{verb} {ref} {pattern}")
        out = {}
        for r in untagged:
            if not r.startswith(f"* {verb} ".encode()):
                continue
            m = re.match(rb'\* \w+ \(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))\r\n', r)
            assert m, r
            name = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
            out[name] = m.group(1).decode().split()
        return out

    def count(self, mailbox):
        untagged, _ = self.ok(f'STATUS "{mailbox}" (MESSAGES)')
        return int(re.search(rb"MESSAGES (\d+)", b"".join(untagged)).group(1))

    def flags(self, seq):
        untagged, _ = self.ok(f"FETCH {seq} (FLAGS)")
        m = re.search(rb"FLAGS \(([^)]*)\)", b"".join(untagged))
        return m.group(1).decode().split()


def ctl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


def new_user(server, domain, prefix):
    return new_users(server, domain, [prefix])[0]


def new_users(server, domain, prefixes):
    """Adds users at once (each costs an Argon2id hash); returns addresses."""
    addresses = [f"{prefix}{uuid.uuid4().hex[:8]}@{domain}" for prefix in prefixes]
    procs = [subprocess.Popen([floe.FLOECTL, "--config", server.config_path, "user", "add",
                               address, "--password", PASSWORD],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for address in addresses]
    for address, proc in zip(addresses, procs):
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"user add {address}: {err}"
    return addresses


def mail(token, what):
    return (f"From: owner@example.com\r\nTo: someone@example.com\r\n"
            f"Subject: {token} {what}\r\nMessage-ID: <{uuid.uuid4().hex}@example.com>\r\n"
            f"\r\nSecret body {token} ({what}).\r\n").encode()


def kolab(uid, obj, kind, content_type):
    boundary = "=_" + uuid.uuid4().hex
    return (f"From: owner@example.com\r\nSubject: {uid}\r\n"
            f"Date: Mon, 25 Mar 2024 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.{kind}\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            f"This is a Kolab groupware object.\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}; charset=UTF-8\r\n"
            f"X-Kolab-Type: application/x-vnd.kolab.{kind}\r\n\r\n"
            f"{obj}--{boundary}--\r\n").encode()


def event(uid, summary="Planning"):
    return kolab(uid, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//authz//EN\r\n"
                 f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T120000Z\r\n"
                 f"DTSTART:20240325T090000Z\r\nDTEND:20240325T100000Z\r\n"
                 f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "event",
                 "text/calendar")


def contact(uid):
    return kolab(uid, f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Jan Novak\r\n"
                 f"EMAIL:jan@example.cz\r\nEND:VCARD\r\n", "contact", "text/vcard")


def rights_text(letters):
    """MYRIGHTS/GETACL form: canonical order, then c and d (RFC 4314 2.1.1)."""
    out = "".join(ch for ch in ALL_LETTERS if ch in letters)
    if set(letters) & set("kx"):
        out += "c"
    if set(letters) & set("etx"):
        out += "d"
    return out


def decide(rights, needed):
    """ok, noperm (a folder it may see), or hidden (looks missing)."""
    if set(needed) <= set(rights):
        return "ok"
    if set(rights) & set("lr"):
        return "noperm"
    return "hidden"


# ---------------------------------------------------------------------------
# The accounts of the matrix


class World:
    """One floed, one domain, and the accounts of every cell, made and logged
    in at once up front (each costs an Argon2id hash, then a verification):
    owner "a" holds each right set's long-lived folders ("Read-Box"...),
    owner "b" the fresh ones, one grantee per right set, a stranger, carol
    (a third party for SETACL), and the accounts of the other tests."""

    EXTRA = ("pairx", "acctx", "inhy", "revy", "acty", "member", "outsider", "near")

    def __init__(self, server):
        self.server = server
        self.domain = f"authz{uuid.uuid4().hex[:8]}.example"
        self.other_domain = f"other{uuid.uuid4().hex[:8]}.example"
        ctl(server, "domain", "add", self.domain)
        ctl(server, "domain", "add", self.other_domain)
        prefixes = ["owna", "ownb", "stranger", "carol"] + list(self.EXTRA) + \
            [f"grantee{name.lower()}" for name in RIGHT_SETS]
        users = dict(zip(prefixes, new_users(server, self.domain, prefixes)))
        users["far"] = new_user(server, self.other_domain, "far")
        self.users = users
        self.owner = {"a": users["owna"], "b": users["ownb"]}
        self.stranger, self.carol = users["stranger"], users["carol"]
        self.grantees = {name: users[f"grantee{name.lower()}"] for name in RIGHT_SETS}
        self.sessions = []
        self.sets = {}
        self.primed = set()
        self.shared = {}
        pending = [(("owner", "a"), self.owner["a"]), (("owner", "b"), self.owner["b"]),
                   ("admin", self.owner["b"]), (("stranger", ""), self.stranger)]
        pending += [(("grantee", name), g) for name, g in self.grantees.items()]
        for key, address in pending:
            self.shared[key] = Imap(server.imap_port, address, wait=False)
            self.sessions.append(self.shared[key])
        for c in self.shared.values():
            c.finish_login()

    def session(self, key):
        c = self.shared[key]
        if key not in self.primed:
            # A message of its own to copy and move from.
            c.append("INBOX", mail("own", "mine"))
            self.primed.add(key)
        c.reset()
        return c

    def login(self, address):
        c = Imap(self.server.imap_port, address)
        self.sessions.append(c)
        return c

    def get(self, name):
        if name not in self.sets:
            self.sets[name] = RightSet(self, name)
        return self.sets[name]

    def close(self):
        for c in self.sessions:
            c.close()


class RightSet:
    """A right set's folders: in account a "<set>-Box" (2 messages, the
    second \\Flagged), "<set>-Box/Sub", "<set>-Cal" (an event) and
    "<set>-Book" (a contact), shared with the grantee through floectl with
    the client's name; in account b fresh "<set>-F<n>" folders shared
    through SETACL with the letters. Items carry the set's token."""

    def __init__(self, world, name):
        self.world, self.set_name, self.letters = world, name, RIGHT_SETS[name]
        server = world.server
        self.addr = world.owner
        self.grantee = world.grantees[name]
        self.token = "T" + uuid.uuid4().hex[:12]
        self.fresh_n = itertools.count(1)
        self.nobody = f"nobody{uuid.uuid4().hex[:8]}@{world.domain}"
        self.b_admin = world.shared["admin"]
        adm = self.session("owner", "a")
        adm.ok(f'CREATE "{self.main("Box/Sub")}"')
        for path, kind in (("Cal", "event"), ("Book", "contact")):
            adm.ok(f'CREATE "{self.main(path)}"')
            adm.ok(f'SETMETADATA "{self.main(path)}" ({FT_SHARED} "{kind}")')
        adm.append(self.main("Box"), mail(self.token, "box one"))
        adm.append(self.main("Box"), mail(self.token, "box two"), "(\\Flagged) ")
        adm.append(self.main("Box/Sub"), mail(self.token, "sub"))
        adm.append(self.main("Cal"), event(f"{self.token}-event"))
        adm.append(self.main("Book"), contact(f"{self.token}-contact"))
        # The subfolder inherits Box's grant, given after it was made.
        for path in ("Box", "Cal", "Book"):
            target = f"{self.addr['a']}/{self.main(path)}"
            if self.letters:
                ctl(server, "share", "grant", target, self.grantee, name.lower())
            else:
                ctl(server, "share", "grant", target, self.grantee, "read")
                ctl(server, "share", "revoke", target, self.grantee)

    def main(self, path):
        return f"{self.set_name}-{path}"

    def rights(self, principal):
        return {"owner": ALL_LETTERS, "grantee": self.letters, "stranger": ""}[principal]

    def session(self, principal, owner="a"):
        key = {"owner": ("owner", owner), "grantee": ("grantee", self.set_name),
               "stranger": ("stranger", "")}[principal]
        return self.world.session(key)

    def name(self, principal, owner, path):
        """The name principal uses for path of owner ("a": a long-lived
        folder of this set, named without its prefix; "b": a fresh one)."""
        if owner == "a":
            path = self.main(path)
        return path if principal == "owner" else f"~{self.addr[owner]}/{path}"

    def missing(self, principal, owner, path=None):
        """A folder that does not exist in the same account, and a name in an
        account that does not exist (path may keep a suffix)."""
        gone = f"Missing{uuid.uuid4().hex[:6]}" + (path or "")
        return [self.name(principal, owner, gone), f"~{self.nobody}/{gone}"]

    def fresh(self, kind="mail", sub=False, deleted=False, items=2):
        """A new folder of account b shared with the grantee like the main
        ones; items carry the token. Returns (path, [uids])."""
        path = f"{self.set_name}-F{next(self.fresh_n)}"
        adm = self.b_admin
        adm.reset()
        adm.ok(f'CREATE "{path}"')
        if kind != "mail":
            adm.ok(f'SETMETADATA "{path}" ({FT_SHARED} "{kind}")')
        if self.letters:
            adm.ok(f'SETACL "{path}" "{self.grantee}" {self.letters}')
        if sub:
            adm.ok(f'CREATE "{path}/Sub"')
        uids = []
        for i in range(items):
            data = {"event": event, "contact": contact}.get(
                kind, lambda uid: mail(self.token, uid))(f"{self.token}-{path}-{i}")
            flags = "(\\Deleted) " if deleted and i == items - 1 else ""
            uids.append(adm.append(path, data, flags))
        return path, uids

    def exists(self, path):
        return path in self.b_admin.names(f'"{path}"')


def solicited(untagged):
    """Untagged responses but the news of the selected mailbox (new mail may
    arrive in one's own INBOX at any time)."""
    return [r for r in untagged if not re.match(rb"\* \d+ (EXISTS|RECENT|EXPUNGE|FETCH)", r)]


def expect(t, c, principal, owner, template, path, outcome, *literals, suffix=""):
    """Runs template with @MB@ standing for the folder and checks outcome. A
    hidden folder must answer exactly like missing ones (same status, text and
    untagged responses); a refusal carries no item data."""
    name = t.name(principal, owner, path) + suffix
    st, untagged, line = c.cmd(template.replace("@MB@", name), *literals)
    if outcome == "ok":
        assert st == "OK", f"{template} {name}: {line}"
    elif outcome == "noperm":
        assert st == "NO" and "[NOPERM]" in line, f"{template} {name}: {line}"
    else:
        assert st == "NO", f"{template} {name}: {line}"
        for other in t.missing(principal, owner, suffix):
            st2, untagged2, line2 = c.cmd(template.replace("@MB@", other), *literals)
            assert (st2, line2, solicited(untagged2)) == (st, line, solicited(untagged)), \
                f"hidden {name} answers {line} {untagged}, missing {other}: {line2} {untagged2}"
    if outcome != "ok":
        assert t.token.encode() not in b"".join(untagged), untagged
    return st, untagged, line


# ---------------------------------------------------------------------------
# The commands of the matrix: each takes (right set, principal)


def c_list(t, p):
    c, rights = t.session(p), t.rights(p)
    ours = {t.name(p, "a", path) for path in MAIN}
    if p == "owner":
        assert ours <= set(c.names())
        return
    root = f"~{t.addr['a']}"
    c.cmd(f'SUBSCRIBE "{root}"')
    for name in ours:
        c.cmd(f'SUBSCRIBE "{name}"')
    # Exactly this set's folders (the other sets' are not shared with this
    # grantee; the stranger sees none).
    everything = c.names()
    mine = {n: a for n, a in everything.items() if n == root or n.startswith(root + "/")}
    if "l" in rights:
        assert set(mine) - {root} == ours, everything
        if root in mine:
            assert "\\Noselect" in mine[root], mine
        assert set(c.names(f'"{root}/*"')) == ours
    else:
        assert not mine, everything
        assert c.names(f'"{root}/*"') == {}
        assert c.names(f'"{root}*"') == {}


def c_lsub(t, p):
    c, rights = t.session(p), t.rights(p)
    ours = [t.name(p, "a", path) for path in MAIN]
    if p == "owner":
        for name in ours:
            c.ok(f'SUBSCRIBE "{name}"')
        subs = c.names(verb="LSUB")
        for name in ours:
            assert name in subs and "\\Noselect" not in subs[name], subs
        return
    root = f"~{t.addr['a']}"
    missing = f"{root}/Missing{uuid.uuid4().hex[:6]}"
    answers = {n: c.cmd(f'SUBSCRIBE "{n}"') for n in ours + [missing]}
    subs = c.names(f'"{root}/*"', verb="LSUB")
    for name in ours:
        if "l" in rights:
            assert answers[name][0] == "OK", answers[name]
            assert name in subs and not {"\\Noselect", "\\NonExistent"} & set(subs[name]), subs
        else:
            # Subscribing to it and listing the subscription look the same as
            # for a folder that does not exist.
            assert answers[name][0] == answers[missing][0], answers
            assert answers[name][2] == answers[missing][2], answers
            assert subs.get(name) == subs.get(missing), subs
    c.cmd(f'UNSUBSCRIBE "{missing}"')


def c_status(t, p):
    c, outcome = t.session(p), decide(t.rights(p), "r")
    for path in ("Box", "Cal", "Book"):
        _, untagged, _ = expect(t, c, p, "a", 'STATUS "@MB@" (MESSAGES UNSEEN)', path, outcome)
        if outcome == "ok":
            assert f"MESSAGES {MAIN[path]} ".encode() in b"".join(untagged), untagged


def c_select(t, p):
    c, rights = t.session(p), t.rights(p)
    outcome = decide(rights, "r")
    _, untagged, line = expect(t, c, p, "a", 'SELECT "@MB@"', "Box", outcome)
    if outcome == "ok":
        text = b"".join(untagged)
        assert b"* 2 EXISTS" in text, text
        # RFC 4314 5.2: READ-WRITE with any right that changes the mailbox.
        want = "[READ-WRITE]" if set(rights) & set("iestw") else "[READ-ONLY]"
        assert want in line, line
        perm = re.search(rb"PERMANENTFLAGS \(([^)]*)\)", text).group(1).decode().split()
        assert ("\\Seen" in perm) == ("s" in rights), perm
        assert ("\\Deleted" in perm) == ("t" in rights), perm
        assert ("\\Flagged" in perm) == ("w" in rights), perm


def c_examine(t, p):
    c = t.session(p)
    outcome = decide(t.rights(p), "r")
    for path in ("Box", "Cal", "Book"):
        _, untagged, line = expect(t, c, p, "a", 'EXAMINE "@MB@"', path, outcome)
        if outcome == "ok":
            assert "[READ-ONLY]" in line, line
            assert f"* {MAIN[path]} EXISTS".encode() in b"".join(untagged), untagged


def select_fresh(t, c, p, path, examine=False):
    """Selects a fresh folder if the principal may; False when refused."""
    outcome = decide(t.rights(p), "r")
    expect(t, c, p, "b", ("EXAMINE" if examine else "SELECT") + ' "@MB@"', path, outcome)
    return outcome == "ok"


def c_fetch_body(t, p):
    path, _ = t.fresh()
    c, rights = t.session(p, "b"), t.rights(p)
    if not select_fresh(t, c, p, path):
        return
    untagged, _ = c.ok("FETCH 1 BODY[]")
    assert f"Secret body {t.token}".encode() in b"".join(untagged), untagged
    # RFC 4314 4: FETCH BODY[] sets \Seen only with s.
    assert ("\\Seen" in c.flags(1)) == ("s" in rights)


def c_fetch_flags(t, p):
    c = t.session(p)
    if decide(t.rights(p), "r") != "ok":
        expect(t, c, p, "a", 'EXAMINE "@MB@"', "Box", decide(t.rights(p), "r"))
        return
    c.ok(f'EXAMINE "{t.name(p, "a", "Box")}"')
    untagged, _ = c.ok("FETCH 1:* (FLAGS)")
    assert len(untagged) == 2 and b"\\Flagged" in untagged[1], untagged


def store_cell(flag, right):
    def cell(t, p):
        path, _ = t.fresh()
        c, rights = t.session(p, "b"), t.rights(p)
        if not select_fresh(t, c, p, path):
            return
        st, _, line = c.cmd(f"STORE 1 +FLAGS ({flag})")
        if right in rights:
            assert st == "OK", line
            assert flag in c.flags(1)
        else:
            assert st == "NO" and "[NOPERM]" in line, line
            assert flag not in c.flags(1)
    return cell


def c_expunge(t, p):
    path, _ = t.fresh(deleted=True)
    c, rights = t.session(p, "b"), t.rights(p)
    if not select_fresh(t, c, p, path):
        assert t.b_admin.count(path) == 2
        return
    st, untagged, line = c.cmd("EXPUNGE")
    if "e" in rights:
        assert st == "OK" and untagged == [b"* 2 EXPUNGE\r\n"], (line, untagged)
    else:
        assert st == "NO" and "[NOPERM]" in line, line
    assert t.b_admin.count(path) == (1 if "e" in rights else 2)


def c_append(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "i")
    _, _, line = expect(t, c, p, "b", 'APPEND "@MB@" (\\Seen) {}', path, outcome,
                        mail("own", "appended"))
    if outcome == "ok":
        assert "[APPENDUID " in line, line
    assert t.b_admin.count(path) == (3 if outcome == "ok" else 2)


def c_copy_into(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "i")
    c.ok("SELECT INBOX")
    _, _, line = expect(t, c, p, "b", 'COPY 1 "@MB@"', path, outcome)
    if outcome == "ok":
        assert "[COPYUID " in line, line
    assert t.b_admin.count(path) == (3 if outcome == "ok" else 2)


def c_move_into(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "i")
    uid = c.append("INBOX", mail("own", "to move"))
    c.ok("SELECT INBOX")
    expect(t, c, p, "b", f'UID MOVE {uid} "@MB@"', path, outcome)
    untagged, _ = c.ok(f"UID SEARCH UID {uid}")
    assert (untagged == [b"* SEARCH\r\n"]) == (outcome == "ok"), untagged
    assert t.b_admin.count(path) == (3 if outcome == "ok" else 2)


def c_copy_out(t, p):
    c = t.session(p)
    outcome = decide(t.rights(p), "r")
    expect(t, c, p, "a", 'SELECT "@MB@"', "Box", outcome)
    if outcome == "ok":
        _, line = c.ok("COPY 1:2 INBOX")
        assert "[COPYUID " in line, line


def c_move_out(t, p):
    path, _ = t.fresh()
    c, rights = t.session(p, "b"), t.rights(p)
    if not select_fresh(t, c, p, path):
        return
    st, _, line = c.cmd("MOVE 1 INBOX")
    if set("te") <= set(rights):
        assert st == "OK", line
    else:
        assert st == "NO" and "[NOPERM]" in line, line
    assert t.b_admin.count(path) == (1 if set("te") <= set(rights) else 2)


def c_create(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "k")
    # Without k on an invisible parent: NO, exactly as under a missing one.
    expect(t, c, p, "b", 'CREATE "@MB@"', path, outcome, suffix="/New")
    assert t.exists(f"{path}/New") == (outcome == "ok")


def c_delete(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "x")
    expect(t, c, p, "b", 'DELETE "@MB@"', path, outcome)
    assert t.exists(path) == (outcome != "ok")


def c_delete_sub(t, p):
    path, _ = t.fresh(sub=True)
    c, outcome = t.session(p, "b"), decide(t.rights(p), "x")
    expect(t, c, p, "b", 'DELETE "@MB@"', f"{path}/Sub", outcome)
    assert t.exists(f"{path}/Sub") == (outcome != "ok")


def c_rename_sub(t, p):
    """x on the folder renamed, k on the new parent (the same one)."""
    path, _ = t.fresh(sub=True)
    c, rights = t.session(p, "b"), t.rights(p)
    outcome = decide(rights, "x")
    if outcome == "ok" and "k" not in rights:
        outcome = "noperm"
    target = t.name(p, "b", f"{path}/Renamed")
    expect(t, c, p, "b", f'RENAME "@MB@" "{target}"', f"{path}/Sub", outcome)
    assert t.exists(f"{path}/Renamed") == (outcome == "ok")
    assert t.exists(f"{path}/Sub") == (outcome != "ok")


def c_rename_top(t, p):
    """To the account's top level: k there, which only the owner has."""
    path, _ = t.fresh()
    c, rights = t.session(p, "b"), t.rights(p)
    outcome = decide(rights, "x")
    if outcome == "ok" and p != "owner":
        outcome = "noperm"
    target = t.name(p, "b", f"{path}-top")
    expect(t, c, p, "b", f'RENAME "@MB@" "{target}"', path, outcome)
    assert t.exists(f"{path}-top") == (outcome == "ok")


def c_getacl(t, p):
    c, outcome = t.session(p), decide(t.rights(p), "a")
    _, untagged, _ = expect(t, c, p, "a", 'GETACL "@MB@"', "Box", outcome)
    if outcome == "ok":
        text = b"".join(untagged).decode()
        assert f" {t.addr['a']} lrswipkxteacd" in text, text
        if t.letters:
            assert f" {t.grantee} {rights_text(t.letters)}" in text, text
        else:
            assert t.grantee not in text, text


def c_setacl(t, p):
    path, _ = t.fresh()
    c, outcome = t.session(p, "b"), decide(t.rights(p), "a")
    expect(t, c, p, "b", f'SETACL "@MB@" "{t.world.carol}" lr', path, outcome)
    untagged, _ = t.b_admin.ok(f'GETACL "{path}"')
    assert (f" {t.world.carol} lr".encode() in untagged[0]) == (outcome == "ok"), untagged


def c_deleteacl(t, p):
    path, _ = t.fresh()
    t.b_admin.ok(f'SETACL "{path}" "{t.world.carol}" lr')
    c, outcome = t.session(p, "b"), decide(t.rights(p), "a")
    expect(t, c, p, "b", f'DELETEACL "@MB@" "{t.world.carol}"', path, outcome)
    untagged, _ = t.b_admin.ok(f'GETACL "{path}"')
    assert (t.world.carol.encode() in untagged[0]) == (outcome != "ok"), untagged


def c_listrights(t, p):
    c, outcome = t.session(p), decide(t.rights(p), "a")
    _, untagged, _ = expect(t, c, p, "a", f'LISTRIGHTS "@MB@" "{t.world.carol}"', "Box", outcome)
    if outcome == "ok":
        assert untagged[0].endswith(f' {t.world.carol} "" l r s w i p k x t e a c d\r\n'
                                    .encode()), untagged


def c_myrights(t, p):
    c, rights = t.session(p), t.rights(p)
    # RFC 4314 4: MYRIGHTS needs any of l, r, i, k, x, a.
    outcome = "ok" if set(rights) & set("lrikxa") else "hidden"
    for path in ("Box", "Box/Sub", "Cal"):
        _, untagged, _ = expect(t, c, p, "a", 'MYRIGHTS "@MB@"', path, outcome)
        if outcome == "ok":
            assert untagged == [f"* MYRIGHTS {t.name(p, 'a', path)} {rights_text(rights)}\r\n"
                                .encode()], untagged


def c_getmetadata(t, p):
    c, outcome = t.session(p), decide(t.rights(p), "lr")
    for path, kind in (("Cal", "event"), ("Book", "contact"), ("Box", "mail")):
        _, untagged, _ = expect(t, c, p, "a", f'GETMETADATA "@MB@" ({FT_SHARED})', path, outcome)
        if outcome == "ok":
            assert f'{FT_SHARED} "{kind}"'.encode() in b"".join(untagged), untagged
    # IceWarp's computed entries: the path and the changedsince feed (UIDs).
    _, untagged, _ = expect(t, c, p, "a", f'GETMETADATA "@MB@" ({ICEWARP_PATH} {ICEWARP_FEED}0)',
                            "Box", outcome)
    if outcome == "ok":
        text = b"".join(untagged)
        assert b"changed=1" in text and t.main("Box").encode() in text, text


def setmetadata_cell(scope, needed):
    def cell(t, p):
        c, outcome = t.session(p), decide(t.rights(p), needed)
        value = uuid.uuid4().hex[:8]
        expect(t, c, p, "a", f'SETMETADATA "@MB@" (/{scope}/comment "{value}")', "Box", outcome)
        untagged, _ = t.session("owner").ok(
            f'GETMETADATA "{t.name("owner", "a", "Box")}" (/{scope}/comment)')
        # A /private value is the writer's own; the owner sees a /shared one.
        stored = value.encode() in b"".join(untagged)
        assert stored == (outcome == "ok" and (scope == "shared" or p == "owner")), untagged
        if outcome == "ok" and scope == "private" and p != "owner":
            untagged, _ = c.ok(f'GETMETADATA "{t.name(p, "a", "Box")}" (/private/comment)')
            assert value.encode() in b"".join(untagged), untagged
    return cell


def c_search(t, p):
    c = t.session(p)
    outcome = decide(t.rights(p), "r")
    expect(t, c, p, "a", 'EXAMINE "@MB@"', "Box", outcome)
    if outcome == "ok":
        untagged, _ = c.ok(f"SEARCH SUBJECT {t.token}")
        assert untagged == [b"* SEARCH 1 2\r\n"], untagged
        untagged, _ = c.ok(f"SEARCH BODY {t.token} FLAGGED")
        assert untagged == [b"* SEARCH 2\r\n"], untagged


def esearch_mailboxes(untagged):
    """The mailboxes with matches, but the principal's own INBOX (COPY_out
    copies the owner's messages there)."""
    out = set()
    for line in untagged:
        m = re.match(rb'\* ESEARCH \(TAG "[^"]+" MAILBOX "?([^" ]+)"? UIDVALIDITY \d+\) '
                     rb'UID ALL [0-9:,]+\r\n$', line)
        assert m, line
        out.add(m.group(1).decode())
    return out - {"INBOX"}


def c_msearch(t, p):
    c, rights = t.session(p), t.rights(p)
    want = {t.name(p, "a", path) for path in MAIN} if "r" in rights else set()
    if p == "owner":
        untagged, _ = c.ok(f"ESEARCH IN (personal) SUBJECT {t.token}")
        assert esearch_mailboxes(untagged) == want
        return
    root = f"~{t.addr['a']}"
    untagged, _ = c.ok(f'ESEARCH IN (subtree "{root}") SUBJECT {t.token}')
    assert esearch_mailboxes(untagged) == want
    names = " ".join(f'"{n}"' for n in sorted(want) + [f"{root}/INBOX"])
    untagged, _ = c.ok(f"MSEARCH (mailboxes ({names})) SUBJECT {t.token}")
    assert esearch_mailboxes(untagged) == want
    untagged, _ = c.ok(f"MSEARCH (subscribed) SUBJECT {t.token}")
    assert esearch_mailboxes(untagged) <= want
    for line in untagged:
        assert t.token.encode() not in line, line


def gw_append_cell(kind, make):
    def cell(t, p):
        path, _ = t.fresh(kind=kind, items=1)
        c, outcome = t.session(p, "b"), decide(t.rights(p), "i")
        _, _, line = expect(t, c, p, "b", 'APPEND "@MB@" {}', path, outcome,
                            make(f"new-{uuid.uuid4().hex}"))
        if outcome == "ok":
            assert "[APPENDUID " in line, line
        assert t.b_admin.count(path) == (2 if outcome == "ok" else 1)
    return cell


def c_gw_replace(t, p):
    """A new version (APPEND, i), then the old one \\Deleted (t) and expunged
    (e), in a folder that must be selected (r)."""
    path, (old,) = t.fresh(kind="event", items=1)
    uid = f"{t.token}-{path}-0"
    c, rights = t.session(p, "b"), t.rights(p)
    outcome = decide(rights, "i")
    _, _, line = expect(t, c, p, "b", 'APPEND "@MB@" {}', path, outcome,
                        event(uid, "Version 2"))
    if outcome != "ok":
        assert t.b_admin.count(path) == 1
        return
    new = int(re.search(r"\[APPENDUID \d+ (\d+)\]", line).group(1))
    if not select_fresh(t, c, p, path):
        assert t.b_admin.count(path) == 2
        return
    st, _, line = c.cmd(f"UID STORE {old} +FLAGS.SILENT (\\Deleted)")
    if "t" not in rights:
        assert st == "NO" and "[NOPERM]" in line, line
        return
    assert st == "OK", line
    st, untagged, line = c.cmd(f"UID EXPUNGE {old}")
    if "e" not in rights:
        assert st == "NO" and "[NOPERM]" in line, line
        return
    assert st == "OK" and untagged == [b"* 1 EXPUNGE\r\n"], (line, untagged)
    untagged, _ = c.ok(f"UID FETCH {new} BODY.PEEK[]")
    assert b"SUMMARY:Version 2" in b"".join(untagged)
    assert t.b_admin.count(path) == 1


COMMANDS = {
    "LIST": c_list,
    "LSUB": c_lsub,
    "STATUS": c_status,
    "SELECT": c_select,
    "EXAMINE": c_examine,
    "FETCH_body": c_fetch_body,
    "FETCH_flags": c_fetch_flags,
    "STORE_seen": store_cell("\\Seen", "s"),
    "STORE_flagged": store_cell("\\Flagged", "w"),
    "STORE_keyword": store_cell("$Work", "w"),
    "STORE_deleted": store_cell("\\Deleted", "t"),
    "EXPUNGE": c_expunge,
    "APPEND": c_append,
    "COPY_into": c_copy_into,
    "MOVE_into": c_move_into,
    "COPY_out": c_copy_out,
    "MOVE_out": c_move_out,
    "CREATE_sub": c_create,
    "DELETE_folder": c_delete,
    "DELETE_sub": c_delete_sub,
    "RENAME_sub": c_rename_sub,
    "RENAME_top": c_rename_top,
    "GETACL": c_getacl,
    "SETACL": c_setacl,
    "DELETEACL": c_deleteacl,
    "LISTRIGHTS": c_listrights,
    "MYRIGHTS": c_myrights,
    "GETMETADATA": c_getmetadata,
    "SETMETADATA_private": setmetadata_cell("private", "lr"),
    "SETMETADATA_shared": setmetadata_cell("shared", "lrw"),
    "SEARCH": c_search,
    "MSEARCH": c_msearch,
    "GW_APPEND_event": gw_append_cell("event", event),
    "GW_APPEND_contact": gw_append_cell("contact", contact),
    "GW_REPLACE_event": c_gw_replace,
}

# Cells where the server is known to be wrong in a file the tests' authors
# may not edit: {(set, principal, command): reason}, each xfail(strict=True)
# so that the fix is noticed. None today.
KNOWN_BAD = {}


def matrix_params():
    for set_name in RIGHT_SETS:
        for principal in PRINCIPALS:
            for command in COMMANDS:
                marks = []
                reason = KNOWN_BAD.get((set_name, principal, command))
                if reason:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                yield pytest.param(set_name, principal, command, marks=marks,
                                   id=f"{set_name}-{principal}-{command}")


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def world(server):
    w = World(server)
    yield w
    w.close()


@pytest.mark.parametrize("set_name,principal,command", list(matrix_params()))
def test_matrix(world, set_name, principal, command):
    COMMANDS[command](world.get(set_name), principal)


# ---------------------------------------------------------------------------
# IMAP letters and floectl client names store the same rights


def acl_entries(c, mailbox):
    """GETACL -> {identifier: rights}."""
    untagged, _ = c.ok(f'GETACL "{mailbox}"')
    words = untagged[0].decode().rstrip("\r\n").split(" ")[3:]
    return {words[i].strip('"'): words[i + 1] for i in range(0, len(words), 2)}


def myrights(c, mailbox):
    st, untagged, line = c.cmd(f'MYRIGHTS "{mailbox}"')
    if st != "OK":
        return None
    return untagged[0].decode().rstrip("\r\n").rsplit(" ", 1)[1]


@pytest.mark.parametrize("set_name", list(RIGHT_SETS))
def test_grant_paths_agree(world, set_name):
    t = world.get(set_name)
    server, b, letters = world.server, t.addr["b"], t.letters
    adm = t.b_admin
    adm.reset()
    via_imap, via_ctl = f"EqImap{uuid.uuid4().hex[:6]}", f"EqCtl{uuid.uuid4().hex[:6]}"
    adm.ok(f'CREATE "{via_imap}"')
    adm.ok(f'CREATE "{via_ctl}"')
    # IMAP: the letters the README documents ("" removes the entry).
    adm.ok(f'SETACL "{via_imap}" "{t.grantee}" "{letters}"')
    # floectl: the client's names; "none" is a revoke.
    if letters:
        out = json.loads(ctl(server, "--json", "share", "grant", f"{b}/{via_ctl}", t.grantee,
                             set_name.lower()))
        assert out["rights"] == letters, out
    else:
        ctl(server, "share", "grant", f"{b}/{via_ctl}", t.grantee, "full")
        ctl(server, "share", "revoke", f"{b}/{via_ctl}", t.grantee)
    imap_acl, ctl_acl = acl_entries(adm, via_imap), acl_entries(adm, via_ctl)
    assert imap_acl == ctl_acl, (imap_acl, ctl_acl)
    # floectl with the letters, and the obsolete RFC 2086 spelling of Delete
    # ("d" = e, t and x), describe the same entry again.
    spellings = [("ctl", letters)] if letters else []
    if set_name == "Delete":
        spellings.append(("imap", "d"))
    for how, spelled in spellings:
        other = f"Eq{how}{uuid.uuid4().hex[:6]}"
        adm.ok(f'CREATE "{other}"')
        if how == "ctl":
            ctl(server, "share", "grant", f"{b}/{other}", t.grantee, spelled)
        else:
            adm.ok(f'SETACL "{other}" "{t.grantee}" {spelled}')
        assert acl_entries(adm, other) == imap_acl, (spelled, acl_entries(adm, other))
    assert imap_acl.get(t.grantee) == (rights_text(letters) if letters else None), imap_acl
    # The floectl grant of the matrix's folders is the same entry.
    owner_a = t.session("owner", "a")
    assert acl_entries(owner_a, t.main("Box")).get(t.grantee) == imap_acl.get(t.grantee)
    grantee = t.session("grantee")
    seen = {myrights(grantee, f"~{b}/{via_imap}"), myrights(grantee, f"~{b}/{via_ctl}"),
            myrights(grantee, t.name("grantee", "a", "Box"))}
    expected = rights_text(letters) if set(letters) & set("lrikxa") else None
    assert seen == {expected}, seen
    # floectl describes them with the same names.
    listed = json.loads(ctl(server, "--json", "share", "list", f"{b}/{via_imap}"))
    entries = {e["grantee"]: e for e in listed["entries"]}
    if letters:
        entry = entries[t.grantee]
        assert entry["rights"] == letters, entry
        assert [n.lower() for n in entry["rights_names"]] == [set_name.lower()], entry
    else:
        assert t.grantee not in entries, listed


# ---------------------------------------------------------------------------
# Inheritance, grantees, whole accounts, revocation


class Pair:
    """An owner of World.users (each test makes its own folders) and a
    session of it."""

    def __init__(self, world, key):
        self.world = world
        self.owner = world.users[key]
        self.token = "T" + uuid.uuid4().hex[:12]
        self.o = world.login(self.owner)

    def folder(self, path, items=1):
        self.o.ok(f'CREATE "{path}"')
        for i in range(items):
            self.o.append(path, mail(self.token, f"{path} {i}"))
        return f"~{self.owner}/{path}"


def assert_hidden(c, mailbox, missing):
    """SELECT, STATUS and MYRIGHTS answer as for a missing folder."""
    for verb in ('SELECT "{}"', 'STATUS "{}" (MESSAGES)', 'MYRIGHTS "{}"', 'GETACL "{}"'):
        st, untagged, line = c.cmd(verb.format(mailbox))
        st2, untagged2, line2 = c.cmd(verb.format(missing))
        assert st == "NO" and (st, line, untagged) == (st2, line2, untagged2), \
            (verb, line, line2)
    c.selected = False


def test_inheritance(world):
    server = world.server
    x = Pair(world, "pairx")
    y_addr = world.users["inhy"]
    y = world.login(y_addr)
    parent = x.folder("Parent")
    x.folder("Parent/Inherits")
    x.folder("Parent/Cancelled")
    ctl(server, "share", "grant", f"{x.owner}/Parent", y_addr, "read")
    x.folder("Parent/Inherits/Later")
    for path in ("Parent", "Parent/Inherits", "Parent/Cancelled", "Parent/Inherits/Later"):
        assert myrights(y, f"~{x.owner}/{path}") == "lrs", path
    y.ok(f'SELECT "{parent}/Inherits"')
    y.ok("FETCH 1 BODY.PEEK[]")
    y.ok("UNSELECT")
    y.selected = False
    # The client's "Cancel inheritance": the subfolder keeps a copy.
    ctl(server, "share", "inherit", f"{x.owner}/Parent/Cancelled", "off")
    assert myrights(y, f"{parent}/Cancelled") == "lrs"
    listed = json.loads(ctl(server, "--json", "share", "list", f"{x.owner}/Parent/Cancelled"))
    assert listed["inherited"] is False and listed["inherit"] is False, listed
    listed = json.loads(ctl(server, "--json", "share", "list", f"{x.owner}/Parent/Inherits"))
    assert listed["inherited"] is True and listed["source"] == "Parent", listed
    # A later change of the parent reaches the inheriting ones only.
    ctl(server, "share", "grant", f"{x.owner}/Parent", y_addr, "all")
    assert myrights(y, f"{parent}/Inherits") == rights_text(RIGHT_SETS["All"])
    assert myrights(y, f"{parent}/Inherits/Later") == rights_text(RIGHT_SETS["All"])
    assert myrights(y, f"{parent}/Cancelled") == "lrs"
    y.ok(f'SUBSCRIBE "~{x.owner}"')
    names = y.names(f'"~{x.owner}/*"')
    assert set(names) == {f"{parent}{p}" for p in ("", "/Inherits", "/Cancelled",
                                                    "/Inherits/Later")}, names
    # The same through IMAP: the owner changes the parent's entry.
    x.o.ok(f'SETACL Parent "{y_addr}" lr')
    assert myrights(y, f"{parent}/Inherits") == "lr"
    # A revocation on the parent: the inheriting ones go, the cancelled stays.
    ctl(server, "share", "revoke", f"{x.owner}/Parent", y_addr)
    for path in ("", "/Inherits", "/Inherits/Later"):
        assert_hidden(y, f"{parent}{path}", f"{parent}/Missing{path.replace('/', '-')}")
    assert myrights(y, f"{parent}/Cancelled") == "lrs"
    names = y.names(f'"~{x.owner}/*"')
    assert f"{parent}/Cancelled" in names and f"{parent}/Inherits" not in names, names
    assert "\\Noselect" in names.get(parent, ["\\Noselect"]), names
    # Inheriting again: the parent's (empty) entries again.
    ctl(server, "share", "inherit", f"{x.owner}/Parent/Cancelled", "on")
    assert_hidden(y, f"{parent}/Cancelled", f"{parent}/Missing")
    assert y.names(f'"~{x.owner}/*"') == {}


def test_anyone_reaches_other_domains(world):
    x = Pair(world, "pairx")
    box = x.folder("Everyone", items=2)
    far = world.login(world.users["far"])
    near = world.login(world.users["near"])
    assert_hidden(far, box, f"~{x.owner}/Nothing")
    x.o.ok("SETACL Everyone anyone lrs")
    for c in (far, near):
        assert myrights(c, box) == "lrs"
        untagged, _ = c.ok(f'STATUS "{box}" (MESSAGES)')
        assert b"MESSAGES 2" in untagged[0], untagged
        c.ok(f'SUBSCRIBE "{box}"')
        assert box in c.names(f'"~{x.owner}/*"')
        c.ok(f'SELECT "{box}"')
        untagged, _ = c.ok("FETCH 2 BODY[]")
        assert x.token.encode() in b"".join(untagged)
        st, _, line = c.cmd(f'APPEND "{box}" {{}}', mail("x", "no"))
        assert st == "NO" and "[NOPERM]" in line, line
        c.ok("UNSELECT")
        c.selected = False
        # Other folders of the owner stay hidden.
        assert_hidden(c, f"~{x.owner}/INBOX", f"~{x.owner}/Nothing")
    untagged, _ = x.o.ok("GETACL Everyone")
    assert b" anyone lrs" in untagged[0], untagged
    x.o.ok("DELETEACL Everyone anyone")
    for c in (far, near):
        assert_hidden(c, box, f"~{x.owner}/Nothing")


def test_group_grantee(world):
    server = world.server
    x = Pair(world, "pairx")
    box = x.folder("Team")
    group = f"team{uuid.uuid4().hex[:8]}@{world.domain}"
    member_addr = world.users["member"]
    ctl(server, "group", "add", group)
    ctl(server, "group", "members", "add", group, member_addr)
    member = world.login(member_addr)
    outsider = world.login(world.users["outsider"])
    ctl(server, "share", "grant", f"{x.owner}/Team", group, "read,write")
    untagged, _ = x.o.ok("GETACL Team")
    assert f" {group} lrsik".encode() in untagged[0], untagged
    assert myrights(member, box) == "lrsikc"
    member.ok(f'SELECT "{box}"')
    untagged, _ = member.ok("FETCH 1 BODY[]")
    assert x.token.encode() in b"".join(untagged)
    member.ok(f'CREATE "{box}/ByMember"')
    member.ok("UNSELECT")
    member.selected = False
    assert_hidden(outsider, box, f"~{x.owner}/Nothing")
    outsider.ok(f'SUBSCRIBE "~{x.owner}"')
    assert outsider.names(f'"~{x.owner}*"') == {}
    # Leaving the group ends the access.
    ctl(server, "group", "members", "remove", group, member_addr)
    assert_hidden(member, box, f"~{x.owner}/Nothing")


def test_whole_account_grant(world, pg):
    server = world.server
    x = Pair(world, "acctx")
    x.folder("Projects")
    x.o.append("INBOX", mail(x.token, "inbox"))
    y_addr = world.users["acty"]
    y = world.login(y_addr)
    stranger = world.login(world.stranger)
    ctl(server, "share", "grant", x.owner, y_addr, "read")
    rows = pg.psql(f"SELECT count(*) FROM acl WHERE folder_id IS NULL AND account_id = "
                   f"(SELECT id FROM accounts WHERE local_part = '{x.owner.split('@')[0]}')")
    assert rows == "1", rows
    # Every folder, including one made afterwards.
    x.folder("Later")
    y.ok(f'SUBSCRIBE "~{x.owner}"')
    names = y.names(f'"~{x.owner}/*"')
    for path in ("INBOX", "Sent", "Calendar", "Contacts", "Projects", "Later"):
        assert f"~{x.owner}/{path}" in names, names
        assert myrights(y, f"~{x.owner}/{path}") == "lrs", path
    y.ok(f'SELECT "~{x.owner}/INBOX"')
    untagged, _ = y.ok(f"SEARCH SUBJECT {x.token}")
    assert untagged == [b"* SEARCH 1\r\n"], untagged
    y.ok("UNSELECT")
    y.selected = False
    stranger.ok(f'SUBSCRIBE "~{x.owner}"')
    assert stranger.names(f'"~{x.owner}*"') == {}
    assert_hidden(stranger, f"~{x.owner}/INBOX", f"~{x.owner}/Nothing")
    # A folder's own entries win over the account's.
    x.o.ok(f'SETACL Projects "{world.carol}" lr')
    x.o.ok(f'SETACL Projects "{y_addr}" l')
    assert myrights(y, f"~{x.owner}/Projects") == "l"
    ctl(server, "share", "revoke", x.owner, y_addr)
    assert_hidden(y, f"~{x.owner}/INBOX", f"~{x.owner}/Nothing")
    assert set(y.names(f'"~{x.owner}/*"')) == {f"~{x.owner}/Projects"}


def test_revocation_reaches_selected_session(world):
    server = world.server
    x = Pair(world, "pairx")
    box = x.folder("Live", items=2)
    y_addr = world.users["revy"]
    y = world.login(y_addr)
    ctl(server, "share", "grant", f"{x.owner}/Live", y_addr, "all")
    y.ok(f'SELECT "{box}"')
    y.ok("STORE 1 +FLAGS (\\Flagged)")
    # Downgraded from another process: the next command knows.
    ctl(server, "share", "grant", f"{x.owner}/Live", y_addr, "read")
    st, _, line = y.cmd("STORE 2 +FLAGS (\\Flagged)")
    assert st == "NO", line
    st, _, line = y.cmd("EXPUNGE")
    assert st == "NO" and "[NOPERM]" in line, line
    untagged, _ = y.ok("FETCH 2 BODY[]")
    assert x.token.encode() in b"".join(untagged)
    # Revoked: nothing more comes out of the selected mailbox.
    ctl(server, "share", "revoke", f"{x.owner}/Live", y_addr)
    for command in ("FETCH 1:* (BODY[] FLAGS)", "UID FETCH 1:* (ENVELOPE)",
                    f"SEARCH SUBJECT {x.token}", "STORE 1 +FLAGS (\\Seen)",
                    "COPY 1 INBOX"):
        st, untagged, line = y.cmd(command)
        assert st == "NO" and "[NOPERM]" in line, (command, line)
        assert x.token.encode() not in b"".join(untagged), (command, untagged)
    y.ok("CLOSE")
    y.selected = False
    assert_hidden(y, box, f"~{x.owner}/Nothing")
    # The same through IMAP DELETEACL.
    x.o.ok(f'SETACL Live "{y_addr}" lrs')
    y.ok(f'EXAMINE "{box}"')
    x.o.ok(f'DELETEACL Live "{y_addr}"')
    st, untagged, line = y.cmd("FETCH 1 BODY.PEEK[]")
    assert st == "NO" and x.token.encode() not in b"".join(untagged), line


@pytest.mark.parametrize("who", [f"grantee-{name}" for name in RIGHT_SETS] + ["stranger"])
def test_list_never_names_hidden_folders(world, who):
    """Whatever the pattern or LIST option, the owner's folders appear to a
    grantee exactly where it has l (only its own set's), to a stranger never."""
    sets = [world.get(name) for name in RIGHT_SETS]
    if who == "stranger":
        c, expected = world.session(("stranger", "")), set()
    else:
        t = world.get(who.split("-", 1)[1])
        c = t.session("grantee")
        expected = {t.name("grantee", "a", p) for p in MAIN} if "l" in t.letters else set()
    root = f"~{world.owner['a']}"
    c.ok(f'SUBSCRIBE "{root}"')
    for t in sets:
        for path in MAIN:
            c.cmd(f'SUBSCRIBE "{t.name("grantee", "a", path)}"')
    for command in ('LIST "" "*"', 'LIST "" "~*"', f'LIST "" "{root}/*"', f'LIST "{root}/" "*"',
                    'LIST (SUBSCRIBED) "" "*"', 'LIST "" "*" RETURN (SUBSCRIBED CHILDREN)',
                    f'LIST "" "{root}/*" RETURN (STATUS (MESSAGES UIDNEXT))',
                    f'LIST "" "{root}/*" RETURN (METADATA ({FT_SHARED} {ICEWARP_FEED}0))'):
        untagged, _ = c.ok(command)
        text = b"".join(untagged).decode(errors="replace")
        for t in sets:
            assert t.token not in text, (command, text)
        found = set()
        for line in untagged:
            m = re.match(rb'\* (LIST|STATUS|METADATA) (?:\([^)]*\) "/" )?'
                         rb'(?:"((?:[^"\\]|\\.)*)"|(\S+))', line)
            if not m:
                continue
            name = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
            if name.startswith(root + "/"):
                found.add(name)
        # Subscribed names may be echoed as the client gave them, but then
        # only as \NonExistent, exactly like a subscription to nothing.
        for line in untagged:
            for name in found - expected:
                if name.encode() in line and line.startswith(b"* LIST"):
                    assert b"\\NonExistent" in line, (command, line)
        if not command.startswith("LIST (SUBSCRIBED)"):
            assert found == expected, (command, found)
    for pattern in ('"%"', '"~%"', f'"{root}/%"'):
        names = c.names(pattern)
        shown = {n for n in names if n.startswith(root + "/")}
        assert shown <= expected, (pattern, names)
        if root in names:
            assert expected and "\\Noselect" in names[root], (pattern, names)

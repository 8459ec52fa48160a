"""The change-notice bus's barrier (notify_bus_sync) against the real
PostgreSQL: runs the unit test tests/unit/test-notify with FLOE_TEST_PG_URL,
which then checks that every notice committed before a barrier is
dispatched before the barrier answers (200 rounds), that waiting callers
share one query, and that a cut listener answers "unknown" and recovers.
The IMAP side of the barrier (NOOP without a refresh query when nothing
changed) is covered by test_imap_session.py's NOOP tests and below."""

import os
import socket
import subprocess
import uuid

import pytest

import floe

TEST_NOTIFY = os.path.join(floe.BUILDDIR, "tests", "unit", "test-notify")


def test_barrier_against_postgresql(pg):
    if not os.path.exists(TEST_NOTIFY):
        pytest.skip("tests/unit/test-notify is not built")
    r = subprocess.run([TEST_NOTIFY], env=dict(os.environ, FLOE_TEST_PG_URL=pg.url),
                       capture_output=True, text=True, timeout=120)
    failed = [line for line in r.stdout.splitlines() if line.startswith("not ok")]
    assert not failed, r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every notice committed before a barrier dispatched before its answer" in r.stdout
    assert "a barrier on a cut connection answers unknown" in r.stdout


# ---------------------------------------------------------------------------
# NOOP, CHECK and IDLE skip the store query when the barrier shows that no
# notice came for the folder. To see that the query is really skipped, a
# change is written behind the server's back (SQL without floe_notify):
# while no notice names it, NOOP must not report it; once one does, it must.

PASSWORD = "notify secret"


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"floectl {args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def user(server):
    domain = f"n{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", domain)
    address = f"u{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


class Session:
    """A minimal line-based IMAP client: cmd() returns (status, untagged)."""

    def __init__(self, port, user):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.f.readline()
        assert self.cmd(f'LOGIN "{user}" "{PASSWORD}"')[0] == "OK"

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text, literal=None):
        self.n += 1
        tag = f"t{self.n}"
        if literal is not None:
            self.send(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        else:
            self.send(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            line = self.f.readline()
            assert line, "connection closed"
            if line.startswith(tag.encode() + b" "):
                return line.split()[1].decode(), untagged
            untagged.append(line)

    def close(self):
        self.sock.close()


def message(subject):
    return (f"From: a@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@x>\r\n\r\nbody\r\n").encode()


def inbox_ids(pg, user):
    local, domain = user.split("@")
    row = pg.psql("SELECT a.id, f.id FROM accounts a JOIN domains d ON d.id = a.domain_id "
                  "JOIN folders f ON f.account_id = a.id AND f.parent_id IS NULL "
                  f"AND f.name = 'INBOX' WHERE a.local_part = '{local}' AND d.name = '{domain}'")
    acct, fid = row.strip().split("|")
    return int(acct), int(fid)


def silent_flag(pg, acct, fid, uid, flag):
    """Adds a flag and bumps the modseqs the way the store does, but sends
    no change notice. Returns the new modseq."""
    return int(pg.psql(
        f"WITH f AS (UPDATE folders SET highestmodseq = highestmodseq + 1 "
        f"WHERE account_id = {acct} AND id = {fid} RETURNING highestmodseq), "
        f"i AS (UPDATE items SET flags = array_append(flags, '{flag}'), "
        f"modseq = (SELECT highestmodseq FROM f) "
        f"WHERE account_id = {acct} AND folder_id = {fid} AND uid = {uid} RETURNING 1) "
        f"SELECT highestmodseq FROM f, i").strip())


def has_fetch_with(untagged, flag):
    return any(b" FETCH " in r and flag.encode() in r for r in untagged)


def test_noop_without_notice_skips_the_store(server, user, pg):
    a = Session(server.imap_port, user)
    b = Session(server.imap_port, user)
    assert b.cmd("APPEND INBOX", message("one"))[0] == "OK"
    assert b.cmd("APPEND INBOX", message("two"))[0] == "OK"
    acct, fid = inbox_ids(pg, user)
    st, untagged = a.cmd("SELECT INBOX")
    assert st == "OK" and b"* 2 EXISTS\r\n" in untagged
    # The first NOOP after SELECT always asks the store.
    assert a.cmd("NOOP")[0] == "OK"

    modseq = silent_flag(pg, acct, fid, 1, "$Silent")
    for command in ("NOOP", "CHECK", "NOOP"):
        st, untagged = a.cmd(command)
        assert st == "OK" and not has_fetch_with(untagged, "$Silent"), (command, untagged)
    # IDLE starts without a store query too.
    a.send(b"t99 IDLE\r\n")
    assert a.f.readline().startswith(b"+ ")
    a.send(b"DONE\r\n")
    line = a.f.readline()
    assert line.startswith(b"t99 OK"), line

    # A notice for the folder makes the next NOOP fetch, and it reports
    # the change.
    pg.psql(f"SELECT floe_notify({acct}, {fid}, {modseq})")
    st, untagged = a.cmd("NOOP")
    assert st == "OK" and has_fetch_with(untagged, "$Silent"), untagged

    # A change made through the server is always reported (the barrier
    # waits for its notice), at once, by the other worker's session too.
    for i in range(20):
        assert b.cmd("APPEND INBOX", message(f"r{i}"))[0] == "OK"
        st, untagged = a.cmd("NOOP")
        assert f"* {i + 3} EXISTS\r\n".encode() in untagged, (i, untagged)
    a.close()
    b.close()

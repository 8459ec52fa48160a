"""File items over IMAP against a real floed and PostgreSQL: a file item
(Subject = UID, X-Kolab-Type application/x-vnd.kolab.file, the file as the
one attachment) appended to a file folder is stored byte for byte and
indexed (name, decoded size, media type, SHA-256) for WebDAV; invalid
items are refused with their reason and nothing stored (no item, no blob,
no index row), MULTIAPPEND with one bad item stores nothing; replacement
by APPEND + UID EXPUNGE; a 5 MB file; the [imap] max_literal_size limit;
floectl file put / list / get."""

import base64
import email
import email.policy
import hashlib
import imaplib
import os
import re
import subprocess
import uuid

import pytest

import floe

PASSWORD = "files secret"
KOLAB = "X-Kolab-Type: application/x-vnd.kolab.file\r\n"


# ---------------------------------------------------------------------------
# Fixtures and helpers


def floectl(server, *args, check=True):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, timeout=120)
    if check:
        assert r.returncode == 0, f"floectl {args}: {r.stderr.decode(errors='replace')}"
    return r


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config={"imap": {"allow_plaintext_auth": "yes"}})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def domain(server):
    name = f"files{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


def new_user(server, domain, prefix="u"):
    address = f"{prefix}{uuid.uuid4().hex[:8]}@{domain}"
    floectl(server, "user", "add", address, "--password", PASSWORD)
    return address


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

    def read_tagged(self, tag):
        untagged = []
        while True:
            line = self.m._get_line()
            while re.search(rb"\{(\d+)\}$", line):
                size = int(re.search(rb"\{(\d+)\}$", line).group(1))
                line += b"\r\n" + self.m.read(size) + self.m._get_line()
            if line.startswith(tag + b" "):
                text = line.decode(errors="replace")
                return text.split(" ")[1], untagged, text
            untagged.append(line)

    def cmd(self, text):
        tag = self.m._new_tag()
        self.m.send(tag + b" " + text.encode() + b"\r\n")
        return self.read_tagged(tag)

    def ok(self, text):
        st, untagged, line = self.cmd(text)
        assert st == "OK", line
        return untagged, line

    def append(self, mailbox, *messages):
        """APPEND (MULTIAPPEND with several) with LITERAL+; (status, tagged line)."""
        tag = self.m._new_tag()
        out = tag + f' APPEND "{mailbox}"'.encode()
        for msg in messages:
            out += b" {%d+}\r\n" % len(msg) + msg
        self.m.send(out + b"\r\n")
        st, _, line = self.read_tagged(tag)
        return st, line

    def appenduid(self, mailbox, *messages):
        st, line = self.append(mailbox, *messages)
        assert st == "OK", line
        m = re.search(r"\[APPENDUID (\d+) ([\d:,]+)\]", line)
        assert m, line
        return m.group(2)

    def status(self, mailbox):
        untagged, _ = self.ok(f'STATUS "{mailbox}" (MESSAGES UIDNEXT)')
        v = re.search(rb"\(([^)]*)\)", untagged[-1]).group(1).decode().split()
        return {v[i]: int(v[i + 1]) for i in range(0, len(v), 2)}

    def fetch_body(self, uid):
        typ, dat = self.m.select('"Files"')
        assert typ == "OK", dat
        typ, dat = self.m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK", dat
        return dat[0][1]

    def uids(self, mailbox="Files"):
        typ, dat = self.m.select(f'"{mailbox}"')
        assert typ == "OK", dat
        typ, dat = self.m.uid("SEARCH", None, "ALL")
        assert typ == "OK", dat
        return [int(x) for x in dat[0].split()]


@pytest.fixture
def user(server, domain):
    c = Client(server, new_user(server, domain, "f"))
    yield c
    c.close()


def b64lines(data):
    enc = base64.b64encode(data)
    return b"".join(enc[i:i + 76] + b"\r\n" for i in range(0, len(enc), 76))


def item(uid, data, filename='"report.pdf"', media="application/pdf", encoding="base64",
         body=None, kolab=KOLAB, extra_parts=b"", disposition="attachment"):
    """A file item as a client would send it."""
    if body is None:
        body = b64lines(data) if encoding == "base64" else data + b"\r\n"
    head = "From: owner@example.com\r\n"
    if uid is not None:
        head += f"Subject: {uid}\r\n"
    head += "MIME-Version: 1.0\r\n" + kolab
    head += 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    part = "--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nA file for Floe.\r\n"
    part += f"--b1\r\nContent-Type: {media}\r\n"
    if encoding is not None:
        part += f"Content-Transfer-Encoding: {encoding}\r\n"
    if disposition is not None:
        part += f"Content-Disposition: {disposition}"
        if filename is not None:  # "*=UTF-8''..." is RFC 2231
            part += "; filename" + (filename if filename.startswith("*") else "=" + filename)
        part += "\r\n"
    return (head + part + "\r\n").encode() + body + extra_parts + b"--b1--\r\n"


def account_sql(address):
    return f"(SELECT r_id FROM floe_account_by_address('{address}'))"


def file_rows(pg, address, folder="Files"):
    """[(filename, size, media_type, sha256, object uid, kind, title, imap uid)]."""
    acct = account_sql(address)
    out = pg.psql(
        "SELECT f.filename, f.size, f.media_type, encode(f.sha256, 'hex'), g.uid, g.kind,"
        " g.title, i.uid FROM items i"
        " JOIN groupware_index g ON g.account_id = i.account_id AND g.hash = i.blob_hash"
        " JOIN groupware_files f ON f.account_id = i.account_id AND f.hash = i.blob_hash"
        f" WHERE i.account_id = {acct} AND i.folder_id = floe_folder_find({acct}, '{folder}')"
        " ORDER BY i.uid")
    rows = []
    for line in out.splitlines():
        v = line.split("|")
        rows.append((v[0], int(v[1]), v[2], v[3], v[4], v[5], v[6], int(v[7])))
    return rows


def blob_count(pg, data):
    return int(pg.psql("SELECT count(*) FROM blobs WHERE hash = "
                       f"decode('{hashlib.sha256(data).hexdigest()}', 'hex')"))


def account_file_rows(pg, address):
    return int(pg.psql(f"SELECT count(*) FROM groupware_files WHERE account_id = "
                       f"{account_sql(address)}"))


# ---------------------------------------------------------------------------
# APPEND, FETCH, index


def test_append_fetch_index(server, pg, user):
    data = bytes(range(256)) * 40 + b"\x00end"
    msg = item("file-uid-1", data)
    uid = int(user.appenduid("Files", msg))
    assert user.fetch_body(uid) == msg
    rows = file_rows(pg, user.address)
    assert rows == [("report.pdf", len(data), "application/pdf",
                     hashlib.sha256(data).hexdigest(), "file-uid-1", "file", "report.pdf", uid)]


def test_names_and_encodings(server, pg, user):
    """RFC 2231 and encoded-word names end up UTF-8 in the index; quoted-
    printable and 8bit parts are decoded for size and hash."""
    cases = [
        (item("n1", b"one", filename="*=UTF-8''%E2%82%AC%20rates.pdf"), "€ rates.pdf", b"one"),
        (item("n2", b"two", filename='"=?UTF-8?B?w6l0w6kudHh0?="', media="text/plain"),
         "été.txt", b"two"),
        (item("n3", None, filename='"q.txt"', media="text/plain", encoding="quoted-printable",
              body=b"caf=C3=A9 =3D x=\r\ny\r\n"), "q.txt", "café = xy".encode()),
        (item("n4", None, filename='"8.txt"', media="text/plain", encoding="8bit",
              body="äö\r\nline\r\n".encode()), "8.txt", "äö\r\nline".encode()),
    ]
    for msg, name, data in cases:
        uid = int(user.appenduid("Files", msg))
        assert user.fetch_body(uid) == msg
        row = [r for r in file_rows(pg, user.address) if r[7] == uid]
        assert row and row[0][0] == name and row[0][1] == len(data), (row, name)
        assert row[0][3] == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Refusals: nothing stored


BAD = [
    (item("x1", b"a", filename=None), "the file part has no filename"),
    (item("x2", b"a", disposition=None, filename=None), "no file part"),
    (item("x3", b"a", filename='"a/b.txt"'), "the file name contains '/'"),
    (item("x4", b"a", filename="*=UTF-8''a%07b"), "the file name contains control characters"),
    (item("x5", b"a", filename='"' + "n" * 256 + '"'), "the file name is longer than 255 bytes"),
    (item("x6", b"a", kolab="X-Kolab-Type: application/x-vnd.kolab.event\r\n"),
     "X-Kolab-Type names an event; a file folder holds files"),
    (item("x7", b"a", kolab=""), "no X-Kolab-Type header"),
    (item(None, b"a"), "no Subject (a file item's Subject is its UID)"),
    (item("x9", None, body=b"QUJD*\r\n"), "invalid character in the base64 file part"),
    (item("x10", None, encoding="quoted-printable", body=b"a=ZZ\r\n"),
     "invalid '=' escape in the quoted-printable file part"),
    (item("x11", b"a", extra_parts=b"--b1\r\nContent-Type: text/plain\r\n"
          b"Content-Disposition: attachment; filename=\"second.txt\"\r\n\r\nB\r\n"),
     "2 file parts; a file item holds exactly one"),
    (item("x12", b"a", encoding="x-uuencode"),
     "the file part's Content-Transfer-Encoding \"x-uuencode\" is not supported"),
]


@pytest.mark.parametrize("msg,reason", BAD, ids=[r for _, r in BAD])
def test_invalid_refused(server, pg, user, msg, reason):
    before = user.status("Files")
    st, line = user.append("Files", msg)
    assert st == "NO", line
    assert "[CANNOT] Not a valid file item: " + reason in line, line
    assert user.status("Files") == before
    assert blob_count(pg, msg) == 0
    assert account_file_rows(pg, user.address) == 0


def test_multiappend_all_or_nothing(server, pg, user):
    good1 = item("m1", b"first")
    good2 = item("m2", b"second")
    bad = item("m3", b"third", filename='"../x"')
    before = user.status("Files")
    st, line = user.append("Files", good1, bad, good2)
    assert st == "NO" and "Message 2 is not a valid file item: the file name contains '/'" in line
    assert user.status("Files") == before
    assert blob_count(pg, good1) == 0 and blob_count(pg, good2) == 0
    assert account_file_rows(pg, user.address) == 0
    uids = user.appenduid("Files", good1, good2)
    assert len(file_rows(pg, user.address)) == 2, uids


def test_file_item_refused_in_other_folders(server, user):
    st, line = user.append("Calendar", item("c1", b"a"))
    assert st == "NO" and "a file cannot be stored in a folder of type event" in line, line


# ---------------------------------------------------------------------------
# Replacement, large files, limits


def test_replace_by_append_and_expunge(server, pg, user):
    v1 = item("doc-1", b"version one")
    v2 = item("doc-1", b"version two, longer")
    old = int(user.appenduid("Files", v1))
    new = int(user.appenduid("Files", v2))
    assert [r[4] for r in file_rows(pg, user.address)] == ["doc-1", "doc-1"]
    user.ok('SELECT "Files"')
    user.ok(f"UID STORE {old} +FLAGS.SILENT (\\Deleted)")
    user.ok(f"UID EXPUNGE {old}")
    rows = file_rows(pg, user.address)
    assert [(r[7], r[1]) for r in rows] == [(new, len(b"version two, longer"))]
    assert user.uids() == [new]
    assert user.fetch_body(new) == v2
    listed = floectl(server, "--json", "file", "list", user.address, "Files").stdout
    assert b'"uid": %d' % new in listed and b'"size": 19' in listed


def test_five_megabyte_file(server, pg, user, tmp_path):
    data = os.urandom(5 * 1024 * 1024)
    msg = item("big-1", data, filename='"big.bin"', media="application/octet-stream")
    uid = int(user.appenduid("Files", msg))
    assert user.fetch_body(uid) == msg
    rows = file_rows(pg, user.address)
    assert rows[0][:4] == ("big.bin", len(data), "application/octet-stream",
                           hashlib.sha256(data).hexdigest())
    out = tmp_path / "big.out"
    with open(out, "wb") as f:
        r = subprocess.run([floe.FLOECTL, "--config", server.config_path, "file", "get",
                            user.address, "Files", "big.bin"], stdout=f, stderr=subprocess.PIPE,
                           timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == data


def test_max_literal_size(pg):
    srv = floe.Floed(None, pg, workers=1,
                     config={"imap": {"allow_plaintext_auth": "yes", "max_literal_size": "1M"}})
    srv.start()
    try:
        dom = f"fl{uuid.uuid4().hex[:8]}.example"
        floectl(srv, "domain", "add", dom)
        c = Client(srv, new_user(srv, dom))
        big = item("too-big", os.urandom(900 * 1024))
        assert len(big) > 1024 * 1024
        st, line = c.append("Files", big)
        assert st == "NO" and "[TOOBIG]" in line, line
        assert c.status("Files")["MESSAGES"] == 0
        # The connection survives, and a file under the limit goes in.
        c.appenduid("Files", item("small", os.urandom(600 * 1024)))
        assert c.status("Files")["MESSAGES"] == 1
        c.close()
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# floectl


def test_floectl_put_get_list(server, pg, user, tmp_path):
    src = tmp_path / "Quarterly report.pdf"
    data = b"%PDF-1.4\n" + os.urandom(3000)
    src.write_bytes(data)
    out = floectl(server, "file", "put", user.address, "Files", str(src)).stdout.decode()
    assert out.startswith("stored Quarterly report.pdf in "), out
    rows = file_rows(pg, user.address)
    assert len(rows) == 1
    name, size, media, sha, obj_uid, kind, _, imap_uid = rows[0]
    assert (name, size, media, sha, kind) == ("Quarterly report.pdf", len(data),
                                              "application/pdf",
                                              hashlib.sha256(data).hexdigest(), "file")
    # IMAP sees the item floectl built, in the form clients append.
    raw = user.fetch_body(imap_uid)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == obj_uid and msg["X-Kolab-Type"] == "application/x-vnd.kolab.file"
    atts = list(msg.iter_attachments())
    assert len(atts) == 1 and atts[0].get_filename() == "Quarterly report.pdf"
    assert atts[0].get_content() == data
    # get writes the bytes back.
    got = floectl(server, "file", "get", user.address, "Files", "Quarterly report.pdf").stdout
    assert got == data
    # put again under another name with --name and --type, then replace it.
    floectl(server, "file", "put", user.address, "Files", str(src), "--name", "copy €.bin",
            "--type", "application/x-test")
    src.write_bytes(b"new content")
    r = floectl(server, "--json", "file", "put", user.address, "Files", str(src), "--name",
                "copy €.bin").stdout.decode()
    assert '"replaced":' in r and '"replaced": null' not in r, r
    rows = {r[0]: r for r in file_rows(pg, user.address)}
    assert set(rows) == {"Quarterly report.pdf", "copy €.bin"}
    assert rows["copy €.bin"][1] == len(b"new content")
    assert rows["copy €.bin"][2] == "application/octet-stream"
    assert len(user.uids()) == 2
    listing = floectl(server, "file", "list", user.address, "Files").stdout.decode()
    assert "Quarterly report.pdf" in listing and "copy €.bin" in listing
    # Errors: a missing name, a folder of another type, a bad name.
    r = floectl(server, "file", "get", user.address, "Files", "nope", check=False)
    assert r.returncode == 1 and b"no file nope in" in r.stderr
    r = floectl(server, "file", "put", user.address, "Calendar", str(src), check=False)
    assert r.returncode == 1 and b"is a folder of type event, not file" in r.stderr
    r = floectl(server, "file", "put", user.address, "Files", str(src), "--name", "a/b",
                check=False)
    assert r.returncode == 2 and b"the file name contains '/'" in r.stderr

"""ActiveSync core against a real floed and PostgreSQL: OPTIONS before
authentication, Basic auth (401 on a wrong password), the plain and base64
query forms, gzip both ways, unsupported versions and commands, malformed
WBXML, the provisioning handshake and stale keys (449 / Status 142-144 per
version and mode), FolderSync (initial, incremental after IMAP changes,
repeated key, bad key), FolderCreate/Update/Delete seen over IMAP, Ping
(push within a second, timeout, clamp and Status 5, empty Ping, Status 7,
a newer Ping ending the older on either worker), Settings (DeviceInformation,
UserInformation, Oof, RightsManagementInformation, DevicePassword), the
protocol log with secrets elided, and floectl device list/show/log/remove.

The client is tests/integration/eas.py (iOS-like 16.1 and Android-like 14.1
request shapes)."""

import gzip
import imaplib
import json
import os
import threading
import time
import uuid

import pytest

import eas
import floe
from eas import E

PASSWORD = "eas core secret"


floectl = floe.floectl


def new_domain(server):
    return floe.new_domain(server, "e")


def new_user(server, domain=None):
    return floe.new_user(server, domain or new_domain(server), PASSWORD)


def imap(server, user):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port)
    c.login(user, PASSWORD)
    return c


def message(subject="Hello"):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
            f"\r\nHi there.\r\n").encode()


def devices(server, address):
    return json.loads(floectl(server, "--json", "device", "list", address))


CONFIG = {
    "imap": {"allow_plaintext_auth": "yes"},
    "auth": {"failure_delay": "300ms"},
    "eas": {"heartbeat_min": "2s", "heartbeat_max": "60s"},
}


@pytest.fixture(scope="module")
def server(pg):
    srv = floe.Floed(None, pg, workers=2, config=CONFIG)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def strict(pg):
    """Exchange-like: Status 5 instead of clamping, Status bodies (HTTP 200)
    for 14.0+, devices must provision."""
    srv = floe.Floed(None, pg, workers=1, config={
        "auth": {"failure_delay": "300ms"},
        "eas": {"heartbeat_min": "2s", "heartbeat_max": "10s", "heartbeat_clamp": "no",
                "provision_status": "status", "allow_non_provisionable": "no"}})
    srv.start()
    yield srv
    srv.stop()


def client(server, user, kind="ios", **kw):
    make = eas.ios if kind == "ios" else eas.android
    return make(server.http_port, user, PASSWORD, **kw)


def ready(server, user, kind="ios", **kw):
    """A provisioned client that has synced the hierarchy."""
    c = client(server, user, kind, **kw)
    c.provision()
    c.foldersync("0")
    return c


# --- Transport ---


def test_options_before_authentication(server):
    c = client(server, "nobody@example.com")
    r = c.options(auth=False)
    assert r.status == 200
    assert r.headers["ms-asprotocolversions"] == "2.5,12.0,12.1,14.0,14.1,16.0,16.1"
    commands = r.headers["ms-asprotocolcommands"].split(",")
    for cmd in ("Provision", "FolderSync", "FolderCreate", "FolderUpdate", "FolderDelete",
                "Ping", "Settings"):
        assert cmd in commands
    assert "ms-server-activesync" in r.headers
    # The path is matched without regard to case.
    r = c.request("OPTIONS", "/microsoft-server-activesync")
    assert r.status == 200 and "ms-asprotocolversions" in r.headers


def test_authentication(server):
    user = new_user(server)
    c = client(server, user)
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")),
               password="wrong")
    assert r.status == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")), auth=False)
    assert r.status == 401
    # The local part alone is not enough for a domain without local logins.
    c2 = client(server, user.split("@")[0])
    assert c2.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0"))).status == 401
    # The right password works (no policy key: non-provisionable devices are allowed).
    node = c.command("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert node.findtext("SyncKey") not in (None, "", "0")


def test_bad_requests(server):
    user = new_user(server)
    c = client(server, user)
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")), version="13.0")
    assert r.status == 400 and b"MS-ASProtocolVersion" in r.body
    r = c.post("NoSuchCommand", None)
    assert r.status == 501
    r = c.request("POST", eas.PATH + "?Cmd=FolderSync&User=x",
                  headers={"Authorization": c.auth_header(), "MS-ASProtocolVersion": "14.1"})
    assert r.status == 400 and b"DeviceId" in r.body
    r = c.request("GET", eas.PATH, headers={"Authorization": c.auth_header()})
    assert r.status == 405


def test_malformed_wbxml_gets_400_and_server_survives(server):
    user = new_user(server)
    c = client(server, user)
    for junk in (b"\x03\x01\x6a\x00\x00\x07\x56\x52\x03", b"not wbxml at all",
                 b"\x03\x01\x6a\x00\x00\x3f\x45\x01"):
        r = c.post("FolderSync", junk)
        assert r.status == 400, r
        assert b"WBXML" in r.body or b"wbxml" in r.body
    # A malformed gzip body too.
    r = c.post("FolderSync", b"\x1f\x8b\x08garbage", headers={"Content-Encoding": "gzip"})
    assert r.status == 400
    node = c.command("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert node.findtext("Status") == "1"
    assert "malformed request" in server.log()


def test_gzip_both_ways(server):
    user = new_user(server)
    m = imap(server, user)
    for i in range(40):
        m.create(f"\"Folder with a rather long name number {i:03d}\"")
    m.logout()
    c = client(server, user, gzip_requests=True)
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert r.status == 200
    assert r.headers.get("content-encoding") == "gzip"
    assert len(r.node.findall("Changes/Add")) > 40
    # Without Accept-Encoding the answer is plain.
    c.accept_gzip = False
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert r.status == 200 and "content-encoding" not in r.headers
    assert r.node.findtext("Status") == "1"


def test_base64_query(server):
    user = new_user(server)
    c = client(server, user, "android", base64_query=True)
    temp, final, doc = c.provision()
    assert temp != final
    node = c.foldersync("0")
    assert node.findtext("Status") == "1"
    assert c.folder_by_type(eas.TYPE_INBOX) is not None
    # The policy key travels in the query: a stale one is refused.
    c.policy_key = temp
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert r.status == 449
    dev = devices(server, user)
    assert len(dev) == 1 and dev[0]["device_id"] == c.device_id
    assert dev[0]["device_type"] == "Android" and dev[0]["protocol_version"] == "14.1"


# --- Provisioning ---


def test_provisioning_handshake(server):
    user = new_user(server)
    c = client(server, user)
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")), policy_key="0")
    # 16.1 in the default mode "both": HTTP 449 with the Status body.
    assert r.status == 449
    assert r.node.findtext("Status") == "142"
    temp, final, doc = c.provision()
    assert int(temp) != 0 and int(final) != 0 and temp != final
    assert doc.findtext("DevicePasswordEnabled") == "0"
    assert doc.findtext("MinDevicePasswordLength") == "4"
    assert doc.findtext("AllowCamera") == "1"
    assert doc.find("MaxEmailBodyTruncationSize") is not None
    node = c.command("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert node.findtext("Status") == "1"
    # The temporary key is no good any more (stale key: 144).
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")), policy_key=temp)
    assert r.status == 449 and r.node.findtext("Status") == "144"
    # Acknowledging a key that was never offered: Policy Status 5.
    ack = E("Provision:Provision", E("Provision:Policies", E("Provision:Policy",
            E("Provision:PolicyType", eas.POLICY_TYPE), E("Provision:PolicyKey", "12345"),
            E("Provision:Status", "1"))))
    node = c.command("Provision", ack)
    assert node.findtext("Policies/Policy/Status") == "5"
    # Device information from Provision (14.1+) is stored.
    dev = devices(server, user)[0]
    assert dev["model"] == "TestModel" and dev["os"] == "TestOS 1.0"
    assert dev["provisioned"] is True


def test_stale_key_per_version(server, strict):
    # 12.1: always HTTP 449 without body.
    user = new_user(server)
    c = client(server, user, version="12.1")
    c.provision()
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")),
               policy_key="1234")
    assert r.status == 449 and r.node is None
    # The "status" mode: 14.1 gets HTTP 200 with Status 144 / 142.
    user = new_user(strict)
    c = client(strict, user, "android")
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")))
    assert r.status == 200 and r.node.findtext("Status") == "142"
    c.provision()
    r = c.post("FolderSync", E("FolderHierarchy:FolderSync", E("SyncKey", "0")),
               policy_key="77")
    assert r.status == 200 and r.node.findtext("Status") == "144"
    assert c.command("FolderSync", E("FolderHierarchy:FolderSync",
                                     E("SyncKey", "0"))).findtext("Status") == "1"
    # A device that does not apply the policy is refused there.
    c2 = client(strict, user, "android")
    with pytest.raises(eas.EASError):
        c2.provision(ack_status=3)


# --- Folders ---


def test_foldersync_initial(server):
    user = new_user(server)
    c = ready(server, user)
    by_name = {f.name: f for f in c.folders.values()}
    assert by_name["INBOX"].type == eas.TYPE_INBOX
    assert by_name["Drafts"].type == eas.TYPE_DRAFTS
    assert by_name["Trash"].type == eas.TYPE_DELETED
    assert by_name["Sent"].type == eas.TYPE_SENT
    assert by_name["Outbox"].type == eas.TYPE_OUTBOX
    assert by_name["Calendar"].type == eas.TYPE_CALENDAR
    assert by_name["Contacts"].type == eas.TYPE_CONTACTS
    assert by_name["Tasks"].type == eas.TYPE_TASKS
    assert by_name["Notes"].type == eas.TYPE_NOTES
    assert by_name["Journal"].type == eas.TYPE_JOURNAL
    assert by_name["Spam"].type == eas.TYPE_USER_MAIL
    assert "Files" not in by_name
    assert all(f.parent_id == "0" for f in c.folders.values())
    # The Outbox is a real folder, seen over IMAP too.
    m = imap(server, user)
    typ, data = m.list()
    assert any(b'"Outbox"' in line or line.endswith(b" Outbox") for line in data)
    m.logout()
    # Nothing changed: same key, no changes.
    key = c.folder_key
    node = c.foldersync()
    assert node.findtext("SyncKey") == key and node.findtext("Changes/Count") == "0"
    # An unknown key: Status 9.
    c.foldersync("987654", expect_status=9)


def test_foldersync_incremental_after_imap(server):
    user = new_user(server)
    c = ready(server, user)
    m = imap(server, user)
    m.create("Projects")
    m.create("Projects/Alpha")
    node = c.foldersync()
    adds = {a.findtext("DisplayName"): a for a in node.findall("Changes/Add")}
    assert set(adds) == {"Projects", "Alpha"}
    proj = adds["Projects"].findtext("ServerId")
    assert adds["Alpha"].findtext("ParentId") == proj
    assert adds["Alpha"].findtext("Type") == str(eas.TYPE_USER_MAIL)
    key_before = c.folder_key
    m.rename("Projects/Alpha", "Beta")
    m.delete("Projects")
    node = c.foldersync()
    ups = node.findall("Changes/Update")
    dels = node.findall("Changes/Delete")
    assert node.findtext("Changes/Count") == "2"
    assert [u.findtext("DisplayName") for u in ups] == ["Beta"]
    assert ups[0].findtext("ParentId") == "0"
    assert [d.findtext("ServerId") for d in dels] == [proj]
    # The answer was "lost": the previous key gets the same changes again.
    again = c.foldersync(key_before)
    assert again.findtext("SyncKey") == node.findtext("SyncKey")
    assert again.findtext("Changes/Count") == "2"
    m.logout()


def test_folder_create_update_delete(server):
    user = new_user(server)
    c = ready(server, user)
    node = c.command("FolderCreate", E("FolderHierarchy:FolderCreate",
                     E("SyncKey", c.folder_key), E("ParentId", "0"),
                     E("DisplayName", "Receipts"), E("Type", "12")))
    sid = node.findtext("ServerId")
    c.folder_key = node.findtext("SyncKey")
    # Same name again: Status 2.
    node = c.command("FolderCreate", E("FolderHierarchy:FolderCreate",
                     E("SyncKey", c.folder_key), E("ParentId", "0"),
                     E("DisplayName", "Receipts"), E("Type", "12")), expect_status=2)
    # A calendar below it, then a move and rename.
    node = c.command("FolderCreate", E("FolderHierarchy:FolderCreate",
                     E("SyncKey", c.folder_key), E("ParentId", sid),
                     E("DisplayName", "Trips"), E("Type", "13")))
    trips = node.findtext("ServerId")
    c.folder_key = node.findtext("SyncKey")
    m = imap(server, user)
    names = [line.decode() for line in m.list()[1]]
    assert any("Receipts/Trips" in n for n in names)
    node = c.command("FolderUpdate", E("FolderHierarchy:FolderUpdate",
                     E("SyncKey", c.folder_key), E("ServerId", trips), E("ParentId", "0"),
                     E("DisplayName", "Journeys")))
    c.folder_key = node.findtext("SyncKey")
    names = [line.decode() for line in m.list()[1]]
    assert any(n.endswith("Journeys") or n.endswith('"Journeys"') for n in names)
    assert not any("Receipts/Trips" in n for n in names)
    # Default folders cannot be renamed or deleted.
    inbox = c.folder_by_type(eas.TYPE_INBOX).server_id
    c.command("FolderUpdate", E("FolderHierarchy:FolderUpdate", E("SyncKey", c.folder_key),
              E("ServerId", inbox), E("ParentId", "0"), E("DisplayName", "X")), expect_status=2)
    c.command("FolderDelete", E("FolderHierarchy:FolderDelete", E("SyncKey", c.folder_key),
              E("ServerId", inbox)), expect_status=3)
    c.command("FolderDelete", E("FolderHierarchy:FolderDelete", E("SyncKey", c.folder_key),
              E("ServerId", "99999999")), expect_status=4)
    # A stale key: 9.
    c.command("FolderDelete", E("FolderHierarchy:FolderDelete", E("SyncKey", "1"),
              E("ServerId", sid)), expect_status=9)
    node = c.command("FolderDelete", E("FolderHierarchy:FolderDelete",
                     E("SyncKey", c.folder_key), E("ServerId", sid)))
    c.folder_key = node.findtext("SyncKey")
    names = [line.decode() for line in m.list()[1]]
    assert not any("Receipts" in n for n in names)
    m.logout()
    # The device's own changes do not come back in FolderSync.
    node = c.foldersync()
    assert node.findtext("Changes/Count") == "0"


# --- Ping ---


def inbox_of(c):
    return c.folder_by_type(eas.TYPE_INBOX).server_id


class PingThread(threading.Thread):
    def __init__(self, c, heartbeat, folders=(), timeout=90):
        super().__init__(daemon=True)
        self.c, self.heartbeat, self.folders, self.timeout = c, heartbeat, folders, timeout
        self.response = None
        self.done_at = None

    def run(self):
        self.response = self.c.ping(self.heartbeat, self.folders, timeout=self.timeout)
        self.done_at = time.time()


def test_ping_push_within_a_second(server):
    user = new_user(server)
    c = ready(server, user)
    inbox = inbox_of(c)
    t = PingThread(c, 50, [(inbox, "Email")])
    t.start()
    time.sleep(1.0)
    assert t.response is None
    m = imap(server, user)
    sent = time.time()
    m.append("INBOX", None, None, message())
    t.join(10)
    assert t.response is not None
    assert t.done_at - sent < 1.0
    node = t.response.node
    assert node.findtext("Status") == "2"
    assert [f.text for f in node.findall("Folders/Folder")] == [inbox]
    # A change made before the Ping is reported at once (nothing synced yet
    # about the new message: the folder has unsynced changes).
    m.logout()


def test_ping_timeout_and_bounds(server):
    user = new_user(server)
    c = ready(server, user)
    inbox = inbox_of(c)
    start = time.time()
    r = c.ping(2, [(inbox, "Email")])
    assert r.node.findtext("Status") == "1"
    assert 1.5 < time.time() - start < 6
    # Below the minimum: Status 5 with the bound.
    r = c.ping(1, [(inbox, "Email")])
    assert r.node.findtext("Status") == "5" and r.node.findtext("HeartbeatInterval") == "2"
    # No folders ever given and none in the request: Status 3.
    c2 = ready(server, user)
    r = c2.ping(None, ())
    assert r.node.findtext("Status") == "3"
    # Unknown folder: the hierarchy must be synced again.
    r = c.ping(2, [("99999999", "Email")])
    assert r.node.findtext("Status") == "7"


def test_ping_clamp(server, strict):
    user = new_user(server)
    c = ready(server, user)
    t = PingThread(c, 5000, [(inbox_of(c), "Email")])
    t.start()
    time.sleep(0.5)
    assert t.response is None  # parked with the interval lowered to 60 s
    assert server.wait_log("HeartbeatInterval 5000 lowered to 60")
    # The strict server refuses instead.
    user = new_user(strict)
    s = ready(strict, user, "android")
    r = s.ping(5000, [(inbox_of(s), "Email")])
    assert r.node.findtext("Status") == "5" and r.node.findtext("HeartbeatInterval") == "10"
    # End the parked Ping with a newer one.
    c.ping(2, [(inbox_of(c), "Email")])
    t.join(10)
    assert t.response.node.findtext("Status") == "1"


def test_empty_ping_reuses_last_set(server):
    user = new_user(server)
    c = ready(server, user)
    inbox = inbox_of(c)
    r = c.ping(2, [(inbox, "Email")])
    assert r.node.findtext("Status") == "1"
    # An empty Ping (no body at all), possibly on the other worker.
    t = threading.Thread(target=lambda: setattr(t, "r", c.post("Ping", None, timeout=30)),
                         daemon=True)
    t.start()
    time.sleep(0.7)
    m = imap(server, user)
    m.append("INBOX", None, None, message())
    m.logout()
    t.join(10)
    assert t.r.node.findtext("Status") == "2"
    assert [f.text for f in t.r.node.findall("Folders/Folder")] == [inbox]


def test_ping_hierarchy_change_gives_status_7(server):
    user = new_user(server)
    c = ready(server, user)
    t = PingThread(c, 50, [(inbox_of(c), "Email")])
    t.start()
    time.sleep(0.7)
    m = imap(server, user)
    m.create("\"Brand new\"")
    m.logout()
    t.join(10)
    assert t.response.node.findtext("Status") == "7"
    # After a FolderSync the Ping parks again.
    c.foldersync()
    r = c.ping(2, [(inbox_of(c), "Email")])
    assert r.node.findtext("Status") == "1"


def create_folder(c, name):
    """FolderCreate of a mail folder at the top; returns its ServerId."""
    node = c.command("FolderCreate", E("FolderHierarchy:FolderCreate",
                     E("SyncKey", c.folder_key), E("ParentId", "0"),
                     E("DisplayName", name), E("Type", "12")))
    c.folder_key = node.findtext("SyncKey")
    return node.findtext("ServerId")


def test_newer_ping_ends_older(server):
    user = new_user(server)
    c = ready(server, user)
    # Six rounds on fresh connections land on both workers: the older Ping
    # is ended directly or through the notice to the other worker. Each
    # round watches a new, empty folder so that nothing is pending before
    # the change the round makes.
    for i in range(6):
        name = f"Round{i}"
        folder = create_folder(c, name)
        older = PingThread(c, 50, [(folder, "Email")])
        older.start()
        time.sleep(0.6)
        assert older.response is None
        newer = PingThread(c, 50, [(folder, "Email")])
        newer.start()
        older.join(5)
        assert older.response is not None, "the older Ping was not ended"
        assert older.response.node.findtext("Status") == "1"
        assert newer.response is None
        # The newer one still works: a change reaches it.
        m = imap(server, user)
        m.append(name, None, None, message())
        m.logout()
        newer.join(5)
        assert newer.response.node.findtext("Status") == "2"
        assert [f.text for f in newer.response.node.findall("Folders/Folder")] == [folder]
    log = server.log()
    assert "replaced by a newer Ping" in log


# --- Settings and the device record ---


def settings(c, *children):
    return c.command("Settings", E("Settings:Settings", *children))


def test_settings(server):
    user = new_user(server)
    c = ready(server, user, "android")
    node = settings(c,
                    E("Settings:DeviceInformation", E("Settings:Set",
                      E("Settings:Model", "Pixel 9"), E("Settings:IMEI", "3566"),
                      E("Settings:FriendlyName", "My phone"), E("Settings:OS", "Android 15"),
                      E("Settings:OSLanguage", "fr"), E("Settings:PhoneNumber", "+331234"),
                      E("Settings:MobileOperator", "Op"))),
                    E("Settings:UserInformation", E("Settings:Get")),
                    E("Settings:RightsManagementInformation", E("Settings:Get")))
    assert node.findtext("DeviceInformation/Status") == "1"
    assert node.findtext("UserInformation/Status") == "1"
    assert node.findtext("UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress") == user
    assert node.findtext("RightsManagementInformation/Status") == "1"
    dev = devices(server, user)[0]
    assert dev["model"] == "Pixel 9" and dev["os"] == "Android 15"
    assert dev["friendly_name"] == "My phone" and dev["phone_number"] == "+331234"
    shown = floectl(server, "device", "show", str(dev["id"]))
    assert "Pixel 9" in shown and c.device_id in shown
    # 12.1: the old UserInformation form.
    c12 = ready(server, user, version="12.1")
    node = settings(c12, E("Settings:UserInformation", E("Settings:Get")))
    assert [a.text for a in node.findall("UserInformation/Get/EmailAddresses/SMTPAddress")] == [user]


def test_oof(server):
    user = new_user(server)
    c = ready(server, user)
    node = settings(c, E("Settings:Oof", E("Settings:Get", E("Settings:BodyType", "Text"))))
    assert node.findtext("Oof/Status") == "1"
    assert node.findtext("Oof/Get/OofState") == "0"
    node = settings(c, E("Settings:Oof", E("Settings:Set", E("Settings:OofState", "2"),
                    E("Settings:StartTime", "2030-01-01T00:00:00.000Z"),
                    E("Settings:EndTime", "2030-01-10T00:00:00.000Z"),
                    E("Settings:OofMessage", E("Settings:AppliesToInternal"),
                      E("Settings:Enabled", "1"), E("Settings:ReplyMessage", "Away"),
                      E("Settings:BodyType", "Text")),
                    E("Settings:OofMessage", E("Settings:AppliesToExternalUnknown"),
                      E("Settings:Enabled", "1"), E("Settings:ReplyMessage", "Away (ext)"),
                      E("Settings:BodyType", "Text")))))
    assert node.findtext("Oof/Status") == "1"
    node = settings(c, E("Settings:Oof", E("Settings:Get", E("Settings:BodyType", "Text"))))
    get = node.find("Oof/Get")
    assert get.findtext("OofState") == "2"
    assert get.findtext("StartTime").startswith("2030-01-01T00:00:00")
    msgs = get.findall("OofMessage")
    assert msgs[0].findtext("ReplyMessage") == "Away"
    assert msgs[2].findtext("ReplyMessage") == "Away (ext)" and msgs[2].findtext("Enabled") == "1"
    node = settings(c, E("Settings:Oof", E("Settings:Set", E("Settings:OofState", "0"))))
    node = settings(c, E("Settings:Oof", E("Settings:Get", E("Settings:BodyType", "Text"))))
    assert node.findtext("Oof/Get/OofState") == "0"


# --- Protocol log and floectl ---


def test_protocol_log_and_floectl(server):
    user = new_user(server)
    c = ready(server, user)
    dev = devices(server, user)
    assert len(dev) == 1
    dev_id = dev[0]["id"]
    assert dev[0]["protocol_log"] is False
    floectl(server, "device", "log", "on", str(dev_id))
    settings(c, E("Settings:DevicePassword", E("Settings:Set", E("Settings:Password", "hunter2-secret"))))
    c.foldersync()
    path = os.path.join(server.state_dir, "eas-log", f"{dev_id}.log")
    with open(path) as f:
        text = f.read()
    assert "<<< Settings" in text and "<<< FolderSync" in text
    assert ">>> 200 OK" in text
    assert "hunter2-secret" not in text and "elided" in text
    assert f"[{user}]" in text
    floectl(server, "device", "log", "off", str(dev_id))
    size = os.path.getsize(path)
    c.foldersync()
    assert os.path.getsize(path) == size
    # Per account: a second device of the user logs too.
    floectl(server, "device", "log", "on", user)
    c2 = ready(server, user, "android")
    d2 = [d for d in devices(server, user) if d["device_id"] == c2.device_id][0]
    assert d2["account_protocol_log"] is True
    assert os.path.exists(os.path.join(server.state_dir, "eas-log", f"{d2['id']}.log"))
    floectl(server, "device", "log", "off", user)
    # list/show/remove
    table = floectl(server, "device", "list", user)
    assert c.device_id in table and c2.device_id in table
    floectl(server, "device", "remove", str(dev_id))
    assert [d["id"] for d in devices(server, user)] == [d2["id"]]
    # The removed device starts over: its hierarchy key is unknown.
    c.policy_key = None
    c.foldersync(c.folder_key, expect_status=9)


def test_shutdown_answers_parked_pings(pg):
    srv = floe.Floed(None, pg, workers=1, config={
        "server": {"shutdown_timeout": "20s"}, "eas": {"heartbeat_min": "2s"}})
    srv.start()
    user = new_user(srv)
    c = ready(srv, user)
    t = PingThread(c, 600, [(inbox_of(c), "Email")])
    t.start()
    time.sleep(0.7)
    assert t.response is None
    start = time.time()
    code = srv.stop()
    t.join(10)
    assert code == 0
    assert t.response is not None and t.response.node.findtext("Status") == "1"
    # Answered at once, not after the 20 s grace period.
    assert time.time() - start < 10

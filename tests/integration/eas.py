"""An ActiveSync client for the protocol tests: HTTP with Basic auth, the
plain and the base64-encoded query forms (MS-ASHTTP 2.2.1.1.1), gzip both
ways, iOS-like and Android-like request shapes, and helpers for the
provisioning handshake, FolderSync and Ping. Bodies are built and read with
easwbxml (E(), encode(), decode(), Node.find...).

    c = eas.ios(server, address, password)        # DeviceType iPhone, 16.1
    c.provision()                                 # temp key, ack, final key
    folders = c.foldersync()                      # {server_id: Folder}
    r = c.post("Ping", E("Ping:Ping", ...))      # Response
    r.status, r.headers["ms-server-activesync"], r.node.findtext("Status")

A Response keeps the HTTP status, lower-cased headers, the raw (gunzipped)
body and, for WBXML bodies, the decoded tree (node).
"""

import base64
import gzip
import http.client
import ssl
import struct
import urllib.parse
import uuid

from easwbxml import E, decode, encode, Node  # noqa: F401  (re-exported for tests)

PATH = "/Microsoft-Server-ActiveSync"
WBXML = "application/vnd.ms-sync.wbxml"
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"

# MS-ASHTTP 2.2.1.1.1.1.2 command codes and 2.2.1.1.1.1.3 parameter tags.
COMMAND_CODES = {
    "Sync": 0, "SendMail": 1, "SmartForward": 2, "SmartReply": 3, "GetAttachment": 4,
    "FolderSync": 9, "FolderCreate": 10, "FolderDelete": 11, "FolderUpdate": 12,
    "MoveItems": 13, "GetItemEstimate": 14, "MeetingResponse": 15, "Search": 16,
    "Settings": 17, "Ping": 18, "ItemOperations": 19, "Provision": 20,
    "ResolveRecipients": 21, "ValidateCert": 22, "Find": 23,
}
PARAM_TAGS = {"AttachmentName": 0, "CollectionId": 1, "ItemId": 3, "LongId": 4,
              "Occurrence": 6, "Options": 7, "User": 8}

# EAS folder types (MS-ASCMD FolderSync Type).
TYPE_USER_GENERIC, TYPE_INBOX, TYPE_DRAFTS, TYPE_DELETED, TYPE_SENT, TYPE_OUTBOX = 1, 2, 3, 4, 5, 6
TYPE_TASKS, TYPE_CALENDAR, TYPE_CONTACTS, TYPE_NOTES, TYPE_JOURNAL = 7, 8, 9, 10, 11
TYPE_USER_MAIL, TYPE_USER_CALENDAR, TYPE_USER_CONTACTS = 12, 13, 14
TYPE_USER_TASKS, TYPE_USER_JOURNAL, TYPE_USER_NOTES = 15, 16, 17


class EASError(AssertionError):
    """An unexpected answer (HTTP status or protocol Status)."""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.node = None
        if body and headers.get("content-type", "").startswith(WBXML):
            self.node = decode(body)

    def status_code(self):
        """The top-level Status of the WBXML answer as an int, or None."""
        if self.node is None:
            return None
        s = self.node.findtext("Status")
        return int(s) if s not in (None, "") else None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.node if self.node is not None else self.body[:200])


class Folder:
    def __init__(self, server_id, parent_id, name, type_):
        self.server_id, self.parent_id, self.name, self.type = server_id, parent_id, name, int(type_)

    def __repr__(self):
        return "Folder(%s, parent=%s, %r, type=%d)" % (self.server_id, self.parent_id, self.name, self.type)


def b64_query(version, cmd, device_id, device_type, policy_key=None, params=None, locale=0x0409):
    """The base64-encoded query value (MS-ASHTTP 2.2.1.1.1.1)."""
    major, minor = version.split(".")
    out = bytearray()
    out.append(int(major) * 10 + int(minor))
    out.append(COMMAND_CODES[cmd])
    out += struct.pack("<H", locale)
    dev = device_id.encode() if isinstance(device_id, str) else bytes(device_id)
    out.append(len(dev))
    out += dev
    if policy_key is None:
        out.append(0)
    else:
        out.append(4)
        out += struct.pack("<I", int(policy_key))
    dt = device_type.encode()
    out.append(len(dt))
    out += dt
    for name, value in (params or {}).items():
        if name == "Options":
            v = bytes([int(value)])
        else:
            v = value.encode() if isinstance(value, str) else bytes(value)
        out.append(PARAM_TAGS[name])
        out.append(len(v))
        out += v
    return base64.b64encode(bytes(out)).decode()


class Client:
    """One device of one user. policy_key None means no X-MS-PolicyKey."""

    def __init__(self, port, user, password, device_id=None, device_type="iPhone",
                 version="14.1", user_agent="Floe-Test/1.0", base64_query=False, tls=False,
                 host="127.0.0.1", gzip_requests=False, accept_gzip=True):
        self.host, self.port, self.tls = host, port, tls
        self.user, self.password = user, password
        self.device_id = device_id or uuid.uuid4().hex[:24].upper()
        self.device_type = device_type
        self.version = version
        self.user_agent = user_agent
        self.base64_query = base64_query
        self.gzip_requests = gzip_requests
        self.accept_gzip = accept_gzip
        self.policy_key = None
        self.folder_key = "0"
        self.folders = {}

    # --- HTTP ---

    def _conn(self, timeout):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def auth_header(self, user=None, password=None):
        cred = "%s:%s" % (user if user is not None else self.user,
                          password if password is not None else self.password)
        return "Basic " + base64.b64encode(cred.encode()).decode()

    def url(self, cmd, params=None, version=None, policy_key="default"):
        pk = self.policy_key if policy_key == "default" else policy_key
        if self.base64_query:
            return PATH + "?" + b64_query(version or self.version, cmd, self.device_id,
                                          self.device_type, pk, params)
        q = "Cmd=%s&User=%s&DeviceId=%s&DeviceType=%s" % (
            cmd, urllib.parse.quote(self.user), self.device_id, self.device_type)
        for k, v in (params or {}).items():
            q += "&%s=%s" % (k, urllib.parse.quote(str(v)))
        return PATH + "?" + q

    def request(self, method, url, body=None, headers=None, timeout=30):
        conn = self._conn(timeout)
        try:
            conn.request(method, url, body=body, headers=headers or {})
            r = conn.getresponse()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            data = r.read()
        finally:
            conn.close()
        if hdrs.get("content-encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return Response(r.status, hdrs, data)

    def options(self, auth=True):
        headers = {"User-Agent": self.user_agent}
        if auth:
            headers["Authorization"] = self.auth_header()
        return self.request("OPTIONS", PATH, headers=headers)

    def post(self, cmd, body=None, params=None, version=None, policy_key="default",
             headers=None, content_type=WBXML, auth=True, password=None, timeout=30,
             gzip_body=None):
        """One command; body is a Node, bytes or None. Returns a Response."""
        if isinstance(body, Node):
            body = encode(body)
        h = {"User-Agent": self.user_agent, "Accept-Language": "en-us"}
        if self.accept_gzip:
            h["Accept-Encoding"] = "gzip"
        if auth:
            h["Authorization"] = self.auth_header(password=password)
        if body is not None:
            h["Content-Type"] = content_type
            if gzip_body if gzip_body is not None else self.gzip_requests:
                body = gzip.compress(body)
                h["Content-Encoding"] = "gzip"
        if not self.base64_query:
            h["MS-ASProtocolVersion"] = version or self.version
            pk = self.policy_key if policy_key == "default" else policy_key
            if pk is not None:
                h["X-MS-PolicyKey"] = str(pk)
        h.update(headers or {})
        return self.request("POST", self.url(cmd, params, version, policy_key), body or b"", h,
                            timeout=timeout)

    def command(self, cmd, body=None, expect_status=1, **kw):
        """post() that insists on HTTP 200 and, when expect_status is not
        None, on that top-level Status. Returns the decoded tree."""
        r = self.post(cmd, body, **kw)
        if r.status != 200:
            raise EASError("%s: HTTP %d %r" % (cmd, r.status, r.body[:300]))
        if expect_status is not None and r.status_code() != expect_status:
            raise EASError("%s: Status %s, expected %s: %r" % (cmd, r.status_code(), expect_status, r.node))
        return r.node

    # --- Provisioning (MS-ASPROV) ---

    def provision_request(self, device_info=True):
        children = []
        if device_info and float(self.version) >= 14.1:
            children.append(E("Settings:DeviceInformation", E("Settings:Set",
                              E("Settings:Model", "TestModel"), E("Settings:OS", "TestOS 1.0"),
                              E("Settings:OSLanguage", "English"),
                              E("Settings:FriendlyName", "Test device"))))
        children.append(E("Provision:Policies", E("Provision:Policy",
                          E("Provision:PolicyType", POLICY_TYPE))))
        return E("Provision:Provision", *children)

    def provision(self, ack_status=1):
        """The full handshake; returns (temporary key, final key, policy doc
        node) and keeps the final key for later requests."""
        self.policy_key = None
        node = self.command("Provision", self.provision_request())
        pol = node.find("Policies/Policy")
        if pol is None or pol.findtext("Status") != "1":
            raise EASError("Provision: no policy: %r" % node)
        temp = pol.findtext("PolicyKey")
        doc = pol.find("Data/EASProvisionDoc")
        self.policy_key = temp
        ack = E("Provision:Provision", E("Provision:Policies", E("Provision:Policy",
                E("Provision:PolicyType", POLICY_TYPE), E("Provision:PolicyKey", temp),
                E("Provision:Status", str(ack_status)))))
        node = self.command("Provision", ack)
        final = node.findtext("Policies/Policy/PolicyKey")
        if not final or node.findtext("Policies/Policy/Status") != "1":
            raise EASError("Provision ack: %r" % node)
        self.policy_key = final
        return temp, final, doc

    # --- Folders ---

    def foldersync(self, key=None, expect_status=1):
        """FolderSync from key (default: the last one); applies the changes
        to self.folders and returns the response tree."""
        node = self.command("FolderSync", E("FolderHierarchy:FolderSync",
                            E("FolderHierarchy:SyncKey", key if key is not None else self.folder_key)),
                            expect_status=expect_status)
        if expect_status != 1:
            return node
        if key == "0" or (key is None and self.folder_key == "0"):
            self.folders = {}
        self.folder_key = node.findtext("SyncKey")
        for ch in node.findall("Changes/Add") + node.findall("Changes/Update"):
            f = Folder(ch.findtext("ServerId"), ch.findtext("ParentId"), ch.findtext("DisplayName"),
                       ch.findtext("Type"))
            self.folders[f.server_id] = f
        for ch in node.findall("Changes/Delete"):
            self.folders.pop(ch.findtext("ServerId"), None)
        return node

    def folder_by_type(self, type_):
        for f in self.folders.values():
            if f.type == type_:
                return f
        return None

    def folder_by_name(self, name, parent="0"):
        for f in self.folders.values():
            if f.name == name and (parent is None or f.parent_id == parent):
                return f
        return None

    # --- Ping ---

    @staticmethod
    def ping_body(heartbeat=None, folders=()):
        """folders: (server_id, class) pairs; both None for an empty Ping."""
        children = []
        if heartbeat is not None:
            children.append(E("Ping:HeartbeatInterval", str(heartbeat)))
        if folders:
            children.append(E("Ping:Folders", *[E("Ping:Folder", E("Ping:Id", fid), E("Ping:Class", cls))
                                                for fid, cls in folders]))
        return E("Ping:Ping", *children)

    def ping(self, heartbeat=None, folders=(), timeout=60):
        """Returns the Response of a Ping (which may be parked until a change
        or the end of the interval)."""
        return self.post("Ping", self.ping_body(heartbeat, folders), timeout=timeout)


def ios(port, user, password, **kw):
    """An iPhone-like client: DeviceType iPhone, Apple User-Agent, 16.1,
    plain query."""
    kw.setdefault("device_type", "iPhone")
    kw.setdefault("version", "16.1")
    kw.setdefault("user_agent", "Apple-iPhone14C2/2005.100")
    kw.setdefault("device_id", "FLOE" + uuid.uuid4().hex[:20].upper())
    return Client(port, user, password, **kw)


def android(port, user, password, **kw):
    """An Android-like client: DeviceType Android, 14.1, lower-case device
    id, gzip accepted."""
    kw.setdefault("device_type", "Android")
    kw.setdefault("version", "14.1")
    kw.setdefault("user_agent", "Android-Mail/2024.05.12.633405789.Release")
    kw.setdefault("device_id", "androidc" + uuid.uuid4().hex[:16])
    return Client(port, user, password, **kw)

"""Test harness: throw-away PostgreSQL clusters and real floed processes on
loopback ports, driven by the protocol tests. Everything started here is
stopped by the tests (or at the latest when the session ends)."""

import atexit
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILDDIR = os.environ.get("FLOE_BUILDDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
SRCDIR = os.environ.get("FLOE_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
FLOED = os.path.join(BUILDDIR, "floed")
FLOECTL = os.path.join(BUILDDIR, "floectl")
IS_ROOT = os.geteuid() == 0
# Server and database users when the suite runs as root (PostgreSQL refuses root).
SERVER_USER = "floe" if IS_ROOT else ""
PG_USER = "postgres" if IS_ROOT else None

_cleanups = []


def _pg_bindir():
    base = "/usr/lib/postgresql"
    versions = sorted((int(v) for v in os.listdir(base) if v.isdigit()), reverse=True)
    for v in versions:
        d = f"{base}/{v}/bin"
        if os.access(f"{d}/postgres", os.X_OK):
            return d
    raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql")


PG_BINDIR = _pg_bindir()


def test_root():
    """A directory every test user can traverse (pytest's tmp_path is 0700)."""
    root = os.environ.get("FLOE_TEST_ROOT", "/tmp/floe-tests")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    return root


def make_dir(prefix, owner=None):
    d = tempfile.mkdtemp(prefix=prefix, dir=test_root())
    os.chmod(d, 0o755)
    if owner and IS_ROOT:
        pw = pwd.getpwnam(owner)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    _cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_user(user, argv):
    if IS_ROOT and user:
        return ["runuser", "-u", user, "--"] + argv
    return argv


def ensure_server_user():
    if IS_ROOT:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            SERVER_USER], check=True)


class PgCluster:
    """A private PostgreSQL cluster on 127.0.0.1:<port>, role floe (trust)."""

    def __init__(self):
        self.dir = make_dir("pg-", PG_USER)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.running = False
        subprocess.run(as_user(PG_USER, [f"{PG_BINDIR}/initdb", "-D", self.data, "-U", "floe", "-A", "trust",
                                         "-E", "UTF8", "--no-locale", "--no-instructions"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n")
        self.start()
        self.psql("CREATE DATABASE floe", db="postgres")
        self.url = self.url_for("floe")
        _cleanups.append(self.stop)

    def url_for(self, db):
        return f"postgresql://floe@127.0.0.1:{self.port}/{db}"

    def create_database(self, name):
        """A fresh database in this cluster; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"', db="postgres")
        return self.url_for(name)

    def start(self):
        subprocess.run(as_user(PG_USER, [f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-w", "-t", "60",
                                         "-l", os.path.join(self.dir, "log"), "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.running = True

    def stop(self):
        if self.running:
            subprocess.run(as_user(PG_USER, [f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.running = False

    def restart(self):
        self.stop()
        self.start()

    def psql(self, sql, db="floe", check=True):
        """Runs sql; returns unaligned, tuples-only output (fields split by |)."""
        r = subprocess.run([f"{PG_BINDIR}/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "floe", "-d", db, "-c", sql],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r.stdout.strip()


_tls_pair = None


def tls_pair():
    """A self-signed certificate and key for 127.0.0.1, readable by the server user."""
    global _tls_pair
    if _tls_pair is None:
        d = make_dir("tls-")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)
        _tls_pair = (cert, key)
    return _tls_pair


def render_config(sections):
    out = []
    for section, keys in sections.items():
        out.append(f"[{section}]")
        for k, v in keys.items():
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


class Floed:
    """A floed master with its workers, in the foreground, logging to a file."""

    def __init__(self, tmp_path=None, pg=None, workers=2, config=None, db_url=None):
        ensure_server_user()
        self.dir = make_dir("floed-")
        self.state_dir = os.path.join(self.dir, "state")
        self.config_path = os.path.join(self.dir, "floe.conf")
        self.log_path = os.path.join(self.dir, "floed.log")
        self.http_port, self.https_port, self.imap_port = free_port(), free_port(), free_port()
        # Ports for the mail-flow listeners; a test turns a listener on with
        # e.g. config={"lmtp": {"listen": f"127.0.0.1:{f.lmtp_port}"}} or
        # Floed.enable(...) below.
        self.lmtp_port, self.smtp_port, self.smtps_port = free_port(), free_port(), free_port()
        self.pop3_port, self.pop3s_port = free_port(), free_port()
        cert, key = tls_pair()
        self.sections = {
            "server": {"state_dir": self.state_dir, "workers": workers, "user": SERVER_USER,
                       "shutdown_timeout": "5s", "restart_backoff_max": "2s"},
            "log": {"level": "info"},
            "db": {"url": db_url or (pg.url if pg else "local"), "connect_timeout": "2s",
                   "query_timeout": "10s"},
            "tls": {"cert": cert, "key": key},
            "http": {"listen": f"127.0.0.1:{self.http_port}", "listen_tls": f"127.0.0.1:{self.https_port}"},
            "imap": {"listen": f"127.0.0.1:{self.imap_port}", "listen_tls": ""},
            "lmtp": {"listen": ""},
            "smtp": {"listen": "", "listen_tls": ""},
            "pop3": {"listen": "", "listen_tls": ""},
            "debug": {"test_endpoints": "yes"},
        }
        self.write_config(config or {})
        self.proc = None
        self.pid = None
        _cleanups.append(self.kill)

    def enable(self, *protocols):
        """Turns on loopback listeners before start(): "lmtp", "smtp" (587-style,
        STARTTLS), "smtps" (implicit TLS), "pop3", "pop3s", "imaps"."""
        ports = {"lmtp": ("lmtp", "listen", "lmtp_port"), "smtp": ("smtp", "listen", "smtp_port"),
                 "smtps": ("smtp", "listen_tls", "smtps_port"), "pop3": ("pop3", "listen", "pop3_port"),
                 "pop3s": ("pop3", "listen_tls", "pop3s_port")}
        for proto in protocols:
            if proto == "imaps":
                self.imaps_port = free_port()
                self.write_config({"imap": {"listen_tls": f"127.0.0.1:{self.imaps_port}"}})
                continue
            section, key, attr = ports[proto]
            self.write_config({section: {key: f"127.0.0.1:{getattr(self, attr)}"}})
        return self

    def write_config(self, extra=None, raw=None):
        """Rewrites the config file with extra {section: {key: value}} merged in,
        or with raw text when given."""
        for section, keys in (extra or {}).items():
            self.sections.setdefault(section, {}).update(keys)
        with open(self.config_path, "w") as f:
            f.write(raw if raw is not None else render_config(self.sections))
        os.chmod(self.config_path, 0o644)

    def start(self, wait=True, expect_fail=False):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([FLOED, "--config", self.config_path, "--foreground"],
                                     stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        self.pid = self.proc.pid
        if expect_fail:
            return self.proc.wait(timeout=30)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        want = int(self.sections["server"]["workers"])
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floed exited with {self.proc.returncode}:\n{self.log()}")
            if len(self.worker_pids()) >= want:
                try:
                    with socket.create_connection(("127.0.0.1", self.http_port), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"floed not ready after {timeout}s:\n{self.log()}")

    def worker_pids(self):
        pids = []
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                children = [int(p) for p in f.read().split()]
        except OSError:
            return pids
        for p in children:
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == "floed-worker":
                        pids.append(p)
            except OSError:
                pass
        return sorted(pids)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, needle, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.05)
        return False

    def reload(self):
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            code = self.proc.returncode if self.proc else None
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self.check_sanitizers()
        return code

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def check_sanitizers(self):
        """Fails the test when a sanitizer build of floed reported anything."""
        text = self.log()
        for mark in self.SANITIZER_MARKS:
            if mark in text:
                at = text.index(mark)
                raise AssertionError(f"sanitizer report in floed log:\n{text[max(0, at - 200):at + 3000]}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            for p in self.worker_pids():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.kill()
            self.proc.wait()

    def http(self, method, path, body=None, headers=None, timeout=10, tls=False):
        """One request on a fresh connection: (status, headers dict, body bytes)."""
        if tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()


def http_raw(port, data, timeout=5):
    """Sends raw bytes and reads until the server closes or timeout passes."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


def cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:
            pass


atexit.register(cleanup_all)


# ---------------------------------------------------------------------------
# Accounts for protocol tests: tests share one database and keep apart by
# using domains and users with random names.

def run_floectl(server, *args, input=None):
    """Runs floectl with server's configuration; returns the CompletedProcess."""
    return subprocess.run([FLOECTL, "--config", server.config_path] + list(args), input=input,
                          capture_output=True, text=True, timeout=60)


def floectl(server, *args, input=None):
    """Runs floectl, fails the test when it fails, returns its standard output."""
    r = run_floectl(server, *args, input=input)
    assert r.returncode == 0, f"floectl {' '.join(args)}: {r.stderr}"
    return r.stdout


def new_domain(server, prefix="t"):
    """Adds a domain with a random name and returns it."""
    import uuid
    name = f"{prefix}{uuid.uuid4().hex[:8]}.example"
    floectl(server, "domain", "add", name)
    return name


def new_user(server, domain, password, *extra, prefix="u"):
    """Adds a user with a random local part in domain; extra are further
    `user add` options. Returns the address."""
    import uuid
    address = f"{prefix}{uuid.uuid4().hex[:10]}@{domain}"
    floectl(server, "user", "add", address, "--password", password, *extra)
    return address


class ImapWire:
    """The byte level of a raw IMAP connection for protocol tests: reads
    lines and whole responses with their literals. Test modules subclass
    it with their own command helpers."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.n = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_response(self):
        """One response line, with every literal it announces ({n} or ~{n})."""
        import re
        out = self.readline()
        while True:
            m = re.search(rb"~?\{(\d+)\}\r\n$", out)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += self.buf[:size]
            self.buf = self.buf[size:]
            out += self.readline()

    def send(self, data):
        self.sock.sendall(data)

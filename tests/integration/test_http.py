"""The HTTP/1.1 layer over real sockets: limits (400, 413, 431, slow
clients), parked requests that notice the client leaving, keep-alive,
pipelining, chunked uploads and streamed answers. Uses the /_test/ routes."""

import http.client
import socket
import ssl
import time

import pytest

import floe

LIMITS = {
    "max_body_size": "1k",
    "max_header_size": "4k",
    "header_timeout": "1s",
    "body_timeout": "2s",
    "keepalive_timeout": "5s",
    "write_timeout": "5s",
}


@pytest.fixture(scope="module")
def server(pg):
    s = floe.Floed(None, pg, workers=2, config={"http": dict(LIMITS)})
    s.start()
    yield s
    s.stop()


class Conn:
    """A raw client connection that reads HTTP/1.1 responses one by one."""

    def __init__(self, port, timeout=5, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def response(self, head=False):
        """(status, headers with lower-case names, body); None at EOF."""
        line = self.file.readline()
        if not line:
            return None
        status = int(line.split()[1])
        headers = {}
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if head or status < 200 or status in (204, 304):
            pass
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(self.file.readline().split(b";")[0], 16)
                chunk = self.file.read(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        elif "content-length" in headers:
            body = self.file.read(int(headers["content-length"]))
        else:
            body = self.file.read()
        return status, headers, body

    def closed_by_server(self, timeout):
        """True when the server closes within timeout (any bytes before EOF
        are ignored)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.file.close()
        self.sock.close()


def echo_fields(body):
    """Parses /_test/echo's answer into (fields, raw body)."""
    text, _, raw = body.partition(b"\n\n")
    fields = {}
    for line in text.decode().splitlines():
        key, _, value = line.partition(" ")
        if key == "header":
            fields.setdefault("header", []).append(value)
        else:
            fields[key] = value
    return fields, raw


def test_malformed_request_gets_400_and_worker_keeps_serving(server):
    out = floe.http_raw(server.http_port, b"this is not http\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert b"Connection: close" in out
    out = floe.http_raw(server.http_port, b"GET /_test/pid HTTP/1.1\r\nBad header line\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    out = floe.http_raw(server.http_port, b"BREW /_test/pid HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 501 "), out
    for _ in range(4):
        status, _, body = server.http("GET", "/_test/pid")
        assert status == 200 and int(body) in server.worker_pids()


def test_unknown_path_is_404(server):
    status, _, _ = server.http("GET", "/no/such/thing")
    assert status == 404


def test_oversized_body_is_413(server):
    out = floe.http_raw(server.http_port,
                        b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    assert out.startswith(b"HTTP/1.1 413 "), out
    chunked = b"".join(b"100\r\n" + b"y" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    out = floe.http_raw(server.http_port,
                        b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert out.startswith(b"HTTP/1.1 413 "), out
    status, _, body = server.http("POST", "/_test/echo", body=b"z" * 1000)
    assert status == 200
    fields, raw = echo_fields(body)
    assert fields["body-length"] == "1000" and raw == b"z" * 1000


def test_expect_100_continue(server):
    c = Conn(server.http_port)
    try:
        c.send(b"PUT /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        status, _, _ = c.response()
        assert status == 100
        c.send(b"data")
        status, _, body = c.response()
        assert status == 200 and echo_fields(body)[1] == b"data"
    finally:
        c.close()
    c = Conn(server.http_port)
    try:
        c.send(b"PUT /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n")
        status, _, _ = c.response()
        assert status == 413
    finally:
        c.close()


def test_huge_headers_are_431(server):
    big = b"X-Filler: " + b"f" * 8000 + b"\r\n"
    out = floe.http_raw(server.http_port, b"GET /_test/pid HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431 "), out
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(600))
    out = floe.http_raw(server.http_port, b"GET /_test/pid HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert out.startswith(b"HTTP/1.1 431 "), out
    status, _, _ = server.http("GET", "/_test/pid", headers={"X-Filler": "f" * 2000})
    assert status == 200


def test_slow_client_is_dropped(server):
    c = Conn(server.http_port)
    try:
        start = time.time()
        c.send(b"GET /_test/pid HT")
        assert c.closed_by_server(5), "slow request head not dropped"
        assert time.time() - start < 4
    finally:
        c.close()
    # Trickling bytes does not extend the deadline for the whole head.
    c = Conn(server.http_port)
    try:
        start = time.time()
        closed = False
        for ch in b"GET /_test/pid HTTP/1.1\r\nHost: x\r\n":
            try:
                c.send(bytes([ch]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
        assert closed or c.closed_by_server(3)
        assert time.time() - start < 5
    finally:
        c.close()
    # A connection that never sends anything goes too.
    c = Conn(server.http_port)
    try:
        assert c.closed_by_server(4)
    finally:
        c.close()
    status, _, _ = server.http("GET", "/_test/pid")
    assert status == 200


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_parked_request_notices_client_closing(server, tls):
    needle = "http: parked request aborted by client"
    before = server.log().count(needle)
    c = Conn(server.https_port if tls else server.http_port, tls=tls)
    c.send(b"GET /_test/park HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    c.close()
    deadline = time.time() + 2
    while time.time() < deadline and server.log().count(needle) <= before:
        time.sleep(0.02)
    assert server.log().count(needle) > before, server.log()[-2000:]


def test_parked_request_answers_later(server):
    start = time.time()
    status, _, body = server.http("GET", "/_test/park?ms=300")
    assert status == 200 and body == b"woke\n"
    assert time.time() - start >= 0.29


def test_keepalive_and_pipelining(server):
    c = Conn(server.http_port)
    try:
        c.send(b"GET /_test/echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /_test/park?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /_test/echo?n=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"PROPFIND /_test/echo?n=4 HTTP/1.1\r\nHost: x\r\nDepth: 1\r\n\r\n"
               b"HEAD /_test/echo?n=5 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /_test/echo?n=6 HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.response()
        r2 = c.response()
        r3 = c.response()
        r4 = c.response()
        r5 = c.response(head=True)
        r6 = c.response()
        assert echo_fields(r1[2])[0]["query"] == "n=1"
        assert r2[2] == b"woke\n"
        f3, raw3 = echo_fields(r3[2])
        assert f3["query"] == "n=3" and f3["method"] == "POST" and raw3 == b"hello"
        assert echo_fields(r4[2])[0]["method"] == "PROPFIND"
        assert r5[0] == 200 and r5[2] == b"" and int(r5[1]["content-length"]) > 0
        assert echo_fields(r6[2])[0]["query"] == "n=6"
        pids = {r[1]["x-worker-pid"] for r in (r1, r3, r4, r6)}
        assert len(pids) == 1, "one connection, one worker"
        assert r1[1]["server"] == "Floe" and "date" in r1[1]
        # Still open for more.
        c.send(b"GET /_test/echo?n=7 HTTP/1.1\r\nHost: x\r\n\r\n")
        r7 = c.response()
        assert echo_fields(r7[2])[0]["query"] == "n=7"
        assert r7[1]["x-worker-pid"] in pids
        c.send(b"GET /_test/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r8 = c.response()
        assert r8[0] == 200 and r8[1].get("connection") == "close"
        assert c.response() is None
    finally:
        c.close()


def test_http10_closes(server):
    out = floe.http_raw(server.http_port, b"GET /_test/pid HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in out, out


def test_chunked_upload(server):
    c = Conn(server.http_port)
    try:
        c.send(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        time.sleep(0.1)
        c.send(b"7;ext=1\r\n, world\r\n0\r\n\r\n")
        status, _, body = c.response()
        fields, raw = echo_fields(body)
        assert status == 200 and raw == b"hello, world" and fields["body-length"] == "12"
    finally:
        c.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=5)
    try:
        conn.request("PUT", "/_test/echo", body=iter([b"abc", b"def"]), encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 200 and echo_fields(r.read())[1] == b"abcdef"
    finally:
        conn.close()


def test_streamed_response(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        conn.request("GET", "/_test/stream?chunks=200&size=5000")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
        body = r.read()
        assert len(body) == 200 * 5000
        assert body[:26] == b"abcdefghijklmnopqrstuvwxyz"
    finally:
        conn.close()


def test_tls_pipelining_and_clean_close(server):
    c = Conn(server.https_port, tls=True)
    try:
        c.send(b"GET /_test/park?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
               b"GET /_test/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.response()[2] == b"woke\n"
        assert echo_fields(c.response()[2])[1] == b"abc"
        status, headers, body = c.response()
        assert status == 200 and headers.get("connection") == "close"
        # The connection then ends cleanly.
        assert c.file.read() == b""
    finally:
        c.close()

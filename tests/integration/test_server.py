"""floed as a process: configuration checking, start-up errors, privilege
dropping, worker supervision, reload, graceful stop, TLS, the embedded
PostgreSQL, and the "service not available" replies of protocols not served yet."""

import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import floe


def check(path):
    r = subprocess.run([floe.FLOED, "--config", path, "--check"], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def write(tmpdir, text):
    path = os.path.join(tmpdir, "floe.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


NOLISTEN = "[imap]\nlisten =\nlisten_tls =\n[http]\nlisten =\nlisten_tls =\n[smtp]\nlisten =\nlisten_tls =\n[lmtp]\nlisten =\n[pop3]\nlisten =\nlisten_tls =\n"


def test_check_accepts_valid_file(tmp_path):
    path = write(tmp_path, "[server]\nstate_dir = /tmp/x\nuser =\n" + NOLISTEN)
    code, out = check(path)
    assert code == 0, out
    assert "configuration is valid" in out


@pytest.mark.parametrize("text,needle", [
    ("[server]\nuser =\nstate_dir = /x\nworkerz = 2\n", ":4: unknown key \"workerz\" in [server]"),
    ("[srever]\nuser = x\n", ":1: unknown section [srever]"),
    ("[server]\nuser =\nworkers = many\n", ":3: server.workers = \"many\""),
    ("[http]\nmax_body_size = huge\n", ":2: http.max_body_size = \"huge\": expected a size"),
    ("[imap]\nlisten = 127.0.0.1:70000\n", ":2: imap.listen = \"127.0.0.1:70000\": bad listen address"),
    ("[server]\nuser =\nstate_dir = /x\n[imap]\nlisten =\nlisten_tls =\n[smtp]\nlisten =\nlisten_tls =\n[pop3]\nlisten =\nlisten_tls =\n"
     "[http]\nlisten =\nlisten_tls = 127.0.0.1:4443\n",
     ":15: http.listen_tls = 127.0.0.1:4443 needs a certificate"),
])
def test_check_reports_file_and_line(tmp_path, text, needle):
    path = write(tmp_path, text)
    code, out = check(path)
    assert code == 1, out
    assert path + needle in out, out


def test_check_reports_every_error_at_once(tmp_path):
    path = write(tmp_path, "[server]\nfoo = 1\n[log]\nlevel = loud\n[nope]\n")
    code, out = check(path)
    assert code == 1
    assert f"{path}:2:" in out and f"{path}:4:" in out and f"{path}:5:" in out, out


def test_check_reports_bad_certificate(tmp_path):
    cert = os.path.join(tmp_path, "bad.pem")
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    path = write(tmp_path, "[server]\nuser =\nstate_dir = /x\n" + NOLISTEN + f"[tls]\ncert = {cert}\nkey = {cert}\n")
    code, out = check(path)
    assert code == 1
    assert f"{path}:19: [tls] cert {cert}" in out, out


def test_unbindable_address_is_reported_with_line(pg):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        server = floe.Floed(None, pg, workers=1, config={"imap": {"listen": f"127.0.0.1:{port}"}})
        code = server.start(expect_fail=True)
        assert code == 1
        assert f"{server.config_path}:" in server.log()
        assert f"imap.listen = 127.0.0.1:{port}: cannot listen: Address already in use" in server.log()
    finally:
        busy.close()


def test_workers_serve_and_drop_privileges(floed):
    pids = floed.worker_pids()
    assert len(pids) == 2
    status, _, body = floed.http("GET", "/floe/health")
    assert status == 200, body
    if floe.IS_ROOT:
        import pwd
        uid = pwd.getpwnam("floe").pw_uid
        for p in pids + [floed.pid]:
            assert os.stat(f"/proc/{p}").st_uid == uid, f"pid {p} still runs as root"


def test_killed_worker_is_replaced_and_listener_keeps_answering(floed):
    before = floed.worker_pids()
    victim = before[0]
    failures = []
    stop = threading.Event()

    killed_at = [None]

    def hammer():
        # A request the victim had already accepted dies with it; every
        # request begun after the kill must be answered by the survivors.
        while not stop.is_set():
            began = time.time()
            try:
                status, _, _ = floed.http("GET", "/floe/health", timeout=5)
                ok = status == 200
                what = status
            except OSError as e:
                ok, what = False, repr(e)
            if not ok and (killed_at[0] is None or began > killed_at[0] + 0.05):
                failures.append(what)
            time.sleep(0.02)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        time.sleep(0.3)
        killed_at[0] = time.time()
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            now = floed.worker_pids()
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    now = floed.worker_pids()
    assert len(now) == 2 and victim not in now, now
    assert f"(pid {victim}) killed by signal 9" in floed.log()
    assert "restarting it in" in floed.log()
    assert not failures, failures[:5]


def test_crash_loop_backs_off(floed):
    # Killing the same slot repeatedly within seconds makes the delay grow.
    for _ in range(3):
        pids = floed.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and (len(floed.worker_pids()) < 2 or pids[0] in floed.worker_pids()):
            time.sleep(0.05)
    delays = [int(line.rsplit("restarting it in ", 1)[1].split()[0])
              for line in floed.log().splitlines() if "restarting it in" in line]
    assert len(delays) >= 2
    assert max(delays) > 0, delays


def test_reload_with_bad_file_keeps_serving(floed):
    pids = floed.worker_pids()
    good = open(floed.config_path).read()
    floed.write_config(raw=good + "\n[http]\nmax_body_size = lots\n")
    floed.reload()
    assert floed.wait_log("reload refused"), floed.log()
    bad_line = len((good + "\n[http]\n").splitlines()) + 1
    assert f"reload refused: {floed.config_path}:{bad_line}:" in floed.log()
    time.sleep(0.3)
    assert floed.worker_pids() == pids
    status, _, _ = floed.http("GET", "/floe/health")
    assert status == 200


def test_reload_applies_new_configuration(floed):
    old = floed.worker_pids()
    floed.write_config({"server": {"workers": 3}})
    floed.reload()
    assert floed.wait_log("configuration reloaded: 3 worker(s)"), floed.log()
    deadline = time.time() + 15
    while time.time() < deadline:
        now = floed.worker_pids()
        if len(now) == 3 and not set(old) & set(now):
            break
        time.sleep(0.05)
    now = floed.worker_pids()
    assert len(now) == 3 and not set(old) & set(now), (old, now)
    status, _, _ = floed.http("GET", "/floe/health")
    assert status == 200


def test_sigterm_finishes_in_flight_request(floed):
    result = {}

    def slow():
        result["r"] = floed.http("GET", "/_test/park?ms=1500", timeout=15)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    code = floed.stop()
    t.join()
    assert code == 0, floed.log()
    status, _, body = result["r"]
    assert status == 200 and b"woke" in body


def test_second_floed_on_same_state_dir_is_refused(floed, pg):
    other = floe.Floed(None, pg, workers=1)
    other.write_config({"server": {"state_dir": floed.state_dir}})
    code = other.start(expect_fail=True)
    assert code == 1
    assert f"is already running on state directory {floed.state_dir}" in other.log()


def test_every_listener_greets(pg):
    # Each protocol's listener hands its connections to that protocol's
    # server: the greeting says which one answered.
    server = floe.Floed(None, pg, workers=1).enable("lmtp", "smtp", "pop3")
    server.start()
    try:
        for port, prefix, word in ((server.lmtp_port, b"220 ", b"LMTP"),
                                   (server.smtp_port, b"220 ", b"ESMTP"),
                                   (server.pop3_port, b"+OK", b""),
                                   (server.imap_port, b"* OK", b"")):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                data = s.recv(1000)
            assert data.startswith(prefix) and word in data, (port, data)
    finally:
        server.stop()


def test_tls_listener_and_minimum_version(floed):
    status, _, _ = floed.http("GET", "/floe/health", tls=True)
    assert status == 200
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", floed.https_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(100)


def test_embedded_postgresql(tmp_path):
    server = floe.Floed(None, None, workers=1)
    server.start()
    try:
        deadline = time.time() + 30
        status = None
        while time.time() < deadline:
            status, _, body = server.http("GET", "/floe/health")
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, server.log()
        sock = os.path.join(server.state_dir, "run", ".s.PGSQL.5432")
        assert os.path.exists(sock)
        assert "database schema migrated to version" in server.log()
        pg_pid = int(open(os.path.join(server.state_dir, "pgdata", "postmaster.pid")).readline())
        if floe.IS_ROOT:
            import pwd
            assert os.stat(f"/proc/{pg_pid}").st_uid == pwd.getpwnam("floe").pw_uid
        # It listens on no TCP port.
        assert "listen_addresses = ''" in open(os.path.join(server.state_dir, "pgdata", "postgresql.conf")).read()
    finally:
        code = server.stop()
    assert code == 0
    assert "embedded PostgreSQL: stopped" in server.log()
    assert not os.path.exists(f"/proc/{pg_pid}")
    # A second start reuses the cluster and finds the schema current.
    server.start()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and "database schema is up to date" not in server.log():
            time.sleep(0.2)
        assert "database schema is up to date" in server.log()
    finally:
        assert server.stop() == 0

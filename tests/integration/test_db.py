"""The database layer inside a running floed: migrations at start-up, the
health check, clean failures while PostgreSQL is down and recovery after it
comes back (LISTEN included), query timeouts, change notices between
workers, and transactions that fail without writing anything."""

import http.client
import json
import time
import uuid

import pytest

import floe


def get(server, path, timeout=10):
    status, _, body = server.http("GET", path, timeout=timeout)
    return status, body.decode(errors="replace")


def get_json(server, path, timeout=10):
    status, body = get(server, path, timeout)
    return status, json.loads(body)


class Pinned:
    """A keep-alive connection and the worker pid that serves it."""

    def __init__(self, server, timeout=15):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=timeout)
        self.conn.request("GET", "/_test/pid")
        r = self.conn.getresponse()
        self.pid = int(r.read().decode())

    def send(self, path):
        self.conn.request("GET", path)

    def receive(self):
        r = self.conn.getresponse()
        return r.status, r.read().decode(errors="replace")

    def get(self, path):
        self.send(path)
        return self.receive()

    def close(self):
        self.conn.close()


def pin_workers(server, pids, tries=60):
    """One pinned connection for each pid in pids."""
    pinned, spare = {}, []
    for _ in range(tries):
        p = Pinned(server)
        if p.pid in pids and p.pid not in pinned:
            pinned[p.pid] = p
        else:
            spare.append(p)
        if len(pinned) == len(pids):
            break
        time.sleep(0.02)
    for p in spare:
        p.close()
    assert len(pinned) == len(pids), f"connections reached only workers {sorted(pinned)} of {pids}"
    return pinned


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def wait_notify_up_everywhere(server, timeout=15):
    """Until /floe/health has said notify=up from every worker."""
    want = set(server.worker_pids())
    seen = set()

    def probe():
        status, body = get(server, "/floe/health")
        if status == 200:
            doc = json.loads(body)
            if doc.get("notify") == "up":
                seen.add(doc["pid"])
        return want <= seen

    assert wait_for(probe, timeout, 0.02), f"notify up only on {seen} of {want}"


# --- migrations ---

def test_migrations_applied_once(pg):
    url = pg.create_database("mig_" + uuid.uuid4().hex[:8])
    db = url.rsplit("/", 1)[1]
    server = floe.Floed(None, pg, workers=1, db_url=url)
    server.start()
    try:
        rows = pg.psql("SELECT version, name FROM schema_migrations ORDER BY version", db=db)
        assert rows.splitlines()[0] == "1|0001_init"
        # Every migration the binary carries is applied on a fresh database.
        latest = int(pg.psql("SELECT max(version) FROM schema_migrations", db=db))
        assert f"database schema migrated to version {latest} ({latest} migration(s) applied)" in server.log()
        applied_at = pg.psql("SELECT applied_at FROM schema_migrations WHERE version = 1", db=db)
        assert pg.psql("SELECT count(*) FROM folders", db=db) == "0"
    finally:
        assert server.stop() == 0

    server.start()
    try:
        assert "up to date" in server.log()
        assert pg.psql("SELECT count(*) FROM schema_migrations", db=db) == str(latest)
        assert pg.psql("SELECT applied_at FROM schema_migrations WHERE version = 1", db=db) == applied_at
    finally:
        assert server.stop() == 0


def test_newer_schema_is_refused(pg):
    url = pg.create_database("mig_" + uuid.uuid4().hex[:8])
    db = url.rsplit("/", 1)[1]
    server = floe.Floed(None, pg, workers=1, db_url=url)
    server.start()
    server.stop()
    pg.psql("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')", db=db)
    code = server.start(expect_fail=True)
    assert code == 1, server.log()
    assert "database schema version 9999 is newer than this floed (" in server.log()
    assert pg.psql("SELECT max(version) FROM schema_migrations", db=db) == "9999"


# --- health ---

def test_health(floed):
    status, doc = get_json(floed, "/floe/health")
    assert status == 200, doc
    assert doc["status"] == "ok" and doc["db"] == "up"
    assert doc["notify"] in ("up", "down")
    assert doc["pid"] in floed.worker_pids()
    wait_notify_up_everywhere(floed)
    status, _ = get(floed, "/floe/healthz")
    assert status == 404


def test_bad_test_parameters(floed):
    for path in ("/_test/watch", "/_test/watch?account=x", "/_test/notify?account=1&folder=-1",
                 "/_test/sleep?s=1;select", "/_test/sleep", "/_test/txn?fail=2",
                 "/_test/txn?note=a'b"):
        status, body = get(floed, path)
        assert status == 400, (path, body)


# --- database outage ---

@pytest.fixture
def own_pg():
    """A cluster of its own, so that stopping it disturbs no other test."""
    cluster = floe.PgCluster()
    yield cluster
    cluster.stop()


def test_database_restart(own_pg):
    pg = own_pg
    server = floe.Floed(None, pg, workers=2)
    server.start()
    try:
        workers = server.worker_pids()
        wait_notify_up_everywhere(server)
        pinned = pin_workers(server, workers)
        # A watch parked on each worker through the outage.
        for p in pinned.values():
            p.send("/_test/watch?account=77&ms=60000")
        time.sleep(0.3)

        pg.stop()
        for path in ("/floe/health", "/_test/sleep?s=0", "/floe/health", "/_test/sleep?s=0"):
            started = time.time()
            status, body = get(server, path)
            assert status == 503, (path, body)
            assert "database unavailable" in body, body
            assert time.time() - started < 2, f"{path} took {time.time() - started:.1f}s"
        status, doc = get_json(server, "/floe/health")
        assert doc["status"] == "error" and "database unavailable" in doc["db"]
        status, body = get(server, "/_test/txn?fail=0")
        assert status == 503 and "database unavailable" in body
        assert server.proc.poll() is None
        assert server.worker_pids() == workers, "workers must survive the outage"

        pg.start()
        assert wait_for(lambda: get(server, "/floe/health")[0] == 200, 20), server.log()
        # LISTEN resumed: the parked watches were woken as "possibly changed".
        for pid, p in pinned.items():
            status, body = p.receive()
            assert status == 200, body
            doc = json.loads(body)
            assert doc == {"account": 77, "folder": 0, "modseq": 0, "possibly": True, "pid": pid}
        # And fresh watches get real notices.
        wait_notify_up_everywhere(server)
        for p in pinned.values():
            p.send("/_test/watch?account=78&folder=3&ms=15000")
        time.sleep(0.3)
        pg.psql("SELECT pg_notify('floe_change', '78 3 41')")
        for pid, p in pinned.items():
            status, body = p.receive()
            assert status == 200, body
            assert json.loads(body) == {"account": 78, "folder": 3, "modseq": 41, "possibly": False,
                                        "pid": pid}
            p.close()
        assert server.worker_pids() == workers
        log = server.log()
        assert "db: database unavailable" in log
        assert "db: database available again" in log
        assert "notify: connection lost" in log
        # Logged once per change of state, not once per retry.
        assert log.count("db: database unavailable") <= 2 * len(workers), log
    finally:
        assert server.stop() == 0


# --- timeouts ---

def test_query_timeout(pg):
    server = floe.Floed(None, pg, workers=1, config={"db": {"query_timeout": "1s"}})
    server.start()
    try:
        started = time.time()
        status, body = get(server, "/_test/sleep?s=3")
        elapsed = time.time() - started
        assert status == 503, body
        assert "timed out after 1000 ms" in body, body
        assert elapsed < 2.5, elapsed
        # The connection was reset; the next query works.
        assert get(server, "/_test/sleep?s=0")[0] == 200
        assert get(server, "/floe/health")[0] == 200
        # An explicit, longer timeout is honoured by the server too.
        status, body = get(server, "/_test/sleep?s=1.5&timeout=4000")
        assert status == 200, body
        status, body = get(server, "/_test/sleep?s=2&timeout=500")
        assert status == 503 and "timed out after 500 ms" in body, body
        assert get(server, "/_test/sleep?s=0.1")[0] == 200
    finally:
        assert server.stop() == 0


# --- change notices ---

def test_notice_reaches_watcher_in_other_worker(floed, pg):
    workers = floed.worker_pids()
    assert len(workers) == 2
    wait_notify_up_everywhere(floed)
    watchers = pin_workers(floed, workers)
    senders = pin_workers(floed, workers)

    # Round 1: sent through the pool of worker A; B's watcher must hear it.
    a, b = workers
    for p in watchers.values():
        p.send("/_test/watch?account=501&folder=7&ms=10000")
    time.sleep(0.3)
    status, body = senders[a].get("/_test/notify?account=501&folder=7&modseq=1234")
    assert status == 200 and json.loads(body)["pid"] == a, body
    for pid, p in watchers.items():
        status, body = p.receive()
        assert status == 200, body
        assert json.loads(body) == {"account": 501, "folder": 7, "modseq": 1234, "possibly": False,
                                    "pid": pid}

    # Round 2: the other way, to an account-wide watch.
    for p in watchers.values():
        p.send("/_test/watch?account=501&ms=10000")
    time.sleep(0.3)
    status, body = senders[b].get("/_test/notify?account=501&folder=9&modseq=5")
    assert status == 200, body
    for pid, p in watchers.items():
        status, body = p.receive()
        assert status == 200, body
        assert json.loads(body) == {"account": 501, "folder": 9, "modseq": 5, "possibly": False,
                                    "pid": pid}

    # Round 3: straight from PostgreSQL (another node would do this), with
    # garbage and an unwatched key first, which must change nothing.
    for p in watchers.values():
        p.send("/_test/watch?account=502&folder=1&ms=10000")
    time.sleep(0.3)
    pg.psql("SELECT pg_notify('floe_change', 'garbage'), pg_notify('floe_change', '502 1 99999999999999999999'),"
            " pg_notify('floe_change', '503 1 1'), pg_notify('floe_other', '502 1 1')")
    pg.psql("SELECT pg_notify('floe_change', '502 1 77')")
    for pid, p in watchers.items():
        status, body = p.receive()
        assert status == 200, body
        assert json.loads(body)["modseq"] == 77
    for p in list(watchers.values()) + list(senders.values()):
        p.close()
    assert floed.worker_pids() == workers


def test_watch_times_out_and_abort_is_harmless(floed):
    # Until a worker listens, a new watch is woken as "possibly changed".
    wait_notify_up_everywhere(floed)
    started = time.time()
    status, body = get(floed, "/_test/watch?account=600&ms=300")
    assert status == 408 and "timeout" in body
    assert time.time() - started < 3
    # Clients that leave while parked: their watches are removed, and a
    # later notice for the key must not touch freed memory.
    for _ in range(5):
        floe.http_raw(floed.http_port, b"GET /_test/watch?account=601&ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n",
                      timeout=0.2)
    time.sleep(0.2)
    workers = floed.worker_pids()
    assert get(floed, "/_test/notify?account=601&folder=0&modseq=1")[0] == 200
    time.sleep(0.3)
    assert floed.worker_pids() == workers
    assert get(floed, "/floe/health")[0] == 200


# --- transactions ---

def test_transaction_failure_writes_nothing(floed, pg):
    good, bad = "ok-" + uuid.uuid4().hex[:8], "bad-" + uuid.uuid4().hex[:8]
    status, doc = get_json(floed, f"/_test/txn?fail=0&note={good}")
    assert status == 200 and doc["outcome"] == "committed", doc
    status, doc = get_json(floed, f"/_test/txn?fail=1&note={bad}")
    assert status == 500, doc
    assert doc["outcome"] == "rolled back" and doc["error"] == "division by zero", doc
    assert pg.psql(f"SELECT count(*) FROM test_scratch WHERE note = '{good}'") == "1"
    assert pg.psql(f"SELECT count(*) FROM test_scratch WHERE note = '{bad}'") == "0"
    # The connection went back to the pool in a usable state.
    for _ in range(6):
        assert get(floed, "/_test/sleep?s=0")[0] == 200
    status, doc = get_json(floed, f"/_test/txn?fail=0&note={good}")
    assert status == 200
    assert pg.psql(f"SELECT count(*) FROM test_scratch WHERE note = '{good}'") == "2"

"""Authentication against a real PostgreSQL, through the C driver
tests/auth/auth-driver: the failed-login counters and lockouts of
db/store-auth.c (counting, locking, windows and locks that pass, resets,
clean-up, the password-hash upgrade, counting from several processes at
once as several workers or nodes would), and the login flow of
modules/auth.c over the real store (addresses, local parts, aliases,
delays, lockouts, disabled accounts, hash upgrades, database down). The
IMAP tests cover LOGIN and AUTHENTICATE on top."""

import os
import re
import subprocess
import uuid

import pytest

import floe

DRIVER = os.path.join(floe.BUILDDIR, "tests", "auth", "auth-driver")


class Driver:
    def __init__(self, url):
        self.url = url

    def run(self, *commands):
        """Runs the commands; returns one list of output lines per command.
        The driver's log (standard error) is kept in self.log."""
        r = subprocess.run([DRIVER, self.url], input="\n".join(commands) + "\n",
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        self.log = r.stderr
        out, cur = [], []
        for line in r.stdout.splitlines():
            if line == "done":
                out.append(cur)
                cur = []
            else:
                cur.append(line)
        assert len(out) == len(commands), r.stdout
        return out

    def one(self, command):
        return self.run(command)[0]


def states(lines):
    """{(kind, value): {"failures": n, "locked": 0/1, "lock_ms": ms, "just_locked": 0/1}}"""
    out = {}
    for line in lines:
        assert not line.startswith("error"), line
        m = re.fullmatch(r"(\w+) (\S+) failures=(\d+) locked=(\d) lock_ms=(\d+) just_locked=(\d)", line)
        assert m, line
        out[(m[1], m[2])] = {"failures": int(m[3]), "locked": int(m[4]), "lock_ms": int(m[5]),
                             "just_locked": int(m[6])}
    return out


@pytest.fixture(scope="module")
def db(pg):
    if not os.access(DRIVER, os.X_OK):
        pytest.skip("tests/auth/auth-driver is not built (make check builds it)")
    url = pg.create_database("auth_" + uuid.uuid4().hex[:10])
    d = Driver(url)
    d.run("check 1000 ip:0.0.0.0")  # applies the migrations
    d.dbname = url.rsplit("/", 1)[1]
    d.psql = lambda sql: pg.psql(sql, db=d.dbname)
    return d


def test_table_is_unlogged(db):
    assert db.psql("SELECT relpersistence FROM pg_class WHERE relname = 'auth_failures'") == "u"


def test_count_then_lock(db):
    ip, acct = "ip:192.0.2.10", "account:1010"
    out = db.run(*[f"fail 3 60000 2000 {ip} {acct}"] * 4)
    s = [states(lines) for lines in out]
    for n in range(2):
        assert s[n][("ip", "192.0.2.10")] == {"failures": n + 1, "locked": 0, "lock_ms": 0, "just_locked": 0}
        assert s[n][("account", "1010")]["failures"] == n + 1
    third = s[2][("account", "1010")]
    assert third["failures"] == 3 and third["locked"] == 1 and third["just_locked"] == 1
    assert 1900 <= third["lock_ms"] <= 2000
    assert s[2][("ip", "192.0.2.10")]["just_locked"] == 1
    # A failure on a locked key changes nothing and reports no new lock.
    fourth = s[3][("account", "1010")]
    assert fourth["failures"] == 3 and fourth["locked"] == 1 and fourth["just_locked"] == 0
    chk = states(db.one(f"check 60000 {ip} {acct} login:nobody"))
    assert set(chk) == {("ip", "192.0.2.10"), ("account", "1010")}
    assert chk[("account", "1010")]["locked"] == 1
    assert 0 < chk[("account", "1010")]["lock_ms"] <= 2000


def test_one_failure_locks_when_max_is_one(db):
    s = states(db.one("fail 1 60000 5000 login:single"))
    assert s[("login", "single")] == {"failures": 1, "locked": 1, "lock_ms": 5000, "just_locked": 1}


def test_window_passes(db):
    key = "login:windowed"
    db.run(f"fail 5 60000 60000 {key}", f"fail 5 60000 60000 {key}")
    db.psql("UPDATE auth_failures SET window_start = now() - interval '2 minutes' WHERE key = 'windowed'")
    assert states(db.one(f"check 60000 {key}"))[("login", "windowed")]["failures"] == 0
    s = states(db.one(f"fail 5 60000 60000 {key}"))
    assert s[("login", "windowed")]["failures"] == 1, "a passed window starts again at 1"


def test_lock_passes(db):
    key = "ip:198.51.100.77"
    db.run(*[f"fail 2 60000 60000 {key}"] * 2)
    assert states(db.one(f"check 60000 {key}"))[("ip", "198.51.100.77")]["locked"] == 1
    db.psql("UPDATE auth_failures SET locked_until = now() - interval '1 second' WHERE key = '198.51.100.77'")
    chk = states(db.one(f"check 60000 {key}"))[("ip", "198.51.100.77")]
    assert chk["locked"] == 0 and chk["failures"] == 0
    s = states(db.one(f"fail 2 60000 60000 {key}"))[("ip", "198.51.100.77")]
    assert s == {"failures": 1, "locked": 0, "lock_ms": 0, "just_locked": 0}


def test_reset_forgets_only_that_key(db):
    db.one("fail 5 60000 60000 ip:203.0.113.5 account:2020")
    assert db.one("reset account:2020") == []
    chk = states(db.one("check 60000 ip:203.0.113.5 account:2020"))
    assert set(chk) == {("ip", "203.0.113.5")}
    assert db.one("reset account:2020") == [], "resetting nothing is fine"


def test_values_are_parameters(db):
    odd = "o'brien\"\\x@example.com"
    s = states(db.one(f"fail 5 60000 60000 login:{odd}"))
    assert s[("login", odd)]["failures"] == 1
    assert db.psql("SELECT count(*) FROM auth_failures WHERE kind = 'login' AND key = $$" + odd + "$$") == "1"


def test_expire(db):
    db.run("fail 5 60000 60000 login:old-one", "fail 5 60000 60000 login:fresh-one",
           "fail 1 60000 60000 login:old-lock")
    db.psql("UPDATE auth_failures SET window_start = now() - interval '10 minutes' WHERE key = 'old-one'")
    db.psql("UPDATE auth_failures SET window_start = now() - interval '20 minutes',"
            " locked_until = now() - interval '10 minutes' WHERE key = 'old-lock'")
    assert db.one("expire 60000") == []
    keys = db.psql("SELECT key FROM auth_failures WHERE key IN ('old-one', 'fresh-one', 'old-lock')")
    assert keys.split() == ["fresh-one"]


def test_update_hash(db):
    db.psql("INSERT INTO domains (name) VALUES ('auth-test.example')")
    acct = db.psql("INSERT INTO accounts (domain_id, local_part) SELECT id, 'hashy' FROM domains"
                   " WHERE name = 'auth-test.example' RETURNING id").splitlines()[0]
    db.psql(f"INSERT INTO credentials (account_id, secret) VALUES ({acct}, '$argon2i$old')")
    assert db.one(f"update-hash {acct} $argon2id$other $argon2id$new") == []
    assert db.psql(f"SELECT secret FROM credentials WHERE account_id = {acct}") == "$argon2i$old", \
        "a hash that changed meanwhile is left alone"
    assert db.one(f"update-hash {acct} $argon2i$old $argon2id$new") == []
    assert db.psql(f"SELECT secret FROM credentials WHERE account_id = {acct}") == "$argon2id$new"


def test_concurrent_processes_lock_exactly_once(db):
    cmd = "failmany 25 10 60000 60000 ip:192.0.2.200 account:3030"
    procs = [subprocess.Popen([DRIVER, db.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(cmd + "\n", timeout=60) for p in procs]
    just = 0
    for (out, err), p in zip(outs, procs):
        assert p.returncode == 0, err
        m = re.search(r"just_locked=(\d+) locked=(\d+) max_failures=(\d+) errors=(\d+)", out)
        assert m, out
        assert m[4] == "0", err
        just += int(m[1])
    assert just == 2, "each of the two keys locked by exactly one failure"
    chk = states(db.one("check 60000 ip:192.0.2.200 account:3030"))
    assert chk[("ip", "192.0.2.200")]["failures"] == 10
    assert chk[("account", "3030")]["failures"] == 10
    assert chk[("account", "3030")]["locked"] == 1


def test_database_down(db):
    """With the database unreachable, every operation answers with an error
    at once instead of hanging."""
    url = f"postgresql://floe@127.0.0.1:{floe.free_port()}/nothing"
    r = subprocess.run([DRIVER, "--no-migrate", url],
                       input="check 1000 ip:1.2.3.4\nfail 3 1000 1000 ip:1.2.3.4\nreset ip:1.2.3.4\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    outs = r.stdout.split("done\n")[:3]
    assert len(outs) == 3, r.stdout
    for out in outs:
        assert out.startswith("error: database unavailable"), out


# ---------------------------------------------------------------------------
# The login flow (modules/auth.c over the real store)

DELAY = 300
SETTINGS = f"settings 3 60000 60000 {DELAY}"


def login_result(line):
    m = re.fullmatch(r"result=(\S+) account=(\d+) address=(\S+) elapsed_ms=(\d+) error=(.*)", line)
    assert m, line
    return {"result": m[1], "account": int(m[2]), "address": m[3], "elapsed": int(m[4]), "error": m[5]}


def logins(db, *attempts, settings=SETTINGS):
    """attempts: (login, password, ip) tuples, run in order in one process."""
    out = db.run(settings, *[f"login {u} {p} {ip}" for u, p, ip in attempts])
    assert out[0] == []
    return [login_result(lines[0]) for lines in out[1:]]


@pytest.fixture(scope="module")
def users(db):
    """Domain flow.example (local-part logins allowed) with accounts demo
    (alias info), off (disabled), lock, old, each with password "s3cret"."""
    h = db.one("hash s3cret")[0]
    db.psql("INSERT INTO domains (name, local_login) VALUES ('flow.example', true)")
    ids = {}
    for name, enabled in (("demo", True), ("off", False), ("lock", True), ("old", True), ("ip", True)):
        ids[name] = int(db.psql(
            "INSERT INTO accounts (domain_id, local_part, display_name, enabled) SELECT id, "
            f"'{name}', 'User {name}', {str(enabled).lower()} FROM domains WHERE name = 'flow.example' "
            "RETURNING id").splitlines()[0])
        db.psql(f"INSERT INTO credentials (account_id, secret) VALUES ({ids[name]}, '{h}')")
    db.psql("INSERT INTO aliases (account_id, domain_id, local_part) SELECT "
            f"{ids['demo']}, id, 'info' FROM domains WHERE name = 'flow.example'")
    return ids


LONG_DELAY = 30000


def test_login_ok_by_address_local_part_and_alias(db, users):
    # With a failure delay far above any hashing time, an answer before it
    # shows that a success is not delayed (no race with a loaded machine).
    r = logins(db, ("demo@flow.example", "s3cret", "192.0.2.1"), ("DEMO", "s3cret", "192.0.2.1"),
               ("info@flow.example", "s3cret", "-"), settings=f"settings 3 60000 60000 {LONG_DELAY}")
    for x in r:
        assert x["result"] == "ok", x
        assert x["account"] == users["demo"] and x["address"] == "demo@flow.example"
        assert x["elapsed"] < LONG_DELAY, "a success is not delayed"
    assert "auth: test login demo@flow.example from 192.0.2.1" in db.log
    assert "auth: test login demo@flow.example (as DEMO) from 192.0.2.1" in db.log
    assert "s3cret" not in db.log


def test_failures_are_delayed_and_alike(db, users):
    wrong, unknown, off_wrong = logins(db, ("demo@flow.example", "nope", "192.0.2.2"),
                                       ("ghost@flow.example", "s3cret", "192.0.2.3"),
                                       ("off@flow.example", "nope", "192.0.2.4"))
    for x in (wrong, unknown, off_wrong):
        assert x["result"] == "failed" and x["error"] == "authentication failed", x
        assert x["elapsed"] >= DELAY - 5, x
    assert "login failed for demo@flow.example from 192.0.2.2: wrong password" in db.log
    assert "login failed for ghost@flow.example from 192.0.2.3: unknown user" in db.log
    assert "nope" not in db.log


def test_disabled_account(db, users):
    x, = logins(db, ("off@flow.example", "s3cret", "192.0.2.5"))
    assert x["result"] == "disabled" and x["elapsed"] >= DELAY - 5, x


def test_account_lockout(db, users):
    r = logins(db, ("lock@flow.example", "a", "198.51.100.1"), ("lock@flow.example", "b", "198.51.100.2"),
               ("lock@flow.example", "c", "198.51.100.3"), ("lock@flow.example", "s3cret", "198.51.100.4"),
               ("demo@flow.example", "s3cret", "198.51.100.4"))
    assert [x["result"] for x in r] == ["failed", "failed", "failed", "locked", "ok"]
    assert r[3]["elapsed"] >= DELAY - 5
    assert "auth: too many failures for account lock@flow.example; locked for 60 s" in db.log
    assert db.log.count("auth: too many failures") == 1, "logged once per lockout"
    assert db.psql(f"SELECT failures FROM auth_failures WHERE kind = 'account' AND key = '{users['lock']}'") == "3"


def test_address_lockout_and_reset(db, users):
    r = logins(db, ("nobody1", "x", "203.0.113.9"), ("nobody2", "x", "203.0.113.9"),
               ("ip@flow.example", "x", "203.0.113.9"), ("ip@flow.example", "s3cret", "203.0.113.9"),
               ("ip@flow.example", "s3cret", "203.0.113.10"))
    assert [x["result"] for x in r] == ["failed", "failed", "failed", "locked", "ok"]
    assert "auth: too many failures from address 203.0.113.9; locked for 60 s" in db.log
    assert db.psql("SELECT failures FROM auth_failures WHERE kind = 'login' AND key = 'nobody1'") == "1"
    # The success from .10 reset the account's counter (one failure from .9).
    assert db.psql(f"SELECT count(*) FROM auth_failures WHERE kind = 'account' AND key = '{users['ip']}'") == "0"


def test_outdated_hash_is_upgraded(db, users):
    old = db.one("hash s3cret 3")[0]
    assert ",t=3," in old
    db.psql(f"UPDATE credentials SET secret = '{old}' WHERE account_id = {users['old']}")
    x, = logins(db, ("old@flow.example", "s3cret", "192.0.2.6"))
    assert x["result"] == "ok"
    new = db.psql(f"SELECT secret FROM credentials WHERE account_id = {users['old']}")
    assert new.startswith("$argon2id$") and ",t=2," in new and new != old
    x, = logins(db, ("old@flow.example", "s3cret", "192.0.2.6"))
    assert x["result"] == "ok", "the new hash verifies"


def test_login_database_down():
    if not os.access(DRIVER, os.X_OK):
        pytest.skip("tests/auth/auth-driver is not built")
    url = f"postgresql://floe@127.0.0.1:{floe.free_port()}/nothing"
    r = subprocess.run([DRIVER, "--no-migrate", url], input=f"{SETTINGS}\nlogin demo s3cret 192.0.2.7\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    x = login_result(r.stdout.split("done\n")[1].strip())
    assert x["result"] == "tempfail" and x["error"].startswith("database unavailable"), x
    assert x["elapsed"] < 5000

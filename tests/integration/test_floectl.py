"""floectl against a throw-away PostgreSQL database (no floed needed):
domains, users, aliases, groups, passwords, JSON output, and the one-line
errors with their exit statuses."""

import ctypes
import ctypes.util
import json
import os
import subprocess
import uuid

import pytest

import floe

FLOECTL = os.path.join(os.environ.get("FLOE_BUILDDIR", floe.BUILDDIR), "floectl")
DEFAULT_FOLDERS = sorted(["INBOX", "Sent", "Drafts", "Trash", "Spam", "Calendar", "Contacts",
                          "Tasks", "Notes", "Journal", "Files"])

_sodium_path = ctypes.util.find_library("sodium")
_sodium = ctypes.CDLL(_sodium_path) if _sodium_path else None
if _sodium is not None:
    _sodium.sodium_init()


def argon2_verify(stored, password):
    """libsodium's own verification of a stored hash (through ctypes)."""
    if _sodium is None:
        pytest.skip("libsodium not found for ctypes")
    pw = password.encode()
    return _sodium.crypto_pwhash_str_verify(stored.encode(), pw, ctypes.c_ulonglong(len(pw))) == 0


def write_config(path, url, state_dir):
    """A configuration with the database URL and no listeners: all floectl needs."""
    sections = {
        "server": {"state_dir": state_dir, "workers": 1, "user": ""},
        "db": {"url": url, "connect_timeout": "2s"},
        "http": {"listen": "", "listen_tls": ""},
        "imap": {"listen": "", "listen_tls": ""},
        "lmtp": {"listen": ""},
        "smtp": {"listen": "", "listen_tls": ""},
        "pop3": {"listen": "", "listen_tls": ""},
    }
    with open(path, "w") as f:
        f.write(floe.render_config(sections))
    return str(path)


class Ctl:
    def __init__(self, config, pg, dbname):
        self.config = config
        self.pg = pg
        self.dbname = dbname

    def run(self, *args, input=None, ok=True):
        r = subprocess.run([FLOECTL, "--config", self.config] + list(args), input=input,
                           capture_output=True, text=True, timeout=60)
        if ok:
            assert r.returncode == 0, f"floectl {' '.join(args)} failed: {r.stderr}"
            assert r.stderr == "", r.stderr
        return r

    def fail(self, *args, input=None, status=1):
        """Runs a command that must fail: returns its one error line."""
        r = self.run(*args, input=input, ok=False)
        assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("floectl: "), r.stderr
        return lines[0]

    def json(self, *args):
        return json.loads(self.run("--json", *args).stdout)

    def sql(self, query):
        return self.pg.psql(query, db=self.dbname)

    def secret(self, address):
        local, domain = address.split("@")
        return self.sql("SELECT c.secret FROM credentials c JOIN accounts a ON a.id = c.account_id "
                        f"JOIN domains d ON d.id = a.domain_id WHERE d.name = '{domain}' "
                        f"AND a.local_part = '{local}' AND c.kind = 'password'")


@pytest.fixture(scope="module")
def ctl(pg, tmp_path_factory):
    """floectl on a database of its own, so other modules' data never shows."""
    dbname = "floectl_" + uuid.uuid4().hex[:12]
    url = pg.create_database(dbname)
    d = tmp_path_factory.mktemp("floectl")
    return Ctl(write_config(d / "floe.conf", url, str(d / "state")), pg, dbname)


@pytest.fixture
def domain(ctl):
    """A fresh domain for one test."""
    name = f"d{uuid.uuid4().hex[:10]}.example"
    ctl.run("domain", "add", name)
    return name


def test_db_migrate(ctl):
    r = ctl.run("db", "migrate")
    assert r.stdout.startswith("schema version ")
    data = ctl.json("db", "migrate")
    assert data["applied"] == 0 and data["schema_version"] >= 1


def test_domain_add_list_remove(ctl):
    name = f"Dom{uuid.uuid4().hex[:8]}.Example"
    r = ctl.run("domain", "add", name)
    assert r.stdout == f"domain {name.lower()} added\n"
    assert name.lower() in ctl.run("domain", "list").stdout
    entry = [d for d in ctl.json("domain", "list") if d["name"] == name.lower()]
    assert len(entry) == 1 and entry[0]["accounts"] == 0 and entry[0]["local_login"] is False

    assert ctl.fail("domain", "add", name) == f"floectl: domain {name.lower()} already exists"
    ctl.run("domain", "remove", name)
    assert name.lower() not in ctl.run("domain", "list").stdout
    assert ctl.fail("domain", "remove", name) == f"floectl: unknown domain {name.lower()}"


def test_domain_local_login_and_bad_names(ctl):
    name = f"ll{uuid.uuid4().hex[:8]}.example"
    data = ctl.json("domain", "add", name, "--local-login", "yes")
    assert data["name"] == name and data["local_login"] is True
    assert "invalid domain name" in ctl.fail("domain", "add", "bad_domain.example")
    assert "invalid domain name" in ctl.fail("domain", "add", "--", "-x.example")
    assert "invalid domain name" in ctl.fail("domain", "add", "a..example")


def test_domain_remove_refused_while_in_use(ctl, domain):
    ctl.run("user", "add", f"u@{domain}", "--password", "pw")
    msg = ctl.fail("domain", "remove", domain)
    assert "still has 1 account" in msg and "--force" in msg
    ctl.run("domain", "remove", domain, "--force")
    assert ctl.sql(f"SELECT count(*) FROM domains WHERE name = '{domain}'") == "0"
    assert ctl.sql(f"SELECT count(*) FROM accounts a WHERE NOT EXISTS "
                   f"(SELECT 1 FROM domains d WHERE d.id = a.domain_id)") == "0"


def test_user_add_with_password_option(ctl, domain):
    address = f"alice@{domain}"
    r = ctl.run("user", "add", address, "--password", "s3cret pass", "--display-name", "Alice Ä",
                "--quota", "1G")
    assert r.stdout == f"user {address} added (11 folders)\n"
    folders = ctl.sql("SELECT f.name FROM folders f JOIN accounts a ON a.id = f.account_id "
                      f"WHERE a.local_part = 'alice' AND a.domain_id = "
                      f"(SELECT id FROM domains WHERE name = '{domain}') ORDER BY f.name")
    assert sorted(folders.splitlines()) == DEFAULT_FOLDERS
    secret = ctl.secret(address)
    assert secret.startswith("$argon2id$")
    assert argon2_verify(secret, "s3cret pass")
    assert not argon2_verify(secret, "wrong")

    shown = ctl.json("user", "show", address)
    assert shown["address"] == address and shown["kind"] == "user"
    assert shown["display_name"] == "Alice Ä" and shown["quota_bytes"] == 1 << 30
    assert shown["enabled"] is True and shown["has_password"] is True and shown["folders"] == 11


def test_user_add_password_from_stdin(ctl, domain):
    address = f"bob@{domain}"
    r = ctl.run("user", "add", f"BOB@{domain.upper()}", input="from stdin\n")
    assert r.stdout == f"user {address} added (11 folders)\n"
    assert argon2_verify(ctl.secret(address), "from stdin")
    assert ctl.sql(f"SELECT count(*) FROM folders f JOIN accounts a ON a.id = f.account_id "
                   f"JOIN domains d ON d.id = a.domain_id WHERE d.name = '{domain}'") == "11"
    # an empty line or no input at all is no password
    assert "empty password" in ctl.fail("user", "add", f"c@{domain}", input="\n")
    assert "no password given" in ctl.fail("user", "add", f"c@{domain}", input="")
    assert ctl.sql(f"SELECT count(*) FROM accounts a JOIN domains d ON d.id = a.domain_id "
                   f"WHERE d.name = '{domain}'") == "1"


def test_duplicate_user(ctl, domain):
    ctl.run("user", "add", f"dup@{domain}", "--password", "x")
    assert ctl.fail("user", "add", f"Dup@{domain}", "--password", "y") == \
        f"floectl: account dup@{domain} already exists"


def test_invalid_addresses(ctl, domain):
    for bad in ["no-at-sign", f"@{domain}", f"a b@{domain}", f"a..b@{domain}", f".a@{domain}",
                f"a@b@{domain}", "x" * 65 + f"@{domain}", "a@bad_domain"]:
        msg = ctl.fail("user", "add", bad, "--password", "x")
        assert msg.startswith("floectl: invalid address"), msg
    assert ctl.sql(f"SELECT count(*) FROM accounts a JOIN domains d ON d.id = a.domain_id "
                   f"WHERE d.name = '{domain}'") == "0"


def test_unknown_domain(ctl):
    assert ctl.fail("user", "add", "x@nowhere.invalid", "--password", "x") == \
        "floectl: unknown domain nowhere.invalid"
    assert ctl.fail("user", "list", "nowhere.invalid") == "floectl: unknown domain nowhere.invalid"


def test_user_list_and_json(ctl, domain):
    ctl.run("user", "add", f"b@{domain}", "--password", "x", "--quota", "500M")
    ctl.run("user", "add", f"a@{domain}", "--password", "x", "--display-name", "A")
    ctl.run("user", "add", f"room@{domain}", "--no-password", "--kind", "resource")
    lines = ctl.run("user", "list", domain).stdout.splitlines()
    assert lines[0].split() == ["ADDRESS", "KIND", "DISPLAY", "NAME", "ENABLED", "QUOTA"]
    assert [ln.split()[0] for ln in lines[1:]] == [f"a@{domain}", f"b@{domain}", f"room@{domain}"]
    assert "500M" in lines[2]
    users = ctl.json("user", "list", domain)
    assert [(u["address"], u["kind"]) for u in users] == [
        (f"a@{domain}", "user"), (f"b@{domain}", "user"), (f"room@{domain}", "resource")]
    assert users[1]["quota_bytes"] == 500 << 20
    room = ctl.json("user", "show", f"room@{domain}")
    assert room["has_password"] is False and room["folders"] == 11


def test_user_set(ctl, domain):
    address = f"set@{domain}"
    ctl.run("user", "add", address, "--password", "x")
    data = ctl.json("user", "set", address, "--display-name", "New Name", "--quota", "2G",
                    "--enabled", "no")
    assert data["display_name"] == "New Name" and data["quota_bytes"] == 2 << 30
    assert data["enabled"] is False
    data = ctl.json("user", "set", address, "--quota", "unlimited")
    assert data["quota_bytes"] == 0 and data["display_name"] == "New Name"
    assert ctl.fail("user", "set", address, status=2).startswith("floectl: user set: nothing")
    assert "expected yes or no" in ctl.fail("user", "set", address, "--enabled", "maybe", status=2)
    assert "--quota" in ctl.fail("user", "set", address, "--quota", "lots", status=2)


def test_aliases(ctl, domain):
    alice, bob = f"alice@{domain}", f"bob@{domain}"
    ctl.run("user", "add", alice, "--password", "x")
    ctl.run("user", "add", bob, "--password", "x")
    r = ctl.run("alias", "add", f"Info@{domain}", alice)
    assert r.stdout == f"alias info@{domain} added for {alice}\n"
    ctl.run("alias", "add", f"sales@{domain}", alice)
    assert ctl.json("alias", "list", alice) == [
        {"alias": f"info@{domain}", "address": alice},
        {"alias": f"sales@{domain}", "address": alice}]
    assert len(ctl.json("alias", "list", domain)) == 2
    assert ctl.json("alias", "list", bob) == []
    assert f"info@{domain}" in ctl.run("alias", "list").stdout
    assert ctl.json("user", "show", alice)["aliases"] == [f"info@{domain}", f"sales@{domain}"]

    # an address is an account or an alias, never both
    assert ctl.fail("alias", "add", bob, alice) == \
        f"floectl: address {bob} already used by an account"
    assert ctl.fail("alias", "add", f"info@{domain}", bob) == \
        f"floectl: address info@{domain} already used as an alias of {alice}"
    assert ctl.fail("user", "add", f"info@{domain}", "--password", "x") == \
        f"floectl: address info@{domain} already used as an alias of {alice}"
    assert ctl.fail("alias", "add", f"x@{domain}", f"nobody@{domain}") == \
        f"floectl: unknown account nobody@{domain}"
    assert ctl.fail("alias", "add", "x@nowhere.invalid", alice) == \
        "floectl: unknown domain nowhere.invalid"

    ctl.run("alias", "remove", f"sales@{domain}")
    assert ctl.json("alias", "list", alice) == [{"alias": f"info@{domain}", "address": alice}]
    assert ctl.fail("alias", "remove", f"sales@{domain}") == \
        f"floectl: unknown alias sales@{domain}"


def test_groups_and_members(ctl, domain):
    a, b, g = f"a@{domain}", f"b@{domain}", f"staff@{domain}"
    ctl.run("user", "add", a, "--password", "x")
    ctl.run("user", "add", b, "--password", "x")
    data = ctl.json("group", "add", g, "--display-name", "All Staff")
    assert data["kind"] == "group" and data["display_name"] == "All Staff"
    assert data["folders"] == 0 and data["has_password"] is False
    assert ctl.fail("group", "add", g) == f"floectl: account {g} already exists"

    ctl.run("group", "members", "add", g, a, b)
    ctl.run("group", "members", "add", g, a)  # already a member: left alone
    assert [m["address"] for m in ctl.json("group", "members", "list", g)] == [a, b]
    groups = ctl.json("group", "list", domain)
    assert len(groups) == 1 and groups[0]["address"] == g and groups[0]["members"] == 2
    assert "All Staff" in ctl.run("group", "list", domain).stdout
    assert ctl.json("user", "show", a)["groups"] == [g]
    assert ctl.json("user", "show", g)["members"] == [a, b]

    assert ctl.fail("group", "members", "add", g, f"zed@{domain}") == \
        f"floectl: unknown account zed@{domain}"
    assert "itself" in ctl.fail("group", "members", "add", g, g)
    assert ctl.fail("group", "members", "add", a, b) == f"floectl: {a} is not a group"
    assert "group" in ctl.fail("user", "remove", g)

    # all or nothing: b is removed only if every member named can be
    assert ctl.fail("group", "members", "remove", g, b, f"c@{domain}") == \
        f"floectl: unknown account c@{domain}"
    assert len(ctl.json("group", "members", "list", g)) == 2
    ctl.run("group", "members", "remove", g, b)
    assert [m["address"] for m in ctl.json("group", "members", "list", g)] == [a]
    assert ctl.fail("group", "members", "remove", g, b) == \
        f"floectl: {b} is not a member of {g}"

    ctl.run("group", "remove", g)
    assert ctl.json("group", "list", domain) == []
    assert ctl.json("user", "show", a)["groups"] == []
    assert ctl.fail("group", "remove", a) == f"floectl: {a} is not a group"


def test_passwd_changes_hash(ctl, domain):
    address = f"pw@{domain}"
    ctl.run("user", "add", address, "--password", "old password")
    before = ctl.secret(address)
    assert ctl.run("user", "passwd", address, "--password", "new password").stdout == \
        f"password of {address} changed\n"
    after = ctl.secret(address)
    assert after != before and after.startswith("$argon2id$")
    assert argon2_verify(after, "new password")
    assert not argon2_verify(after, "old password")
    ctl.run("user", "passwd", address, input="third one\n")
    assert argon2_verify(ctl.secret(address), "third one")
    assert ctl.fail("user", "passwd", f"nobody@{domain}", "--password", "x") == \
        f"floectl: unknown account nobody@{domain}"


def test_user_remove_cascades(ctl, domain):
    address, other, group = f"gone@{domain}", f"stay@{domain}", f"grp@{domain}"
    ctl.run("user", "add", address, "--password", "x")
    ctl.run("user", "add", other, "--password", "x")
    ctl.run("group", "add", group)
    ctl.run("group", "members", "add", group, address, other)
    ctl.run("alias", "add", f"also@{domain}", address)
    account_id = ctl.json("user", "show", address)["id"]

    assert ctl.run("user", "remove", address).stdout == f"account {address} removed\n"
    for table, column in [("accounts", "id"), ("folders", "account_id"),
                          ("credentials", "account_id"), ("aliases", "account_id"),
                          ("subscriptions", "account_id"), ("group_members", "member_id")]:
        assert ctl.sql(f"SELECT count(*) FROM {table} WHERE {column} = {account_id}") == "0", table
    assert [m["address"] for m in ctl.json("group", "members", "list", group)] == [other]
    assert ctl.fail("user", "show", address) == f"floectl: unknown account {address}"
    assert ctl.fail("user", "remove", address) == f"floectl: unknown account {address}"
    # the alias's address is free again
    ctl.run("alias", "add", f"also@{domain}", other)


def test_database_unreachable(tmp_path):
    config = write_config(tmp_path / "floe.conf",
                          f"postgresql://floe@127.0.0.1:{floe.free_port()}/floe",
                          str(tmp_path / "state"))
    r = subprocess.run([FLOECTL, "--config", config, "domain", "list"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("floectl: database unreachable: "), r.stderr


def test_embedded_database_not_running(tmp_path):
    config = write_config(tmp_path / "floe.conf", "local", str(tmp_path / "state"))
    r = subprocess.run([FLOECTL, "--config", config, "user", "list"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("floectl: database unreachable: ")
    assert lines[0].endswith("(is floed running?)")


def test_bad_configuration(tmp_path):
    r = subprocess.run([FLOECTL, "--config", str(tmp_path / "missing.conf"), "domain", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"floectl: {tmp_path / 'missing.conf'}")


def test_usage_errors(ctl):
    assert ctl.fail("frobnicate", status=2) == \
        "floectl: unknown command 'frobnicate' (see floectl --help)"
    assert "needs a subcommand" in ctl.fail("user", status=2)
    assert "unknown command 'user frob'" in ctl.fail("user", "frob", status=2)
    assert "unknown option --bogus" in ctl.fail("user", "list", "--bogus", status=2)
    assert "missing ADDRESS" in ctl.fail("user", "add", status=2)
    assert "unexpected argument" in ctl.fail("user", "show", "a@b.example", "c@d.example",
                                            status=2)
    assert "--kind" in ctl.fail("user", "add", "a@b.example", "--kind", "robot", status=2)
    r = subprocess.run([FLOECTL], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr == "floectl: missing command (see floectl --help)\n"


def test_help():
    r = subprocess.run([FLOECTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for command in ["domain add", "domain list", "domain remove", "user add", "user list",
                    "user show", "user remove", "user passwd", "user set", "alias add",
                    "alias remove", "alias list", "group add", "group list", "group remove",
                    "group members add", "group members remove", "group members list",
                    "db migrate"]:
        assert f"floectl {command}" in r.stdout, command
    r = subprocess.run([FLOECTL, "help", "user", "add"], capture_output=True, text=True)
    assert r.returncode == 0 and "--password" in r.stdout and "standard input" in r.stdout
    r = subprocess.run([FLOECTL, "group", "members", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "group members remove" in r.stdout
    r = subprocess.run([FLOECTL, "user", "passwd", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "floectl user passwd ADDRESS" in r.stdout

#!/usr/bin/env python3
"""bench/imap: the same IMAP workload against Floe and against Dovecot from
Debian, in one run on this machine, and the ratio.

Each server gets the same accounts and mailboxes (APPENDed over IMAP), then
CLIENTS concurrent sessions replay a mix for DURATION seconds: LOGIN, LIST,
SELECT, FETCH of headers and bodies, STORE flags, SEARCH, APPEND +
EXPUNGE, STATUS, NOOP and a short IDLE. Reported: commands per second and
p50/p99 latency per server, and Floe/Dovecot. Also: the time of a
CONDSTORE "anything changed?" poll of a 10 000-message folder with no
changes, and (Floe only) the memory of N idle IDLE sessions.

Passwords: Floe stores Argon2id hashes (m=64 MiB, t=2) and remembers a
successful verification per worker for [auth] cache_ttl (5 minutes), so a
user's first login on each worker costs one Argon2id verification and the
later ones none. Dovecot by default gets the passwords in clear ({PLAIN}
in a passwd-file): it never hashes, the cheapest login there is, which
makes the comparison harder for Floe. --dovecot-scheme argon2id gives
Dovecot Argon2id hashes (doveadm pw, m=64 MiB, t=3) and its passdb cache
(auth_cache_size 10M, 5 minutes), the setting closest to Floe's; Dovecot's
cache still verifies the password against the cached hash at each login.

Usage (as root, after a build; dovecot-imapd installed):
    FLOE_BUILDDIR=build python3 bench/imap/run.py [--clients 50] [--duration 30] [--repeat 3]
"""

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import floe  # noqa: E402

WORDS = ("meeting budget report invoice holiday project review draft lunch contract travel "
         "schedule update release server backup calendar customer support question answer").split()


def make_message(rng, i, size):
    subject = " ".join(rng.choice(WORDS) for _ in range(4))
    body_line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\r\n"
    body = body_line * max(1, size // len(body_line))
    if i % 4 == 0:
        att = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 2 + "\r\n") * max(1, size // 200)
        return (f"From: Sender {i} <sender{i % 37}@example.org>\r\nTo: user@example.com\r\n"
                f"Subject: {subject} {i}\r\nDate: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
                f"Message-ID: <bench{i}@example.org>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
                "--b1\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
                "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n"
                f"{att}--b1--\r\n").encode()
    return (f"From: Sender {i} <sender{i % 37}@example.org>\r\nTo: user@example.com\r\n"
            f"Subject: {subject} {i}\r\nDate: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <bench{i}@example.org>\r\n\r\n{body}").encode()


class Client:
    """A minimal asynchronous IMAP client: enough for the benchmark."""

    def __init__(self):
        self.n = 0

    async def connect(self, port):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        await self.r.readline()

    async def read_response(self, tag):
        lines = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            while line.endswith(b"}\r\n") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
                lines.append(line + await self.r.readexactly(n))
                line = await self.r.readline()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line.decode(errors="replace").strip())
                lines.append(line)  # the tagged line last
                return lines
            lines.append(line)

    async def cmd(self, text, literal=None):
        self.n += 1
        tag = b"a%d" % self.n
        if literal is None:
            self.w.write(tag + b" " + text.encode() + b"\r\n")
        else:
            self.w.write(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            await self.w.drain()
            cont = await self.r.readline()
            if not cont.startswith(b"+"):
                raise RuntimeError(cont.decode(errors="replace"))
            self.w.write(literal + b"\r\n")
        await self.w.drain()
        return await self.read_response(tag)

    async def idle(self):
        self.n += 1
        tag = b"a%d" % self.n
        self.w.write(tag + b" IDLE\r\n")
        await self.w.drain()
        await self.r.readline()  # "+ idling"
        self.w.write(b"DONE\r\n")
        await self.w.drain()
        await self.read_response(tag)

    def close(self):
        self.w.close()


async def populate(port, users, per_user, seed=1):
    rng = random.Random(seed)
    msgs = [make_message(rng, i, rng.choice((800, 2000, 6000, 20000))) for i in range(per_user)]

    async def one(user):
        c = Client()
        await c.connect(port)
        await c.cmd(f'LOGIN {user} secret')
        for m in msgs:
            await c.cmd("APPEND INBOX", m)
        await c.cmd("LOGOUT")
        c.close()

    for start in range(0, len(users), 10):
        await asyncio.gather(*(one(u) for u in users[start:start + 10]))


async def session(port, user, deadline, lat, rng, base_count):
    c = Client()
    t0 = time.perf_counter()
    await c.connect(port)
    await c.cmd(f"LOGIN {user} secret")
    await c.cmd('LIST "" "*"')
    sel = await c.cmd("SELECT INBOX")
    lat.append(time.perf_counter() - t0)
    # Other sessions append and expunge messages of their own (EXISTS may
    # count one of them); the populated messages stay, so sequence numbers
    # up to their count stay valid.
    exists = base_count
    small = make_message(rng, 999999, 500)
    while time.perf_counter() < deadline:
        r = rng.random()
        seq = rng.randint(1, exists)
        t = time.perf_counter()
        if r < 0.25:
            lo = max(1, seq - 20)
            await c.cmd(f"FETCH {lo}:{seq} (UID FLAGS RFC822.SIZE INTERNALDATE "
                        "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])")
        elif r < 0.40:
            await c.cmd(f"FETCH {seq} (BODY.PEEK[])")
        elif r < 0.55:
            await c.cmd(f"STORE {seq} {rng.choice('+-')}FLAGS.SILENT (\\Seen)")
        elif r < 0.65:
            await c.cmd(rng.choice(("SEARCH UNSEEN", f"SEARCH SUBJECT {rng.choice(WORDS)}",
                                    "SEARCH SINCE 1-Nov-2026 FROM sender3")))
        elif r < 0.72:
            ok = (await c.cmd("APPEND INBOX", small))[-1]
            uid = int(ok.split(b"[APPENDUID ")[1].split(b"]")[0].split()[1])
            await c.cmd(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            await c.cmd(f"UID EXPUNGE {uid}")
        elif r < 0.80:
            await c.cmd("STATUS INBOX (MESSAGES UNSEEN UIDNEXT)")
        elif r < 0.90:
            await c.cmd("NOOP")
        elif r < 0.95:
            await c.idle()
        else:
            await c.cmd('LIST "" "*"')
        lat.append(time.perf_counter() - t)
    await c.cmd("LOGOUT")
    c.close()


async def load(port, users, clients, duration, seed, base_count):
    lat = []
    deadline = time.perf_counter() + duration
    rng = random.Random(seed)
    start = time.perf_counter()
    await asyncio.gather(*(session(port, users[i % len(users)], deadline, lat, random.Random(rng.random()), base_count)
                           for i in range(clients)))
    elapsed = time.perf_counter() - start
    lat.sort()
    return {"ops": len(lat) / elapsed, "p50": lat[len(lat) // 2] * 1000,
            "p99": lat[int(len(lat) * 0.99)] * 1000, "count": len(lat)}


async def condstore_poll(port, user, rounds=20):
    c = Client()
    await c.connect(port)
    await c.cmd(f"LOGIN {user} secret")
    await c.cmd("ENABLE CONDSTORE")
    sel = await c.cmd("SELECT INBOX (CONDSTORE)")
    hms = next(l for l in sel if b"HIGHESTMODSEQ" in l)
    modseq = int(hms.split(b"HIGHESTMODSEQ ")[1].split(b"]")[0])
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        await c.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
        times.append((time.perf_counter() - t) * 1000)
    await c.cmd("LOGOUT")
    c.close()
    return statistics.median(times)


class Dovecot:
    def __init__(self, users, scheme="plain"):
        self.dir = floe.make_dir("dovecot-")
        self.port = floe.free_port()
        user = "floe" if floe.IS_ROOT else os.environ.get("USER", "nobody")
        os.makedirs(f"{self.dir}/home", exist_ok=True)
        if floe.IS_ROOT:
            shutil.chown(f"{self.dir}/home", user, user)
        if scheme == "argon2id":
            pw = subprocess.run(["doveadm", "pw", "-s", "ARGON2ID", "-p", "secret"], check=True,
                                capture_output=True, text=True).stdout.strip()
            cache = "auth_cache_size = 10M\nauth_cache_ttl = 5 mins\n"
        else:
            pw, cache = "{PLAIN}secret", ""
        with open(f"{self.dir}/passwd", "w") as f:
            for u in users:
                f.write(f"{u}:{pw}\n")
        conf = f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
{cache}passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={self.dir}/home/%u
}}
mail_location = maildir:~/Maildir
mail_fsync = optimized
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap {{
  process_limit = 10240
}}
"""
        self.conf = f"{self.dir}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        floe._cleanups.append(self.stop)
        deadline = time.time() + 20
        import socket
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def rss_tree_kib(pid):
    total = 0
    with open(f"/proc/{pid}/status") as f:
        total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    for c in children:
        total += rss_tree_kib(int(c))
    return total


async def idle_sessions(port, user, n):
    conns = []
    for start in range(0, n, 200):
        batch = []
        for _ in range(min(200, n - start)):
            c = Client()
            batch.append(c)
        await asyncio.gather(*(c.connect(port) for c in batch))
        await asyncio.gather(*(c.cmd(f"LOGIN {user} secret") for c in batch))
        await asyncio.gather(*(c.cmd("SELECT INBOX") for c in batch))
        for c in batch:
            c.n += 1
            c.w.write(b"i IDLE\r\n")
        await asyncio.gather(*(c.r.readline() for c in batch))
        conns.extend(batch)
    return conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--users", type=int, default=25)
    ap.add_argument("--messages", type=int, default=200, help="per user")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-folder", type=int, default=10000)
    ap.add_argument("--idle-sessions", type=int, default=10000)
    ap.add_argument("--only", choices=["floe", "dovecot"])
    ap.add_argument("--dovecot-scheme", choices=["plain", "argon2id"], default="plain",
                    help="how Dovecot's passwd-file stores the passwords (see above)")
    args = ap.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    users = [f"bench{i}@example.com" for i in range(args.users)]
    big = "big@example.com"
    servers = {}
    if args.only != "dovecot":
        pg = floe.PgCluster()
        fl = floe.Floed(None, pg, workers=os.cpu_count(), config={
            "imap": {"allow_plaintext_auth": "yes", "max_connections_per_account": 100000,
                     "max_connections_per_ip": 1000000},
            "debug": {"test_endpoints": "no"},
            "auth": {"failure_delay": "0ms"}})
        fl.start()
        ctl = [floe.FLOECTL, "--config", fl.config_path]
        subprocess.run(ctl + ["domain", "add", "example.com"], check=True, stdout=subprocess.DEVNULL)
        for u in users + [big]:
            subprocess.run(ctl + ["user", "add", u, "--password", "secret"], check=True,
                           stdout=subprocess.DEVNULL)
        servers["floe"] = fl.imap_port
    if args.only != "floe":
        dv = Dovecot(users + [big], args.dovecot_scheme)
        servers["dovecot"] = dv.port

    results = {name: [] for name in servers}
    for name, port in servers.items():
        t = time.time()
        asyncio.run(populate(port, users, args.messages))
        asyncio.run(populate(port, [big], args.big_folder))
        print(f"{name}: populated {len(users)}x{args.messages} + {args.big_folder} messages "
              f"in {time.time() - t:.1f} s", flush=True)
    for rep in range(args.repeat):
        for name, port in servers.items():
            r = asyncio.run(load(port, users, args.clients, args.duration, rep, args.messages))
            results[name].append(r)
            print(f"run {rep + 1} {name}: {r['ops']:.0f} commands/s, p50 {r['p50']:.2f} ms, "
                  f"p99 {r['p99']:.2f} ms ({r['count']} commands)", flush=True)
    med = {n: {k: statistics.median(x[k] for x in rs) for k in ("ops", "p50", "p99")}
           for n, rs in results.items()}
    for n, m in med.items():
        print(f"median {n}: {m['ops']:.0f} commands/s, p50 {m['p50']:.2f} ms, p99 {m['p99']:.2f} ms")
    if len(med) == 2:
        print(f"ratio floe/dovecot throughput: {med['floe']['ops'] / med['dovecot']['ops']:.2f}")
    for name, port in servers.items():
        print(f"{name}: CONDSTORE poll of a {args.big_folder}-message folder with no changes: "
              f"{asyncio.run(condstore_poll(port, big)):.2f} ms (median of 20)")
    if "floe" in servers and args.idle_sessions:
        async def idle_mem():
            pids = fl.worker_pids()
            before = sum(rss_tree_kib(p) for p in pids)
            conns = await idle_sessions(fl.imap_port, users[0], args.idle_sessions)
            await asyncio.sleep(2)
            after = sum(rss_tree_kib(p) for p in pids)
            for c in conns:
                c.close()
            return before, after
        before, after = asyncio.run(idle_mem())
        print(f"floe: {args.idle_sessions} idle IDLE sessions: workers' RSS {before} -> {after} KiB, "
              f"{(after - before) / args.idle_sessions:.2f} KiB per session")
    print(f"dovecot password scheme: {args.dovecot_scheme}")
    print(f"date: {time.strftime('%Y-%m-%d')}; command: {' '.join(sys.argv)}")
    floe.cleanup_all()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/eas/ping: parks N ActiveSync Pings (many devices, several client
processes, plain HTTP on loopback) on one floed and reports
  * the workers' resident memory per parked Ping,
  * the workers' CPU while the Pings sit parked,
  * the delay from commit to Ping response after changing 1 % of the
    watched folders over IMAP (p50/p99).
Each device watches a folder of its own, so that changing 1 % of the
folders wakes 1 % of the Pings.

Every parked Ping holds a socket; a process may hold as many descriptors
as the hard RLIMIT_NOFILE allows (floed raises it only with
CAP_SYS_RESOURCE), so floed runs with as many workers as the Pings need
(--workers; one for up to two thirds of the limit) and the figures are
sums over the workers.

Set-up (not measured): one account per --per-account devices, created
with `floectl user add --no-password` and given the first account's
Argon2id hash (one hashing, not one per account); each account's folders
d<i> created over IMAP; one FolderSync per device (it registers the
device and its hierarchy key). Then floed is restarted, so that the
measurement starts from fresh workers whose heaps hold nothing of the
set-up, and every account logs in once on every worker (its [auth] cache;
a burst of Pings of one account on a worker that has not verified its
password yet would queue one Argon2id verification per Ping). The Pings
come from --procs processes, each from its own loopback address
127.0.0.<2+p> (one address has about 28 000 ephemeral ports).

Usage (as root, from a built tree):
    FLOE_BUILDDIR=build python3 bench/eas/ping.py [--devices N]
        [--per-account 100] [--procs P] [--workers W] [--change-percent X]
Environment: BENCH_TRIM=1 also reports the RSS after malloc_trim(0)
(called in the workers through gdb); BENCH_MALLOC_STATS=1 reports glibc's
malloc_stats() of the workers' main arenas; BENCH_WRAP=PATH starts the
measured floed as PATH (e.g. a script running it under valgrind);
BENCH_AT_PARKED="command {pid}" runs a shell command on each worker once
the Pings are parked.
"""

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import gzip
import imaplib
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import eas  # noqa: E402
import floe  # noqa: E402
from easwbxml import E, decode, encode  # noqa: E402

PASSWORD = "bench ping secret"
HEARTBEAT = 1800
USER_AGENT = "Android-Mail/2024.05.12.633405789.Release"


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
    return total


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def floectl(server, *args, stdin=None):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=120, input=stdin)
    if r.returncode != 0:
        raise RuntimeError(f"floectl {args}: {r.stderr}")
    return r.stdout


def gdb_call(pid, expr):
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", f"call {expr}"],
                   capture_output=True, timeout=120)


def malloc_stats(server, pids, label):
    """glibc's malloc_stats() of the workers (it writes to floed's log):
    the main arena's system and in-use bytes, summed."""
    if not os.environ.get("BENCH_MALLOC_STATS"):
        return
    system = in_use = 0
    for pid in pids:
        mark = os.path.getsize(server.log_path)
        gdb_call(pid, "(void) malloc_stats()")
        time.sleep(0.5)
        with open(server.log_path, errors="replace") as f:
            f.seek(mark)
            lines = f.read().splitlines()
        for k, ln in enumerate(lines):
            if ln.startswith("Arena 0:"):
                system += int(lines[k + 1].split("=")[1])
                in_use += int(lines[k + 2].split("=")[1])
                break
    print(f"malloc_stats {label}: main arenas {system} bytes from the system, {in_use} in use",
          flush=True)


def warm_logins(server, devices, users, per_account, nworkers, rounds=12):
    """Logs every account in on every worker (each verifies a password
    with Argon2id once, then answers from its [auth] cache): requests on
    new connections until floed's log shows each account on each worker."""
    pattern = re.compile(r"worker (\d+)\[\d+\]: auth: eas login (\S+) from")
    mark = os.path.getsize(server.log_path)
    seen = collections.defaultdict(set)
    unwarmed = list(range(len(users)))

    def warm(a):
        user, device_id, _ = devices[a * per_account]
        c = eas.android(server.http_port, user, PASSWORD, device_id=device_id)
        r = c.post("Settings", E("Settings:Settings", E("Settings:UserInformation",
                                                         E("Settings:Get"))))
        assert r.status == 200, r

    for _ in range(rounds):
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(warm, [a for a in unwarmed for _ in range(nworkers)]))
        with open(server.log_path, errors="replace") as f:
            f.seek(mark)
            for m in pattern.finditer(f.read()):
                seen[m.group(2)].add(m.group(1))
        unwarmed = [a for a in unwarmed if len(seen[users[a]]) < nworkers]
        if not unwarmed:
            return
    print(f"warning: {len(unwarmed)} account(s) not seen on every worker", flush=True)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def make_accounts(server, pg, domain, count):
    floectl(server, "domain", "add", domain)
    users = [f"u{i}@{domain}" for i in range(count)]
    floectl(server, "user", "add", users[0], "--password", PASSWORD)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda u: floectl(server, "user", "add", u, "--no-password"), users[1:]))
    # Every account gets the first one's hash: one Argon2id hashing in all.
    pg.psql(f"""INSERT INTO credentials (account_id, kind, secret)
        SELECT a.id, 'password', c.secret FROM accounts a
        JOIN domains d ON d.id = a.domain_id AND d.name = '{domain}',
        credentials c JOIN accounts a0 ON a0.id = c.account_id AND a0.local_part = 'u0'
        JOIN domains d0 ON d0.id = a0.domain_id AND d0.name = '{domain}'
        WHERE a.local_part <> 'u0' AND c.kind = 'password'""")
    return users


def make_folders(port, user, indexes):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, PASSWORD)
    for i in indexes:
        typ, data = m.create(f"d{i}")
        assert typ == "OK", data
    m.logout()


def register_device(port, user, index):
    """The device's first FolderSync; returns (user, device id, ServerId of d<index>)."""
    c = eas.android(port, user, PASSWORD, device_id=f"bench{index:06d}{uuid.uuid4().hex[:6]}")
    c.foldersync("0")
    f = c.folder_by_name(f"d{index}")
    assert f is not None, index
    return (user, c.device_id, f.server_id)


def ping_request(user, device_id, folder):
    body = encode(E("Ping:Ping", E("Ping:HeartbeatInterval", str(HEARTBEAT)),
                    E("Ping:Folders", E("Ping:Folder", E("Ping:Id", folder),
                                        E("Ping:Class", "Email")))))
    auth = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    head = (f"POST {eas.PATH}?Cmd=Ping&User={user}&DeviceId={device_id}&DeviceType=Android "
            f"HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {auth}\r\n"
            f"User-Agent: {USER_AGENT}\r\nAccept-Encoding: gzip\r\n"
            f"MS-ASProtocolVersion: 14.1\r\nContent-Type: {eas.WBXML}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def answer_kind(data):
    """"HTTP 200 Status 2" and the like, for the summary of early answers."""
    head, _, body = data.partition(b"\r\n\r\n")
    kind = head[:12].decode(errors="replace")
    try:
        if b"gzip" in head.lower():
            body = gzip.decompress(body)
        kind += " Status " + decode(body).findtext("Status")
    except Exception:
        pass
    return kind


async def client_main(port, source, jobs, parked_q, results_q):
    """Parks one Ping per job; reports when all are sent, then the time each
    answer starts to arrive."""
    async def one(index, request):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(source, 0))
        except OSError as e:
            results_q.put((index, time.time(), False, f"connect: {e}"))
            return
        writer.write(request)
        await writer.drain()
        first = await reader.read(1)
        t = time.time()
        data = first + await reader.read(65536)
        writer.close()
        if os.environ.get("BENCH_DEBUG"):
            print(index, data[:300], flush=True)
        results_q.put((index, t, b" 200 " in data[:20], answer_kind(data)))

    tasks = []
    for start in range(0, len(jobs), 200):
        for index, request in jobs[start:start + 200]:
            tasks.append(asyncio.ensure_future(one(index, request)))
        await asyncio.sleep(0.05)
    parked_q.put(len(jobs))
    await asyncio.gather(*tasks, return_exceptions=True)


def client_proc(port, source, jobs, parked_q, results_q):
    raise_nofile()
    try:
        asyncio.run(client_main(port, source, jobs, parked_q, results_q))
    except KeyboardInterrupt:
        pass


def measure(args, server, devices, users, owner, run):
    """One run on fresh workers: returns the figures of the run. Run k
    changes other folders than the runs before it (whose folders now have
    changes the devices never synced: their Pings answer at once)."""
    server.stop()
    if os.environ.get("BENCH_WRAP"):
        floe.FLOED = os.environ["BENCH_WRAP"]
        server.write_config({"server": {"shutdown_timeout": "300s"},
                             "db": {"connect_timeout": "30s", "query_timeout": "120s"}})
    server.start()
    workers = server.worker_pids()
    procs = []
    try:
        t0 = time.time()
        warm_logins(server, devices, users, args.per_account, len(workers))
        print(f"{len(workers)} worker(s): every account logged in on each in "
              f"{time.time() - t0:.1f} s", flush=True)
        time.sleep(2)
        before = rss_kib(workers)
        malloc_stats(server, workers, "before")

        parked_q, results_q = multiprocessing.Queue(), multiprocessing.Queue()
        t0 = time.time()
        for p in range(args.procs):
            jobs = [(i, ping_request(*devices[i])) for i in range(p, len(devices), args.procs)]
            proc = multiprocessing.Process(target=client_proc,
                                           args=(server.http_port, f"127.0.0.{2 + p}", jobs,
                                                 parked_q, results_q), daemon=True)
            proc.start()
            procs.append(proc)
        for _ in procs:
            parked_q.get(timeout=1800)
        # Let every request reach its parked state (auth, device row, checks):
        # wait until the workers' CPU has been quiet for 3 s.
        last, quiet = cpu_ticks(workers), 0
        while quiet < 3:
            time.sleep(1)
            now = cpu_ticks(workers)
            quiet = quiet + 1 if now - last <= 2 else 0
            last = now
        print(f"sent {len(devices)} Pings; workers quiet after {time.time() - t0:.1f} s",
              flush=True)
        after = rss_kib(workers)
        fds = [len(os.listdir(f"/proc/{w}/fd")) for w in workers]
        early = []
        while not results_q.empty():
            early.append(results_q.get())
        malloc_stats(server, workers, "parked")
        if os.environ.get("BENCH_AT_PARKED"):
            for w in workers:
                subprocess.run(os.environ["BENCH_AT_PARKED"].replace("{pid}", str(w)),
                               shell=True, timeout=600)
        t1, c1 = time.time(), cpu_ticks(workers)
        time.sleep(args.idle_seconds)
        t2, c2 = time.time(), cpu_ticks(workers)
        hz = os.sysconf("SC_CLK_TCK")
        idle_cpu = 100.0 * (c2 - c1) / hz / (t2 - t1)
        parked = len(devices) - len(early)
        per_ping = (after - before) / parked
        kinds = collections.Counter(e[3] for e in early)
        print(f"descriptors per worker: {fds}", flush=True)
        print(f"workers' RSS {before} KiB -> {after} KiB: {per_ping:.2f} KiB per parked Ping "
              f"({len(early)} answered early{': ' + repr(dict(kinds)) if early else ''})",
              flush=True)
        print(f"workers' CPU while {len(devices)} Pings are parked: {idle_cpu:.2f} % of a core",
              flush=True)
        trimmed = None
        if os.environ.get("BENCH_TRIM"):
            for w in workers:
                gdb_call(w, "(int) malloc_trim(0)")
            trimmed = (rss_kib(workers) - before) / parked
            print(f"after malloc_trim(0): {trimmed:.2f} KiB per parked Ping", flush=True)

        # Change 1 % of the watched folders; time from APPEND's OK to the answer.
        n_change = max(1, int(len(devices) * args.change_percent / 100))
        step = max(1, len(devices) // n_change)
        chosen = list(range(run % step, len(devices), step))[:n_change]
        conns = {}
        for i in chosen:
            if owner[i] not in conns:
                conns[owner[i]] = imaplib.IMAP4("127.0.0.1", server.imap_port)
                conns[owner[i]].login(owner[i], PASSWORD)
        commits = {}
        msg = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: push\r\n\r\nHi.\r\n")
        for i in chosen:
            typ, _ = conns[owner[i]].append(f"d{i}", None, None, msg)
            commits[i] = time.time()
            assert typ == "OK"
        delays, ok, stray = [], 0, 0
        deadline = time.time() + 60
        while len(delays) < len(chosen) and time.time() < deadline:
            try:
                index, t, good, _ = results_q.get(timeout=1)
            except Exception:
                continue
            if index in commits:
                delays.append((t - commits[index]) * 1000)
                ok += good
            else:
                stray += 1
        for c in conns.values():
            c.logout()
        delays.sort()
        p50 = statistics.median(delays) if delays else None
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None
        if delays:
            print(f"changed {len(chosen)} folders: {len(delays)} Pings answered ({ok} with 200, "
                  f"{stray} other Pings answered), commit -> response p50 {p50:.1f} ms, "
                  f"p99 {p99:.1f} ms, max {delays[-1]:.1f} ms", flush=True)
        return {"per_ping": per_ping, "trimmed": trimmed, "idle_cpu": idle_cpu, "p50": p50,
                "p99": p99, "early": len(early), "answered": len(delays)}
    finally:
        for proc in procs:
            proc.terminate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--per-account", type=int, default=100)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--change-percent", type=float, default=1.0)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=0,
                    help="floed workers (default: enough for the descriptor limit)")
    ap.add_argument("--runs", type=int, default=1,
                    help="measurements, each on freshly started workers")
    args = ap.parse_args()
    limit = raise_nofile()
    if args.devices / args.procs > limit - 100:
        sys.exit(f"--procs too small for the descriptor limit {limit}")
    # Each worker holds its connections' descriptors under the same limit
    # (floed can raise it only with CAP_SYS_RESOURCE); accepting is not
    # perfectly even between workers, so leave a third spare.
    if args.workers == 0:
        args.workers = max(1, -(-args.devices * 3 // 2 // limit))

    pg = floe.PgCluster()
    server = floe.Floed(None, pg, workers=args.workers, config={
        "imap": {"allow_plaintext_auth": "yes", "max_connections_per_ip": "100000",
                 "max_connections_per_account": "1000"},
        "db": {"pool_size": "8"},
        "http": {"keepalive_timeout": "3600s"}})
    server.start()
    try:
        t0 = time.time()
        domain = f"bench{uuid.uuid4().hex[:6]}.example"
        naccounts = (args.devices + args.per_account - 1) // args.per_account
        users = make_accounts(server, pg, domain, naccounts)
        owner = [users[i // args.per_account] for i in range(args.devices)]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda a: make_folders(server.imap_port, users[a],
                                               range(a * args.per_account,
                                                     min(args.devices, (a + 1) * args.per_account))),
                        range(naccounts)))
        print(f"{naccounts} accounts, {args.devices} folders in {time.time() - t0:.1f} s", flush=True)
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            devices = list(ex.map(lambda i: register_device(server.http_port, owner[i], i),
                                  range(args.devices)))
        print(f"registered {len(devices)} devices in {time.time() - t0:.1f} s", flush=True)
        runs = []
        for run in range(args.runs):
            print(f"--- run {run + 1}", flush=True)
            runs.append(measure(args, server, devices, users, owner, run))
        if args.runs > 1:
            def med(key):
                values = [r[key] for r in runs if r[key] is not None]
                return statistics.median(values) if values else float("nan")
            print(f"medians of {args.runs} runs: {med('per_ping'):.2f} KiB per parked Ping "
                  f"(after malloc_trim {med('trimmed'):.2f}), CPU parked {med('idle_cpu'):.2f} %, "
                  f"commit -> response p50 {med('p50'):.1f} ms, p99 {med('p99'):.1f} ms",
                  flush=True)
    finally:
        server.stop(timeout=600)
        pg.stop()


if __name__ == "__main__":
    main()

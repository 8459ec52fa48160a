#!/usr/bin/env python3
"""bench/eas/sync: the initial ActiveSync Sync of a large Inbox by one
device, as a phone does it: SyncKey 0, then Sync requests with WindowSize
100 and BodyPreference HTML truncated at 32 KiB until MoreAvailable is gone.

Reported: messages per second over the whole initial sync, the time per
Sync request (p50 / max: phones give up around 30 s), and the database
round trips per Sync request, counted as the statements PostgreSQL
committed meanwhile (pg_stat_database.xact_commit: every statement Floe
sends outside a transaction is one commit; nothing else runs during the
measurement).

The Inbox is filled over IMAP APPEND from 8 connections (about 2 KiB
messages, one in four with an attachment); with --runs N the initial sync
is repeated N times by N new devices on the same Inbox.

Also reported: the CPU time floed's workers and PostgreSQL's processes
spent per Sync request, and the client's own time (decoding WBXML in
Python, which the wall-clock figures include). With --profile the cluster
runs pg_stat_statements (top-level statements): the statements Floe sent
per Sync request (the commit count above also counts other transactions
of the cluster, such as the mail queue's pollers) and the costliest.

Usage (as root, after a build):
    FLOE_BUILDDIR=build python3 bench/eas/sync.py [--messages 10000] [--window 100]
        [--runs N] [--profile]
"""

import argparse
import concurrent.futures
import imaplib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import eas  # noqa: E402
import floe  # noqa: E402
from eas import E  # noqa: E402

PASSWORD = "bench sync secret"
WORDS = ("meeting budget report invoice holiday project review draft lunch contract travel "
         "schedule update release server backup calendar customer support question answer").split()


def make_message(rng, i, size=2000):
    subject = " ".join(rng.choice(WORDS) for _ in range(4))
    line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\r\n"
    body = line * max(1, size // len(line))
    head = (f"From: Sender {i} <sender{i % 37}@example.org>\r\nTo: user@example.com\r\n"
            f"Subject: {subject} {i}\r\nDate: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <sync{i}@example.org>\r\nMIME-Version: 1.0\r\n")
    if i % 4 == 0:
        att = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 2 + "\r\n") * 10
        return (head + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
                "--b1\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
                "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n"
                f"{att}--b1--\r\n").encode()
    return (head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def floectl(server, *args):
    r = subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"floectl {args}: {r.stderr}")


def commits(pg):
    # Statistics reach the shared counters about once a second.
    time.sleep(1.5)
    return int(pg.psql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'floe'"))


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def pg_pids(pg):
    out = subprocess.run(["pgrep", "-f", f"postgres.*{pg.data}|postgres: floe"],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def load_inbox(port, user, count, conns=8):
    def part(k):
        m = imaplib.IMAP4("127.0.0.1", port)
        m.login(user, PASSWORD)
        rng = random.Random(7 + k)
        for i in range(k, count, conns):
            typ, data = m.append("INBOX", None, None, make_message(rng, i))
            assert typ == "OK", data
        m.logout()
    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        list(ex.map(part, range(conns)))


# Time the client spends decoding answers (eas.Response parses WBXML).
DECODE = [0.0]
_response_init = eas.Response.__init__


def _timed_init(self, *a, **kw):
    t = time.time()
    _response_init(self, *a, **kw)
    DECODE[0] += time.time() - t


eas.Response.__init__ = _timed_init


def initial_sync(server, pg, user, window, fl_pids):
    c = eas.android(server.http_port, user, PASSWORD)
    c.provision()
    c.foldersync("0")
    inbox = c.folder_by_type(eas.TYPE_INBOX).server_id
    opts = E("AirSync:Options", E("AirSync:FilterType", "0"),
             E("AirSyncBase:BodyPreference", E("AirSyncBase:Type", "2"),
               E("AirSyncBase:TruncationSize", "32768")))

    def sync(key):
        body = E("AirSync:Sync", E("AirSync:Collections", E("AirSync:Collection",
                 E("AirSync:SyncKey", key), E("AirSync:CollectionId", inbox),
                 E("AirSync:DeletesAsMoves", "1"), E("AirSync:GetChanges", "1"),
                 E("AirSync:WindowSize", str(window)), opts)))
        if key == "0":
            body = E("AirSync:Sync", E("AirSync:Collections", E("AirSync:Collection",
                     E("AirSync:SyncKey", key), E("AirSync:CollectionId", inbox), opts)))
        r = c.post("Sync", body, timeout=120)
        assert r.status == 200 and r.node is not None, r
        return r.node.find("Collections/Collection")

    key = sync("0").findtext("SyncKey")
    before = commits(pg)
    times, got, requests = [], 0, 0
    DECODE[0] = 0.0
    pgp = pg_pids(pg)
    t_fl, t_pg = cpu_ticks(fl_pids), cpu_ticks(pgp)
    start = time.time()
    while True:
        t = time.time()
        col = sync(key)
        times.append(time.time() - t)
        requests += 1
        key = col.findtext("SyncKey")
        got += len(col.findall("Commands/Add"))
        if col.find("MoreAvailable") is None:
            break
    elapsed = time.time() - start
    t_fl, t_pg = cpu_ticks(fl_pids) - t_fl, cpu_ticks(pg_pids(pg)) - t_pg
    after = commits(pg)
    hz = os.sysconf("SC_CLK_TCK")
    return {"got": got, "requests": requests, "elapsed": elapsed, "times": times,
            "decode": DECODE[0], "commits": after - before,
            "floed_ms": t_fl / hz * 1000 / requests, "pg_ms": t_pg / hz * 1000 / requests}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    pg = floe.PgCluster()
    if args.profile:
        with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
            f.write("\nshared_preload_libraries = 'pg_stat_statements'\n"
                    "pg_stat_statements.track = top\npg_stat_statements.track_planning = on\n")
        pg.restart()
        pg.psql("CREATE EXTENSION pg_stat_statements")
    server = floe.Floed(None, pg, workers=args.workers,
                        config={"imap": {"allow_plaintext_auth": "yes"}})
    server.start()
    try:
        domain = f"b{uuid.uuid4().hex[:6]}.example"
        user = f"bench@{domain}"
        floectl(server, "domain", "add", domain)
        floectl(server, "user", "add", user, "--password", PASSWORD)
        t0 = time.time()
        load_inbox(server.imap_port, user, args.messages)
        print(f"loaded {args.messages} messages over IMAP in {time.time() - t0:.1f} s", flush=True)
        pg.psql("VACUUM ANALYZE")
        fl_pids = server.worker_pids()
        for run in range(args.runs):
            if args.profile:
                pg.psql("SELECT pg_stat_statements_reset()")
            r = initial_sync(server, pg, user, args.window, fl_pids)
            assert r["got"] == args.messages, (r["got"], args.messages)
            times = r["times"]
            print(f"run {run + 1}: initial sync: {r['got']} messages in {r['requests']} Sync "
                  f"requests, {r['elapsed']:.1f} s: {r['got'] / r['elapsed']:.0f} messages/s "
                  f"({r['got'] / (r['elapsed'] - r['decode']):.0f} without the client's "
                  f"{r['decode']:.1f} s of WBXML decoding)")
            print(f"  per request: p50 {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms; CPU floed {r['floed_ms']:.1f} ms, "
                  f"PostgreSQL {r['pg_ms']:.1f} ms")
            print(f"  database round trips per Sync request: "
                  f"{r['commits'] / r['requests']:.1f} ({r['commits']} commits for "
                  f"{r['requests']} requests)", flush=True)
            if args.profile:
                # Floe's own statements (not the mail queue's pollers).
                calls = pg.psql("""SELECT sum(calls) FROM pg_stat_statements
                    WHERE query NOT LIKE '%queue%' AND query NOT LIKE '%pg_stat_statements%'""")
                print(f"  statements per Sync request (pg_stat_statements): "
                      f"{int(calls) / r['requests']:.2f}", flush=True)
                print(pg.psql("""
                    SELECT calls, round(total_exec_time::numeric, 1),
                           round(mean_exec_time::numeric, 3), round(total_plan_time::numeric, 1),
                           regexp_replace(left(query, 100), '\\s+', ' ', 'g')
                    FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC
                    LIMIT 12"""), flush=True)
    finally:
        server.stop()
        pg.stop()


if __name__ == "__main__":
    main()

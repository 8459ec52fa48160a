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

The Inbox is filled over IMAP APPEND (about 2 KiB messages, one in four
with an attachment).

Usage (as root, after a build):
    FLOE_BUILDDIR=build python3 bench/eas/sync.py [--messages 10000] [--window 100]
"""

import argparse
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    pg = floe.PgCluster()
    server = floe.Floed(None, pg, workers=args.workers,
                        config={"imap": {"allow_plaintext_auth": "yes"}})
    server.start()
    try:
        domain = f"b{uuid.uuid4().hex[:6]}.example"
        user = f"bench@{domain}"
        floectl(server, "domain", "add", domain)
        floectl(server, "user", "add", user, "--password", PASSWORD)
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", server.imap_port)
        m.login(user, PASSWORD)
        rng = random.Random(7)
        t0 = time.time()
        for i in range(args.messages):
            m.append("INBOX", None, None, make_message(rng, i))
        load = time.time() - t0
        m.logout()
        print(f"loaded {args.messages} messages over IMAP in {load:.1f} s", flush=True)

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
                     E("AirSync:WindowSize", str(args.window)), opts)))
            if key == "0":
                body = E("AirSync:Sync", E("AirSync:Collections", E("AirSync:Collection",
                         E("AirSync:SyncKey", key), E("AirSync:CollectionId", inbox), opts)))
            r = c.post("Sync", body, timeout=120)
            assert r.status == 200 and r.node is not None, r
            return r.node.find("Collections/Collection")

        key = sync("0").findtext("SyncKey")
        before = commits(pg)
        times, got, requests = [], 0, 0
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
        after = commits(pg)
        assert got == args.messages, (got, args.messages)
        print(f"initial sync: {got} messages in {requests} Sync requests, {elapsed:.1f} s: "
              f"{got / elapsed:.0f} messages/s")
        print(f"per request: p50 {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms")
        print(f"database round trips per Sync request: {(after - before) / requests:.1f} "
              f"({after - before} commits for {requests} requests)")
    finally:
        server.stop()
        pg.stop()


if __name__ == "__main__":
    main()

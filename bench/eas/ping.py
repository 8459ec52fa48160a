#!/usr/bin/env python3
"""bench/eas/ping: parks N ActiveSync Pings (many devices, several client
processes, plain HTTP on loopback) on a floed with one worker and reports
  * the worker's resident memory per parked Ping,
  * the worker's CPU while the Pings sit parked,
  * the delay from commit to Ping response after changing 1 % of the
    watched folders over IMAP (p50/p99).
Each device watches a folder of its own (created with FolderCreate), so
that changing 1 % of the folders wakes 1 % of the Pings.

Usage (from a built tree):
    FLOE_BUILDDIR=build python3 bench/eas/ping.py [--devices N] [--users U]
        [--procs P] [--change-percent X]
"""

import argparse
import asyncio
import base64
import concurrent.futures
import imaplib
import multiprocessing
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import eas  # noqa: E402
import floe  # noqa: E402
from easwbxml import E, encode  # noqa: E402

PASSWORD = "bench ping secret"
HEARTBEAT = 1800


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def floectl(server, *args):
    import subprocess
    subprocess.run([floe.FLOECTL, "--config", server.config_path] + list(args), check=True,
                   capture_output=True, timeout=120)


def prepare_device(port, user, index):
    """FolderSync and a folder of its own; returns the client."""
    c = eas.android(port, user, PASSWORD, device_id=f"bench{index:06d}{uuid.uuid4().hex[:6]}")
    c.foldersync("0")
    node = c.command("FolderCreate", E("FolderHierarchy:FolderCreate",
                     E("SyncKey", c.folder_key), E("ParentId", "0"),
                     E("DisplayName", f"d{index}"), E("Type", "12")))
    c.folder_key = node.findtext("SyncKey")
    c.own_folder = node.findtext("ServerId")
    return c


def catch_up(c):
    """The folders the user's other devices created: a Ping would get
    Status 7 until the device has seen them."""
    c.foldersync()
    return c


def ping_request(user, device_id, folder):
    body = encode(E("Ping:Ping", E("Ping:HeartbeatInterval", str(HEARTBEAT)),
                    E("Ping:Folders", E("Ping:Folder", E("Ping:Id", folder),
                                        E("Ping:Class", "Email")))))
    auth = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    head = (f"POST {eas.PATH}?Cmd=Ping&User={user}&DeviceId={device_id}&DeviceType=Android "
            f"HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {auth}\r\n"
            f"MS-ASProtocolVersion: 14.1\r\nContent-Type: {eas.WBXML}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def client_main(port, jobs, parked_q, results_q):
    """Parks one Ping per job; reports when all are sent, then the time each
    answer starts to arrive."""
    async def one(index, request):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        first = await reader.read(1)
        t = time.time()
        data = first + await reader.read(65536)
        writer.close()
        if os.environ.get("BENCH_DEBUG"):
            print(index, data[:300], flush=True)
        results_q.put((index, t, b" 200 " in data[:20]))

    tasks = []
    for start in range(0, len(jobs), 200):
        for index, request in jobs[start:start + 200]:
            tasks.append(asyncio.ensure_future(one(index, request)))
        await asyncio.sleep(0.05)
    parked_q.put(len(jobs))
    await asyncio.gather(*tasks, return_exceptions=True)


def client_proc(port, jobs, parked_q, results_q):
    try:
        asyncio.run(client_main(port, jobs, parked_q, results_q))
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--change-percent", type=float, default=1.0)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    args = ap.parse_args()

    pg = floe.PgCluster()
    server = floe.Floed(None, pg, workers=1, config={
        "imap": {"allow_plaintext_auth": "yes"},
        "db": {"pool_size": "8"},
        "http": {"keepalive_timeout": "3600s"}})
    server.start()
    try:
        domain = f"bench{uuid.uuid4().hex[:6]}.example"
        floectl(server, "domain", "add", domain)
        users = [f"u{i}@{domain}" for i in range(args.users)]
        for u in users:
            floectl(server, "user", "add", u, "--password", PASSWORD)
        t0 = time.time()
        devices = []
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            clients = list(ex.map(lambda i: prepare_device(server.http_port,
                                                           users[i % len(users)], i),
                                  range(args.devices)))
            clients = list(ex.map(catch_up, clients))
        devices = [(c.user, c.device_id, c.own_folder) for c in clients]
        print(f"prepared {len(devices)} devices in {time.time() - t0:.1f} s", flush=True)

        worker = server.worker_pids()[0]
        time.sleep(1)
        before = rss_kib(worker)
        parked_q, results_q = multiprocessing.Queue(), multiprocessing.Queue()
        procs = []
        for p in range(args.procs):
            jobs = [(i, ping_request(*devices[i])) for i in range(p, len(devices), args.procs)]
            proc = multiprocessing.Process(target=client_proc,
                                           args=(server.http_port, jobs, parked_q, results_q),
                                           daemon=True)
            proc.start()
            procs.append(proc)
        for _ in procs:
            parked_q.get(timeout=600)
        # Let every request reach its parked state (auth, device row, checks).
        time.sleep(max(5.0, len(devices) / 500))
        after = rss_kib(worker)
        if os.environ.get("BENCH_TRIM"):
            # What the parked Pings hold without the allocator's free pages:
            # glibc keeps the pages that the parsing of the Ping burst used.
            import subprocess
            subprocess.run(["gdb", "-p", str(worker), "-batch", "-ex",
                            "call (int) malloc_trim(0)"], capture_output=True, timeout=60)
            trimmed = rss_kib(worker)
            print(f"after malloc_trim(0): {trimmed} KiB: "
                  f"{(trimmed - before) / len(devices):.2f} KiB per parked Ping", flush=True)
        early = 0
        while not results_q.empty():
            results_q.get()
            early += 1
        t1, c1 = time.time(), cpu_ticks(worker)
        time.sleep(args.idle_seconds)
        t2, c2 = time.time(), cpu_ticks(worker)
        hz = os.sysconf("SC_CLK_TCK")
        idle_cpu = 100.0 * (c2 - c1) / hz / (t2 - t1)
        per_ping = (after - before) / len(devices)
        print(f"worker RSS {before} KiB -> {after} KiB: {per_ping:.2f} KiB per parked Ping "
              f"({early} answered early)", flush=True)
        print(f"worker CPU while {len(devices)} Pings are parked: {idle_cpu:.2f} %", flush=True)

        # Change 1 % of the watched folders; time from APPEND's OK to the answer.
        n_change = max(1, int(len(devices) * args.change_percent / 100))
        chosen = list(range(0, len(devices), max(1, len(devices) // n_change)))[:n_change]
        conns = {}
        commits = {}
        msg = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: push\r\n\r\nHi.\r\n")
        for i in chosen:
            user, _, _ = devices[i]
            if user not in conns:
                conns[user] = imaplib.IMAP4("127.0.0.1", server.imap_port)
                conns[user].login(user, PASSWORD)
            typ, _ = conns[user].append(f"d{i}", None, None, msg)
            commits[i] = time.time()
            assert typ == "OK"
        delays, ok = [], 0
        deadline = time.time() + 30
        while len(delays) < len(chosen) and time.time() < deadline:
            try:
                index, t, good = results_q.get(timeout=1)
            except Exception:
                continue
            if index in commits:
                delays.append((t - commits[index]) * 1000)
                ok += good
        for c in conns.values():
            c.logout()
        delays.sort()
        if delays:
            p50 = statistics.median(delays)
            p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
            print(f"changed {len(chosen)} folders: {len(delays)} Pings answered ({ok} with 200), "
                  f"commit -> response p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {delays[-1]:.1f} ms",
                  flush=True)
        for proc in procs:
            proc.terminate()
    finally:
        server.stop()
        pg.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/idle-connections: opens N idle TLS connections (default 10 000) to a
floed with one worker and reports the worker's resident memory per
connection, the figure a parked EAS Ping costs. Target: under 8 KiB.

Usage (as root, from a built tree):
    FLOE_BUILDDIR=build python3 bench/idle-connections/run.py [--connections N] [--runs R]
"""

import argparse
import asyncio
import os
import resource
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import floe  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


PARK_REQUEST = b"POST /_test/park HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n"


async def open_idle(port, n, batch=int(os.environ.get("BENCH_BATCH", "200")), park=False, tls=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if os.environ.get("BENCH_TLS12"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    conns = []
    for start in range(0, n, batch):
        tasks = [asyncio.open_connection("127.0.0.1", port, ssl=ctx if tls else None)
                 for _ in range(min(batch, n - start))]
        opened = await asyncio.gather(*tasks)
        if park:
            for _, w in opened:
                w.write(PARK_REQUEST)
            await asyncio.gather(*(w.drain() for _, w in opened))
        conns.extend(opened)
    return conns


async def one_run(server, n, park, tls):
    worker = server.worker_pids()[0]
    # Warm the worker up (allocator arenas, TLS context) before the baseline.
    port = server.https_port if tls else server.http_port
    warm = await open_idle(port, 50, tls=tls)
    for _, w in warm:
        w.close()
    await asyncio.sleep(0.5)
    before = rss_kib(worker)
    conns = await open_idle(port, n, park=park, tls=tls)
    await asyncio.sleep(2)
    after = rss_kib(worker)
    alive = sum(1 for r, _ in conns if not r.at_eof())
    for _, w in conns:
        w.close()
    await asyncio.sleep(0.5)
    return before, after, alive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=["parked", "handshake"], default="parked",
                    help="parked: each connection sends a request the server parks (an EAS "
                         "Ping's state); handshake: connection only, nothing sent")
    ap.add_argument("--transport", choices=["tls", "plain"], default="tls",
                    help="plain: HTTP without TLS, as behind a TLS-terminating load balancer")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 1000
    if hard < want and os.geteuid() == 0:
        hard = want
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    pg = floe.PgCluster()
    per_conn = []
    try:
        # A fresh floed per run: memory freed by one run stays in the
        # worker's heap and would hide the next run's cost.
        for i in range(args.runs):
            server = floe.Floed(None, pg, workers=1, config={
                "http": {"header_timeout": "10m", "keepalive_timeout": "10m"},
                "debug": {"test_endpoints": "yes" if args.mode == "parked" else "no"},
            })
            server.start()
            try:
                before, after, alive = asyncio.run(one_run(server, args.connections, args.mode == "parked",
                                                         args.transport == "tls"))
            finally:
                server.stop()
            kib = (after - before) / max(alive, 1)
            per_conn.append(kib)
            print(f"run {i + 1} ({args.mode}, {args.transport}): {alive} connections held; worker RSS {before} KiB -> "
                  f"{after} KiB; {kib:.2f} KiB per connection")
    finally:
        pg.stop()
        floe.cleanup_all()
    med = statistics.median(per_conn)
    print(f"median: {med:.2f} KiB per {args.mode} {args.transport} connection (target < 8 KiB; "
          f"Z-Push reference ~3.7 MiB per parked Ping = {3.7 * 1024 / med:.0f}x more)")
    print(f"date: {time.strftime('%Y-%m-%d')}; command: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()

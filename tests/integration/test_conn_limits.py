"""Connection limits hold for the whole server, not per worker: the counts
live in memory shared by every worker, and a worker that dies takes its
counts with it."""

import os
import signal
import socket
import time

import floe


def greet(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s, s.recv(1000)


def test_per_ip_limit_spans_workers(pg):
    server = floe.Floed(None, pg, workers=2, config={"imap": {"max_connections_per_ip": 4}})
    server.start()
    socks = []
    try:
        greetings = []
        for _ in range(12):
            s, data = greet(server.imap_port)
            socks.append(s)
            greetings.append(data)
        accepted = [g for g in greetings if g.startswith(b"* OK")]
        refused = [g for g in greetings if b"[LIMIT]" in g]
        assert len(accepted) == 4, greetings
        assert len(refused) == 8, greetings
        # Both workers took part (the kernel spreads accepts), yet only 4 got in.
        for s in socks:
            s.close()
        socks = []
        # Closed connections no longer count.
        deadline = time.time() + 5
        while time.time() < deadline:
            s, data = greet(server.imap_port)
            s.close()
            if data.startswith(b"* OK"):
                break
            time.sleep(0.1)
        assert data.startswith(b"* OK"), data
    finally:
        for s in socks:
            s.close()
        server.stop()


def test_dead_worker_counts_are_dropped(pg):
    server = floe.Floed(None, pg, workers=1, config={"imap": {"max_connections_per_ip": 3}})
    server.start()
    socks = []
    try:
        for _ in range(3):
            s, data = greet(server.imap_port)
            assert data.startswith(b"* OK"), data
            socks.append(s)
        s, data = greet(server.imap_port)
        s.close()
        assert b"[LIMIT]" in data
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and (not server.worker_pids() or victim in server.worker_pids()):
            time.sleep(0.05)
        time.sleep(0.3)
        s, data = greet(server.imap_port)
        s.close()
        assert data.startswith(b"* OK"), data
    finally:
        for s in socks:
            s.close()
        server.stop()

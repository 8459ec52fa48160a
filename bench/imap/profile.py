#!/usr/bin/env python3
"""bench/imap/profile.py: where Floe's time goes on the bench/imap mix, by
statement, from PostgreSQL's pg_stat_statements (with planning time).

    python3 bench/imap/profile.py setup --state /tmp/floe-prof.json
        a private PostgreSQL cluster with pg_stat_statements, the bench
        accounts and mailboxes (APPENDed through a floed); the cluster keeps
        running after the script ends, its location goes to the state file.
    FLOE_BUILDDIR=build python3 bench/imap/profile.py run --state /tmp/floe-prof.json
        starts floed from FLOE_BUILDDIR against that cluster, resets the
        statistics, runs the mix (bench/imap/run.py's load) and prints the
        statements by total time with calls, total and mean execution time,
        total planning time and plans made, and PostgreSQL's and floed's CPU time per command.
    python3 bench/imap/profile.py stop --state /tmp/floe-prof.json
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/integration"))
import floe  # noqa: E402
import run as bench  # noqa: E402

CONFIG = {
    "imap": {"allow_plaintext_auth": "yes", "max_connections_per_account": 100000,
             "max_connections_per_ip": 1000000},
    "debug": {"test_endpoints": "no"},
    "auth": {"failure_delay": "0ms"},
}


def users_of(n):
    return [f"bench{i}@example.com" for i in range(n)]


def pg_ctl(state, *args):
    subprocess.run(floe.as_user(floe.PG_USER, [f"{floe.PG_BINDIR}/pg_ctl", "-D", state["data"]] +
                                list(args)), check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def psql(state, sql):
    r = subprocess.run([f"{floe.PG_BINDIR}/psql", "-X", "-A", "-t", "-q", "-F", "\t", "-h", "127.0.0.1",
                        "-p", str(state["port"]), "-U", "floe", "-d", "floe", "-c", sql],
                       capture_output=True, text=True, check=True)
    return r.stdout


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


def pg_pids(state):
    out = subprocess.run(["pgrep", "-f", f"postgres.*{state['data']}|postgres: floe"],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def setup(args):
    pg = floe.PgCluster()
    with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
        f.write("\nshared_preload_libraries = 'pg_stat_statements'\n"
                "pg_stat_statements.track = all\npg_stat_statements.track_planning = on\n")
    pg.restart()
    pg.psql("CREATE EXTENSION pg_stat_statements")
    fl = floe.Floed(None, pg, workers=os.cpu_count(), config=CONFIG)
    fl.start()
    ctl = [floe.FLOECTL, "--config", fl.config_path]
    subprocess.run(ctl + ["domain", "add", "example.com"], check=True, stdout=subprocess.DEVNULL)
    users = users_of(args.users)
    for u in users:
        subprocess.run(ctl + ["user", "add", u, "--password", "secret"], check=True,
                       stdout=subprocess.DEVNULL)
    asyncio.run(bench.populate(fl.imap_port, users, args.messages))
    fl.stop()
    state = {"data": pg.data, "dir": pg.dir, "port": pg.port, "url": pg.url,
             "users": args.users, "messages": args.messages}
    with open(args.state, "w") as f:
        json.dump(state, f)
    # Keep the cluster and its directory: forget their clean-ups.
    floe._cleanups.clear()
    print(f"cluster in {pg.dir}, port {pg.port}; state in {args.state}")


def run(args):
    with open(args.state) as f:
        state = json.load(f)
    pg_ctl(state, "-w", "-l", os.path.join(state["dir"], "log"), "start")
    fl = floe.Floed(None, None, workers=os.cpu_count(), config=CONFIG, db_url=state["url"])
    fl.start()
    users = users_of(state["users"])
    # Warm up: logins (Argon2id once per user and worker) and caches (the
    # workers' message caches fill as messages are read: --warmup 20 or
    # more for the steady state of a server that has run a while).
    asyncio.run(bench.load(fl.imap_port, users, args.clients, args.warmup, 99, state["messages"]))
    psql(state, "SELECT pg_stat_statements_reset()")
    workers = fl.worker_pids()
    pgp = pg_pids(state)
    t_fl, t_pg = cpu_ticks(workers), cpu_ticks(pgp)
    r = asyncio.run(bench.load(fl.imap_port, users, args.clients, args.duration, 1,
                               state["messages"]))
    t_fl, t_pg = cpu_ticks(workers) - t_fl, cpu_ticks(pg_pids(state)) - t_pg
    hz = os.sysconf("SC_CLK_TCK")
    n = r["count"]
    print(f"{r['ops']:.0f} commands/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms ({n} commands)")
    print(f"CPU per command: floed {t_fl / hz / n * 1000:.3f} ms, "
          f"PostgreSQL {t_pg / hz / n * 1000:.3f} ms")
    rows = psql(state, """
        SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3),
               round(total_plan_time::numeric, 1), plans, rows,
               regexp_replace(left(query, 110), '\\s+', ' ', 'g')
        FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT %d""" % args.top)
    calls = psql(state, "SELECT sum(calls) FROM pg_stat_statements").strip()
    print(f"statements: {calls} calls, {int(calls or 0) / n:.2f} per command")
    print("calls\ttotal ms\tmean ms\tplan ms\tplans\trows\tquery")
    print(rows)
    fl.stop()


def stop(args):
    with open(args.state) as f:
        state = json.load(f)
    pg_ctl(state, "-m", "fast", "stop")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["setup", "run", "stop"])
    ap.add_argument("--state", default="/tmp/floe-prof.json")
    ap.add_argument("--users", type=int, default=25)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--warmup", type=float, default=3, help="seconds of the mix before measuring")
    args = ap.parse_args()
    {"setup": setup, "run": run, "stop": stop}[args.what](args)


if __name__ == "__main__":
    main()

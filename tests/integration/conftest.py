"""pytest glue: fixtures for the harness, and TAP output on file descriptor 3
(when FLOE_TAP=1) so that automake's TAP driver counts every test."""

import os

import pytest

import floe

_tap = {"n": 0, "out": None}


def _tap_out():
    if _tap["out"] is None and os.environ.get("FLOE_TAP") == "1":
        _tap["out"] = os.fdopen(3, "w", buffering=1)
    return _tap["out"]


def pytest_runtest_logreport(report):
    out = _tap_out()
    if out is None:
        return
    name = report.nodeid.replace("#", "")
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _tap["n"] += 1
        n = _tap["n"]
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            out.write(f"ok {n} - {name} # SKIP {reason}\n")
        elif report.passed:
            out.write(f"ok {n} - {name}\n")
        else:
            out.write(f"not ok {n} - {name}\n")
            for line in str(report.longrepr).splitlines()[-40:]:
                out.write(f"#   {line}\n")


def pytest_sessionfinish(session, exitstatus):
    out = _tap_out()
    if out is not None:
        out.write(f"1..{_tap['n']}\n")
        out.flush()


@pytest.fixture(scope="session")
def pg():
    cluster = floe.PgCluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def floed(pg, tmp_path):
    server = floe.Floed(tmp_path, pg, workers=2)
    server.start()
    yield server
    server.stop()

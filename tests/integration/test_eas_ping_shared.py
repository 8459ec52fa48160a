"""ActiveSync Ping with several devices of one account on one worker: the
Pings share the account's folder-tree check (one folder list per burst of
notices) and a new Ping checks its folders against the tree the last check
saw. A stale device must still get Status 7, a change must wake only the
Pings that watch the folder, and a folder created while Pings are parked
must end every Ping whose device has not seen it.

floed runs with one worker here, so that every Ping lands where the
account's shared state is. Helpers come from test_eas_core."""

import time

import pytest

import floe
from test_eas_core import (CONFIG, PingThread, create_folder, imap, inbox_of, message, new_user,
                           ready)


@pytest.fixture(scope="module")
def one_worker(pg):
    srv = floe.Floed(None, pg, workers=1, config=CONFIG)
    srv.start()
    yield srv
    srv.stop()


def test_devices_of_one_account_share_the_tree_check(one_worker):
    server = one_worker
    user = new_user(server)
    a, b, c = ready(server, user), ready(server, user, "android"), ready(server, user)
    fa, fb = create_folder(a, "ForA"), create_folder(b, "ForB")
    for dev in (a, b, c):
        dev.foldersync()
    pa = PingThread(a, 50, [(fa, "Email")])
    pb = PingThread(b, 50, [(fb, "Email")])
    pa.start()
    pb.start()
    time.sleep(0.8)
    assert pa.response is None and pb.response is None
    # A change wakes only the Ping that watches the folder.
    m = imap(server, user)
    m.append("ForB", None, None, message())
    pb.join(5)
    assert pb.response.node.findtext("Status") == "2"
    assert [f.text for f in pb.response.node.findall("Folders/Folder")] == [fb]
    time.sleep(0.5)
    assert pa.response is None
    # A folder created over IMAP ends the parked Ping of a device that has
    # not seen it (Status 7), and a device that synced before the change
    # gets Status 7 at once from the shared tree.
    m.create("Later")
    pa.join(5)
    assert pa.response.node.findtext("Status") == "7"
    r = c.ping(50, [(inbox_of(c), "Email")])
    assert r.node.findtext("Status") == "7"
    # After a FolderSync each parks again, and an unknown folder id is
    # still refused.
    c.foldersync()
    r = c.ping(2, [(inbox_of(c), "Email")])
    assert r.node.findtext("Status") == "1"
    r = c.ping(2, [("99999999", "Email")])
    assert r.node.findtext("Status") == "7"
    m.logout()


def test_burst_of_pings_of_one_account(one_worker):
    """Many Pings of one account arriving together all wait for one check,
    then each parks or answers on its own."""
    server = one_worker
    user = new_user(server)
    devs = [ready(server, user, "android") for _ in range(8)]
    folders = [create_folder(devs[i], f"Own{i}") for i in range(8)]
    for d in devs:
        d.foldersync()
    threads = [PingThread(d, 50, [(f, "Email")]) for d, f in zip(devs, folders)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    assert all(t.response is None for t in threads)
    m = imap(server, user)
    for i in (1, 5):
        m.append(f"Own{i}", None, None, message())
    for i in (1, 5):
        threads[i].join(5)
        assert threads[i].response.node.findtext("Status") == "2"
    time.sleep(0.5)
    assert [i for i, t in enumerate(threads) if t.response is not None] == [1, 5]
    # End the others: a hierarchy change reaches all of them.
    m.create("Everyone")
    for t in threads:
        t.join(5)
    assert all(t.response.node.findtext("Status") in ("2", "7") for t in threads)
    assert sum(t.response.node.findtext("Status") == "7" for t in threads) == 6
    m.logout()

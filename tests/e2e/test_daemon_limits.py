"""mogend's limits and edge cases, each once a bug found by review: a client
that stops reading is really closed, huge `world` values and epoch counters
do not wrap cursors, clients together cannot stall a stream by leasing every
slot, a worker whose replacement fails to start is retried, SIGHUP does not
kill the daemon, and the connection limit holds."""

import json
import os
import socket
import time

import pytest

from harness import (Mogend, frame, make_images, raw_connect, read_frame, small_config,
                     small_dataset, write_csv)
import mogen  # noqa: E402

ROWS = 150

HELLO, WELCOME, NEXT, BATCH, EOE, RELEASE, STATUS, STATUS_REPLY, ERROR = range(1, 10)


@pytest.fixture
def dataset(tmp_path):
    return small_dataset(tmp_path, ROWS)


def config(root, shuffle=False, **kw):
    """The small config, unshuffled so that batch contents are predictable."""
    return small_config(root, shuffle=shuffle, **kw)


def daemon_socket_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def daemon_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int([line for line in f if line.startswith("VmRSS")][0].split()[1])


def test_client_that_sends_without_reading_meets_backpressure(dataset):
    """A client that sends requests and never reads the replies once made
    the daemon queue a reply per request (each with its own allocation and
    write record: 275 MB for one such client before the 64 MiB byte cap
    closed it) and log a line per refused request. Now the daemon stops
    reading a client whose replies do not drain, so the kernel's socket
    buffers push back on it; and a refused request is logged 8 times per
    connection, then no more. The client's socket is released when it goes."""
    with Mogend(dataset, config(dataset), workers=1) as d:
        time.sleep(0.5)
        sockets_before = daemon_socket_fds(d.proc.pid)
        rss_before = daemon_rss_kb(d.proc.pid)
        s = raw_connect(d.socket)
        s.setblocking(False)
        # STATUS (big replies) and NEXT before HELLO (ERROR not_attached,
        # which keeps the connection open), never reading anything.
        req = (frame(STATUS) + frame(NEXT)) * 2048
        sent, stalled_since = 0, None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                sent += s.send(req)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break  # the daemon stopped reading us: backpressure
                time.sleep(0.01)
        assert stalled_since is not None, "the daemon kept reading a client that never reads"
        grown_mb = (daemon_rss_kb(d.proc.pid) - rss_before) / 1024
        assert grown_mb < 32, f"the daemon grew by {grown_mb:.0f} MB for one client"
        refused = [line for line in d.logs().splitlines() if "not_attached" in line]
        assert 1 <= len(refused) <= 8, f"{len(refused)} log lines for refused requests"
        assert "further errors that keep its connection open are not logged" in d.logs()
        # Others are served meanwhile.
        assert mogen.status(d.socket, timeout=5)["streams"][0]["rows"] == ROWS
        with mogen.Client(d.socket, "train", timeout=10) as c:
            assert c.next_batch()[2]["size"] == 10
        s.close()
        deadline = time.monotonic() + 5
        while daemon_socket_fds(d.proc.pid) > sockets_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon_socket_fds(d.proc.pid) <= sockets_before, "the client's socket was kept"


def test_a_reply_cut_by_a_full_socket_is_not_overtaken(tmp_path):
    """conn_queue() writes a reply at once as far as the socket takes it and
    queues only the rest. A WELCOME listing 20,000 classes (about 1 MB) is
    bigger than the socket buffer, so it goes out in parts (sent as a plain
    reply: with shm_dir and want_fd false no fd rides along); the BATCH that
    answers a NEXT pipelined behind HELLO must come after the whole of it,
    and neither may lose or repeat a byte."""
    classes = 20000
    name = make_images(tmp_path / "images", 1)[0]
    write_csv(tmp_path / "train.csv", ["image", "label"],
              [[name, f"class-{i:05d}-with-a-name-long-enough-to-matter"]
               for i in range(classes)])
    shm = tmp_path / "shm"
    shm.mkdir()
    with Mogend(tmp_path, config(tmp_path, shm_dir=str(shm)), workers=1) as d:
        s = raw_connect(d.socket)
        s.sendall(frame(HELLO, {"version": 1, "stream": "train", "want_fd": False})
                  + frame(NEXT))
        time.sleep(1.0)  # the daemon writes what fits, queues the rest
        t, welcome = read_frame(s)
        assert t == WELCOME, (t, welcome)
        assert len(welcome["outputs"][0]["classes"]) == classes
        assert len(json.dumps(welcome)) > 500000
        t, batch = read_frame(s)
        assert t == BATCH, (t, batch)
        assert (batch["epoch"], batch["batch"]) == (0, 0), batch
        s.close()


def test_huge_world_does_not_wrap_the_batch_cursor(dataset):
    """feed_advance() computes batch + world in uint32: with world near 2^32
    a rank > 0 wraps around to batch 0, a batch of rank 0."""
    with Mogend(dataset, config(dataset), workers=1) as d:
        s = raw_connect(d.socket)
        s.sendall(frame(HELLO, {"version": 1, "stream": "train", "rank": 1,
                                "world": 4294967295, "start": {"epoch": 0, "batch": 1}}))
        t, w = read_frame(s)
        assert t == WELCOME, w
        assert w["steps_per_epoch"] == 1
        got = []
        for _ in range(3):
            s.sendall(frame(NEXT))
            t, b = read_frame(s)
            if t == BATCH:
                got.append((b["epoch"], b["batch"]))
                s.sendall(frame(RELEASE, {"slot": b["slot"]}))
            else:
                got.append(("EOE" if t == EOE else t, b))
        s.close()
    assert all(g[1] == 1 for g in got if g[0] != "EOE"), (
        f"rank 1 of 4294967295 was handed a batch of another rank: {got}")


def test_epoch_counter_wrap_still_ends_the_epoch(dataset):
    """epoch is uint32: a client resuming at epoch 2^32-1 gets the first batch
    of 'epoch 0' after the last one, with no END_OF_EPOCH in between."""
    with Mogend(dataset, config(dataset), workers=1) as d:
        s = raw_connect(d.socket)
        s.sendall(frame(HELLO, {"version": 1, "stream": "train",
                                "start": {"epoch": 4294967295, "batch": 14}}))
        t, w = read_frame(s)
        assert t == WELCOME, w
        seq = []
        for _ in range(3):
            s.sendall(frame(NEXT))
            t, b = read_frame(s)
            if t == BATCH:
                seq.append(("BATCH", b["epoch"], b["batch"]))
                s.sendall(frame(RELEASE, {"slot": b["slot"]}))
            else:
                seq.append(("EOE" if t == EOE else t, b))
        s.close()
    assert seq[1][0] == "EOE", f"no END_OF_EPOCH after the last batch of epoch 2^32-1: {seq}"


def test_two_clients_within_their_lease_limit_do_not_stall(dataset):
    """Each client may hold up to slot_count - 1 slots, but the limit is per
    client: two clients of one stream holding 2 of 4 slots each leave no slot
    to fill, and both NEXTs then wait for ever with no error."""
    with Mogend(dataset, config(dataset, slots=4), workers=1) as d:
        socks = []
        for _ in range(2):
            s = raw_connect(d.socket)
            s.sendall(frame(HELLO, {"version": 1, "stream": "train"}))
            assert read_frame(s)[0] == WELCOME
            socks.append(s)
        for s in socks:
            for _ in range(2):
                s.sendall(frame(NEXT))
                t, b = read_frame(s)
                assert t == BATCH, (t, b)
        socks[0].sendall(frame(NEXT))
        try:
            t, b = read_frame(socks[0], timeout=5)
        except socket.timeout:
            st = mogen.status(d.socket)["streams"][0]
            pytest.fail(f"NEXT within the lease limit never answered: slots {st['slots']}, "
                        f"waiting_clients {st['waiting_clients']}")
        assert t == 9 and b["code"] == "too_many_leases", (t, b)
        assert "all 4 slots of stream train are leased (2 by this client)" in b["message"]
        for s in socks:
            s.close()


def test_worker_is_replaced_after_a_failed_respawn(dataset):
    """worker_died(): when worker_spawn() fails (here: EMFILE while clients
    hold every fd), the worker stays DEAD for ever; nothing retries, so with
    one worker the stream stalls even after the fds are free again."""
    import signal
    import subprocess
    with Mogend(dataset, config(dataset, slots=2), workers=1) as d:
        c = mogen.Client(d.socket, "train")
        c.next_batch()
        pid = d.proc.pid
        nfds = len(os.listdir(f"/proc/{pid}/fd"))
        subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={nfds + 4}:"], check=True)
        hogs = []
        for _ in range(12):
            try:
                hogs.append(raw_connect(d.socket))
            except OSError:
                break
        time.sleep(0.5)
        wpid = d.worker_pids()[0]
        os.kill(wpid, signal.SIGKILL)
        time.sleep(1)
        for h in hogs:
            h.close()
        subprocess.run(["prlimit", f"--pid={pid}", "--nofile=1024:"], check=True)
        time.sleep(1)
        got = []
        import threading
        def pull():
            for _ in range(6):
                got.append(c.next_batch()[2]["batch"])
        t = threading.Thread(target=pull, daemon=True)
        t.start()
        t.join(10)
        st = mogen.status(d.socket)
        assert not t.is_alive(), (
            f"stream stalled after {got}; workers {st['workers']}\n"
            + "\n".join(l for l in d.logs().splitlines() if "worker" in l))
        c.close()


def test_random_protocol_abuse_keeps_daemon_alive(dataset):
    """Many clients doing random legal and illegal things, closing abruptly;
    the daemon must stay up and stop cleanly (run with an ASan build)."""
    import random
    rnd = random.Random(1)
    with Mogend(dataset, config(dataset, slots=3, shuffle=True), workers=2) as d:
        socks = []
        for step in range(3000):
            op = rnd.random()
            if op < 0.1 or not socks:
                try:
                    s = raw_connect(d.socket)
                except OSError:
                    continue
                s.setblocking(False)
                socks.append(s)
                body = {"version": 1, "stream": "train"}
                if rnd.random() < 0.5:
                    w = rnd.choice([1, 1, 2, 3, 4294967295])
                    body.update(rank=rnd.randrange(0, min(w, 16)), world=w)
                if rnd.random() < 0.3:
                    body["start"] = {"epoch": rnd.choice([0, 1, 4294967295]),
                                     "batch": rnd.randrange(0, 16)}
                msg = frame(HELLO, body)
            else:
                s = rnd.choice(socks)
                k = rnd.random()
                if k < 0.5:
                    msg = frame(NEXT)
                elif k < 0.8:
                    msg = frame(RELEASE, {"slot": rnd.randrange(0, 4)})
                elif k < 0.85:
                    msg = frame(STATUS)
                elif k < 0.9:
                    msg = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 20)))
                else:
                    socks.remove(s)
                    s.close()
                    continue
            try:
                s.send(msg)
                while True:
                    if not s.recv(65536):
                        break
            except (BlockingIOError, ConnectionError, OSError):
                pass
        for s in socks:
            s.close()
        time.sleep(0.5)
        assert d.proc.poll() is None, d.logs()[-3000:]
        st = mogen.status(d.socket)
        assert st["streams"][0]["slots"]["leased"] == 0, st["streams"][0]


def test_sighup_is_logged_and_ignored(dataset):
    import signal
    with Mogend(dataset, config(dataset), workers=1) as d:
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "received SIGHUP" not in d.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "reloading the config is not supported" in d.logs()
        c = mogen.Client(d.socket, "train")
        assert c.next_batch()[2]["size"] == 10
        c.close()
        # stop() checks exit 0 and that the socket is gone.


def test_connections_past_the_limit_are_refused_with_an_error(dataset):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2200:
        pytest.skip(f"the descriptor limit ({hard}) is too low to open 1,030 connections")
    # The daemon inherits the raised limit, so it can reach its own limit.
    resource.setrlimit(resource.RLIMIT_NOFILE, (2200, hard))
    try:
        with Mogend(dataset, config(dataset), workers=1) as d:
            socks = []
            for _ in range(1030):
                s = raw_connect(d.socket)
                socks.append(s)
            # Past the limit the daemon answers at once, unasked, and closes.
            t, refused = read_frame(socks[-1], timeout=10)
            assert t == ERROR and refused["code"] == "too_many_connections", refused
            assert "1024 connections" in refused["message"]
            # Connections inside the limit are served as usual.
            socks[0].sendall(frame(STATUS))
            assert read_frame(socks[0], timeout=10)[0] == STATUS_REPLY
            for s in socks:
                s.close()
            # Once they are gone, clients are served again.
            deadline = time.monotonic() + 5
            while True:
                try:
                    assert mogen.status(d.socket)["streams"][0]["rows"] == ROWS
                    break
                except mogen.DaemonError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_low_descriptor_limit_lowers_the_connection_limit_instead_of_dropping(dataset):
    """Under systemd's default soft limit of 1024 descriptors mogend ran out
    of them before its 1,024-connection limit, and libuv then dropped new
    connections without a word (a client saw 'connection reset'). mogend now
    raises its soft limit towards the hard one, and when the hard one is too
    low it serves fewer connections, refusing the rest with the usual ERROR
    and saying so in the log."""
    import resource
    import subprocess

    from harness import binary
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 400:
        pytest.skip(f"the descriptor limit ({hard}) is too low for this test")
    cfg = dict(config(dataset), socket=str(dataset / "mogen.sock"), workers=1)
    (dataset / "mogend.json").write_text(json.dumps(cfg))
    log = open(dataset / "mogend.log", "w+")
    proc = subprocess.Popen(
        [str(binary("mogend")), "--config", str(dataset / "mogend.json")], stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300)))
    try:
        deadline = time.monotonic() + 30
        while "serving on" not in (dataset / "mogend.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (dataset / "mogend.log").read_text()
            time.sleep(0.05)
        logs = (dataset / "mogend.log").read_text()
        assert "the open-file limit (300) allows 172 connections" in logs, logs
        socks = [raw_connect(str(dataset / "mogen.sock")) for _ in range(200)]
        t, refused = read_frame(socks[-1], timeout=10)
        assert t == ERROR and refused["code"] == "too_many_connections", refused
        assert "at most 172 connections" in refused["message"]
        socks[0].sendall(frame(STATUS))
        assert read_frame(socks[0], timeout=10)[0] == STATUS_REPLY
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()

"""The Python client against fakemogend (a scripted stand-in), for behaviour a real
daemon does not produce on demand: slot reuse under old views, a WELCOME
without its fd, a connection that drops mid-epoch. No build needed."""

import socket

import numpy as np
import pytest

import mogen
from fakemogend import FakeDaemon, FakeStream, frame


@pytest.fixture
def fake(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
    labels = {"a_output": rng.integers(0, 3, 10), "b_output": rng.integers(0, 2, 10)}
    stream = FakeStream("train", x, labels, 4, slot_count=2,
                        encodings={"a_output": "onehot", "b_output": "index"})
    daemon = FakeDaemon(tmp_path / "fake.sock", [stream])
    daemon.x, daemon.labels = x, labels
    yield daemon
    daemon.stop()


def test_views_show_the_slot_and_the_lifetime_rule_holds(fake):
    with mogen.Client(fake.path, "train") as c:
        x0, y0, i0 = c.next_batch()
        assert (x0 == fake.x[:4]).all() and i0["row_ids"].tolist() == [0, 1, 2, 3]
        assert y0["b_output"].tolist() == fake.labels["b_output"][:4].tolist()
        c.next_batch()          # releases slot 0, which the fake reuses for batch 1
        assert fake.releases == [0]
        assert (x0 == fake.x[4:8]).all(), "an old view shows the slot's new bytes"
        assert i0["row_ids"].tolist() == [0, 1, 2, 3], "info arrays are owned"


def test_epoch_ends_and_positions(fake):
    with mogen.Client(fake.path, "train") as c:
        assert [i["batch"] for _, _, i in c.epoch()] == [0, 1, 2]
        assert c.position == (1, 0)
        x, y = next(iter(c))
        assert x.shape == (4, 4, 4, 1) and set(y) == {"a_output", "b_output"}
        assert c.position == (1, 1)


def test_full_and_short_batches_give_fresh_dicts_and_owned_info_arrays(fake):
    """The client keeps one set of views per slot and hands a full batch's views
    out as they are; a short batch is sliced. Either way y is a new dict (the
    fake refills slot 0 every time) and the info arrays are the caller's own."""
    with mogen.Client(fake.path, "train") as c:
        sizes = []
        for x, y, info in c.epoch():
            n = info["size"]
            sizes.append(n)
            assert x.shape == (n, 4, 4, 1) and not x.flags.writeable
            assert y["a_output"].shape == (n, 3) and y["b_output"].shape == (n,)
            assert info["row_ids"].dtype == np.int64 and info["row_ids"].flags.owndata
            assert info["failed"].dtype == bool and info["failed"].flags.owndata
            assert info["row_ids"].shape == info["failed"].shape == (n,)
            assert info["slot"] == 0
            y["added_by_the_caller"] = None
        assert sizes == [4, 4, 2]
        x, y, info = c.next_batch()
        assert set(y) == {"a_output", "b_output"}
        assert info["row_ids"].tolist() == [0, 1, 2, 3] and (x == fake.x[:4]).all()


def test_reshaping_a_returned_batch_changes_nothing_for_the_next(fake):
    """Views are read-only, but numpy lets a caller set an array's shape in
    place: each full batch must be a new array object on the slot."""
    with mogen.Client(fake.path, "train") as c:
        x0, y0, _ = c.next_batch()            # slot 0, batch 0
        x0.shape = (x0.size,)
        y0["a_output"].shape = (y0["a_output"].size,)
        x1, y1, info = c.next_batch()         # slot 0 again (the fake reuses it)
        assert info["slot"] == 0 and info["size"] == 4
        assert x1.shape == (4, 4, 4, 1) and y1["a_output"].shape == (4, 3)
        assert (x1 == fake.x[4:8]).all()


def _two_epochs(path, **kwargs):
    """Every batch of two epochs as plain lists, to compare runs."""
    seen = []
    with mogen.Client(path, "train", **kwargs) as c:
        for _ in range(2):
            for x, y, info in c.epoch():
                seen.append((x.tolist(), {k: v.tolist() for k, v in y.items()},
                             {k: v.tolist() if isinstance(v, np.ndarray) else v
                              for k, v in info.items()}))
    return seen


@pytest.mark.parametrize("dribble", [False, True], ids=["whole", "one-byte-writes"])
def test_plain_batch_replies_take_the_fast_path_and_give_what_json_gives(tmp_path, monkeypatch,
                                                                         dribble):
    """mogend writes BATCH without spaces, which the client reads with no
    dict (recv_plain_batch); any other shape goes through json.loads. Both
    must give the same batches, also when a reply arrives a byte at a time
    (the fast path then falls back to recv() for the rest)."""
    import mogen.client

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (7, 3, 3, 1), dtype=np.uint8)
    labels = {"a_output": rng.integers(0, 4, 7)}
    calls = []
    real = mogen.client._batch_fields
    monkeypatch.setattr(mogen.client, "_batch_fields",
                        lambda body: calls.append(body) or real(body))
    results = {}
    for compact in (False, True):
        daemon = FakeDaemon(tmp_path / f"c{compact:d}.sock",
                            [FakeStream("train", x, labels, 3, slot_count=2)],
                            compact=compact, dribble=dribble)
        try:
            calls.clear()
            results[compact] = _two_epochs(daemon.path)
            results[compact, "json reads"] = len(calls)
        finally:
            daemon.stop()
    assert len(results[True]) == 6 and results[True] == results[False]
    assert results[False, "json reads"] == 6, "spaced bodies go through json"
    if not dribble:
        assert results[True, "json reads"] == 0, "mogend's shape is read without json"


def test_plain_batch_with_an_epoch_over_32_bits_is_a_protocol_error(tmp_path):
    """The fast path checks what _batch_fields checks."""
    x = np.zeros((4, 2, 2, 1), np.uint8)
    daemon = FakeDaemon(tmp_path / "big.sock",
                        [FakeStream("train", x, {"a_output": np.arange(4) % 2}, 2)], compact=True)
    try:
        with mogen.Client(daemon.path, "train", start=(2 ** 32 - 1, 0)) as c:
            assert c.next_batch()[2]["epoch"] == 2 ** 32 - 1
        with mogen.Client(daemon.path, "train", start=(2 ** 32, 0)) as c:
            with pytest.raises(mogen.ProtocolError, match="outside 0..4294967295"):
                c.next_batch()
            # The daemon leased a slot with that reply: the client closed the
            # connection (so the daemon frees it) instead of forgetting it.
            with pytest.raises(mogen.ProtocolError, match="an earlier reply broke the protocol"):
                c.next_batch()
            _wait_until(lambda: not daemon.streams["train"].leased, "the slot was freed")
    finally:
        daemon.stop()


def _wait_until(condition, what, seconds=5.0):
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting until " + what
        time.sleep(0.01)


def test_batch_with_a_negative_epoch_is_a_protocol_error():
    from mogen.client import _batch_fields

    assert _batch_fields({"slot": 0, "size": 4, "epoch": 7, "batch": 2}) == (0, 4, 7, 2)
    for bad in ({"epoch": -3}, {"batch": -1}, {"epoch": 2 ** 32}, {"batch": True}):
        body = dict({"slot": 0, "size": 4, "epoch": 0, "batch": 0}, **bad)
        with pytest.raises(mogen.ProtocolError):
            _batch_fields(body)


def test_connection_dropped_mid_epoch_is_daemon_gone(tmp_path):
    x = np.zeros((10, 2, 2, 1), np.uint8)
    stream = FakeStream("train", x, {"a_output": np.arange(10) % 2}, 2)
    daemon = FakeDaemon(tmp_path / "drop.sock", [stream], drop_after=2)
    try:
        with mogen.Client(daemon.path, "train") as c:
            c.next_batch()
            c.next_batch()
            with pytest.raises(mogen.DaemonGone):
                c.next_batch()
    finally:
        daemon.stop()


def test_welcome_without_fd_is_a_protocol_error(tmp_path):
    path = str(tmp_path / "nofd.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    stream = FakeStream("train", np.zeros((2, 2, 2, 1), np.uint8), {"a_output": np.arange(2)}, 2)
    import threading

    def serve():
        conn, _ = srv.accept()
        conn.recv(4096)
        conn.sendall(frame(2, stream.welcome()))  # no SCM_RIGHTS
        conn.recv(4096)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(mogen.ProtocolError, match="without the shared-memory fd"):
            mogen.Client(path, "train", timeout=10)
    finally:
        t.join(5)
        srv.close()


def test_timeout_raises_mogen_timeout(tmp_path):
    path = str(tmp_path / "mute.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    try:
        with pytest.raises(mogen.MogenTimeout):
            mogen.Client(path, "train", timeout=0.2)  # accepted by the kernel, never answered
    finally:
        srv.close()


def test_after_a_timeout_the_client_stops_instead_of_taking_a_late_reply(tmp_path):
    """A BATCH that comes after the timeout would be read as the answer to
    the next NEXT, leaving the client one reply behind for good: the client
    closes the connection instead, every later call raises, and a new client
    started at the old one's position gets the batch that was missed."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (6, 2, 2, 1), dtype=np.uint8)
    daemon = FakeDaemon(tmp_path / "late.sock",
                        [FakeStream("train", x, {"a_output": np.arange(6) % 3}, 2)],
                        compact=True, first_batch_delay=0.5)
    try:
        c = mogen.Client(daemon.path, "train", timeout=0.2)
        with pytest.raises(mogen.MogenTimeout, match="connection was closed"):
            c.next_batch()
        import time
        time.sleep(0.5)  # the late BATCH has been sent by now
        for _ in range(2):
            with pytest.raises(mogen.MogenTimeout, match="an earlier wait timed out"):
                c.next_batch()
        assert c.position == (0, 0)
        c.close()
        daemon.first_batch_delay = 0.0
        with mogen.Client(daemon.path, "train", start=c.position, timeout=5) as again:
            x0, _, info = again.next_batch()
            assert (info["epoch"], info["batch"]) == (0, 0) and (x0 == x[:2]).all()
    finally:
        daemon.stop()


def test_an_interrupted_wait_closes_the_connection_instead_of_taking_a_late_reply(tmp_path):
    """Ctrl-C while the reply to NEXT is due (KeyboardInterrupt out of the
    poll()) leaves that reply on its way: read later, it would answer the
    next NEXT and the client would stay one reply behind, holding a slot it
    does not know of. The client closes the connection instead, as after a
    timeout; a new client at the old one's position gets the missed batch."""
    x = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2, 1)
    daemon = FakeDaemon(tmp_path / "int.sock",
                        [FakeStream("train", x, {"a_output": np.arange(6) % 3}, 2)],
                        compact=True, first_batch_delay=0.3)

    class InterruptedOnce:
        def __init__(self, poll):
            self.real, self.interrupted = poll, False

        def poll(self, *args):
            if not self.interrupted:
                self.interrupted = True
                raise KeyboardInterrupt
            return self.real.poll(*args)

    try:
        c = mogen.Client(daemon.path, "train")
        c._conn._readable = InterruptedOnce(c._conn._readable)
        with pytest.raises(KeyboardInterrupt):
            c.next_batch()
        import time
        time.sleep(0.5)  # the reply that was due has been sent by now
        for _ in range(2):
            with pytest.raises(mogen.MogenError, match="an earlier wait was interrupted"):
                c.next_batch()
        assert c.position == (0, 0)
        _wait_until(lambda: not daemon.streams["train"].leased, "the slot was freed")
        c.close()
        daemon.first_batch_delay = 0.0
        with mogen.Client(daemon.path, "train", start=c.position, timeout=5) as again:
            x0, _, info = again.next_batch()
            assert (info["epoch"], info["batch"]) == (0, 0) and (x0 == x[:2]).all()
    finally:
        daemon.stop()


def test_replies_after_welcome_are_read_with_recv_not_recvmsg(tmp_path):
    """Only WELCOME brings an fd; every later reply is read with recv(),
    which builds no ancillary list (see _Conn.fds_expected)."""
    import collections

    class Counting:
        def __init__(self, sock):
            self.sock, self.calls = sock, collections.Counter()

        def __getattr__(self, name):
            attr = getattr(self.sock, name)
            if name not in ("recv", "recvmsg"):
                return attr

            def counted(*args):
                self.calls[name] += 1
                return attr(*args)
            return counted

    x = np.zeros((6, 2, 2, 1), np.uint8)
    daemon = FakeDaemon(tmp_path / "recv.sock",
                        [FakeStream("train", x, {"a_output": np.arange(6) % 3}, 2)], compact=True)
    try:
        with mogen.Client(daemon.path, "train") as c:
            counting = c._conn.sock = Counting(c._conn.sock)
            assert [i["batch"] for _, _, i in c.epoch()] == [0, 1, 2]
            assert counting.calls["recvmsg"] == 0 and counting.calls["recv"] >= 4
    finally:
        daemon.stop()


def test_an_fd_passed_after_welcome_is_closed_not_leaked():
    """After WELCOME replies are read with recv(), which takes no fds: the
    kernel closes any that come, so a pipe's write end sent then is gone at
    once (its reader sees end of file) and the bytes still arrive."""
    import os

    from mogen.client import _Conn

    a, b = socket.socketpair()
    r, w = os.pipe()
    try:
        conn = _Conn(a, "test")
        conn.fds_expected = False
        socket.send_fds(b, [b"hello"], [w])
        os.close(w)  # ours; the one in flight is the only other copy
        conn._fill()
        assert bytes(conn.buf) == b"hello" and conn.fds == []
        os.set_blocking(r, False)
        assert os.read(r, 1) == b"", "the passed write end was closed"
        conn.close()
    finally:
        os.close(r)
        b.close()


def test_reading_a_closed_connection_fails_instead_of_waiting_on_a_reused_fd():
    """The connection waits in poll() on the fd number it was made with;
    once closed, that number may belong to another file (here a pipe that
    never gets data), and a read must fail at once, not wait on the pipe."""
    import os
    import threading

    from mogen.client import _Conn

    a, b = socket.socketpair()
    conn = _Conn(a, "test")
    number = a.fileno()
    conn.close()
    r, w = os.pipe()
    outcome = []

    def read():
        try:
            conn.recv()
            outcome.append("returned")
        except OSError as e:
            outcome.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    try:
        assert not t.is_alive(), (
            f"recv() on the closed connection waits (fd {number} reused: {r == number or w == number})")
        assert isinstance(outcome[0], OSError), outcome
    finally:
        os.close(r)
        os.close(w)
        b.close()

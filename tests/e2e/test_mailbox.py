"""The mailbox (docs/protocol.md, "The mailbox"): a page of shared memory in
which mogend posts a client's next batch and the client gives slots back, so
that a trainer gets a batch with no reply to wait for on the socket.

Tests speak the raw protocol where the rules are the daemon's (what may be
posted, what happens to a batch posted and never taken, a client that
writes nonsense), and use the Python client where the point is that a
trainer sees the same batches either way."""

import hashlib
import json
import mmap
import os
import re
import socket
import struct
import time

import pytest

from harness import Mogend, frame, read_frame, small_config, small_dataset
import mogen  # noqa: E402  (harness puts client/python on sys.path)
from mogen import client as client_module  # noqa: E402

ROWS = 47
BATCH = 5
STEPS = (ROWS + BATCH - 1) // BATCH

# Word indices of the page (protocol/mailbox_layout.h, byte offsets / 4).
POSTED, TAKEN, SLOT, EPOCH, BATCHNO, COUNT, RELEASED, CONSUMED = range(8)
RELEASE_AT = 16


@pytest.fixture
def daemon(tmp_path):
    small_dataset(tmp_path, rows=ROWS)
    with Mogend(tmp_path, small_config(tmp_path, batch_size=BATCH, shuffle=False, slots=4),
                workers=2) as d:
        yield d


class RawMailboxClient:
    """HELLO with "mailbox": true on a bare socket; keeps the WELCOME body,
    the ring mapping and the mailbox page as 32-bit words."""

    def __init__(self, path, mailbox=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        hello = {"version": 1, "stream": "train", "mailbox": mailbox}
        self.sock.sendall(frame(1, hello))
        data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
        while len(data) < 8 or len(data) < 8 + struct.unpack("<I", data[4:8])[0]:
            data += self.sock.recv(1 << 20)
        msg_type, length = struct.unpack("<HI", data[2:8])
        assert msg_type == 2, data[:200]
        self.welcome = json.loads(data[8:8 + length])
        self.fds = fds
        self.ring = mmap.mmap(fds[0], self.welcome["shm_size"], prot=mmap.PROT_READ)
        self.page = None
        if len(fds) > 1:
            self.map = mmap.mmap(fds[1], 4096)
            self.page = memoryview(self.map).cast("I")

    def wait_posted(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while self.page[POSTED] != count:
            assert time.monotonic() < deadline, f"posted stays at {self.page[POSTED]}"
            time.sleep(0.002)
        return (self.page[SLOT], self.page[EPOCH], self.page[BATCHNO], self.page[COUNT])

    def row_ids(self, slot):
        t = next(t for t in self.welcome["tensors"] if t["name"] == "row_ids")
        base = slot * self.welcome["slot_size"] + t["offset"]
        return list(struct.unpack_from(f"<{BATCH}q", self.ring, base))

    def release_in_page(self, slot):
        n = self.page[RELEASED]
        self.page[RELEASE_AT + n % 64] = slot
        self.page[RELEASED] = n + 1

    def close(self):
        if self.page is not None:
            self.page.release()
            self.map.close()
        self.ring.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.sock.close()


def socket_batches(path, count, **kw):
    """(epoch, batch, row ids) of the next count batches of a socket client."""
    c = mogen.Client(path, "train", mailbox=False, **kw)
    got = []
    for _ in range(count):
        _, _, info = c.next_batch()
        got.append((info["epoch"], info["batch"], [int(r) for r in info["row_ids"]]))
    c.close()
    return got


def test_welcome_passes_a_page_and_the_first_batch_is_posted_in_it(daemon):
    c = RawMailboxClient(daemon.socket)
    try:
        assert c.welcome["mailbox"] is True and len(c.fds) == 2
        slot, epoch, batch, count = c.wait_posted(1)
        assert (epoch, batch, count) == (0, 0, BATCH)
        assert 0 <= slot < c.welcome["slot_count"]
        # Not shuffled: batch 0 is data rows 0..4, and the ring slot holds them.
        assert c.row_ids(slot) == [0, 1, 2, 3, 4]
        # Taken and released through the page: the next batch follows, with
        # no frame sent at all.
        c.page[TAKEN] = 1
        c.release_in_page(slot)
        slot2, epoch, batch, _ = c.wait_posted(2)
        assert (epoch, batch) == (0, 1)
        assert c.row_ids(slot2) == [5, 6, 7, 8, 9]
        deadline = time.monotonic() + 5
        while c.page[CONSUMED] != 1:
            assert time.monotonic() < deadline, "the release in the page was never read"
            time.sleep(0.002)
        client = next(x for x in mogen.status(daemon.socket)["clients"] if x["stream"])
        assert client["mailbox_posted"] == 2 and client["leased"] == 1
    finally:
        c.close()


def test_without_asking_there_is_no_page(daemon):
    c = RawMailboxClient(daemon.socket, mailbox=False)
    try:
        assert c.welcome["mailbox"] is False and len(c.fds) == 1
        client = next(x for x in mogen.status(daemon.socket)["clients"] if x["stream"])
        assert client["mailbox_posted"] is None
    finally:
        c.close()


def test_next_is_answered_with_the_posted_batch_and_marks_it_taken(daemon):
    c = RawMailboxClient(daemon.socket)
    try:
        slot, _, _, _ = c.wait_posted(1)
        c.sock.sendall(frame(3, {}))
        msg_type, body = read_frame(c.sock)
        assert msg_type == 4 and (body["slot"], body["epoch"], body["batch"]) == (slot, 0, 0)
        assert c.page[TAKEN] == 1
    finally:
        c.close()


def test_a_batch_posted_and_never_taken_goes_to_the_next_client(daemon):
    c = RawMailboxClient(daemon.socket)
    c.wait_posted(1)
    c.close()  # batch 0 was posted, not taken
    assert [b[:2] for b in socket_batches(daemon.socket, 2)] == [(0, 0), (0, 1)]
    assert "before taking epoch 0 batch 0 from its mailbox" in daemon.logs()


def test_a_batch_taken_is_not_handed_out_again(daemon):
    c = RawMailboxClient(daemon.socket)
    c.wait_posted(1)
    c.page[TAKEN] = 1
    c.close()
    assert [b[:2] for b in socket_batches(daemon.socket, 1)] == [(0, 1)]


def test_a_client_that_writes_nonsense_is_closed_and_only_it(daemon):
    c = RawMailboxClient(daemon.socket)
    try:
        c.wait_posted(1)
        c.page[TAKEN] = 7  # only 1 was posted
        c.sock.sendall(frame(3, {}))
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "bad_mailbox"
        assert c.sock.recv(1) == b""  # closed
    finally:
        c.close()
    # The daemon goes on; the batch went nowhere: it was dropped with the
    # client's other leases, as for any client that leaves.
    assert len(socket_batches(daemon.socket, 2)) == 2


def test_releasing_a_slot_not_taken_through_the_page_closes_the_client(daemon):
    c = RawMailboxClient(daemon.socket)
    try:
        slot, _, _, _ = c.wait_posted(1)
        c.release_in_page(slot)  # posted, but never taken
        c.sock.sendall(frame(3, {}))
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "bad_mailbox", body
    finally:
        c.close()


def test_release_frame_for_the_posted_slot_is_refused_and_the_client_stays(daemon):
    c = RawMailboxClient(daemon.socket)
    try:
        slot, _, _, _ = c.wait_posted(1)
        c.sock.sendall(frame(6, {"slot": slot}))
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "not_leased"
        assert "not taken" in body["message"]
        c.sock.sendall(frame(3, {}))  # the connection still works
        msg_type, body = read_frame(c.sock)
        assert msg_type == 4 and body["batch"] == 0
    finally:
        c.close()


def _paced_batches(client, count):
    got = []
    for _ in range(count):
        time.sleep(0.004)  # room for the daemon to post the next one
        x, y, info = client.next_batch()
        got.append((info["epoch"], info["batch"], [int(r) for r in info["row_ids"]],
                    hashlib.sha1(x.tobytes()).hexdigest(),
                    hashlib.sha1(y["label_output"].tobytes()).hexdigest()))
    return got


def test_the_python_client_sees_the_same_batches_either_way(tmp_path, monkeypatch):
    """Shuffled and augmented, two epochs and a half, through the mailbox
    (the C step when built), through the pure-Python page, and through the
    socket, each on a fresh daemon: the same batches, in the same order,
    with the same bytes; and the mailbox was really used."""
    small_dataset(tmp_path, rows=ROWS)
    cfg = small_config(tmp_path, batch_size=BATCH, shuffle=True, slots=4, seed=5,
                       augment={"flip_horizontal": 0.5, "rotate": [-20, 20]})
    cfg["streams"]["train"]["augment"] = True
    count = STEPS * 2 + STEPS // 2
    with Mogend(tmp_path, cfg, workers=2) as d:
        c = mogen.Client(d.socket, "train", mailbox=True)
        used_c = c._mailbox_next is not None
        via_mailbox = _paced_batches(c, count)
        posted = next(x for x in mogen.status(d.socket)["clients"] if x["stream"])
        c.close()
    with Mogend(tmp_path, cfg, workers=2) as d:
        # The pure-Python page, as without mogen._fastpath.
        monkeypatch.setattr(client_module, "_fastpath", None)
        c = mogen.Client(d.socket, "train", mailbox=True)
        assert c._mailbox_next is None
        via_python_page = _paced_batches(c, count)
        c.close()
        monkeypatch.undo()
    with Mogend(tmp_path, cfg, workers=2) as d:
        c = mogen.Client(d.socket, "train", mailbox=False)
        via_socket = _paced_batches(c, count)
        c.close()
    assert used_c == mogen.accelerated()
    assert [b[:2] for b in via_mailbox] == [(e, k) for e in range(3) for k in range(STEPS)][:count]
    assert via_mailbox == via_socket
    assert via_python_page == via_socket
    # Posted batches stop at each epoch's end (END_OF_EPOCH goes over the
    # socket), so most but not all of them came through the mailbox.
    # (And one more may be posted already, ahead of the last one taken.)
    assert count - 6 <= posted["mailbox_posted"] <= count + 1


def test_two_mailbox_clients_share_a_stream_with_nothing_lost_or_repeated(daemon):
    """Each batch goes to one client. A client that leaves without taking
    its posted batch while another client is attached drops it, as it drops
    the batch it holds, and the log names it (giving it back could hand it
    to a client that has moved past it, or twice)."""
    a = mogen.Client(daemon.socket, "train", mailbox=True)
    b = mogen.Client(daemon.socket, "train", mailbox=True)
    seen = []
    try:
        for i in range(3 * STEPS):
            time.sleep(0.002)
            _, _, info = (a if i % 3 else b).next_batch()
            seen.append((info["epoch"], info["batch"]))
    finally:
        a.close()
        b.close()
        time.sleep(0.1)
    assert len(seen) == len(set(seen))
    dropped = [tuple(int(v) for v in m) for m in re.findall(
        r"left before taking epoch (\d+) batch (\d+) from its mailbox; the batch is dropped",
        daemon.logs())]
    assert len(dropped) <= 2  # at most one per client, at its close
    last_epoch = max(e for e, _ in seen)
    for epoch in range(last_epoch):
        assert sorted(k for e, k in seen + dropped if e == epoch) == list(range(STEPS)), epoch


def test_a_client_that_only_releases_through_the_page_keeps_the_ring_turning(daemon):
    """copy=True gives each slot back at once through the page: with four
    slots, far more batches than slots must still come."""
    c = mogen.Client(daemon.socket, "train", mailbox=True, copy=True)
    try:
        batches = [c.next_batch()[2]["batch"] for _ in range(4 * STEPS)]
        assert batches == [k % STEPS for k in range(4 * STEPS)]
    finally:
        c.close()


def test_taken_only_moves_forward(daemon):
    """Once the daemon has seen a batch taken, writing `taken` back (to make
    a batch look posted again) is nonsense, not a second copy of it."""
    c = RawMailboxClient(daemon.socket)
    try:
        posted = 0
        while True:  # take what comes until the lease limit stops the posts
            try:
                c.wait_posted(posted + 1, timeout=1)
            except AssertionError:
                break
            posted += 1
            c.page[TAKEN] = posted
        assert posted == c.welcome["slot_count"] - 1
        c.sock.sendall(frame(3, {}))  # nothing posted: NEXT as usual
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "too_many_leases", body
        c.page[TAKEN] = posted - 1
        c.sock.sendall(frame(3, {}))
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "bad_mailbox", body
    finally:
        c.close()


def test_a_batch_posted_to_a_client_mogend_closes_is_dropped_not_handed_again(daemon):
    """A client the daemon closes may still be running and take its posted
    batch, so that batch does not go to anyone else."""
    c = RawMailboxClient(daemon.socket)
    try:
        c.wait_posted(1)
        c.sock.sendall(b"garbage!")  # not a frame: the daemon closes it
        msg_type, body = read_frame(c.sock)
        assert msg_type == 9 and body["code"] == "bad_frame"
    finally:
        c.close()
    assert [b[:2] for b in socket_batches(daemon.socket, 1)] == [(0, 1)]
    assert "mogend closed the connection, and the client may still take it" in daemon.logs()

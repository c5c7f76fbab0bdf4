"""The Python client's two mailboxes, on a page the test plays the daemon
on: mogen._fastpath.Mailbox (C, built by make) and client._PageMailbox (pure
Python). Both must read and write the page the same way; the C one also
does a whole step (next_batch), whose arrays must be those the pure-Python
client builds from the same slot."""

import mmap
import os
import subprocess
import sys

import numpy as np
import pytest

import harness  # puts client/python on sys.path
import mogen
from mogen import client as client_module
from mogen.errors import ProtocolError

try:  # the C module itself, whether or not the client uses it
    from mogen import _fastpath as fastpath
except ImportError:
    fastpath = None

POSTED, TAKEN, SLOT, EPOCH, BATCHNO, COUNT, RELEASED, CONSUMED = range(8)
RELEASE_AT, RELEASES = 16, 64
ROWS, SLOTS, OUTPUTS = 6, 3, ("a_output", "b_output")


@pytest.mark.skipif(bool(os.environ.get("MOGEN_PURE_PYTHON")),
                    reason="MOGEN_PURE_PYTHON is set: the client runs without mogen._fastpath")
def test_the_c_mailbox_is_built_and_used():
    """make builds mogen/_fastpath for the Python that runs the tests; a
    client without it still works (the rest of this file), but `make test`
    must test the one users get."""
    assert client_module._fastpath is not None, (
        "mogen._fastpath is not built: run make python-fastpath")
    assert mogen.accelerated()


def make_slots():
    """A ring of SLOTS slots as the client makes them at WELCOME: read-only
    arrays of ROWS rows per tensor, each slot with different bytes."""
    rng = np.random.default_rng(7)
    ring = bytearray()
    layout = [("x", np.uint8, (ROWS, 4, 4, 1)), ("a_output", np.float32, (ROWS, 3)),
              ("b_output", np.int32, (ROWS,)), ("row_ids", np.int64, (ROWS,)),
              ("errors", np.uint8, (ROWS,))]
    for slot in range(SLOTS):
        for name, dtype, shape in layout:
            if name == "errors":
                a = np.array([0, 1, 0, 2, 0, 0][:ROWS], np.uint8)  # 2: any nonzero is a failure
            elif name == "row_ids":
                a = np.arange(ROWS, dtype=np.int64) + 100 * slot
            else:
                a = rng.integers(0, 200, shape).astype(dtype)
            ring += a.tobytes()
    ring = bytes(ring)
    slots, at = [], 0
    for slot in range(SLOTS):
        views = {}
        for name, dtype, shape in layout:
            count = int(np.prod(shape))
            views[name] = np.frombuffer(ring, dtype, count, at).reshape(shape)
            at += count * np.dtype(dtype).itemsize
        slots.append(client_module._Slot(views, list(OUTPUTS), b""))
    return slots


def as_tuples(slots):
    return tuple((s.x, tuple(n for n, _ in s.y), tuple(v for _, v in s.y), s.row_ids, s.errors)
                 for s in slots)


class Page:
    """A mailbox page in anonymous shared memory, written as the daemon does."""

    def __init__(self, taken=0, released=0):
        self.map = mmap.mmap(-1, 4096)
        self.words = memoryview(self.map).cast("I")
        self.words[POSTED] = self.words[TAKEN] = taken
        self.words[RELEASED] = self.words[CONSUMED] = released

    def post(self, slot, epoch, batch, size):
        w = self.words
        w[SLOT], w[EPOCH], w[BATCHNO], w[COUNT] = slot, epoch, batch, size
        w[POSTED] = (w[POSTED] + 1) & 0xFFFFFFFF

    def ring(self, first, count):
        return [self.words[RELEASE_AT + (first + i) % RELEASES] for i in range(count)]

    def close(self):
        self.words.release()
        self.map.close()


def kinds():
    """The mailbox classes to test: both when the C one is built."""
    out = [pytest.param(client_module._PageMailbox, id="python")]
    out.append(pytest.param(fastpath.Mailbox if fastpath else None, id="c",
                            marks=pytest.mark.skipif(fastpath is None,
                                                     reason="mogen._fastpath is not built")))
    return out


@pytest.fixture(params=kinds())
def kind(request):
    return request.param


def open_mailbox(kind, page, world=1, rank=0, per_epoch=10, slots=None):
    return kind(page.map, as_tuples(slots or make_slots()), world, rank, per_epoch)


def test_take_returns_nothing_until_a_batch_is_posted_then_marks_it_taken(kind):
    page = Page(taken=0xFFFFFFFF)  # the counts wrap at 2^32
    m = open_mailbox(kind, page)
    assert m.take() is None
    page.post(2, 4, 7, 5)
    assert m.take() == (2, 4, 7, 5)
    assert page.words[TAKEN] == 0 and m.taken == 0
    assert m.take() is None
    m.close()
    page.close()


def test_a_page_that_says_two_batches_are_posted_is_refused(kind):
    page = Page()
    m = open_mailbox(kind, page)
    page.post(1, 0, 0, 5)
    page.words[POSTED] = 2
    with pytest.raises(ProtocolError, match="2 batches posted after 0 taken"):
        m.take()
    assert page.words[TAKEN] == 0
    m.close()
    page.close()


def test_slots_go_back_through_the_ring_until_it_is_full(kind):
    page = Page(released=60)  # the ring index wraps at 64
    m = open_mailbox(kind, page)
    for i in range(RELEASES):
        assert m.give_back(i % SLOTS) is True
    assert page.words[RELEASED] == 60 + RELEASES == m.released
    assert page.ring(60, RELEASES) == [i % SLOTS for i in range(RELEASES)]
    assert m.give_back(1) is False  # nothing consumed yet: full
    assert page.words[RELEASED] == 60 + RELEASES
    page.words[CONSUMED] = 61  # the daemon read one
    assert m.give_back(2) is True
    assert page.ring(60 + RELEASES, 1) == [2]
    m.close()
    page.close()


def test_sync_taken_reads_what_the_daemon_marked(kind):
    page = Page()
    m = open_mailbox(kind, page)
    page.post(0, 0, 0, 5)
    page.words[TAKEN] = 1  # NEXT came: the daemon answered with it
    m.sync_taken()
    assert m.taken == 1 and m.take() is None
    m.close()
    page.close()


def test_after_close_the_page_can_be_unmapped():
    page = Page()
    for kind in (client_module._PageMailbox, fastpath and fastpath.Mailbox):
        if kind:
            open_mailbox(kind, page).close()
    page.close()  # BufferError if a mailbox still held the page


# -- the C step -------------------------------------------------------------

def address(a):
    return a.__array_interface__["data"][0]


needs_c = pytest.mark.skipif(fastpath is None, reason="mogen._fastpath is not built")


@needs_c
@pytest.mark.parametrize("size", [ROWS, 4, 0])
def test_next_batch_builds_what_the_python_client_builds(size):
    slots = make_slots()
    page = Page()
    m = open_mailbox(fastpath.Mailbox, page, slots=slots)
    page.post(1, 3, 8, size)
    slot, x, y, info, position = m.next_batch(None)
    px, py, prow_ids, pfailed = slots[1].arrays(size)
    assert slot == 1 and page.words[TAKEN] == 1
    assert position == (3, 9)
    assert x.dtype == px.dtype and x.shape == px.shape == (size, 4, 4, 1)
    assert np.array_equal(x, px) and address(x) == address(slots[1].x)
    assert not x.flags.writeable and x.flags.c_contiguous
    assert list(y) == list(py) == list(OUTPUTS)
    for name in OUTPUTS:
        assert y[name].dtype == py[name].dtype and np.array_equal(y[name], py[name])
        assert address(y[name]) == address(slots[1].y[OUTPUTS.index(name)][1])
        assert not y[name].flags.writeable
    assert list(info) == ["epoch", "batch", "size", "slot", "errors", "row_ids", "failed"]
    assert (info["epoch"], info["batch"], info["size"], info["slot"], info["errors"]) == \
        (3, 8, size, 1, [])
    assert info["row_ids"].dtype == np.int64 and np.array_equal(info["row_ids"], prow_ids)
    assert info["row_ids"].tolist() == list(range(100, 100 + size))
    assert info["failed"].dtype == bool and np.array_equal(info["failed"], pfailed)
    # Stored as 0/1 bytes (errors has a 2): a bool byte of 2 would count as 2.
    assert info["failed"].view(np.uint8).tolist() == [0, 1, 0, 1, 0, 0][:size]
    for owned in (info["row_ids"], info["failed"]):
        assert owned.flags.writeable and owned.flags.owndata
    m.close()
    page.close()


@needs_c
@pytest.mark.parametrize("rank,batch,position", [(0, 8, (6, 0)), (1, 9, (6, 1)),
                                                 (1, 7, (5, 9))])
def test_next_batch_gives_the_held_slot_back_and_wraps_the_position(rank, batch, position):
    """Ten batches an epoch shared by two ranks: after batch 8 rank 0 gets
    batch 0 of the next epoch, after 9 rank 1 gets batch 1."""
    page = Page()
    m = open_mailbox(fastpath.Mailbox, page, world=2, rank=rank, per_epoch=10)
    page.post(0, 5, batch, ROWS)
    slot, *_, after = m.next_batch(2)
    assert slot == 0 and after == position
    assert page.words[RELEASED] == 1 and page.ring(0, 1) == [2]
    assert m.next_batch(0) is None  # nothing posted: nothing given back
    assert page.words[RELEASED] == 1
    with pytest.raises(ValueError, match="held slot 3 is not in the ring"):
        m.next_batch(SLOTS)
    m.close()
    page.close()


@needs_c
def test_next_batch_leaves_everything_when_the_release_ring_is_full():
    page = Page()
    m = open_mailbox(fastpath.Mailbox, page)
    for _ in range(RELEASES):
        assert m.give_back(0)
    page.post(1, 0, 0, ROWS)
    assert m.next_batch(2) is None  # the client then takes it and sends RELEASE
    assert page.words[TAKEN] == 0 and page.words[RELEASED] == RELEASES
    assert m.take() == (1, 0, 0, ROWS)
    m.close()
    page.close()


@needs_c
@pytest.mark.parametrize("slot,size,message", [(SLOTS, 1, "names slot 3 of 3"),
                                               (0, ROWS + 1, "size 7 exceeds the slot's 6")])
def test_next_batch_refuses_a_posted_batch_that_does_not_fit(slot, size, message):
    page = Page()
    m = open_mailbox(fastpath.Mailbox, page)
    page.post(slot, 0, 0, size)
    with pytest.raises(ProtocolError, match=message):
        m.next_batch(1)
    assert page.words[TAKEN] == 0 and page.words[RELEASED] == 0
    m.close()
    page.close()


@needs_c
def test_a_closed_c_mailbox_refuses_calls_and_bad_arguments_are_refused():
    page = Page()
    with pytest.raises(ValueError, match="rank"):
        fastpath.Mailbox(page.map, as_tuples(make_slots()), 2, 2, 10)
    with pytest.raises(TypeError, match="row_ids"):
        s = as_tuples(make_slots())[0]
        fastpath.Mailbox(page.map, ((s[0], s[1], s[2], s[3].astype(np.int32), s[4]),), 1, 0, 10)
    with pytest.raises(ValueError, match="4096"):
        fastpath.Mailbox(bytearray(64), as_tuples(make_slots()), 1, 0, 10)
    m = open_mailbox(fastpath.Mailbox, page)
    m.close()
    for call in (m.take, m.sync_taken, lambda: m.give_back(0), lambda: m.next_batch(None)):
        with pytest.raises(ValueError, match="closed"):
            call()
    page.close()


@needs_c
def test_arrays_outlive_the_mailbox_and_the_client_keeps_a_view_alive():
    """A view handed out holds its slot's array (and so the ring mapping)
    after the mailbox is closed and every other reference is gone."""
    slots = make_slots()
    page = Page()
    m = open_mailbox(fastpath.Mailbox, page, slots=slots)
    page.post(2, 0, 0, ROWS)
    _, x, y, _, _ = m.next_batch(None)
    expected = x.copy()
    m.close()
    del slots
    assert np.array_equal(x, expected)
    page.close()


@needs_c
@pytest.mark.parametrize("value,expected", [("1", False), ("0", True), ("", True)])
def test_mogen_pure_python_set_to_1_turns_the_c_step_off(value, expected):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import mogen; "
            "print(mogen.accelerated())")
    env = dict(os.environ, MOGEN_PURE_PYTHON=value)
    out = subprocess.run([sys.executable, "-c", code, str(harness.CLIENT_PYTHON)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(expected)

"""The Python client over a real mogend: rows, labels, pixels, streams, resume, errors."""

import math
import os
import socket
import time

import numpy as np
import pytest

import harness
import mogen
from conftest import HEIGHT, WIDTH
from mogen import protocol


def connect(sock, stream, **kw):
    """mogen.Client, retrying while the stream is still held by a client that
    just disconnected (the daemon learns of the close asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return mogen.Client(sock, stream, timeout=60, **kw)
        except mogen.StreamBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def one_epoch(client):
    return [(x.copy(), {k: v.copy() for k, v in y.items()}, info)
            for x, y, info in client.epoch()]


def check_labels(data, stream, rows, y, outputs, encoding):
    for name, values in y.items():
        classes = next(o.classes for o in outputs if o.name == name)
        col = data.columns[name]
        expected = [classes.index(data.rows[stream][r][col]) for r in rows]
        if encoding == "onehot":
            assert values.dtype == np.float32 and values.shape == (len(rows), len(classes))
            assert (values.sum(axis=1) == 1).all() and set(np.unique(values)) <= {0.0, 1.0}
            got = values.argmax(axis=1)
        else:
            assert values.dtype == np.int32 and values.shape == (len(rows),)
            got = values
        assert got.tolist() == expected, f"{name} labels differ from the CSV for rows {rows}"


@pytest.mark.parametrize("stream", ["train", "validation"])
@pytest.mark.parametrize("encoding", ["onehot", "index"])
def test_every_row_once_per_epoch_with_the_csvs_labels(mogend, png_data, stream, encoding):
    d = mogend(png_data.config(encoding=encoding))
    n = len(png_data.rows[stream])
    batch = {"train": 8, "validation": 5}[stream]
    with mogen.Client(d.socket, stream, timeout=60) as c:
        assert c.batch_size == batch
        assert c.steps_per_epoch == math.ceil(n / batch)
        assert [o.name for o in c.outputs] == ["category_output", "flag_output"]
        for o in c.outputs:
            assert o.classes == png_data.classes[o.name]
            assert o.kind == "multi_class" and o.encoding == encoding
        orders = []
        for epoch in range(2):
            seen = []
            batches = one_epoch(c)
            assert len(batches) == c.steps_per_epoch
            for k, (x, y, info) in enumerate(batches):
                assert (info["epoch"], info["batch"]) == (epoch, k)
                assert info["size"] == min(batch, n - k * batch)
                assert x.shape == (info["size"], HEIGHT, WIDTH, 3) and x.dtype == np.uint8
                rows = info["row_ids"].tolist()
                check_labels(png_data, stream, rows, y, c.outputs, encoding)
                if stream == "validation":  # not augmented: the pixels are the file's
                    centre = x[:, HEIGHT // 2, WIDTH // 2, :]
                    want = [png_data.rows[stream][r]["colour"] for r in rows]
                    assert centre.tolist() == [list(w) for w in want]
                assert not info["failed"].any() and info["errors"] == []
                seen += rows
            assert sorted(seen) == list(range(n)), f"epoch {epoch} rows: {seen}"
            orders.append(seen)
        if stream == "validation":
            assert orders[0] == list(range(n)), "an unshuffled stream keeps the CSV order"
        assert c.position == (2, 0)


def test_classes_files_match_the_handshake(mogend, png_data):
    d = mogend(png_data.config())
    with mogen.Client(d.socket, "train", timeout=60) as c:
        for o in c.outputs:
            path = png_data.folder / "classes" / f"{o.name}_classes.txt"
            assert path.read_text().splitlines() == o.classes


def test_two_streams_at_once(mogend, png_data):
    d = mogend(png_data.config())
    with mogen.Client(d.socket, "train", timeout=60) as tr, \
            mogen.Client(d.socket, "validation", timeout=60) as va:
        seen = {"train": [], "validation": []}
        its = {"train": tr.epoch(), "validation": va.epoch()}
        while its:
            for name in list(its):  # alternate one batch from each
                try:
                    x, y, info = next(its[name])
                except StopIteration:
                    del its[name]
                    continue
                client = tr if name == "train" else va
                check_labels(png_data, name, info["row_ids"].tolist(), y, client.outputs,
                             "onehot")
                seen[name] += info["row_ids"].tolist()
        assert sorted(seen["train"]) == list(range(37))
        assert seen["validation"] == list(range(13))


def test_resume_at_epoch_and_batch_gives_the_same_bytes(mogend, png_data):
    """Augmented, shuffled train stream: stop mid-epoch 1, reconnect at the saved
    position, and the next batches (crossing into epoch 2) are byte-identical."""
    d = mogend(png_data.config(augment=True))
    with mogen.Client(d.socket, "train", copy=True, timeout=60) as a:
        one_epoch(a)
        for _ in range(2):
            a.next_batch()
        position = a.position
        assert position == (1, 2)
        expected = [a.next_batch() for _ in range(5)]
    assert [(i["epoch"], i["batch"]) for _, _, i in expected] == \
        [(1, 2), (1, 3), (1, 4), (2, 0), (2, 1)]
    with connect(d.socket, "train", start=position, copy=True) as b:
        assert b.position == position
        got = [b.next_batch() for _ in range(5)]
    for (xa, ya, ia), (xb, yb, ib) in zip(expected, got):
        assert (ia["epoch"], ia["batch"]) == (ib["epoch"], ib["batch"])
        assert ia["row_ids"].tolist() == ib["row_ids"].tolist()
        assert xa.tobytes() == xb.tobytes(), f"pixels differ at {ib['epoch']},{ib['batch']}"
        for k in ya:
            assert ya[k].tobytes() == yb[k].tobytes()


def test_resume_from_a_fresh_daemon_matches_an_uninterrupted_run(mogend, png_data):
    """The same config in a new process: batch (1, 3) is the same bytes."""
    cfg = png_data.config(augment=True)
    d1 = mogend(cfg)
    with mogen.Client(d1.socket, "train", copy=True, timeout=60) as a:
        one_epoch(a)
        want = [a.next_batch() for _ in range(4)][3]
    d1.stop()
    d2 = mogend(cfg)
    with mogen.Client(d2.socket, "train", start=(1, 3), copy=True, timeout=60) as b:
        got = b.next_batch()
    assert (got[2]["epoch"], got[2]["batch"]) == (1, 3)
    assert got[2]["row_ids"].tolist() == want[2]["row_ids"].tolist()
    assert got[0].tobytes() == want[0].tobytes()


def test_views_are_read_only_and_copies_are_owned(mogend, png_data):
    d = mogend(png_data.config())
    with mogen.Client(d.socket, "validation", timeout=60) as c:
        x, y, _ = c.next_batch()
        assert not x.flags.writeable and not y["category_output"].flags.writeable
        with pytest.raises(ValueError):
            x[0, 0, 0, 0] = 1
    with mogen.Client(d.socket, "validation", copy=True, timeout=60) as c:
        x, y, info = c.next_batch()
        kept = x.copy()
        assert x.flags.writeable and x.flags.owndata
        for _ in range(c.slot_count + 2):  # cycle every slot of the ring
            c.next_batch()
        assert (x == kept).all()


def test_status_reports_the_streams(mogend, png_data):
    d = mogend(png_data.config())
    with mogen.Client(d.socket, "train", timeout=60) as c:
        c.next_batch()
        st = mogen.status(d.socket)
        assert isinstance(c.status(), dict)
    assert isinstance(st, dict) and st
    text = repr(st)
    assert "train" in text and "validation" in text


def test_no_daemon_is_daemon_not_running_naming_the_socket(tmp_path):
    missing = str(tmp_path / "nothing.sock")
    with pytest.raises(mogen.DaemonNotRunning) as e:
        mogen.Client(missing, "train")
    assert missing in str(e.value)
    stale = str(tmp_path / "stale.sock")  # a socket file nobody listens on
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    with pytest.raises(mogen.DaemonNotRunning) as e:
        mogen.status(stale)
    assert stale in str(e.value)


def test_a_path_that_is_not_a_socket_is_named_as_such(tmp_path):
    plain = tmp_path / "mogend.json"  # e.g. the config given instead of its socket
    plain.write_text("{}")
    for path in (str(plain), str(tmp_path)):
        with pytest.raises(mogen.DaemonNotRunning) as e:
            mogen.Client(path, "train")
        assert str(e.value) == (f'{path} is not a socket (is this the daemon\'s socket '
                                f'path? see the "socket" key of its config)')
        with pytest.raises(mogen.DaemonNotRunning):
            mogen.status(path)


def test_unknown_stream_carries_the_daemons_message(mogend, png_data):
    d = mogend(png_data.config())
    with pytest.raises(mogen.UnknownStream) as e:
        mogen.Client(d.socket, "tset", timeout=30)
    assert e.value.code == "unknown_stream"
    assert e.value.message and e.value.message in str(e.value)
    assert "tset" in e.value.message
    # The daemon carries on serving good clients.
    with mogen.Client(d.socket, "train", timeout=30) as c:
        assert c.next_batch()[2]["size"] == 8


def test_version_mismatch_is_an_error_frame(mogend, png_data):
    d = mogend(png_data.config())
    s = harness.raw_connect(d.socket)
    try:
        s.sendall(protocol.encode_frame(protocol.MsgType.HELLO,
                                        protocol.hello("train", version=2)))
        msg_type, body = harness.read_frame(s)
    finally:
        s.close()
    assert msg_type == protocol.MsgType.ERROR
    err = mogen.errors.daemon_error(body)
    assert isinstance(err, mogen.VersionMismatch), body


def test_daemon_gone_mid_epoch(mogend, png_data):
    d = mogend(png_data.config())
    c = mogen.Client(d.socket, "train", timeout=30)
    try:
        c.next_batch()
        d.stop()  # SIGTERM; must still exit 0 with a client attached
        with pytest.raises(mogen.DaemonGone):
            for _ in range(10):
                c.next_batch()
    finally:
        c.close()

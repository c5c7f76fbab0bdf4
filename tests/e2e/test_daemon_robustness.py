"""mogend keeps serving through what goes wrong around it: workers killed
with SIGKILL, clients killed while holding slots, garbage on the socket,
bad image files."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from harness import (REPO, Mogend, frame, make_images, raw_connect, read_frame, small_config,
                     small_dataset, write_csv)
import mogen  # noqa: E402  (harness puts client/python on sys.path)

ROWS = 150


@pytest.fixture
def dataset(tmp_path):
    return small_dataset(tmp_path, ROWS)


# Shuffled by default; tests that need file order pass shuffle=False.
config = small_config


def busy_worker_pid(d, timeout=5):
    """The pid of a worker that is filling a batch right now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in mogen.status(d.socket)["workers"]:
            if w["state"] == "busy":
                return w["pid"]
        time.sleep(0.001)
    raise AssertionError("no worker was ever busy")


def test_worker_killed_mid_batch_loses_and_repeats_nothing(tmp_path):
    # Large images so that filling a batch takes a while and the kill lands
    # mid-job, which the log confirms.
    names = make_images(tmp_path / "images", 60, size=(900, 700))
    write_csv(tmp_path / "train.csv", ["image", "label"], [[n, "a"] for n in names])
    with Mogend(tmp_path, config(tmp_path, batch_size=4, slots=3), workers=2) as d:
        client = mogen.Client(d.socket, "train")
        seen = []
        killed = 0
        for k, (x, y, info) in enumerate(client.epoch()):
            seen.extend(int(r) for r in info["row_ids"])
            if k in (1, 5, 9):
                # Give this slot back first: on a loaded machine the workers
                # may have filled every other slot and be idle.
                client.release()
                os.kill(busy_worker_pid(d), signal.SIGKILL)
                killed += 1
        client.close()
        status = mogen.status(d.socket)
        log = d.stop()
    assert killed == 3
    assert sorted(seen) == list(range(60)), "an epoch must hold every row exactly once"
    assert status["worker_deaths"] == 3
    assert "its batch will be redone" in log


def test_a_worker_stuck_on_a_batch_is_killed_and_the_batch_redone(dataset):
    """A worker that never finishes its batch (stopped here with SIGSTOP, as
    a decode stuck in a loop or a read from a hung network share would be)
    is killed after batch_timeout; a replacement redoes the batch, and the
    epoch still holds every row once."""
    with Mogend(dataset, config(dataset, shuffle=False, batch_timeout=2), workers=1) as d:
        # Over the socket, so that the whole ring fills with ready batches.
        client = mogen.Client(d.socket, "train", timeout=30, mailbox=False)
        deadline = time.monotonic() + 10
        while mogen.status(d.socket)["streams"][0]["slots"]["ready"] < 4:
            assert time.monotonic() < deadline, "the ring never filled"
            time.sleep(0.02)
        stuck = mogen.status(d.socket)["workers"][0]["pid"]
        os.kill(stuck, signal.SIGSTOP)
        try:
            seen = []
            started = time.monotonic()
            for x, y, info in client.epoch():
                seen.extend(int(r) for r in info["row_ids"])
            took = time.monotonic() - started
        finally:
            try:
                os.kill(stuck, signal.SIGCONT)
            except ProcessLookupError:
                pass
        status = mogen.status(d.socket)
        client.close()
        log = d.stop()
    assert sorted(seen) == list(range(ROWS)), "an epoch must hold every row exactly once"
    assert f"(pid {stuck}) has spent over 2 s on batch" in log, log
    assert "died while filling a batch; its batch will be redone" in log, log
    assert status["workers"][0]["restarts"] >= 1
    assert status["workers"][0]["pid"] != stuck
    assert took >= 2, f"the epoch took {took:.1f} s: was the worker really stuck?"


def test_batch_timeout_zero_never_kills(dataset):
    """batch_timeout 0 turns the watchdog off: a worker stopped in the
    middle of a batch for longer than a timeout would allow stays, and
    finishes the batch once it runs again."""
    with Mogend(dataset, config(dataset, batch_timeout=0), workers=1) as d:
        client = mogen.Client(d.socket, "train", timeout=30, mailbox=False)
        deadline = time.monotonic() + 10
        while mogen.status(d.socket)["streams"][0]["slots"]["ready"] < 4:
            assert time.monotonic() < deadline, "the ring never filled"
            time.sleep(0.02)
        pid = mogen.status(d.socket)["workers"][0]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(4):
                client.next_batch()   # each release hands the stopped worker a job
            time.sleep(2.5)
            w = mogen.status(d.socket)["workers"][0]
            assert (w["pid"], w["state"]) == (pid, "busy"), w
        finally:
            os.kill(pid, signal.SIGCONT)
        client.next_batch()           # the worker, running again, filled it
        client.close()
        log = d.stop()
    assert "killing it" not in log, log


def test_killed_client_gives_its_slots_back(dataset):
    with Mogend(dataset, config(dataset, slots=4), workers=1) as d:
        holder = subprocess.Popen(
            [sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(REPO / 'client' / 'python')!r})
import mogen
c = mogen.Client({d.socket!r}, "train", mailbox=False)
c.next_batch()
print("holding", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "holding"
        leased = mogen.status(d.socket)["streams"][0]["slots"]["leased"]
        assert leased == 1
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if mogen.status(d.socket)["streams"][0]["slots"]["leased"] == 0:
                break
            time.sleep(0.05)
        assert mogen.status(d.socket)["streams"][0]["slots"]["leased"] == 0
        # Another client carries on from where the queue stands.
        other = mogen.Client(d.socket, "train")
        x, y, info = other.next_batch()
        assert info["size"] == 10
        other.close()


@pytest.mark.parametrize("garbage, code", [
    (b"GET / HTTP/1.1\r\n\r\n", "bad_frame"),
    (frame(3)[:2] + b"\x63\x00\x00\x00\x00\x00", "bad_frame"),          # unknown type 99
    (b"MG" + (1).to_bytes(2, "little") + (10**9).to_bytes(4, "little"), "bad_frame"),  # 1 GB
    (frame(1, b"[1, 2, 3]"), "bad_frame"),                                # not an object
    (frame(1, b"{\"version\": 1"), "bad_frame"),                          # truncated JSON
    (frame(1, {"version": 99, "stream": "train"}), "version_mismatch"),
    (frame(1, {"version": 1, "stream": "nope"}), "unknown_stream"),
    (frame(1, {"version": 1}), "bad_request"),
    (frame(2, {}), "bad_frame"),                                          # WELCOME from a client
])
def test_bad_frames_get_an_error_and_close_only_that_connection(dataset, garbage, code):
    with Mogend(dataset, config(dataset), workers=1) as d:
        good = mogen.Client(d.socket, "train")
        good.next_batch()
        bad = raw_connect(d.socket)
        bad.sendall(garbage)
        msg_type, body = read_frame(bad)
        assert msg_type == 9 and body["code"] == code, body
        assert body["message"]
        bad.settimeout(5)
        assert bad.recv(1) == b"", "the daemon must close the offending connection"
        bad.close()
        # The other client and the daemon carry on.
        x, y, info = good.next_batch()
        assert info["size"] == 10
        good.close()


def test_truncated_frame_then_hangup_harms_nobody(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        good = mogen.Client(d.socket, "train")
        for _ in range(20):
            s = raw_connect(d.socket)
            s.sendall(frame(1, {"version": 1, "stream": "train"})[:11])
            s.close()
        x, y, info = good.next_batch()
        assert info["size"] == 10
        good.close()


def test_a_file_replaced_by_a_fifo_fails_its_sample_instead_of_hanging_a_worker(dataset):
    # The load drops rows whose path is not a regular file; a path that turns
    # into a FIFO afterwards must not block the worker in open() for ever.
    with Mogend(dataset, config(dataset, shuffle=False), workers=1) as d:
        fifo = dataset / "images" / "img0085.png"  # batch 8: the ring holds 4
        fifo.unlink()
        os.mkfifo(fifo)
        client = mogen.Client(d.socket, "train", timeout=20)
        errors = []
        for _ in range(10):
            x, y, info = client.next_batch()
            errors += [(e["row"], e["reason"]) for e in info["errors"]]
        assert errors == [(85, "not a regular file")]
        client.close()


def test_release_of_a_slot_not_held_is_an_error_but_keeps_the_connection(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        s = raw_connect(d.socket)
        s.sendall(frame(6, {"slot": 0}))
        msg_type, body = read_frame(s)
        assert msg_type == 9 and body["code"] == "not_attached"
        s.sendall(frame(7))
        msg_type, body = read_frame(s)
        assert msg_type == 8 and body["streams"][0]["name"] == "train"
        s.close()


def test_failed_files_are_reported_and_replaced_so_batches_stay_full(dataset):
    # Two files become garbage after the load (so the existence check passes).
    (dataset / "images" / "img0003.png").write_bytes(b"this is not an image")
    (dataset / "images" / "img0007.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with Mogend(dataset, config(dataset, shuffle=False), workers=2) as d:
        client = mogen.Client(d.socket, "train")
        x, y, info = client.next_batch()
        assert info["size"] == 10
        failed_rows = sorted(e["row"] for e in info["errors"])
        assert failed_rows == [3, 7]
        for e in info["errors"]:
            assert e["path"].endswith(f"img{e['row']:04d}.png")
            assert e["reason"]
        assert info["failed"].tolist() == [i in (3, 7) for i in range(10)]
        # Stand-ins are copies of a good sample of the same batch, never zeros.
        for i in (3, 7):
            assert any(np.array_equal(x[i], x[j]) for j in range(10) if j not in (3, 7))
        client.close()
        status = mogen.status(d.socket)
    assert status["errors"]["count"] == 2 and status["errors"]["files"] == 2
    assert any("img0003.png" in e["path"] for e in status["errors"]["recent"])


def test_each_sample_of_a_batch_wider_than_the_read_ahead_is_its_own_file(tmp_path):
    """A worker keeps 32 files open ahead of the one it decodes (fill.c,
    FILL_READ_AHEAD). In a batch of 80, with files failing on both sides of
    the window's edges, every sample must still be its own file: its
    colour, its row id, its failure flag."""
    names = make_images(tmp_path / "images", 80)
    write_csv(tmp_path / "train.csv", ["image", "label"],
              [[n, ["cat", "dog", "bird"][i % 3]] for i, n in enumerate(names)])
    broken = {31: "not an image", 32: "not an image", 40: "a directory", 63: "not an image",
              64: "not an image"}
    with Mogend(tmp_path, config(tmp_path, batch_size=80, shuffle=False, slots=2),
                workers=1) as d:
        for i, what in broken.items():  # after the load, which checks the paths exist
            path = tmp_path / "images" / names[i]
            path.unlink()
            if what == "a directory":
                path.mkdir()
            else:
                path.write_bytes(b"this is not an image")
        client = mogen.Client(d.socket, "train", timeout=20)
        for _ in range(3):  # the two slots filled before the files broke, then a fresh one
            x, y, info = client.next_batch()
        client.close()
    # A failed sample is a copy of the next good one, row id included.
    stand_in = {31: 33, 32: 33, 40: 41, 63: 65, 64: 65}
    assert info["size"] == 80
    assert info["row_ids"].tolist() == [stand_in.get(i, i) for i in range(80)]
    assert [i for i in range(80) if info["failed"][i]] == sorted(broken)
    assert sorted((e["row"], e["reason"] == "not a regular file") for e in info["errors"]) == \
        [(i, broken[i] == "a directory") for i in sorted(broken)]
    for i in range(80):  # a solid colour from its index (harness.make_images), resized
        k = stand_in.get(i, i)
        want = ((k * 37) % 256, (k * 91) % 256, (k * 53 + 7) % 256)
        assert np.abs(x[i, 8, 8].astype(int) - want).max() <= 1, (i, x[i, 8, 8], want)


def test_files_read_ahead_are_all_closed_and_a_small_fd_limit_fails_nothing(tmp_path):
    """With an open-file limit of 16 a worker cannot open 32 files ahead:
    the files it could not open early are opened when their turn comes, so
    no sample fails. And once the workers are idle they hold as many fds
    after many batches as after the first ones: none is left open."""
    names = make_images(tmp_path / "images", 120)
    write_csv(tmp_path / "train.csv", ["image", "label"],
              [[n, ["cat", "dog", "bird"][i % 3]] for i, n in enumerate(names)])

    def idle_worker_fds(d):
        deadline = time.monotonic() + 10
        while any(w["state"] != "idle" for w in mogen.status(d.socket)["workers"]):
            assert time.monotonic() < deadline, "workers never went idle"
            time.sleep(0.01)
        return sorted(len(os.listdir(f"/proc/{pid}/fd")) for pid in d.worker_pids())

    with Mogend(tmp_path, config(tmp_path, batch_size=60, shuffle=False, slots=3),
                workers=2, open_files=16) as d:
        client = mogen.Client(d.socket, "train", timeout=20)
        seen = []
        for _ in range(2):
            x, y, info = client.next_batch()
            seen.append(info)
        before = idle_worker_fds(d)
        for _ in range(8):
            x, y, info = client.next_batch()
            seen.append(info)
        i = 119  # the last sample of the last batch: its own pixels
        want = ((i * 37) % 256, (i * 91) % 256, (i * 53 + 7) % 256)
        assert np.abs(x[59, 8, 8].astype(int) - want).max() <= 1
        after = idle_worker_fds(d)
        client.close()
    assert after == before
    assert max(after) < 16
    for info in seen:
        assert info["errors"] == [] and not info["failed"].any(), info["errors"]
        first = info["batch"] * 60
        assert info["row_ids"].tolist() == list(range(first, first + 60))


def test_a_file_failing_every_epoch_is_reported_once(tmp_path):
    names = make_images(tmp_path / "images", 6)
    (tmp_path / "images" / names[4]).write_bytes(b"not an image at all")
    write_csv(tmp_path / "train.csv", ["image", "label"], [[n, "a"] for n in names])
    with Mogend(tmp_path, config(tmp_path, batch_size=6, slots=4), workers=1) as d:
        c = mogen.Client(d.socket, "train")
        for _ in range(5):                     # five epochs of one batch each
            x, y, info = c.next_batch()
            assert [e["row"] for e in info["errors"]] == [4], "each BATCH names its failures"
        c.close()
        status = mogen.status(d.socket)
        log = d.stop()
    assert log.count(f"{names[4]} (row 4, line 6): not a JPEG or PNG file") == 1
    assert status["errors"]["files"] == 1 and status["errors"]["count"] >= 5
    assert len(status["errors"]["recent"]) == 1
    assert status["streams"][0]["failed_files"] == 1


def test_stream_whose_files_all_fail_stops_with_a_clear_error(tmp_path):
    names = make_images(tmp_path / "images", 12)
    for n in names:
        (tmp_path / "images" / n).write_bytes(b"GIF89a not supported here")
    write_csv(tmp_path / "train.csv", ["image", "label"], [[n, "a"] for n in names])
    with Mogend(tmp_path, config(tmp_path, batch_size=4), workers=1) as d:
        client = mogen.Client(d.socket, "train", timeout=30)
        with pytest.raises(mogen.StreamFailed) as e:
            for _ in range(10):
                client.next_batch()
        assert "GIF" in str(e.value) or "not a JPEG or PNG" in str(e.value)
        client.close()
        status = mogen.status(d.socket)
    assert status["streams"][0]["failed"] is True


def test_jpeg_decoded_despite_a_warning_is_reported(tmp_path):
    from PIL import Image
    names = make_images(tmp_path / "images", 6, fmt="JPEG")
    path = tmp_path / "images" / names[2]
    data = path.read_bytes()
    # Two stray bytes before the quantisation table: libjpeg warns "Corrupt
    # JPEG data: 2 extraneous bytes before marker 0xdb"; PIL decodes it.
    at = data.index(b"\xff\xdb")
    path.write_bytes(data[:at] + b"\x12\x34" + data[at:])
    Image.open(path).load()
    write_csv(tmp_path / "train.csv", ["image", "label"], [[n, "a"] for n in names])
    with Mogend(tmp_path, config(tmp_path, batch_size=6, shuffle=False), workers=1) as d:
        c = mogen.Client(d.socket, "train")
        x, y, info = c.next_batch()
        assert info["size"] == 6 and not info["failed"].any() and info["errors"] == []
        c.close()
        status = mogen.status(d.socket)
        log = d.stop()
    # The ring prefetches several epochs of this one-batch stream, so the file
    # is decoded (and warns) several times: it is logged once, counted each time.
    warned = log.count(f"{names[2]} (row 2, line 4) decoded despite a decoder warning: "
                       "JPEG warning: Corrupt JPEG data: 2 extraneous bytes before marker 0xdb")
    assert warned == 1
    assert log.count("decoded despite a decoder warning") == 1, "only that file warns"
    assert status["decoder_warnings"] >= 1
    assert status["streams"][0]["warned_files"] == 1

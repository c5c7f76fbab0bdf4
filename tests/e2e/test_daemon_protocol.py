"""Protocol behaviour of a real mogend beyond the happy path: sharding by
rank and world, systemd readiness, and clients that misbehave."""

import os
import socket
import subprocess
import time

import pytest

from harness import SANITIZED, Mogend, frame, make_images, raw_connect, read_frame, write_csv
import mogen  # noqa: E402  (harness puts client/python on sys.path)

ROWS = 47


@pytest.fixture
def dataset(tmp_path):
    names = make_images(tmp_path / "images", ROWS)
    write_csv(tmp_path / "train.csv", ["image", "label"],
              [[n, "abc"[i % 3]] for i, n in enumerate(names)])
    return tmp_path


def config(root, shuffle=True):
    return {
        "image": {"size": [8, 8]},
        "path": {"root": str(root / "images")},
        "outputs": {"multi_class": [{"label_output": "label"}]},
        "streams": {"train": {"csv": str(root / "train.csv"), "batch_size": 5,
                              "shuffle": shuffle, "augment": False}},
        "seed": 11,
        "ring_slots": 4,
    }


def one_epoch(socket_path, **kw):
    c = mogen.Client(socket_path, "train", **kw)
    batches, rows = [], []
    for x, y, info in c.epoch():
        batches.append(info["batch"])
        rows.extend(int(r) for r in info["row_ids"])
    steps = c.steps_per_epoch
    c.close()
    return batches, rows, steps


def test_ranks_on_separate_daemons_see_disjoint_complete_shards(dataset):
    # As on two training nodes: each runs its own mogend over the same CSV and
    # seed, and its trainer names its rank.
    (dataset / "a").mkdir()
    (dataset / "b").mkdir()
    with Mogend(dataset / "a", config(dataset), workers=1) as a, \
            Mogend(dataset / "b", config(dataset), workers=1) as b:
        batches0, rows0, steps0 = one_epoch(a.socket, rank=0, world=2)
        batches1, rows1, steps1 = one_epoch(b.socket, rank=1, world=2)
    # 47 rows in batches of 5: 10 batches, rank 0 gets 0,2,..,8 and rank 1 1,3,..,9.
    assert batches0 == [0, 2, 4, 6, 8] and steps0 == 5
    assert batches1 == [1, 3, 5, 7, 9] and steps1 == 5
    assert not set(rows0) & set(rows1)
    assert sorted(rows0 + rows1) == list(range(ROWS))


def test_clients_of_one_stream_share_one_queue(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        c1 = mogen.Client(d.socket, "train", copy=True)
        c2 = mogen.Client(d.socket, "train", copy=True)
        got = []
        for _ in range(5):
            got.append(c1.next_batch()[2]["batch"])
            got.append(c2.next_batch()[2]["batch"])
        c1.close()
        c2.close()
    assert sorted(got) == list(range(10)), "each batch goes to exactly one client"


def test_a_released_slot_is_refilled_with_no_client_waiting(dataset):
    """A RELEASE that no NEXT waits behind hands the slot to a worker a
    moment later (worker_pool_pump_soon) instead of at once; it must still
    be handed over: with nobody asking, the ring fills up again. (Over the
    socket: a mailbox client holds one slot more, its posted batch.)"""
    with Mogend(dataset, config(dataset), workers=1) as d:
        c = mogen.Client(d.socket, "train", mailbox=False)
        deadline = time.monotonic() + 10
        while mogen.status(d.socket)["streams"][0]["slots"]["ready"] < 4:
            assert time.monotonic() < deadline, mogen.status(d.socket)["streams"][0]
            time.sleep(0.02)
        for _ in range(3):
            c.next_batch()
            c.release()  # nothing asked after it
            deadline = time.monotonic() + 10
            while True:
                slots = mogen.status(d.socket)["streams"][0]["slots"]
                if slots["ready"] == 4:
                    break
                assert time.monotonic() < deadline, f"the released slot stays {slots}"
                time.sleep(0.02)
        c.close()


def test_hello_for_another_position_while_attached_is_refused(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        c = mogen.Client(d.socket, "train")
        c.next_batch()
        with pytest.raises(mogen.StreamBusy) as e:
            mogen.Client(d.socket, "train", start=(3, 0))
        assert "client(s) attached" in str(e.value)
        with pytest.raises(mogen.BadRequest):
            mogen.Client(d.socket, "train", rank=1, world=2, start=(0, 0))  # batch 0 is rank 0's
        c.close()


def test_ready_and_stopping_are_sent_to_systemd(dataset, tmp_path):
    path = str(tmp_path / "notify.sock")
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(path)
    sd.settimeout(30)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        d = Mogend(dataset, config(dataset), workers=1, wait=False)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    msg = sd.recv(4096).decode()
    assert msg == "READY=1"
    # READY comes only once the socket accepts connections.
    mogen.status(d.socket)
    d.stop()
    assert sd.recv(4096).decode() == "STOPPING=1"
    sd.close()


def test_client_that_stops_reading_does_not_stall_others(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        stuck = raw_connect(d.socket)
        stuck.sendall(frame(1, {"version": 1, "stream": "train"}))
        read_frame(stuck)                      # WELCOME
        stuck.sendall(frame(3))
        read_frame(stuck)                      # BATCH: it now holds a slot
        stuck.setblocking(False)
        sent = 0
        try:
            for _ in range(20000):             # STATUS requests it never reads
                stuck.send(frame(7))
                sent += 1
        except BlockingIOError:
            pass
        assert sent > 100
        other = mogen.Client(d.socket, "train", timeout=10)
        start = time.monotonic()
        for _ in range(4):
            other.next_batch()
        assert time.monotonic() - start < 10
        assert mogen.status(d.socket, timeout=10)["streams"][0]["clients"] == 2
        other.close()
        stuck.close()


def test_a_body_that_is_not_one_utf8_json_object_is_a_bad_frame(dataset):
    """cJSON alone took "{}xyz", a Latin-1 byte and a NUL in a string, and
    the daemon answered such a NEXT with a BATCH; protocol.md promises
    bad_frame (the connection is closed)."""
    with Mogend(dataset, config(dataset), workers=1) as d:
        for body in (b"{}xyz", b'{"a":"\xff\xfe"}', b'{"a":"x\x00y"}', b"{} {}"):
            s = raw_connect(d.socket)
            s.sendall(frame(7, body))              # STATUS with that body
            t, reply = read_frame(s)
            assert t == 9 and reply["code"] == "bad_frame", (body, t, reply)
            assert "not one JSON object in UTF-8" in reply["message"]
            s.settimeout(5)
            assert s.recv(1) == b"", "the connection is closed after bad_frame"
            s.close()
        assert mogen.status(d.socket)["streams"][0]["rows"] == ROWS


@pytest.mark.skipif(SANITIZED, reason="an installed ASan libmogen.so needs the ASan runtime "
                    "preloaded (the plain build's run checks the install)")
def test_make_install_honours_prefix_and_destdir(tmp_path):
    from harness import REPO, BUILD
    dest = tmp_path / "dest"
    run = subprocess.run(["make", "-s", "-C", str(REPO), f"BUILD={BUILD}", "install",
                          "PREFIX=/opt/mg", f"DESTDIR={dest}"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    root = dest / "opt" / "mg"
    for f in ["bin/mogend", "bin/mogenctl", "lib/libmogen.a", "lib/libmogen.so.1",
              "lib/libmogen.so", "include/mogen.h", "lib/pkgconfig/mogen.pc",
              # the unit's Documentation= points at this one
              "share/doc/mogen/operations.md", "share/doc/mogen/examples/mogend.service"]:
        assert (root / f).exists(), f
    unit = (REPO / "conf" / "mogend.service").read_text()
    assert "Documentation=file:/usr/local/share/doc/mogen/operations.md" in unit
    pc = (root / "lib/pkgconfig/mogen.pc").read_text()
    assert "prefix=/opt/mg" in pc
    # A program builds against the installed header and library via pkg-config.
    env = dict(os.environ, PKG_CONFIG_PATH=str(root / "lib/pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=str(dest))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "mogen"],
                           capture_output=True, text=True, env=env, check=True).stdout.split()
    exe = tmp_path / "sum_batch"
    run = subprocess.run(["cc", "-o", str(exe), str(REPO / "client/c/examples/sum_batch.c"),
                          *flags], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # It loads the installed libmogen.so.1 (the soname) and runs.
    usage = subprocess.run([str(exe)], capture_output=True, text=True,
                           env=dict(os.environ, LD_LIBRARY_PATH=str(root / "lib")))
    assert usage.returncode == 2 and "usage" in usage.stderr, usage.stderr

"""The C client library over a real daemon: the example program sees the
same batches, byte for byte, as the Python client does."""

import os
import re
import subprocess

import numpy as np
import pytest

from harness import BUILD, Mogend, make_images, write_csv
import mogen  # noqa: E402  (harness puts client/python on sys.path)


@pytest.fixture
def dataset(tmp_path):
    names = make_images(tmp_path / "images", 23, size=(30, 20))
    write_csv(tmp_path / "train.csv", ["image", "label", "size"],
              [[n, "xyz"[i % 3], "SML"[i % 2]] for i, n in enumerate(names)])
    return tmp_path


def config(root):
    return {
        "image": {"size": [12, 10]},
        "path": {"root": str(root / "images")},
        "outputs": {"multi_class": [{"label_output": "label"},
                                    {"size_output": {"column": "size", "encoding": "index"}}]},
        "streams": {"train": {"csv": str(root / "train.csv"), "batch_size": 5,
                              "shuffle": True, "augment": False}},
        "seed": 3,
        "ring_slots": 3,
    }


def python_sums(socket, count):
    c = mogen.Client(socket, "train", start=(0, 0))
    out = []
    while len(out) < count:
        item = c._next()
        if item is None:
            continue
        x, y, info = item
        label = c.outputs[0].classes[int(np.argmax(y["label_output"][0]))]
        size = c.outputs[1].classes[int(y["size_output"][0])]
        out.append((info["epoch"], info["batch"], info["size"], int(x.astype(np.int64).sum()),
                    label, size))
    c.close()
    return out


@pytest.mark.parametrize("program", ["sum_batch", "sum_batch_shared"])
def test_c_example_sees_the_same_batches_as_python(dataset, program):
    with Mogend(dataset, config(dataset), workers=1) as d:
        run = subprocess.run([str(BUILD / "examples" / program), d.socket, "train", "7"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        want = python_sums(d.socket, 7)
    lines = run.stdout.splitlines()
    assert lines[0] == "stream train: batch_size 5, 5 steps per epoch, 2 outputs"
    assert "end of epoch 0" in lines
    got = []
    for line in lines:
        m = re.match(r"epoch (\d+) batch (\d+): (\d+) samples, x sum (\S+), "
                     r"label_output\[0\] (\S+), size_output\[0\] (\S+)", line)
        if m:
            got.append((int(m[1]), int(m[2]), int(m[3]), int(float(m[4])), m[5], m[6]))
    assert got == want
    assert got[4][2] == 3, "23 rows in batches of 5 end with a batch of 3"


def test_c_example_reports_the_daemons_error(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        run = subprocess.run([str(BUILD / "examples" / "sum_batch"), d.socket, "nope"],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert 'no stream named "nope"; streams are: train' in run.stderr


def run_epoch_tool(socket, release_after, env=None):
    """Runs build/tools/mogen-epoch; returns its batches as (epoch, index,
    [(row, label), ...]) and the rest of its lines."""
    run = subprocess.run([str(BUILD / "tools" / "mogen-epoch"), socket, "train",
                          str(release_after)], capture_output=True, text=True, timeout=60,
                         env=None if env is None else {**os.environ, **env})
    assert run.returncode == 0, run.stderr
    batches, other = [], []
    for line in run.stdout.splitlines():
        m = re.match(r"batch (\d+) (\d+) (\d+):(.*)", line)
        if m:
            samples = [(int(r), label) for r, label in
                       (s.split("=") for s in m[4].split())]
            assert len(samples) == int(m[3])
            batches.append((int(m[1]), int(m[2]), samples))
        else:
            other.append(line)
    return batches, other


def test_paced_c_client_takes_from_its_mailbox_the_batches_the_socket_would_give(dataset):
    """libmogen with its mailbox (the default) and a pause before each batch,
    as a trainer's step: the daemon posts most batches ahead, and the client
    gets the same batches, rows and labels as one without a mailbox."""
    pace = {"MOGEN_EPOCH_PAUSE_US": "5000"}
    with Mogend(dataset, config(dataset), workers=1) as d:
        with_mailbox, other = run_epoch_tool(d.socket, 0, pace)
    posted = [line for line in other if line.startswith("mailbox posted")]
    assert len(posted) == 1 and posted[0] != "mailbox posted none", other
    # 6 batches, each of which may have been posted (END_OF_EPOCH travels
    # on the socket, but the batch after it can be posted again), and one
    # more ahead of the last one taken.
    assert 3 <= int(posted[0].split()[-1]) <= 7, other
    with Mogend(dataset, config(dataset), workers=1) as d:
        over_socket, other = run_epoch_tool(d.socket, 0, {**pace, "MOGEN_EPOCH_MAILBOX": "0"})
    assert "mailbox posted none" in other
    assert with_mailbox == over_socket
    assert [b[:2] for b in with_mailbox] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0)]


@pytest.mark.parametrize("release_after", [0, 2])
def test_release_next_consumes_an_epoch_with_every_row_once(dataset, release_after):
    """A loop of mogen_release_next sees each row of the epoch exactly once,
    with its label, and then the next epoch. With release_after = 2 the
    second batch is released first, so the following mogen_release_next holds
    nothing and must act as mogen_next (sending no RELEASE the daemon would
    refuse with not_leased)."""
    with Mogend(dataset, config(dataset), workers=1) as d:
        batches, other = run_epoch_tool(d.socket, release_after)
        log = d.logs()
    epoch0 = [b for b in batches if b[0] == 0]
    assert [b[1] for b in epoch0] == [0, 1, 2, 3, 4]
    rows = [row for _, _, samples in epoch0 for row, _ in samples]
    assert sorted(rows) == list(range(23))
    for _, _, samples in epoch0:
        for row, label in samples:
            assert label == "xyz"[row % 3], (row, label)
    assert batches[-1][:2] == (1, 0) and len(batches[-1][2]) == 5
    want = ["end of epoch 0", "error message: "]
    if release_after:
        want.insert(0, "released")
    assert other == want
    assert "not_leased" not in log

"""mogenctl status and peek against a real daemon."""

import json
import re
import subprocess
import time

import numpy as np
import pytest

from harness import Mogend, binary, make_images, write_csv
import mogen  # noqa: E402  (harness puts client/python on sys.path)


@pytest.fixture
def dataset(tmp_path):
    names = make_images(tmp_path / "images", 30, size=(40, 30))
    write_csv(tmp_path / "train.csv", ["image", "label", "colour"],
              [[n, "ab"[i % 2], "xyz"[i % 3]] for i, n in enumerate(names)])
    return tmp_path


def config(root):
    return {
        "image": {"size": [20, 12], "dtype": "float32", "scale": 2 / 255, "offset": -1},
        "path": {"root": str(root / "images")},
        "outputs": {"multi_class": [{"label_output": "label"},
                                    {"colour_output": {"column": "colour", "encoding": "index"}}]},
        "streams": {"train": {"csv": str(root / "train.csv"), "batch_size": 7,
                              "shuffle": False, "augment": False}},
        "ring_slots": 3,
    }


def ctl(*args):
    return subprocess.run([str(binary("mogenctl")), *args], capture_output=True, text=True,
                          timeout=60)


def test_status_shows_streams_workers_and_clients(dataset):
    with Mogend(dataset, config(dataset), workers=2) as d:
        # Over the socket: a mailbox client would already hold batch 1.
        c = mogen.Client(d.socket, "train", mailbox=False)
        c.next_batch()
        out = ctl("status", "--socket", d.socket)
        assert out.returncode == 0, out.stderr
        assert re.search(r"^train\s+30\s+0\s+1\s+5\s+", out.stdout, re.M), out.stdout
        assert "WORKER" in out.stdout and out.stdout.count("\n") > 8
        js = json.loads(ctl("status", "--json", "--socket", d.socket).stdout)
        assert js["streams"][0]["slots"]["leased"] == 1
        assert len(js["workers"]) == 2 and len(js["clients"]) >= 1
        c.close()
    out = ctl("status", "--socket", d.socket)
    assert out.returncode == 1 and "cannot reach mogend" in out.stderr
    assert "--config FILE" in out.stderr and "MOGEN_SOCKET" in out.stderr


def test_status_counts_rows_dropped_for_a_blank_label(tmp_path):
    """Rows that "missing": "skip_row" dropped were only in the start-up log."""
    names = make_images(tmp_path / "images", 12, size=(40, 30))
    write_csv(tmp_path / "train.csv", ["image", "label", "colour"],
              [[n, "" if i in (3, 7) else "ab"[i % 2], "xyz"[i % 3]] for i, n in enumerate(names)])
    cfg = config(tmp_path)
    cfg["outputs"]["multi_class"][0] = {"label_output": {"column": "label", "missing": "skip_row"}}
    with Mogend(tmp_path, cfg, workers=1) as d:
        js = json.loads(ctl("status", "--json", "--socket", d.socket).stdout)
        assert js["streams"][0]["rows"] == 10 and js["streams"][0]["blank_label_rows"] == 2
        out = ctl("status", "--socket", d.socket).stdout
        assert "train: 2 rows dropped at load for a blank label" in out, out


def test_status_and_peek_find_the_socket_in_the_daemons_config(dataset):
    with Mogend(dataset, config(dataset), workers=1) as d:
        out = ctl("status", "--config", str(d.config_path))
        assert out.returncode == 0, out.stderr
        assert f"socket {d.socket}" in out.stdout
        png = dataset / "p.png"
        out = ctl("peek", "train", "-o", str(png), "--config", str(d.config_path), "-n", "2")
        assert out.returncode == 0, out.stderr
        assert png.exists() and len(out.stdout.splitlines()) == 3
    (dataset / "broken.json").write_text("{\"socket\": 3}")
    out = ctl("status", "--config", str(dataset / "broken.json"))
    assert out.returncode == 1 and "socket" in out.stderr and "broken.json" in out.stderr


def test_peek_writes_the_batch_as_the_model_sees_it(dataset):
    from PIL import Image
    png = dataset / "peek.png"
    with Mogend(dataset, config(dataset), workers=1) as d:
        out = ctl("peek", "train", "-o", str(png), "--socket", d.socket)
        assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert "7 samples" in lines[0]
    tiles = lines[1:]
    assert len(tiles) == 7
    for i, line in enumerate(tiles):
        # Grid order, row ids of the unshuffled first batch, labels from the CSV.
        assert line.startswith(f"[{i // 3},{i % 3}] row {i} ")
        assert f"label_output={'ab'[i % 2]}" in line and f"colour_output={'xyz'[i % 3]}" in line
    sheet = np.asarray(Image.open(png).convert("RGB"))
    assert sheet.shape == (3 * (12 + 2) + 2, 3 * (20 + 2) + 2, 3)
    # The same batch through the Python client, de-normalised, equals the tiles.
    again = dataset / "again"
    again.mkdir()
    with Mogend(again, config(dataset), workers=1) as d:
        c = mogen.Client(d.socket, "train", copy=True)
        x, y, info = c.next_batch()
        c.close()
    pixels = np.clip(np.rint((x + 1) * 255 / 2), 0, 255).astype(np.uint8)
    for i in range(7):
        r, col = divmod(i, 3)
        tile = sheet[2 + r * 14: 2 + r * 14 + 12, 2 + col * 22: 2 + col * 22 + 20]
        assert np.abs(tile.astype(int) - pixels[i]).max() <= 1, f"tile {i} differs"


def test_peek_beside_a_trainer_takes_one_batch_and_only_one(dataset):
    """peek joins the trainer's queue for one batch. It connects without a
    mailbox: with one, the daemon would post it the next batch as well,
    which would be dropped when peek leaves, lost to the trainer. (Enough
    slots that one more batch is ready while peek draws.)"""
    with Mogend(dataset, dict(config(dataset), ring_slots=6), workers=1) as d:
        c = mogen.Client(d.socket, "train")  # with its mailbox
        got = [c.next_batch()[2]["batch"]]
        time.sleep(0.1)  # the trainer's next batch is posted meanwhile
        out = ctl("peek", "train", "-o", str(dataset / "peek.png"), "--socket", d.socket)
        assert out.returncode == 0, out.stderr
        time.sleep(0.1)
        steps = c.steps_per_epoch
        while len(got) < steps - 1:
            time.sleep(0.005)
            got.append(c.next_batch()[2]["batch"])
        c.close()
        log = d.stop()
    assert len(set(got)) == len(got) == steps - 1
    peeked = re.search(r"row (\d+) ", out.stdout.splitlines()[1])
    assert peeked and int(peeked[1]) // 7 not in got, out.stdout  # batch 7 rows wide
    assert "dropped" not in log


def test_version_names_the_release_and_the_protocol():
    out = ctl("--version")
    assert out.returncode == 0 and re.fullmatch(r"mogenctl \d+\.\d+\.\d+ \(protocol 1\)\n",
                                                out.stdout)


def test_usage_errors_exit_2():
    assert ctl("peek").returncode == 2
    assert ctl("status", "extra").returncode == 2
    out = ctl("--help")
    assert out.returncode == 0 and "validate" in out.stdout and "status" in out.stdout \
        and "peek" in out.stdout


def test_peek_usage_errors_say_what_is_missing():
    for args, said in ((("peek", "train"), "-o FILE.png is missing"),
                       (("peek", "-o", "x.png"), "name the stream"),
                       (("peek", "a", "b", "-o", "x.png"), "one stream at a time")):
        run = subprocess.run([str(binary("mogenctl")), *args], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 2 and said in run.stderr, (args, run.stderr)
        assert "usage: mogenctl peek" in run.stderr

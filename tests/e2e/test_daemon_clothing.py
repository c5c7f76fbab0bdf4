"""mogend over the real clothing photos (../shared/data/clothing): one epoch
delivers every existing row exactly once with the CSV's labels, the missing
files are reported, and the bytes of a batch do not depend on the number of
workers."""

import csv
import os

import numpy as np
import pytest

from harness import CLOTHING, Mogend
import mogen  # noqa: E402  (harness puts client/python on sys.path)

pytestmark = pytest.mark.skipif(
    not (CLOTHING / "images.csv").exists(),
    reason=f"{CLOTHING} is absent: the clothing end-to-end tests need ../shared beside the repo")


def clothing_config(shuffle=True, augment=True, batch_size=64, size=96):
    return {
        "image": {"size": [size, size]},
        "path": {"column": "image", "root": str(CLOTHING / "images"), "suffix": ".jpg"},
        "outputs": {"multi_class": [{"category_output": "label"},
                                    {"kids_output": {"column": "kids", "encoding": "index"}}]},
        "streams": {"train": {"csv": str(CLOTHING / "images.csv"), "shuffle": shuffle,
                              "augment": augment, "batch_size": batch_size}},
        "augment": {"flip_horizontal": 0.5, "rotate": [-20, 20], "translate": [0.1, 0.1],
                    "scale": [0.9, 1.1]},
        "seed": 7,
        "ring_slots": 6,
    }


def read_csv():
    with open(CLOTHING / "images.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    present = {i for i, r in enumerate(rows)
               if os.path.exists(CLOTHING / "images" / (r["image"] + ".jpg"))}
    return rows, present


def test_one_epoch_has_every_existing_row_once_with_csv_labels(tmp_path):
    rows, present = read_csv()
    assert len(rows) == 2000 and len(present) == 1995
    with Mogend(tmp_path, clothing_config(), workers=2) as d:
        client = mogen.Client(d.socket, "train")
        classes = {o.name: o.classes for o in client.outputs}
        assert len(classes["category_output"]) == 20
        assert classes["kids_output"] == ["False", "True"]
        seen = []
        for x, y, info in client.epoch():
            assert x.shape[1:] == (96, 96, 3) and x.dtype == np.uint8
            assert not info["failed"].any()
            for i, row in enumerate(info["row_ids"]):
                want = rows[row]
                onehot = y["category_output"][i]
                assert onehot.sum() == 1.0
                assert classes["category_output"][int(onehot.argmax())] == want["label"]
                assert classes["kids_output"][int(y["kids_output"][i])] == want["kids"]
            seen.extend(int(r) for r in info["row_ids"])
        client.close()
        log = d.stop()
    assert len(seen) == len(set(seen)) == 1995
    assert set(seen) == present
    missing = sorted(set(range(2000)) - present)
    for row in missing:
        assert f"row {row} " in log, f"missing row {row} is not reported in the log"


def first_batches(tmp_path, workers, count=4):
    tmp_path.mkdir()
    with Mogend(tmp_path, clothing_config(batch_size=32), workers=workers) as d:
        client = mogen.Client(d.socket, "train", copy=True)
        out = [client.next_batch() for _ in range(count)]
        client.close()
    return out


def test_batch_bytes_do_not_depend_on_worker_count(tmp_path):
    one = first_batches(tmp_path / "one", workers=1)
    two = first_batches(tmp_path / "two", workers=2)
    for (x1, y1, i1), (x2, y2, i2) in zip(one, two):
        assert (i1["epoch"], i1["batch"]) == (i2["epoch"], i2["batch"])
        np.testing.assert_array_equal(i1["row_ids"], i2["row_ids"])
        assert np.array_equal(x1, x2), f"batch {i1['batch']} differs between 1 and 2 workers"
        for name in y1:
            np.testing.assert_array_equal(y1[name], y2[name])
    # Different batches hold different photos, so the equality above is not
    # vacuous (e.g. all-zero slots would pass it).
    assert not np.array_equal(one[0][0], one[1][0])
    assert one[0][0].std() > 10


def test_validate_and_daemon_agree_on_missing_rows(tmp_path):
    # The daemon's log names each missing file with its CSV row and line.
    rows, present = read_csv()
    with Mogend(tmp_path, clothing_config(), workers=1) as d:
        status = mogen.status(d.socket)
        log = d.stop()
    stream = status["streams"][0]
    assert stream["rows"] == 1995 and stream["missing_files"] == 5
    for row in sorted(set(range(2000)) - present):
        assert f"row {row} (line {row + 2})" in log

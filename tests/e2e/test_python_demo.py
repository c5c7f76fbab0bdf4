"""`make demo` in its short form: Fashion-MNIST PNGs, a real mogend, PyTorch
training through mogen.torch, mogenctl status, clean SIGTERM."""

import os
import re
import sys

from conftest import BUILD, REPO, require_binary

sys.path.insert(0, str(REPO / "client" / "python" / "examples"))


def test_quick_demo_beats_the_majority_baseline(tmp_path):
    require_binary("mogend")
    require_binary("mogenctl")
    import demo
    assert os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), \
        "install Debian's dataset-fashion-mnist (make deps)"
    lines = []
    history = demo.run(str(BUILD), quick=True, epochs=2, scratch=str(tmp_path / "scratch"),
                       data_out=str(tmp_path / "fm"), train_rows=3000, validation_rows=1000,
                       log=lines.append)
    text = "\n".join(lines)
    assert len(history) == 2 and all(h["images"] == 3000 for h in history), text
    assert "mogend stopped with status 0" in text
    # mogenctl status, shown halfway through the first epoch, lists the
    # trainer's connection to the train stream, taking batches by mailbox.
    status = text[text.index("$ mogenctl status"):text.index("epoch 1:")]
    assert re.search(r"^CLIENT +STREAM +LEASED +BATCHES +WAITING +MAILBOX", status, re.M), status
    assert re.search(r"^\d+ +train +\d+ +\d+ +(yes|no) +yes ", status, re.M), status
    for h in history:
        assert set(h["metrics"]) == {"category_output", "group_output"}
    # run() itself raises unless both outputs beat their majority baseline by 5 points.
    assert history[-1]["metrics"]["category_output"][1] > 0.5, text
    assert "train: 3000 rows\n" in text + "\n" and "validation: 1000 rows" in text, text
    assert "image files missing" not in text and "warnings and errors" not in text, text


def test_demo_reports_rows_dropped_for_missing_files_and_mogends_warnings(tmp_path):
    """A clothing-layout folder (images.csv + images/<id>.jpg) with two files
    absent: the demo names the rows kept and the files missing per stream, and
    repeats mogend's warning, since its log is in a folder deleted afterwards."""
    require_binary("mogend")
    require_binary("mogenctl")
    import demo
    from PIL import Image
    data = tmp_path / "clothing"
    (data / "images").mkdir(parents=True)
    rows = ["image,sender_id,label,kids"]
    for i in range(40):
        rows.append(f"id{i},0,{'Shirt' if i % 2 else 'Dress'},{'True' if i % 4 == 0 else 'False'}")
        if i not in (1, 2):  # rows 1 and 2 go to train (every 5th row is validation)
            Image.new("RGB", (32, 32), (i * 6, 0, 0)).save(data / "images" / f"id{i}.jpg")
    (data / "images.csv").write_text("\n".join(rows) + "\n")
    lines = []
    demo.run(str(BUILD), data=str(data), quick=True, epochs=1, log=lines.append)
    text = "\n".join(lines)
    assert "(40 rows in images.csv)" in text, text
    assert "train: 30 rows (2 image files missing, dropped; see mogend.log)" in text, text
    assert "validation: 8 rows\n" in text + "\n", text
    assert "temporary folder" in text and "config: " not in text, text
    assert "mogend's warnings and errors" in text, text
    assert "warning: clothing-train.csv: 2 of 32 image files are missing" in text, text

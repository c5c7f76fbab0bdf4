"""`make demo` in its short form: Fashion-MNIST PNGs, a real mogend, PyTorch
training through mogen.torch, mogenctl status, clean SIGTERM."""

import os
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
    assert "STREAM" in text or "train" in text  # mogenctl status was shown
    for h in history:
        assert set(h["metrics"]) == {"category_output", "group_output"}
    # run() itself raises unless both outputs beat their majority baseline by 5 points.
    assert history[-1]["metrics"]["category_output"][1] > 0.5, text

"""The documented Keras examples work whatever the output names are.

Keras 3 flattens a ``y`` dict in sorted key order and pairs it with a model
built from a *list* of outputs by position. With outputs configured as
kind_output (6 classes) then attr_output (3 classes) a list model gets its
targets swapped: fit fails on the shapes (or, with equal class counts, would
silently train each head on the other's labels). The examples in
docs/python.md and README.md are run here as written, against a real mogend.
"""

import importlib.util
import os
import re
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import pytest  # noqa: E402

from harness import REPO, make_images, write_csv  # noqa: E402

# Config order is NOT alphabetical, and the class counts differ.
OUTPUTS = [("kind_output", "kind", [f"k{i}" for i in range(6)]),
           ("attr_output", "attr", ["a0", "a1", "a2"])]
ROWS = 6   # one batch per stream: every kind once, every attr twice


def make_config(folder, size, color):
    """Train and validation CSVs over ROWS tiny images each; returns the config."""
    streams = {}
    for stream in ("train", "validation"):
        names = make_images(folder / "images" / stream, ROWS, size=size,
                            seed=0 if stream == "train" else 1)
        write_csv(folder / f"{stream}.csv", ["image"] + [col for _, col, _ in OUTPUTS],
                  [[f"{stream}/{n}"] + [classes[i % len(classes)] for _, _, classes in OUTPUTS]
                   for i, n in enumerate(names)])
        streams[stream] = {"csv": str(folder / f"{stream}.csv"), "shuffle": stream == "train",
                           "augment": False, "batch_size": ROWS}
    return {
        "workers": 1,
        "classes_dir": str(folder / "classes"),
        "image": {"size": list(size), "color": color},
        "path": {"column": "image", "root": str(folder / "images"), "suffix": ""},
        "outputs": {"multi_class": [{name: col} for name, col, _ in OUTPUTS]},
        "streams": streams,
        "ring_slots": 4,
    }


def python_block(path, after):
    """The first ```python block of `path` that follows the line `after`."""
    text = (REPO / path).read_text()
    start = text.index(after + "\n")
    m = re.compile(r"^```python\n(.*?)^```", re.S | re.M).search(text, start)
    assert m, f"no python block after {after!r} in {path}"
    return m.group(1)


def start_daemon(mogend, tmp_path, size, color):
    d = mogend(make_config(tmp_path / "data", size, color))
    import mogen
    with mogen.Client(d.socket, "train") as c:
        # The premise of these tests: config order is not sorted order.
        assert c.output_names == [name for name, _, _ in OUTPUTS] != sorted(c.output_names)
        assert [o.num_classes for o in c.outputs] == [6, 3]
    return d


def run_example(code, namespace):
    try:
        exec(compile(code, "<example>", "exec"), namespace)
    finally:
        for name in ("train", "val"):
            if name in namespace:
                namespace[name].close()
    model = namespace["model"]
    assert namespace["train"].position[1] == 0 and namespace["train"].position[0] >= 1
    return model


def check_heads(model, namespace):
    import numpy as np
    pred = model.predict(np.zeros((2,) + tuple(model.inputs[0].shape[1:]), "float32"),
                         verbose=0)
    assert isinstance(pred, dict), type(pred)
    assert {k: v.shape[1] for k, v in pred.items()} == {"kind_output": 6, "attr_output": 3}


def test_docs_keras_example_trains_with_non_alphabetical_outputs(mogend, tmp_path):
    """docs/python.md's Keras example, verbatim but for `sock`."""
    d = start_daemon(mogend, tmp_path, (28, 28), "grayscale")   # its Input is (28, 28, 1)
    code = python_block("docs/python.md", "## Keras")
    namespace = {"sock": d.socket}
    model = run_example(code, namespace)
    check_heads(model, namespace)


def test_readme_keras_snippet_trains_with_non_alphabetical_outputs(mogend, tmp_path):
    """README.md's Keras snippet, verbatim but for the socket path."""
    d = start_daemon(mogend, tmp_path, (224, 224), "rgb")        # the README config's image
    code = python_block("README.md", "and in the trainer (Keras 3):")
    assert '"/tmp/mogen.sock"' in code
    namespace = {}
    model = run_example(code.replace('"/tmp/mogen.sock"', repr(str(d.socket))), namespace)
    check_heads(model, namespace)


def test_list_of_outputs_is_matched_by_position(mogend, tmp_path):
    """Why the examples build a dict: the old list pattern fails on this data."""
    import keras
    import mogen.keras
    d = start_daemon(mogend, tmp_path, (28, 28), "grayscale")
    train = mogen.keras.Sequence(d.socket, "train")
    try:
        inputs = keras.Input(shape=(28, 28, 1))
        z = keras.layers.GlobalAveragePooling2D()(inputs)
        outputs = [keras.layers.Dense(o.num_classes, activation="softmax", name=o.name)(z)
                   for o in train.outputs]
        model = keras.Model(inputs, outputs)
        model.compile("adam", loss={o.name: "categorical_crossentropy" for o in train.outputs})
        with pytest.raises(ValueError, match="must have the same shape"):
            model.fit(train, epochs=1, verbose=0)
    finally:
        train.close()


def test_sequence_without_usable_keras_says_what_to_do():
    """A Keras that cannot load: `import mogen.keras` works, Sequence() explains."""
    if importlib.util.find_spec("tensorflow"):
        pytest.skip("TensorFlow is installed: KERAS_BACKEND=tensorflow would load")
    env = dict(os.environ, KERAS_BACKEND="tensorflow",    # not installed in .venv
               PYTHONPATH=str(REPO / "client" / "python"))
    code = ("import mogen, mogen.keras\n"
            "try:\n"
            "    mogen.keras.Sequence('/nonexistent.sock', 'train')\n"
            "except ImportError as e:\n"
            "    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ImportError:" in out.stdout, out.stdout
    assert "KERAS_BACKEND" in out.stdout and "tensorflow" in out.stdout, out.stdout

"""Fixtures for the end-to-end tests: a real build/mogend in a scratch folder.

MOGEN_BUILD names the build folder (`make pytest` sets it). When it is set, a
missing mogend FAILS the tests that need it; only when it is unset (while
developing, before the daemon is built) are they skipped.
"""

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "client" / "python"))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402  (the daemon tests' process wrapper: one way to run mogend)

BUILD = pathlib.Path(os.environ.get("MOGEN_BUILD", REPO / "build"))


def require_binary(name="mogend"):
    """Returns the path of build/<name>, failing (MOGEN_BUILD set) or skipping if absent."""
    path = BUILD / name
    if not path.exists():
        msg = f"{path} does not exist: run `make` (or `make pytest`) first"
        if "MOGEN_BUILD" in os.environ:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg + " [skipped only because MOGEN_BUILD is unset]")
    return path


@pytest.fixture
def mogend(tmp_path):
    """Returns start(config, **kw) -> harness.Mogend, a running daemon.

    Each call writes its config into its own folder under tmp_path, starts
    mogend and waits until the socket accepts. On teardown every daemon still
    running gets SIGTERM and must exit 0 and remove its socket.
    """
    require_binary()
    daemons = []

    def start(config, **kw):
        folder = tmp_path / f"mogend{len(daemons)}"
        folder.mkdir()
        d = harness.Mogend(folder, config, **kw)
        daemons.append(d)
        return d

    yield start
    failures = []
    for d in daemons:
        try:
            d.stop()
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------
# A small PNG dataset whose pixels and labels are known exactly.

CATEGORIES = ["blue", "green", "red"]   # the dominant channel: red=0, green=1, blue=2
FLAGS = ["bright", "dim"]
WIDTH, HEIGHT = 24, 20


def sample(g):
    """Returns (category, flag, rgb colour) of the sample with global number g."""
    category = CATEGORIES[(g * 7 + g // 3) % 3]
    flag = FLAGS[(g // 2) % 2]
    dominant = {"red": 0, "green": 1, "blue": 2}[category]
    colour = [(g * 5) % 60, (g * 11) % 60, (g * 3) % 60]
    colour[dominant] = 230 if flag == "bright" else 130
    return category, flag, tuple(colour)


class PngData:
    """Train and validation CSVs + PNGs in a folder, and the truth about them."""

    def __init__(self, folder, n_train=37, n_validation=13):
        from PIL import Image
        self.folder = pathlib.Path(folder)
        self.images = self.folder / "images"
        self.images.mkdir(parents=True)
        self.rows = {}
        for stream, n, first in (("train", n_train, 0), ("validation", n_validation, 1000)):
            rows = []
            for i in range(n):
                g = first + i
                category, flag, colour = sample(g)
                img = Image.new("RGB", (WIDTH, HEIGHT), colour)
                for dx in range(3):  # an asymmetric white mark, so flips show
                    for dy in range(3):
                        img.putpixel((dx, dy), (255, 255, 255))
                name = f"{stream}-{i:03d}.png"
                img.save(self.images / name)
                rows.append({"image": name, "category": category, "flag": flag,
                             "colour": colour})
            self.rows[stream] = rows
            harness.write_csv(self.folder / f"{stream}.csv", ["image", "category", "flag"],
                              [[r["image"], r["category"], r["flag"]] for r in rows])
        every = self.rows["train"] + self.rows["validation"]
        self.classes = {"category_output": sorted({r["category"] for r in every}),
                        "flag_output": sorted({r["flag"] for r in every})}
        self.columns = {"category_output": "category", "flag_output": "flag"}

    def config(self, encoding="onehot", batch=(8, 5), workers=2, augment=True, seed=3,
               dtype="uint8"):
        def spec(name):
            col = self.columns[name]
            return {name: col if encoding == "onehot" else {"column": col, "encoding": encoding}}
        image = {"size": [WIDTH, HEIGHT], "color": "rgb", "dtype": dtype}
        if dtype == "float32":
            image.update({"scale": 1 / 255, "offset": 0.0})
        return {
            "workers": workers,
            "classes_dir": str(self.folder / "classes"),
            "image": image,
            "path": {"column": "image", "root": str(self.images), "suffix": ""},
            "outputs": {"multi_class": [spec("category_output"), spec("flag_output")]},
            "streams": {
                "train": {"csv": str(self.folder / "train.csv"), "shuffle": True,
                          "augment": augment, "batch_size": batch[0]},
                "validation": {"csv": str(self.folder / "validation.csv"), "shuffle": False,
                               "augment": False, "batch_size": batch[1]},
            },
            "augment": {"flip_horizontal": 0.5, "rotate": [-15, 15]},
            "seed": seed,
            "ring_slots": 4,
        }


@pytest.fixture
def png_data(tmp_path):
    """A PngData in tmp_path/data: 37 train and 13 validation rows."""
    return PngData(tmp_path / "data")

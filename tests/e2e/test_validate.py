"""`mogenctl validate`: what mogend would decide at load, checked end to end.

The clothing tests run on ../shared/data/clothing (2,000 rows, 5 images
missing) and compute what they expect from the CSV and the file system
themselves; the typo test builds its own tiny dataset in tmp_path.

Run: /usr/bin/python3 -m pytest tests/e2e/test_validate.py
MOGEN_BUILD names the build folder (default: build/ next to tests/).
"""

import csv
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("MOGEN_BUILD", REPO / "build"))
MOGENCTL = BUILD / "mogenctl"
CLOTHING = REPO.parent / "shared" / "data" / "clothing"


def run_validate(config, *args):
    # A missing binary is a broken build, not a reason to skip.
    assert MOGENCTL.exists(), f"{MOGENCTL} is not built (run make)"
    return subprocess.run([str(MOGENCTL), "validate", str(config), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def clothing():
    """The clothing CSV's rows and the rows whose image is missing, computed here."""
    csv_path = CLOTHING / "images.csv"
    if not csv_path.exists():
        pytest.skip(f"the clothing dataset is not at {CLOTHING}")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [i for i, r in enumerate(rows)
               if not os.path.exists(CLOTHING / "images" / (r["image"] + ".jpg"))]
    return rows, missing


def write_clothing_config(tmp_path):
    config = tmp_path / "mogend.json"
    config.write_text(json.dumps({
        "socket": str(tmp_path / "mogen.sock"),  # the default's /run/mogen may not exist here
        "classes_dir": "classes",
        "path": {"column": "image", "root": str(CLOTHING / "images"), "suffix": ".jpg"},
        "outputs": {"multi_class": [{"label_output": "label"}, {"kids_output": "kids"}]},
        "streams": {"train": {"csv": str(CLOTHING / "images.csv"), "batch_size": 64}},
    }))
    return config


def test_clothing_rows_classes_and_missing_images(tmp_path, clothing):
    rows, missing = clothing
    assert len(rows) == 2000
    assert len(missing) == 5
    result = run_validate(write_clothing_config(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1995 kept of 2000 in the CSV" in out
    assert "missing images:  5 (rows dropped)" in out
    for row in missing:
        name = rows[row]["image"] + ".jpg"
        # Line = row + 2: one for the header, one because lines count from 1.
        assert f"row {row} (line {row + 2}): {CLOTHING / 'images' / name}" in out
    assert "steps per epoch: 32 (batch_size 64; the last batch has 11 rows)" in out
    assert "classes:         20" in out
    assert "classes:         2\n" in out
    assert "OK: mogend would start" in out


def test_clothing_classes_files_hold_sorted_names(tmp_path, clothing):
    rows, _ = clothing
    result = run_validate(write_clothing_config(tmp_path), "--write-classes")
    assert result.returncode == 0, result.stdout + result.stderr
    labels = (tmp_path / "classes" / "label_output_classes.txt").read_text().splitlines()
    kids = (tmp_path / "classes" / "kids_output_classes.txt").read_text().splitlines()
    # Sorted by bytes, as the daemon sorts (strcmp), over every CSV row.
    assert labels == sorted({r["label"] for r in rows}, key=lambda s: s.encode())
    assert len(labels) == 20
    assert kids == ["False", "True"]


def test_clothing_json_agrees_with_the_data(tmp_path, clothing):
    rows, missing = clothing
    result = run_validate(write_clothing_config(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["errors"] == []
    (stream,) = report["streams"]
    assert stream["name"] == "train"
    assert stream["csv_rows"] == 2000
    assert stream["rows"] == 1995
    assert stream["missing_count"] == 5
    assert [m["row"] for m in stream["missing"]] == missing
    assert [m["line"] for m in stream["missing"]] == [r + 2 for r in missing]
    assert stream["steps_per_epoch"] == 32
    label, kids = report["outputs"]
    assert (label["name"], label["class_count"]) == ("label_output", 20)
    assert (kids["name"], kids["class_count"]) == ("kids_output", 2)
    kept = [r for i, r in enumerate(rows) if i not in set(missing)]
    counts = {c: sum(r["label"] == c for r in kept) for c in label["classes"]}
    assert label["class_frequency"] == [counts[c] for c in label["classes"]]
    top = max(counts.values())
    assert label["most_frequent"][0]["count"] == top
    assert counts[label["most_frequent"][0]["name"]] == top
    assert label["least_frequent"][0]["count"] == min(counts.values())
    assert len(report["warnings"]) == 1 and "5 of 2000 image files are missing" in report["warnings"][0]


def test_typo_in_a_column_fails_and_lists_the_columns(tmp_path):
    (tmp_path / "train.csv").write_text(
        "image,sender_id,label,kids\n"
        "a,1,T-Shirt,False\n"
        "b,2,Shoes,True\n")
    config = tmp_path / "mogend.json"
    config.write_text(json.dumps({
        "outputs": {"multi_class": [{"label": "label"}, {"kids": "kidz"}]},
        "streams": {"train": {"csv": "train.csv"}},
    }))
    result = run_validate(config, "--no-check-files")
    assert result.returncode == 1, result.stdout
    assert ('outputs.multi_class[1]: column "kidz" is not in train.csv '
            '(did you mean "kids"?); columns are: image, sender_id, label, kids') in result.stdout
    assert "FAILED" in result.stdout
    # The summary must not present the unloaded data as facts ("0 kept", "0 classes").
    assert "2 in the CSV, not loaded: the errors below stopped it" in result.stdout
    assert "0 kept" not in result.stdout and "classes:         0" not in result.stdout

    report = json.loads(run_validate(config, "--no-check-files", "--json").stdout)
    assert report["ok"] is False
    assert any('column "kidz"' in e for e in report["errors"])


def test_unknown_config_key_is_reported_with_a_suggestion(tmp_path):
    config = tmp_path / "mogend.json"
    config.write_text('{"streams": {"train": {"csv": "t.csv", "batch_sise": 8}}}')
    result = run_validate(config)
    assert result.returncode == 1
    assert 'streams.train.batch_sise: unknown key (did you mean "batch_size"?)' in result.stdout


def test_write_classes_without_a_classes_dir_does_not_claim_mogend_would_not_start(tmp_path):
    (tmp_path / "train.csv").write_text("image,label\na,x\nb,y\n")
    config = tmp_path / "mogend.json"
    config.write_text(json.dumps({
        "socket": str(tmp_path / "mogen.sock"),
        "outputs": {"multi_class": [{"label": "label"}]},
        "streams": {"train": {"csv": "train.csv"}},
    }))
    assert run_validate(config, "--no-check-files").returncode == 0
    result = run_validate(config, "--no-check-files", "--write-classes")
    assert result.returncode == 1
    assert "the config has no classes_dir (use --classes-dir DIR)" in result.stdout
    assert ("FAILED: mogend would start with this config, but the classes files were not "
            "written.") in result.stdout
    report = json.loads(run_validate(config, "--no-check-files", "--write-classes",
                                     "--json").stdout)
    assert report["would_start"] is True and report["ok"] is False


def test_usage_errors_exit_2(tmp_path):
    assert run_validate(tmp_path / "x.json", "--bogus").returncode == 2
    assert subprocess.run([str(MOGENCTL), "validate"], capture_output=True).returncode == 2
    for args in (["help", "--help"], ["help", "-h"], ["help", "validate"]):
        shown = subprocess.run([str(MOGENCTL), *args], capture_output=True, text=True)
        assert shown.returncode == 0 and "usage: mogenctl" in shown.stdout, (args, shown.stderr)
    helped = subprocess.run([str(MOGENCTL), "validate", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--write-classes" in helped.stdout


def test_example_config_is_valid_and_documented(tmp_path, clothing):
    """conf/mogend.json, pointed at the clothing data split as its comment says,
    loads; all its keys are in docs/config.md."""
    root = tmp_path / "clothing"
    root.mkdir()
    (root / "images").symlink_to(CLOTHING / "images")
    lines = (CLOTHING / "images.csv").read_text().splitlines(keepends=True)
    (root / "train.csv").write_text(lines[0] + "".join(
        r for i, r in enumerate(lines[1:]) if i % 5 != 0))
    (root / "validation.csv").write_text(lines[0] + "".join(lines[1::5]))
    text = (REPO / "conf" / "mogend.json").read_text()
    text = text.replace("/srv/data/clothing", str(root))
    text = text.replace("/var/lib/mogen", str(tmp_path / "classes"))
    # Its group exists once the install's `groupadd mogen` ran: stand in ours.
    import grp
    assert '"socket_group": "mogen"' in text
    text = text.replace('"socket_group": "mogen"',
                        json.dumps({"socket_group": grp.getgrgid(os.getgid()).gr_name})[1:-1])
    config = tmp_path / "mogend.json"
    config.write_text(text)
    result = run_validate(config)
    assert result.returncode == 0, result.stdout

    import re
    data = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
    docs = (REPO / "docs" / "config.md").read_text()

    def keys(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                # Output names are the user's own, not config keys.
                if path not in ("outputs.multi_class", "outputs.multi_label"):
                    yield k
                yield from keys(v, f"{path}.{k}" if path else k)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v, path)

    undocumented = sorted({k for k in keys(data) if f"`{k}`" not in docs})
    assert undocumented == []

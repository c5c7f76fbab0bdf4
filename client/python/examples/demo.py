#!/usr/bin/env python3
"""mogen demo: train a two-output CNN with PyTorch on batches served by mogend.

    demo.py --build build                   Fashion-MNIST (Debian's dataset-fashion-mnist)
    demo.py --build build --data ../shared/data/clothing   real JPEG photos, label + kids
    demo.py --build build --quick           a few seconds, for the test suite

Steps: prepare the data (PNG files + CSVs, once), write a mogend config into a
scratch folder (a temporary one, removed at the end, unless --scratch names
one to keep), start `mogend --config CFG` and wait until its socket accepts,
print the rows each stream serves and the image files mogend dropped as
missing, train through mogen.torch for a bounded time while printing
per-output validation loss and accuracy beside the majority-class baseline
and the data rate, show `mogenctl status` once halfway through the first
epoch (so that it lists the trainer's connection), then SIGTERM the daemon,
require a clean exit and repeat mogend's warnings and errors from its log. The
daemon is stopped on every path, including errors and Ctrl-C; the exit status
is non-zero if anything failed.
"""

import argparse
import collections
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "client", "python"))
sys.path.insert(0, HERE)

import mogen  # noqa: E402


class DemoError(Exception):
    """A failure the demo reports in one line and exits 1 for."""


# ---------------------------------------------------------------------------
# Datasets: where the CSVs and images are, and how mogend should read them.

def fashion_mnist_dataset(train, validation, out=None, log=print):
    import prepare_fashion_mnist as fm
    folder = out or fm.DEFAULT_OUT
    r = fm.prepare(folder, train=train, validation=validation, log=log)
    return {
        "name": f"Fashion-MNIST ({r['train']['rows']} train / "
                f"{r['validation']['rows']} validation images)",
        "kept": folder,
        "train_csv": r["train"]["csv"], "validation_csv": r["validation"]["csv"],
        "root": r["root"], "suffix": "", "column": "image",
        "outputs": [("category_output", "category"), ("group_output", "group")],
        "size": [28, 28], "color": "grayscale",
        "augment": {"flip_horizontal": 0.5},
        "train_batch": 64, "validation_batch": 500,
    }


def clothing_dataset(folder, scratch, size=64, every=5):
    """Splits <folder>/images.csv (image,sender_id,label,kids) into train and
    validation CSVs in scratch: every `every`-th row goes to validation."""
    src = os.path.join(folder, "images.csv")
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    for col in ("image", "label", "kids"):
        if rows and col not in rows[0]:
            raise DemoError(f"{src} has no column {col!r}")
    paths = {}
    for split, keep in (("train", lambda i: i % every != 0),
                        ("validation", lambda i: i % every == 0)):
        paths[split] = os.path.join(scratch, f"clothing-{split}.csv")
        with open(paths[split], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "label", "kids"])
            for i, r in enumerate(rows):
                if keep(i):
                    w.writerow([r["image"], r["label"], r["kids"]])
    return {
        "name": f"clothing photos from {folder} ({len(rows)} rows in images.csv)",
        "train_csv": paths["train"], "validation_csv": paths["validation"],
        "root": os.path.join(os.path.abspath(folder), "images"), "suffix": ".jpg",
        "column": "image",
        "outputs": [("label_output", "label"), ("kids_output", "kids")],
        "size": [size, size], "color": "rgb",
        "augment": {"flip_horizontal": 0.5, "rotate": [-10, 10], "scale": [0.9, 1.1]},
        "train_batch": 32, "validation_batch": 100, "width": 16,
    }


def write_config(scratch, ds, workers=0, seed=1, ring_slots=8):
    """Writes scratch/mogend.json for dataset ds; returns (config path, socket path)."""
    sock = os.path.join(scratch, "mogen.sock")
    cfg = {
        "socket": sock,
        "workers": workers,
        "classes_dir": scratch,
        "image": {"size": ds["size"], "color": ds["color"], "dtype": "float32",
                  "scale": 1 / 255, "offset": 0.0},
        "path": {"column": ds["column"], "root": ds["root"], "suffix": ds["suffix"]},
        "outputs": {"multi_class": [{name: col} for name, col in ds["outputs"]]},
        "streams": {
            "train": {"csv": ds["train_csv"], "shuffle": True, "augment": True,
                      "batch_size": ds["train_batch"]},
            "validation": {"csv": ds["validation_csv"], "shuffle": False, "augment": False,
                           "batch_size": ds["validation_batch"]},
        },
        "augment": ds["augment"],
        "seed": seed,
        "ring_slots": ring_slots,
    }
    path = os.path.join(scratch, "mogend.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path, sock


# ---------------------------------------------------------------------------
# The daemon as a child process.

class Daemon:
    """Runs `mogend --config CFG` in the foreground; stop() SIGTERMs it and
    returns its exit status. Its stderr goes to <scratch>/mogend.log."""

    def __init__(self, mogend, config, sock, log_path):
        self.sock = sock
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([mogend, "--config", config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def problems(self):
        """Returns mogend's warning and error lines from its log."""
        try:
            with open(self.log_path, errors="replace") as f:
                # Under systemd a line may start with its priority, "<4>".
                return [line.rstrip("\n") for line in f
                        if re.match(r"(<\d>)?(warning|error):", line)]
        except OSError:
            return []

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout=120.0):
        """Returns once the socket accepts a connection; raises if mogend exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise DemoError(f"mogend exited with status {rc} before serving:\n"
                                f"{self.log_tail()}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
                return
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()
        raise DemoError(f"mogend did not accept on {self.sock} within {timeout:.0f} s:\n"
                        f"{self.log_tail()}")

    def stop(self, timeout=30.0):
        """SIGTERMs mogend and returns its exit status (-9 if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return -9
        self.log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------
# The model and the training loop.

def build_model(in_channels, size, num_classes, width=8):
    """A small CNN trunk with one linear head per output.

    Deliberately small: on 2 CPU cores it trains ~3000 Fashion-MNIST images/s,
    so three epochs of 60,000 fit the demo's time limit."""
    import torch.nn as nn
    h, w = size[1], size[0]
    pooled = (min(7, h // 4), min(7, w // 4))
    trunk = nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(pooled), nn.Flatten())
    feat = 2 * width * pooled[0] * pooled[1]

    class TwoHeaded(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = trunk
            self.fc = nn.Sequential(nn.Linear(feat, 64), nn.ReLU())
            self.heads = nn.ModuleDict({k: nn.Linear(64, n) for k, n in num_classes.items()})

        def forward(self, x):
            z = self.fc(self.trunk(x))
            return {k: head(z) for k, head in self.heads.items()}

    return TwoHeaded()


def majority_baseline(csv_path, columns):
    """Returns {column: (majority class, its share of the rows)} for a CSV."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for col in columns:
        name, count = collections.Counter(r[col] for r in rows).most_common(1)[0]
        out[col] = (name, count / max(1, len(rows)))
    return out


def targets(y, name):
    """Class indices for CrossEntropyLoss from a one-hot or index tensor."""
    t = y[name]
    return t.argmax(1) if t.dim() == 2 else t


def evaluate(model, val, names):
    """Returns ({name: (mean loss, accuracy)}, images, seconds) over one validation epoch."""
    import torch
    import torch.nn.functional as F
    model.eval()
    loss = {k: 0.0 for k in names}
    correct = {k: 0 for k in names}
    n = 0
    t0 = time.monotonic()
    with torch.no_grad():
        for x, y in val:
            out = model(x.float())
            for k in names:
                t = targets(y, k)
                loss[k] += F.cross_entropy(out[k], t, reduction="sum").item()
                correct[k] += (out[k].argmax(1) == t).sum().item()
            n += x.shape[0]
    if n == 0:
        raise DemoError("the validation stream delivered no samples")
    return {k: (loss[k] / n, correct[k] / n) for k in names}, n, time.monotonic() - t0


def train(sock, ds, epochs, budget, log=print, lr=2e-3, halfway=None):
    """Trains for up to `epochs` epochs or `budget` seconds through mogen.torch,
    calling halfway() (if given) once, halfway through the first epoch.

    Returns a list of per-epoch dicts (metrics, images, rates) and the baselines.
    """
    import torch
    import torch.nn.functional as F
    import mogen.torch as mt

    torch.manual_seed(0)
    train_ds = mt.Dataset(sock, "train", channels_first=True)
    val_ds = mt.Dataset(sock, "validation", channels_first=True)
    try:
        outputs = train_ds.outputs
        names = [o.name for o in outputs]
        client = train_ds.connect()
        in_channels = client.image.get("channels", 1 if ds["color"] == "grayscale" else 3)
        model = build_model(in_channels, ds["size"], {o.name: o.num_classes for o in outputs},
                            width=ds.get("width", 8))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        log(f"model: a small PyTorch CNN ({sum(p.numel() for p in model.parameters()):,} "
            f"parameters: two conv layers, a shared dense layer, one linear head per "
            f"output), Adam on the sum of the outputs' cross-entropies; fed by "
            f"mogen.torch.Dataset")
        columns = dict(ds["outputs"])
        base = majority_baseline(ds["validation_csv"], [columns[k] for k in names])
        log(f"outputs: " + ", ".join(f"{o.name} ({o.num_classes} classes)" for o in outputs)
            + f"; {train_ds.steps_per_epoch} train batches of {client.batch_size} per epoch")
        history = []
        start = time.monotonic()
        for epoch in range(epochs):
            model.train()
            t0 = time.monotonic()
            waited = 0.0
            images = 0
            running = 0.0
            steps = 0
            stopped_early = False
            it = iter(train_ds)
            while True:
                tw = time.monotonic()
                try:
                    x, y = next(it)
                except StopIteration:
                    break
                waited += time.monotonic() - tw
                out = model(x.float())
                loss = sum(F.cross_entropy(out[k], targets(y, k)) for k in names)
                opt.zero_grad()
                loss.backward()
                opt.step()
                running += loss.item()
                steps += 1
                images += x.shape[0]
                if halfway is not None and steps == max(1, train_ds.steps_per_epoch // 2):
                    halfway()
                    halfway = None
                if time.monotonic() - start > budget:
                    stopped_early = True
                    it.close()
                    break
            train_time = time.monotonic() - t0
            metrics, val_images, val_time = evaluate(model, val_ds, names)
            rec = {"epoch": epoch, "train_loss": running / max(1, steps), "steps": steps,
                   "images": images, "train_time": train_time, "waited": waited,
                   "val_images": val_images, "val_time": val_time, "metrics": metrics,
                   "partial": stopped_early}
            history.append(rec)
            log(f"epoch {epoch + 1}{' (stopped at the time budget)' if stopped_early else ''}: "
                f"train loss {rec['train_loss']:.3f} over {images} images in {train_time:.1f} s "
                f"({images / max(train_time, 1e-9):.0f} images/s trained; waited "
                f"{waited:.1f} s for data)")
            for k in names:
                l, a = metrics[k]
                col = columns[k]
                log(f"  {k:<18} val loss {l:.3f}  accuracy {a:6.1%}   "
                    f"majority baseline {base[col][1]:6.1%} ({base[col][0]})")
            log(f"  validation: {val_images} images in {val_time:.2f} s "
                f"({val_images / max(val_time, 1e-9):.0f} images/s incl. inference)")
            if stopped_early:
                break
        return history, {k: base[columns[k]] for k in names}
    finally:
        train_ds.close()
        val_ds.close()


def show_streams(sock, log=print):
    """Prints the rows each stream serves, and the image files mogend dropped."""
    for st in mogen.status(sock)["streams"]:
        missing = st.get("missing_files", 0)
        note = (f" ({missing} image file{'s' if missing != 1 else ''} missing, dropped; "
                f"see mogend.log)" if missing else "")
        log(f"{st['name']}: {st['rows']} rows{note}")


def show_status(mogenctl, sock, log=print):
    """Runs `mogenctl status --socket SOCK` once and prints its output."""
    if not os.path.exists(mogenctl):
        raise DemoError(f"{mogenctl} does not exist (run make)")
    r = subprocess.run([mogenctl, "status", "--socket", sock], capture_output=True,
                       text=True, timeout=30)
    log(f"$ mogenctl status --socket {sock}")
    log(r.stdout.rstrip())
    if r.returncode != 0:
        raise DemoError(f"mogenctl status failed with status {r.returncode}: "
                        f"{r.stderr.strip()}")


# ---------------------------------------------------------------------------

def run(build, data=None, quick=False, epochs=None, budget=None, train_rows=None,
        validation_rows=None, scratch=None, workers=0, require_beat_baseline=True,
        data_out=None, log=print):
    """The whole demo; returns the training history. Raises on any failure,
    always stopping the daemon first."""
    build = os.path.abspath(build)
    mogend = os.path.join(build, "mogend")
    mogenctl = os.path.join(build, "mogenctl")
    if not os.path.exists(mogend):
        raise DemoError(f"{mogend} does not exist: run `make` first")
    if data and not os.path.isdir(data):
        raise DemoError(f"--data {data}: no such folder (expected the clothing dataset: "
                        f"images.csv and images/)")
    if data and not os.path.exists(os.path.join(data, "images.csv")):
        raise DemoError(f"{data} has no images.csv (expected the clothing dataset layout)")
    own_scratch = scratch is None
    scratch = scratch or tempfile.mkdtemp(prefix="mogen-demo-")
    os.makedirs(scratch, exist_ok=True)
    budget = budget or (60 if quick else 120)
    t_prep = time.monotonic()
    if data:
        ds = clothing_dataset(data, scratch)
        # 1,600 photos in 20 classes: more passes, and no baseline promise
        # (the "kids" output is 88% False; the demo shows the numbers).
        epochs = epochs or (2 if quick else 10)
        require_beat_baseline = False
    else:
        ds = fashion_mnist_dataset(train_rows or (2000 if quick else 60000),
                                   validation_rows or (1000 if quick else 10000),
                                   out=data_out, log=log)
        epochs = epochs or (1 if quick else 3)
    log(f"data: {ds['name']} ready in {time.monotonic() - t_prep:.1f} s"
        + (f" (kept in {ds['kept']} for later runs and make bench; delete it to free the "
           f"space)" if ds.get("kept") else ""))
    config, sock = write_config(scratch, ds, workers=workers)
    if own_scratch:
        log(f"config, socket and mogend.log: in the temporary folder {scratch} "
            f"(removed at the end; --scratch DIR keeps them)")
    else:
        log(f"config: {config}; mogend's log: {os.path.join(scratch, 'mogend.log')}")
    daemon = Daemon(mogend, config, sock, os.path.join(scratch, "mogend.log"))
    ok = False
    try:
        t0 = time.monotonic()
        daemon.wait_ready()
        log(f"mogend serving on {sock} after {time.monotonic() - t0:.1f} s")
        show_streams(sock, log=log)
        history, base = train(sock, ds, epochs, budget, log=log,
                              halfway=lambda: show_status(mogenctl, sock, log=log))
        ok = True
    finally:
        rc = daemon.stop()
        if ok:
            log(f"mogend stopped with status {rc}")
            problems = daemon.problems()
            if problems:
                log(f"mogend's warnings and errors ({daemon.log_path}"
                    f"{', removed now' if own_scratch else ''}):")
                for line in problems:
                    log(f"  {line}")
        if rc != 0:
            tail = daemon.log_tail()
            if ok:
                raise DemoError(f"mogend exited with status {rc} after SIGTERM:\n{tail}")
            log(f"mogend exited with status {rc}; its last log lines:\n{tail}")
        if own_scratch and ok:
            shutil.rmtree(scratch, ignore_errors=True)

    final = history[-1]["metrics"]
    total_images = sum(h["images"] + h["val_images"] for h in history)
    total_waited = sum(h["waited"] for h in history)
    total_time = sum(h["train_time"] + h["val_time"] for h in history)
    log(f"data rate: mogend delivered {total_images} images in {total_time:.1f} s of training "
        f"and validation ({total_images / max(total_time, 1e-9):.0f} images/s); the trainer "
        f"waited {total_waited:.1f} s ({total_waited / max(total_time, 1e-9):.0%}) for data")
    for k, (majority, share) in base.items():
        if final[k][1] <= share + 0.01:
            log(f"{k}: no better than always guessing {majority} ({share:.1%} of validation rows): "
                f"this output needs more data or epochs")
    if require_beat_baseline:
        for k, (acc_name, share) in base.items():
            acc = final[k][1]
            if acc <= share + 0.05:
                raise DemoError(f"{k}: validation accuracy {acc:.1%} does not clearly beat the "
                                f"majority baseline {share:.1%}")
    return history


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="folder with mogend and mogenctl")
    ap.add_argument("--data", help="the clothing dataset folder (images.csv + images/); "
                                   "default: Fashion-MNIST")
    ap.add_argument("--quick", action="store_true", help="a small, fast run (for tests)")
    ap.add_argument("--epochs", type=int, help="epochs (default 3, quick 1; clothing 10)")
    ap.add_argument("--budget", type=float, help="training seconds (default 120, quick 60)")
    ap.add_argument("--train", type=int, help="Fashion-MNIST training rows (default 60000)")
    ap.add_argument("--validation", type=int, help="Fashion-MNIST validation rows (10000)")
    ap.add_argument("--workers", type=int, default=0, help="mogend workers (0 = per CPU)")
    ap.add_argument("--scratch", help="folder for the config, socket and log (kept)")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        run(args.build, args.data, args.quick, args.epochs, args.budget, args.train,
            args.validation, args.scratch, args.workers)
    except (DemoError, mogen.MogenError) as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 130
    print(f"demo finished in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

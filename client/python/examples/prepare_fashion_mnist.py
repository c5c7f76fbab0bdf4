#!/usr/bin/env python3
"""Writes Debian's Fashion-MNIST as PNG files plus train/validation CSVs for mogend.

Input: /usr/share/datasets/fashion-mnist/*-ubyte.gz (package dataset-fashion-mnist).
Output (default <repo>/demo-data/fashion-mnist/):

    images/train/00000.png ...    60,000 28x28 grayscale PNGs (the training set)
    images/test/00000.png ...     10,000 (the test set, used as validation)
    train.csv, validation.csv     image,category,group

``category`` is one of the 10 Fashion-MNIST classes; ``group`` a coarser product
group (tops, bottoms, dresses, footwear, bags): the category / sub-category
shape of a two-output model. Each PNG is written once; a second run only
rewrites the CSVs (the images are checked by a stamp file), so it is fast.
"""

import argparse
import csv
import gzip
import os
import struct
import sys
import time
import multiprocessing

import numpy as np

SOURCE = "/usr/share/datasets/fashion-mnist"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "demo-data", "fashion-mnist")

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
GROUP = {"T-shirt/top": "tops", "Pullover": "tops", "Coat": "tops", "Shirt": "tops",
         "Trouser": "bottoms", "Dress": "dresses",
         "Sandal": "footwear", "Sneaker": "footwear", "Ankle boot": "footwear",
         "Bag": "bags"}

# (split folder, images file, labels file, CSV name)
SPLITS = [("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "train.csv"),
          ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "validation.csv")]


def read_idx(path):
    """Returns the array stored in an IDX file (gzip-compressed)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    start = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - start != count:
        raise ValueError(f"{path}: {len(data) - start} data bytes, header says {count}")
    return np.frombuffer(data, np.uint8, count, start).reshape(dims)


def _write_chunk(args):
    folder, first, images = args
    from PIL import Image  # imported in the worker
    for i, img in enumerate(images):
        path = os.path.join(folder, f"{first + i:05d}.png")
        tmp = path + ".tmp"
        Image.fromarray(img, mode="L").save(tmp, format="PNG")
        os.replace(tmp, path)
    return len(images)


def write_pngs(images, folder, start, end, processes):
    """Writes images[i] as folder/iiiii.png for start <= i < end, in parallel chunks."""
    os.makedirs(folder, exist_ok=True)
    chunk = 2000  # big enough to amortise pickling, small enough to balance 2 cores
    jobs = [(folder, i, images[i:min(i + chunk, end)]) for i in range(start, end, chunk)]
    if processes <= 1:
        return sum(map(_write_chunk, jobs))
    # Spawned, not forked: the caller may have threads (JAX, PyTorch), and a
    # forked child of a threaded process can deadlock on a lock held by
    # another thread at the fork.
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.imap_unordered(_write_chunk, jobs))


def prepare(out=DEFAULT_OUT, train=60000, validation=10000, source=SOURCE, processes=None,
            log=print):
    """Makes sure the PNGs and the two CSVs exist; returns a dict of paths and counts."""
    processes = processes or os.cpu_count() or 1
    images_dir = os.path.join(out, "images")
    limits = {"train": train, "test": validation}
    result = {"root": images_dir, "out": out}
    for split, img_file, lbl_file, csv_name in SPLITS:
        img_path = os.path.join(source, img_file)
        if not os.path.exists(img_path):
            raise FileNotFoundError(f"{img_path} is missing: install Debian's "
                                    f"dataset-fashion-mnist package (apt-get install "
                                    f"dataset-fashion-mnist)")
        folder = os.path.join(images_dir, split)
        stamp = os.path.join(folder, ".complete")
        labels = read_idx(os.path.join(source, lbl_file))
        n = min(limits[split], len(labels))
        done = 0
        if os.path.exists(stamp):
            with open(stamp) as f:
                done = int(f.read().strip() or 0)
        if done < n:
            images = read_idx(img_path)
            t0 = time.monotonic()
            write_pngs(images, folder, done, n, processes)
            with open(stamp, "w") as f:
                f.write(f"{n}\n")
            dt = time.monotonic() - t0
            log(f"wrote {n - done} PNGs to {folder} in {dt:.1f} s "
                f"({(n - done) / max(dt, 1e-9):.0f}/s, {processes} processes)")
        csv_path = os.path.join(out, csv_name)
        tmp = csv_path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "category", "group"])
            for i in range(n):
                name = CLASSES[labels[i]]
                w.writerow([f"{split}/{i:05d}.png", name, GROUP[name]])
        os.replace(tmp, csv_path)
        result["validation" if split == "test" else "train"] = {"csv": csv_path, "rows": n}
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    ap.add_argument("--train", type=int, default=60000, help="training rows (default 60000)")
    ap.add_argument("--validation", type=int, default=10000,
                    help="validation rows, from the test set (default 10000)")
    ap.add_argument("--source", default=SOURCE, help="folder of the *-ubyte.gz files")
    ap.add_argument("--processes", type=int, default=0, help="PNG writers (0 = one per CPU)")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    r = prepare(args.out, args.train, args.validation, args.source, args.processes)
    print(f"train: {r['train']['rows']} rows in {r['train']['csv']}")
    print(f"validation: {r['validation']['rows']} rows in {r['validation']['csv']}")
    print(f"images under {r['root']} ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

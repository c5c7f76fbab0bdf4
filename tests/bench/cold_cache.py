"""mogen with a cold page cache: how fast batches come when the image files
must be read from disk (a dataset larger than RAM, or the first epoch
after a reboot), against the same run with the files cached.

Each repetition drops the kernel's page cache (`/proc/sys/vm/drop_caches`,
so it needs root, and it slows everything else on the machine for a
moment), starts mogend on the workload, and times --images images through
the Python client; then the same again with the cache warm. With --build
twice, the builds alternate, so that two commits are compared in the same
minutes.

    sudo .venv/bin/python tests/bench/cold_cache.py [--workload fashion-mnist|clothing]
        [--images N] [--reps 2] [--build build [--build other-build]]

Fashion-MNIST comes from demo-data/ (run `make demo` once); the clothing
photos from ../shared/data/clothing.
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "client" / "python"))
import bench  # noqa: E402
import loaders  # noqa: E402
import mogen  # noqa: E402


def workload(name, tmp):
    """The loader spec and a default image count for the workload."""
    if name == "fashion-mnist":
        folder = pathlib.Path(bench.FMNIST_DEMO)
        if not (folder / "train.csv").exists():
            sys.exit(f"{folder}/train.csv is missing: run `make demo` once to write it")
        return dict(csv=str(folder / "train.csv"), root=str(folder / "images"), suffix="",
                    path_column="image", label_columns=["category", "group"], size=28,
                    gray=True, batch_size=64, augment={"flip": True}), 30000
    if not os.path.exists(os.path.join(bench.CLOTHING, "images.csv")):
        sys.exit(f"{bench.CLOTHING} is absent")
    csv_path, _, _, kept = bench.prepare_clothing(tmp)
    return dict(csv=csv_path, root=os.path.join(bench.CLOTHING, "images"), suffix=".jpg",
                path_column="image", label_columns=["label", "kids"], size=224, gray=False,
                batch_size=64, augment=bench.CLOTHING_AUG), kept - kept % 64


def drop_page_cache():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")


def images_per_s(spec, tmp, images):
    """Starts mogend, times `images` images through the client, stops it."""
    proc, sock, _ = loaders.start_mogend(spec, tmp)
    try:
        with mogen.Client(sock, "train") as client:
            got = 0
            t0 = time.perf_counter()
            while got < images:
                _, _, info = client.next_batch()
                got += info["size"]
            return got / (time.perf_counter() - t0)
    finally:
        loaders.stop_mogend(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["fashion-mnist", "clothing"], default="fashion-mnist")
    ap.add_argument("--images", type=int, help="images timed per run (default: 30000 "
                    "Fashion-MNIST, one epoch of the clothing photos)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="mogend workers (0: one per CPU)")
    ap.add_argument("--build", action="append", help="build folder(s); default build")
    args = ap.parse_args()
    if not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        sys.exit("dropping the page cache needs root (/proc/sys/vm/drop_caches)")
    builds = [os.path.abspath(b) for b in (args.build or ["build"])]
    tmp = tempfile.mkdtemp(prefix="mogen-cold-")
    spec, default_images = workload(args.workload, tmp)
    images = args.images or default_images
    spec["workers"] = args.workers
    results = {(b, c): [] for b in builds for c in ("cold", "warm")}
    for _ in range(args.reps):
        for b in builds:
            for cache in ("cold", "warm"):
                if cache == "cold":
                    drop_page_cache()
                rate = images_per_s(dict(spec, build=b), tmp, images)
                results[(b, cache)].append(rate)
                print(f"{b}: {cache} page cache: {rate:,.0f} images/s", flush=True)
    print(f"\n{args.workload}, {images} images per run, median of {args.reps}:")
    for b in builds:
        cold, warm = (statistics.median(results[(b, c)]) for c in ("cold", "warm"))
        print(f"  {b}: cold {cold:,.0f} images/s, warm {warm:,.0f} images/s "
              f"(cold at {cold / warm:.0%} of warm)")


if __name__ == "__main__":
    main()

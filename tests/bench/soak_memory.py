"""Memory of mogend over a long run: starts the daemon on Fashion-MNIST
(prepared by `make demo` in demo-data/), consumes batches as fast as the
Python client can for --seconds, and prints the resident and proportional
memory of the daemon and of each worker every --every seconds. Flat lines
mean no per-sample or per-batch leak.

    .venv/bin/python tests/bench/soak_memory.py [--seconds 120] [--every 10]
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "client" / "python"))
import mogen  # noqa: E402


def memory_kb(pid):
    """(RSS, PSS) in KiB from /proc/PID/smaps_rollup."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--build", default=str(REPO / "build"))
    args = ap.parse_args()
    data = REPO / "demo-data" / "fashion-mnist"
    if not (data / "train.csv").exists():
        sys.exit(f"{data}/train.csv is missing: run `make demo` once to prepare it")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mogen-soak-"))
    sock = str(tmp / "mogen.sock")
    cfg = {"socket": sock, "workers": 0,
           "image": {"size": [28, 28], "color": "grayscale"},
           "path": {"column": "image", "root": str(data / "images")},
           "outputs": {"multi_class": [{"category_output": "category"},
                                       {"group_output": "group"}]},
           "streams": {"train": {"csv": str(data / "train.csv"), "batch_size": 64,
                                 "shuffle": True, "augment": True}},
           "augment": {"flip_horizontal": 0.5, "rotate": [-10, 10]}}
    (tmp / "mogend.json").write_text(json.dumps(cfg))
    daemon = subprocess.Popen([args.build + "/mogend", "-q", "--config", str(tmp / "mogend.json")])
    deadline = time.monotonic() + 60
    while True:   # ready means accepting, not just the socket file existing
        try:
            client = mogen.Client(sock, "train")
            break
        except mogen.DaemonNotRunning:
            if daemon.poll() is not None or time.monotonic() > deadline:
                sys.exit("mogend did not start")
            time.sleep(0.05)
    workers = [w["pid"] for w in mogen.status(sock)["workers"]]
    print(f"{'t s':>6} {'images':>10} {'daemon RSS/PSS KiB':>20} "
          + " ".join(f"{'worker' + str(i) + ' RSS/PSS':>20}" for i in range(len(workers))))
    start = time.monotonic()
    next_report = 0.0
    images = 0
    rows = []
    while True:
        now = time.monotonic() - start
        if now >= next_report:
            d = memory_kb(daemon.pid)
            ws = [memory_kb(p) for p in workers]
            rows.append((now, images, d, ws))
            print(f"{now:6.0f} {images:10d} {d[0]:>9d}/{d[1]:<10d} "
                  + " ".join(f"{r:>9d}/{p:<10d}" for r, p in ws), flush=True)
            next_report += args.every
            if now >= args.seconds:
                break
        x, y, info = client.next_batch()
        images += info["size"]
    client.close()
    status = mogen.status(sock)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    first, last = rows[1] if len(rows) > 1 else rows[0], rows[-1]
    print(f"{images} images in {last[0]:.0f} s ({images / last[0]:.0f}/s), "
          f"{status['streams'][0]['epoch']} epochs; worker restarts {status['worker_deaths']}")
    print(f"daemon RSS change after warm-up: {last[2][0] - first[2][0]:+d} KiB; workers: "
          + ", ".join(f"{l[0] - f[0]:+d} KiB" for f, l in zip(first[3], last[3])))
    return 0 if daemon.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

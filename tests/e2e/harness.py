"""A real mogend in a scratch directory, for end-to-end tests.

Mogend(tmp_path, config) writes the config, starts build/mogend, waits until
its socket accepts, and on stop() sends SIGTERM and checks that it exited 0
and left neither its socket nor its named shared memory behind.
"""

import json
import os
import pathlib
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("MOGEN_BUILD", REPO / "build"))
# Set by `make sanitize`: the binaries under test carry ASan+UBSan.
SANITIZED = os.environ.get("MOGEN_SANITIZED") == "1"
SHARED = REPO.parent / "shared"
CLOTHING = SHARED / "data" / "clothing"

# The Python client under test: the repository's, or (make sanitize-python)
# a copy whose C step carries ASan+UBSan.
CLIENT_PYTHON = pathlib.Path(os.environ.get("MOGEN_CLIENT_PYTHON", REPO / "client" / "python"))
sys.path.insert(0, str(CLIENT_PYTHON))


def binary(name):
    path = BUILD / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make` first")
    return path


def make_images(folder, count, size=(24, 20), fmt="PNG", seed=0):
    """Writes `count` small images whose pixels encode their index, and
    returns their file names. Image i is a solid colour derived from i with a
    marker pixel, so that any mix-up of samples shows in the pixels."""
    from PIL import Image
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        colour = ((i * 37 + seed) % 256, (i * 91) % 256, (i * 53 + 7) % 256)
        img = Image.new("RGB", size, colour)
        img.putpixel((0, 0), (255, 255, 255))
        ext = "png" if fmt == "PNG" else "jpg"
        name = f"img{i:04d}.{ext}"
        img.save(folder / name, fmt)
        names.append(name)
    return names


def small_dataset(root, rows=150):
    """Writes `rows` small PNGs under root/images and root/train.csv with a
    three-class label column; returns root."""
    names = make_images(root / "images", rows)
    write_csv(root / "train.csv", ["image", "label"],
              [[n, ["cat", "dog", "bird"][i % 3]] for i, n in enumerate(names)])
    return root


def small_config(root, batch_size=10, shuffle=True, slots=4, **extra):
    """A config for small_dataset(root): 16x16 images, one output, one
    stream "train" without augmentation."""
    cfg = {
        "image": {"size": [16, 16]},
        "path": {"root": str(root / "images")},
        "outputs": {"multi_class": [{"label_output": "label"}]},
        "streams": {"train": {"csv": str(root / "train.csv"), "shuffle": shuffle,
                              "augment": False, "batch_size": batch_size}},
        "ring_slots": slots,
    }
    cfg.update(extra)
    return cfg


def write_csv(path, header, rows):
    import csv
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


class Mogend:
    """One daemon process. Use as a context manager or call stop()."""

    def __init__(self, tmp_path, config, workers=None, extra_args=(), wait=True,
                 open_files=None):
        self.dir = pathlib.Path(tmp_path)
        self.socket = str(self.dir / "mogen.sock")
        config = dict(config)
        config.setdefault("socket", self.socket)
        self.socket = config["socket"]
        if workers is not None:
            config["workers"] = workers
        self.config_path = self.dir / "mogend.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = self.dir / "mogend.log"
        self.log = open(self.log_path, "w")
        # open_files: the daemon's open-file limit (soft and hard), to run
        # it as under a small LimitNOFILE.
        limit = None if open_files is None else (lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (open_files, open_files)))
        self.proc = subprocess.Popen(
            [str(binary("mogend")), "--config", str(self.config_path), *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mogend exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.socket)
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mogend did not accept on {self.socket}:\n{self.logs()}")

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, expect_code=0):
        if self.log.closed:
            return self.logs()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"mogend did not stop on SIGTERM:\n{self.logs()}")
        self.log.close()
        assert self.proc.returncode == expect_code, (
            f"mogend exited {self.proc.returncode}, expected {expect_code}:\n{self.logs()}")
        assert not os.path.exists(self.socket), "the socket file was left behind"
        return self.logs()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


def frame(msg_type, body=b""):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    return b"MG" + struct.pack("<HI", msg_type, len(body)) + body


def read_frame(sock, timeout=10):
    """Reads one frame; returns (type, parsed JSON body or None)."""
    sock.settimeout(timeout)
    head = b""
    while len(head) < 8:
        chunk = sock.recv(8 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    assert head[:2] == b"MG", head
    msg_type, length = struct.unpack("<HI", head[2:])
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed mid-frame")
        body += chunk
    return msg_type, (json.loads(body) if body else None)


def raw_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

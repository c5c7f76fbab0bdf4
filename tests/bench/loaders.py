"""One benchmark contender in its own process: tests/bench/bench.py runs

    .venv/bin/python tests/bench/loaders.py SPEC_JSON

and reads the last line of stdout, ``RESULT {...}``. Running each loader in a
fresh process keeps their memory, threads and imports apart, so the peak RSS
and CPU time of one never include another's.

A spec names the loader (``mogen``, ``torch``, ``keras``, ``spdl``, and the
round-trip probe ``mogen_rtt``) and the workload: a cleaned CSV (only rows
whose file exists; columns image, label, kids or image, category, group),
the image folder and suffix, the output size, the augmentation, the batch
size. Every loader yields ``(x, y)`` with x uint8 NHWC (or NHW1 for gray)
and one one-hot float32 array per label column, shuffled every epoch.

Measurement (the same code for every loader, see ``measure``):
- first-batch latency: from the moment the loader is created (for mogen: the
  daemon is started) until the first batch is in the consumer's hands;
- warm-up batches are consumed and not timed;
- then ``reps`` repetitions of ``n`` batches each; per repetition the
  images/s and the CPU seconds of the whole process tree (the consumer and
  every descendant: daemon, its workers, DataLoader workers), from psutil;
  ``n`` is sized from the warm-up rate so that a repetition lasts about
  ``rep_seconds``;
- the CPU the rest of the machine used meanwhile (all CPUs' busy time
  from /proc/stat minus the tree's), since a shared machine skews results;
- a sampler thread records, every 0.25 s, the consumer's RSS and the
  producer processes' PSS (RSS with shared pages divided among the processes
  sharing them, so the ring mapped by daemon and workers is counted once);
- the consumer's RSS and the producers' PSS at the end of every repetition,
  to show whether memory grows with epochs.
"""

import csv
import json
import math
import os
import random
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "client", "python"))

MB = 1024.0 * 1024.0


# -- process-tree accounting ----------------------------------------------

def tree_cpu_seconds(proc):
    """User + system CPU seconds of proc and all its live descendants."""
    total = 0.0
    for p in [proc] + proc.children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def pss_of(procs):
    """Sum of PSS (bytes) over procs; RSS where PSS cannot be read."""
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
    return total


class Sampler(threading.Thread):
    """Samples consumer RSS and producer PSS until stopped."""

    def __init__(self, producers, interval=0.25):
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.producers = producers  # callable -> list of psutil.Process
        self.interval = interval
        self.peak_consumer = 0
        self.peak_producer = 0
        self.halt = threading.Event()

    def sample(self):
        rss = self.me.memory_info().rss
        pss = pss_of(self.producers())
        self.peak_consumer = max(self.peak_consumer, rss)
        self.peak_producer = max(self.peak_producer, pss)
        return rss, pss

    def run(self):
        while not self.halt.wait(self.interval):
            self.sample()


def median(values):
    v = sorted(values)
    n = len(v)
    return None if n == 0 else (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2)


def measure(spec, make_batches, producers=lambda: []):
    """Times the loader. make_batches() returns an endless iterator of
    (x, y); its creation time starts the first-batch clock unless the loader
    already set spec['_t_create']."""
    me = psutil.Process()
    sampler = Sampler(producers)
    sampler.start()
    t_create = time.perf_counter()
    it = make_batches()
    x, y = next(it)
    first_batch_s = time.perf_counter() - spec.get("_t_create", t_create)
    shape = list(x.shape)
    bs = spec["batch_size"]
    touch = 0

    warm = spec.get("warmup", 3)
    t0 = time.perf_counter()
    for _ in range(warm):
        x, y = next(it)
        touch ^= int(x.reshape(-1)[-1])
    warm_rate = warm * bs / max(time.perf_counter() - t0, 1e-6)
    n = int(round(spec.get("rep_seconds", 4.0) * warm_rate / bs))
    n = max(spec.get("min_batches", 3), min(spec.get("max_batches", 40), n))

    reps = []
    for _ in range(spec.get("reps", 3)):
        c0 = tree_cpu_seconds(me)
        s0 = psutil.cpu_times()
        t0 = time.perf_counter()
        images = 0
        for _ in range(n):
            x, y = next(it)
            # Look at one pixel and the labels so that lazy loaders do the work.
            touch ^= int(x.reshape(-1)[-1])
            images += x.shape[0]
            for v in y:
                assert v.shape[0] == x.shape[0]
        t1 = time.perf_counter()
        c1 = tree_cpu_seconds(me)
        s1 = psutil.cpu_times()
        rss, pss = sampler.sample()
        busy = (s1.user + s1.system + s1.nice + s1.irq + s1.softirq + s1.steal) - (
            s0.user + s0.system + s0.nice + s0.irq + s0.softirq + s0.steal)
        reps.append({"images": images, "seconds": t1 - t0, "images_per_s": images / (t1 - t0),
                     "cpu_s_per_1000": 1000.0 * (c1 - c0) / images,
                     "tree_cores": (c1 - c0) / (t1 - t0),
                     "other_cores": max(0.0, busy - (c1 - c0)) / (t1 - t0),
                     "consumer_rss_mb": rss / MB, "producer_pss_mb": pss / MB})
    sampler.halt.set()
    sampler.join()
    sampler.sample()
    return {
        "images_per_s": median([r["images_per_s"] for r in reps]),
        "cpu_s_per_1000": median([r["cpu_s_per_1000"] for r in reps]),
        "tree_cores": median([r["tree_cores"] for r in reps]),
        "other_cores": median([r["other_cores"] for r in reps]),
        "first_batch_s": first_batch_s,
        "batches_per_rep": n,
        "reps": reps,
        "x_shape": shape,
        "x_dtype": str(x.dtype),
        "consumer_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "producer_peak_pss_mb": sampler.peak_producer / MB if producers() else None,
        "checksum": touch,
    }, it


# -- the workload --------------------------------------------------------

def read_rows(spec):
    with open(spec["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    cols = spec["label_columns"]
    classes = {c: sorted({r[c] for r in rows}) for c in cols}
    return rows, cols, classes


def image_path(spec, row):
    return os.path.join(spec["root"], row[spec["path_column"]] + spec.get("suffix", ""))


def one_hot(index, k):
    v = np.zeros(k, np.float32)
    v[index] = 1.0
    return v


# -- mogen -----------------------------------------------------------------

def start_mogend(spec, tmp, batch_size=None, augment=None):
    """Starts build/mogend on the spec's workload; returns (proc, socket, t_start)."""
    sock = os.path.join(tmp, "mogen.sock")
    aug = spec.get("augment") or {}
    cfg = {
        "socket": sock,
        "workers": spec.get("workers", 0),
        "classes_dir": tmp,
        "image": {"size": [spec["size"], spec["size"]], "interpolation": "bilinear",
                  "color": "grayscale" if spec.get("gray") else "rgb", "dtype": "uint8",
                  "layout": "NHWC", "jpeg_planes": spec.get("jpeg_planes", True)},
        "path": {"column": spec["path_column"], "root": spec["root"],
                 "suffix": spec.get("suffix", "")},
        "outputs": {"multi_class": [{c + "_output": c} for c in spec["label_columns"]]},
        "streams": {"train": {"csv": spec["csv"], "shuffle": True,
                              "augment": bool(aug) if augment is None else augment,
                              "batch_size": batch_size or spec["batch_size"]}},
        "seed": 1,
        "ring_slots": spec.get("ring_slots", 8),
    }
    if aug:
        cfg["augment"] = {"flip_horizontal": 0.5 if aug.get("flip") else 0.0,
                          "rotate": [-aug["rotate"], aug["rotate"]],
                          "translate": [aug["translate"], aug["translate"]],
                          "scale": [1 - aug["zoom"], 1 + aug["zoom"]]} \
            if "rotate" in aug else {"flip_horizontal": 0.5}
    path = os.path.join(tmp, "mogend.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    log = open(os.path.join(tmp, "mogend.log"), "w")
    t_start = time.perf_counter()
    proc = subprocess.Popen([os.path.join(spec["build"], "mogend"), "--config", path],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError("mogend exited with %s:\n%s" % (
                proc.returncode, open(log.name).read()))
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            s.close()
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise RuntimeError("mogend did not accept on " + sock)
            time.sleep(0.005)
    return proc, sock, t_start


def stop_mogend(proc):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_mogen(spec):
    import mogen

    tmp = tempfile.mkdtemp(prefix="mogen-bench-")
    state = {}

    def batches():
        proc, sock, t_start = start_mogend(spec, tmp)
        state["proc"] = proc
        spec["_t_create"] = t_start
        client = mogen.Client(sock, "train", copy=False)
        state["client"] = client
        names = client.output_names
        while True:
            x, y, _ = client.next_batch()
            yield x, [y[k] for k in names]

    def producers():
        p = state.get("proc")
        if p is None:
            return []
        try:
            pp = psutil.Process(p.pid)
            return [pp] + pp.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    try:
        result, it = measure(spec, batches, producers)
        result["workers"] = len(producers()) - 1
        st = mogen.status(state["client"].socket_path)
        result["daemon_images_per_s"] = st.get("images_per_s")
        state["client"].close()
        it.close()
    finally:
        if "proc" in state:
            stop_mogend(state["proc"])
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def run_mogen_rtt(spec):
    """RELEASE+NEXT round trips with batch_size 1 through the Python client,
    then through the C client (build/bench/bench_rtt) on the same daemon."""
    import mogen

    tmp = tempfile.mkdtemp(prefix="mogen-rtt-")
    proc, sock, _ = start_mogend(spec, tmp, batch_size=1, augment=False)
    count, pause = spec.get("count", 2000), spec.get("pause_us", 2000)
    out = {"count": count, "pause_us": pause}
    try:
        # The default client (with its mailbox, where the daemon posts the
        # next batch ahead, and its step in C when mogen._fastpath is
        # built), the same with the pure-Python page, the same over the
        # socket (mailbox=False), and the machine's Python floor
        # (_socket_floor), alternated twice as for C below: the floor
        # drifts on a shared machine.
        client = mogen.Client(sock, "train", copy=False)
        fastpath, mogen.client._fastpath = mogen.client._fastpath, None
        pure = mogen.Client(sock, "train", copy=False)
        mogen.client._fastpath = fastpath
        over_socket = mogen.Client(sock, "train", copy=False, mailbox=False)
        out["python_mailbox"] = client.welcome.get("mailbox") is True
        out["python_accelerated"] = client._mailbox_next is not None
        for _ in range(20):
            client.next_batch()
            pure.next_batch()
            over_socket.next_batch()
        runs = {"python": [], "pure": [], "socket": [], "floor": []}
        times = []
        for _ in range(2):
            for name, c in (("python", client), ("pure", pure), ("socket", over_socket)):
                run = []
                for _ in range(count):
                    time.sleep(pause / 1e6)
                    t0 = time.perf_counter()
                    c.next_batch()
                    run.append((time.perf_counter() - t0) * 1e6)
                if name == "python":
                    times += run
                runs[name].append(median(run))
            runs["floor"].append(_socket_floor(count, pause))
        times.sort()
        out["python_median_us"] = median(runs["python"])
        out["python_pure_median_us"] = median(runs["pure"])
        out["python_pure_runs_us"] = runs["pure"]
        out["python_p90_us"] = times[int(0.9 * (len(times) - 1))]
        out["python_over_socket_median_us"] = median(runs["socket"])
        out["python_over_socket_runs_us"] = runs["socket"]
        out["python_socket_floor_us"] = median(runs["floor"])
        out["python_runs_us"] = runs["python"]
        out["python_floor_runs_us"] = runs["floor"]
        out["python_over_floor_us"] = median([c - f for c, f in zip(runs["socket"],
                                                                     runs["floor"])])
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < 2.0:
            client.next_batch()
            n += 1
        out["python_batches_per_s"] = n / (time.perf_counter() - t0)
        client.close()
        pure.close()
        # Over the socket, but RELEASE of the previous slot sent after BATCH
        # arrived, so that the daemon's refill of that slot (a job sent to a
        # worker) happens after its reply instead of before it.
        over_socket.release()
        out["python_next_first_median_us"] = _next_then_release(over_socket, count, pause)
        over_socket.close()
        time.sleep(0.2)
        exe = os.path.join(spec["build"], "bench", "bench_rtt")
        if os.access(exe, os.X_OK):
            # The C client with its mailbox (the default), the same over the
            # socket (--no-mailbox), and the machine's C floor (bench_rtt
            # --echo), alternated twice: the floor drifts on a shared machine.
            runs = {"c": [], "socket": [], "floor": [], "p90": []}

            def bench_rtt(*args):
                r = subprocess.run([exe, *args, str(count), str(pause)],
                                   capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    out["c_error"] = (r.stderr or r.stdout).strip()[-300:]
                    return None
                return dict(w.split("=", 1) for w in r.stdout.split()[1:] if "=" in w)

            for _ in range(2):
                kv = bench_rtt(sock, "train")
                skv = kv and bench_rtt("--no-mailbox", sock, "train")
                fkv = skv and bench_rtt("--echo")
                if not fkv:
                    break
                runs["c"].append(float(kv["median_us"]))
                runs["p90"].append(float(kv["p90_us"]))
                runs["socket"].append(float(skv["median_us"]))
                runs["floor"].append(float(fkv["median_us"]))
            if runs["c"] and "c_error" not in out:
                out["c_median_us"] = median(runs["c"])
                out["c_p90_us"] = median(runs["p90"])
                out["c_over_socket_median_us"] = median(runs["socket"])
                out["c_over_socket_runs_us"] = runs["socket"]
                out["c_socket_floor_us"] = median(runs["floor"])
                # mogen's own part over the socket: each run less the floor
                # run beside it.
                out["c_over_floor_us"] = median([c - f for c, f in zip(runs["socket"],
                                                                         runs["floor"])])
                out["c_runs_us"] = runs["c"]
                out["c_floor_runs_us"] = runs["floor"]
            r = subprocess.run([exe, sock, "train", "20000", "0"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                kv = dict(w.split("=", 1) for w in r.stdout.split()[1:] if "=" in w)
                out["c_batches_per_s"] = float(kv["batches_per_s"])
        else:
            out["c_error"] = exe + " is not built"
    finally:
        stop_mogend(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _next_then_release(client, count, pause):
    """Median microseconds of NEXT -> BATCH when the RELEASE of the slot held
    before is sent only after the reply (raw frames on the client's socket)."""
    from mogen import protocol
    from mogen.protocol import MsgType

    conn, held, times = client._conn, None, []
    for _ in range(count):
        time.sleep(pause / 1e6)
        t0 = time.perf_counter()
        conn.send(protocol.encode_frame(MsgType.NEXT, {}))
        msg_type, body = conn.recv()
        t1 = time.perf_counter()
        if held is not None:
            conn.send(protocol.encode_frame(MsgType.RELEASE, {"slot": held}))
            held = None
        if msg_type == MsgType.BATCH:
            held = body["slot"]
            times.append((t1 - t0) * 1e6)
    if held is not None:
        conn.send(protocol.encode_frame(MsgType.RELEASE, {"slot": held}))
    return median(times)


def _socket_floor(count, pause):
    """Median microseconds of a 38-byte request / 60-byte reply over a Unix
    socket pair to a forked echo process, paced like the round-trip test: the
    machine's floor for any request/reply, with Python on the client side.
    Both sides wait as mogen's do: the echo in epoll, like mogend's loop,
    the client in poll() before recv(), like the Python client."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        a.close()
        ep = select.epoll()
        ep.register(b.fileno(), select.EPOLLIN)
        while True:
            ep.poll()
            data = b.recv(64)
            if not data:
                os._exit(0)
            b.sendall(b"x" * 60)
    b.close()
    readable = select.poll()
    readable.register(a, select.POLLIN)
    times = []
    for _ in range(count):
        time.sleep(pause / 1e6)
        t0 = time.perf_counter()
        a.sendall(b"y" * 38)
        got = 0
        while got < 60:
            readable.poll()
            got += len(a.recv(64))
        times.append((time.perf_counter() - t0) * 1e6)
    a.close()
    os.waitpid(pid, 0)
    return median(times)


# -- PyTorch DataLoader ----------------------------------------------------

class _TorchCsvDataset:
    """Map-style dataset over the CSV: PIL open, torchvision transforms, one-hot."""

    def __init__(self, spec):
        from torchvision import transforms as T

        rows, cols, classes = read_rows(spec)
        self.paths = [image_path(spec, r) for r in rows]
        self.labels = [[classes[c].index(r[c]) for c in cols] for r in rows]
        self.sizes = [len(classes[c]) for c in cols]
        self.mode = "L" if spec.get("gray") else "RGB"
        s = spec["size"]
        aug = spec.get("augment") or {}
        steps = [T.Resize((s, s), interpolation=T.InterpolationMode.BILINEAR)]
        if aug.get("flip"):
            steps.append(T.RandomHorizontalFlip())
        if "rotate" in aug:
            steps.append(T.RandomAffine(degrees=aug["rotate"],
                                        translate=(aug["translate"], aug["translate"]),
                                        scale=(1 - aug["zoom"], 1 + aug["zoom"]),
                                        interpolation=T.InterpolationMode.BILINEAR))
        self.transform = T.Compose(steps)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch
        from PIL import Image

        with Image.open(self.paths[i]) as im:
            im = self.transform(im.convert(self.mode))
        x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy())
        if x.ndim == 2:
            x = x.unsqueeze(-1)
        ys = tuple(torch.from_numpy(one_hot(k, n)) for k, n in zip(self.labels[i], self.sizes))
        return x, ys


def run_torch(spec):
    import torch

    torch.set_num_threads(1)
    workers = spec.get("workers") or os.cpu_count()
    state = {}

    def batches():
        ds = _TorchCsvDataset(spec)
        dl = torch.utils.data.DataLoader(ds, batch_size=spec["batch_size"], shuffle=True,
                                         num_workers=workers, persistent_workers=True,
                                         prefetch_factor=2)
        state["dl"] = dl
        while True:
            for x, ys in dl:
                yield x.numpy(), [y.numpy() for y in ys]

    me = psutil.Process()
    result, it = measure(spec, batches, lambda: me.children(recursive=True))
    result["workers"] = workers
    it.close()
    return result


# -- Keras ImageDataGenerator.flow_from_dataframe -------------------------

def run_keras(spec):
    import pandas as pd
    from keras_preprocessing.image import ImageDataGenerator

    def batches():
        rows, cols, classes = read_rows(spec)
        df = pd.DataFrame({
            "filename": [image_path(spec, r) for r in rows],
            **{c: [classes[c].index(r[c]) for r in rows] for c in cols}})
        aug = spec.get("augment") or {}
        gen = ImageDataGenerator(
            rotation_range=aug.get("rotate", 0), width_shift_range=aug.get("translate", 0.0),
            height_shift_range=aug.get("translate", 0.0), zoom_range=aug.get("zoom", 0.0),
            horizontal_flip=bool(aug.get("flip")), fill_mode="constant", cval=0,
            interpolation_order=1, dtype="uint8")
        flow = gen.flow_from_dataframe(
            df, x_col="filename", y_col=cols, class_mode="multi_output",
            target_size=(spec["size"], spec["size"]),
            color_mode="grayscale" if spec.get("gray") else "rgb",
            batch_size=spec["batch_size"], shuffle=True, seed=1, interpolation="bilinear",
            validate_filenames=False)
        eyes = [np.eye(len(classes[c]), dtype=np.float32) for c in cols]
        while True:
            x, ys = next(flow)
            yield x, [e[np.asarray(y, dtype=np.int64)] for e, y in zip(eyes, ys)]

    result, it = measure(spec, batches)
    result["workers"] = 1
    it.close()
    return result


# -- SPDL (Meta): FFmpeg decode + filter graph in a thread pool -----------

def run_spdl(spec):
    import spdl.io
    from spdl.pipeline import PipelineBuilder

    rows, cols, classes = read_rows(spec)
    paths = [image_path(spec, r) for r in rows]
    labels = [[classes[c].index(r[c]) for c in cols] for r in rows]
    sizes = [len(classes[c]) for c in cols]
    s = spec["size"]
    aug = spec.get("augment") or {}
    threads = spec.get("workers") or os.cpu_count()

    def filter_for(rng):
        """An FFmpeg filter graph doing what RandomAffine does: stretch to
        size*zoom, flip, pad for the translation, rotate onto size x size."""
        z = 1 + rng.uniform(-aug.get("zoom", 0), aug.get("zoom", 0))
        w = h = max(2, int(round(s * z / 2)) * 2)
        tx = int(round(rng.uniform(-1, 1) * aug.get("translate", 0) * s))
        ty = int(round(rng.uniform(-1, 1) * aug.get("translate", 0) * s))
        a = math.radians(rng.uniform(-aug.get("rotate", 0), aug.get("rotate", 0)))
        f = [f"scale={w}:{h}:flags=bilinear"]
        if aug.get("flip") and rng.random() < 0.5:
            f.append("hflip")
        if tx or ty:
            f.append(f"pad={w + 2 * abs(tx)}:{h + 2 * abs(ty)}:{abs(tx) - tx}:{abs(ty) - ty}")
        f.append(f"rotate={a:.5f}:ow={s}:oh={s}:bilinear=1:c=black")
        f.append("format=gray" if spec.get("gray") else "format=rgb24")
        return ",".join(f)

    def load(i):
        rng = random.Random(i * 7919 + int.from_bytes(os.urandom(4), "little"))
        with open(paths[i], "rb") as fh:
            data = fh.read()
        pkt = spdl.io.demux_image(data)
        frames = spdl.io.decode_packets(pkt, filter_desc=filter_for(rng))
        return spdl.io.to_numpy(spdl.io.convert_frames(frames)), i

    def collate(items):
        x = np.stack([a.reshape(s, s, -1) for a, _ in items])
        ys = [np.stack([one_hot(labels[i][j], sizes[j]) for _, i in items])
              for j in range(len(cols))]
        return x, ys

    def source():
        order = list(range(len(paths)))
        while True:
            random.shuffle(order)
            yield from order

    state = {}

    def batches():
        pipe = (PipelineBuilder().add_source(source())
                .pipe(load, concurrency=threads)
                .aggregate(spec["batch_size"])
                .pipe(collate)
                .add_sink(3)
                .build(num_threads=threads))
        state["pipe"] = pipe
        pipe.start()
        while True:
            yield pipe.get_item(timeout=60)

    try:
        result, it = measure(spec, batches)
        result["workers"] = threads
        result["spdl_version"] = getattr(spdl.io, "__version__", None)
        it.close()
    finally:
        if "pipe" in state:
            state["pipe"].stop()
    return result


# mogen-rgb is mogen with image.jpeg_planes false (its spec says so).
RUNNERS = {"mogen": run_mogen, "mogen-rgb": run_mogen, "torch": run_torch, "keras": run_keras,
           "spdl": run_spdl, "mogen_rtt": run_mogen_rtt}


def main():
    spec = json.loads(sys.argv[1])
    result = RUNNERS[spec["loader"]](spec)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    # Loader threads (SPDL, DataLoader) sometimes linger: leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()

"""A tiny in-process stand-in for mogend, for testing the Python client alone.

It speaks docs/protocol.md (HELLO/WELCOME with an SCM_RIGHTS memfd, NEXT/BATCH,
END_OF_EPOCH, RELEASE, STATUS, ERROR) over a real Unix socket, serving batches
from in-memory NumPy arrays. It is NOT the daemon: no images, no workers, one
slot filled synchronously per NEXT. Tests of the real daemon are in the other
test_*.py files; this one lets the client's own logic (framing, fd passing,
views, epochs, positions, errors) be checked without it.
"""

import json
import mmap
import os
import socket
import struct
import threading
import time

import numpy as np

HDR = struct.Struct("<2sHI")


def frame(msg_type, body, compact=False):
    """A frame; compact=True writes the body as mogend does (no spaces)."""
    data = json.dumps(body, separators=(",", ":") if compact else None).encode()
    return HDR.pack(b"MG", msg_type, len(data)) + data


class FakeStream:
    def __init__(self, name, x, labels, batch_size, shuffle=False, slot_count=4,
                 encodings=None, classes=None):
        self.name = name
        self.x = x                  # uint8 [N, H, W, C]
        self.labels = labels        # {output: int array [N]}
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.slot_count = slot_count
        self.encodings = encodings or {k: "onehot" for k in labels}
        self.classes = classes or {k: [f"c{i}" for i in range(int(v.max()) + 1)]
                                   for k, v in labels.items()}
        n = len(x)
        self.steps = (n + batch_size - 1) // batch_size
        b = batch_size
        self.tensors = []
        off = 0

        def add(name, dtype, shape):
            nonlocal off
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            self.tensors.append({"name": name, "dtype": dtype, "shape": list(shape),
                                 "offset": off, "bytes": nbytes})
            off += (nbytes + 63) // 64 * 64

        add("x", "uint8", (b,) + x.shape[1:])
        for k in labels:
            if self.encodings[k] == "index":
                add(k, "int32", (b,))
            else:
                add(k, "float32", (b, len(self.classes[k])))
        add("row_ids", "int64", (b,))
        add("errors", "uint8", (b,))
        self.slot_size = (off + 4095) // 4096 * 4096
        self.shm_size = self.slot_size * slot_count
        self.fd = os.memfd_create(f"fake-{name}")
        os.ftruncate(self.fd, self.shm_size)
        self.mm = mmap.mmap(self.fd, self.shm_size)
        self.epoch = 0
        self.batch = 0
        self.leased = set()

    def order(self, epoch):
        idx = np.arange(len(self.x))
        if self.shuffle:
            np.random.default_rng(1000 + epoch).shuffle(idx)
        return idx

    def fill(self, slot, epoch, batch):
        rows = self.order(epoch)[batch * self.batch_size:(batch + 1) * self.batch_size]
        base = slot * self.slot_size
        for t in self.tensors:
            view = np.ndarray(t["shape"], np.dtype(t["dtype"]), self.mm, base + t["offset"])
            view[...] = 0
            n = len(rows)
            if t["name"] == "x":
                view[:n] = self.x[rows]
            elif t["name"] == "row_ids":
                view[:n] = rows
            elif t["name"] == "errors":
                pass
            elif self.encodings[t["name"]] == "index":
                view[:n] = self.labels[t["name"]][rows]
            else:
                view[np.arange(n), self.labels[t["name"]][rows]] = 1.0
        return len(rows)

    def welcome(self):
        return {"version": 1, "stream": self.name, "batch_size": self.batch_size,
                "steps_per_epoch": self.steps, "rows": len(self.x),
                "epoch": self.epoch, "batch": self.batch, "slot_count": self.slot_count,
                "slot_size": self.slot_size, "shm_size": self.shm_size, "shm_path": None,
                "tensors": self.tensors,
                "outputs": [{"name": k, "kind": "multi_class", "encoding": self.encodings[k],
                             "classes": self.classes[k]} for k in self.labels],
                "image": {"width": self.x.shape[2], "height": self.x.shape[1],
                          "channels": self.x.shape[3], "dtype": "uint8", "layout": "NHWC",
                          "scale": 1.0, "offset": 0.0, "mean": None, "std": None}}


class FakeDaemon:
    """Serves streams on socket_path in a background thread until stop()."""

    def __init__(self, socket_path, streams, drop_after=None, compact=False, dribble=False,
                 first_batch_delay=0.0):
        self.path = str(socket_path)
        self.streams = {s.name: s for s in streams}
        self.drop_after = drop_after  # close a stream connection after this many BATCHes
        self.compact = compact  # BATCH bodies written as mogend writes them (no spaces)
        self.dribble = dribble  # BATCH and END_OF_EPOCH sent one byte per write
        self.first_batch_delay = first_batch_delay  # seconds before a connection's first BATCH
        self.releases = []
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(8)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        self.server.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _reply(self, conn, data):
        if not self.dribble:
            conn.sendall(data)
            return
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(0.0002)  # so that the client sees the pieces apart

    def _serve(self, conn):
        stream = None
        batches = 0
        try:
            while True:
                hdr = self._read(conn, 8)
                if hdr is None:
                    return
                magic, msg_type, length = HDR.unpack(hdr)
                body = json.loads(self._read(conn, length) or b"{}") if length else {}
                if msg_type == 7:
                    conn.sendall(frame(8, {"streams": {n: {"epoch": s.epoch, "batch": s.batch}
                                                       for n, s in self.streams.items()}}))
                elif msg_type == 1:
                    if body.get("version") != 1:
                        conn.sendall(frame(9, {"code": "version_mismatch",
                                               "message": "this daemon speaks version 1"}))
                        return
                    if body.get("stream") not in self.streams:
                        conn.sendall(frame(9, {"code": "unknown_stream",
                                               "message": f"no stream named {body.get('stream')!r}"
                                                          f"; configured: "
                                                          f"{', '.join(sorted(self.streams))}"}))
                        return
                    stream = self.streams[body["stream"]]
                    if "start" in body:
                        stream.epoch = body["start"]["epoch"]
                        stream.batch = body["start"]["batch"]
                    data = frame(2, stream.welcome())
                    socket.send_fds(conn, [data[:1]], [stream.fd])
                    conn.sendall(data[1:])
                elif msg_type == 3:
                    with self.lock:
                        if stream.batch >= stream.steps:
                            self._reply(conn, frame(5, {"epoch": stream.epoch}, self.compact))
                            stream.epoch += 1
                            stream.batch = 0
                            continue
                        if self.drop_after is not None and batches >= self.drop_after:
                            return
                        slot = next(i for i in range(stream.slot_count) if i not in stream.leased)
                        stream.leased.add(slot)
                        size = stream.fill(slot, stream.epoch, stream.batch)
                        reply = {"slot": slot, "epoch": stream.epoch, "batch": stream.batch,
                                 "size": size, "errors": []}
                        stream.batch += 1
                        batches += 1
                    if batches == 1:
                        time.sleep(self.first_batch_delay)
                    self._reply(conn, frame(4, reply, self.compact))
                elif msg_type == 6:
                    with self.lock:
                        self.releases.append(body["slot"])
                        stream.leased.discard(body["slot"])
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away, as clients may
        finally:
            if stream is not None:
                stream.leased.clear()
            conn.close()

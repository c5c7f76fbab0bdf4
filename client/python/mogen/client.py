"""A mogen stream client: batches as NumPy views of the daemon's shared memory.

Lifetime rule
-------------
With ``copy=False`` (the default) the arrays returned by
:meth:`Client.next_batch` are read-only views of a ring slot that the daemon
has leased to this client. They stay valid until the next batch is requested
(``next_batch()``, the next step of ``epoch()`` or of ``iter(client)``) or the
client is closed: at that moment the slot is RELEASEd and the daemon refills it
with another batch, so old views silently show new bytes. Keep data longer by
copying it (``np.array(x)``) or by creating the client with ``copy=True``, which
returns owned arrays and releases the slot at once. Views never crash the
process after close(): the mapping lives until the last view is gone.
"""

import errno
import math
import mmap
import os
import platform
import select
import socket
import stat
import sys

import numpy as np

from . import protocol
from .errors import (DaemonGone, DaemonNotRunning, MogenError, MogenTimeout, ProtocolError,
                     daemon_error)
from .protocol import MsgType

_DTYPES = {
    "uint8": np.dtype("u1"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "float32": np.dtype("<f4"),
}

# Room for a few fds in one control message; the daemon sends one, and any
# extra is closed rather than leaked.
_MAX_FDS = 4
_ANCILLARY_SPACE = socket.CMSG_SPACE(_MAX_FDS * 4)
_RECV_CHUNK = 1 << 16
_TIMED_OUT = "an earlier wait timed out"

# NEXT never changes: encoded once rather than on every batch.
_NEXT_FRAME = protocol.encode_frame(MsgType.NEXT, {})

# The mailbox page (docs/protocol.md, "The mailbox") as 32-bit words:
# posted and taken counts, the posted batch's slot, epoch, batch and size,
# released and consumed counts, and from word 16 the ring of released
# slots. The counts change under the other process, so each is read and
# written as one 4-byte access: a memoryview cast to "I" does exactly that,
# where struct.pack_into zero-fills the field before writing it and the
# daemon may read the zero in between. (Native order is little-endian on
# the x86-64 that uses the pure-Python page.)
_MAILBOX_SIZE = 4096
_MAILBOX_POSTED = 0
_MAILBOX_TAKEN = 1
_MAILBOX_SLOT, _MAILBOX_EPOCH, _MAILBOX_BATCH, _MAILBOX_COUNT = 2, 3, 4, 5
_MAILBOX_RELEASED = 6
_MAILBOX_CONSUMED = 7
_MAILBOX_RELEASE_AT = 16
_MAILBOX_RELEASES = 64

# The mailbox step in C (_fastpath.c), when it was built for this Python
# and NumPy; MOGEN_PURE_PYTHON=1 leaves the pure-Python _PageMailbox.
_fastpath = None
if os.environ.get("MOGEN_PURE_PYTHON", "0") in ("", "0"):
    try:
        from . import _fastpath
    except ImportError:  # not built, or built for another NumPy
        _fastpath = None


def _mailbox_by_default():
    """Whether a client asks for a mailbox when not told. The C mailbox
    orders its accesses to the page with atomics, so it works anywhere. The
    pure-Python one reads `posted` and then the entry with two plain loads,
    which only a CPU that keeps loads in order (x86) guarantees to see in
    that order; Python has no memory barrier to ask for it. The page and
    the ring are little-endian, as mogend writes them on the hosts it runs on."""
    if sys.byteorder != "little":
        return False
    return _fastpath is not None or platform.machine().lower() in ("x86_64", "amd64")


def accelerated():
    """True when mogen._fastpath imported, so that clients with a mailbox
    take their batches through the C step; False when they use the
    pure-Python page (the module is not built or does not import, or
    MOGEN_PURE_PYTHON=1)."""
    return _fastpath is not None


class _PageMailbox:
    """The mailbox page in pure Python: what _fastpath.Mailbox does, but
    next_batch(), the whole step in one call, always returns None, so that
    the client takes the batch itself (take(), then give_back())."""

    def __init__(self, page, slots, world, rank, batches_per_epoch):
        self._words = memoryview(page).cast("I")
        self.taken = self._words[_MAILBOX_TAKEN]  # batches taken, mod 2^32
        self.released = self._words[_MAILBOX_RELEASED]  # slots given back, mod 2^32
        self._consumed = self.released  # of those, acted on by the daemon when last read

    def take(self):
        """Returns ``(slot, epoch, batch, size)`` of the batch the daemon
        posted, marking it taken, or None when none is. `posted` is read
        before the entry (see _mailbox_by_default)."""
        words = self._words
        posted = words[_MAILBOX_POSTED]
        if posted == self.taken:
            return None
        if posted != (self.taken + 1) & _UINT32_MAX:
            raise ProtocolError(f"the mailbox says {posted} batches posted after "
                                f"{self.taken} taken; the daemon posts one at a time")
        entry = (words[_MAILBOX_SLOT], words[_MAILBOX_EPOCH], words[_MAILBOX_BATCH],
                 words[_MAILBOX_COUNT])
        words[_MAILBOX_TAKEN] = self.taken = posted
        return entry

    def give_back(self, slot):
        """Puts slot in the release ring; False when the ring is full."""
        words = self._words
        released = self.released
        if (released - self._consumed) & _UINT32_MAX >= _MAILBOX_RELEASES:
            self._consumed = words[_MAILBOX_CONSUMED]
            if (released - self._consumed) & _UINT32_MAX >= _MAILBOX_RELEASES:
                return False
        # The slot, then the count that makes the daemon read it.
        words[_MAILBOX_RELEASE_AT + released % _MAILBOX_RELEASES] = slot
        words[_MAILBOX_RELEASED] = self.released = (released + 1) & _UINT32_MAX
        return True

    def sync_taken(self):
        """After a NEXT answered with a batch the daemon had posted (it
        marks it taken then), reads `taken` back."""
        self.taken = self._words[_MAILBOX_TAKEN]

    def next_batch(self, held):
        return None

    def close(self):
        self._words.release()


class Output:
    """One model output as described by WELCOME.

    Attributes: ``name`` (the tensor and Keras output name), ``kind``
    (``"multi_class"`` or ``"multi_label"``), ``encoding`` (``"onehot"`` or
    ``"index"``) and ``classes`` (class names in index order). Also readable
    like a dict: ``output["classes"]``.
    """

    __slots__ = ("name", "kind", "encoding", "classes")

    def __init__(self, name, kind, encoding, classes):
        self.name = name
        self.kind = kind
        self.encoding = encoding
        self.classes = classes

    @property
    def num_classes(self):
        return len(self.classes)

    def __getitem__(self, key):
        if key not in self.__slots__:
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        return list(self.__slots__)

    def __eq__(self, other):
        return isinstance(other, Output) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self):
        return (f"Output(name={self.name!r}, kind={self.kind!r}, encoding={self.encoding!r}, "
                f"classes=<{len(self.classes)}>)")


def _exists_but_not_socket(path):
    try:
        return not stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _connect(socket_path, timeout):
    """Returns a connected AF_UNIX stream socket or raises DaemonNotRunning."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(socket_path)
    except (FileNotFoundError, ConnectionRefusedError) as e:
        sock.close()
        if _exists_but_not_socket(socket_path):
            # connect() says "Connection refused" for a regular file or a
            # folder too, which sends people looking for a stopped daemon.
            raise DaemonNotRunning(
                socket_path, "not a socket",
                f"{socket_path} is not a socket (is this the daemon's socket path? "
                f"see the \"socket\" key of its config)") from None
        raise DaemonNotRunning(socket_path, e.strerror or str(e)) from None
    except PermissionError as e:
        sock.close()
        raise MogenError(f"permission denied on {socket_path}: is this user in the "
                         f"socket's group? ({e.strerror})") from None
    except socket.timeout:
        sock.close()
        raise MogenTimeout(f"connecting to {socket_path} timed out") from None
    except OSError:
        sock.close()
        raise
    return sock


def _view(mm, t, base):
    """Returns tensor t of the slot at byte base as a read-only array.

    np.frombuffer holds a buffer export on the mmap for as long as any view
    (or slice, or torch tensor made from one) lives, so mmap.close() cannot
    unmap memory under a view: it raises BufferError and the mapping is
    freed when the last view dies. (np.ndarray(buffer=mm) holds no export,
    and reading a view after close() would crash the process.)
    """
    dtype = _DTYPES[t["dtype"]]
    count = math.prod(t["shape"])
    return np.frombuffer(mm, dtype, count, base + t["offset"]).reshape(t["shape"])


class _Conn:
    """A framed connection: sends frames, receives frames and any passed fds."""

    def __init__(self, sock, socket_path):
        self.sock = sock
        self.path = socket_path
        self.buf = bytearray()
        self.fds = []  # fds received and not yet claimed, in arrival order
        # Only WELCOME brings an fd. Once it has come, replies are read with
        # recv(): recvmsg() builds an ancillary list and a 4-tuple on every
        # reply, which cost 11-13 us of a cold Python round trip here.
        # (Were the daemon ever to pass an fd after that, the kernel would
        # close it for us: nothing leaks.)
        self.fds_expected = True
        self.broken = None  # (error class, message) once the connection was given up
        self._readable = select.poll()  # see _fill
        self._readable.register(sock, select.POLLIN)

    def give_up(self, error_class, what, later):
        """Closes the connection when it may be out of step and returns the
        error to raise. A reply still due (after a timeout, an interrupted
        wait, a reply that broke the protocol) would be taken for the answer
        to the next request: the client would stay one reply behind for good,
        holding a slot it does not know of. So the connection is closed, the
        daemon frees its slots, and every later use raises error_class with
        ``later`` in front of the reason: as libmogen does."""
        message = (f"{what}; the connection was closed, since a reply still due would "
                   f"answer the wrong request: connect again (a new Client resumes "
                   f"where this one stopped with start=client.position)")
        self.broken = (error_class, later + ": " + message)
        self.sock.close()
        return error_class(message)

    def _check_usable(self):
        if self.broken is not None:
            error_class, message = self.broken
            raise error_class(message)

    def send(self, data):
        self._check_usable()
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise self.give_up(MogenTimeout, f"sending to mogend at {self.path} timed out",
                               _TIMED_OUT) from None
        except (BrokenPipeError, ConnectionResetError) as e:
            raise self._last_words() or DaemonGone(
                f"the connection to mogend at {self.path} was closed ({e.strerror})") from None

    def _last_words(self):
        """After the daemon closed the connection, returns the ERROR it sent
        first (shutting_down, when it stops) as an exception, or None. A
        write to a closed peer fails before the reply waiting to be read."""
        try:
            while True:
                data = self.sock.recv(_RECV_CHUNK, socket.MSG_DONTWAIT)
                if not data:
                    break
                self.buf += data
        except OSError:
            pass
        try:
            while True:
                frame = protocol.decode_frame(self.buf)
                if frame is None:
                    return None
                msg_type, body, used = frame
                del self.buf[:used]
                # A not_leased for an earlier RELEASE may come first.
                if msg_type is MsgType.ERROR and body.get("code") != "not_leased":
                    return daemon_error(body)
        except ProtocolError:
            return None

    def _fill(self):
        """Reads more bytes (and fds) into buf; raises DaemonGone at EOF.

        Without a timeout the wait is a poll() for POLLIN first, as Python
        itself does when a timeout is set: a process asleep in recvmsg on a
        Unix socket is also woken, for nothing, each time the daemon reads
        its request (the kernel's "room to write" wake-up shares the wait
        queue), which costs a context switch per round trip; poll() for
        POLLIN is not woken by it. (Not on a closed socket: the poll object
        holds the old fd number, which another file may have taken since.)
        """
        self._check_usable()
        if self.sock.gettimeout() is None and self.sock.fileno() >= 0:
            self._readable.poll()
        try:
            if self.fds_expected:
                data = self._recv_with_fds()
            else:
                data = self.sock.recv(_RECV_CHUNK)
        except socket.timeout:
            raise self.give_up(MogenTimeout, f"no reply from mogend at {self.path} within "
                               f"the timeout", _TIMED_OUT) from None
        except ConnectionResetError as e:
            raise DaemonGone(f"the connection to mogend at {self.path} was reset "
                             f"({e.strerror})") from None
        if not data:
            raise DaemonGone(f"mogend at {self.path} closed the connection")
        self.buf += data

    def _recv_with_fds(self):
        """One recvmsg(): keeps the fds passed with the bytes, returns the bytes."""
        data, ancdata, flags, _ = self.sock.recvmsg(_RECV_CHUNK, _ANCILLARY_SPACE)
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(cdata) - len(cdata) % 4
                self.fds.extend(np.frombuffer(cdata[:usable], dtype=np.intc).tolist())
        if flags & socket.MSG_CTRUNC:
            raise ProtocolError("the daemon passed more file descriptors than expected")
        return data

    def recv(self):
        """Returns the next frame as (MsgType, body dict)."""
        while True:
            if self.buf:  # after a whole frame the buffer is usually empty
                frame = protocol.decode_frame(self.buf)
                if frame is not None:
                    msg_type, body, used = frame
                    del self.buf[:used]
                    return msg_type, body
            self._fill()

    def recv_plain_batch(self):
        """Returns ``(slot, epoch, batch, size)`` when the next frame is a
        BATCH as mogend writes it with no failed file, nearly every reply to
        NEXT, without building a dict; else None, and recv() reads the frame
        (any other frame, or a reply that has only partly arrived)."""
        if not self.buf:
            self._fill()
        plain = protocol.decode_plain_batch(self.buf)
        if plain is None:
            return None
        slot, epoch, batch, size, used = plain
        del self.buf[:used]
        return slot, epoch, batch, size

    def take_fd(self):
        return self.fds.pop(0) if self.fds else None

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        self.sock.close()


def status(socket_path, timeout=5.0):
    """Returns the daemon's state (the STATUS_REPLY body) as a dict."""
    socket_path = os.fspath(socket_path)
    conn = _Conn(_connect(socket_path, timeout), socket_path)
    try:
        conn.send(protocol.encode_frame(MsgType.STATUS, {}))
        msg_type, body = conn.recv()
        if msg_type == MsgType.ERROR:
            raise daemon_error(body)
        if msg_type != MsgType.STATUS_REPLY:
            raise ProtocolError(f"expected STATUS_REPLY, got {msg_type.name}")
        return body
    finally:
        conn.close()


class _Slot:
    """The arrays of one ring slot, made once at WELCOME.

    A full batch hands out new array objects on these views (``view()``, no
    copy), so that a caller who reshapes one in place changes nothing for the
    next batch; a short batch (the last of an epoch) slices them. ``y`` is a
    list of (output name, view); ``row_ids`` and ``errors`` are None when
    WELCOME has no such tensor; ``rows`` is the slot's batch capacity.
    """

    __slots__ = ("x", "y", "row_ids", "errors", "release", "release_next", "rows")

    def __init__(self, views, output_names, release):
        self.x = views["x"]
        self.rows = len(self.x)
        self.y = [(name, views[name]) for name in output_names]
        self.row_ids = views.get("row_ids")
        self.errors = views.get("errors")
        self.release = release  # the RELEASE frame for this slot
        self.release_next = release + _NEXT_FRAME  # and NEXT, in one write

    def arrays(self, size):
        """Returns ``(x, y, row_ids, failed)`` for the first ``size`` samples:
        views for x and y (a new dict each time), owned arrays for the rest."""
        if size == self.rows:
            x, y = self.x.view(), {name: v.view() for name, v in self.y}
            row_ids, errors = self.row_ids, self.errors
        else:
            x, y = self.x[:size], {name: v[:size] for name, v in self.y}
            row_ids = None if self.row_ids is None else self.row_ids[:size]
            errors = None if self.errors is None else self.errors[:size]
        row_ids = np.empty(0, np.int64) if row_ids is None else row_ids.copy()
        failed = np.zeros(size, bool) if errors is None else errors.astype(bool)
        return x, y, row_ids, failed


_UINT32_MAX = 0xFFFFFFFF


def _batch_fields(body):
    """Returns BATCH's ``(slot, size, epoch, batch)``, raising ProtocolError
    when one is missing, not an integer, or outside 0..2^32-1 (as the C
    client checks; slot and size are checked against the slot afterwards)."""
    try:
        slot, size, epoch, batch = body["slot"], body["size"], body["epoch"], body["batch"]
    except KeyError:
        pass
    else:
        # type() rather than isinstance(): True is not a slot number.
        if (type(slot) is type(size) is type(epoch) is type(batch) is int
                and 0 <= epoch <= _UINT32_MAX and 0 <= batch <= _UINT32_MAX):
            return slot, size, epoch, batch
    for key in ("slot", "size", "epoch", "batch"):
        _need(body, key, int, "BATCH")  # raises, naming the field
    raise ProtocolError(f"BATCH has epoch or batch outside 0..{_UINT32_MAX}: {body!r}")


def _need(body, key, kind, frame="WELCOME"):
    if key not in body:
        raise ProtocolError(f"{frame} lacks the field {key!r}")
    value = body[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ProtocolError(f"{frame} field {key!r} is not an integer: {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise ProtocolError(f"{frame} field {key!r} has the wrong type: {value!r}")
    return value


class Client:
    """A connection to one stream of a running mogend.

    ``Client(socket_path, stream, start=None, rank=0, world=1, copy=False,
    timeout=None)`` connects, sends HELLO, receives WELCOME and the shared
    memory fd, and maps the ring read-only.

    - ``start``: ``(epoch, batch)`` to resume at (e.g. a saved
      :attr:`position`); None joins the stream where it is.
    - ``rank``, ``world``: receive only the batches with
      ``batch % world == rank`` (one daemon per node, same seed).
    - ``copy``: False gives zero-copy read-only views (see the lifetime rule
      below); True gives owned, writable arrays.
    - ``timeout``: seconds to wait for any reply (None waits forever);
      expiry raises MogenTimeout and closes the connection, so later calls
      raise too: connect again with ``start=`` this client's ``position``.
    - ``mailbox``: take batches that the daemon posts ahead into a page of
      shared memory, with no reply to wait for on the socket (the batches,
      their order and their bytes are the same; see docs/python.md). None
      (the default) uses it on x86-64 when ``want_fd``; False never.

    Lifetime rule: with ``copy=False`` the arrays of a batch stay valid until
    the next batch is requested (``next_batch()``, the next step of
    ``epoch()`` or of ``iter(client)``) or ``close()``; then the slot goes back
    to the daemon, which overwrites it. Copy what you keep longer, or use
    ``copy=True``.

    Attributes: ``outputs`` (list of :class:`Output`), ``output_names``,
    ``steps_per_epoch``, ``batch_size``, ``rows``, ``image`` (dict),
    ``tensors`` (dict name -> WELCOME tensor entry), ``position``
    (``(epoch, batch)`` of the next batch; pass it as ``start`` to resume),
    ``welcome`` (the whole WELCOME body).
    """

    def __init__(self, socket_path, stream, start=None, rank=0, world=1, copy=False,
                 timeout=None, want_fd=True, mailbox=None):
        self.socket_path = os.fspath(socket_path)
        self.stream = stream
        self.copy = bool(copy)
        self.rank = int(rank)
        self.world = int(world)
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise ValueError(f"rank {rank} is not in [0, world={world})")
        if mailbox is None:
            mailbox = want_fd and _mailbox_by_default()
        self._conn = None
        self._mm = None
        self._mailbox = None  # a _fastpath.Mailbox or _PageMailbox, when WELCOME gave one
        self._mailbox_map = None  # and the mmap of its page
        self._mailbox_next = None  # its next_batch, when it is the C one
        self._held = None  # slot index leased to us, or None
        self._slots = []  # a _Slot per ring slot
        self._closed = False
        self._conn = _Conn(_connect(self.socket_path, timeout), self.socket_path)
        try:
            self._conn.send(protocol.encode_frame(
                MsgType.HELLO, protocol.hello(stream, start, rank, world, want_fd,
                                              mailbox=bool(mailbox))))
            msg_type, body = self._conn.recv()
            if msg_type == MsgType.ERROR:
                raise daemon_error(body)
            if msg_type != MsgType.WELCOME:
                raise ProtocolError(f"expected WELCOME after HELLO, got {msg_type.name}")
            self._setup(body, want_fd)
        except BaseException:
            self.close()
            raise

    # -- handshake ---------------------------------------------------------

    def _setup(self, w, want_fd):
        self.welcome = w
        self.batch_size = _need(w, "batch_size", int)
        self.steps_per_epoch = _need(w, "steps_per_epoch", int)
        self.rows = w.get("rows")
        self.slot_count = _need(w, "slot_count", int)
        self.slot_size = _need(w, "slot_size", int)
        self.shm_size = _need(w, "shm_size", int)
        self.image = w.get("image") or {}
        self.position = (int(w.get("epoch", 0)), int(w.get("batch", 0)))
        self._batches_per_epoch = self._total_batches(w)
        if self.slot_count < 1 or self.slot_size < 1:
            raise ProtocolError(f"WELCOME has slot_count {self.slot_count}, "
                                f"slot_size {self.slot_size}")
        if self.slot_count * self.slot_size > self.shm_size:
            raise ProtocolError(f"{self.slot_count} slots of {self.slot_size} bytes do not fit "
                                f"in shm_size {self.shm_size}")

        self.outputs = []
        for o in _need(w, "outputs", list):
            if not isinstance(o, dict) or not isinstance(o.get("name"), str):
                raise ProtocolError(f"WELCOME output entry is malformed: {o!r}")
            self.outputs.append(Output(o["name"], o.get("kind", "multi_class"),
                                       o.get("encoding", "onehot"), list(o.get("classes", []))))
        self.output_names = [o.name for o in self.outputs]

        self.tensors = {}
        for t in _need(w, "tensors", list):
            self._check_tensor(t)
            self.tensors[t["name"]] = t
        for name in ["x"] + self.output_names:
            if name not in self.tensors:
                raise ProtocolError(f"WELCOME has no tensor named {name!r}")

        fd = self._conn.take_fd()
        if fd is None:
            if want_fd:
                raise ProtocolError("WELCOME arrived without the shared-memory fd")
            path = w.get("shm_path")
            if not path:
                raise ProtocolError("want_fd=False but WELCOME has no shm_path")
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if size < self.shm_size:
                raise ProtocolError(f"the shared memory is {size} bytes, WELCOME says "
                                    f"shm_size {self.shm_size}")
            self._mm = mmap.mmap(fd, self.shm_size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        finally:
            os.close(fd)  # the mapping keeps the memory alive

        for slot in range(self.slot_count):
            base = slot * self.slot_size
            views = {name: _view(self._mm, t, base) for name, t in self.tensors.items()}
            release = protocol.encode_frame(MsgType.RELEASE, {"slot": slot})
            self._slots.append(_Slot(views, self.output_names, release))

        if w.get("mailbox") is True:
            self._map_mailbox()
        self._conn.fds_expected = False

    def _map_mailbox(self):
        """Maps the mailbox page, the second fd of WELCOME."""
        fd = self._conn.take_fd()
        if fd is None:
            raise ProtocolError("WELCOME says \"mailbox\": true but passed no mailbox fd")
        try:
            size = os.fstat(fd).st_size
            if size < _MAILBOX_SIZE:
                raise ProtocolError(f"the mailbox is {size} bytes, not {_MAILBOX_SIZE}")
            self._mailbox_map = mmap.mmap(fd, _MAILBOX_SIZE, flags=mmap.MAP_SHARED,
                                          prot=mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        slots = tuple((s.x, tuple(name for name, _ in s.y), tuple(v for _, v in s.y),
                       s.row_ids, s.errors) for s in self._slots)
        if _fastpath is not None:
            self._mailbox = _fastpath.Mailbox(self._mailbox_map, slots, self.world, self.rank,
                                              self._batches_per_epoch)
            self._mailbox_next = self._mailbox.next_batch
        else:
            self._mailbox = _PageMailbox(self._mailbox_map, slots, self.world, self.rank,
                                         self._batches_per_epoch)

    def _check_tensor(self, t):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise ProtocolError(f"WELCOME tensor entry is malformed: {t!r}")
        name = t["name"]
        if t.get("dtype") not in _DTYPES:
            raise ProtocolError(f"tensor {name!r} has unsupported dtype {t.get('dtype')!r}")
        shape = t.get("shape")
        if (not isinstance(shape, list) or not shape
                or not all(isinstance(d, int) and d >= 0 for d in shape)):
            raise ProtocolError(f"tensor {name!r} has a bad shape {shape!r}")
        offset = _need(t, "offset", int, f"tensor {name!r}")
        nbytes = math.prod(shape) * _DTYPES[t["dtype"]].itemsize
        if offset < 0 or offset + nbytes > self.slot_size:
            raise ProtocolError(f"tensor {name!r} ({nbytes} bytes at offset {offset}) does not "
                                f"fit in a slot of {self.slot_size} bytes")
        if "bytes" in t and t["bytes"] < nbytes:
            raise ProtocolError(f"tensor {name!r} says {t['bytes']} bytes but its shape needs "
                                f"{nbytes}")

    # -- batches -----------------------------------------------------------

    def _release_held(self, then_next=False):
        """Gives the held slot back (if any) and forgets it; with
        ``then_next`` also sends NEXT. The slot goes back through the
        mailbox when there is one with room, with no system call (the
        daemon reads it within a millisecond, or at once when NEXT comes),
        else as a RELEASE frame."""
        slot, self._held = self._held, None
        if slot is None:
            if then_next:
                self._conn.send(_NEXT_FRAME)
            return
        mailbox = self._mailbox
        if mailbox is not None and mailbox.give_back(slot):
            if then_next:
                self._conn.send(_NEXT_FRAME)
            return
        self._conn.send(self._slots[slot].release_next if then_next else self._slots[slot].release)

    def _total_batches(self, w):
        """Batches per epoch for all ranks together, from WELCOME (older
        daemons do not send batches_per_epoch)."""
        total = w.get("batches_per_epoch")
        if total is None:
            if self.world == 1:
                total = self.steps_per_epoch
            elif self.rows is not None:
                whole = (math.floor if w.get("drop_last") else math.ceil)
                total = whole(self.rows / self.batch_size)
            else:
                total = self.steps_per_epoch * self.world
        return total

    def _advance(self, epoch, batch):
        """Sets position to the batch this rank receives after (epoch, batch)."""
        nxt = batch + self.world
        self.position = ((epoch, nxt) if nxt < self._batches_per_epoch
                         else (epoch + 1, self.rank))

    def _not_a_batch(self, msg_type, body):
        """Handles a reply to NEXT other than BATCH: returns None at
        END_OF_EPOCH, raises for anything else."""
        if msg_type is MsgType.END_OF_EPOCH:
            epoch = body.get("epoch")
            if isinstance(epoch, int) and self.position[0] <= epoch:
                self.position = (epoch + 1, self.rank)
            return None
        if msg_type is MsgType.ERROR:
            raise daemon_error(body)
        raise ProtocolError(f"expected BATCH or END_OF_EPOCH after NEXT, got {msg_type.name}")

    def _next(self):
        """Requests one batch. Returns (x, y, info), or None at END_OF_EPOCH.

        This runs once per batch, so its work is kept small: views, frames
        and the epoch length are prepared at WELCOME (see _Slot), and it is
        one function (the request in a method of its own cost 3 us a round trip)."""
        if self._closed:
            raise MogenError("the client is closed")
        conn = self._conn
        if conn.broken is not None:
            # Before the mailbox: a batch posted there after the connection
            # was given up is no longer this client's.
            conn._check_usable()
        mailbox = self._mailbox
        try:
            # The C mailbox does the whole step when a batch is posted.
            fast = None if self._mailbox_next is None else self._mailbox_next(self._held)
            if fast is not None:
                self._held, x, y, info, self.position = fast
                return self._copied(x, y, info) if self.copy else (x, y, info)
            errors = None
            plain = None if mailbox is None else mailbox.take()
            if plain is not None:
                self._release_held()
            else:
                self._release_held(then_next=True)
                plain = conn.recv_plain_batch()
                if mailbox is not None:
                    # The daemon answers a NEXT with a batch it posted
                    # meanwhile, and then marks it taken for us.
                    mailbox.sync_taken()
            if plain is not None:
                slot, epoch, batch, size = plain
                if epoch > _UINT32_MAX or batch > _UINT32_MAX:  # as _batch_fields checks
                    raise ProtocolError(f"BATCH has epoch {epoch} or batch {batch} outside "
                                        f"0..{_UINT32_MAX}")
            else:
                msg_type, body = conn.recv()
                if msg_type is not MsgType.BATCH:
                    return self._not_a_batch(msg_type, body)
                slot, size, epoch, batch = _batch_fields(body)
                errors = body.get("errors")
            if not 0 <= slot < self.slot_count:
                raise ProtocolError(f"BATCH names slot {slot} of {self.slot_count}")
            held = self._slots[slot]
            if not 0 <= size <= held.rows:
                raise ProtocolError(f"BATCH size {size} exceeds the slot's {held.rows}")
            self._held = slot
        # Any exception above but an ERROR reply leaves the connection out of
        # step: a reply is still due, or the daemon leased a slot this client
        # did not take. So the connection is given up (see _Conn.give_up).
        except ProtocolError as e:
            if conn.broken is None:  # not one raised again for an earlier reply
                raise conn.give_up(ProtocolError, str(e),
                                   "an earlier reply broke the protocol") from None
            raise
        except MogenError:
            raise  # an ERROR reply; or a timeout that closed it already; or it is gone
        except BaseException as e:
            # Ctrl-C (KeyboardInterrupt) or another signal handler's
            # exception while the reply was due: it will still come.
            conn.give_up(MogenError, f"a wait for mogend's reply was interrupted by "
                                     f"{type(e).__name__}", "an earlier wait was interrupted")
            raise
        self._advance(epoch, batch)

        x, y, row_ids, failed = held.arrays(size)
        info = {"epoch": epoch, "batch": batch, "size": size, "slot": slot,
                "errors": list(errors) if errors else [], "row_ids": row_ids, "failed": failed}
        return self._copied(x, y, info) if self.copy else (x, y, info)

    def _copied(self, x, y, info):
        """For copy=True: owned copies of the batch, its slot given back."""
        x = x.copy()
        y = {k: v.copy() for k, v in y.items()}
        # Nothing refers to the slot any more: give it back right away.
        self._release_held()
        return x, y, info

    def next_batch(self):
        """Returns the next batch as ``(x, y, info)``, crossing epoch ends.

        ``x``: the images, first ``size`` samples (``[size, H, W, C]`` for
        NHWC). ``y``: ``{output_name: labels}``, the structure Keras
        ``model.fit`` takes for a multi-output model. ``info``: ``epoch``,
        ``batch``, ``size``, ``slot``, ``row_ids`` (CSV data rows, owned
        int64 array), ``failed`` (owned bool mask of stand-in samples) and
        ``errors`` (the daemon's list of failed files).

        Releases the previously returned batch first: see the lifetime rule.
        """
        while True:
            item = self._next()
            if item is not None:
                return item

    def epoch(self):
        """Yields ``(x, y, info)`` until the end of the current epoch.

        Started at an epoch boundary, this is one full pass; started mid-epoch
        (after ``next_batch()`` calls, or with ``start`` inside an epoch) it
        yields the rest of that epoch. The lifetime rule applies to each batch.
        """
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def __iter__(self):
        """An endless generator of ``(x, y)``, e.g. for
        ``model.fit(iter(client), steps_per_epoch=client.steps_per_epoch)``.

        Keras prefetches batches, so give it owned arrays: create the client
        with ``copy=True`` (or use mogen.keras.Sequence)."""
        while True:
            x, y, _ = self.next_batch()
            yield x, y

    def release(self):
        """Gives the held slot back now (its views become invalid)."""
        if self._held is not None and not self._closed and self._conn.broken is None:
            self._release_held()

    def status(self):
        """Returns the daemon's STATUS_REPLY over a separate control connection."""
        return status(self.socket_path)

    def close(self):
        """Closes the connection; the daemon releases every slot we held."""
        if self._closed:
            return
        self._closed = True
        self._held = None
        if self._conn is not None:
            self._conn.close()
        self._slots = []
        if self._mailbox is not None:
            self._mailbox.close()
            self._mailbox = self._mailbox_next = None
        if self._mailbox_map is not None:
            self._mailbox_map.close()
            self._mailbox_map = None
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # views handed out still use it; it unmaps when they are gone
            self._mm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if self._closed else f"position={self.position}"
        return f"<mogen.Client {self.socket_path} stream={self.stream!r} {state}>"

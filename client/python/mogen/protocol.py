"""The mogen wire format (docs/protocol.md), as pure functions over bytes.

A frame is an 8-byte header followed by a body::

    bytes 0..1  magic  b"MG"
    bytes 2..3  type   unsigned 16-bit little-endian (HELLO = 1, ...)
    bytes 4..7  length unsigned 32-bit little-endian, bytes of body that follow
    bytes 8..   body   UTF-8 JSON object, or empty

Nothing here touches a socket; mogen.client does the I/O.
"""

import enum
import json
import re
import struct

from .errors import ProtocolError

VERSION = 1
HEADER_SIZE = 8
MAGIC = b"MG"

# A client's body may be at most 64 KiB (requests are small JSON objects);
# the daemon's at most 16 MiB (WELCOME lists every class name).
MAX_REQUEST = 64 * 1024
MAX_REPLY = 16 * 1024 * 1024

_HEADER = struct.Struct("<2sHI")


class MsgType(enum.IntEnum):
    HELLO = 1
    WELCOME = 2
    NEXT = 3
    BATCH = 4
    END_OF_EPOCH = 5
    RELEASE = 6
    STATUS = 7
    STATUS_REPLY = 8
    ERROR = 9


# Type code -> MsgType member: a dict lookup per frame instead of MsgType(code),
# which costs several times more on every reply.
_MSG_TYPES = {t.value: t for t in MsgType}
_BATCH_CODE = MsgType.BATCH.value


# BATCH as mogend writes it when no file of the batch failed, which is nearly
# every reply to NEXT. It is read with this pattern instead of json.loads:
# run cold after a trainer's step, json.loads alone took 20-30 us of a
# ~110 us round trip, the pattern a third of that. Numbers take JSON's form
# (no leading zero) and at most 15 digits; any other body, valid or not,
# goes to json.loads as before.
_NUMBER = rb"(0|[1-9][0-9]{0,14})"
_PLAIN_BATCH = re.compile(rb'\{"slot":' + _NUMBER + rb',"epoch":' + _NUMBER + rb',"batch":'
                          + _NUMBER + rb',"size":' + _NUMBER + rb',"errors":\[\]\}')


def encode_header(msg_type, length):
    """Returns the 8-byte header for a body of ``length`` bytes."""
    if not 0 <= int(msg_type) <= 0xFFFF:
        raise ValueError(f"message type {msg_type} does not fit in 16 bits")
    if not 0 <= length <= 0xFFFFFFFF:
        raise ValueError(f"body length {length} does not fit in 32 bits")
    return _HEADER.pack(MAGIC, int(msg_type), length)


def encode_body(body):
    """Returns the JSON bytes of a body: a dict, or None/{} for an empty body."""
    if body is None:
        return b""
    if not isinstance(body, dict):
        raise TypeError(f"a frame body is a JSON object (dict), not {type(body).__name__}")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_frame(msg_type, body=None, max_body=MAX_REQUEST):
    """Returns header + JSON body as bytes, refusing bodies over ``max_body``."""
    data = encode_body(body)
    if len(data) > max_body:
        raise ValueError(f"frame body of {len(data)} bytes exceeds the limit of {max_body}")
    return encode_header(msg_type, len(data)) + data


def decode_header(buf, max_body=MAX_REPLY):
    """Parses the first 8 bytes of ``buf``.

    Returns None when fewer than 8 bytes are available, else ``(type, length)``
    where ``type`` is a :class:`MsgType`. Raises ProtocolError for a bad magic,
    an unknown type or a body over ``max_body``.
    """
    if len(buf) < HEADER_SIZE:
        return None
    magic, code, length = _HEADER.unpack_from(buf)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame magic {magic!r} (expected {MAGIC!r}); "
                            f"is this a mogen socket?")
    msg_type = _MSG_TYPES.get(code)
    if msg_type is None:
        raise ProtocolError(f"unknown frame type {code}")
    if length > max_body:
        raise ProtocolError(f"frame body of {length} bytes exceeds the limit of {max_body}")
    return msg_type, length


def decode_body(data):
    """Parses a body: empty -> {}, else a JSON object (ProtocolError otherwise)."""
    if len(data) == 0:
        return {}
    try:
        body = json.loads(str(data, "utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError(f"frame body is not valid UTF-8 JSON: {e}") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"frame body is JSON but not an object: {type(body).__name__}")
    return body


def decode_frame(buf, max_body=MAX_REPLY):
    """Parses one frame from the start of ``buf``.

    Returns None when ``buf`` does not yet hold a whole frame, else
    ``(type, body_dict, consumed_bytes)``.
    """
    hdr = decode_header(buf, max_body)
    if hdr is None:
        return None
    msg_type, length = hdr
    end = HEADER_SIZE + length
    if len(buf) < end:
        return None
    if msg_type is MsgType.BATCH:
        plain = _PLAIN_BATCH.fullmatch(buf, HEADER_SIZE, end)
        if plain is not None:
            slot, epoch, batch, size = map(int, plain.groups())
            return msg_type, {"slot": slot, "epoch": epoch, "batch": batch, "size": size,
                              "errors": []}, end
    return msg_type, decode_body(buf[HEADER_SIZE:end]), end


def decode_plain_batch(buf):
    """Reads a BATCH of the plain shape (see _PLAIN_BATCH) from the start of
    ``buf`` with no dict in between: the client's path for nearly every
    reply to NEXT.

    Returns ``(slot, epoch, batch, size, consumed_bytes)``, or None when
    ``buf`` does not start with a whole frame of that kind (another type, a
    body of another shape, a bad header, or too few bytes so far): then
    decode_frame reads it, with its checks and errors.
    """
    if len(buf) < HEADER_SIZE:
        return None
    magic, code, length = _HEADER.unpack_from(buf)
    end = HEADER_SIZE + length
    if code != _BATCH_CODE or magic != MAGIC or len(buf) < end:
        return None
    plain = _PLAIN_BATCH.fullmatch(buf, HEADER_SIZE, end)
    if plain is None:
        return None
    slot, epoch, batch, size = map(int, plain.groups())
    return slot, epoch, batch, size, end


def hello(stream, start=None, rank=0, world=1, want_fd=True, version=VERSION, mailbox=False):
    """Returns the HELLO body for ``stream``; ``start`` is (epoch, batch) or None."""
    body = {"version": version, "stream": stream, "rank": int(rank), "world": int(world),
            "want_fd": bool(want_fd)}
    if mailbox:
        body["mailbox"] = True
    if start is not None:
        epoch, batch = start
        body["start"] = {"epoch": int(epoch), "batch": int(batch)}
    return body

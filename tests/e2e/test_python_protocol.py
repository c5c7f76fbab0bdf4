"""Unit tests of mogen.protocol (frame encoding, decoding): no daemon needed."""

import json
import struct

import pytest

from mogen import errors, protocol
from mogen.protocol import MsgType


def test_header_layout_is_magic_type_le16_length_le32():
    h = protocol.encode_header(MsgType.RELEASE, 0x01020304)
    assert h == b"MG" + b"\x06\x00" + b"\x04\x03\x02\x01"
    assert len(h) == protocol.HEADER_SIZE == 8


def test_message_type_numbers_follow_the_spec():
    assert [(t.name, int(t)) for t in MsgType] == [
        ("HELLO", 1), ("WELCOME", 2), ("NEXT", 3), ("BATCH", 4), ("END_OF_EPOCH", 5),
        ("RELEASE", 6), ("STATUS", 7), ("STATUS_REPLY", 8), ("ERROR", 9)]


def test_frame_round_trips_with_a_json_object_body():
    body = {"slot": 3, "name": "Ankle boot", "ü": [1, 2]}
    data = protocol.encode_frame(MsgType.BATCH, body)
    assert struct.unpack("<2sHI", data[:8]) == (b"MG", 4, len(data) - 8)
    assert json.loads(data[8:].decode("utf-8")) == body
    msg_type, decoded, used = protocol.decode_frame(data + b"MGtrailing")
    assert (msg_type, decoded, used) == (MsgType.BATCH, body, len(data))


def test_empty_body_encodes_as_zero_length_and_decodes_as_empty_object():
    data = protocol.encode_frame(MsgType.NEXT)
    assert data == b"MG\x03\x00\x00\x00\x00\x00"
    assert protocol.decode_frame(data) == (MsgType.NEXT, {}, 8)


def test_incomplete_frames_need_more_bytes():
    data = protocol.encode_frame(MsgType.STATUS_REPLY, {"streams": {}})
    for cut in range(len(data)):
        assert protocol.decode_frame(data[:cut]) is None, cut


def test_bad_magic_is_a_protocol_error():
    with pytest.raises(errors.ProtocolError, match="magic"):
        protocol.decode_header(b"HTTP/1.1")


def test_unknown_type_is_a_protocol_error():
    with pytest.raises(errors.ProtocolError, match="unknown frame type 10"):
        protocol.decode_header(b"MG\x0a\x00\x00\x00\x00\x00")
    with pytest.raises(errors.ProtocolError, match="unknown frame type 0"):
        protocol.decode_header(b"MG\x00\x00\x00\x00\x00\x00")


def test_oversized_body_is_refused_before_reading_it():
    big = protocol.encode_header(MsgType.WELCOME, protocol.MAX_REPLY + 1)
    with pytest.raises(errors.ProtocolError, match="exceeds"):
        protocol.decode_frame(big)
    assert protocol.decode_header(protocol.encode_header(MsgType.WELCOME, protocol.MAX_REPLY)) \
        == (MsgType.WELCOME, protocol.MAX_REPLY)


def test_client_refuses_to_send_over_64_kib():
    with pytest.raises(ValueError, match="exceeds"):
        protocol.encode_frame(MsgType.HELLO, {"stream": "x" * protocol.MAX_REQUEST})
    assert protocol.MAX_REQUEST == 64 * 1024 and protocol.MAX_REPLY == 16 * 1024 * 1024


@pytest.mark.parametrize("body", [b"[1, 2]", b"\"text\"", b"{not json", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_a_protocol_error(body):
    data = protocol.encode_header(MsgType.BATCH, len(body)) + body
    with pytest.raises(errors.ProtocolError):
        protocol.decode_frame(data)


def test_body_must_be_a_dict_to_encode():
    with pytest.raises(TypeError):
        protocol.encode_frame(MsgType.HELLO, ["train"])


def test_hello_body_carries_version_stream_and_optional_start():
    assert protocol.hello("train") == {"version": 1, "stream": "train", "rank": 0, "world": 1,
                                       "want_fd": True}
    h = protocol.hello("validation", start=(2, 17), rank=1, world=4)
    assert h["start"] == {"epoch": 2, "batch": 17}
    assert (h["rank"], h["world"]) == (1, 4)


@pytest.mark.parametrize("code, cls", [
    ("unknown_stream", errors.UnknownStream), ("version_mismatch", errors.VersionMismatch),
    ("stream_busy", errors.StreamBusy), ("too_many_leases", errors.TooManyLeases),
    ("not_leased", errors.NotLeased), ("stream_failed", errors.StreamFailed),
    ("bad_frame", errors.BadFrame), ("shutting_down", errors.ShuttingDown),
    ("something_new", errors.DaemonError)])
def test_error_frames_map_to_exception_classes_with_the_daemons_message(code, cls):
    e = errors.daemon_error({"code": code, "message": "a sentence for a person"})
    assert type(e) is cls
    assert isinstance(e, errors.DaemonError) and isinstance(e, errors.MogenError)
    assert (e.code, e.message) == (code, "a sentence for a person")
    assert "a sentence for a person" in str(e)


def test_shutting_down_is_also_daemon_gone():
    assert isinstance(errors.daemon_error({"code": "shutting_down", "message": "bye"}),
                      errors.DaemonGone)


def _batch_frame(text):
    body = text.encode()
    return protocol.encode_header(MsgType.BATCH, len(body)) + body


def test_plain_batch_reads_as_json_would():
    """decode_frame reads the BATCH mogend writes with no failure by a
    pattern, not json.loads; the dict must be the one json.loads gives,
    for the edge values too."""
    for slot, epoch, batch, size in [(0, 0, 0, 0), (7, 3, 12, 64),
                                     (255, 4294967295, 4294967295, 1),
                                     (1, 999999999999999, 2, 3)]:
        text = json.dumps({"slot": slot, "epoch": epoch, "batch": batch, "size": size,
                           "errors": []}, separators=(",", ":"))
        t, body, used = protocol.decode_frame(_batch_frame(text))
        assert t is MsgType.BATCH and used == 8 + len(text)
        assert body == json.loads(text)
        assert all(type(body[k]) is int for k in ("slot", "epoch", "batch", "size"))


@pytest.mark.parametrize("text", [
    '{"slot":1,"epoch":2,"batch":3,"size":4,"errors":[{"row":5,"line":7,'
    '"path":"/a.jpg","reason":"corrupt"}]}',
    '{"slot": 1, "epoch": 2, "batch": 3, "size": 4, "errors": []}',
    '{"epoch":2,"slot":1,"batch":3,"size":4,"errors":[]}',
    '{"slot":1,"epoch":2,"batch":3,"size":4}',
    '{"slot":1,"epoch":1234567890123456,"batch":3,"size":4,"errors":[]}',
    '{"slot":1,"epoch":2,"batch":3,"size":4,"errors":[],"future":true}',
])
def test_other_batch_bodies_still_go_through_json(text):
    t, body, _ = protocol.decode_frame(_batch_frame(text))
    assert body == json.loads(text)


@pytest.mark.parametrize("text", [
    '{"slot":01,"epoch":2,"batch":3,"size":4,"errors":[]}',
    '{"slot":1,"epoch":2,"batch":3,"size":4,"errors":[]}x',
    '{"slot":-1,"epoch":2,"batch":3,"size":4,"errors":[]',
])
def test_invalid_batch_bodies_are_still_protocol_errors(text):
    with pytest.raises(errors.ProtocolError):
        protocol.decode_frame(_batch_frame(text))


def test_decode_plain_batch_reads_whole_plain_frames_only():
    """decode_plain_batch gives decode_frame's fields with no dict, and None
    (leaving the frame to decode_frame) for anything else or too few bytes."""
    text = '{"slot":3,"epoch":2,"batch":17,"size":64,"errors":[]}'
    data = _batch_frame(text) + b"MG"  # and the start of a next frame
    assert protocol.decode_plain_batch(data) == (3, 2, 17, 64, 8 + len(text))
    _, body, used = protocol.decode_frame(data)
    assert (body["slot"], body["epoch"], body["batch"], body["size"], used) == \
        protocol.decode_plain_batch(data)
    for cut in range(8 + len(text)):
        assert protocol.decode_plain_batch(data[:cut]) is None, cut
    others = [
        protocol.encode_frame(MsgType.END_OF_EPOCH, {"epoch": 2}),
        protocol.encode_frame(MsgType.ERROR, {"code": "x", "message": "y"}),
        _batch_frame('{"slot":3,"epoch":2,"batch":17,"size":64,"errors":[{"row":1}]}'),
        _batch_frame('{"slot": 3, "epoch": 2, "batch": 17, "size": 64, "errors": []}'),
        b"XY" + _batch_frame(text)[2:],
    ]
    for frame in others:
        assert protocol.decode_plain_batch(frame) is None, frame

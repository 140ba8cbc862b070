"""The binary frame format: the header, its errors and the payload codecs."""

from __future__ import annotations

import pytest

from ems_contracts.frames import (
    HEADER_SIZE,
    MAX_FRAME,
    MAX_PAYLOAD,
    Frame,
    Kind,
    ProtocolError,
    StreamDescription,
    decode_ecg,
    decode_frame,
    decode_header,
    decode_json,
    encode_ecg,
    encode_json,
)


def frame(seq: int, *, kind: Kind = Kind.VIDEO_H264, key: bool = False, size: int = 10) -> Frame:
    return Frame(7, seq, 1_000_000 + seq, kind, key, bytes(size))


def test_header_is_32_bytes_and_round_trips() -> None:
    f = Frame(2**32 - 1, 2**63, 1_790_000_000_123_456, Kind.VIDEO_H264, True, b"\x00\x00\x01")
    raw = f.encode()
    assert HEADER_SIZE == 32
    assert len(raw) == 32 + 3
    assert raw[:2] == b"EV" and raw[2] == 1
    assert decode_frame(raw) == f


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"EV\x01", "truncated_frame"),
        (frame(1).encode()[:-1], "truncated_frame"),
        (frame(1).encode() + b"x", "malformed_frame"),
        (b"XX" + frame(1).encode()[2:], "malformed_frame"),
        (frame(1).encode()[:2] + b"\x09" + frame(1).encode()[3:], "unsupported_version"),
        (frame(1).encode()[:3] + b"\x63" + frame(1).encode()[4:], "malformed_frame"),
    ],
)
def test_bad_frames_are_refused_with_a_code(raw: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as err:
        decode_frame(raw)
    assert err.value.code == code


def test_a_payload_over_its_kinds_limit_is_refused() -> None:
    big = Frame(1, 1, 1, Kind.VITALS, False, bytes(MAX_PAYLOAD[Kind.VITALS] + 1))
    with pytest.raises(ProtocolError) as err:
        big.encode()
    assert err.value.code == "frame_too_large"
    # The header alone says it: refused before the payload is even looked at.
    header = Frame(1, 1, 1, Kind.VITALS, False, b"").encode()[:28]
    raw = header + (MAX_PAYLOAD[Kind.VITALS] + 1).to_bytes(4, "big")
    with pytest.raises(ProtocolError) as err:
        decode_frame(raw)
    assert err.value.code == "frame_too_large"


def test_ecg_payload_round_trips_and_checks_its_count() -> None:
    payload = encode_ecg(250, [0, 1200, -250, 40_000])
    assert decode_ecg(payload) == (250, [0, 1200, -250, 32767])
    with pytest.raises(ProtocolError):
        decode_ecg(payload[:-2])


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_round_trips_at_its_largest_payload(kind: Kind) -> None:
    f = Frame(12, 2**64 - 1, 0, kind, kind.is_video, b"\xab" * MAX_PAYLOAD[kind])
    raw = f.encode()
    assert len(raw) <= MAX_FRAME
    assert decode_frame(raw) == f
    assert decode_header(raw) == (kind, 12, 2**64 - 1, 0, kind.is_video, MAX_PAYLOAD[kind])


def test_the_header_is_the_layout_the_viewer_reads() -> None:
    # viewer.js: magic "EV", version, kind, flags bit 0, then big-endian transport id
    # at 8, sequence at 12, capture µs at 20 and the payload length at 28.
    raw = Frame(0x01020304, 5, 6, Kind.ECG, True, b"xyz").encode()
    assert raw[:5] == b"EV\x01\x03\x01"
    assert raw[5:8] == b"\x00\x00\x00"
    assert raw[8:12] == bytes([1, 2, 3, 4])
    assert int.from_bytes(raw[12:20], "big") == 5
    assert int.from_bytes(raw[20:28], "big") == 6
    assert int.from_bytes(raw[28:32], "big") == 3


def test_only_video_is_droppable_and_only_ecg_vitals_and_events_are_records() -> None:
    assert {k for k in Kind if k.is_video} == {Kind.VIDEO_H264, Kind.VIDEO_JPEG}
    assert {k for k in Kind if k.is_record} == {Kind.ECG, Kind.VITALS, Kind.EVENT}


def test_json_payloads_are_compact_utf8_and_must_be_objects() -> None:
    payload = encode_json({"text": "搬送開始", "data": {"n": 1}})
    assert payload == '{"text":"搬送開始","data":{"n":1}}'.encode()
    assert decode_json(payload) == {"text": "搬送開始", "data": {"n": 1}}
    for bad in (b"{not json", b"\xff", b"[1, 2]", b'"text"'):
        with pytest.raises(ProtocolError) as err:
            decode_json(bad)
        assert err.value.code == "malformed_frame"


def test_a_stream_description_round_trips_in_the_shape_the_viewer_reads() -> None:
    desc = StreamDescription(codec="avc1.4d001f", width=1280, height=720, fps=15)
    payload = desc.encode()
    assert payload == b'{"codec":"avc1.4d001f","width":1280,"height":720,"fps":15}'
    assert StreamDescription.decode(payload) == desc


@pytest.mark.parametrize(
    "payload",
    [
        b'{"codec":"jpeg","width":640,"height":360}',
        b'{"codec":"jpeg","width":640,"height":360,"fps":10,"extra":1}',
        b'{"codec":"","width":640,"height":360,"fps":10}',
        b'{"codec":"jpeg","width":"640","height":360,"fps":10}',
        b'{"codec":"jpeg","width":true,"height":360,"fps":10}',
        b'{"codec":"jpeg","width":640,"height":360,"fps":0}',
        b'{"codec":"jpeg","width":640.5,"height":360,"fps":10}',
    ],
)
def test_a_broken_stream_description_is_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        StreamDescription.decode(payload)
    assert err.value.code == "malformed_frame"

"""The binary frame of the stream, as the tablet sends it and the relay and the ER
viewer read it: a 32-byte header, then the payload of its kind (the layout is in
docs/streaming.md; ``hospital_gateway/static/viewer.js`` parses the same bytes).

Plain data in, plain data out, no I/O. The relay's rooms and fan-out policy
(``hospital_gateway.protocol``) and the tablet's publisher
(``ambulance_client.streamer``) are built on it.

Errors::

    ProtocolError                 a frame or message the relay drops (``code`` says why)
    ├── code "malformed_frame"    bad magic, unknown kind, inconsistent length, bad payload
    ├── code "truncated_frame"    shorter than its header says
    ├── code "unsupported_version"
    ├── code "frame_too_large"    payload over the limit of its kind
    └── ControlError              a text message that is not a known control message
        └── code "malformed_message"   (``ems_contracts.control``)
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

MAGIC = b"EV"
VERSION = 1
# magic, version, kind, flags, 3 reserved bytes, transport id, sequence,
# capture timestamp (µs since the Unix epoch), payload length. Network byte order.
HEADER = struct.Struct(">2sBBB3xIQQI")
HEADER_SIZE = HEADER.size  # 32 bytes

FLAG_KEYFRAME = 0x01


class Kind(enum.IntEnum):
    VIDEO_H264 = 1
    VIDEO_JPEG = 2
    ECG = 3
    VITALS = 4
    CONTROL = 5
    EVENT = 6
    # The voice line between the crew and the MC doctor: never stored, droppable,
    # and carried only on the talk path (never to the stream's viewers).
    AUDIO_OPUS = 7

    @property
    def is_video(self) -> bool:
        return self in (Kind.VIDEO_H264, Kind.VIDEO_JPEG)

    @property
    def is_audio(self) -> bool:
        return self is Kind.AUDIO_OPUS

    @property
    def is_record(self) -> bool:
        """Part of the medical record: persisted, acknowledged, never dropped."""
        return self in (Kind.ECG, Kind.VITALS, Kind.EVENT)


# Largest payload per kind. A 720p H.264 keyframe at 1 Mbit/s is ~60 kB and a
# 720p JPEG at quality 80 ~150 kB; ten seconds of 250 Hz ECG is 5 kB.
MAX_PAYLOAD: dict[Kind, int] = {
    Kind.VIDEO_H264: 768 * 1024,
    Kind.VIDEO_JPEG: 768 * 1024,
    Kind.ECG: 16 * 1024,
    Kind.VITALS: 4 * 1024,
    Kind.CONTROL: 4 * 1024,
    Kind.EVENT: 8 * 1024,
    # One Opus packet of 20 ms: at most 1275 bytes by RFC 6716, ~60-160 in speech.
    Kind.AUDIO_OPUS: 4 * 1024,
}
MAX_FRAME = HEADER_SIZE + max(MAX_PAYLOAD.values())


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Frame:
    transport_id: int
    seq: int
    capture_us: int
    kind: Kind
    keyframe: bool
    payload: bytes

    def encode(self) -> bytes:
        return encode_frame(self)


def encode_frame(frame: Frame) -> bytes:
    if len(frame.payload) > MAX_PAYLOAD[frame.kind]:
        raise ProtocolError("frame_too_large", f"{frame.kind.name} payload over the limit")
    flags = FLAG_KEYFRAME if frame.keyframe else 0
    head = HEADER.pack(
        MAGIC,
        VERSION,
        int(frame.kind),
        flags,
        frame.transport_id,
        frame.seq,
        frame.capture_us,
        len(frame.payload),
    )
    return head + frame.payload


def decode_header(data: bytes | bytearray | memoryview) -> tuple[Kind, int, int, int, bool, int]:
    """(kind, transport_id, seq, capture_us, keyframe, payload_len) of a frame."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError("truncated_frame", f"{len(data)} bytes: shorter than the header")
    magic, version, kind, flags, transport_id, seq, capture_us, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError("malformed_frame", "bad magic")
    if version != VERSION:
        raise ProtocolError("unsupported_version", f"frame version {version}, relay speaks 1")
    try:
        k = Kind(kind)
    except ValueError:
        raise ProtocolError("malformed_frame", f"unknown kind {kind}") from None
    if length > MAX_PAYLOAD[k]:
        raise ProtocolError("frame_too_large", f"{k.name} payload of {length} bytes")
    return k, transport_id, seq, capture_us, bool(flags & FLAG_KEYFRAME), length


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    kind, transport_id, seq, capture_us, keyframe, length = decode_header(data)
    actual = len(data) - HEADER_SIZE
    if actual < length:
        raise ProtocolError("truncated_frame", f"payload of {actual} bytes, header says {length}")
    if actual > length:
        raise ProtocolError("malformed_frame", f"payload of {actual} bytes, header says {length}")
    return Frame(
        transport_id=transport_id,
        seq=seq,
        capture_us=capture_us,
        kind=kind,
        keyframe=keyframe,
        payload=bytes(data[HEADER_SIZE:]),
    )


# --- payloads ---------------------------------------------------------------------

ECG_HEAD = struct.Struct("<HH")  # sample rate (Hz), sample count; then int16 LE samples (µV)


def encode_ecg(sample_rate_hz: int, samples_uv: Iterable[int]) -> bytes:
    values = [max(-32768, min(32767, int(v))) for v in samples_uv]
    return ECG_HEAD.pack(sample_rate_hz, len(values)) + struct.pack(f"<{len(values)}h", *values)


def decode_ecg(payload: bytes) -> tuple[int, list[int]]:
    if len(payload) < ECG_HEAD.size:
        raise ProtocolError("malformed_frame", "ECG payload shorter than its header")
    rate, count = ECG_HEAD.unpack_from(payload)
    if rate == 0 or len(payload) != ECG_HEAD.size + 2 * count:
        raise ProtocolError("malformed_frame", "ECG sample count does not match the payload")
    return rate, list(struct.unpack_from(f"<{count}h", payload, ECG_HEAD.size))


def encode_json(value: dict[str, Any]) -> bytes:
    """The payload of a JSON kind (vitals, event, control): compact UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode_json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("malformed_frame", "payload is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError("malformed_frame", "payload is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class StreamDescription:
    """The payload of a CONTROL frame: what a viewer needs to set up its decoder.

    The relay replays the last one to every joining viewer; the viewer reads
    ``codec`` (a WebCodecs codec string such as ``avc1.4d001f``, or ``jpeg``).
    """

    codec: str
    width: int
    height: int
    fps: float

    def encode(self) -> bytes:
        return encode_json(asdict(self))

    @classmethod
    def decode(cls, payload: bytes) -> StreamDescription:
        value = decode_json(payload)
        if set(value) != {"codec", "width", "height", "fps"}:
            raise ProtocolError("malformed_frame", "not a stream description")
        desc = cls(**value)
        if not (
            isinstance(desc.codec, str)
            and desc.codec
            and _positive(desc.width, integral=True)
            and _positive(desc.height, integral=True)
            and _positive(desc.fps)
        ):
            raise ProtocolError("malformed_frame", "not a stream description")
        return desc


def _positive(value: object, *, integral: bool = False) -> bool:
    # A bool is an int to Python, but ``true`` is no width.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value > 0 and (isinstance(value, int) or not integral)

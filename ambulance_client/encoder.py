"""Video compression on the tablet: H.264 through PyAV (libx264, main profile,
``zerolatency``: no B-frames, no look-ahead, one frame in, one frame out) and
JPEG through OpenCV as the fallback for viewers or links that cannot take H.264.

The H.264 stream is Annex B with SPS/PPS repeated before every keyframe, so that
a viewer can start at any keyframe (WebCodecs decodes it without a description).
Encoding is CPU-heavy (~7 ms per 720p frame): callers run it in a thread.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.video.frame import PictureType

from ems_contracts.frames import Kind

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Encoded:
    data: bytes
    keyframe: bool
    kind: Kind


class Encoder(Protocol):
    kind: Kind
    width: int
    height: int

    def encode(self, image: Image, *, force_keyframe: bool = False) -> list[Encoded]: ...

    def close(self) -> None: ...


def codec_string(width: int, height: int) -> str:
    """The WebCodecs codec string: H.264 main profile at a level that fits the size."""
    level = 0x1F if width * height <= 1280 * 720 else 0x28  # 3.1 up to 720p, else 4.0
    return f"avc1.4d00{level:02x}"


class H264Encoder:
    kind = Kind.VIDEO_H264

    def __init__(
        self, width: int, height: int, *, fps: float = 15.0, bitrate_kbps: int = 900
    ) -> None:
        self.width, self.height, self.fps, self.bitrate_kbps = width, height, fps, bitrate_kbps
        ctx = av.CodecContext.create("libx264", "w")
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        rate = Fraction(round(fps * 1000), 1000)
        ctx.time_base = 1 / rate
        ctx.framerate = rate
        ctx.bit_rate = bitrate_kbps * 1000
        # A keyframe every 2 s bounds how long a viewer that lost frames waits.
        ctx.gop_size = max(round(fps * 2), 1)
        # A VBV of about four frames keeps each frame near the average size, so that a
        # keyframe never queues a second of video behind it on a thin link.
        vbv = max(bitrate_kbps * 4 // max(int(fps), 1), 50)
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "main",
            "x264-params": (
                f"repeat-headers=1:scenecut=0:vbv-maxrate={bitrate_kbps}:vbv-bufsize={vbv}"
            ),
        }
        ctx.open()
        self._ctx = ctx
        self._pts = 0

    def encode(self, image: Image, *, force_keyframe: bool = False) -> list[Encoded]:
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        if force_keyframe:
            frame.pict_type = PictureType.I
        return [Encoded(bytes(p), bool(p.is_keyframe), self.kind) for p in self._ctx.encode(frame)]

    def close(self) -> None:
        # Drain the encoder so that libx264's threads stop; the context is freed with it.
        with contextlib.suppress(av.error.FFmpegError):
            self._ctx.encode(None)


class JpegEncoder:
    kind = Kind.VIDEO_JPEG

    def __init__(self, width: int, height: int, *, quality: int = 70) -> None:
        self.width, self.height, self.quality = width, height, quality

    def encode(self, image: Image, *, force_keyframe: bool = False) -> list[Encoded]:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        # Every JPEG stands alone: each one is a keyframe for the fan-out policy.
        return [Encoded(buf.tobytes(), True, self.kind)]

    def close(self) -> None:
        pass


def make_encoder(
    codec: str, width: int, height: int, *, fps: float, bitrate_kbps: int, jpeg_quality: int
) -> Encoder:
    if codec == "jpeg":
        return JpegEncoder(width, height, quality=jpeg_quality)
    return H264Encoder(width, height, fps=fps, bitrate_kbps=bitrate_kbps)


class H264Decoder:
    """Decodes the relay's H.264 frames back to pictures (benchmarks and tests)."""

    def __init__(self) -> None:
        ctx = av.CodecContext.create("h264", "r")
        # Output each picture as soon as its access unit is in: no reorder delay.
        ctx.flags |= av.codec.context.Flags.low_delay
        self._ctx = ctx

    def decode(self, data: bytes) -> list[Image]:
        """One message is one whole access unit: decode it without a parser."""
        out: list[Image] = []
        for frame in self._ctx.decode(av.Packet(data)):
            out.append(frame.to_ndarray(format="bgr24"))  # type: ignore[arg-type]
        return out


def decode_jpeg(data: bytes) -> Image:
    img: Image | None = cv2.imdecode(  # type: ignore[assignment]
        np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR
    )
    if img is None:
        raise ValueError("not a JPEG")
    return img

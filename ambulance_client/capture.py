"""Video capture on the tablet: a camera device, an RTSP URL or a file through
OpenCV, and a synthetic moving source for the demo and tests.

Every source returns BGR frames (numpy arrays) with the capture timestamp in
microseconds since the Unix epoch — the start of the glass-to-glass latency.
Reading blocks (a camera waits for its next frame): the streamer calls ``read``
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


class CaptureError(Exception):
    """The source cannot be opened or has ended."""


@dataclass(frozen=True)
class Captured:
    image: Image
    capture_us: int


class Source(Protocol):
    width: int
    height: int
    fps: float

    def read(self) -> Captured: ...

    def close(self) -> None: ...


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class SyntheticSource:
    """A moving test picture: gradient, a bouncing box and a clock.

    Paced to ``fps`` in real time unless ``paced`` is False (tests, benchmarks).
    """

    width: int = 1280
    height: int = 720
    fps: float = 15.0
    paced: bool = True
    frame_no: int = 0
    _background: Image = field(init=False, repr=False)
    _next_at: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        x = np.linspace(0, 255, self.width, dtype=np.float32)
        y = np.linspace(0, 255, self.height, dtype=np.float32)
        bg = np.empty((self.height, self.width, 3), dtype=np.uint8)
        bg[..., 0] = (x[None, :] * 0.6).astype(np.uint8)
        bg[..., 1] = (y[:, None] * 0.5).astype(np.uint8)
        bg[..., 2] = 90
        self._background = bg

    def read(self) -> Captured:
        if self.paced:
            now = time.monotonic()
            if self._next_at == 0.0:
                self._next_at = now
            if self._next_at > now:
                time.sleep(self._next_at - now)
            self._next_at = max(self._next_at + 1.0 / self.fps, time.monotonic() - 1.0)
        img = self._background.copy()
        n = self.frame_no
        size = max(self.height // 6, 8)
        span_x, span_y = max(self.width - size, 1), max(self.height - size, 1)
        x = abs((n * 7) % (2 * span_x) - span_x)
        y = abs((n * 5) % (2 * span_y) - span_y)
        cv2.rectangle(img, (x, y), (x + size, y + size), (40, 200, 255), -1)
        scale = max(self.height / 360.0, 0.4)
        cv2.putText(
            img,
            f"EMS {n:06d}",
            (int(20 * scale), int(50 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            max(int(2 * scale), 1),
        )
        self.frame_no += 1
        return Captured(img, now_us())

    def close(self) -> None:
        pass


class OpenCVSource:
    """A camera index ("0"), an RTSP/HTTP URL or a video file. Files loop, so
    that a recorded clip can stand in for a camera in a demo."""

    def __init__(
        self, spec: str | int, *, width: int | None = None, height: int | None = None
    ) -> None:
        self.spec = spec
        target: str | int = int(spec) if isinstance(spec, str) and spec.isdigit() else spec
        self._is_file = isinstance(target, str) and "://" not in target
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            raise CaptureError(f"cannot open video source {spec!r}")
        if width and height and not self._is_file:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or (width or 0)
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or (height or 0)
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or 15.0
        self._next_at = 0.0

    def read(self) -> Captured:
        ok, img = self._cap.read()
        if not ok and self._is_file:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self._cap.read()
        if not ok or img is None:
            raise CaptureError(f"video source {self.spec!r} ended")
        if self._is_file:
            # A file reads as fast as the disk: pace it like the camera it stands for.
            now = time.monotonic()
            if self._next_at > now:
                time.sleep(self._next_at - now)
            self._next_at = max(self._next_at + 1.0 / self.fps, time.monotonic() - 1.0)
        return Captured(np.ascontiguousarray(img), now_us())

    def close(self) -> None:
        self._cap.release()


def open_source(spec: str, *, width: int = 1280, height: int = 720, fps: float = 15.0) -> Source:
    """``synthetic``, ``camera`` (device 0), a device number, a URL or a file path."""
    if spec == "synthetic":
        return SyntheticSource(width=width, height=height, fps=fps)
    if spec == "camera":
        return OpenCVSource(0, width=width, height=height)
    return OpenCVSource(spec, width=width, height=height)


def fit(image: Image, width: int, height: int) -> Image:
    """Scale to the encoder's size (the adaptation may lower it)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    out: Image = cv2.resize(  # type: ignore[assignment]
        image, (width, height), interpolation=cv2.INTER_AREA
    )
    return out

"""Video sources: the synthetic moving picture and OpenCV files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ambulance_client.capture import CaptureError, OpenCVSource, SyntheticSource, fit, open_source


def test_the_synthetic_source_moves_and_stamps_capture_time() -> None:
    src = SyntheticSource(320, 180, paced=False)
    a, b = src.read(), src.read()
    assert a.image.shape == (180, 320, 3) and a.image.dtype == np.uint8
    assert not np.array_equal(a.image, b.image)
    assert b.capture_us >= a.capture_us > 1_700_000_000_000_000


def test_a_video_file_plays_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(3):
        writer.write(np.full((120, 160, 3), i * 80, dtype=np.uint8))
    writer.release()
    src = OpenCVSource(str(path))
    src.fps = 1000.0  # no pacing in a test
    frames = [src.read() for _ in range(5)]  # past the end: it loops
    src.close()
    assert (src.width, src.height) == (160, 120)
    assert all(f.image.shape == (120, 160, 3) for f in frames)


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError):
        open_source(str(tmp_path / "none.mp4"))


def test_frames_are_scaled_to_the_encoders_size() -> None:
    img = SyntheticSource(1280, 720, paced=False).read().image
    assert fit(img, 640, 360).shape == (360, 640, 3)
    assert fit(img, 1280, 720) is img

"""H.264 (libx264, zerolatency) and JPEG encoding of the tablet's video."""

from __future__ import annotations

import numpy as np

from ambulance_client.capture import SyntheticSource
from ambulance_client.encoder import (
    H264Decoder,
    H264Encoder,
    JpegEncoder,
    codec_string,
    decode_jpeg,
)
from ems_contracts.frames import Kind


def test_h264_emits_one_decodable_frame_per_picture_starting_with_a_keyframe() -> None:
    src = SyntheticSource(320, 180, paced=False)
    enc = H264Encoder(320, 180, fps=15, bitrate_kbps=300)
    dec = H264Decoder()
    out = []
    for _ in range(10):
        packets = enc.encode(src.read().image)
        assert len(packets) == 1  # zerolatency: no frame held back
        out.append(packets[0])
        pictures = dec.decode(packets[0].data)
        assert len(pictures) == 1 and pictures[0].shape == (180, 320, 3)
    assert out[0].keyframe and out[0].kind is Kind.VIDEO_H264
    assert not any(p.keyframe for p in out[1:])
    # Annex B with the SPS in front of the keyframe: a viewer can start there.
    assert out[0].data.startswith(b"\x00\x00\x00\x01\x67")
    enc.close()


def test_a_keyframe_can_be_forced_for_a_joining_viewer() -> None:
    src = SyntheticSource(320, 180, paced=False)
    enc = H264Encoder(320, 180)
    enc.encode(src.read().image)
    enc.encode(src.read().image)
    forced = enc.encode(src.read().image, force_keyframe=True)[0]
    assert forced.keyframe
    # A fresh decoder starts on it.
    assert len(H264Decoder().decode(forced.data)) == 1


def test_jpeg_fallback_round_trips_and_every_frame_is_a_keyframe() -> None:
    img = SyntheticSource(320, 180, paced=False).read().image
    packets = JpegEncoder(320, 180, quality=80).encode(img)
    assert len(packets) == 1 and packets[0].keyframe and packets[0].kind is Kind.VIDEO_JPEG
    back = decode_jpeg(packets[0].data)
    assert back.shape == img.shape
    assert float(np.abs(back.astype(int) - img.astype(int)).mean()) < 10


def test_the_codec_string_names_h264_main_profile() -> None:
    assert codec_string(1280, 720) == "avc1.4d001f"
    assert codec_string(1920, 1080) == "avc1.4d0028"

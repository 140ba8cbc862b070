"""The relay's fan-out policy and rooms, without sockets (the frame format itself is
tested in tests/ems_contracts/test_frames.py)."""

from __future__ import annotations

from ems_contracts.frames import Frame, Kind
from hospital_gateway.protocol import GopCache, Push, Room, ViewerQueue


def frame(seq: int, *, kind: Kind = Kind.VIDEO_H264, key: bool = False, size: int = 10) -> Frame:
    return Frame(7, seq, 1_000_000 + seq, kind, key, bytes(size))


def test_a_viewer_that_falls_behind_skips_to_the_next_keyframe() -> None:
    q = ViewerQueue(max_video_frames=3)
    q.need_keyframe = False
    assert q.push(frame(1, key=True), b"k1") is Push.QUEUED
    for seq in (2, 3):
        assert q.push(frame(seq), f"d{seq}".encode()) is Push.QUEUED
    # The fourth frame does not fit: the backlog goes, deltas wait for a keyframe.
    assert q.push(frame(4), b"d4") is Push.DROPPED
    assert q.push(frame(5), b"d5") is Push.DROPPED
    assert q.pop() is None
    assert q.push(frame(6, key=True), b"k6") is Push.QUEUED
    assert q.push(frame(7), b"d7") is Push.QUEUED
    assert [q.pop(), q.pop(), q.pop()] == [b"k6", b"d7", None]


def test_a_new_keyframe_replaces_older_queued_video() -> None:
    q = ViewerQueue()
    q.push(frame(1, key=True), b"k1")
    q.push(frame(2), b"d2")
    q.push(frame(3, key=True), b"k3")
    assert [q.pop(), q.pop()] == [b"k3", None]


def test_records_go_first_and_are_never_dropped_for_a_viewer_that_keeps_up() -> None:
    q = ViewerQueue(max_video_frames=1, max_records=100)
    q.push(frame(1, key=True), b"k1")
    for seq in range(50):
        assert q.push(frame(seq, kind=Kind.ECG), f"e{seq}".encode()) is Push.QUEUED
        q.push(frame(100 + seq), b"d")  # video overflowing all along
    out = [q.pop() for _ in range(51)]
    assert out[:50] == [f"e{seq}".encode() for seq in range(50)]


def test_a_viewer_that_cannot_take_the_records_is_flagged_for_cutting() -> None:
    q = ViewerQueue(max_records=2)
    q.push(frame(1, kind=Kind.VITALS), b"v1")
    q.push(frame(2, kind=Kind.VITALS), b"v2")
    assert q.push(frame(3, kind=Kind.VITALS), b"v3") is Push.OVERFLOW
    assert len(q) == 2


def test_memory_per_viewer_is_bounded() -> None:
    q = ViewerQueue(max_video_frames=4, max_video_bytes=10_000)
    q.push(frame(0, key=True, size=100), bytes(100))
    for seq in range(1, 1000):
        q.push(frame(seq, key=seq % 30 == 0, size=3000), bytes(3000))
        assert q.video_bytes <= 10_000 and len(q.video) <= 4


def test_a_joining_viewer_gets_the_cached_gop_and_last_vitals_at_once() -> None:
    room = Room(7)
    room.fan_out(frame(1), b"d-before-key")
    room.fan_out(frame(2, key=True), b"k2")
    room.fan_out(frame(3), b"d3")
    room.fan_out(frame(4, kind=Kind.VITALS), b"v4")
    q = room.join(1)
    assert [q.pop(), q.pop(), q.pop(), q.pop()] == [b"v4", b"k2", b"d3", None]
    # Live frames after the seeded GOP are not dropped while it drains.
    assert room.fan_out(frame(5), b"d5") == {1: Push.QUEUED}


def test_a_joining_viewer_without_a_cached_keyframe_asks_for_one() -> None:
    room = Room(7)
    room.fan_out(frame(1), b"d1")
    room.join(1)
    assert room.needs_keyframe()
    room.fan_out(frame(2, key=True), b"k2")
    assert not room.needs_keyframe()


def test_the_gop_cache_is_bounded() -> None:
    gop = GopCache(max_frames=5)
    gop.add(frame(1, key=True), b"k")
    for seq in range(2, 10):
        gop.add(frame(seq), b"d")
    assert gop.replay() == [] and not gop.has_keyframe
    gop.add(frame(10, key=True), b"k10")
    assert [raw for _, raw in gop.replay()] == [b"k10"]

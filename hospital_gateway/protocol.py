"""The relay's stream logic with no I/O: the room registry (one room per transport)
and the per-viewer fan-out policy, built on the frame format of
``ems_contracts.frames``.

Each room also holds the transport's voice line (``TalkLine``): Opus frames between
the crew and the MC doctor, kept apart from the viewers' queues.

The asyncio relay (``hospital_gateway.relay``) is a thin shell around this
module; everything here is plain data in, plain data out, so that it can be
tested without sockets.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ems_contracts.frames import Frame, Kind

# --- fan-out policy ---------------------------------------------------------------


class Push(enum.Enum):
    QUEUED = "queued"
    DROPPED = "dropped"  # video dropped; the viewer skips to the next keyframe
    OVERFLOW = "overflow"  # the viewer cannot keep up with the record lane: cut it


@dataclass
class ViewerQueue:
    """What is waiting to be sent to one viewer.

    Records (ECG, vitals, events) go first and are never dropped; a viewer whose
    record backlog passes ``max_records`` is not keeping up and is disconnected
    (it reloads the history from the API when it comes back). Video is
    latest-frame-wins but never breaks a GOP: once a frame is dropped, every
    delta frame is skipped until the next keyframe, so the decoder never sees
    garbage. Memory per viewer is bounded by ``max_video_bytes`` + records.
    """

    max_video_frames: int = 4
    max_video_bytes: int = 1024 * 1024
    max_records: int = 2000
    # Frames (bytes) and the relay's own text messages to viewers (``analysis``).
    records: deque[bytes | str] = field(default_factory=deque)
    video: deque[bytes] = field(default_factory=deque)
    video_bytes: int = 0
    need_keyframe: bool = True
    # Extra room while a joining viewer drains the GOP it was seeded with.
    burst: int = 0
    burst_bytes: int = 0
    dropped: int = 0
    sent: int = 0

    def push(self, frame: Frame, raw: bytes) -> Push:
        if frame.kind.is_video:
            return self._push_video(frame.keyframe, raw)
        if len(self.records) >= self.max_records:
            return Push.OVERFLOW
        self.records.append(raw)
        return Push.QUEUED

    def push_control(self, message: bytes | str) -> Push:
        """A message of the relay's own (text), queued with the records."""
        if len(self.records) >= self.max_records:
            return Push.OVERFLOW
        self.records.append(message)
        return Push.QUEUED

    def _push_video(self, keyframe: bool, raw: bytes) -> Push:
        if keyframe:
            # A keyframe makes everything queued before it useless: latest wins.
            self.dropped += len(self.video)
            self.video.clear()
            self.burst = self.burst_bytes = 0
            self.video.append(raw)
            self.video_bytes = len(raw)
            self.need_keyframe = False
            return Push.QUEUED
        if self.need_keyframe:
            self.dropped += 1
            return Push.DROPPED
        if (
            len(self.video) >= self.max_video_frames + self.burst
            or self.video_bytes + len(raw) > self.max_video_bytes + self.burst_bytes
        ):
            # Fell behind: drop the backlog and wait for a keyframe.
            self.dropped += len(self.video) + 1
            self.video.clear()
            self.video_bytes = 0
            self.need_keyframe = True
            return Push.DROPPED
        self.video.append(raw)
        self.video_bytes += len(raw)
        return Push.QUEUED

    def seed(self, gop: list[tuple[Frame, bytes]]) -> None:
        """Start a joining viewer on a whole cached GOP (bounded by the cache)."""
        if not gop:
            return
        self.video.clear()
        self.video.extend(raw for _, raw in gop)
        self.video_bytes = sum(len(raw) for _, raw in gop)
        self.burst, self.burst_bytes = len(gop), self.video_bytes
        self.need_keyframe = False

    def pop(self) -> bytes | str | None:
        if self.records:
            self.sent += 1
            return self.records.popleft()
        if self.video:
            raw = self.video.popleft()
            self.video_bytes -= len(raw)
            if len(self.video) < self.max_video_frames:
                self.burst = self.burst_bytes = 0
            self.sent += 1
            return raw
        return None

    def __len__(self) -> int:
        return len(self.records) + len(self.video)


@dataclass
class GopCache:
    """The last keyframe and the delta frames after it, so that a joining viewer
    starts decoding at once. Bounded: past the limits only the keyframe is kept
    and the joining viewer waits for the next one (a fresh one is requested)."""

    max_frames: int = 60
    max_bytes: int = 2 * 1024 * 1024
    frames: list[tuple[Frame, bytes]] = field(default_factory=list)
    nbytes: int = 0
    complete: bool = False

    def add(self, frame: Frame, raw: bytes) -> None:
        if frame.keyframe:
            self.frames = [(frame, raw)]
            self.nbytes = len(raw)
            self.complete = True
            return
        if not self.complete:
            return
        if len(self.frames) >= self.max_frames or self.nbytes + len(raw) > self.max_bytes:
            self.complete = False
            self.frames = self.frames[:1] if self.frames[0][0].keyframe else []
            return
        self.frames.append((frame, raw))
        self.nbytes += len(raw)

    def replay(self) -> list[tuple[Frame, bytes]]:
        return list(self.frames) if self.complete else []

    @property
    def has_keyframe(self) -> bool:
        return self.complete and bool(self.frames)


# --- the voice line ------------------------------------------------------------------


@dataclass
class TalkQueue:
    """What waits to be sent to one person on a voice line: the relay's text messages
    first, then audio.

    Speech is worth nothing late: past ``max_audio`` packets (200 ms of 20 ms Opus
    frames) the oldest goes, so that a slow link hears a gap rather than a delay
    that grows. Nothing on the line is part of the record.
    """

    max_audio: int = 10
    messages: deque[str] = field(default_factory=deque)
    audio: deque[bytes] = field(default_factory=deque)
    dropped: int = 0

    def push_audio(self, raw: bytes) -> Push:
        outcome = Push.QUEUED
        if len(self.audio) >= self.max_audio:
            self.audio.popleft()
            self.dropped += 1
            outcome = Push.DROPPED
        self.audio.append(raw)
        return outcome

    def push_message(self, message: str) -> None:
        # Only the latest roster matters: an older one waiting is replaced.
        self.messages.clear()
        self.messages.append(message)

    def pop(self) -> bytes | str | None:
        if self.messages:
            return self.messages.popleft()
        if self.audio:
            return self.audio.popleft()
        return None


@dataclass
class TalkLine:
    """One transport's voice line: everyone on it hears everyone else, never
    themselves. Who may be on it is the access policy's (``stream.talk``)."""

    talkers: dict[int, tuple[str, TalkQueue]] = field(default_factory=dict)
    frames_in: int = 0

    def join(self, talker_id: int, role: str, queue: TalkQueue | None = None) -> TalkQueue:
        q = queue if queue is not None else TalkQueue()
        self.talkers[talker_id] = (role, q)
        return q

    def leave(self, talker_id: int) -> None:
        self.talkers.pop(talker_id, None)

    def speak(self, raw: bytes, *, sender: int | None) -> dict[int, Push]:
        """Queue an audio frame for everyone but its sender (None: from another relay)."""
        self.frames_in += 1
        return {tid: q.push_audio(raw) for tid, (_, q) in self.talkers.items() if tid != sender}

    def roster(self, remote: Iterable[str] = ()) -> dict[int, list[str]]:
        """For each talker here, the roles of the others on the line (``remote``: the
        roles of those on other relays), sorted."""
        far = list(remote)
        return {
            tid: sorted([r for other, (r, _) in self.talkers.items() if other != tid] + far)
            for tid in self.talkers
        }


@dataclass
class Room:
    """One transport's stream: its viewers and what a joining viewer needs."""

    transport_id: int
    viewers: dict[int, ViewerQueue] = field(default_factory=dict)
    gop: GopCache = field(default_factory=GopCache)
    last_vitals: tuple[Frame, bytes] | None = None
    # The publisher's stream description (codec, size), replayed to joining viewers.
    last_control: tuple[Frame, bytes] | None = None
    # The last patient analysis without its alerts (they were news once), for joiners.
    last_analysis: str | None = None
    publisher: int | None = None
    frames_in: int = 0
    last_frame_us: int = 0
    # The voice line between the crew and the MC doctor; apart from the viewers.
    talk: TalkLine = field(default_factory=TalkLine)

    def join(self, viewer_id: int, queue: ViewerQueue | None = None) -> ViewerQueue:
        """Register a viewer and seed its queue with the cached GOP and vitals."""
        q = queue if queue is not None else ViewerQueue()
        if self.last_control is not None:
            q.push(*self.last_control)
        q.seed(self.gop.replay())
        if self.last_vitals is not None:
            q.push(*self.last_vitals)
        if self.last_analysis is not None:
            q.push_control(self.last_analysis)
        self.viewers[viewer_id] = q
        return q

    def leave(self, viewer_id: int) -> None:
        self.viewers.pop(viewer_id, None)

    def fan_out(self, frame: Frame, raw: bytes) -> dict[int, Push]:
        """Queue a frame for every viewer; returns each viewer's outcome."""
        self.frames_in += 1
        self.last_frame_us = frame.capture_us
        if frame.kind.is_video:
            self.gop.add(frame, raw)
        elif frame.kind is Kind.VITALS:
            self.last_vitals = (frame, raw)
        elif frame.kind is Kind.CONTROL:
            self.last_control = (frame, raw)
        return {vid: q.push(frame, raw) for vid, q in self.viewers.items()}

    def announce(self, message: str, *, replay: str | None) -> dict[int, Push]:
        """Queue a text message for every viewer; ``replay`` is what joiners get of it."""
        self.last_analysis = replay
        return {vid: q.push_control(message) for vid, q in self.viewers.items()}

    def needs_keyframe(self) -> bool:
        """Whether some viewer waits for a keyframe that the cache cannot give."""
        return any(q.need_keyframe for q in self.viewers.values()) and not self.gop.has_keyframe

    def congestion(self) -> tuple[int, int]:
        """(viewers, viewers dropping video) — fed back to the publisher."""
        total = len(self.viewers)
        congested = sum(1 for q in self.viewers.values() if q.dropped > 0)
        return total, congested

    def reset_counters(self) -> None:
        for q in self.viewers.values():
            q.dropped = 0


@dataclass
class Registry:
    """Every room of one relay process, created on demand and removed when empty."""

    rooms: dict[int, Room] = field(default_factory=dict)

    def room(self, transport_id: int) -> Room:
        room = self.rooms.get(transport_id)
        if room is None:
            room = self.rooms[transport_id] = Room(transport_id)
        return room

    def get(self, transport_id: int) -> Room | None:
        return self.rooms.get(transport_id)

    def discard_if_empty(self, transport_id: int) -> None:
        room = self.rooms.get(transport_id)
        if (
            room is not None
            and not room.viewers
            and room.publisher is None
            and not room.talk.talkers
        ):
            del self.rooms[transport_id]

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self.rooms.values()))

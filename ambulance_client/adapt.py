"""Quality and frame-rate adaptation for a mobile uplink, with no I/O.

Two signals drive it: the tablet's own socket backlog (bytes written but not yet
on the wire — the uplink cannot carry the current rate) with the throughput it
implies, and the relay's feedback (how many viewers had to skip video). It steps
down at once when either says "too much", and climbs back one step after a
quiet spell, so that a tunnel or a Wi-Fi ↔ LTE switch costs quality, not latency.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Level:
    width: int
    height: int
    fps: float
    bitrate_kbps: int
    jpeg_quality: int


LADDER: tuple[Level, ...] = (
    Level(1280, 720, 15, 900, 70),
    Level(960, 540, 15, 600, 60),
    Level(640, 360, 15, 350, 55),
    Level(640, 360, 10, 220, 50),
    Level(426, 240, 10, 120, 45),
    Level(320, 180, 5, 60, 40),
)


@dataclass
class Adapter:
    level_index: int = 0
    ladder: tuple[Level, ...] = LADDER
    # Seconds of the current bitrate that may sit in the socket before we step down.
    max_backlog_s: float = 0.5
    up_after_s: float = 8.0
    window_s: float = 2.0
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _last_change: float = 0.0
    _viewers: int = 0
    _congested: int = 0
    _feedback_pending: bool = False

    @property
    def level(self) -> Level:
        return self.ladder[self.level_index]

    def backlog_budget(self) -> int:
        return int(self.level.bitrate_kbps * 1000 / 8 * self.max_backlog_s)

    def on_sent(self, nbytes: int, now: float) -> None:
        self._samples.append((now, nbytes))
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def throughput_kbps(self, backlog: int, now: float) -> float:
        """What actually left the tablet over the window (sent minus still queued)."""
        if not self._samples:
            return 0.0
        span = max(now - self._samples[0][0], 0.25)
        sent = sum(n for _, n in self._samples)
        return max(sent - backlog, 0) * 8 / 1000 / span

    def on_feedback(self, viewers: int, congested: int) -> None:
        self._viewers, self._congested = viewers, congested
        self._feedback_pending = True

    def should_skip_frame(self, backlog: int) -> bool:
        """Skip capturing/encoding a frame while the socket holds a second of video:
        better a lower frame rate than a growing delay."""
        return backlog > 2 * self.backlog_budget()

    def decide(self, backlog: int, now: float) -> Level | None:
        """A new level when it should change, else None."""
        if now - self._last_change < 1.0:
            return None
        feedback_bad = (
            self._feedback_pending
            and self._viewers > 0
            and self._congested * 2 >= max(self._viewers, 1)
        )
        self._feedback_pending = False
        if backlog > self.backlog_budget() or feedback_bad:
            return self._move(+1, now)
        quiet = now - self._last_change >= self.up_after_s
        if quiet and backlog < self.backlog_budget() // 4 and self._congested == 0:
            return self._move(-1, now)
        return None

    def _move(self, step: int, now: float) -> Level | None:
        index = min(max(self.level_index + step, 0), len(self.ladder) - 1)
        self._last_change = now
        if index == self.level_index:
            return None
        self.level_index = index
        return self.level

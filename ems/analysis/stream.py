"""One transport's ECG as it arrives: a rolling window and a result now and then.

The tablet sends one ECG record a second (``ems_contracts.frames.encode_ecg``: the
sample rate, then int16 samples in µV; 250 samples at 250 Hz from the monitor). The
relay hands each stored record to ``EcgStreamAnalyzer.feed``; every ``every_s``
seconds of signal, once the window holds ``MIN_WINDOW_S``, it analyses the last
``window_s`` seconds. Time is counted in samples, not on the wall clock, so a burst
of records resent after a reconnection gives the same results as a live stream.

Not thread-safe: one analyser belongs to one transport's worker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ems.analysis.ecg import (
    MAX_FS_HZ,
    MAX_WINDOW_S,
    MIN_FS_HZ,
    MIN_WINDOW_S,
    EcgResult,
    analyze_ecg,
)
from ems.analysis.errors import AnalysisInputError

UV_PER_MV = 1000.0


class EcgStreamAnalyzer:
    """A rolling window of one transport's ECG and its latest analysis."""

    def __init__(
        self, *, window_s: float = 10.0, every_s: float = 2.0, powerline_hz: int = 50
    ) -> None:
        if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be within {MIN_WINDOW_S}–{MAX_WINDOW_S} s")
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.window_s = window_s
        self.every_s = every_s
        self.powerline_hz = powerline_hz
        self.sample_rate_hz = 0
        self.latest: EcgResult | None = None
        self._buf = np.zeros(0)
        self._filled = 0
        self._since_result = 0
        self._last_seq: int | None = None

    def feed(
        self, samples_uv: Sequence[int], *, sample_rate_hz: int, seq: int | None = None
    ) -> EcgResult | None:
        """Add one record; the new result when one is due, else None. A record whose
        ``seq`` is not after the last one fed (a resend) is ignored."""
        if seq is not None:
            if self._last_seq is not None and seq <= self._last_seq:
                return None
            self._last_seq = seq
        if not MIN_FS_HZ <= sample_rate_hz <= MAX_FS_HZ:
            raise AnalysisInputError(
                "bad_sample_rate", f"sample rate {sample_rate_hz} Hz is not analysable"
            )
        if sample_rate_hz != self.sample_rate_hz:
            self._reset(sample_rate_hz)
        new = np.asarray(samples_uv, dtype=np.float64) / UV_PER_MV
        size = len(self._buf)
        if len(new) >= size:
            self._buf[:] = new[-size:]
        else:
            n = len(new)
            self._buf[: size - n] = self._buf[n:]
            self._buf[size - n :] = new
        self._filled = min(size, self._filled + len(new))
        self._since_result += len(new)
        if self._filled < MIN_WINDOW_S * sample_rate_hz:
            return None
        if self._since_result < self.every_s * sample_rate_hz:
            return None
        self._since_result = 0
        self.latest = analyze_ecg(
            self._buf[size - self._filled :], fs=sample_rate_hz, powerline_hz=self.powerline_hz
        )
        return self.latest

    def _reset(self, sample_rate_hz: int) -> None:
        """A new monitor or a new rate: the old samples cannot be mixed with the new."""
        self.sample_rate_hz = sample_rate_hz
        self._buf = np.zeros(int(self.window_s * sample_rate_hz))
        self._filled = 0
        # Analyse as soon as the window reaches its minimum.
        self._since_result = int(self.every_s * sample_rate_hz)
        self.latest = None

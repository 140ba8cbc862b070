"""The per-transport analyser, fed records the way the relay receives them."""

from __future__ import annotations

import numpy as np
import pytest

from ems.analysis.ecg import Rhythm
from ems.analysis.errors import AnalysisInputError
from ems.analysis.stream import EcgStreamAnalyzer
from ems_contracts.frames import decode_ecg, encode_ecg
from tests.ems.analysis import signals


def _records(x: np.ndarray, fs: int = 250) -> list[list[int]]:
    """One-second ECG records in µV, through the wire format and back."""
    uv = np.round(x * 1000).astype(int).tolist()
    out = []
    for i in range(0, len(uv), fs):
        rate, samples = decode_ecg(encode_ecg(fs, uv[i : i + fs]))
        assert rate == fs
        out.append(samples)
    return out


def test_first_result_at_the_minimum_window_then_every_two_seconds() -> None:
    analyzer = EcgStreamAnalyzer(window_s=10, every_s=2)
    due = [
        analyzer.feed(r, sample_rate_hz=250, seq=i) is not None
        for i, r in enumerate(_records(np.concatenate([signals.sinus(1), signals.sinus(2)])))
    ]
    assert due.index(True) == 3  # after the 4th second
    assert [i for i, d in enumerate(due) if d] == [3, 5, 7, 9, 11, 13, 15, 17, 19]


def test_follows_a_change_of_rhythm_within_the_window() -> None:
    # Sinus, then VF: within one window of the onset the stream reads VF, shockable.
    analyzer = EcgStreamAnalyzer(window_s=10, every_s=2)
    records = _records(np.concatenate([signals.sinus(3), signals.vf(3), signals.vf(4)]))
    results = [analyzer.feed(r, sample_rate_hz=250, seq=i) for i, r in enumerate(records)]
    rhythms = {i: r.rhythm for i, r in enumerate(results) if r is not None}
    assert rhythms[9] is Rhythm.SINUS
    assert rhythms[21] is Rhythm.VF
    assert analyzer.latest is not None and analyzer.latest.shockable


def test_resent_records_are_ignored() -> None:
    analyzer = EcgStreamAnalyzer()
    records = _records(signals.sinus(5))
    for i, r in enumerate(records[:6]):
        analyzer.feed(r, sample_rate_hz=250, seq=i)
    before = analyzer.latest
    assert analyzer.feed(records[5], sample_rate_hz=250, seq=5) is None
    assert analyzer.feed(records[4], sample_rate_hz=250, seq=4) is None
    assert analyzer.latest is before


def test_a_new_sample_rate_starts_a_new_window() -> None:
    analyzer = EcgStreamAnalyzer()
    for i, r in enumerate(_records(signals.sinus(6))[:6]):
        analyzer.feed(r, sample_rate_hz=250, seq=i)
    assert analyzer.latest is not None
    x = signals.sinus(6, fs=500)
    records = _records(x, fs=500)
    assert analyzer.feed(records[0], sample_rate_hz=500, seq=100) is None
    assert analyzer.latest is None


def test_a_record_at_an_unusable_rate_is_refused() -> None:
    with pytest.raises(AnalysisInputError):
        EcgStreamAnalyzer().feed([0] * 10, sample_rate_hz=10)

"""The rhythm analysis on labelled signals it was not tuned on (seeds 100–119; the
thresholds were set looking at seeds 0–19)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ems.analysis.ecg import DECISION_SUPPORT, Rhythm, analyze_ecg
from ems.analysis.errors import AnalysisInputError
from tests.ems.analysis import signals

PER_CLASS = 20
SEEDS = range(100, 100 + PER_CLASS)
CLASSES = {**signals.GENERATORS, "unknown": signals.noisy}


@pytest.fixture(scope="module")
def confusion() -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {}
    for truth, generate in CLASSES.items():
        table[truth] = Counter(
            analyze_ecg(generate(seed), fs=signals.FS).rhythm.value for seed in SEEDS
        )
    return table


# Sensitivity floor per rhythm; every rhythm's specificity must be ≥ 0.95.
SENSITIVITY = {"sinus": 0.95, "af": 0.9, "vt": 0.9, "vf": 0.85, "asystole": 0.95, "unknown": 0.9}


@pytest.mark.parametrize("rhythm", list(CLASSES))
def test_sensitivity_and_specificity_per_rhythm(
    confusion: dict[str, Counter[str]], rhythm: str
) -> None:
    positives = sum(confusion[rhythm].values())
    sensitivity = confusion[rhythm][rhythm] / positives
    false_positives = sum(confusion[t][rhythm] for t in CLASSES if t != rhythm)
    negatives = sum(sum(c.values()) for t, c in confusion.items() if t != rhythm)
    specificity = 1 - false_positives / negatives
    assert sensitivity >= SENSITIVITY[rhythm], dict(confusion[rhythm])
    assert specificity >= 0.95, {t: confusion[t][rhythm] for t in CLASSES}


def test_no_organised_rhythm_is_called_shockable() -> None:
    # The one error that would hurt most: a shock advised on a perfusing rhythm.
    for generate in (signals.sinus, signals.af, signals.asystole, signals.noisy):
        for seed in SEEDS:
            assert not analyze_ecg(generate(seed), fs=signals.FS).shockable


def test_vf_and_fast_vt_are_shockable() -> None:
    vf = [analyze_ecg(signals.vf(seed), fs=signals.FS) for seed in SEEDS]
    assert sum(r.shockable for r in vf) >= 0.9 * len(vf)
    for seed in SEEDS:
        result = analyze_ecg(signals.vt(seed), fs=signals.FS)
        if result.rhythm is Rhythm.VT:
            assert result.shockable is (
                result.heart_rate_bpm is not None and result.heart_rate_bpm >= 150
            )


@pytest.mark.parametrize("hr", [45, 60, 80, 110, 150])
def test_heart_rate_of_sinus_within_5_bpm(hr: float) -> None:
    result = analyze_ecg(signals.sinus_rate(7, hr), fs=signals.FS)
    assert result.rhythm is Rhythm.SINUS
    assert result.heart_rate_bpm == pytest.approx(hr, abs=5)


def test_heart_rate_of_vt_from_its_cycle() -> None:
    for seed in range(200, 205):
        x = signals.vt(seed)
        rate = 60 * signals.FS / _true_cycle(x)
        result = analyze_ecg(x, fs=signals.FS)
        assert result.heart_rate_bpm == pytest.approx(rate, rel=0.08)


def _true_cycle(x: np.ndarray) -> float:
    """The VT generator's mean RR, in samples, from its own R peaks."""
    import scipy.signal

    peaks, _ = scipy.signal.find_peaks(x, height=0.5 * x.max(), distance=int(0.2 * signals.FS))
    return float(np.mean(np.diff(peaks)))


def test_asystole_has_rate_zero_and_vf_none() -> None:
    assert analyze_ecg(signals.asystole(1), fs=250).heart_rate_bpm == 0
    assert analyze_ecg(signals.vf(1), fs=250).heart_rate_bpm is None


def test_other_sample_rates_and_60_hz_mains() -> None:
    for fs in (125, 500):
        assert analyze_ecg(signals.sinus(3, fs=fs), fs=fs).rhythm is Rhythm.SINUS
        assert analyze_ecg(signals.vf(3, fs=fs), fs=fs).rhythm is Rhythm.VF
    x = signals.af(4) + 0.05 * np.sin(2 * np.pi * 60 * np.arange(2500) / 250)
    assert analyze_ecg(x, fs=250, powerline_hz=60).rhythm is Rhythm.AF


def test_result_is_labelled_decision_support_with_a_confidence() -> None:
    result = analyze_ecg(signals.sinus(5), fs=250)
    summary = result.summary()
    assert summary["label"] == DECISION_SUPPORT
    assert set(summary) == {"rhythm", "heart_rate_bpm", "shockable", "confidence", "label"}
    assert 0.5 <= result.confidence <= 1.0
    # A noisy strip is unknown, never a confident rhythm.
    noisy = analyze_ecg(signals.noisy(5), fs=250)
    assert noisy.rhythm is Rhythm.UNKNOWN and noisy.heart_rate_bpm is None


@pytest.mark.parametrize(
    ("samples", "fs", "code"),
    [
        ([0.0] * 2500, 50, "bad_sample_rate"),
        ([0.0] * 2500, 5000, "bad_sample_rate"),
        ([0.0] * 500, 250, "too_short"),
        ([], 250, "too_short"),
        ([float("nan")] * 2500, 250, "bad_samples"),
    ],
)
def test_bad_input_is_refused_with_a_code(samples: list[float], fs: float, code: str) -> None:
    with pytest.raises(AnalysisInputError) as err:
        analyze_ecg(samples, fs=fs)
    assert err.value.code == code

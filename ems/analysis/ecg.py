"""Rhythm analysis of one ECG window: heart rate, rhythm class, shockable, confidence.

Decision support for the crew and the medical-control doctor, never a diagnosis: a
clinician reads the strip. The window (4–30 s of one lead, in mV) is cleaned with
neurokit2's ``ecg_clean`` (0.5 Hz high-pass, mains notch), R peaks come from
neurokit2's detectors, the spectrum from scipy's Welch estimate. The rules use the
features the resuscitation literature uses for AED rhythm analysis, in this order:

1. asystole: no electrical activity, the cleaned signal's amplitude under 0.1 mV;
2. ventricular rhythm: nearly all the power between 1.5 and 9 Hz and almost none
   above 12 Hz (no narrow QRS; the slurred complexes of VT and the waves of VF are
   slow), then VT if the signal repeats itself (a high autocorrelation peak) at
   ≥ 100 bpm, VF if it does not;
3. organised narrow rhythm: beats found by the R-peak detector look alike (template
   correlation, a signal-quality index), then AF if the RR intervals are irregular,
   sinus if they are not;
4. anything else is ``unknown``: too noisy to say.

Each threshold below says where it comes from and what the labelled test signals
(tests/ems/analysis/signals.py, bench/analysis_accuracy.py) showed.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import neurokit2 as nk
import numpy as np
import scipy.signal
from numpy.typing import NDArray

from ems.analysis.errors import AnalysisInputError

DECISION_SUPPORT = "decision support, not a diagnosis"

MIN_FS_HZ = 100  # the QRS band used below reaches 40 Hz: Nyquist needs ≥ 80 Hz
MAX_FS_HZ = 2000
MIN_WINDOW_S = 4.0  # AED algorithms analyse 3–10 s; Welch below needs 4 s for 0.25 Hz bins
MAX_WINDOW_S = 30.0  # longer windows mix rhythms (a VF that was shocked back to sinus)

# 1. Asystole. AHA AED performance recommendations (Kerber et al., Circulation 1997)
# define asystole as < 100 µV peak to peak. The amplitude is measured robustly
# (0.5th to 99.5th percentile) so that one spike does not make a flat line "active".
# Test signals: asystole ≤ 0.05 mV, the smallest VF 0.38 mV, sinus ≥ 1.1 mV.
ASYSTOLE_MAX_MV = 0.1

# 2. Ventricular rhythms. A narrow QRS (< 120 ms) puts a large share of its power
# above 10–12 Hz; wide VT complexes and VF waves (dominant frequency 3–9 Hz, typically
# 4–7 Hz: Clayton et al. 1993, Stewart et al. 1992) do not. Test signals: the share
# of power in 1.5–9 Hz is ≥ 0.93 for VT and VF and ≤ 0.75 for sinus and AF (the
# deciding feature); the share above 12 Hz is ≤ 0.06 for VT/VF (VF's harmonics) and
# 0.07–0.28 for sinus/AF, so 0.10 only keeps a noisy narrow rhythm out.
VENTRICULAR_BAND_HZ = (1.5, 9.0)
VENTRICULAR_BAND_MIN = 0.85
QRS_BAND_HZ = (12.0, 40.0)
VENTRICULAR_QRS_MAX = 0.10
TOTAL_BAND_HZ = (0.5, 40.0)

# VT against VF: a monomorphic VT repeats the same complex at a steady rate, so the
# signal's autocorrelation has a high peak at one cycle length; VF is chaotic and
# its autocorrelation decays within a few cycles (Chen et al., IEEE TBME 1987, used
# the autocorrelation for exactly this). Test signals: VT ≥ 0.90, VF ≤ 0.83.
VT_PERIODICITY_MIN = 0.85
CYCLE_RANGE_S = (0.2, 1.5)  # 300 down to 40 bpm
# VT is a ventricular rhythm at ≥ 100 bpm (ACC/AHA/ESC definition); slower wide
# regular rhythms (idioventricular, paced, bundle-branch block at normal rates) are
# not in our classes and come out as unknown.
VT_MIN_BPM = 100.0
# AED algorithms treat VT as shockable only when fast, because fast VT is usually
# pulseless; manufacturers set 150–180 bpm (Kerber et al. 1997 leave the threshold to
# them). We take the lower end: a VT at ≥ 150 bpm is flagged shockable, which the
# crew still confirms by checking for a pulse.
SHOCKABLE_VT_MIN_BPM = 150.0

# 3. Organised narrow rhythms. The beats the R-peak detector finds are compared with
# their median beat (±120 ms around R): Orphanidou et al. (IEEE JBHI 2015) accept a
# window for analysis when the mean correlation is ≥ 0.66; we ask for 0.90 since a
# wrong "sinus" is worse than an honest "unknown". Test signals: sinus and AF ≥ 0.96,
# the same sinus under heavy muscle noise ≤ 0.81.
TEMPLATE_CORR_MIN = 0.90
MIN_BEATS = 4
TEMPLATE_HALF_S = 0.12
# AF: irregularly irregular RR. Dash et al. (Ann Biomed Eng 2009) detect AF with the
# RMSSD of the RR series divided by its mean above 0.1 (with turning-point ratio and
# Shannon entropy, which need longer windows than ours). Test signals: sinus ≤ 0.06,
# AF ≥ 0.17. Frequent ectopic beats also exceed it: the label stays decision support.
AF_NRMSSD_MIN = 0.10
# Physiologic RR range for the heart rate: 20–300 bpm.
RR_RANGE_S = (0.2, 3.0)


class Rhythm(enum.StrEnum):
    SINUS = "sinus"
    AF = "af"
    VT = "vt"
    VF = "vf"
    ASYSTOLE = "asystole"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class EcgFeatures:
    """What the rules looked at, for a reviewer and for tuning."""

    amplitude_mv: float
    ventricular_band_share: float
    qrs_band_share: float
    periodicity: float
    cycle_bpm: float
    beats: int
    template_corr: float
    rr_nrmssd: float


@dataclass(frozen=True)
class EcgResult:
    """The analysis of one window; ``label`` travels with it to every screen."""

    rhythm: Rhythm
    heart_rate_bpm: float | None
    shockable: bool
    confidence: float
    window_s: float
    features: EcgFeatures
    label: str = DECISION_SUPPORT

    def summary(self) -> dict[str, Any]:
        """The four figures the CLI and the pages show, with the label."""
        return {
            "rhythm": self.rhythm.value,
            "heart_rate_bpm": None if self.heart_rate_bpm is None else round(self.heart_rate_bpm),
            "shockable": self.shockable,
            "confidence": round(self.confidence, 2),
            "label": self.label,
        }


def check_input(
    samples_mv: Sequence[float] | NDArray[np.float64], fs: float
) -> NDArray[np.float64]:
    """The window as floats, or ``AnalysisInputError`` saying what is wrong with it."""
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise AnalysisInputError(
            "bad_sample_rate", f"sample rate {fs} Hz is outside {MIN_FS_HZ}–{MAX_FS_HZ} Hz"
        )
    x = np.asarray(samples_mv, dtype=np.float64)
    if x.ndim != 1:
        raise AnalysisInputError("bad_samples", "the samples must be one lead, one value each")
    duration = len(x) / fs
    if duration < MIN_WINDOW_S:
        raise AnalysisInputError(
            "too_short",
            f"{len(x)} samples at {fs:g} Hz last {duration:.1f} s; "
            f"at least {MIN_WINDOW_S:g} s needed",
        )
    if not np.all(np.isfinite(x)):
        raise AnalysisInputError("bad_samples", "the samples contain NaN or infinite values")
    if duration > MAX_WINDOW_S:
        x = x[-int(MAX_WINDOW_S * fs) :]
    return x


def analyze_ecg(
    samples_mv: Sequence[float] | NDArray[np.float64], *, fs: float, powerline_hz: int = 50
) -> EcgResult:
    """Analyse one window of one lead in mV sampled at ``fs`` Hz (the most recent 30 s
    if longer). ``powerline_hz``: 50 in eastern Japan, 60 in the west."""
    x = check_input(samples_mv, fs)
    with warnings.catch_warnings():
        # neurokit2 warns about short signals and missing peaks: those cases are ours to judge.
        warnings.simplefilter("ignore")
        clean = np.asarray(
            nk.ecg_clean(x, sampling_rate=fs, method="neurokit", powerline=powerline_hz),
            dtype=np.float64,
        )
        clean = clean - float(np.median(clean))
        amplitude = float(np.percentile(clean, 99.5) - np.percentile(clean, 0.5))
        vent_share, qrs_share = _band_shares(clean, fs)
        periodicity, cycle_bpm = _periodicity(clean, fs)
        peaks = _r_peaks(clean, fs) if amplitude >= ASYSTOLE_MAX_MV else np.zeros(0, np.int64)
    rr = np.diff(peaks) / fs
    rr = rr[(rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])]
    features = EcgFeatures(
        amplitude_mv=amplitude,
        ventricular_band_share=vent_share,
        qrs_band_share=qrs_share,
        periodicity=periodicity,
        cycle_bpm=cycle_bpm,
        beats=len(peaks),
        template_corr=_template_corr(clean, peaks, fs),
        rr_nrmssd=_nrmssd(rr),
    )
    return _classify(features, rr, window_s=len(x) / fs)


def _classify(f: EcgFeatures, rr: NDArray[np.float64], *, window_s: float) -> EcgResult:
    def result(rhythm: Rhythm, hr: float | None, confidence: float) -> EcgResult:
        shockable = rhythm is Rhythm.VF or (
            rhythm is Rhythm.VT and hr is not None and hr >= SHOCKABLE_VT_MIN_BPM
        )
        return EcgResult(
            rhythm=rhythm,
            heart_rate_bpm=hr,
            shockable=shockable,
            confidence=float(np.clip(confidence, 0.0, 1.0)),
            window_s=window_s,
            features=f,
        )

    if f.amplitude_mv < ASYSTOLE_MAX_MV:
        # Certain when far under the threshold, a coin toss at it (fine VF lives there).
        return result(Rhythm.ASYSTOLE, 0.0, 1.0 - 0.5 * f.amplitude_mv / ASYSTOLE_MAX_MV)

    ventricular = (
        f.ventricular_band_share >= VENTRICULAR_BAND_MIN and f.qrs_band_share <= VENTRICULAR_QRS_MAX
    )
    if ventricular:
        band_margin = _margin(f.ventricular_band_share, VENTRICULAR_BAND_MIN, 1.0)
        if f.periodicity >= VT_PERIODICITY_MIN:
            if f.cycle_bpm < VT_MIN_BPM:
                return result(Rhythm.UNKNOWN, None, 0.5)
            margin = _margin(f.periodicity, VT_PERIODICITY_MIN, 1.0)
            return result(Rhythm.VT, f.cycle_bpm, 0.5 + 0.5 * min(margin, band_margin))
        margin = _margin(VT_PERIODICITY_MIN - f.periodicity, 0.0, VT_PERIODICITY_MIN)
        return result(Rhythm.VF, None, 0.5 + 0.5 * min(margin, band_margin))

    organised = f.beats >= MIN_BEATS and len(rr) >= MIN_BEATS - 1
    if organised and f.template_corr >= TEMPLATE_CORR_MIN:
        quality = _margin(f.template_corr, TEMPLATE_CORR_MIN, 1.0)
        if f.rr_nrmssd >= AF_NRMSSD_MIN:
            # In AF the mean ventricular rate is the useful figure, not the median.
            margin = _margin(f.rr_nrmssd, AF_NRMSSD_MIN, 2 * AF_NRMSSD_MIN)
            return result(Rhythm.AF, 60.0 / float(np.mean(rr)), 0.5 + 0.5 * min(margin, quality))
        margin = _margin(AF_NRMSSD_MIN - f.rr_nrmssd, 0.0, AF_NRMSSD_MIN)
        return result(Rhythm.SINUS, 60.0 / float(np.median(rr)), 0.5 + 0.5 * min(margin, quality))

    # Too noisy to say: the confidence says how sure we are that nothing can be read.
    return result(Rhythm.UNKNOWN, None, 1.0 - max(f.template_corr, 0.0))


def _margin(value: float, threshold: float, full: float) -> float:
    """0 at the threshold, 1 at ``full`` and beyond: how clearly a rule was met."""
    if full == threshold:
        return 1.0
    return float(np.clip((value - threshold) / (full - threshold), 0.0, 1.0))


def _band_shares(clean: NDArray[np.float64], fs: float) -> tuple[float, float]:
    nperseg = min(len(clean), round(4 * fs))
    freqs, power = scipy.signal.welch(clean, fs=fs, nperseg=nperseg)

    def band(lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return float(power[(freqs >= lo) & (freqs <= hi)].sum())

    total = band(TOTAL_BAND_HZ)
    if total <= 0:
        return 0.0, 0.0
    return band(VENTRICULAR_BAND_HZ) / total, band(QRS_BAND_HZ) / total


def _periodicity(clean: NDArray[np.float64], fs: float) -> tuple[float, float]:
    """The highest normalised autocorrelation at a cycle length of 0.2–1.5 s, and the
    rate that cycle length means."""
    n = len(clean)
    spectrum = np.fft.rfft(clean, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    if acf[0] <= 0:
        return 0.0, 0.0
    acf = acf / acf[0]
    lo, hi = int(CYCLE_RANGE_S[0] * fs), min(int(CYCLE_RANGE_S[1] * fs), n - 1)
    lag = lo + int(np.argmax(acf[lo:hi]))
    best = float(acf[lag])
    # A periodic signal correlates as well at two cycles as at one: take the first
    # peak nearly as high as the best, or a VT at 200 bpm would read 100.
    peaks, _ = scipy.signal.find_peaks(acf[lo:hi])
    for p in peaks:
        if acf[lo + p] >= 0.9 * best:
            lag = lo + int(p)
            break
    return float(acf[lag]), 60.0 * fs / lag


def _r_peaks(clean: NDArray[np.float64], fs: float) -> NDArray[np.int64]:
    """neurokit2's own detector (gradient-based, Makowski et al.): its R positions are
    exact for narrow complexes, which is where we use them."""
    found = nk.ecg_findpeaks(clean, sampling_rate=fs, method="neurokit")["ECG_R_Peaks"]
    return np.asarray(found, dtype=np.int64)


def _template_corr(clean: NDArray[np.float64], peaks: NDArray[np.int64], fs: float) -> float:
    half = int(TEMPLATE_HALF_S * fs)
    beats = [clean[p - half : p + half] for p in peaks if p - half >= 0 and p + half <= len(clean)]
    if len(beats) < 2:
        return 0.0
    stack = np.vstack(beats)
    template = np.median(stack, axis=0)
    stack = stack - stack.mean(axis=1, keepdims=True)
    template = template - template.mean()
    denom = np.linalg.norm(stack, axis=1) * np.linalg.norm(template)
    corr = (stack @ template) / np.where(denom > 0, denom, np.inf)
    return float(np.mean(corr))


def _nrmssd(rr: NDArray[np.float64]) -> float:
    if len(rr) < 3:
        return 0.0
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)) / np.mean(rr))

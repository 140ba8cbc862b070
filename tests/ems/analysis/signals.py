"""Labelled test ECGs, in mV, from generators that are not the demo monitor.

Sinus comes from neurokit2's ECGSYN model (McSharry et al. 2003) at several rates and
noise levels. The arrhythmias are built here from the same model or from band-limited
random processes, each with the feature the analyser must not be told about:

- AF: ECGSYN beats without P waves placed at irregularly irregular RR intervals
  (coefficient of variation 0.12–0.30, as in AF series), with 4–9 Hz f-waves;
- VT: ECGSYN with the P wave removed and Q/R/S widened (QRS ≈ 140–200 ms), regular
  at 130–230 bpm;
- VF: a 3.5–7 Hz oscillation whose frequency and amplitude wander at random
  (coarse and medium VF, 0.2–1.2 mV), no repeating complex;
- asystole: flat line with baseline wander, 50 Hz hum and amplifier noise;
- noisy: sinus buried in muscle noise and motion artefact, where the honest answer
  is "unknown".

Every generator takes a seed, so a test's signal is the same on every run. The
accuracy script in bench/ reuses these.
"""

from __future__ import annotations

from collections.abc import Callable

import neurokit2 as nk
import numpy as np
from numpy.typing import NDArray

FS = 250
DURATION_S = 10.0

Signal = NDArray[np.float64]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _baseline(n: int, fs: int, rng: np.random.Generator, amp_mv: float) -> Signal:
    """Respiratory baseline wander, 0.15–0.4 Hz."""
    t = np.arange(n) / fs
    f = rng.uniform(0.15, 0.4)
    return np.asarray(amp_mv * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)))


def sinus(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Sinus rhythm at 50–140 bpm with light to moderate noise."""
    rng = _rng(seed)
    hr = float(rng.uniform(50, 140))
    noise = float(rng.choice([0.01, 0.03, 0.06]))
    x = nk.ecg_simulate(
        duration=duration_s,
        sampling_rate=fs,
        heart_rate=hr,
        heart_rate_std=float(rng.uniform(0.5, 3)),
        noise=noise,
        random_state=seed,
    )
    gain = rng.uniform(0.6, 1.6)
    return np.asarray(gain * x + _baseline(len(x), fs, rng, rng.uniform(0, 0.2)))


def sinus_rate(seed: int, hr: float, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Sinus at a given rate, light noise: for the heart-rate accuracy test."""
    x = nk.ecg_simulate(
        duration=duration_s,
        sampling_rate=fs,
        heart_rate=hr,
        heart_rate_std=1,
        noise=0.01,
        random_state=seed,
    )
    return np.asarray(x)


def _beat(fs: int, *, vt: bool, seed: int) -> Signal:
    """One complex from ECGSYN, from 0.25 s before its R peak to 0.5 s after."""
    if vt:
        # No P wave; Q, R and S three to four times wider than ECGSYN's defaults, so
        # that the complex lasts 140–200 ms like a ventricular beat.
        widen = _rng(seed).uniform(2.8, 4.0)
        kwargs = {
            "ai": (0.0, -5.0, 30.0, -7.5, 0.75),
            "bi": (0.25, 0.1 * widen, 0.1 * widen, 0.1 * widen, 0.4),
        }
    else:
        kwargs = {"ai": (0.0, -5.0, 30.0, -7.5, 0.75)}  # AF: no P wave
    x = np.asarray(
        nk.ecg_simulate(
            duration=4,
            sampling_rate=fs,
            heart_rate=60,
            heart_rate_std=0,
            noise=0,
            random_state=seed,
            **kwargs,
        )
    )
    r = int(np.argmax(x[fs : 3 * fs])) + fs
    return np.asarray(x[r - fs // 4 : r + fs // 2] - np.median(x))


def _place(beat: Signal, rr_s: Signal, n: int, fs: int, rng: np.random.Generator) -> Signal:
    out = np.zeros(n)
    pre = fs // 4
    t = float(rng.uniform(0.1, 0.5))
    for rr in rr_s:
        r = int(t * fs)
        lo, hi = r - pre, r - pre + len(beat)
        a, b = max(lo, 0), min(hi, n)
        if a < b:
            out[a:b] += beat[a - lo : b - lo]
        t += float(rr)
        if t * fs >= n + pre:
            break
    return out


def af(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Atrial fibrillation: irregular narrow complexes at 70–160 bpm, f-waves."""
    rng = _rng(seed)
    n = int(duration_s * fs)
    mean_rr = 60.0 / rng.uniform(70, 160)
    cv = rng.uniform(0.12, 0.30)
    rr = np.clip(rng.normal(mean_rr, cv * mean_rr, size=64), 0.28, 2.0)
    x = _place(_beat(fs, vt=False, seed=seed), rr, n, fs, rng) * rng.uniform(0.6, 1.5)
    t = np.arange(n) / fs
    f_wave = rng.uniform(0.02, 0.08) * np.sin(
        2 * np.pi * rng.uniform(4, 9) * t + np.cumsum(rng.normal(0, 0.05, n))
    )
    noise = rng.normal(0, rng.choice([0.005, 0.015, 0.03]), n)
    return np.asarray(x + f_wave + noise + _baseline(n, fs, rng, rng.uniform(0, 0.2)))


def vt(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Monomorphic ventricular tachycardia: wide regular complexes at 130–230 bpm."""
    rng = _rng(seed)
    n = int(duration_s * fs)
    mean_rr = 60.0 / rng.uniform(130, 230)
    rr = rng.normal(mean_rr, 0.02 * mean_rr, size=64)
    x = _place(_beat(fs, vt=True, seed=seed), rr, n, fs, rng) * rng.uniform(0.6, 1.5)
    noise = rng.normal(0, rng.choice([0.005, 0.015, 0.03]), n)
    return np.asarray(x + noise + _baseline(n, fs, rng, rng.uniform(0, 0.2)))


def vf(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Ventricular fibrillation: a chaotic 3.5–7 Hz oscillation, 0.2–1.2 mV."""
    rng = _rng(seed)
    n = int(duration_s * fs)
    f0 = rng.uniform(3.5, 7.0)
    # The instantaneous frequency wanders ±25 % around f0 (a slow random walk), and
    # the amplitude waxes and wanes: no two "complexes" alike.
    walk = np.cumsum(rng.normal(0, 1, n))
    walk = (walk - walk.mean()) / (np.abs(walk - walk.mean()).max() + 1e-9)
    freq = f0 * (1 + 0.25 * walk)
    phase = 2 * np.pi * np.cumsum(freq) / fs
    env_walk = np.convolve(rng.normal(0, 1, n), np.ones(fs) / fs, mode="same")
    env = 1 + 0.5 * env_walk / (np.abs(env_walk).max() + 1e-9)
    amp = rng.uniform(0.2, 1.2) / 2
    x = amp * env * (np.sin(phase) + 0.3 * np.sin(2 * phase + rng.uniform(0, 6)))
    noise = rng.normal(0, rng.choice([0.005, 0.015, 0.03]), n)
    return np.asarray(x + noise + _baseline(n, fs, rng, rng.uniform(0, 0.2)))


def asystole(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """A flat line: baseline wander, mains hum and amplifier noise only."""
    rng = _rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    hum = rng.uniform(0, 0.02) * np.sin(2 * np.pi * 50 * t)
    noise = rng.normal(0, rng.uniform(0.003, 0.012), n)
    return np.asarray(noise + hum + _baseline(n, fs, rng, rng.uniform(0, 0.3)))


def noisy(seed: int, *, fs: int = FS, duration_s: float = DURATION_S) -> Signal:
    """Sinus buried in muscle noise (broadband, 0.5–1.5 mV) and motion spikes."""
    rng = _rng(seed)
    x = sinus(seed, fs=fs, duration_s=duration_s)
    n = len(x)
    emg = rng.normal(0, rng.uniform(0.5, 1.5), n)
    spikes = np.zeros(n)
    for at in rng.integers(0, n, size=int(rng.integers(5, 20))):
        spikes[at : at + 10] += rng.normal(0, 2.0)
    return np.asarray(x + emg + spikes)


GENERATORS: dict[str, Callable[[int], Signal]] = {
    "sinus": sinus,
    "af": af,
    "vt": vt,
    "vf": vf,
    "asystole": asystole,
}

"""A simulated patient monitor: lead II ECG at 250 Hz and periodic vitals
(heart rate, SpO2, blood pressure, respiratory rate, temperature).

Synthetic data only. The ECG is a sum of Gaussian P, Q, R, S and T waves per
beat (McSharry-style), with the beat interval following the heart rate, so that
the viewer draws something a clinician recognises.

``scenario="arrest"`` plays a witnessed cardiac arrest on the monitor's own clock
(samples, not wall time): ventricular fibrillation, a defibrillator shock, a short
pause, then return of spontaneous circulation (ROSC) at a fast sinus rate with a
low blood pressure that recovers. The phases are in ``ArrestScenario``; ``phase``
says which one is playing. Vitals the monitor cannot measure during the arrest
(SpO2, blood pressure, a pulse) are sent as unknown, as a real monitor shows dashes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

Scenario = Literal["stable", "arrest"]
Phase = Literal["stable", "vf", "shock", "pause", "rosc"]

SAMPLE_RATE_HZ = 250

# (offset in the beat as a fraction of the RR interval, amplitude µV, width s)
_WAVES = (
    (0.16, 150.0, 0.025),  # P
    (0.27, -120.0, 0.010),  # Q
    (0.30, 1200.0, 0.012),  # R
    (0.33, -250.0, 0.010),  # S
    (0.55, 300.0, 0.040),  # T
)


@dataclass(frozen=True)
class ArrestScenario:
    """Seconds of each phase, from the start of the stream. Coarse VF (0.3–0.8 mV at
    4–7 Hz, the dominant frequency range of Clayton et al. 1993) until the shock; the
    shock is a 40 ms saturated artefact; after it a near-flat pause, as monitors show
    while the heart recovers; then ROSC at 118 bpm, systolic pressure from 78 mmHg
    climbing toward 110."""

    vf_s: float = 90.0
    shock_s: float = 0.04
    pause_s: float = 4.0
    rosc_hr: float = 118.0
    rosc_bp_sys: float = 78.0
    rosc_bp_sys_target: float = 110.0

    def phase_at(self, t: float) -> Phase:
        if t < self.vf_s:
            return "vf"
        if t < self.vf_s + self.shock_s:
            return "shock"
        if t < self.vf_s + self.shock_s + self.pause_s:
            return "pause"
        return "rosc"


@dataclass
class Vitals:
    hr: int | None
    spo2: int | None
    bp_sys: int | None
    bp_dia: int | None
    rr: int | None
    temp_c: float

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            "hr": self.hr,
            "spo2": self.spo2,
            "bp_sys": self.bp_sys,
            "bp_dia": self.bp_dia,
            "rr": self.rr,
            "temp_c": self.temp_c,
        }


@dataclass
class SimulatedMonitor:
    hr: float = 88.0
    spo2: float = 96.0
    bp_sys: float = 132.0
    bp_dia: float = 84.0
    rr: float = 18.0
    temp_c: float = 36.9
    sample_rate_hz: int = SAMPLE_RATE_HZ
    seed: int | None = None
    scenario: Scenario = "stable"
    arrest: ArrestScenario = field(default_factory=ArrestScenario)
    _rng: random.Random = field(init=False)
    _phase: float = field(init=False, default=0.0)
    _samples: int = field(init=False, default=0)
    _vf_phase: float = field(init=False, default=0.0)
    _rosc_started: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def phase(self) -> Phase:
        """What the monitor plays now (``stable`` outside the arrest scenario)."""
        if self.scenario != "arrest":
            return "stable"
        return self.arrest.phase_at(self._samples / self.sample_rate_hz)

    def ecg(self, n: int) -> list[int]:
        """The next ``n`` samples in microvolts."""
        out: list[int] = []
        dt = 1.0 / self.sample_rate_hz
        for _ in range(n):
            phase = self.phase
            if phase != "stable" and phase != "rosc":
                out.append(self._arrest_sample(phase, self._samples * dt, dt))
                self._samples += 1
                continue
            if phase == "rosc" and not self._rosc_started:
                self._start_rosc()
            rr_s = 60.0 / max(self.hr, 20.0)
            t_in_beat = self._phase * rr_s
            v = 0.0
            for offset, amp, width in _WAVES:
                centre = offset * rr_s
                d = t_in_beat - centre
                v += amp * math.exp(-(d * d) / (2 * width * width))
            # Baseline wander with breathing and a little noise.
            t = self._samples * dt
            v += 40.0 * math.sin(2 * math.pi * (self.rr / 60.0) * t) + self._rng.gauss(0, 8)
            out.append(round(v))
            self._phase += dt / rr_s
            if self._phase >= 1.0:
                self._phase -= 1.0
            self._samples += 1
        return out

    def _arrest_sample(self, phase: Phase, t: float, dt: float) -> int:
        if phase == "shock":
            return 5000  # the amplifier saturates for the shock's few milliseconds
        if phase == "pause":
            return round(self._rng.gauss(0, 15))
        # VF: a wave whose frequency wanders between 4 and 7 Hz and whose amplitude
        # waxes and wanes, never repeating itself exactly.
        freq = 5.5 + 1.2 * math.sin(2 * math.pi * 0.23 * t) + 0.3 * math.sin(2 * math.pi * 1.7 * t)
        self._vf_phase += 2 * math.pi * freq * dt
        amp = 280.0 + 120.0 * math.sin(2 * math.pi * 0.17 * t + 1.0)
        v = amp * math.sin(self._vf_phase) + 0.25 * amp * math.sin(2.1 * self._vf_phase + 0.7)
        return round(v + self._rng.gauss(0, 10))

    def _start_rosc(self) -> None:
        self._rosc_started = True
        self._phase = 0.0
        self.hr = self.arrest.rosc_hr
        self.bp_sys = self.arrest.rosc_bp_sys
        self.bp_dia = self.arrest.rosc_bp_sys * 0.62
        self.spo2 = 86.0
        self.rr = 10.0

    def vitals(self) -> Vitals:
        """A new reading; values drift slowly like a real patient's."""
        phase = self.phase
        if phase in ("vf", "shock", "pause"):
            # No pulse, no pressure, no saturation a monitor could read; the crew
            # ventilates with a bag at 10 a minute.
            return Vitals(
                hr=None, spo2=None, bp_sys=None, bp_dia=None, rr=10, temp_c=round(self.temp_c, 1)
            )
        if phase == "rosc":
            # The circulation recovers: pressure and saturation climb toward their
            # targets, the rate settles a little.
            self.bp_sys += (self.arrest.rosc_bp_sys_target - self.bp_sys) * 0.08
            self.bp_dia = self.bp_sys * 0.62
            self.spo2 += (95.0 - self.spo2) * 0.1
            self.hr += (100.0 - self.hr) * 0.03
        r = self._rng
        self.hr = _clamp(self.hr + r.gauss(0, 1.2), 45, 160)
        self.spo2 = _clamp(self.spo2 + r.gauss(0, 0.3), 85, 100)
        self.bp_sys = _clamp(self.bp_sys + r.gauss(0, 1.5), 80, 200)
        self.bp_dia = _clamp(self.bp_dia + r.gauss(0, 1.0), 45, min(120, self.bp_sys - 20))
        self.rr = _clamp(self.rr + r.gauss(0, 0.4), 8, 35)
        self.temp_c = _clamp(self.temp_c + r.gauss(0, 0.02), 35.0, 40.5)
        return Vitals(
            hr=round(self.hr),
            spo2=round(self.spo2),
            bp_sys=round(self.bp_sys),
            bp_dia=round(self.bp_dia),
            rr=round(self.rr),
            temp_c=round(self.temp_c, 1),
        )


def _clamp(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))

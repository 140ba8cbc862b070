"""A simulated patient monitor: lead II ECG at 250 Hz and periodic vitals
(heart rate, SpO2, blood pressure, respiratory rate, temperature).

Synthetic data only. The ECG is a sum of Gaussian P, Q, R, S and T waves per
beat (McSharry-style), with the beat interval following the heart rate, so that
the viewer draws something a clinician recognises.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

SAMPLE_RATE_HZ = 250

# (offset in the beat as a fraction of the RR interval, amplitude µV, width s)
_WAVES = (
    (0.16, 150.0, 0.025),  # P
    (0.27, -120.0, 0.010),  # Q
    (0.30, 1200.0, 0.012),  # R
    (0.33, -250.0, 0.010),  # S
    (0.55, 300.0, 0.040),  # T
)


@dataclass
class Vitals:
    hr: int
    spo2: int
    bp_sys: int
    bp_dia: int
    rr: int
    temp_c: float

    def as_dict(self) -> dict[str, int | float]:
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
    _rng: random.Random = field(init=False)
    _phase: float = field(init=False, default=0.0)
    _samples: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def ecg(self, n: int) -> list[int]:
        """The next ``n`` samples in microvolts."""
        out: list[int] = []
        dt = 1.0 / self.sample_rate_hz
        for _ in range(n):
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

    def vitals(self) -> Vitals:
        """A new reading; values drift slowly like a real patient's."""
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

"""Early warning from the monitor's readings: NEWS2, the shock index, their trend.

NEWS2 is the Royal College of Physicians' National Early Warning Score 2 (RCP 2017),
chart 2 and the SpO2 scale 1. The tablet's reading (``ems_contracts.vitals.
VitalsPayload``) carries heart rate, SpO2, blood pressure, respiratory rate and
temperature; level of consciousness (AVPU) and supplemental oxygen are not in it,
so the caller passes them when the crew recorded them. Without them the score
assumes what RCP's chart scores 0 (alert, breathing air) and says so in
``assumptions``; a missing measurement is listed in ``missing`` and scores nothing,
so a partial score is never mistaken for a full one.

The shock index is heart rate over systolic pressure (Allgöwer and Burri 1967);
normal is 0.5–0.7, ≥ 1.0 goes with hypovolaemic shock and the need for transfusion.

``VitalsMonitor`` keeps one transport's last readings and raises an alert only when
the patient crosses into a worse state, so the crew is not told the same thing at
every reading. Decision support, never a diagnosis.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ems.analysis.ecg import DECISION_SUPPORT
from ems_contracts.vitals import VitalsPayload

# RCP 2017: a total of 5–6 is the "key threshold for urgent response", ≥ 7 an
# emergency response; a single parameter scoring 3 ("red score") also asks for an
# urgent review.
NEWS2_URGENT = 5
NEWS2_EMERGENCY = 7
RED_SCORE = 3
SHOCK_INDEX_HIGH = 1.0
# "Rising": the shock index at least 0.1 above the lowest of the readings kept, a
# change larger than the reading-to-reading noise of HR/SBP on a moving ambulance
# (±3 bpm, ±5 mmHg around 100/110 gives ±0.06).
SHOCK_INDEX_RISE = 0.1
TREND_READINGS = 5


class Consciousness(enum.StrEnum):
    """AVPU; NEWS2 scores new confusion like V, P or U (the "C" of ACVPU)."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


@dataclass(frozen=True)
class News2:
    total: int
    scores: dict[str, int]  # parameter → 0..3
    missing: tuple[str, ...]  # parameters not measured: scored nothing
    assumptions: tuple[str, ...]  # e.g. "on_air_assumed"

    @property
    def red_parameters(self) -> tuple[str, ...]:
        return tuple(name for name, score in self.scores.items() if score >= RED_SCORE)

    @property
    def risk(self) -> str:
        """RCP 2017 clinical risk: low, low-medium (a red score), medium, high."""
        if self.total >= NEWS2_EMERGENCY:
            return "high"
        if self.total >= NEWS2_URGENT:
            return "medium"
        return "low-medium" if self.red_parameters else "low"


@dataclass(frozen=True)
class Alert:
    """A deterioration: ``reason`` for machines, ``values`` for the doctor."""

    reason: str  # news2_urgent, news2_emergency, news2_red_parameter, shock_index_rising
    message: str
    values: dict[str, Any]
    label: str = DECISION_SUPPORT


@dataclass(frozen=True)
class VitalsAssessment:
    news2: News2
    shock_index: float | None
    news2_trend: tuple[int, ...]  # oldest first, this reading last
    shock_index_trend: tuple[float | None, ...]
    alerts: tuple[Alert, ...] = ()
    label: str = DECISION_SUPPORT

    def as_dict(self) -> dict[str, Any]:
        return {
            "news2": self.news2.total,
            "news2_risk": self.news2.risk,
            "news2_scores": self.news2.scores,
            "news2_missing": list(self.news2.missing),
            "news2_assumptions": list(self.news2.assumptions),
            "shock_index": None if self.shock_index is None else round(self.shock_index, 2),
            "news2_trend": list(self.news2_trend),
            "shock_index_trend": [
                None if s is None else round(s, 2) for s in self.shock_index_trend
            ],
            "alerts": [
                {"reason": a.reason, "message": a.message, "values": a.values} for a in self.alerts
            ],
            "label": self.label,
        }


def _respiration(rr: int) -> int:
    if rr <= 8:
        return 3
    if rr <= 11:
        return 1
    if rr <= 20:
        return 0
    return 2 if rr <= 24 else 3


def _spo2_scale1(spo2: int) -> int:
    if spo2 <= 91:
        return 3
    if spo2 <= 93:
        return 2
    return 1 if spo2 <= 95 else 0


def _systolic(sbp: int) -> int:
    if sbp <= 90:
        return 3
    if sbp <= 100:
        return 2
    if sbp <= 110:
        return 1
    return 0 if sbp <= 219 else 3


def _pulse(hr: int) -> int:
    if hr <= 40:
        return 3
    if hr <= 50:
        return 1
    if hr <= 90:
        return 0
    if hr <= 110:
        return 1
    return 2 if hr <= 130 else 3


def _temperature(t: float) -> int:
    # The chart's bands are in tenths of a degree: 35.0 scores 3, 35.1 scores 1.
    t = round(t, 1)
    if t <= 35.0:
        return 3
    if t <= 36.0:
        return 1
    if t <= 38.0:
        return 0
    return 1 if t <= 39.0 else 2


def news2(
    reading: VitalsPayload,
    *,
    consciousness: Consciousness | None = None,
    on_oxygen: bool | None = None,
) -> News2:
    """NEWS2 of one reading (SpO2 scale 1; scale 2 is for confirmed hypercapnic
    respiratory failure, which the crew cannot know from the monitor)."""
    scores: dict[str, int] = {}
    missing: list[str] = []
    assumptions: list[str] = []
    measured: list[tuple[str, int | float | None, Any]] = [
        ("respiration_rate", reading.rr, _respiration),
        ("spo2", reading.spo2, _spo2_scale1),
        ("systolic_bp", reading.bp_sys, _systolic),
        ("pulse", reading.hr, _pulse),
        ("temperature", reading.temp_c, _temperature),
    ]
    for name, value, score in measured:
        if value is None:
            missing.append(name)
        else:
            scores[name] = int(score(value))
    if on_oxygen is None:
        assumptions.append("on_air_assumed")
    scores["supplemental_oxygen"] = 2 if on_oxygen else 0
    if consciousness is None:
        assumptions.append("alert_assumed")
    scores["consciousness"] = 0 if consciousness in (None, Consciousness.ALERT) else RED_SCORE
    return News2(
        total=sum(scores.values()),
        scores=scores,
        missing=tuple(missing),
        assumptions=tuple(assumptions),
    )


def shock_index(reading: VitalsPayload) -> float | None:
    """HR / systolic BP, or None without both (or with a systolic of 0)."""
    if reading.hr is None or not reading.bp_sys:
        return None
    return reading.hr / reading.bp_sys


@dataclass
class VitalsMonitor:
    """One transport's recent readings and the alerts they raise."""

    keep: int = TREND_READINGS
    _news2: deque[News2] = field(init=False)
    _si: deque[float | None] = field(init=False)

    def __post_init__(self) -> None:
        if self.keep < 2:
            raise ValueError("a trend needs at least two readings")
        self._news2 = deque(maxlen=self.keep)
        self._si = deque(maxlen=self.keep)

    def feed(
        self,
        reading: VitalsPayload,
        *,
        consciousness: Consciousness | None = None,
        on_oxygen: bool | None = None,
    ) -> VitalsAssessment:
        score = news2(reading, consciousness=consciousness, on_oxygen=on_oxygen)
        si = shock_index(reading)
        previous = self._news2[-1] if self._news2 else None
        earlier_si = [s for s in self._si if s is not None]
        self._news2.append(score)
        self._si.append(si)
        alerts = [*_news2_alerts(score, previous), *_shock_alerts(si, earlier_si)]
        return VitalsAssessment(
            news2=score,
            shock_index=si,
            news2_trend=tuple(s.total for s in self._news2),
            shock_index_trend=tuple(self._si),
            alerts=tuple(alerts),
        )


def _news2_alerts(score: News2, previous: News2 | None) -> list[Alert]:
    alerts: list[Alert] = []
    before = previous.total if previous else None
    for threshold, reason, what in (
        (NEWS2_EMERGENCY, "news2_emergency", "emergency response threshold"),
        (NEWS2_URGENT, "news2_urgent", "urgent response threshold"),
    ):
        # The first reading of a transport counts as a crossing: nobody was told yet.
        if score.total >= threshold and (before is None or before < threshold):
            alerts.append(
                Alert(
                    reason=reason,
                    message=f"NEWS2 {score.total} reached the {what} ({threshold})",
                    values={"news2": score.total, "previous": before, "threshold": threshold},
                )
            )
            break  # the emergency alert says everything the urgent one would
    old_red = set(previous.red_parameters) if previous else set()
    new_red = [p for p in score.red_parameters if p not in old_red]
    if new_red:
        alerts.append(
            Alert(
                reason="news2_red_parameter",
                message=f"NEWS2 single parameter scored 3: {', '.join(new_red)}",
                values={"parameters": new_red, "news2": score.total},
            )
        )
    return alerts


def _shock_alerts(si: float | None, earlier: list[float]) -> list[Alert]:
    if si is None or si < SHOCK_INDEX_HIGH or not earlier:
        return []
    lowest = min(earlier)
    crossed = earlier[-1] < SHOCK_INDEX_HIGH
    rising = si - lowest >= SHOCK_INDEX_RISE
    # Alert when it crosses 1.0 while rising, or keeps rising by another step above it.
    if not rising or not (crossed or si - earlier[-1] >= SHOCK_INDEX_RISE / 2):
        return []
    return [
        Alert(
            reason="shock_index_rising",
            message=f"shock index {si:.2f} (≥ {SHOCK_INDEX_HIGH}) and rising from {lowest:.2f}",
            values={
                "shock_index": round(si, 2),
                "lowest_recent": round(lowest, 2),
                "threshold": SHOCK_INDEX_HIGH,
            },
        )
    ]

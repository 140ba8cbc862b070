"""Why a unit or hospital is recommended, excluded or needed: stable codes with parameters.

Pages translate a reason by its ``code`` (``reason.<code>`` in the ja/en dictionaries)
and fill in its ``params``; ``text`` is an English rendering for logs and API users
who read JSON by eye. Never branch on ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# code → English template over the parameters.
TEMPLATES: dict[str, str] = {
    # units
    "rank": "rank {n} by ETA",
    "available_since": "available since {time}",
    "straight_line": "ETA is a straight-line estimate (no road data)",
    # ranked hospitals
    "capability_match": "treats {capabilities}",
    "beds_available": "{available} free {category} beds",
    "beds_unknown": "no {category} figure reported",
    "beds_stale": "{category} figure expired, treated as unknown",
    "partial_diversion": "other categories diverted",
    "below_preferred_level": "{level} preferred",
    "level": "level {level}",
    "acceptance_probability": "acceptance probability {p}",
    # excluded hospitals
    "already_asked": "already asked for this patient",
    "lacks_capability": "lacks {capabilities}",
    "closed_to_ambulances": "closed to ambulances",
    "category_diverted": "{category} diverted",
    "no_bed": "{category} full",
    "unreachable": "cannot be reached",
    # the patient's needs
    "suspected_condition": "suspected {condition}",
    "no_specific_pathway": "suspected {condition} (no specific pathway)",
    "child": "child ({age} y)",
    "critical_icu": "critical: intensive care bed",
    "critical_tertiary": "critical: tertiary centre preferred",
}

CODES = frozenset(TEMPLATES)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise ValueError(f"unknown reason code {self.code!r}")

    @property
    def text(self) -> str:
        shown = {k: ", ".join(v) if isinstance(v, list) else v for k, v in self.params.items()}
        return TEMPLATES[self.code].format(**shown)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "text": self.text}


def reason(code: str, **params: Any) -> Reason:
    return Reason(code, params)

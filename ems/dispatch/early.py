"""Early requests ("ask ahead"): which calls are time-critical enough that the likely
hospitals are asked from the call's information while the unit drives, and the crew
confirms or withdraws on scene.

Pure: the dispatcher console, the hospital-request service and the simulation ask
the same function, so the product and the simulated lever cover the same calls.
"""

from __future__ import annotations

# Suspected conditions where minutes decide the outcome and a specialist team must be
# ready on arrival: stroke, STEMI, cardiac arrest, major trauma. Both the call-taker's
# vocabulary (``ems.incidents.models.Condition``) and the ranking's (``needs``) are
# listed, so a call recorded either way is recognised.
TIME_CRITICAL: frozenset[str] = frozenset(
    {"cardiac_arrest", "chest_pain_stemi", "stemi", "stroke", "major_trauma"}
)


def _norm(condition: str | None) -> str:
    return (condition or "").strip().lower().replace(" ", "_").replace("-", "_")


def is_time_critical(condition: str | None) -> bool:
    """May this call be asked ahead? Decided by its suspected condition alone."""
    return _norm(condition) in TIME_CRITICAL

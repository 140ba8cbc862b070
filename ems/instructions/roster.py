"""Who answers for a unit now: the medical-control duty roster.

A roster line names an MC doctor for one unit, or for every unit (no unit), for a
time window, at position 1 (alerted first) or 2 (alerted when position 1 has not
answered in time). Where no line covers a unit now, every MC doctor on duty
answers for it: nobody's request goes unheard for want of a roster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ems.instructions.models import McDuty


@dataclass(frozen=True)
class OnCall:
    """The doctors on the roster for a unit now; empty tuples mean "every MC doctor"."""

    first: frozenset[int] = frozenset()
    fallback: frozenset[int] = frozenset()

    @property
    def rostered(self) -> bool:
        return bool(self.first or self.fallback)

    @property
    def everyone(self) -> frozenset[int] | None:
        """Who may see and answer: the roster's doctors, or None for every MC doctor."""
        return (self.first | self.fallback) if self.rostered else None


def on_call(*, session: Session, unit_id: int, now: dt.datetime) -> OnCall:
    rows = session.execute(
        select(McDuty.doctor_id, McDuty.position).where(
            or_(McDuty.unit_id == unit_id, McDuty.unit_id.is_(None)),
            McDuty.starts_at <= now,
            McDuty.ends_at > now,
        )
    ).all()
    first = frozenset(d for d, pos in rows if pos <= 1)
    fallback = frozenset(d for d, pos in rows if pos > 1) - first
    if not first and fallback:  # only fallbacks on the roster: they are the first
        return OnCall(first=fallback)
    return OnCall(first=first, fallback=fallback)

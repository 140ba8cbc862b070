"""Demo data for dispatch: a seeded history of past transports and their hospital
requests, so that the acceptance model has something to learn from on a fresh demo
database.

Runs after the region's hospitals and units exist. The history is synthetic and
closed: incidents and completed transports of the past 60 days (never today, Japan
time, so that "today's figures" are today's), each with every FDMA interval stamped
from the 119 call to the handover, with life-like durations, and the rounds of
requests it took; hospitals accept less often at night and tertiary centres more
often for serious patients. Nothing seeded is a current patient anywhere.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ems.db import utcnow
from ems.dispatch.acceptance import JST, local_hour
from ems.dispatch.needs import derive_needs
from ems.dispatch.routing import straight_line_s
from ems.fleet.models import Station, Unit
from ems.hospital_requests.models import DeclineReason, HospitalRequest, RequestStatus
from ems.hospitals.models import Hospital
from ems.incidents.models import Incident, IncidentStatus, Urgency
from ems.transports.models import Transport, TransportStatus

HISTORY_DAYS = 60
TRANSPORTS = 240
# Calls of the history come in before this hour of their day (Japan time), so that
# even the longest seeded transport ended well before midnight.
LAST_CALL_HOUR = 21
# And at least this long ago: older than the ER board's "current" window (6 h by default).
MIN_AGE = dt.timedelta(hours=12)
_CASES = (
    ("critical", "cardiac_arrest", "心肺停止"),
    ("serious", "stroke", "右半身麻痺"),
    ("serious", "stemi", "胸痛"),
    ("moderate", "fall", "転倒、腰痛"),
    ("moderate", "respiratory", "呼吸苦"),
    ("minor", "fever", "発熱"),
)
_DECLINES = (DeclineReason.BEDS_FULL, DeclineReason.IN_SURGERY, DeclineReason.NO_SPECIALIST)


def _minutes(rng: random.Random, lo: float, hi: float) -> dt.timedelta:
    return dt.timedelta(minutes=rng.uniform(lo, hi))


def past_call_time(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A call time on one of the ``HISTORY_DAYS`` days before today (Japan time)."""
    midnight = now.astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    day = midnight - dt.timedelta(days=rng.randint(1, HISTORY_DAYS))
    at = day + dt.timedelta(seconds=rng.randint(0, LAST_CALL_HOUR * 3600 - 1))
    if at > now - MIN_AGE:
        at -= dt.timedelta(days=1)
    return at.astimezone(dt.UTC)


def seed(*, session: Session, config: Any = None, count: int = TRANSPORTS) -> int:
    """Create the history; returns how many requests were written (0 if one exists)."""
    if session.scalar(select(func.count()).select_from(HospitalRequest)):
        return 0
    hospitals = list(session.scalars(select(Hospital).order_by(Hospital.id)).all())
    units = list(session.scalars(select(Unit).order_by(Unit.id)).all())
    if not hospitals or not units:
        return 0
    stations = {s.id: s for s in session.scalars(select(Station)).all()}
    rng = random.Random(119)
    now = utcnow()
    written = 0
    for _ in range(count):
        urgency, condition, complaint = rng.choice(_CASES)
        at = past_call_time(rng, now)
        unit = rng.choice(units)
        home = stations.get(unit.station_id)
        base = (home.lat, home.lon) if home is not None else (unit.lat, unit.lon)
        age = rng.randint(20, 95)
        inc = Incident(
            received_at=at,
            lat=base[0] + rng.uniform(-0.04, 0.04),
            lon=base[1] + rng.uniform(-0.04, 0.04),
            chief_complaint=complaint,
            suspected_condition=condition,
            urgency=Urgency(urgency),
            patient_age=age,
            status=IncidentStatus.CLOSED,
        )
        session.add(inc)
        session.flush()
        needs = derive_needs(urgency=urgency, suspected_condition=condition, age=age)
        candidates = [
            h for h in hospitals if needs.required_capabilities <= set(h.capabilities or ())
        ] or hospitals
        candidates.sort(key=lambda h: (h.lat - inc.lat) ** 2 + (h.lon - inc.lon) ** 2)
        # Life-like stages (FDMA, departments under 700,000 people).
        dispatched = at + _minutes(rng, 0.7, 2.0)
        arrived_scene = dispatched + dt.timedelta(
            seconds=60 + straight_line_s(base, (inc.lat, inc.lon)) * rng.uniform(0.9, 1.3)
        )
        contact = arrived_scene + _minutes(rng, 0.5, 2.5)
        loaded = contact + _minutes(rng, 4.0, 11.0)
        transport = Transport(
            incident_id=inc.id,
            unit_id=unit.id,
            status=TransportStatus.COMPLETED,
            call_received_at=at,
            dispatched_at=dispatched,
            arrived_scene_at=arrived_scene,
            patient_contact_at=contact,
            loaded_at=loaded,
            bed_category=needs.bed_category,
            created_at=at,
        )
        session.add(transport)
        session.flush()
        sent = loaded + _minutes(rng, 0.5, 2.0)
        night = not 7 <= local_hour(sent) < 22
        chosen = candidates[:6]
        for rnd, h in enumerate(chosen, start=1):
            p = 0.72 - (0.15 if night else 0.0)
            if h.level.value == "tertiary" and urgency in ("critical", "serious"):
                p += 0.15
            yes = rng.random() < p or rnd == len(chosen)
            answered = sent + _minutes(rng, 1.0, 4.0)
            session.add(
                HospitalRequest(
                    transport_id=transport.id,
                    hospital_id=h.id,
                    round=rnd,
                    status=RequestStatus.ACCEPTED if yes else RequestStatus.DECLINED,
                    bed_category=needs.bed_category,
                    sent_at=sent,
                    responded_at=answered,
                    decline_reason=None if yes else rng.choice(_DECLINES),
                )
            )
            written += 1
            sent = answered + _minutes(rng, 0.2, 1.0)
            if yes:
                departed = answered + _minutes(rng, 0.5, 2.0)
                arrived = departed + dt.timedelta(
                    seconds=straight_line_s((inc.lat, inc.lon), (h.lat, h.lon))
                    * rng.uniform(0.9, 1.2)
                )
                transport.destination_hospital_id = h.id
                transport.departed_scene_at = departed
                transport.arrived_hospital_at = arrived
                transport.handover_at = arrived + _minutes(rng, 2.0, 8.0)
                break
        session.flush()
    return written

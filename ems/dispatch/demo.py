"""Demo data for dispatch: a seeded history of past hospital requests, so that the
acceptance model has something to learn from on a fresh demo database.

Runs after the region's hospitals and units exist. The history is synthetic:
closed incidents and completed transports of the past 60 days, each with the
rounds of requests it took; hospitals accept less often at night and tertiary
centres more often for serious patients.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ems.db import utcnow
from ems.dispatch.needs import derive_needs
from ems.fleet.models import Unit
from ems.hospital_requests.models import DeclineReason, HospitalRequest, RequestStatus
from ems.hospitals.models import Hospital
from ems.incidents.models import Incident, IncidentStatus, Urgency
from ems.transports.models import Transport, TransportStatus

HISTORY_DAYS = 60
TRANSPORTS = 240
_CASES = (
    ("critical", "cardiac_arrest", "心肺停止"),
    ("serious", "stroke", "右半身麻痺"),
    ("serious", "stemi", "胸痛"),
    ("moderate", "fall", "転倒、腰痛"),
    ("moderate", "respiratory", "呼吸苦"),
    ("minor", "fever", "発熱"),
)


def seed(*, session: Session, config: Any = None, count: int = TRANSPORTS) -> int:
    """Create the history; returns how many requests were written (0 if one exists)."""
    if session.scalar(select(func.count()).select_from(HospitalRequest)):
        return 0
    hospitals = list(session.scalars(select(Hospital).order_by(Hospital.id)).all())
    units = list(session.scalars(select(Unit).order_by(Unit.id)).all())
    if not hospitals or not units:
        return 0
    rng = random.Random(119)
    now = utcnow()
    written = 0
    for _ in range(count):
        urgency, condition, complaint = rng.choice(_CASES)
        at = now - dt.timedelta(minutes=rng.randint(60, HISTORY_DAYS * 24 * 60))
        unit = rng.choice(units)
        age = rng.randint(20, 95)
        inc = Incident(
            received_at=at,
            lat=unit.lat + rng.uniform(-0.05, 0.05),
            lon=unit.lon + rng.uniform(-0.05, 0.05),
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
        transport = Transport(
            incident_id=inc.id,
            unit_id=unit.id,
            status=TransportStatus.COMPLETED,
            call_received_at=at,
            dispatched_at=at + dt.timedelta(minutes=1),
            bed_category=needs.bed_category,
        )
        session.add(transport)
        session.flush()
        sent = at + dt.timedelta(minutes=rng.randint(15, 25))
        hour = (sent.hour + 9) % 24
        night = hour >= 22 or hour < 7
        for rnd, h in enumerate(candidates[:6], start=1):
            p = 0.72 - (0.15 if night else 0.0)
            if h.level.value == "tertiary" and urgency in ("critical", "serious"):
                p += 0.15
            yes = rng.random() < p or rnd == len(candidates[:6])
            session.add(
                HospitalRequest(
                    transport_id=transport.id,
                    hospital_id=h.id,
                    round=rnd,
                    status=RequestStatus.ACCEPTED if yes else RequestStatus.DECLINED,
                    bed_category=needs.bed_category,
                    sent_at=sent,
                    responded_at=sent + dt.timedelta(minutes=rng.randint(1, 4)),
                    decline_reason=None
                    if yes
                    else rng.choice(
                        [
                            DeclineReason.BEDS_FULL,
                            DeclineReason.IN_SURGERY,
                            DeclineReason.NO_SPECIALIST,
                        ]
                    ),
                )
            )
            written += 1
            sent += dt.timedelta(minutes=4)
            if yes:
                transport.destination_hospital_id = h.id
                transport.arrived_hospital_at = sent + dt.timedelta(minutes=15)
                break
        session.flush()
    return written

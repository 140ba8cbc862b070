"""Hospital ranking for one transport: the patient's needs, travel times from the
unit, the learned acceptance odds and the beds, handed to the pure optimizer.

``ems.dispatch.service`` shows the ranking to the crew (hospital recommendations);
``ems.hospital_requests.service`` sends the next round of requests from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.dispatch import acceptance, optimizer
from ems.dispatch.needs import derive_needs
from ems.dispatch.routing import Router
from ems.fleet.models import Unit
from ems.hospitals.models import Hospital
from ems.incidents import service as incident_service
from ems.incidents.models import Incident
from ems.transports.models import Transport

TARGET_P = 0.9
MAX_PARALLEL = 5
ACCEPTANCE_HISTORY_DAYS = 180


def hospital_infos(*, session: Session) -> list[optimizer.HospitalInfo]:
    hospitals = session.scalars(select(Hospital).order_by(Hospital.id)).all()
    return [
        optimizer.HospitalInfo(
            id=h.id,
            name=h.name,
            lat=h.lat,
            lon=h.lon,
            level=h.level.value,
            capabilities=frozenset(h.capabilities or ()),
            diversion=h.diversion.value,
            diverted_categories=frozenset(h.diverted_categories or ()),
            diversion_until=h.diversion_until,
            beds={
                b.category.value: optimizer.BedState(b.available, b.capacity, b.expires_at)
                for b in h.beds
            },
        )
        for h in hospitals
    ]


def recommend(
    *,
    session: Session,
    transport: Transport,
    router: Router,
    now: dt.datetime,
    exclude_ids: frozenset[int] = frozenset(),
    include_unrecommended: bool = False,
) -> tuple[
    optimizer.PatientNeeds, list[optimizer.RankedHospital], list[optimizer.ExcludedHospital]
]:
    inc = incident_service.get(session=session, incident_id=transport.incident_id)
    unit = session.get(Unit, transport.unit_id)
    origin = (unit.lat, unit.lon) if unit is not None else (inc.lat, inc.lon)
    return _rank(
        session=session,
        inc=inc,
        origin=origin,
        router=router,
        now=now,
        exclude_ids=exclude_ids,
        include_unrecommended=include_unrecommended,
    )


def recommend_from_call(
    *,
    session: Session,
    incident: Incident,
    router: Router,
    now: dt.datetime,
    exclude_ids: frozenset[int] = frozenset(),
) -> tuple[
    optimizer.PatientNeeds, list[optimizer.RankedHospital], list[optimizer.ExcludedHospital]
]:
    """The ranking from the call's own information (place, urgency, suspected
    condition, age), travel measured from the scene: what an early request asks
    before the crew has seen the patient."""
    return _rank(
        session=session,
        inc=incident,
        origin=(incident.lat, incident.lon),
        router=router,
        now=now,
        exclude_ids=exclude_ids,
    )


def _rank(
    *,
    session: Session,
    inc: Incident,
    origin: tuple[float, float],
    router: Router,
    now: dt.datetime,
    exclude_ids: frozenset[int] = frozenset(),
    include_unrecommended: bool = False,
) -> tuple[
    optimizer.PatientNeeds, list[optimizer.RankedHospital], list[optimizer.ExcludedHospital]
]:
    needs = derive_needs(
        urgency=inc.urgency.value,
        suspected_condition=inc.suspected_condition,
        age=inc.patient_age,
    )
    hospitals = hospital_infos(session=session)
    row = router.matrix([origin], [(h.lat, h.lon) for h in hospitals])[0] if hospitals else []
    travel = {h.id: t for h, t in zip(hospitals, row, strict=True)}
    model = acceptance.load_model(
        session=session, since=now - dt.timedelta(days=ACCEPTANCE_HISTORY_DAYS)
    )
    hour = acceptance.local_hour(now)
    probs = {h.id: model.p(h.id, needs.bed_category, hour) for h in hospitals}
    ranked, excluded = optimizer.rank_hospitals(
        needs=needs,
        hospitals=hospitals,
        travel=travel,
        acceptance=probs,
        now=now,
        exclude_ids=exclude_ids,
        include_unrecommended=include_unrecommended,
    )
    return needs, ranked, excluded


def next_round(ranked: Sequence[optimizer.RankedHospital]) -> list[optimizer.RankedHospital]:
    """The hospitals to ask at once (the optimizer's ``select_round`` at this
    server's target probability and cap), among the recommended ones only."""
    recommended = [r for r in ranked if r.recommended]
    return optimizer.select_round(recommended, target=TARGET_P, cap=MAX_PARALLEL)


def p_at_least_one(ranked: Sequence[optimizer.RankedHospital]) -> float:
    none = 1.0
    for r in ranked:
        none *= 1.0 - r.acceptance_p
    return round(1.0 - none, 3)

"""Dispatch services: unit recommendation and assignment, hospital recommendations
for a transport, and mass-casualty allocation.

The services read the database, ask the router for travel times and hand plain
data to the pure optimizer (the hospital ranking itself is ``ems.dispatch.ranking``).
They never commit; the request does. The requests sent to hospitals, and their
answers, are ``ems.hospital_requests``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit.service import record
from ems.auth.models import User
from ems.db import utcnow
from ems.dispatch import mci, optimizer, ranking
from ems.dispatch.reasons import Reason, reason
from ems.dispatch.routing import Router
from ems.dispatch.schemas import (
    AssignmentPlanRead,
    AssignmentRead,
    ExcludedHospitalRead,
    HospitalRecommendationsRead,
    MciAllocationRead,
    MciCreate,
    MciRead,
    RankedHospitalRead,
    ReasonRead,
    RecommendationScope,
    UnitRecommendationRead,
)
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.fleet.models import Unit, UnitStatus
from ems.hospital_requests import service as hospital_requests
from ems.hospitals.models import Hospital
from ems.incidents import service as incident_service
from ems.incidents.models import Incident, IncidentStatus
from ems.transports import flows as transport_flows
from ems.transports import service as transports

# --- units ------------------------------------------------------------------------------


def _available_units(session: Session) -> list[Unit]:
    return list(
        session.scalars(
            select(Unit).where(Unit.status == UnitStatus.AVAILABLE).order_by(Unit.id)
        ).all()
    )


def unit_recommendations(
    *, session: Session, incident_id: int, router: Router, actor: User, limit: int = 10
) -> list[UnitRecommendationRead]:
    inc = incident_service.get(session=session, incident_id=incident_id)
    units = _available_units(session)
    if not units:
        return []
    row = router.matrix([(inc.lat, inc.lon)], [(u.lat, u.lon) for u in units])[0]
    pairs = sorted(
        zip(units, row, strict=True),
        key=lambda p: (p[1].seconds if p[1].seconds is not None else 1e12, p[0].id),
    )
    out = []
    for rank, (u, t) in enumerate(pairs[:limit], start=1):
        if t.seconds is None:
            continue
        reasons = [reason("rank", n=rank), reason("available_since", time=u.status_at.isoformat())]
        if t.source == "straight_line":
            reasons.append(reason("straight_line"))
        out.append(
            UnitRecommendationRead(
                unit_id=u.id,
                call_sign=u.call_sign,
                eta_s=round(t.seconds),
                source=t.source,
                reasons=_reasons(reasons),
            )
        )
    record(
        session=session,
        actor=actor,
        action="dispatch.unit_recommendations",
        target_type="incident",
        target_id=str(incident_id),
        detail={"units": len(out)},
    )
    return out


def assign_pending(
    *, session: Session, router: Router, actor: User, ctx: Context, apply: bool = False
) -> AssignmentPlanRead:
    """OR-Tools assignment of every pending incident to the available units:
    response time first, coverage of the rest of the region second."""
    incidents = list(
        session.scalars(
            select(Incident)
            .where(Incident.status == IncidentStatus.PENDING)
            .order_by(Incident.received_at, Incident.id)
        ).all()
    )
    units = _available_units(session)
    if not incidents or not units:
        return AssignmentPlanRead(
            assignments=[],
            unassigned=[i.id for i in incidents],
            weighted_response_s=0,
            coverage_loss=0,
            applied=False,
        )
    unit_pts = [(u.lat, u.lon) for u in units]
    matrix = router.matrix([(i.lat, i.lon) for i in incidents], unit_pts)
    eta = [[t.seconds for t in row] for row in matrix]
    # Coverage is judged at the hospitals and stations: where the next calls come from.
    demand = [(h.lat, h.lon) for h in session.scalars(select(Hospital)).all()] or unit_pts
    unit_to_demand = router.matrix(unit_pts, demand)
    penalties = optimizer.coverage_penalties(
        [[t.seconds or optimizer.UNREACHABLE_S for t in row] for row in unit_to_demand],
        [1.0] * len(demand),
    )
    plan = optimizer.assign_units(
        incident_ids=[i.id for i in incidents],
        urgencies=[i.urgency.value for i in incidents],
        unit_ids=[u.id for u in units],
        eta_s=eta,
        coverage_penalty=penalties,
    )
    by_unit = {u.id: (k, u) for k, u in enumerate(units)}
    by_inc = {i.id: (k, i) for k, i in enumerate(incidents)}
    rows = []
    for a in plan.assignments:
        ui, unit = by_unit[a.unit_id]
        ii, inc = by_inc[a.incident_id]
        rows.append(
            AssignmentRead(
                incident_id=a.incident_id,
                unit_id=a.unit_id,
                call_sign=unit.call_sign,
                eta_s=a.eta_s,
                source=matrix[ii][ui].source,
                urgency=inc.urgency.value,
            )
        )
    applied = False
    if apply:
        # The same use case as a dispatcher's click: audit entries, and the events that
        # tell the consoles and each crew's tablet it was sent.
        for a in plan.assignments:
            transport_flows.dispatch_unit(
                session=session,
                actor=actor,
                ctx=ctx,
                incident_id=a.incident_id,
                unit_id=a.unit_id,
            )
        applied = True
    record(
        session=session,
        actor=actor,
        action="dispatch.assign_pending",
        detail={
            "assignments": [[a.incident_id, a.unit_id] for a in plan.assignments],
            "applied": applied,
        },
    )
    emit(
        Event(
            "dispatch.plan",
            {"assignments": [r.model_dump() for r in rows], "applied": applied},
            roles=("dispatcher", "admin"),
        )
    )
    return AssignmentPlanRead(
        assignments=rows,
        unassigned=list(plan.unassigned),
        weighted_response_s=plan.weighted_response_s,
        coverage_loss=plan.coverage_loss,
        applied=applied,
    )


# --- hospitals ---------------------------------------------------------------------------


def hospital_recommendations(
    *,
    session: Session,
    transport_id: int,
    router: Router,
    actor: User,
    ctx: Context,
    scope: RecommendationScope = "recommended",
) -> HospitalRecommendationsRead:
    """The hospitals to ask for this patient, best first; with ``scope="all"`` every
    hospital open to ambulances and reachable, the recommended ones first (flagged),
    for a crew or dispatcher choosing the destination by hand."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_READ, ctx=ctx, transport=transport
    )
    now = utcnow()
    asked = hospital_requests.asked_hospitals(session, transport.id)
    needs, ranked, excluded = ranking.recommend(
        session=session,
        transport=transport,
        router=router,
        now=now,
        exclude_ids=asked,
        include_unrecommended=scope == "all",
    )
    suggested = ranking.next_round(ranked)
    record(
        session=session,
        actor=actor,
        action="dispatch.hospital_recommendations",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"scope": scope},
    )
    return HospitalRecommendationsRead(
        transport_id=transport.id,
        scope=scope,
        destination_needed=hospital_requests.destination_needed(session, transport),
        bed_category=needs.bed_category,
        required_capabilities=sorted(needs.required_capabilities),
        needs=_reasons(needs.reasons),
        hospitals=[_ranked_read(r) for r in ranked],
        excluded=[
            ExcludedHospitalRead(
                hospital_id=e.hospital_id, name=e.name, reasons=_reasons(e.reasons)
            )
            for e in excluded
        ],
        suggested=[r.hospital_id for r in suggested],
        p_at_least_one=ranking.p_at_least_one(suggested),
    )


def _reasons(reasons: Sequence[Reason]) -> list[ReasonRead]:
    return [ReasonRead(code=r.code, params=dict(r.params), text=r.text) for r in reasons]


def _ranked_read(r: optimizer.RankedHospital) -> RankedHospitalRead:
    return RankedHospitalRead(
        hospital_id=r.hospital_id,
        name=r.name,
        eta_s=r.eta_s,
        eta_min=max(1, round(r.eta_s / 60)),
        source=r.travel_source,
        score_s=r.score_s,
        bed_status=r.bed_status,
        beds_available=r.beds_available,
        acceptance_p=r.acceptance_p,
        reasons=_reasons(r.reasons),
        recommended=r.recommended,
    )


# --- mass casualty -------------------------------------------------------------------------


def mass_casualty(*, session: Session, body: MciCreate, router: Router, actor: User) -> MciRead:
    now = utcnow()
    infos = ranking.hospital_infos(session=session)
    if body.hospital_ids is not None:
        wanted = set(body.hospital_ids)
        infos = [h for h in infos if h.id in wanted]
        missing = wanted - {h.id for h in infos}
        if missing:
            raise NotFound(f"no hospital with id {sorted(missing)}", code="hospital_not_found")
    infos = [h for h in infos if not (h.diversion_active(now) and h.diversion != "open")]
    if not infos:
        raise Conflict("no hospital is open to ambulances", code="no_candidates")
    ids = [h.id for h in infos]
    for pid, hid in body.locked.items():
        if hid not in ids:
            raise ValidationFailed(
                f"locked patient {pid} points at hospital {hid}, which is not in the plan",
                code="locked_hospital_unknown",
            )
    known_patients = {p.id for p in body.patients}
    if len(known_patients) != len(body.patients):
        raise ValidationFailed("patient ids must be unique", code="duplicate_patient")
    capacity: dict[int, dict[str, int]] = {}
    for h in infos:
        if body.surge is not None and h.id in body.surge:
            capacity[h.id] = {c: max(0, n) for c, n in body.surge[h.id].items()}
        else:
            fresh = {c: b.available for c, b in h.beds.items() if b.fresh(now)}
            caps = {c: b.capacity for c, b in h.beds.items()}
            capacity[h.id] = mci.default_surge(level=h.level, fresh_beds=fresh, capacity=caps)
    patients = [mci.MciPatient(p.id, p.triage, p.lat, p.lon) for p in body.patients]
    matrix = router.matrix([(p.lat, p.lon) for p in patients], [(h.lat, h.lon) for h in infos])
    plan = mci.allocate(
        patients=patients,
        hospital_ids=ids,
        capacity=capacity,
        time_s=[[t.seconds for t in row] for row in matrix],
        locked=body.locked,
    )
    p_index = {p.id: i for i, p in enumerate(patients)}
    h_index = {hid: j for j, hid in enumerate(ids)}
    allocations = [
        MciAllocationRead(
            patient_id=a.patient_id,
            triage=a.triage,
            hospital_id=a.hospital_id,
            eta_s=a.eta_s,
            source=matrix[p_index[a.patient_id]][h_index[a.hospital_id]].source,
            locked=a.locked,
        )
        for a in plan.allocations
    ]
    record(
        session=session,
        actor=actor,
        action="dispatch.mci",
        detail={
            "patients": len(patients),
            "hospitals": len(ids),
            "unallocated": len(plan.unallocated),
        },
    )
    result = MciRead(
        allocations=allocations,
        unallocated=list(plan.unallocated),
        not_transported=list(plan.not_transported),
        capacity=capacity,
        load={h: dict(v) for h, v in plan.load.items()},
        weighted_time_s=plan.weighted_time_s,
        optimal=plan.optimal,
    )
    emit(
        Event(
            "mci.allocated",
            {"patients": len(patients), "unallocated": len(plan.unallocated)},
            roles=("dispatcher", "admin"),
        )
    )
    return result

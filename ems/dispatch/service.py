"""Dispatch services: unit recommendation and assignment, hospital selection, the
hospital-request lifecycle (parallel rounds, first accept wins, re-plan on decline)
and mass-casualty allocation.

The services read the database, ask the router for travel times and hand plain
data to the pure optimizer. They never commit; the request does. The accept path
claims the transport and the bed with conditional UPDATEs, so that two concurrent
accepts can never both win, and a bed count can never go below zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.models import TransportCrew
from ems.access.policy import Action
from ems.audit.service import record
from ems.auth.models import Role, User
from ems.db import utcnow
from ems.dispatch import acceptance, mci, optimizer
from ems.dispatch.needs import derive_needs
from ems.dispatch.reasons import Reason, reason
from ems.dispatch.routing import Router
from ems.dispatch.schemas import (
    AcceptRead,
    AssignmentPlanRead,
    AssignmentRead,
    DeclineRead,
    ExcludedHospitalRead,
    HospitalRecommendationsRead,
    HospitalRequestRead,
    MciAllocationRead,
    MciCreate,
    MciRead,
    RankedHospitalRead,
    ReasonRead,
    RequestRoundRead,
    UnitRecommendationRead,
)
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.fleet import service as fleet
from ems.fleet.models import Unit, UnitStatus
from ems.hospitals import service as hospitals
from ems.hospitals.models import Hospital
from ems.incidents import service as incident_service
from ems.incidents.models import Incident, IncidentStatus
from ems.transports import flows as transport_flows
from ems.transports import service as transports
from ems.transports.models import (
    DeclineReason,
    HospitalRequest,
    RequestStatus,
    Transport,
    TransportStatus,
)

TARGET_P = 0.9
MAX_PARALLEL = 5
ACCEPTANCE_HISTORY_DAYS = 180
CREW_ROLES = ("paramedic", "dispatcher", "admin")


# --- reading the world ------------------------------------------------------------------


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


def _get_request(session: Session, request_id: int) -> HospitalRequest:
    r = session.get(HospitalRequest, request_id)
    if r is None:
        raise NotFound(f"hospital request {request_id} does not exist", code="request_not_found")
    return r


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
                source=t.source,  # type: ignore[arg-type]
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
                source=matrix[ii][ui].source,  # type: ignore[arg-type]
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


def _recommend(
    *,
    session: Session,
    transport: Transport,
    router: Router,
    now: dt.datetime,
    exclude_ids: frozenset[int] = frozenset(),
) -> tuple[
    optimizer.PatientNeeds, list[optimizer.RankedHospital], list[optimizer.ExcludedHospital]
]:
    inc = incident_service.get(session=session, incident_id=transport.incident_id)
    unit = session.get(Unit, transport.unit_id)
    origin = (unit.lat, unit.lon) if unit is not None else (inc.lat, inc.lon)
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
    )
    return needs, ranked, excluded


def _p_any(ranked: Sequence[optimizer.RankedHospital]) -> float:
    none = 1.0
    for r in ranked:
        none *= 1.0 - r.acceptance_p
    return round(1.0 - none, 3)


def hospital_recommendations(
    *, session: Session, transport_id: int, router: Router, actor: User, ctx: Context
) -> HospitalRecommendationsRead:
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_READ, ctx=ctx, transport=transport
    )
    now = utcnow()
    asked = _asked_hospitals(session, transport.id)
    needs, ranked, excluded = _recommend(
        session=session, transport=transport, router=router, now=now, exclude_ids=asked
    )
    suggested = optimizer.select_round(ranked, target=TARGET_P, cap=MAX_PARALLEL)
    record(
        session=session,
        actor=actor,
        action="dispatch.hospital_recommendations",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
    )
    return HospitalRecommendationsRead(
        transport_id=transport.id,
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
        p_at_least_one=_p_any(suggested),
    )


def _reasons(reasons: Sequence[Reason]) -> list[ReasonRead]:
    return [ReasonRead(code=r.code, params=dict(r.params), text=r.text) for r in reasons]


def _ranked_read(r: optimizer.RankedHospital) -> RankedHospitalRead:
    return RankedHospitalRead(
        hospital_id=r.hospital_id,
        name=r.name,
        eta_s=r.eta_s,
        source=r.travel_source,  # type: ignore[arg-type]
        score_s=r.score_s,
        bed_status=r.bed_status,  # type: ignore[arg-type]
        beds_available=r.beds_available,
        acceptance_p=r.acceptance_p,
        reasons=_reasons(r.reasons),
    )


def _asked_hospitals(session: Session, transport_id: int) -> frozenset[int]:
    return frozenset(
        session.scalars(
            select(HospitalRequest.hospital_id).where(HospitalRequest.transport_id == transport_id)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class PatientGlance:
    """What the ER needs at a glance to answer a request, without further calls."""

    urgency: str | None = None
    chief_complaint: str = ""
    suspected_condition: str = ""
    patient_age: int | None = None
    patient_sex: str = ""
    unit_id: int | None = None
    unit_call_sign: str = ""


def patient_glances(session: Session, transport_ids: Sequence[int]) -> dict[int, PatientGlance]:
    """One query for every transport's call and unit."""
    if not transport_ids:
        return {}
    rows = session.execute(
        select(
            Transport.id,
            Transport.unit_id,
            Unit.call_sign,
            Incident.urgency,
            Incident.chief_complaint,
            Incident.suspected_condition,
            Incident.patient_age,
            Incident.patient_sex,
        )
        .join(Incident, Incident.id == Transport.incident_id)
        .outerjoin(Unit, Unit.id == Transport.unit_id)
        .where(Transport.id.in_(sorted(set(transport_ids))))
    ).all()
    return {
        tid: PatientGlance(
            urgency=urgency.value if urgency is not None else None,
            chief_complaint=complaint or "",
            suspected_condition=condition or "",
            patient_age=age,
            patient_sex=sex or "",
            unit_id=unit_id,
            unit_call_sign=call_sign or "",
        )
        for tid, unit_id, call_sign, urgency, complaint, condition, age, sex in rows
    }


def request_read(
    req: HospitalRequest,
    names: dict[int, str] | None = None,
    glances: dict[int, PatientGlance] | None = None,
) -> HospitalRequestRead:
    name = (names or {}).get(req.hospital_id, "")
    glance = (glances or {}).get(req.transport_id) or PatientGlance()
    return HospitalRequestRead(
        id=req.id,
        transport_id=req.transport_id,
        hospital_id=req.hospital_id,
        hospital_name=name,
        round=req.round,
        status=req.status,
        bed_category=req.bed_category,
        eta_s=req.eta_s,
        sent_at=req.sent_at,
        responded_at=req.responded_at,
        decline_reason=req.decline_reason,
        note=req.note,
        urgency=glance.urgency,
        chief_complaint=glance.chief_complaint,
        suspected_condition=glance.suspected_condition,
        patient_age=glance.patient_age,
        patient_sex=glance.patient_sex,
        unit_id=glance.unit_id,
        unit_call_sign=glance.unit_call_sign,
    )


def _reads(session: Session, reqs: Sequence[HospitalRequest]) -> list[HospitalRequestRead]:
    names = _names(session, sorted({r.hospital_id for r in reqs}))
    glances = patient_glances(session, [r.transport_id for r in reqs])
    return [request_read(r, names, glances) for r in reqs]


def _names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Hospital.id, Hospital.name).where(Hospital.id.in_(ids))).all()
    return {i: n for i, n in rows}


def _open_requests(session: Session, transport_id: int) -> list[HospitalRequest]:
    return list(
        session.scalars(
            select(HospitalRequest)
            .where(
                HospitalRequest.transport_id == transport_id,
                HospitalRequest.status == RequestStatus.SENT,
            )
            .order_by(HospitalRequest.id)
        ).all()
    )


def _check_placeable(transport: Transport) -> None:
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict("the transport is no longer active", code="transport_closed")
    if transport.destination_hospital_id is not None:
        raise Conflict("a hospital has already accepted this patient", code="already_placed")


def open_round(
    *,
    session: Session,
    transport_id: int,
    router: Router,
    actor: User,
    ctx: Context,
    hospital_ids: Sequence[int] | None = None,
    k: int | None = None,
) -> RequestRoundRead:
    """Send acceptance requests to several hospitals at once."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    _check_placeable(transport)
    if _open_requests(session, transport.id):
        raise Conflict(
            "requests of this transport are still open; wait for their answers",
            code="round_open",
        )
    result = _send_round(
        session=session,
        transport=transport,
        router=router,
        actor=actor,
        hospital_ids=hospital_ids,
        k=k,
    )
    if result is None:
        raise Conflict("no hospital left to ask for this patient", code="no_candidates")
    return result


def _send_round(
    *,
    session: Session,
    transport: Transport,
    router: Router,
    actor: User | None,
    hospital_ids: Sequence[int] | None = None,
    k: int | None = None,
) -> RequestRoundRead | None:
    now = utcnow()
    asked = _asked_hospitals(session, transport.id)
    needs, ranked, excluded = _recommend(
        session=session,
        transport=transport,
        router=router,
        now=now,
        exclude_ids=asked if hospital_ids is None else frozenset(),
    )
    if hospital_ids is not None:
        wanted = list(dict.fromkeys(hospital_ids))
        known = set(session.scalars(select(Hospital.id).where(Hospital.id.in_(wanted))).all())
        unknown = [h for h in wanted if h not in known]
        if unknown:
            raise NotFound(f"no hospital with id {unknown}", code="hospital_not_found")
        by_id = {r.hospital_id: r for r in ranked}
        why = {e.hospital_id: e.reasons for e in excluded}
        blocked = {h: [x.as_dict() for x in why.get(h, ())] for h in wanted if h not in by_id}
        if blocked:
            raise Conflict(
                "some of the chosen hospitals cannot take this patient now",
                code="hospital_excluded",
                extra={"excluded": {str(h): r for h, r in blocked.items()}},
            )
        chosen = [by_id[h] for h in wanted]
    elif k is not None:
        chosen = ranked[:k]
    else:
        chosen = optimizer.select_round(ranked, target=TARGET_P, cap=MAX_PARALLEL)
    if not chosen:
        return None
    round_no = (
        session.scalar(
            select(HospitalRequest.round)
            .where(HospitalRequest.transport_id == transport.id)
            .order_by(HospitalRequest.round.desc())
            .limit(1)
        )
        or 0
    ) + 1
    reqs = []
    for r in chosen:
        req = HospitalRequest(
            transport_id=transport.id,
            hospital_id=r.hospital_id,
            round=round_no,
            status=RequestStatus.SENT,
            bed_category=needs.bed_category,
            sent_at=now,
            eta_s=r.eta_s,
            sent_by=actor.id if actor else None,
        )
        session.add(req)
        reqs.append(req)
    session.flush()
    reads = _reads(session, reqs)
    for q in reads:
        emit(
            Event(
                "request.created",
                {
                    **q.model_dump(mode="json"),
                    "required_capabilities": sorted(needs.required_capabilities),
                },
                roles=("er_staff",),
                hospital_id=q.hospital_id,
            )
        )
    emit(
        Event(
            "request.round",
            {"transport_id": transport.id, "round": round_no, "requests": [q.id for q in reads]},
            roles=CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    record(
        session=session,
        actor=actor,
        action="hospital_request.open_round",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"round": round_no, "hospitals": [r.hospital_id for r in chosen]},
    )
    return RequestRoundRead(
        transport_id=transport.id, round=round_no, requests=reads, p_at_least_one=_p_any(chosen)
    )


def list_requests(
    *,
    session: Session,
    user: User,
    ctx: Context,
    status: RequestStatus | None = None,
    transport_id: int | None = None,
) -> list[HospitalRequestRead]:
    stmt = select(HospitalRequest).order_by(HospitalRequest.id)
    if status is not None:
        stmt = stmt.where(HospitalRequest.status == status)
    if transport_id is not None:
        stmt = stmt.where(HospitalRequest.transport_id == transport_id)
    if user.role is Role.ER_STAFF:
        stmt = stmt.where(HospitalRequest.hospital_id == (user.hospital_id or -1))
    elif user.role is Role.PARAMEDIC:
        stmt = stmt.join(Transport, Transport.id == HospitalRequest.transport_id).where(
            or_(
                Transport.unit_id == (user.unit_id or -1),
                exists().where(
                    TransportCrew.transport_id == Transport.id, TransportCrew.user_id == user.id
                ),
            )
        )
    candidates = list(session.scalars(stmt.limit(1000)).all())
    reqs = guard.visible_requests(session=session, actor=user, ctx=ctx, requests=candidates)
    reads = _reads(session, reqs)
    if reads:
        # The list carries what callers said about patients (complaint, age, sex).
        record(
            session=session,
            actor=user,
            action="hospital_request.list",
            detail={"transports": sorted({r.transport_id for r in reads})[:100]},
        )
    return reads


def accept(*, session: Session, request_id: int, actor: User, ctx: Context) -> AcceptRead:
    """First accept wins: claim the transport, then a bed, in one transaction."""
    req = _get_request(session, request_id)
    guard.require(session=session, actor=actor, action=Action.REQUEST_ANSWER, ctx=ctx, request=req)
    if req.status is not RequestStatus.SENT:
        code = "already_placed" if req.status is RequestStatus.CANCELLED else "request_closed"
        raise Conflict(f"the request is {req.status.value}", code=code)
    now = utcnow()
    claimed = session.execute(
        update(Transport)
        .where(
            Transport.id == req.transport_id,
            Transport.destination_hospital_id.is_(None),
            Transport.status == TransportStatus.ACTIVE,
        )
        .values(destination_hospital_id=req.hospital_id, bed_category=req.bed_category)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("another hospital has already accepted this patient", code="already_placed")
    # A hospital that says yes knows its beds better than an expired figure: a stale
    # or missing figure does not block the accept, it is recorded (``bed_status``).
    claim = hospitals.claim_bed(
        session=session,
        hospital_id=req.hospital_id,
        category=req.bed_category,
        allow_unknown=True,
    )
    bed_status = claim.status.value
    req.status = RequestStatus.ACCEPTED
    req.responded_at = now
    req.responded_by = actor.id
    others = [o for o in _open_requests(session, req.transport_id) if o.id != req.id]
    for o in others:
        o.status = RequestStatus.CANCELLED
        o.responded_at = now
    session.flush()
    transport = transports.get(session=session, transport_id=req.transport_id)
    session.refresh(transport)
    # The destination is set: the crew, dispatchers, the hospital and the stream relay
    # (which cuts viewers who lost the right) learn it at once.
    transports.announce(transport)
    fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    (read,) = _reads(session, [req])
    record(
        session=session,
        actor=actor,
        action="hospital_request.accept",
        target_type="hospital_request",
        target_id=str(req.id),
        patient_id=transport.patient_id,
        detail={
            "transport_id": req.transport_id,
            "hospital_id": req.hospital_id,
            "bed_status": bed_status,
            "cancelled": [o.id for o in others],
        },
    )
    emit(
        Event(
            "request.accepted",
            {**read.model_dump(mode="json"), "bed_status": bed_status},
            roles=CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    for o in others:
        emit(
            Event(
                "request.cancelled",
                {"id": o.id, "transport_id": o.transport_id, "reason": "accepted_elsewhere"},
                roles=("er_staff",),
                hospital_id=o.hospital_id,
            )
        )
    return AcceptRead(
        request=read,
        transport_id=req.transport_id,
        destination_hospital_id=req.hospital_id,
        bed_status=bed_status,  # type: ignore[arg-type]
        cancelled_request_ids=[o.id for o in others],
    )


def decline(
    *,
    session: Session,
    request_id: int,
    actor: User,
    ctx: Context,
    reason: DeclineReason,
    note: str,
    router: Router,
) -> DeclineRead:
    """Record the refusal; when it was the round's last open request, send the next round."""
    req = _get_request(session, request_id)
    guard.require(session=session, actor=actor, action=Action.REQUEST_ANSWER, ctx=ctx, request=req)
    if req.status is not RequestStatus.SENT:
        raise Conflict(f"the request is {req.status.value}", code="request_closed")
    now = utcnow()
    req.status = RequestStatus.DECLINED
    req.decline_reason = reason
    req.note = note
    req.responded_at = now
    req.responded_by = actor.id
    session.flush()
    transport = transports.get(session=session, transport_id=req.transport_id)
    (read,) = _reads(session, [req])
    record(
        session=session,
        actor=actor,
        action="hospital_request.decline",
        target_type="hospital_request",
        target_id=str(req.id),
        patient_id=transport.patient_id,
        detail={"transport_id": transport.id, "reason": reason.value},
    )
    emit(
        Event(
            "request.declined",
            read.model_dump(mode="json"),
            roles=CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    next_round = None
    exhausted = False
    if (
        transport.destination_hospital_id is None
        and transport.status is TransportStatus.ACTIVE
        and not _open_requests(session, transport.id)
    ):
        next_round = _send_round(session=session, transport=transport, router=router, actor=None)
        if next_round is None:
            exhausted = True
            emit(
                Event(
                    "request.exhausted",
                    {"transport_id": transport.id},
                    roles=CREW_ROLES,
                    unit_id=transport.unit_id,
                )
            )
    return DeclineRead(request=read, next_round=next_round, exhausted=exhausted)


# --- mass casualty -------------------------------------------------------------------------


def mass_casualty(*, session: Session, body: MciCreate, router: Router, actor: User) -> MciRead:
    now = utcnow()
    infos = hospital_infos(session=session)
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
            source=matrix[p_index[a.patient_id]][h_index[a.hospital_id]].source,  # type: ignore[arg-type]
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

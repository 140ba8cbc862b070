"""The hospital-request lifecycle: parallel rounds, first accept wins, re-plan on decline.

Each use case is whole: check access, change the rows, write the audit entry, emit
the events. The hospitals of a round come from the dispatcher's ranking
(``ems.dispatch.ranking``). The services never commit; the request does. The accept
path claims the transport and the bed with conditional UPDATEs, so that two
concurrent accepts can never both win, and a bed count can never go below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.models import TransportCrew
from ems.access.policy import Action
from ems.audit.service import record
from ems.auth.models import Role, User
from ems.db import claim_row, utcnow
from ems.dispatch import ranking
from ems.dispatch.routing import Router
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.fleet import service as fleet
from ems.fleet.models import Unit
from ems.hospital_requests.models import (
    DeclineReason,
    EarlyOutcome,
    HospitalRequest,
    RequestStatus,
)
from ems.hospital_requests.schemas import (
    AcceptRead,
    DeclineRead,
    HospitalRequestRead,
    RequestRoundRead,
)
from ems.hospitals import service as hospitals
from ems.hospitals.models import Hospital
from ems.incidents.models import Incident
from ems.transports import service as transports
from ems.transports.models import Transport, TransportStatus

CREW_ROLES = ("paramedic", "dispatcher", "admin")


def _get_request(session: Session, request_id: int) -> HospitalRequest:
    r = session.get(HospitalRequest, request_id)
    if r is None:
        raise NotFound(f"hospital request {request_id} does not exist", code="request_not_found")
    return r


def _not_withdrawn() -> ColumnElement[bool]:
    """A request the crew withdrew as a wrong early guess never counted as an ask: the
    hospital may be asked again, and it is no refusal."""
    return or_(
        HospitalRequest.early_outcome.is_(None),
        HospitalRequest.early_outcome != EarlyOutcome.WITHDRAWN,
    )


def asked_hospitals(session: Session, transport_id: int) -> frozenset[int]:
    """Every hospital already asked about this transport, in any round."""
    return frozenset(
        session.scalars(
            select(HospitalRequest.hospital_id).where(
                HospitalRequest.transport_id == transport_id, _not_withdrawn()
            )
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
        early=bool(req.early),
        early_outcome=req.early_outcome,
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


def destination_needed(session: Session, transport: Transport) -> bool:
    """No dead end goes unnoticed: the transport is active, has no destination, and
    every request sent about it was declined or withdrawn, none is still open. Only a
    hospital chosen by hand (``PUT /transports/{id}/destination``) moves it on."""
    if transport.status is not TransportStatus.ACTIVE or transport.destination_hospital_id:
        return False
    statuses = set(
        session.scalars(
            select(HospitalRequest.status).where(
                HospitalRequest.transport_id == transport.id, _not_withdrawn()
            )
        ).all()
    )
    return bool(statuses) and statuses <= {RequestStatus.DECLINED, RequestStatus.CANCELLED}


def announce_destination_needed(
    *, session: Session, transport: Transport, actor: User | None
) -> None:
    """Tell the dispatchers and the unit's crew that nobody is left to ask: the
    dispatcher's console raises an alert, the tablet offers every hospital by hand.
    Called once, at the answer that closed the last open request."""
    unit = session.get(Unit, transport.unit_id)
    payload = {
        "transport_id": transport.id,
        "incident_id": transport.incident_id,
        "unit_id": transport.unit_id,
        "unit_call_sign": unit.call_sign if unit is not None else "",
        "declined": sorted(asked_hospitals(session, transport.id)),
    }
    record(
        session=session,
        actor=actor,
        action="transport.destination_needed",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"asked": payload["declined"]},
    )
    emit(
        Event(
            "transport.destination_needed",
            payload,
            roles=CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )


def withdraw_open(*, session: Session, transport: Transport, reason: str) -> list[int]:
    """Withdraw the transport's open requests (the destination was chosen another way):
    each hospital asked is told at once, so that nobody answers a closed question."""
    now = utcnow()
    withdrawn = _open_requests(session, transport.id)
    for r in withdrawn:
        r.status = RequestStatus.CANCELLED
        r.responded_at = now
    session.flush()
    announce_cancelled(withdrawn, reason=reason)
    return [r.id for r in withdrawn]


def release_claimed_bed(
    *, session: Session, transport: Transport, actor: User, reason: str
) -> list[int]:
    """The patient will not come to the hospital that accepted (the crew withdrew the
    early request, the destination was changed, the transport was stood down): the bed
    its accept took off the figure is given back, audited, and every screen told.
    Returns the hospitals whose figure changed. A bed is given back at most once, and
    never once the unit has arrived at the hospital (the patient is in it)."""
    if transport.arrived_hospital_at is not None:
        return []
    claimed = session.scalars(
        select(HospitalRequest).where(
            HospitalRequest.transport_id == transport.id,
            HospitalRequest.bed_claimed.is_(True),
        )
    ).all()
    released: list[int] = []
    for r in claimed:
        r.bed_claimed = False
        left = hospitals.release_bed(
            session=session, hospital_id=r.hospital_id, category=r.bed_category
        )
        record(
            session=session,
            actor=actor,
            action="hospital.bed_released",
            target_type="hospital",
            target_id=str(r.hospital_id),
            detail={
                "transport_id": transport.id,
                "request_id": r.id,
                "category": r.bed_category,
                "reason": reason,
                "available": left,
            },
        )
        if left is not None:
            released.append(r.hospital_id)
    session.flush()
    for hospital_id in released:
        hospitals.announce(hospitals.get(session=session, hospital_id=hospital_id))
    return released


def announce_cancelled(requests: Iterable[HospitalRequest], *, reason: str) -> None:
    """Tell each hospital asked that its request is closed, and why."""
    for r in requests:
        emit(
            Event(
                "request.cancelled",
                {"id": r.id, "transport_id": r.transport_id, "reason": reason},
                roles=("er_staff",),
                hospital_id=r.hospital_id,
            )
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
    """Send acceptance requests to several hospitals at once: the ``hospital_ids``
    chosen, or the best ``k``, or (neither given) the round the ranking suggests. An
    empty choice is refused (``no_hospital_chosen``): a round asks at least one."""
    transport = transports.get(session=session, transport_id=transport_id)
    guard.require(
        session=session, actor=actor, action=Action.TRANSPORT_WRITE, ctx=ctx, transport=transport
    )
    if (hospital_ids is not None and not hospital_ids) or k == 0:
        raise ValidationFailed("choose at least one hospital to ask", code="no_hospital_chosen")
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
    early: bool = False,
) -> RequestRoundRead | None:
    """Rank, choose and send one round. ``early``: ranked from the call's place and
    information (the crew has not seen the patient yet), each ETA the unit's drive to
    the scene plus the scene to the hospital (time on scene is not known yet)."""
    now = utcnow()
    asked = asked_hospitals(session, transport.id)
    exclude = asked if hospital_ids is None else frozenset()
    to_scene_s = 0
    if early:
        incident = session.get(Incident, transport.incident_id)
        assert incident is not None  # a transport's call is never deleted
        needs, ranked, excluded = ranking.recommend_from_call(
            session=session, incident=incident, router=router, now=now, exclude_ids=exclude
        )
        to_scene_s = _to_scene_s(session=session, transport=transport, router=router)
    else:
        needs, ranked, excluded = ranking.recommend(
            session=session, transport=transport, router=router, now=now, exclude_ids=exclude
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
        chosen = ranking.next_round(ranked)
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
            eta_s=r.eta_s + to_scene_s,
            sent_by=actor.id if actor else None,
            early=early,
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
            {
                "transport_id": transport.id,
                "round": round_no,
                "requests": [q.id for q in reads],
                "early": early,
            },
            roles=CREW_ROLES,
            unit_id=transport.unit_id,
        )
    )
    record(
        session=session,
        actor=actor,
        action="hospital_request.ask_ahead" if early else "hospital_request.open_round",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"round": round_no, "hospitals": [r.hospital_id for r in chosen], "early": early},
    )
    return RequestRoundRead(
        transport_id=transport.id,
        round=round_no,
        requests=reads,
        p_at_least_one=ranking.p_at_least_one(chosen),
        early=early,
    )


def _to_scene_s(*, session: Session, transport: Transport, router: Router) -> int:
    """The unit's remaining drive to the scene (0 once it is there)."""
    if transport.arrived_scene_at is not None:
        return 0
    unit = session.get(Unit, transport.unit_id)
    incident = session.get(Incident, transport.incident_id)
    if unit is None or incident is None:
        return 0
    (row,) = router.matrix([(unit.lat, unit.lon)], [(incident.lat, incident.lon)])
    return round(row[0].seconds or 0)


def early_pending(session: Session, transport_id: int) -> bool:
    """An early round the crew has not confirmed or withdrawn yet."""
    return (
        session.scalar(
            select(HospitalRequest.id)
            .where(
                HospitalRequest.transport_id == transport_id,
                HospitalRequest.early.is_(True),
                HospitalRequest.early_outcome.is_(None),
            )
            .limit(1)
        )
        is not None
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
    if not claim_row(
        session,
        update(Transport)
        .where(
            Transport.id == req.transport_id,
            Transport.destination_hospital_id.is_(None),
            Transport.status == TransportStatus.ACTIVE,
        )
        .values(destination_hospital_id=req.hospital_id, bed_category=req.bed_category),
    ):
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
    req.bed_claimed = claim.status is hospitals.BedClaimStatus.CLAIMED
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
    emit(
        Event(
            "request.accepted",
            {**read.model_dump(mode="json"), "bed_status": bed_status},
            roles=("er_staff",),
            hospital_id=req.hospital_id,
        )
    )
    announce_cancelled(others, reason="accepted_elsewhere")
    return AcceptRead(
        request=read,
        transport_id=req.transport_id,
        destination_hospital_id=req.hospital_id,
        bed_status=bed_status,
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
    # The hospital's other ER screens drop the card at once (a colleague answered).
    emit(
        Event(
            "request.declined",
            read.model_dump(mode="json"),
            roles=("er_staff",),
            hospital_id=req.hospital_id,
        )
    )
    next_round = None
    exhausted = False
    if (
        transport.destination_hospital_id is None
        and transport.status is TransportStatus.ACTIVE
        and not _open_requests(session, transport.id)
    ):
        # Before the crew's word on scene, the next round is asked ahead too.
        next_round = _send_round(
            session=session,
            transport=transport,
            router=router,
            actor=None,
            early=early_pending(session, transport.id),
        )
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
            announce_destination_needed(session=session, transport=transport, actor=actor)
    return DeclineRead(request=read, next_round=next_round, exhausted=exhausted)


# The round and the reads, for the early-request use cases (``ask_ahead``).
send_round = _send_round
reads = _reads

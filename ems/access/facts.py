"""Loading what the rules need from the database, several objects in a few queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access.models import TransportCrew
from ems.access.policy import RequestFacts, TransportFacts
from ems.db import utcnow
from ems.hospital_requests.models import HospitalRequest, RequestStatus
from ems.instructions import roster
from ems.instructions.models import InstructionRequest
from ems.transports.models import TIMELINE, Transport, TransportEvent

# Timeline events that end a transport; their ``recorded_at`` is when the server learnt it.
ENDING_EVENTS = ("handover", "stood_down")


def transport_facts(*, session: Session, transport: Transport) -> TransportFacts:
    return many_transport_facts(session=session, transports=[transport])[transport.id]


def facts_by_id(*, session: Session, transport_ids: Sequence[int]) -> dict[int, TransportFacts]:
    """Facts of the transports that exist among ``transport_ids``."""
    if not transport_ids:
        return {}
    rows = session.scalars(select(Transport).where(Transport.id.in_(set(transport_ids)))).all()
    return many_transport_facts(session=session, transports=rows)


def many_transport_facts(
    *, session: Session, transports: Sequence[Transport]
) -> dict[int, TransportFacts]:
    if not transports:
        return {}
    ids = [t.id for t in transports]
    open_requests: dict[int, set[int]] = {i: set() for i in ids}
    for tid, hid in session.execute(
        select(HospitalRequest.transport_id, HospitalRequest.hospital_id).where(
            HospitalRequest.transport_id.in_(ids), HospitalRequest.status == RequestStatus.SENT
        )
    ):
        open_requests[tid].add(hid)
    crew: dict[int, set[int]] = {i: set() for i in ids}
    for tid, uid in session.execute(
        select(TransportCrew.transport_id, TransportCrew.user_id).where(
            TransportCrew.transport_id.in_(ids)
        )
    ):
        crew[tid].add(uid)
    ended = [t for t in transports if t.status.value != "active"]
    ended_at = _ended_at(session, ended)
    mc = _mc_doctors(session, transports)
    return {
        t.id: TransportFacts(
            transport_id=t.id,
            unit_id=t.unit_id,
            status=t.status.value,
            destination_hospital_id=t.destination_hospital_id,
            open_request_hospital_ids=frozenset(open_requests[t.id]),
            crew_user_ids=frozenset(crew[t.id]),
            patient_id=t.patient_id,
            ended_at=ended_at.get(t.id),
            incident_id=t.incident_id,
            mc_doctor_ids=mc.get(t.id, frozenset()),
        )
        for t in transports
    }


def _mc_doctors(
    session: Session, transports: Sequence[Transport]
) -> dict[int, frozenset[int] | None]:
    """The MC doctors who answer for each transport whose crew asked for an instruction
    (None: every MC doctor on duty); transports that never asked are left out."""
    asked = set(
        session.scalars(
            select(InstructionRequest.transport_id)
            .where(InstructionRequest.transport_id.in_([t.id for t in transports]))
            .distinct()
        )
    )
    now = utcnow()
    return {
        t.id: roster.on_call(session=session, unit_id=t.unit_id, now=now).everyone
        for t in transports
        if t.id in asked
    }


def _ended_at(session: Session, transports: Sequence[Transport]) -> dict[int, dt.datetime]:
    """When the server recorded each end. The recording time, not the event's own time,
    counts: a handover entered late with an earlier ``at`` must not shorten the grace.
    A call cancelled before arrival leaves no event: its last timeline step stands in."""
    if not transports:
        return {}
    out: dict[int, dt.datetime] = {}
    for tid, recorded in session.execute(
        select(TransportEvent.transport_id, TransportEvent.recorded_at).where(
            TransportEvent.transport_id.in_([t.id for t in transports]),
            TransportEvent.kind.in_(ENDING_EVENTS),
        )
    ):
        if tid not in out or recorded > out[tid]:
            out[tid] = recorded
    for t in transports:
        if t.id not in out:
            steps = [getattr(t, column) for _, column in TIMELINE]
            out[t.id] = max(s for s in steps if s is not None)
    return out


def request_facts(*, session: Session, request: HospitalRequest) -> RequestFacts:
    return many_request_facts(session=session, requests=[request])[request.id]


def many_request_facts(
    *, session: Session, requests: Sequence[HospitalRequest]
) -> dict[int, RequestFacts]:
    transports = facts_by_id(session=session, transport_ids=[r.transport_id for r in requests])
    return {
        r.id: RequestFacts(
            request_id=r.id,
            hospital_id=r.hospital_id,
            status=r.status.value,
            transport=transports[r.transport_id],
        )
        for r in requests
    }

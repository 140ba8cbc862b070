"""JSON endpoints of transports: the active list each role may see, one transport
with its FDMA timeline, recording timeline events from the tablets, setting the
destination, and today's interval figures."""

from __future__ import annotations

from flask import Blueprint, Response

from ems.api import API_PREFIX, endpoint, json_response
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.auth.service import current_user, require_on_duty
from ems.db import get_session
from ems.errors import Forbidden
from ems.fleet import service as fleet
from ems.incidents import service as incidents
from ems.transports import service
from ems.transports.models import Transport
from ems.transports.schemas import (
    DestinationUpdate,
    TimelineEventCreate,
    TimelineEventRead,
    TimelineEventResult,
    TodayStats,
    TransportQuery,
    TransportRead,
)

bp = Blueprint("transports", __name__, url_prefix=API_PREFIX)


def _guard_write(actor: User, action: str, transport: Transport, *, on_duty: bool = True) -> None:
    try:
        service.check_may_record(actor=actor, transport=transport)
        if on_duty:
            require_on_duty(actor)
    except Forbidden as err:
        audit.deny(
            actor=actor,
            action=action,
            code=err.code,
            target_type="transport",
            target_id=str(transport.id),
            patient_id=transport.patient_id,
        )
        raise


@endpoint(
    bp,
    "/transports",
    query=TransportQuery,
    response=list[TransportRead],
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF),
    summary="Transports the caller may see (dispatcher: all; crew: its own; ER: addressed to it)",
)
def list_transports(*, query: TransportQuery) -> list[TransportRead]:
    rows = service.list_visible(session=get_session(), actor=current_user(), active=query.active)
    return [service.to_read(t) for t in rows]


@endpoint(
    bp,
    "/transports/<int:transport_id>",
    response=TransportRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF),
    summary="One transport with its FDMA timeline and interval durations",
    errors=(404,),
)
def get_transport(*, transport_id: int) -> TransportRead:
    session = get_session()
    actor = current_user()
    transport = service.get(session=session, transport_id=transport_id)
    try:
        service.check_may_view(session=session, actor=actor, transport=transport)
    except Forbidden as err:
        audit.deny(
            actor=actor,
            action="transport.read",
            code=err.code,
            target_type="transport",
            target_id=str(transport_id),
        )
        raise
    audit.record(
        session=session,
        actor=actor,
        action="transport.read",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
    )
    return service.to_read(transport)


@endpoint(
    bp,
    "/transports/<int:transport_id>/events",
    method="POST",
    body=TimelineEventCreate,
    response=TimelineEventResult,
    status=201,
    roles=(Role.DISPATCHER, Role.PARAMEDIC),
    summary="Record a timeline step (exactly once per idempotency key; a replay answers 200)",
    errors=(404, 409),
)
def record_event(*, transport_id: int, body: TimelineEventCreate) -> TimelineEventResult | Response:
    session = get_session()
    actor = current_user()
    transport = service.get(session=session, transport_id=transport_id)
    # A replay of an event already on record changes nothing, so the end of a shift
    # does not strand a tablet's offline queue.
    replay = service.find_replay(
        session=session, transport=transport, kind=body.kind, key=body.idempotency_key
    )
    _guard_write(actor, "transport.event", transport, on_duty=replay is None)
    event, replayed = (
        (replay, True)
        if replay is not None
        else service.record_event(
            session=session,
            transport=transport,
            kind=body.kind,
            at=body.at,
            key=body.idempotency_key,
            data=body.data,
            actor=actor,
        )
    )
    result = TimelineEventResult(
        event=TimelineEventRead.model_validate(event),
        transport=service.to_read(transport),
        replayed=replayed,
    )
    if replayed:
        return json_response(result, 200)
    audit.record(
        session=session,
        actor=actor,
        action="transport.event",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"kind": body.kind, "at": event.at.isoformat()},
    )
    service.announce(transport)
    if body.kind in service.UNIT_FOLLOWS:
        fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    if body.kind == "handover":
        incidents.announce(session=session, incident_id=transport.incident_id)
    return result


@endpoint(
    bp,
    "/transports/<int:transport_id>/destination",
    method="PUT",
    body=DestinationUpdate,
    response=TransportRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC),
    summary="Set the destination hospital (after its acceptance, e.g. by phone)",
    errors=(404, 409),
)
def set_destination(*, transport_id: int, body: DestinationUpdate) -> TransportRead:
    session = get_session()
    actor = current_user()
    transport = service.get(session=session, transport_id=transport_id)
    _guard_write(actor, "transport.destination", transport)
    before = transport.destination_hospital_id
    service.set_destination(
        session=session,
        transport=transport,
        hospital_id=body.hospital_id,
        bed_category=body.bed_category,
    )
    audit.record(
        session=session,
        actor=actor,
        action="transport.destination",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=transport.patient_id,
        detail={"from": before, "to": transport.destination_hospital_id},
    )
    fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    return service.announce(transport)


@endpoint(
    bp,
    "/stats/today",
    response=TodayStats,
    roles=(Role.DISPATCHER,),
    summary="Today's transports (Japan time): FDMA interval means, call→hospital mean and p90",
)
def stats_today() -> TodayStats:
    return service.stats_today(session=get_session())

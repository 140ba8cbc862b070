"""JSON endpoints of transports: the active list each role may see, one transport
with its FDMA timeline, recording timeline events from the tablets, setting the
destination, and today's interval figures."""

from __future__ import annotations

from flask import Blueprint, Response

from ems.access.web import context
from ems.api import API_PREFIX, endpoint, json_response
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.transports import flows, service
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


@endpoint(
    bp,
    "/transports",
    query=TransportQuery,
    response=list[TransportRead],
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF),
    summary="Transports the caller may see (dispatcher: all; crew: its own; ER: addressed to it)",
)
def list_transports(*, query: TransportQuery) -> list[TransportRead]:
    return service.list_for(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        active=query.active,
        current_hours=query.hours if query.current else None,
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>",
    response=TransportRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF, Role.MC_DOCTOR),
    summary="One transport with its FDMA timeline and interval durations",
    errors=(404,),
)
def get_transport(*, transport_id: int) -> TransportRead:
    return service.read(
        session=get_session(), actor=current_user(), ctx=context(), transport_id=transport_id
    )


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
    result = flows.record_step(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        transport_id=transport_id,
        kind=body.kind,
        at=body.at,
        key=body.idempotency_key,
        data=body.data,
    )
    answer = TimelineEventResult(
        event=TimelineEventRead.model_validate(result.event),
        transport=service.to_read(result.transport),
        replayed=result.replayed,
    )
    return json_response(answer, 200) if result.replayed else answer


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
    return flows.change_destination(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        transport_id=transport_id,
        hospital_id=body.hospital_id,
        bed_category=body.bed_category,
    )


@endpoint(
    bp,
    "/stats/today",
    response=TodayStats,
    roles=(Role.DISPATCHER,),
    summary="Today's transports (Japan time): FDMA interval means, call→hospital mean and p90",
)
def stats_today() -> TodayStats:
    return service.stats_today(session=get_session())

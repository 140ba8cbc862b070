"""JSON endpoints of incidents (119 calls): recording a call, the pending queue,
assigning a unit, cancelling."""

from __future__ import annotations

from flask import Blueprint

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.incidents import service
from ems.incidents.schemas import AssignmentCreate, IncidentCreate, IncidentQuery, IncidentRead
from ems.transports import flows
from ems.transports.schemas import TransportRead

bp = Blueprint("incidents", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/incidents",
    method="POST",
    body=IncidentCreate,
    response=IncidentRead,
    status=201,
    roles=(Role.DISPATCHER,),
    summary="Record a 119 call",
)
def create_incident(*, body: IncidentCreate) -> IncidentRead:
    return service.record_call(
        session=get_session(), actor=current_user(), ctx=context(), data=body
    )


@endpoint(
    bp,
    "/incidents",
    query=IncidentQuery,
    response=list[IncidentRead],
    roles=(Role.DISPATCHER,),
    summary="Incidents, newest first (filter by status)",
)
def list_incidents(*, query: IncidentQuery) -> list[IncidentRead]:
    return service.list_calls(
        session=get_session(), actor=current_user(), ctx=context(), status=query.status
    )


@endpoint(
    bp,
    "/incidents/<int:incident_id>",
    response=IncidentRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF, Role.MC_DOCTOR),
    summary="One incident (a crew or hospital only for calls addressed to them)",
    errors=(404,),
)
def get_incident(*, incident_id: int) -> IncidentRead:
    return service.read_call(
        session=get_session(), actor=current_user(), ctx=context(), incident_id=incident_id
    )


@endpoint(
    bp,
    "/incidents/<int:incident_id>/cancel",
    method="POST",
    response=IncidentRead,
    roles=(Role.DISPATCHER,),
    summary="Cancel a call; a unit still on its way is freed",
    errors=(404, 409),
)
def cancel_incident(*, incident_id: int) -> IncidentRead:
    session, actor, ctx = get_session(), current_user(), context()
    flows.cancel_call(session=session, actor=actor, ctx=ctx, incident_id=incident_id)
    incident = service.get(session=session, incident_id=incident_id)
    return service.reads_for(session=session, actor=actor, ctx=ctx, incidents=[incident])[0]


@endpoint(
    bp,
    "/incidents/<int:incident_id>/assign",
    method="POST",
    body=AssignmentCreate,
    response=TransportRead,
    status=201,
    roles=(Role.DISPATCHER,),
    summary="Dispatch an available unit to a pending incident (one winner under races)",
    errors=(404, 409),
)
def assign_unit(*, incident_id: int, body: AssignmentCreate) -> TransportRead:
    return flows.dispatch_unit(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        incident_id=incident_id,
        unit_id=body.unit_id,
    )

"""JSON endpoints of incidents (119 calls): recording a call, the pending queue,
assigning a unit, cancelling."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX, endpoint
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.auth.service import current_user, require_on_duty
from ems.db import get_session
from ems.errors import Forbidden
from ems.fleet import service as fleet
from ems.incidents import service
from ems.incidents.schemas import AssignmentCreate, IncidentCreate, IncidentQuery, IncidentRead
from ems.transports import service as transports
from ems.transports.schemas import TransportRead

bp = Blueprint("incidents", __name__, url_prefix=API_PREFIX)


def _on_duty(actor: User, action: str, target_id: str) -> None:
    try:
        require_on_duty(actor)
    except Forbidden as err:
        audit.deny(
            actor=actor, action=action, code=err.code, target_type="incident", target_id=target_id
        )
        raise


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
    session = get_session()
    actor = current_user()
    _on_duty(actor, "incident.create", "")
    incident = service.create(session=session, data=body, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="incident.create",
        target_type="incident",
        target_id=str(incident.id),
    )
    return service.announce(session=session, incident_id=incident.id, kind="incident.created")


@endpoint(
    bp,
    "/incidents",
    query=IncidentQuery,
    response=list[IncidentRead],
    roles=(Role.DISPATCHER,),
    summary="Incidents, newest first (filter by status)",
)
def list_incidents(*, query: IncidentQuery) -> list[IncidentRead]:
    session = get_session()
    rows = service.list_all(session=session, status=query.status)
    # Calls hold what callers said about patients: every look is on record.
    audit.record(
        session=session,
        actor=current_user(),
        action="incident.list",
        target_type="incident",
        detail={"status": query.status.value if query.status else None, "count": len(rows)},
    )
    return service.to_read(session=session, incidents=rows)


@endpoint(
    bp,
    "/incidents/<int:incident_id>",
    response=IncidentRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF),
    summary="One incident (a crew or hospital only for calls addressed to them)",
    errors=(404,),
)
def get_incident(*, incident_id: int) -> IncidentRead:
    session = get_session()
    actor = current_user()
    incident = service.get(session=session, incident_id=incident_id)
    try:
        transports.check_may_view_incident(session=session, actor=actor, incident=incident)
    except Forbidden as err:
        audit.deny(
            actor=actor,
            action="incident.read",
            code=err.code,
            target_type="incident",
            target_id=str(incident_id),
        )
        raise
    audit.record(
        session=session,
        actor=actor,
        action="incident.read",
        target_type="incident",
        target_id=str(incident.id),
    )
    return service.to_read(session=session, incidents=[incident])[0]


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
    session = get_session()
    actor = current_user()
    incident = service.get(session=session, incident_id=incident_id)
    _on_duty(actor, "incident.cancel", str(incident_id))
    stood_down = transports.cancel_incident(session=session, incident=incident, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="incident.cancel",
        target_type="incident",
        target_id=str(incident.id),
        detail={"stood_down_transports": [t.id for t in stood_down]},
    )
    for transport in stood_down:
        transports.announce(transport)
        fleet.announce(session=session, unit=fleet.get(session=session, unit_id=transport.unit_id))
    return service.announce(session=session, incident_id=incident.id)


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
    session = get_session()
    actor = current_user()
    _on_duty(actor, "incident.assign", str(incident_id))
    transport = transports.assign(
        session=session, incident_id=incident_id, unit_id=body.unit_id, actor=actor
    )
    audit.record(
        session=session,
        actor=actor,
        action="incident.assign",
        target_type="incident",
        target_id=str(incident_id),
        detail={"unit_id": body.unit_id, "transport_id": transport.id},
    )
    service.announce(session=session, incident_id=incident_id)
    fleet.announce(session=session, unit=fleet.get(session=session, unit_id=body.unit_id))
    return transports.announce(transport)

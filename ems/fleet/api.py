"""JSON endpoints of units: the fleet board, status changes by hand, and the
positions the ambulance tablets report."""

from __future__ import annotations

from flask import Blueprint

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.fleet import service
from ems.fleet.schemas import PositionUpdate, UnitQuery, UnitRead, UnitStatusUpdate
from ems.transports import flows

bp = Blueprint("fleet", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/units",
    query=UnitQuery,
    response=list[UnitRead],
    roles=(Role.DISPATCHER, Role.PARAMEDIC),
    summary="Units with their status and last position",
)
def list_units(*, query: UnitQuery) -> list[UnitRead]:
    session = get_session()
    return service.to_read(
        session=session, units=service.list_all(session=session, status=query.status)
    )


@endpoint(
    bp,
    "/units/<int:unit_id>",
    response=UnitRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC),
    summary="One unit",
    errors=(404,),
)
def get_unit(*, unit_id: int) -> UnitRead:
    session = get_session()
    unit = service.get(session=session, unit_id=unit_id)
    return service.to_read(session=session, units=[unit])[0]


@endpoint(
    bp,
    "/units/<int:unit_id>/status",
    method="POST",
    body=UnitStatusUpdate,
    response=UnitRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC),
    summary="Change a unit's status by hand (available / out of service / stand down)",
    errors=(404, 409),
)
def set_status(*, unit_id: int, body: UnitStatusUpdate) -> UnitRead:
    session = get_session()
    unit = flows.change_unit_status(
        session=session, actor=current_user(), ctx=context(), unit_id=unit_id, to=body.status
    )
    return service.to_read(session=session, units=[unit])[0]


@endpoint(
    bp,
    "/units/<int:unit_id>/position",
    method="PUT",
    body=PositionUpdate,
    response=UnitRead,
    roles=(Role.PARAMEDIC,),
    summary="Report the unit's position (its own crew); older fixes than the last are ignored",
    errors=(404,),
)
def set_position(*, unit_id: int, body: PositionUpdate) -> UnitRead:
    session = get_session()
    unit = service.get(session=session, unit_id=unit_id)
    flows.check_acts_for_unit(
        actor=current_user(), ctx=context(), unit_id=unit.id, action="unit.position"
    )
    # A fix is operational telemetry (every few seconds from every unit), not an
    # access to patient data nor a decision: it is stored on the unit and not
    # written to the audit log, whose chain would otherwise be mostly position
    # noise and serialise every fix. Refusals above are still audited.
    if not service.update_position(
        session=session, unit=unit, lat=body.lat, lon=body.lon, at=body.at
    ):
        return service.to_read(session=session, units=[unit])[0]
    return service.announce(session=session, unit=unit)

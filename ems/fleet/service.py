"""Units (ambulances) and their status machine.

Every status change is one conditional UPDATE (``… WHERE id = :id AND status =
:expected``): when two people move the same unit at once, the database lets exactly
one of them through and the other gets a 409, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ems.db import claim_row, utcnow
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.fleet.models import UNIT_TRANSITIONS, Unit, UnitStatus
from ems.fleet.schemas import UnitRead
from ems.hospitals.schemas import DB_ID_MAX
from ems.transports.models import Transport

# Clocks on tablets drift; a report from slightly ahead of the server is accepted.
CLOCK_SKEW = dt.timedelta(minutes=1)

# Statuses the transport timeline sets; a manual change would desynchronise the two.
TIMELINE_STATUSES = frozenset(
    {UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL}
)


def get(*, session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id) if 0 < unit_id <= DB_ID_MAX else None
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist", code="unit_not_found")
    return unit


def list_all(*, session: Session, status: UnitStatus | None = None) -> Sequence[Unit]:
    query = select(Unit).order_by(Unit.id)
    if status is not None:
        query = query.where(Unit.status == status)
    return session.scalars(query).all()


def to_read(*, session: Session, units: Sequence[Unit]) -> list[UnitRead]:
    return [UnitRead.model_validate(u) for u in units]


def transition(
    *,
    session: Session,
    unit: Unit,
    to: UnitStatus,
    transport_id: int | None = None,
    lost_code: str = "unit_changed",
    now: dt.datetime | None = None,
) -> None:
    """Move a unit along its status machine, or refuse.

    ``lost_code`` is the error code when someone else moved the unit between our
    read and our write (the conditional UPDATE then matches no row).
    """
    frm = unit.status
    if to not in UNIT_TRANSITIONS[frm]:
        raise Conflict(
            f"unit {unit.call_sign} cannot go from {frm.value} to {to.value}",
            code="illegal_transition",
            extra={"from": frm.value, "to": to.value},
        )
    values: dict[str, object] = {"status": to, "status_at": now or utcnow()}
    if to in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE):
        values["current_transport_id"] = None
    if to in (UnitStatus.DISPATCHED, UnitStatus.OUT_OF_SERVICE):
        values["post_station_id"] = None  # a move-up post ends when the unit leaves it
        values["posted_at"] = None
    elif transport_id is not None:
        values["current_transport_id"] = transport_id
    if not claim_row(
        session, update(Unit).where(Unit.id == unit.id, Unit.status == frm).values(**values)
    ):
        raise Conflict(f"unit {unit.call_sign} changed meanwhile; reload", code=lost_code)
    session.refresh(unit)


def check_manual_status(*, unit: Unit, to: UnitStatus) -> None:
    """Refuse the moves that belong to assignment or to the transport timeline."""
    if to is UnitStatus.DISPATCHED:
        raise Conflict(
            "a unit is dispatched by assigning it to an incident", code="illegal_transition"
        )
    if to in TIMELINE_STATUSES or (
        unit.status is UnitStatus.AT_HOSPITAL and to is UnitStatus.AVAILABLE
    ):
        raise Conflict(
            f"{to.value} follows the transport timeline: record the event on the transport",
            code="use_timeline",
        )


def update_position(
    *, session: Session, unit: Unit, lat: float, lon: float, at: dt.datetime | None
) -> bool:
    """Store a position fix; returns False when a newer fix is already known."""
    now = utcnow()
    at = at or now
    if at > now + CLOCK_SKEW:
        raise ValidationFailed("the fix lies in the future", code="at_in_future")
    if at < unit.position_at:
        return False
    # One conditional UPDATE instead of a flush of the loaded unit: of two fixes that
    # race, the newer one wins whichever commits first, and the hottest write of the
    # API skips the unit-of-work machinery.
    if not claim_row(
        session,
        update(Unit)
        .where(Unit.id == unit.id, Unit.position_at <= at)
        .values(lat=lat, lon=lon, position_at=at),
    ):
        return False
    for name, value in (("lat", lat), ("lon", lon), ("position_at", at)):
        set_committed_value(unit, name, value)
    return True


def announce(*, session: Session, unit: Unit) -> UnitRead:
    """Tell dispatchers, the unit's crew and, once it has one, its destination hospital."""
    read = to_read(session=session, units=[unit])[0]
    transport = (
        session.get(Transport, unit.current_transport_id) if unit.current_transport_id else None
    )
    destination = transport.destination_hospital_id if transport is not None else None
    emit_to_crew(
        "unit.updated", read.model_dump(mode="json"), unit_id=unit.id, destination=destination
    )
    return read


def emit_to_crew(kind: str, data: dict[str, Any], *, unit_id: int, destination: int | None) -> None:
    """An event for dispatchers, the unit's crew and, when one is set, its destination ER."""
    roles: tuple[str, ...] = ("dispatcher", "paramedic", "admin")
    if destination is not None:
        roles += ("er_staff",)
    emit(Event(kind, data, roles=roles, unit_id=unit_id, hospital_id=destination))

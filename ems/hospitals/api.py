"""JSON endpoints of hospitals: the availability board every role reads and the
updates a hospital's own ER staff send."""

from __future__ import annotations

from flask import Blueprint

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.hospitals import service
from ems.hospitals.schemas import AvailabilityUpdate, HospitalCreate, HospitalRead

bp = Blueprint("hospitals", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/hospitals",
    response=list[HospitalRead],
    summary="Hospitals with their bed availability (stale figures flagged)",
)
def list_hospitals() -> list[HospitalRead]:
    return [service.to_read(h) for h in service.list_all(session=get_session())]


@endpoint(
    bp,
    "/hospitals/<int:hospital_id>",
    response=HospitalRead,
    summary="One hospital with its bed availability",
    errors=(404,),
)
def get_hospital(*, hospital_id: int) -> HospitalRead:
    return service.to_read(service.get(session=get_session(), hospital_id=hospital_id))


@endpoint(
    bp,
    "/hospitals",
    method="POST",
    body=HospitalCreate,
    response=HospitalRead,
    status=201,
    roles=(Role.ADMIN,),
    summary="Register a hospital",
)
def create_hospital(*, body: HospitalCreate) -> HospitalRead:
    return service.register(session=get_session(), actor=current_user(), data=body)


@endpoint(
    bp,
    "/hospitals/<int:hospital_id>/availability",
    method="PATCH",
    body=AvailabilityUpdate,
    response=HospitalRead,
    roles=(Role.ER_STAFF,),
    summary="Update bed availability and diversion (this hospital's ER staff)",
    errors=(404,),
)
def update_availability(*, hospital_id: int, body: AvailabilityUpdate) -> HospitalRead:
    return service.change_availability(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        hospital_id=hospital_id,
        data=body,
    )

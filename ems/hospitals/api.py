"""JSON endpoints of hospitals: the availability board every role reads and the
updates a hospital's own ER staff send."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX, endpoint
from ems.audit import service as audit
from ems.auth.models import Role
from ems.auth.service import current_user, require_on_duty
from ems.db import get_session
from ems.errors import Forbidden
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
    session = get_session()
    actor = current_user()
    hospital = service.create(session=session, data=body, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="hospital.create",
        target_type="hospital",
        target_id=str(hospital.id),
    )
    return service.announce(hospital)


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
    session = get_session()
    actor = current_user()
    hospital = service.get(session=session, hospital_id=hospital_id)
    try:
        service.check_may_update(actor=actor, hospital=hospital)
        require_on_duty(actor)
    except Forbidden as err:
        audit.deny(
            actor=actor,
            action="hospital.availability",
            code=err.code,
            target_type="hospital",
            target_id=str(hospital_id),
        )
        raise
    service.update_availability(session=session, hospital=hospital, data=body, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="hospital.availability",
        target_type="hospital",
        target_id=str(hospital.id),
        detail=body.model_dump(mode="json", exclude_unset=True),
    )
    return service.announce(hospital)

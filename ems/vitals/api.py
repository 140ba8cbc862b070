"""GET /api/v1/transports/<id>/vitals: the vitals and ECG stored for a transport."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX, endpoint
from ems.audit import service as audit
from ems.auth.models import Role
from ems.auth.service import current_user
from ems.db import get_session
from ems.errors import Forbidden, NotFound
from ems.vitals import service
from ems.vitals.schemas import EcgSegmentRead, TransportVitalsRead, VitalsQuery, VitalsRead

bp = Blueprint("vitals", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/transports/<int:transport_id>/vitals",
    query=VitalsQuery,
    response=TransportVitalsRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF),
    summary="Vitals (and optionally ECG) streamed from the ambulance, oldest first",
    errors=(404,),
)
def get_vitals(*, transport_id: int, query: VitalsQuery) -> TransportVitalsRead:
    session = get_session()
    user = current_user()
    access = service.load_access(session=session, transport_id=transport_id)
    if access is None:
        raise NotFound(f"transport {transport_id} does not exist", code="transport_not_found")
    if not service.may_read_record(service.Principal.of(user), access):
        audit.deny(
            actor=user,
            action="vitals.read",
            code="forbidden",
            target_type="transport",
            target_id=str(transport_id),
            patient_id=access.patient_id,
        )
        raise Forbidden("this transport's vitals are not addressed to you", code="forbidden")
    vitals = service.list_vitals(
        session=session, transport_id=transport_id, after_seq=query.after_seq, limit=query.limit
    )
    ecg = (
        service.list_ecg(
            session=session,
            transport_id=transport_id,
            after_seq=query.after_seq,
            limit=query.limit,
        )
        if query.ecg
        else []
    )
    audit.record(
        session=session,
        actor=user,
        action="vitals.read",
        target_type="transport",
        target_id=str(transport_id),
        patient_id=access.patient_id,
        detail={"vitals": len(vitals), "ecg": len(ecg)},
    )
    return TransportVitalsRead(
        transport_id=transport_id,
        vitals=[VitalsRead.model_validate(v) for v in vitals],
        ecg=[
            EcgSegmentRead(seq=s, started_at=t, sample_rate_hz=r, samples_uv=x)
            for s, t, r, x in ecg
        ],
    )

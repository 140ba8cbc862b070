"""GET /api/v1/transports/<id>/vitals: the vitals and ECG stored for a transport."""

from __future__ import annotations

from flask import Blueprint

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.vitals import service
from ems.vitals.schemas import EcgSegmentRead, TransportVitalsRead, VitalsQuery, VitalsRead

bp = Blueprint("vitals", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/transports/<int:transport_id>/vitals",
    query=VitalsQuery,
    response=TransportVitalsRead,
    roles=(Role.DISPATCHER, Role.PARAMEDIC, Role.ER_STAFF, Role.MC_DOCTOR),
    summary="Vitals (and optionally ECG) streamed from the ambulance, oldest first",
    errors=(404,),
)
def get_vitals(*, transport_id: int, query: VitalsQuery) -> TransportVitalsRead:
    vitals, ecg = service.read_for(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        transport_id=transport_id,
        after_seq=query.after_seq,
        limit=query.limit,
        ecg=query.ecg,
    )
    return TransportVitalsRead(
        transport_id=transport_id,
        vitals=[VitalsRead.model_validate(v) for v in vitals],
        ecg=[
            EcgSegmentRead(seq=s, started_at=t, sample_rate_hz=r, samples_uv=x)
            for s, t, r, x in ecg
        ],
    )

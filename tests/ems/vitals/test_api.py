"""GET /api/v1/transports/<id>/vitals and the exactly-once store behind it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from ems.hospital_requests.models import HospitalRequest, RequestStatus
from ems.vitals import service
from ems.vitals.schemas import VitalsPayload
from tests.factories import Api, make_hospital, make_transport, make_unit

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def store(app: Flask, transport_id: int, records: list[service.Record]) -> service.StoreResult:
    with app.app_context(), get_db(app).session_scope() as s:
        return service.store_records(
            session=s, transport_id=transport_id, records=records, recorded_by=None
        )


def vitals(seq: int, hr: int) -> service.VitalsRecord:
    return service.VitalsRecord(seq, T0 + dt.timedelta(seconds=seq), VitalsPayload(hr=hr, spo2=96))


def test_a_replayed_record_is_stored_once(app: Flask) -> None:
    unit = make_unit(app)
    tid = make_transport(app, unit_id=unit, destination=None)
    first = store(app, tid, [vitals(1, 80), vitals(2, 82)])
    again = store(
        app,
        tid,
        [vitals(2, 82), vitals(3, 85), service.EcgRecord(4, T0, 250, [1, -2, 3])],
    )
    assert (first.stored, first.duplicates) == ([1, 2], [])
    assert (again.stored, again.duplicates) == ([3, 4], [2])


def test_the_crew_dispatchers_and_the_destination_er_read_the_vitals(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    hospital = make_hospital(app)
    unit = make_unit(app)
    tid = make_transport(app, unit_id=unit, destination=hospital)
    store(app, tid, [vitals(1, 80), vitals(2, 90), service.EcgRecord(3, T0, 250, [5, -5])])
    for api in (
        as_role(Role.PARAMEDIC, unit_id=unit),
        as_role(Role.DISPATCHER),
        as_role(Role.ER_STAFF, hospital_id=hospital),
    ):
        resp = api.get(f"/api/v1/transports/{tid}/vitals?ecg=true")
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert [v["hr"] for v in body["vitals"]] == [80, 90]
        assert body["ecg"][0]["samples_uv"] == [5, -5]
    resp = api.get(f"/api/v1/transports/{tid}/vitals?after_seq=1")
    assert [v["seq"] for v in resp.get_json()["vitals"]] == [2]
    assert resp.get_json()["ecg"] == []
    with app.app_context(), get_db(app).session_scope() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "vitals.read")).all()
        assert len(reads) == 4 and all(r.outcome == "ok" for r in reads)


def test_an_asked_hospital_reads_while_its_request_is_open(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    asked = make_hospital(app, name="照会先病院")
    unit = make_unit(app)
    tid = make_transport(app, unit_id=unit, destination=None)
    with app.app_context(), get_db(app).session_scope() as s:
        request = HospitalRequest(
            transport_id=tid, hospital_id=asked, status=RequestStatus.SENT, bed_category="general"
        )
        s.add(request)
    er = as_role(Role.ER_STAFF, hospital_id=asked)
    assert er.get(f"/api/v1/transports/{tid}/vitals").status_code == 200
    with app.app_context(), get_db(app).session_scope() as s:
        s.scalar(select(HospitalRequest)).status = RequestStatus.DECLINED  # type: ignore[union-attr]
    resp = er.get(f"/api/v1/transports/{tid}/vitals")
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_hospital"


def test_others_are_refused_and_the_refusal_is_audited(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    hospital = make_hospital(app)
    other_hospital = make_hospital(app, name="別の病院")
    unit = make_unit(app)
    other_unit = make_unit(app, call_sign="北2")
    tid = make_transport(app, unit_id=unit, destination=hospital)
    for api, code in (
        (as_role(Role.ER_STAFF, hospital_id=other_hospital), "not_your_hospital"),
        (as_role(Role.PARAMEDIC, unit_id=other_unit), "not_your_unit"),
    ):
        resp = api.get(f"/api/v1/transports/{tid}/vitals")
        assert resp.status_code == 403 and resp.get_json()["code"] == code
    assert api.get("/api/v1/transports/999999/vitals").status_code == 404
    assert api.get(f"/api/v1/transports/{tid}/vitals?limit=0").status_code == 400
    assert api.client.get(f"/api/v1/transports/{tid}/vitals").status_code == 401
    with app.app_context(), get_db(app).session_scope() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
        assert [d.action for d in denied] == ["vitals.read", "vitals.read"]

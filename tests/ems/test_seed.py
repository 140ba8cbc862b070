"""``ems seed-demo`` on a fresh database: the demo region, its logins, and a
second run that changes nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from ems.auth.models import Role, User
from ems.cli import main
from ems.db import get_db
from ems.fleet.models import Unit
from ems.hospitals.models import BedAvailability, Hospital
from ems.seed import DEMO_PASSWORD, load_region


def test_seed_demo_on_a_fresh_database(app: Flask, db_url: str, tmp_path: Path) -> None:
    env = {
        "EMS_DATABASE_URL": db_url,
        "EMS_PKI_DIR": str(tmp_path / "pki"),
        "EMS_REGION_DIR": str(tmp_path / "region"),
        "EMS_ENV": "development",
    }
    runner = CliRunner()
    first = runner.invoke(main, ["seed-demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "dispatcher" in first.output and DEMO_PASSWORD in first.output
    # The server's seed makes no CA: the demo's cards come from the mock issuer.
    assert not (tmp_path / "pki").exists()
    assert "python -m card_issuer seed-demo" in first.output

    region = load_region()
    n_units = sum(len(s["units"]) for s in region["stations"])
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Hospital)) == len(region["hospitals"])
        assert s.scalar(select(func.count()).select_from(Unit)) == n_units
        for bed in s.scalars(select(BedAvailability)):
            assert 0 <= bed.available <= bed.capacity
            assert bed.expires_at > bed.updated_at
        roles = dict(s.execute(select(User.username, User.role)).all())
        assert roles["admin"] is Role.ADMIN
        assert roles["dispatcher2"] is Role.DISPATCHER
        assert roles[f"medic-{n_units}"] is Role.PARAMEDIC
        assert roles[f"er-{region['hospitals'][0]['key']}"] is Role.ER_STAFF
        medic = s.scalars(select(User).where(User.username == "medic-1")).one()
        assert medic.unit_id is not None
        crew = s.get(Unit, medic.unit_id)
        assert crew is not None and len(crew.crew) == 3

    # The printed password works.
    client = app.test_client()
    resp = client.post(
        "/api/v1/auth/token", json={"username": "medic-1", "password": DEMO_PASSWORD}
    )
    assert resp.status_code == 201

    second = runner.invoke(main, ["seed-demo"], env=env)
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Hospital)) == len(region["hospitals"])


def test_the_seeded_history_is_closed_and_in_the_past(app: Flask) -> None:
    """Every seeded transport was handed over, with its whole timeline, on a day
    before today (Japan time): nothing seeded is a current patient or a figure of
    today."""
    import datetime as dt

    from ems.db import utcnow
    from ems.dispatch.acceptance import JST
    from ems.seed import seed_demo
    from ems.transports.models import Transport, TransportStatus
    from ems.transports.service import COLUMN, KINDS, stats_today

    with app.app_context(), get_db(app).session_scope() as s:
        assert seed_demo(session=s).seeded
        from ems.dispatch import demo as dispatch_demo

        assert dispatch_demo.seed(session=s) > 0
    midnight = utcnow().astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context(), get_db(app).session_scope() as s:
        transports = list(s.scalars(select(Transport)))
        assert len(transports) == dispatch_demo.TRANSPORTS
        for t in transports:
            assert t.status is TransportStatus.COMPLETED
            stamps = [getattr(t, COLUMN[k]) for k in KINDS]
            assert all(stamps), (t.id, stamps)
            assert stamps == sorted(stamps), (t.id, stamps)
            assert t.destination_hospital_id is not None
            assert t.handover_at is not None and t.arrived_hospital_at is not None
            assert t.handover_at < midnight
            assert t.handover_at < utcnow() - dt.timedelta(hours=6)
            minutes = (t.arrived_hospital_at - t.call_received_at).total_seconds() / 60
            assert 10 <= minutes <= 180, (t.id, minutes)
        units = list(s.scalars(select(Unit)))
        assert all(u.current_transport_id is None for u in units)
        today = stats_today(session=s)
        assert today.transports == 0

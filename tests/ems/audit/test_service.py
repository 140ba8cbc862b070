from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from ems.audit.models import AuditEntry
from ems.audit.service import verify_chain
from ems.auth.models import Role
from ems.cli import main
from ems.db import get_db
from tests.factories import Api


def _entries(app: Flask) -> list[AuditEntry]:
    with app.app_context(), get_db(app).session_scope() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_logins_are_audited_in_an_intact_chain(app: Flask, as_role: Callable[..., Api]) -> None:
    as_role(Role.DISPATCHER)
    as_role(Role.ADMIN)
    entries = _entries(app)
    assert [e.action for e in entries] == ["auth.login", "auth.login"]
    assert entries[1].prev_hash == entries[0].hash
    with app.app_context(), get_db(app).session_scope() as s:
        report = verify_chain(session=s)
    assert report.ok and report.entries == 2


def test_editing_an_entry_is_detected(
    app: Flask, as_role: Callable[..., Api], monkeypatch: object
) -> None:
    as_role(Role.DISPATCHER)
    as_role(Role.ADMIN)
    as_role(Role.DISPATCHER)
    first = _entries(app)[1]
    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(action="auth.logout"))
    with app.app_context(), get_db(app).session_scope() as s:
        report = verify_chain(session=s)
    assert not report.ok
    assert report.first_bad_id == first.id


def test_verify_command_exit_code(app: Flask, as_role: Callable[..., Api], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    as_role(Role.DISPATCHER)
    monkeypatch.setenv("EMS_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("EMS_AUDIT_SIGNING_KEY", app.config["AUDIT_SIGNING_KEY"])
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact: 1 entries" in ok.output
    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(update(AuditEntry).values(detail={"forged": True}))
    bad = CliRunner().invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output

"""Services take the principal and a context as arguments (STYLE.md rule 15): no
``service.py`` or ``flows.py`` of the server reads Flask's request state, so the CLI,
the relay, the optimizer's "apply" and the simulated users call the same use cases a
view does. The request's side lives in the ``web.py`` modules beside them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from tests.factories import PASSWORD, make_user

EMS = Path(__file__).resolve().parents[2] / "ems"
USE_CASE_MODULES = ("service.py", "flows.py")
REQUEST_STATE = {"g", "request", "session"}


def request_state_reads(source: str) -> list[str]:
    """Where a module reaches Flask's request state: ``from flask import g``,
    ``from flask.globals import request``, ``flask.g`` after ``import flask``."""
    found: list[str] = []
    flask_names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask.globals"):
            found += [
                f"line {node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if a.name in REQUEST_STATE
            ]
        elif isinstance(node, ast.Import):
            flask_names |= {a.asname or a.name for a in node.names if a.name == "flask"}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in flask_names
            and node.attr in REQUEST_STATE
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_service_of_the_server_reads_the_request_or_flask_g() -> None:
    modules = sorted(p for name in USE_CASE_MODULES for p in EMS.rglob(name))
    assert len(modules) > 10  # the scan sees the services
    offenders = {
        str(p.relative_to(EMS.parent)): reads
        for p in modules
        if (reads := request_state_reads(p.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "from flask import current_app, g\n",
        "from flask import request as req\n",
        "from flask.globals import g\n",
        "import flask\n\ndef f():\n    return flask.g.user\n",
        "import flask as fl\n\ndef f():\n    return fl.request.headers\n",
    ],
)
def test_the_scan_finds_each_way_of_reading_the_request(source: str) -> None:
    assert request_state_reads(source)


def test_the_scan_lets_the_app_itself_through() -> None:
    assert request_state_reads("from flask import Flask, current_app\n") == []


def test_audit_entries_carry_the_request_id_and_a_refused_login_is_on_record(
    app: Flask, client: FlaskClient
) -> None:
    """The request id reaches the audit entries through the request's session, not
    through a service reading ``flask.g``; a refused sign-in is written after the
    rollback, with its own request's id."""
    make_user(app, username="ada", role=Role.DISPATCHER)
    ok = client.post("/api/v1/auth/token", json={"username": "ada", "password": PASSWORD})
    bad = client.post("/api/v1/auth/token", json={"username": "ada", "password": "wrong"})
    assert (ok.status_code, bad.status_code) == (201, 401)
    with app.app_context(), get_db(app).session_scope() as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.login").order_by(AuditEntry.id)
        ).all()
        seen = [(e.outcome, e.request_id, e.detail.get("code")) for e in entries]
    assert seen == [
        ("ok", ok.headers["X-Request-Id"], None),
        ("denied", bad.headers["X-Request-Id"], "invalid_credentials"),
    ]

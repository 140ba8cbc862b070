"""The whole authorization matrix, role × endpoint, derived from the declared routes:
every protected endpoint refuses an anonymous caller, and every role outside an
endpoint's list gets 403 before anything else happens."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from ems.api import ROUTES
from ems.app import create_app
from ems.auth.models import Role
from tests.factories import Api


def _url(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule)


def _call(api_or_client: object, method: str, url: str, headers: dict[str, str]) -> object:
    client = getattr(api_or_client, "client", api_or_client)
    return client.open(url, method=method, json={}, headers=headers)  # type: ignore[attr-defined]


def test_every_protected_endpoint_refuses_anonymous_callers(app: Flask) -> None:
    client = app.test_client()
    protected = [r for r in ROUTES if r.roles is None or len(r.roles) > 0]
    assert protected, "no routes registered"
    for r in protected:
        resp = client.open(_url(r.rule), method=r.method, json={})
        assert resp.status_code == 401, (r.method, r.rule, resp.status_code)
        assert resp.get_json()["code"] == "unauthenticated"


def test_roles_outside_an_endpoint_list_are_forbidden(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    from tests.factories import make_hospital, make_unit

    unit_id = make_unit(app)
    hospital_id = make_hospital(app)
    apis = {
        Role.DISPATCHER: as_role(Role.DISPATCHER),
        Role.PARAMEDIC: as_role(Role.PARAMEDIC, unit_id=unit_id),
        Role.ER_STAFF: as_role(Role.ER_STAFF, hospital_id=hospital_id),
    }
    checked = 0
    for r in ROUTES:
        if r.roles is None or len(r.roles) == 0:
            continue
        for role, api in apis.items():
            if role in r.roles:
                continue
            resp = api.client.open(
                _url(r.rule),
                method=r.method,
                json={},
                headers={"Authorization": f"Bearer {api.token}"},
            )
            assert resp.status_code == 403, (role, r.method, r.rule, resp.status_code)
            assert resp.get_json()["code"] == "role_forbidden"
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/auth/me/extra"])
def test_unknown_paths_answer_problem_json(app: Flask, path: str) -> None:
    resp = app.test_client().get(path)
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["code"] == "not_found"


def test_metrics_endpoint_counts_requests(app: Flask) -> None:
    client = app.test_client()
    client.get("/api/v1/openapi.json")
    body = client.get("/metrics").get_data(as_text=True)
    assert "ems_http_request_seconds_count" in body


def test_create_app_binds_nothing_at_import() -> None:
    a = create_app({"ENV": "test", "DATABASE_URL": "sqlite://"})
    b = create_app({"ENV": "test", "DATABASE_URL": "sqlite://"})
    assert a.extensions["ems_db"] is not b.extensions["ems_db"]

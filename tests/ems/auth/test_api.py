from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from ems.auth.models import Role
from tests.factories import PASSWORD, Api, make_user


def test_login_returns_a_token_that_authenticates(app: Flask, client: FlaskClient) -> None:
    make_user(app, role=Role.DISPATCHER, username="sato")
    resp = client.post("/api/v1/auth/token", json={"username": "sato", "password": PASSWORD})
    assert resp.status_code == 201
    token = resp.get_json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == "sato"
    assert me.get_json()["role"] == "dispatcher"


def test_wrong_password_is_refused_with_a_stable_code(app: Flask, client: FlaskClient) -> None:
    make_user(app, role=Role.DISPATCHER, username="sato")
    resp = client.post("/api/v1/auth/token", json={"username": "sato", "password": "nope"})
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["code"] == "invalid_credentials"


def test_unknown_user_gets_the_same_answer(client: FlaskClient) -> None:
    resp = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "x"})
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "invalid_credentials"


def test_missing_and_bad_tokens(client: FlaskClient) -> None:
    assert client.get("/api/v1/auth/me").get_json()["code"] == "unauthenticated"
    resp = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged"})
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "invalid_token"


def test_revoked_token_stops_working(as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    assert api.delete("/api/v1/auth/token").status_code == 204
    assert api.get("/api/v1/auth/me").get_json()["code"] == "invalid_token"


def test_malformed_body(client: FlaskClient) -> None:
    resp = client.post("/api/v1/auth/token", data="{nope", content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "malformed_json"
    resp = client.post("/api/v1/auth/token", json={"username": 5})
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "validation_error"


def test_only_admin_creates_users(as_role: Callable[..., Api]) -> None:
    body = {"username": "newbie", "password": "longenough1", "role": "dispatcher"}
    assert as_role(Role.DISPATCHER).post("/api/v1/users", json=body).status_code == 403
    resp = as_role(Role.ADMIN).post("/api/v1/users", json=body)
    assert resp.status_code == 201
    assert resp.get_json()["role"] == "dispatcher"


def test_paramedic_account_needs_a_unit(as_role: Callable[..., Api]) -> None:
    body = {"username": "medic", "password": "longenough1", "role": "paramedic"}
    resp = as_role(Role.ADMIN).post("/api/v1/users", json=body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "unit_required"


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    resp = client.post(
        "/api/v1/auth/token", data="x" * (2 * 1024 * 1024), content_type="application/json"
    )
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "payload_too_large"


def test_openapi_lists_the_login(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api/v1/auth/token"]


def test_security_headers_and_request_id(client: FlaskClient) -> None:
    resp = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert resp.status_code == 200
    # The server's own id, never the client's.
    assert resp.headers["X-Request-Id"] != "abc123" and len(resp.headers["X-Request-Id"]) == 32
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]

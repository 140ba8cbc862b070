"""Hostile input the generated fuzzing may miss: absurd ids, deep or oversized
bodies, wrong media types and garbage tokens. Each gets a clear 4xx with its
code, never a server error."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from ems.api import ROUTES
from ems.auth.models import Role
from tests.factories import Api


def _with_ids(rule: str, value: int) -> str:
    return re.sub(r"<int:\w+>", str(value), re.sub(r"<(?!int:)(?:\w+:)?\w+>", "x", rule))


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_ids_beyond_the_database_range_are_not_found(
    app: Flask, as_role: Callable[..., Api], huge: int
) -> None:
    admin = as_role(Role.ADMIN)
    checked = 0
    for r in ROUTES:
        if "<int:" not in r.rule:
            continue
        resp = admin.client.open(
            _with_ids(r.rule, huge),
            method=r.method,
            json={},
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        assert resp.status_code == 404, (r.method, r.rule, resp.status_code)
        assert resp.get_json()["code"] == "not_found"
        checked += 1
    assert checked > 0


def test_huge_integers_and_nul_bytes_in_bodies_are_refused(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    admin = as_role(Role.ADMIN)
    resp = admin.post(
        "/api/v1/users",
        json={
            "username": "new-medic",
            "password": "long-enough-1",
            "role": "paramedic",
            "unit_id": 2**63,
        },
    )
    assert resp.status_code in (400, 404), resp.get_json()
    resp = admin.client.post("/api/v1/auth/token", json={"username": "admin\x00", "password": "x"})
    assert resp.status_code in (400, 401)
    assert admin.get("/api/v1/auth/me").status_code == 200


def test_deeply_nested_json_is_malformed_not_a_crash(client: object) -> None:
    body = "[" * 100_000 + "]" * 100_000
    resp = client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/token", data=body, content_type="application/json"
    )
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "malformed_json"


def test_oversized_body_is_refused_before_parsing(client: object) -> None:
    body = '{"username": "' + "a" * (2 * 1024 * 1024) + '", "password": "x"}'
    resp = client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/token", data=body, content_type="application/json"
    )
    assert resp.status_code == 413
    assert resp.get_json()["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        ("username=a&password=b", "application/x-www-form-urlencoded", "unsupported_media_type"),
        ("{not json", "application/json", "malformed_json"),
        (
            '{"username": "a", "password": "b", "role": "admin"}',
            "application/json",
            "validation_error",
        ),
        ('{"username": ["a"], "password": {"$ne": null}}', "application/json", "validation_error"),
    ],
)
def test_malformed_login_bodies_get_their_code(
    client: object, data: str, content_type: str, code: str
) -> None:
    resp = client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/token", data=data, content_type=content_type
    )
    assert 400 <= resp.status_code < 500
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["code"] == code


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer \x7f\x7f",
        "Bearer " + "é" * 40,
        "Basic YWRtaW46YWRtaW4=",
        "Bearer " + "a" * 5000,
        "Bearer ' OR 1=1 --",
    ],
)
def test_garbage_tokens_are_unauthenticated(client: object, header: str) -> None:
    resp = client.get(  # type: ignore[attr-defined]
        "/api/v1/auth/me", headers={"Authorization": header}
    )
    assert resp.status_code == 401
    assert resp.get_json()["code"] in ("unauthenticated", "invalid_token")


def test_a_revoked_token_stops_working(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    assert api.get("/api/v1/auth/me").status_code == 200
    assert api.delete("/api/v1/auth/token").status_code == 204
    resp = api.get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "invalid_token"

"""Every answer, pages and static files included, carries the security headers,
and API answers are never cached."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from ems.app import security_headers
from ems.auth.models import Role
from tests.factories import Api


def _plain_get_paths(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.arguments:
            continue
        if rule.rule.endswith("/events"):  # an endless stream; checked below
            continue
        paths.append(rule.rule)
    return paths


def _assert_secured(resp: object, path: str, relay_url: str) -> None:
    headers = resp.headers  # type: ignore[attr-defined]
    for name, value in security_headers(relay_url).items():
        assert headers.get(name) == value, (path, name)
    assert headers.get("X-Request-Id"), path
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]


def test_every_page_and_document_carries_the_headers(app: Flask) -> None:
    client = app.test_client()
    paths = _plain_get_paths(app)
    assert "/healthz" in paths and "/metrics" in paths
    for path in paths:
        resp = client.get(path)
        assert resp.status_code < 500, path
        _assert_secured(resp, path, app.config["RELAY_URL"])


def test_pages_as_each_role_carry_the_headers(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    for path in _plain_get_paths(app):
        resp = api.get(path)
        _assert_secured(resp, path, app.config["RELAY_URL"])
        if path.startswith("/api/"):
            assert resp.headers.get("Cache-Control") == "no-store", path


def test_errors_and_static_files_carry_the_headers(app: Flask) -> None:
    client = app.test_client()
    for path in ("/nowhere", "/api/v1/nowhere", "/static/vendor/leaflet/leaflet.css"):
        resp = client.get(path)
        _assert_secured(resp, path, app.config["RELAY_URL"])
    resp = client.post("/api/v1/auth/token", data="{", content_type="application/json")
    _assert_secured(resp, "/api/v1/auth/token", app.config["RELAY_URL"])


def test_request_ids_are_echoed_only_when_sane(app: Flask) -> None:
    client = app.test_client()
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    long_id = client.get("/healthz", headers={"X-Request-Id": "x" * 500}).headers["X-Request-Id"]
    assert long_id != "x" * 500 and len(long_id) == 32

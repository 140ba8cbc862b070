"""Every answer, pages and static files included, carries the security headers,
and API answers are never cached."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
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


def test_the_request_id_is_the_servers_and_the_clients_is_kept_sanitised(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from flask import g

    from ems.app import client_request_id
    from ems.logs import JsonFormatter

    client = app.test_client()
    ids = {
        client.get("/healthz", headers={"X-Request-Id": "same-id"}).headers["X-Request-Id"]
        for _ in range(2)
    }
    # Two requests never share an id, whatever the client sends.
    assert len(ids) == 2 and "same-id" not in ids
    assert all(len(i) == 32 for i in ids)
    assert client_request_id("tablet-7:abc.1_2") == "tablet-7:abc.1_2"
    assert client_request_id('evil"}\n{"level":"ERROR') == "evillevel:ERROR"
    assert client_request_id("x" * 500) == "x" * 64
    with app.test_request_context(headers={"X-Request-Id": 'fake"line<script>'}):
        app.preprocess_request()
        record = logging.LogRecord("ems", logging.INFO, "", 0, "hello", (), None)
        line = json.loads(JsonFormatter().format(record))
        assert line["request_id"] == g.request_id != "fake"
        assert line["client_request_id"] == "fakelinescript"

"""Per-account lockout with a growing delay, refused logins on the audit log (never
the password), the trusted-proxy setting, and the lockout shared through Redis."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ems.app import create_app
from ems.audit.models import AuditEntry
from ems.auth import lockout
from ems.auth.models import Role
from ems.db import get_db
from tests.factories import PASSWORD, make_user

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
SECRET_GUESS = "Tr0ub4dor&3-guess"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "LOGIN_LOCKOUT_AFTER": 3, "LOGIN_LOCKOUT_BASE_S": 30}


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_000_000.0
        monkeypatch.setattr(lockout.time, "time", lambda: self.now)


def _login(client: FlaskClient, username: str, password: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}, headers=headers
    )


def test_an_account_locks_after_failures_with_a_growing_delay(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    make_user(app, role=Role.DISPATCHER, username="tanaka")
    assert [_login(client, "tanaka", "wrong").status_code for _ in range(3)] == [401] * 3
    locked = _login(client, "tanaka", PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) == 30
    clock.now += 31
    assert _login(client, "tanaka", "wrong").status_code == 401  # the 4th failure: 60 s
    clock.now += 31
    assert _login(client, "tanaka", PASSWORD).get_json()["code"] == "account_locked"
    clock.now += 30
    assert _login(client, "tanaka", PASSWORD).status_code == 201
    # A success clears the count: one failure no longer locks.
    assert _login(client, "tanaka", "wrong").status_code == 401
    assert _login(client, "tanaka", PASSWORD).status_code == 201


def test_another_account_is_not_locked_by_the_first(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    make_user(app, role=Role.DISPATCHER, username="suzuki")
    for _ in range(4):
        _login(client, "ghost-account", "wrong")
    assert _login(client, "suzuki", PASSWORD).status_code == 201


def test_refused_logins_are_audited_without_the_password(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    make_user(app, role=Role.DISPATCHER, username="yamada")
    for _ in range(3):
        _login(client, "yamada", SECRET_GUESS)
    _login(client, "yamada", PASSWORD)
    _login(client, "nobody-here", SECRET_GUESS)
    with app.app_context(), get_db(app).session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login")))
    denied = [e for e in entries if e.outcome == "denied"]
    assert [e.detail["code"] for e in denied] == ["invalid_credentials"] * 3 + [
        "account_locked",
        "invalid_credentials",
    ]
    assert denied[0].detail["username"] == "yamada" and denied[0].target_id
    assert denied[2].detail["locked_s"] == 30
    assert denied[-1].detail["username"] == "nobody-here" and denied[-1].target_id == ""
    everything = json.dumps([e.detail for e in entries]) + "".join(e.hash for e in entries)
    assert SECRET_GUESS not in everything and PASSWORD not in everything


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    app_config: dict[str, Any],
) -> None:
    for hops, expected in ((0, [401, 401, 429]), (1, [401, 401, 401])):
        app = create_app({**app_config, "LOGIN_RATE_PER_MIN": 2, "TRUSTED_PROXY_HOPS": hops})
        try:
            client = app.test_client()
            codes = [
                _login(
                    client, "kato", "wrong", **{"X-Forwarded-For": f"198.51.100.{i}"}
                ).status_code
                for i in range(3)
            ]
            # Without a trusted proxy the header is the client's word: ignored, so the
            # three attempts share one address; behind one proxy each is its own client.
            assert codes == expected, hops
        finally:
            get_db(app).engine.dispose()


@pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL")
def test_the_lockout_is_shared_by_every_worker(app_config: dict[str, Any]) -> None:
    config = {**app_config, "REDIS_URL": REDIS_URL}
    workers = [create_app(config), create_app(config)]
    try:
        username = f"shared-{uuid.uuid4().hex[:8]}"
        make_user(workers[0], role=Role.DISPATCHER, username=username)
        codes = [
            _login(workers[i % 2].test_client(), username, "wrong").status_code for i in range(3)
        ]
        assert codes == [401, 401, 401]
        resp = _login(workers[1].test_client(), username, PASSWORD)
        assert resp.get_json()["code"] == "account_locked"
        workers[0].extensions["ems_login_lockout"].reset(username)
        assert _login(workers[1].test_client(), username, PASSWORD).status_code == 201
    finally:
        for w in workers:
            get_db(w).engine.dispose()

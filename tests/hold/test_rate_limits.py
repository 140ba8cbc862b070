"""Rate limits: password guessing against one account is cut off after the
configured number of attempts a minute, shared by every worker when Redis is used."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
from flask import Flask

from ems.app import create_app
from ems.auth.models import Role
from ems.db import get_db
from tests.factories import PASSWORD, make_user

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def _same_window() -> None:
    """The limits count per clock minute; keep a burst of attempts inside one."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60.5 - into)


def _attempt(client: Any, username: str, password: str = "wrong-password") -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_login_guessing_is_cut_off_even_for_the_right_password(
    app_config: dict[str, Any],
) -> None:
    app = create_app({**app_config, "LOGIN_RATE_PER_MIN": 3})
    try:
        make_user(app, role=Role.DISPATCHER, username="guessed")
        client = app.test_client()
        _same_window()
        codes = [_attempt(client, "guessed").status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        resp = _attempt(client, "guessed", PASSWORD)
        assert resp.status_code == 429
        assert resp.get_json()["code"] == "login_rate_limited"
        assert int(resp.headers["Retry-After"]) > 0
        # Another account from the same address is not locked out by the first.
        assert _attempt(client, "someone-else").status_code == 401
    finally:
        get_db(app).engine.dispose()


@pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL")
def test_the_login_limit_is_shared_by_every_worker(app_config: dict[str, Any]) -> None:
    config = {**app_config, "LOGIN_RATE_PER_MIN": 4, "REDIS_URL": REDIS_URL}
    workers: list[Flask] = [create_app(config), create_app(config)]
    try:
        username = f"shared-{uuid.uuid4().hex[:8]}"
        _same_window()
        codes = [_attempt(workers[i % 2].test_client(), username).status_code for i in range(6)]
        assert codes[:4] == [401] * 4
        assert codes[4:] == [429, 429]
    finally:
        for w in workers:
            get_db(w).engine.dispose()


def test_card_reads_are_limited_per_paramedic(app_config: dict[str, Any]) -> None:
    from tests.factories import login, make_unit

    app = create_app({**app_config, "CARD_AUTH_RATE_PER_MIN": 3})
    try:
        unit_id = make_unit(app)
        make_user(app, role=Role.PARAMEDIC, username="card-medic", unit_id=unit_id)
        medic = login(app.test_client(), "card-medic")
        _same_window()
        for _ in range(3):
            resp = medic.post("/api/v1/card-auth/challenges", json={"transport_id": 1})
            assert resp.status_code in (404, 409), resp.get_json()
        resp = medic.post("/api/v1/card-auth/challenges", json={"transport_id": 1})
        assert resp.status_code == 429
        assert resp.get_json()["code"] == "card_auth_rate_limited"
        # The PIN-less path counts against the same budget.
        resp = medic.post("/api/v1/card-auth/pinless", json={})
        assert resp.status_code in (400, 429)
    finally:
        get_db(app).engine.dispose()

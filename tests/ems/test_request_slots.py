"""A server process works on MAX_ACTIVE_REQUESTS requests at once; open live event
streams hold a thread each but never a slot, so they cannot starve the API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from ems.app import create_app
from ems.auth.models import Role
from ems.db import get_db
from tests.factories import Api

URL = "/api/v1/events"


@pytest.fixture
def one_slot(app_config: dict[str, Any]) -> Iterator[tuple[Flask, threading.Event]]:
    app = create_app({**app_config, "MAX_ACTIVE_REQUESTS": 1})
    release = threading.Event()
    app.extensions["test_entered"] = entered = threading.Event()

    def hold() -> str:
        entered.set()
        release.wait(10)
        return "done"

    app.add_url_rule("/test/hold", view_func=hold)
    yield app, release
    release.set()
    get_db(app).engine.dispose()


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_a_second_request_waits_for_the_slot(one_slot: tuple[Flask, threading.Event]) -> None:
    app, release = one_slot
    first, first_out = _in_thread(lambda: app.test_client().get("/test/hold"))
    assert app.extensions["test_entered"].wait(10)  # the first request holds the slot
    second, second_out = _in_thread(lambda: app.test_client().get("/healthz"))
    second.join(0.5)
    assert second.is_alive() and not second_out  # waiting for the only slot
    release.set()
    first.join(10)
    second.join(10)
    assert first_out[0].status_code == 200
    assert second_out[0].status_code == 200


def test_open_event_streams_take_no_slot(
    one_slot: tuple[Flask, threading.Event], as_role: Callable[..., Api]
) -> None:
    app, release = one_slot
    release.set()  # nothing is held: only the streams are open
    dispatcher = as_role(Role.DISPATCHER)
    done = threading.Event()
    opened = threading.Semaphore(0)

    def page() -> bytes:
        resp = app.test_client().get(
            "/api/v1/events", headers={"Authorization": f"Bearer {dispatcher.token}"}
        )
        first: bytes = next(resp.response)  # the stream is open
        opened.release()
        done.wait(10)
        resp.close()
        return first

    pages = [_in_thread(page) for _ in range(3)]
    assert all(opened.acquire(timeout=10) for _ in pages)  # three streams, one slot
    health, out = _in_thread(lambda: app.test_client().get("/healthz"))
    health.join(10)
    assert out and out[0].status_code == 200
    done.set()
    for thread, first in pages:
        thread.join(10)
        assert first and first[0].startswith(b"retry:")


def test_the_api_answers_with_every_stream_slot_taken(
    app_config: dict[str, Any], as_role: Callable[..., Api]
) -> None:
    app = create_app({**app_config, "MAX_ACTIVE_REQUESTS": 1, "EVENT_STREAMS_PER_PROCESS": 2})
    users = [as_role(Role.DISPATCHER) for _ in range(3)]
    done = threading.Event()
    opened = threading.Semaphore(0)

    def page(token: str) -> int:
        resp = app.test_client().get(URL, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code == 200:
            next(resp.response)
            opened.release()
            done.wait(10)
        resp.close()
        return resp.status_code

    try:
        pages = [_in_thread(lambda u=u: page(u.token)) for u in users[:2]]
        assert all(opened.acquire(timeout=10) for _ in pages)  # every stream slot taken
        refused = app.test_client().get(URL, headers={"Authorization": f"Bearer {users[2].token}"})
        assert refused.status_code == 429
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["code"] == "stream_capacity"
        assert int(refused.headers["Retry-After"]) > 0
        client = app.test_client()
        headers = {"Authorization": f"Bearer {users[2].token}"}
        assert client.get("/api/v1/hospitals", headers=headers).status_code == 200
        assert client.get("/healthz").status_code == 200
    finally:
        done.set()
        get_db(app).engine.dispose()
    for thread, status in pages:
        thread.join(10)
        assert status == [200]

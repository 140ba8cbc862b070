"""The pages' side of the live event stream, in real Chromium: ``liveEvents`` reads the
stream with ``fetch`` and the bearer header (never EventSource, never a token in the
URL), hands each handler its parsed data, resyncs after every reconnection, waits
longer when refused for too many streams, stops on ``close()``, and goes back to the
login page once the session is over."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from ems.app import create_app
from ems.auth.models import Role, User
from ems.db import get_db
from ems.events import Event
from tests.factories import Api, make_unit

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-sync"]
TIMEOUT_MS = 10_000

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>live</title>
<script type="module" src="/test/live.js"></script></head>
<body><span data-live></span></body></html>"""
SCRIPT = """import { liveEvents } from "/static/js/common.js";
window.got = [];
window.resyncs = 0;
window.live = liveEvents(
  { "hospital.updated": (data, type) => window.got.push({ type, data }) },
  { onResync: () => { window.resyncs += 1; } },
);
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: what the page does does not depend on the database."""
    path = tmp_path / "ems.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "EVENT_STREAM_RECHECK_S": 0.3,
        "EVENT_STREAM_HEARTBEAT_S": 0.3,
        "EVENT_STREAMS_PER_USER": 1,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The server with a test page, recording how each stream was asked for."""
    app = create_app(app_config)
    app.extensions["stream_requests"] = asked = []

    @app.before_request
    def record() -> None:
        if request.path == "/api/v1/events":
            asked.append((request.query_string, request.headers.get("Authorization", "")))

    app.add_url_rule("/test/live", "test_live", lambda: Response(PAGE, mimetype="text/html"))
    app.add_url_rule(
        "/test/live.js", "test_live_js", lambda: Response(SCRIPT, mimetype="text/javascript")
    )
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def open_page(browser: Any, base_url: str) -> Iterator[Callable[[Api], Any]]:
    contexts: list[Any] = []

    def open_(api: Api) -> Any:
        ctx = browser.new_context()
        contexts.append(ctx)
        ctx.set_default_timeout(TIMEOUT_MS)
        # The pages must not fall back to EventSource, which cannot send the header.
        ctx.add_init_script("delete window.EventSource;")
        page = ctx.new_page()
        page.goto(f"{base_url}/healthz")
        page.evaluate(
            """([token, user]) => {
                sessionStorage.setItem("ems.token", token);
                sessionStorage.setItem("ems.user", JSON.stringify(user));
            }""",
            [api.token, {"id": api.user_id, "role": "dispatcher", "username": "d"}],
        )
        page.goto(f"{base_url}/test/live")
        return page

    yield open_
    for ctx in contexts:
        ctx.close()


def _wait(cond: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_page_reads_the_stream_with_the_header_and_resyncs_on_reconnection(
    app: Flask, as_role: Callable[..., Api], open_page: Callable[[Api], Any]
) -> None:
    api = as_role(Role.DISPATCHER)
    page = open_page(api)
    page.wait_for_selector("[data-live=connected]")
    assert app.extensions["stream_requests"] == [(b"", f"Bearer {api.token}")]

    broker = app.extensions["ems_events"]
    broker.publish(Event("hospital.updated", {"id": 5, "name": "県立中央病院"}))
    broker.publish(Event("unit.updated", {"id": 1}))  # no handler on this page
    page.wait_for_function("() => window.got.length === 1")
    assert page.evaluate("() => window.got") == [
        {"type": "hospital.updated", "data": {"id": 5, "name": "県立中央病院"}}
    ]
    assert page.evaluate("() => window.resyncs") == 0

    # The dispatcher's account changes: the server ends the stream (access_changed),
    # the page comes back about 2 s later with the new audience and reloads its state.
    unit_id = make_unit(app)
    with app.app_context(), get_db(app).session_scope() as s:
        s.get(User, api.user_id).unit_id = unit_id  # type: ignore[union-attr]
    page.wait_for_function("() => window.resyncs === 1")
    page.wait_for_selector("[data-live=connected]")
    assert len(app.extensions["stream_requests"]) == 2
    broker.publish(Event("hospital.updated", {"id": 6}))
    page.wait_for_function("() => window.got.length === 2")


def test_a_refused_page_waits_longer_and_close_frees_the_stream(
    app: Flask, as_role: Callable[..., Api], open_page: Callable[[Api], Any]
) -> None:
    api = as_role(Role.DISPATCHER)
    first = open_page(api)
    first.wait_for_selector("[data-live=connected]")
    second = open_page(api)  # one stream per user here: 429 too_many_streams
    second.wait_for_selector("[data-live=reconnecting]")
    time.sleep(3)  # a plain drop would have retried after about 2 s
    assert len(app.extensions["stream_requests"]) == 2
    assert second.url.endswith("/test/live")  # refused, not signed out

    first.evaluate("() => window.live.close()")
    slots = app.extensions["ems_event_slots"]
    assert _wait(lambda: slots.open_streams(api.user_id) == 0, 5)
    time.sleep(1)
    assert len(app.extensions["stream_requests"]) == 2  # closed means closed


def test_signing_out_elsewhere_sends_the_page_to_the_login(
    app: Flask, as_role: Callable[..., Api], open_page: Callable[[Api], Any]
) -> None:
    api = as_role(Role.DISPATCHER)
    page = open_page(api)
    page.wait_for_selector("[data-live=connected]")
    assert api.delete("/api/v1/auth/token").status_code == 204
    page.wait_for_url("**/login?next=%2Ftest%2Flive")
    assert page.evaluate("() => sessionStorage.getItem('ems.token')") is None
    # And a page opened with the dead token goes there at once, without retrying.
    again = open_page(api)
    again.wait_for_url("**/login?next=%2Ftest%2Flive")
    assert len(app.extensions["stream_requests"]) == 2

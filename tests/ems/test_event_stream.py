"""The live event stream's guard rails: the token only in the header, a stream that
ends once its holder's access does, and bounds on the streams a user and a process
hold open, with slots freed however a stream ends."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

from ems.auth.models import ApiToken, Role, User
from ems.db import get_db, utcnow
from ems.events import Event, StreamSlots
from ems.logs import JsonFormatter
from tests.ems.event_stream import URL, Stream
from tests.factories import Api, make_hospital, make_unit


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "EVENT_STREAM_RECHECK_S": 0.2,
        "EVENT_STREAM_HEARTBEAT_S": 0.2,
        "EVENT_STREAMS_PER_USER": 2,
    }


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


@pytest.fixture
def open_stream(app: Flask, streams: list[Stream]) -> Callable[[Api], Stream]:
    def open_(api: Api) -> Stream:
        stream = Stream(app, api.token)
        streams.append(stream)
        return stream

    return open_


def _closed_code(text: str) -> str:
    """The code of the stream's last event, which must be ``stream.closed``."""
    last = text.strip().split("\n\n")[-1]
    head, data = last.split("\n")
    assert head == "event: stream.closed", text
    code: str = json.loads(data.removeprefix("data: "))["code"]
    return code


# --- the token ------------------------------------------------------------------------


def test_a_token_in_the_url_is_refused_with_or_without_the_header(
    client: Any, as_role: Callable[..., Api]
) -> None:
    api = as_role(Role.DISPATCHER)
    for headers in ({}, {"Authorization": f"Bearer {api.token}"}):
        resp = client.get(f"{URL}?access_token={api.token}", headers=headers)
        assert resp.status_code == 401
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["code"] == "token_in_url"
        assert api.token not in resp.get_data(as_text=True)
    assert client.get(URL).get_json()["code"] == "unauthenticated"
    with api.get(URL, query_string={"x": "1"}) as served:  # the header alone: served
        assert served.status_code == 200


def test_a_token_in_the_url_reaches_no_log(
    app: Flask, as_role: Callable[..., Api], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Not the server's own logs, and not the access line gunicorn writes from the same
    WSGI environ once the answer is sent."""
    from gunicorn.config import Config as GunicornConfig
    from gunicorn.glogging import Logger

    api = as_role(Role.DISPATCHER)
    secret = api.token
    environ = EnvironBuilder(
        path=URL, query_string=f"since=1&access_token={secret}", headers={"X-Request-Id": "r1"}
    ).get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = f"{URL}?since=1&access_token={secret}"
    statuses: list[str] = []
    caplog.set_level(logging.DEBUG)
    answer = app.wsgi_app(environ, lambda status, headers: statuses.append(status))
    body = b"".join(answer)
    answer.close()  # type: ignore[attr-defined]
    assert statuses == ["401 UNAUTHORIZED"] and b"token_in_url" in body

    cfg = GunicornConfig()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    access = Logger(cfg)
    resp = type("Resp", (), {"status": statuses[0], "headers": [], "sent": len(body)})()
    access.access(resp, [], environ, dt.timedelta(milliseconds=3))
    line = (tmp_path / "access.log").read_text()
    assert f"GET {URL}?since=1&access_token=redacted" in line
    assert secret not in line
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert secret not in logged


# --- who may open one, and the bounds ---------------------------------------------------


def test_off_duty_staff_get_no_stream(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    assert api.put(f"/api/v1/users/{api.user_id}/duty", json={"on_duty": False}).status_code == 200
    resp = api.get(URL)
    assert resp.status_code == 403 and resp.get_json()["code"] == "off_duty"


def test_a_user_holds_at_most_the_per_user_streams_and_the_api_still_answers(
    app: Flask, as_role: Callable[..., Api], open_stream: Callable[[Api], Stream]
) -> None:
    dispatcher, other = as_role(Role.DISPATCHER), as_role(Role.DISPATCHER)
    first, second = open_stream(dispatcher), open_stream(dispatcher)
    assert (first.status, second.status) == (200, 200)
    third = open_stream(dispatcher)
    assert third.status == 429
    assert third.headers["Content-Type"] == "application/problem+json"
    assert third.problem["code"] == "too_many_streams"
    assert int(third.headers["Retry-After"]) > 0
    assert open_stream(other).status == 200  # another user is not held back
    assert dispatcher.get("/api/v1/hospitals").status_code == 200

    first.close()  # the page goes away: its slot is free at once
    assert first.ended or first.wait_end()
    deadline = time.monotonic() + 3
    while (again := open_stream(dispatcher)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert again.status == 200
    assert app.extensions["ems_event_slots"].open_streams(dispatcher.user_id) == 2


def test_the_stream_holds_no_database_connection(
    app: Flask, as_role: Callable[..., Api], open_stream: Callable[[Api], Stream]
) -> None:
    # No re-check falls in the sampling window: what is held then is the stream's alone.
    app.config["EVENT_STREAM_RECHECK_S"] = 60
    stream = open_stream(as_role(Role.DISPATCHER))
    stream.read_until(": keep-alive")
    pool = get_db(app).engine.pool
    held = []
    for _ in range(20):
        held.append(pool.checkedout())  # type: ignore[attr-defined]
        time.sleep(0.03)
    stream.text = ""
    stream.read_until(": keep-alive")  # still streaming while sampled
    assert not stream.ended
    assert held == [0] * 20


def _raw_stream(port: int, token: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        f"GET {URL} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    # A stream: up to its first line. A refusal: all of it (the server closes).
    head = b""
    while not (head.startswith(b"HTTP/1.1 200") and b"retry:" in head):
        data = sock.recv(4096)
        if not data:
            break
        head += data
    return sock, head


def test_a_dead_socket_frees_its_slot_within_seconds(
    app_config: dict[str, Any], as_role: Callable[..., Api]
) -> None:
    from ems.app import create_app

    api = as_role(Role.DISPATCHER)
    served = create_app({**app_config, "EVENT_STREAMS_PER_USER": 1})
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        first, head = _raw_stream(server.server_port, api.token)
        assert head.startswith(b"HTTP/1.1 200") and b"retry: 2000" in head
        refused, head = _raw_stream(server.server_port, api.token)
        refused.close()
        assert head.startswith(b"HTTP/1.1 429") and b"too_many_streams" in head
        first.close()  # the browser tab is gone, without a word to the server
        deadline = time.monotonic() + 5
        while True:
            again, head = _raw_stream(server.server_port, api.token)
            again.close()
            if head.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert head.startswith(b"HTTP/1.1 200")
    finally:
        server.shutdown()
        thread.join(5)
        get_db(served).engine.dispose()


def test_stream_slots_count_per_user_and_in_all() -> None:
    from ems.errors import RateLimited

    slots = StreamSlots(per_user=2, per_process=3)
    a1, a2, b1 = slots.take(1), slots.take(1), slots.take(2)
    with pytest.raises(RateLimited) as per_user:
        slots.take(1)
    with pytest.raises(RateLimited) as capacity:
        slots.take(3)
    assert (per_user.value.code, capacity.value.code) == ("too_many_streams", "stream_capacity")
    a1.release()
    a1.release()  # a second release gives nothing back twice
    assert (slots.open_streams(), slots.open_streams(1)) == (2, 1)
    c1 = slots.take(3)
    for slot in (a2, b1, c1):
        slot.release()
    assert slots.open_streams() == 0


# --- a stream ends with its holder's access ---------------------------------------------


def test_signing_out_ends_the_stream(
    as_role: Callable[..., Api], open_stream: Callable[[Api], Stream]
) -> None:
    api = as_role(Role.DISPATCHER)
    stream = open_stream(api)
    assert stream.read_until("retry: 2000")
    assert api.delete("/api/v1/auth/token").status_code == 204
    assert stream.wait_end()
    assert _closed_code(stream.text) == "invalid_token"


def test_going_off_duty_ends_the_stream(
    app: Flask, as_role: Callable[..., Api], open_stream: Callable[[Api], Stream]
) -> None:
    unit_id = make_unit(app)
    medic, admin = as_role(Role.PARAMEDIC, unit_id=unit_id), as_role(Role.ADMIN)
    stream = open_stream(medic)
    assert stream.read_until("retry: 2000")
    resp = admin.put(f"/api/v1/users/{medic.user_id}/duty", json={"on_duty": False})
    assert resp.status_code == 200
    assert stream.wait_end()
    assert _closed_code(stream.text) == "off_duty"


def _expire(s: Any, user: User) -> None:
    for token in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        token.expires_at = utcnow() - dt.timedelta(seconds=1)


def _disable(s: Any, user: User) -> None:
    user.active = False


def _make_dispatcher(s: Any, user: User) -> None:
    user.role, user.hospital_id = Role.DISPATCHER, None


def _move_hospital(s: Any, user: User) -> None:
    user.hospital_id = s.info["other_hospital"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_expire, "invalid_token"),
        (_disable, "invalid_token"),
        (_make_dispatcher, "access_changed"),
        (_move_hospital, "access_changed"),
    ],
)
def test_a_changed_account_ends_the_stream(
    app: Flask,
    as_role: Callable[..., Api],
    open_stream: Callable[[Api], Stream],
    change: Callable[[Any, User], None],
    code: str,
) -> None:
    here, there = make_hospital(app), make_hospital(app, name="市民病院")
    er = as_role(Role.ER_STAFF, hospital_id=here)
    stream = open_stream(er)
    assert stream.read_until("retry: 2000")
    with app.app_context(), get_db(app).session_scope() as s:
        s.info["other_hospital"] = there
        change(s, s.get(User, er.user_id))
    assert stream.wait_end()
    assert _closed_code(stream.text) == code


def test_the_check_runs_while_events_keep_flowing(
    app: Flask, as_role: Callable[..., Api], open_stream: Callable[[Api], Stream]
) -> None:
    """Events closer together than the heartbeat never let the wait time out: the
    re-check must still come when it is due."""
    api = as_role(Role.DISPATCHER)
    stream = open_stream(api)
    assert stream.read_until("retry: 2000")
    broker = app.extensions["ems_events"]
    flowing = threading.Event()
    done = threading.Event()

    def publish() -> None:
        while not done.is_set():
            broker.publish(Event("unit.updated", {"id": 1}, roles=("dispatcher",)))
            flowing.set()
            time.sleep(0.01)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        assert flowing.wait(5)
        stream.read_until("event: unit.updated")
        assert api.delete("/api/v1/auth/token").status_code == 204
        assert stream.wait_end()
    finally:
        done.set()
        publisher.join(5)
    assert _closed_code(stream.text) == "invalid_token"
    assert ": keep-alive" not in stream.text  # the events were all that flowed


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_with_redis_each_process_counts_its_own_streams(
    app_config: dict[str, Any], as_role: Callable[..., Api], streams: list[Stream]
) -> None:
    """Two server processes on one Redis: an event sent through one reaches a stream on
    the other, and the per-user bound is each process's own (docs/api.md says so)."""
    from ems.app import create_app

    redis = {
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        "EVENTS_CHANNEL": f"ems:test:{uuid.uuid4().hex}",
        "EVENT_STREAMS_PER_USER": 1,
    }
    one, two = (create_app({**app_config, **redis}) for _ in range(2))
    api = as_role(Role.DISPATCHER)
    try:
        on_one, on_two = Stream(one, api.token), Stream(two, api.token)
        streams += [on_one, on_two]
        assert (on_one.status, on_two.status) == (200, 200)
        assert Stream(one, api.token).status == 429
        on_two.read_until("retry: 2000")
        with one.app_context():
            one.extensions["ems_events"].publish(
                Event("unit.updated", {"id": 3}, roles=("dispatcher",))
            )
        assert "event: unit.updated" in on_two.read_until("event: unit.updated")
    finally:
        for stream in streams:
            stream.close()
        for served in (one, two):
            get_db(served).engine.dispose()

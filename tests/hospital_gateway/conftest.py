"""Fixtures for the relay: a transport with its crew, two hospitals' ER staff and a
dispatcher (synthetic), bearer tokens for each, and a relay running in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from websockets.asyncio.client import ClientConnection, connect

from ems.auth.models import Role, User
from ems.auth.service import issue_token
from ems.db import get_db
from ems_contracts.frames import Frame, Kind
from hospital_gateway.relay import Relay
from hospital_gateway.settings import RelaySettings
from tests.factories import make_hospital, make_transport, make_unit


@dataclass
class World:
    db_url: str
    transport_id: int
    unit_id: int
    hospital_a: int
    hospital_b: int
    tokens: dict[str, str]


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def build_world(app: Flask) -> World:
    hospital_a = make_hospital(app, name="県立中央病院")
    hospital_b = make_hospital(app, name="市民病院")
    unit_id = make_unit(app, call_sign="中央1")
    other_unit = make_unit(app, call_sign="北2")
    transport_id = make_transport(
        app, unit_id=unit_id, destination=hospital_a, call_age=dt.timedelta(minutes=20)
    )
    with app.app_context(), get_db(app).session_scope() as s:
        # Tokens are issued directly: nobody logs in, so no password hashing is needed.
        people = {
            "paramedic": (Role.PARAMEDIC, unit_id, None),
            "other_medic": (Role.PARAMEDIC, other_unit, None),
            "er_a": (Role.ER_STAFF, None, hospital_a),
            "er_b": (Role.ER_STAFF, None, hospital_b),
            "dispatcher": (Role.DISPATCHER, None, None),
        }
        tokens = {}
        for name, (role, unit, hospital) in people.items():
            user = User(
                username=name,
                display_name=name,
                password_hash="!",
                role=role,
                unit_id=unit,
                hospital_id=hospital,
            )
            s.add(user)
            s.flush()
            tokens[name], _ = issue_token(session=s, user=user, ttl_s=3600)
    return World(
        db_url=app.config["DATABASE_URL"],
        transport_id=transport_id,
        unit_id=unit_id,
        hospital_a=hospital_a,
        hospital_b=hospital_b,
        tokens=tokens,
    )


def settings(world: World, **overrides: Any) -> RelaySettings:
    base = RelaySettings(
        host="127.0.0.1",
        port=0,
        database_url=world.db_url,
        recheck_s=0.2,
        feedback_s=0.5,
        ping_interval=5,
        ping_timeout=5,
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


@contextlib.asynccontextmanager
async def running_relay(world: World, **overrides: Any) -> AsyncIterator[Relay]:
    relay = Relay(settings(world, **overrides))
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
        relay.db.engine.dispose()


def url(relay: Relay, world: World, side: str) -> str:
    return f"ws://127.0.0.1:{relay.port}/v1/transports/{world.transport_id}/{side}"


async def open_client(
    relay: Relay, world: World, side: str, token: str, **kw: Any
) -> ClientConnection:
    ws = await connect(
        url(relay, world, side),
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        **kw,
    )
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    return ws


async def next_message(
    ws: ClientConnection, pred: Callable[[Any], bool] = lambda _m: True, timeout: float = 10
) -> Any:
    """The next message matching ``pred`` (a safety timeout, not a speed check)."""

    async def loop() -> Any:
        while True:
            message = await ws.recv()
            if pred(message):
                return message

    return await asyncio.wait_for(loop(), timeout)


def is_text(message: Any) -> bool:
    return isinstance(message, str)


def is_ack(message: Any) -> bool:
    return isinstance(message, str) and json.loads(message).get("type") == "ack"


def is_error(message: Any) -> bool:
    return isinstance(message, str) and json.loads(message).get("type") == "error"


def is_frame(message: Any) -> bool:
    return isinstance(message, bytes)


def video(world: World, seq: int, *, key: bool, size: int = 1000) -> bytes:
    return Frame(
        world.transport_id, seq, seq * 66_000, Kind.VIDEO_H264, key, bytes([seq % 256]) * size
    ).encode()


def record(world: World, seq: int, kind: Kind, payload: bytes) -> bytes:
    return Frame(
        world.transport_id, seq, 1_790_000_000_000_000 + seq, kind, False, payload
    ).encode()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def backdate_end(db_url: str, transport_id: int, by: dt.timedelta) -> None:
    """Pretend the transport's handover (or stand-down) was recorded ``by`` earlier."""
    from sqlalchemy import select

    from ems.db import Database
    from ems.transports.models import TransportEvent

    db = Database(db_url)
    try:
        with db.session_scope() as s:
            events = s.scalars(
                select(TransportEvent).where(
                    TransportEvent.transport_id == transport_id,
                    TransportEvent.kind.in_(("handover", "stood_down")),
                )
            ).all()
            assert events, "the transport has not ended"
            for event in events:
                event.recorded_at = event.recorded_at - by
    finally:
        db.engine.dispose()

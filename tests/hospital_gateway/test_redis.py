"""Two relay processes behind one address share streams through Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection

from ems.app import create_app
from ems.db import Database, get_db
from ems.transports.models import Transport
from ems.vitals.models import VitalSigns
from ems_contracts.frames import Frame, Kind, decode_frame, encode_json
from hospital_gateway.relay import Relay
from tests.hospital_gateway.conftest import (
    World,
    is_ack,
    is_error,
    is_frame,
    next_message,
    open_client,
    record,
    run,
    running_relay,
    video,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")


def bus_settings() -> dict[str, object]:
    # Pub/sub channels are global to the Redis server: a per-test prefix keeps runs apart.
    tag = uuid.uuid4().hex[:8]
    return {
        "redis_url": REDIS_URL,
        "redis_prefix": f"test:{tag}:relay:",
        "events_channel": f"test:{tag}:events",
    }


@contextlib.asynccontextmanager
async def two_relays(world: World) -> AsyncIterator[tuple[Relay, Relay]]:
    """Two relays behind one address, sharing streams through Redis."""
    shared = bus_settings()
    async with (
        running_relay(world, **shared) as relay_a,
        running_relay(world, **shared) as relay_b,
    ):
        yield relay_a, relay_b


async def keyframes_until_seen(
    pub: ClientConnection, er: ClientConnection, world: World, after: int
) -> tuple[Frame, int]:
    """Send keyframes from seq ``after + 1`` until the viewer gets one (a subscription
    through Redis goes live a moment after it is asked for); the frame and last seq."""
    seq = after
    while True:
        seq += 1
        await pub.send(video(world, seq, key=True))
        try:
            return decode_frame(await next_message(er, is_frame, timeout=0.2)), seq
        except TimeoutError:
            continue


def test_a_viewer_on_another_relay_gets_video_and_vitals_stored_once(world: World) -> None:
    async def scenario() -> None:
        async with two_relays(world) as (relay_a, relay_b):
            pub = await open_client(relay_a, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay_b, world, "view", world.tokens["er_a"])
            # Relay B asks the publisher's relay for a keyframe through Redis.
            assert json.loads(await next_message(pub, lambda m: "keyframe" in str(m)))
            got, _ = await keyframes_until_seen(pub, er, world, after=0)
            assert got.kind is Kind.VIDEO_H264 and got.keyframe
            await pub.send(record(world, 500, Kind.VITALS, encode_json({"hr": 101})))
            assert json.loads(await next_message(pub, is_ack))["seqs"] == [500]
            while True:
                f = decode_frame(await next_message(er, is_frame))
                if f.kind is Kind.VITALS:
                    break
            assert json.loads(f.payload) == {"hr": 101}
            for ws in (pub, er):
                await ws.close()

    run(scenario())
    db = Database(world.db_url)
    with db.session_scope() as s:
        assert list(s.scalars(select(VitalSigns.seq))) == [500]
    db.engine.dispose()


def test_a_relay_does_not_read_back_the_frames_of_its_own_publisher(world: World) -> None:
    shared = bus_settings()

    async def scenario() -> None:
        async with running_relay(world, **shared) as relay_a:
            assert relay_a.bus is not None
            channel = relay_a.bus.stream_channel(world.transport_id)
            er = await open_client(relay_a, world, "view", world.tokens["er_a"])
            # A viewer and no publisher here: the frames can only come from the bus.
            assert channel in relay_a.bus._channels
            pub = await open_client(relay_a, world, "publish", world.tokens["paramedic"])
            await pub.send(video(world, 1, key=True))
            assert decode_frame(await next_message(er, is_frame)).seq == 1
            assert channel not in relay_a.bus._channels
            await pub.close()
            # The publisher left; a reconnect may land on another relay: listen again.
            for _ in range(100):
                if channel in relay_a.bus._channels:
                    break
                await asyncio.sleep(0.02)
            assert channel in relay_a.bus._channels
            await er.close()

    run(scenario())


def test_video_nobody_else_listens_to_stays_off_redis_until_another_relay_asks(
    world: World,
) -> None:
    async def scenario() -> None:
        async with two_relays(world) as (relay_a, relay_b):
            assert relay_a.bus is not None
            pub = await open_client(relay_a, world, "publish", world.tokens["paramedic"])
            # No viewer anywhere: after the first PUBLISH reached no relay, the
            # following video frames are not sent to Redis at all.
            for seq in range(1, 21):
                await pub.send(video(world, seq, key=seq == 1))
                await asyncio.sleep(0.01)
            assert relay_a.bus.unheard_skipped >= 10
            # A viewer on relay B asks for a keyframe through Redis: the video flows.
            er = await open_client(relay_b, world, "view", world.tokens["er_a"])
            await next_message(pub, lambda m: "keyframe" in str(m))
            _, seq = await keyframes_until_seen(pub, er, world, after=20)
            assert seq < 40
            for ws in (pub, er):
                await ws.close()

    run(scenario())


def test_a_publisher_that_moves_to_another_relay_reaches_the_old_relays_viewers(
    world: World,
) -> None:
    async def scenario() -> None:
        async with two_relays(world) as (relay_a, relay_b):
            old = await open_client(relay_a, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay_a, world, "view", world.tokens["er_a"])
            await old.send(video(world, 1, key=True))
            assert decode_frame(await next_message(er, is_frame)).seq == 1
            # The tablet switches networks and reconnects to relay B while its old
            # link to relay A is still open: A closes the old link as replaced.
            new = await open_client(relay_b, world, "publish", world.tokens["paramedic"])
            await asyncio.wait_for(old.wait_closed(), 5)
            assert old.close_code == 4000
            got, _ = await keyframes_until_seen(new, er, world, after=1)
            assert got.seq >= 2
            for ws in (new, er):
                await ws.close()

    run(scenario())


def test_a_transport_update_event_cuts_the_old_hospital_at_once(world: World, app: Flask) -> None:
    shared = bus_settings()

    async def scenario() -> None:
        # Periodic re-checks are off: only the event can cut the viewer.
        async with running_relay(world, recheck_s=3600, **shared) as relay:
            er_a = await open_client(relay, world, "view", world.tokens["er_a"])

            def reroute() -> None:
                with app.app_context(), get_db(app).session_scope() as s:
                    t = s.get(Transport, world.transport_id)
                    assert t is not None
                    t.destination_hospital_id = world.hospital_b
                event = {"type": "transport.updated", "data": {"transport_id": world.transport_id}}
                r = redis.Redis.from_url(REDIS_URL)
                r.publish(str(shared["events_channel"]), json.dumps(event))
                r.close()

            await asyncio.to_thread(reroute)
            event = json.loads(await next_message(er_a, is_error))
            assert event["code"] == "access_revoked"

    run(scenario())


def test_a_reroute_through_the_api_cuts_the_old_hospital_at_once(
    world: World, app_config: dict[str, Any]
) -> None:
    shared = bus_settings()
    # The API publishes its live events through Redis on the channel the relay listens to.
    api = create_app(
        {**app_config, "REDIS_URL": REDIS_URL, "EVENTS_CHANNEL": shared["events_channel"]}
    )
    client = api.test_client()

    async def scenario() -> None:
        # Periodic re-checks are off: only the API's transport.updated event can cut the viewer.
        async with running_relay(world, recheck_s=3600, **shared) as relay:
            er_a = await open_client(relay, world, "view", world.tokens["er_a"])
            dispatcher = await open_client(relay, world, "view", world.tokens["dispatcher"])

            def reroute() -> int:
                r = client.put(
                    f"/api/v1/transports/{world.transport_id}/destination",
                    json={"hospital_id": world.hospital_b},
                    headers={"Authorization": f"Bearer {world.tokens['dispatcher']}"},
                )
                return r.status_code

            assert await asyncio.to_thread(reroute) == 200
            event = json.loads(await next_message(er_a, is_error))
            assert event["code"] == "access_revoked"
            # The dispatcher still watches: only the hospital that was left is cut.
            await asyncio.wait_for(await dispatcher.ping(), 10)
            await dispatcher.close()

    try:
        run(scenario())
    finally:
        get_db(api).engine.dispose()

"""A tablet offline at handover: the handover reaches the API first, then the
stream comes back. Every vitals and ECG record queued during the outage is stored
exactly once, the video stays off; after the grace period the queued records are
reported as failed and the streamer stops instead of retrying forever."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from ambulance_client.adapt import Adapter, Level
from ambulance_client.capture import SyntheticSource
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer, StreamRefused
from ems.db import Database
from ems.vitals.models import EcgSegment, VitalSigns
from ems_contracts.frames import Kind, encode_ecg, encode_json
from hospital_gateway.relay import Relay
from hospital_gateway.settings import RelaySettings
from tests.ems.transports.scenario import Scene, dispatched_scene, walk_to
from tests.factories import Api
from tests.hospital_gateway.conftest import backdate_end

SMALL = (Level(320, 180, 15, 200, 60),)


async def until(check: Callable[[], bool], timeout: float = 20) -> None:
    """Wait for a condition (a safety timeout, not a speed check)."""

    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
def scene(app: Flask, as_role: Callable[..., Api]) -> Scene:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "arrived_hospital")
    return scene


def relay_at(db_url: str, port: int = 0, recheck_s: float = 0.2) -> Relay:
    return Relay(
        RelaySettings(
            port=port, database_url=db_url, recheck_s=recheck_s, ping_interval=5, ping_timeout=5
        )
    )


def tablet(scene: Scene, port: int) -> Streamer:
    config = StreamConfig(
        relay_url=f"ws://127.0.0.1:{port}",
        token=scene.medic.token,
        transport_id=scene.transport_id,
        backoff_initial_s=0.05,
        backoff_max_s=0.3,
    )
    return Streamer(config, source=SyntheticSource(320, 180, fps=15), adapter=Adapter(ladder=SMALL))


def queue_outage_records(streamer: Streamer, n: int) -> list[int]:
    monitor = SimulatedMonitor(seed=3)
    seqs = []
    for _ in range(n):
        seqs.append(streamer.add_record(Kind.VITALS, encode_json(dict(monitor.vitals().as_dict()))))
        seqs.append(streamer.add_record(Kind.ECG, encode_ecg(250, monitor.ecg(50))))
    return seqs


def stored(db_url: str, transport_id: int) -> tuple[list[int], list[int]]:
    db = Database(db_url)
    try:
        with db.session_scope() as s:
            vitals = s.scalars(
                select(VitalSigns.seq).where(VitalSigns.transport_id == transport_id)
            ).all()
            ecg = s.scalars(
                select(EcgSegment.seq).where(EcgSegment.transport_id == transport_id)
            ).all()
            return sorted(vitals), sorted(ecg)
    finally:
        db.engine.dispose()


def test_records_queued_offline_reach_the_record_after_the_handover(
    app: Flask, scene: Scene
) -> None:
    db_url = app.config["DATABASE_URL"]
    produced: list[int] = []

    async def scenario() -> None:
        relay = relay_at(db_url)
        await relay.start()
        port = relay.port
        streamer = tablet(scene, port)
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop))
        produced.extend(queue_outage_records(streamer, 5))
        await until(lambda: streamer.outbox.acked == len(produced) and streamer.stats.keyframes > 0)
        # The tablet loses its link at the hospital door and keeps measuring.
        await relay.stop()
        relay.db.engine.dispose()
        await until(lambda: not streamer.connected.is_set())
        video_before = streamer.stats.video_frames
        produced.extend(queue_outage_records(streamer, 40))
        # The handover, queued in the tablet's timeline outbox, reaches the API first.
        resp = scene.event("handover")
        assert resp.status_code == 201, resp.get_json()
        relay = relay_at(db_url, port)
        await relay.start()
        await until(lambda: len(streamer.outbox) == 0)
        assert streamer.stats.connects == 2
        assert streamer.records_only  # the video stays off once the transport ended
        assert streamer.stats.video_frames == video_before
        assert streamer.outbox.failed == []
        stop.set()
        await task
        await relay.stop()
        relay.db.engine.dispose()

    asyncio.run(scenario())
    vitals, ecg = stored(db_url, scene.transport_id)
    assert vitals == produced[0::2]
    assert ecg == produced[1::2]


def test_records_past_the_grace_period_are_reported_failed_not_retried(
    app: Flask, scene: Scene
) -> None:
    db_url = app.config["DATABASE_URL"]
    resp = scene.event("handover")
    assert resp.status_code == 201, resp.get_json()
    backdate_end(db_url, scene.transport_id, dt.timedelta(hours=7))

    async def scenario() -> Streamer:
        relay = relay_at(db_url)
        await relay.start()
        streamer = tablet(scene, relay.port)
        seqs = queue_outage_records(streamer, 3)
        try:
            with pytest.raises(StreamRefused) as refused:
                await asyncio.wait_for(streamer.run(), 20)
            assert refused.value.code == "record_grace_expired"
        finally:
            await relay.stop()
            relay.db.engine.dispose()
        assert len(streamer.outbox) == 0
        assert [f.seq for f in streamer.outbox.failed] == seqs
        assert {f.code for f in streamer.outbox.failed} == {"record_grace_expired"}
        assert streamer.stats.connects == 0
        return streamer

    asyncio.run(scenario())
    assert stored(db_url, scene.transport_id) == ([], [])


def test_a_connected_tablet_reports_records_refused_when_the_grace_period_ends(
    app: Flask, scene: Scene
) -> None:
    db_url = app.config["DATABASE_URL"]
    resp = scene.event("handover")
    assert resp.status_code == 201, resp.get_json()

    async def scenario() -> None:
        relay = relay_at(db_url, recheck_s=3600)  # re-checked by hand below
        await relay.start()
        streamer = tablet(scene, relay.port)
        first = queue_outage_records(streamer, 2)
        task = asyncio.create_task(streamer.run())
        await until(lambda: streamer.outbox.acked == len(first))
        # The grace period runs out while the tablet is still connected.
        relay.authz.record_grace_s = 0
        late = queue_outage_records(streamer, 2)
        try:
            await until(lambda: len(streamer.outbox.failed) == len(late))
            assert not task.done()  # one refused record does not end the stream
            await relay.recheck_all()
            with pytest.raises(StreamRefused) as refused:
                await asyncio.wait_for(task, 20)
            assert refused.value.code == "record_grace_expired"
        finally:
            await relay.stop()
            relay.db.engine.dispose()
        assert sorted(f.seq for f in streamer.outbox.failed) == late
        assert len(streamer.outbox) == 0

    asyncio.run(scenario())

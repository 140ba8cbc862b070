"""The tablet's publisher against a real relay: video that decodes at the viewer,
and vitals that survive a relay restart and a dropped link, stored exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from ambulance_client.adapt import Adapter, Level
from ambulance_client.capture import Captured, SyntheticSource
from ambulance_client.encoder import H264Decoder
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer, StreamRefused
from ems.db import Database
from ems.vitals.models import EcgSegment, VitalSigns
from ems_contracts import control
from ems_contracts.frames import Kind, decode_frame, encode_ecg, encode_json
from hospital_gateway.relay import Relay
from tests.hospital_gateway.conftest import (
    World,
    build_world,
    is_frame,
    next_message,
    open_client,
    run,
    running_relay,
    settings,
)


@pytest.fixture(name="world")
def world_fixture(app: Flask) -> World:
    return build_world(app)


SMALL = (Level(320, 180, 15, 200, 60),)


async def until(check: Callable[[], bool], timeout: float = 20) -> None:
    """Wait for a condition (a safety timeout, not a speed check)."""

    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def streamer_for(relay: Relay, world: World, **kw: object) -> Streamer:
    config = StreamConfig(
        relay_url=f"ws://127.0.0.1:{relay.port}",
        token=world.tokens["paramedic"],
        transport_id=world.transport_id,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )
    for key, value in kw.items():
        setattr(config, key, value)
    return Streamer(config, source=SyntheticSource(320, 180, fps=15), adapter=Adapter(ladder=SMALL))


def stored(world: World) -> tuple[list[int], int, int]:
    db = Database(world.db_url)
    try:
        with db.session_scope() as s:
            seqs = list(s.scalars(select(VitalSigns.seq).order_by(VitalSigns.seq)))
            ecg = s.scalar(select(func.count()).select_from(EcgSegment)) or 0
            distinct_ecg = s.scalar(select(func.count(func.distinct(EcgSegment.seq)))) or 0
            return seqs, ecg, distinct_ecg
    finally:
        db.engine.dispose()


def test_the_er_decodes_the_tablets_h264_video(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            streamer = streamer_for(relay, world)
            stop = asyncio.Event()
            task = asyncio.create_task(streamer.run(stop))
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            decoder = H264Decoder()
            pictures = []
            first = None
            while len(pictures) < 10:
                frame = decode_frame(await next_message(er, is_frame))
                if frame.kind is Kind.CONTROL:
                    continue
                assert frame.kind is Kind.VIDEO_H264
                first = first or frame
                pictures.extend(decoder.decode(frame.payload))
            assert first is not None and first.keyframe
            assert pictures[0].shape == (180, 320, 3)
            stop.set()
            await task
            await er.close()

    run(scenario())


def test_vitals_survive_a_relay_restart_and_a_dropped_link_exactly_once(world: World) -> None:
    produced: list[int] = []

    async def scenario() -> None:
        relay = Relay(settings(world))
        await relay.start()
        port = relay.port
        streamer = streamer_for(relay, world)
        monitor = SimulatedMonitor(seed=1)
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop))
        producing = True

        async def produce() -> None:
            while producing:
                produced.append(
                    streamer.add_record(Kind.VITALS, encode_json(dict(monitor.vitals().as_dict())))
                )
                produced.append(streamer.add_record(Kind.ECG, encode_ecg(250, monitor.ecg(50))))
                await asyncio.sleep(0.02)

        producer = asyncio.create_task(produce())
        await until(lambda: streamer.outbox.acked >= 20)
        # The relay goes away mid-stream (a crash or a deploy); the tablet keeps measuring.
        await relay.stop()
        relay.db.engine.dispose()
        during_outage = len(produced)
        await until(lambda: len(produced) > during_outage + 20)
        relay = Relay(settings(world, port=port))
        await relay.start()
        await until(lambda: streamer.stats.connects >= 2)
        await until(lambda: streamer.outbox.acked >= len(produced) // 2 + 20)
        # Then the link itself drops (a tunnel): the relay sees the socket vanish.
        publisher = relay.publishers[world.transport_id]
        assert publisher.ws.transport is not None
        publisher.ws.transport.abort()
        await until(lambda: streamer.stats.connects >= 3)
        producing = False
        await producer
        await until(lambda: len(streamer.outbox) == 0)
        stop.set()
        await task
        await relay.stop()
        relay.db.engine.dispose()

    run(scenario())
    vitals, ecg, distinct_ecg = stored(world)
    assert vitals == sorted(produced[0::2])
    assert ecg == distinct_ecg == len(produced) // 2


def test_a_refused_token_stops_the_streamer_instead_of_retrying(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            streamer = streamer_for(relay, world, token="wrong")
            try:
                await asyncio.wait_for(streamer.run(), 20)
            except StreamRefused as exc:
                assert exc.code == "invalid_token"
            else:
                raise AssertionError("the streamer should have stopped")

    run(scenario())


def test_the_streamer_waits_for_a_relay_that_is_not_up_yet(world: World) -> None:
    async def scenario() -> None:
        probe = Relay(settings(world))
        await probe.start()
        port = probe.port
        await probe.stop()
        probe.db.engine.dispose()
        streamer = Streamer(
            StreamConfig(
                relay_url=f"ws://127.0.0.1:{port}",
                token=world.tokens["paramedic"],
                transport_id=world.transport_id,
                video=False,
                backoff_initial_s=0.05,
                backoff_max_s=0.2,
            ),
        )
        seq = streamer.add_note("patient loaded", gcs=14)
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop))
        await asyncio.sleep(0.3)  # a few failed attempts
        assert streamer.stats.connects == 0 and len(streamer.outbox) == 1
        relay = Relay(settings(world, port=port))
        await relay.start()
        await until(lambda: len(streamer.outbox) == 0)
        stop.set()
        await task
        await relay.stop()
        relay.db.engine.dispose()
        assert streamer.outbox.acked == 1 and seq > 0

    run(scenario())


def test_adaptation_steps_down_on_a_full_socket_and_climbs_back_slowly() -> None:
    adapter = Adapter()
    assert adapter.decide(backlog=0, now=100.0) is None
    lower = adapter.decide(backlog=adapter.backlog_budget() + 1, now=101.0)
    assert lower is not None and lower.bitrate_kbps < 900
    assert adapter.decide(backlog=0, now=102.0) is None  # not yet
    higher = adapter.decide(backlog=0, now=110.0)
    assert higher is not None and higher.bitrate_kbps == 900


def test_adaptation_follows_the_relays_feedback() -> None:
    adapter = Adapter()
    adapter.on_feedback(viewers=2, congested=1)
    assert adapter.decide(backlog=0, now=100.0) is not None
    adapter.on_feedback(viewers=3, congested=0)
    assert adapter.decide(backlog=0, now=102.0) is None


def test_throughput_counts_only_what_left_the_socket() -> None:
    adapter = Adapter()
    for i in range(10):
        adapter.on_sent(12_500, now=100.0 + i * 0.1)
    assert adapter.throughput_kbps(backlog=0, now=101.0) == 1000.0
    assert adapter.throughput_kbps(backlog=62_500, now=101.0) == 500.0


class _SlowSource(SyntheticSource):
    """A camera whose frames take a while to read, which records a read that was
    still running when the source was closed (freed native memory, in a real one)."""

    def __init__(self) -> None:
        super().__init__(320, 180, fps=15)
        self.reading = 0
        self.closed_while_reading = False

    def read(self) -> Captured:
        self.reading += 1
        try:
            time.sleep(0.2)
            return super().read()
        finally:
            self.reading -= 1

    def close(self) -> None:
        self.closed_while_reading = self.closed_while_reading or self.reading > 0
        super().close()


def test_stopping_waits_for_the_capture_in_flight_before_anything_is_freed(
    world: World,
) -> None:
    source = _SlowSource()

    async def scenario() -> None:
        async with running_relay(world) as relay:
            streamer = streamer_for(relay, world)
            streamer.source = source
            stop = asyncio.Event()
            task = asyncio.create_task(streamer.run(stop))
            await until(lambda: source.reading > 0)
            stop.set()
            await task
            # What the tablet does next: close the camera.
            source.close()

    run(scenario())
    assert not source.closed_while_reading


class ScriptedRelay:
    """The relay's side of one connection, as a list of text messages to receive."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    async def __aiter__(self) -> AsyncIterator[str]:
        for message in self.messages:
            yield message


def test_the_streamer_acts_on_each_control_message_and_skips_what_it_cannot_read() -> None:
    streamer = Streamer(StreamConfig("ws://relay.invalid", "token", 7))
    stored, invalid, busy = (streamer.add_record(Kind.VITALS, b"{}") for _ in range(3))
    for seq in (stored, invalid, busy):
        streamer.outbox.mark_sent(seq)
    streamer._force_keyframe = False
    script = [
        "not json",
        '{"type":"from_a_newer_relay"}',
        control.Ack(seqs=[stored]).to_json(),
        control.Error(code="invalid_payload", detail="hr out of range", seq=invalid).to_json(),
        control.Error(code="busy", seq=busy).to_json(),
        control.KeyframeRequest().to_json(),
        control.Feedback(viewers=2, congested=2).to_json(),
        control.Error(code="transport_completed", detail="records only").to_json(),
    ]
    run(streamer._receive(ScriptedRelay(script)))  # type: ignore[arg-type]
    assert len(streamer.outbox) == 1 and streamer.outbox.in_flight == 0  # busy: sent again
    assert (streamer.outbox.acked, streamer.outbox.rejected) == (1, 1)
    assert streamer._force_keyframe and streamer.records_only
    assert streamer.stats.last_error == "transport_completed"
    revoked = [control.Error(code="access_revoked", detail="your access ended").to_json()]
    with pytest.raises(StreamRefused) as err:
        run(streamer._receive(ScriptedRelay(revoked)))  # type: ignore[arg-type]
    assert err.value.code == "access_revoked"


def test_the_crew_gets_the_relays_analysis_of_an_arrest_on_its_own_monitor(world: World) -> None:
    """The arrest the simulated monitor plays reaches the relay as ECG and vitals; the
    relay's analysis comes back to the tablet, which keeps it for the crew's screen:
    VF, shockable, the alert that said so, labelled decision support."""
    from ambulance_client.monitor import ArrestScenario

    async def scenario() -> None:
        async with running_relay(world) as relay:
            streamer = streamer_for(relay, world, video=False, vitals_every_s=1.0)
            streamer.monitor = SimulatedMonitor(
                seed=5, scenario="arrest", arrest=ArrestScenario(vf_s=600)
            )
            told: list[int] = []
            streamer.on_analysis = lambda: told.append(1)
            stop = asyncio.Event()
            task = asyncio.create_task(streamer.run(stop))
            await until(
                lambda: (
                    streamer.analysis is not None
                    and streamer.analysis.ecg is not None
                    and streamer.analysis.ecg.rhythm == "vf"
                ),
                timeout=60,
            )
            view = streamer.analysis_view()
            assert view is not None and told
            assert view["ecg"]["rhythm"] == "vf" and view["ecg"]["shockable"] is True
            assert view["label"] == "decision support"
            assert view["transport_id"] == world.transport_id
            reasons = {a["reason"] for a in view["alerts"]}
            assert "shockable_rhythm" in reasons
            assert all(a["at"] for a in view["alerts"])
            stop.set()
            await task

    run(scenario())

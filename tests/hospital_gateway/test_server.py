"""Publishing and viewing through a real relay: authorisation, bad frames,
persistence of vitals before the ack, slow viewers, re-routing, health."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ems.audit.models import AuditEntry
from ems.db import Database, get_db
from ems.transports.models import Transport
from ems.vitals.models import VitalSigns
from ems_contracts.frames import Frame, Kind, decode_frame, encode_ecg, encode_json
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
    url,
    video,
)

VITALS = {"hr": 92, "spo2": 95, "bp_sys": 138, "bp_dia": 86, "rr": 20, "temp_c": 37.1}


def stored_vitals(world: World) -> list[int]:
    db = Database(world.db_url)
    try:
        with db.session_scope() as s:
            return list(s.scalars(select(VitalSigns.seq).order_by(VitalSigns.seq)))
    finally:
        db.engine.dispose()


def test_er_of_the_destination_sees_video_ecg_and_vitals_and_vitals_are_stored(
    world: World,
) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            disp = await open_client(relay, world, "view", world.tokens["dispatcher"])
            await pub.send(video(world, 1, key=True))
            await pub.send(video(world, 2, key=False))
            await pub.send(record(world, 10, Kind.VITALS, encode_json(VITALS)))
            await pub.send(record(world, 11, Kind.ECG, encode_ecg(250, range(50))))
            acked: set[int] = set()
            while acked != {10, 11}:
                acked |= set(json.loads(await next_message(pub, is_ack))["seqs"])
            # Stored before the tablet heard "ack".
            assert stored_vitals(world) == [10]
            for viewer in (er, disp):
                frames = [decode_frame(await next_message(viewer, is_frame)) for _ in range(4)]
                kinds = {f.kind for f in frames}
                assert kinds == {Kind.VIDEO_H264, Kind.VITALS, Kind.ECG}
                vitals = next(f for f in frames if f.kind is Kind.VITALS)
                assert json.loads(vitals.payload) == VITALS
            await pub.close()
            await er.close()
            await disp.close()

    run(scenario())


def test_a_late_viewer_starts_on_the_last_keyframe_at_once(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            await pub.send(video(world, 1, key=True))
            await pub.send(video(world, 2, key=False))
            await pub.send(video(world, 3, key=False))
            # Let the relay take them before the viewer arrives.
            health = await asyncio.to_thread(_healthz, relay.port)
            assert health["publishers"] == 1
            while (room := relay.registry.get(world.transport_id)) is None or room.frames_in < 3:
                await asyncio.sleep(0.01)
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            got = [decode_frame(await next_message(er, is_frame)) for _ in range(3)]
            assert [(f.seq, f.keyframe) for f in got] == [(1, True), (2, False), (3, False)]
            await pub.close()
            await er.close()

    run(scenario())


@pytest.mark.parametrize(
    ("who", "side", "code"),
    [
        ("er_b", "view", "not_your_hospital"),  # ER of a hospital the patient is not going to
        ("paramedic", "view", "record_forbidden"),  # crews publish, they do not watch others
        ("other_medic", "publish", "not_your_unit"),  # crew of another unit
        ("er_a", "publish", "role_forbidden"),
        ("dispatcher", "publish", "role_forbidden"),
        ("nobody", "view", "invalid_token"),
    ],
)
def test_refusals_send_an_error_event_and_close_with_1008(
    world: World, app: Flask, who: str, side: str, code: str
) -> None:
    token = world.tokens.get(who, "not-a-token")

    async def scenario() -> None:
        async with (
            running_relay(world) as relay,
            connect(
                url(relay, world, side), additional_headers={"Authorization": f"Bearer {token}"}
            ) as ws,
        ):
            event = json.loads(await ws.recv())
            assert event["type"] == "error" and event["code"] == code
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    run(scenario())
    if who != "nobody":
        with app.app_context(), get_db(app).session_scope() as s:
            denied = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
            assert [e.action for e in denied] == [f"stream.{side}"]


def test_a_browser_authenticates_with_a_hello_message_not_the_url(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            async with connect(url(relay, world, "view")) as ws:
                await ws.send(json.dumps({"type": "hello", "token": world.tokens["er_a"]}))
                assert json.loads(await ws.recv())["type"] == "welcome"
            async with connect(url(relay, world, "view")) as ws:
                await ws.send("hello?")
                assert json.loads(await ws.recv())["code"] == "unauthenticated"

    run(scenario())


def test_a_hello_with_an_overlong_token_is_refused_before_any_lookup(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            async with connect(url(relay, world, "view")) as ws:
                token = "x" * 2000  # within the unauthenticated frame limit
                await ws.send(json.dumps({"type": "hello", "token": token}))
                event = json.loads(await ws.recv())
                assert (event["type"], event["code"]) == ("error", "unauthenticated")
                assert "at most" in event["detail"]
            # Larger than an unauthenticated socket may send: cut at once (1009).
            async with connect(url(relay, world, "view")) as ws:
                await ws.send(json.dumps({"type": "hello", "token": "x" * 100_000}))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    run(scenario())


def test_an_unauthenticated_socket_gets_a_short_deadline(world: World) -> None:
    async def scenario() -> None:
        async with (
            running_relay(world, auth_timeout_s=0.3) as relay,
            connect(url(relay, world, "view")) as ws,
        ):
            started = time.monotonic()
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert event["code"] == "unauthenticated"
            assert time.monotonic() - started < 3
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    run(scenario())


def test_large_frames_pass_only_after_authentication(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            # Authenticated by header: a 100 KB keyframe goes through to a viewer.
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay, world, "view", world.tokens["er_a"], max_size=2**21)
            await pub.send(video(world, 1, key=True, size=100 * 1024))
            got = await next_message(er, is_frame)
            assert decode_frame(got).seq == 1
            await pub.close()
            await er.close()
            # The same frame from a socket that has not said hello is cut off (1009).
            async with connect(url(relay, world, "publish")) as stranger:
                await stranger.send(video(world, 1, key=True, size=100 * 1024))
                with pytest.raises(ConnectionClosed) as closed:
                    await stranger.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    run(scenario())


def test_a_full_relay_closes_new_connections_with_a_clear_reason(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world, max_connections=1) as relay:
            first = await open_client(relay, world, "view", world.tokens["er_a"])
            async with connect(url(relay, world, "view")) as second:
                event = json.loads(await second.recv())
                assert (event["type"], event["code"]) == ("error", "relay_full")
                with pytest.raises(ConnectionClosed) as closed:
                    await second.recv()
                assert closed.value.rcvd is not None
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "relay_full")
            await first.close()
            await asyncio.sleep(0.1)
            # A place is free again.
            again = await open_client(relay, world, "view", world.tokens["er_a"])
            await again.close()

    run(scenario())


def _get(port: int, path: str, token: str = "") -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_relay_metrics_need_the_metrics_token(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world, metrics_token="m" * 32) as relay:
            status, body = await asyncio.to_thread(_get, relay.port, "/metrics")
            assert status == 401 and json.loads(body)["code"] == "metrics_token_required"
            status, _ = await asyncio.to_thread(_get, relay.port, "/metrics", "wrong")
            assert status == 401
            status, body = await asyncio.to_thread(_get, relay.port, "/metrics", "m" * 32)
            assert status == 200 and "ems_relay_viewers" in body
        async with running_relay(world, production=True) as relay:
            status, _ = await asyncio.to_thread(_get, relay.port, "/metrics")
            assert status == 404

    run(scenario())


def test_text_that_is_no_control_message_is_answered_and_the_links_stay(world: World) -> None:
    def is_keyframe_request(message: object) -> bool:
        return isinstance(message, str) and json.loads(message)["type"] == "keyframe_request"

    async def scenario() -> None:
        async with running_relay(world) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            for ws in (pub, er):
                for text, reason in [
                    ("not json", "not JSON"),
                    ('{"type":"subscribe"}', "unknown message type"),
                    ('{"type":"ack","seqs":"all"}', "ack.seqs"),
                ]:
                    await ws.send(text)
                    event = json.loads(await next_message(ws, is_error))
                    assert event["code"] == "malformed_message" and reason in event["detail"]
            await pub.send(video(world, 5, key=True))
            assert decode_frame(await next_message(er, is_frame)).seq == 5
            # A viewer's keyframe request reaches the publisher (past the relay's limit of
            # one request per 0.5 s, and after whatever the join asked for).
            await asyncio.sleep(0.6)
            with contextlib.suppress(TimeoutError):
                while True:
                    await asyncio.wait_for(pub.recv(), 0.2)
            await er.send('{"type":"keyframe_request"}')
            await next_message(pub, is_keyframe_request)
            await pub.close()
            await er.close()

    run(scenario())


def test_an_unknown_transport_is_refused(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            bad = url(relay, world, "view").replace(f"/{world.transport_id}/", "/999999/")
            headers = {"Authorization": f"Bearer {world.tokens['dispatcher']}"}
            async with connect(bad, additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["code"] == "transport_not_found"

    run(scenario())


def test_malformed_truncated_and_invalid_frames_are_dropped_with_an_error(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            good = video(world, 5, key=True)
            cases = [
                (b"garbage", "truncated_frame"),
                (b"XX" + good[2:], "malformed_frame"),
                (good[:-10], "truncated_frame"),
                (record(world, 6, Kind.VITALS, b"{not json"), "malformed_frame"),
                (record(world, 7, Kind.VITALS, encode_json({"hr": 900})), "invalid_payload"),
                (record(world, 8, Kind.ECG, b"\x01"), "malformed_frame"),
                (
                    Frame(world.transport_id + 1, 9, 0, Kind.VIDEO_JPEG, True, b"x").encode(),
                    "wrong_transport",
                ),
            ]
            for raw, code in cases:
                await pub.send(raw)
                event = json.loads(await next_message(pub, is_error))
                assert event["code"] == code
            # The connection survived: a good frame still goes through, alone.
            await pub.send(good)
            got = decode_frame(await next_message(er, is_frame))
            assert got.seq == 5
            assert stored_vitals(world) == []
            # A viewer cannot publish.
            await er.send(good)
            assert json.loads(await next_message(er, is_error))["code"] == "viewers_cannot_publish"
            await pub.close()
            await er.close()

    run(scenario())


def test_an_oversized_message_closes_the_connection_with_1009(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world, max_size=64 * 1024) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            await pub.send(video(world, 1, key=True, size=100 * 1024))
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(pub)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            # The relay itself is fine: a new connection works.
            again = await open_client(relay, world, "publish", world.tokens["paramedic"])
            await again.close()

    run(scenario())


def test_a_slow_viewer_neither_slows_the_others_nor_grows_memory(world: World) -> None:
    frame_size = 100 * 1024
    total = 200  # 20 MB through the relay: well past every socket buffer

    async def scenario() -> None:
        async with running_relay(world, write_limit=16 * 1024) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            fast = await open_client(relay, world, "view", world.tokens["er_a"], max_size=2**21)
            # The slow viewer reads nothing until the end; its client buffers one message.
            slow = await open_client(
                relay, world, "view", world.tokens["dispatcher"], max_size=2**21, max_queue=1
            )
            slow_id = max(relay.viewers)
            peak_bytes = 0
            got: list[int] = []
            for seq in range(1, total + 1):
                await pub.send(video(world, seq, key=seq % 15 == 1, size=frame_size))
                # The fast viewer keeps up: it reads each frame as it comes.
                got.append(decode_frame(await next_message(fast, is_frame)).seq)
                queue = relay.viewers[slow_id].queue
                peak_bytes = max(peak_bytes, queue.video_bytes)
            assert got == list(range(1, total + 1))
            assert relay.viewers[slow_id].queue.dropped > 0
            assert peak_bytes <= queue.max_video_bytes + 2 * frame_size
            # What the slow viewer finally gets never breaks a GOP: after every gap
            # comes a keyframe.
            slow_seqs: list[tuple[int, bool]] = []
            await pub.send(record(world, 10_000, Kind.VITALS, encode_json(VITALS)))
            while True:
                f = decode_frame(await next_message(slow, is_frame, timeout=20))
                if f.kind is Kind.VITALS:
                    break
                slow_seqs.append((f.seq, f.keyframe))
            assert slow_seqs[0][1]
            for (a, _), (b, key) in itertools.pairwise(slow_seqs):
                assert b == a + 1 or key
            await pub.close()
            await fast.close()
            await slow.close()

    run(scenario())


def test_rerouting_the_transport_cuts_the_old_hospitals_viewers(world: World, app: Flask) -> None:
    async def scenario() -> None:
        async with running_relay(world, recheck_s=0.2) as relay:
            er_a = await open_client(relay, world, "view", world.tokens["er_a"])
            disp = await open_client(relay, world, "view", world.tokens["dispatcher"])

            def reroute() -> None:
                with app.app_context(), get_db(app).session_scope() as s:
                    t = s.get(Transport, world.transport_id)
                    assert t is not None
                    t.destination_hospital_id = world.hospital_b

            await asyncio.to_thread(reroute)
            event = json.loads(await next_message(er_a, is_error))
            assert event["code"] == "access_revoked"
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(er_a)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            # The new hospital may now watch; the dispatcher was never cut.
            er_b = await open_client(relay, world, "view", world.tokens["er_b"])
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            await pub.send(video(world, 1, key=True))
            assert decode_frame(await next_message(er_b, is_frame)).seq == 1
            assert decode_frame(await next_message(disp, is_frame)).seq == 1
            for ws in (er_b, pub, disp):
                await ws.close()

    run(scenario())


def test_a_reconnecting_publisher_replaces_the_stale_connection(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            old = await open_client(relay, world, "publish", world.tokens["paramedic"])
            new = await open_client(relay, world, "publish", world.tokens["paramedic"])
            with pytest.raises(ConnectionClosed) as closed:
                await next_message(old)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            await new.send(video(world, 1, key=True))
            assert decode_frame(await next_message(er, is_frame)).seq == 1
            await new.close()
            await er.close()

    run(scenario())


def _healthz(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        assert resp.status == 200
        body: dict[str, object] = json.load(resp)
        return body


def test_healthz_answers_plain_http(world: World) -> None:
    async def scenario() -> None:
        async with running_relay(world) as relay:
            body = await asyncio.to_thread(_healthz, relay.port)
            assert body["status"] == "ok" and body["redis"] is False

    run(scenario())


def test_ems_relay_stops_gracefully_on_sigterm(world: World, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": world.db_url,
        "PKI_DIR": str(tmp_path / "pki"),
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hospital_gateway.server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):
            try:
                _healthz(port)
                break
            except OSError:
                time.sleep(0.05)

        async def scenario() -> int | None:
            async with connect(
                f"ws://127.0.0.1:{port}/v1/transports/{world.transport_id}/view",
                additional_headers={"Authorization": f"Bearer {world.tokens['er_a']}"},
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "welcome"
                proc.send_signal(signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await next_message(ws)
                return closed.value.rcvd.code if closed.value.rcvd else None

        # 1001 "going away": the viewer reconnects, to another relay if need be.
        assert run(scenario()) == 1001
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_relay_without_its_database_asks_clients_to_come_back(world: World) -> None:
    async def scenario() -> None:
        down = "postgresql://postgres@127.0.0.1:1/nowhere"
        async with running_relay(world, database_url=down) as relay:
            headers = {"Authorization": f"Bearer {world.tokens['er_a']}"}
            async with connect(url(relay, world, "view"), additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["code"] == "relay_unavailable"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

    run(scenario())

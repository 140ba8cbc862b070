"""Records that reach the relay after the handover: a tablet that was offline when
the handover was recorded through the API still delivers its queued vitals and ECG
(stored once, acknowledged), but no video; after the grace period they are refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import Database
from ems.vitals.models import EcgSegment, VitalSigns
from ems_contracts.frames import Frame, Kind, decode_frame, encode_ecg, encode_json
from hospital_gateway.relay import Relay
from hospital_gateway.settings import RelaySettings
from tests.ems.transports.scenario import Scene, dispatched_scene, walk_to
from tests.factories import Api
from tests.hospital_gateway.conftest import backdate_end, is_ack, is_error, is_frame, next_message

VITALS = {"hr": 88, "spo2": 96, "bp_sys": 132, "bp_dia": 84, "rr": 18, "temp_c": 36.9}


@dataclass
class Ambulance:
    db_url: str
    scene: Scene
    er: Api

    @property
    def transport_id(self) -> int:
        return self.scene.transport_id

    def frame(self, seq: int, kind: Kind, payload: bytes, *, key: bool = False) -> bytes:
        return Frame(
            self.transport_id, seq, 1_790_000_000_000_000 + seq, kind, key, payload
        ).encode()

    def vitals(self, seq: int) -> bytes:
        return self.frame(seq, Kind.VITALS, encode_json(VITALS))

    def ecg(self, seq: int) -> bytes:
        return self.frame(seq, Kind.ECG, encode_ecg(250, range(50)))

    def video(self, seq: int) -> bytes:
        return self.frame(seq, Kind.VIDEO_H264, b"\x00\x00\x00\x01" + bytes(200), key=True)

    def handover(self) -> None:
        resp = self.scene.event("handover")
        assert resp.status_code == 201, resp.get_json()

    def stored(self) -> tuple[list[int], list[int]]:
        db = Database(self.db_url)
        try:
            with db.session_scope() as s:
                vitals = list(s.scalars(select(VitalSigns.seq).order_by(VitalSigns.seq)))
                ecg = list(s.scalars(select(EcgSegment.seq).order_by(EcgSegment.seq)))
                return vitals, ecg
        finally:
            db.engine.dispose()


@pytest.fixture
def ambulance(app: Flask, as_role: Callable[..., Api]) -> Ambulance:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "arrived_hospital")
    er = as_role(Role.ER_STAFF, hospital_id=scene.hospital_id)
    return Ambulance(app.config["DATABASE_URL"], scene, er)


def relay_for(amb: Ambulance, **overrides: Any) -> Relay:
    settings = RelaySettings(
        port=0, database_url=amb.db_url, recheck_s=0.2, ping_interval=5, ping_timeout=5
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return Relay(settings)


async def dial(relay: Relay, amb: Ambulance, side: str, token: str) -> tuple[ClientConnection, Any]:
    ws = await connect(
        f"ws://127.0.0.1:{relay.port}/v1/transports/{amb.transport_id}/{side}",
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
    )
    return ws, json.loads(await asyncio.wait_for(ws.recv(), 10))


async def acked(ws: ClientConnection, seqs: set[int]) -> None:
    got: set[int] = set()
    while not seqs <= got:
        got |= set(json.loads(await next_message(ws, is_ack))["seqs"])


def test_queued_vitals_and_ecg_after_a_handover_are_stored_once_and_video_is_refused(
    ambulance: Ambulance,
) -> None:
    amb = ambulance

    async def scenario() -> None:
        relay = relay_for(amb)
        await relay.start()
        try:
            pub, welcome = await dial(relay, amb, "publish", amb.scene.medic.token)
            assert welcome["scope"] == "live"
            await pub.send(amb.vitals(100))
            await acked(pub, {100})
            # The tablet loses its link; 101 went out but its ack never came back.
            await pub.send(amb.vitals(101))
            await pub.close()
            # Meanwhile the crew's handover reaches the API (the timeline outbox).
            amb.handover()
            assert amb.scene.transport()["status"] == "completed"

            er, _ = await dial(relay, amb, "view", amb.er.token)
            pub, welcome = await dial(relay, amb, "publish", amb.scene.medic.token)
            assert welcome["scope"] == "records"
            queued = [101, 102, 103, 104, 105, 106]
            for seq in queued:
                await pub.send(amb.vitals(seq) if seq % 2 else amb.ecg(seq))
            await acked(pub, set(queued))
            # Live video of a completed transport is refused; the connection stays open.
            await pub.send(amb.video(1))
            error = json.loads(await next_message(pub, is_error))
            assert (error["code"], error["seq"]) == ("transport_completed", 1)
            await pub.send(amb.vitals(107))
            await acked(pub, {107})
            # The ER that follows the patient sees the late vitals, and no video.
            seen = [decode_frame(await next_message(er, is_frame))]
            while seen[-1].seq != 107:
                seen.append(decode_frame(await next_message(er, is_frame)))
            assert {f.kind for f in seen} == {Kind.VITALS, Kind.ECG}
            assert {102, 103, 104, 105, 106} <= {f.seq for f in seen}
            await pub.close()
            await er.close()
        finally:
            await relay.stop()
            relay.db.engine.dispose()

    asyncio.run(scenario())
    vitals, ecg = amb.stored()
    assert vitals == [100, 101, 103, 105, 107]  # 101 was sent twice, stored once
    assert ecg == [102, 104, 106]


def test_a_crew_member_off_duty_after_the_handover_still_delivers_queued_records(
    ambulance: Ambulance, as_role: Callable[..., Api]
) -> None:
    amb = ambulance
    medic = amb.scene.medic
    admin = as_role(Role.ADMIN)

    async def scenario() -> None:
        relay = relay_for(amb)
        await relay.start()
        try:
            # Off duty while the transport is under way: nothing may be published.
            resp = admin.put(f"/api/v1/users/{medic.user_id}/duty", json={"on_duty": False})
            assert resp.status_code == 200, resp.get_json()
            refused, answer = await dial(relay, amb, "publish", medic.token)
            assert (answer["type"], answer["code"]) == ("error", "off_duty")
            await refused.close()
            resp = admin.put(f"/api/v1/users/{medic.user_id}/duty", json={"on_duty": True})
            assert resp.status_code == 200, resp.get_json()
            amb.handover()
            # The shift ends right after the handover; the tablet was offline and
            # still holds two vitals and an ECG segment.
            resp = admin.put(f"/api/v1/users/{medic.user_id}/duty", json={"on_duty": False})
            assert resp.status_code == 200, resp.get_json()
            pub, welcome = await dial(relay, amb, "publish", medic.token)
            assert (welcome["type"], welcome["scope"]) == ("welcome", "records")
            for seq in (201, 202, 203):
                await pub.send(amb.ecg(seq) if seq == 202 else amb.vitals(seq))
            await acked(pub, {201, 202, 203})
            await pub.send(amb.video(1))
            error = json.loads(await next_message(pub, is_error))
            assert error["code"] == "transport_completed"
            await pub.close()
        finally:
            await relay.stop()
            relay.db.engine.dispose()

    asyncio.run(scenario())
    assert amb.stored() == ([201, 203], [202])


def test_records_are_refused_for_good_once_the_grace_period_is_over(
    ambulance: Ambulance,
) -> None:
    amb = ambulance
    amb.handover()
    backdate_end(amb.db_url, amb.transport_id, dt.timedelta(hours=7))

    async def scenario() -> None:
        relay = relay_for(amb, record_grace_s=6 * 3600)
        await relay.start()
        try:
            pub, welcome = await dial(relay, amb, "publish", amb.scene.medic.token)
            assert welcome["type"] == "error"
            assert welcome["code"] == "record_grace_expired"
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(pub.recv(), 10)
            assert pub.close_code == 1008
        finally:
            await relay.stop()
            relay.db.engine.dispose()

    asyncio.run(scenario())
    assert amb.stored() == ([], [])
    db = Database(amb.db_url)
    try:
        with db.session_scope() as s:
            entry = s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "stream.publish", AuditEntry.outcome == "denied"
                )
            ).one()
            assert entry.detail == {"code": "record_grace_expired"}
    finally:
        db.engine.dispose()


def test_a_connected_publisher_is_cut_when_the_grace_period_ends(ambulance: Ambulance) -> None:
    amb = ambulance
    amb.handover()

    async def scenario() -> None:
        # No periodic re-check: the frame itself meets the closed record first.
        relay = relay_for(amb, recheck_s=3600)
        await relay.start()
        try:
            pub, welcome = await dial(relay, amb, "publish", amb.scene.medic.token)
            assert welcome["scope"] == "records"
            await pub.send(amb.vitals(200))
            await acked(pub, {200})
            relay.authz.record_grace_s = 0  # the grace period runs out
            await pub.send(amb.vitals(201))
            error = json.loads(await next_message(pub, is_error))
            assert (error["code"], error["seq"]) == ("record_grace_expired", 201)
            # The next re-check closes the stream for good.
            await relay.recheck_all()
            error = json.loads(await next_message(pub, is_error))
            assert error["code"] == "record_grace_expired" and "seq" not in error
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(pub.recv(), 10)
            assert pub.close_code == 1008
        finally:
            await relay.stop()
            relay.db.engine.dispose()

    asyncio.run(scenario())
    assert amb.stored() == ([200], [])


def test_a_publisher_streaming_through_the_handover_keeps_delivering_records(
    ambulance: Ambulance,
) -> None:
    amb = ambulance

    async def scenario() -> None:
        relay = relay_for(amb)
        await relay.start()
        try:
            pub, _ = await dial(relay, amb, "publish", amb.scene.medic.token)
            amb.handover()
            await relay.recheck_all()  # what the periodic re-check does within 0.2 s
            await pub.send(amb.video(1))
            error = json.loads(await next_message(pub, is_error))
            assert error["code"] == "transport_completed"
            await pub.send(amb.vitals(300))
            await acked(pub, {300})
            await pub.close()
        finally:
            await relay.stop()
            relay.db.engine.dispose()

    asyncio.run(scenario())
    assert amb.stored() == ([300], [])

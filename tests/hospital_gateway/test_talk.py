"""The voice line between the crew and the MC doctor (``/talk``): the audio frame kind,
the line's pure fan-out, and through a real relay who may speak and hear (the crew and
the MC doctor who answers for them; never the receiving ER, a dispatcher or another
crew), every decision audited, and audio kept off the viewers' path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ems.audit.models import AuditEntry
from ems.auth.models import Role, User
from ems.auth.service import issue_token
from ems.db import get_db
from ems.instructions.models import InstructionRequest
from ems.transports.models import Transport, TransportStatus
from ems_contracts import control
from ems_contracts.frames import (
    MAX_PAYLOAD,
    Frame,
    Kind,
    ProtocolError,
    decode_frame,
    decode_header,
    encode_frame,
)
from hospital_gateway.protocol import Push, TalkLine, TalkQueue
from tests.hospital_gateway.conftest import (
    World,
    is_error,
    is_frame,
    next_message,
    open_client,
    run,
    running_relay,
    url,
    video,
)

CAPTURE_US = 1_790_000_000_000_000


def audio(world: World, seq: int, payload: bytes = b"\xf8\xff\xfe") -> bytes:
    return Frame(
        world.transport_id, seq, CAPTURE_US + seq * 20_000, Kind.AUDIO_OPUS, False, payload
    ).encode()


def is_peers(message: Any) -> bool:
    return isinstance(message, str) and json.loads(message).get("type") == "talk_peers"


# --- the frame and the line, without sockets -------------------------------------------


def test_an_audio_frame_is_neither_video_nor_a_record_and_has_a_small_limit() -> None:
    assert Kind.AUDIO_OPUS == 7
    assert Kind.AUDIO_OPUS.is_audio and not Kind.AUDIO_OPUS.is_record
    assert not Kind.AUDIO_OPUS.is_video
    frame = Frame(3, 9, CAPTURE_US, Kind.AUDIO_OPUS, False, b"\x01" * 120)
    assert decode_frame(frame.encode()) == frame
    assert MAX_PAYLOAD[Kind.AUDIO_OPUS] == 4096
    with pytest.raises(ProtocolError) as too_big:
        encode_frame(Frame(3, 9, CAPTURE_US, Kind.AUDIO_OPUS, False, b"\x01" * 4097))
    assert too_big.value.code == "frame_too_large"
    # A header announcing more is refused before the payload is read.
    head = bytearray(frame.encode()[:32])
    head[28:32] = (5000).to_bytes(4, "big")
    with pytest.raises(ProtocolError) as announced:
        decode_header(bytes(head))
    assert announced.value.code == "frame_too_large"


def test_everyone_on_the_line_hears_everyone_else_never_themselves() -> None:
    line = TalkLine()
    crew, doctor, second = TalkQueue(), TalkQueue(), TalkQueue()
    line.join(1, "paramedic", crew)
    line.join(2, "mc_doctor", doctor)
    assert line.roster() == {1: ["mc_doctor"], 2: ["paramedic"]}
    line.join(3, "paramedic", second)
    assert line.speak(b"voice", sender=2) == {1: Push.QUEUED, 3: Push.QUEUED}
    assert (crew.pop(), second.pop(), doctor.pop()) == (b"voice", b"voice", None)
    # From another relay: everyone here hears it.
    assert set(line.speak(b"far", sender=None)) == {1, 2, 3}
    line.leave(3)
    assert line.roster(remote=["mc_doctor"]) == {
        1: ["mc_doctor", "mc_doctor"],
        2: ["mc_doctor", "paramedic"],
    }


def test_late_speech_is_dropped_oldest_first_and_the_roster_goes_before_it() -> None:
    q = TalkQueue(max_audio=3)
    outcomes = [q.push_audio(bytes([i])) for i in range(5)]
    assert outcomes == [Push.QUEUED] * 3 + [Push.DROPPED] * 2
    q.push_message('{"old":1}')
    q.push_message('{"new":1}')  # only the latest roster matters
    assert [q.pop() for _ in range(5)] == ['{"new":1}', b"\x02", b"\x03", b"\x04", None]
    assert q.dropped == 2


def test_talk_peers_is_a_typed_control_message() -> None:
    text = control.TalkPeers(roles=["mc_doctor"]).to_json()
    assert text == '{"type":"talk_peers","roles":["mc_doctor"]}'
    assert control.parse_control(text) == control.TalkPeers(roles=["mc_doctor"])
    with pytest.raises(control.ControlError):
        control.parse_control('{"type":"talk_peers","roles":[""]}')


# --- through a relay ---------------------------------------------------------------------


def add_mc_doctor(app: Flask, world: World, *, asked: bool = True) -> str:
    """An MC doctor on duty (no roster: every one answers for every unit), and, when
    ``asked``, an open request for instruction from the transport's crew."""
    with app.app_context(), get_db(app).session_scope() as s:
        doctor = User(
            username="mc_doc",
            display_name="mc_doc",
            password_hash="!",
            role=Role.MC_DOCTOR,
            hospital_id=world.hospital_b,
        )
        s.add(doctor)
        s.flush()
        token, _ = issue_token(session=s, user=doctor, ttl_s=3600)
        if asked:
            medic = s.scalars(select(User).where(User.username == "paramedic")).one()
            s.add(
                InstructionRequest(
                    transport_id=world.transport_id,
                    unit_id=world.unit_id,
                    procedure="iv_access",
                    requested_by=medic.id,
                )
            )
    return token


def audit(app: Flask, action: str) -> list[tuple[str, int | None]]:
    with app.app_context(), get_db(app).session_scope() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [(e.outcome, e.actor_id) for e in rows]


def test_the_crew_and_the_mc_doctor_hear_each_other_and_the_er_hears_nothing(
    app: Flask, world: World
) -> None:
    doctor_token = add_mc_doctor(app, world)

    async def scenario() -> None:
        async with running_relay(world) as relay:
            pub = await open_client(relay, world, "publish", world.tokens["paramedic"])
            er = await open_client(relay, world, "view", world.tokens["er_a"])
            crew = await open_client(relay, world, "talk", world.tokens["paramedic"])
            assert json.loads(await next_message(crew, is_peers))["roles"] == []
            doctor = await open_client(relay, world, "talk", doctor_token)
            assert json.loads(await next_message(doctor, is_peers))["roles"] == ["paramedic"]
            assert json.loads(await next_message(crew, is_peers))["roles"] == ["mc_doctor"]

            await doctor.send(audio(world, 1, b"doctor"))
            heard = decode_frame(await next_message(crew, is_frame))
            assert (heard.kind, heard.payload, heard.capture_us) == (
                Kind.AUDIO_OPUS,
                b"doctor",
                CAPTURE_US + 20_000,
            )
            await crew.send(audio(world, 2, b"crew"))
            assert decode_frame(await next_message(doctor, is_frame)).payload == b"crew"

            # The ER viewer of the same transport gets the picture, never the voices:
            # the first frame it receives after all that speech is the video.
            await pub.send(video(world, 1, key=True))
            first = decode_frame(await next_message(er, is_frame))
            assert first.kind is Kind.VIDEO_H264
            # Nor can the tablet's stream carry audio to the viewers.
            await pub.send(audio(world, 3))
            refused = json.loads(await next_message(pub, is_error))
            assert (refused["code"], refused["seq"]) == ("wrong_frame_kind", 3)
            # The line takes audio only.
            await crew.send(video(world, 2, key=True))
            assert json.loads(await next_message(crew, is_error))["code"] == "wrong_frame_kind"

            await doctor.close()
            assert json.loads(await next_message(crew, is_peers))["roles"] == []
            for ws in (pub, er, crew):
                await ws.close()

    run(scenario())
    outcomes = audit(app, "stream.talk")
    assert [o for o, _ in outcomes] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("er_a", "role_forbidden"),  # the receiving ER watches, it does not hear the consultation
        ("dispatcher", "role_forbidden"),
        ("other_medic", "not_your_unit"),
        ("doctor_not_asked", "not_on_mc_duty"),  # no request for instruction yet
    ],
)
def test_anyone_else_is_refused_with_1008_and_audited(
    app: Flask, world: World, who: str, code: str
) -> None:
    token = (
        add_mc_doctor(app, world, asked=False) if who == "doctor_not_asked" else world.tokens[who]
    )

    async def scenario() -> None:
        async with (
            running_relay(world) as relay,
            connect(url(relay, world, "talk")) as ws,
        ):
            await ws.send(control.Hello(token=token).to_json())
            event = json.loads(await ws.recv())
            assert (event["type"], event["code"]) == ("error", code)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    run(scenario())
    assert [o for o, _ in audit(app, "stream.talk")] == ["denied"]


def test_the_line_is_cut_when_the_transport_ends(app: Flask, world: World) -> None:
    doctor_token = add_mc_doctor(app, world)

    async def scenario() -> None:
        async with running_relay(world) as relay:
            doctor = await open_client(relay, world, "talk", doctor_token)
            with app.app_context(), get_db(app).session_scope() as s:
                t = s.get(Transport, world.transport_id)
                assert t is not None
                t.status = TransportStatus.COMPLETED
            event = json.loads(await next_message(doctor, is_error))
            assert event["code"] == "access_revoked"
            with pytest.raises(ConnectionClosed):
                await doctor.recv()

    run(scenario())


def test_the_line_spans_two_relays_through_redis(app: Flask, world: World) -> None:
    from tests.hospital_gateway.test_redis import _redis_up, two_relays

    if not _redis_up():
        pytest.skip("no Redis")
    doctor_token = add_mc_doctor(app, world)

    async def scenario() -> None:
        async with two_relays(world) as (relay_a, relay_b):
            crew = await open_client(relay_a, world, "talk", world.tokens["paramedic"])
            doctor = await open_client(relay_b, world, "talk", doctor_token)
            # Each learns through the bus who is on the line at the other relay.
            while json.loads(await next_message(crew, is_peers))["roles"] != ["mc_doctor"]:
                pass
            while json.loads(await next_message(doctor, is_peers))["roles"] != ["paramedic"]:
                pass
            await doctor.send(audio(world, 1, b"over redis"))
            assert decode_frame(await next_message(crew, is_frame)).payload == b"over redis"
            await crew.send(audio(world, 2, b"and back"))
            assert decode_frame(await next_message(doctor, is_frame)).payload == b"and back"
            await doctor.close()
            while json.loads(await next_message(crew, is_peers))["roles"] != []:
                pass
            await crew.close()

    run(scenario())

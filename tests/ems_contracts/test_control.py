"""The relay's control messages: each one round trips through its JSON, the bytes on
the wire are the ones the ER viewer sends and reads, and anything else is refused
with ``malformed_message`` and a reason."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ems_contracts.control import (
    MAX_TOKEN,
    Ack,
    Analysis,
    AnalysisAlert,
    ControlError,
    EcgAnalysis,
    Error,
    Feedback,
    Hello,
    KeyframeRequest,
    Message,
    PublisherHere,
    VitalsAnalysis,
    Welcome,
    parse_control,
)
from ems_contracts.frames import ProtocolError

EVERY_MESSAGE: list[Message] = [
    Hello(token="tok-abc_123"),
    Welcome(transport_id=12, side="view", role="er_staff"),
    Welcome(transport_id=12, side="publish", role="paramedic", scope="records"),
    Ack(seqs=[1_790_000_000_000_001, 1_790_000_000_000_002]),
    Ack(seqs=[]),
    KeyframeRequest(),
    Feedback(viewers=3, congested=1),
    Error(code="invalid_token", detail="the token is unknown, revoked or expired"),
    Error(code="malformed_frame", detail="bad magic", seq=2**64 - 1),
    PublisherHere(),
    Analysis(
        transport_id=12,
        at=dt.datetime(2026, 5, 1, 9, 30, 2, tzinfo=dt.UTC),
        ecg=EcgAnalysis(rhythm="vf", heart_rate_bpm=None, shockable=True, confidence=0.64),
        vitals=VitalsAnalysis(
            news2=8, news2_trend=[0, 8], shock_index=1.17, shock_index_trend=[0.62, 1.17]
        ),
        alerts=[
            AnalysisAlert(
                reason="news2_emergency",
                message="NEWS2 8 reached the emergency response threshold (7)",
                values={"news2": 8, "previous": 0, "threshold": 7},
            )
        ],
    ),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: m.type)
def test_every_message_round_trips(message: Message) -> None:
    text = message.to_json()
    assert parse_control(text) == message
    assert parse_control(text.encode()) == message
    assert json.loads(text)["type"] == message.type


def test_the_wire_is_what_the_viewer_sends_and_reads() -> None:
    # viewer.js: ws.send(JSON.stringify({ type: "hello", token })), the same bytes.
    assert Hello(token="abc").to_json() == '{"type":"hello","token":"abc"}'
    # It reads msg.type of a welcome and msg.code of an error.
    assert parse_control('{"type": "hello", "token": "abc"}') == Hello(token="abc")
    welcome = Welcome(transport_id=7, side="view", role="dispatcher").to_json()
    assert welcome == '{"type":"welcome","transport_id":7,"side":"view","role":"dispatcher"}'
    assert json.loads(Error(code="access_revoked").to_json()) == {
        "type": "error",
        "code": "access_revoked",
        "detail": "",
    }


def test_the_publisher_gets_the_fields_it_reads() -> None:
    assert Ack(seqs=[5, 6]).to_json() == '{"type":"ack","seqs":[5,6]}'
    assert KeyframeRequest().to_json() == '{"type":"keyframe_request"}'
    assert Feedback(viewers=2, congested=0).to_json() == (
        '{"type":"feedback","viewers":2,"congested":0}'
    )
    welcome = Welcome(transport_id=7, side="publish", role="paramedic", scope="live")
    assert json.loads(welcome.to_json())["scope"] == "live"
    assert json.loads(Error(code="busy", seq=9).to_json())["seq"] == 9


def test_a_hello_does_not_show_its_token() -> None:
    assert "secret" not in repr(Hello(token="secret"))
    with pytest.raises(ControlError) as err:
        parse_control('{"type":"hello","token":"secret","extra":"x"}')
    assert "secret" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello?", "not JSON"),
        ('{"type":"hello","token":', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[]", "not a JSON object"),
        ('"hello"', "not a JSON object"),
        ("null", "not a JSON object"),
        ("{}", "no message type"),
        ('{"token":"abc"}', "no message type"),
        ('{"type":"subscribe"}', "unknown message type 'subscribe'"),
        ('{"type":"Hello","token":"abc"}', "unknown message type 'Hello'"),
        ('{"type":"hello"}', "hello.token: Field required"),
        ('{"type":"hello","token":""}', "hello.token"),
        ('{"type":"hello","token":"%s"}' % ("x" * (MAX_TOKEN + 1)), "at most 512 characters"),
        ('{"type":"hello","token":42}', "hello.token"),
        ('{"type":"hello","token":"abc","lang":"ja"}', "hello.lang: Extra inputs"),
        ('{"type":"welcome","side":"view","role":"er_staff"}', "welcome.transport_id"),
        ('{"type":"welcome","transport_id":1,"side":"watch","role":"er_staff"}', "welcome.side"),
        (
            '{"type":"welcome","transport_id":1,"side":"publish","role":"paramedic","scope":"all"}',
            "welcome.scope",
        ),
        ('{"type":"welcome","transport_id":4294967296,"side":"view","role":"x"}', "transport"),
        ('{"type":"ack"}', "ack.seqs: Field required"),
        ('{"type":"ack","seqs":["5"]}', "ack.seqs.0"),
        ('{"type":"ack","seqs":[-1]}', "ack.seqs.0"),
        ('{"type":"ack","seqs":[18446744073709551616]}', "ack.seqs.0"),
        ('{"type":"feedback","viewers":2}', "feedback.congested"),
        ('{"type":"feedback","viewers":true,"congested":0}', "feedback.viewers"),
        ('{"type":"error"}', "error.code: Field required"),
        ('{"type":"error","code":"Not A Code"}', "error.code"),
        ('{"type":"error","code":"busy","seq":"7"}', "error.seq"),
        ('{"type":"keyframe_request","now":true}', "keyframe_request.now"),
    ],
)
def test_a_malformed_message_is_refused_with_a_reason(text: str | bytes, reason: str) -> None:
    with pytest.raises(ControlError) as err:
        parse_control(text)
    assert err.value.code == "malformed_message"
    assert reason in err.value.detail
    # The relay answers it like any frame it drops: an error event with the code.
    assert isinstance(err.value, ProtocolError)


def test_messages_are_values() -> None:
    assert Ack(seqs=[1]) == Ack(seqs=[1])
    with pytest.raises(ValueError):
        Hello(token="")
    with pytest.raises(ValueError):
        Error(code="busy", unknown=1)  # type: ignore[call-arg]


def test_an_analysis_says_null_for_no_result_and_is_always_decision_support() -> None:
    # What the tablet and the viewer read: every field, null until there is a result.
    text = Analysis(
        transport_id=3, at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), ecg=None, vitals=None, alerts=[]
    ).to_json()
    assert json.loads(text) == {
        "type": "analysis",
        "transport_id": 3,
        "at": "2026-05-01T00:00:00Z",
        "ecg": None,
        "vitals": None,
        "alerts": [],
        "label": "decision support",
    }
    assert isinstance(parse_control(text), Analysis)
    for bad in (
        text.replace('"decision support"', '"diagnosis"'),
        text.replace(
            '"ecg":null',
            '"ecg":{"rhythm":"torsades","heart_rate_bpm":null,"shockable":true,"confidence":0.5}',
        ),
        text.replace(
            '"ecg":null',
            '"ecg":{"rhythm":"vf","heart_rate_bpm":null,"shockable":true,"confidence":1.5}',
        ),
    ):
        with pytest.raises(ControlError):
            parse_control(bad)

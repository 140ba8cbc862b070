"""The relay's text messages, typed: what the tablet, the ER viewer and the relay say
to each other besides frames, and what relays say to each other on the Redis bus.

    client → relay      hello             the token, from a browser (no WebSocket headers)
    relay → client      welcome           authorised; a publisher's ``scope``
    relay → publisher   ack               these records are stored
                        keyframe_request  a viewer waits for a keyframe
                        feedback          viewers, and how many of them drop video
    relay → client      error             a refusal, a dropped frame (its ``seq``), a revocation
                        analysis          the patient analysis of the stream (decision support)
    viewer → relay      keyframe_request
    relay → talker      talk_peers        who else is on the voice line now (their roles)
    relay ↔ relay       keyframe_request, publisher_here (Redis bus)

Every message is a JSON object whose ``type`` names it. ``to_json()`` gives compact
UTF-8 JSON, the same bytes as ``JSON.stringify`` in the viewer
(``hospital_gateway/static/viewer.js``); a field that is not set is left out, except
in ``analysis``, where ``null`` says "no result yet" and every field is present.
``parse_control`` turns a text back into its message, or raises ``ControlError``
(code ``malformed_message``) saying what is wrong: not JSON, an unknown type, a
missing, extra or out-of-range field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from ems_contracts.frames import ProtocolError

# API tokens are 43 characters; the limit only keeps junk away from the token lookup.
MAX_TOKEN = 512

Seq = Annotated[int, Field(ge=0, lt=2**64)]  # a frame's sequence (64-bit in the header)
TransportId = Annotated[int, Field(ge=0, lt=2**32)]  # 32-bit in the header
Count = Annotated[int, Field(ge=0)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# "talk": the voice line (``Kind.AUDIO_OPUS`` both ways) between the crew and the MC doctor.
Side = Literal["publish", "view", "talk"]
# What a publisher may send: "live" while under way; "records" once the transport
# ended, within the grace period (queued records, no video); "closed" after it.
Scope = Literal["live", "records", "closed"]


class ControlError(ProtocolError):
    """A text message that is not one of the control messages below."""

    def __init__(self, detail: str) -> None:
        super().__init__(code="malformed_message", detail=detail)


class _Message(BaseModel):
    # Strict: "5" is no sequence and true is no count; a field the other side does
    # not know is an error, not silently dropped.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class Hello(_Message):
    type: Literal["hello"] = "hello"
    token: str = Field(min_length=1, max_length=MAX_TOKEN, repr=False)


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    transport_id: TransportId
    side: Side
    role: str = Field(min_length=1, max_length=32)
    scope: Scope | None = None  # a publisher's only


class Ack(_Message):
    """The relay stored these records (duplicates included): the tablet forgets them."""

    type: Literal["ack"] = "ack"
    seqs: list[Seq]


class KeyframeRequest(_Message):
    type: Literal["keyframe_request"] = "keyframe_request"


class Feedback(_Message):
    """Fed back to the publisher every few seconds, to adapt its video."""

    type: Literal["feedback"] = "feedback"
    viewers: Count
    congested: Count  # viewers that had to drop video since the last feedback


class Error(_Message):
    """A refusal (then a close), a frame dropped (``seq``), or a passing condition."""

    type: Literal["error"] = "error"
    code: Code
    detail: str = ""
    seq: Seq | None = None


class TalkPeers(_Message):
    """Relay to everyone on a transport's voice line, whenever someone joins or leaves:
    the roles of the others on it (``paramedic``, ``mc_doctor``), so that a page can
    say whether anybody hears it."""

    type: Literal["talk_peers"] = "talk_peers"
    roles: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(max_length=64)


class PublisherHere(_Message):
    """Relay to relay: the publisher of this transport is connected to me now."""

    type: Literal["publisher_here"] = "publisher_here"


# --- patient analysis ---------------------------------------------------------------

# Every analysis carries this label, and every screen shows it (translated): the
# analysis supports the crew's and the doctor's judgement, it is never a diagnosis.
DecisionSupport = Literal["decision support"]
DECISION_SUPPORT: DecisionSupport = "decision support"
Rhythm = Literal["sinus", "af", "vt", "vf", "asystole", "unknown"]
RHYTHMS: tuple[Rhythm, ...] = ("sinus", "af", "vt", "vf", "asystole", "unknown")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EcgAnalysis(_Part):
    """The rhythm of the last ECG window (``unknown``: too noisy to say)."""

    rhythm: Rhythm
    heart_rate_bpm: Annotated[int, Field(ge=0, lt=1000)] | None
    shockable: bool
    confidence: Annotated[float, Field(ge=0, le=1)]


class VitalsAnalysis(_Part):
    """NEWS2 and the shock index of the last reading, with the recent ones (oldest first)."""

    news2: Count
    news2_trend: list[Count]
    # Parameters the reading did not carry (a pulseless patient has no SpO2 or pressure
    # a monitor can read): they score nothing, so the total is a partial one.
    news2_missing: list[Code] = Field(default_factory=list, max_length=8)
    shock_index: Annotated[float, Field(ge=0)] | None
    shock_index_trend: list[Annotated[float, Field(ge=0)] | None]


class AnalysisAlert(_Part):
    """A deterioration, said once when it happens: ``reason`` for machines and for
    the translated sentence, ``values`` for it, ``message`` in English as a fallback."""

    reason: Code
    message: str = Field(max_length=500)
    values: dict[str, JsonValue]


class Analysis(_Message):
    """Relay to the stream's viewers and its publisher: the patient analysis as the
    stream arrives. ``at`` is the capture time of the last record analysed; ``ecg``
    or ``vitals`` is null until there is a result; ``alerts`` is empty unless
    something changed."""

    type: Literal["analysis"] = "analysis"
    transport_id: TransportId
    at: dt.datetime
    ecg: EcgAnalysis | None
    vitals: VitalsAnalysis | None
    alerts: list[AnalysisAlert]
    label: DecisionSupport = DECISION_SUPPORT

    def to_json(self) -> str:
        # Every field, nulls included: a reader tells "no result yet" from an old sender.
        return self.model_dump_json()


Message = Annotated[
    Hello
    | Welcome
    | Ack
    | KeyframeRequest
    | Feedback
    | Error
    | TalkPeers
    | PublisherHere
    | Analysis,
    Field(discriminator="type"),
]
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


def parse_control(text: str | bytes) -> Message:
    """The message ``text`` holds; raises ``ControlError`` if it is none of them."""
    try:
        return _MESSAGE.validate_json(text)
    except ValidationError as exc:
        raise ControlError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    # Never the input itself: a hello carries a token.
    reasons = []
    for err in exc.errors(include_url=False, include_input=False)[:3]:
        kind, where = err["type"], ".".join(str(part) for part in err["loc"])
        if kind == "json_invalid":
            return "not JSON"
        if kind == "model_attributes_type" or (kind.endswith("_type") and not where):
            return "not a JSON object"
        if kind == "union_tag_not_found":
            return "no message type"
        if kind == "union_tag_invalid":
            return f"unknown message type {err.get('ctx', {}).get('tag', '')!r}"
        reasons.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(reasons)

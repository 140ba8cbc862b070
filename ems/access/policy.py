"""The access rules themselves: plain data in, a decision with a stable code out.

No database, no Flask: ``decide`` is cheap enough for the relay to re-check every
stream every few seconds, and a reader can check ``RULES`` line by line against the
table in docs/api.md (tests/ems/access/test_policy.py keeps the two equal).

A rule is looked up by (role, action); a pair missing from ``RULES`` is refused.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from ems.auth.models import Role, User


class Action(enum.StrEnum):
    INCIDENT_READ = "incident.read"  # the call: place, complaint, urgency, patient age/sex
    INCIDENT_CALLER = "incident.caller"  # the caller's name, phone and own words
    TRANSPORT_READ = "transport.read"  # the transport and its timeline
    TRANSPORT_WRITE = "transport.write"  # timeline steps, destination, hospital requests
    TRANSPORT_REPLAY = "transport.replay"  # the stored answer to an event already recorded
    PATIENT_IDENTIFY = "patient.identify"  # read a My Number card for this transport
    RECORD_READ = "patient_record.read"  # the medical record released to the transport
    RECORD_BREAK_GLASS = "patient_record.break_glass"  # outside the rules, with a reason
    VITALS_READ = "vitals.read"  # stored vitals and ECG
    STREAM_VIEW = "stream.view"  # the live video, ECG and vitals
    STREAM_PUBLISH = "stream.publish"  # sending them from the ambulance
    STREAM_TALK = "stream.talk"  # the voice line between the crew and the MC doctor
    REQUEST_READ = "hospital_request.read"  # an acceptance request and its patient glance
    REQUEST_ANSWER = "hospital_request.answer"  # accept or decline it
    ACCESS_LOG_READ = "patient.access_log"  # who read a patient's record
    EVENTS_SUBSCRIBE = "events.subscribe"  # the live events of one's own audience
    # Listing and closing the reviews of PIN-less and break-glass reads.
    RECORD_REVIEW = "patient_record.review"
    INSTRUCTION_ASK = "instruction.ask"  # ask medical control before a procedure
    INSTRUCTION_READ = "instruction.read"  # the requests for instruction and their answers
    INSTRUCTION_ANSWER = "instruction.answer"  # the doctor's instruction


class Code(enum.StrEnum):
    """Why a rule refused; the API answers 403 with this code."""

    NOT_YOUR_UNIT = "not_your_unit"
    NOT_YOUR_HOSPITAL = "not_your_hospital"
    NOT_TRANSPORT_CREW = "not_transport_crew"
    OFF_DUTY = "off_duty"
    CREW_ACCESS_ENDED = "crew_access_ended"
    RECORD_FORBIDDEN = "record_forbidden"
    BREAK_GLASS_REQUIRED = "break_glass_required"
    CALLER_FORBIDDEN = "caller_forbidden"
    TRANSPORT_ENDED = "transport_ended"
    RECORD_GRACE_EXPIRED = "record_grace_expired"
    ROLE_FORBIDDEN = "role_forbidden"
    NOT_ON_MC_DUTY = "not_on_mc_duty"


@dataclass(frozen=True)
class Principal:
    """Who asks, as plain data (a User row, or what the relay cached of one)."""

    user_id: int
    role: Role
    unit_id: int | None = None
    hospital_id: int | None = None
    on_duty: bool = True

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.role, user.unit_id, user.hospital_id, user.on_duty)


@dataclass(frozen=True)
class TransportFacts:
    """What the rules need to know of a transport."""

    transport_id: int
    unit_id: int
    status: str = "active"  # active | completed | cancelled
    destination_hospital_id: int | None = None
    # Hospitals holding a request that was sent and not yet answered.
    open_request_hospital_ids: frozenset[int] = frozenset()
    # Paramedics recorded on the crew while the transport was active.
    crew_user_ids: frozenset[int] = frozenset()
    patient_id: int | None = None
    # When the server recorded the end (handover or stand-down); None while active.
    ended_at: dt.datetime | None = None
    incident_id: int | None = None
    # The medical-control doctors who answer for this transport, once its crew asked
    # for an instruction: empty before (no MC doctor sees it), None when the roster
    # names nobody for the unit now (every MC doctor on duty answers).
    mc_doctor_ids: frozenset[int] | None = frozenset()

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class RequestFacts:
    request_id: int
    hospital_id: int
    status: str  # sent | accepted | declined | cancelled
    transport: TransportFacts


@dataclass(frozen=True)
class Situation:
    """The object of the question and the moment it is asked."""

    now: dt.datetime
    grace_s: float
    transport: TransportFacts | None = None
    request: RequestFacts | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    # The principal acts as the unit's on-duty crew of an active transport and is not
    # on record yet: the guard records them (they keep access until handover + grace).
    joins_crew: bool = False

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def _no(code: Code) -> Decision:
    return Decision(False, code.value)


# --- the building blocks of the table -----------------------------------------------------


def _within_grace(t: TransportFacts, s: Situation) -> bool:
    if t.active:
        return True
    if t.ended_at is None:
        return False
    return s.now - t.ended_at <= dt.timedelta(seconds=s.grace_s)


def _live_crew(p: Principal, t: TransportFacts) -> bool:
    """On duty on the transport's unit while it is active: the crew right now."""
    return p.on_duty and p.unit_id is not None and p.unit_id == t.unit_id and t.active


def crew_reads(p: Principal, s: Situation, refused: Code = Code.NOT_YOUR_UNIT) -> Decision:
    """Crew: recorded on the crew (or the unit's on-duty crew now), until handover + grace."""
    t = _transport(s)
    if p.user_id in t.crew_user_ids:
        return ALLOW if _within_grace(t, s) else _no(Code.CREW_ACCESS_ENDED)
    if _live_crew(p, t):
        return Decision(True, joins_crew=True)
    if p.unit_id == t.unit_id and t.active and not p.on_duty:
        return _no(Code.OFF_DUTY)
    return _no(refused)


def crew_writes(p: Principal, s: Situation, refused: Code = Code.NOT_YOUR_UNIT) -> Decision:
    """Crew, on duty: the unit's crew or a recorded member. Whether the transport still
    takes the change is the use case's answer (409 transport_closed), not a right."""
    t = _transport(s)
    if p.user_id not in t.crew_user_ids and p.unit_id != t.unit_id:
        return _no(refused)
    if not p.on_duty:
        return _no(Code.OFF_DUTY)
    return Decision(True, joins_crew=_live_crew(p, t) and p.user_id not in t.crew_user_ids)


def crew_identifies(p: Principal, s: Situation) -> Decision:
    return crew_writes(p, s, refused=Code.NOT_TRANSPORT_CREW)


def crew_publishes(p: Principal, s: Situation) -> Decision:
    """The crew sends while active; a recorded member delivers queued records until
    handover + grace even off duty (a shift that ends at handover strands nothing)."""
    t = _transport(s)
    if t.active:
        if _live_crew(p, t):
            return Decision(True, joins_crew=p.user_id not in t.crew_user_ids)
        if p.user_id in t.crew_user_ids or p.unit_id == t.unit_id:
            return _no(Code.OFF_DUTY) if not p.on_duty else _no(Code.NOT_YOUR_UNIT)
        return _no(Code.NOT_YOUR_UNIT)
    if p.user_id in t.crew_user_ids:
        return ALLOW if _within_grace(t, s) else _no(Code.RECORD_GRACE_EXPIRED)
    return _no(Code.NOT_YOUR_UNIT)


def crew_talks(p: Principal, s: Situation) -> Decision:
    """The unit's crew on duty while the transport is active: the voice line to the
    MC doctor carries nothing of the record, so it ends with the transport."""
    t = _transport(s)
    if not t.active:
        return _no(Code.TRANSPORT_ENDED)
    if _live_crew(p, t):
        return Decision(True, joins_crew=p.user_id not in t.crew_user_ids)
    if p.unit_id == t.unit_id:
        return _no(Code.OFF_DUTY)
    return _no(Code.NOT_YOUR_UNIT)


def receiving_er(p: Principal, s: Situation) -> Decision:
    """ER: the hospital the transport is headed to now, or one holding an open request;
    after handover the receiving hospital keeps what it received."""
    t = _transport(s)
    h = p.hospital_id
    if h is None:
        return _no(Code.NOT_YOUR_HOSPITAL)
    if t.active and (h == t.destination_hospital_id or h in t.open_request_hospital_ids):
        return ALLOW
    if t.status == "completed" and h == t.destination_hospital_id:
        return ALLOW
    return _no(Code.NOT_YOUR_HOSPITAL)


def _mc_for(p: Principal, t: TransportFacts) -> bool:
    if t.mc_doctor_ids is None:
        return True
    return p.user_id in t.mc_doctor_ids


def mc_reads(p: Principal, s: Situation) -> Decision:
    """MC doctor on duty who answers for the transport once its crew asked, until
    handover + grace (the instruction is part of the record)."""
    t = _transport(s)
    if not p.on_duty:
        return _no(Code.OFF_DUTY)
    if not _mc_for(p, t):
        return _no(Code.NOT_ON_MC_DUTY)
    return ALLOW if _within_grace(t, s) else _no(Code.TRANSPORT_ENDED)


def mc_live(p: Principal, s: Situation) -> Decision:
    """As ``mc_reads``, while the transport is active (the live picture)."""
    t = _transport(s)
    if not t.active:
        return _no(Code.TRANSPORT_ENDED)
    return mc_reads(p, s)


def mc_answers(p: Principal, s: Situation) -> Decision:
    """MC doctor on duty who answers for the transport's unit now. Whether the request
    is still open is the use case's answer (409 instruction_answered)."""
    t = _transport(s)
    if not p.on_duty:
        return _no(Code.OFF_DUTY)
    if not _mc_for(p, t):
        return _no(Code.NOT_ON_MC_DUTY)
    return ALLOW


def er_request(p: Principal, s: Situation) -> Decision:
    """ER: its own hospital's request while it is open, or accepted and still the
    destination; a declined or cancelled request takes the patient with it."""
    r = _request(s)
    if p.hospital_id is None or p.hospital_id != r.hospital_id:
        return _no(Code.NOT_YOUR_HOSPITAL)
    if r.status == "sent" and r.transport.active:
        return ALLOW
    if r.status == "accepted":
        return receiving_er(p, Situation(s.now, s.grace_s, transport=r.transport))
    return _no(Code.NOT_YOUR_HOSPITAL)


def er_answers(p: Principal, s: Situation) -> Decision:
    """ER staff of the addressed hospital, on duty. Whether it is still open is the
    use case's answer (409 request_closed)."""
    r = _request(s)
    if p.hospital_id is None or p.hospital_id != r.hospital_id:
        return _no(Code.NOT_YOUR_HOSPITAL)
    if not p.on_duty:
        return _no(Code.OFF_DUTY)
    return ALLOW


def crew_request(p: Principal, s: Situation) -> Decision:
    return crew_reads(p, Situation(s.now, s.grace_s, transport=_request(s).transport))


def while_active(p: Principal, s: Situation) -> Decision:
    return ALLOW if _transport(s).active else _no(Code.TRANSPORT_ENDED)


def on_duty(p: Principal, s: Situation) -> Decision:
    return ALLOW if p.on_duty else _no(Code.OFF_DUTY)


def subscriber(p: Principal, s: Situation) -> Decision:
    """Live events for staff on duty, bound to what their role serves."""
    if not p.on_duty:
        return _no(Code.OFF_DUTY)
    if p.role is Role.PARAMEDIC and p.unit_id is None:
        return _no(Code.ROLE_FORBIDDEN)
    if p.role in (Role.ER_STAFF, Role.MC_DOCTOR) and p.hospital_id is None:
        return _no(Code.ROLE_FORBIDDEN)
    return ALLOW


def always(p: Principal, s: Situation) -> Decision:
    return ALLOW


def never_record(p: Principal, s: Situation) -> Decision:
    return _no(Code.RECORD_FORBIDDEN)


def break_glass_only(p: Principal, s: Situation) -> Decision:
    return _no(Code.BREAK_GLASS_REQUIRED)


def never_caller(p: Principal, s: Situation) -> Decision:
    return _no(Code.CALLER_FORBIDDEN)


def _transport(s: Situation) -> TransportFacts:
    if s.transport is not None:
        return s.transport
    if s.request is not None:
        return s.request.transport
    raise NeedsObject("this rule needs a transport")


def _request(s: Situation) -> RequestFacts:
    if s.request is None:
        raise NeedsObject("this rule needs a hospital request")
    return s.request


class NeedsObject(Exception):
    """The rule decides per object, and the question named none: the answer is no."""


Rule = Callable[[Principal, Situation], Decision]


@dataclass(frozen=True)
class Entry:
    rule: Rule
    text: str  # the cell of the table in docs/api.md


P, E, D, A, M = Role.PARAMEDIC, Role.ER_STAFF, Role.DISPATCHER, Role.ADMIN, Role.MC_DOCTOR
Ac = Action

CREW_READS = "crew of the transport, until handover + `RECORD_GRACE_S`"
CREW_WRITES = "crew of the transport, on duty"
RECEIVING_ER = "destination or open request now; the receiving hospital after handover"
MC_READS = "on MC duty for the unit, once the crew asked; until handover + `RECORD_GRACE_S`"
MC_LIVE = "on MC duty for the unit, once the crew asked; while the transport is active"

RULES: dict[tuple[Role, Action], Entry] = {
    # The call.
    (D, Ac.INCIDENT_READ): Entry(always, "yes"),
    (D, Ac.INCIDENT_CALLER): Entry(always, "yes"),
    (A, Ac.INCIDENT_READ): Entry(always, "yes"),
    (A, Ac.INCIDENT_CALLER): Entry(always, "yes"),
    (P, Ac.INCIDENT_READ): Entry(crew_reads, CREW_READS),
    (P, Ac.INCIDENT_CALLER): Entry(crew_reads, CREW_READS),
    (E, Ac.INCIDENT_READ): Entry(receiving_er, RECEIVING_ER),
    (E, Ac.INCIDENT_CALLER): Entry(never_caller, "no (`caller_forbidden`: left out of the answer)"),
    # The transport and its timeline.
    (D, Ac.TRANSPORT_READ): Entry(always, "yes"),
    (A, Ac.TRANSPORT_READ): Entry(always, "yes"),
    (P, Ac.TRANSPORT_READ): Entry(crew_reads, CREW_READS),
    (E, Ac.TRANSPORT_READ): Entry(receiving_er, RECEIVING_ER),
    (D, Ac.TRANSPORT_WRITE): Entry(on_duty, "on duty"),
    (A, Ac.TRANSPORT_WRITE): Entry(on_duty, "on duty"),
    (P, Ac.TRANSPORT_WRITE): Entry(crew_writes, CREW_WRITES),
    (D, Ac.TRANSPORT_REPLAY): Entry(always, "yes"),
    (A, Ac.TRANSPORT_REPLAY): Entry(always, "yes"),
    (P, Ac.TRANSPORT_REPLAY): Entry(crew_reads, CREW_READS),
    # The patient and the medical record.
    (P, Ac.PATIENT_IDENTIFY): Entry(crew_identifies, CREW_WRITES),
    (P, Ac.RECORD_READ): Entry(crew_reads, CREW_READS),
    (E, Ac.RECORD_READ): Entry(receiving_er, RECEIVING_ER),
    (D, Ac.RECORD_READ): Entry(never_record, "no (`record_forbidden`)"),
    (A, Ac.RECORD_READ): Entry(break_glass_only, "no (`break_glass_required`)"),
    (A, Ac.RECORD_BREAK_GLASS): Entry(always, "with a reason; audited and flagged for review"),
    (A, Ac.ACCESS_LOG_READ): Entry(always, "yes"),
    (P, Ac.EVENTS_SUBSCRIBE): Entry(subscriber, "on duty, bound to a unit; its unit's events"),
    (E, Ac.EVENTS_SUBSCRIBE): Entry(subscriber, "on duty; its hospital's events"),
    (D, Ac.EVENTS_SUBSCRIBE): Entry(subscriber, "on duty"),
    (A, Ac.EVENTS_SUBSCRIBE): Entry(always, "yes"),
    (A, Ac.RECORD_REVIEW): Entry(always, "yes (a break-glass read by another administrator)"),
    # Vitals, ECG and video.
    (P, Ac.VITALS_READ): Entry(crew_reads, CREW_READS),
    (E, Ac.VITALS_READ): Entry(receiving_er, RECEIVING_ER),
    (D, Ac.VITALS_READ): Entry(while_active, "while the transport is active"),
    (A, Ac.VITALS_READ): Entry(break_glass_only, "no (`break_glass_required`)"),
    (E, Ac.STREAM_VIEW): Entry(receiving_er, RECEIVING_ER),
    (D, Ac.STREAM_VIEW): Entry(while_active, "while the transport is active"),
    (P, Ac.STREAM_PUBLISH): Entry(
        crew_publishes,
        "unit's crew on duty while active; recorded crew's queued records until "
        "handover + `RECORD_GRACE_S`",
    ),
    # The voice line: the crew and the MC doctor who answers for them, nobody else
    # (the receiving ER watches the picture but does not hear the consultation).
    (P, Ac.STREAM_TALK): Entry(crew_talks, "unit's crew on duty while active"),
    (M, Ac.STREAM_TALK): Entry(mc_live, MC_LIVE),
    # Hospital requests.
    (E, Ac.REQUEST_READ): Entry(er_request, "its hospital's, while open or while it receives"),
    (E, Ac.REQUEST_ANSWER): Entry(er_answers, "its hospital's, on duty"),
    (P, Ac.REQUEST_READ): Entry(crew_request, CREW_READS),
    (D, Ac.REQUEST_READ): Entry(always, "yes"),
    (A, Ac.REQUEST_READ): Entry(always, "yes"),
    # The doctor's instruction (online medical control).
    (P, Ac.INSTRUCTION_ASK): Entry(crew_writes, CREW_WRITES),
    (P, Ac.INSTRUCTION_READ): Entry(crew_reads, CREW_READS),
    (E, Ac.INSTRUCTION_READ): Entry(receiving_er, RECEIVING_ER),
    (M, Ac.INSTRUCTION_READ): Entry(mc_reads, MC_READS),
    (M, Ac.INSTRUCTION_ANSWER): Entry(mc_answers, "on MC duty for the unit now"),
    (A, Ac.INSTRUCTION_READ): Entry(always, "yes"),
    # What the MC doctor needs to answer: the call, the transport, the record, the picture.
    (M, Ac.INCIDENT_READ): Entry(mc_reads, MC_READS),
    (M, Ac.INCIDENT_CALLER): Entry(never_caller, "no (`caller_forbidden`: left out of the answer)"),
    (M, Ac.TRANSPORT_READ): Entry(mc_reads, MC_READS),
    (M, Ac.RECORD_READ): Entry(mc_reads, MC_READS),
    (M, Ac.VITALS_READ): Entry(mc_reads, MC_READS),
    (M, Ac.STREAM_VIEW): Entry(mc_live, MC_LIVE),
    (M, Ac.EVENTS_SUBSCRIBE): Entry(subscriber, "on duty, at a base hospital"),
}


def decide(p: Principal, action: Action, s: Situation) -> Decision:
    """May ``p`` do ``action`` on the object in ``s`` now? Anything not in RULES: no."""
    entry = RULES.get((p.role, action))
    if entry is None:
        return Decision(False, _unlisted_code(p, action))
    try:
        return entry.rule(p, s)
    except NeedsObject:
        return Decision(False, Code.ROLE_FORBIDDEN.value)


def _unlisted_code(p: Principal, action: Action) -> str:
    if action in (Action.RECORD_READ, Action.VITALS_READ, Action.STREAM_VIEW):
        return Code.RECORD_FORBIDDEN.value
    return Code.ROLE_FORBIDDEN.value


class PublishScope(enum.StrEnum):
    LIVE = "live"  # under way: video and records
    RECORDS = "records"  # ended, within the grace period: queued records only
    CLOSED = "closed"  # ended longer ago than the grace period: nothing


def publish_scope(t: TransportFacts, *, now: dt.datetime, grace_s: float) -> PublishScope:
    """What a transport's publisher may still send.

    A tablet that was offline at handover delivers the vitals and ECG it queued when
    it reconnects, possibly after the handover reached the API: refusing them would
    lose part of the medical record. Video of an ended transport has no viewer to
    serve. After the grace period the record is closed.
    """
    if t.active:
        return PublishScope.LIVE
    if t.ended_at is not None and now - t.ended_at > dt.timedelta(seconds=grace_s):
        return PublishScope.CLOSED
    return PublishScope.RECORDS


def table_rows() -> list[tuple[str, str, str]]:
    """(action, role, rule text) for every role and action: the table in docs/api.md."""
    rows = []
    for action in Action:
        for role in (Role.PARAMEDIC, Role.ER_STAFF, Role.MC_DOCTOR, Role.DISPATCHER, Role.ADMIN):
            entry = RULES.get((role, action))
            rows.append((action.value, role.value, entry.text if entry else "no"))
    return rows

"""The access table, row by row: every (role, action) pair of ``RULES`` (and every
pair left out of it) against transports in each state, and docs/api.md shows the
same table the code enforces."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from ems.access.policy import (
    RULES,
    Action,
    Principal,
    RequestFacts,
    Situation,
    TransportFacts,
    decide,
    table_rows,
)
from ems.auth.models import Role

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
GRACE_S = 6 * 3600
UNIT, OTHER_UNIT = 1, 2
DEST, ASKED, LEFT, OTHER = 10, 11, 12, 13  # hospitals: destination, open request, left, never

CREW = Principal(100, Role.PARAMEDIC, unit_id=UNIT)  # recorded on the crew
JOINER = Principal(101, Role.PARAMEDIC, unit_id=UNIT)  # on the unit, on duty, not recorded
OFF = Principal(102, Role.PARAMEDIC, unit_id=UNIT, on_duty=False)  # on the unit, off duty
STRANGER = Principal(103, Role.PARAMEDIC, unit_id=OTHER_UNIT)
CREW_OFF = Principal(100, Role.PARAMEDIC, unit_id=UNIT, on_duty=False)
ER_DEST = Principal(200, Role.ER_STAFF, hospital_id=DEST)
ER_ASKED = Principal(201, Role.ER_STAFF, hospital_id=ASKED)
ER_LEFT = Principal(202, Role.ER_STAFF, hospital_id=LEFT)
ER_OTHER = Principal(203, Role.ER_STAFF, hospital_id=OTHER)
ER_DEST_OFF = Principal(204, Role.ER_STAFF, hospital_id=DEST, on_duty=False)
DISPATCHER = Principal(300, Role.DISPATCHER)
DISPATCHER_OFF = Principal(301, Role.DISPATCHER, on_duty=False)
ADMIN = Principal(400, Role.ADMIN)
MC = Principal(500, Role.MC_DOCTOR, hospital_id=DEST)  # on MC duty for the unit
MC_OTHER = Principal(501, Role.MC_DOCTOR, hospital_id=OTHER)  # on duty, not for this unit
MC_OFF = Principal(502, Role.MC_DOCTOR, hospital_id=DEST, on_duty=False)


def transport(status: str = "active", ended_ago_h: float | None = None) -> TransportFacts:
    ended = None if ended_ago_h is None else NOW - dt.timedelta(hours=ended_ago_h)
    return TransportFacts(
        transport_id=7,
        unit_id=UNIT,
        status=status,
        destination_hospital_id=DEST,
        open_request_hospital_ids=frozenset({ASKED}) if status == "active" else frozenset(),
        crew_user_ids=frozenset({CREW.user_id}),
        patient_id=5,
        ended_at=ended,
    )


ACTIVE = transport()
HANDED_OVER = transport("completed", ended_ago_h=1)  # within the grace
LONG_AGO = transport("completed", ended_ago_h=24 * 10)  # ten days after handover
CANCELLED = transport("cancelled", ended_ago_h=1)


def at(t: TransportFacts) -> Situation:
    return Situation(now=NOW, grace_s=GRACE_S, transport=t)


def request(hospital_id: int, status: str, t: TransportFacts = ACTIVE) -> Situation:
    return Situation(
        now=NOW, grace_s=GRACE_S, request=RequestFacts(1, hospital_id, status, transport=t)
    )


YES, NO = True, False

# (role, action): [(who, situation, allowed, code when refused), …]
CASES: dict[tuple[Role, Action], list[tuple[Principal, Situation, bool, str]]] = {}


def case(who: Principal, action: Action, s: Situation, allowed: bool, code: str = "") -> None:
    CASES.setdefault((who.role, action), []).append((who, s, allowed, code))


# The crew reads: recorded members until handover + grace; the unit's on-duty crew joins.
for action in (
    Action.INCIDENT_READ,
    Action.INCIDENT_CALLER,
    Action.TRANSPORT_READ,
    Action.TRANSPORT_REPLAY,
    Action.RECORD_READ,
    Action.VITALS_READ,
):
    case(CREW, action, at(ACTIVE), YES)
    case(CREW_OFF, action, at(ACTIVE), YES)  # still the crew until handover
    case(CREW, action, at(HANDED_OVER), YES)
    case(CREW, action, at(LONG_AGO), NO, "crew_access_ended")
    case(JOINER, action, at(ACTIVE), YES)
    case(JOINER, action, at(HANDED_OVER), NO, "not_your_unit")  # bound after it was over
    case(OFF, action, at(ACTIVE), NO, "off_duty")
    case(STRANGER, action, at(ACTIVE), NO, "not_your_unit")

# The ER: destination or open request now; the receiving hospital after handover.
for action in (
    Action.INCIDENT_READ,
    Action.TRANSPORT_READ,
    Action.RECORD_READ,
    Action.VITALS_READ,
    Action.STREAM_VIEW,
):
    case(ER_DEST, action, at(ACTIVE), YES)
    case(ER_DEST_OFF, action, at(ACTIVE), YES)
    case(ER_ASKED, action, at(ACTIVE), YES)
    case(ER_LEFT, action, at(ACTIVE), NO, "not_your_hospital")  # re-routed away
    case(ER_OTHER, action, at(ACTIVE), NO, "not_your_hospital")
    case(ER_DEST, action, at(LONG_AGO), YES)  # the patient is theirs now
    case(ER_ASKED, action, at(HANDED_OVER), NO, "not_your_hospital")
    case(ER_DEST, action, at(CANCELLED), NO, "not_your_hospital")
case(ER_DEST, Action.INCIDENT_CALLER, at(ACTIVE), NO, "caller_forbidden")

# Dispatchers: operations and callers, never the record; the live picture while active.
for action in (Action.INCIDENT_READ, Action.INCIDENT_CALLER, Action.TRANSPORT_READ):
    case(DISPATCHER, action, at(LONG_AGO), YES)
    case(ADMIN, action, at(LONG_AGO), YES)
case(DISPATCHER, Action.TRANSPORT_REPLAY, at(LONG_AGO), YES)
case(ADMIN, Action.TRANSPORT_REPLAY, at(LONG_AGO), YES)
case(DISPATCHER, Action.RECORD_READ, at(ACTIVE), NO, "record_forbidden")
for action in (Action.VITALS_READ, Action.STREAM_VIEW):
    case(DISPATCHER, action, at(ACTIVE), YES)
    case(DISPATCHER, action, at(HANDED_OVER), NO, "transport_ended")

# Admins: no record, but by break-glass; the access log and the reviews.
case(ADMIN, Action.RECORD_READ, at(ACTIVE), NO, "break_glass_required")
case(ADMIN, Action.VITALS_READ, at(ACTIVE), NO, "break_glass_required")
case(ADMIN, Action.RECORD_BREAK_GLASS, at(LONG_AGO), YES)
case(ADMIN, Action.ACCESS_LOG_READ, at(ACTIVE), YES)
case(ADMIN, Action.RECORD_REVIEW, at(ACTIVE), YES)

# Writes.
case(CREW, Action.TRANSPORT_WRITE, at(ACTIVE), YES)
case(JOINER, Action.TRANSPORT_WRITE, at(ACTIVE), YES)
case(CREW_OFF, Action.TRANSPORT_WRITE, at(ACTIVE), NO, "off_duty")
case(STRANGER, Action.TRANSPORT_WRITE, at(ACTIVE), NO, "not_your_unit")
case(DISPATCHER, Action.TRANSPORT_WRITE, at(ACTIVE), YES)
case(DISPATCHER_OFF, Action.TRANSPORT_WRITE, at(ACTIVE), NO, "off_duty")
case(ADMIN, Action.TRANSPORT_WRITE, at(ACTIVE), YES)
case(CREW, Action.PATIENT_IDENTIFY, at(ACTIVE), YES)
case(CREW_OFF, Action.PATIENT_IDENTIFY, at(ACTIVE), NO, "off_duty")
case(STRANGER, Action.PATIENT_IDENTIFY, at(ACTIVE), NO, "not_transport_crew")

# The stream from the ambulance.
case(CREW, Action.STREAM_PUBLISH, at(ACTIVE), YES)
case(JOINER, Action.STREAM_PUBLISH, at(ACTIVE), YES)
case(OFF, Action.STREAM_PUBLISH, at(ACTIVE), NO, "off_duty")
case(CREW_OFF, Action.STREAM_PUBLISH, at(HANDED_OVER), YES)  # queued records after the shift
case(CREW, Action.STREAM_PUBLISH, at(LONG_AGO), NO, "record_grace_expired")
case(JOINER, Action.STREAM_PUBLISH, at(HANDED_OVER), NO, "not_your_unit")
case(STRANGER, Action.STREAM_PUBLISH, at(ACTIVE), NO, "not_your_unit")

# Hospital requests.
case(ER_ASKED, Action.REQUEST_READ, request(ASKED, "sent"), YES)
case(ER_ASKED, Action.REQUEST_READ, request(ASKED, "declined"), NO, "not_your_hospital")
case(ER_ASKED, Action.REQUEST_READ, request(ASKED, "cancelled"), NO, "not_your_hospital")
case(ER_DEST, Action.REQUEST_READ, request(DEST, "accepted"), YES)
case(ER_LEFT, Action.REQUEST_READ, request(LEFT, "accepted"), NO, "not_your_hospital")
case(ER_OTHER, Action.REQUEST_READ, request(ASKED, "sent"), NO, "not_your_hospital")
case(ER_DEST, Action.REQUEST_ANSWER, request(DEST, "sent"), YES)
case(ER_DEST_OFF, Action.REQUEST_ANSWER, request(DEST, "sent"), NO, "off_duty")
case(ER_OTHER, Action.REQUEST_ANSWER, request(DEST, "sent"), NO, "not_your_hospital")
case(CREW, Action.REQUEST_READ, request(ASKED, "sent"), YES)
case(STRANGER, Action.REQUEST_READ, request(ASKED, "sent"), NO, "not_your_unit")
case(DISPATCHER, Action.REQUEST_READ, request(ASKED, "declined"), YES)
case(ADMIN, Action.REQUEST_READ, request(ASKED, "declined"), YES)

# The live events: on duty, bound to what the role serves.
NOWHERE = Situation(now=NOW, grace_s=GRACE_S)
case(CREW, Action.EVENTS_SUBSCRIBE, NOWHERE, YES)
case(OFF, Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "off_duty")
case(Principal(105, Role.PARAMEDIC), Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "role_forbidden")
case(ER_DEST, Action.EVENTS_SUBSCRIBE, NOWHERE, YES)
case(ER_DEST_OFF, Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "off_duty")
case(DISPATCHER, Action.EVENTS_SUBSCRIBE, NOWHERE, YES)
case(DISPATCHER_OFF, Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "off_duty")
case(ADMIN, Action.EVENTS_SUBSCRIBE, NOWHERE, YES)

# The doctor's instruction: the crew asks, MC doctors on duty for the unit answer and
# see what they need to, once the crew asked; the receiving ER sees the answers.
ASKED_MC = dataclasses.replace(ACTIVE, mc_doctor_ids=frozenset({MC.user_id}))
ASKED_ANY = dataclasses.replace(ACTIVE, mc_doctor_ids=None)  # no roster for the unit
ASKED_DONE = dataclasses.replace(HANDED_OVER, mc_doctor_ids=frozenset({MC.user_id}))
ASKED_LONG_AGO = dataclasses.replace(LONG_AGO, mc_doctor_ids=frozenset({MC.user_id}))
case(CREW, Action.INSTRUCTION_ASK, at(ACTIVE), YES)
case(OFF, Action.INSTRUCTION_ASK, at(ACTIVE), NO, "off_duty")
case(STRANGER, Action.INSTRUCTION_ASK, at(ACTIVE), NO, "not_your_unit")
case(CREW, Action.INSTRUCTION_READ, at(ASKED_MC), YES)
case(STRANGER, Action.INSTRUCTION_READ, at(ASKED_MC), NO, "not_your_unit")
case(ER_DEST, Action.INSTRUCTION_READ, at(ASKED_MC), YES)
case(ER_OTHER, Action.INSTRUCTION_READ, at(ASKED_MC), NO, "not_your_hospital")
case(ADMIN, Action.INSTRUCTION_READ, at(ASKED_MC), YES)
case(MC, Action.INSTRUCTION_READ, at(ASKED_MC), YES)
case(MC, Action.INSTRUCTION_READ, at(ASKED_DONE), YES)  # the shift's past requests
case(MC, Action.INSTRUCTION_READ, at(ASKED_LONG_AGO), NO, "transport_ended")
case(MC_OTHER, Action.INSTRUCTION_READ, at(ASKED_MC), NO, "not_on_mc_duty")
case(MC_OTHER, Action.INSTRUCTION_READ, at(ASKED_ANY), YES)
case(MC, Action.INSTRUCTION_READ, at(ACTIVE), NO, "not_on_mc_duty")  # nobody asked
case(MC, Action.INSTRUCTION_ANSWER, at(ASKED_MC), YES)
case(MC_OTHER, Action.INSTRUCTION_ANSWER, at(ASKED_ANY), YES)
case(MC_OTHER, Action.INSTRUCTION_ANSWER, at(ASKED_MC), NO, "not_on_mc_duty")
case(MC_OFF, Action.INSTRUCTION_ANSWER, at(ASKED_MC), NO, "off_duty")
for action in (Action.INCIDENT_READ, Action.TRANSPORT_READ, Action.RECORD_READ, Action.VITALS_READ):
    case(MC, action, at(ASKED_MC), YES)
    case(MC, action, at(ASKED_DONE), YES)
    case(MC, action, at(ACTIVE), NO, "not_on_mc_duty")
    case(MC_OFF, action, at(ASKED_MC), NO, "off_duty")
    case(MC_OTHER, action, at(ASKED_MC), NO, "not_on_mc_duty")
case(MC, Action.INCIDENT_CALLER, at(ASKED_MC), NO, "caller_forbidden")
case(MC, Action.STREAM_VIEW, at(ASKED_MC), YES)
case(MC, Action.STREAM_VIEW, at(ASKED_DONE), NO, "transport_ended")
case(MC_OTHER, Action.STREAM_VIEW, at(ASKED_MC), NO, "not_on_mc_duty")
# The voice line: the crew on duty and the MC doctor who answers for them, while under
# way; the receiving ER, dispatchers and admins never hear it (unlisted pairs below).
case(CREW, Action.STREAM_TALK, at(ASKED_MC), YES)
case(JOINER, Action.STREAM_TALK, at(ACTIVE), YES)
case(OFF, Action.STREAM_TALK, at(ACTIVE), NO, "off_duty")
case(STRANGER, Action.STREAM_TALK, at(ASKED_MC), NO, "not_your_unit")
case(CREW, Action.STREAM_TALK, at(HANDED_OVER), NO, "transport_ended")
case(MC, Action.STREAM_TALK, at(ASKED_MC), YES)
case(MC_OTHER, Action.STREAM_TALK, at(ASKED_ANY), YES)
case(MC, Action.STREAM_TALK, at(ACTIVE), NO, "not_on_mc_duty")  # nobody asked
case(MC_OTHER, Action.STREAM_TALK, at(ASKED_MC), NO, "not_on_mc_duty")
case(MC_OFF, Action.STREAM_TALK, at(ASKED_MC), NO, "off_duty")
case(MC, Action.STREAM_TALK, at(ASKED_DONE), NO, "transport_ended")
case(MC, Action.EVENTS_SUBSCRIBE, NOWHERE, YES)
case(MC_OFF, Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "off_duty")
case(Principal(503, Role.MC_DOCTOR), Action.EVENTS_SUBSCRIBE, NOWHERE, NO, "role_forbidden")

# Pairs outside the table are refused, whatever the object.
UNLISTED = [(role, action) for action in Action for role in Role if (role, action) not in RULES]
for role, action in UNLISTED:
    who = {
        Role.PARAMEDIC: CREW,
        Role.ER_STAFF: ER_DEST,
        Role.DISPATCHER: DISPATCHER,
        Role.ADMIN: ADMIN,
        Role.MC_DOCTOR: MC,
    }[role]
    s = request(DEST, "sent") if action.value.startswith("hospital_request") else at(ASKED_MC)
    case(who, action, s, NO, "")

ALL = [
    pytest.param(who, action, s, allowed, code, id=f"{role.value}-{action.value}-{i}")
    for (role, action), rows in CASES.items()
    for i, (who, s, allowed, code) in enumerate(rows)
]


@pytest.mark.parametrize(("who", "action", "situation", "allowed", "code"), ALL)
def test_each_row_of_the_table(
    who: Principal, action: Action, situation: Situation, allowed: bool, code: str
) -> None:
    decision = decide(who, action, situation)
    assert decision.allowed is allowed, (who, action, decision)
    if not allowed:
        assert decision.code  # a refusal always says why, with a stable code
        if code:
            assert decision.code == code


def test_every_pair_of_the_table_has_cases() -> None:
    assert {(r, a) for r, a in CASES} == {(r, a) for a in Action for r in Role}


def test_a_member_on_duty_of_the_unit_joins_the_crew_when_first_allowed() -> None:
    assert decide(JOINER, Action.TRANSPORT_READ, at(ACTIVE)).joins_crew
    assert not decide(CREW, Action.TRANSPORT_READ, at(ACTIVE)).joins_crew


def test_docs_show_the_table_the_code_enforces() -> None:
    text = (Path(__file__).parents[3] / "docs" / "api.md").read_text()
    found = set()
    for line in text.splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \| (.+) \| (.+) \| (.+) \| (.+) \| (.+) \|$", line)
        if m:
            action = m.group(1)
            roles = ("paramedic", "er_staff", "mc_doctor", "dispatcher", "admin")
            for role, cell in zip(roles, m.groups()[1:], strict=True):
                found.add((action, role, cell.strip()))
    assert found == set(table_rows())

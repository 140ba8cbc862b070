"""The doctor's instruction over the API: the crew asks, an MC doctor on duty for the
unit answers (first answer wins), the roster's fallback is alerted when nobody answers,
and every bad input is a 4xx with its code, audited, with nothing written."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db, utcnow
from ems.events import Audience, Event, broker
from ems.instructions import service
from ems.instructions.models import InstructionRequest, McDuty
from ems.transports.models import TransportEvent
from tests.factories import Api, make_hospital, make_transport, make_unit

ASK = "/api/v1/transports/{}/instruction-requests"


@pytest.fixture
def world(app: Flask, as_role: Callable[..., Api]) -> dict[str, Any]:
    base = make_hospital(app, name="救命救急センター")
    dest = make_hospital(app, name="市民病院")
    unit = make_unit(app, call_sign="中央1")
    other_unit = make_unit(app, call_sign="北2")
    transport = make_transport(app, unit_id=unit, destination=dest)
    return {
        "base": base,
        "dest": dest,
        "unit": unit,
        "transport": transport,
        "other_transport": make_transport(app, unit_id=other_unit),
        "crew": as_role(Role.PARAMEDIC, unit_id=unit),
        "stranger": as_role(Role.PARAMEDIC, unit_id=other_unit),
        "doctor": as_role(Role.MC_DOCTOR, hospital_id=base),
        "er": as_role(Role.ER_STAFF, hospital_id=dest),
        "er_other": as_role(Role.ER_STAFF, hospital_id=base),
    }


@pytest.fixture
def feed(app: Flask) -> Iterator[Callable[[Audience], queue.Queue[Event]]]:
    subs: list[queue.Queue[Event]] = []

    def sub(audience: Audience) -> queue.Queue[Event]:
        with app.app_context():
            q = broker().subscribe(audience)
        subs.append(q)
        return q

    yield sub
    with app.app_context():
        for q in subs:
            broker().unsubscribe(q)


def _drain(q: queue.Queue[Event]) -> list[str]:
    out = []
    while not q.empty():
        out.append(q.get_nowait().type)
    return out


def _count(app: Flask, model: Any) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_crew_asks_the_doctor_answers_and_everyone_concerned_sees_both_times(
    app: Flask, world: dict[str, Any], feed: Callable[[Audience], queue.Queue[Event]]
) -> None:
    crew_q = feed(Audience("paramedic", unit_id=world["unit"]))
    mc_q = feed(Audience("mc_doctor", hospital_id=world["base"], user_id=world["doctor"].user_id))
    er_q = feed(Audience("er_staff", hospital_id=world["dest"]))
    other_er_q = feed(Audience("er_staff", hospital_id=world["base"]))
    crew, doctor = world["crew"], world["doctor"]
    # Before the crew asks, the MC doctor sees nothing of the transport.
    tid = world["transport"]
    assert doctor.get(f"/api/v1/transports/{tid}").status_code == 403
    r = crew.post(ASK.format(tid), json={"procedure": "adrenaline", "note": "VF 持続"})
    assert r.status_code == 201, r.get_json()
    asked = r.get_json()
    assert asked["status"] == "open" and asked["procedure"] == "adrenaline"
    assert asked["unit_call_sign"] == "中央1" and asked["requested_at"]
    # The doctor on duty lists it, and now reads the transport and its vitals.
    listed = doctor.get("/api/v1/instruction-requests?status=open").get_json()
    assert [x["id"] for x in listed] == [asked["id"]]
    assert doctor.get(f"/api/v1/transports/{tid}").status_code == 200
    assert doctor.get(f"/api/v1/transports/{tid}/vitals").status_code == 200
    r = doctor.post(
        f"/api/v1/instruction-requests/{asked['id']}/answer",
        json={"decision": "instructed", "detail": "アドレナリン 1 mg 静注"},
    )
    assert r.status_code == 200, r.get_json()
    answered = r.get_json()
    assert answered["decision"] == "instructed" and answered["answered_at"]
    assert answered["answer_s"] is not None and answered["answer_s"] >= 0
    # The crew, the doctor and the receiving ER read both times; another ER does not.
    for who in (crew, doctor, world["er"]):
        (row,) = who.get(ASK.format(tid)).get_json()
        assert row["requested_at"] and row["answered_at"] and row["detail"]
    assert world["er_other"].get(ASK.format(tid)).status_code == 403
    assert not doctor.get("/api/v1/instruction-requests?status=open").get_json()
    # Timeline events, audit entries and live events for each audience.
    with app.app_context(), get_db(app).session_scope() as s:
        kinds = s.scalars(
            select(TransportEvent.kind).where(TransportEvent.transport_id == tid)
        ).all()
        actions = s.scalars(select(AuditEntry.action)).all()
    assert {"instruction_requested", "instruction_answered"} <= set(kinds)
    assert {"instruction.ask", "instruction.answer"} <= set(actions)
    for q in (crew_q, mc_q, er_q):
        got = _drain(q)
        assert "instruction.requested" in got and "instruction.answered" in got, got
    assert not [t for t in _drain(other_er_q) if t.startswith("instruction.")]


def test_bad_requests_get_their_codes_are_audited_and_write_nothing(
    app: Flask, world: dict[str, Any], as_role: Callable[..., Api]
) -> None:
    crew, tid = world["crew"], world["transport"]
    before = _count(app, InstructionRequest)
    cases = [
        (crew, ASK.format(tid), {"procedure": "amputation"}, 400, "unknown_procedure"),
        (world["stranger"], ASK.format(tid), {"procedure": "glucose"}, 403, "not_your_unit"),
        (crew, ASK.format(999_999), {"procedure": "glucose"}, 404, "transport_not_found"),
        (crew, ASK.format(tid), {"procedure": "glucose", "x": 1}, 400, "validation_error"),
        (world["doctor"], ASK.format(tid), {"procedure": "glucose"}, 403, "role_forbidden"),
    ]
    for who, url, body, status, code in cases:
        r = who.post(url, json=body)
        assert (r.status_code, r.get_json()["code"]) == (status, code), (body, r.get_json())
    assert _count(app, InstructionRequest) == before
    asked = crew.post(ASK.format(tid), json={"procedure": "glucose"}).get_json()
    url = f"/api/v1/instruction-requests/{asked['id']}/answer"
    # A doctor not on duty for the unit (the roster names another), then a second answer.
    on_roster = world["doctor"]
    off_roster = as_role(Role.MC_DOCTOR, hospital_id=world["base"])
    with app.app_context(), get_db(app).session_scope() as s:
        now = utcnow()
        s.add(
            McDuty(
                doctor_id=on_roster.user_id,
                unit_id=world["unit"],
                position=1,
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=8),
            )
        )
    r = off_roster.post(url, json={"decision": "instructed"})
    assert (r.status_code, r.get_json()["code"]) == (403, "not_on_mc_duty")
    assert (
        on_roster.post(url, json={"decision": "declined", "detail": "搬送優先"}).status_code == 200
    )
    r = on_roster.post(url, json={"decision": "instructed"})
    assert (r.status_code, r.get_json()["code"]) == (409, "instruction_answered")
    r = on_roster.post("/api/v1/instruction-requests/424242/answer", json={"decision": "declined"})
    assert (r.status_code, r.get_json()["code"]) == (404, "instruction_not_found")
    with app.app_context(), get_db(app).session_scope() as s:
        (row,) = s.scalars(select(InstructionRequest)).all()
        assert row.decision is not None and row.decision.value == "declined"
        refused = s.scalars(select(AuditEntry.detail).where(AuditEntry.outcome != "ok")).all()
    assert any("not_on_mc_duty" in str(d) for d in refused)
    assert any("not_your_unit" in str(d) for d in refused)
    # A finished transport takes no request.
    with app.app_context(), get_db(app).session_scope() as s:
        from ems.transports.models import Transport, TransportStatus

        t = s.get(Transport, tid)
        assert t is not None
        t.status = TransportStatus.COMPLETED
    r = crew.post(ASK.format(tid), json={"procedure": "glucose"})
    assert r.status_code in (403, 409)
    assert r.get_json()["code"] in ("transport_closed", "crew_access_ended")


def test_the_fallback_doctor_is_alerted_once_when_the_first_does_not_answer(
    app: Flask,
    world: dict[str, Any],
    as_role: Callable[..., Api],
    feed: Callable[[Audience], queue.Queue[Event]],
) -> None:
    first, fallback = world["doctor"], as_role(Role.MC_DOCTOR, hospital_id=world["base"])
    with app.app_context(), get_db(app).session_scope() as s:
        now = utcnow()
        for doc, pos in ((first, 1), (fallback, 2)):
            s.add(
                McDuty(
                    doctor_id=doc.user_id,
                    unit_id=None,
                    position=pos,
                    starts_at=now - dt.timedelta(hours=1),
                    ends_at=now + dt.timedelta(hours=8),
                )
            )
    first_q = feed(Audience("mc_doctor", hospital_id=world["base"], user_id=first.user_id))
    fallback_q = feed(Audience("mc_doctor", hospital_id=world["base"], user_id=fallback.user_id))
    asked = world["crew"].post(ASK.format(world["transport"]), json={"procedure": "intubation"})
    rid = asked.get_json()["id"]
    assert "instruction.requested" in _drain(first_q)
    assert "instruction.requested" not in _drain(fallback_q)  # not yet
    with app.app_context(), get_db(app).session_scope() as s:
        assert service.alert_fallback(session=s, now=utcnow(), after_s=60) == []  # too early
        later = utcnow() + dt.timedelta(seconds=61)
        assert service.alert_fallback(session=s, now=later, after_s=60) == [rid]
        assert service.alert_fallback(session=s, now=later, after_s=60) == []  # once
    assert _drain(fallback_q) == ["instruction.escalated"]
    # Both may answer; the fallback does, and the first gets 409.
    url = f"/api/v1/instruction-requests/{rid}/answer"
    assert fallback.post(url, json={"decision": "instructed"}).status_code == 200
    assert first.post(url, json={"decision": "declined"}).status_code == 409


def test_two_doctors_answering_at_once_one_wins(
    app: Flask, db_url: str, world: dict[str, Any], as_role: Callable[..., Api]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("races need real concurrent transactions (TEST_DATABASE_URL)")
    asked = world["crew"].post(ASK.format(world["transport"]), json={"procedure": "glucose"})
    url = f"/api/v1/instruction-requests/{asked.get_json()['id']}/answer"
    doctors = [as_role(Role.MC_DOCTOR, hospital_id=world["base"]) for _ in range(6)]
    clients = [app.test_client() for _ in doctors]
    barrier = threading.Barrier(len(doctors))
    codes: list[int] = []

    def go(i: int) -> None:
        barrier.wait()
        r = clients[i].post(
            url,
            json={"decision": "instructed", "detail": f"doctor {i}"},
            headers={"Authorization": f"Bearer {doctors[i].token}"},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(doctors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [200] + [409] * (len(doctors) - 1)
    with app.app_context(), get_db(app).session_scope() as s:
        answered = s.scalar(
            select(func.count())
            .select_from(TransportEvent)
            .where(TransportEvent.kind == "instruction_answered")
        )
    assert answered == 1


def test_a_retried_request_with_the_same_key_is_one_request(
    app: Flask, world: dict[str, Any]
) -> None:
    crew, url = world["crew"], ASK.format(world["transport"])
    key = {"Idempotency-Key": "tablet-7:instruction:0001"}
    first = crew.post(url, json={"procedure": "glucose"}, headers=key)
    again = crew.post(url, json={"procedure": "glucose"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert _count(app, InstructionRequest) == 1

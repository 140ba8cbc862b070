"""The access rules through the API, as the people they protect would meet them:
a re-route hands the patient from one ER to the other, the crew's reading ends with
handover plus the grace, a paramedic bound to the unit later never reaches earlier
transports, the ER never learns who called, and the optimizer's "apply" tells the
crew's tablet exactly what a dispatcher's click does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select, update

from ems.access.models import TransportCrew
from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from ems.transports.models import TransportEvent
from tests.ems.event_stream import Stream
from tests.ems.transports.scenario import Scene, dispatched_scene, new_incident, walk_to
from tests.factories import Api, make_hospital, make_unit

GRACE_S = 6 * 3600


def _reroute(scene: Scene, hospital_id: int) -> None:
    resp = scene.medic.put(
        f"/api/v1/transports/{scene.transport_id}/destination", json={"hospital_id": hospital_id}
    )
    assert resp.status_code == 200, resp.get_json()


def _ended_ago(app: Flask, transport_id: int, ago: dt.timedelta) -> None:
    """Move the recorded end of a transport into the past."""
    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(
            update(TransportEvent)
            .where(TransportEvent.transport_id == transport_id, TransportEvent.kind == "handover")
            .values(recorded_at=dt.datetime.now(dt.UTC) - ago)
        )


def _codes(api: Api, tid: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, path in (
        ("transport", f"/api/v1/transports/{tid}"),
        ("vitals", f"/api/v1/transports/{tid}/vitals"),
    ):
        resp = api.get(path)
        out[name] = resp.status_code if resp.status_code == 200 else resp.get_json()["code"]
    return out


def test_a_reroute_hands_the_patient_to_the_new_hospital_both_ways(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    a, b = scene.hospital_id, make_hospital(app, name="第二病院")
    er_a = as_role(Role.ER_STAFF, hospital_id=a)
    er_b = as_role(Role.ER_STAFF, hospital_id=b)
    _reroute(scene, a)
    assert _codes(er_a, scene.transport_id) == {"transport": 200, "vitals": 200}
    assert _codes(er_b, scene.transport_id) == {
        "transport": "not_your_hospital",
        "vitals": "not_your_hospital",
    }
    _reroute(scene, b)
    assert _codes(er_a, scene.transport_id) == {
        "transport": "not_your_hospital",
        "vitals": "not_your_hospital",
    }
    assert er_a.get("/api/v1/transports").get_json() == []
    assert er_a.get(f"/api/v1/incidents/{scene.incident_id}").get_json()["code"] == "not_yours"
    assert _codes(er_b, scene.transport_id) == {"transport": 200, "vitals": 200}
    assert [t["id"] for t in er_b.get("/api/v1/transports").get_json()] == [scene.transport_id]
    # ...and back again.
    _reroute(scene, a)
    assert _codes(er_a, scene.transport_id) == {"transport": 200, "vitals": 200}
    assert _codes(er_b, scene.transport_id)["transport"] == "not_your_hospital"
    # After handover the receiving hospital keeps what it received, ten days later too.
    walk_to(scene, "handover")
    _ended_ago(app, scene.transport_id, dt.timedelta(days=10))
    assert _codes(er_a, scene.transport_id) == {"transport": 200, "vitals": 200}
    assert _codes(er_b, scene.transport_id)["transport"] == "not_your_hospital"
    with app.app_context(), get_db(app).session_scope() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
        assert {d.detail["code"] for d in denied} == {"not_your_hospital", "not_yours"}
        assert all(d.actor_id in (er_a.user_id, er_b.user_id) for d in denied)


def test_the_er_reads_the_patient_but_never_the_caller(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    scene.set_destination()
    er = as_role(Role.ER_STAFF, hospital_id=scene.hospital_id)
    call = er.get(f"/api/v1/incidents/{scene.incident_id}").get_json()
    assert call["chief_complaint"] == "胸痛" and call["patient_age"] == 67
    assert call["caller_account"] == "" and call["caller_name"] == ""
    full = scene.dispatcher.get(f"/api/v1/incidents/{scene.incident_id}").get_json()
    assert full["caller_account"] == "父が急に胸を押さえて倒れた"
    crew = scene.medic.get(f"/api/v1/incidents/{scene.incident_id}").get_json()
    assert crew["caller_account"] == "父が急に胸を押さえて倒れた"


def test_the_crew_reads_until_handover_plus_the_grace(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "handover")
    _ended_ago(app, scene.transport_id, dt.timedelta(seconds=GRACE_S - 60))
    assert _codes(scene.medic, scene.transport_id) == {"transport": 200, "vitals": 200}
    _ended_ago(app, scene.transport_id, dt.timedelta(seconds=GRACE_S + 60))
    assert _codes(scene.medic, scene.transport_id) == {
        "transport": "crew_access_ended",
        "vitals": "crew_access_ended",
    }
    assert scene.medic.get("/api/v1/transports").get_json() == []
    # The dispatcher's operational view stays.
    assert scene.dispatcher.get(f"/api/v1/transports/{scene.transport_id}").status_code == 200


def test_a_paramedic_bound_to_the_unit_later_never_reaches_earlier_transports(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "handover")
    newcomer = as_role(Role.PARAMEDIC, unit_id=scene.unit_id)
    assert _codes(newcomer, scene.transport_id) == {
        "transport": "not_your_unit",
        "vitals": "not_your_unit",
    }
    assert newcomer.get("/api/v1/transports").get_json() == []
    assert newcomer.get(f"/api/v1/incidents/{scene.incident_id}").status_code == 403


def test_a_crew_member_added_during_the_transport_joins_its_crew(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    walk_to(scene, "arrived_scene")
    second = as_role(Role.PARAMEDIC, unit_id=scene.unit_id)
    assert _codes(second, scene.transport_id) == {"transport": 200, "vitals": 200}
    with app.app_context(), get_db(app).session_scope() as s:
        crew = set(
            s.scalars(
                select(TransportCrew.user_id).where(
                    TransportCrew.transport_id == scene.transport_id
                )
            )
        )
        assert crew == {scene.medic.user_id, second.user_id}
    scene.set_destination()
    for kind in ("patient_contact", "loaded", "departed_scene", "arrived_hospital", "handover"):
        assert scene.event(kind).status_code == 201
    # Recorded on the crew: reading goes on after the handover, within the grace.
    assert _codes(second, scene.transport_id) == {"transport": 200, "vitals": 200}


def test_an_off_duty_paramedic_of_the_unit_is_not_the_crew(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    scene = dispatched_scene(app, as_role)
    off = as_role(Role.PARAMEDIC, unit_id=scene.unit_id)
    resp = as_role(Role.ADMIN).put(f"/api/v1/users/{off.user_id}/duty", json={"on_duty": False})
    assert resp.status_code == 200, resp.get_json()
    assert _codes(off, scene.transport_id) == {"transport": "off_duty", "vitals": "off_duty"}


def test_the_optimizers_apply_tells_the_tablet_what_a_dispatchers_click_does(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    """Read where the tablet reads it: ``GET /api/v1/events`` with the crew's bearer
    token. The unit sent by hand and the unit sent by the plan hear the same events,
    and the plan's unit hears that it was sent, to which incident."""
    dispatcher = as_role(Role.DISPATCHER)
    by_hand = make_unit(app, call_sign="手動1", lat=35.44, lon=133.39)
    by_plan = make_unit(app, call_sign="計画1", lat=35.44, lon=133.39)
    crews = {u: as_role(Role.PARAMEDIC, unit_id=u) for u in (by_hand, by_plan)}
    tablets = {u: Stream(app, crews[u].token) for u in (by_hand, by_plan)}
    try:
        for tablet in tablets.values():
            assert tablet.status == 200, tablet.problem
            assert "retry: 2000" in tablet.read_until("retry: 2000")  # subscribed

        first = new_incident(dispatcher)
        resp = dispatcher.post(f"/api/v1/incidents/{first}/assign", json={"unit_id": by_hand})
        assert resp.status_code == 201
        # The first unit is busy now; the plan can only send the second.
        second = new_incident(dispatcher)
        plan = dispatcher.post("/api/v1/dispatch/assign-pending", json={"apply": True}).get_json()
        assert plan["applied"] is True
        assert [(a["incident_id"], a["unit_id"]) for a in plan["assignments"]] == [
            (second, by_plan)
        ]

        for tablet in tablets.values():
            for kind in ("incident.updated", "unit.updated", "transport.updated"):
                tablet.read_until(f"event: {kind}")
            tablet.read_until("\0settle\0", timeout_s=0.5)  # anything still on its way
    finally:
        for tablet in tablets.values():
            tablet.close()

    hand_seen, plan_seen = tablets[by_hand].events(), tablets[by_plan].events()
    assert [t for t, _ in hand_seen] == [t for t, _ in plan_seen]
    assert {"incident.updated", "unit.updated", "transport.updated"} <= {t for t, _ in plan_seen}
    # The plan's unit hears its own dispatch: the unit, the incident and the transport.
    assert {d["id"] for t, d in plan_seen if t == "unit.updated"} == {by_plan}
    assert {d["id"] for t, d in plan_seen if t == "incident.updated"} == {second}
    (transport,) = [d for t, d in plan_seen if t == "transport.updated"]
    assert (transport["unit_id"], transport["incident_id"]) == (by_plan, second)
    assert {d["id"] for t, d in hand_seen if t == "incident.updated"} == {first}

    with app.app_context(), get_db(app).session_scope() as s:
        assigned = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "incident.assign").order_by(AuditEntry.id)
        ).all()
        assert [(e.target_id, e.detail["unit_id"]) for e in assigned] == [
            (str(first), by_hand),
            (str(second), by_plan),
        ]
        assert assigned[1].detail["crew"] == [crews[by_plan].user_id]
        # Both on the dispatcher's account: the click and the plan they applied.
        assert {e.actor_id for e in assigned} == {dispatcher.user_id}

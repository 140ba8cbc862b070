"""A dispatched scene to test against: a hospital, a unit with its crew's account,
a dispatcher, a 119 call and the transport that assignment created."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from ems.auth.models import Role
from tests.factories import Api, make_hospital, make_unit


def incident_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lat": 35.44,
        "lon": 133.39,
        "urgency": "serious",
        "chief_complaint": "胸痛",
        "caller_account": "父が急に胸を押さえて倒れた",
        "suspected_condition": "chest_pain_stemi",
        "patient_age": 67,
        "patient_sex": "male",
    }
    body.update(over)
    return body


def new_incident(api: Api, **over: Any) -> int:
    resp = api.post("/api/v1/incidents", json=incident_body(**over))
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["id"])


@dataclass
class Scene:
    dispatcher: Api
    medic: Api
    unit_id: int
    hospital_id: int
    incident_id: int
    transport_id: int

    def event(self, kind: str, api: Api | None = None, **body: Any) -> Any:
        return (api or self.medic).post(
            f"/api/v1/transports/{self.transport_id}/events", json={"kind": kind, **body}
        )

    def transport(self) -> dict[str, Any]:
        resp = self.dispatcher.get(f"/api/v1/transports/{self.transport_id}")
        assert resp.status_code == 200
        body: dict[str, Any] = resp.get_json()
        return body

    def unit(self) -> dict[str, Any]:
        body: dict[str, Any] = self.dispatcher.get(f"/api/v1/units/{self.unit_id}").get_json()
        return body

    def incident(self) -> dict[str, Any]:
        body: dict[str, Any] = self.dispatcher.get(
            f"/api/v1/incidents/{self.incident_id}"
        ).get_json()
        return body

    def set_destination(self) -> None:
        resp = self.medic.put(
            f"/api/v1/transports/{self.transport_id}/destination",
            json={"hospital_id": self.hospital_id, "bed_category": "ccu"},
        )
        assert resp.status_code == 200, resp.get_json()


def dispatched_scene(
    app: Flask, as_role: Callable[..., Api], call_sign: str = "みどり救急1"
) -> Scene:
    # A PCI centre with a CCU bed: where a suspected STEMI goes.
    hospital_id = make_hospital(app, capabilities=("pci",), beds={"general": 3, "ccu": 1})
    unit_id = make_unit(app, call_sign=call_sign)
    dispatcher = as_role(Role.DISPATCHER)
    medic = as_role(Role.PARAMEDIC, unit_id=unit_id)
    incident_id = new_incident(dispatcher)
    resp = dispatcher.post(f"/api/v1/incidents/{incident_id}/assign", json={"unit_id": unit_id})
    assert resp.status_code == 201, resp.get_json()
    return Scene(
        dispatcher=dispatcher,
        medic=medic,
        unit_id=unit_id,
        hospital_id=hospital_id,
        incident_id=incident_id,
        transport_id=resp.get_json()["id"],
    )


def walk_to(scene: Scene, last: str) -> None:
    """Record every timeline step after dispatch up to ``last``."""
    for kind in (
        "arrived_scene",
        "patient_contact",
        "loaded",
        "departed_scene",
        "arrived_hospital",
        "handover",
    ):
        if kind == "arrived_hospital" and scene.transport()["destination_hospital_id"] is None:
            scene.set_destination()
        resp = scene.event(kind)
        assert resp.status_code == 201, (kind, resp.get_json())
        if kind == last:
            return

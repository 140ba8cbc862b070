"""``scope=all`` of the hospital recommendations: every hospital open to ambulances,
with its ETA, so that a crew with no recommended hospital left can choose by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from ems.auth.models import Role
from ems.db import get_db
from ems.hospitals.models import DiversionStatus, Hospital
from tests.ems.dispatch.conftest import pci_world
from tests.factories import Api, make_hospital


def _recs(api: Api, transport: int, query: str = "") -> dict[str, Any]:
    r = api.get(f"/api/v1/transports/{transport}/hospital-recommendations{query}")
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def test_scope_all_lists_every_open_hospital_with_its_eta(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    closed = make_hospital(app, name="閉", lat=35.501, lon=134.231, beds={"ccu": 3})
    with app.app_context(), get_db(app).session_scope() as s:
        h = s.get(Hospital, closed)
        assert h is not None
        h.diversion = DiversionStatus.CLOSED_TO_AMBULANCES
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])

    default = _recs(crew, w["transport"])
    assert default["scope"] == "recommended"
    assert [h["hospital_id"] for h in default["hospitals"]] == [w["near"], w["mid"], w["far"]]
    assert all(h["recommended"] for h in default["hospitals"])

    every = _recs(crew, w["transport"], "?scope=all")
    assert every["scope"] == "all"
    items = every["hospitals"]
    assert isinstance(items, list)
    # The recommended first, in their order; then the rest, nearest first; never the closed.
    assert [h["hospital_id"] for h in items] == [w["near"], w["mid"], w["far"], w["no_pci"]]
    assert [h["recommended"] for h in items] == [True, True, True, False]
    assert [e["hospital_id"] for e in every["excluded"]] == [closed]
    for h in items:
        assert h["source"] == "straight_line"
        assert h["eta_min"] == max(1, round(h["eta_s"] / 60))
    why = {r["code"] for r in items[3]["reasons"]}
    assert "lacks_capability" in why and "capability_match" not in why
    assert every["suggested"] == default["suggested"]


def test_scope_all_keeps_the_hospitals_already_asked(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    r = crew.post(
        f"/api/v1/transports/{w['transport']}/hospital-requests",
        json={"hospital_ids": [w["near"]]},
    )
    assert r.status_code == 201
    every = _recs(crew, w["transport"], "?scope=all")
    items = {h["hospital_id"]: h for h in every["hospitals"]}
    assert items[w["near"]]["recommended"] is False
    assert "already_asked" in {x["code"] for x in items[w["near"]]["reasons"]}
    assert w["near"] not in every["suggested"]


def test_an_unknown_scope_is_a_validation_error(app: Flask, as_role: Callable[..., Api]) -> None:
    w = pci_world(app)
    crew = as_role(Role.PARAMEDIC, unit_id=w["unit"])
    r = crew.get(f"/api/v1/transports/{w['transport']}/hospital-recommendations?scope=every")
    assert r.status_code == 400 and r.get_json()["code"] == "validation_error"

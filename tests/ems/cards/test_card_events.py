"""Wrong-PIN and locked-card reports from the tablet: recorded on the transport and
by the crew member, on a patient's access log only once the certificate verifies,
and limited per paramedic (a crew member once wrote 30 "denied" entries into another
patient's access log in one burst)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from card_issuer.ca import Issuer
from ems.audit.models import AuditEntry
from ems.cards import pki
from ems.db import get_db
from tests.ems.cards.conftest import World
from tests.ems.cards.helpers import new_issuer, register_patient, soft_card


def _report(w: World, certificate: str, event: str = "wrong_pin") -> Any:
    return w.crew.post(
        "/api/v1/card-auth/card-events",
        json={
            "transport_id": w.transport_id,
            "certificate": certificate,
            "event": event,
            "tries_left": 2,
        },
    )


def _pin_entries(w: World) -> list[AuditEntry]:
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "card_auth.pin")))


def test_a_verified_certificate_puts_the_event_on_its_patients_log(world: World) -> None:
    resp = _report(world, world.card.b64)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["certificate"] == "verified"
    (entry,) = _pin_entries(world)
    assert entry.patient_id == world.patient_id
    assert entry.target_type == "transport" and entry.target_id == str(world.transport_id)
    assert entry.actor_id is not None and entry.outcome == "denied"


def test_a_certificate_that_does_not_chain_names_no_patient(world: World, tmp_path: Path) -> None:
    # A patient whose registered certificate comes from some other CA: a made-up card.
    forged = soft_card(new_issuer(tmp_path / "forger"), "MNFORGED1")
    forged_patient = register_patient(world.app, forged.cert, "MNFORGED1", index=1)
    resp = _report(world, forged.b64)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["certificate"] == "untrusted_certificate"
    (entry,) = _pin_entries(world)
    assert entry.patient_id is None
    assert entry.target_id == str(world.transport_id)
    assert entry.detail["certificate"] == "untrusted_certificate"
    with world.app.app_context(), get_db(world.app).session_scope() as s:
        on_log = s.scalars(select(AuditEntry).where(AuditEntry.patient_id == forged_patient))
        assert list(on_log) == []


def test_a_revoked_certificate_names_no_patient(
    world: World, issuer: Issuer, card_pki: Path
) -> None:
    card = soft_card(issuer, "MNEVENTREVOKED")
    register_patient(world.app, card.cert, "MNEVENTREVOKED", index=1)
    issuer.revoke(ca=pki.CARD_CA, name="MNEVENTREVOKED")
    issuer.publish(card_pki)
    resp = _report(world, card.b64, event="card_locked")
    assert resp.get_json()["certificate"] == "certificate_revoked"
    (entry,) = _pin_entries(world)
    assert entry.patient_id is None


def test_a_burst_of_card_events_is_cut_off_with_a_stable_code(world: World) -> None:
    world.app.config["CARD_EVENT_RATE_PER_MIN"] = 3
    if time.time() % 60 > 50:  # keep the burst inside one clock minute
        time.sleep(60.5 - time.time() % 60)
    codes = [_report(world, world.card.b64).status_code for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    resp = _report(world, world.card.b64)
    assert resp.get_json()["code"] == "card_event_rate_limited"
    assert int(resp.headers["Retry-After"]) > 0
    # Three events reached the patient's log, not thirty.
    linked = [e for e in _pin_entries(world) if e.patient_id == world.patient_id]
    assert len(linked) == 3

"""Card tap to history over the API: the whole flow on a real SoftHSM2 card, who may
read the record afterwards, and every bad input refused with a stable, audited code."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update

from ambulance_client.card import DeviceKey, attestation_message
from card_issuer import service as issuance
from card_issuer.ca import Issuer
from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.cards.models import CardChallenge
from ems.db import get_db
from ems.hospital_requests.models import HospitalRequest, RequestStatus
from ems.transports.models import Transport
from tests.ems.cards.conftest import World
from tests.ems.cards.helpers import (
    PIN,
    make_transport,
    new_issuer,
    register_patient,
    soft_card,
)
from tests.factories import Api, make_hospital

NOW = dt.datetime.now(dt.UTC)


def challenge(w: World, api: Api | None = None, transport_id: int | None = None) -> dict[str, Any]:
    resp = (api or w.crew).post(
        "/api/v1/card-auth/challenges", json={"transport_id": transport_id or w.transport_id}
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def verify(w: World, ch: dict[str, Any], *, cert: str, signature: bytes | str, **extra: Any) -> Any:
    sig = signature if isinstance(signature, str) else base64.b64encode(signature).decode()
    body = {"challenge_id": ch["challenge_id"], "certificate": cert, "signature": sig, **extra}
    return w.crew.post("/api/v1/card-auth/verifications", json=body)


def card_sign(w: World, ch: dict[str, Any]) -> bytes:
    return w.card.reader().sign(base64.b64decode(ch["nonce"]), PIN)


def denials(w: World) -> list[AuditEntry]:
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")))


def assert_refused(w: World, resp: Any, code: str, status: int) -> None:
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["code"] == code
    assert code in [d.detail.get("code") for d in denials(w)]
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        transport = s.get(Transport, w.transport_id)
        assert transport is not None and transport.patient_id is None


def test_card_tap_pin_and_signature_release_the_history_to_the_crew(world: World) -> None:
    w = world
    reader = w.card.reader()
    cert_der = reader.read_certificate()  # no PIN needed
    ch = challenge(w)
    assert len(base64.b64decode(ch["nonce"])) == 32
    resp = verify(
        w,
        ch,
        cert=base64.b64encode(cert_der).decode(),
        signature=card_sign(w, ch),
        transport_id=w.transport_id,
    )
    assert resp.status_code == 200, resp.get_json()
    view = resp.get_json()
    assert view["assurance"] == "pin"
    assert view["patient_id"] == w.patient_id
    assert view["summary"]["allergies"][0]["substance"] == "ペニシリン系抗菌薬"
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        transport = s.get(Transport, w.transport_id)
        assert transport is not None and transport.patient_id == w.patient_id
    again = w.crew.get(f"/api/v1/transports/{w.transport_id}/patient-record")
    assert again.status_code == 200
    assert again.get_json()["summary"] == view["summary"]


def test_a_pem_certificate_is_accepted_too(world: World) -> None:
    w = world
    ch = challenge(w)
    pem = w.card.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert verify(w, ch, cert=pem, signature=card_sign(w, ch)).status_code == 200


def test_a_replayed_challenge_is_refused(world: World) -> None:
    w = world
    ch = challenge(w)
    sig = card_sign(w, ch)
    assert verify(w, ch, cert=w.card.b64, signature=sig).status_code == 200
    resp = verify(w, ch, cert=w.card.b64, signature=sig)
    assert resp.status_code == 409 and resp.get_json()["code"] == "challenge_used"
    assert "challenge_used" in [d.detail.get("code") for d in denials(w)]


def test_a_released_record_is_never_kept_as_an_idempotent_answer(world: World) -> None:
    """The record lives encrypted in its own store; a retry key must not copy it elsewhere."""
    from ems.idempotency.models import IdempotencyKey

    w = world
    ch = challenge(w)
    sig = card_sign(w, ch)
    headers = {"Idempotency-Key": "tap-1"}
    first = w.crew.post(
        "/api/v1/card-auth/verifications",
        json={
            "challenge_id": ch["challenge_id"],
            "certificate": w.card.b64,
            "signature": base64.b64encode(sig).decode(),
        },
        headers=headers,
    )
    assert first.status_code == 200
    retry = w.crew.post(
        "/api/v1/card-auth/verifications",
        json={
            "challenge_id": ch["challenge_id"],
            "certificate": w.card.b64,
            "signature": base64.b64encode(sig).decode(),
        },
        headers=headers,
    )
    assert retry.status_code == 409 and retry.get_json()["code"] == "challenge_used"
    assert "Idempotent-Replayed" not in retry.headers
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        assert s.scalars(select(IdempotencyKey)).all() == []


def test_an_expired_challenge_is_refused(world: World) -> None:
    w = world
    ch = challenge(w)
    sig = card_sign(w, ch)
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        s.execute(
            update(CardChallenge)
            .where(CardChallenge.id == ch["challenge_id"])
            .values(expires_at=NOW - dt.timedelta(seconds=1))
        )
    assert_refused(w, verify(w, ch, cert=w.card.b64, signature=sig), "challenge_expired", 409)


def test_another_transports_challenge_is_refused(world: World) -> None:
    w = world
    other = make_transport(w.app, w.unit_id)
    ch = challenge(w, transport_id=other)
    resp = verify(w, ch, cert=w.card.b64, signature=card_sign(w, ch), transport_id=w.transport_id)
    assert_refused(w, resp, "challenge_transport_mismatch", 409)


def test_a_challenge_only_goes_to_the_transports_own_crew(
    world: World, as_role: Callable[..., Api]
) -> None:
    w = world
    outsider = as_role(Role.PARAMEDIC, unit_id=w.other_unit_id)
    resp = outsider.post("/api/v1/card-auth/challenges", json={"transport_id": w.transport_id})
    assert_refused(w, resp, "not_transport_crew", 403)
    dispatcher = as_role(Role.DISPATCHER)
    resp = dispatcher.post("/api/v1/card-auth/challenges", json={"transport_id": w.transport_id})
    assert resp.status_code == 403


def test_a_forged_signature_is_refused(world: World) -> None:
    w = world
    ch = challenge(w)
    forged = w.card.reader().sign(b"something else entirely", PIN)
    assert_refused(w, verify(w, ch, cert=w.card.b64, signature=forged), "bad_signature", 403)
    entry = next(d for d in denials(w) if d.detail.get("code") == "bad_signature")
    assert entry.patient_id == w.patient_id  # the holder's access log shows the attempt


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("foreign", "untrusted_certificate"),
        ("expired", "certificate_expired"),
        ("future", "certificate_not_yet_valid"),
        ("wrong_ku", "wrong_key_usage"),
        ("unregistered", "card_unknown"),
    ],
)
def test_bad_certificates_are_refused(
    world: World, issuer: Issuer, tmp_path: Path, kind: str, code: str
) -> None:
    w = world
    if kind == "foreign":
        card = soft_card(new_issuer(tmp_path / "other"), "MNFOREIGN")
    elif kind == "expired":
        card = soft_card(
            issuer,
            "MNOLD",
            not_before=NOW - dt.timedelta(days=900),
            not_after=NOW - dt.timedelta(days=1),
        )
    elif kind == "future":
        card = soft_card(issuer, "MNNEW", not_before=NOW + dt.timedelta(days=3))
    elif kind == "wrong_ku":
        ku = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
        card = soft_card(issuer, "MNKU", key_usage=ku)
    else:
        card = soft_card(issuer, "MNNOBODY")
    if kind != "unregistered":
        register_patient(w.app, card.cert, f"MN{kind.upper().replace('_', '')}", index=1)
    ch = challenge(w)
    resp = verify(w, ch, cert=card.b64, signature=card.sign(base64.b64decode(ch["nonce"])))
    assert_refused(w, resp, code, 403)


def test_a_revoked_card_is_refused(world: World, issuer: Issuer, card_pki: Path) -> None:
    w = world
    card = soft_card(issuer, "MNREVOKED")
    register_patient(w.app, card.cert, "MNREVOKED", index=2)
    issuance.revoke_card(issuer=issuer, serial="MNREVOKED", publish_to=card_pki)
    ch = challenge(w)
    resp = verify(w, ch, cert=card.b64, signature=card.sign(base64.b64decode(ch["nonce"])))
    assert_refused(w, resp, "certificate_revoked", 403)


@pytest.mark.parametrize(
    ("cert", "signature", "code", "status"),
    [
        ("not//base64!!", "AAAA", "malformed_base64", 400),
        ("aGVsbG8=", "AAAA", "malformed_der", 400),
        (
            "-----BEGIN CERTIFICATE-----\nzzzz\n-----END CERTIFICATE-----",
            "AAAA",
            "malformed_pem",
            400,
        ),
        (None, "***", "malformed_base64", 400),
        (None, "A" * 5000, "payload_too_large", 413),
    ],
)
def test_malformed_inputs_are_refused(
    world: World, cert: str | None, signature: str, code: str, status: int
) -> None:
    w = world
    ch = challenge(w)
    resp = verify(w, ch, cert=cert or w.card.b64, signature=signature)
    assert_refused(w, resp, code, status)


def test_an_oversized_body_is_refused_and_audited(world: World) -> None:
    w = world
    ch = challenge(w)
    resp = verify(w, ch, cert="A" * 100_000, signature="AAAA")
    assert_refused(w, resp, "payload_too_large", 413)


def test_wrong_pins_reported_by_the_tablet_are_audited(world: World) -> None:
    w = world
    resp = w.crew.post(
        "/api/v1/card-auth/card-events",
        json={
            "transport_id": w.transport_id,
            "certificate": w.card.b64,
            "event": "wrong_pin",
            "tries_left": 2,
        },
    )
    assert resp.status_code == 202
    entry = next(d for d in denials(w) if d.action == "card_auth.pin")
    assert entry.detail["tries_left"] == 2 and entry.patient_id == w.patient_id


def _accept(w: World, hospital_id: int, status: RequestStatus) -> None:
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        s.add(
            HospitalRequest(
                transport_id=w.transport_id,
                hospital_id=hospital_id,
                status=status,
                bed_category="general",
            )
        )


def _set_destination(w: World, hospital_id: int) -> None:
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        s.get(Transport, w.transport_id).destination_hospital_id = hospital_id  # type: ignore[union-attr]


def test_only_the_receiving_er_and_the_crew_read_the_record(
    world: World, as_role: Callable[..., Api]
) -> None:
    w = world
    url = f"/api/v1/transports/{w.transport_id}/patient-record"
    assert w.crew.get(url).get_json()["code"] == "record_not_released"
    ch = challenge(w)
    assert verify(w, ch, cert=w.card.b64, signature=card_sign(w, ch)).status_code == 200
    accepting = w.hospital_id
    asked = make_hospital(w.app, name="北部病院")
    declined = make_hospital(w.app, name="西部病院")
    elsewhere = make_hospital(w.app, name="南部病院")
    _accept(w, accepting, RequestStatus.ACCEPTED)
    _set_destination(w, accepting)
    _accept(w, asked, RequestStatus.SENT)
    _accept(w, declined, RequestStatus.DECLINED)
    er = as_role(Role.ER_STAFF, hospital_id=accepting)
    resp = er.get(url)
    assert resp.status_code == 200 and resp.get_json()["assurance"] == "pin"
    # A hospital still deciding sees what it decides on.
    assert as_role(Role.ER_STAFF, hospital_id=asked).get(url).status_code == 200
    for hospital_id in (declined, elsewhere):
        other_er = as_role(Role.ER_STAFF, hospital_id=hospital_id)
        assert other_er.get(url).get_json()["code"] == "not_your_hospital"
    other_crew = as_role(Role.PARAMEDIC, unit_id=w.other_unit_id)
    assert other_crew.get(url).get_json()["code"] == "not_your_unit"
    assert as_role(Role.DISPATCHER).get(url).get_json()["code"] == "role_forbidden"
    assert as_role(Role.ADMIN).get(url).get_json()["code"] == "break_glass_required"

    admin = as_role(Role.ADMIN)
    log = admin.get(f"/api/v1/patients/{w.patient_id}/access-log").get_json()
    reads = [e for e in log if e["action"] == "patient_record.read" and e["outcome"] == "ok"]
    assert [r["path"] for r in reads] == ["card_verification", "receiving_er", "receiving_er"]
    assert reads[1]["hospital_id"] == accepting and reads[1]["assurance"] == "pin"
    refused = [e for e in log if e["outcome"] == "denied"]
    assert {e["code"] for e in refused} == {
        "not_your_hospital",
        "not_your_unit",
        "break_glass_required",
    }
    assert er.get(f"/api/v1/patients/{w.patient_id}/access-log").status_code == 403


def _device(w: World, issuer: Issuer, tmp_path: Path, unit_id: int, name: str) -> DeviceKey:
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        issuance.issue_device(
            session=s,
            issuer=issuer,
            unit_id=unit_id,
            name=name,
            out_dir=str(tmp_path / name),
        )
    return DeviceKey.load(tmp_path / name)


def pinless(w: World, device: DeviceKey, *, face: bool = True, tamper: bool = False) -> Any:
    ch = challenge(w)
    message = attestation_message(
        challenge_id=ch["challenge_id"],
        nonce_b64=ch["nonce"],
        transport_id=w.transport_id,
        card_certificate_der=w.card.der,
        reason="意識障害 (JCS 100)",
        face_match_confirmed=face,
    )
    return w.crew.post(
        "/api/v1/card-auth/pinless",
        json={
            "challenge_id": ch["challenge_id"],
            "transport_id": w.transport_id,
            "certificate": w.card.b64,
            "reason": "意識障害 (JCS 100)" + (" 改ざん" if tamper else ""),
            "face_match_confirmed": face,
            "device_certificate": device.certificate_b64(),
            "attestation_signature": base64.b64encode(device.sign(message)).decode(),
        },
    )


def test_the_pinless_path_shows_its_lower_assurance_and_awaits_review(
    world: World, issuer: Issuer, tmp_path: Path, as_role: Callable[..., Api]
) -> None:
    w = world
    device = _device(w, issuer, tmp_path, w.unit_id, "tablet-a")
    resp = pinless(w, device)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["assurance"] == "pinless_attested"
    assert resp.get_json()["review_status"] == "pending"
    _accept(w, w.hospital_id, RequestStatus.ACCEPTED)
    _set_destination(w, w.hospital_id)
    er_view = as_role(Role.ER_STAFF, hospital_id=w.hospital_id).get(
        f"/api/v1/transports/{w.transport_id}/patient-record"
    )
    assert er_view.get_json()["assurance"] == "pinless_attested"
    assert "no PIN" in er_view.get_json()["assurance_notice"]
    admin = as_role(Role.ADMIN)
    reviews = admin.get("/api/v1/card-auth/reviews").get_json()
    assert [r["transport_id"] for r in reviews] == [w.transport_id]
    assert reviews[0]["reason"] == "意識障害 (JCS 100)"
    done = admin.post(
        f"/api/v1/card-auth/reviews/{reviews[0]['id']}", json={"outcome": "appropriate"}
    )
    assert done.status_code == 200 and done.get_json()["review_status"] == "appropriate"
    assert admin.get("/api/v1/card-auth/reviews").get_json() == []


def test_pinless_refusals(world: World, issuer: Issuer, card_pki: Path, tmp_path: Path) -> None:
    w = world
    own = _device(w, issuer, tmp_path, w.unit_id, "tablet-own")
    foreign = _device(w, issuer, tmp_path, w.other_unit_id, "tablet-other")
    assert_refused(w, pinless(w, own, tamper=True), "bad_attestation", 403)
    assert_refused(w, pinless(w, own, face=False), "face_match_required", 400)
    assert_refused(w, pinless(w, foreign), "device_unit_mismatch", 403)
    issuance.revoke_device(issuer=issuer, name="tablet-own", publish_to=card_pki)
    assert_refused(w, pinless(w, own), "device_certificate_revoked", 403)


def test_an_admin_reads_a_record_only_by_break_glass_and_another_reviews_it(
    world: World, as_role: Callable[..., Api]
) -> None:
    w = world
    ch = challenge(w)
    assert verify(w, ch, cert=w.card.b64, signature=card_sign(w, ch)).status_code == 200
    admin, reviewer = as_role(Role.ADMIN), as_role(Role.ADMIN)
    url = f"/api/v1/transports/{w.transport_id}/patient-record"
    assert admin.get(url).get_json()["code"] == "break_glass_required"
    assert admin.post(f"{url}/break-glass", json={"reason": "why"}).status_code == 400
    reason = "意識不明、家族が既往歴の確認を求めている"
    resp = admin.post(f"{url}/break-glass", json={"reason": reason})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["patient_id"] == w.patient_id
    assert "allergies" in resp.get_json()["summary"]
    # Nobody else may break the glass.
    er = as_role(Role.ER_STAFF, hospital_id=w.hospital_id)
    assert er.post(f"{url}/break-glass", json={"reason": reason}).status_code == 403
    pending = reviewer.get("/api/v1/break-glass").get_json()
    assert [(p["transport_id"], p["reason"], p["user_id"]) for p in pending] == [
        (w.transport_id, reason, admin.user_id)
    ]
    own = admin.post(f"/api/v1/break-glass/{pending[0]['id']}", json={"outcome": "justified"})
    assert own.status_code == 403 and own.get_json()["code"] == "own_break_glass"
    done = reviewer.post(
        f"/api/v1/break-glass/{pending[0]['id']}", json={"outcome": "justified", "note": "ok"}
    )
    assert done.status_code == 200 and done.get_json()["review_status"] == "justified"
    assert reviewer.get("/api/v1/break-glass").get_json() == []
    log = reviewer.get(f"/api/v1/patients/{w.patient_id}/access-log").get_json()
    glass = [e for e in log if e["action"] == "patient_record.break_glass" and e["outcome"] == "ok"]
    assert len(glass) == 1 and glass[0]["actor_id"] == admin.user_id
    reads = [e for e in log if e["action"] == "patient_record.read" and e["path"] == "break_glass"]
    assert len(reads) == 1
    with w.app.app_context(), get_db(w.app).session_scope() as s:
        entry = s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "patient_record.break_glass", AuditEntry.outcome == "ok"
            )
        )
        assert entry is not None and entry.detail["flagged_for_review"] is True

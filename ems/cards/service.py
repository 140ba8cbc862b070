"""Card authentication and the release of a patient's record to a transport.

The exchange: the paramedic of a transport's unit asks for a challenge (a random
nonce, valid 60 s, bound to the transport and the paramedic); the card signs it
after PIN entry; the server checks the certificate (issuer, validity, key usage,
chain to the root, revocation), the signature and the challenge (fresh, unused,
same transport), then links the patient to the transport and releases the record.

The PIN-less path replaces the card's signature by the crew's attestation (face
matched to the card photo, reason) signed by the tablet's device key; the release
carries the lower assurance and waits for an administrator's review.

Record reads are open only to the crew that verified the card and to ER staff of
the hospital that accepted the transport. Every read is audited with the patient.

Cards and tablets are issued by the mock issuer (``card_issuer``, a tool beside the
server), which registers each certificate here (``register_card``,
``register_device``); revocations reach the server in the CRLs it publishes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.models import BreakGlassAccess, BreakGlassReview
from ems.access.policy import Action
from ems.audit import service as audit
from ems.audit.models import AuditEntry
from ems.auth.models import Role, User
from ems.cards import pki, records
from ems.cards.models import (
    Assurance,
    Card,
    CardChallenge,
    CardStatus,
    Device,
    Patient,
    PatientRecord,
    RecordRelease,
    ReviewStatus,
)
from ems.cards.pki import CardAuthRefused
from ems.cards.records import RecordCipher, Sealed
from ems.db import utcnow
from ems.errors import Conflict, NotFound
from ems.transports.models import Transport, TransportStatus

CHALLENGE_TTL_S = 60
NONCE_BYTES = 32
ASSURANCE_NOTICE = {
    Assurance.PIN: "カード＋暗証番号で本人確認済み (card and PIN)",
    Assurance.PINLESS_ATTESTED: (
        "暗証番号なし・顔写真の目視確認による閲覧 (no PIN: face matched by the crew; under review)"
    ),
}


# --- patients and their records ----------------------------------------------------------


def create_patient(*, session: Session, cipher: RecordCipher, bundle: dict[str, Any]) -> Patient:
    valid = records.validate_bundle(bundle)
    patient = Patient()
    session.add(patient)
    session.flush()
    sealed = cipher.seal(records.dump_bundle(valid), patient_id=patient.id)
    session.add(
        PatientRecord(
            patient_id=patient.id,
            ciphertext=sealed.ciphertext,
            nonce=sealed.nonce,
            key_id=sealed.key_id,
        )
    )
    session.flush()
    return patient


def replace_record(
    *, session: Session, cipher: RecordCipher, patient_id: int, bundle: dict[str, Any]
) -> PatientRecord:
    row = _record_row(session=session, patient_id=patient_id)
    valid = records.validate_bundle(bundle)
    _seal_into(cipher=cipher, row=row, plain=records.dump_bundle(valid))
    row.updated_at = utcnow()
    session.flush()
    return row


def _record_row(*, session: Session, patient_id: int) -> PatientRecord:
    row = session.scalar(select(PatientRecord).where(PatientRecord.patient_id == patient_id))
    if row is None:
        raise NotFound(f"patient {patient_id} has no record", code="record_not_found")
    return row


def _open_row(*, cipher: RecordCipher, row: PatientRecord) -> bytes:
    return cipher.open(
        Sealed(key_id=row.key_id, nonce=row.nonce, ciphertext=row.ciphertext),
        patient_id=row.patient_id,
    )


def _seal_into(*, cipher: RecordCipher, row: PatientRecord, plain: bytes) -> None:
    sealed = cipher.seal(plain, patient_id=row.patient_id)
    row.ciphertext, row.nonce, row.key_id = sealed.ciphertext, sealed.nonce, sealed.key_id


def read_bundle(*, session: Session, cipher: RecordCipher, patient_id: int) -> dict[str, Any]:
    row = _record_row(session=session, patient_id=patient_id)
    return records.load_bundle(_open_row(cipher=cipher, row=row))


def rotate_records(*, session: Session, cipher: RecordCipher) -> int:
    """Re-encrypt every record not under the current key; returns how many."""
    count = 0
    for row in session.scalars(select(PatientRecord).where(PatientRecord.key_id != cipher.current)):
        _seal_into(cipher=cipher, row=row, plain=_open_row(cipher=cipher, row=row))
        count += 1
    session.flush()
    return count


# --- cards and devices --------------------------------------------------------------------


def _require_patient(*, session: Session, patient_id: int) -> None:
    if session.get(Patient, patient_id) is None:
        raise NotFound(f"patient {patient_id} does not exist", code="patient_not_found")


def register_card(
    *, session: Session, patient_id: int, serial: str, cert: x509.Certificate
) -> Card:
    """Link an issued card's certificate to its patient (the issuer calls this: the
    stand-in for the online qualification system's register of certificates)."""
    _require_patient(session=session, patient_id=patient_id)
    if session.scalar(select(Card.id).where(Card.serial == serial)) is not None:
        raise Conflict(f"card {serial} is already registered", code="card_exists")
    card = Card(
        serial=serial,
        patient_id=patient_id,
        cert_serial=pki.cert_serial_hex(cert),
        cert_fingerprint=pki.fingerprint(cert),
        not_after=cert.not_valid_after_utc,
    )
    session.add(card)
    session.flush()
    return card


def register_device(*, session: Session, name: str, unit_id: int, cert: x509.Certificate) -> Device:
    """Register a tablet's device certificate to its unit (the issuer calls this)."""
    from ems.fleet.models import Unit

    if session.get(Unit, unit_id) is None:
        raise NotFound(f"unit {unit_id} does not exist", code="unit_not_found")
    existing = session.scalar(select(Device).where(Device.name == name))
    if existing is not None:
        raise Conflict(f"device {name} already exists", code="device_exists")
    device = Device(
        name=name,
        unit_id=unit_id,
        cert_serial=pki.cert_serial_hex(cert),
        cert_fingerprint=pki.fingerprint(cert),
    )
    session.add(device)
    session.flush()
    return device


# --- challenges ------------------------------------------------------------------------------


def _crew_transport(*, session: Session, user: User, ctx: Context, transport_id: int) -> Transport:
    transport = session.get(Transport, transport_id) if 0 < transport_id <= 2**31 - 1 else None
    if transport is None:
        raise NotFound(f"transport {transport_id} does not exist", code="transport_not_found")
    guard.require(
        session=session, actor=user, action=Action.PATIENT_IDENTIFY, ctx=ctx, transport=transport
    )
    if transport.status is not TransportStatus.ACTIVE:
        raise Conflict(
            f"transport {transport_id} is {transport.status.value}", code="transport_not_active"
        )
    return transport


def create_challenge(
    *,
    session: Session,
    user: User,
    ctx: Context,
    transport_id: int,
    now: dt.datetime | None = None,
) -> CardChallenge:
    _crew_transport(session=session, user=user, ctx=ctx, transport_id=transport_id)
    now = now or utcnow()
    challenge = CardChallenge(
        id=secrets.token_hex(16),
        nonce=secrets.token_bytes(NONCE_BYTES),
        transport_id=transport_id,
        user_id=user.id,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=CHALLENGE_TTL_S),
    )
    session.add(challenge)
    session.flush()
    return challenge


def _check_challenge(
    *,
    session: Session,
    user: User,
    ctx: Context,
    challenge_id: str,
    transport_id: int | None,
    now: dt.datetime,
) -> tuple[CardChallenge, Transport]:
    challenge = session.get(CardChallenge, challenge_id)
    if challenge is None:
        raise CardAuthRefused("unknown challenge", code="challenge_not_found", status=404)
    if transport_id is not None and transport_id != challenge.transport_id:
        raise CardAuthRefused(
            "the challenge was issued for another transport",
            code="challenge_transport_mismatch",
            status=409,
        )
    if challenge.user_id != user.id:
        raise CardAuthRefused(
            "the challenge was issued to someone else", code="challenge_other_user"
        )
    if challenge.used_at is not None:
        raise CardAuthRefused("the challenge was already used", code="challenge_used", status=409)
    if now > challenge.expires_at:
        raise CardAuthRefused(
            f"the challenge expired (valid {CHALLENGE_TTL_S} s); ask for a new one",
            code="challenge_expired",
            status=409,
        )
    transport = _crew_transport(
        session=session, user=user, ctx=ctx, transport_id=challenge.transport_id
    )
    return challenge, transport


def _consume(*, session: Session, challenge: CardChallenge, now: dt.datetime) -> None:
    # Conditional update: of two concurrent verifications of one challenge, one wins.
    result = session.execute(
        update(CardChallenge)
        .where(CardChallenge.id == challenge.id, CardChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise CardAuthRefused("the challenge was already used", code="challenge_used", status=409)
    session.refresh(challenge)


def _card_for(*, session: Session, cert: x509.Certificate) -> Card | None:
    return session.scalar(select(Card).where(Card.cert_fingerprint == pki.fingerprint(cert)))


def _known_card(*, session: Session, cert: x509.Certificate) -> Card:
    card = _card_for(session=session, cert=cert)
    if card is None:
        raise CardAuthRefused("the card is not registered with a patient", code="card_unknown")
    # Revocation reaches the server in the issuer's CRL (checked before this); a row
    # marked revoked in the register (by an operator, or by the former `ems cards revoke`)
    # is refused as well.
    if card.status is CardStatus.REVOKED:
        raise CardAuthRefused(
            "the card has been revoked", code="certificate_revoked", patient_id=card.patient_id
        )
    return card


def _card_certificate(
    *, session: Session, pki_dir: str, certificate: str, now: dt.datetime
) -> tuple[x509.Certificate, Card]:
    cert = pki.parse_certificate(certificate)
    # Recognising the card first lets a refusal of a known card reach its holder's log.
    card = _card_for(session=session, cert=cert)
    try:
        pki.trust_anchors(pki_dir).verify(cert, ca=pki.CARD_CA, now=now)
    except CardAuthRefused as err:
        err.patient_id = card.patient_id if card else None
        raise
    return cert, _known_card(session=session, cert=cert)


@dataclass
class Release:
    release: RecordRelease
    summary: dict[str, Any]


def _link_patient(*, transport: Transport, card: Card) -> None:
    if transport.patient_id is not None and transport.patient_id != card.patient_id:
        raise CardAuthRefused(
            "another patient is already identified on this transport",
            code="transport_patient_mismatch",
            status=409,
            patient_id=card.patient_id,
        )
    transport.patient_id = card.patient_id


def _signed_by(
    cert: x509.Certificate, *, card: Card, data: bytes, signature: bytes, code: str
) -> None:
    try:
        pki.verify_signature(cert, data=data, signature=signature, code=code)
    except CardAuthRefused as err:
        # The card is known by now: the refusal belongs in its holder's log.
        err.patient_id = card.patient_id
        raise


def _release(
    *,
    session: Session,
    cipher: RecordCipher,
    user: User,
    challenge: CardChallenge,
    transport: Transport,
    card: Card,
    now: dt.datetime,
    action: str,
    path: str,
    release_fields: dict[str, Any],
    audit_detail: dict[str, Any],
) -> Release:
    """Spend the challenge, link the patient, record the release and read the summary."""
    _consume(session=session, challenge=challenge, now=now)
    _link_patient(transport=transport, card=card)
    release = RecordRelease(
        transport_id=transport.id,
        patient_id=card.patient_id,
        card_id=card.id,
        released_at=now,
        released_by=user.id,
        challenge_id=challenge.id,
        unit_id=transport.unit_id,
        **release_fields,
    )
    session.add(release)
    session.flush()
    audit.record(
        session=session,
        actor=user,
        action=action,
        target_type="transport",
        target_id=str(transport.id),
        patient_id=card.patient_id,
        detail={"assurance": release.assurance.value, "card": card.serial, **audit_detail},
    )
    summary = _read_summary(session=session, cipher=cipher, user=user, release=release, path=path)
    return Release(release=release, summary=summary)


def verify_card(
    *,
    session: Session,
    pki_dir: str,
    cipher: RecordCipher,
    user: User,
    ctx: Context,
    challenge_id: str,
    transport_id: int | None,
    certificate: str,
    signature: str,
    now: dt.datetime | None = None,
) -> Release:
    now = now or utcnow()
    sig = pki.decode_base64(signature, what="signature", limit=pki.MAX_SIGNATURE_BYTES)
    challenge, transport = _check_challenge(
        session=session,
        user=user,
        ctx=ctx,
        challenge_id=challenge_id,
        transport_id=transport_id,
        now=now,
    )
    cert, card = _card_certificate(
        session=session, pki_dir=pki_dir, certificate=certificate, now=now
    )
    _signed_by(cert, card=card, data=challenge.nonce, signature=sig, code="bad_signature")
    return _release(
        session=session,
        cipher=cipher,
        user=user,
        challenge=challenge,
        transport=transport,
        card=card,
        now=now,
        action="card_auth.verify",
        path="card_verification",
        release_fields={"assurance": Assurance.PIN, "review_status": ReviewStatus.NOT_REQUIRED},
        audit_detail={},
    )


def attestation_message(
    *,
    challenge_id: str,
    nonce: bytes,
    transport_id: int,
    card_certificate_der: bytes,
    reason: str,
    face_match_confirmed: bool,
) -> bytes:
    """The bytes the tablet's device key signs for a PIN-less read (the tablet builds
    the same in ``ambulance_client.card.attestation_message``)."""
    content = {
        "purpose": "ems-pinless-attestation/v1",
        "challenge_id": challenge_id,
        "nonce": base64.b64encode(nonce).decode(),
        "transport_id": transport_id,
        "card_certificate_sha256": hashlib.sha256(card_certificate_der).hexdigest(),
        "reason": reason,
        "face_match_confirmed": face_match_confirmed,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pinless_access(
    *,
    session: Session,
    pki_dir: str,
    cipher: RecordCipher,
    user: User,
    ctx: Context,
    challenge_id: str,
    transport_id: int,
    certificate: str,
    reason: str,
    face_match_confirmed: bool,
    device_certificate: str,
    attestation_signature: str,
    now: dt.datetime | None = None,
) -> Release:
    now = now or utcnow()
    if not face_match_confirmed:
        raise CardAuthRefused(
            "without PIN the crew must confirm the face matches the card photo",
            code="face_match_required",
            status=400,
        )
    sig = pki.decode_base64(
        attestation_signature, what="attestation signature", limit=pki.MAX_SIGNATURE_BYTES
    )
    challenge, transport = _check_challenge(
        session=session,
        user=user,
        ctx=ctx,
        challenge_id=challenge_id,
        transport_id=transport_id,
        now=now,
    )
    device_cert = pki.parse_certificate(device_certificate)
    try:
        pki.trust_anchors(pki_dir).verify(device_cert, ca=pki.DEVICE_CA, now=now)
    except CardAuthRefused as err:
        if not err.code.startswith("untrusted"):
            err.code = f"device_{err.code}"
        raise
    device = session.scalar(
        select(Device).where(Device.cert_fingerprint == pki.fingerprint(device_cert))
    )
    if device is None:
        raise CardAuthRefused("the tablet is not registered", code="untrusted_device")
    if device.revoked_at is not None:
        raise CardAuthRefused(
            "the tablet's certificate is revoked", code="device_certificate_revoked"
        )
    if device.unit_id != transport.unit_id:
        raise CardAuthRefused("the tablet belongs to another unit", code="device_unit_mismatch")
    cert, card = _card_certificate(
        session=session, pki_dir=pki_dir, certificate=certificate, now=now
    )
    message = attestation_message(
        challenge_id=challenge.id,
        nonce=challenge.nonce,
        transport_id=transport.id,
        card_certificate_der=cert.public_bytes(serialization.Encoding.DER),
        reason=reason,
        face_match_confirmed=face_match_confirmed,
    )
    _signed_by(device_cert, card=card, data=message, signature=sig, code="bad_attestation")
    return _release(
        session=session,
        cipher=cipher,
        user=user,
        challenge=challenge,
        transport=transport,
        card=card,
        now=now,
        action="card_auth.pinless",
        path="card_pinless",
        release_fields={
            "assurance": Assurance.PINLESS_ATTESTED,
            "device_id": device.id,
            "reason": reason,
            "face_match_confirmed": True,
            "review_status": ReviewStatus.PENDING,
        },
        audit_detail={"device": device.name, "reason": reason, "flagged_for_review": True},
    )


def card_event(
    *,
    session: Session,
    user: User,
    ctx: Context,
    transport_id: int,
    certificate: str,
    event: str,
    tries_left: int | None,
) -> None:
    """A wrong PIN or a locked card, reported by the tablet: audited as a refusal."""
    _crew_transport(session=session, user=user, ctx=ctx, transport_id=transport_id)
    cert = pki.parse_certificate(certificate)
    card = _card_for(session=session, cert=cert)
    audit.record(
        session=session,
        actor=user,
        action="card_auth.pin",
        outcome="denied",
        target_type="transport",
        target_id=str(transport_id),
        patient_id=card.patient_id if card else None,
        detail={"code": event, "tries_left": tries_left, "card": card.serial if card else ""},
    )


# --- reading the record ------------------------------------------------------------------------


def _read_summary(
    *, session: Session, cipher: RecordCipher, user: User, release: RecordRelease, path: str
) -> dict[str, Any]:
    bundle = read_bundle(session=session, cipher=cipher, patient_id=release.patient_id)
    audit.record(
        session=session,
        actor=user,
        action="patient_record.read",
        target_type="transport",
        target_id=str(release.transport_id),
        patient_id=release.patient_id,
        detail={"path": path, "assurance": release.assurance.value},
    )
    return records.summarize(bundle)


def get_patient_record(
    *, session: Session, cipher: RecordCipher, user: User, ctx: Context, transport_id: int
) -> Release:
    """The record released to this transport, for its crew or the receiving ER."""
    transport = session.get(Transport, transport_id) if 0 < transport_id <= 2**31 - 1 else None
    if transport is None:
        raise NotFound(f"transport {transport_id} does not exist", code="transport_not_found")
    guard.require(
        session=session, actor=user, action=Action.RECORD_READ, ctx=ctx, transport=transport
    )
    path = "crew" if user.role is Role.PARAMEDIC else "receiving_er"
    release = _latest_release(session=session, transport=transport)
    summary = _read_summary(session=session, cipher=cipher, user=user, release=release, path=path)
    return Release(release=release, summary=summary)


def _latest_release(*, session: Session, transport: Transport) -> RecordRelease:
    release = None
    if transport.patient_id is not None:
        release = session.scalar(
            select(RecordRelease)
            .where(
                RecordRelease.transport_id == transport.id,
                RecordRelease.patient_id == transport.patient_id,
            )
            .order_by(RecordRelease.released_at.desc(), RecordRelease.id.desc())
            .limit(1)
        )
    if release is None:
        raise NotFound(
            "no patient has been identified by card on this transport",
            code="record_not_released",
        )
    return release


# --- break-glass --------------------------------------------------------------------------------


def break_glass(
    *,
    session: Session,
    cipher: RecordCipher,
    user: User,
    ctx: Context,
    transport_id: int,
    reason: str,
) -> Release:
    """An administrator reads a record the rules keep from them: the reason is kept,
    the read goes to the patient's access log and waits for another's review."""
    transport = session.get(Transport, transport_id) if 0 < transport_id <= 2**31 - 1 else None
    if transport is None:
        raise NotFound(f"transport {transport_id} does not exist", code="transport_not_found")
    guard.require(
        session=session,
        actor=user,
        action=Action.RECORD_BREAK_GLASS,
        ctx=ctx,
        transport=transport,
    )
    release = _latest_release(session=session, transport=transport)
    row = BreakGlassAccess(
        transport_id=transport.id,
        patient_id=release.patient_id,
        user_id=user.id,
        reason=reason,
        at=ctx.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=user,
        action="patient_record.break_glass",
        target_type="transport",
        target_id=str(transport.id),
        patient_id=release.patient_id,
        detail={"break_glass_id": row.id, "reason": reason, "flagged_for_review": True},
    )
    summary = _read_summary(
        session=session, cipher=cipher, user=user, release=release, path="break_glass"
    )
    return Release(release=release, summary=summary)


def list_break_glass(
    *, session: Session, user: User, ctx: Context, status: BreakGlassReview
) -> list[BreakGlassAccess]:
    _require_reviewer(session=session, user=user, ctx=ctx)
    return list(
        session.scalars(
            select(BreakGlassAccess)
            .where(BreakGlassAccess.review_status == status)
            .order_by(BreakGlassAccess.at)
        )
    )


def review_break_glass(
    *, session: Session, user: User, ctx: Context, access_id: int, outcome: str, note: str
) -> BreakGlassAccess:
    _require_reviewer(session=session, user=user, ctx=ctx)
    row = session.get(BreakGlassAccess, access_id) if 0 < access_id <= 2**31 - 1 else None
    if row is None:
        raise NotFound(
            f"break-glass access {access_id} does not exist", code="break_glass_not_found"
        )
    if row.user_id == user.id:
        guard.refuse(
            ctx,
            actor=user,
            action="patient_record.break_glass_review",
            code="own_break_glass",
            target_type="break_glass",
            target_id=str(row.id),
            patient_id=row.patient_id,
            detail="another administrator reviews a break-glass read",
        )
    if row.review_status is not BreakGlassReview.PENDING:
        raise Conflict("this access is not awaiting review", code="not_pending_review")
    row.review_status = BreakGlassReview(outcome)
    row.reviewed_by = user.id
    row.reviewed_at = ctx.now()
    row.review_note = note
    audit.record(
        session=session,
        actor=user,
        action="patient_record.break_glass_review",
        target_type="break_glass",
        target_id=str(row.id),
        patient_id=row.patient_id,
        detail={"outcome": outcome},
    )
    session.flush()
    return row


# --- what a patient (or an auditor) sees ---------------------------------------------------------


def read_access_log(
    *, session: Session, user: User, ctx: Context, patient_id: int
) -> list[dict[str, Any]]:
    """The access log as an auditor reads it: the reading is itself on record."""
    guard.require(
        session=session,
        actor=user,
        action=Action.ACCESS_LOG_READ,
        ctx=ctx,
        target_type="patient",
        target_id=str(patient_id),
    )
    entries = access_log(session=session, patient_id=patient_id)
    audit.record(
        session=session,
        actor=user,
        action="patient_record.access_log",
        target_type="patient",
        target_id=str(patient_id),
        detail={"entries": len(entries)},
    )
    return entries


def access_log(*, session: Session, patient_id: int) -> list[dict[str, Any]]:
    """Every look-up of a patient's record, and every refused attempt (マイナポータル's view)."""
    _require_patient(session=session, patient_id=patient_id)
    rows = session.execute(
        select(AuditEntry, User)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.patient_id == patient_id)
        .order_by(AuditEntry.id)
    ).all()
    out = []
    for entry, actor in rows:
        detail = entry.detail or {}
        transport_id = (
            int(entry.target_id)
            if entry.target_type == "transport" and entry.target_id.isdigit()
            else None
        )
        out.append(
            {
                "at": entry.at,
                "action": entry.action,
                "outcome": entry.outcome,
                "actor_id": entry.actor_id,
                "actor_username": actor.username if actor else "",
                "actor_role": entry.actor_role,
                "unit_id": actor.unit_id if actor else None,
                "hospital_id": actor.hospital_id if actor else None,
                "transport_id": transport_id,
                "path": str(detail.get("path", "")),
                "assurance": str(detail.get("assurance", "")),
                "code": str(detail.get("code", "")),
            }
        )
    return out


def _require_reviewer(*, session: Session, user: User, ctx: Context) -> None:
    guard.require(session=session, actor=user, action=Action.RECORD_REVIEW, ctx=ctx)


def list_reviews(
    *, session: Session, user: User, ctx: Context, status: ReviewStatus
) -> list[RecordRelease]:
    _require_reviewer(session=session, user=user, ctx=ctx)
    return list(
        session.scalars(
            select(RecordRelease)
            .where(RecordRelease.review_status == status)
            .order_by(RecordRelease.released_at)
        )
    )


def review_release(
    *, session: Session, user: User, ctx: Context, release_id: int, outcome: str, note: str
) -> RecordRelease:
    _require_reviewer(session=session, user=user, ctx=ctx)
    release = session.get(RecordRelease, release_id)
    if release is None:
        raise NotFound(f"release {release_id} does not exist", code="release_not_found")
    if release.review_status is not ReviewStatus.PENDING:
        raise Conflict("this access is not awaiting review", code="not_pending_review")
    release.review_status = ReviewStatus(outcome)
    release.reviewed_by = user.id
    release.reviewed_at = utcnow()
    release.review_note = note
    audit.record(
        session=session,
        actor=user,
        action="card_auth.review",
        target_type="record_release",
        target_id=str(release.id),
        patient_id=release.patient_id,
        detail={"outcome": outcome},
    )
    session.flush()
    return release

"""Identifying the patient by their card, on scene.

The exchange: the paramedic of a transport's unit asks for a challenge (a random
nonce, valid 60 s, bound to the transport and the paramedic); the card signs it
after PIN entry; the server checks the certificate (issuer, validity, key usage,
chain to the root, revocation), the signature and the challenge (fresh, unused,
same transport), then releases the patient's record to the transport
(``ems.cards.releases``).

The PIN-less path replaces the card's signature by the crew's attestation (face
matched to the card photo, reason) signed by the tablet's device key; the release
carries the lower assurance and waits for an administrator's review.

A wrong PIN or a locked card, reported by the tablet, is audited as a refusal on
the transport; it reaches a patient's access log only when the certificate verifies.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import User
from ems.cards import pki, releases, service
from ems.cards.models import (
    Assurance,
    Card,
    CardChallenge,
    CardStatus,
    Device,
    ReviewStatus,
)
from ems.cards.pki import CardAuthRefused
from ems.cards.releases import Release
from ems.db import claim_row, utcnow
from ems.errors import Conflict, EmsError
from ems.patients.records import RecordCipher
from ems.transports import service as transports
from ems.transports.models import Transport, TransportStatus

CHALLENGE_TTL_S = 60
NONCE_BYTES = 32


def _crew_transport(*, session: Session, user: User, ctx: Context, transport_id: int) -> Transport:
    transport = transports.get(session=session, transport_id=transport_id)
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
    if not claim_row(
        session,
        update(CardChallenge)
        .where(CardChallenge.id == challenge.id, CardChallenge.used_at.is_(None))
        .values(used_at=now),
    ):
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


def _verify(
    session: Session,
    pki_dir: str,
    cert: x509.Certificate,
    *,
    ca: str,
    now: dt.datetime,
    crl_grace_s: float,
) -> None:
    """The trust anchors' check of a presented certificate, with the CRL high-water
    marks of the caller's transaction: no server check may go back to an older CRL."""
    pki.trust_anchors(pki_dir).verify(
        cert,
        ca=ca,
        now=now,
        crl_grace_s=crl_grace_s,
        crl_marks=service.SessionCrlMarks(session),
    )


def _card_certificate(
    *, session: Session, pki_dir: str, certificate: str, now: dt.datetime, crl_grace_s: float = 0
) -> tuple[x509.Certificate, Card]:
    cert = pki.parse_certificate(certificate)
    # Recognising the card first lets a refusal of a known card reach its holder's log.
    card = _card_for(session=session, cert=cert)
    try:
        _verify(session, pki_dir, cert, ca=pki.CARD_CA, now=now, crl_grace_s=crl_grace_s)
    except CardAuthRefused as err:
        err.patient_id = card.patient_id if card else None
        raise
    return cert, _known_card(session=session, cert=cert)


def _signed_by(
    cert: x509.Certificate, *, card: Card, data: bytes, signature: bytes, code: str
) -> None:
    try:
        pki.verify_signature(cert, data=data, signature=signature, code=code)
    except CardAuthRefused as err:
        # The card is known by now: the refusal belongs in its holder's log.
        err.patient_id = card.patient_id
        raise


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
    crl_grace_s: float = 0,
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
        session=session,
        pki_dir=pki_dir,
        certificate=certificate,
        now=now,
        crl_grace_s=crl_grace_s,
    )
    _signed_by(cert, card=card, data=challenge.nonce, signature=sig, code="bad_signature")
    _consume(session=session, challenge=challenge, now=now)
    return releases.release_record(
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
    crl_grace_s: float = 0,
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
        _verify(session, pki_dir, device_cert, ca=pki.DEVICE_CA, now=now, crl_grace_s=crl_grace_s)
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
        session=session,
        pki_dir=pki_dir,
        certificate=certificate,
        now=now,
        crl_grace_s=crl_grace_s,
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
    _consume(session=session, challenge=challenge, now=now)
    return releases.release_record(
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
    pki_dir: str,
    user: User,
    ctx: Context,
    transport_id: int,
    certificate: str,
    event: str,
    tries_left: int | None,
    now: dt.datetime | None = None,
    crl_grace_s: float = 0,
) -> str:
    """A wrong PIN or a locked card, reported by the tablet: audited as a refusal on
    the transport, by the crew member who reported it.

    The tablet only holds the card's certificate, which anyone may read off a card
    (or keep from an earlier one): it names a patient only once it verifies (issued
    by the card CA, chaining to the root, not revoked), so that a made-up or stale
    certificate cannot write into another patient's access log. Answers the
    certificate's standing: ``verified`` or the code it was refused with."""
    _crew_transport(session=session, user=user, ctx=ctx, transport_id=transport_id)
    cert = pki.parse_certificate(certificate)
    card: Card | None = None
    try:
        _verify(
            session, pki_dir, cert, ca=pki.CARD_CA, now=now or utcnow(), crl_grace_s=crl_grace_s
        )
    except EmsError as err:  # a refused certificate, or no PKI or CRL to check it with
        standing = err.code
    else:
        card = _card_for(session=session, cert=cert)
        standing = "verified" if card is not None else "card_unknown"
        if card is not None and card.status is CardStatus.REVOKED:
            card, standing = None, "certificate_revoked"
    audit.record(
        session=session,
        actor=user,
        action="card_auth.pin",
        outcome="denied",
        target_type="transport",
        target_id=str(transport_id),
        patient_id=card.patient_id if card else None,
        detail={
            "code": event,
            "tries_left": tries_left,
            "card": card.serial if card else "",
            "certificate": standing,
            "unit_id": user.unit_id,
        },
    )
    return standing

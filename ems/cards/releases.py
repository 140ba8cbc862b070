"""The release of a patient's record to a transport, and every read of it.

A card checked on scene (``ems.cards.identification``) releases the record to that
transport. Record reads are open only to the crew that verified the card and to ER
staff of the hospital that accepted the transport; an administrator reads outside
those rules only by break-glass, with a reason, reviewed by another administrator.
PIN-less releases wait for an administrator's review too. Every read is audited
with the patient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.access.models import BreakGlassAccess, BreakGlassReview
from ems.access.policy import Action
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.cards.models import Assurance, Card, CardChallenge, RecordRelease, ReviewStatus
from ems.cards.pki import CardAuthRefused
from ems.db import utcnow
from ems.errors import Conflict, NotFound
from ems.patients import records
from ems.patients import service as patients
from ems.patients.records import RecordCipher
from ems.transports import service as transports
from ems.transports.models import Transport

ASSURANCE_NOTICE = {
    Assurance.PIN: "カード＋暗証番号で本人確認済み (card and PIN)",
    Assurance.PINLESS_ATTESTED: (
        "暗証番号なし・顔写真の目視確認による閲覧 (no PIN: face matched by the crew; under review)"
    ),
}


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


def release_record(
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
    """Link the patient, record the release and read the summary; the caller has
    checked the card and spent the challenge."""
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


# --- reading the record ------------------------------------------------------------------------


def _read_summary(
    *, session: Session, cipher: RecordCipher, user: User, release: RecordRelease, path: str
) -> dict[str, Any]:
    bundle = patients.read_bundle(session=session, cipher=cipher, patient_id=release.patient_id)
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
    transport = transports.get(session=session, transport_id=transport_id)
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
    transport = transports.get(session=session, transport_id=transport_id)
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


# --- reviews -------------------------------------------------------------------------------------


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

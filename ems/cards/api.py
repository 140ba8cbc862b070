"""JSON endpoints of card authentication, patient records and their access log.

Every refusal on these endpoints (a bad certificate, a stale challenge, a
malformed or oversized body, a reader without the right) is written to the audit
log by this blueprint's error handler, after the request's own transaction was
rolled back, with the patient when the card was recognised. A CRL high-water mark
the refused request raised (``service.record_crl_mark``) is recorded again after that
rollback: the CRL that refuses a revoked card is often the one that raised it.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from flask import Blueprint, current_app, g, request

from ems.access.guard import AccessDenied
from ems.access.web import context
from ems.api import API_PREFIX, endpoint, json_body_or_none
from ems.audit import web as audit
from ems.auth.models import Role
from ems.auth.web import current_user, require_user
from ems.cards import access_log, identification, releases, service
from ems.cards.schemas import (
    AccessLogEntry,
    BreakGlassCreate,
    BreakGlassQuery,
    BreakGlassRead,
    BreakGlassReviewUpdate,
    CardEventCreate,
    CardEventRead,
    ChallengeCreate,
    ChallengeRead,
    PinlessCreate,
    RecordView,
    ReviewQuery,
    ReviewRead,
    ReviewUpdate,
    VerificationCreate,
)
from ems.db import get_db, get_session
from ems.errors import EmsError, PayloadTooLarge
from ems.patients.records import RecordCipher
from ems.ratelimit import limit

bp = Blueprint("cards", __name__, url_prefix=API_PREFIX)

# A certificate, a signature and a reason fit in a few kilobytes.
CARD_AUTH_MAX_BODY = 32 * 1024

AUDITED_ACTIONS = {
    "create_challenge": "card_auth.challenge",
    "verify_card": "card_auth.verify",
    "pinless_access": "card_auth.pinless",
    "report_card_event": "card_auth.card_event",
    "patient_record": "patient_record.read",
    "patient_access_log": "patient_record.access_log",
    "break_glass": "patient_record.break_glass",
    "list_reviews": "card_auth.review",
    "review_access": "card_auth.review",
}

_CIPHERS: dict[str, RecordCipher] = {}
_CIPHER_LOCK = threading.Lock()


def record_cipher() -> RecordCipher:
    spec = str(current_app.config["RECORD_ENCRYPTION_KEY"])
    cipher = _CIPHERS.get(spec)
    if cipher is None:
        with _CIPHER_LOCK:
            cipher = _CIPHERS.setdefault(spec, RecordCipher(spec))
    return cipher


def _audited_action() -> str | None:
    name = (request.endpoint or "").rpartition(".")[2]
    return AUDITED_ACTIONS.get(name)


@bp.before_request
def limit_card_payload() -> None:
    if _audited_action() is None:
        return
    # The stream stops a chunked body (no Content-Length) at the same limit.
    request.max_content_length = CARD_AUTH_MAX_BODY
    if request.content_length is not None and request.content_length > CARD_AUTH_MAX_BODY:
        require_user()
        raise PayloadTooLarge(
            f"the body exceeds {CARD_AUTH_MAX_BODY} bytes", code="payload_too_large"
        )


@bp.errorhandler(EmsError)
def audit_refusal(err: EmsError) -> Any:
    action = _audited_action()
    # The access policy audits its own refusals; this catches the card's (a bad
    # certificate, a stale challenge, a malformed body).
    if (
        action is not None
        and not isinstance(err, AccessDenied)
        and not g.get("card_refusal_audited")
    ):
        g.card_refusal_audited = True
        target_id = ""
        if request.view_args and "transport_id" in request.view_args:
            target_id = str(request.view_args["transport_id"])
        else:
            # The body as the endpoint read it (never a second parse); None if refused.
            body = json_body_or_none()
            if isinstance(body, dict) and isinstance(body.get("transport_id"), int):
                target_id = str(body["transport_id"])
        audit.deny(
            actor=g.get("user"),
            action=action,
            code=err.code,
            target_type="transport" if target_id else "",
            target_id=target_id,
            patient_id=getattr(err, "patient_id", None),
            detail={"status": err.status},
        )
    # Then render it as every other error is (rollback, denials written, problem+json).
    session = g.get("db_session")
    handler = current_app.error_handler_spec[None][None][EmsError]
    response = handler(err)
    if session is not None and service.raised_crl_marks(session):
        # A CRL high-water mark raised by the refused request outlives its rollback.
        with get_db().session_scope() as marks_session:
            service.keep_crl_marks(rolled_back=session, session=marks_session)
    return response


def _view(release: releases.Release) -> RecordView:
    r = release.release
    return RecordView(
        transport_id=r.transport_id,
        patient_id=r.patient_id,
        assurance=r.assurance,
        assurance_notice=releases.ASSURANCE_NOTICE[r.assurance],
        released_at=r.released_at,
        review_status=r.review_status,
        summary=release.summary,
    )


def _crl_grace_s() -> float:
    return float(current_app.config.get("CRL_GRACE_S", 0))


def _limit_card_attempts() -> None:
    """Card reads per paramedic a minute: a tablet needs one or two per patient, so
    a burst means someone tries cards (or the PIN-less path) in a loop."""
    limit(
        "card_auth",
        str(current_user().id),
        per_minute=int(current_app.config.get("CARD_AUTH_RATE_PER_MIN", 20)),
    )


@endpoint(
    bp,
    "/card-auth/challenges",
    method="POST",
    body=ChallengeCreate,
    response=ChallengeRead,
    status=201,
    roles=(Role.PARAMEDIC,),
    summary="A one-time challenge for the patient's card to sign (valid 60 s)",
    errors=(404, 409),
)
def create_challenge(*, body: ChallengeCreate) -> ChallengeRead:
    _limit_card_attempts()
    challenge = identification.create_challenge(
        session=get_session(), user=current_user(), ctx=context(), transport_id=body.transport_id
    )
    return ChallengeRead(
        challenge_id=challenge.id,
        nonce=base64.b64encode(challenge.nonce).decode(),
        expires_at=challenge.expires_at,
    )


@endpoint(
    bp,
    "/card-auth/verifications",
    method="POST",
    body=VerificationCreate,
    response=RecordView,
    roles=(Role.PARAMEDIC,),
    summary="Verify the card's signature of a challenge; release the record to the transport",
    errors=(404, 409),
    # The answer is the patient's record: never kept outside the encrypted store.
    # A retry needs a new challenge anyway (challenges are single-use).
    replayable=False,
)
def verify_card(*, body: VerificationCreate) -> RecordView:
    _limit_card_attempts()
    release = identification.verify_card(
        session=get_session(),
        pki_dir=str(current_app.config["PKI_DIR"]),
        cipher=record_cipher(),
        user=current_user(),
        ctx=context(),
        challenge_id=body.challenge_id,
        transport_id=body.transport_id,
        certificate=body.certificate,
        signature=body.signature,
        crl_grace_s=_crl_grace_s(),
    )
    return _view(release)


@endpoint(
    bp,
    "/card-auth/pinless",
    method="POST",
    body=PinlessCreate,
    response=RecordView,
    roles=(Role.PARAMEDIC,),
    summary="Release the record without PIN: face match attested by the crew, signed by the tablet",
    errors=(404, 409),
    # The answer is the patient's record: never kept outside the encrypted store.
    # A retry needs a new challenge anyway (challenges are single-use).
    replayable=False,
)
def pinless_access(*, body: PinlessCreate) -> RecordView:
    _limit_card_attempts()
    release = identification.pinless_access(
        session=get_session(),
        pki_dir=str(current_app.config["PKI_DIR"]),
        cipher=record_cipher(),
        user=current_user(),
        ctx=context(),
        crl_grace_s=_crl_grace_s(),
        **body.model_dump(),
    )
    return _view(release)


@endpoint(
    bp,
    "/card-auth/card-events",
    method="POST",
    body=CardEventCreate,
    response=CardEventRead,
    status=202,
    roles=(Role.PARAMEDIC,),
    summary=(
        "Report a wrong PIN or a locked card (audited on the transport; on the patient's "
        "access log only once the certificate verifies)"
    ),
    errors=(404, 409, 429),
)
def report_card_event(*, body: CardEventCreate) -> CardEventRead:
    # A card locks after 3 wrong PINs: a handful of reports a minute is all a crew
    # member ever needs; more is someone filling an access log.
    limit(
        "card_event",
        str(current_user().id),
        per_minute=int(current_app.config.get("CARD_EVENT_RATE_PER_MIN", 10)),
    )
    standing = identification.card_event(
        session=get_session(),
        pki_dir=str(current_app.config["PKI_DIR"]),
        user=current_user(),
        ctx=context(),
        transport_id=body.transport_id,
        certificate=body.certificate,
        event=body.event,
        tries_left=body.tries_left,
        crl_grace_s=_crl_grace_s(),
    )
    return CardEventRead(
        recorded=True, event=body.event, tries_left=body.tries_left, certificate=standing
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>/patient-record",
    response=RecordView,
    roles=(Role.PARAMEDIC, Role.ER_STAFF, Role.MC_DOCTOR),
    summary="The identified patient's record summary (the crew and the receiving ER only)",
)
def patient_record(*, transport_id: int) -> RecordView:
    release = releases.get_patient_record(
        session=get_session(),
        cipher=record_cipher(),
        user=current_user(),
        ctx=context(),
        transport_id=transport_id,
    )
    return _view(release)


@endpoint(
    bp,
    "/transports/<int:transport_id>/patient-record/break-glass",
    method="POST",
    body=BreakGlassCreate,
    response=RecordView,
    roles=(Role.ADMIN,),
    summary="An administrator reads the record outside the rules, with a reason (flagged)",
    errors=(404,),
    replayable=False,
)
def break_glass(*, transport_id: int, body: BreakGlassCreate) -> RecordView:
    release = releases.break_glass(
        session=get_session(),
        cipher=record_cipher(),
        user=current_user(),
        ctx=context(),
        transport_id=transport_id,
        reason=body.reason,
    )
    return _view(release)


@endpoint(
    bp,
    "/break-glass",
    query=BreakGlassQuery,
    response=list[BreakGlassRead],
    roles=(Role.ADMIN,),
    summary="Break-glass reads of medical records awaiting (or past) review",
)
def list_break_glass(*, query: BreakGlassQuery) -> list[BreakGlassRead]:
    rows = releases.list_break_glass(
        session=get_session(), user=current_user(), ctx=context(), status=query.status
    )
    return [BreakGlassRead.model_validate(r) for r in rows]


@endpoint(
    bp,
    "/break-glass/<int:access_id>",
    method="POST",
    body=BreakGlassReviewUpdate,
    response=BreakGlassRead,
    roles=(Role.ADMIN,),
    summary="Close the review of a break-glass read (by another administrator)",
    errors=(404, 409),
)
def review_break_glass(*, access_id: int, body: BreakGlassReviewUpdate) -> BreakGlassRead:
    row = releases.review_break_glass(
        session=get_session(),
        user=current_user(),
        ctx=context(),
        access_id=access_id,
        outcome=body.outcome,
        note=body.note,
    )
    return BreakGlassRead.model_validate(row)


@endpoint(
    bp,
    "/patients/<int:patient_id>/access-log",
    response=list[AccessLogEntry],
    roles=(Role.ADMIN,),
    summary="Every look-up of a patient's record (as マイナポータル shows it)",
)
def patient_access_log(*, patient_id: int) -> list[AccessLogEntry]:
    entries = access_log.read_access_log(
        session=get_session(), user=current_user(), ctx=context(), patient_id=patient_id
    )
    return [AccessLogEntry(**e) for e in entries]


@endpoint(
    bp,
    "/card-auth/reviews",
    query=ReviewQuery,
    response=list[ReviewRead],
    roles=(Role.ADMIN,),
    summary="PIN-less record accesses awaiting (or past) review",
)
def list_reviews(*, query: ReviewQuery) -> list[ReviewRead]:
    rows = releases.list_reviews(
        session=get_session(), user=current_user(), ctx=context(), status=query.status
    )
    return [ReviewRead.model_validate(r) for r in rows]


@endpoint(
    bp,
    "/card-auth/reviews/<int:release_id>",
    method="POST",
    body=ReviewUpdate,
    response=ReviewRead,
    roles=(Role.ADMIN,),
    summary="Close the review of a PIN-less record access",
    errors=(409,),
)
def review_access(*, release_id: int, body: ReviewUpdate) -> ReviewRead:
    release = releases.review_release(
        session=get_session(),
        user=current_user(),
        ctx=context(),
        release_id=release_id,
        outcome=body.outcome,
        note=body.note,
    )
    return ReviewRead.model_validate(release)

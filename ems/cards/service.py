"""The card register: which certificate belongs to which patient's card, and which
device certificate to which unit's tablet.

Cards and tablets are issued by the mock issuer (``card_issuer``, a tool beside the
server), which registers each certificate here; revocations reach the server in the
CRLs it publishes, and the newest CRL read of each CA is recorded here (the
high-water mark, ``record_crl_mark``) so that no process goes back to an older one.
Identifying a patient by card is ``ems.cards.identification``; releasing their record
to a transport is ``ems.cards.releases``.
"""

from __future__ import annotations

from cryptography import x509
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ems.cards import pki
from ems.cards.models import Card, CrlHighWater, Device
from ems.db import upsert_insert, utcnow
from ems.errors import Conflict, NotFound
from ems.fleet.models import Unit
from ems.patients import service as patients


def register_card(
    *, session: Session, patient_id: int, serial: str, cert: x509.Certificate
) -> Card:
    """Link an issued card's certificate to its patient (the issuer calls this: the
    stand-in for the online qualification system's register of certificates)."""
    patients.require_patient(session=session, patient_id=patient_id)
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


# --- the CRL high-water marks ----------------------------------------------------------

_RAISED_MARKS = "crl_marks_raised"  # key in Session.info


def record_crl_mark(*, session: Session, mark: pki.CrlMark) -> pki.CrlMark:
    """Raise the CA's high-water mark to ``mark`` unless the mark on record is at
    least as new; returns the mark on record afterwards. Flushes, never commits.

    One statement, INSERT ... ON CONFLICT DO UPDATE ... WHERE the stored CRL is older:
    racing processes cannot lower the mark. On PostgreSQL the second of two writers
    waits for the first one's row lock and then checks the WHERE against the
    committed row (as ``ems.db.claim_row`` does); on SQLite writers take turns
    (BEGIN IMMEDIATE)."""
    ins = upsert_insert(session, CrlHighWater)
    values = {
        "ca_fingerprint": mark.ca_fingerprint,
        "ca": mark.ca,
        "crl_number": mark.number,
        "this_update": mark.this_update,
        "crl_sha256": mark.sha256,
        "recorded_at": utcnow(),
    }
    stored, new = CrlHighWater, ins.excluded
    stmt = ins.values(values).on_conflict_do_update(
        index_elements=[CrlHighWater.ca_fingerprint],
        set_={k: new[k] for k in values if k != "ca_fingerprint"},
        where=or_(
            stored.crl_number < new.crl_number,
            (stored.crl_number == new.crl_number) & (stored.this_update < new.this_update),
        ),
    )
    session.execute(stmt)
    # populate_existing: a row already in the session would not show the statement's change.
    row = session.scalars(
        select(CrlHighWater)
        .where(CrlHighWater.ca_fingerprint == mark.ca_fingerprint)
        .execution_options(populate_existing=True)
    ).one()
    recorded = pki.CrlMark(
        ca=row.ca,
        ca_fingerprint=row.ca_fingerprint,
        number=row.crl_number,
        this_update=row.this_update,
        sha256=row.crl_sha256,
    )
    if recorded.order == mark.order:
        session.info.setdefault(_RAISED_MARKS, []).append(mark)
    return recorded


class SessionCrlMarks:
    """``pki.CrlMarks`` in the caller's transaction (``record_crl_mark``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def raise_mark(self, mark: pki.CrlMark) -> pki.CrlMark:
        return record_crl_mark(session=self.session, mark=mark)


def raised_crl_marks(session: Session) -> bool:
    """Whether ``session`` raised a CRL high-water mark (kept for ``keep_crl_marks``)."""
    return bool(session.info.get(_RAISED_MARKS))


def keep_crl_marks(*, rolled_back: Session, session: Session) -> None:
    """Record again, in ``session``, the marks ``rolled_back`` raised before it was
    rolled back. A process reads a new CRL once and then answers from memory, so a
    mark lost with a refused request (a revoked card is refused by the very CRL that
    raised it) would otherwise stay unrecorded until the next CRL."""
    for mark in rolled_back.info.pop(_RAISED_MARKS, []):
        record_crl_mark(session=session, mark=mark)

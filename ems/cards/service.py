"""The card register: which certificate belongs to which patient's card, and which
device certificate to which unit's tablet.

Cards and tablets are issued by the mock issuer (``card_issuer``, a tool beside the
server), which registers each certificate here; revocations reach the server in the
CRLs it publishes. Identifying a patient by card is ``ems.cards.identification``;
releasing their record to a transport is ``ems.cards.releases``.
"""

from __future__ import annotations

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.cards import pki
from ems.cards.models import Card, Device
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

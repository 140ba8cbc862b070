"""The issuer's use cases: a card for a patient, a certificate for a tablet, and their
revocation. Each is whole: the key pair, the certificate, the CA's register, and the
registration with the server's patient register through ``ems.cards.service``.

Revocation is the CA's alone: it marks the register and signs a new CRL, and the
server learns of it from that CRL once it is published into PKI_DIR (``publish_to``
does it in the same step when the issuer can write there). The server's database is
not written on revocation, so a revocation needs nothing but the issuer's own files.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from card_issuer.ca import Issuer
from card_issuer.errors import IssuerError
from card_issuer.tokens import CardStore
from ems.cards import service as register
from ems.cards.models import Card, Device
from ems.cards.pki import CARD_CA, DEVICE_CA
from ems.patients.models import Patient


def new_card_serial() -> str:
    return "MN" + "".join(secrets.choice("0123456789") for _ in range(10))


def issue_card(
    *,
    session: Session,
    issuer: Issuer,
    store: CardStore,
    patient_id: int,
    pin: str,
    serial: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
) -> Card:
    """A new card for a patient: token and on-token key pair, certificate, registration.

    The validity and key-usage overrides exist to manufacture bad cards for tests."""
    if session.get(Patient, patient_id) is None:
        raise IssuerError(f"patient {patient_id} does not exist", code="patient_not_found")
    serial = serial or new_card_serial()
    public_key = store.create_card(serial, pin=pin)
    cert = issuer.issue_leaf(
        ca=CARD_CA,
        public_key=public_key,
        common_name=serial,
        not_before=not_before,
        not_after=not_after,
        key_usage=key_usage,
    )
    store.store_certificate(serial, pin=pin, cert=cert, ca_cert=issuer.ca_cert(CARD_CA))
    return register.register_card(session=session, patient_id=patient_id, serial=serial, cert=cert)


def issue_device(
    *, session: Session, issuer: Issuer, unit_id: int, name: str, out_dir: str | Path
) -> Device:
    """A tablet's device key and certificate, written to ``out_dir`` (key 0600): the
    tablet's own key, for its PIN-less attestations; the server gets the certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issuer.issue_leaf(ca=DEVICE_CA, public_key=key.public_key(), common_name=name)
    device = register.register_device(session=session, name=name, unit_id=unit_id, cert=cert)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / "device.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    (out / "device.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return device


def revoke_card(*, issuer: Issuer, serial: str, publish_to: str | Path | None = None) -> None:
    """Revoke a card's certificate: a new CRL, published to ``publish_to`` if given."""
    try:
        revoked = issuer.revoke(ca=CARD_CA, name=serial)
    except IssuerError as err:
        if err.code == "not_issued":
            raise IssuerError(f"card {serial} was not issued here", code="card_not_found") from None
        raise
    if not revoked:
        raise IssuerError(f"card {serial} is already revoked", code="card_revoked")
    if publish_to is not None:
        issuer.publish(publish_to)


def revoke_device(*, issuer: Issuer, name: str, publish_to: str | Path | None = None) -> None:
    """Revoke a tablet's certificate (again is fine): a new CRL, published if asked."""
    try:
        issuer.revoke(ca=DEVICE_CA, name=name)
    except IssuerError as err:
        if err.code == "not_issued":
            raise IssuerError(
                f"no tablet {name} was issued here", code="device_not_found"
            ) from None
        raise
    if publish_to is not None:
        issuer.publish(publish_to)

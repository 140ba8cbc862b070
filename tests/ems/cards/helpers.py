"""Builders for card tests: a PKI and SoftHSM2 cards made once per test session,
and per-test database rows (patient, card registration, transport, crew)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask

from ambulance_client.card import CardReader
from ems.cards import pki, service
from ems.cards.demo import demo_bundles
from ems.cards.records import RecordCipher
from ems.cards.tokens import CardStore
from ems.db import get_db
from tests import factories

PIN = "1234"


@dataclass
class IssuedCard:
    serial: str
    cert: x509.Certificate
    store: CardStore

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.der).decode()

    def reader(self) -> CardReader:
        return self.store.reader(self.serial)


def make_token_card(pki_dir: Path, store: CardStore, serial: str, pin: str = PIN) -> IssuedCard:
    """A real SoftHSM2 card: on-token key, certificate from the card CA (no database)."""
    public_key = store.create_card(serial, pin=pin)
    cert = pki.issue_leaf(pki_dir, ca=pki.CARD_CA, public_key=public_key, common_name=serial)
    ca = pki.load_cert_file(pki.cert_path(pki_dir, pki.CARD_CA))
    store.store_certificate(serial, pin=pin, cert=cert, ca_cert=ca)
    return IssuedCard(serial=serial, cert=cert, store=store)


@dataclass
class SoftCard:
    """A card whose key lives in memory: to manufacture bad certificates quickly."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def b64(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def soft_card(pki_dir: Path, serial: str, **kw: Any) -> SoftCard:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = pki.issue_leaf(
        pki_dir, ca=pki.CARD_CA, public_key=key.public_key(), common_name=serial, **kw
    )
    return SoftCard(key=key, cert=cert)


def register_patient(app: Flask, cert: x509.Certificate, serial: str, index: int = 0) -> int:
    """A patient with a demo history and this card registered to them."""
    with app.app_context(), get_db(app).session_scope() as s:
        cipher = RecordCipher(app.config["RECORD_ENCRYPTION_KEY"])
        patient = service.create_patient(session=s, cipher=cipher, bundle=demo_bundles()[index])
        service.register_card(session=s, patient_id=patient.id, serial=serial, cert=cert)
        return patient.id


def make_transport(app: Flask, unit_id: int) -> int:
    return factories.make_transport(app, unit_id=unit_id, call_age=dt.timedelta(minutes=10))

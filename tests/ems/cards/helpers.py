"""Builders for card tests: cards made by the mock issuer (``card_issuer``, the tool
the tests use to mint them: the server under test holds no key) once per test
session, and per-test database rows (patient, card registration, transport, crew)."""

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
from card_issuer.ca import Issuer
from card_issuer.tokens import CardStore
from ems.cards import service
from ems.cards.demo import demo_bundles
from ems.cards.pki import CARD_CA
from ems.db import get_db
from ems.patients import service as patients
from ems.patients.records import RecordCipher
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


def make_token_card(issuer: Issuer, store: CardStore, serial: str, pin: str = PIN) -> IssuedCard:
    """A real SoftHSM2 card: on-token key, certificate from the card CA (no database)."""
    public_key = store.create_card(serial, pin=pin)
    cert = issuer.issue_leaf(ca=CARD_CA, public_key=public_key, common_name=serial)
    store.store_certificate(serial, pin=pin, cert=cert, ca_cert=issuer.ca_cert(CARD_CA))
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


def soft_card(issuer: Issuer, serial: str, **kw: Any) -> SoftCard:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issuer.issue_leaf(ca=CARD_CA, public_key=key.public_key(), common_name=serial, **kw)
    return SoftCard(key=key, cert=cert)


def new_issuer(directory: Path, *, publish_to: Path | None = None) -> Issuer:
    """A fresh mock issuer with its CAs, its public part published to ``publish_to``."""
    issuer = Issuer(directory)
    issuer.init()
    if publish_to is not None:
        issuer.publish(publish_to)
    return issuer


def private_key_files(directory: Path) -> list[Path]:
    """Files under ``directory`` that hold a private key, of any kind."""
    return [p for p in directory.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]


def register_patient(app: Flask, cert: x509.Certificate, serial: str, index: int = 0) -> int:
    """A patient with a demo history and this card registered to them."""
    with app.app_context(), get_db(app).session_scope() as s:
        cipher = RecordCipher(app.config["RECORD_ENCRYPTION_KEY"])
        patient = patients.create_patient(session=s, cipher=cipher, bundle=demo_bundles()[index])
        service.register_card(session=s, patient_id=patient.id, serial=serial, cert=cert)
        return patient.id


def make_transport(app: Flask, unit_id: int) -> int:
    return factories.make_transport(app, unit_id=unit_id, call_age=dt.timedelta(minutes=10))

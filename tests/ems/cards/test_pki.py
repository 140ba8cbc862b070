"""The mock JPKI: what the server accepts as a card certificate, and why it refuses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ems.cards import pki
from tests.ems.cards.helpers import soft_card

NOW = dt.datetime.now(dt.UTC)


def _code(anchors: pki.TrustAnchors, cert: x509.Certificate, ca: str = pki.CARD_CA) -> str:
    with pytest.raises(pki.CardAuthRefused) as err:
        anchors.verify(cert, ca=ca)
    return err.value.code


def test_an_issued_card_certificate_names_no_one_and_verifies(card_pki: Path) -> None:
    card = soft_card(card_pki, "MNPKI0001")
    cert = card.cert
    assert cert.subject.rfc4514_string() == "CN=MNPKI0001"
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 365 * 4
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment
    assert pki.trust_anchors(card_pki).verify(cert, ca=pki.CARD_CA) is cert


def test_init_ca_keeps_existing_authorities(card_pki: Path) -> None:
    before = pki.cert_path(card_pki, pki.ROOT).read_bytes()
    assert pki.init_ca(card_pki) is False
    assert pki.cert_path(card_pki, pki.ROOT).read_bytes() == before


def test_each_bad_certificate_gets_its_own_code(card_pki: Path, tmp_path: Path) -> None:
    anchors = pki.trust_anchors(card_pki)
    expired = soft_card(
        card_pki,
        "MNOLD",
        not_before=NOW - dt.timedelta(days=800),
        not_after=NOW - dt.timedelta(days=1),
    )
    future = soft_card(card_pki, "MNNEW", not_before=NOW + dt.timedelta(days=2))
    wrong_ku = soft_card(
        card_pki,
        "MNKU",
        key_usage=x509.KeyUsage(False, False, True, False, False, False, False, False, False),
    )
    pki.init_ca(tmp_path / "other")
    foreign = soft_card(tmp_path / "other", "MNFOREIGN")
    assert _code(anchors, expired.cert) == "certificate_expired"
    assert _code(anchors, future.cert) == "certificate_not_yet_valid"
    assert _code(anchors, wrong_ku.cert) == "wrong_key_usage"
    assert _code(anchors, foreign.cert) == "untrusted_certificate"


def test_a_device_certificate_is_not_a_card_and_vice_versa(card_pki: Path) -> None:
    anchors = pki.trust_anchors(card_pki)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    device = pki.issue_leaf(
        card_pki, ca=pki.DEVICE_CA, public_key=key.public_key(), common_name="t"
    )
    assert _code(anchors, device, pki.CARD_CA) == "untrusted_certificate"
    card = soft_card(card_pki, "MNX")
    assert _code(anchors, card.cert, pki.DEVICE_CA) == "untrusted_device"


def test_revocation_reaches_the_server_through_the_refreshed_crl(tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    anchors = pki.trust_anchors(tmp_path)
    card = soft_card(tmp_path, "MNREV")
    anchors.verify(card.cert, ca=pki.CARD_CA)
    pki.revoke(tmp_path, ca=pki.CARD_CA, serial_number=card.cert.serial_number)
    assert _code(anchors, card.cert) == "certificate_revoked"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("%%%not base64%%%", "malformed_base64"),
        ("aGVsbG8gd29ybGQ=", "malformed_der"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "malformed_pem"),
        ("A" * 40_000, "payload_too_large"),
    ],
)
def test_malformed_certificates_are_named(value: str, code: str) -> None:
    with pytest.raises(pki.CardAuthRefused) as err:
        pki.parse_certificate(value)
    assert err.value.code == code

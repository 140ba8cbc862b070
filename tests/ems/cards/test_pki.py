"""The server's trust anchors: what it accepts as a card certificate, why it refuses,
and how revocation reaches it (only through the CRLs the issuer publishes)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from card_issuer.ca import CRL_VALID_DAYS, Issuer
from ems.cards import pki
from tests.ems.cards.helpers import new_issuer, private_key_files, soft_card

NOW = dt.datetime.now(dt.UTC)


def _code(anchors: pki.TrustAnchors, cert: x509.Certificate, ca: str = pki.CARD_CA) -> str:
    with pytest.raises(pki.CardAuthRefused) as err:
        anchors.verify(cert, ca=ca)
    return err.value.code


def test_the_servers_pki_dir_holds_certificates_and_crls_only(
    issuer: Issuer, card_pki: Path
) -> None:
    assert sorted(p.name for p in card_pki.iterdir()) == sorted(
        p.name for p in pki.published_files(card_pki)
    )
    assert private_key_files(card_pki) == []
    assert private_key_files(issuer.directory)  # the keys are the issuer's


def test_an_issued_card_certificate_names_no_one_and_verifies(
    issuer: Issuer, card_pki: Path
) -> None:
    card = soft_card(issuer, "MNPKI0001")
    cert = card.cert
    assert cert.subject.rfc4514_string() == "CN=MNPKI0001"
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 365 * 4
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment
    assert pki.trust_anchors(card_pki).verify(cert, ca=pki.CARD_CA) is cert


def test_each_bad_certificate_gets_its_own_code(
    issuer: Issuer, card_pki: Path, tmp_path: Path
) -> None:
    anchors = pki.trust_anchors(card_pki)
    expired = soft_card(
        issuer,
        "MNOLD",
        not_before=NOW - dt.timedelta(days=800),
        not_after=NOW - dt.timedelta(days=1),
    )
    future = soft_card(issuer, "MNNEW", not_before=NOW + dt.timedelta(days=2))
    wrong_ku = soft_card(
        issuer,
        "MNKU",
        key_usage=x509.KeyUsage(False, False, True, False, False, False, False, False, False),
    )
    foreign = soft_card(new_issuer(tmp_path / "other"), "MNFOREIGN")
    assert _code(anchors, expired.cert) == "certificate_expired"
    assert _code(anchors, future.cert) == "certificate_not_yet_valid"
    assert _code(anchors, wrong_ku.cert) == "wrong_key_usage"
    assert _code(anchors, foreign.cert) == "untrusted_certificate"


def test_a_device_certificate_is_not_a_card_and_vice_versa(issuer: Issuer, card_pki: Path) -> None:
    anchors = pki.trust_anchors(card_pki)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    device = issuer.issue_leaf(ca=pki.DEVICE_CA, public_key=key.public_key(), common_name="t")
    assert _code(anchors, device, pki.CARD_CA) == "untrusted_certificate"
    card = soft_card(issuer, "MNX")
    assert _code(anchors, card.cert, pki.DEVICE_CA) == "untrusted_device"


def test_revocation_reaches_the_server_when_the_new_crl_is_published(tmp_path: Path) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    anchors = pki.trust_anchors(server)
    card = soft_card(issuer, "MNREV")
    anchors.verify(card.cert, ca=pki.CARD_CA)
    assert issuer.revoke(ca=pki.CARD_CA, name="MNREV") == [card.cert.serial_number]
    # Signed, but not yet handed over: the server cannot know.
    anchors.verify(card.cert, ca=pki.CARD_CA)
    issuer.publish(server)
    assert _code(anchors, card.cert) == "certificate_revoked"


def test_a_crl_past_its_next_update_refuses_every_card(tmp_path: Path) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    card = soft_card(issuer, "MNSTALE")
    issuer.write_crl(pki.CARD_CA, now=NOW - dt.timedelta(days=CRL_VALID_DAYS + 1))
    issuer.publish(server)
    anchors = pki.trust_anchors(server)
    assert _code(anchors, card.cert) == "revocation_unknown"
    # A fresh CRL from the issuer (`crl --publish-to`) and the card passes again.
    issuer.write_crl(pki.CARD_CA)
    issuer.publish(server)
    anchors.verify(card.cert, ca=pki.CARD_CA)


def test_a_crl_not_signed_by_the_card_ca_is_refused(tmp_path: Path) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    card = soft_card(issuer, "MNFAKECRL")
    other = new_issuer(tmp_path / "other")
    shutil.copy(other.crl_path(pki.CARD_CA), pki.crl_path(server, pki.CARD_CA))
    assert _code(pki.trust_anchors(server), card.cert) == "revocation_unknown"


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


def test_a_crl_is_trusted_past_its_next_update_only_for_the_configured_grace(
    tmp_path: Path,
) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    card = soft_card(issuer, "MNGRACE")
    crl = issuer.write_crl(pki.CARD_CA, now=NOW - dt.timedelta(days=CRL_VALID_DAYS))
    issuer.publish(server)
    anchors = pki.trust_anchors(server)
    assert crl.next_update_utc is not None
    past = crl.next_update_utc + dt.timedelta(minutes=10)
    with pytest.raises(pki.CardAuthRefused) as err:
        anchors.verify(card.cert, ca=pki.CARD_CA, now=past)
    assert err.value.code == "revocation_unknown"
    # An hour of grace covers ten minutes late, not two hours.
    anchors.verify(card.cert, ca=pki.CARD_CA, now=past, crl_grace_s=3600)
    with pytest.raises(pki.CardAuthRefused) as err:
        anchors.verify(
            card.cert, ca=pki.CARD_CA, now=past + dt.timedelta(hours=2), crl_grace_s=3600
        )
    assert err.value.code == "revocation_unknown"


def test_an_older_crl_never_replaces_a_newer_one(tmp_path: Path) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    card = soft_card(issuer, "MNROLLBACK")
    issuer.publish(server)
    anchors = pki.trust_anchors(server)
    anchors.verify(card.cert, ca=pki.CARD_CA)
    old_crl = pki.crl_path(server, pki.CARD_CA).read_bytes()
    issuer.revoke(ca=pki.CARD_CA, name="MNROLLBACK")
    issuer.publish(server)
    assert _code(anchors, card.cert) == "certificate_revoked"
    # Someone puts back the CRL from before the revocation (still within its validity).
    target = pki.crl_path(server, pki.CARD_CA)
    replacement = target.with_suffix(".tmp")
    replacement.write_bytes(old_crl)
    replacement.replace(target)
    assert _code(anchors, card.cert) == "certificate_revoked"
    assert pki.crl_order(anchors.crl(pki.CARD_CA)) > pki.crl_order(x509.load_pem_x509_crl(old_crl))

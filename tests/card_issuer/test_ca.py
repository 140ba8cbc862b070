"""The issuer's CAs: created once, their keys kept in the issuer's directory (the
root's may go offline after ``init``), a register of every certificate, revocation
into signed CRLs, and a hand-over to the server that never carries a key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from card_issuer.ca import Issuer
from card_issuer.errors import IssuerError
from ems.cards import pki
from tests.ems.cards.helpers import new_issuer, private_key_files, soft_card


def _key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


def test_init_creates_the_three_cas_once_with_private_files(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path / "issuer")
    assert issuer.init() is True
    root = issuer.cert_path(pki.ROOT).read_bytes()
    assert issuer.init() is False
    assert issuer.cert_path(pki.ROOT).read_bytes() == root
    assert issuer.directory.stat().st_mode & 0o777 == 0o700
    keys = sorted(p.name for p in private_key_files(issuer.directory))
    assert keys == ["card-ca.key", "device-ca.key", "root.key"]
    for name in keys:
        assert (issuer.directory / name).stat().st_mode & 0o777 == 0o600
    root_cert = issuer.ca_cert(pki.ROOT)
    for ca in (pki.CARD_CA, pki.DEVICE_CA):
        assert issuer.ca_cert(ca).issuer == root_cert.subject
        crl = x509.load_pem_x509_crl(issuer.crl_path(ca).read_bytes())
        assert list(crl) == []


def test_publish_hands_over_certificates_and_crls_only(tmp_path: Path) -> None:
    issuer = new_issuer(tmp_path / "issuer")
    server = tmp_path / "server-pki"
    changed = issuer.publish(server)
    assert sorted(p.name for p in changed) == sorted(p.name for p in pki.published_files(server))
    assert sorted(p.name for p in server.iterdir()) == sorted(p.name for p in changed)
    assert private_key_files(server) == []
    assert issuer.publish(server) == []  # unchanged files are left alone
    for wrong in (issuer.directory, issuer.directory.parent, issuer.directory / "pki"):
        with pytest.raises(IssuerError) as err:
            issuer.publish(wrong)
        assert err.value.code == "publish_into_issuer"


def test_the_root_key_can_stay_offline_after_init(tmp_path: Path) -> None:
    issuer = new_issuer(tmp_path / "issuer")
    offline = tmp_path / "offline-media"
    offline.mkdir()
    shutil.move(issuer.key_path(pki.ROOT), offline / "root.key")
    server = tmp_path / "server-pki"
    card = soft_card(issuer, "MNOFFLINE")
    issuer.revoke(ca=pki.CARD_CA, name="MNOFFLINE")
    issuer.write_crl(pki.DEVICE_CA)
    issuer.publish(server)
    with pytest.raises(pki.CardAuthRefused) as err:
        pki.trust_anchors(server).verify(card.cert, ca=pki.CARD_CA)
    assert err.value.code == "certificate_revoked"
    assert pki.trust_anchors(server).verify(soft_card(issuer, "MNOK").cert, ca=pki.CARD_CA)


def test_the_register_and_its_crl(tmp_path: Path) -> None:
    issuer = new_issuer(tmp_path / "issuer")
    first = issuer.issue_leaf(ca=pki.CARD_CA, public_key=_key(), common_name="MNA")
    again = issuer.issue_leaf(ca=pki.CARD_CA, public_key=_key(), common_name="MNA")
    other = issuer.issue_leaf(ca=pki.CARD_CA, public_key=_key(), common_name="MNB")
    device = issuer.issue_leaf(ca=pki.DEVICE_CA, public_key=_key(), common_name="MNA")
    register = issuer.issued(pki.CARD_CA)
    assert {e["name"] for e in register.values()} == {"MNA", "MNB"}
    assert register[pki.cert_serial_hex(other)]["fingerprint"] == pki.fingerprint(other)
    before = x509.load_pem_x509_crl(issuer.crl_path(pki.CARD_CA).read_bytes())

    revoked = issuer.revoke(ca=pki.CARD_CA, name="MNA")
    assert sorted(revoked) == sorted([first.serial_number, again.serial_number])
    crl = x509.load_pem_x509_crl(issuer.crl_path(pki.CARD_CA).read_bytes())
    assert {r.serial_number for r in crl} == set(revoked)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    old = before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > old
    assert issuer.revoke(ca=pki.CARD_CA, name="MNA") == []
    # Each CA keeps its own register: the tablet of the same name is untouched.
    device_crl = x509.load_pem_x509_crl(issuer.crl_path(pki.DEVICE_CA).read_bytes())
    assert device_crl.get_revoked_certificate_by_serial_number(device.serial_number) is None
    with pytest.raises(IssuerError) as err:
        issuer.revoke(ca=pki.CARD_CA, name="MNNEVER")
    assert err.value.code == "not_issued"


def test_nothing_is_issued_before_init(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path / "empty")
    with pytest.raises(IssuerError) as err:
        issuer.issue_leaf(ca=pki.CARD_CA, public_key=_key(), common_name="MNX")
    assert err.value.code == "issuer_not_initialised"
    with pytest.raises(IssuerError):
        issuer.publish(tmp_path / "pki")
    assert not (tmp_path / "pki").exists()

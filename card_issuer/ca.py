"""The mock JPKI's certificate authorities, kept by the issuer alone.

``Issuer`` owns one directory (``--issuer-dir``, default ``var/issuer``, mode 0700):

- ``root.pem`` / ``root.key``: the trust anchor (RSA-2048, 20 years); its key signs
  only the two issuing CAs, at ``init``, so it can go offline afterwards;
- ``card-ca.pem`` / ``.key``: issues the cards' user-authentication certificates;
- ``device-ca.pem`` / ``.key``: issues the ambulance tablets' device certificates;
- ``<ca>.index.json``: every certificate the CA signed, and its revocations;
- ``<ca>.crl.pem``: the CRLs it signs (valid ``CRL_VALID_DAYS``).

Private keys are written 0600. ``publish`` copies the public part (the three CA
certificates and the two CRLs, under the names ``ems.cards.pki`` reads) into the
server's PKI_DIR; nothing else ever leaves this directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from card_issuer.errors import IssuerError
from ems.cards import pki
from ems.cards.pki import CA_NAMES, CARD_CA, DEVICE_CA, ROOT

ISSUING_CAS = (CARD_CA, DEVICE_CA)
CARD_CERT_YEARS = 5  # JPKI user-authentication certificates live about five years
DEVICE_CERT_YEARS = 3
# The server refuses every card once its copy of a CRL is past its next update, so
# the issuer must publish a fresh one well within this (docs/cards.md: weekly).
CRL_VALID_DAYS = 30


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` in one step, so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EMS mock JPKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def default_key_usage() -> x509.KeyUsage:
    """A card's or a tablet's: signing only, as JPKI's authentication certificate."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


class Issuer:
    """The three CAs in one directory, their registers of issued certificates and CRLs."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()

    # --- files ---------------------------------------------------------------------

    def cert_path(self, name: str) -> Path:
        return pki.cert_path(self.directory, name)

    def key_path(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def crl_path(self, ca: str) -> Path:
        return pki.crl_path(self.directory, ca)

    def _index_path(self, ca: str) -> Path:
        return self.directory / f"{ca}.index.json"

    @property
    def so_pin_path(self) -> Path:
        """Where ``card_issuer.tokens.CardStore`` keeps the cards' SO PINs."""
        return self.directory / "so-pins.json"

    def exists(self) -> bool:
        return all(self.cert_path(n).exists() for n in CA_NAMES)

    def ca_cert(self, name: str) -> x509.Certificate:
        try:
            return pki.load_cert_file(self.cert_path(name))
        except FileNotFoundError:
            raise self._not_initialised() from None

    def _ca_key(self, name: str) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(
                self.key_path(name).read_bytes(), password=None
            )
        except FileNotFoundError:
            raise IssuerError(
                f"the {name} key is not in {self.directory}", code="ca_key_missing"
            ) from None
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def _not_initialised(self) -> IssuerError:
        return IssuerError(
            f"no CAs in {self.directory}; run `python -m card_issuer init-ca`",
            code="issuer_not_initialised",
        )

    def _require(self) -> None:
        if not self.exists():
            raise self._not_initialised()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer of the registers at a time, across processes."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_index(self, ca: str) -> dict[str, Any]:
        path = self._index_path(ca)
        index: dict[str, Any] = (
            json.loads(path.read_text()) if path.exists() else {"crl_number": 0, "issued": {}}
        )
        return index

    def _write_index(self, ca: str, index: dict[str, Any]) -> None:
        data = json.dumps(index, indent=1, sort_keys=True, ensure_ascii=False).encode()
        write_atomic(self._index_path(ca), data, mode=0o600)

    # --- the authorities -----------------------------------------------------------

    def init(self, *, now: dt.datetime | None = None) -> bool:
        """Create the root and both issuing CAs, with empty CRLs. False if they exist."""
        if self.exists():
            return False
        now = now or dt.datetime.now(dt.UTC)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        root_name = _name("EMS mock JPKI Root CA")
        root_key = self._new_ca(ROOT, subject=root_name, years=20, path_length=1, now=now)
        for name, cn in (
            (CARD_CA, "EMS mock JPKI User Authentication CA"),
            (DEVICE_CA, "EMS Ambulance Device CA"),
        ):
            self._new_ca(
                name,
                subject=_name(cn),
                issuer=(root_name, root_key),
                years=10,
                path_length=0,
                now=now,
            )
            self.write_crl(name, now=now)
        return True

    def _new_ca(
        self,
        name: str,
        *,
        subject: x509.Name,
        issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None = None,
        years: int,
        path_length: int,
        now: dt.datetime,
    ) -> rsa.RSAPrivateKey:
        """A new CA key and certificate on disk; without ``issuer`` the CA signs itself."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer_name, issuer_key = issuer or (subject, key)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
            .sign(issuer_key, hashes.SHA256())
        )
        _write_private(self.key_path(name), key)
        write_atomic(self.cert_path(name), cert.public_bytes(serialization.Encoding.PEM))
        return key

    def issue_leaf(
        self,
        *,
        ca: str,
        public_key: rsa.RSAPublicKey,
        common_name: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_usage: x509.KeyUsage | None = None,
    ) -> x509.Certificate:
        """A user-authentication (``ca=CARD_CA``) or device (``ca=DEVICE_CA``) certificate,
        entered in the CA's register.

        The subject carries only an identifier: like JPKI's, it names no person. The
        validity and key-usage overrides exist to manufacture bad cards for tests."""
        if ca not in ISSUING_CAS:
            raise IssuerError(f"{ca} issues no end-entity certificates", code="not_an_issuing_ca")
        ca_cert = self.ca_cert(ca)
        ca_key = self._ca_key(ca)
        now = dt.datetime.now(dt.UTC)
        years = CARD_CERT_YEARS if ca == CARD_CA else DEVICE_CERT_YEARS
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage or default_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        with self._locked():
            index = self._read_index(ca)
            index["issued"][pki.cert_serial_hex(cert)] = {
                "name": common_name,
                "fingerprint": pki.fingerprint(cert),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "issued_at": now.isoformat(),
                "revoked_at": None,
            }
            self._write_index(ca, index)
        return cert

    def issued(self, ca: str) -> dict[str, dict[str, Any]]:
        """The CA's register: certificate serial (hex) → name, fingerprint, revocation."""
        issued: dict[str, dict[str, Any]] = self._read_index(ca)["issued"]
        return issued

    # --- revocation ----------------------------------------------------------------

    def revoke(self, *, ca: str, name: str, at: dt.datetime | None = None) -> list[int]:
        """Revoke every unrevoked certificate the CA issued to ``name`` and sign a new
        CRL; returns the serial numbers newly revoked (none if all already were)."""
        self._require()
        at = at or dt.datetime.now(dt.UTC)
        with self._locked():
            index = self._read_index(ca)
            mine = {s: e for s, e in index["issued"].items() if e["name"] == name}
            if not mine:
                raise IssuerError(f"the {ca} issued nothing to {name}", code="not_issued")
            newly = [s for s, e in mine.items() if e["revoked_at"] is None]
            for serial in newly:
                index["issued"][serial]["revoked_at"] = at.isoformat()
            self._write_index(ca, index)
        if newly:
            self.write_crl(ca)
        return [int(s, 16) for s in newly]

    def write_crl(
        self, ca: str, *, now: dt.datetime | None = None
    ) -> x509.CertificateRevocationList:
        """Sign the CA's CRL afresh: every revoked certificate, valid ``CRL_VALID_DAYS``."""
        now = now or dt.datetime.now(dt.UTC)
        ca_cert = self.ca_cert(ca)
        ca_key = self._ca_key(ca)
        with self._locked():
            index = self._read_index(ca)
            index["crl_number"] = int(index.get("crl_number", 0)) + 1
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(ca_cert.subject)
                .last_update(now - dt.timedelta(minutes=1))
                .next_update(now + dt.timedelta(days=CRL_VALID_DAYS))
                .add_extension(x509.CRLNumber(index["crl_number"]), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                    critical=False,
                )
            )
            for serial_hex, entry in sorted(index["issued"].items()):
                if entry["revoked_at"] is None:
                    continue
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(serial_hex, 16))
                    .revocation_date(dt.datetime.fromisoformat(entry["revoked_at"]))
                    .build()
                )
            crl = builder.sign(ca_key, hashes.SHA256())
            write_atomic(self.crl_path(ca), crl.public_bytes(serialization.Encoding.PEM))
            self._write_index(ca, index)
        return crl

    # --- handing the server its trust anchors ----------------------------------------

    def publish(self, target: str | Path) -> list[Path]:
        """Copy the CA certificates and the CRLs into the server's PKI_DIR ``target``;
        returns the files that changed. Never a key: the list is fixed."""
        self._require()
        dest = Path(target).resolve()
        if (
            dest == self.directory
            or self.directory in dest.parents
            or dest in (self.directory.parents)
        ):
            raise IssuerError(
                f"{dest} and the issuer's directory must be apart: the server's PKI_DIR "
                "holds no key",
                code="publish_into_issuer",
            )
        dest.mkdir(parents=True, exist_ok=True)
        changed = []
        # The root goes last: the server's cache of trust anchors is keyed on it.
        names = sorted(pki.published_files(dest), key=lambda p: p.name == f"{ROOT}.pem")
        for out in names:
            data = (self.directory / out.name).read_bytes()
            if b"PRIVATE KEY" in data:  # the fixed list above makes this impossible
                raise IssuerError(f"{out.name} holds a private key", code="publish_refused")
            if out.exists() and out.read_bytes() == data:
                continue
            write_atomic(out, data)
            changed.append(out)
        return changed

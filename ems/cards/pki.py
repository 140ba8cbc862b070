"""The mock public key infrastructure of the My Number card (a stand-in for J-LIS's JPKI).

A root CA signs two issuing CAs: one for the cards' user-authentication
certificates, one for the ambulance tablets' device certificates. Everything
lives in ``Config.PKI_DIR`` as PEM files; private keys are written 0600.

``TrustAnchors`` is the server's side: it loads the public material, refreshes
the CRLs when their files change and verifies a presented certificate, giving
each failure its own stable error code. Path validation itself is done by
cryptography's X.509 verification API; the pre-checks only exist so that a
user learns *why* a certificate was refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ems.errors import EmsError

ROOT = "root"
CARD_CA = "card-ca"
DEVICE_CA = "device-ca"
CA_NAMES = (ROOT, CARD_CA, DEVICE_CA)
CARD_CERT_YEARS = 5  # JPKI user-authentication certificates live about five years
DEVICE_CERT_YEARS = 3
CRL_VALID_DAYS = 30
MAX_CERT_BYTES = 8 * 1024
MAX_SIGNATURE_BYTES = 1024


class CardAuthRefused(EmsError):
    """A card, certificate, challenge or attestation that grants no access.

    ``patient_id`` (when the card was recognised) goes to the audit log only,
    never into the response."""

    status = 403
    code = "card_auth_refused"
    title = "Card authentication refused"

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status: int | None = None,
        patient_id: int | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, status=status, extra=dict(extra or {}))
        self.patient_id = patient_id


def malformed(detail: str, code: str) -> CardAuthRefused:
    return CardAuthRefused(detail, code=code, status=400)


# --- parsing -------------------------------------------------------------------------


def decode_base64(value: str, *, what: str, limit: int) -> bytes:
    if len(value) > limit * 4 // 3 + 8:
        raise CardAuthRefused(f"the {what} is too large", code="payload_too_large", status=413)
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise malformed(f"the {what} is not valid base64", "malformed_base64") from None
    if not raw:
        raise malformed(f"the {what} is empty", "malformed_base64")
    return raw


def parse_certificate(value: str) -> x509.Certificate:
    """A certificate given as PEM text or as base64 of its DER encoding."""
    if len(value) > MAX_CERT_BYTES * 2:
        raise CardAuthRefused("the certificate is too large", code="payload_too_large", status=413)
    text = value.strip()
    if text.startswith("-----BEGIN"):
        try:
            return x509.load_pem_x509_certificate(text.encode())
        except ValueError:
            raise malformed("the certificate is not valid PEM", "malformed_pem") from None
    der = decode_base64(text, what="certificate", limit=MAX_CERT_BYTES)
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise malformed("the certificate is not valid DER", "malformed_der") from None


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def cert_serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


# --- files -----------------------------------------------------------------------------


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def cert_path(pki_dir: Path, name: str) -> Path:
    return pki_dir / f"{name}.pem"


def key_path(pki_dir: Path, name: str) -> Path:
    return pki_dir / f"{name}.key"


def crl_path(pki_dir: Path, ca: str) -> Path:
    return pki_dir / f"{ca}.crl.pem"


def load_cert_file(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key_file(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ca_exists(pki_dir: Path) -> bool:
    return all(cert_path(pki_dir, n).exists() for n in CA_NAMES)


# --- issuing ---------------------------------------------------------------------------


def _ski(key: rsa.RSAPublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key)


def _ca_cert(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    years: int,
    path_length: int | None,
    now: dt.datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EMS mock JPKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def init_ca(pki_dir: Path, *, now: dt.datetime | None = None) -> bool:
    """Create the root and both issuing CAs, with empty CRLs. False if they exist."""
    if ca_exists(pki_dir):
        return False
    now = now or dt.datetime.now(dt.UTC)
    pki_dir.mkdir(parents=True, exist_ok=True)
    root_name = _name("EMS mock JPKI Root CA")
    root_key = _write_ca(pki_dir, ROOT, subject=root_name, years=20, path_length=1, now=now)
    for name, cn in (
        (CARD_CA, "EMS mock JPKI User Authentication CA"),
        (DEVICE_CA, "EMS Ambulance Device CA"),
    ):
        _write_ca(
            pki_dir,
            name,
            subject=_name(cn),
            issuer=(root_name, root_key),
            years=10,
            path_length=0,
            now=now,
        )
        write_crl(pki_dir, name, now=now)
    return True


def _write_ca(
    pki_dir: Path,
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
    cert = _ca_cert(
        subject=subject,
        key=key,
        issuer=issuer_name,
        issuer_key=issuer_key,
        years=years,
        path_length=path_length,
        now=now,
    )
    _write_private(key_path(pki_dir, name), key)
    _write_atomic(cert_path(pki_dir, name), cert.public_bytes(serialization.Encoding.PEM))
    return key


def default_key_usage() -> x509.KeyUsage:
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


def issue_leaf(
    pki_dir: Path,
    *,
    ca: str,
    public_key: rsa.RSAPublicKey,
    common_name: str,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """A user-authentication (``ca=CARD_CA``) or device (``ca=DEVICE_CA``) certificate.

    The subject carries only an identifier: like JPKI's, it names no person."""
    ca_cert = load_cert_file(cert_path(pki_dir, ca))
    ca_key = load_key_file(key_path(pki_dir, ca))
    now = dt.datetime.now(dt.UTC)
    years = CARD_CERT_YEARS if ca == CARD_CA else DEVICE_CERT_YEARS
    not_before = not_before or now - dt.timedelta(minutes=5)
    not_after = not_after or now + dt.timedelta(days=365 * years)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage or default_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key(),
            ),
            critical=False,
        )
    )
    return builder.sign(ca_key, hashes.SHA256())


# --- revocation ------------------------------------------------------------------------


def _revoked_list_path(pki_dir: Path, ca: str) -> Path:
    return pki_dir / f"{ca}.revoked.json"


def revoke(pki_dir: Path, *, ca: str, serial_number: int, at: dt.datetime | None = None) -> None:
    """Add a certificate to the CA's revocation list and publish a new CRL."""
    path = _revoked_list_path(pki_dir, ca)
    revoked: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    revoked.setdefault(format(serial_number, "x"), (at or dt.datetime.now(dt.UTC)).isoformat())
    _write_atomic(path, json.dumps(revoked, indent=1, sort_keys=True).encode())
    write_crl(pki_dir, ca)


def write_crl(
    pki_dir: Path, ca: str, *, now: dt.datetime | None = None
) -> x509.CertificateRevocationList:
    now = now or dt.datetime.now(dt.UTC)
    ca_cert = load_cert_file(cert_path(pki_dir, ca))
    ca_key = load_key_file(key_path(pki_dir, ca))
    path = _revoked_list_path(pki_dir, ca)
    revoked: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=CRL_VALID_DAYS))
    )
    for serial_hex, at in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial_hex, 16))
            .revocation_date(dt.datetime.fromisoformat(at))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    _write_atomic(crl_path(pki_dir, ca), crl.public_bytes(serialization.Encoding.PEM))
    return crl


# --- verification ----------------------------------------------------------------------


# The Web PKI profile wants a subjectAltName on client certificates; JPKI's
# user-authentication certificate has none (it names no one), so it may be absent.
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
_EE_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
)


@dataclass
class _Crl:
    mtime_ns: int
    crl: x509.CertificateRevocationList


@dataclass
class TrustAnchors:
    """The public half of the PKI, as the server trusts it."""

    pki_dir: Path
    root: x509.Certificate
    card_ca: x509.Certificate
    device_ca: x509.Certificate
    _crls: dict[str, _Crl] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, pki_dir: Path) -> TrustAnchors:
        if not ca_exists(pki_dir):
            raise EmsError(
                "the card PKI is not set up; run `ems cards init-ca`",
                code="pki_not_configured",
                status=503,
            )
        return cls(
            pki_dir=pki_dir,
            root=load_cert_file(cert_path(pki_dir, ROOT)),
            card_ca=load_cert_file(cert_path(pki_dir, CARD_CA)),
            device_ca=load_cert_file(cert_path(pki_dir, DEVICE_CA)),
        )

    def crl(self, ca: str) -> x509.CertificateRevocationList:
        """The CA's current CRL, re-read whenever its file changed (the issuing side
        rewrites it atomically on every revocation)."""
        path = crl_path(self.pki_dir, ca)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise CardAuthRefused(
                "the revocation list is missing", code="revocation_unknown", status=503
            ) from None
        cached = self._crls.get(ca)
        if cached is not None and cached.mtime_ns == mtime:
            return cached.crl
        with self._lock:
            crl = x509.load_pem_x509_crl(path.read_bytes())
            issuer = self.card_ca if ca == CARD_CA else self.device_ca
            pub = issuer.public_key()
            assert isinstance(pub, rsa.RSAPublicKey)
            if not crl.is_signature_valid(pub):
                raise CardAuthRefused(
                    "the revocation list's signature is invalid",
                    code="revocation_unknown",
                    status=503,
                )
            self._crls[ca] = _Crl(mtime_ns=mtime, crl=crl)
            return crl

    def verify(
        self, cert: x509.Certificate, *, ca: str, now: dt.datetime | None = None
    ) -> x509.Certificate:
        """Check issuer, validity, key usage, the chain to the root and revocation."""
        now = now or dt.datetime.now(dt.UTC)
        issuer = self.card_ca if ca == CARD_CA else self.device_ca
        what = "card certificate" if ca == CARD_CA else "device certificate"
        untrusted = "untrusted_certificate" if ca == CARD_CA else "untrusted_device"
        # A name check is enough here: the verifier below checks the signatures.
        if cert.issuer != issuer.subject:
            raise CardAuthRefused(f"the {what} was not issued by the trusted CA", code=untrusted)
        if now < cert.not_valid_before_utc:
            raise CardAuthRefused(f"the {what} is not valid yet", code="certificate_not_yet_valid")
        if now > cert.not_valid_after_utc:
            raise CardAuthRefused(f"the {what} has expired", code="certificate_expired")
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            ku = None
        if ku is None or not ku.digital_signature or ku.key_cert_sign or ku.crl_sign:
            raise CardAuthRefused(
                f"the {what}'s key usage does not allow authentication", code="wrong_key_usage"
            )
        pub = cert.public_key()
        if not isinstance(pub, rsa.RSAPublicKey) or pub.key_size < 2048:
            raise CardAuthRefused(f"the {what} does not hold an RSA-2048 key", code=untrusted)
        verifier = (
            PolicyBuilder()
            .store(Store([self.root]))
            .time(now)
            .max_chain_depth(2)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            verifier.verify(cert, [issuer])
        except VerificationError:
            raise CardAuthRefused(
                f"the {what} does not chain to the trusted root", code=untrusted
            ) from None
        if self.crl(ca).get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise CardAuthRefused(f"the {what} has been revoked", code="certificate_revoked")
        return cert


def verify_signature(cert: x509.Certificate, *, data: bytes, signature: bytes, code: str) -> None:
    """RSA PKCS#1 v1.5 with SHA-256: what the JPKI card computes (CKM_SHA256_RSA_PKCS)."""
    pub = cert.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    try:
        pub.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise CardAuthRefused("the signature does not verify", code=code) from None


_ANCHORS: dict[str, TrustAnchors] = {}
_ANCHORS_LOCK = threading.Lock()


def trust_anchors(pki_dir: str | Path) -> TrustAnchors:
    """One cached ``TrustAnchors`` per PKI directory (CRLs refresh themselves)."""
    path = Path(pki_dir).resolve()
    try:
        # Re-created CAs (a new root in the same directory) must not stay trusted from memory.
        key = f"{path}:{cert_path(path, ROOT).stat().st_mtime_ns}"
    except FileNotFoundError:
        key = str(path)
    anchors = _ANCHORS.get(key)
    if anchors is not None:
        return anchors
    with _ANCHORS_LOCK:
        anchors = TrustAnchors.load(path)
        _ANCHORS[key] = anchors
        return anchors


def forget_trust_anchors() -> None:
    _ANCHORS.clear()

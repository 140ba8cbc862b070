"""The server's side of the mock My Number card PKI (a stand-in for J-LIS's JPKI):
verifying what a card or a tablet presents.

A root CA signs two issuing CAs: one for the cards' user-authentication
certificates, one for the ambulance tablets' device certificates. They are run by
the mock issuer (``card_issuer``, a separate tool), which keeps every private key;
``Config.PKI_DIR`` holds only what it publishes: the three CA certificates and the
two CRLs. Nothing here reads or writes a key.

``TrustAnchors`` loads that public material, refreshes the CRLs when their files
change (refusing once one is past its next update plus ``CRL_GRACE_S``, and never
going back to an older CRL than one it has read, nor than one any process has read:
``CrlMarks``, kept in the database by ``ems.cards.service``) and verifies a presented
certificate, giving each failure its own stable error code. Path validation itself
is done by cryptography's X.509 verification API; the pre-checks only exist so that
a user learns *why* a certificate was refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ems.errors import EmsError

log = logging.getLogger("ems.cards")

ROOT = "root"
CARD_CA = "card-ca"
DEVICE_CA = "device-ca"
CA_NAMES = (ROOT, CARD_CA, DEVICE_CA)
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


# --- the published trust anchors -----------------------------------------------------
# The issuer (``python -m card_issuer``) keeps the keys; it copies into PKI_DIR only
# these certificates and the CRLs it signs. The server opens nothing else there.


def cert_path(pki_dir: Path, name: str) -> Path:
    return pki_dir / f"{name}.pem"


def crl_path(pki_dir: Path, ca: str) -> Path:
    return pki_dir / f"{ca}.crl.pem"


def published_files(pki_dir: Path) -> list[Path]:
    """Everything the server reads from PKI_DIR: the CA certificates and the CRLs."""
    return [cert_path(pki_dir, n) for n in CA_NAMES] + [
        crl_path(pki_dir, ca) for ca in (CARD_CA, DEVICE_CA)
    ]


def load_cert_file(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def ca_exists(pki_dir: Path) -> bool:
    return all(cert_path(pki_dir, n).exists() for n in CA_NAMES)


# --- verification ----------------------------------------------------------------------


# The Web PKI profile wants a subjectAltName on client certificates; JPKI's
# user-authentication certificate has none (it names no one), so it may be absent.
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
_EE_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
)


def crl_order(crl: x509.CertificateRevocationList) -> tuple[int, dt.datetime]:
    """What makes one CRL of a CA newer than another: its CRL number (RFC 5280 says it
    only grows), then its this_update."""
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = -1
    return number, crl.last_update_utc


# The database keeps CRL numbers as signed 64-bit integers; RFC 5280 allows up to 20
# octets, but an issuer counting one per CRL never gets near this.
MAX_CRL_NUMBER = 2**63 - 1


@dataclass(frozen=True)
class CrlMark:
    """A CA's CRL as the high-water mark records it: which CA (by its certificate's
    fingerprint), the CRL's order (``crl_order``) and its digest."""

    ca: str
    ca_fingerprint: str
    number: int
    this_update: dt.datetime
    sha256: str

    @property
    def order(self) -> tuple[int, dt.datetime]:
        return self.number, self.this_update


class CrlMarks(Protocol):
    """Where the newest CRL of each CA seen by any server process is recorded."""

    def raise_mark(self, mark: CrlMark) -> CrlMark:
        """Record ``mark`` unless one at least as new is on record (the mark never
        goes down); return the mark on record afterwards."""
        ...


@dataclass
class _Crl:
    stamp: tuple[int, int, int]
    crl: x509.CertificateRevocationList
    # The file at ``stamp`` is older than the recorded high-water mark: refused until
    # the file changes (the mark never goes down, so asking again would not help).
    superseded: bool = False


def _file_stamp(path: Path) -> tuple[int, int, int]:
    """What tells a republished file from the last one read: the issuer replaces it
    with a new file (new inode), and mtime alone can repeat within a clock tick."""
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


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
                "the card PKI is not set up: the issuer publishes its certificates and CRLs "
                "here (`python -m card_issuer init-ca --publish-to PKI_DIR`)",
                code="pki_not_configured",
                status=503,
            )
        return cls(
            pki_dir=pki_dir,
            root=load_cert_file(cert_path(pki_dir, ROOT)),
            card_ca=load_cert_file(cert_path(pki_dir, CARD_CA)),
            device_ca=load_cert_file(cert_path(pki_dir, DEVICE_CA)),
        )

    def issuer(self, ca: str) -> x509.Certificate:
        """The certificate of the CA named ``ca`` (``CARD_CA`` or ``DEVICE_CA``)."""
        return self.card_ca if ca == CARD_CA else self.device_ca

    def crl(
        self,
        ca: str,
        *,
        now: dt.datetime | None = None,
        grace_s: float = 0,
        marks: CrlMarks | None = None,
    ) -> x509.CertificateRevocationList:
        """The CA's current CRL, re-read whenever its file changed (the issuer publishes
        it atomically after every revocation). One past its next update (plus
        ``grace_s``, ``CRL_GRACE_S``) is refused: a revocation the server has not heard
        of must not pass as "not revoked". A file older than the CRL already read (a
        lower CRL number, or an earlier this_update) never replaces it: that would
        bring revoked cards back.

        ``marks`` carries that guard across processes and restarts (the server always
        passes the database's; tools without a database pass none): when the file
        changed, its CRL raises the CA's high-water mark, and a file older than the
        mark is refused with ``revocation_unknown``. An unchanged file is answered
        from memory, without asking ``marks``."""
        path = crl_path(self.pki_dir, ca)
        try:
            stamp = _file_stamp(path)
        except FileNotFoundError:
            raise CardAuthRefused(
                "the revocation list is missing", code="revocation_unknown", status=503
            ) from None
        cached = self._crls.get(ca)
        if cached is None or cached.stamp != stamp:
            with self._lock:
                cached = self._crls.get(ca)
                if cached is None or cached.stamp != stamp:
                    cached = self._newer(
                        ca, cached, _Crl(stamp=stamp, crl=self._load_crl(path, ca))
                    )
                    if marks is not None:
                        cached = self._against_mark(ca, cached, marks)
                    self._crls[ca] = cached
        if cached.superseded:
            raise CardAuthRefused(
                "the published revocation list is older than one already seen; the issuer "
                "must publish its current one",
                code="revocation_unknown",
                status=503,
            )
        next_update = cached.crl.next_update_utc
        now = now or dt.datetime.now(dt.UTC)
        if next_update is None or now > next_update + dt.timedelta(seconds=max(0.0, grace_s)):
            raise CardAuthRefused(
                "the revocation list is out of date; the issuer must publish a fresh one",
                code="revocation_unknown",
                status=503,
            )
        return cached.crl

    @staticmethod
    def _newer(ca: str, cached: _Crl | None, fresh: _Crl) -> _Crl:
        """``fresh`` unless it is older than ``cached`` (then ``cached``, stamped with
        the file's stamp so that the file is not parsed again until it changes)."""
        if cached is None or crl_order(fresh.crl) >= crl_order(cached.crl):
            return fresh
        log.warning(
            "older revocation list ignored",
            extra={
                "ca": ca,
                "crl_number": crl_order(fresh.crl)[0],
                "kept_crl_number": crl_order(cached.crl)[0],
            },
        )
        return _Crl(stamp=fresh.stamp, crl=cached.crl)

    def _against_mark(self, ca: str, current: _Crl, marks: CrlMarks) -> _Crl:
        """``current``, having raised the CA's high-water mark to it, or flagged as
        superseded when a newer CRL is on record (read by another process, or by
        this one before a restart)."""
        mark = self.mark_of(ca, current.crl)
        recorded = marks.raise_mark(mark)
        if recorded.order <= mark.order:
            return current
        log.warning(
            "revocation list older than the newest one seen refused",
            extra={
                "ca": ca,
                "crl_number": mark.number,
                "this_update": mark.this_update.isoformat(),
                "seen_crl_number": recorded.number,
                "seen_this_update": recorded.this_update.isoformat(),
            },
        )
        return _Crl(stamp=current.stamp, crl=current.crl, superseded=True)

    def mark_of(self, ca: str, crl: x509.CertificateRevocationList) -> CrlMark:
        """The high-water mark ``crl`` stands for."""
        number, this_update = crl_order(crl)
        if number > MAX_CRL_NUMBER:
            raise CardAuthRefused(
                "the revocation list's number is too large to record",
                code="revocation_unknown",
                status=503,
            )
        issuer = self.issuer(ca)
        return CrlMark(
            ca=ca,
            ca_fingerprint=fingerprint(issuer),
            number=number,
            this_update=this_update,
            sha256=hashlib.sha256(crl.public_bytes(serialization.Encoding.DER)).hexdigest(),
        )

    def _load_crl(self, path: Path, ca: str) -> x509.CertificateRevocationList:
        try:
            crl = x509.load_pem_x509_crl(path.read_bytes())
        except ValueError:
            crl = None
        issuer = self.issuer(ca)
        pub = issuer.public_key()
        assert isinstance(pub, rsa.RSAPublicKey)
        if crl is None or crl.issuer != issuer.subject or not crl.is_signature_valid(pub):
            raise CardAuthRefused(
                "the revocation list is unreadable or its signature is invalid",
                code="revocation_unknown",
                status=503,
            )
        return crl

    def verify(
        self,
        cert: x509.Certificate,
        *,
        ca: str,
        now: dt.datetime | None = None,
        crl_grace_s: float = 0,
        crl_marks: CrlMarks | None = None,
    ) -> x509.Certificate:
        """Check issuer, validity, key usage, the chain to the root and revocation
        (against the CRL ``crl`` gives, with ``crl_marks`` as its ``marks``)."""
        now = now or dt.datetime.now(dt.UTC)
        issuer = self.issuer(ca)
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
        crl = self.crl(ca, now=now, grace_s=crl_grace_s, marks=crl_marks)
        revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if revoked is not None:
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
        key = f"{path}:{_file_stamp(cert_path(path, ROOT))}"
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

"""The tablet's card reader and the card-authentication exchange with the server.

The reader speaks PKCS#11 only, so the same code drives the mock card (a SoftHSM2
token) and a real My Number card through OpenSC's ``opensc-pkcs11.so`` (JPKI
driver): only the module path changes. It reads the user-authentication
certificate without PIN and signs the server's challenge after the 4-digit PIN
(RSA PKCS#1 v1.5 with SHA-256, ``CKM_SHA256_RSA_PKCS``).

A real card locks itself after 3 wrong PINs. SoftHSM2 does not, so for software
tokens this layer keeps the wrong-PIN counter on the token itself, as a public
data object, and refuses to try a PIN once it reaches 3; only the issuance
tooling resets it (``ems cards unlock``).

Nothing of the record is written to disk: the summary the server returns stays in
memory for as long as the caller holds it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag

from ambulance_client.upstream import tls_context

# Object labels as OpenSC's JPKI emulation names them (the mock cards use the same),
# and the PIN rules: shared with the mock issuer through the contracts.
from ems_contracts.card import (
    AUTH_CERT_LABEL,
    AUTH_KEY_LABEL,
    MAX_PIN_TRIES,
    PIN_COUNTER_LABEL,
    PIN_PATTERN,
)
from ems_contracts.codes import ErrorCode as E

SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


class CardError(Exception):
    """A card problem the paramedic must see: ``code`` is one of the registry's (the
    status the page gets for it is ``card_port.ERROR_STATUS``), ``tries_left`` is set
    for a wrong PIN."""

    def __init__(self, message: str, *, code: E, tries_left: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.tries_left = tries_left


# --- loading the PKCS#11 module ------------------------------------------------------

_MODULE_LOCK = threading.RLock()
_LOADED_CONF: dict[str, str | None] = {}


def open_module(path: str, *, softhsm_conf: str | Path | None = None, rescan: bool = False) -> Any:
    """The PKCS#11 module at ``path``, initialised for ``softhsm_conf``.

    SoftHSM2 reads ``SOFTHSM2_CONF`` (and so its token directory) when it is
    initialised, and sees tokens created by another process only then; a change of
    configuration or ``rescan`` re-initialises the module."""
    with _MODULE_LOCK:
        if softhsm_conf is not None:
            os.environ["SOFTHSM2_CONF"] = str(softhsm_conf)
        try:
            lib = pkcs11.lib(path)
        except RuntimeError as exc:
            raise CardError(
                f"cannot load the PKCS#11 module {path}: {exc}", code=E.NO_READER
            ) from None
        current = os.environ.get("SOFTHSM2_CONF")
        if path in _LOADED_CONF and (_LOADED_CONF[path] != current or rescan):
            lib.reinitialize()
        _LOADED_CONF[path] = current
        return lib


# --- the card ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PinStatus:
    tries_left: int | None  # None: the card does not tell
    locked: bool


class CardReader:
    """One card in one reader, through a PKCS#11 module.

    ``software_pin_counter`` must be on for SoftHSM2 tokens and off for real cards,
    whose chip counts wrong PINs itself."""

    def __init__(
        self,
        module_path: str = SOFTHSM2_MODULE,
        *,
        token_label: str | None = None,
        softhsm_conf: str | Path | None = None,
        software_pin_counter: bool | None = None,
    ) -> None:
        self.module_path = module_path
        self.token_label = token_label
        self.softhsm_conf = softhsm_conf
        self.software_pin_counter = (
            "softhsm" in module_path if software_pin_counter is None else software_pin_counter
        )

    def _lib(self) -> Any:
        return open_module(self.module_path, softhsm_conf=self.softhsm_conf)

    def _token(self) -> Any:
        lib = self._lib()
        try:
            if self.token_label:
                return lib.get_token(token_label=self.token_label)
            for token in lib.get_tokens():
                if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                    continue
                with token.open() as session:
                    if _first(session, ObjectClass.CERTIFICATE, AUTH_CERT_LABEL) is not None:
                        return token
        except pkcs11.NoSuchToken:
            pass
        except pkcs11.PKCS11Error as exc:
            raise CardError(f"the card cannot be read: {exc!r}", code=E.CARD_UNREADABLE) from None
        raise CardError("no My Number card on the reader", code=E.NO_CARD)

    @property
    def serial(self) -> str:
        return str(self._token().label).strip()

    def read_certificate(self) -> bytes:
        """The user-authentication certificate (DER). Needs no PIN."""
        token = self._token()
        try:
            with token.open() as session:
                cert = _first(session, ObjectClass.CERTIFICATE, AUTH_CERT_LABEL)
                if cert is None:
                    raise CardError("the card holds no authentication certificate", code=E.NO_CARD)
                der: bytes = cert[Attribute.VALUE]
                return der
        except pkcs11.PKCS11Error as exc:
            raise CardError(f"the card cannot be read: {exc!r}", code=E.CARD_UNREADABLE) from None

    def pin_status(self) -> PinStatus:
        token = self._token()
        if self.software_pin_counter:
            failures = _read_counter(token)
            left = max(MAX_PIN_TRIES - failures, 0)
            return PinStatus(tries_left=left, locked=left == 0)
        flags = token.flags
        if flags & TokenFlag.USER_PIN_LOCKED:
            return PinStatus(tries_left=0, locked=True)
        if flags & TokenFlag.USER_PIN_FINAL_TRY:
            return PinStatus(tries_left=1, locked=False)
        return PinStatus(tries_left=None, locked=False)

    def sign(self, data: bytes, pin: str) -> bytes:
        """Sign ``data`` with the card's authentication key after the PIN."""
        if not PIN_PATTERN.match(pin):
            # Not sent to the card, so it costs no try.
            raise CardError("the PIN is 4 digits", code=E.PIN_FORMAT)
        token = self._token()
        if self.software_pin_counter and _read_counter(token) >= MAX_PIN_TRIES:
            raise CardError(
                "the card is locked after 3 wrong PINs; the municipal office unlocks it",
                code=E.CARD_LOCKED,
                tries_left=0,
            )
        try:
            session = token.open(user_pin=pin)
        except pkcs11.PinIncorrect:
            raise self._wrong_pin(token) from None
        except pkcs11.PinLocked:
            raise CardError(
                "the card is locked after 3 wrong PINs", code=E.CARD_LOCKED, tries_left=0
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise CardError(f"the card cannot be read: {exc!r}", code=E.CARD_UNREADABLE) from None
        try:
            key = _first(session, ObjectClass.PRIVATE_KEY, AUTH_KEY_LABEL)
            if key is None:
                raise CardError("the card holds no authentication key", code=E.NO_CARD)
            signature: bytes = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
        finally:
            session.close()
        if self.software_pin_counter and _read_counter(token):
            _write_counter(token, 0)
        return signature

    def _wrong_pin(self, token: Any) -> CardError:
        left: int | None
        if self.software_pin_counter:
            failures = _read_counter(token) + 1
            _write_counter(token, failures)
            left = max(MAX_PIN_TRIES - failures, 0)
        else:
            left = self.pin_status().tries_left
        if left == 0:
            return CardError("wrong PIN: the card is now locked", code=E.CARD_LOCKED, tries_left=0)
        return CardError(
            f"wrong PIN ({left} tries left)" if left is not None else "wrong PIN",
            code=E.WRONG_PIN,
            tries_left=left,
        )


def _first(session: Any, cls: ObjectClass, label: str) -> Any:
    for obj in session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label}):
        return obj
    return None


def _read_counter(token: Any) -> int:
    with token.open() as session:
        values = [
            int(bytes(o[Attribute.VALUE]).decode() or "0")
            for o in session.get_objects(
                {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: PIN_COUNTER_LABEL}
            )
        ]
    # Several objects can only be left by an interrupted write: the highest count wins.
    return max(values, default=0)


def _write_counter(token: Any, failures: int) -> None:
    """Replace the counter object (SoftHSM2 keeps a data object's value read-only).
    The new object is written before the old one goes, so a crash never resets it."""
    with token.open(rw=True) as session:
        old = list(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: PIN_COUNTER_LABEL}
            )
        )
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.MODIFIABLE: True,
                Attribute.LABEL: PIN_COUNTER_LABEL,
                Attribute.APPLICATION: "ems",
                Attribute.VALUE: str(failures).encode(),
            }
        )
        for obj in old:
            obj.destroy()


def reset_pin_counter(token: Any) -> None:
    _write_counter(token, 0)


# --- the tablet's device key (signs PIN-less attestations) ------------------------------


class DeviceKey:
    """The tablet's own key and certificate, issued by ``ems cards issue-device``."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CardError("the device key must be RSA", code=E.DEVICE_KEY_INVALID)
        self._key = key
        self.certificate = x509.load_pem_x509_certificate(cert_pem)

    @classmethod
    def load(cls, directory: str | Path) -> DeviceKey:
        d = Path(directory)
        try:
            return cls((d / "device.key").read_bytes(), (d / "device.pem").read_bytes())
        except FileNotFoundError:
            raise CardError(f"no device key in {d}", code=E.DEVICE_KEY_MISSING) from None

    def certificate_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def attestation_message(
    *,
    challenge_id: str,
    nonce_b64: str,
    transport_id: int,
    card_certificate_der: bytes,
    reason: str,
    face_match_confirmed: bool,
) -> bytes:
    """What the device key signs for a PIN-less read: the server rebuilds the same bytes."""
    content = {
        "purpose": "ems-pinless-attestation/v1",
        "challenge_id": challenge_id,
        "nonce": nonce_b64,
        "transport_id": transport_id,
        "card_certificate_sha256": hashlib.sha256(card_certificate_der).hexdigest(),
        "reason": reason,
        "face_match_confirmed": face_match_confirmed,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- talking to the server ----------------------------------------------------------------


class ServerApi(Protocol):
    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...

    def get(self, path: str) -> tuple[int, dict[str, Any]]: ...


class HttpApi:
    """JSON over HTTPS with the paramedic's bearer token."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            context = tls_context() if self.base_url.startswith("https:") else None
            with urllib.request.urlopen(req, timeout=self.timeout_s, context=context) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                payload = json.loads(err.read() or b"{}")
            except ValueError:
                payload = {"code": E.HTTP_ERROR, "detail": str(err)}
            return err.code, payload
        except urllib.error.URLError as err:
            raise ServerError(
                f"the server is unreachable: {err.reason}", code=E.OFFLINE, status=0
            ) from None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._call("POST", path, body)

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._call("GET", path, None)


class ServerError(Exception):
    """The server refused (``code`` is the server's, passed on as it came), or cannot
    be reached (``offline``, status 0)."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _ok(status: int, body: dict[str, Any]) -> dict[str, Any]:
    if status >= 400:
        raise ServerError(
            str(body.get("detail", "refused")), code=str(body.get("code", E.ERROR)), status=status
        )
    return body


def _challenge(api: ServerApi, transport_id: int) -> dict[str, Any]:
    return _ok(*api.post("/api/v1/card-auth/challenges", {"transport_id": transport_id}))


def identify_with_pin(
    *, api: ServerApi, reader: CardReader, transport_id: int, pin: str
) -> dict[str, Any]:
    """Card tap → challenge → PIN → signature → the patient's record summary (in memory)."""
    cert = reader.read_certificate()
    challenge = _challenge(api, transport_id)
    try:
        signature = reader.sign(base64.b64decode(challenge["nonce"]), pin)
    except CardError as err:
        if err.code in (E.WRONG_PIN, E.CARD_LOCKED):
            report_card_event(api=api, transport_id=transport_id, certificate=cert, error=err)
        raise
    return _ok(
        *api.post(
            "/api/v1/card-auth/verifications",
            {
                "challenge_id": challenge["challenge_id"],
                "transport_id": transport_id,
                "certificate": base64.b64encode(cert).decode(),
                "signature": base64.b64encode(signature).decode(),
            },
        )
    )


def identify_without_pin(
    *,
    api: ServerApi,
    reader: CardReader,
    device: DeviceKey,
    transport_id: int,
    reason: str,
    face_match_confirmed: bool,
) -> dict[str, Any]:
    """For a patient who cannot enter a PIN: the certificate alone, with the crew's
    attestation of the face match signed by the tablet's device key."""
    cert = reader.read_certificate()
    challenge = _challenge(api, transport_id)
    message = attestation_message(
        challenge_id=challenge["challenge_id"],
        nonce_b64=challenge["nonce"],
        transport_id=transport_id,
        card_certificate_der=cert,
        reason=reason,
        face_match_confirmed=face_match_confirmed,
    )
    return _ok(
        *api.post(
            "/api/v1/card-auth/pinless",
            {
                "challenge_id": challenge["challenge_id"],
                "transport_id": transport_id,
                "certificate": base64.b64encode(cert).decode(),
                "reason": reason,
                "face_match_confirmed": face_match_confirmed,
                "device_certificate": device.certificate_b64(),
                "attestation_signature": base64.b64encode(device.sign(message)).decode(),
            },
        )
    )


def report_card_event(
    *, api: ServerApi, transport_id: int, certificate: bytes, error: CardError
) -> None:
    """Tell the server about a wrong PIN or a locked card, so that the attempt is audited."""
    # Offline, the report is lost but the card's own counter still protects it.
    with contextlib.suppress(ServerError):
        api.post(
            "/api/v1/card-auth/card-events",
            {
                "transport_id": transport_id,
                "certificate": base64.b64encode(certificate).decode(),
                "event": error.code,
                "tries_left": error.tries_left,
            },
        )


def fetch_record(*, api: ServerApi, transport_id: int) -> dict[str, Any]:
    return _ok(*api.get(f"/api/v1/transports/{transport_id}/patient-record"))

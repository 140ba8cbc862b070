"""The issuing side of the mock cards: SoftHSM2 tokens in a directory we control.

A card store is a directory holding ``softhsm2.conf`` (pointing SoftHSM2 at the
store's ``tokens/`` directory) and the issuer's SO PINs. Each card is one token
labelled with the card's serial: the RSA-2048 key pair is generated *on* the
token (sensitive, never extractable), and the issued certificate is stored next
to it under the labels OpenSC's JPKI driver uses, so that the tablet's reader
code cannot tell the mock from a real card.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, KeyType, MechanismFlag, ObjectClass

from ambulance_client.card import (
    AUTH_CA_LABEL,
    AUTH_CERT_LABEL,
    AUTH_KEY_LABEL,
    PIN_PATTERN,
    SOFTHSM2_MODULE,
    CardReader,
    open_module,
    reset_pin_counter,
)
from ems.errors import Conflict, EmsError, NotFound, ValidationFailed

KEY_ID = b"\x01"  # the JPKI driver's id of the user-authentication key and certificate


class CardStore:
    def __init__(self, directory: str | Path, *, module_path: str = SOFTHSM2_MODULE) -> None:
        self.directory = Path(directory).resolve()
        self.module_path = module_path

    @property
    def conf_path(self) -> Path:
        return self.directory / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        return self.directory / "tokens"

    @property
    def _secrets_path(self) -> Path:
        return self.directory / "issuer-so-pins.json"

    def ensure(self) -> None:
        self.token_dir.mkdir(parents=True, exist_ok=True)
        if not self.conf_path.exists():
            self.conf_path.write_text(
                f"directories.tokendir = {self.token_dir}\n"
                "objectstore.backend = file\n"
                "log.level = ERROR\n"
                "slots.removable = false\n"
            )

    def reader(self, serial: str) -> CardReader:
        """The tablet's view of one card in this store."""
        return CardReader(
            self.module_path,
            token_label=serial,
            softhsm_conf=self.conf_path,
            software_pin_counter=True,
        )

    def _lib(self, *, rescan: bool = False) -> Any:
        self.ensure()
        return open_module(self.module_path, softhsm_conf=self.conf_path, rescan=rescan)

    def _token(self, serial: str) -> Any:
        try:
            return self._lib().get_token(token_label=serial)
        except pkcs11.NoSuchToken:
            raise NotFound(f"no card {serial} in {self.directory}", code="card_not_found") from None

    def serials(self) -> list[str]:
        return sorted(
            str(t.label).strip()
            for t in self._lib(rescan=True).get_tokens()
            if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED
        )

    def _so_pins(self) -> dict[str, str]:
        if not self._secrets_path.exists():
            return {}
        out: dict[str, str] = json.loads(self._secrets_path.read_text())
        return out

    def _save_so_pin(self, serial: str, so_pin: str) -> None:
        pins = self._so_pins()
        pins[serial] = so_pin
        fd = os.open(self._secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(pins, fh)

    def create_card(self, serial: str, *, pin: str) -> rsa.RSAPublicKey:
        """A new token with an on-token RSA-2048 key pair; returns the public key."""
        if not PIN_PATTERN.match(pin):
            raise ValidationFailed("the card PIN is 4 digits", code="pin_format")
        if not serial.isalnum() or len(serial) > 32:
            raise ValidationFailed("a card serial is up to 32 letters or digits", code="bad_serial")
        self.ensure()
        if serial in self.serials():
            raise Conflict(f"card {serial} already exists", code="card_exists")
        tool = shutil.which("softhsm2-util")
        if tool is None:
            raise EmsError(
                "softhsm2-util is missing; run scripts/ensure-system",
                code="softhsm_missing",
                status=500,
            )
        so_pin = secrets.token_hex(8)
        subprocess.run(
            [tool, "--init-token", "--free", "--label", serial, "--pin", pin, "--so-pin", so_pin],
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf_path)},
            check=True,
            capture_output=True,
        )
        self._save_so_pin(serial, so_pin)
        token = self._lib(rescan=True).get_token(token_label=serial)
        with token.open(rw=True, user_pin=pin) as session:
            pub, _priv = session.generate_keypair(
                KeyType.RSA,
                2048,
                id=KEY_ID,
                label=AUTH_KEY_LABEL,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                },
                public_template={Attribute.PRIVATE: False},
            )
            numbers = rsa.RSAPublicNumbers(
                e=int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                n=int.from_bytes(pub[Attribute.MODULUS], "big"),
            )
        reset_pin_counter(token)
        return numbers.public_key()

    def store_certificate(
        self, serial: str, *, pin: str, cert: x509.Certificate, ca_cert: x509.Certificate
    ) -> None:
        token = self._token(serial)
        with token.open(rw=True, user_pin=pin) as session:
            for label, c, obj_id in (
                (AUTH_CERT_LABEL, cert, KEY_ID),
                (AUTH_CA_LABEL, ca_cert, b"\x03"),
            ):
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                        Attribute.LABEL: label,
                        Attribute.ID: obj_id,
                        Attribute.SUBJECT: c.subject.public_bytes(),
                        Attribute.ISSUER: c.issuer.public_bytes(),
                        Attribute.VALUE: c.public_bytes(serialization.Encoding.DER),
                    }
                )

    def unlock(self, serial: str, *, new_pin: str | None = None) -> None:
        """Reset the wrong-PIN counter, and set a new PIN with the issuer's SO PIN."""
        # Re-initialising closes sessions a failed login may have left open:
        # SoftHSM2 refuses an SO login while any read-only session exists.
        self._lib(rescan=True)
        token = self._token(serial)
        if new_pin is not None:
            if not PIN_PATTERN.match(new_pin):
                raise ValidationFailed("the card PIN is 4 digits", code="pin_format")
            so_pin = self._so_pins().get(serial)
            if so_pin is None:
                raise NotFound(f"no issuer record for card {serial}", code="card_not_found")
            with token.open(rw=True, so_pin=so_pin) as session:
                session.init_pin(new_pin)
        reset_pin_counter(token)


def card_store_dir(config: Any) -> Path:
    """Where issued mock cards live: ``CARD_STORE_DIR`` (env ``EMS_CARD_STORE_DIR``) or
    ``cards/`` beside the PKI directory."""
    configured = (
        getattr(config, "CARD_STORE_DIR", "")
        or getattr(config, "extra", {}).get("CARD_STORE_DIR")
        or os.environ.get("EMS_CARD_STORE_DIR")
    )
    return Path(configured) if configured else Path(config.PKI_DIR).parent / "cards"

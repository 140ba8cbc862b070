"""The mock cards: SoftHSM2 tokens in a card store directory, written by the issuer.

A card store is a directory holding ``softhsm2.conf`` (pointing SoftHSM2 at the
store's ``tokens/`` directory) and the tokens: it stands for the cards in the
patients' wallets, so the tablet reads it too. Each card is one token labelled with
the card's serial: the RSA-2048 key pair is generated *on* the token (sensitive,
never extractable), and the issued certificate is stored next to it under the
labels OpenSC's JPKI driver uses (``ems_contracts.card``), so that the tablet's
reader cannot tell the mock from a real card.

Each token's SO PIN, which resets the user PIN, is kept by the issuer only: in
``so_pin_file`` (the issuer's directory, mode 0600), never in the card store.
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

# The tablet's module loader, reader and wrong-PIN counter: one implementation of the
# counter's format, and one loader per process (SoftHSM2 must be re-initialised to
# see tokens another process created).
from ambulance_client.card import SOFTHSM2_MODULE, CardReader, open_module, reset_pin_counter
from card_issuer.errors import IssuerError
from ems_contracts.card import (
    AUTH_CA_ID,
    AUTH_CA_LABEL,
    AUTH_CERT_LABEL,
    AUTH_KEY_ID,
    AUTH_KEY_LABEL,
    PIN_RULE,
    is_valid_pin,
)


def default_store_dir(issuer_dir: str | Path) -> Path:
    """``CARD_STORE_DIR`` (or ``EMS_CARD_STORE_DIR``) if set, else ``cards/`` beside the
    issuer's directory (``var/cards`` for the default ``var/issuer``)."""
    configured = os.environ.get("CARD_STORE_DIR") or os.environ.get("EMS_CARD_STORE_DIR")
    return Path(configured) if configured else Path(issuer_dir).resolve().parent / "cards"


class CardStore:
    """The tokens of one card store. ``so_pin_file`` is needed to issue a card or set
    a new PIN; reading and counting wrong PINs need none."""

    def __init__(
        self,
        directory: str | Path,
        *,
        so_pin_file: str | Path | None = None,
        module_path: str = SOFTHSM2_MODULE,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.so_pin_file = Path(so_pin_file).resolve() if so_pin_file else None
        self.module_path = module_path
        if self.so_pin_file is not None and self.directory in self.so_pin_file.parents:
            raise IssuerError(
                "the SO PINs stay with the issuer, not in the card store",
                code="so_pins_in_store",
            )

    @property
    def conf_path(self) -> Path:
        return self.directory / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        return self.directory / "tokens"

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
            raise IssuerError(
                f"no card {serial} in {self.directory}", code="card_not_found"
            ) from None

    def serials(self) -> list[str]:
        return sorted(
            str(t.label).strip()
            for t in self._lib(rescan=True).get_tokens()
            if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED
        )

    # --- the issuer's secrets --------------------------------------------------------

    def _pin_file(self) -> Path:
        if self.so_pin_file is None:
            raise IssuerError(
                "this card store was opened without the issuer's SO PINs",
                code="so_pins_missing",
            )
        return self.so_pin_file

    def _so_pins(self) -> dict[str, str]:
        path = self._pin_file()
        if not path.exists():
            return {}
        out: dict[str, str] = json.loads(path.read_text())
        return out

    def _save_so_pin(self, serial: str, so_pin: str) -> None:
        pins = self._so_pins()
        pins[serial] = so_pin
        path = self._pin_file()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(pins, fh)
        os.replace(tmp, path)

    # --- issuing -----------------------------------------------------------------------

    def create_card(self, serial: str, *, pin: str) -> rsa.RSAPublicKey:
        """A new token with an on-token RSA-2048 key pair; returns the public key."""
        if not is_valid_pin(pin):
            raise IssuerError(PIN_RULE, code="pin_format")
        if not serial.isalnum() or not serial.isascii() or len(serial) > 32:
            raise IssuerError("a card serial is up to 32 letters or digits", code="bad_serial")
        self._pin_file()  # before the token exists: its SO PIN must have a place to go
        self.ensure()
        if serial in self.serials():
            raise IssuerError(f"card {serial} already exists", code="card_exists")
        tool = shutil.which("softhsm2-util")
        if tool is None:
            raise IssuerError(
                "softhsm2-util is missing; run scripts/ensure-system", code="softhsm_missing"
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
                id=AUTH_KEY_ID,
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
                (AUTH_CERT_LABEL, cert, AUTH_KEY_ID),
                (AUTH_CA_LABEL, ca_cert, AUTH_CA_ID),
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
        if new_pin is not None and not is_valid_pin(new_pin):
            raise IssuerError(PIN_RULE, code="pin_format")
        # Re-initialising closes sessions a failed login may have left open:
        # SoftHSM2 refuses an SO login while any read-only session exists.
        self._lib(rescan=True)
        token = self._token(serial)
        if new_pin is not None:
            so_pin = self._so_pins().get(serial)
            if so_pin is None:
                raise IssuerError(f"no issuer record for card {serial}", code="card_not_found")
            with token.open(rw=True, so_pin=so_pin) as session:
                session.init_pin(new_pin)
        reset_pin_counter(token)

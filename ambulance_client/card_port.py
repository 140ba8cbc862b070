"""The tablet's card port: what the page asks of the card reader.

The page taps the card (``read``: is a card there, which certificate, how many PIN tries
are left), identifies the patient with the PIN (``verify``) or, when the patient cannot
give it, without (``pinless``, signed with the tablet's device key). The card logic and
the exchange with the server are ``ambulance_client.card``'s; this port binds them to
the tablet's settings and names the HTTP status the page gets for each card problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ems_contracts.codes import ErrorCode as E

if TYPE_CHECKING:
    from ambulance_client.card import CardError, CardReader, ServerError

# The status of the problem the page gets for each of the tablet's own card codes (the
# registry's); any other code is the server's refusal and keeps the server's status.
ERROR_STATUS: dict[str, int] = {
    E.WRONG_PIN: 400,
    E.PIN_FORMAT: 400,
    E.CARD_LOCKED: 423,
    E.NO_CARD: 404,
    E.NO_READER: 503,
    E.CARD_UNREADABLE: 503,
    E.DEVICE_KEY_MISSING: 409,
    E.DEVICE_KEY_INVALID: 409,
    E.OFFLINE: 503,
}


def error_status(exc: CardError | ServerError) -> tuple[str, int]:
    """The stable code of a card or server error, and the HTTP status the page gets."""
    return exc.code, ERROR_STATUS.get(exc.code, getattr(exc, "status", 0) or 400)


@dataclass
class CardSettings:
    module_path: str = ""
    token_label: str | None = None
    softhsm_conf: str | None = None
    device_dir: str | None = None


class CardPort:
    """The card reader, driven through ``ambulance_client.card``."""

    def __init__(self, settings: CardSettings, server_url: str) -> None:
        self.settings = settings
        self.server_url = server_url

    def _reader(self) -> CardReader:
        # Imported on use: the PKCS#11 binding loads only when a card is asked about.
        from ambulance_client.card import SOFTHSM2_MODULE, CardReader

        return CardReader(
            self.settings.module_path or SOFTHSM2_MODULE,
            token_label=self.settings.token_label,
            softhsm_conf=self.settings.softhsm_conf,
        )

    def read(self) -> dict[str, Any]:
        reader = self._reader()
        cert = reader.read_certificate()
        pin = reader.pin_status()
        return {
            "present": True,
            "certificate_sha256_prefix": hashlib.sha256(cert).hexdigest()[:12],
            "tries_left": pin.tries_left,
            "locked": pin.locked,
        }

    def verify(self, *, token: str, transport_id: int, pin: str) -> dict[str, Any]:
        from ambulance_client.card import HttpApi, identify_with_pin

        return identify_with_pin(
            api=HttpApi(self.server_url, token),
            reader=self._reader(),
            transport_id=transport_id,
            pin=pin,
        )

    def pinless(
        self, *, token: str, transport_id: int, reason: str, face_match_confirmed: bool
    ) -> dict[str, Any]:
        from ambulance_client.card import CardError, DeviceKey, HttpApi, identify_without_pin

        if not self.settings.device_dir:
            raise CardError("this tablet has no device key", code=E.DEVICE_KEY_MISSING)
        return identify_without_pin(
            api=HttpApi(self.server_url, token),
            reader=self._reader(),
            device=DeviceKey.load(self.settings.device_dir),
            transport_id=transport_id,
            reason=reason,
            face_match_confirmed=face_match_confirmed,
        )

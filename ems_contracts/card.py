"""The My Number card as its two users see it: the tablet's reader
(``ambulance_client.card``) and the mock issuer that writes the cards
(``card_issuer.tokens``).

The PKCS#11 object labels and ids are those of OpenSC's JPKI emulation, so the
reader cannot tell a mock card from a real one. The PIN rules are JPKI's
user-authentication PIN: 4 digits, the card locks after 3 wrong tries. Plain
constants and the standard library only.
"""

from __future__ import annotations

import re

# Objects on the card: the user-authentication certificate and its key share one id.
AUTH_CERT_LABEL = "User Authentication Certificate"
AUTH_KEY_LABEL = "User Authentication Key"
AUTH_KEY_ID = b"\x01"
AUTH_CA_LABEL = "User Authentication Certificate CA"
AUTH_CA_ID = b"\x03"
# SoftHSM2 does not lock a token, so a mock card keeps its wrong-PIN count in a public
# data object of this label (a real card's chip counts by itself).
PIN_COUNTER_LABEL = "EMS PIN retry counter"

PIN_LENGTH = 4
MAX_PIN_TRIES = 3
# \Z, not $: a trailing newline is not part of a valid PIN.
PIN_PATTERN = re.compile(rf"[0-9]{{{PIN_LENGTH}}}\Z")
PIN_RULE = f"the card PIN is {PIN_LENGTH} digits"


def is_valid_pin(pin: str) -> bool:
    """A PIN of the right form; one of another form never reaches the card (no try lost)."""
    return PIN_PATTERN.match(pin) is not None

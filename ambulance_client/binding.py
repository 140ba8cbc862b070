"""A tablet belongs to one unit: the crew of that unit signs in on it, nobody else.

The unit is set when the tablet is installed (``ems-ambulance tablet --unit-id``), or
else by the first paramedic who signs in, for the life of the service. A paramedic of
another unit is refused at sign-in (``tablet_other_unit``), so that the tablet never
becomes theirs while it keeps the first unit's device key; an account that is not a
paramedic's is refused too (``tablet_paramedics_only``). Pure: the web layer asks
``admit`` with the user the server answered and acts on the verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ems_contracts.codes import ErrorCode as E


@dataclass(frozen=True, slots=True)
class Refusal:
    code: E  # TABLET_OTHER_UNIT or TABLET_PARAMEDICS_ONLY
    detail: str


class UnitBinding:
    """The unit this tablet serves, and who may sign in on it."""

    def __init__(self, unit_id: int | None = None) -> None:
        self.unit_id = unit_id
        self.call_sign = ""
        self._lock = threading.Lock()

    def admit(self, user: dict[str, Any]) -> Refusal | None:
        """None when ``user`` may use this tablet (binding it on first use)."""
        if user.get("role") != "paramedic":
            return Refusal(E.TABLET_PARAMEDICS_ONLY, "sign in with a paramedic account")
        unit_id = user.get("unit_id")
        if not isinstance(unit_id, int):
            return Refusal(E.TABLET_OTHER_UNIT, "this account is bound to no unit")
        with self._lock:
            if self.unit_id is None:
                self.unit_id = unit_id
            if unit_id != self.unit_id:
                return Refusal(
                    E.TABLET_OTHER_UNIT,
                    f"this tablet belongs to unit {self.call_sign or self.unit_id}",
                )
        return None

    def learn_call_sign(self, unit_id: int, call_sign: str) -> None:
        with self._lock:
            if unit_id == self.unit_id and call_sign:
                self.call_sign = call_sign

    def status(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "unit_call_sign": self.call_sign}

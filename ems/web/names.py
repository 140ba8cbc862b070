"""English names of what the pages show by name: unit call signs and their stations.

The data carries a station's English name (``Station.name_en``) but a unit only its
Japanese call sign, ``<place>救急<n>`` by the fire department's custom. The English
page says "<place> Ambulance <n>", the place taken from the station's English name
without its kind ("Yazu Fire Station" → "Yazu"). A call sign of another shape, or a
station without an English name, keeps its own spelling. Pure: plain data in and out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypedDict

CALL_SIGN = re.compile(r"^(?P<place>.+?)救急(?P<number>\d+)$")
# The kinds a station's English name ends with, longest first.
STATION_KINDS = (
    " Central Fire Station",
    " Fire Station",
    " Fire Department",
    " Branch Office",
    " Branch",
    " Station",
)


class UnitName(TypedDict):
    call_sign: str
    call_sign_en: str
    station: str
    station_en: str


def place_of(station_en: str) -> str:
    """The place a station's English name starts with."""
    for kind in STATION_KINDS:
        if station_en.endswith(kind) and len(station_en) > len(kind):
            return station_en[: -len(kind)].strip()
    return ""


def call_sign_en(call_sign: str, station_en: str) -> str:
    """``八頭救急1`` of "Yazu Fire Station" → "Yazu Ambulance 1"; otherwise as it is."""
    match = CALL_SIGN.match(call_sign)
    place = place_of(station_en)
    if not match or not place:
        return call_sign
    return f"{place} Ambulance {match['number']}"


def unit_names(units: Iterable[tuple[str, str, str]]) -> list[UnitName]:
    """``(call sign, station name, station English name)`` per unit → their names."""
    return [
        UnitName(
            call_sign=sign,
            call_sign_en=call_sign_en(sign, station_en),
            station=station,
            station_en=station_en or station,
        )
        for sign, station, station_en in units
    ]

"""Request and response bodies of the hospital endpoints, and the strict field types
(coordinates, database ids, timestamps, plain text) every domain schema shares.

The shared types turn input the database would choke on (a NUL character, an id
beyond 32 bits, a year-1 timestamp) into a 400 before any query runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ems.hospitals.models import BedCategory, Capability, DiversionStatus, EmergencyLevel

DB_ID_MAX = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def _sane_time(value: dt.datetime) -> dt.datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("timestamp out of range (years 2000-2100)")
    return value.astimezone(dt.UTC)


Latitude = Annotated[float, Field(ge=-90, le=90, strict=True, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True, allow_inf_nan=False)]
DbId = Annotated[int, Field(ge=1, le=DB_ID_MAX, strict=True)]
Timestamp = Annotated[AwareDatetime, AfterValidator(_sane_time)]
# Plain text without NUL characters (PostgreSQL refuses them); add a Field for the length.
PlainStr = Annotated[str, AfterValidator(_no_nul)]


Name = Annotated[PlainStr, Field(min_length=1, max_length=200)]
Phone = Annotated[PlainStr, Field(max_length=32)]


class BedRead(BaseModel):
    category: BedCategory
    available: int
    capacity: int
    updated_at: dt.datetime
    expires_at: dt.datetime
    # Past ``expires_at`` the figure is unknown: consumers must not count on it.
    stale: bool


class HospitalRead(BaseModel):
    id: int
    name: str
    name_en: str
    lat: float
    lon: float
    level: EmergencyLevel
    capabilities: list[str]
    # The diversion in force now: a diversion whose ``diversion_until`` passed reads as open.
    diversion: DiversionStatus
    diverted_categories: list[BedCategory]
    diversion_until: dt.datetime | None
    phone: str
    beds: list[BedRead]


class BedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: BedCategory
    available: int = Field(ge=0, le=10_000, strict=True)
    capacity: int | None = Field(default=None, ge=0, le=10_000, strict=True)
    ttl_min: int = Field(default=60, ge=5, le=1440, strict=True)

    @model_validator(mode="after")
    def _fits_capacity(self) -> BedUpdate:
        if self.capacity is not None and self.available > self.capacity:
            raise ValueError("available may not exceed capacity")
        return self


class AvailabilityUpdate(BaseModel):
    """Fields left out stay as they are; ``beds`` lists only the categories that changed."""

    model_config = ConfigDict(extra="forbid")
    beds: list[BedUpdate] = Field(default_factory=list, max_length=len(BedCategory))
    diversion: DiversionStatus | None = None
    diverted_categories: list[BedCategory] | None = Field(default=None, max_length=len(BedCategory))
    diversion_until: Timestamp | None = None

    @model_validator(mode="after")
    def _distinct_categories(self) -> AvailabilityUpdate:
        cats = [b.category for b in self.beds]
        if len(cats) != len(set(cats)):
            raise ValueError("each bed category may appear once")
        return self


class HospitalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    name_en: Annotated[PlainStr, Field(max_length=200)] = ""
    lat: Latitude
    lon: Longitude
    level: EmergencyLevel
    capabilities: list[Capability] = Field(default_factory=list, max_length=len(Capability))
    phone: Phone = ""
    beds: list[BedUpdate] = Field(default_factory=list, max_length=len(BedCategory))

    @model_validator(mode="after")
    def _distinct(self) -> HospitalCreate:
        if len({b.category for b in self.beds}) != len(self.beds):
            raise ValueError("each bed category may appear once")
        return self

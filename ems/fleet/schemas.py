"""Request and response bodies of the unit endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from ems.fleet.models import UnitStatus
from ems.hospitals.schemas import Latitude, Longitude, Timestamp


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    call_sign: str
    station_id: int
    station_name: str = ""
    status: UnitStatus
    crew: list[str]
    lat: float
    lon: float
    position_at: dt.datetime
    status_at: dt.datetime
    # The transport the unit is working, while it is not available.
    current_transport_id: int | None
    # A move-up post: the station the crew is asked to wait at instead of its own.
    post_station_id: int | None = None
    post_station_name: str = ""
    posted_at: dt.datetime | None = None


class UnitStatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UnitStatus


class PositionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Latitude
    lon: Longitude
    # When the fix was taken; a tablet replaying its offline queue sends old fixes.
    at: Timestamp | None = None


class UnitQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UnitStatus | None = None

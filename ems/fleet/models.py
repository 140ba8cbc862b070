"""Fire stations and their ambulances (units), with the unit status machine."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ems.db import Base, UTCDateTime, utcnow


class UnitStatus(enum.StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    OUT_OF_SERVICE = "out_of_service"


# The legal moves of a unit. Anything else is refused with ``illegal_transition``.
UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.AVAILABLE: frozenset({UnitStatus.DISPATCHED, UnitStatus.OUT_OF_SERVICE}),
    # A dispatch can be cancelled before arrival, and a crew may find no one to carry.
    UnitStatus.DISPATCHED: frozenset({UnitStatus.ON_SCENE, UnitStatus.AVAILABLE}),
    UnitStatus.ON_SCENE: frozenset({UnitStatus.TRANSPORTING, UnitStatus.AVAILABLE}),
    UnitStatus.TRANSPORTING: frozenset({UnitStatus.AT_HOSPITAL}),
    UnitStatus.AT_HOSPITAL: frozenset({UnitStatus.AVAILABLE}),
    UnitStatus.OUT_OF_SERVICE: frozenset({UnitStatus.AVAILABLE}),
}


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    # Loaded with the unit (one join, no second round trip): every unit answer names it.
    station: Mapped[Station] = relationship(
        lazy="joined", innerjoin=True, foreign_keys=[station_id]
    )
    status: Mapped[UnitStatus] = mapped_column(
        Enum(UnitStatus, native_enum=False, length=20), default=UnitStatus.AVAILABLE
    )
    crew: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    position_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The transport the unit is working, while it is not available.
    current_transport_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # A move-up post: the station the unit waits at instead of its own (None: its own).
    # It stays available there; the post ends when the unit is dispatched or moved home.
    post_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), default=None)
    post_station: Mapped[Station | None] = relationship(
        lazy="joined", foreign_keys=[post_station_id]
    )
    # When the dispatcher posted it there (None while it stands at its own station).
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def station_name(self) -> str:
        return self.station.name

    @property
    def post_station_name(self) -> str:
        return self.post_station.name if self.post_station is not None else ""

    @property
    def base(self) -> Station:
        """Where the unit waits when idle: its move-up post, else its own station."""
        return self.post_station if self.post_station is not None else self.station

"""The payloads of the record frames the tablet sends: a monitor reading (a VITALS
frame) and a crew note (an EVENT frame). The relay validates them before storing
(``ems.vitals.service``); the tablet builds them from its monitor and its crew."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VitalsPayload(BaseModel):
    """One monitor reading as the tablet sends it; missing values are unknown."""

    model_config = ConfigDict(extra="forbid")
    hr: int | None = Field(default=None, ge=0, le=350)
    spo2: int | None = Field(default=None, ge=0, le=100)
    bp_sys: int | None = Field(default=None, ge=0, le=350)
    bp_dia: int | None = Field(default=None, ge=0, le=300)
    rr: int | None = Field(default=None, ge=0, le=120)
    temp_c: float | None = Field(default=None, ge=20, le=46)


class StreamNote(BaseModel):
    """A crew note or event sent through the tablet's queue."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=2000)
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

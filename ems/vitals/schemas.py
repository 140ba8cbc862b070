"""Bodies of the vitals endpoint. The payloads of the vitals and note frames the
tablet sends are the contracts' (``ems_contracts.vitals``), imported here for the
server's code that validates them."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ems_contracts.vitals import StreamNote as StreamNote
from ems_contracts.vitals import VitalsPayload as VitalsPayload


class VitalsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    measured_at: dt.datetime
    hr: int | None
    spo2: int | None
    bp_sys: int | None
    bp_dia: int | None
    rr: int | None
    temp_c: float | None


class EcgSegmentRead(BaseModel):
    seq: int
    started_at: dt.datetime
    sample_rate_hz: int
    samples_uv: list[int]


class TransportVitalsRead(BaseModel):
    transport_id: int
    vitals: list[VitalsRead]
    ecg: list[EcgSegmentRead]


class VitalsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=200, ge=1, le=1000)
    ecg: bool = False

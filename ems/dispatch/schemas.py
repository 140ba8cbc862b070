"""Request and response bodies of the dispatch endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ems.hospitals.schemas import DB_ID_MAX, DbId

TravelSource = Literal["valhalla", "straight_line"]
# Which hospitals a recommendation lists: those to ask (default), or every hospital
# open to ambulances and reachable, for a crew or dispatcher choosing by hand.
RecommendationScope = Literal["recommended", "all"]


# Ids in a query string arrive as text, so not the strict ``DbId``; the same bound.
QueryId = Annotated[int, Field(ge=1, le=DB_ID_MAX)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonRead(BaseModel):
    """One reason: translate by ``code`` (``reason.<code>``) with ``params``; ``text`` is
    an English rendering for people reading the JSON."""

    code: str
    params: dict[str, Any]
    text: str


class UnitRecommendationQuery(_In):
    incident_id: QueryId


class UnitRecommendationRead(BaseModel):
    unit_id: int
    call_sign: str
    eta_s: int
    source: TravelSource
    reasons: list[ReasonRead]


class AssignPendingCreate(_In):
    # Carry the plan out through the incident service when it is available.
    apply: bool = False


class AssignmentRead(BaseModel):
    incident_id: int
    unit_id: int
    call_sign: str
    eta_s: int
    source: TravelSource
    urgency: str


class AssignmentPlanRead(BaseModel):
    assignments: list[AssignmentRead]
    unassigned: list[int]
    weighted_response_s: int
    coverage_loss: int
    applied: bool


class HospitalRecommendationQuery(_In):
    scope: RecommendationScope = "recommended"


class RankedHospitalRead(BaseModel):
    hospital_id: int
    name: str
    eta_s: int
    # The ETA as the crew reads it: whole minutes, at least 1.
    eta_min: int
    source: TravelSource
    score_s: float
    bed_status: Literal["available", "unknown", "stale"]
    beds_available: int | None
    acceptance_p: float
    reasons: list[ReasonRead]
    # False only with ``scope=all``: open and reachable, but not one to ask (``reasons``
    # says why: already asked, lacks a capability, no bed).
    recommended: bool


class ExcludedHospitalRead(BaseModel):
    hospital_id: int
    name: str
    reasons: list[ReasonRead]


class HospitalRecommendationsRead(BaseModel):
    transport_id: int
    scope: RecommendationScope
    # Every request was declined (or withdrawn), none is open, no destination is set:
    # the crew or the dispatcher must choose a hospital by hand.
    destination_needed: bool
    bed_category: str
    required_capabilities: list[str]
    needs: list[ReasonRead]
    hospitals: list[RankedHospitalRead]
    excluded: list[ExcludedHospitalRead]
    suggested: list[int]  # the next round's hospitals
    p_at_least_one: float


class MciPatientIn(_In):
    id: str = Field(min_length=1, max_length=64)
    triage: Literal["red", "yellow", "green", "black"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class MciCreate(_In):
    patients: list[MciPatientIn] = Field(min_length=1, max_length=5000)
    hospital_ids: list[int] | None = Field(default=None, min_length=1, max_length=500)
    # hospital id → triage class → surge capacity; defaults from the bed figures.
    surge: dict[int, dict[Literal["red", "yellow", "green"], int]] | None = None
    # Patients already on their way keep their hospital: patient id → hospital id.
    locked: dict[str, int] = Field(default_factory=dict)


class MciAllocationRead(BaseModel):
    patient_id: str
    triage: str
    hospital_id: int
    eta_s: int
    source: TravelSource
    locked: bool


class MciRead(BaseModel):
    allocations: list[MciAllocationRead]
    unallocated: list[str]
    not_transported: list[str]
    capacity: dict[int, dict[str, int]]
    load: dict[int, dict[str, int]]
    weighted_time_s: int
    optimal: bool


# --- move-up ----------------------------------------------------------------------------


class CoverageRead(BaseModel):
    # Share of the demand (population) within the threshold of at least one idle unit.
    covered: float
    # MEXCLP: the share expected covered when each unit is busy with the busy fraction.
    expected: float


class MoveUpSuggestionRead(BaseModel):
    unit_id: int
    call_sign: str
    from_station_id: int
    from_station_name: str
    to_station_id: int
    to_station_name: str
    drive_s: int | None
    # The region now, and with this move alone applied.
    before: CoverageRead
    after: CoverageRead


class MoveUpRead(BaseModel):
    # Names the idle units and their posts the suggestions were made for: applying one
    # with another basis is refused with ``stale_suggestion``.
    basis: str
    suggestions: list[MoveUpSuggestionRead]
    coverage: CoverageRead
    coverage_after_all: CoverageRead
    busy_fraction: float
    threshold_s: int
    idle_units: int
    demand: Literal["towns", "stations"]
    source: TravelSource


class MoveUpApply(_In):
    unit_id: DbId
    station_id: DbId
    basis: str = Field(min_length=1, max_length=64)


class MoveUpAppliedRead(BaseModel):
    unit_id: int
    call_sign: str
    post_station_id: int | None
    to_station_id: int
    to_station_name: str
    before: CoverageRead
    after: CoverageRead

"""Every ORM model, imported in one place so that Alembic and the tests see the whole schema."""

from __future__ import annotations

from ems.access.models import BreakGlassAccess, BreakGlassReview, TransportCrew
from ems.audit.models import AuditEntry
from ems.auth.models import ApiToken, Role, User
from ems.cards.models import Card, CardChallenge, CrlHighWater, Device, RecordRelease
from ems.fleet.models import Station, Unit, UnitStatus
from ems.hospital_requests.models import DeclineReason, HospitalRequest, RequestStatus
from ems.hospitals.models import (
    BedAvailability,
    BedCategory,
    Capability,
    DiversionStatus,
    EmergencyLevel,
    Hospital,
)
from ems.idempotency.models import IdempotencyKey
from ems.incidents.models import Incident, IncidentStatus, Urgency
from ems.instructions.models import (
    InstructionDecision,
    InstructionRequest,
    InstructionStatus,
    McDuty,
)
from ems.patients.models import Patient, PatientRecord
from ems.transports.models import Transport, TransportEvent, TransportStatus
from ems.vitals.models import EcgSegment, VitalSigns

__all__ = [
    "ApiToken",
    "AuditEntry",
    "BedAvailability",
    "BedCategory",
    "BreakGlassAccess",
    "BreakGlassReview",
    "Capability",
    "Card",
    "CardChallenge",
    "CrlHighWater",
    "DeclineReason",
    "Device",
    "DiversionStatus",
    "EcgSegment",
    "EmergencyLevel",
    "Hospital",
    "HospitalRequest",
    "IdempotencyKey",
    "Incident",
    "IncidentStatus",
    "InstructionDecision",
    "InstructionRequest",
    "InstructionStatus",
    "McDuty",
    "Patient",
    "PatientRecord",
    "RecordRelease",
    "RequestStatus",
    "Role",
    "Station",
    "Transport",
    "TransportCrew",
    "TransportEvent",
    "TransportStatus",
    "Unit",
    "UnitStatus",
    "Urgency",
    "User",
    "VitalSigns",
]

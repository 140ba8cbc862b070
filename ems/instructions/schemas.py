"""Request and response bodies of the instruction endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ems.instructions.models import InstructionDecision, InstructionStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstructionAsk(_In):
    # Checked against INSTRUCTION_PROCEDURES: an unknown one is 400 unknown_procedure.
    procedure: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=500)


class InstructionAnswer(_In):
    decision: InstructionDecision
    # Dose, route, conditions, or what the doctor needs to know.
    detail: str = Field(default="", max_length=500)


class InstructionQuery(_In):
    status: InstructionStatus | None = None


class InstructionRead(BaseModel):
    id: int
    transport_id: int
    unit_id: int
    unit_call_sign: str
    procedure: str
    note: str
    status: InstructionStatus
    requested_at: dt.datetime
    requested_by_name: str
    escalated_at: dt.datetime | None
    answered_at: dt.datetime | None
    answered_by_name: str
    decision: InstructionDecision | None
    detail: str
    # Seconds from the request to the answer (None while open).
    answer_s: float | None

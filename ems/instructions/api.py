"""JSON endpoints of the doctor's instruction: the crew asks, the MC doctor answers.

Thin views: each parses, checks who is asking, calls ``ems.instructions.service``.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role
from ems.auth.web import current_user
from ems.db import get_session
from ems.instructions import service
from ems.instructions.schemas import (
    InstructionAnswer,
    InstructionAsk,
    InstructionQuery,
    InstructionRead,
)

bp = Blueprint("instructions", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/transports/<int:transport_id>/instruction-requests",
    method="POST",
    body=InstructionAsk,
    response=InstructionRead,
    status=201,
    roles=(Role.PARAMEDIC,),
    summary="Ask medical control for an instruction before a specified procedure",
    errors=(409,),
)
def ask(transport_id: int, body: InstructionAsk) -> InstructionRead:
    return service.ask(
        session=get_session(),
        transport_id=transport_id,
        actor=current_user(),
        ctx=context(),
        procedure=body.procedure,
        note=body.note,
        allowed=service.procedures(current_app.config["INSTRUCTION_PROCEDURES"]),
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>/instruction-requests",
    response=list[InstructionRead],
    roles=(Role.PARAMEDIC, Role.MC_DOCTOR, Role.ER_STAFF, Role.ADMIN),
    summary="A transport's requests for instruction and their answers, oldest first",
)
def for_transport(transport_id: int) -> list[InstructionRead]:
    return service.for_transport(
        session=get_session(), transport_id=transport_id, actor=current_user(), ctx=context()
    )


@endpoint(
    bp,
    "/instruction-requests",
    query=InstructionQuery,
    response=list[InstructionRead],
    roles=(Role.MC_DOCTOR, Role.PARAMEDIC, Role.ER_STAFF, Role.ADMIN),
    summary="Requests for instruction the caller may read, newest first",
)
def list_requests(query: InstructionQuery) -> list[InstructionRead]:
    return service.list_requests(
        session=get_session(), actor=current_user(), ctx=context(), status=query.status
    )


@endpoint(
    bp,
    "/instruction-requests/<int:request_id>/answer",
    method="POST",
    body=InstructionAnswer,
    response=InstructionRead,
    roles=(Role.MC_DOCTOR,),
    summary="The MC doctor's answer; the first answer wins",
    errors=(409,),
)
def answer(request_id: int, body: InstructionAnswer) -> InstructionRead:
    return service.answer(
        session=get_session(),
        request_id=request_id,
        actor=current_user(),
        ctx=context(),
        decision=body.decision,
        detail=body.detail,
    )

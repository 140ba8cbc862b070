"""JSON endpoints of hospital requests: a crew asks several hospitals at once, the ER
lists what is addressed to it and accepts or declines.

Thin views: each parses, checks who is asking, calls ``ems.hospital_requests.service``.
The next round is chosen on the dispatcher's router for this server's region.
"""

from __future__ import annotations

from flask import Blueprint

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role, User
from ems.auth.web import current_user
from ems.db import get_session
from ems.dispatch.api import router
from ems.hospital_requests import ask_ahead, service
from ems.hospital_requests.schemas import (
    AcceptRead,
    AskAheadOutcomeRead,
    DeclineCreate,
    DeclineRead,
    HospitalRequestRead,
    RequestListQuery,
    RequestRoundCreate,
    RequestRoundRead,
)
from ems.transports import flows

bp = Blueprint("hospital_requests", __name__, url_prefix=API_PREFIX)

CREW = (Role.PARAMEDIC, Role.DISPATCHER)


def _on_duty_user(action: str) -> User:
    """The caller, who must be on duty to change operational data (refusal audited)."""
    user = current_user()
    flows.require_on_duty(actor=user, ctx=context(), action=action, target_type="", target_id="")
    return user


@endpoint(
    bp,
    "/transports/<int:transport_id>/hospital-requests",
    method="POST",
    body=RequestRoundCreate,
    response=RequestRoundRead,
    status=201,
    roles=CREW,
    summary="Ask several hospitals at once; the first accept wins",
    errors=(409,),
)
def open_round(transport_id: int, body: RequestRoundCreate) -> RequestRoundRead:
    user = _on_duty_user("hospital_request.open_round")
    return service.open_round(
        session=get_session(),
        transport_id=transport_id,
        router=router(),
        actor=user,
        ctx=context(),
        hospital_ids=body.hospital_ids,
        k=body.k,
    )


@endpoint(
    bp,
    "/hospital-requests",
    query=RequestListQuery,
    response=list[HospitalRequestRead],
    roles=(Role.ER_STAFF, Role.DISPATCHER, Role.PARAMEDIC),
    summary="Hospital requests visible to the caller",
)
def list_requests(query: RequestListQuery) -> list[HospitalRequestRead]:
    return service.list_requests(
        session=get_session(),
        user=current_user(),
        ctx=context(),
        status=query.status,
        transport_id=query.transport_id,
    )


@endpoint(
    bp,
    "/hospital-requests/<int:request_id>/accept",
    method="POST",
    response=AcceptRead,
    roles=(Role.ER_STAFF,),
    summary="Accept the patient (first accept wins; claims a bed)",
    errors=(409,),
)
def accept(request_id: int) -> AcceptRead:
    return service.accept(
        session=get_session(), request_id=request_id, actor=current_user(), ctx=context()
    )


@endpoint(
    bp,
    "/hospital-requests/<int:request_id>/decline",
    method="POST",
    body=DeclineCreate,
    response=DeclineRead,
    roles=(Role.ER_STAFF,),
    summary="Decline; the next round goes out at once when none is left open",
    errors=(409,),
)
def decline(request_id: int, body: DeclineCreate) -> DeclineRead:
    return service.decline(
        session=get_session(),
        request_id=request_id,
        actor=current_user(),
        ctx=context(),
        reason=body.reason,
        note=body.note,
        router=router(),
    )


@endpoint(
    bp,
    "/incidents/<int:incident_id>/ask-ahead",
    method="POST",
    response=RequestRoundRead,
    status=201,
    roles=(Role.DISPATCHER,),
    summary="Ask ahead: the likely hospitals of a time-critical call, while the unit drives",
    errors=(404, 409),
)
def ask_ahead_call(incident_id: int) -> RequestRoundRead:
    return ask_ahead.ask_ahead(
        session=get_session(),
        incident_id=incident_id,
        router=router(),
        actor=current_user(),
        ctx=context(),
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>/ask-ahead/confirm",
    method="POST",
    response=AskAheadOutcomeRead,
    roles=(Role.PARAMEDIC,),
    summary="On scene, the crew confirms the hospitals asked ahead",
    errors=(404, 409),
)
def ask_ahead_confirm(transport_id: int) -> AskAheadOutcomeRead:
    return ask_ahead.confirm(
        session=get_session(), transport_id=transport_id, actor=current_user(), ctx=context()
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>/ask-ahead/withdraw",
    method="POST",
    response=AskAheadOutcomeRead,
    roles=(Role.PARAMEDIC,),
    summary="On scene, the crew withdraws the early requests (the call's guess was wrong)",
    errors=(404, 409),
)
def ask_ahead_withdraw(transport_id: int) -> AskAheadOutcomeRead:
    return ask_ahead.withdraw(
        session=get_session(), transport_id=transport_id, actor=current_user(), ctx=context()
    )

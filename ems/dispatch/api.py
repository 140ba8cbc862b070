"""JSON endpoints of dispatch: unit recommendations and assignment, hospital
recommendations, the hospital-request lifecycle and mass-casualty allocation.

Thin views: each parses, checks who is asking, calls ``ems.dispatch.service``.
The optimizer runs in the request thread (no event loop here).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role, User
from ems.auth.service import current_user
from ems.db import get_session
from ems.dispatch import routing, service
from ems.dispatch.region import DEFAULT_REGION, region_dir
from ems.dispatch.schemas import (
    AcceptRead,
    AssignmentPlanRead,
    AssignPendingCreate,
    DeclineCreate,
    DeclineRead,
    HospitalRecommendationsRead,
    HospitalRequestRead,
    MciCreate,
    MciRead,
    RequestListQuery,
    RequestRoundCreate,
    RequestRoundRead,
    UnitRecommendationQuery,
    UnitRecommendationRead,
)
from ems.transports import flows

bp = Blueprint("dispatch", __name__, url_prefix=API_PREFIX)

DISPATCH = (Role.DISPATCHER,)
CREW = (Role.PARAMEDIC, Role.DISPATCHER)


def _on_duty_user(action: str) -> User:
    """The caller, who must be on duty to change operational data (refusal audited)."""
    user = current_user()
    flows.require_on_duty(actor=user, ctx=context(), action=action, target_type="", target_id="")
    return user


def router() -> routing.Router:
    base = current_app.config["REGION_DIR"]
    key = current_app.config.get("REGION", DEFAULT_REGION)
    return routing.router_for(Path(region_dir(base, key)))


@endpoint(
    bp,
    "/dispatch/unit-recommendations",
    query=UnitRecommendationQuery,
    response=list[UnitRecommendationRead],
    roles=DISPATCH,
    summary="Available units ranked by ETA to an incident",
)
def unit_recommendations(query: UnitRecommendationQuery) -> list[UnitRecommendationRead]:
    return service.unit_recommendations(
        session=get_session(), incident_id=query.incident_id, router=router(), actor=current_user()
    )


@endpoint(
    bp,
    "/dispatch/assign-pending",
    method="POST",
    body=AssignPendingCreate,
    response=AssignmentPlanRead,
    roles=DISPATCH,
    summary="Optimal assignment of pending incidents to available units",
    errors=(409,),
)
def assign_pending(body: AssignPendingCreate) -> AssignmentPlanRead:
    user = _on_duty_user("dispatch.assign_pending")
    return service.assign_pending(
        session=get_session(), router=router(), actor=user, ctx=context(), apply=body.apply
    )


@endpoint(
    bp,
    "/transports/<int:transport_id>/hospital-recommendations",
    response=HospitalRecommendationsRead,
    roles=CREW,
    summary="Hospitals ranked for this patient, with ETA, reasons and exclusions",
)
def hospital_recommendations(transport_id: int) -> HospitalRecommendationsRead:
    return service.hospital_recommendations(
        session=get_session(),
        transport_id=transport_id,
        router=router(),
        actor=current_user(),
        ctx=context(),
    )


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
    "/dispatch/mci",
    method="POST",
    body=MciCreate,
    response=MciRead,
    roles=DISPATCH,
    summary="Mass-casualty allocation of patients to hospitals under surge capacity",
    errors=(409,),
)
def mass_casualty(body: MciCreate) -> MciRead:
    user = _on_duty_user("dispatch.mci")
    return service.mass_casualty(session=get_session(), body=body, router=router(), actor=user)

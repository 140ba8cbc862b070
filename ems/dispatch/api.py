"""JSON endpoints of dispatch: unit recommendations and assignment, hospital
recommendations and mass-casualty allocation (the requests sent to hospitals are
``ems.hospital_requests.api``).

Thin views: each parses, checks who is asking, calls ``ems.dispatch.service``.
The optimizer runs in the request thread (no event loop here).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth.models import Role, User
from ems.auth.web import current_user
from ems.db import get_session
from ems.dispatch import moveup, routing, service
from ems.dispatch.region import DEFAULT_REGION, load_region, region_dir
from ems.dispatch.schemas import (
    AssignmentPlanRead,
    AssignPendingCreate,
    HospitalRecommendationQuery,
    HospitalRecommendationsRead,
    MciCreate,
    MciRead,
    MoveUpAppliedRead,
    MoveUpApply,
    MoveUpRead,
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
    """The router of this server's region (the hospital-request endpoints use it too)."""
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
    query=HospitalRecommendationQuery,
    response=HospitalRecommendationsRead,
    roles=CREW,
    summary=(
        "Hospitals ranked for this patient, with ETA, reasons and exclusions "
        "(scope=all: every hospital open to ambulances, to choose by hand)"
    ),
)
def hospital_recommendations(
    transport_id: int, query: HospitalRecommendationQuery
) -> HospitalRecommendationsRead:
    return service.hospital_recommendations(
        session=get_session(),
        transport_id=transport_id,
        router=router(),
        actor=current_user(),
        ctx=context(),
        scope=query.scope,
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


def demand() -> list[moveup.DemandPoint]:
    """The region's towns weighted by population: where the calls come from."""
    try:
        pack = load_region(current_app.config.get("REGION", DEFAULT_REGION))
    except FileNotFoundError:
        return []
    return [moveup.DemandPoint(t["lat"], t["lon"], float(t["population"])) for t in pack.towns]


@endpoint(
    bp,
    "/dispatch/move-up",
    response=MoveUpRead,
    roles=DISPATCH,
    summary="Move-up: idle units to move into coverage gaps, with the coverage each gains",
)
def move_up_suggestions() -> MoveUpRead:
    return moveup.suggestions(session=get_session(), router=router(), demand=demand())


@endpoint(
    bp,
    "/dispatch/move-up",
    method="POST",
    body=MoveUpApply,
    response=MoveUpAppliedRead,
    roles=DISPATCH,
    summary="Apply one move-up suggestion: the unit is posted at the station (stays available)",
    errors=(404, 409),
)
def move_up_apply(body: MoveUpApply) -> MoveUpAppliedRead:
    return moveup.apply(
        session=get_session(),
        router=router(),
        actor=current_user(),
        ctx=context(),
        demand=demand(),
        body=body,
    )

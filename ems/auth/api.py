"""Login and account endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ems.api import API_PREFIX, endpoint
from ems.audit import service as audit
from ems.auth import service
from ems.auth.models import Role, User
from ems.auth.schemas import DutyUpdate, TokenCreate, TokenRead, UserCreate, UserRead
from ems.db import get_session
from ems.errors import NotFound
from ems.ratelimit import limit

bp = Blueprint("auth", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/auth/token",
    method="POST",
    body=TokenCreate,
    response=TokenRead,
    status=201,
    roles=(),
    summary="Exchange a username and password for a bearer token",
    errors=(401, 429),
)
def create_token(*, body: TokenCreate) -> TokenRead:
    limit("login", f"{request.remote_addr}:{body.username}", per_minute_key="LOGIN_RATE_PER_MIN")
    session = get_session()
    user = service.authenticate(session=session, username=body.username, password=body.password)
    token, row = service.issue_token(session=session, user=user, ttl_s=service.token_ttl())
    audit.record(
        session=session, actor=user, action="auth.login", target_type="user", target_id=str(user.id)
    )
    return TokenRead(
        access_token=token, expires_at=row.expires_at, user=UserRead.model_validate(user)
    )


@endpoint(bp, "/auth/token", method="DELETE", status=204, summary="Revoke the caller's token")
def delete_token() -> None:
    token = service.bearer_token()
    if token:
        service.revoke_token(session=get_session(), token=token)


@endpoint(bp, "/auth/me", response=UserRead, summary="The caller's account")
def me() -> UserRead:
    return UserRead.model_validate(service.current_user())


@endpoint(
    bp,
    "/users",
    method="POST",
    body=UserCreate,
    response=UserRead,
    status=201,
    roles=(Role.ADMIN,),
    summary="Create a staff account",
    errors=(404, 409),
)
def create_user(*, body: UserCreate) -> UserRead:
    session = get_session()
    user = service.create_user(session=session, **body.model_dump())
    audit.record(
        session=session,
        actor=service.current_user(),
        action="user.create",
        target_type="user",
        target_id=str(user.id),
        detail={"role": user.role.value},
    )
    return UserRead.model_validate(user)


@endpoint(
    bp,
    "/users/<int:user_id>/duty",
    method="PUT",
    body=DutyUpdate,
    response=UserRead,
    roles=(Role.ADMIN, Role.DISPATCHER),
    summary="Put a staff member on or off duty",
)
def set_duty(*, user_id: int, body: DutyUpdate) -> Any:
    session = get_session()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    actor = service.current_user()
    if actor.role is not Role.ADMIN and actor.id != user.id:
        from ems.errors import Forbidden

        raise Forbidden("only an admin may change another account's duty", code="forbidden")
    user.on_duty = body.on_duty
    audit.record(
        session=session,
        actor=actor,
        action="user.duty",
        target_type="user",
        target_id=str(user.id),
        detail={"on_duty": body.on_duty},
    )
    return UserRead.model_validate(user)

"""Login and account endpoints."""

from __future__ import annotations

from flask import Blueprint, request

from ems.access.web import context
from ems.api import API_PREFIX, endpoint
from ems.auth import lockout, service
from ems.auth.models import Role
from ems.auth.schemas import DutyUpdate, TokenCreate, TokenRead, UserCreate, UserRead
from ems.auth.web import bearer_token, current_user
from ems.db import get_session
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
    token, row, user = service.login(
        session=get_session(),
        username=body.username,
        password=body.password,
        ctx=context(),
        ttl_s=service.token_ttl(),
        lockout=lockout.store(),
    )
    return TokenRead(
        access_token=token, expires_at=row.expires_at, user=UserRead.model_validate(user)
    )


@endpoint(bp, "/auth/token", method="DELETE", status=204, summary="Revoke the caller's token")
def delete_token() -> None:
    token = bearer_token()
    if token:
        service.revoke_token(session=get_session(), token=token)


@endpoint(bp, "/auth/me", response=UserRead, summary="The caller's account")
def me() -> UserRead:
    return UserRead.model_validate(current_user())


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
    user = service.create_account(session=get_session(), actor=current_user(), **body.model_dump())
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
def set_duty(*, user_id: int, body: DutyUpdate) -> UserRead:
    user = service.set_duty(
        session=get_session(),
        actor=current_user(),
        ctx=context(),
        user_id=user_id,
        on_duty=body.on_duty,
    )
    return UserRead.model_validate(user)

"""Accounts, passwords, bearer tokens and the role checks every endpoint relies on."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ems.access import guard
from ems.access.guard import Context, Denial
from ems.audit import service as audit
from ems.auth.lockout import Store as LockoutStore
from ems.auth.models import ApiToken, Role, User
from ems.db import utcnow
from ems.errors import (
    Conflict,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from ems.fleet.models import Unit
from ems.hospitals.models import Hospital

# Checked against when the username is unknown, so that timing does not reveal it.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    unit_id: int | None = None,
    hospital_id: int | None = None,
) -> User:
    if role is Role.PARAMEDIC and unit_id is None:
        raise ValidationFailed("a paramedic account is bound to a unit", code="unit_required")
    if role in (Role.ER_STAFF, Role.MC_DOCTOR) and hospital_id is None:
        raise ValidationFailed(
            "an ER staff or MC doctor account is bound to a hospital", code="hospital_required"
        )
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise NotFound(f"unit {unit_id} does not exist", code="unit_not_found")
    if hospital_id is not None and session.get(Hospital, hospital_id) is None:
        raise NotFound(f"hospital {hospital_id} does not exist", code="hospital_not_found")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    user = User(
        username=username,
        password_hash=generate_password_hash(password),
        role=role,
        display_name=display_name or username,
        unit_id=unit_id if role is Role.PARAMEDIC else None,
        hospital_id=hospital_id if role in (Role.ER_STAFF, Role.MC_DOCTOR) else None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthenticated("wrong username or password", code="invalid_credentials")
    if not check_password_hash(user.password_hash, password):
        raise Unauthenticated("wrong username or password", code="invalid_credentials")
    return user


def issue_token(*, session: Session, user: User, ttl_s: int) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=hash_token(token),
        user_id=user.id,
        expires_at=utcnow() + dt.timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    return token, row


def user_for_token(*, session: Session, token: str) -> User:
    # One round trip: every authenticated request starts here.
    found = session.execute(
        select(User, ApiToken.revoked, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if found is None or found.revoked or found.expires_at <= utcnow():
        raise Unauthenticated("the token is unknown, revoked or expired", code="invalid_token")
    user: User = found.User
    if not user.active:
        raise Unauthenticated("the account is disabled", code="invalid_token")
    return user


def revoke_token(*, session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is not None:
        row.revoked = True


def token_ttl() -> int:
    return int(current_app.config["TOKEN_TTL_S"])


def _deny_login(
    *,
    session: Session,
    ctx: Context,
    username: str,
    code: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """A refused login, for the audit log (through the context's sink: written after
    the request's rollback)."""
    if ctx.on_denial is None:
        return
    user_id = session.scalar(select(User.id).where(User.username == username))
    ctx.on_denial(
        Denial(
            actor_id=None,
            action="auth.login",
            code=code,
            target_type="user",
            target_id=str(user_id) if user_id is not None else "",
            patient_id=None,
            detail={"code": code, "username": username[:64], **(detail or {})},
        )
    )


# --- use cases -----------------------------------------------------------------------------


def login(
    *,
    session: Session,
    username: str,
    password: str,
    ctx: Context,
    ttl_s: int,
    lockout: LockoutStore | None = None,
) -> tuple[str, ApiToken, User]:
    """Exchange a password for a bearer token; the login is on record, and so is every
    refused one (by username: the password is never written anywhere). An account
    locked after failed logins (``ems.auth.lockout``) is refused before its password
    is checked."""
    if lockout is not None:
        wait_s = lockout.locked_for(username)
        if wait_s > 0:
            _deny_login(session=session, ctx=ctx, username=username, code="account_locked")
            raise RateLimited(
                "too many failed sign-ins for this account; wait before trying again",
                code="account_locked",
                extra={"retry_after_s": max(1, math.ceil(wait_s))},
            )
    try:
        user = authenticate(session=session, username=username, password=password)
    except Unauthenticated as err:
        failures, delay = lockout.fail(username) if lockout is not None else (0, 0)
        _deny_login(
            session=session,
            ctx=ctx,
            username=username,
            code=err.code,
            detail={"failures": failures, "locked_s": delay} if lockout is not None else {},
        )
        raise
    if lockout is not None:
        lockout.reset(username)
    token, row = issue_token(session=session, user=user, ttl_s=ttl_s)
    audit.record(
        session=session, actor=user, action="auth.login", target_type="user", target_id=str(user.id)
    )
    return token, row, user


def create_account(*, session: Session, actor: User, **fields: Any) -> User:
    user = create_user(session=session, **fields)
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=str(user.id),
        detail={"role": user.role.value},
    )
    return user


def set_duty(*, session: Session, actor: User, ctx: Context, user_id: int, on_duty: bool) -> User:
    """Anyone may go on or off duty themselves; an admin may change anyone's duty."""
    user = session.get(User, user_id) if 0 < user_id <= 2**31 - 1 else None
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    if actor.role is not Role.ADMIN and actor.id != user.id:
        guard.refuse(
            ctx,
            actor=actor,
            action="user.duty",
            code="forbidden",
            target_type="user",
            target_id=str(user_id),
            detail="only an admin may change another account's duty",
        )
    user.on_duty = on_duty
    audit.record(
        session=session,
        actor=actor,
        action="user.duty",
        target_type="user",
        target_id=str(user.id),
        detail={"on_duty": on_duty},
    )
    return user

"""The caller of the current HTTP request: its bearer token and the account behind it.

Views and the ``endpoint`` decorator ask here; the services below them receive the
account (the principal) as an argument and never read ``flask.g`` or ``request``."""

from __future__ import annotations

from collections.abc import Sequence

from flask import g, request

from ems.auth.models import Role, User
from ems.auth.service import user_for_token
from ems.db import get_session
from ems.errors import Forbidden, Unauthenticated


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_user() -> User:
    user: User | None = g.get("user")
    if user is None:
        raise Unauthenticated()
    return user


def require_user(roles: Sequence[Role] | None = None) -> User:
    """Authenticate the request and check the caller's role (``None``: any role)."""
    user: User | None = g.get("user")
    if user is None:
        token = bearer_token()
        if token is None:
            raise Unauthenticated("send 'Authorization: Bearer <token>'")
        user = user_for_token(session=get_session(), token=token)
        g.user = user
    if roles is not None and user.role not in roles and user.role is not Role.ADMIN:
        raise Forbidden(f"the {user.role.value} role may not do this", code="role_forbidden")
    return user

"""The application's database role may add to the audit log, never rewrite it.

On PostgreSQL, revision 0006 creates ``ems_app`` with every right on the operational
tables but only SELECT and INSERT on ``audit_log`` and ``audit_checkpoints``; the
server logs in as a member of it. ``ems audit verify`` asks the database whether
that still holds (SQLite has no roles: nothing to check).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

APP_ROLE = "ems_app"
APPEND_ONLY = ("audit_log", "audit_checkpoints")
FORBIDDEN = ("UPDATE", "DELETE", "TRUNCATE")
NEEDED = ("SELECT", "INSERT")


def role_problems(*, session: Session, role: str = APP_ROLE) -> list[str]:
    """What is wrong with ``role``'s rights on the audit tables (empty: all is well)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    exists = session.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if exists is None:
        return [f"the role {role} does not exist (run `ems db upgrade`)"]
    problems = []
    for table in APPEND_ONLY:
        for privilege in (*FORBIDDEN, *NEEDED):
            held = session.scalar(
                text("SELECT has_table_privilege(:r, :t, :p)"),
                {"r": role, "t": table, "p": privilege},
            )
            if privilege in FORBIDDEN and held:
                problems.append(f"{role} may {privilege} {table}")
            if privilege in NEEDED and not held:
                problems.append(f"{role} may not {privilege} {table}")
    return problems


def connected_as_app_role(*, session: Session, role: str = APP_ROLE) -> bool | None:
    """Whether this connection's user acts through ``role`` and cannot rewrite the audit
    log itself (None on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    can_rewrite = session.scalar(
        text("SELECT has_table_privilege(current_user, 'audit_log', 'UPDATE')")
    )
    member = session.scalar(text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": role})
    return bool(member) and not can_rewrite

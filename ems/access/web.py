"""The access context of the current HTTP request: the one place that turns Flask's
request state into what use cases receive."""

from __future__ import annotations

from flask import current_app

from ems.access.guard import Context, Denial
from ems.audit import web as audit


def _note(denial: Denial) -> None:
    # Written by the error handler after the refused request's rollback.
    audit.deny_raw(
        actor_id=denial.actor_id,
        action=denial.action,
        code=denial.code,
        target_type=denial.target_type,
        target_id=denial.target_id,
        patient_id=denial.patient_id,
        detail=denial.detail,
    )


def context() -> Context:
    return Context(grace_s=float(current_app.config["RECORD_GRACE_S"]), on_denial=_note)

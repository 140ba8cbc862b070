"""Hostile input over the whole API: schemathesis generates requests from the
OpenAPI document at ``/api/v1/openapi.json`` (valid and invalid bodies, queries and
path ids) and sends them with an admin's token; no answer may be a server error.

The run is bounded (few examples per operation and mode, derandomized) so that it
fits in ``make test``; ``EMS_FUZZ_EXAMPLES=200 pytest tests/ems/test_schemathesis.py``
runs a longer one. Every failing request is listed, not only the first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel
from sqlalchemy import select

from ems.auth.models import Role, User
from ems.auth.service import issue_token
from ems.db import get_db
from tests.factories import make_hospital, make_unit, make_user

MAX_EXAMPLES = int(os.environ.get("EMS_FUZZ_EXAMPLES", "6"))


@dataclass(frozen=True)
class ServerError:
    method: str
    path: str
    status: int
    request: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}\n    {self.request}"


def _arrange(app: Flask) -> None:
    # A little data so that small generated ids hit real rows.
    unit_id = make_unit(app)
    hospital_id = make_hospital(app)
    make_user(app, role=Role.ADMIN, username="fuzz-admin")
    make_user(app, role=Role.PARAMEDIC, username="fuzz-medic", unit_id=unit_id)
    make_user(app, role=Role.ER_STAFF, username="fuzz-er", hospital_id=hospital_id)


def fresh_admin_token(app: Flask) -> str:
    """A new token for an on-duty admin before every case: a generated request may
    have revoked the previous token or put the account off duty."""
    with app.app_context(), get_db(app).session_scope() as s:
        user = s.scalars(select(User).where(User.username == "fuzz-admin")).one()
        user.on_duty = True
        user.active = True
        token, _ = issue_token(session=s, user=user, ttl_s=3600)
        return token


def _integer_fields(model: type[BaseModel]) -> set[str]:
    props = model.model_json_schema().get("properties", {})
    return {
        name
        for name, prop in props.items()
        if prop.get("type") == "integer"
        or any(alt.get("type") == "integer" for alt in prop.get("anyOf", []))
    }


def edge_values(body: dict[str, Any], model: type[BaseModel] | None) -> Iterator[dict[str, Any]]:
    """The same valid body with its integers pushed past the database's range and
    its strings carrying a NUL byte: values a schema allows but a column may not."""
    int_fields = _integer_fields(model) if model is not None else set()
    int_fields |= {k for k, v in body.items() if isinstance(v, int) and not isinstance(v, bool)}
    if int_fields:
        yield {**body, **dict.fromkeys(int_fields, 2**63)}
    strs = {k: v + "\x00" for k, v in body.items() if isinstance(v, str)}
    if strs:
        yield {**body, **strs}


def _body_models() -> dict[tuple[str, str], type[BaseModel]]:
    from ems.api import ROUTES

    return {
        (r.method.upper(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)): r.body
        for r in ROUTES
        if r.body is not None
    }


def fuzz(app: Flask, max_examples: int = MAX_EXAMPLES) -> tuple[int, list[ServerError]]:
    """Run every operation in both generation modes; return (cases sent, 5xx found)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    found: list[ServerError] = []
    sent = 0
    models = _body_models()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def send(case: schemathesis.Case) -> None:
                nonlocal sent
                bodies = [case.body]
                if isinstance(case.body, dict):
                    model = models.get((case.method.upper(), case.operation.path))
                    bodies += list(edge_values(case.body, model))
                for body in bodies:
                    case.body = body
                    # The generated Authorization header would stop every case at 401;
                    # refusals are the authorization matrix's subject, not this one's.
                    headers = dict(case.headers or {})
                    headers["Authorization"] = f"Bearer {fresh_admin_token(app)}"
                    response = case.call(headers=headers)
                    sent += 1
                    if response.status_code >= 500 and len(found) < 50:
                        found.append(
                            ServerError(
                                case.method,
                                case.formatted_path,
                                response.status_code,
                                f"path={case.path_parameters} query={case.query} body={body!r}",
                            )
                        )

            send()
    return sent, found


def test_no_generated_request_gets_a_server_error(app: Flask) -> None:
    _arrange(app)
    sent, found = fuzz(app)
    assert sent > 0
    assert not found, "server errors:\n" + "\n".join(str(e) for e in found)


def test_the_openapi_document_loads_and_lists_every_route(app: Flask) -> None:
    from ems.api import ROUTES

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    declared = {(r.method.upper(), r.rule) for r in ROUTES}
    assert len(operations) == len(declared)
    assert any(op.path == "/api/v1/auth/token" for op in operations)

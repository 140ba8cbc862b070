"""Hostile request bodies on every endpoint that takes one: nested absurdly deep,
larger than the limit, or streamed chunked with no Content-Length. Each gets a
clean 4xx problem+json with a stable code, nothing is written, and on the card
endpoints the refusal is still in the audit log."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ems.api import MAX_JSON_DEPTH, ROUTES, Route
from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.cards.api import AUDITED_ACTIONS, CARD_AUTH_MAX_BODY
from ems.db import Base, get_db
from ems.incidents.models import Incident
from tests.factories import Api, make_transport, make_unit

DEEP = b"[" * 10_000 + b"]" * 10_000


def _body_routes() -> list[Route]:
    """Routes are declared as the app registers its blueprints: ask after ``app``."""
    return [r for r in ROUTES if r.body is not None]


def _card_routes(app: Flask) -> list[tuple[Route, str]]:
    """The body routes whose refusals the cards blueprint audits, with the action."""
    actions = {
        (rule.rule, method): AUDITED_ACTIONS[rule.endpoint.removeprefix("cards.")]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.removeprefix("cards.") in AUDITED_ACTIONS
        for method in rule.methods or ()
    }
    return [(r, actions[r.rule, r.method]) for r in _body_routes() if (r.rule, r.method) in actions]


def _url(rule: str) -> str:
    return re.sub(r"<int:\w+>", "1", re.sub(r"<(?!int:)(?:\w+:)?\w+>", "x", rule))


def _row_counts(app: Flask) -> dict[str, int]:
    with app.app_context(), get_db(app).session_scope() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def _denials(app: Flask) -> list[AuditEntry]:
    with app.app_context(), get_db(app).session_scope() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
            )
        )


def _send(api: Api, route: Route, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {api.token}", **kw.pop("headers", {})}
    return api.client.open(_url(route.rule), method=route.method, headers=headers, **kw)


def _chunked(data: bytes) -> dict[str, Any]:
    """A body streamed chunked, with no Content-Length, from a server that
    de-chunks it (gunicorn and werkzeug's own server mark that stream terminated)."""
    return {
        "input_stream": io.BytesIO(data),
        "headers": {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        "environ_overrides": {"wsgi.input_terminated": True},
    }


def _assert_problem(resp: Any, status: int, code: str, route: Route) -> None:
    where = (route.method, route.rule, resp.status_code, resp.get_data(as_text=True)[:200])
    assert resp.status_code == status, where
    assert resp.mimetype == "application/problem+json", where
    assert resp.get_json()["code"] == code, where


@pytest.fixture
def admin(as_role: Callable[..., Api]) -> Api:
    """Admin passes every role check: each request reaches the body."""
    return as_role(Role.ADMIN)


@pytest.fixture
def dispatcher(as_role: Callable[..., Api]) -> Api:
    return as_role(Role.DISPATCHER)


@pytest.fixture
def unchanged(app: Flask) -> Iterator[None]:
    """The test's requests write nothing but the audit log's denied entries."""
    before = _row_counts(app)
    denied_before = len(_denials(app))
    yield
    after = _row_counts(app)
    denied_after = len(_denials(app))
    assert after["audit_log"] - before["audit_log"] == denied_after - denied_before
    del before["audit_log"], after["audit_log"]
    assert after == before


def test_every_body_route_is_covered(app: Flask) -> None:
    assert len(_body_routes()) > 10
    assert {r.rule for r, _ in _card_routes(app)} >= {
        "/api/v1/card-auth/challenges",
        "/api/v1/card-auth/verifications",
    }


def test_deeply_nested_bodies_are_malformed_json_everywhere(
    app: Flask, admin: Api, unchanged: None
) -> None:
    for route in _body_routes():
        resp = _send(admin, route, data=DEEP, content_type="application/json")
        _assert_problem(resp, 400, "malformed_json", route)


def test_nesting_up_to_the_limit_is_parsed_and_beyond_it_is_refused(
    app: Flask, dispatcher: Api, unchanged: None
) -> None:
    route = next(r for r in _body_routes() if r.rule == "/api/v1/incidents")
    # Brackets inside strings are text, not nesting.
    text = '"' + "[{" * 1000 + '\\"]"'
    inner = MAX_JSON_DEPTH - 1
    ok = '{"chief_complaint": ' + text + ', "x": ' + "[" * inner + "]" * inner + "}"
    resp = _send(dispatcher, route, data=ok, content_type="application/json")
    _assert_problem(resp, 400, "validation_error", route)  # parsed: the schema refuses it
    deep = inner + 1
    too_deep = '{"x": ' + "[" * deep + "]" * deep + "}"
    resp = _send(dispatcher, route, data=too_deep, content_type="application/json")
    _assert_problem(resp, 400, "malformed_json", route)


def test_oversized_bodies_are_payload_too_large_everywhere(
    app: Flask, admin: Api, unchanged: None
) -> None:
    body = b'{"x": "' + b"a" * int(app.config["MAX_CONTENT_LENGTH"]) + b'"}'
    for route in _body_routes():
        resp = _send(admin, route, data=body, content_type="application/json")
        _assert_problem(resp, 413, "payload_too_large", route)


def test_oversized_chunked_bodies_are_payload_too_large_everywhere(
    app: Flask, admin: Api, unchanged: None
) -> None:
    body = b'{"x": "' + b"a" * int(app.config["MAX_CONTENT_LENGTH"]) + b'"}'
    for route in _body_routes():
        resp = _send(admin, route, **_chunked(body))
        _assert_problem(resp, 413, "payload_too_large", route)


def test_deeply_nested_chunked_bodies_are_malformed_json(
    app: Flask, admin: Api, unchanged: None
) -> None:
    for route in _body_routes():
        resp = _send(admin, route, **_chunked(DEEP))
        _assert_problem(resp, 400, "malformed_json", route)


INCIDENT = {"lat": 35.0, "lon": 135.0, "urgency": "serious", "chief_complaint": "胸痛"}


def test_a_small_chunked_body_is_accepted_like_any_other(app: Flask, dispatcher: Api) -> None:
    route = next(r for r in _body_routes() if r.rule == "/api/v1/incidents")
    resp = _send(dispatcher, route, **_chunked(json.dumps(INCIDENT, ensure_ascii=False).encode()))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["chief_complaint"] == "胸痛"
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_a_chunked_body_one_byte_over_the_limit_is_not_cut_to_fit(
    app: Flask, dispatcher: Api
) -> None:
    """Padded with spaces, the body still parses when cut at the limit: it must be
    refused, not recorded from its first MAX_CONTENT_LENGTH bytes."""
    route = next(r for r in _body_routes() if r.rule == "/api/v1/incidents")
    limit = int(app.config["MAX_CONTENT_LENGTH"])
    body = json.dumps(INCIDENT).encode()
    resp = _send(dispatcher, route, **_chunked(body.ljust(limit + 1)))
    _assert_problem(resp, 413, "payload_too_large", route)
    resp = _send(dispatcher, route, **_chunked(body.ljust(limit)))
    assert resp.status_code == 201, resp.get_json()
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.fixture
def transport_id(app: Flask) -> int:
    return make_transport(app, unit_id=make_unit(app))


CARD_OVERSIZED = b'{"a": "' + b"a" * CARD_AUTH_MAX_BODY + b'"}'


@pytest.mark.parametrize(
    ("chunked", "data", "status", "code"),
    [
        pytest.param(False, DEEP, 400, "malformed_json", id="deep"),
        pytest.param(False, b"[" * 200, 400, "malformed_json", id="deep-unclosed"),
        pytest.param(False, b"{not json", 400, "malformed_json", id="malformed"),
        pytest.param(False, CARD_OVERSIZED, 413, "payload_too_large", id="oversized"),
        pytest.param(True, CARD_OVERSIZED, 413, "payload_too_large", id="chunked-oversized"),
        pytest.param(True, DEEP, 400, "malformed_json", id="chunked-deep"),
    ],
)
def test_hostile_card_bodies_are_refused_and_audited(
    app: Flask,
    admin: Api,
    unchanged: None,
    chunked: bool,
    data: bytes,
    status: int,
    code: str,
) -> None:
    for route, action in _card_routes(app):
        kw = _chunked(data) if chunked else {"data": data, "content_type": "application/json"}
        before = len(_denials(app))
        resp = _send(admin, route, **kw)
        _assert_problem(resp, status, code, route)
        new = _denials(app)[before:]
        assert len(new) == 1, (route.rule, new)
        assert new[0].actor_id == admin.user_id
        assert new[0].action == action
        assert new[0].detail["code"] == code


def test_a_refused_card_request_is_audited_with_the_transport_from_its_body(
    app: Flask, dispatcher: Api, transport_id: int, unchanged: None
) -> None:
    resp = dispatcher.post("/api/v1/card-auth/challenges", json={"transport_id": transport_id})
    assert resp.status_code == 403
    (entry,) = _denials(app)[-1:]
    assert entry.action == "card_auth.challenge"
    assert (entry.target_type, entry.target_id) == ("transport", str(transport_id))
    assert entry.detail["code"] == "role_forbidden"

"""Retried writes with an Idempotency-Key: a replay answers like the first attempt
and writes nothing; a reused key with another body, a malformed key and another
user's key are told apart; failures are not remembered; old keys expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, update

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.db import get_db
from ems.idempotency.models import IdempotencyKey
from ems.incidents.models import Incident
from ems.transports.models import Transport
from tests.ems.transports.scenario import incident_body, new_incident
from tests.factories import Api, make_unit

URL = "/api/v1/incidents"


def _count(app: Flask, model: type[Any]) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_a_retried_call_is_recorded_once(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    first = api.post(URL, json=incident_body(), headers=_key("console-3:0001"))
    again = api.post(URL, json=incident_body(), headers=_key("console-3:0001"))
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(app, Incident) == 1
    # Without a key every POST is a new call, as before.
    assert api.post(URL, json=incident_body()).status_code == 201
    assert _count(app, Incident) == 2


def test_the_same_body_in_another_key_order_is_the_same_request(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    api = as_role(Role.DISPATCHER)
    body = incident_body()
    assert api.post(URL, json=body, headers=_key("k")).status_code == 201
    reordered = dict(reversed(list(body.items())))
    assert api.post(URL, json=reordered, headers=_key("k")).headers["Idempotent-Replayed"]
    assert _count(app, Incident) == 1


def test_a_key_reused_for_another_request_is_refused(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    api = as_role(Role.DISPATCHER)
    assert api.post(URL, json=incident_body(), headers=_key("tablet-1")).status_code == 201
    other = api.post(URL, json=incident_body(urgency="minor"), headers=_key("tablet-1"))
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_reused"
    incident_id = api.get(URL).get_json()[0]["id"]
    elsewhere = api.post(f"{URL}/{incident_id}/cancel", headers=_key("tablet-1"))
    assert elsewhere.status_code == 422
    assert _count(app, Incident) == 1
    assert api.get(f"{URL}/{incident_id}").get_json()["status"] == "pending"


def test_keys_belong_to_one_user(app: Flask, as_role: Callable[..., Api]) -> None:
    d1, d2 = as_role(Role.DISPATCHER), as_role(Role.DISPATCHER)
    r1 = d1.post(URL, json=incident_body(), headers=_key("retry-1"))
    r2 = d2.post(URL, json=incident_body(), headers=_key("retry-1"))
    assert r1.status_code == r2.status_code == 201
    assert "Idempotent-Replayed" not in r2.headers
    assert r1.get_json()["id"] != r2.get_json()["id"]
    assert r2.get_json()["created_by"] == d2.user_id
    assert _count(app, Incident) == 2


@pytest.mark.parametrize("bad", ["", "x" * 65, "has space", "キー", "a/b", "a;b"])
def test_a_malformed_key_is_refused_before_anything_is_written(
    app: Flask, as_role: Callable[..., Api], bad: str
) -> None:
    resp = as_role(Role.DISPATCHER).post(URL, json=incident_body(), headers=_key(bad))
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "invalid_idempotency_key"
    assert _count(app, Incident) == 0


def test_the_longest_allowed_key_works(app: Flask, as_role: Callable[..., Api]) -> None:
    key = "A-z_0.9:" * 8
    api = as_role(Role.DISPATCHER)
    assert api.post(URL, json=incident_body(), headers=_key(key)).status_code == 201
    assert api.post(URL, json=incident_body(), headers=_key(key)).headers["Idempotent-Replayed"]


def test_a_refused_request_is_not_remembered(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    bad = api.post(URL, json=incident_body(lat=91.0), headers=_key("fix-and-retry"))
    assert bad.status_code == 400
    assert _count(app, IdempotencyKey) == 0
    # The same key with the body corrected is a first attempt, not a reuse.
    good = api.post(URL, json=incident_body(), headers=_key("fix-and-retry"))
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers
    assert _count(app, Incident) == 1


def test_a_conflict_is_not_remembered_and_the_retry_runs(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    api = as_role(Role.DISPATCHER)
    unit = make_unit(app)
    busy_with = new_incident(api)
    target = new_incident(api)
    assert api.post(f"{URL}/{busy_with}/assign", json={"unit_id": unit}).status_code == 201
    refused = api.post(f"{URL}/{target}/assign", json={"unit_id": unit}, headers=_key("as-1"))
    assert refused.status_code == 409
    # The first call is cancelled, the unit is free again: the console's retry goes through.
    assert api.post(f"{URL}/{busy_with}/cancel").status_code == 200
    retried = api.post(f"{URL}/{target}/assign", json={"unit_id": unit}, headers=_key("as-1"))
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers


def test_an_assignment_retried_after_success_returns_the_same_transport(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    api = as_role(Role.DISPATCHER)
    unit = make_unit(app)
    incident = new_incident(api)
    url = f"{URL}/{incident}/assign"
    first = api.post(url, json={"unit_id": unit}, headers=_key("assign-77"))
    # Without the key the retry would be refused: the unit is no longer available.
    again = api.post(url, json={"unit_id": unit}, headers=_key("assign-77"))
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _count(app, Transport) == 1
    plain = api.post(url, json={"unit_id": unit})
    assert plain.status_code == 409


def test_a_replay_is_on_the_audit_record(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    api.post(URL, json=incident_body(), headers=_key("audited"))
    api.post(URL, json=incident_body(), headers=_key("audited"))
    with app.app_context(), get_db(app).session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "request.replay")))
    assert len(entries) == 1
    assert entries[0].actor_id == api.user_id


def test_reads_and_the_login_ignore_the_header(app: Flask, as_role: Callable[..., Api]) -> None:
    api = as_role(Role.DISPATCHER)
    assert api.get(URL, headers=_key("not checked here!")).status_code == 200
    assert _count(app, IdempotencyKey) == 0


def test_an_expired_key_starts_afresh_and_is_purged(
    app: Flask, as_role: Callable[..., Api], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = as_role(Role.DISPATCHER)
    api.post(URL, json=incident_body(), headers=_key("yesterday"))
    api.post(URL, json=incident_body(), headers=_key("old-2"))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(update(IdempotencyKey).values(expires_at=past))
    again = api.post(URL, json=incident_body(), headers=_key("yesterday"))
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert _count(app, Incident) == 3
    # The insert cleared the other expired key too; only today's remains.
    assert _count(app, IdempotencyKey) == 1

    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(update(IdempotencyKey).values(expires_at=past))
    from ems.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["idempotency", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 expired" in result.output
    assert _count(app, IdempotencyKey) == 0


def test_the_openapi_document_offers_the_header_on_writes(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/api/v1/incidents"]["post"]
    header = [p for p in create["parameters"] if p["in"] == "header"]
    assert header and header[0]["name"] == "Idempotency-Key" and not header[0]["required"]
    assert "422" in create["responses"] and "Idempotent-Replayed" in str(create["responses"])
    listing = doc["paths"]["/api/v1/incidents"]["get"]
    assert not [p for p in listing["parameters"] if p["in"] == "header"]
    login = doc["paths"]["/api/v1/auth/token"]["post"]
    assert not [p for p in login["parameters"] if p["in"] == "header"]

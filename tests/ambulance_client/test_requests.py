"""The crew's requests for instruction through the agent: asked offline, they wait in the
durable outbox (answered 202 queued), survive a restart of the agent, and reach the
server once, with the page's Idempotency-Key, when it answers again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ambulance_client.agent import TabletService
from ambulance_client.upstream import Offline
from ambulance_client.web import create_agent_app
from tests.ambulance_client.test_agent import FakeServer

ASK = "/api/v1/transports/7/instruction-requests"


class DoctorDesk(FakeServer):
    """The server's instruction endpoint: one request per (caller, Idempotency-Key), a
    retry gets the stored answer back (ems/api.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: dict[tuple[str, str], dict[str, Any]] = {}
        self.lose_answer = False  # the request arrives, the answer is lost on the way

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        h = headers or {}
        if path != ASK or not self.reachable:
            return super().call(method, path, body=body, headers=h)
        payload = json.loads(body or b"{}")
        self.received.append((method, path, payload, h))
        key = (h["Authorization"], h["Idempotency-Key"])
        replayed = key in self.asked
        stored = self.asked.setdefault(key, {"id": len(self.asked) + 1, **payload})
        if self.lose_answer:
            raise Offline("connection reset by peer")
        extra = [("Idempotent-Replayed", "true")] if replayed else []
        return 201, [("Content-Type", "application/json"), *extra], json.dumps(stored).encode()


def agent(server: FakeServer, state: Path) -> TabletService:
    service = TabletService(
        server_url="http://server.invalid", relay_url="ws://relay.invalid", state_dir=state
    )
    service.upstream = server
    return service


def ask(client: Any, key: str, body: Any = None) -> Any:
    return client.post(
        ASK,
        json=body if body is not None else {"procedure": "iv_fluids", "note": "BP 70/40"},
        headers={"Authorization": "Bearer crew", "Idempotency-Key": key},
    )


def test_asked_offline_it_is_queued_survives_a_restart_and_lands_once(tmp_path: Path) -> None:
    server = DoctorDesk()
    server.reachable = False
    first = agent(server, tmp_path)
    resp = ask(create_agent_app(first).test_client(), "ask-1")
    assert resp.status_code == 202
    assert resp.get_json()["queued"] is True
    assert resp.get_json()["idempotency_key"] == "ask-1"
    status = first.status()
    assert status["requests_queued"] == 1
    assert status["requests_pending"][0]["transport_id"] == 7
    assert "BP 70/40" not in json.dumps(status)  # the note is the crew's, not the page's
    first.store.close()  # type: ignore[union-attr]  # the agent dies

    again = agent(server, tmp_path)
    assert again.status()["requests_queued"] == 1  # shown as queued after the restart
    server.reachable = True
    assert again.flush() == {}  # no crew token at hand yet: it waits
    again.signed_in("crew")
    assert again.flush()["ask-1"].status == "sent"
    again.flush()
    assert len(server.asked) == 1
    sent = [h for _, p, _, h in server.received if p == ASK]
    assert [h["Idempotency-Key"] for h in sent] == ["ask-1"]
    assert server.received[-1][2] == {"procedure": "iv_fluids", "note": "BP 70/40"}
    assert again.status()["requests_queued"] == 0
    assert len(agent(server, tmp_path).requests) == 0  # and gone from disk


def test_a_request_whose_answer_was_lost_is_replayed_under_its_key_and_asked_once(
    tmp_path: Path,
) -> None:
    server = DoctorDesk()
    server.lose_answer = True
    service = agent(server, tmp_path)
    client = create_agent_app(service).test_client()
    assert ask(client, "ask-2").status_code == 202
    server.lose_answer = False
    assert service.flush()["ask-2"].status == "sent"
    assert len(server.asked) == 1  # the server saw it twice, under one key
    assert [h["Idempotency-Key"] for _, p, _, h in server.received if p == ASK] == [
        "ask-2",
        "ask-2",
    ]


def test_online_it_goes_straight_through_with_its_key(tmp_path: Path) -> None:
    server = DoctorDesk()
    client = create_agent_app(agent(server, tmp_path)).test_client()
    resp = ask(client, "ask-3")
    assert resp.status_code == 201 and resp.get_json()["procedure"] == "iv_fluids"
    assert server.received[-1][3]["Idempotency-Key"] == "ask-3"


def test_offline_a_request_without_a_key_gets_one_and_a_malformed_one_is_refused(
    tmp_path: Path,
) -> None:
    server = DoctorDesk()
    server.reachable = False
    client = create_agent_app(agent(server, tmp_path)).test_client()
    resp = client.post(ASK, json={"procedure": "glucose"}, headers={"Authorization": "Bearer c"})
    assert resp.status_code == 202 and resp.get_json()["idempotency_key"].startswith("tab-")
    assert ask(client, "bad key!").status_code == 400
    resp = ask(client, "ask-4", body={"note": "no procedure"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "validation_failed"
    # Other writes are not queued: the crew is told the server is unreachable.
    resp = client.post("/api/v1/transports/7/hospital-requests", json={"hospital_ids": [1]})
    assert resp.status_code == 503


def test_a_request_still_in_progress_waits_and_one_refused_for_good_is_shown(
    tmp_path: Path,
) -> None:
    server = DoctorDesk()
    answers = [
        (409, {"code": "idempotency_in_progress"}),  # its first try has not finished
        (422, {"code": "validation_failed"}),
    ]
    answer_with = server.call

    def call(method: str, path: str, **kw: Any) -> Any:
        if path != ASK or not server.reachable:
            return answer_with(method, path, **kw)
        status, body = answers.pop(0)
        return status, [], json.dumps(body).encode()

    server.call = call  # type: ignore[method-assign]
    server.reachable = False
    service = agent(server, tmp_path)
    client = create_agent_app(service).test_client()
    assert ask(client, "ask-5").status_code == 202
    server.reachable = True
    assert service.flush() == {}
    assert service.status()["requests_queued"] == 1
    assert service.flush()["ask-5"].status == "rejected"
    status = service.status()
    assert status["requests_queued"] == 0
    assert [
        (r["idempotency_key"], r["status"], r["code"]) for r in status["requests_rejected"]
    ] == [("ask-5", 422, "validation_failed")]
    assert len(agent(server, tmp_path).requests) == 0  # gone from disk too

"""The tablet's local service: the offline outbox of timeline events, the status the
crew sees, and the same-origin forwarding of the API."""

from __future__ import annotations

import json
import re
from typing import Any

from ambulance_client.agent import TabletService
from ambulance_client.timeline_outbox import TimelineOutbox
from ambulance_client.upstream import Offline, Upstream
from ambulance_client.web import create_agent_app


class FakeServer(Upstream):
    """The server as the tablet sees it: reachable or not, recording what it gets."""

    def __init__(self) -> None:
        super().__init__("http://server.invalid")
        self.reachable = True
        self.received: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.recorded: dict[str, dict[str, Any]] = {}
        self.refuse: set[str] = set()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if not self.reachable:
            raise Offline("no route to host")
        payload = json.loads(body) if body else {}
        self.received.append((method, path, payload, headers or {}))
        if path == "/healthz":
            return 200, [], b'{"status": "ok"}'
        if path.endswith("/events"):
            key = payload["idempotency_key"]
            if payload["kind"] in self.refuse:
                return (
                    409,
                    [("Content-Type", "application/problem+json")],
                    json.dumps(
                        {"code": "out_of_order", "detail": "an earlier step is missing"}
                    ).encode(),
                )
            replayed = key in self.recorded
            self.recorded.setdefault(key, payload)
            out = {"event": payload, "transport": {"id": 7}, "replayed": replayed}
            return 201, [("Content-Type", "application/json")], json.dumps(out).encode()
        return 200, [("Content-Type", "application/json"), ("X-Upstream", "yes")], b'{"ok": true}'


def page_token(client: Any, host: str = "localhost") -> str:
    """The session token, as the tablet page reads it from its own HTML."""
    html = client.get("/", headers={"Host": host}).get_data(as_text=True)
    match = re.search(r'<meta name="tablet-token" content="([^"]+)">', html)
    assert match
    return match.group(1)


def service_with(server: FakeServer) -> TabletService:
    service = TabletService(server_url="http://server.invalid", relay_url="ws://relay.invalid")
    service.upstream = server
    return service


def test_events_tapped_offline_are_queued_and_replayed_in_order_once() -> None:
    server = FakeServer()
    outbox = TimelineOutbox()
    server.reachable = False
    first = outbox.add(transport_id=7, kind="arrived_scene", token="t")
    second = outbox.add(transport_id=7, kind="patient_contact", token="t")
    assert outbox.flush(server) == {}
    assert len(outbox) == 2

    server.reachable = True
    done = outbox.flush(server)
    assert [done[first.key].status, done[second.key].status] == ["sent", "sent"]
    kinds = [p["kind"] for _, _, p, _ in server.received]
    assert kinds == ["arrived_scene", "patient_contact"]
    # The tap's time travels with the event, not the time of the replay.
    assert server.recorded[first.key]["at"] == first.at
    assert len(outbox) == 0


def test_a_refused_event_leaves_the_queue_and_is_shown() -> None:
    server = FakeServer()
    server.refuse = {"loaded"}
    outbox = TimelineOutbox()
    outbox.add(transport_id=7, kind="loaded", token="t")
    outbox.add(transport_id=7, kind="departed_scene", token="t")
    outbox.flush(server)
    assert len(outbox) == 0
    assert [r["code"] for r in outbox.rejected] == ["out_of_order"]
    assert "token" not in outbox.rejected[0]


def test_the_crew_sees_offline_queued_and_then_synced() -> None:
    server = FakeServer()
    service = service_with(server)
    app = create_agent_app(service)
    client = app.test_client()
    auth = {"Authorization": "Bearer crew-token", "X-Tablet-Token": page_token(client)}

    server.reachable = False
    resp = client.post(
        "/local/timeline", json={"transport_id": 7, "kind": "arrived_scene"}, headers=auth
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "queued"
    status = client.get("/local/status").get_json()
    assert status["online"] is False
    assert status["queued"] == 1
    assert status["pending"][0]["kind"] == "arrived_scene"
    assert "token" not in status["pending"][0]

    server.reachable = True
    assert service.probe()
    service.flush()
    status = client.get("/local/status").get_json()
    assert status["online"] is True
    assert status["queued"] == 0
    assert status["last_synced_at"]
    # Sent with the crew's own token.
    events = [h for _, path, _, h in server.received if path.endswith("/events")]
    assert events[0]["Authorization"] == "Bearer crew-token"


def test_the_api_is_forwarded_same_origin_and_offline_is_a_clear_503() -> None:
    server = FakeServer()
    client = create_agent_app(service_with(server)).test_client()
    resp = client.get("/api/v1/units/3?x=1", headers={"Authorization": "Bearer abc"})
    assert resp.status_code == 200
    assert resp.get_json() == {"ok": True}
    assert resp.headers["X-Upstream"] == "yes"
    method, path, _, headers = server.received[-1]
    assert (method, path, headers["Authorization"]) == ("GET", "/api/v1/units/3?x=1", "Bearer abc")

    server.reachable = False
    resp = client.post("/api/v1/transports/7/hospital-requests", json={"k": 3})
    assert resp.status_code == 503
    assert resp.get_json()["code"] == "offline"


def test_timeline_needs_a_signed_in_crew_and_a_well_formed_event() -> None:
    client = create_agent_app(service_with(FakeServer())).test_client()
    page = {"X-Tablet-Token": page_token(client)}
    resp = client.post("/local/timeline", json={"transport_id": 7, "kind": "loaded"}, headers=page)
    assert resp.status_code == 401
    resp = client.post(
        "/local/timeline", json={"kind": "loaded"}, headers={"Authorization": "Bearer t", **page}
    )
    assert resp.status_code == 400


def test_the_tablet_page_is_served_with_a_strict_policy() -> None:
    client = create_agent_app(service_with(FakeServer())).test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="card-body"' in html and "/static/js/tablet.js" in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert client.get("/static/i18n/en.json").status_code == 200

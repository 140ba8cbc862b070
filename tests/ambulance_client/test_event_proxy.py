"""The tablet's local service forwards the server's live events to the page as they
are: a move-up's ``unit.updated`` reaches the tablet with the station the unit is now
posted at, byte for byte."""

from __future__ import annotations

import io
import json
from typing import Any

from ambulance_client.agent import TabletService
from ambulance_client.upstream import Upstream
from ambulance_client.web import create_agent_app

POSTED = {
    "id": 1,
    "call_sign": "みどり救急1",
    "station_id": 1,
    "station_name": "みどり消防局 中央消防署",
    "status": "available",
    "current_transport_id": None,
    "post_station_id": 5,
    "post_station_name": "浜村消防署",
}


class StreamResponse:
    """An event stream as ``http.client`` hands it over: a status and lines."""

    status = 200

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def readline(self) -> bytes:
        return self._body.readline()

    def read(self) -> bytes:
        return self._body.read()

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return "text/event-stream" if name.lower() == "content-type" else default


class StreamingServer(Upstream):
    def __init__(self, body: bytes) -> None:
        super().__init__("http://server.invalid")
        self.body = body
        self.opened: list[tuple[str, dict[str, str]]] = []

    def open(self, method: str, path: str, **kw: Any) -> Any:
        self.opened.append((path, kw.get("headers") or {}))

        class Conn:
            def close(self) -> None:
                pass

        return Conn(), StreamResponse(self.body)


def test_a_move_up_reaches_the_tablet_page_as_the_server_sent_it() -> None:
    payload = json.dumps(POSTED, ensure_ascii=False)
    body = (
        ": connected\n\n"
        f"event: unit.updated\ndata: {payload}\n\n"
        'event: unit.updated\ndata: {"id": 1, "post_station_id": null}\n\n'
    ).encode()
    server = StreamingServer(body)
    service = TabletService(server_url="http://server.invalid", relay_url="ws://relay.invalid")
    service.upstream = server
    client = create_agent_app(service).test_client()

    resp = client.get("/api/v1/events", headers={"Authorization": "Bearer crew-token"})
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    assert resp.get_data() == body
    # The page's parse of it: the post, then the post ended.
    events = [
        json.loads(block.split("data: ", 1)[1])
        for block in resp.get_data(as_text=True).split("\n\n")
        if block.startswith("event: unit.updated")
    ]
    assert [e["post_station_id"] for e in events] == [5, None]
    assert events[0]["post_station_name"] == "浜村消防署"
    ((path, headers),) = server.opened
    assert (path, headers["Authorization"]) == ("/api/v1/events", "Bearer crew-token")

"""The tablet page opens the voice line to the MC doctor on the relay itself: its
policy lets it connect to the relay's WebSocket origin (and nowhere else), and the page
carries the relay's address."""

from __future__ import annotations

import pytest

from ambulance_client.agent import TabletService
from ambulance_client.web import create_agent_app, page_csp


def connect_src(policy: str) -> list[str]:
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("connect-src"))
    return directive.split()[1:]


def test_the_page_may_connect_to_the_relay_and_knows_where_it_is() -> None:
    service = TabletService(
        server_url="http://server.invalid", relay_url="wss://relay.example:8443/ems"
    )
    client = create_agent_app(service).test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    policy = resp.headers["Content-Security-Policy"]
    assert connect_src(policy) == ["'self'", "wss://relay.example:8443"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = resp.get_data(as_text=True)
    assert '<meta name="relay-url" content="wss://relay.example:8443/ems">' in html
    assert 'id="talk-panel"' in html
    # Everything else the agent serves keeps the strict policy.
    assert connect_src(client.get("/healthz").headers["Content-Security-Policy"]) == ["'self'"]


@pytest.mark.parametrize("relay_url", ["", "http://relay.example", "ws://", "ws://a b"])
def test_a_relay_address_that_is_no_websocket_origin_opens_nothing(relay_url: str) -> None:
    assert connect_src(page_csp(relay_url)) == ["'self'"]

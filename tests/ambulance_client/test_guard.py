"""The tablet agent answers its own page only: another page open on the tablet can
neither rebind its name to the agent, nor post a cross-site form to it, nor write to
``/local/*`` without the token the agent put in its own page."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from ambulance_client.cli import main
from ambulance_client.web import create_agent_app
from tests.ambulance_client.test_agent import FakeServer, page_token, service_with

PORT = 8780
OWN = f"127.0.0.1:{PORT}"


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer) -> FlaskClient:
    return create_agent_app(service_with(server), port=PORT).test_client()


def _token(client: FlaskClient) -> str:
    return page_token(client, OWN)


def _timeline(client: FlaskClient, headers: dict[str, str], **kw: Any) -> Any:
    return client.post(
        "/local/timeline",
        json={"transport_id": 7, "kind": "arrived_scene"},
        headers={"Host": OWN, "Authorization": "Bearer crew", **headers},
        **kw,
    )


def test_a_rebound_name_reads_nothing(client: FlaskClient) -> None:
    for path in ("/", "/local/status", "/api/v1/units/3"):
        resp = client.get(path, headers={"Host": f"evil.example:{PORT}"})
        assert resp.status_code == 421, path
        assert resp.get_json()["code"] == "wrong_host"
    # Nor the right name on another port.
    assert client.get("/local/status", headers={"Host": "127.0.0.1:9999"}).status_code == 421
    for host in (OWN, f"localhost:{PORT}"):
        assert client.get("/local/status", headers={"Host": host}).status_code == 200


def test_a_cross_site_form_cannot_stop_a_stream_or_sign_in(
    client: FlaskClient, server: FakeServer
) -> None:
    token = _token(client)
    for path in ("/local/stream/stop", "/api/v1/auth/token"):
        resp = client.post(
            path,
            data={"username": "x"},
            content_type="application/x-www-form-urlencoded",
            headers={"Host": OWN, "Origin": "https://evil.example", "X-Tablet-Token": token},
        )
        assert resp.status_code == 403, path
        assert resp.get_json()["code"] == "cross_origin"
    assert not any(path.startswith("/api/v1/auth") for _, path, _, _ in server.received)


def test_a_write_without_the_page_token_is_refused(client: FlaskClient, server: FakeServer) -> None:
    for headers in ({}, {"X-Tablet-Token": "guessed"}):
        resp = _timeline(client, {"Origin": f"http://{OWN}", **headers})
        assert resp.status_code == 403
        assert resp.get_json()["code"] == "tablet_token_required"
    assert not [p for _, p, _, _ in server.received if p.endswith("/events")]


def test_the_pages_own_write_goes_through(client: FlaskClient, server: FakeServer) -> None:
    resp = _timeline(client, {"Origin": f"http://{OWN}", "X-Tablet-Token": _token(client)})
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "sent"
    assert [p["kind"] for _, path, p, _ in server.received if path.endswith("/events")] == [
        "arrived_scene"
    ]


def test_each_run_of_the_agent_has_its_own_token(server: FakeServer) -> None:
    one = create_agent_app(service_with(server)).test_client()
    two = create_agent_app(service_with(server)).test_client()
    assert page_token(one) != page_token(two)


@pytest.mark.parametrize("listen", ["0.0.0.0:8780", "192.168.1.20:8780", "tablet.local:8780"])
def test_the_cli_listens_on_loopback_only(listen: str) -> None:
    result = CliRunner().invoke(main, ["tablet", "--listen", listen])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output

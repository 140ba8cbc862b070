"""A tablet is bound to its unit: the first paramedic (or the installed ``--unit-id``)
binds it, a paramedic of another unit is refused at sign-in, and the token the server
granted them is revoked before the page ever holds it."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ambulance_client.agent import TabletService
from ambulance_client.binding import UnitBinding
from ambulance_client.upstream import Upstream
from ambulance_client.web import create_agent_app


class SignInServer(Upstream):
    """A server that grants every sign-in, to the account the username names."""

    ACCOUNTS: ClassVar[dict[str, dict[str, Any]]] = {
        "medic1": {"id": 1, "role": "paramedic", "unit_id": 1},
        "medic1b": {"id": 4, "role": "paramedic", "unit_id": 1},
        "medic2": {"id": 2, "role": "paramedic", "unit_id": 2},
        "disp": {"id": 3, "role": "dispatcher", "unit_id": None},
    }

    def __init__(self) -> None:
        super().__init__("http://server.invalid")
        self.received: list[tuple[str, str, dict[str, str]]] = []

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.received.append((method, path, headers or {}))
        if path == "/api/v1/auth/token" and method == "POST":
            user = self.ACCOUNTS[json.loads(body or b"{}")["username"]]
            out = {"access_token": f"tok-{user['id']}", "user": user}
            return 200, [("Content-Type", "application/json")], json.dumps(out).encode()
        if path.startswith("/api/v1/units/"):
            unit_id = int(path.rsplit("/", 1)[1])
            out = {"id": unit_id, "call_sign": f"みどり救急{unit_id}"}
            return 200, [("Content-Type", "application/json")], json.dumps(out).encode()
        return 204, [], b""


def _tablet(unit_id: int | None = None) -> tuple[Any, SignInServer, TabletService]:
    server = SignInServer()
    service = TabletService(
        server_url="http://server.invalid", relay_url="ws://relay.invalid", unit_id=unit_id
    )
    service.upstream = server
    return create_agent_app(service).test_client(), server, service


def _sign_in(client: Any, username: str) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": "x"})


def test_the_first_paramedic_binds_the_tablet_and_another_unit_is_refused() -> None:
    client, server, service = _tablet()
    ok = _sign_in(client, "medic1")
    assert ok.status_code == 200 and ok.get_json()["access_token"] == "tok-1"
    assert client.get("/local/status").get_json()["unit_id"] == 1
    assert service.binding.call_sign == "みどり救急1"
    # A colleague of the same unit is welcome.
    assert _sign_in(client, "medic1b").status_code == 200

    refused = _sign_in(client, "medic2")
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["code"] == "tablet_other_unit"
    assert body["tablet_unit_id"] == 1 and body["tablet_call_sign"] == "みどり救急1"
    assert "access_token" not in body
    # The token the server granted them is revoked at once.
    assert ("DELETE", "/api/v1/auth/token", {"Authorization": "Bearer tok-2"}) in server.received
    assert service.binding.unit_id == 1  # still the first unit's tablet


def test_an_installed_unit_refuses_even_the_first_sign_in_of_another() -> None:
    client, _, _ = _tablet(unit_id=2)
    assert _sign_in(client, "medic1").get_json()["code"] == "tablet_other_unit"
    assert _sign_in(client, "medic2").status_code == 200


def test_only_paramedics_sign_in_on_a_tablet() -> None:
    client, server, service = _tablet()
    r = _sign_in(client, "disp")
    assert r.status_code == 403 and r.get_json()["code"] == "tablet_paramedics_only"
    assert ("DELETE", "/api/v1/auth/token", {"Authorization": "Bearer tok-3"}) in server.received
    assert service.binding.unit_id is None  # a refused sign-in binds nothing


def test_the_binding_rule() -> None:
    b = UnitBinding()
    assert b.admit({"role": "paramedic", "unit_id": 5}) is None
    refusal = b.admit({"role": "paramedic", "unit_id": 6})
    assert refusal is not None and refusal.code == "tablet_other_unit"
    no_unit = b.admit({"role": "paramedic", "unit_id": None})
    assert no_unit is not None and no_unit.code == "tablet_other_unit"
    b.learn_call_sign(6, "ignored")  # not this tablet's unit
    assert b.status() == {"unit_id": 5, "unit_call_sign": ""}

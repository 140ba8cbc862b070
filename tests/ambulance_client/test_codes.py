"""The tablet agent answers with the shared registry's codes only (ems_contracts/codes.py).

The agent names each code of its own as ``ErrorCode.X`` (imported as ``E``), never as a
string, so a code it sends cannot be missing from the registry, docs/api.md's table or
the pages' dictionaries. The source of ambulance_client/ is read as a syntax tree: a
string in a place that holds a code fails here, and every status the agent pairs with a
code must be the registry's. The agent's app is then asked for each refusal it makes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ambulance_client.agent import TabletService
from ambulance_client.card import CardError
from ambulance_client.card_port import ERROR_STATUS, CardSettings, error_status
from ambulance_client.web import create_agent_app
from ems_contracts.codes import REGISTRY, ErrorCode
from tests.ambulance_client.test_agent import FakeServer, page_token, service_with

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "ambulance_client"
CODE = re.compile(r"[a-z][a-z0-9_]*")
# The agent's error constructors that take the code as an argument, and where (None: the
# first after the status, if any); CardError and ServerError take it as ``code=``.
CONSTRUCTORS: dict[str, int | None] = {
    "problem": 1,
    "passed_on": 1,
    "StreamRefused": 0,
    "Refusal": None,
}
# Names that hold a code (or, for the stream, the code of why it ended).
HOLDERS = re.compile(r"(?:^|_)code$|^error$")


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):  # _code(data) == "x"
        return _name(node.func)
    return ""


def _is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int)


def _words(node: ast.AST | None) -> list[str]:
    """The bare-word strings ``node`` is, or holds (a tuple, a set, either branch)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if CODE.fullmatch(node.value) else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [w for elt in node.elts for w in _words(elt)]
    if isinstance(node, ast.IfExp):
        return _words(node.body) + _words(node.orelse)
    if isinstance(node, ast.Call) and _name(node.func) == "str":
        return [w for arg in node.args for w in _words(arg)]
    return []


def code_literals(source: str) -> list[tuple[int, str]]:
    """Each string the source puts where a code goes, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        words: list[str] = []
        if isinstance(node, ast.Call):
            callee = _name(node.func)
            if callee in CONSTRUCTORS:
                at = CONSTRUCTORS[callee]
                args = (
                    node.args[at:] if at is not None else [a for a in node.args if not _is_int(a)]
                )
                words += _words(args[0] if args else None)
            words += [w for kw in node.keywords if kw.arg == "code" for w in _words(kw.value)]
            # body.get("code", "x"), getattr(exc, "code", "x")
            values = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            if callee == "get" and values[:1] == ["code"] and len(node.args) > 1:
                words += _words(node.args[1])
            if callee == "getattr" and values[1:2] == ["code"] and len(node.args) > 2:
                words += _words(node.args[2])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    words += _words(value)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(HOLDERS.search(_name(s)) for s in sides):
                words += [w for s in sides for w in _words(s)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(HOLDERS.search(_name(t)) for t in targets):
                words += _words(node.value)
            if any(_name(t) == "ERROR_STATUS" for t in targets) and isinstance(
                node.value, ast.Dict
            ):
                words += [w for k in node.value.keys for w in _words(k)]
        elif isinstance(node, ast.Return):
            words += [w for w in _words(node.value) if w in set(ErrorCode)]
        found += [(getattr(node, "lineno", 0), w) for w in words]
    return found


def _sources() -> dict[str, str]:
    return {
        p.relative_to(ROOT).as_posix(): p.read_text("utf-8") for p in sorted(AGENT.rglob("*.py"))
    }


def test_the_scan_sees_each_place_a_code_goes() -> None:
    sample = """
        problem(400, "a_problem", "detail with words")
        passed_on(result.status, "a_passed_on", "detail")
        Refusal(421, "a_refusal", "detail")
        Refusal("a_binding_refusal", "detail")
        raise StreamRefused("a_stream_refusal", str(exc))
        raise CardError("the card", code="a_kwarg")
        payload = {"code": "a_dict_value", "detail": "x"}
        str(body.get("code", "a_get_default"))
        getattr(exc, "code", "a_getattr_default")
        if err.code in ("a_member", "another_member"): pass
        if code == "a_comparison": pass
        if _code(data) == "a_call_comparison": pass
        self.error = "an_error"
        lost_code: str = "a_holder"
        ERROR_STATUS = {"a_key": 400}
        def f(): return "wrong_pin"
        log.warning("not a code", extra={"path": "nothing"})
        getattr(exc, "tries_left", None)
    """
    found = {word for _, word in code_literals(sample.replace("\n        ", "\n"))}
    assert found == {
        "a_problem",
        "a_passed_on",
        "a_refusal",
        "a_binding_refusal",
        "a_stream_refusal",
        "a_kwarg",
        "a_dict_value",
        "a_get_default",
        "a_getattr_default",
        "a_member",
        "another_member",
        "a_comparison",
        "a_call_comparison",
        "an_error",
        "a_holder",
        "a_key",
        "wrong_pin",
    }


def test_the_agent_names_every_code_from_the_registry() -> None:
    sources = _sources()
    literals = {
        f"{path}:{line}": word
        for path, text in sources.items()
        for line, word in code_literals(text)
    }
    unregistered = {where: w for where, w in literals.items() if w not in set(ErrorCode)}
    assert not unregistered, f"codes the tablet agent sends that are not registered: {unregistered}"
    assert not literals, f"name these codes as ErrorCode members, not strings: {literals}"
    # The agent's own codes, as it names them, are the registry's members.
    named = {
        m
        for text in sources.values()
        for m in re.findall(r"\b(?:E|ErrorCode)\.([A-Z][A-Z0-9_]*)\b", text)
    }
    assert {
        "WRONG_HOST",
        "TABLET_OTHER_UNIT",
        "OFFLINE",
        "WRONG_PIN",
        "CARD_LOCKED",
        "STREAM_FAILED",
    } <= named
    assert named <= set(ErrorCode.__members__)


def _statuses(code: str) -> tuple[Any, ...]:
    return REGISTRY[ErrorCode(code)].statuses


def test_each_status_the_agent_pairs_with_a_code_is_the_registrys() -> None:
    """``problem(status, E.X)`` and ``Refusal(status, E.X)`` as written in the source."""
    pairs: list[tuple[str, int, str]] = []
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.Call) and _name(node.func) in {"problem", "Refusal"}):
                continue
            status, code = [*node.args, None, None][:2]
            if (
                isinstance(status, ast.Constant)
                and isinstance(status.value, int)
                and isinstance(code, ast.Attribute)
                and _name(code.value) in {"E", "ErrorCode"}
            ):
                pairs.append((f"{path}:{node.lineno}", status.value, ErrorCode[code.attr]))
    assert len(pairs) > 15, "the scan found too few refusals: is it still right?"
    wrong = [(where, s, c) for where, s, c in pairs if s not in _statuses(c)]
    assert not wrong, f"the registry gives these codes another status: {wrong}"


def test_every_card_error_has_the_registrys_status() -> None:
    card = (AGENT / "card.py").read_text("utf-8") + (AGENT / "card_port.py").read_text("utf-8")
    raised = set(re.findall(r"\bcode=E\.([A-Z_]+)", card))
    assert {"WRONG_PIN", "CARD_LOCKED", "NO_CARD", "NO_READER", "DEVICE_KEY_MISSING"} <= raised
    # Each card code has its own status: none falls to the default of a server refusal.
    assert raised - {"HTTP_ERROR"} <= {ErrorCode(c).name for c in ERROR_STATUS}
    for code, status in ERROR_STATUS.items():
        assert isinstance(code, ErrorCode), code
        assert status in _statuses(code), (code, status)
        err = CardError("x", code=ErrorCode(code))
        assert error_status(err) == (code, status)


# --- the agent itself ------------------------------------------------------------------------

OWN = "127.0.0.1:8781"


@pytest.fixture
def agent() -> tuple[FlaskClient, FakeServer, TabletService]:
    server = FakeServer()
    service = service_with(server)
    return create_agent_app(service, port=8781).test_client(), server, service


def _refusals(client: FlaskClient, server: FakeServer, service: TabletService) -> list[Any]:
    token = page_token(client, OWN)
    own = {"Host": OWN, "X-Tablet-Token": token}
    crew = {**own, "Authorization": "Bearer crew"}
    answers = [
        client.get("/local/status", headers={"Host": "evil.example:8781"}),
        client.post("/local/stream/stop", headers={"Host": OWN, "Origin": "http://evil.example"}),
        client.post("/local/stream/stop", headers={"Host": OWN}),
        client.post("/local/timeline", json={}, headers=own),
        client.post("/local/timeline", json={"kind": 3}, headers=crew),
        client.post("/local/card/pinless", json={"transport_id": 7, "reason": "x"}, headers=crew),
    ]
    # No device key on this tablet: the read without PIN cannot be signed.
    service.card.settings = CardSettings(module_path="/nonexistent/pkcs11.so")
    body = {"transport_id": 7, "reason": "unconscious", "face_match_confirmed": True}
    answers.append(client.post("/local/card/pinless", json=body, headers=crew))
    answers.append(client.post("/local/card/read", headers=own))

    def broken_camera(**_: Any) -> Any:
        raise OSError("no camera")

    service.stream.start = broken_camera  # type: ignore[method-assign]
    answers.append(client.post("/local/stream/start", json={"transport_id": 7}, headers=crew))
    answers.append(
        client.post(
            "/api/v1/transports/7/instruction-requests",
            data=b"not json",
            headers={**crew, "Idempotency-Key": "bad key!"},
        )
    )
    server.reachable = False
    answers.append(client.get("/api/v1/units/3", headers={"Host": OWN}))
    return answers


def test_every_refusal_of_the_agent_carries_a_registered_code_and_status(
    agent: tuple[FlaskClient, FakeServer, TabletService],
) -> None:
    answers = _refusals(*agent)
    seen = {}
    for resp in answers:
        body = resp.get_json()
        assert resp.mimetype == "application/problem+json", body
        code = body["code"]
        assert code in set(ErrorCode), f"{code} is not in ems_contracts/codes.py"
        assert resp.status_code in _statuses(code), (code, resp.status_code)
        assert body["status"] == resp.status_code
        seen[code] = resp.status_code
    assert seen == {
        "wrong_host": 421,
        "cross_origin": 403,
        "tablet_token_required": 403,
        "unauthenticated": 401,
        "validation_failed": 400,
        "face_match_required": 400,
        "device_key_missing": 409,
        "no_reader": 503,
        "stream_failed": 503,
        "invalid_idempotency_key": 400,
        "offline": 503,
    }

"""The thin layer every JSON endpoint goes through.

``endpoint`` parses the body and query with pydantic, checks the caller's role,
calls the view, commits the request's session, serialises the result and records
the route in the OpenAPI document served at ``/api/v1/openapi.json``.

The JSON body is read and parsed once per request and the outcome kept on ``g``:
an error handler that wants a field of it (``json_body_or_none``) gets that value,
never a second parse. A body beyond the request's ``max_content_length`` (chunked
ones too) is ``413 payload_too_large``; one nested deeper than ``MAX_JSON_DEPTH`` is
``400 malformed_json``, found before the (recursive) parser sees it.

A write sent with an ``Idempotency-Key`` header runs once per key and caller: the
response is stored with the write (``ems.idempotency``) and a retry gets it back,
marked ``Idempotent-Replayed: true``, without the view running again.
"""

from __future__ import annotations

import functools
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from werkzeug.exceptions import RequestEntityTooLarge

from ems import events
from ems.auth.models import Role, User
from ems.db import get_session
from ems.errors import EmsError, PayloadTooLarge, ValidationFailed
from ems.idempotency import service as idempotency
from ems.idempotency.models import IdempotencyKey

API_PREFIX = "/api/v1"
P = ParamSpec("P")
R = TypeVar("R")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    roles: tuple[Role, ...] | None
    errors: tuple[int, ...]
    replayable: bool = True


ROUTES: list[Route] = []


# No schema of ours nests more than a few levels; a body nested deeper is hostile,
# and a recursive JSON parser would run out of stack on it.
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# An opening bracket is a step of +1, a closing one of -1 (0xff as a signed byte).
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


@dataclass(frozen=True)
class _Body:
    """The outcome of reading the request's JSON body: the value, or the refusal."""

    value: Any = None
    refusal: EmsError | None = None


def parse_body(model: type[BaseModel]) -> BaseModel:
    outcome = _json_body()
    if outcome.refusal is not None:
        raise outcome.refusal
    try:
        return model.model_validate(outcome.value)
    except ValidationError as exc:
        raise ValidationFailed(
            "the body does not match the schema",
            extra={"errors": _errors(exc)},
        ) from None


def json_body_or_none() -> Any:
    """The request's JSON body for a second reader (an error handler): the value
    ``parse_body`` got, or None when the body was refused. Never raises, and the
    body is read and parsed at most once per request, whoever asks first."""
    return _json_body().value


def _json_body() -> _Body:
    outcome: _Body | None = g.get("ems_json_body")
    if outcome is None:
        try:
            outcome = _Body(value=_read_json())
        except EmsError as refusal:
            outcome = _Body(refusal=refusal)
        g.ems_json_body = outcome
    return outcome


def _read_json() -> Any:
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise _too_large(limit)
    if not request.is_json:
        raise ValidationFailed(
            "the body must be JSON (Content-Type: application/json)",
            code="unsupported_media_type",
            status=415,
        )
    raw = _read_raw(limit)
    if _too_deep(raw):
        raise ValidationFailed(
            f"the body is nested deeper than {MAX_JSON_DEPTH} levels", code="malformed_json"
        )
    try:
        return current_app.json.loads(raw)
    except ValueError:
        raise ValidationFailed("the body is not valid JSON", code="malformed_json") from None


def _read_raw(limit: int | None) -> bytes:
    """The body's bytes, at most ``limit`` of them. werkzeug cuts a chunked body (no
    Content-Length) off at the limit without a word: a byte left beyond the cut means
    the body was larger, and what was read may still parse (a shorter number, or the
    JSON without its trailing spaces), so it is refused rather than used."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    cut = limit is not None and request.content_length is None and len(raw) >= limit
    if cut and request.input_stream.read(1):
        raise _too_large(limit)
    return raw


def _too_large(limit: int | None) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body exceeds {limit} bytes", code="payload_too_large")


def _too_deep(raw: bytes) -> bool:
    """Whether a JSON text nests deeper than MAX_JSON_DEPTH, found without recursing:
    strings go first (a bracket in one is text), then the depth after each bracket
    is the running sum of the steps. Short bodies cannot nest that deep at all."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False
    steps = array("b", _JSON_STRING.sub(b"", raw).translate(_DEPTH_STEPS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) > MAX_JSON_DEPTH


def parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed(
            "the query does not match the schema", extra={"errors": _errors(exc)}
        ) from None


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def serialize(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [serialize(v) for v in value]
    return value


def endpoint(
    bp: Blueprint,
    rule: str,
    *,
    method: str = "GET",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    roles: Sequence[Role] | None = None,
    summary: str = "",
    errors: Sequence[int] = (),
    replayable: bool = True,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a JSON endpoint. ``roles=None`` means any authenticated user;
    an empty sequence means public. ``replayable=False`` turns the Idempotency-Key
    off for a write whose answer must never be stored (it carries a medical record,
    which lives encrypted in its own store only)."""

    from ems.auth.web import require_user

    prefix = bp.url_prefix or ""
    ROUTES.append(
        Route(
            rule=prefix + rule,
            method=method,
            summary=summary,
            tag=bp.name,
            body=body,
            query=query,
            response=response,
            status=status,
            roles=tuple(roles) if roles is not None else None,
            errors=tuple(errors),
            replayable=replayable,
        )
    )

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            user = None
            if roles is None or len(roles) > 0:
                user = require_user(roles)
            key = _idempotency_key(method, user) if replayable else None
            if body is not None:
                kwargs["body"] = parse_body(body)
            if query is not None:
                kwargs["query"] = parse_query(query)
            pending: IdempotencyKey | None = None
            if key is not None and user is not None:
                claimed = _claim(user, key)
                if isinstance(claimed, idempotency.StoredResponse):
                    return _replay(user, key, claimed)
                pending = claimed
            # Flask hands over the path's arguments, the wrapper adds body and query: the
            # view's own keyword-only signature, filled at run time.
            call: Callable[..., Any] = view
            result = call(**kwargs)
            resp = json_response(result, status)
            if pending is not None:
                _settle(pending, resp)
            get_session().commit()
            events.flush()
            return resp

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        # The view keeps its own signature for readers and type checkers; Flask calls the
        # wrapper, which parses, authenticates, commits and serialises around it.
        return view

    return decorate


def json_response(result: Any, status: int) -> Response:
    """A view's result as the API answers it (a view may build its own with this)."""
    if isinstance(result, Response):
        return result
    if status == 204:
        return Response(status=204)
    if _is_schema(result) or (isinstance(result, list) and all(map(_is_schema, result))):
        # Schemas straight to JSON bytes in pydantic's serializer: the same document
        # as model_dump(mode="json") through json.dumps, at a fraction of the cost on
        # the list endpoints the boards and consoles poll.
        return Response(to_json(result), status=status, mimetype="application/json")
    resp = jsonify(serialize(result))
    resp.status_code = status
    return resp


def _is_schema(value: Any) -> bool:
    # The MRO lookup, not isinstance: pydantic's metaclass makes isinstance an ABC
    # check, which costs more than serialising the item on a list of hundreds.
    return BaseModel in type(value).__mro__


def _idempotency_key(method: str, user: User | None) -> str | None:
    """The request's key, if it is a write by a logged-in caller. Public writes (the
    login) ignore it: their answer holds a bearer token, which is never stored."""
    key = request.headers.get(idempotency.HEADER)
    if key is None or method not in WRITE_METHODS or user is None:
        return None
    return idempotency.validate_key(key)


def _claim(user: User, key: str) -> IdempotencyKey | idempotency.StoredResponse:
    return idempotency.claim(
        session=get_session(),
        user_id=user.id,
        key=key,
        method=request.method,
        path=request.path,
        request_hash=idempotency.fingerprint(
            method=request.method,
            path=request.path,
            query=list(request.args.items(multi=True)),
            body=request.get_data(cache=True),
        ),
    )


def _replay(user: User, key: str, stored: idempotency.StoredResponse) -> Response:
    from ems.audit import service as audit

    # A replay may hand patient data out again: it goes on record like the first answer.
    session = get_session()
    audit.record(
        session=session,
        actor=user,
        action="request.replay",
        target_type="idempotency_key",
        target_id=key,
        detail={"method": request.method, "path": request.path, "status": stored.status},
    )
    session.commit()
    resp = Response(
        stored.body if stored.status != 204 else None,
        status=stored.status,
        content_type=stored.content_type or None,
    )
    resp.headers[idempotency.REPLAYED_HEADER] = "true"
    return resp


def _settle(claimed: IdempotencyKey, resp: Response) -> None:
    """Store a success with the write; forget the key of an answer that is an error."""
    session = get_session()
    if resp.status_code >= 400 or resp.is_streamed:
        idempotency.release(session=session, row=claimed)
        return
    idempotency.complete(
        session=session,
        row=claimed,
        status=resp.status_code,
        content_type=resp.content_type or "",
        body=resp.get_data(),
    )


def _path_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema = (
            {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
            if conv == "int"
            else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Run this write at most once: a retry with the same key and body gets the first "
        "response back (header Idempotent-Replayed: true); the same key with another body "
        "is refused (422 idempotency_key_reused). Keys are per user and kept 24 hours."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]+$"},
}
REPLAYED_HEADER_DOC: dict[str, Any] = {
    "description": "Present (true) when the response is the stored answer to an earlier request",
    "schema": {"type": "string", "enum": ["true"]},
}


def openapi_document() -> dict[str, Any]:
    from pydantic import TypeAdapter
    from pydantic.json_schema import models_json_schema

    models: set[type[BaseModel]] = set()
    for r in ROUTES:
        for m in (r.body, r.response):
            inner = _model_of(m)
            if inner is not None:
                models.add(inner)
    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    problem = {
        "type": "object",
        "required": ["code", "status", "title"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
        },
    }
    schemas["Problem"] = problem
    paths: dict[str, Any] = {}
    for r in ROUTES:
        path, params = _path_params(r.rule)
        op: dict[str, Any] = {
            "operationId": f"{r.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "summary": r.summary,
            "tags": [r.tag],
            "parameters": list(params),
            "responses": {},
        }
        replayable = (
            r.replayable and r.method in WRITE_METHODS and (r.roles is None or len(r.roles) > 0)
        )
        if replayable:
            op["parameters"].append(IDEMPOTENCY_PARAMETER)
        if r.query is not None:
            qschema = r.query.model_json_schema()
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                prop = {k: v for k, v in prop.items() if k != "title"}
                op["parameters"].append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}
                    }
                },
            }
        if r.status == 204:
            op["responses"]["204"] = {"description": "No content"}
        else:
            content: dict[str, Any] = {}
            if r.response is not None:
                inner = _model_of(r.response)
                if inner is not None:
                    ref = {"$ref": f"#/components/schemas/{inner.__name__}"}
                    is_list = getattr(r.response, "__origin__", None) is list
                    content = {
                        "application/json": {
                            "schema": {"type": "array", "items": ref} if is_list else ref
                        }
                    }
                else:
                    content = {
                        "application/json": {"schema": TypeAdapter(r.response).json_schema()}
                    }
            op["responses"][str(r.status)] = {"description": "Success", "content": content}
        if replayable:
            op["responses"][str(r.status)]["headers"] = {
                idempotency.REPLAYED_HEADER: REPLAYED_HEADER_DOC
            }
        problem_ref = {
            "description": "Problem",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        codes = set(r.errors) | {400, 413}
        if r.roles is None or len(r.roles) > 0:
            codes |= {401, 403}
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        if params:
            codes.add(404)
        if replayable:
            codes |= {409, 422}
        for code in sorted(codes):
            op["responses"][str(code)] = problem_ref
        paths.setdefault(path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "EMS coordination API", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _model_of(t: Any) -> type[BaseModel] | None:
    if isinstance(t, type) and issubclass(t, BaseModel):
        return t
    args = getattr(t, "__args__", ())
    if getattr(t, "__origin__", None) is list and args:
        inner = args[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None

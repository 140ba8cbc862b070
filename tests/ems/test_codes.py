"""The error-code registry (ems_contracts/codes.py) against the source and docs/api.md.

The source of ems/, hospital_gateway/ and ems_contracts/ (the frame and control-message
errors the relay sends) is read as text: every code it names in one of
the ways below must be in the registry, and every registered code must still be named
or built somewhere, so neither a new code nor a stale entry goes unnoticed. The tablet
agent names its codes as registry members (``E.X``), never as strings
(tests/ambulance_client/test_codes.py); those count as named here.
"""

from __future__ import annotations

import re
from pathlib import Path

from ems.access.policy import Code
from ems.events import CloseReason
from ems.transports.models import TransportStatus
from ems_contracts.codes import REGISTRY, ErrorCode, markdown_table

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"

CODE = r"[a-z][a-z0-9_]*"
# Names that hold a code: the ``code=`` keyword, ``code =`` attributes and variables,
# ``lost_code``, and the two that carry no "code" in their name.
NAME = r"\b(?:(?:\w+_)?code|untrusted|GRACE_EXPIRED)"
PATTERNS = [
    # code="x", code = "x", lost_code: str = "x", code = "x" if … else "y"
    re.compile(rf'{NAME}\s*(?::\s*str\s*)?=\s*"({CODE})"(?:\s+if\b[^\n]*?\belse\s+"({CODE})")?'),
    # The relay's errors take the code first.
    re.compile(rf'\b(?:ProtocolError|Refused|error_event)\(\s*"({CODE})"'),
    re.compile(rf'\bws\.close\(\s*\w+,\s*"({CODE})"\)'),
    # ems/cards/pki.py: malformed(detail, code)
    re.compile(rf'\bmalformed\(\s*f?"[^"\n]*",\s*"({CODE})"'),
    # ems/app.py: the HTTP status of a werkzeug error -> code, and the default.
    re.compile(rf'^\s*[1-5]\d\d:\s*"({CODE})",?$', re.MULTILINE),
    re.compile(rf'\}}\.get\([^\n]*,\s*"({CODE})"\)'),
]
# Functions whose every returned string literal is a code.
RETURNING_CODES = {"hospital_gateway/access.py": "revocation"}

# Codes built at run time: (file, template) -> the codes it builds. Each is checked
# against what the template can take in test_dynamic_codes_follow_their_templates.
DYNAMIC: dict[tuple[str, str], frozenset[str]] = {
    ("hospital_gateway/relay.py", 'f"transport_{access.status}"'): frozenset(
        {"transport_completed", "transport_cancelled"}
    ),
    ("ems/ratelimit.py", 'f"{scope}_rate_limited"'): frozenset(
        {"login_rate_limited", "card_auth_rate_limited", "card_event_rate_limited"}
    ),
    ("ems/cards/identification.py", 'f"device_{err.code}"'): frozenset(
        {
            "device_certificate_not_yet_valid",
            "device_certificate_expired",
            "device_wrong_key_usage",
            "device_certificate_revoked",
            "device_revocation_unknown",
        }
    ),
}


def _sources() -> dict[str, str]:
    files = [
        path
        for package in ("ems", "hospital_gateway", "ems_contracts")
        for path in sorted((ROOT / package).rglob("*.py"))
    ]
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in files
        if p != ROOT / "ems_contracts" / "codes.py"
    }


def _function(text: str, name: str) -> str:
    """The source of the function ``name`` (up to the next def or class)."""
    match = re.search(rf"^([ \t]*)def {name}\(.*?(?=^\1?(?:def|class|@)\b|\Z)", text, re.S | re.M)
    assert match is not None, f"no function {name}"
    return match.group(0)


def _tablet_members() -> set[str]:
    """The codes the tablet agent names as registry members (``ErrorCode.X``, as ``E.X``)."""
    return {
        ErrorCode[name].value
        for path in sorted((ROOT / "ambulance_client").rglob("*.py"))
        for name in re.findall(
            r"\b(?:E|ErrorCode)\.([A-Z][A-Z0-9_]*)\b", path.read_text(encoding="utf-8")
        )
    }


def _codes_in(text: str) -> set[str]:
    found: set[str] = set()
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            found.update(g for g in match.groups() if g)
    return found


def _literal_codes() -> dict[str, set[str]]:
    """Every code the source names literally, with the files naming it."""
    where: dict[str, set[str]] = {}
    for path, text in _sources().items():
        codes = _codes_in(text)
        if path in RETURNING_CODES:
            body = _function(text, RETURNING_CODES[path])
            for line in re.findall(r"^\s*return\b.*$", body, re.M):
                codes.update(re.findall(rf'"({CODE})"', line))
        for code in codes:
            where.setdefault(code, set()).add(path)
    return where


def test_the_scan_sees_each_way_of_naming_a_code() -> None:
    sample = """
        raise Conflict("taken", code="a_kwarg")
        code = "an_assignment"
        code = "a_then" if done else "an_else"
        def transition(*, lost_code: str = "a_default") -> None: ...
        raise ProtocolError("a_frame", f"bad {kind}")
        raise Refused(\n"a_refusal", "no")
        await ws.send(error_event("an_event", "detail"))
        await ws.close(CLOSE_TRY_AGAIN, "a_close")
        raise malformed(f"the {what} is empty", "a_malformed")
            405: "a_mapping",
        }.get(err.code or 500, "a_fallback")
        log.info("not a code", extra={"detail": "nothing"})
    """
    assert _codes_in(sample) == {
        "a_kwarg",
        "an_assignment",
        "a_then",
        "an_else",
        "a_default",
        "a_frame",
        "a_refusal",
        "an_event",
        "a_close",
        "a_malformed",
        "a_mapping",
        "a_fallback",
    }


def test_every_code_in_the_source_is_registered() -> None:
    where = _literal_codes()
    assert len(where) > 100, "the scan found too few codes: are the patterns still right?"
    missing = {c: sorted(p) for c, p in sorted(where.items()) if c not in set(ErrorCode)}
    assert not missing, f"codes missing from ems_contracts/codes.py ErrorCode: {missing}"


def test_every_registered_code_is_still_used() -> None:
    used = set(_literal_codes()) | set(Code) | set(CloseReason) | _tablet_members()
    for codes in DYNAMIC.values():
        used |= codes
    stale = sorted(c.value for c in ErrorCode if c not in used)
    assert not stale, f"ErrorCode members no longer named or built in the source: {stale}"


def test_dynamic_codes_follow_their_templates() -> None:
    sources = _sources()
    for path, template in DYNAMIC:
        assert template in sources[path], f"{template} is gone from {path}"
    statuses = {f"transport_{s}" for s in TransportStatus if s is not TransportStatus.ACTIVE}
    assert statuses == DYNAMIC["hospital_gateway/relay.py", 'f"transport_{access.status}"']
    scopes = re.findall(rf'\blimit\(\s*"({CODE})"', "".join(sources.values()))
    assert {f"{s}_rate_limited" for s in scopes} == DYNAMIC[
        "ems/ratelimit.py", 'f"{scope}_rate_limited"'
    ]
    # A device certificate refused by TrustAnchors.verify (or its CRL) gets "device_",
    # but the untrusted_* codes keep theirs.
    pki = sources["ems/cards/pki.py"]
    refused = _codes_in(_function(pki, "verify")) | _codes_in(_function(pki, "crl"))
    device = {f"device_{c}" for c in refused if not c.startswith("untrusted")}
    assert device == DYNAMIC["ems/cards/identification.py", 'f"device_{err.code}"']


def test_policy_and_close_reason_codes_are_registered() -> None:
    assert {c.value for c in Code} - set(ErrorCode) == set()
    assert {c.value for c in CloseReason} - set(ErrorCode) == set()


def test_registry_gives_every_member_a_status_and_a_plain_line() -> None:
    assert set(REGISTRY) == set(ErrorCode)
    for code, info in REGISTRY.items():
        assert info.statuses, code
        assert "|" not in info.meaning and "\n" not in info.meaning, code
        assert info.meaning[:1].isupper() or info.meaning.startswith("`"), code
        assert info.meaning.endswith("."), code


def test_channels_match_the_source() -> None:
    # "sse" exactly for the event stream's close reasons; "ws" for every code the relay
    # names itself (it also passes on the policy's and the token check's codes).
    sse = {c.value for c, info in REGISTRY.items() if "sse" in info.statuses}
    assert sse == {c.value for c in CloseReason}
    relay = {
        c
        for c, paths in _literal_codes().items()
        if any(p.startswith(("hospital_gateway/", "ems_contracts/")) for p in paths)
    }
    relay |= DYNAMIC["hospital_gateway/relay.py", 'f"transport_{access.status}"']
    ws = {c.value for c, info in REGISTRY.items() if "ws" in info.statuses}
    not_ws = sorted(relay - ws)
    assert not not_ws, f"codes the relay sends, not marked 'ws': {not_ws}"


def _docs_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    assert text.count("\n## Error codes\n") == 1, "docs/api.md needs one '## Error codes'"
    section = text.split("\n## Error codes\n", 1)[1]
    return re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]


def test_docs_table_equals_the_registry() -> None:
    rows = [line for line in _docs_section().splitlines() if line.startswith("|")]
    expected = markdown_table().splitlines()
    codes = [m.group(1) for row in rows if (m := re.match(r"\| `([^`]+)` \|", row))]
    known = {c.value for c in ErrorCode}
    missing = sorted(known - set(codes))
    extra = sorted({c for c in codes if codes.count(c) > 1 or c not in known})
    assert not missing and not extra, (
        f"docs/api.md's error-code rows differ from ems_contracts/codes.py: missing {missing}, "
        f"unknown or repeated {extra}"
    )
    assert rows == expected, (
        "docs/api.md's '## Error codes' table is not ems_contracts.codes.markdown_table(); "
        "regenerate it"
    )

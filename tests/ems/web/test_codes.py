"""The pages translate what the API sends by stable codes, never by matching English
text: every error code, every reason code and its parameters, the decline reasons, and
the stream viewer's status line and refusals."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from ems.dispatch.reasons import TEMPLATES
from ems.hospital_requests.models import DeclineReason
from ems_contracts.codes import REGISTRY, ErrorCode

ROOT = Path(__file__).resolve().parents[3]
I18N = ROOT / "ems" / "web" / "static" / "i18n"
JS = ROOT / "ems" / "web" / "static" / "js"
VIEWER = ROOT / "hospital_gateway" / "static" / "viewer.js"


def load(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_reason_code_is_translated_with_the_same_parameters() -> None:
    for lang in ("ja", "en"):
        d = load(lang)
        for code, english in TEMPLATES.items():
            key = f"reason.{code}"
            assert key in d, (lang, key)
            # The page fills the dictionary text from the reason's params.
            assert set(re.findall(r"\{(\w+)\}", d[key])) <= _fields(english), (lang, key)


def test_no_page_matches_english_reason_text() -> None:
    shared = (JS / "shared-views.js").read_text(encoding="utf-8")
    for phrase in ("by ETA", "available since", "straight-line", "figure"):
        assert phrase not in shared, phrase
    assert "`reason.${r.code}`" in shared


def test_the_viewer_status_line_is_translated_for_the_er() -> None:
    viewer = VIEWER.read_text(encoding="utf-8")
    keys = set(re.findall(r'"(viewer\.[a-z_]+)"', viewer))
    keys |= {f"viewer.{k}" for k in ("hr", "spo2", "bp_sys", "bp_dia", "rr", "temp_c")}
    assert {"viewer.live", "viewer.stale", "viewer.refused", "viewer.connecting"} <= keys
    ja, en = load("ja"), load("en")
    for key in keys:
        # An English singular form (``<key>_one``) has no Japanese twin: ja has no plurals.
        assert (key.endswith("_one") or key in ja) and key in en, key
    assert ja["viewer.live"] != en["viewer.live"]
    # The ER passes its own translator and language to the viewer.
    er = (JS / "er.js").read_text(encoding="utf-8")
    assert re.search(r"mountViewer\([^)]*\bt\b[^)]*lang", er)
    assert "export function mountViewer(element, { relayUrl, transportId, token, lang, t," in (
        viewer
    )


def test_every_error_code_has_a_sentence_in_both_languages() -> None:
    ja, en = load("ja"), load("en")
    assert set(REGISTRY) == set(ErrorCode)
    for code in ErrorCode:
        key = f"error.{code.value}"
        assert key in ja and key in en, key
        for text in (ja[key], en[key]):
            # A sentence for a person, not the code again.
            assert code.value not in text and len(text) > 3, (key, text)
        assert ja[key] != en[key], key
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja[key]), (key, ja[key])
    # The fallbacks a code the page does not know yet falls to.
    for key in ("error.generic", "error.status_4xx", "error.status_5xx", "error.status_network"):
        assert key in ja and key in en, key


def test_no_page_shows_a_raw_error_code() -> None:
    common = (JS / "common.js").read_text(encoding="utf-8")
    assert "(${err.code})" not in common
    assert "errorMessage(" in common


def test_every_decline_reason_is_translated() -> None:
    ja, en = load("ja"), load("en")
    for reason in DeclineReason:
        key = f"decline.{reason.value}"
        assert key in ja and key in en and ja[key] != en[key], key


def test_the_viewer_says_each_refusal_as_a_sentence() -> None:
    viewer = VIEWER.read_text(encoding="utf-8")
    relay_codes = {c for c, info in REGISTRY.items() if "ws" in info.statuses}
    ja, en = load("ja"), load("en")
    for code in relay_codes:
        # Its own sentence, or the page's error sentence for the code.
        own = f"viewer.refused_{code.value}"
        assert own in viewer or (f"error.{code.value}" in ja and f"error.{code.value}" in en), code
    assert "{reason}" in ja["viewer.refused"] and "{code}" not in en["viewer.refused"]

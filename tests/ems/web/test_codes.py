"""The pages translate what the API sends by stable codes, never by matching English
text: every reason code and its parameters, and the stream viewer's status line."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from ems.dispatch.reasons import TEMPLATES

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
        assert key in ja and key in en, key
    assert ja["viewer.live"] != en["viewer.live"]
    # The ER passes its own translator and language to the viewer.
    er = (JS / "er.js").read_text(encoding="utf-8")
    assert re.search(r"mountViewer\([^)]*\bt\b[^)]*lang", er)
    assert "export function mountViewer(element, { relayUrl, transportId, token, lang, t }" in (
        viewer
    )

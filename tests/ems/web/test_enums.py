"""The pages' enum lists come from one generated module (``python -m ems.web.enums``),
written from the server's own enums: the committed file matches them, and no page
keeps a copy of a list by hand."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from ems.web import enums

ROOT = Path(__file__).resolve().parents[3]
PAGE_JS = [
    *sorted((ROOT / "ems" / "web" / "static" / "js").glob("*.js")),
    *sorted((ROOT / "ambulance_client" / "web" / "static" / "js").glob("*.js")),
    ROOT / "hospital_gateway" / "static" / "viewer.js",
]


def test_the_committed_module_matches_the_servers_enums() -> None:
    assert enums.TARGET.read_text(encoding="utf-8") == enums.render(), (
        "ems/web/static/js/generated/enums.js is out of date: run `python -m ems.web.enums`"
    )
    assert enums.main(["--check"]) == 0


def test_the_module_names_every_value_of_the_server() -> None:
    from ems.fleet.models import UnitStatus
    from ems.transports.models import TIMELINE

    text = enums.render()
    assert 'export const UNIT_STATUSES = Object.freeze(["available", "dispatched",' in text
    assert [v for v in UnitStatus] == enums.ENUMS["UNIT_STATUSES"][1]
    assert [k for k, _ in TIMELINE] == enums.ENUMS["TIMELINE"][1]
    assert "invalid_token" in enums.ENUMS["ERROR_CODES"][1]


def test_a_stale_module_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "enums.js"
    stale.write_text("export const URGENCIES = [];\n", encoding="utf-8")
    monkeypatch.setattr(enums, "TARGET", stale)
    assert enums.main(["--check"]) == 1
    assert enums.main([]) == 0
    assert stale.read_text(encoding="utf-8") == enums.render()


def test_no_page_copies_an_enum_list_by_hand() -> None:
    for js in PAGE_JS:
        text = js.read_text(encoding="utf-8")
        for name, (_, values) in enums.ENUMS.items():
            for a, b in itertools.pairwise(values):
                # Two values of one enum side by side in a literal list: a copy.
                pattern = rf"[\"']{re.escape(a)}[\"']\s*,\s*[\"']{re.escape(b)}[\"']"
                assert not re.search(pattern, text), f"{js.name} copies {name}: import it"

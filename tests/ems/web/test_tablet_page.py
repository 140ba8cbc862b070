"""Each part ships its own page (STYLE.md rule 13): the tablet's local service serves the
paramedic page from ``ambulance_client/web``, the server's pages live in ``ems/web``,
and no package reaches into another's folder by path. The modules both sides use have
one source (``ems/web/static/js``), copied to the tablet by ``scripts/ensure-frontend``;
the tablet's dictionaries carry what its page shows, in the same words as the server's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ambulance_client import web as tablet_web
from ambulance_client.agent import TabletService
from ambulance_client.web import create_agent_app

ROOT = Path(__file__).resolve().parents[3]
SERVER_WEB = ROOT / "ems" / "web"
TABLET_WEB = ROOT / "ambulance_client" / "web"
SHARED = ("common.js", "shared-views.js", "domain.js", "store.js", "talk.js", "generated/enums.js")
PACKAGES = ("ems", "hospital_gateway", "ambulance_client", "card_issuer", "ems_contracts")


def load(web: Path, lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((web / "static" / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


@pytest.fixture
def tablet() -> FlaskClient:
    service = TabletService(server_url="http://127.0.0.1:9", relay_url="ws://127.0.0.1:9")
    return create_agent_app(service).test_client()


def test_the_agent_serves_the_page_from_its_own_package(tablet: FlaskClient) -> None:
    assert Path(tablet_web.__file__).resolve().parent / "web" == tablet_web.WEB_DIR
    html = tablet.get("/").get_data(as_text=True)
    assert '<script type="module" src="/static/js/tablet.js">' in html
    assert '<link rel="stylesheet" href="/static/css/tablet.css">' in html
    for path in (
        "/static/js/tablet.js",
        "/static/js/tablet-state.js",
        "/static/css/tablet.css",
        "/static/i18n/ja.json",
        "/static/img/icon.svg",
        *(f"/static/js/shared/{name}" for name in SHARED),
    ):
        assert tablet.get(path).status_code == 200, path
    # Nothing of the server's pages comes along.
    for path in (
        "/static/js/dispatch.js",
        "/static/css/app.css",
        "/static/vendor/leaflet/leaflet.js",
    ):
        assert tablet.get(path).status_code == 404, path


def test_the_server_no_longer_carries_the_tablets_page() -> None:
    assert not (SERVER_WEB / "templates" / "tablet.html").exists()
    assert not (SERVER_WEB / "static" / "js" / "tablet.js").exists()
    assert not any(k.startswith(("tablet.", "pinless.")) for k in load(SERVER_WEB, "ja"))
    assert ".page-tablet" not in (SERVER_WEB / "static" / "css" / "app.css").read_text("utf-8")


def test_no_package_reaches_into_anothers_folder_by_path() -> None:
    for package in PACKAGES:
        others = "|".join(p for p in PACKAGES if p != package)
        reach = re.compile(rf"""(?:/\s*["'](?:{others})["'])|(?:["'](?:{others})["']\s*/)""")
        for py in sorted((ROOT / package).rglob("*.py")):
            text = py.read_text("utf-8")
            assert not reach.search(text), f"{py.relative_to(ROOT)} reaches into another package"


def test_the_shared_modules_are_the_servers_own() -> None:
    for name in SHARED:
        copy = TABLET_WEB / "static" / "js" / "shared" / name
        assert copy.is_file(), f"{copy} is missing: run scripts/ensure-frontend"
        source = SERVER_WEB / "static" / "js" / name
        assert copy.read_bytes() == source.read_bytes(), (
            f"{copy.relative_to(ROOT)} differs from {source.relative_to(ROOT)}: edit the source "
            "and run scripts/ensure-frontend"
        )


def test_the_tablets_dictionaries_have_the_same_keys_and_the_servers_words() -> None:
    ja, en = load(TABLET_WEB, "ja"), load(TABLET_WEB, "en")
    # English may carry a singular form ("1 bed free") under ``<key>_one``: Japanese has
    # no plural forms. Every such form has its plain key, with the same placeholders.
    forms = {k for k in en if k.endswith("_one") and k.removesuffix("_one") in en}
    assert set(ja) == set(en) - forms
    for k in forms:
        base = en[k.removesuffix("_one")]
        assert set(re.findall(r"\{(\w+)\}", en[k])) == set(re.findall(r"\{(\w+)\}", base)), k
    assert all(v.strip() for v in [*ja.values(), *en.values()])
    for lang, words in (("ja", ja), ("en", en)):
        server = load(SERVER_WEB, lang)
        differ = sorted(k for k in words if k in server and server[k] != words[k])
        assert not differ, f"{lang}: the tablet says these differently from the server: {differ}"


def test_every_key_the_tablet_uses_is_translated() -> None:
    ja = load(TABLET_WEB, "ja")
    used: set[str] = set()
    sources = [
        *(TABLET_WEB / "static" / "js").glob("*.js"),
        *(SERVER_WEB / "static" / "js" / n for n in ("common.js", "shared-views.js")),
    ]
    for js in sources:
        used |= set(re.findall(r'\bt\("([a-z_]+\.[a-z_0-9.]+)"', js.read_text("utf-8")))
    html = (TABLET_WEB / "templates" / "tablet.html").read_text("utf-8")
    used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z_]+\.[a-z_0-9.]+)"', html))
    # The shared module's minutes formatter is for the server's KPI panel only.
    assert sorted(k for k in used if k not in ja) == ["unit.minutes"]


def test_the_domain_values_the_tablet_shows_are_translated() -> None:
    from ems.fleet.models import UnitStatus
    from ems.hospital_requests.models import DeclineReason, RequestStatus
    from ems.hospitals.models import BedCategory
    from ems.incidents.models import Condition, Urgency
    from ems.transports.models import TIMELINE

    ja = load(TABLET_WEB, "ja")
    families: list[tuple[str, list[str]]] = [
        ("urgency", [u.value for u in Urgency]),
        ("status", [s.value for s in UnitStatus]),
        ("condition", [c.value for c in Condition]),
        ("bed", [c.value for c in BedCategory]),
        ("decline", [d.value for d in DeclineReason]),
        ("timeline", [kind for kind, _ in TIMELINE]),
        ("requests.status", [s.value for s in RequestStatus]),
    ]
    for prefix, values in families:
        for value in values:
            key = f"{prefix}_{value}" if prefix == "requests.status" else f"{prefix}.{value}"
            assert key in ja, key
    # The error codes the server's dictionary translates, the tablet does too.
    server_errors = {k for k in load(SERVER_WEB, "ja") if k.startswith("error.")}
    assert server_errors <= set(ja)


def test_every_control_of_the_tablet_page_has_a_label(tablet: FlaskClient) -> None:
    html = tablet.get("/").get_data(as_text=True)
    for match in re.finditer(r"<(input|select|textarea)\b([^>]*)>", html):
        attrs = match.group(2)
        before = html[: match.start()]
        assert before.rfind("<label") > before.rfind("</label>") or "aria-label" in attrs, attrs


def test_the_tablet_is_bound_to_its_unit_and_says_so_in_the_pages_language(
    tablet: FlaskClient,
) -> None:
    """A paramedic of another unit is refused at sign-in by the tablet's service, and the
    page says why in its own language; the sign-in form validates with its own words."""
    from ambulance_client.binding import UnitBinding

    binding = UnitBinding(unit_id=1)
    refusal = binding.admit({"role": "paramedic", "unit_id": 2})
    assert refusal is not None and refusal.code == "tablet_other_unit"
    ja, en = load(TABLET_WEB, "ja"), load(TABLET_WEB, "en")
    for words in (ja, en):
        assert "{unit}" in words["error.tablet_other_unit"]
        assert words["tablet.paramedics_only"] and words["login.missing"]
    assert ja["error.tablet_other_unit"] != en["error.tablet_other_unit"]
    assert tablet.get("/local/status").get_json()["unit_id"] is None  # bound at first sign-in
    html = tablet.get("/").get_data(as_text=True)
    form = re.search(r"<form[^>]*id=\"tab-login\"[^>]*>", html)
    assert form is not None and "novalidate" in form.group(0)
    js = (TABLET_WEB / "static" / "js" / "tablet.js").read_text("utf-8")
    assert 'e.code === "tablet_other_unit"' in js


def test_every_error_the_tablet_shows_has_words_in_both_languages() -> None:
    """Errors go through ``error.<code>`` with a sentence to fall back on: never the raw
    code, never English on the Japanese page."""
    from ems.hospital_requests.models import DeclineReason

    ja, en = load(TABLET_WEB, "ja"), load(TABLET_WEB, "en")
    codes = {
        "fallback",
        "no_hospital_chosen",
        "no_candidates",
        "round_open",
        "already_placed",
        "already_arrived",
        "transport_closed",
        "tablet_other_unit",
        "login_rate_limited",
        "invalid_token",
        "offline",
        "wrong_pin",
        "card_locked",
        "device_unit_mismatch",
    }
    for code in codes:
        assert f"error.{code}" in ja and f"error.{code}" in en, code
        assert not re.search(r"[A-Za-z]{4,}", ja[f"error.{code}"].replace("{unit}", "")), code
    for reason in DeclineReason:
        assert not re.search(r"[A-Za-z]{3,}", ja[f"decline.{reason.value}"]), reason
    js = (TABLET_WEB / "static" / "js" / "tablet.js").read_text("utf-8")
    assert "errorText(" not in js, "the shared errorText shows the raw code"

"""The pages' shells, their dictionaries and the map data the dispatcher draws."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ems.auth.models import Role
from ems.web import vendor, views
from ems.web.roads import region_geojson
from tests.factories import Api

WEB = Path(__file__).resolve().parents[3] / "ems" / "web"
I18N = WEB / "static" / "i18n"


def load(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", ["/login", "/dispatch", "/er", "/mc"])
def test_pages_are_served_in_japanese_with_their_modules(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert re.search(r'<script type="module" src="/static/js/\w+\.js">', html)
    # No script or style from anywhere but our own origin (the ER's viewer module comes
    # from the relay, named once by the server: see the test below).
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_root_sends_to_login(client: FlaskClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/login")


def test_every_control_in_the_shells_has_a_label(client: FlaskClient) -> None:
    for path in ("/login", "/dispatch", "/er", "/mc"):
        html = client.get(path).get_data(as_text=True)
        for match in re.finditer(r"<(input|select|textarea)\b([^>]*)>", html):
            attrs = match.group(2)
            if 'type="hidden"' in attrs or 'type="radio"' in attrs:
                continue
            name = re.search(r'(?:name|id)="([^"]+)"', attrs)
            assert name, attrs
            before = html[: match.start()]
            # Wrapped in a <label> or labelled by aria-label.
            assert before.rfind("<label") > before.rfind("</label>") or "aria-label" in attrs, (
                path,
                attrs,
            )


def test_dictionaries_have_the_same_keys_and_no_empty_text() -> None:
    ja, en = load("ja"), load("en")
    # English may carry a singular form ("1 bed free") under ``<key>_one``: Japanese has
    # no plural forms. Every such form has its plain key, with the same placeholders.
    forms = {k for k in en if k.endswith("_one") and k.removesuffix("_one") in en}
    assert set(ja) == set(en) - forms
    for k in forms:
        base = en[k.removesuffix("_one")]
        assert set(re.findall(r"\{(\w+)\}", en[k])) == set(re.findall(r"\{(\w+)\}", base)), k
    assert all(v.strip() for v in [*ja.values(), *en.values()])
    for key in ja:
        assert set(re.findall(r"\{(\w+)\}", ja[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_key_used_by_the_pages_is_translated() -> None:
    ja = load("ja")
    used: set[str] = set()
    for js in (WEB / "static" / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_]+\.[a-z_0-9.]+)"', js.read_text(encoding="utf-8")))
    for html in (WEB / "templates").glob("*.html"):
        text = html.read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z_]+\.[a-z_0-9.]+)"', text))
    missing = sorted(k for k in used if k not in ja)
    assert not missing


def test_domain_values_are_translated() -> None:
    from ems.fleet.models import UnitStatus
    from ems.hospital_requests.models import DeclineReason, RequestStatus
    from ems.hospitals.models import BedCategory, DiversionStatus
    from ems.incidents.models import Condition, IncidentStatus, Urgency
    from ems.transports.models import TIMELINE

    ja = load("ja")
    families: list[tuple[str, list[str]]] = [
        ("urgency", [u.value for u in Urgency]),
        ("status", [s.value for s in UnitStatus]),
        ("incident_status", [s.value for s in IncidentStatus]),
        ("condition", [c.value for c in Condition]),
        ("bed", [c.value for c in BedCategory]),
        ("diversion", [d.value for d in DiversionStatus]),
        ("decline", [d.value for d in DeclineReason]),
        ("timeline", [kind for kind, _ in TIMELINE]),
    ]
    for prefix, values in families:
        for value in values:
            assert f"{prefix}.{value}" in ja, f"{prefix}.{value}"
    for status in RequestStatus:
        assert f"requests.status_{status.value}" in ja


def test_region_roads_are_geojson_for_signed_in_users(
    client: FlaskClient, as_role: Callable[..., Api]
) -> None:
    assert client.get("/api/v1/region/roads.geojson").status_code == 401
    dispatcher = as_role(Role.DISPATCHER)
    resp = dispatcher.get("/api/v1/region/roads.geojson")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["bbox"] == [133.2, 35.15, 134.45, 35.6]
    kinds = {f["geometry"]["type"] for f in body["features"]}
    assert kinds == {"LineString", "Point"}
    classes = {
        f["properties"].get("class")
        for f in body["features"]
        if f["geometry"]["type"] == "LineString"
    }
    assert "trunk" in classes
    towns = [
        f["properties"]["name_en"] for f in body["features"] if f["geometry"]["type"] == "Point"
    ]
    assert "Midori City" in towns


def test_roads_of_a_region_pack_that_ships_them(tmp_path: Path) -> None:
    (tmp_path / "region.json").write_text(
        json.dumps({"name": "テスト", "bbox": [0, 0, 1, 1], "towns": []}), encoding="utf-8"
    )
    line = {"type": "LineString", "coordinates": [[0.1, 0.1], [0.9, 0.9]]}
    (tmp_path / "roads.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": line, "properties": {"highway": "primary"}}
                ],
            }
        ),
        encoding="utf-8",
    )
    features = region_geojson(tmp_path)["features"]
    assert [f["properties"]["class"] for f in features] == ["trunk"]


def test_the_er_page_loads_the_viewer_from_the_relays_own_origin(client: FlaskClient) -> None:
    html = client.get("/er").get_data(as_text=True)
    relay = client.application.config["RELAY_URL"]
    assert f'data-viewer-url="{views.viewer_module_url(relay)}"' in html
    assert views.viewer_module_url(relay).endswith("/viewer/viewer.js")
    # The server no longer serves another package's files.
    assert client.get("/gateway/viewer.js").status_code == 404


def test_the_mc_console_loads_the_viewer_from_the_relays_own_origin(
    client: FlaskClient,
) -> None:
    html = client.get("/mc").get_data(as_text=True)
    relay = client.application.config["RELAY_URL"]
    assert f'data-viewer-url="{views.viewer_module_url(relay)}"' in html
    assert '<script type="module" src="/static/js/mc.js">' in html
    for node in ('id="mc-requests"', 'id="mc-history"', 'id="mc-detail-body"', 'id="mc-sound"'):
        assert node in html


def test_the_mc_console_is_the_mc_doctors_page_alone() -> None:
    """The shell is public (it holds no data); the page's module refuses every other role
    before it asks anything, by roles.js's table, and the login sends a doctor there."""
    roles = (WEB / "static" / "js" / "roles.js").read_text(encoding="utf-8")
    assert re.search(r'"/mc": \["mc_doctor"\]', roles)
    assert re.search(r'role === "mc_doctor"\) return "/mc"', roles)
    ja, en = load("ja"), load("en")
    for key in ("role.mc_doctor", "role.go_mc", "role.mc_only", "role.not_for_mc_doctor"):
        assert key in ja and key in en


def test_every_procedure_and_decision_has_a_name(client: FlaskClient) -> None:
    from ems.instructions.models import InstructionDecision
    from ems.instructions.service import procedures

    ja, en = load("ja"), load("en")
    for p in procedures(client.application.config["INSTRUCTION_PROCEDURES"]):
        assert f"procedure.{p}" in ja and f"procedure.{p}" in en, p
    for d in InstructionDecision:
        assert f"decision.{d.value}" in ja and f"mc.do_{d.value}" in ja, d


@pytest.mark.parametrize(
    ("relay_url", "origin", "module"),
    [
        ("ws://127.0.0.1:8765", "http://127.0.0.1:8765", "http://127.0.0.1:8765/viewer/viewer.js"),
        ("wss://relay.example", "https://relay.example", "https://relay.example/viewer/viewer.js"),
        (
            "wss://ems.example/relay/",
            "https://ems.example",
            "https://ems.example/relay/viewer/viewer.js",
        ),
        ("", "", ""),
        ("relay.example:8765", "", ""),
    ],
)
def test_the_relay_origin_comes_from_its_websocket_url(
    relay_url: str, origin: str, module: str
) -> None:
    assert views.relay_http_origin(relay_url) == origin
    assert views.viewer_module_url(relay_url) == module


def test_the_pages_lists_come_from_the_servers_enums(client: FlaskClient) -> None:
    from ems.hospitals.models import DiversionStatus
    from ems.incidents.models import Urgency

    dispatch = client.get("/dispatch").get_data(as_text=True)
    shown = re.findall(r'name="urgency" value="(\w+)"', dispatch)
    assert shown == [u.value for u in Urgency]
    er = client.get("/er").get_data(as_text=True)
    options = re.findall(r'<option value="(\w+)" data-i18n="diversion\.', er)
    assert sorted(options) == sorted(d.value for d in DiversionStatus)
    assert options[0] == "open" and set(views.DIVERSION_ORDER) == set(DiversionStatus)


def test_vendor_copies_leaflet_and_names_what_is_missing(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    for rel in vendor.FILES["leaflet"]:
        (modules / "leaflet" / rel).parent.mkdir(parents=True, exist_ok=True)
        (modules / "leaflet" / rel).write_text("x")
    written = vendor.copy_vendor(modules, tmp_path / "vendor")
    assert (tmp_path / "vendor" / "leaflet" / "leaflet.js").is_file()
    assert (tmp_path / "vendor" / "leaflet" / "images" / "marker-icon.png").is_file()
    assert len(written) == len(vendor.FILES["leaflet"])
    (modules / "leaflet" / "dist" / "leaflet.js").unlink()
    with pytest.raises(FileNotFoundError, match=r"leaflet\.js"):
        vendor.copy_vendor(modules, tmp_path / "vendor2")


def test_unit_names_in_english_follow_the_station() -> None:
    from ems.web.names import call_sign_en, unit_names

    assert call_sign_en("八頭救急1", "Yazu Fire Station") == "Yazu Ambulance 1"
    assert call_sign_en("みどり救急3", "Midori Central Fire Station") == "Midori Ambulance 3"
    assert call_sign_en("岩美救急1", "Iwami Branch") == "Iwami Ambulance 1"
    # Another shape, or no English name: kept as it is.
    assert call_sign_en("A1", "Yazu Fire Station") == "A1"
    assert call_sign_en("八頭救急1", "") == "八頭救急1"
    assert unit_names([("智頭救急1", "智頭出張所", "")])[0]["station_en"] == "智頭出張所"


def test_region_names_answer_every_unit(client: FlaskClient, as_role: Callable[..., Api]) -> None:
    from tests.factories import make_unit

    make_unit(client.application, call_sign="八頭救急1")
    api = as_role(Role.DISPATCHER)
    resp = api.get("/api/v1/region/names")
    assert resp.status_code == 200
    [row] = resp.get_json()
    assert row["call_sign"] == "八頭救急1" and row["station"] == "八頭救急1署"
    assert client.get("/api/v1/region/names").status_code == 401


def test_every_form_says_its_own_errors(client: FlaskClient) -> None:
    # No browser-language bubbles: each form validates in the page's language.
    for path, form in (("/login", "login-form"), ("/dispatch", "new-call"), ("/er", "avail-form")):
        html = client.get(path).get_data(as_text=True)
        tag = re.search(rf'<form id="{form}"[^>]*>', html)
        assert tag and "novalidate" in tag.group(0), path


def test_the_er_board_keeps_patients_for_the_configured_hours(client: FlaskClient) -> None:
    assert 'data-board-hours="6"' in client.get("/er").get_data(as_text=True)
    client.application.config["ER_BOARD_HOURS"] = "12"
    assert 'data-board-hours="12"' in client.get("/er").get_data(as_text=True)
    client.application.config["ER_BOARD_HOURS"] = "999"
    assert 'data-board-hours="72"' in client.get("/er").get_data(as_text=True)


FORM_TEMPLATES = [
    *sorted((WEB / "templates").glob("*.html")),
    *sorted((WEB.parents[1] / "ambulance_client" / "web" / "templates").glob("*.html")),
]


@pytest.mark.parametrize("template", FORM_TEMPLATES, ids=lambda p: p.name)
def test_no_form_can_put_what_it_holds_in_a_url(template: Path) -> None:
    """A form submitted before its script has attached the handler must not go out as a
    GET (the password or the caller's phone would land in the URL and the access log):
    every form posts, and its submit buttons ship disabled until the script arms them
    (``armSubmit`` in common.js)."""
    html = template.read_text(encoding="utf-8")
    forms = re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S)
    for form in forms:
        tag = form.split(">", 1)[0]
        assert 'method="post"' in tag, tag
        for button in re.findall(r'<button\b[^>]*type="submit"[^>]*>', form):
            assert "disabled" in button and "data-until-ready" in button, button


def test_the_script_arms_what_the_page_ships_disabled() -> None:
    common = (WEB / "static" / "js" / "common.js").read_text(encoding="utf-8")
    tablet_js = WEB.parents[1] / "ambulance_client" / "web" / "static" / "js" / "tablet.js"
    tablet = tablet_js.read_text(encoding="utf-8")
    assert re.search(r"form\.addEventListener\(\"submit\"[\s\S]*?\n  armSubmit\(form\);", common)
    assert "armSubmit(loginForm);" in tablet

"""Issue 14's "done when" in real Chromium, in Japanese and English, at the two laptop
sizes the command centre, the ER and the tablet use (1280×800 and 1366×768): a person at
the ER page accepts a crew's request; a crew whose every recommended hospital declined
chooses one by hand and arrives; the card panel shows the patient's name and allergies,
and a wrong PIN's tries left, without scrolling; a user on another role's page is told
so and the page asks the server nothing; errors speak the page's language.

The browser system has no simulated users: every hospital's answer here is a person's
(the ER page) or an ER account's through the API. The tablet is bound to one unit, so
the tests that use it run one after the other on that unit, each finishing its run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ems_contracts.timeline import TIMELINE_KINDS
from tests.browser import flows
from tests.browser.system import CARD_PIN, PASSWORD, System, launch_browser, running_system

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
LANGS = ["ja", "en"]
VIEWPORTS = [(1280, 800), (1366, 768)]
SIZES = pytest.mark.parametrize("size", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
LANG = pytest.mark.parametrize("lang", LANGS)
# For what depends on the language more than on the size: each language once, each size once.
PAIRS = pytest.mark.parametrize(
    ("lang", "size"),
    [("ja", VIEWPORTS[0]), ("en", VIEWPORTS[1])],
    ids=["ja-1280x800", "en-1366x768"],
)

ADMIN = ("admin", "管理者 鈴木")
# A raw error code ("login_rate_limited", "request_closed") where a sentence belongs.
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# Three Latin words in a row: an English sentence on a Japanese page.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[\s,.:;'()-]+[A-Za-z]{2,}){2,}")
LATIN = re.compile(r"[A-Za-z]")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
# Where a page says something went wrong.
ERROR_AREAS = ".form-error, #card-error, .locked, .toast, [role=alert]"


@dataclass
class Rig:
    system: System
    api: flows.ApiClient
    browser: Any
    # Units with no tablet, one per test that needs a second crew.
    spare_units: list[int]
    # The ER account of each hospital (the seed's er1..erN, in region order).
    er_users: dict[int, str]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with running_system() as system, sync_playwright() as pw:
        _add_admin(system)
        seeded = system.seeded
        browser = launch_browser(pw)
        try:
            yield Rig(
                system=system,
                api=flows.ApiClient(system.server_url),
                browser=browser,
                spare_units=[u for u in seeded.unit_ids if u != seeded.paramedic_unit_id],
                er_users={hid: f"er{k + 1}" for k, hid in enumerate(seeded.hospital_ids.values())},
            )
        finally:
            browser.close()


def _add_admin(system: System) -> None:
    from ems.auth.models import Role
    from ems.auth.service import create_user

    with system.app.extensions["ems_db"].session_scope() as s:
        create_user(
            session=s,
            username=ADMIN[0],
            password=PASSWORD,
            role=Role.ADMIN,
            display_name=ADMIN[1],
        )


@pytest.fixture
def runs(rig: Rig) -> Iterator[list[int]]:
    """Transports a test started: each is taken to its handover afterwards, whatever
    the test's outcome, so that the next test finds the unit free."""
    started: list[int] = []
    yield started
    for transport_id in started:
        finish(rig, transport_id)


def finish(rig: Rig, transport_id: int) -> None:
    api = rig.api
    tr = api.call("GET", f"/api/v1/transports/{transport_id}", as_user="dispatcher")
    if tr["status"] != "active":
        return
    if not tr["destination_hospital_id"]:
        api.call(
            "PUT",
            f"/api/v1/transports/{transport_id}/destination",
            {"hospital_id": rig.system.seeded.er_hospital_id},
            as_user="dispatcher",
        )
    done = {s["kind"] for s in tr["timeline"] if s["at"]}
    for kind in TIMELINE_KINDS:
        if kind not in done:
            api.call(
                "POST",
                f"/api/v1/transports/{transport_id}/events",
                {"kind": kind},
                as_user="dispatcher",
            )


@pytest.fixture
def er_beds(rig: Rig) -> None:
    """The ER's hospital open with every bed free (earlier tests' patients took some),
    as its staff would say on the ER page."""
    er_h = rig.system.seeded.er_hospital_id
    hospital = next(
        h for h in rig.api.call("GET", "/api/v1/hospitals", as_user="er") if h["id"] == er_h
    )
    rig.api.call(
        "PATCH",
        f"/api/v1/hospitals/{er_h}/availability",
        {
            "beds": [
                {"category": b["category"], "available": b["capacity"], "ttl_min": 60}
                for b in hospital["beds"]
            ],
            "diversion": "open",
            "diverted_categories": [],
        },
        as_user="er",
    )


def new_page(rig: Rig, lang: str, size: tuple[int, int], **kw: Any) -> Any:
    width, height = size
    ctx = rig.browser.new_context(
        viewport={"width": width, "height": height},
        locale="ja-JP" if lang == "ja" else "en-GB",
        **kw,
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    flows.set_language(ctx, lang)
    return ctx.new_page()


def with_session(rig: Rig, lang: str, size: tuple[int, int], username: str) -> Any:
    """A page whose tab holds ``username``'s session for the server's pages, not yet
    opened. The login page is tested on its own: here the session is put where the
    login page keeps it."""
    body = rig.api.call("POST", "/api/v1/auth/token", {"username": username, "password": PASSWORD})
    page = new_page(rig, lang, size)
    session = json.dumps({"ems.token": body["access_token"], "ems.user": json.dumps(body["user"])})
    page.context.add_init_script(
        f"if (location.origin === {json.dumps(rig.system.server_url)}) "
        f"for (const [k, v] of Object.entries({session})) sessionStorage.setItem(k, v);"
    )
    return page


def signed_in(rig: Rig, lang: str, size: tuple[int, int], username: str) -> Any:
    """The server's page of ``username``'s role, ready."""
    page = with_session(rig, lang, size, username)
    page.goto(f"{rig.system.server_url}{'/er' if username.startswith('er') else '/dispatch'}")
    page.wait_for_selector("body[data-ready=true]")
    return page


def tablet_page(rig: Rig, lang: str, size: tuple[int, int], complaint: str) -> Any:
    page = new_page(rig, lang, size, has_touch=True)
    page.goto(f"{rig.system.tablet_url}/")
    flows.tablet_login(page)
    page.wait_for_selector(f"#assign-body >> text={complaint}")
    return page


def call(rig: Rig, unit_id: int, complaint: str) -> tuple[int, int]:
    """A call in the crew's own town, assigned to ``unit_id``: (incident, transport)."""
    api = rig.api
    inc = api.call(
        "POST",
        "/api/v1/incidents",
        {
            "lat": 35.5,
            "lon": 134.22,
            "urgency": "serious",
            "chief_complaint": complaint,
            "address": "みどり市 本町 1-1",
            "patient_age": 58,
        },
        as_user="dispatcher",
    )
    api.call(
        "POST", f"/api/v1/incidents/{inc['id']}/assign", {"unit_id": unit_id}, as_user="dispatcher"
    )
    got = api.call("GET", f"/api/v1/incidents/{inc['id']}", as_user="dispatcher")
    return int(inc["id"]), int(got["transport_id"])


def call_sign(rig: Rig, lang: str, unit_id: int) -> str:
    """A unit's call sign as the pages should show it in ``lang``."""
    unit = rig.api.call("GET", f"/api/v1/units/{unit_id}", as_user="dispatcher")
    names = rig.api.call("GET", "/api/v1/region/names", as_user="dispatcher")
    row = next(n for n in names if n["call_sign"] == unit["call_sign"])
    sign: str = row["call_sign_en"] if lang == "en" else row["call_sign"]
    return sign


def requests_of(rig: Rig, transport_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = rig.api.call(
        "GET", f"/api/v1/hospital-requests?transport_id={transport_id}", as_user="dispatcher"
    )
    return rows


def sent_requests(rig: Rig, transport_id: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The transport's open requests, once the tablet's round has reached the server."""
    deadline = time.monotonic() + timeout_s
    while not (rows := [r for r in requests_of(rig, transport_id) if r["status"] == "sent"]):
        assert time.monotonic() < deadline, "the round never reached the server"
        time.sleep(0.1)
    return rows


def step(tablet: Any, kind: str) -> None:
    tablet.locator(f'[data-step="{kind}"]').click()
    tablet.wait_for_selector(f'[data-step="{kind}"][data-state="done"]')


def toast(page: Any, text: str | re.Pattern[str]) -> str:
    """The text of the toast that says ``text`` (it shows for a few seconds)."""
    item = page.locator("#toasts .toast", has_text=text).first
    item.wait_for()
    text_shown: str = item.inner_text()
    return text_shown


def enter_pin(tablet: Any, pin: str) -> None:
    for digit in pin:
        tablet.locator(f'.pinpad [data-key="{digit}"]').click()
    tablet.locator('.pinpad [data-key="ok"]').click()


# Where ``el`` is on screen and what hides it: outside the viewport, clipped by an
# ancestor that scrolls or hides its overflow, or such an ancestor scrolled.
_SEEN = """el => {
  const r = el.getBoundingClientRect();
  const problems = [];
  if (r.width < 1 || r.height < 1) problems.push("has no size");
  if (r.top < 0 || r.left < 0 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5)
    problems.push(`outside the ${innerWidth}x${innerHeight} viewport`);
  for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    const name = a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}.${a.className}`;
    if (a.scrollTop > 0) problems.push(`${name} is scrolled by ${a.scrollTop}px`);
    if (s.overflowX === "visible" && s.overflowY === "visible") continue;
    const b = a.getBoundingClientRect();
    const inside = r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5
      && r.left >= b.left - 0.5 && r.right <= b.right + 0.5;
    if (!inside) problems.push(`clipped by ${name} (overflow ${s.overflowY})`);
  }
  return {
    rect: [Math.round(r.top), Math.round(r.bottom), Math.round(r.left), Math.round(r.right)],
    pageScroll: document.scrollingElement.scrollTop,
    problems,
  };
}"""


def assert_seen(page: Any, selector: str) -> None:
    """``selector`` shows whole, without the page or any box around it scrolled."""
    where = page.locator(selector).first.evaluate(_SEEN)
    assert where["pageScroll"] == 0, f"{selector}: the page is scrolled ({where})"
    assert not where["problems"], f"{selector} at {where['rect']}: {where['problems']}"


def error_texts(page: Any) -> list[str]:
    texts: list[str] = page.locator(ERROR_AREAS).evaluate_all(
        "els => els.filter(e => e.offsetParent !== null || e.getClientRects().length)"
        ".map(e => e.innerText.trim()).filter(Boolean)"
    )
    return texts


def assert_in_language(lang: str, texts: list[str], *, data: tuple[str, ...] = ()) -> None:
    """No raw code, and nothing of the other language, once the data shown (complaints,
    hospital names: the user's own words) is taken out."""
    for text in texts:
        said = text
        for d in data:
            said = said.replace(d, "")
        assert not RAW_CODE.search(said), f"a raw code in {text!r}"
        if lang == "ja":
            assert not ENGLISH.search(said), f"English on a Japanese page: {text!r}"
        else:
            assert not JAPANESE.search(said), f"Japanese on an English page: {text!r}"


# --- 1. A person at the ER page accepts ----------------------------------------------------


@LANG
@SIZES
@pytest.mark.usefixtures("er_beds")
def test_er_person_accepts_a_crews_request(
    rig: Rig, runs: list[int], lang: str, size: tuple[int, int]
) -> None:
    seeded = rig.system.seeded
    er_h = seeded.er_hospital_id
    complaint = f"胸痛 受入 {lang} {size[0]}"

    er = signed_in(rig, lang, size, "er")
    disp = signed_in(rig, lang, size, "dispatcher")

    # The dispatcher registers the call with a double click: one incident.
    disp.click("#new-call-toggle")
    disp.fill("#new-call [name=chief_complaint]", complaint)
    disp.check("#new-call .seg-serious input")
    disp.select_option("#condition-select", "chest_pain_stemi")
    disp.select_option("#town-select", index=1)  # the district of the crew's station
    disp.fill("#new-call [name=address]", "みどり市 本町 3-1")
    disp.fill("#new-call [name=patient_age]", "66")
    disp.dblclick("#new-call-submit")
    disp.wait_for_selector(".detail-title", state="visible")
    assert disp.locator(".detail-title").inner_text() == complaint
    disp.wait_for_timeout(500)  # a second POST would have been answered by now
    incidents = rig.api.call("GET", "/api/v1/incidents", as_user="dispatcher")
    mine = [i for i in incidents if i["chief_complaint"] == complaint]
    assert len(mine) == 1, f"a double click registered {len(mine)} incidents"
    incident_id = mine[0]["id"]
    toast(disp, flows.said(lang, "dispatch.call_registered", id=incident_id))

    # One click sends the crew's unit; the toast names the incident.
    disp.locator(f'[data-assign-unit="{seeded.paramedic_unit_id}"]').click()
    disp.wait_for_selector(".detail-head .st-inc-assigned")
    toast(disp, flows.said(lang, "dispatch.assigned", id=incident_id))
    transport_id = int(
        rig.api.call("GET", f"/api/v1/incidents/{incident_id}", as_user="dispatcher")[
            "transport_id"
        ]
    )
    runs.append(transport_id)

    # The crew asks the ER's hospital (among the recommended) from the tablet.
    tablet = tablet_page(rig, lang, size, complaint)
    tablet.wait_for_selector("#send-requests")
    tablet.locator(f"#tab-h-{er_h}").check()
    tablet.click("#send-requests")
    tablet.wait_for_selector("#waiting-answers")
    req = next(r for r in sent_requests(rig, transport_id) if r["hospital_id"] == er_h)

    # The request arrives live on the ER page, named; a person accepts it.
    card = er.locator(f"#request-{req['id']}")
    card.wait_for()
    assert complaint in card.inner_text()
    unit = call_sign(rig, lang, seeded.paramedic_unit_id)
    assert card.locator(".rc-unit").inner_text() == unit, "the ER card's call sign"
    assert complaint in toast(er, flows.said(lang, "er.new_request"))
    er.click(f"#accept-{req['id']}")
    card.wait_for(state="detached")
    assert complaint in toast(er, flows.said(lang, "er.accepted_toast"))
    er.locator(f"#patient-{transport_id}").wait_for()

    # The tablet shows where to go, without reloading; the dispatcher is told, by incident.
    dest = tablet.locator("[data-testid=destination]")
    dest.wait_for()
    hospital = rig.api.call("GET", "/api/v1/hospitals", as_user="dispatcher")
    er_hospital = next(h for h in hospital if h["id"] == er_h)
    name = (
        er_hospital["name_en"] if lang == "en" and er_hospital["name_en"] else er_hospital["name"]
    )
    assert dest.inner_text() == name
    tablet.locator(f'.req-accepted[data-request-id="{req["id"]}"]').wait_for()
    answer = flows.tr(lang, "requests.toast_accepted", hospital=name)
    toast(
        disp, flows.said(lang, "common.about", about=f"#{incident_id} {complaint}", message=answer)
    )
    transport = rig.api.call("GET", f"/api/v1/transports/{transport_id}", as_user="dispatcher")
    assert transport["destination_hospital_id"] == er_h
    # The tablet names its own unit in the page's language too.
    assert tablet.locator("#unit-name").inner_text() == unit, "the tablet's call sign"
    for page in (er, disp, tablet):
        page.context.close()


# --- 2. Every recommended hospital declined: the crew chooses one by hand ---------------


def decline_every_round(rig: Rig, transport_id: int) -> int:
    """Each hospital asked says no, as its ER account, round after round, until nobody
    is left to ask: the number of hospitals that declined."""
    reasons = ("beds_full", "cannot_treat", "outside_specialty", "in_surgery", "no_specialist")
    declined = 0
    answer: dict[str, Any] = {}
    for _ in range(20):
        open_ = [r for r in requests_of(rig, transport_id) if r["status"] == "sent"]
        if not open_:
            break
        for r in open_:
            answer = rig.api.call(
                "POST",
                f"/api/v1/hospital-requests/{r['id']}/decline",
                {"reason": reasons[declined % len(reasons)]},
                as_user=rig.er_users[r["hospital_id"]],
            )
            declined += 1
    else:
        raise AssertionError("the rounds never ran out")
    assert answer["exhausted"], "the last decline should have left nobody to ask"
    return declined


@LANG
@SIZES
def test_crew_with_every_hospital_declined_chooses_one_and_arrives(
    rig: Rig, runs: list[int], lang: str, size: tuple[int, int]
) -> None:
    seeded = rig.system.seeded
    complaint = f"腹痛 全病院不可 {lang} {size[0]}"
    incident_id, transport_id = call(rig, seeded.paramedic_unit_id, complaint)
    runs.append(transport_id)
    disp = signed_in(rig, lang, size, "dispatcher")
    tablet = tablet_page(rig, lang, size, complaint)
    step(tablet, "arrived_scene")
    step(tablet, "patient_contact")

    # No round of none: with every box unticked, there is nothing to send.
    tablet.wait_for_selector("#send-requests")
    ticked = tablet.locator("#rec-list input[type=checkbox]:checked")
    chosen = [int(i.split("-")[-1]) for i in ticked.evaluate_all("els => els.map(e => e.id)")]
    assert chosen, "the tablet ticks the suggested hospitals"
    for hospital_id in chosen:
        tablet.locator(f"#tab-h-{hospital_id}").uncheck()
    tablet.wait_for_selector("#pick-one")
    assert tablet.locator("#send-requests").count() == 0
    # Choosing by hand is offered all along, not only at the dead end.
    assert tablet.locator("#manual-toggle").is_visible()
    tablet.locator(f"#tab-h-{chosen[0]}").check()
    tablet.click("#send-requests")
    tablet.wait_for_selector("#waiting-answers")
    sent_requests(rig, transport_id)

    declined = decline_every_round(rig, transport_id)
    assert declined >= 1

    # The tablet says nobody is left and offers every hospital, each with its ETA.
    needed = tablet.locator("#destination-needed")
    needed.wait_for()
    assert flows.tr(lang, "tablet.dead_end_title") in needed.inner_text()
    tablet.wait_for_selector("#manual-list")
    items = tablet.locator("#manual-list li")
    assert items.count() >= 1
    radios = tablet.locator("#manual-list input[type=radio]")
    ids = radios.evaluate_all("els => els.map(e => e.id)")
    assert len(ids) == items.count() and all(re.fullmatch(r"manual-h-\d+", i) for i in ids)
    etas = tablet.locator("#manual-list .rec-eta").all_inner_texts()
    assert len(etas) == len(ids) and all(re.search(r"\d", e) for e in etas), etas
    # What each hospital answered, in the page's language.
    reasons = tablet.locator(".req-declined .req-meta").all_inner_texts()
    assert len(reasons) == declined
    assert_in_language(lang, reasons)

    # The dispatcher is alerted, about this incident.
    alert = disp.locator(f"#destination-alert-{transport_id}")
    alert.wait_for()
    assert f"#{incident_id} {complaint}" in alert.inner_text()

    # On the way without a destination, "arrived at hospital" stays locked.
    step(tablet, "loaded")
    step(tablet, "departed_scene")
    arrived = tablet.locator('[data-step="arrived_hospital"]')
    assert arrived.is_disabled()

    # The crew phones the nearest and sets it by hand.
    pick = int(ids[0].split("-")[-1])
    tablet.check(f"#manual-h-{pick}")
    tablet.click("#set-destination")
    tablet.wait_for_selector("[data-testid=destination]")
    toast(tablet, flows.said(lang, "tablet.destination_set"))
    tablet.wait_for_selector('[data-step="arrived_hospital"]:not([disabled])')
    step(tablet, "arrived_hospital")
    alert.wait_for(state="detached")  # the dispatcher's alert is over
    tablet.locator('[data-step="handover"]').click()
    tablet.wait_for_selector("#assign-body .empty")

    transport = rig.api.call("GET", f"/api/v1/transports/{transport_id}", as_user="dispatcher")
    assert transport["destination_hospital_id"] == pick
    assert transport["status"] == "completed"
    assert all(s["at"] for s in transport["timeline"])
    for page in (disp, tablet):
        page.context.close()


# --- 3. The card panel on a laptop-sized tablet -------------------------------------------


def _patient_name() -> str:
    from ems.cards.demo import demo_bundles

    bundle = demo_bundles()[0]
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    name: str = patient["name"][0]["text"]
    return name


@LANG
@SIZES
def test_card_panel_shows_name_allergies_and_wrong_pin_without_scrolling(
    rig: Rig, runs: list[int], lang: str, size: tuple[int, int]
) -> None:
    seeded = rig.system.seeded
    complaint = f"意識障害 カード {lang} {size[0]}"
    _, transport_id = call(rig, seeded.paramedic_unit_id, complaint)
    runs.append(transport_id)
    for kind in ("arrived_scene", "patient_contact"):
        rig.api.call(
            "POST", f"/api/v1/transports/{transport_id}/events", {"kind": kind}, as_user="medic"
        )
    tablet = tablet_page(rig, lang, size, complaint)
    tablet.wait_for_selector('[data-step="loaded"][data-state="next"]')
    assert_seen(tablet, "#card-tap")

    # A wrong PIN: the error with the tries left, in view.
    tablet.click("#card-tap")
    enter_pin(tablet, "0000" if CARD_PIN != "0000" else "1111")
    error = tablet.locator("#card-error")
    error.wait_for()
    assert error.inner_text() == flows.tr(lang, "tablet.wrong_pin", n=2)
    assert_seen(tablet, "#card-error")
    assert_seen(tablet, '.pinpad [data-key="ok"]')

    # The right one: the patient's name and allergies, in view.
    enter_pin(tablet, CARD_PIN)
    tablet.wait_for_selector("#card-body [data-testid=history]")
    name = tablet.locator("#card-body .history-patient")
    assert _patient_name() in name.inner_text()
    assert_seen(tablet, "#card-body .history-patient")
    allergies = tablet.locator("#card-body .history-sec[data-section=allergies]")
    assert flows.tr(lang, "history.allergies") in allergies.inner_text()
    assert allergies.locator("li").count() >= 1
    assert_seen(tablet, "#card-body .history-sec[data-section=allergies]")
    tablet.context.close()


# --- 4. Another role's page ------------------------------------------------------------

ROLE_CASES = [
    # (user, display name, role, page opened, message key, link to)
    ("er", "救急医 高橋", "er_staff", "/dispatch", "role.not_for_er_staff", "/er"),
    ("dispatcher", "指令員 佐藤", "dispatcher", "/er", "role.not_for_dispatcher", "/dispatch"),
    (ADMIN[0], ADMIN[1], "admin", "/er", "role.admin_not_here", "/dispatch"),
]


@PAIRS
@pytest.mark.parametrize("case", ROLE_CASES, ids=[f"{c[0]}-on-{c[3][1:]}" for c in ROLE_CASES])
def test_another_roles_page_says_so_and_asks_nothing(
    rig: Rig, lang: str, size: tuple[int, int], case: tuple[str, ...]
) -> None:
    username, display, role, wrong, key, home = case
    asked: list[str] = []
    sockets: list[str] = []
    page = with_session(rig, lang, size, username)
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url else None)
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{rig.system.server_url}{wrong}")
    refusal = page.locator("#role-refusal")
    refusal.wait_for()
    message = page.locator("#role-refusal-message").inner_text()
    assert message == flows.tr(lang, key, name=display, role=flows.tr(lang, f"role.{role}"))
    link = page.locator("#role-refusal-home")
    assert link.get_attribute("href") == home
    assert link.inner_text() == flows.tr(lang, f"role.go_{home[1:]}")
    assert_seen(page, "#role-refusal-home")
    page.wait_for_timeout(1000)  # what a page asks at start has been asked by now
    assert asked == [], f"{wrong} for {role} asked {asked}"
    assert sockets == [], f"{wrong} for {role} opened {sockets}"

    # The link leads to their own page, which works.
    link.click()
    page.wait_for_url(f"**{home}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#role-refusal").count() == 0
    page.context.close()


@LANG
def test_a_wrong_page_before_login_leads_home_after_it(rig: Rig, lang: str) -> None:
    """Sent to the login page from another role's page, the user lands on their own page
    afterwards, not back on the page that is not theirs."""
    page = new_page(rig, lang, VIEWPORTS[0])
    page.goto(f"{rig.system.server_url}/dispatch")
    page.wait_for_url("**/login?next=%2Fdispatch")
    page.fill("#username", "er")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/er")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#role-refusal").count() == 0
    page.context.close()


# --- 5. Everything in the page's language --------------------------------------------------


@PAIRS
@pytest.mark.usefixtures("er_beds")
def test_errors_speak_the_pages_language(
    rig: Rig, runs: list[int], lang: str, size: tuple[int, int]
) -> None:
    seeded = rig.system.seeded
    er_h = seeded.er_hospital_id

    # A wrong password, on the server's login page and on the tablet's.
    login = new_page(rig, lang, size)
    login.goto(f"{rig.system.server_url}/login")
    login.fill("#username", "dispatcher")
    login.fill("#password", "not-the-password")
    login.click("#login-form button[type=submit]")
    error = login.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == flows.tr(lang, "login.invalid")
    assert_in_language(lang, error_texts(login))
    login.context.close()

    tablet = new_page(rig, lang, size, has_touch=True)
    tablet.goto(f"{rig.system.tablet_url}/")
    tablet.fill("#tab-login input[name=username]", "medic")
    tablet.fill("#tab-login input[name=password]", "not-the-password")
    tablet.click("#tab-login button[type=submit]")
    tablet.wait_for_selector("#login-error:not([hidden])")
    assert tablet.locator("#login-error").inner_text() == flows.tr(lang, "login.invalid")
    assert_in_language(lang, error_texts(tablet))
    tablet.context.close()

    # The dispatcher's form says what is missing, not the browser.
    disp = signed_in(rig, lang, size, "dispatcher")
    disp.click("#new-call-toggle")
    disp.click("#new-call-submit")
    disp.wait_for_selector("#new-call-error:not([hidden])")
    assert disp.locator("#new-call-error").inner_text() == flows.tr(lang, "dispatch.need_complaint")
    # Said where the eye is: under the field, in sight with it once it takes the focus
    # (by the buttons at the form's foot it had been scrolled out of sight).
    where = disp.locator("#new-call-error").evaluate(_SEEN)
    hidden = [p for p in where["problems"] if "is scrolled by" not in p]
    assert not hidden, where
    assert disp.evaluate("document.activeElement.name") == "chief_complaint"
    assert disp.locator("input[name=chief_complaint]").get_attribute("aria-describedby") == (
        "new-call-error"
    )
    assert_in_language(lang, error_texts(disp))
    disp.context.close()

    # The ER: a request another hospital took while this page's live stream was down.
    complaint = f"吐血 言語 {lang} {size[0]}"
    unit = rig.spare_units.pop(0)
    _, transport_id = call(rig, unit, complaint)
    runs.append(transport_id)
    other = next(h for h in seeded.hospital_ids.values() if h != er_h)
    rnd = rig.api.call(
        "POST",
        f"/api/v1/transports/{transport_id}/hospital-requests",
        {"hospital_ids": [er_h, other]},
        as_user="dispatcher",
    )
    ours = next(r for r in rnd["requests"] if r["hospital_id"] == er_h)
    theirs = next(r for r in rnd["requests"] if r["hospital_id"] == other)
    er = with_session(rig, lang, size, "er")
    er.route("**/api/v1/events*", lambda route: route.abort())
    er.goto(f"{rig.system.server_url}/er")
    er.wait_for_selector("body[data-ready=true]")
    card = er.locator(f"#request-{ours['id']}")
    card.wait_for()

    # The decline reasons of the card, in the page's language.
    er.click(f"#decline-{ours['id']}")
    buttons = card.locator(".reason-btn")
    reasons = buttons.evaluate_all("els => els.map(e => [e.dataset.reason, e.innerText])")
    assert reasons
    for reason, text in reasons:
        assert text == flows.tr(lang, f"decline.{reason}")
    if lang == "ja":
        assert not [t for _, t in reasons if LATIN.search(t)], reasons
    card.locator(".reason-box .btn-ghost-dark").click()  # back

    rig.api.call(
        "POST",
        f"/api/v1/hospital-requests/{theirs['id']}/accept",
        {},
        as_user=rig.er_users[other],
    )
    er.click(f"#accept-{ours['id']}")
    said = toast(er, flows.said(lang, "error.already_placed"))
    assert complaint in said  # it names the patient
    assert_in_language(lang, error_texts(er), data=(complaint,))
    card.wait_for(state="detached")  # the page looked again: the request is gone

    # A bed figure out of range says so, and the next save works.
    first = er.locator("#avail-body input[data-category]").first
    category = first.get_attribute("data-category")
    figure = first.input_value()
    first.fill("9999")
    er.click("#avail-save")
    problem = er.locator("#avail-error")
    problem.wait_for()
    assert problem.inner_text() == flows.tr(
        lang,
        "er.bed_out_of_range",
        cat=flows.tr(lang, f"bed.{category}"),
        max=first.get_attribute("max"),
    )
    assert_in_language(lang, error_texts(er), data=(complaint,))
    first.fill(figure)
    er.click("#avail-save")
    toast(er, flows.said(lang, "er.saved"))
    assert problem.is_hidden()
    er.context.close()

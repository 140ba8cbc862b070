"""Each role's main flow in real Chromium against a running system, in Japanese and English:
call → unit → card → history → hospital request → accept → stream visible in the ER →
handover; the ER's decline in two taps; the tablet's offline queue replayed on reconnect."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser import flows
from tests.browser.flows import new_page, tr
from tests.browser.system import CARD_PIN, System

pytestmark = pytest.mark.browser


def step(tablet: Any, kind: str) -> None:
    tablet.locator(f'[data-step="{kind}"]').click()
    tablet.wait_for_selector(f'[data-step="{kind}"][data-state="done"]')


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_call_to_handover(system: System, browser: Any, lang: str) -> None:
    seeded = system.seeded
    complaint = f"胸痛と呼吸苦 ({lang})"

    er = new_page(browser, lang)
    er_scripts: list[str] = []
    er.on(
        "request", lambda req: er_scripts.append(req.url) if req.resource_type == "script" else None
    )
    flows.login(er, system.server_url, "er")
    er.wait_for_selector("body[data-ready=true]")
    assert er.locator("#incoming-title").inner_text() == tr(lang, "er.incoming")

    # The dispatcher takes the call and sends the recommended crew in one click.
    disp = new_page(browser, lang)
    flows.login(disp, system.server_url, "dispatcher")
    disp.wait_for_selector("body[data-ready=true]")
    assert disp.locator("#queue-title").inner_text() == tr(lang, "dispatch.queue")
    disp.click("#new-call-toggle")
    disp.fill("#new-call [name=chief_complaint]", complaint)
    disp.check("#new-call .seg-serious input")
    disp.select_option("#condition-select", "chest_pain_stemi")
    disp.select_option("#town-select", index=1)  # the district of the crew's station
    disp.fill("#new-call [name=address]", "みどり市 本町 3-1")
    disp.fill("#new-call [name=patient_age]", "71")
    disp.click("#new-call button[type=submit]")
    disp.wait_for_selector(".detail-title", state="visible")
    assert disp.locator(".detail-title").inner_text() == complaint
    disp.locator(f'[data-assign-unit="{seeded.paramedic_unit_id}"]').click()
    disp.wait_for_selector(".detail-head .st-inc-assigned")
    assert tr(lang, "incident_status.assigned") in disp.locator(".detail-head").inner_text()

    # The crew's tablet gets the assignment and records the steps.
    tablet = new_page(browser, lang, has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    tablet.wait_for_selector(f"#assign-body >> text={complaint}")
    assert tablet.locator("#net").inner_text() == tr(lang, "tablet.online")
    step(tablet, "arrived_scene")
    step(tablet, "patient_contact")
    # The console's timeline keeps its eight steps inside the panel at 1366×768, none
    # running into the next: each step by its short name, the full one in its title
    # ("Handove" was cut before, and "DepartureHospitalHandover" ran together).
    disp.set_viewport_size({"width": 1366, "height": 768})
    disp.locator(
        ".timeline li.done .tl-label", has_text=tr(lang, "timeline_short.patient_contact")
    ).wait_for()
    cut = disp.locator(".timeline").first.evaluate(
        """ol => {
          // Every ancestor that clips (overflow other than visible) must hold each label.
          const clips = [];
          for (let a = ol.parentElement; a; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== "visible") clips.push(a.getBoundingClientRect());
          }
          // ... and each label and interval stays in its own step, clear of the next.
          return [...ol.querySelectorAll(".tl-label, .tl-interval")]
            .filter((l) => { const r = l.getBoundingClientRect();
              const own = l.closest("li").getBoundingClientRect();
              return clips.some((b) => r.right > b.right + 0.5 || r.left < b.left - 0.5)
                || r.right > own.right + 0.5 || r.left < own.left - 0.5
                || l.scrollWidth > l.clientWidth + 0.5; })
            .map((l) => l.textContent);
        }"""
    )
    assert cut == []
    handover = disp.locator(".timeline .tl-label").last
    assert handover.get_attribute("title") == tr(lang, "timeline.handover")

    # Card tap → PIN pad → history, allergies and medication first.
    tablet.click("#card-tap")
    for digit in CARD_PIN:
        tablet.locator(f'.pinpad [data-key="{digit}"]').click()
    tablet.locator('.pinpad [data-key="ok"]').click()
    tablet.wait_for_selector("#card-body .history")
    sections = tablet.locator("#card-body .history-sec").evaluate_all(
        "els => els.map(e => e.dataset.section)"
    )
    assert sections[:2] == ["allergies", "medications"]
    assert tr(lang, "history.allergies") in tablet.locator("#card-body").inner_text()

    # Parallel requests from the tablet; the ER sees it live and accepts.
    tablet.wait_for_selector("#send-requests")
    # The ER signed in is the tertiary centre of the crew's town: among those recommended.
    er_box = tablet.locator(f"#tab-h-{seeded.er_hospital_id}")
    er_box.check()
    tablet.click("#send-requests")
    card = er.locator(".request-card", has_text=complaint)
    card.wait_for()
    card.locator(".btn-accept").click()

    # The answer arrives on the tablet without reloading.
    tablet.wait_for_selector(".req-accepted")
    tablet.wait_for_selector("[data-testid=destination]")

    # Stream on: the ER sees decoded video of this patient, and the history.
    tablet.click("#stream-toggle")
    tablet.wait_for_selector("[data-testid=stream-state] >> text=" + tr(lang, "tablet.stream_on"))
    patient = er.locator(".patient-card", has_text=complaint)
    patient.wait_for()
    er.wait_for_function(
        "sel => Number(document.querySelector(sel)?.dataset.framesDecoded || 0) > 3",
        arg=f'.patient-card[data-transport-id="{_transport_id(system, complaint)}"] .viewer-slot',
        timeout=30_000,
    )
    # The viewer's status line speaks the page's language.
    patient.locator(".ems-viewer-status", has_text=tr(lang, "viewer.live")).wait_for()
    # Its module came from the relay's own origin, not through the server.
    relay_origin = system.relay_url.replace("ws", "http", 1)  # ws → http, wss → https
    assert f"{relay_origin}/viewer/viewer.js" in er_scripts
    assert not any("/gateway/" in url for url in er_scripts)
    patient.locator(".history").wait_for()
    assert patient.locator(".history-sec").first.get_attribute("data-section") == "allergies"
    # At the ER's 1280×800 every vital keeps its whole label ("心拍数（モニ…" before).
    er.set_viewport_size({"width": 1280, "height": 800})
    patient.locator(".ems-viewer-vitals dt").first.wait_for()
    clipped = patient.locator(".ems-viewer-vitals dt, .ems-viewer-scores dt").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)"
    )
    assert clipped == []
    # At 1024×768 the history's column is narrow: its dates still stay whole
    # ("2005-06- / 01" before), each the end of its line's text.
    er.set_viewport_size({"width": 1024, "height": 768})
    dates = patient.locator(".history-sec li .history-date")
    assert dates.count() >= 2
    for i in range(dates.count()):
        date = dates.nth(i)
        assert re.fullmatch(r"— \d{4}-\d{2}-\d{2}", date.inner_text()), date.inner_text()
        assert date.evaluate("e => e.getClientRects().length") == 1, date.inner_text()
    # The agent's status keeps arriving while it streams (the frame count moves); the
    # panel's button stays the one element, so that a tap on it is never lost.
    toggle = tablet.query_selector("#stream-toggle")
    assert toggle is not None
    count = tablet.locator("#stream-frames").inner_text()
    tablet.wait_for_function(
        "t => document.getElementById('stream-frames')?.textContent !== t", arg=count
    )
    assert toggle.evaluate("el => el.isConnected")

    for kind in ("loaded", "departed_scene", "arrived_hospital"):
        step(tablet, kind)
    tablet.locator('[data-step="handover"]').click()
    tablet.wait_for_selector("#assign-body .empty")  # the run is over: no assignment left
    deadline = time.monotonic() + 20
    while system.tablet.stream.status()["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not system.tablet.stream.status()["running"]  # handover ends the stream
    patient.locator(f"text={tr(lang, 'er.handed_over')}").wait_for()

    # The dispatcher's board shows the unit back in service, live.
    row = disp.locator(f'#unit-table tr[data-unit-id="{seeded.paramedic_unit_id}"]')
    row.locator(".st-available").wait_for()
    for page in (er, disp, tablet):
        page.context.close()


def _transport_id(system: System, complaint: str) -> int:
    api = flows.ApiClient(system.server_url)
    incidents = api.call("GET", "/api/v1/incidents", as_user="dispatcher")
    items = incidents if isinstance(incidents, list) else incidents.get("items", [])
    return int(next(i["transport_id"] for i in items if i["chief_complaint"] == complaint))


def test_er_declines_in_two_taps(system: System, browser: Any) -> None:
    api = flows.ApiClient(system.server_url)
    unit = system.seeded.unit_ids[3]
    _, transport_id = flows.assigned_call(api, unit, "腰痛 (decline)")
    er = new_page(browser, "ja")
    flows.login(er, system.server_url, "er")
    er.wait_for_selector("body[data-ready=true]")
    api.call(
        "POST",
        f"/api/v1/transports/{transport_id}/hospital-requests",
        {"hospital_ids": [system.seeded.er_hospital_id]},
        as_user="dispatcher",
    )
    card = er.locator(".request-card", has_text="腰痛 (decline)")
    card.wait_for()  # arrives live
    card.locator(".btn-decline").click()  # tap 1
    card.locator('[data-reason="beds_full"]').click()  # tap 2
    card.wait_for(state="detached")
    requests = api.call(
        "GET", f"/api/v1/hospital-requests?transport_id={transport_id}", as_user="dispatcher"
    )
    mine = [r for r in requests if r["hospital_id"] == system.seeded.er_hospital_id]
    assert mine[0]["status"] == "declined"
    assert mine[0]["decline_reason"] == "beds_full"
    er.context.close()


def test_tablet_queues_offline_and_replays(system: System, browser: Any) -> None:
    api = flows.ApiClient(system.server_url)
    unit = system.seeded.paramedic_unit_id
    _, transport_id = flows.assigned_call(api, unit, "めまい (offline)")
    tablet = new_page(browser, "ja", has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    tablet.wait_for_selector("#assign-body >> text=めまい (offline)")

    system.net.cut()
    tablet.wait_for_selector("#net[data-state=offline]")
    assert tablet.locator("#net").inner_text() == tr("ja", "tablet.offline")
    tablet.locator('[data-step="arrived_scene"]').click()
    tablet.wait_for_selector("[data-testid=queued]:not([hidden])")
    assert tablet.locator("[data-testid=queued]").inner_text() == tr("ja", "tablet.queued", n=1)
    assert tablet.locator('[data-step="arrived_scene"]').get_attribute("data-state") == "queued"
    transport = api.call("GET", f"/api/v1/transports/{transport_id}", as_user="dispatcher")
    assert not next(s["at"] for s in transport["timeline"] if s["kind"] == "arrived_scene")

    system.net.restore()
    tablet.wait_for_selector("#net[data-state=online]")
    tablet.wait_for_selector("[data-testid=queued][hidden]", state="attached")
    tablet.wait_for_selector('[data-step="arrived_scene"][data-state="done"]')
    transport = api.call("GET", f"/api/v1/transports/{transport_id}", as_user="dispatcher")
    assert next(s["at"] for s in transport["timeline"] if s["kind"] == "arrived_scene")
    assert "最終同期" in tablet.locator("#synced").inner_text()
    # Back to service for whatever runs next.
    api.call("POST", f"/api/v1/units/{unit}/status", {"status": "available"}, as_user="dispatcher")
    tablet.context.close()


def test_a_live_event_updates_the_board_without_reloading_it(system: System, browser: Any) -> None:
    """The dispatcher's unit board takes a unit.updated from its payload: the page asks
    for no list again (only what the event puts in doubt, such as recommendations)."""
    api = flows.ApiClient(system.server_url)
    unit = system.seeded.unit_ids[2]
    page = new_page(browser, "en")
    flows.login(page, system.server_url, "dispatcher")
    page.wait_for_selector("body[data-ready=true]")
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url) if "/api/v1/" in req.url else None)
    row = page.locator(f'#unit-table tr[data-unit-id="{unit}"]')
    row.locator(".st-available").wait_for()
    api.call(
        "POST", f"/api/v1/units/{unit}/status", {"status": "out_of_service"}, as_user="dispatcher"
    )
    row.locator(".st-out_of_service").wait_for()
    page.wait_for_timeout(500)  # a reload of the lists would have left by now
    lists = ("/api/v1/units", "/api/v1/incidents", "/api/v1/transports", "/api/v1/hospitals")
    assert not [url for url in asked if url.split("?")[0].endswith(lists)]
    api.call("POST", f"/api/v1/units/{unit}/status", {"status": "available"}, as_user="dispatcher")
    row.locator(".st-available").wait_for()
    page.context.close()


def test_move_up_applies_in_one_tap(system: System, browser: Any) -> None:
    """A station's only unit goes out of service: the console suggests moving an idle
    unit into the gap, with the coverage gained, and one tap posts it there; the unit
    board keeps its rows at 1280×800."""
    api = flows.ApiClient(system.server_url)
    units = api.call("GET", "/api/v1/units", as_user="dispatcher")
    lone = next(
        u for u in units if u["station_name"] == "浜村消防署" and u["status"] == "available"
    )
    api.call(
        "POST", f"/api/v1/units/{lone['id']}/status", {"status": "out_of_service"},
        as_user="dispatcher",
    )  # fmt: skip
    page = new_page(browser, "ja", (1280, 800))
    flows.login(page, system.server_url, "dispatcher")
    page.wait_for_selector("body[data-ready=true]")
    row = page.locator("#moveup .moveup-row").first
    row.wait_for()
    assert "→" in row.inner_text() and "%" in row.inner_text()
    table = page.locator("#unit-table").bounding_box()
    assert table is not None and table["height"] > 60  # the board still shows its units
    unit_id = int(row.get_attribute("data-unit"))
    station_id = int(row.get_attribute("data-station"))
    row.locator(".moveup-apply").click()
    page.get_by_text(flows.said("ja", "moveup.applied")).first.wait_for()
    posted = api.call("GET", f"/api/v1/units/{unit_id}", as_user="dispatcher")
    assert posted["post_station_id"] == station_id and posted["status"] == "available"
    # Leave the fleet as found: out of service and back ends the post.
    for uid, status in (
        (unit_id, "out_of_service"),
        (unit_id, "available"),
        (lone["id"], "available"),
    ):
        api.call("POST", f"/api/v1/units/{uid}/status", {"status": status}, as_user="dispatcher")
    page.context.close()


# Where a text's lines break inside a word (neither side a space nor a soft hyphen, the
# labels' own hyphenation points): "a|b" for each.
_BREAKS_IN_WORDS = """el => {
  const out = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let top = null, prev = "";
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.length; i++) {
      const r = document.createRange();
      r.setStart(n, i);
      r.setEnd(n, i + 1);
      // The last box: at a soft hyphen taken, the hyphen's glyph is the next letter's first.
      const boxes = r.getClientRects();
      const box = boxes[boxes.length - 1];
      const ch = n.data[i];
      if (box && box.width > 0) {
        const inWord = !/[\\s\\u00ad]/.test(prev) && !/[\\s\\u00ad]/.test(ch);
        if (top !== null && box.top > top + 2 && inWord) out.push(prev + "|" + ch);
        top = box.top;
      }
      prev = ch;
    }
  }
  return out;
}"""


def test_bar_labels_break_between_words_only(system: System, browser: Any) -> None:
    """The name of the centre on the console's bar at 1024×768 and the tablet's link
    status on a portrait tablet (800×1280) wrap, when they must, at a space: never
    "通信指令セ / ンター" or "オンライ / ン"."""
    disp = new_page(browser, "ja", (1024, 768))
    flows.login(disp, system.server_url, "dispatcher")
    disp.wait_for_selector("body[data-ready=true]")
    label = disp.locator(".topbar .context-label")
    assert label.inner_text().strip()
    assert label.evaluate(_BREAKS_IN_WORDS) == []
    disp.context.close()

    tablet = new_page(browser, "ja", (800, 1280), has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    net = tablet.locator("#net")
    net.wait_for()
    assert net.inner_text().strip() == tr("ja", "tablet.online")
    assert net.evaluate(_BREAKS_IN_WORDS) == []
    tablet.context.close()


# The bar's parts that overlap one another or leave the window ("a × b", "a outside").
_BAR_COLLISIONS = """() => {
  const parts = [...document.querySelectorAll(
    ".topbar .brand, .topbar-context > *, .topbar-tools > *",
  )].filter(e => e.getClientRects().length);
  const width = document.documentElement.clientWidth;
  const boxes = parts.map(e => [e.className || e.tagName, e.getBoundingClientRect()]);
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    const [a, ra] = boxes[i];
    if (ra.left < -1 || ra.right > width + 1) out.push(a + " outside");
    for (let j = i + 1; j < boxes.length; j++) {
      const [b, rb] = boxes[j];
      const across = ra.left < rb.right - 1 && rb.left < ra.right - 1;
      if (across && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1) out.push(a + " × " + b);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_er_board_on_tablets(system: System, browser: Any, lang: str) -> None:
    """On a tablet (800×1280 portrait, 1024×768 landscape) the ER's bar keeps the
    hospital's name whole and apart from its status, the link status and the tools. In
    portrait the panels stand one above the other, each at the full width (a patient's
    picture and history side by side, not squeezed in half)."""
    for width, height in ((800, 1280), (1024, 768)):
        er = new_page(browser, lang, (width, height), has_touch=True)
        flows.login(er, system.server_url, "er")
        er.wait_for_selector("body[data-ready=true]")
        er.wait_for_function("document.getElementById('hospital-name').textContent.trim() !== ''")
        assert er.evaluate(_BAR_COLLISIONS) == [], width
        name = er.locator("#hospital-name")
        box = name.bounding_box()
        assert box is not None and box["width"] >= 80, box
        # Not cut short by the two-line clamp ("Midori Prefectural Central Hospital,…").
        assert name.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), width
        if width == 800:
            incoming = er.locator(".er-grid > .incoming").bounding_box()
            current = er.locator(".er-grid > .patients").bounding_box()
            assert incoming is not None and current is not None
            assert current["y"] >= incoming["y"] + incoming["height"], (incoming, current)
            assert current["width"] >= 700, current
        er.context.close()


# A select's chosen text against its room: [width it needs with its padding and the
# arrow, width it has].
_SELECT_ROOM = """s => {
  const cs = getComputedStyle(s);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  const text = s.options[s.selectedIndex].text;
  const pad = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
  return [Math.ceil(ctx.measureText(text).width + pad + 20), s.clientWidth];
}"""


def test_console_at_narrow_and_laptop_sizes(system: System, browser: Any) -> None:
    """The console in every layout: one column on a portrait tablet (800×1280), the
    narrow left column of a window ≤ 1200 px (1024×768), three columns on the command
    centre's laptops (1280×800, 1366×768). A recommended unit's name keeps its words
    whole ("Kurayoshino Ambulance 2", not "Kurayo / shino"); the units table and the
    day's figures stay inside their panels, the stages' legend with whole words; and
    the bar of the stages keeps its height (in a short panel it had shrunk to
    nothing); the new call's district select shows its whole choice."""
    api = flows.ApiClient(system.server_url)
    api.call(
        "POST",
        "/api/v1/incidents",
        {"lat": 35.43, "lon": 133.82, "urgency": "critical", "chief_complaint": "意識障害 (縦)"},
        as_user="dispatcher",
    )
    for width, height in ((800, 1280), (1024, 768), (1280, 800), (1366, 768)):
        disp = new_page(browser, "en", (width, height))
        flows.login(disp, system.server_url, "dispatcher")
        disp.wait_for_selector("body[data-ready=true]")
        disp.locator(".incident-card", has_text="意識障害 (縦)").click()
        disp.wait_for_selector(".rec-name")
        names = disp.locator(".rec-name")
        assert names.count() >= 2
        for i in range(names.count()):
            assert names.nth(i).evaluate(_BREAKS_IN_WORDS) == [], (width, names.nth(i).inner_text())
        spill = disp.evaluate(
            """() => {
              const out = [];
              for (const [panel, parts] of [[".units", ".units td, .units th"],
                                            ["#kpi-body", ".kpi-tile, .stack-legend li"]]) {
                const box = document.querySelector(panel).getBoundingClientRect();
                for (const c of document.querySelectorAll(parts)) {
                  const r = c.getBoundingClientRect();
                  if (r.right > box.right + 1) out.push(c.textContent.trim());
                }
              }
              return out;
            }"""
        )
        assert spill == [], width
        disp.wait_for_selector("#kpi-body .stack", state="attached")
        bar = disp.locator("#kpi-body .stack").bounding_box()
        assert bar is not None and bar["height"] >= 20, (width, bar)
        legend = disp.locator("#kpi-body .stack-legend li span")
        for i in range(legend.count()):
            assert legend.nth(i).evaluate(_BREAKS_IN_WORDS) == [], (
                width,
                legend.nth(i).inner_text(),
            )
        # The new call's district shows its whole choice ("Pick a district", not "Pick a c").
        disp.click("#new-call-toggle")
        need, room = disp.locator("#town-select").evaluate(_SELECT_ROOM)
        assert need <= room, (width, need, room)
        disp.context.close()


def test_tablet_in_one_column(system: System, browser: Any) -> None:
    """Below 1200 px wide (a portrait tablet, a 7-inch one at 1024×600) the panels
    scroll as one page in the order of the work: the timeline, then the card (who the
    patient is, the history), then the hospitals; and the dark theme (a cab at night)
    covers all of it, never the light default below the first screen."""
    tablet = new_page(browser, "ja", (1024, 600), has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    page_h, body_h = tablet.evaluate(
        "[document.documentElement.scrollHeight, document.body.getBoundingClientRect().height]"
    )
    assert page_h > 600  # the page does scroll
    assert body_h >= page_h - 1, (page_h, body_h)
    tops = [
        tablet.locator(sel).bounding_box()
        for sel in ("#steps-panel", "#card-panel", "#hosp-panel", "#ask-doctor", "#stream-panel")
    ]
    assert all(b is not None for b in tops)
    ys = [b["y"] for b in tops if b is not None]
    assert ys == sorted(ys), ys
    tablet.context.close()


_PILL_COLOURS = """() => {
  const probe = (cls, count, style) => {
    const s = document.createElement("span");
    s.className = cls;
    if (count !== null) s.dataset.count = String(count);
    if (style) s.style.background = style;
    document.body.append(s);
    const c = getComputedStyle(s).backgroundColor;
    s.remove();
    return c;
  };
  const red = probe("", null, "var(--red)");
  return {zero: probe("count-pill", 0), two: probe("count-pill", 2), red};
}"""


def test_a_count_badge_is_red_only_when_something_waits(system: System, browser: Any) -> None:
    """The ER's incoming requests and the MC's open requests: the badge carries its
    count for the style, red when something waits, grey at zero (no alarm)."""
    for user, badge in (("er", "#incoming-count"), ("mc", "#mc-open-count")):
        page = new_page(browser, "ja")
        flows.login(page, system.server_url, user)
        page.wait_for_selector("body[data-ready=true]")
        pill = page.locator(badge)
        page.wait_for_function(
            "sel => document.querySelector(sel).dataset.count === "
            "document.querySelector(sel).textContent",
            arg=badge,
        )
        colours = page.evaluate(_PILL_COLOURS)
        assert colours["two"] == colours["red"]
        assert colours["zero"] != colours["red"]
        count = int(pill.inner_text())
        assert pill.evaluate("e => getComputedStyle(e).backgroundColor") == (
            colours["red"] if count else colours["zero"]
        )
        page.context.close()

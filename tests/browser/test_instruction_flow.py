"""The doctor's instruction in real Chromium, in Japanese and English: the crew asks from
the tablet in two taps while the patient is in cardiac arrest on the monitor → the MC
console shows the request with the live picture, the ECG and the relay's rhythm label →
the doctor instructs → the tablet shows the instruction and its own analysis of the
rhythm → the tablet's timeline shows both times."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.browser import flows
from tests.browser.flows import new_page, tr
from tests.browser.system import System

pytestmark = pytest.mark.browser


# The tablet's monitor plays a cardiac arrest: VF until well after the test.
TABLET_MONITOR = "arrest"


def _clock(page: Any, iso: str) -> str:
    """The time as the page shows it (HH:MM in the browser's time zone)."""
    return str(
        page.evaluate(
            "iso => new Date(iso).toLocaleTimeString("
            "document.documentElement.lang === 'en' ? 'en-GB' : 'ja-JP', "
            "{hour: '2-digit', minute: '2-digit'})",
            iso,
        )
    )


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_crew_asks_and_the_doctor_instructs_with_the_picture_and_the_rhythm(
    system: System, browser: Any, lang: str
) -> None:
    api = flows.ApiClient(system.server_url)
    complaint = f"心肺停止 ({lang})"
    _, transport_id = flows.assigned_call(
        api,
        system.seeded.paramedic_unit_id,
        complaint,
        urgency="critical",
        suspected_condition="cardiac_arrest",
    )

    mc = new_page(browser, lang)
    flows.login(mc, system.server_url, "mc")
    mc.wait_for_selector("body[data-ready=true]")

    tablet = new_page(browser, lang, has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    tablet.wait_for_selector(f"#assign-body >> text={complaint}")
    for kind in ("arrived_scene", "patient_contact"):
        tablet.locator(f'[data-step="{kind}"]').click()
        tablet.wait_for_selector(f'[data-step="{kind}"][data-state="done"]')
    tablet.click("#stream-toggle")
    tablet.wait_for_selector("[data-testid=stream-state] >> text=" + tr(lang, "tablet.stream_on"))

    # Two taps: the procedure, then send.
    tablet.click("#ask-proc-adrenaline")
    tablet.click("#ask-send")

    # The console alerts, and shows the request with the live picture, the ECG strip and
    # the relay's rhythm label.
    item = mc.locator(f".mc-req[data-request-id] >> text={tr(lang, 'procedure.adrenaline')}")
    item.first.wait_for()
    mc.locator(".mc-req .mc-req-btn").first.click()
    mc.wait_for_selector("#mc-procedure")
    assert mc.locator("#mc-procedure").inner_text() == tr(lang, "procedure.adrenaline")
    live = f'#mc-live[data-transport-id="{transport_id}"]'
    mc.wait_for_function(
        "sel => Number(document.querySelector(sel)?.dataset.framesDecoded || 0) > 3",
        arg=live,
        timeout=30_000,
    )
    assert mc.locator(f"{live} canvas.ems-viewer-ecg").count() == 1
    mc.wait_for_function(
        "sel => document.querySelector(sel)?.dataset.rhythm === 'vf'",
        arg=live,
        timeout=45_000,
    )
    rhythm = mc.locator(f"{live} .ems-viewer-rhythm").inner_text()
    assert tr(lang, "viewer.rhythm_vf") in rhythm
    assert tr(lang, "viewer.decision_support") in rhythm

    # The doctor instructs, with the dose.
    detail = "アドレナリン 1mg 静注" if lang == "ja" else "adrenaline 1 mg IV"
    mc.fill("#mc-detail", detail)
    mc.click("#mc-answer-instructed")

    # The tablet shows the instruction large, without reloading.
    answer = tablet.locator("[id^=instruction-][id$=-answer]")
    answer.wait_for()
    assert tr(lang, "decision.instructed") in answer.inner_text()
    assert detail in answer.inner_text()
    # Its own analysis of the patient on the stream, labelled decision support.
    tablet.wait_for_selector("[data-testid=analysis-rhythm][data-rhythm=vf]", timeout=45_000)
    assert (
        tr(lang, "viewer.decision_support")
        in tablet.locator("[data-testid=analysis-rhythm]").inner_text()
    )

    # The timeline carries both times: asked and instructed.
    records = api.call(
        "GET", f"/api/v1/transports/{transport_id}/instruction-requests", as_user="mc"
    )
    record = records[0] if isinstance(records, list) else records["items"][0]
    asked = dt.datetime.fromisoformat(record["requested_at"])
    answered = dt.datetime.fromisoformat(record["answered_at"])
    assert asked <= answered and record["decision"] == "instructed"
    tl = tablet.locator("#steps-instructions")
    requested_row = tl.locator("[data-kind=instruction_requested]")
    answered_row = tl.locator("[data-kind=instruction_answered]")
    assert requested_row.locator(".tl-instr-time").inner_text() == _clock(
        tablet, record["requested_at"]
    )
    assert answered_row.locator(".tl-instr-time").inner_text() == _clock(
        tablet, record["answered_at"]
    )
    assert tr(lang, "decision.instructed") in answered_row.inner_text()

    # The run ends at the receiving hospital, so the unit is free for the next case.
    api.call(
        "PUT",
        f"/api/v1/transports/{transport_id}/destination",
        {"hospital_id": system.seeded.er_hospital_id},
        as_user="dispatcher",
    )
    for kind in ("loaded", "departed_scene", "arrived_hospital", "handover"):
        api.call(
            "POST", f"/api/v1/transports/{transport_id}/events", {"kind": kind}, as_user="medic"
        )
    tablet.wait_for_selector("#assign-body .empty")
    for page in (mc, tablet):
        page.context.close()


def test_opening_a_request_shows_its_head_and_a_desk_types_the_answer_at_once(
    system: System, browser: Any
) -> None:
    """A tablet (one column, touch): opening a request brings its head (the procedure,
    the unit, the wait) into view, not the answer box at its foot, with the picture and
    the start of the ECG strip below it, and leaves the box unfocused so that no
    on-screen keyboard covers the picture. A desk: the box takes the keys at once and
    the page does not move."""
    api = flows.ApiClient(system.server_url)
    _, tr_id = flows.assigned_call(
        api, system.seeded.paramedic_unit_id, "呼吸苦", urgency="critical"
    )
    asked = api.call(
        "POST",
        f"/api/v1/transports/{tr_id}/instruction-requests",
        {"procedure": "supraglottic_airway", "note": "SpO2 低下"},
        as_user="medic",
    )

    for (width, height), touch in (
        ((1024, 768), True),  # a tablet: the console in one column
        ((1366, 768), False),  # a desk
    ):
        mc = new_page(browser, "en", (width, height), has_touch=touch)
        flows.login(mc, system.server_url, "mc")
        mc.wait_for_selector("body[data-ready=true]")
        mc.locator(f'.mc-req[data-request-id="{asked["id"]}"] .mc-req-btn').click()
        mc.wait_for_selector("#mc-procedure")
        mc.wait_for_timeout(300)  # any scroll the selection causes has happened

        head = mc.locator("#mc-procedure").bounding_box()
        assert head is not None
        assert head["y"] >= 0 and head["y"] + head["height"] <= height, (width, head)
        focused = mc.evaluate("document.activeElement?.id")
        if touch:
            assert focused != "mc-detail"
            # The picture no taller than leaves its ECG strip on the first screen.
            video = mc.locator(".mc-live-box .ems-viewer-video").bounding_box()
            assert video is not None and video["height"] <= 0.4 * height + 1, video
            ecg = mc.locator(".mc-live-box canvas.ems-viewer-ecg").bounding_box()
            assert ecg is not None and ecg["y"] + 40 <= height, ecg
        else:
            assert focused == "mc-detail"
            assert mc.evaluate("window.scrollY") == 0
        mc.context.close()

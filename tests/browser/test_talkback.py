"""Talk-back in real Chromium (fake microphone): once the crew has asked for an
instruction, the MC doctor taps "talk" on the console and the tablet plays the doctor's
voice without a tap (Opus frames decoded on the tablet page); one tap opens the crew's
mic and the console decodes the crew's voice. A console whose microphone is refused
says so, and the text answer still goes through."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import flows
from tests.browser.flows import new_page, tr
from tests.browser.system import System

pytestmark = pytest.mark.browser

# A fake microphone (a beep), no permission prompt.
BROWSER_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def _decoded(page: Any, selector: str, more_than: int) -> None:
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.dataset.audioDecoded || 0) > n",
        arg=[selector, more_than],
        timeout=30_000,
    )


def test_the_doctor_and_the_crew_hear_each_other(system: System, browser: Any) -> None:
    lang = "ja"
    api = flows.ApiClient(system.server_url)
    complaint = "意識障害（通話）"
    incident_id, transport_id = flows.assigned_call(
        api, system.seeded.paramedic_unit_id, complaint, urgency="critical"
    )

    tablet = new_page(browser, lang, has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    tablet.wait_for_selector(f"#assign-body >> text={complaint}")
    # The tablet keeps the voice line open while the transport is under way.
    tablet.wait_for_selector("#talk-panel[data-talk-state=open]")
    assert tablet.locator("#talk-status").inner_text() == tr(lang, "talk.nobody")
    tablet.click("#ask-proc-iv_fluids")
    tablet.click("#ask-send")

    mc = new_page(browser, lang)
    flows.login(mc, system.server_url, "mc")
    mc.wait_for_selector("body[data-ready=true]")
    mc.locator(".mc-req .mc-req-btn").first.click()
    mc.wait_for_selector(f'#mc-talk[data-transport-id="{transport_id}"]')
    mc.click("#mc-talk-toggle")
    mc.wait_for_selector("#mc-talk[data-talk-state=open]")
    tablet.wait_for_selector(
        "#talk-status >> text=" + tr(lang, "talk.peer_mc_doctor"), timeout=15_000
    )

    # The doctor speaks: the tablet plays it with no tap on the talk panel.
    _decoded(tablet, "#talk-panel", 10)
    assert tablet.locator("#talk-mic").get_attribute("aria-pressed") == "false"
    assert int(tablet.locator("#talk-panel").get_attribute("data-audio-sent") or 0) == 0

    # One tap opens the crew's mic: the console hears the crew.
    tablet.click("#talk-mic")
    tablet.wait_for_selector("#talk-mic[aria-pressed=true]")
    _decoded(mc, "#mc-talk", 10)
    mouth_to_ear = float(mc.locator("#mc-talk").get_attribute("data-audio-latency-ms") or "nan")
    assert mouth_to_ear > 0  # measured, not judged here: the figure is the benchmark's

    # The doctor hangs up: the tablet sees nobody on the line, the text answer still works.
    mc.click("#mc-talk-toggle")
    tablet.wait_for_selector("#talk-status >> text=" + tr(lang, "talk.nobody"), timeout=15_000)
    mc.click("#mc-answer-instructed")
    tablet.locator("[id^=instruction-][id$=-answer]").wait_for()

    api.call("POST", f"/api/v1/incidents/{incident_id}/cancel", as_user="dispatcher")
    tablet.wait_for_selector("#talk-panel[hidden]", state="attached")
    for page in (mc, tablet):
        page.context.close()


def test_a_refused_microphone_is_said_and_the_text_answer_still_works(
    system: System, browser: Any
) -> None:
    lang = "en"
    api = flows.ApiClient(system.server_url)
    incident_id, transport_id = flows.assigned_call(
        api, system.seeded.paramedic_unit_id, "fall (talk)", urgency="critical"
    )
    tablet = new_page(browser, lang, has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    flows.tablet_login(tablet)
    tablet.wait_for_selector("#talk-panel[data-talk-state=open]")
    tablet.click("#ask-proc-iv_fluids")
    tablet.click("#ask-send")

    mc = new_page(browser, lang)
    mc.context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    flows.login(mc, system.server_url, "mc")
    mc.wait_for_selector("body[data-ready=true]")
    mc.locator(".mc-req .mc-req-btn").first.click()
    mc.wait_for_selector(f'#mc-talk[data-transport-id="{transport_id}"]')
    mc.click("#mc-talk-toggle")
    notice = mc.locator("#mc-talk-unavailable")
    notice.wait_for()
    assert tr(lang, "talk.unavailable_mic") in notice.inner_text()
    assert tr(lang, "talk.text_works") in notice.inner_text()
    mc.fill("#mc-detail", "500 mL Ringer's lactate")
    mc.click("#mc-answer-instructed")
    answer = tablet.locator("[id^=instruction-][id$=-answer]")
    answer.wait_for()
    assert "500 mL Ringer's lactate" in answer.inner_text()

    api.call("POST", f"/api/v1/incidents/{incident_id}/cancel", as_user="dispatcher")
    for page in (mc, tablet):
        page.context.close()

"""Ask ahead in real Chromium, in Japanese and English: the dispatcher sends a unit to a
suspected STEMI, taps "ask ahead" once, sees the hospitals asked; the ER of a hospital
asked sees the card marked as an early request with what the call said."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import flows
from tests.browser.flows import new_page
from tests.browser.system import System

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_one_tap_on_the_console_marks_the_er_card(system: System, browser: Any, lang: str) -> None:
    complaint = f"突然の胸痛 ({lang})"
    disp = new_page(browser, lang)
    flows.login(disp, system.server_url, "dispatcher")
    disp.wait_for_selector("body[data-ready=true]")
    disp.click("#new-call-toggle")
    disp.fill("#new-call [name=chief_complaint]", complaint)
    disp.check("#new-call .seg-serious input")
    disp.select_option("#condition-select", "chest_pain_stemi")
    disp.select_option("#town-select", index=1)
    disp.fill("#new-call [name=patient_age]", "64")
    disp.click("#new-call button[type=submit]")
    disp.wait_for_selector(".detail-title", state="visible")
    disp.locator("[data-assign-unit]").first.click()
    disp.wait_for_selector(".detail-head .st-inc-assigned")

    # One tap; the console then names the hospitals asked ahead.
    disp.click("#ask-ahead-send")
    disp.wait_for_selector("#ask-ahead-state")
    assert flows.said(lang, "dispatch.ask_ahead_awaiting").search(
        disp.locator("#ask-ahead").inner_text()
    )
    assert disp.locator("#ask-ahead .badge-early").count() == 1

    api = flows.ApiClient(system.server_url)
    incident = next(
        i
        for i in api.call("GET", "/api/v1/incidents", as_user="dispatcher")
        if i["chief_complaint"] == complaint
    )
    asked = api.call(
        "GET",
        f"/api/v1/hospital-requests?transport_id={incident['transport_id']}",
        as_user="dispatcher",
    )
    assert asked and all(r["early"] for r in asked)
    # The seeded ER accounts: er1, er2, … one per hospital, in the region's order.
    hospitals = list(system.seeded.hospital_ids.values())
    er_user = f"er{hospitals.index(asked[0]['hospital_id']) + 1}"

    er = new_page(browser, lang)
    flows.login(er, system.server_url, er_user)
    er.wait_for_selector("body[data-ready=true]")
    card = er.locator(".request-card", has_text=complaint)
    card.wait_for()
    assert card.get_attribute("data-early") == "true"
    assert card.locator(".badge-early").inner_text() == flows.words(lang)["er.early"]
    assert flows.said(lang, "incident.age_n", n=64).search(card.inner_text())
    assert flows.said(lang, "er.early_pending").search(card.inner_text())
    er.context.close()
    disp.context.close()

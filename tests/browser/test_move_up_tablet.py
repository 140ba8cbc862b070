"""A move-up on the crew's tablet, in real Chromium, in Japanese and English: the
dispatcher applies the console's suggestion to move the crew's idle unit into a gap;
the tablet's header says at once where the crew now waits, with the station's name in
the page's language, and says nothing more once the post has ended."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser import flows
from tests.browser.flows import new_page, tr
from tests.browser.system import System

pytestmark = pytest.mark.browser

# The demo region's Hamamura station has one ambulance: out of service, its town is a
# gap the crew's unit (the lowest id at the central station) is suggested to fill.
GAP_UNIT = "浜村救急1"
GAP_STATION = {"ja": "浜村消防署", "en": "Hamamura Fire Station"}


def set_status(api: flows.ApiClient, unit_id: int, status: str) -> None:
    api.call("POST", f"/api/v1/units/{unit_id}/status", {"status": status}, as_user="dispatcher")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_crew_sees_where_it_is_posted_until_the_post_ends(
    system: System, browser: Any, lang: str
) -> None:
    api = flows.ApiClient(system.server_url)
    medic_unit = system.seeded.paramedic_unit_id
    units = {u["call_sign"]: u["id"] for u in api.call("GET", "/api/v1/units", as_user="medic")}

    tablet = new_page(browser, lang, has_touch=True)
    tablet.goto(f"{system.tablet_url}/")
    # The page follows the server's events once its stream is open (through the agent).
    with tablet.expect_response(lambda r: r.url.endswith("/api/v1/events")):
        flows.tablet_login(tablet)
    tablet.wait_for_selector("body[data-ready=true]")
    post = tablet.locator("#unit-post")
    assert post.is_hidden()

    set_status(api, units[GAP_UNIT], "out_of_service")
    read = api.call("GET", "/api/v1/dispatch/move-up", as_user="dispatcher")
    move = next(s for s in read["suggestions"] if s["unit_id"] == medic_unit)
    applied = api.call(
        "POST",
        "/api/v1/dispatch/move-up",
        {"unit_id": medic_unit, "station_id": move["to_station_id"], "basis": read["basis"]},
        as_user="dispatcher",
    )
    assert applied["post_station_id"] == move["to_station_id"]

    # Live, without a reload: the header line and a toast, in the page's language.
    post.wait_for(state="visible")
    line = tr(lang, "tablet.posted_at", station=GAP_STATION[lang])
    # With since when the crew waits there (the unit's posted_at, in local time).
    since = re.escape(tr(lang, "tablet.posted_since", time="HHMM")).replace("HHMM", r"\d{2}:\d{2}")
    assert re.fullmatch(re.escape(line) + " · " + since, post.inner_text()), post.inner_text()
    assert post.get_attribute("data-station") == str(move["to_station_id"])
    toast = tr(lang, "tablet.posted_toast", station=GAP_STATION[lang])
    tablet.wait_for_selector(f"#toasts .toast >> text={toast}")

    # The line follows the language switch.
    tablet.click("[data-lang-toggle]")
    other = "en" if lang == "ja" else "ja"
    tablet.wait_for_function(
        "line => document.getElementById('unit-post').textContent.startsWith(line)",
        arg=tr(other, "tablet.posted_at", station=GAP_STATION[other]),
    )
    tablet.click("[data-lang-toggle]")

    # Taken out of service, the unit's post ends (the server says post_station_id null):
    # the line goes, and stays gone once the unit is back at its own station.
    set_status(api, medic_unit, "out_of_service")
    post.wait_for(state="hidden")
    set_status(api, medic_unit, "available")
    tablet.wait_for_selector(
        f"#unit-status >> text={tr(lang, 'status.available')}", state="attached"
    )
    assert post.is_hidden()
    unit = api.call("GET", f"/api/v1/units/{medic_unit}", as_user="medic")
    assert unit["status"] == "available" and unit["post_station_id"] is None

    set_status(api, units[GAP_UNIT], "available")
    tablet.context.close()

"""Steps shared by the browser tests and the screenshot command: signing in, the
language choice, and an API client to set the scene."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import urllib.error
import urllib.request
from typing import Any

from tests.browser.system import CARD_PIN, PASSWORD, ROOT, System, tls_context

# The server's pages and the tablet's page each carry their own dictionaries (the keys
# they share say the same).
I18N = (
    ROOT / "ems" / "web" / "static" / "i18n",
    ROOT / "ambulance_client" / "web" / "static" / "i18n",
)


@functools.cache
def words(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for folder in reversed(I18N):
        out |= json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
    return out


TIMEOUT_MS = 20_000


def new_page(browser: Any, lang: str, viewport: tuple[int, int] = (1600, 1000), **kw: Any) -> Any:
    """A page of a fresh browser context in ``lang``, by default roomy enough for every
    panel; ``viewport`` (width, height) for a given screen."""
    width, height = viewport
    ctx = browser.new_context(viewport={"width": width, "height": height}, **kw)
    ctx.set_default_timeout(TIMEOUT_MS)
    set_language(ctx, lang)
    return ctx.new_page()


def tr(lang: str, key: str, **kw: Any) -> str:
    """What the pages say for ``key`` in ``lang``, its placeholders filled from ``kw``."""
    text = words(lang)[key]
    for k, v in kw.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def said(lang: str, key: str, **kw: Any) -> re.Pattern[str]:
    """A pattern of the sentence ``key`` in ``lang``: the placeholders given in ``kw``
    as they are, any other as some text."""
    parts = re.split(r"\{(\w+)\}", words(lang)[key])
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else re.escape(str(kw[part])) if part in kw else ".+?"
        for i, part in enumerate(parts)
    )
    return re.compile(pattern)


class ApiClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            body = self.call(
                "POST", "/api/v1/auth/token", {"username": username, "password": PASSWORD}
            )
            self.tokens[username] = body["access_token"]
        return self.tokens[username]

    def call(self, method: str, path: str, body: Any = None, *, as_user: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if as_user:
            headers["Authorization"] = f"Bearer {self.token(as_user)}"
        req = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(
                req, timeout=30, context=tls_context(self.base_url)
            ) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path} → {err.code}: {err.read()[:300]!r}") from None
        return json.loads(raw) if raw else None


def set_language(context: Any, lang: str) -> None:
    context.add_init_script(f"localStorage.setItem('ems.lang', '{lang}')")


def login(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, wait_until="commit")


def tablet_login(page: Any, username: str = "medic") -> None:
    page.fill("#tab-login input[name=username]", username)
    page.fill("#tab-login input[name=password]", PASSWORD)
    page.click("#tab-login button[type=submit]")
    page.wait_for_selector("#work-view:not([hidden])")


def assigned_call(
    api: ApiClient, unit_id: int, complaint: str, *, urgency: str = "moderate", **fields: Any
) -> tuple[int, int]:
    """A call in Midori city assigned to ``unit_id``: (incident id, transport id)."""
    inc = api.call(
        "POST",
        "/api/v1/incidents",
        {"lat": 35.5, "lon": 134.22, "urgency": urgency, "chief_complaint": complaint, **fields},
        as_user="dispatcher",
    )
    api.call(
        "POST", f"/api/v1/incidents/{inc['id']}/assign", {"unit_id": unit_id}, as_user="dispatcher"
    )
    got = api.call("GET", f"/api/v1/incidents/{inc['id']}", as_user="dispatcher")
    return int(inc["id"]), int(got["transport_id"])


def _iso(d: dt.datetime) -> str:
    return d.isoformat()


def background_scene(api: ApiClient, system: System) -> None:
    """Calls, dispatched units and hospital requests for the screenshots: the paramedic's
    unit carries an identified patient accepted by the ER's hospital with the stream on;
    another crew's request waits for the ER's answer; one call waits for a unit."""
    seeded = system.seeded
    er_h = seeded.er_hospital_id
    medic_unit = seeded.paramedic_unit_id
    now = dt.datetime.now(dt.UTC)

    a = api.call(
        "POST",
        "/api/v1/incidents",
        {
            "lat": 35.49,
            "lon": 134.2,
            "urgency": "serious",
            "chief_complaint": "胸痛、冷汗",
            "suspected_condition": "chest_pain_stemi",
            "address": "みどり市 本町 2-14",
            "patient_age": 78,  # the age on the card the crew reads (tests.browser.system)
            "patient_sex": "male",
            "caller_account": "夫が急に胸を押さえて倒れた",
            # The unit is assigned now: a call taken two minutes ago, as most are.
            "received_at": _iso(now - dt.timedelta(minutes=2)),
        },
        as_user="dispatcher",
    )
    api.call(
        "POST", f"/api/v1/incidents/{a['id']}/assign", {"unit_id": medic_unit}, as_user="dispatcher"
    )
    inc = api.call("GET", f"/api/v1/incidents/{a['id']}", as_user="dispatcher")
    tr_id = inc["transport_id"]
    for kind in ("arrived_scene", "patient_contact"):
        api.call("POST", f"/api/v1/transports/{tr_id}/events", {"kind": kind}, as_user="medic")
    system.tablet.card.verify(token=api.token("medic"), transport_id=tr_id, pin=CARD_PIN)
    # Two more of the hospitals the server recommends for this patient (a PCI centre
    # with a CCU bed free), asked with the ER's in one round.
    recs = api.call("GET", f"/api/v1/transports/{tr_id}/hospital-recommendations", as_user="medic")
    others = [
        r["hospital_id"]
        for r in recs["hospitals"]
        if r["hospital_id"] != er_h and r.get("recommended", True)
    ][:2]
    rnd = api.call(
        "POST",
        f"/api/v1/transports/{tr_id}/hospital-requests",
        {"hospital_ids": [er_h, *others]},
        as_user="medic",
    )
    mine = next(r for r in rnd["requests"] if r["hospital_id"] == er_h)
    api.call("POST", f"/api/v1/hospital-requests/{mine['id']}/accept", {}, as_user="er")
    api.call("POST", f"/api/v1/transports/{tr_id}/events", {"kind": "loaded"}, as_user="medic")
    system.tablet.stream.start(token=api.token("medic"), transport_id=tr_id)
    # Before IV access the crew asks the MC doctor from the tablet; the request waits.
    api.call(
        "POST",
        f"/api/v1/transports/{tr_id}/instruction-requests",
        {"procedure": "iv_fluids", "note": "冷汗著明、胸痛が持続"},
        as_user="medic",
    )

    # In the ER's own city, with a unit of the city's station: a request the ER would
    # get (not one from a town whose own centre is nearer).
    b = api.call(
        "POST",
        "/api/v1/incidents",
        {
            "lat": 35.515,
            "lon": 134.19,
            "urgency": "critical",
            "chief_complaint": "交通事故 多発外傷",
            "suspected_condition": "major_trauma",
            "address": "みどり市 湖山町 国道9号 湖山交差点付近",
            "patient_age": 34,
            "patient_sex": "female",
            "received_at": _iso(now - dt.timedelta(minutes=1)),
        },
        as_user="dispatcher",
    )
    other_unit = seeded.unit_ids[1]  # the city's second ambulance
    api.call(
        "POST", f"/api/v1/incidents/{b['id']}/assign", {"unit_id": other_unit}, as_user="dispatcher"
    )
    inc_b = api.call("GET", f"/api/v1/incidents/{b['id']}", as_user="dispatcher")
    api.call(
        "POST",
        f"/api/v1/transports/{inc_b['transport_id']}/hospital-requests",
        {"hospital_ids": [er_h]},
        as_user="dispatcher",
    )
    for body in (
        {
            "lat": 35.42,
            "lon": 133.84,
            "urgency": "critical",
            "chief_complaint": "意識障害、右半身麻痺",
            "suspected_condition": "stroke",
            "address": "倉吉野 東町 5-3",
            "patient_age": 78,
            "patient_sex": "female",
            "received_at": _iso(now - dt.timedelta(minutes=2)),
        },
        {
            "lat": 35.51,
            "lon": 134.24,
            "urgency": "minor",
            "chief_complaint": "発熱、脱水",
            "address": "みどり市 北町 1-8",
            "patient_age": 88,
        },
    ):
        api.call("POST", "/api/v1/incidents", body, as_user="dispatcher")

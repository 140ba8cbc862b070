"""The web pages of the dispatcher, the ER staff and the medical-control (MC) doctor,
and the region map data they draw.

Pages are server-rendered shells; their ES modules in ``static/js`` call the JSON API
with the signed-in user's token and follow server-sent events (who may use which page
is ``static/js/roles.js``'s). The ER page and the MC console load the live viewer
module from the stream relay's own origin (``relay_http_origin``), which the pages'
Content-Security-Policy must therefore name in ``script-src``. The paramedic tablet
page is served by the ambulance's local service (``ambulance_client.agent``), from its
own package.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, redirect, render_template

from ems.api import API_PREFIX, endpoint
from ems.db import get_session
from ems.fleet import service as fleet
from ems.hospitals.models import DiversionStatus
from ems.incidents.models import Urgency
from ems.transports.schemas import CURRENT_HOURS_DEFAULT, CURRENT_HOURS_MAX
from ems.web.names import UnitName, unit_names
from ems.web.roads import DEMO_REGION, cached_region_geojson

bp = Blueprint("web", __name__, template_folder="templates")

# The ER's diversion choices from least to most restrictive (a test keeps this a
# permutation of DiversionStatus).
DIVERSION_ORDER = (
    DiversionStatus.OPEN,
    DiversionStatus.CATEGORY_DIVERSION,
    DiversionStatus.CLOSED_TO_AMBULANCES,
)
HTTP_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def relay_http_origin(relay_url: str) -> str:
    """The relay's HTTP(S) origin for its WebSocket URL: ``wss://relay.example/x`` →
    ``https://relay.example``. Empty for a URL this cannot read."""
    parts = urlsplit(relay_url)
    scheme = HTTP_SCHEME.get(parts.scheme.lower())
    if not scheme or not parts.netloc:
        return ""
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def viewer_module_url(relay_url: str) -> str:
    """Where the relay serves its viewer module (``/viewer/viewer.js``, under the path
    the relay is published at)."""
    origin = relay_http_origin(relay_url)
    if not origin:
        return ""
    return f"{origin}{urlsplit(relay_url).path.rstrip('/')}/viewer/viewer.js"


@bp.get("/")
def index() -> Response:
    return redirect("/login")  # type: ignore[return-value]


@bp.get("/login")
def login() -> str:
    return render_template("login.html", title_key="login.title", subtitle_key="")


@bp.get("/dispatch")
def dispatch() -> str:
    return render_template("dispatch.html", urgencies=[u.value for u in Urgency])


def er_board_hours() -> int:
    """How many hours after arrival a patient stays on the ER board (``ER_BOARD_HOURS``,
    1..72; the list filter's default otherwise)."""
    try:
        hours = int(current_app.config.get("ER_BOARD_HOURS") or CURRENT_HOURS_DEFAULT)
    except (TypeError, ValueError):
        return CURRENT_HOURS_DEFAULT
    return min(max(hours, 1), CURRENT_HOURS_MAX)


@bp.get("/er")
def er() -> str:
    relay_url = current_app.config.get("RELAY_URL", "")
    return render_template(
        "er.html",
        relay_url=relay_url,
        viewer_url=viewer_module_url(relay_url),
        diversions=[d.value for d in DIVERSION_ORDER],
        board_hours=er_board_hours(),
    )


@bp.get("/mc")
def mc() -> str:
    """The MC doctor's console: requests for instruction, the live picture, the answer."""
    relay_url = current_app.config.get("RELAY_URL", "")
    return render_template(
        "mc.html",
        relay_url=relay_url,
        viewer_url=viewer_module_url(relay_url),
    )


@endpoint(
    bp,
    f"{API_PREFIX}/region/roads.geojson",
    summary="The region's roads and towns as GeoJSON, for the offline map",
)
def region_roads() -> Any:
    region_dir = current_app.config.get("REGION_PACK_DIR") or str(DEMO_REGION)
    return cached_region_geojson(region_dir)


@endpoint(
    bp,
    f"{API_PREFIX}/region/names",
    response=list[UnitName],
    summary="Every unit's call sign and station in Japanese and English, for the pages",
)
def region_names() -> list[UnitName]:
    units = fleet.list_all(session=get_session())
    return unit_names((u.call_sign, u.station.name, u.station.name_en) for u in units)

"""The web pages of the dispatcher and the ER staff, the region map data they draw,
and the live viewer module of the stream gateway served from our own origin.

Pages are server-rendered shells; their ES modules in ``static/js`` call the JSON API
with the signed-in user's token and follow server-sent events. The paramedic tablet
page is served by the ambulance's local service (``ambulance_client.agent``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, send_from_directory

from ems.api import API_PREFIX, endpoint
from ems.web.roads import DEMO_REGION, cached_region_geojson

bp = Blueprint("web", __name__, template_folder="templates")

GATEWAY_STATIC = Path(__file__).resolve().parents[2] / "hospital_gateway" / "static"


@bp.get("/")
def index() -> Response:
    return redirect("/login")  # type: ignore[return-value]


@bp.get("/login")
def login() -> str:
    return render_template("login.html", title_key="login.title", subtitle_key="")


@bp.get("/dispatch")
def dispatch() -> str:
    return render_template("dispatch.html")


@bp.get("/er")
def er() -> str:
    return render_template("er.html", relay_url=current_app.config.get("RELAY_URL", ""))


@bp.get("/gateway/<path:filename>")
def gateway_static(filename: str) -> Response:
    """The stream viewer module, served same-origin so that the page's CSP allows it."""
    return send_from_directory(GATEWAY_STATIC, filename, max_age=0)


@endpoint(
    bp,
    f"{API_PREFIX}/region/roads.geojson",
    summary="The region's roads and towns as GeoJSON, for the offline map",
)
def region_roads() -> Any:
    region_dir = current_app.config.get("REGION_PACK_DIR") or str(DEMO_REGION)
    return cached_region_geojson(region_dir)

"""The region's roads as GeoJSON for the offline map (no tile server).

Roads come from the region pack: its ``roads.geojson`` when it ships one, otherwise the
road network the router is built from (``ems.dispatch.osm.network_for_region``, the
generated network of a pack without an OSM extract), so that the map shows the roads
the ETAs are computed on. Town points are included for labels.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DEMO_REGION = Path(__file__).resolve().parent.parent / "regions" / "demo"

# OSM highway tag → the map's drawing class.
ROAD_CLASS = {
    "motorway": "trunk",
    "trunk": "trunk",
    "primary": "trunk",
    "secondary": "secondary",
    "tertiary": "local",
    "unclassified": "local",
    "residential": "street",
    "service": "street",
}


def _pack_roads(region_dir: Path) -> list[dict[str, Any]]:
    data = json.loads((region_dir / "roads.geojson").read_text(encoding="utf-8"))
    out = []
    for f in data.get("features", []):
        if f.get("geometry", {}).get("type") in ("LineString", "MultiLineString"):
            props = dict(f.get("properties") or {})
            props["class"] = props.get("class") or ROAD_CLASS.get(props.get("highway", ""), "local")
            out.append({"type": "Feature", "geometry": f["geometry"], "properties": props})
    return out


def _generated_roads(region: dict[str, Any]) -> list[dict[str, Any]]:
    from ems.dispatch import osm

    data = osm.network_for_region(region)
    where = {nid: (round(lon, 5), round(lat, 5)) for nid, lat, lon in data.nodes}
    out = []
    for _, refs, tags in data.ways:
        highway = tags.get("highway", "")
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [where[r] for r in refs]},
                "properties": {"class": ROAD_CLASS.get(highway, "local"), "highway": highway},
            }
        )
    return out


def region_geojson(region_dir: Path = DEMO_REGION) -> dict[str, Any]:
    region = json.loads((region_dir / "region.json").read_text(encoding="utf-8"))
    if (region_dir / "roads.geojson").is_file():
        features = _pack_roads(region_dir)
    else:
        features = _generated_roads(region)
    # Minor roads first so that trunk roads are drawn on top.
    order = {"street": 0, "local": 1, "secondary": 2, "trunk": 3}
    features.sort(key=lambda f: order.get(f["properties"]["class"], 1))
    for town in region.get("towns", []):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [town["lon"], town["lat"]]},
                "properties": {
                    "kind": "town",
                    "name": town["name"],
                    "name_en": town.get("name_en", ""),
                    "population": town.get("population", 0),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "name": region.get("name", ""),
        "name_en": region.get("name_en", ""),
        "bbox": region.get("bbox"),
        "features": features,
    }


@lru_cache(maxsize=4)
def cached_region_geojson(region_dir: str) -> dict[str, Any]:
    return region_geojson(Path(region_dir))

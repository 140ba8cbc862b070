"""Region packs: a region's towns, hospitals and stations, and its road data.

A pack lives in ``ems/regions/<key>/``: ``region.json`` and optionally an OSM
extract (``<key>.osm.pbf``). ``build_region`` turns it into Valhalla tiles under
``REGION_DIR/<key>/``; a pack without an extract gets a generated road network
(``ems.dispatch.osm``). Until a region is built, travel times are straight-line
estimates, labelled as such.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.dispatch import osm, routing

PACKS_DIR = Path(__file__).resolve().parent.parent / "regions"
DEFAULT_REGION = "demo"


@dataclass(frozen=True)
class RegionPack:
    key: str
    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data.get("name_en") or self.data.get("name") or self.key)

    @property
    def towns(self) -> list[dict[str, Any]]:
        return list(self.data.get("towns", []))

    @property
    def hospitals(self) -> list[dict[str, Any]]:
        return list(self.data.get("hospitals", []))

    @property
    def stations(self) -> list[dict[str, Any]]:
        return list(self.data.get("stations", []))

    @property
    def population(self) -> int:
        return int(self.data.get("population") or sum(t["population"] for t in self.towns))

    @property
    def extract(self) -> Path | None:
        p = self.path / f"{self.key}.osm.pbf"
        return p if p.exists() else None


def load_region(key: str = DEFAULT_REGION) -> RegionPack:
    path = PACKS_DIR / key
    if not (path / "region.json").exists():
        raise FileNotFoundError(f"no region pack {key!r} in {PACKS_DIR}")
    return RegionPack(key, path, json.loads((path / "region.json").read_text()))


@dataclass(frozen=True)
class BuildReport:
    region: str
    pbf: Path
    config: Path
    generated: bool
    seconds: float


def build_region(pack: RegionPack, out_dir: Path) -> BuildReport:
    """Write (or copy) the road data and build the tiles into ``out_dir``."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    pbf = pack.extract
    generated = pbf is None
    if pbf is None:
        pbf = out_dir / f"{pack.key}.osm.pbf"
        osm.write_pbf(osm.network_for_region(pack.data), pbf)
    config = routing.build_tiles(pbf, out_dir)
    routing.forget_routers()
    return BuildReport(pack.key, pbf, config, generated, time.perf_counter() - t0)


def region_dir(base: str | Path, key: str = DEFAULT_REGION) -> Path:
    return Path(base) / key


def is_built(base: str | Path, key: str = DEFAULT_REGION) -> bool:
    d = region_dir(base, key)
    return (d / "valhalla.json").exists() and (d / "tiles").is_dir()

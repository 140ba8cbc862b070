"""Travel times: Valhalla on OpenStreetMap tiles, or a labelled straight-line estimate.

A region with built tiles answers from Valhalla (``"source": "valhalla"``); a region
without tiles, or a pair Valhalla cannot route, gets a straight-line estimate marked
``"source": "straight_line"``, so that nobody takes a guess for a road time.
Results are cached per pair of points (rounded to about 10 m).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ems.dispatch.optimizer import Travel, haversine_m

VALHALLA = "valhalla"
STRAIGHT_LINE = "straight_line"
# Straight line: roads are ~35 % longer than the crow flies; an ambulance averages
# ~45 km/h over rural roads, plus a minute to leave and reach the door.
DETOUR = 1.35
SPEED_MS = 45 / 3.6
FIXED_S = 60.0
CACHE_LIMIT = 500_000

Point = tuple[float, float]  # (lat, lon)


def straight_line_s(a: Point, b: Point) -> float:
    return FIXED_S + haversine_m(a[0], a[1], b[0], b[1]) * DETOUR / SPEED_MS


class Router(Protocol):
    source: str

    def matrix(self, sources: Sequence[Point], targets: Sequence[Point]) -> list[list[Travel]]: ...


class StraightLineRouter:
    source = STRAIGHT_LINE

    def matrix(self, sources: Sequence[Point], targets: Sequence[Point]) -> list[list[Travel]]:
        return [[Travel(straight_line_s(s, t), STRAIGHT_LINE) for t in targets] for s in sources]


def _k(p: Point) -> Point:
    return (round(p[0], 4), round(p[1], 4))


class ValhallaRouter:
    """Matrix calls on a tile directory; thread-safe, cached."""

    source = VALHALLA

    def __init__(self, config_path: Path) -> None:
        import valhalla

        self.config_path = config_path
        self._actor: Any = valhalla.Actor(str(config_path))
        self._lock = threading.Lock()
        # Pair → answer; a pair Valhalla could not route holds its labelled fallback.
        self._cache: dict[tuple[Point, Point], Travel] = {}
        self.calls = 0

    def matrix(self, sources: Sequence[Point], targets: Sequence[Point]) -> list[list[Travel]]:
        src = [_k(s) for s in sources]
        dst = [_k(t) for t in targets]
        missing_src = sorted({s for s in src for t in dst if (s, t) not in self._cache})
        if missing_src:
            missing_dst = sorted({t for t in dst for s in missing_src if (s, t) not in self._cache})
            self._fill(missing_src, missing_dst)
        cache = self._cache
        return [[cache[(s, t)] for t in dst] for s in src]

    def _fill(self, sources: list[Point], targets: list[Point]) -> None:
        request = {
            "sources": [{"lat": s[0], "lon": s[1]} for s in sources],
            "targets": [{"lat": t[0], "lon": t[1]} for t in targets],
            "costing": "auto",
            "verbose": True,
        }
        with self._lock:
            self.calls += 1
            try:
                result = self._actor.matrix(request)
            except Exception:
                # A point off the network fails the whole call; fall back per pair.
                result = {"sources_to_targets": [[{} for _ in targets] for _ in sources]}
            if len(self._cache) > CACHE_LIMIT:
                self._cache.clear()
            for i, row in enumerate(result["sources_to_targets"]):
                for j, cell in enumerate(row):
                    t = cell.get("time")
                    self._cache[(sources[i], targets[j])] = (
                        Travel(float(t), VALHALLA)
                        if t is not None
                        else Travel(straight_line_s(sources[i], targets[j]), STRAIGHT_LINE)
                    )

    def route_s(self, a: Point, b: Point) -> float | None:
        return self.matrix([a], [b])[0][0].seconds


# --- tiles -----------------------------------------------------------------------------


def valhalla_config(tile_dir: Path) -> dict[str, Any]:
    from valhalla import get_config

    tile_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = get_config(tile_extract="", tile_dir=str(tile_dir))
    # One-to-many Dijkstra: exact and fast for a few sources against many targets.
    config["thor"]["source_to_target_algorithm"] = "timedistancematrix"
    limits = config["service_limits"]["auto"]
    limits["max_matrix_location_pairs"] = 1_000_000
    limits["max_matrix_distance"] = 2_000_000.0
    limits["max_locations"] = 1000
    config["service_limits"]["max_timedep_distance_matrix"] = 2_000_000.0
    return config


def build_tiles(pbf: Path, out_dir: Path) -> Path:
    """Build Valhalla tiles from an OSM PBF into ``out_dir``; returns the config path."""
    from valhalla._scripts import PYVALHALLA_BIN_DIR

    tile_dir = out_dir / "tiles"
    config = valhalla_config(tile_dir)
    config_path = out_dir / "valhalla.json"
    config_path.write_text(json.dumps(config, indent=1))
    proc = subprocess.run(
        [str(PYVALHALLA_BIN_DIR / "valhalla_build_tiles"), "-c", str(config_path), str(pbf)],
        capture_output=True,
        text=True,
        cwd=out_dir,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"valhalla_build_tiles failed: {proc.stderr[-2000:]}")
    return config_path


_ROUTERS: dict[str, Router] = {}
_ROUTERS_LOCK = threading.Lock()


def router_for(region_dir: Path) -> Router:
    """The router of a built region directory, or the straight-line estimate."""
    config_path = region_dir / "valhalla.json"
    key = str(config_path)
    with _ROUTERS_LOCK:
        router = _ROUTERS.get(key)
        if router is None or (router.source == STRAIGHT_LINE and config_path.exists()):
            if config_path.exists() and (region_dir / "tiles").is_dir():
                router = ValhallaRouter(config_path)
            else:
                router = StraightLineRouter()
            _ROUTERS[key] = router
        return router


def forget_routers() -> None:
    with _ROUTERS_LOCK:
        _ROUTERS.clear()

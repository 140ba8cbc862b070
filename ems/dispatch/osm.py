"""A synthetic OpenStreetMap road network for a region pack, written as an OSM PBF.

Where no real extract is at hand (the demo prefecture is fictional), the road
network is generated from the region's towns, hospitals and stations: national
roads (trunk, 60 km/h) join the larger towns, prefectural roads (secondary,
50 km/h) the rest along a minimum spanning tree plus each town's nearest
neighbours, mountain roads wind (about a fifth longer than the straight line),
each town has a street grid sized by its population, and every hospital and
station has an access road. The output is deterministic for a given region.

The PBF itself is written by libosmium (pyosmium).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import osmium

from ems.dispatch.optimizer import haversine_m


@dataclass
class OsmData:
    nodes: list[tuple[int, float, float]] = field(default_factory=list)  # id, lat, lon
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)


def write_pbf(data: OsmData, path: Path) -> None:
    """Write the network as an OSM PBF with libosmium (through pyosmium)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # libosmium refuses to overwrite
    writer = osmium.SimpleWriter(str(path))
    try:
        for nid, lat, lon in data.nodes:
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), version=1))
        for wid, refs, tags in data.ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()


# --- the synthetic network -------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    population: int = 0


class _Builder:
    def __init__(self) -> None:
        self.data = OsmData()
        self._next_node = 1
        self._next_way = 1

    def node(self, lat: float, lon: float) -> int:
        nid = self._next_node
        self._next_node += 1
        self.data.nodes.append((nid, lat, lon))
        return nid

    def way(self, refs: Sequence[int], tags: dict[str, str]) -> None:
        if len(refs) >= 2:
            self.data.ways.append((self._next_way, list(refs), tags))
            self._next_way += 1

    def position(self, nid: int) -> tuple[float, float]:
        _, lat, lon = self.data.nodes[nid - 1]
        return lat, lon


def _metres_to_deg(lat: float, dy: float, dx: float) -> tuple[float, float]:
    return dy / 111_320.0, dx / (111_320.0 * math.cos(math.radians(lat)))


def _road(
    b: _Builder, a: int, z: int, tags: dict[str, str], rng: random.Random, wind: float
) -> None:
    """A winding road from node a to node z with a node every ~300 m."""
    (lat1, lon1), (lat2, lon2) = b.position(a), b.position(z)
    dist = haversine_m(lat1, lon1, lat2, lon2)
    n = max(1, int(dist / 300))
    # Perpendicular offset in degrees, scaled so that the road is ~wind longer.
    amp = wind * dist * rng.uniform(0.8, 1.2)
    waves = rng.randint(1, 3)
    phase = rng.choice((-1.0, 1.0))
    dlat, dlon = lat2 - lat1, lon2 - lon1
    norm = math.hypot(dlat, dlon * math.cos(math.radians(lat1))) or 1.0
    px, py = -dlon * math.cos(math.radians(lat1)) / norm, dlat / norm
    refs = [a]
    for i in range(1, n):
        f = i / n
        off = phase * amp * math.sin(math.pi * waves * f)
        oy, ox = _metres_to_deg(lat1, px * off, py * off)
        refs.append(b.node(lat1 + dlat * f + oy, lon1 + dlon * f + ox))
    refs.append(z)
    b.way(refs, tags)


def _grid(b: _Builder, town: Place) -> tuple[int, list[int]]:
    """A street grid around the town centre; returns (centre node, all nodes)."""
    half = min(3500.0, max(600.0, math.sqrt(max(town.population, 1)) * 8.0))
    spacing = 250.0 if town.population >= 30_000 else 200.0
    n = int(half // spacing)
    ids: dict[tuple[int, int], int] = {}
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            dy, dx = _metres_to_deg(town.lat, i * spacing, j * spacing)
            ids[(i, j)] = b.node(town.lat + dy, town.lon + dx)
    for i in range(-n, n + 1):
        main = i == 0 or (i % 4 == 0)
        tags = (
            {"highway": "tertiary", "maxspeed": "40"}
            if main
            else {"highway": "residential", "maxspeed": "30"}
        )
        b.way([ids[(i, j)] for j in range(-n, n + 1)], {**tags, "name": f"{town.name} {i}"})
        b.way([ids[(j, i)] for j in range(-n, n + 1)], {**tags, "name": f"{town.name} {i}"})
    return ids[(0, 0)], list(ids.values())


def generate_network(
    *, towns: Sequence[Place], access: Sequence[Place], seed: int = 119
) -> OsmData:
    """Towns joined by national and prefectural roads; ``access`` points (hospitals,
    stations) each joined to the nearest street."""
    rng = random.Random(seed)
    b = _Builder()
    centres: list[int] = []
    grid_nodes: list[list[int]] = []
    for t in towns:
        c, nodes = _grid(b, t)
        centres.append(c)
        grid_nodes.append(nodes)

    def dist(i: int, j: int) -> float:
        return haversine_m(towns[i].lat, towns[i].lon, towns[j].lat, towns[j].lon)

    # Minimum spanning tree (Prim) plus each town's two nearest neighbours.
    edges: set[tuple[int, int]] = set()
    inside = {0}
    while len(inside) < len(towns):
        i, j = min(
            ((i, j) for i in inside for j in range(len(towns)) if j not in inside),
            key=lambda e: dist(*e),
        )
        edges.add((min(i, j), max(i, j)))
        inside.add(j)
    for i in range(len(towns)):
        for j in sorted((j for j in range(len(towns)) if j != i), key=lambda j: dist(i, j))[:2]:
            edges.add((min(i, j), max(i, j)))
    for i, j in sorted(edges):
        big = towns[i].population >= 30_000 and towns[j].population >= 30_000
        tags = (
            {"highway": "trunk", "maxspeed": "60", "ref": f"R{9 + i}"}
            if big
            else {"highway": "secondary", "maxspeed": "50", "ref": f"P{100 + i}"}
        )
        tags["name"] = f"{towns[i].name}–{towns[j].name}"
        _road(b, centres[i], centres[j], tags, rng, wind=0.12 if big else 0.18)

    all_grid = [n for nodes in grid_nodes for n in nodes]
    for p in access:
        here = b.node(p.lat, p.lon)
        nearest = min(all_grid, key=lambda n: haversine_m(p.lat, p.lon, *b.position(n)))
        d = haversine_m(p.lat, p.lon, *b.position(nearest))
        tags = (
            {"highway": "service", "maxspeed": "30"}
            if d < 600
            else {"highway": "tertiary", "maxspeed": "40"}
        )
        _road(b, here, nearest, {**tags, "name": p.name}, rng, wind=0.08)
    return b.data


def network_for_region(region: dict[str, Any]) -> OsmData:
    towns = [Place(t["name"], t["lat"], t["lon"], int(t["population"])) for t in region["towns"]]
    access = [Place(h["name"], h["lat"], h["lon"]) for h in region.get("hospitals", [])]
    access += [Place(s["name"], s["lat"], s["lon"]) for s in region.get("stations", [])]
    return generate_network(towns=towns, access=access)

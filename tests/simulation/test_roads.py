"""Simulated units drive the road: a Valhalla route's shape with its timing, and
positions reported along it as the drive goes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ems.dispatch import osm, routing
from ems.dispatch.optimizer import haversine_m
from ems.dispatch.region import build_region, load_region
from simulation.actors import drive_route
from simulation.roads import Point, Roads, Route, decode_polyline, straight_route


def test_polyline_decodes_googles_example() -> None:
    points = decode_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@", precision=5)
    assert points == [(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)]


def test_a_route_gives_the_position_at_any_moment() -> None:
    route = Route(((35.0, 134.0), (35.0, 134.1), (35.1, 134.1)), (0.0, 100.0, 300.0), "valhalla")
    assert route.at(-5) == (35.0, 134.0)
    assert route.at(50) == pytest.approx((35.0, 134.05))
    assert route.at(200) == pytest.approx((35.05, 134.1))
    assert route.at(1000) == (35.1, 134.1)
    assert straight_route((35.0, 134.0), (35.1, 134.0)).source == "straight_line"


@pytest.fixture(scope="module")
def demo_roads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("region") / "demo"
    build_region(load_region("demo"), out)
    yield out
    routing.forget_routers()


def _distance_to_roads_m(p: Point, segments: list[tuple[Point, Point]]) -> float:
    """Metres from ``p`` to the nearest road segment (flat projection: short spans)."""
    best = float("inf")
    for (a_lat, a_lon), (b_lat, b_lon) in segments:
        ax, ay, bx, by = a_lon, a_lat, b_lon, b_lat
        dx, dy = bx - ax, by - ay
        f = 0.0 if dx == dy == 0 else ((p[1] - ax) * dx + (p[0] - ay) * dy) / (dx * dx + dy * dy)
        f = min(1.0, max(0.0, f))
        best = min(best, haversine_m(p[0], p[1], ay + f * dy, ax + f * dx))
    return best


def test_a_unit_drives_the_road_to_the_hospital_reporting_as_it_goes(demo_roads: Path) -> None:
    pack = load_region("demo")
    station = (pack.stations[0]["lat"], pack.stations[0]["lon"])
    hospital = next(h for h in pack.hospitals if h["key"] == "midori-red-cross")
    roads = Roads(demo_roads)
    assert roads.source == "valhalla"
    route = roads.route(station, (hospital["lat"], hospital["lon"]))
    assert route.source == "valhalla" and len(route.points) > 5
    assert list(route.times) == sorted(route.times)
    # The same roads the server's ETAs come from: the drive takes what the ETA says.
    eta = routing.router_for(demo_roads).matrix([station], [(hospital["lat"], hospital["lon"])])
    assert eta[0][0].seconds is not None
    assert route.seconds == pytest.approx(eta[0][0].seconds, rel=0.25, abs=30)

    reported: list[Point] = []

    async def report(p: Point) -> None:
        reported.append(p)

    # 60 times faster than life, with a position every 0.05 s: a whole drive in seconds.
    import simulation.actors as actors

    every = actors.POSITION_EVERY_S
    actors.POSITION_EVERY_S = 0.05
    try:
        asyncio.run(drive_route(route, speed=route.seconds / 1.0, report=report))
    finally:
        actors.POSITION_EVERY_S = every
    assert len(reported) >= 5
    assert reported[-1] == route.points[-1]
    assert len(set(reported)) >= 4  # the unit moved
    network = osm.network_for_region(pack.data)
    where = {nid: (lat, lon) for nid, lat, lon in network.nodes}
    pairs = (pair for _, refs, _ in network.ways for pair in itertools.pairwise(refs))
    segments = [(where[a], where[b]) for a, b in pairs]
    for p in reported[1:-1]:  # between the doors, every position is on a road
        assert _distance_to_roads_m(p, segments) < 30, p

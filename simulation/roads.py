"""Roads for the simulated crews: a route's shape and timing from the region's
Valhalla tiles, and where a unit is along it at any moment of its drive.

``Roads`` asks Valhalla (the same tiles the server's ETAs come from) for the route
between two points; each point of the route's shape gets the time the unit passes
it, spread over each manoeuvre by distance, so that a unit is slower in town than
on the national road. Without tiles (or for a pair Valhalla cannot route) the route
is a straight line at the server's straight-line estimate, labelled
``straight_line``. Everything here is pure and blocking; the crews run it in a
worker thread.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.dispatch.optimizer import haversine_m
from ems.dispatch.routing import STRAIGHT_LINE, VALHALLA, straight_line_s

Point = tuple[float, float]  # (lat, lon)


@dataclass(frozen=True)
class Route:
    """A drive: the shape's points and the life seconds from the start to each."""

    points: tuple[Point, ...]
    times: tuple[float, ...]
    source: str

    @property
    def seconds(self) -> float:
        return self.times[-1]

    @property
    def metres(self) -> float:
        return sum(
            haversine_m(a[0], a[1], b[0], b[1])
            for a, b in zip(self.points, self.points[1:], strict=False)
        )

    def at(self, t: float) -> Point:
        """Where the unit is ``t`` life seconds after leaving (clamped to the route)."""
        if t <= 0 or len(self.points) == 1:
            return self.points[0]
        if t >= self.seconds:
            return self.points[-1]
        i = bisect.bisect_right(self.times, t)
        t0, t1 = self.times[i - 1], self.times[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        (a_lat, a_lon), (b_lat, b_lon) = self.points[i - 1], self.points[i]
        return (a_lat + (b_lat - a_lat) * f, a_lon + (b_lon - a_lon) * f)


def straight_route(a: Point, b: Point) -> Route:
    return Route((a, b), (0.0, straight_line_s(a, b)), STRAIGHT_LINE)


def decode_polyline(encoded: str, precision: int = 6) -> list[Point]:
    """Valhalla's encoded shape (Google polyline, six decimals) as (lat, lon) points."""
    points: list[Point] = []
    index = lat = lon = 0
    factor = 10.0**precision
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        points.append((lat / factor, lon / factor))
    return points


def route_from_valhalla(answer: dict[str, Any]) -> Route:
    """A ``Route`` from a Valhalla route answer (one leg): each manoeuvre's time
    spread over its stretch of the shape in proportion to distance."""
    leg = answer["trip"]["legs"][0]
    points = decode_polyline(leg["shape"])
    times = [0.0] * len(points)
    maneuvers = leg.get("maneuvers") or [
        {"begin_shape_index": 0, "end_shape_index": len(points) - 1, "time": leg["summary"]["time"]}
    ]
    for m in maneuvers:
        begin, end = int(m["begin_shape_index"]), int(m["end_shape_index"])
        if end <= begin:
            continue
        lengths = [
            haversine_m(*points[i], *points[i + 1]) for i in range(begin, min(end, len(points) - 1))
        ]
        total = sum(lengths) or 1.0
        t = times[begin]
        for k, length in enumerate(lengths):
            t += float(m["time"]) * length / total
            times[begin + k + 1] = t
    # Points past the last manoeuvre (none in practice) keep the time before them.
    for i in range(1, len(times)):
        times[i] = max(times[i], times[i - 1])
    return Route(tuple(points), tuple(times), VALHALLA)


class Roads:
    """Routes on a region's tiles (``<region dir>/valhalla.json``), or straight lines."""

    def __init__(self, region_dir: Path | None) -> None:
        self._actor: Any = None
        self._lock = threading.Lock()
        config = region_dir / "valhalla.json" if region_dir is not None else None
        if config is not None and config.exists() and (config.parent / "tiles").is_dir():
            import valhalla

            self._actor = valhalla.Actor(str(config))

    @property
    def source(self) -> str:
        return VALHALLA if self._actor is not None else STRAIGHT_LINE

    def route(self, a: Point, b: Point) -> Route:
        if self._actor is None or haversine_m(*a, *b) < 5:
            return straight_route(a, b)
        request = {
            "locations": [{"lat": a[0], "lon": a[1]}, {"lat": b[0], "lon": b[1]}],
            "costing": "auto",
        }
        try:
            with self._lock:
                answer = self._actor.route(request)
        except Exception:  # a point Valhalla cannot reach: labelled straight line
            return straight_route(a, b)
        if isinstance(answer, str):
            answer = json.loads(answer)
        route = route_from_valhalla(answer)
        # The route starts and ends on the road; the unit starts and ends at the door.
        return Route((a, *route.points, b), (0.0, *route.times, route.seconds), VALHALLA)

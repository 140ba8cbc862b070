"""The demo prefecture is believable: its hospitals and stations sit where a real
rural prefecture's do, checked by road (the demo's own Valhalla tiles) against the
FDMA figures in FIELD.md — about 10 minutes from the call to the scene, 13 to 19
minutes from the scene to the hospital for departments of this size, and an
emergency and critical care centre within reach of every larger town."""

from __future__ import annotations

import pytest

from ems.dispatch import routing
from ems.dispatch.region import build_region, load_region

LARGER_TOWN = 30_000


@pytest.fixture(scope="module")
def minutes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """Per town: road minutes to the nearest station, hospital and tertiary centre."""
    pack = load_region("demo")
    out = tmp_path_factory.mktemp("region") / "demo"
    build_region(pack, out)
    router = routing.router_for(out)
    hospitals, stations = pack.hospitals, pack.stations
    targets = [(h["lat"], h["lon"]) for h in hospitals] + [(s["lat"], s["lon"]) for s in stations]
    rows = router.matrix([(t["lat"], t["lon"]) for t in pack.towns], targets)
    routing.forget_routers()
    table: dict[str, dict[str, float]] = {}
    for town, row in zip(pack.towns, rows, strict=True):
        assert {cell.source for cell in row} == {"valhalla"}, town["name_en"]
        to_h = [cell.seconds / 60 for cell in row[: len(hospitals)] if cell.seconds is not None]
        to_s = [cell.seconds / 60 for cell in row[len(hospitals) :] if cell.seconds is not None]
        tertiary = [m for m, h in zip(to_h, hospitals, strict=True) if h["level"] == "tertiary"]
        table[town["name_en"]] = {
            "population": town["population"],
            "station": min(to_s),
            "hospital": min(to_h),
            "tertiary": min(tertiary),
        }
    return table


def _weighted(table: dict[str, dict[str, float]], key: str) -> float:
    people = sum(t["population"] for t in table.values())
    return sum(t[key] * t["population"] for t in table.values()) / people


def test_every_larger_town_reaches_a_critical_care_centre_in_half_an_hour(
    minutes: dict[str, dict[str, float]],
) -> None:
    for name, t in minutes.items():
        if t["population"] >= LARGER_TOWN:
            assert t["tertiary"] <= 30, (name, t)
        # The remotest mountain villages: about an hour, as in the real San'in.
        assert t["tertiary"] <= 65, (name, t)
    # For the region as a whole, the critical care centre is about as far as FDMA's
    # scene → hospital stage (12.9 national, 19.1 in small departments).
    assert 8 <= _weighted(minutes, "tertiary") <= 20


def test_an_emergency_hospital_and_an_ambulance_are_near_every_town(
    minutes: dict[str, dict[str, float]],
) -> None:
    for name, t in minutes.items():
        assert t["hospital"] <= 30, (name, t)
        # Plus call-taking and turn-out, a drive this long keeps call → scene ≈ 10 min.
        assert t["station"] <= 10, (name, t)
    assert _weighted(minutes, "station") <= 6


def test_the_region_names_its_levels_like_a_real_prefecture() -> None:
    pack = load_region("demo")
    levels = [h["level"] for h in pack.hospitals]
    assert 2 <= levels.count("tertiary") <= 4
    assert levels.count("secondary") >= 2 * levels.count("tertiary")
    assert len({h["key"] for h in pack.hospitals}) == len(pack.hospitals)
    signs = [u for s in pack.stations for u in s["units"]]
    assert len(signs) == len(set(signs))
    # About one ambulance per 30,000 people, as rural fire departments staff them.
    assert 10 <= pack.population / len(signs) / 1000 <= 45

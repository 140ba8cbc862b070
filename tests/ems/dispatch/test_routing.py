"""Travel times: Valhalla tiles from a real OSM extract, the generated demo region,
and the straight-line fallback, labelled."""

from __future__ import annotations

from pathlib import Path

from ems.dispatch import routing
from ems.dispatch.region import build_region, load_region

SENAATINTORI = (60.1699, 24.9525)
RAUTATIENTORI = (60.1710, 24.9430)
KAMPPI = (60.1687, 24.9316)


def test_helsinki_tiles_answer_a_real_matrix(helsinki_tiles: Path) -> None:
    router = routing.ValhallaRouter(helsinki_tiles / "valhalla.json")
    m = router.matrix([SENAATINTORI], [RAUTATIENTORI, KAMPPI])
    assert all(cell.source == "valhalla" for cell in m[0])
    near, far = (cell.seconds for cell in m[0])
    assert near is not None and far is not None
    assert 30 < near < far < 1200  # a few minutes across the centre
    calls = router.calls
    router.matrix([SENAATINTORI], [KAMPPI])
    assert router.calls == calls  # served from the cache


def test_point_off_the_map_falls_back_to_a_labelled_straight_line(helsinki_tiles: Path) -> None:
    router = routing.ValhallaRouter(helsinki_tiles / "valhalla.json")
    cell = router.matrix([SENAATINTORI], [(35.0, 135.0)])[0][0]
    assert cell.source == "straight_line" and cell.seconds is not None


def test_region_without_tiles_uses_straight_line(tmp_path: Path) -> None:
    router = routing.router_for(tmp_path / "nothing-built")
    cell = router.matrix([(35.5, 134.2)], [(35.44, 133.39)])[0][0]
    assert cell.source == "straight_line"
    assert 3600 < cell.seconds < 3 * 3600  # ~75 km of rural road  # type: ignore[operator]


def test_demo_region_builds_tiles_from_its_generated_road_network(tmp_path: Path) -> None:
    pack = load_region("demo")
    report = build_region(pack, tmp_path / "demo")
    assert report.generated and report.pbf.stat().st_size > 1000
    router = routing.router_for(tmp_path / "demo")
    assert router.source == "valhalla"
    centre, red_cross = pack.stations[0], pack.hospitals[2]
    cell = router.matrix([(centre["lat"], centre["lon"])], [(red_cross["lat"], red_cross["lon"])])[
        0
    ][0]
    assert cell.source == "valhalla" and cell.seconds is not None and cell.seconds < 900
    routing.forget_routers()

"""The fast lane (`make check`, the `unit` tests) starts no process, builds no road
tiles and drives no browser: every test that does, directly or through a fixture or
a helper of its module, is listed in tests/conftest.py's SLOW or marked slow/browser.

The scan reads the test modules (no collection, no imports): a test is followed into
the fixtures it names (its own module's, then each conftest.py up to tests/) and the
module-level functions it calls."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import is_slow

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# What starts a process, builds tiles or drives a browser, as names in the source.
HEAVY = {
    "subprocess": "starts a process",
    "Popen": "starts a process",
    "multiprocessing": "starts a process",
    "fork": "starts a process",
    "Supervisor": "starts the demo's processes",
    "bench.faults": "starts the fault rig",
    "build_region": "builds Valhalla tiles",
    "build_tiles": "builds Valhalla tiles",
    "helsinki_tiles": "builds Valhalla tiles",
    "playwright": "drives a browser",
}
NOT_UNIT_FIXTURES = {"db_url"}
MARKS = {"slow", "browser"}


@dataclass
class Module:
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    fixtures: dict[str, ast.FunctionDef] = field(default_factory=dict)
    heavy_imports: set[str] = field(default_factory=set)
    marked: bool = False


def _is_fixture(fn: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in fn.decorator_list)


def _marked(decorators: list[ast.expr]) -> bool:
    return any(any(f"mark.{m}" in ast.unparse(d) for m in MARKS) for d in decorators)


def _read(path: Path) -> Module:
    tree = ast.parse(path.read_text())
    mod = Module()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            mod.functions[node.name] = node
            if _is_fixture(node):
                mod.fixtures[node.name] = node
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            mod.marked = any(f"mark.{m}" in ast.unparse(node.value) for m in MARKS)
    for each in ast.walk(tree):
        if isinstance(each, ast.Import | ast.ImportFrom):
            names = [a.name for a in each.names] + [getattr(each, "module", None) or ""]
            mod.heavy_imports |= {h for h in HEAVY for n in names if n.startswith(h)}
    return mod


_MODULES: dict[Path, Module] = {}


def _module(path: Path) -> Module:
    if path not in _MODULES:
        _MODULES[path] = _read(path)
    return _MODULES[path]


def _scopes(path: Path) -> list[Module]:
    """The test module, the conftest.py files from its folder up to tests/, the factories."""
    scopes = [_module(path)]
    folder = path.parent
    while folder.is_relative_to(TESTS):
        conftest = folder / "conftest.py"
        if conftest.exists():
            scopes.append(_module(conftest))
        folder = folder.parent
    # tests/conftest.py takes the shared fixtures (`as_role`, ...) from tests/factories.py.
    return [*scopes, _module(TESTS / "factories.py")]


def _reach(path: Path, test: ast.FunctionDef) -> tuple[set[str], set[str]]:
    """The heavy names and the fixtures a test reaches, through fixtures and helpers."""
    scopes = _scopes(path)
    heavy: set[str] = set()
    fixtures: set[str] = set()
    seen: set[int] = set()
    todo: list[tuple[ast.FunctionDef, Module]] = [(test, scopes[0])]
    while todo:
        fn, home = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        names: set[str] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names |= {a.name for a in node.names} | {getattr(node, "module", None) or ""}
        heavy |= {h for h in HEAVY for n in names if n == h or n.startswith(h + ".")}
        heavy |= {h for h in home.heavy_imports if h in names}
        for arg in fn.args.args + fn.args.kwonlyargs:
            fixtures.add(arg.arg)
            heavy |= {arg.arg} & HEAVY.keys()
            owner = next((m for m in scopes if arg.arg in m.fixtures), None)
            if owner is not None:
                todo.append((owner.fixtures[arg.arg], owner))
        for name in names & home.functions.keys():
            todo.append((home.functions[name], home))
    return heavy, fixtures


def heavy_unit_tests() -> dict[str, list[str]]:
    """Tests the fast lane would run that start a process, build tiles or drive a
    browser, with what they do."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        mod = _module(path)
        if mod.marked:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for name, fn in mod.functions.items():
            nodeid = f"{rel}::{name}"
            if not name.startswith("test_") or _marked(fn.decorator_list) or is_slow(nodeid):
                continue
            heavy, fixtures = _reach(path, fn)
            if heavy and not fixtures & NOT_UNIT_FIXTURES:
                found[nodeid] = sorted({HEAVY[h] for h in heavy})
    return found


def test_no_unit_test_starts_a_process_builds_tiles_or_drives_a_browser() -> None:
    assert heavy_unit_tests() == {}


def test_the_scan_sees_what_the_slow_list_covers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the SLOW list, the scan finds the tile builds and the demo's processes."""
    import tests.conftest as conftest

    monkeypatch.setattr(conftest, "SLOW", ("tests/browser/",))
    found = heavy_unit_tests()
    assert found[
        "tests/ems/dispatch/test_routing.py::test_helsinki_tiles_answer_a_real_matrix"
    ] == ["builds Valhalla tiles"]
    assert any(n.startswith("tests/simulation/test_demo_region.py::") for n in found)
    lifecycle = [n for n in found if n.startswith("tests/simulation/test_demo_lifecycle.py::")]
    assert len(lifecycle) >= 3
    assert (
        "tests/ambulance_client/test_durable.py::"
        "test_an_agent_killed_during_an_outage_delivers_every_event_and_vital_once"
    ) in found


def test_a_listed_file_or_test_is_slow_and_its_neighbours_are_not() -> None:
    assert is_slow("tests/browser/test_flows.py::test_x")
    assert is_slow("tests/simulation/test_roads.py::test_polyline_decodes_googles_example")
    assert is_slow("tests/card_issuer/test_cli.py::test_python_m_card_issuer_runs_on_its_own")
    assert not is_slow("tests/card_issuer/test_cli.py::test_issue_and_revoke_a_tablet")
    assert not is_slow(
        "tests/ems/dispatch/test_simulate.py::test_fuller_hospitals_mean_more_inquiries"
    )

"""The import rules of STYLE.md rule 13 hold, and they are a real check: the same
contracts fail on a copy of the tree where the server imports the tablet."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _roots() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots: list[str] = config["tool"]["importlinter"]["root_packages"]
    return roots


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        # The copy comes first on the path, before the editable install of the work tree.
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    for name in _roots():
        shutil.copytree(
            ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    # The allow-list contract type the configuration registers.
    (copy / "tests").mkdir()
    for name in ("__init__.py", "import_rules.py"):
        shutil.copy(ROOT / "tests" / name, copy / "tests" / name)
    return copy


def test_the_tree_keeps_its_layers(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_a_server_module_importing_the_tablet_breaks_the_rules(tree: Path) -> None:
    (tree / "ems" / "layer_probe.py").write_text(
        '"""A forbidden import."""\n\nimport ambulance_client\n'
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "The server imports neither the relay, the tablet nor the tools" in result.stdout
    assert "ems.layer_probe -> ambulance_client" in result.stdout


def test_a_tablet_module_importing_the_server_breaks_the_rules(tree: Path) -> None:
    probe = tree / "ambulance_client" / "layer_probe.py"
    probe.write_text('"""A forbidden import."""\n\nfrom ems import db\n')
    result = _lint(tree)
    assert result.returncode != 0
    assert "ambulance_client.layer_probe -> ems" in result.stdout


RELAY_RULE = "The relay uses only the server's narrow interface"


@pytest.mark.parametrize(
    ("package", "probe"),
    [
        # A server package that exists, not on the relay's list.
        ("ems", "from ems.dispatch import service\n"),
        # A server package added later: refused until the list names it.
        ("ems/layer_probe_new", "X = 1\n"),
    ],
)
def test_a_relay_module_importing_the_server_beyond_its_interface_breaks_the_rules(
    tree: Path, package: str, probe: str
) -> None:
    if package != "ems":
        (tree / package).mkdir()
        (tree / package / "__init__.py").write_text(f'"""A new package."""\n\n{probe}')
        probe = "import ems.layer_probe_new\n"
    (tree / "hospital_gateway" / "layer_probe.py").write_text(f'"""A probe."""\n\n{probe}')
    result = _lint(tree)
    assert result.returncode != 0
    after = result.stdout.split(RELAY_RULE, 1)[1]
    verdict = re.search(r"\b(KEPT|BROKEN)\b", after)
    assert verdict is not None and verdict.group(1) == "BROKEN"  # this rule's own verdict
    imported = "ems.dispatch.service" if package == "ems" else "ems.layer_probe_new"
    assert f"hospital_gateway.layer_probe -> {imported}" in result.stdout


def test_the_relays_interface_is_what_it_imports() -> None:
    """Every module on the relay's allow-list is one the relay imports: the list stays
    as narrow as the relay's use of the server."""
    import grimp

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (rule,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith(RELAY_RULE)
    ]
    assert rule["type"] == "allow_list"
    graph = grimp.build_graph("hospital_gateway", "ems", cache_dir=None)
    relay = {"hospital_gateway"} | graph.find_descendants("hospital_gateway")
    used = {
        imported
        for m in relay
        for imported in graph.find_modules_directly_imported_by(m)
        if imported.startswith("ems.")
    }
    unused = [
        a for a in rule["allowed_modules"] if not any(u == a or u.startswith(a + ".") for u in used)
    ]
    assert unused == []

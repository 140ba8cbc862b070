"""The import rules of STYLE.md rule 13 hold, and they are a real check: the same
contracts fail on a copy of the tree where the server imports the tablet."""

from __future__ import annotations

import os
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

"""The contracts' rule: the package imports nothing of ours, only the standard
library and pydantic, so that each side can depend on it alone."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ems_contracts

PACKAGE = Path(ems_contracts.__file__).resolve().parent
ALLOWED = set(sys.stdlib_module_names) | {"pydantic", "ems_contracts"}


def test_the_contracts_import_only_the_stdlib_and_pydantic() -> None:
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], path.name)
    assert {"pydantic", "struct"} <= set(found), "the scan found too little"
    forbidden = {name: where for name, where in found.items() if name not in ALLOWED}
    assert not forbidden, f"ems_contracts imports parts of the system: {forbidden}"

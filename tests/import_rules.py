"""An import-linter contract that lists what a part may import from another, rather
than what it may not: a module added to the other part later is refused until the
list names it. pyproject.toml registers it (``contract_types``) for the relay's use
of the server (STYLE.md rule 13: a narrow interface of ``ems``)."""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class AllowListContract(Contract):
    """Every direct import from ``source_modules`` (and their descendants) into
    ``target_package`` must land on one of ``allowed_modules`` (or a module inside
    one of them). Only direct imports count: what the allowed modules import in turn
    is the target's business.

    Configuration options:
        - source_modules:   the importing packages.
        - target_package:   the package whose modules are restricted.
        - allowed_modules:  the modules (and packages) of the target that may be imported.
    """

    type_name = "allow_list"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    target_package = fields.ModuleField()
    allowed_modules = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        target: str = self.target_package.name  # type: ignore[attr-defined]
        allowed = [m.name for m in self.allowed_modules]  # type: ignore[attr-defined]
        importers: set[str] = set()
        for source in self.source_modules:  # type: ignore[attr-defined]
            importers |= {source.name} | graph.find_descendants(source.name)
        refused: list[dict[str, Any]] = []
        for importer in sorted(importers):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if not _within(imported, target):
                    continue
                if any(_within(imported, a) for a in allowed):
                    continue
                details = graph.get_import_details(importer=importer, imported=imported)
                refused.append(
                    {
                        "importer": importer,
                        "imported": imported,
                        "line_numbers": sorted(d["line_number"] for d in details),
                    }
                )
        return ContractCheck(kept=not refused, metadata={"refused": refused})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for r in check.metadata["refused"]:
            lines = ", ".join(f"l.{n}" for n in r["line_numbers"])
            output.print_error(
                f"{r['importer']} -> {r['imported']} ({lines}): not in allowed_modules",
                bold=False,
            )
        output.new_line()

"""The simulation's entry points (``ems simulate``, the benchmarks): see ``ems.dispatch.sim``."""

from __future__ import annotations

from ems.dispatch.sim.model import (
    ALL_LEVERS,
    ASSUMPTIONS,
    IN_B,
    Lever,
    Region,
    SimParams,
    Stream,
    simulate,
)
from ems.dispatch.sim.report import FDMA_2022, configs, format_report, plot, run

__all__ = [
    "ALL_LEVERS",
    "ASSUMPTIONS",
    "FDMA_2022",
    "IN_B",
    "Lever",
    "Region",
    "SimParams",
    "Stream",
    "configs",
    "format_report",
    "plot",
    "run",
    "simulate",
]

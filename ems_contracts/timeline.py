"""The FDMA timeline of a transport: its steps, in the order they happen.

The server keeps one timestamp column per step and refuses a step before the one
it follows; the tablet's crew records the steps by these names (``POST
/api/v1/transports/<id>/events``).
"""

from __future__ import annotations

from typing import Literal, get_args

TimelineKind = Literal[
    "call_received",
    "dispatched",
    "arrived_scene",
    "patient_contact",
    "loaded",
    "departed_scene",
    "arrived_hospital",
    "handover",
]

TIMELINE_KINDS: tuple[TimelineKind, ...] = get_args(TimelineKind)

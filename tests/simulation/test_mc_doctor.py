"""The simulated MC doctor: it answers the crews' requests for instruction at a human
pace, once each, and leaves the requests of the unit people work to a person."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from simulation.actors import INSTRUCTED, McDoctor, World
from simulation.http import Reply


class FakeClient:
    def __init__(self, open_requests: list[dict[str, Any]]) -> None:
        self.open_requests = open_requests
        self.answers: list[tuple[str, dict[str, Any]]] = []

    async def call(self, method: str, path: str, body: Any = None) -> Reply:
        if method == "GET":
            return Reply(200, {}, json.dumps(self.open_requests).encode(), 0.0)
        self.answers.append((path, body))
        return Reply(200, {}, b"{}", 0.0)


def test_the_simulated_doctor_answers_others_once_and_leaves_people_theirs() -> None:
    requests = [
        {"id": 1, "unit_id": 10, "procedure": "adrenaline"},
        {"id": 2, "unit_id": 99, "procedure": "iv_fluids"},  # the unit people work
    ]
    client = FakeClient(requests)
    world = World(pool=None, relay_url="", speed=1000.0)  # type: ignore[arg-type]
    world.people_units = {99}
    world.mc_delay_s = (1.0, 2.0)
    doctor = McDoctor(world, client)  # type: ignore[arg-type]

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(doctor.run(stop))
        await asyncio.sleep(2.5)  # two polls: the first request is seen twice
        stop.set()
        await task

    asyncio.run(run())
    assert client.answers == [
        (
            "/api/v1/instruction-requests/1/answer",
            {"decision": "instructed", "detail": INSTRUCTED["adrenaline"]},
        )
    ]

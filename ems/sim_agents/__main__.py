"""``python -m ems.sim_agents``: the simulated region against a running system —
hospitals that answer, a dispatcher taking the region's 119 calls and ambulances
working each one to handover. ``ems demo`` starts it; it stops on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path

from ems.sim_agents.actors import (
    REGION_FILE,
    Ambulance,
    CallStream,
    Dispatcher,
    Hospital,
    World,
)
from ems.sim_agents.http import Client, HttpError, Pool

log = logging.getLogger("ems.sim_agents")


async def main_async(args: argparse.Namespace) -> int:
    pool = Pool(args.api, size=16, timeout_s=30)
    world = World(
        pool=pool,
        relay_url=args.relay,
        speed=args.speed,
        card_store=Path(args.cards) if args.cards else None,
        video=not args.no_video,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    region = json.loads(REGION_FILE.read_text())
    hospitals = []
    for h in region["hospitals"]:
        client, user = await world.login(f"er-{h['key']}")
        hospitals.append(Hospital(world, client, int(user["hospital_id"]), h["name"]))
    dispatcher_client, _ = await world.login("dispatcher")
    dispatcher = Dispatcher(world, dispatcher_client)
    crews: dict[int, Client] = {}
    n = 1
    while True:
        try:
            client, user = await world.login(f"medic-{n}")
        except HttpError:
            break
        crews[int(user["unit_id"])] = client
        n += 1
    print(
        f"simulated region: {len(hospitals)} hospitals answering, {len(crews)} crews, "
        f"speed ×{world.speed:g}",
        flush=True,
    )
    answering = [asyncio.create_task(h.run(stop)) for h in hospitals]
    calls = CallStream(world.rng)
    running: set[asyncio.Task[None]] = set()
    taken = 0
    while not stop.is_set() and (args.incidents == 0 or taken < args.incidents):
        call = calls.next_call()
        with contextlib.suppress(HttpError):
            dispatched = await dispatcher.take_call(call)
            taken += 1
            if dispatched is not None:
                transport_id, unit_id = dispatched
                print(
                    f"119 call: {call['chief_complaint']} ({call['urgency']}) → transport "
                    f"{transport_id}, unit {unit_id}",
                    flush=True,
                )
                crew = Ambulance(world, crews[unit_id], unit_id, transport_id)
                task = asyncio.create_task(_run_crew(crew))
                running.add(task)
                task.add_done_callback(running.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.interval / world.speed)
    # Crews on the road finish their transports unless the demo is stopped.
    while running and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    for task in [*running, *answering]:
        task.cancel()
    await asyncio.gather(*running, *answering, return_exceptions=True)
    stop.set()
    await pool.close()
    print(f"simulated region stopped: {len(world.completed)} transports handed over", flush=True)
    return 0


async def _run_crew(crew: Ambulance) -> None:
    try:
        await crew.run()
        print(f"transport {crew.transport_id}: " + " → ".join(crew.log), flush=True)
    except Exception as exc:
        print(f"transport {crew.transport_id} stopped: {exc} ({' → '.join(crew.log)})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ems.sim_agents", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--relay", default="ws://127.0.0.1:8765")
    parser.add_argument("--cards", default="", help="the demo cards' SoftHSM2 store")
    parser.add_argument("--incidents", type=int, default=0, help="stop after N calls (0: never)")
    parser.add_argument("--interval", type=float, default=600.0, help="seconds between calls")
    parser.add_argument("--speed", type=float, default=10.0, help="human delays divided by this")
    parser.add_argument("--no-video", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())

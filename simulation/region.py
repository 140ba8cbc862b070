"""The simulated region against a running system: hospitals that answer, a
dispatcher taking the region's 119 calls and ambulances working each one to
handover, narrated on the terminal. ``python -m simulation region`` runs it (the
demo starts it so); it stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import click

from simulation.actors import (
    Ambulance,
    CallStream,
    Dispatcher,
    Hospital,
    World,
    demo_region,
)
from simulation.http import Client, HttpError, Pool


async def run_region(
    *,
    api: str,
    relay: str,
    cards: Path | None,
    incidents: int,
    interval_s: float,
    speed: float,
    video: bool,
) -> int:
    """Take calls until ``incidents`` were taken (0: no limit) and the crews on the
    road handed over, or until SIGINT/SIGTERM; returns the exit code."""
    pool = Pool(api, size=16, timeout_s=30)
    world = World(
        pool=pool,
        relay_url=relay,
        speed=speed,
        card_store=cards,
        video=video,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    hospitals = []
    for h in demo_region().hospitals:
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
    while not stop.is_set() and (incidents == 0 or taken < incidents):
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
            await asyncio.wait_for(stop.wait(), interval_s / world.speed)
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


@click.command("region")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--relay", default="ws://127.0.0.1:8765", show_default=True)
@click.option("--cards", default="", help="the demo cards' SoftHSM2 store")
@click.option("--incidents", default=0, type=int, help="stop after N calls (0: never)")
@click.option("--interval", default=600.0, show_default=True, help="seconds between calls")
@click.option("--speed", default=10.0, show_default=True, help="human delays divided by this")
@click.option("--no-video", is_flag=True, help="no synthetic camera in the streams")
def command(
    api: str,
    relay: str,
    cards: str,
    incidents: int,
    interval: float,
    speed: float,
    no_video: bool,
) -> None:
    """Run the simulated region against a running system."""
    logging.basicConfig(level=logging.WARNING)
    code = asyncio.run(
        run_region(
            api=api,
            relay=relay,
            cards=Path(cards) if cards else None,
            incidents=incidents,
            interval_s=interval,
            speed=speed,
            video=not no_video,
        )
    )
    sys.exit(code)

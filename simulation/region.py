"""The simulated region against a running system: hospitals that answer, a
dispatcher taking the region's 119 calls and ambulances working each one to
handover and driving home, narrated on the terminal. ``python -m simulation
region`` runs it (the demo starts it so); it stops on SIGINT, SIGTERM or SIGHUP.

Crews work every transport assigned to a simulated unit, whoever dispatched it (a
person at the dispatcher console too). Units and hospitals reserved for people
(``--people-unit``, ``--people-hospital``) are never dispatched, driven or
answered for.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
    McDoctor,
    World,
    demo_region,
    station_of,
    unit_logins,
)
from simulation.http import Client, HttpError, Pool
from simulation.roads import Roads

# How often the crews' tablets look for a new transport of their unit (real seconds).
ASSIGNMENT_POLL_S = 2.0


def say(text: str) -> None:
    """Narrate on the demo's terminal; a terminal that went away (SIGHUP) is no error."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def parse_range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition("-")
    low, high = float(lo), float(hi or lo)
    if not 0 <= low <= high:
        raise click.BadParameter(f"{text!r}: want LOW-HIGH seconds, e.g. 30-120")
    return low, high


async def run_region(
    *,
    api: str,
    relay: str,
    cards: Path | None,
    incidents: int,
    interval_s: float,
    speed: float,
    video: bool,
    region_dir: Path | None = None,
    answer_delay_s: tuple[float, float] = (30.0, 120.0),
    people_units: tuple[str, ...] = (),
    people_hospitals: tuple[str, ...] = (),
) -> int:
    """Take calls until ``incidents`` were taken (0: no limit) and the crews on the
    road handed over, or until a stop signal; returns the exit code."""
    if speed < 1:
        raise click.BadParameter("the simulation runs at life pace (1) or faster")
    pool = Pool(api, size=16, timeout_s=30)
    pack = demo_region()
    world = World(
        pool=pool,
        relay_url=relay,
        speed=speed,
        card_store=cards,
        video=video,
        roads=Roads(region_dir),
        answer_delay_s=answer_delay_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)

    dispatcher_client, _ = await world.login("dispatcher2")
    dispatcher = Dispatcher(world, dispatcher_client)
    units = (await dispatcher_client.call("GET", "/api/v1/units")).json()
    unit_ids = {u["call_sign"]: int(u["id"]) for u in units}
    homes = station_of(pack)
    world.stations = {unit_ids[s]: p for s, p in homes.items() if s in unit_ids}
    world.people_units = {unit_ids[s] for s in people_units if s in unit_ids}
    by_key = {h["key"]: h for h in pack.hospitals}
    hospitals = []
    for h in pack.hospitals:
        client, user = await world.login(f"er-{h['key']}")
        if h["key"] in people_hospitals:
            world.people_hospitals.add(int(user["hospital_id"]))
            continue  # logged in only to learn its id; a person answers here
        hospitals.append(Hospital(world, client, int(user["hospital_id"]), h["name"]))
    crews: dict[int, Client] = {}
    for sign, username in unit_logins(pack).items():
        if sign in people_units or sign not in unit_ids:
            continue
        with contextlib.suppress(HttpError):
            client, user = await world.login(username)
            crews[int(user["unit_id"])] = client
    mode = (
        f"FAST MODE ×{speed:g} (every delay and drive {speed:g}× shorter than life; "
        "today's figures scale these transports back to life-like minutes)"
        if world.fast
        else "life pace (real time)"
    )
    say(
        f"simulated region: {len(hospitals)} hospitals answering (after "
        f"{answer_delay_s[0]:g}–{answer_delay_s[1]:g} s), {len(crews)} crews, roads: "
        f"{world.roads.source}, {mode}"
    )
    if people_units or people_hospitals:
        kept = [*people_units, *(by_key[k]["name"] for k in people_hospitals if k in by_key)]
        say("left to people: " + ", ".join(kept))

    answering = [asyncio.create_task(h.run(stop)) for h in hospitals]
    with contextlib.suppress(HttpError):
        mc_client, _ = await world.login("mc-sim")
        answering.append(asyncio.create_task(McDoctor(world, mc_client).run(stop)))
    working: dict[int, tuple[Ambulance, asyncio.Task[None]]] = {}  # transport id → crew
    watcher = asyncio.create_task(_assignments(world, dispatcher_client, crews, working, stop))
    calls = CallStream(world.rng, pack.towns)
    taking: set[asyncio.Task[None]] = set()
    taken = 0
    while not stop.is_set() and (incidents == 0 or taken < incidents):
        task = asyncio.create_task(_take(dispatcher, calls.next_call()))
        taking.add(task)
        task.add_done_callback(taking.discard)
        taken += 1
        pause = interval_s * world.rng.uniform(0.6, 1.4) / world.speed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
    # Crews on the road finish their transports unless the demo is stopped.
    while (taking or working) and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    stop.set()
    crew_tasks = [task for _, task in working.values()]
    pending = [watcher, *taking, *crew_tasks, *answering, *world.homeward.values()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await pool.close()
    say(f"simulated region stopped: {len(world.completed)} transports handed over")
    return 0


async def _take(dispatcher: Dispatcher, call: dict[str, object]) -> None:
    try:
        d = await dispatcher.take_call(call)
    except HttpError as exc:
        say(f"119 call not taken: {exc}")
        return
    if d is None:
        return
    eta = f"ETA {d.eta_s / 60:.0f} min ({d.eta_source})" if d.eta_s is not None else "no ETA"
    say(
        f"119 call: {call['chief_complaint']} ({call['urgency']}) {call['address']} → "
        f"transport {d.transport_id}, unit {d.unit_id}, {eta}"
    )


async def _assignments(
    world: World,
    client: Client,
    crews: dict[int, Client],
    working: dict[int, tuple[Ambulance, asyncio.Task[None]]],
    stop: asyncio.Event,
) -> None:
    """Start a crew for every active transport of a simulated unit, whoever
    dispatched it."""
    while not stop.is_set():
        with contextlib.suppress(HttpError):
            reply = await client.call("GET", "/api/v1/transports?active=true")
            for t in reply.json() if reply.status == 200 else []:
                unit_id, tid = int(t["unit_id"]), int(t["id"])
                if tid in working or unit_id not in crews or unit_id in world.people_units:
                    continue
                if any(c.unit_id == unit_id for c, _ in working.values()):
                    continue  # that crew is still closing its last transport
                homeward = world.homeward.pop(unit_id, None)
                if homeward is not None:
                    homeward.cancel()
                crew = Ambulance(world, crews[unit_id], unit_id, tid)
                task = asyncio.create_task(_run_crew(world, crew))
                working[tid] = (crew, task)
                task.add_done_callback(functools.partial(_done, working, tid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ASSIGNMENT_POLL_S)


def _done(
    working: dict[int, tuple[Ambulance, asyncio.Task[None]]], tid: int, _task: object
) -> None:
    working.pop(tid, None)


async def _run_crew(world: World, crew: Ambulance) -> None:
    try:
        await crew.run()
        say(f"transport {crew.transport_id}: " + " → ".join(crew.log))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        say(f"transport {crew.transport_id} stopped: {exc} ({' → '.join(crew.log)})")
        return
    home = asyncio.create_task(_drive_home(crew))
    world.homeward[crew.unit_id] = home

    def forget(task: asyncio.Task[None]) -> None:
        if world.homeward.get(crew.unit_id) is task:
            del world.homeward[crew.unit_id]

    home.add_done_callback(forget)


async def _drive_home(crew: Ambulance) -> None:
    with contextlib.suppress(HttpError):
        await crew.drive_home()


@click.command("region")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--relay", default="ws://127.0.0.1:8765", show_default=True)
@click.option("--cards", default="", help="the demo cards' SoftHSM2 store")
@click.option("--incidents", default=0, type=int, help="stop after N calls (0: never)")
@click.option(
    "--interval", default=600.0, show_default=True, help="life seconds between calls (mean)"
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    help="1: life pace. N > 1: FAST MODE, every delay N× shorter (figures scaled back)",
)
@click.option(
    "--answer-delay",
    default="30-120",
    show_default=True,
    help="life seconds an ER takes to answer a request (LOW-HIGH)",
)
@click.option("--region-dir", default="", help="the built region (its Valhalla tiles)")
@click.option("--people-unit", multiple=True, help="a call sign people drive (repeatable)")
@click.option(
    "--people-hospital", multiple=True, help="a hospital key people answer for (repeatable)"
)
@click.option("--no-video", is_flag=True, help="no synthetic camera in the streams")
def command(
    api: str,
    relay: str,
    cards: str,
    incidents: int,
    interval: float,
    speed: float,
    answer_delay: str,
    region_dir: str,
    people_unit: tuple[str, ...],
    people_hospital: tuple[str, ...],
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
            region_dir=Path(region_dir) if region_dir else None,
            answer_delay_s=parse_range(answer_delay),
            people_units=people_unit,
            people_hospitals=people_hospital,
        )
    )
    sys.exit(code)

"""The simulated people of the demo region, each acting only through the public
API and the relay, with the demo logins:

- ``CallStream``: 119 calls drawn from the region's towns by population, on the
  towns' streets, with realistic complaints, urgencies and ages;
- ``Dispatcher``: records each call, asks for the recommended unit and assigns it;
- ``Hospital``: an ER that answers acceptance requests at a human pace (30–120 s
  by default) — accepts when it has the bed and the capability, otherwise declines
  with the reason a real ER gives (beds full, cannot treat, outside specialty, in
  surgery), as a reason code only: the pages say it in their own language;
- ``Ambulance``: a crew working one transport from dispatch to handover — it
  drives the Valhalla route to the scene and on to the hospital, reporting its
  position every few seconds through the tablet's position API; timeline; My
  Number card read with a demo card (PIN on the mock card), the history, the
  parallel hospital requests, the live stream (synthetic camera, ECG, vitals) on
  the way in, and the handover; then it drives back to its station. Its tablet is
  the tablet's own code: the timeline outbox, the card reader and the streamer of
  ``ambulance_client``.

Time is honest: the people act at life pace unless ``speed`` > 1 (the demo's
labelled fast mode), where every delay and every drive is ``speed`` times shorter
and each timeline step says so (``simulated_speed`` in its data), so that today's
figures scale the run back to life-like minutes. Units and hospitals reserved for
people are never dispatched, driven or answered for.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import random
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambulance_client.card import HttpApi, identify_with_pin
from card_issuer.tokens import CardStore
from ems.dispatch.optimizer import haversine_m
from ems.dispatch.region import RegionPack, load_region
from ems.transports.service import SIMULATED_SPEED
from simulation.http import Client, HttpError, Pool
from simulation.roads import Point, Roads, Route
from simulation.tablet import Timeline, make_streamer

log = logging.getLogger("simulation")

DEMO_PASSWORD = "demo-pass-2026"
# The region the demo seeds (ems seed-demo), read through the server's region packs.
DEMO_REGION = "demo"
# How often a driving unit reports its position (real seconds), as a tablet's GPS would.
POSITION_EVERY_S = 3.0
# How long a crew waits for the answers of one round of requests (life seconds)
# before asking the next hospitals: a person at a reserved ER may be away.
ROUND_PATIENCE_S = 300.0


def demo_region() -> RegionPack:
    return load_region(DEMO_REGION)


def unit_logins(pack: RegionPack) -> dict[str, str]:
    """Call sign → the crew's login, in the order ``ems seed-demo`` creates them."""
    signs = [sign for s in pack.stations for sign in s.get("units", [])]
    return {sign: f"medic-{n}" for n, sign in enumerate(signs, start=1)}


def station_of(pack: RegionPack) -> dict[str, Point]:
    """Call sign → where its station is."""
    return {sign: (s["lat"], s["lon"]) for s in pack.stations for sign in s.get("units", [])}


# (chief complaint, suspected condition, urgency weights critical/serious/moderate/minor, ages)
COMPLAINTS: tuple[tuple[str, str, tuple[int, int, int, int], tuple[int, int]], ...] = (
    ("胸痛・冷汗", "chest_pain_stemi", (3, 5, 2, 0), (45, 90)),
    ("右半身の麻痺・構音障害", "stroke", (3, 5, 2, 0), (55, 95)),
    ("呼吸困難", "respiratory", (1, 4, 4, 1), (30, 95)),
    ("交通事故・多発外傷", "major_trauma", (3, 4, 3, 0), (16, 80)),
    ("転倒・大腿部痛", "other", (0, 2, 6, 2), (70, 98)),
    ("小児の熱性けいれん", "paediatric", (0, 3, 6, 1), (1, 6)),
    ("腹痛・嘔吐", "other", (0, 2, 5, 3), (10, 85)),
    ("意識障害", "other", (2, 5, 3, 0), (40, 95)),
    ("心肺停止（目撃あり）", "cardiac_arrest", (1, 0, 0, 0), (45, 90)),
)
# What a crew asks the MC doctor before, by the call's suspected condition (the specified
# procedures of FIELD.md, "The doctor's instruction"); other serious calls: IV access.
ASK_FOR = {
    "cardiac_arrest": "adrenaline",
    "respiratory": "supraglottic_airway",
    "major_trauma": "iv_fluids",
}
# What the simulated MC doctor instructs, in the crew's language.
INSTRUCTED = {
    "adrenaline": "アドレナリン 1 mg 静注、3–5 分ごと",
    "iv_fluids": "乳酸リンゲル液 500 mL 全開",
    "supraglottic_airway": "声門上気道デバイス挿入可",
    "intubation": "気管挿管可、カプノメトリで確認",
    "glucose": "50% ブドウ糖 40 mL 静注",
}
URGENCIES = ("critical", "serious", "moderate", "minor")
# What an ER says when it cannot take a patient, weighted as FDMA reports them.
DECLINES = (("cannot_treat", 52), ("beds_full", 15), ("outside_specialty", 8), ("in_surgery", 25))
# The demo cards: MNDEMO0005 has the odd PIN (4321) for the wrong-PIN demonstration.
ODD_PIN_CARD = "MNDEMO0005"


@dataclass
class World:
    """What every actor shares: the API pool, the relay, the clock, the roads and
    what is left to people."""

    pool: Pool
    relay_url: str
    speed: float = 1.0
    card_store: Path | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    completed: list[int] = field(default_factory=list)
    video: bool = True
    roads: Roads = field(default_factory=lambda: Roads(None))
    # An ER's answer after this many life seconds (uniform in the range).
    answer_delay_s: tuple[float, float] = (30.0, 120.0)
    # The MC doctor's answer after this many life seconds.
    mc_delay_s: tuple[float, float] = (20.0, 60.0)
    # Units (ids) and hospitals (ids) people work: the simulator leaves them alone.
    people_units: set[int] = field(default_factory=set)
    people_hospitals: set[int] = field(default_factory=set)
    # Where each unit's station is (unit id → point), for the drive home.
    stations: dict[int, Point] = field(default_factory=dict)
    # A unit's drive home, cancelled when it is dispatched again.
    homeward: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def fast(self) -> bool:
        return self.speed > 1.0

    async def pause(self, life_seconds: float) -> None:
        """Wait a human delay of ``life_seconds`` (shortened in fast mode)."""
        await asyncio.sleep(max(0.05, life_seconds / self.speed))

    def step_data(self) -> dict[str, Any]:
        """What a simulated timeline step says about its clock."""
        return {SIMULATED_SPEED: self.speed} if self.fast else {}

    async def login(self, username: str) -> tuple[Client, dict[str, Any]]:
        client = Client(self.pool)
        data = await client.login(username, DEMO_PASSWORD)
        return client, data["user"]


def street_radius_m(population: int) -> float:
    """How far from the centre a town's streets reach (as ``ems.dispatch.osm`` draws
    them): calls come from where people live, on the road network."""
    return min(3500.0, max(600.0, math.sqrt(max(population, 1)) * 8.0))


@dataclass
class CallStream:
    rng: random.Random
    towns: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.towns:
            self.towns = demo_region().towns

    def next_call(self) -> dict[str, Any]:
        town = self.rng.choices(self.towns, weights=[t["population"] for t in self.towns])[0]
        complaint, condition, weights, (lo, hi) = self.rng.choice(COMPLAINTS)
        reach = 0.8 * street_radius_m(int(town["population"]))
        dy, dx = (self.rng.uniform(-reach, reach) for _ in range(2))
        lat = town["lat"] + dy / 111_320.0
        lon = town["lon"] + dx / (111_320.0 * math.cos(math.radians(town["lat"])))
        return {
            "lat": round(lat, 5),
            "lon": round(lon, 5),
            "address": f"{town['name']} {self.rng.randint(1, 9)}丁目{self.rng.randint(1, 30)}",
            "urgency": self.rng.choices(URGENCIES, weights=weights)[0],
            "chief_complaint": complaint,
            "suspected_condition": condition,
            "caller_account": "家族からの通報",
            "patient_age": self.rng.randint(lo, hi),
            "patient_sex": self.rng.choice(["female", "male"]),
        }


@dataclass
class Dispatch:
    incident_id: int
    transport_id: int
    unit_id: int
    eta_s: float | None
    eta_source: str


@dataclass
class Dispatcher:
    world: World
    client: Client

    async def take_call(self, call: dict[str, Any]) -> Dispatch | None:
        """Record a call and dispatch the recommended unit (never one people work)."""
        reply = await self.client.call("POST", "/api/v1/incidents", call)
        if reply.status != 201:
            log.warning("call not recorded: %s %s", reply.status, reply.code)
            return None
        incident_id = int(reply.json()["id"])
        # The dispatcher hears the caller out and reads the recommendation.
        await self.world.pause(self.world.rng.uniform(45, 90))
        for _attempt in range(20):
            dispatched = await self._assign(incident_id)
            if dispatched is not None:
                return dispatched
            await self.world.pause(60)  # every unit busy: wait for one to be free
        log.warning("no unit for incident %s", incident_id)
        return None

    async def _assign(self, incident_id: int) -> Dispatch | None:
        ranked = await self.client.call(
            "GET", f"/api/v1/dispatch/unit-recommendations?incident_id={incident_id}"
        )
        rows = ranked.json() if ranked.status == 200 else []
        candidates = [r for r in rows if r["unit_id"] not in self.world.people_units]
        for row in candidates[:3]:
            assigned = await self.client.call(
                "POST", f"/api/v1/incidents/{incident_id}/assign", {"unit_id": row["unit_id"]}
            )
            if assigned.status == 201:
                return Dispatch(
                    incident_id,
                    int(assigned.json()["id"]),
                    int(row["unit_id"]),
                    row.get("eta_s"),
                    str(row.get("source", "")),
                )
        return None


@dataclass
class Hospital:
    """One ER answering what is addressed to it, at a human pace."""

    world: World
    client: Client
    hospital_id: int
    name: str = ""
    answered: set[int] = field(default_factory=set)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        if self.hospital_id in self.world.people_hospitals:
            return  # a person answers here
        while not stop.is_set():
            with contextlib.suppress(HttpError):
                reply = await self.client.call("GET", "/api/v1/hospital-requests?status=sent")
                if reply.status == 200:
                    for req in reply.json():
                        if req["id"] not in self.answered:
                            self.answered.add(req["id"])
                            task = asyncio.create_task(self.answer(req))
                            self._pending.add(task)
                            task.add_done_callback(self._pending.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
        for task in list(self._pending):
            task.cancel()

    async def answer(self, req: dict[str, Any]) -> None:
        rng = self.world.rng
        await self.world.pause(rng.uniform(*self.world.answer_delay_s))  # the doctor looks
        try:
            beds = await self.client.call("GET", f"/api/v1/hospitals/{self.hospital_id}")
            free = {
                b["category"]: b["available"]
                for b in (beds.json().get("beds", []) if beds.status == 200 else [])
                if not b.get("stale")
            }
            if free.get(req["bed_category"], 0) > 0 and rng.random() < 0.7:
                reply = await self.client.call(
                    "POST", f"/api/v1/hospital-requests/{req['id']}/accept", {}
                )
                if reply.status == 200 or reply.code != "no_bed":
                    return
                reason = "beds_full"
            else:
                reason = (
                    "beds_full"
                    if free.get(req["bed_category"], 0) <= 0
                    else rng.choices([d for d, _ in DECLINES], [w for _, w in DECLINES])[0]
                )
            # A reason code only: each page words it in its own language.
            await self.client.call(
                "POST", f"/api/v1/hospital-requests/{req['id']}/decline", {"reason": reason}
            )
        except HttpError as exc:
            log.info("ER %s could not answer: %s", self.hospital_id, exc)


@dataclass
class McDoctor:
    """A medical-control doctor answering the crews' requests for instruction, at a
    human pace; requests from the units people work are left to a person at /mc."""

    world: World
    client: Client
    answered: set[int] = field(default_factory=set)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(HttpError):
                reply = await self.client.call("GET", "/api/v1/instruction-requests?status=open")
                if reply.status == 200:
                    for req in reply.json():
                        if req["id"] in self.answered or req["unit_id"] in self.world.people_units:
                            continue
                        self.answered.add(req["id"])
                        task = asyncio.create_task(self.answer(req))
                        self._pending.add(task)
                        task.add_done_callback(self._pending.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
        for task in list(self._pending):
            task.cancel()

    async def answer(self, req: dict[str, Any]) -> None:
        # The doctor looks at the picture, the ECG and the vitals before answering.
        await self.world.pause(self.world.rng.uniform(*self.world.mc_delay_s))
        body = {"decision": "instructed", "detail": INSTRUCTED.get(req["procedure"], "")}
        with contextlib.suppress(HttpError):
            await self.client.call("POST", f"/api/v1/instruction-requests/{req['id']}/answer", body)


# python-pkcs11 sessions on one SoftHSM store are not shared across threads.
_CARD_LOCK = threading.Lock()
STEPS = (
    "arrived_scene",
    "patient_contact",
    "loaded",
    "departed_scene",
    "arrived_hospital",
    "handover",
)


@dataclass
class Ambulance:
    world: World
    client: Client
    unit_id: int
    transport_id: int
    log: list[str] = field(default_factory=list)
    timeline: Timeline = field(init=False)
    position: Point = (0.0, 0.0)
    positions_sent: int = 0
    condition: str = ""  # the call's suspected condition, once read

    def __post_init__(self) -> None:
        self.timeline = Timeline.for_server(self.client.pool.base_url, self.client.token or "")

    async def event(self, kind: str) -> None:
        """Tap a timeline step. At life pace through the tablet's outbox (same key,
        same time until the server has it); in fast mode with the run's speed in the
        step's data, so that today's figures scale it back to life."""
        if self.world.fast:
            await self._post_step(kind)
            self.log.append(kind)
            return
        self.timeline.add(self.transport_id, kind)
        for _ in range(20):
            await self.timeline.flush()
            if not self.timeline.pending:
                self.log.append(kind)
                return
            await asyncio.sleep(1)
        raise RuntimeError(f"{kind}: server unavailable")

    async def _post_step(self, kind: str) -> None:
        body = {
            "kind": kind,
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "idempotency_key": f"sim-{uuid.uuid4().hex}",
            "data": self.world.step_data(),
        }
        for _ in range(20):
            try:
                reply = await self.client.call(
                    "POST", f"/api/v1/transports/{self.transport_id}/events", body
                )
            except HttpError:
                await asyncio.sleep(1)
                continue
            if reply.status in (200, 201):
                return
            if reply.status < 500:
                raise RuntimeError(f"{kind} refused: {reply.status} {reply.code}")
            await asyncio.sleep(1)
        raise RuntimeError(f"{kind}: server unavailable")

    async def run(self) -> None:
        """Work the transport from the step it is at (a fresh one: from dispatch)."""
        w = self.world
        t = await self.client.call("GET", f"/api/v1/transports/{self.transport_id}")
        if t.status != 200:
            raise RuntimeError(f"transport {self.transport_id}: {t.status} {t.code}")
        transport = t.json()
        done = {s["kind"] for s in transport["timeline"] if s["at"]}
        scene = await self._scene_point(transport)
        await self._locate()
        hospital: int | None = transport.get("destination_hospital_id")
        if "arrived_scene" not in done:
            await w.pause(w.rng.uniform(30, 90))  # the crew runs to the ambulance
            route = await self.drive(scene)  # lights and sirens to the scene
            self.log.append(f"drive {route.seconds / 60:.0f} min ({route.source})")
            await self.event("arrived_scene")
        if "patient_contact" not in done:
            await w.pause(w.rng.uniform(45, 120))  # from the road to the patient
            await self.event("patient_contact")
            await self.identify()
        if "loaded" not in done:
            await w.pause(w.rng.uniform(300, 540))  # assessment, first care, stretcher
            await self.ask_the_doctor(transport)
            await self.event("loaded")
        if "departed_scene" not in done:
            hospital = await self.find_hospital() if hospital is None else hospital
            self.log.append(f"hospital {hospital}")
            await w.pause(60)
            await self.event("departed_scene")
        if "arrived_hospital" not in done:
            if hospital is None:
                hospital = await self.find_hospital()
            target = await self._hospital_point(hospital)
            route = await self.stream_while(self.drive(target))  # streaming to the ER
            self.log.append(f"drive {route.seconds / 60:.0f} min ({route.source})")
            await self.event("arrived_hospital")
        if "handover" not in done:
            await w.pause(w.rng.uniform(120, 360))
            await self.event("handover")
        w.completed.append(self.transport_id)
        log.info("transport %s handed over at hospital %s", self.transport_id, hospital)

    async def ask_the_doctor(self, transport: dict[str, Any]) -> None:
        """Before a specified procedure the crew asks medical control from the tablet and
        waits for the instruction (at most ten minutes, then it goes on without)."""
        incident = await self.client.call("GET", f"/api/v1/incidents/{transport['incident_id']}")
        if incident.status != 200:
            return
        call = incident.json()
        self.condition = str(call.get("suspected_condition") or "")
        procedure = ASK_FOR.get(self.condition)
        if procedure is None and call.get("urgency") in ("critical", "serious"):
            procedure = "iv_fluids" if self.world.rng.random() < 0.3 else None
        if procedure is None:
            return
        url = f"/api/v1/transports/{self.transport_id}/instruction-requests"
        with contextlib.suppress(HttpError):
            asked = await self.client.call("POST", url, {"procedure": procedure})
            if asked.status != 201:
                return
            self.log.append(f"asked MC: {procedure}")
            for _ in range(300):
                await self.world.pause(2.0)
                reply = await self.client.call("GET", url)
                if reply.status == 200 and any(r["answered_at"] for r in reply.json()):
                    self.log.append("MC instructed")
                    return

    async def _locate(self) -> None:
        reply = await self.client.call("GET", f"/api/v1/units/{self.unit_id}")
        if reply.status == 200:
            self.position = (float(reply.json()["lat"]), float(reply.json()["lon"]))

    async def _scene_point(self, transport: dict[str, Any]) -> Point:
        reply = await self.client.call("GET", f"/api/v1/incidents/{transport['incident_id']}")
        if reply.status != 200:
            raise RuntimeError(f"incident {transport['incident_id']}: {reply.status}")
        return (float(reply.json()["lat"]), float(reply.json()["lon"]))

    async def _hospital_point(self, hospital_id: int | None) -> Point:
        if hospital_id is None:
            raise RuntimeError("no hospital to drive to")
        reply = await self.client.call("GET", f"/api/v1/hospitals/{hospital_id}")
        if reply.status != 200:
            raise RuntimeError(f"hospital {hospital_id}: {reply.status}")
        return (float(reply.json()["lat"]), float(reply.json()["lon"]))

    async def drive(self, to: Point) -> Route:
        """Drive the road from here to ``to``, reporting the position every few
        seconds as the tablet's GPS does; returns the route driven."""
        route = await asyncio.to_thread(self.world.roads.route, self.position, to)
        await drive_route(route, speed=self.world.speed, report=self.report)
        return route

    async def report(self, where: Point) -> None:
        self.position = where
        with contextlib.suppress(HttpError):
            reply = await self.client.call(
                "PUT",
                f"/api/v1/units/{self.unit_id}/position",
                {"lat": round(where[0], 6), "lon": round(where[1], 6)},
            )
            if reply.status == 200:
                self.positions_sent += 1

    async def identify(self) -> None:
        """Read a demo My Number card (PIN on the mock card) and open the history."""
        store = self.world.card_store
        if store is None or not (store / "softhsm2.conf").exists():
            self.log.append("card: no demo cards")
            return
        try:
            summary = await asyncio.to_thread(self._read_card, store)
        except Exception as exc:  # a card problem must not stop the transport
            self.log.append(f"card: {type(exc).__name__}: {exc}")
            return
        self.log.append(f"card: {summary}")
        record = await self.client.call(
            "GET", f"/api/v1/transports/{self.transport_id}/patient-record"
        )
        self.log.append(f"history: {record.status}")

    def _read_card(self, store: Path) -> str:
        with _CARD_LOCK:
            cards = CardStore(store)
            serials = cards.serials()
            if not serials:
                return "no cards"
            serial = serials[self.transport_id % len(serials)]
            pin = "4321" if serial == ODD_PIN_CARD else "1234"
            api = HttpApi(self.client.pool.base_url, self.client.token or "")
            view = identify_with_pin(
                api=api, reader=cards.reader(serial), transport_id=self.transport_id, pin=pin
            )
            return f"{serial} → patient {view.get('patient_id')} ({view.get('assurance')})"

    async def find_hospital(self) -> int | None:
        """Ask the recommended hospitals in parallel until one accepts; if every
        round is declined (or nobody answers), the crew phones the nearest tertiary
        centre and sets it as the destination."""
        for _round in range(4):
            sent = await self.client.call(
                "POST", f"/api/v1/transports/{self.transport_id}/hospital-requests", {}
            )
            if sent.status != 201:
                self.log.append(f"requests: {sent.status} {sent.code}")
                break
            loop = asyncio.get_running_loop()
            asked = loop.time()
            while (loop.time() - asked) * self.world.speed < ROUND_PATIENCE_S:
                # Look every few life seconds, but never more than once a real second.
                await asyncio.sleep(max(1.0, 5 / self.world.speed))
                t = await self.client.call("GET", f"/api/v1/transports/{self.transport_id}")
                if t.status == 200 and t.json().get("destination_hospital_id"):
                    return int(t.json()["destination_hospital_id"])
                reqs = await self.client.call(
                    "GET", f"/api/v1/hospital-requests?transport_id={self.transport_id}"
                )
                if reqs.status == 200 and not any(
                    r["status"] in ("sent", "accepted") for r in reqs.json()
                ):
                    break  # all declined: next round
        hospitals = await self.client.call("GET", "/api/v1/hospitals")
        tertiary = [h for h in hospitals.json() if h["level"] == "tertiary"]
        # A hospital people answer for gets no patient it did not accept, if any other can.
        tertiary = [h for h in tertiary if h["id"] not in self.world.people_hospitals] or tertiary
        if not tertiary:
            return None
        here = self.position
        nearest = min(tertiary, key=lambda h: haversine_m(here[0], here[1], h["lat"], h["lon"]))
        await self.world.pause(300)  # the phone call
        await self.client.call(
            "PUT",
            f"/api/v1/transports/{self.transport_id}/destination",
            {"hospital_id": int(nearest["id"])},
        )
        self.log.append("by phone")
        return int(nearest["id"])

    async def stream_while(self, journey: Any) -> Any:
        """The stream runs for the journey: camera, ECG and vitals to the ER."""
        streamer = make_streamer(
            self.world.relay_url,
            self.client.token or "",
            self.transport_id,
            video=self.world.video,
            backoff_max_s=2.0,
            # A cardiac arrest plays on the monitor: VF, a shock, return of circulation.
            scenario="arrest" if self.condition == "cardiac_arrest" else "stable",
        )
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop))
        try:
            result = await journey
            # Vitals are part of the record: let the queue empty before arriving.
            for _ in range(50):
                if not streamer.unacked:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        self.log.append(
            f"stream: {streamer.stats.video_frames} frames, {len(streamer.produced)} records"
        )
        return result

    async def drive_home(self) -> None:
        """Back to the station after the handover (available on the way)."""
        home = self.world.stations.get(self.unit_id)
        if home is None:
            return
        await self.drive(home)


async def drive_route(
    route: Route, *, speed: float, report: Callable[[Point], Awaitable[None]]
) -> None:
    """Move along ``route`` at its life timing (``speed`` times faster in fast mode),
    reporting the position every ``POSITION_EVERY_S`` real seconds and at the end."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        life = (loop.time() - started) * speed
        if life >= route.seconds:
            break
        await report(route.at(life))
        left_real = (route.seconds - life) / speed
        await asyncio.sleep(min(POSITION_EVERY_S, max(0.05, left_real)))
    await report(route.points[-1])

"""The simulated people of the demo region, each acting only through the public
API and the relay, with the demo logins:

- ``CallStream``: 119 calls drawn from the region's towns by population, with
  realistic complaints, urgencies and ages;
- ``Dispatcher``: records each call, asks for the recommended unit and assigns it;
- ``Hospital``: an ER that answers acceptance requests after a human delay —
  accepts when it has the bed and the capability, otherwise declines with the
  reason a real ER gives (beds full, cannot treat, outside specialty, in surgery);
- ``Ambulance``: a crew working one transport from dispatch to handover — timeline,
  My Number card read with a demo card (PIN on the mock card), the history, the
  parallel hospital requests, the live stream (synthetic camera, ECG, vitals) on
  the way in, and the handover. Its tablet is the tablet's own code: the timeline
  outbox, the card reader and the streamer of ``ambulance_client``.

Human delays are divided by ``speed`` so that a demo shows a whole transport in
a few minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambulance_client.card import HttpApi, identify_with_pin
from card_issuer.tokens import CardStore
from ems.dispatch.region import RegionPack, load_region
from simulation.http import Client, HttpError, Pool
from simulation.tablet import Timeline, make_streamer

log = logging.getLogger("simulation")

DEMO_PASSWORD = "demo-pass-2026"
# The region the demo seeds (ems seed-demo), read through the server's region packs.
DEMO_REGION = "demo"


def demo_region() -> RegionPack:
    return load_region(DEMO_REGION)


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
)
URGENCIES = ("critical", "serious", "moderate", "minor")
# What an ER says when it cannot take a patient, weighted as FDMA reports them.
DECLINES = (("cannot_treat", 52), ("beds_full", 15), ("outside_specialty", 8), ("in_surgery", 25))
# The demo cards: MNDEMO0005 has the odd PIN (4321) for the wrong-PIN demonstration.
ODD_PIN_CARD = "MNDEMO0005"


@dataclass
class World:
    """What every actor shares: the API pool, the relay, the clock factor."""

    pool: Pool
    relay_url: str
    speed: float = 10.0
    card_store: Path | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    completed: list[int] = field(default_factory=list)
    video: bool = True

    async def pause(self, real_seconds: float) -> None:
        """Wait a human delay of ``real_seconds``, compressed by the demo speed."""
        await asyncio.sleep(max(0.05, real_seconds / self.speed))

    async def login(self, username: str) -> tuple[Client, dict[str, Any]]:
        client = Client(self.pool)
        data = await client.login(username, DEMO_PASSWORD)
        return client, data["user"]


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
        return {
            "lat": round(town["lat"] + self.rng.uniform(-0.03, 0.03), 5),
            "lon": round(town["lon"] + self.rng.uniform(-0.03, 0.03), 5),
            "address": f"{town['name']} {self.rng.randint(1, 9)}丁目{self.rng.randint(1, 30)}",
            "urgency": self.rng.choices(URGENCIES, weights=weights)[0],
            "chief_complaint": complaint,
            "suspected_condition": condition,
            "caller_account": "家族からの通報 (synthetic)",
            "patient_age": self.rng.randint(lo, hi),
            "patient_sex": self.rng.choice(["female", "male"]),
        }


@dataclass
class Dispatcher:
    world: World
    client: Client

    async def take_call(self, call: dict[str, Any]) -> tuple[int, int] | None:
        """Record a call and dispatch the recommended unit: (transport, unit)."""
        reply = await self.client.call("POST", "/api/v1/incidents", call)
        if reply.status != 201:
            log.warning("call not recorded: %s %s", reply.status, reply.code)
            return None
        incident_id = reply.json()["id"]
        await self.world.pause(30)  # the dispatcher reads the recommendation
        ranked = await self.client.call(
            "GET", f"/api/v1/dispatch/unit-recommendations?incident_id={incident_id}"
        )
        candidates = [r["unit_id"] for r in ranked.json()] if ranked.status == 200 else []
        if not candidates:
            units = await self.client.call("GET", "/api/v1/units?status=available")
            candidates = [u["id"] for u in units.json()] if units.status == 200 else []
        for unit_id in candidates[:3]:
            assigned = await self.client.call(
                "POST", f"/api/v1/incidents/{incident_id}/assign", {"unit_id": unit_id}
            )
            if assigned.status == 201:
                return int(assigned.json()["id"]), unit_id
        log.warning("no unit for incident %s", incident_id)
        return None


@dataclass
class Hospital:
    """One ER answering what is addressed to it."""

    world: World
    client: Client
    hospital_id: int
    name: str = ""
    answered: set[int] = field(default_factory=set)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
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
                await asyncio.wait_for(stop.wait(), 1.0)

    async def answer(self, req: dict[str, Any]) -> None:
        rng = self.world.rng
        await self.world.pause(rng.uniform(20, 90))  # the ER doctor looks at the case
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
            await self.client.call(
                "POST",
                f"/api/v1/hospital-requests/{req['id']}/decline",
                {"reason": reason, "note": "simulated ER"},
            )
        except HttpError as exc:
            log.info("ER %s could not answer: %s", self.hospital_id, exc)


# python-pkcs11 sessions on one SoftHSM store are not shared across threads.
_CARD_LOCK = threading.Lock()


@dataclass
class Ambulance:
    world: World
    client: Client
    unit_id: int
    transport_id: int
    log: list[str] = field(default_factory=list)
    timeline: Timeline = field(init=False)

    def __post_init__(self) -> None:
        self.timeline = Timeline.for_server(self.client.pool.base_url, self.client.token or "")

    async def event(self, kind: str) -> None:
        """Tap a timeline step on the tablet: its outbox keeps the step (same key, same
        time) until the server has it."""
        self.timeline.add(self.transport_id, kind)
        for _ in range(20):
            await self.timeline.flush()
            if not self.timeline.pending:
                self.log.append(kind)
                return
            await asyncio.sleep(1)
        raise RuntimeError(f"{kind}: server unavailable")

    async def run(self) -> None:
        w = self.world
        await w.pause(300)  # drive to the scene
        await self.event("arrived_scene")
        await w.pause(60)
        await self.event("patient_contact")
        await self.identify()
        await w.pause(240)
        await self.event("loaded")
        hospital = await self.find_hospital()
        self.log.append(f"hospital {hospital}")
        await self.event("departed_scene")
        await self.stream_while(w.pause(600))  # on the road, streaming to the ER
        await self.event("arrived_hospital")
        await w.pause(120)
        await self.event("handover")
        w.completed.append(self.transport_id)
        log.info("transport %s handed over at hospital %s", self.transport_id, hospital)

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
        round is declined, the crew phones the tertiary centre."""
        for _round in range(4):
            sent = await self.client.call(
                "POST", f"/api/v1/transports/{self.transport_id}/hospital-requests", {}
            )
            if sent.status != 201:
                self.log.append(f"requests: {sent.status} {sent.code}")
                break
            for _ in range(600):
                await asyncio.sleep(0.5)
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
        tertiary = [int(h["id"]) for h in hospitals.json() if h["level"] == "tertiary"]
        if tertiary:
            await self.client.call(
                "PUT",
                f"/api/v1/transports/{self.transport_id}/destination",
                {"hospital_id": tertiary[0]},
            )
            return tertiary[0]
        return None

    async def stream_while(self, journey: Any) -> None:
        """The stream runs for the journey: camera, ECG and vitals to the ER."""
        streamer = make_streamer(
            self.world.relay_url,
            self.client.token or "",
            self.transport_id,
            video=self.world.video,
            backoff_max_s=2.0,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(streamer.run(stop))
        try:
            await journey
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

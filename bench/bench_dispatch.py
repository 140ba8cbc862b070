"""Dispatch benchmarks: hospital recommendation latency, mass-casualty solve time and
a simulated year.

- ``recommend_ms_p99``: one patient, 200 hospitals, travel times from Valhalla on the
  demo region's tiles with a warm matrix cache: ranking, exclusions and round choice.
- ``mci_1000x100_ms``: 1,000 patients over 100 hospitals, solved to optimality.
- ``sim_year_500k_s``: one simulated year of a 500,000-person region, both policies.
- ``sim_year_tokyo_s``: one simulated year of the demo region scaled to 14 million
  people (Tokyo scale, about 760,000 transports), policies A and B on the two cores, one
  replication, no ablation, straight-line travel (the road matrix is a separate cost).
  The goal is ≤ 120 s; it is not met: 270 s and 290 s in two runs on 2026-12-07 on a
  quiet 2-core AMD EPYC.
  A and B run side by side, one core each, so policy B bounds it (A alone takes about
  50 s): per transport it calls the server's ``rank_hospitals``, ``AcceptanceModel.p``,
  ``coverage.move_up``, ``coverage_penalties`` and ``assign_units``, which the
  simulation must not copy (about half of its time), and its own bookkeeping takes the
  rest. The run takes about five minutes of ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from ems.dispatch import mci, optimizer, routing
from ems.dispatch.needs import derive_needs
from ems.dispatch.region import build_region, load_region
from ems.dispatch.simulate import SimParams
from ems.dispatch.simulate import run as simulate


def _p99(samples: list[float]) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


def bench_recommend(tmp: Path) -> float:
    pack = load_region("demo")
    build_region(pack, tmp / "demo")
    router = routing.router_for(tmp / "demo")
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC)
    caps = ["pci", "stroke_thrombectomy", "trauma_surgery", "neurosurgery", "paediatrics"]
    hospitals = []
    for i in range(200):
        town = rng.choice(pack.towns)
        hospitals.append(
            optimizer.HospitalInfo(
                id=i + 1,
                name=f"H{i}",
                lat=town["lat"] + rng.uniform(-0.02, 0.02),
                lon=town["lon"] + rng.uniform(-0.02, 0.02),
                level="tertiary" if i % 20 == 0 else "secondary",
                capabilities=frozenset(rng.sample(caps, rng.randint(0, 4))),
                beds={
                    "ccu": optimizer.BedState(
                        rng.randint(0, 3), 4, now + dt.timedelta(minutes=rng.choice([-5, 30]))
                    )
                },
            )
        )
    targets = [(h.lat, h.lon) for h in hospitals]
    origin = (pack.towns[0]["lat"], pack.towns[0]["lon"])
    router.matrix([origin], targets)  # warm the cache
    needs = derive_needs(urgency="serious", suspected_condition="stemi", age=70)
    acceptance = {h.id: rng.uniform(0.3, 0.9) for h in hospitals}
    samples = []
    for _ in range(500):
        t0 = time.perf_counter()
        row = router.matrix([origin], targets)[0]
        travel = {h.id: t for h, t in zip(hospitals, row, strict=True)}
        ranked, _ = optimizer.rank_hospitals(
            needs=needs, hospitals=hospitals, travel=travel, acceptance=acceptance, now=now
        )
        optimizer.select_round(ranked)
        samples.append((time.perf_counter() - t0) * 1000)
    routing.forget_routers()
    return _p99(samples)


def bench_mci() -> float:
    rng = random.Random(11)
    patients = [
        mci.MciPatient(
            f"P{i}", rng.choices(["red", "yellow", "green", "black"], [2, 3, 5, 0.3])[0], 0, 0
        )
        for i in range(1000)
    ]
    hospital_ids = list(range(100))
    capacity = {
        h: {"red": rng.randint(1, 6), "yellow": rng.randint(2, 10), "green": rng.randint(5, 20)}
        for h in hospital_ids
    }
    times = [[float(rng.randint(120, 7200)) for _ in hospital_ids] for _ in patients]
    t0 = time.perf_counter()
    plan = mci.allocate(
        patients=patients, hospital_ids=hospital_ids, capacity=capacity, time_s=times
    )
    elapsed = (time.perf_counter() - t0) * 1000
    assert plan.optimal
    return elapsed


def bench_sim_year(population: int, days: int = 365) -> float:
    t0 = time.perf_counter()
    simulate(SimParams(days=days, seed=1, population=population), replications=1, ablation=False)
    return time.perf_counter() - t0


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        recommend = bench_recommend(Path(tmp))
    out = {
        "recommend_ms_p99": round(recommend, 3),
        "mci_1000x100_ms": round(bench_mci(), 1),
        "sim_year_500k_s": round(bench_sim_year(500_000), 2),
    }
    out["sim_year_tokyo_s"] = round(bench_sim_year(14_000_000), 1)
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k} = {v}")

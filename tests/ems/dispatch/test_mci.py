"""Mass-casualty allocation: feasible, within surge capacity, optimal, re-solvable."""

from __future__ import annotations

import itertools
import random

import pytest

from ems.dispatch import mci


def _case(seed: int, n_p: int, n_h: int) -> tuple[list[mci.MciPatient], list[list[float | None]]]:
    rng = random.Random(seed)
    patients = [
        mci.MciPatient(f"P{i}", rng.choice(["red", "yellow", "green", "black"]), 35.0, 135.0)
        for i in range(n_p)
    ]
    times: list[list[float | None]] = [
        [float(rng.randint(300, 3600)) for _ in range(n_h)] for _ in range(n_p)
    ]
    return patients, times


@pytest.mark.parametrize("seed", range(10))
def test_never_exceeds_surge_capacity_and_allocates_everyone_who_fits(seed: int) -> None:
    patients, times = _case(seed, 60, 5)
    rng = random.Random(seed)
    cap = {h: {c: rng.randint(0, 8) for c in ("red", "yellow", "green")} for h in range(5)}
    plan = mci.allocate(patients=patients, hospital_ids=list(range(5)), capacity=cap, time_s=times)
    for h, per_class in plan.load.items():
        for c, n in per_class.items():
            assert n <= cap[h][c]
    for c in ("red", "yellow", "green"):
        demand = sum(p.triage == c for p in patients)
        supply = sum(cap[h][c] for h in cap)
        placed = sum(a.triage == c for a in plan.allocations)
        assert placed == min(demand, supply)
    assert {p.id for p in patients if p.triage == "black"} == set(plan.not_transported)
    assert plan.optimal


@pytest.mark.parametrize("seed", range(8))
def test_allocation_is_optimal_against_brute_force(seed: int) -> None:
    patients, times = _case(seed, 5, 3)
    patients = [
        mci.MciPatient(p.id, "red" if p.triage == "black" else p.triage, 0, 0) for p in patients
    ]
    cap = {h: {"red": 2, "yellow": 2, "green": 2} for h in range(3)}
    plan = mci.allocate(patients=patients, hospital_ids=[0, 1, 2], capacity=cap, time_s=times)
    best = None
    for choice in itertools.product(range(3), repeat=len(patients)):
        used: dict[tuple[int, str], int] = {}
        cost = 0
        for p_i, h in enumerate(choice):
            key = (h, patients[p_i].triage)
            used[key] = used.get(key, 0) + 1
            cost += mci.TRIAGE_WEIGHT[patients[p_i].triage] * round(times[p_i][h] or 0)
        if all(n <= cap[h][c] for (h, c), n in used.items()):
            best = cost if best is None else min(best, cost)
    assert plan.weighted_time_s == best


def test_resolving_keeps_patients_on_their_way_and_their_beds() -> None:
    patients = [mci.MciPatient("P1", "red", 0, 0)]
    times: list[list[float | None]] = [[600.0, 300.0]]
    cap = {10: {"red": 1}, 20: {"red": 1}}
    first = mci.allocate(patients=patients, hospital_ids=[10, 20], capacity=cap, time_s=times)
    assert first.allocations[0].hospital_id == 20
    # Two more red patients arrive; P1 is already on the road to hospital 20.
    patients += [mci.MciPatient("P2", "red", 0, 0), mci.MciPatient("P3", "red", 0, 0)]
    times += [[600.0, 100.0], [700.0, 200.0]]
    second = mci.allocate(
        patients=patients, hospital_ids=[10, 20], capacity=cap, time_s=times, locked={"P1": 20}
    )
    by_id = {a.patient_id: a for a in second.allocations}
    assert by_id["P1"].hospital_id == 20 and by_id["P1"].locked
    assert second.load[20]["red"] == 1 and second.load[10]["red"] == 1
    assert len(second.unallocated) == 1


def test_default_surge_gives_a_tertiary_centre_extra_red_capacity() -> None:
    fresh = {"icu": 2, "general": 4}
    tertiary = mci.default_surge(level="tertiary", fresh_beds=fresh, capacity={"general": 10})
    secondary = mci.default_surge(level="secondary", fresh_beds=fresh, capacity={"general": 10})
    assert tertiary["red"] > secondary["red"] == 2

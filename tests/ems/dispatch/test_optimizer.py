"""The pure optimizer: assignment optimality, hospital ranking, parallel round size."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from ems.dispatch import optimizer as opt
from ems.dispatch.needs import derive_needs
from ems.dispatch.reasons import reason

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
FRESH = NOW + dt.timedelta(minutes=30)
STALE = NOW - dt.timedelta(minutes=1)


@pytest.mark.parametrize("seed", range(40))
def test_assignment_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n_i, n_u = rng.randint(1, 4), rng.randint(1, 4)
    urg = [rng.choice(list(opt.URGENCY_WEIGHT)) for _ in range(n_i)]
    eta = [
        [None if rng.random() < 0.1 else float(rng.randint(60, 1800)) for _ in range(n_u)]
        for _ in range(n_i)
    ]
    pen = [rng.randint(0, 1000) for _ in range(n_u)]
    plan = opt.assign_units(
        incident_ids=list(range(100, 100 + n_i)),
        urgencies=urg,
        unit_ids=list(range(n_u)),
        eta_s=eta,
        coverage_penalty=pen,
    )
    unserved = sum(opt.URGENCY_WEIGHT[urg[i - 100]] * opt.UNREACHABLE_S for i in plan.unassigned)
    assert (plan.weighted_response_s + unserved, plan.coverage_loss) == opt.brute_force_assignment(
        urgencies=urg, eta_s=eta, coverage_penalty=pen
    )
    units = [a.unit_id for a in plan.assignments]
    assert len(units) == len(set(units))  # one incident per unit
    assert len(plan.assignments) + len(plan.unassigned) == n_i
    for a in plan.assignments:
        assert eta[a.incident_id - 100][a.unit_id] is not None


def test_critical_incident_gets_the_nearest_unit_when_units_are_short() -> None:
    plan = opt.assign_units(
        incident_ids=[1, 2],
        urgencies=["minor", "critical"],
        unit_ids=[7],
        eta_s=[[300.0], [900.0]],
    )
    assert [(a.incident_id, a.unit_id) for a in plan.assignments] == [(2, 7)]
    assert plan.unassigned == (1,)


def test_coverage_breaks_ties_in_response_time() -> None:
    # Both units reach the incident in 5 min; unit 0 is the only cover of a far village.
    pen = opt.coverage_penalties([[100.0, 100.0], [100.0, 2000.0]], [1.0, 1.0])
    plan = opt.assign_units(
        incident_ids=[1],
        urgencies=["serious"],
        unit_ids=[0, 1],
        eta_s=[[300.0, 300.0]],
        coverage_penalty=pen,
    )
    assert plan.assignments[0].unit_id == 1


def _hospital(
    hid: int, *, caps: tuple[str, ...] = ("pci",), level: str = "secondary", **beds: opt.BedState
) -> opt.HospitalInfo:
    return opt.HospitalInfo(
        id=hid,
        name=f"H{hid}",
        lat=35.0,
        lon=135.0,
        level=level,
        capabilities=frozenset(caps),
        beds=beds,
    )


def _travel(**eta: float) -> dict[int, opt.Travel]:
    return {int(k[1:]): opt.Travel(v, "valhalla") for k, v in eta.items()}


def test_ranking_excludes_full_and_incapable_and_treats_stale_as_unknown() -> None:
    needs = derive_needs(urgency="serious", suspected_condition="stemi", age=60)
    hospitals = [
        _hospital(1, ccu=opt.BedState(0, 4, FRESH)),  # known full
        _hospital(2, caps=(), ccu=opt.BedState(3, 4, FRESH)),  # no PCI
        _hospital(3, ccu=opt.BedState(0, 4, STALE)),  # stale: unknown, still a candidate
        _hospital(4, ccu=opt.BedState(2, 4, FRESH)),
    ]
    ranked, excluded = opt.rank_hospitals(
        needs=needs,
        hospitals=hospitals,
        travel=_travel(h1=100, h2=100, h3=600, h4=700),
        acceptance={},
        now=NOW,
    )
    assert [r.hospital_id for r in ranked] == [4, 3]
    stale = ranked[1]
    assert stale.bed_status == "stale" and stale.beds_available is None
    why = {e.hospital_id: e.reasons for e in excluded}
    assert reason("no_bed", category="ccu") in why[1]
    assert reason("lacks_capability", capabilities=["pci"]) in why[2]


def test_diversion_excludes_until_it_expires() -> None:
    needs = derive_needs(urgency="moderate", suspected_condition="fall", age=50)
    closed = opt.HospitalInfo(
        id=1,
        name="H1",
        lat=0,
        lon=0,
        level="secondary",
        capabilities=frozenset(),
        diversion="closed_to_ambulances",
        diversion_until=NOW + dt.timedelta(hours=1),
    )
    expired = opt.HospitalInfo(
        id=2,
        name="H2",
        lat=0,
        lon=0,
        level="secondary",
        capabilities=frozenset(),
        diversion="closed_to_ambulances",
        diversion_until=NOW - dt.timedelta(hours=1),
    )
    ranked, excluded = opt.rank_hospitals(
        needs=needs,
        hospitals=[closed, expired],
        travel=_travel(h1=60, h2=60),
        acceptance={},
        now=NOW,
    )
    assert [r.hospital_id for r in ranked] == [2]
    assert reason("closed_to_ambulances") in excluded[0].reasons


def test_k_is_the_fewest_hospitals_reaching_ninety_percent() -> None:
    assert opt.choose_k([0.95, 0.5]) == 1
    assert opt.choose_k([0.6, 0.6, 0.6]) == 3  # 1 - 0.4**3 = 0.936
    assert opt.choose_k([0.6, 0.6]) == 2  # falls short: ask every candidate
    assert opt.choose_k([0.1] * 10, cap=5) == 5
    assert opt.choose_k([]) == 0


def test_round_leaves_out_hospitals_far_behind_the_best() -> None:
    needs = derive_needs(urgency="moderate", suspected_condition="fall", age=50)
    hospitals = [_hospital(i, caps=()) for i in (1, 2, 3)]
    ranked, _ = opt.rank_hospitals(
        needs=needs,
        hospitals=hospitals,
        travel=_travel(h1=300, h2=400, h3=5000),
        acceptance={1: 0.5, 2: 0.5, 3: 0.5},
        now=NOW,
    )
    assert [r.hospital_id for r in opt.select_round(ranked)] == [1, 2]

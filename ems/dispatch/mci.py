"""Mass-casualty allocation: patients by triage class spread over hospitals.

A pure solver. Each hospital offers a surge capacity per triage class; every
patient is sent to one hospital so that the sum of weighted transport times is
smallest (red counts most). Solved exactly as a min-cost flow:

    patient ──(1, weight × time)──▶ (hospital, class) ──(surge capacity)──▶ sink
    patient ──(1, overflow cost)──▶ overflow ──────────────────────────────▶ sink

Patients already on their way are passed as ``locked``: they keep their hospital
and use up its capacity, so the plan can be solved again whenever patients are added.
Black-tagged patients are not transported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.graph.python import min_cost_flow

TRIAGE_CLASSES = ("red", "yellow", "green", "black")
TRIAGE_WEIGHT = {"red": 10, "yellow": 3, "green": 1}
# Cost of leaving a patient without a hospital, per unit of weight: far above any trip.
OVERFLOW_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class MciPatient:
    id: str
    triage: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class MciAllocation:
    patient_id: str
    hospital_id: int
    triage: str
    eta_s: int
    locked: bool = False


@dataclass(frozen=True, slots=True)
class MciPlan:
    allocations: tuple[MciAllocation, ...]
    unallocated: tuple[str, ...]  # no capacity left anywhere for their class
    not_transported: tuple[str, ...]  # black
    load: Mapping[int, Mapping[str, int]]  # hospital → class → patients
    weighted_time_s: int
    optimal: bool


def allocate(
    *,
    patients: Sequence[MciPatient],
    hospital_ids: Sequence[int],
    capacity: Mapping[int, Mapping[str, int]],
    time_s: Sequence[Sequence[float | None]],
    locked: Mapping[str, int] | None = None,
) -> MciPlan:
    """``time_s[p][h]``: seconds from patient p to hospital_ids[h] (None: no road)."""
    locked = dict(locked or {})
    h_index = {hid: j for j, hid in enumerate(hospital_ids)}
    load: dict[int, dict[str, int]] = {hid: {} for hid in hospital_ids}
    allocations: list[MciAllocation] = []
    not_transported: list[str] = []
    free: list[int] = []
    weighted = 0
    for p_idx, p in enumerate(patients):
        if p.triage not in TRIAGE_CLASSES:
            raise ValueError(f"unknown triage class {p.triage!r}")
        if p.triage == "black":
            not_transported.append(p.id)
            continue
        hid = locked.get(p.id)
        if hid is not None and hid in h_index:
            t = time_s[p_idx][h_index[hid]]
            eta = round(t) if t is not None else 0
            allocations.append(MciAllocation(p.id, hid, p.triage, eta, locked=True))
            load[hid][p.triage] = load[hid].get(p.triage, 0) + 1
            weighted += TRIAGE_WEIGHT[p.triage] * eta
            continue
        free.append(p_idx)

    # Node numbering: patients, then (hospital, class) pairs, then overflow, then sink.
    n_p = len(free)
    classes = ("red", "yellow", "green")
    hc_node = {
        (j, c): n_p + j * len(classes) + k
        for j in range(len(hospital_ids))
        for k, c in enumerate(classes)
    }
    overflow = n_p + len(hospital_ids) * len(classes)
    sink = overflow + 1
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    costs: list[int] = []
    for a, p_idx in enumerate(free):
        p = patients[p_idx]
        w = TRIAGE_WEIGHT[p.triage]
        row = time_s[p_idx]
        for j in range(len(hospital_ids)):
            t = row[j]
            if t is None:
                continue
            tails.append(a)
            heads.append(hc_node[(j, p.triage)])
            caps.append(1)
            costs.append(w * round(t))
        tails.append(a)
        heads.append(overflow)
        caps.append(1)
        costs.append(w * OVERFLOW_S)
    for (j, c), node in hc_node.items():
        hid = hospital_ids[j]
        left = max(0, int(capacity.get(hid, {}).get(c, 0)) - load[hid].get(c, 0))
        tails.append(node)
        heads.append(sink)
        caps.append(left)
        costs.append(0)
    tails.append(overflow)
    heads.append(sink)
    caps.append(n_p)
    costs.append(0)

    unallocated: list[str] = []
    optimal = True
    if n_p:
        smcf = min_cost_flow.SimpleMinCostFlow()
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        supplies = [0] * (sink + 1)
        for a in range(n_p):
            supplies[a] = 1
        supplies[sink] = -n_p
        smcf.set_nodes_supplies(list(range(sink + 1)), supplies)
        status = smcf.solve()
        optimal = status == smcf.OPTIMAL
        if not optimal:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        flows = smcf.flows(arcs)
        node_to_hospital = {node: j for (j, _c), node in hc_node.items()}
        for arc_i, f in enumerate(flows):
            if f <= 0 or tails[arc_i] >= n_p:
                continue
            p = patients[free[tails[arc_i]]]
            head = heads[arc_i]
            if head == overflow:
                unallocated.append(p.id)
                continue
            j = node_to_hospital[head]
            hid = hospital_ids[j]
            t = time_s[free[tails[arc_i]]][j]
            eta = round(t) if t is not None else 0
            allocations.append(MciAllocation(p.id, hid, p.triage, eta))
            load[hid][p.triage] = load[hid].get(p.triage, 0) + 1
            weighted += TRIAGE_WEIGHT[p.triage] * eta
    order = {p.id: i for i, p in enumerate(patients)}
    allocations.sort(key=lambda a: order[a.patient_id])
    return MciPlan(
        allocations=tuple(allocations),
        unallocated=tuple(sorted(unallocated, key=order.__getitem__)),
        not_transported=tuple(not_transported),
        load={hid: dict(v) for hid, v in load.items() if v},
        weighted_time_s=weighted,
        optimal=optimal,
    )


def default_surge(
    *, level: str, fresh_beds: Mapping[str, int], capacity: Mapping[str, int]
) -> dict[str, int]:
    """Surge capacity per class when the incident command gives none.

    Red patients need critical-care beds (ICU, CCU, SCU, burn); yellow ones a general
    bed; green ones are seen in the ER and sent home, so more of them fit. A tertiary
    centre opens extra red capacity under its disaster plan.
    """
    critical = sum(fresh_beds.get(c, 0) for c in ("icu", "ccu", "scu", "burn"))
    general = fresh_beds.get("general", 0)
    red = critical + (2 if level == "tertiary" else 0)
    yellow = max(general, capacity.get("general", 0) // 2)
    green = max(5, 2 * capacity.get("general", 0))
    return {"red": red, "yellow": yellow, "green": green}

"""The pure core of dispatch: which unit goes, which hospitals are asked.

Plain data in, plain data out: no Flask, no database, no routing engine. Callers
pass travel times they obtained elsewhere (``ems.dispatch.routing``) and the state
of hospitals as it stands; the functions here rank and assign with OR-Tools.
Everything is deterministic for the same input.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ortools.graph.python import linear_sum_assignment

from ems.dispatch.reasons import Reason, reason

# Levels in increasing order of what they can do.
LEVEL_RANK = {"secondary": 1, "tertiary": 2}
# Response-time weight by urgency: a critical patient's minute counts four times a minor one's.
URGENCY_WEIGHT = {"critical": 4, "serious": 3, "moderate": 2, "minor": 1}

# Penalties (seconds of travel time a crew would trade for certainty).
UNKNOWN_BEDS_PENALTY_S = 300
LEVEL_PREFERENCE_PENALTY_S = 600
REFUSAL_COST_S = 600  # expected extra time of one refusal: the next round's answer and detour
UNREACHABLE_S = 4 * 3600


@dataclass(frozen=True, slots=True)
class BedState:
    available: int
    capacity: int
    expires_at: dt.datetime | None = None

    def fresh(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class HospitalInfo:
    id: int
    name: str
    lat: float
    lon: float
    level: str
    capabilities: frozenset[str]
    diversion: str = "open"
    diverted_categories: frozenset[str] = frozenset()
    diversion_until: dt.datetime | None = None
    beds: Mapping[str, BedState] = field(default_factory=dict)

    def diversion_active(self, now: dt.datetime) -> bool:
        if self.diversion == "open":
            return False
        return self.diversion_until is None or self.diversion_until > now


@dataclass(frozen=True, slots=True)
class PatientNeeds:
    """What a hospital must offer this patient (see ``ems.dispatch.needs``)."""

    bed_category: str
    required_capabilities: frozenset[str] = frozenset()
    preferred_level: str | None = None
    urgency: str = "moderate"
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Travel:
    seconds: float | None
    source: str  # "valhalla" | "straight_line"


@dataclass(frozen=True, slots=True)
class RankedHospital:
    hospital_id: int
    name: str
    eta_s: int
    travel_source: str
    score_s: float
    bed_status: str  # available | unknown | stale
    beds_available: int | None
    acceptance_p: float
    reasons: tuple[Reason, ...]
    # False: open to ambulances and reachable, but not one to ask (already asked, lacks
    # a capability, no bed); listed only for a crew choosing by hand.
    recommended: bool = True


# Reasons that keep a hospital out even of the full list: no ambulance can go there.
CLOSED_REASONS = frozenset({"closed_to_ambulances", "unreachable"})


@dataclass(frozen=True, slots=True)
class ExcludedHospital:
    hospital_id: int
    name: str
    reasons: tuple[Reason, ...]


def rank_hospitals(
    *,
    needs: PatientNeeds,
    hospitals: Sequence[HospitalInfo],
    travel: Mapping[int, Travel],
    acceptance: Mapping[int, float],
    now: dt.datetime,
    exclude_ids: frozenset[int] = frozenset(),
    include_unrecommended: bool = False,
) -> tuple[list[RankedHospital], list[ExcludedHospital]]:
    """Hospitals that can take the patient, best first, and those that cannot, with why.

    The score is the ETA plus what uncertainty is expected to cost: unknown beds,
    a lower level than preferred, and the chance of a refusal.

    ``include_unrecommended``: every hospital open to ambulances and reachable is
    ranked, those that would otherwise be excluded after the recommended ones, nearest
    first, with ``recommended=False`` and the reasons they are not recommended; only
    the closed and the unreachable stay excluded. A crew with no recommended hospital
    left chooses from this list by hand.
    """
    ranked: list[RankedHospital] = []
    others: list[RankedHospital] = []
    excluded: list[ExcludedHospital] = []
    cat = needs.bed_category
    for h in hospitals:
        why: list[Reason] = []
        if h.id in exclude_ids:
            why.append(reason("already_asked"))
        missing = sorted(needs.required_capabilities - h.capabilities)
        if missing:
            why.append(reason("lacks_capability", capabilities=missing))
        if h.diversion_active(now):
            if h.diversion == "closed_to_ambulances":
                why.append(reason("closed_to_ambulances"))
            elif cat in h.diverted_categories:
                why.append(reason("category_diverted", category=cat))
        bed = h.beds.get(cat)
        if bed is not None and bed.fresh(now) and bed.available <= 0:
            why.append(reason("no_bed", category=cat))
        t = travel.get(h.id)
        if t is None or t.seconds is None:
            why.append(reason("unreachable"))
        if why and not (include_unrecommended and not CLOSED_REASONS & {r.code for r in why}):
            excluded.append(ExcludedHospital(h.id, h.name, tuple(why)))
            continue
        assert t is not None and t.seconds is not None
        reasons: list[Reason] = list(why)
        if needs.required_capabilities and not missing:
            reasons.append(
                reason("capability_match", capabilities=sorted(needs.required_capabilities))
            )
        score = float(t.seconds)
        if bed is None:
            status, avail = "unknown", None
            reasons.append(reason("beds_unknown", category=cat))
            score += UNKNOWN_BEDS_PENALTY_S
        elif not bed.fresh(now):
            status, avail = "stale", None
            reasons.append(reason("beds_stale", category=cat))
            score += UNKNOWN_BEDS_PENALTY_S
        else:
            status, avail = "available", bed.available
            if bed.available > 0:  # a full one says so among the reasons above
                reasons.append(reason("beds_available", available=bed.available, category=cat))
        if h.diversion_active(now) and h.diversion == "category_diversion":
            reasons.append(reason("partial_diversion"))
        if needs.preferred_level and LEVEL_RANK.get(h.level, 0) < LEVEL_RANK.get(
            needs.preferred_level, 0
        ):
            reasons.append(reason("below_preferred_level", level=needs.preferred_level))
            score += LEVEL_PREFERENCE_PENALTY_S
        elif needs.preferred_level:
            reasons.append(reason("level", level=h.level))
        p = min(max(acceptance.get(h.id, 0.5), 0.0), 1.0)
        reasons.append(reason("acceptance_probability", p=round(p, 2)))
        score += (1.0 - p) * REFUSAL_COST_S
        (others if why else ranked).append(
            RankedHospital(
                hospital_id=h.id,
                name=h.name,
                eta_s=round(t.seconds),
                travel_source=t.source,
                score_s=round(score, 1),
                bed_status=status,
                beds_available=avail,
                acceptance_p=round(p, 3),
                reasons=tuple(reasons),
                recommended=not why,
            )
        )
    ranked.sort(key=lambda r: (r.score_s, r.eta_s, r.hospital_id))
    others.sort(key=lambda r: (r.eta_s, r.score_s, r.hospital_id))
    return ranked + others, excluded


def choose_k(probabilities: Sequence[float], *, target: float = 0.9, cap: int = 5) -> int:
    """The fewest top hospitals to ask at once so that P(at least one accepts) ≥ target.

    Requests are treated as independent. When even ``cap`` of them fall short,
    ``cap`` (or every candidate) is asked.
    """
    if not probabilities:
        return 0
    limit = max(1, min(cap, len(probabilities)))
    none_accepts = 1.0
    for k, p in enumerate(probabilities[:limit], start=1):
        none_accepts *= 1.0 - min(max(p, 0.0), 1.0)
        if 1.0 - none_accepts >= target:
            return k
    return limit


ROUND_WINDOW_S = 900


def select_round(
    ranked: Sequence[RankedHospital],
    *,
    target: float = 0.9,
    cap: int = 5,
    window_s: float = ROUND_WINDOW_S,
) -> list[RankedHospital]:
    """The hospitals to ask at once: the top of the ranking, k of them (``choose_k``),
    but none whose score trails the best by more than ``window_s``: with first accept
    wins, asking a far hospital can send the patient there. The next round reaches
    further if this one fails."""
    if not ranked:
        return []
    best = ranked[0].score_s
    near = [r for r in ranked if r.score_s - best <= window_s]
    k = choose_k([r.acceptance_p for r in near], target=target, cap=cap)
    return list(near[:k])


# --- Unit assignment ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitAssignment:
    incident_id: int
    unit_id: int
    eta_s: int


@dataclass(frozen=True, slots=True)
class AssignmentPlan:
    assignments: tuple[UnitAssignment, ...]
    unassigned: tuple[int, ...]
    weighted_response_s: int
    coverage_loss: int


def coverage_penalties(
    unit_to_demand_s: Sequence[Sequence[float]], demand_weights: Sequence[float]
) -> list[int]:
    """How much worse the region is covered when each unit leaves, scaled to 0…1000.

    For each demand point the cover time is the time of its nearest available unit;
    a unit's penalty is the weighted rise of cover times when it alone is gone.
    """
    n = len(unit_to_demand_s)
    if n == 0:
        return []
    raw = [0.0] * n
    for d, w in enumerate(demand_weights):
        times = [unit_to_demand_s[u][d] for u in range(n)]
        order = sorted(range(n), key=lambda u: times[u])
        best = times[order[0]]
        second = times[order[1]] if n > 1 else UNREACHABLE_S
        raw[order[0]] += w * (second - best)
    top = max(raw)
    if top <= 0:
        return [0] * n
    return [round(1000 * r / top) for r in raw]


def assign_units(
    *,
    incident_ids: Sequence[int],
    urgencies: Sequence[str],
    unit_ids: Sequence[int],
    eta_s: Sequence[Sequence[float | None]],
    coverage_penalty: Sequence[int] | None = None,
) -> AssignmentPlan:
    """Assign available units to pending incidents, one unit each.

    Lexicographic objective: first minimise Σ urgency weight × response time (whole
    seconds), then Σ coverage penalty of the units sent away. When units are short
    the most urgent incidents are served; a unit that cannot reach an incident is
    never sent to it. Solved exactly as a linear sum assignment.
    """
    n_i, n_u = len(incident_ids), len(unit_ids)
    pen = list(coverage_penalty) if coverage_penalty is not None else [0] * n_u
    if n_i == 0 or n_u == 0:
        return AssignmentPlan((), tuple(incident_ids), 0, 0)
    # Square problem: real units plus one "no unit" column per incident (serving it
    # later costs UNREACHABLE_S of weighted response); real incidents plus one idle row
    # per unit (staying at the station costs nothing).
    size = n_i + n_u
    # Scale response time so that no sum of coverage penalties can outweigh one second.
    scale = 1000 * n_u + 1
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    for i in range(size):
        for u in range(size):
            if i >= n_i:
                cost = 0
            elif u >= n_u:
                cost = URGENCY_WEIGHT.get(urgencies[i], 1) * UNREACHABLE_S * scale
            else:
                t = eta_s[i][u]
                if t is None or t >= UNREACHABLE_S:
                    continue  # never sent where it cannot arrive
                cost = URGENCY_WEIGHT.get(urgencies[i], 1) * round(t) * scale + pen[u]
            solver.add_arc_with_cost(i, u, cost)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"assignment failed with status {status}")
    out: list[UnitAssignment] = []
    unassigned: list[int] = []
    weighted = 0
    loss = 0
    for i in range(n_i):
        u = solver.right_mate(i)
        t = eta_s[i][u] if u < n_u else None
        if t is None:
            unassigned.append(incident_ids[i])
            continue
        out.append(UnitAssignment(incident_ids[i], unit_ids[u], round(t)))
        weighted += URGENCY_WEIGHT.get(urgencies[i], 1) * round(t)
        loss += pen[u]
    return AssignmentPlan(tuple(out), tuple(unassigned), weighted, loss)


def brute_force_assignment(
    *,
    urgencies: Sequence[str],
    eta_s: Sequence[Sequence[float | None]],
    coverage_penalty: Sequence[int],
) -> tuple[int, int]:
    """The best (weighted response, coverage loss) by enumeration, where an incident
    left without a unit counts UNREACHABLE_S. Exponential: for checking small cases."""
    n_i = len(urgencies)
    n_u = len(coverage_penalty)
    best: tuple[int, int] | None = None
    slots = list(range(n_u)) + [-1] * n_i
    for perm in set(itertools.permutations(slots, n_i)):
        weighted = loss = 0
        for i, u in enumerate(perm):
            t = eta_s[i][u] if u >= 0 else None
            w = URGENCY_WEIGHT.get(urgencies[i], 1)
            if t is None or t >= UNREACHABLE_S:
                weighted += w * UNREACHABLE_S
                continue
            weighted += w * round(t)
            loss += coverage_penalty[u]
        key = (weighted, loss)
        if best is None or key < best:
            best = key
    assert best is not None
    return best


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, a)))

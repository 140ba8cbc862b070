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
from dataclasses import dataclass, field, fields
from operator import attrgetter

import numpy as np
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


# A frozen dataclass's __init__ sets each field through object.__setattr__; the slots'
# own setters do the same in less than half the time, which counts where the
# simulation builds hundreds of thousands of rankings. Fields in declaration order.
_RANKED_SETTERS = tuple(RankedHospital.__dict__[f.name].__set__ for f in fields(RankedHospital))
assert not hasattr(RankedHospital, "__post_init__")


(_S_ID, _S_NAME, _S_ETA, _S_SOURCE, _S_SCORE, _S_STATUS, _S_AVAIL, _S_P, _S_REASONS, _S_REC) = (
    _RANKED_SETTERS
)


def _ranked_hospital(
    hospital_id: int,
    name: str,
    eta_s: int,
    travel_source: str,
    score_s: float,
    bed_status: str,
    beds_available: int | None,
    acceptance_p: float,
    reasons: tuple[Reason, ...],
    recommended: bool,
) -> RankedHospital:
    """``RankedHospital(...)`` with every field given, faster."""
    r = object.__new__(RankedHospital)
    _S_ID(r, hospital_id)
    _S_NAME(r, name)
    _S_ETA(r, eta_s)
    _S_SOURCE(r, travel_source)
    _S_SCORE(r, score_s)
    _S_STATUS(r, bed_status)
    _S_AVAIL(r, beds_available)
    _S_P(r, acceptance_p)
    _S_REASONS(r, reasons)
    _S_REC(r, recommended)
    return r


_BY_SCORE = attrgetter("score_s", "eta_s", "hospital_id")
_BY_ETA = attrgetter("eta_s", "score_s", "hospital_id")

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
    with_reasons: bool = True,
) -> tuple[list[RankedHospital], list[ExcludedHospital]]:
    """Hospitals that can take the patient, best first, and those that cannot, with why.

    The score is the ETA plus what uncertainty is expected to cost: unknown beds,
    a lower level than preferred, and the chance of a refusal.

    ``include_unrecommended``: every hospital open to ambulances and reachable is
    ranked, those that would otherwise be excluded after the recommended ones, nearest
    first, with ``recommended=False`` and the reasons they are not recommended; only
    the closed and the unreachable stay excluded. A crew with no recommended hospital
    left chooses from this list by hand.

    ``with_reasons=False``: the same ranking (order, scores, flags) with empty
    ``reasons``, for callers that never show them (the simulation ranks hundreds of
    thousands of times); the reasons are most of the cost.
    """
    ranked: list[RankedHospital] = []
    others: list[RankedHospital] = []
    excluded: list[ExcludedHospital] = []
    cat = needs.bed_category
    required = needs.required_capabilities
    preferred = needs.preferred_level
    preferred_rank = LEVEL_RANK.get(preferred, 0) if preferred else 0
    for h in hospitals:
        asked = h.id in exclude_ids
        missing = required - h.capabilities if required else required
        # h.diversion_active(now) and bed.fresh(now), inline: this loop is hot.
        diverted = h.diversion != "open" and (h.diversion_until is None or h.diversion_until > now)
        closed = diverted and h.diversion == "closed_to_ambulances"
        cat_diverted = diverted and not closed and cat in h.diverted_categories
        bed = h.beds.get(cat)
        fresh = bed is not None and bed.expires_at is not None and bed.expires_at > now
        full = fresh and bed is not None and bed.available <= 0
        t = travel.get(h.id)
        unreachable = t is None or t.seconds is None
        not_recommended = bool(asked or missing or closed or cat_diverted or full or unreachable)
        if not_recommended and not (include_unrecommended and not (closed or unreachable)):
            why = (
                _why(asked, missing, closed, cat_diverted, full, unreachable, cat)
                if with_reasons
                else []
            )
            excluded.append(ExcludedHospital(h.id, h.name, tuple(why)))
            continue
        assert t is not None and t.seconds is not None
        score = float(t.seconds)
        if not fresh:  # no figure, or an expired one: unknown
            score += UNKNOWN_BEDS_PENALTY_S
        below = bool(preferred) and LEVEL_RANK.get(h.level, 0) < preferred_rank
        if below:
            score += LEVEL_PREFERENCE_PENALTY_S
        p = min(max(acceptance.get(h.id, 0.5), 0.0), 1.0)
        score += (1.0 - p) * REFUSAL_COST_S
        if bed is None:
            status, avail = "unknown", None
        elif not fresh:
            status, avail = "stale", None
        else:
            status, avail = "available", bed.available
        reasons: tuple[Reason, ...] = ()
        if with_reasons:
            why = _why(asked, missing, closed, cat_diverted, full, unreachable, cat)
            reasons = tuple(why + _credits(needs, h, status, avail, diverted, below, p))
        (others if not_recommended else ranked).append(
            _ranked_hospital(
                h.id,
                h.name,
                round(t.seconds),
                t.source,
                round(score, 1),
                status,
                avail,
                round(p, 3),
                reasons,
                not not_recommended,
            )
        )
    ranked.sort(key=_BY_SCORE)
    others.sort(key=_BY_ETA)
    return ranked + others, excluded


def _why(
    asked: bool,
    missing: frozenset[str],
    closed: bool,
    cat_diverted: bool,
    full: bool,
    unreachable: bool,
    cat: str,
) -> list[Reason]:
    """Why a hospital is not recommended (or not listed at all), in a fixed order."""
    why: list[Reason] = []
    if asked:
        why.append(reason("already_asked"))
    if missing:
        why.append(reason("lacks_capability", capabilities=sorted(missing)))
    if closed:
        why.append(reason("closed_to_ambulances"))
    elif cat_diverted:
        why.append(reason("category_diverted", category=cat))
    if full:
        why.append(reason("no_bed", category=cat))
    if unreachable:
        why.append(reason("unreachable"))
    return why


def _credits(
    needs: PatientNeeds,
    h: HospitalInfo,
    status: str,
    avail: int | None,
    diverted: bool,
    below: bool,
    p: float,
) -> list[Reason]:
    """What a ranked hospital offers and what its score was charged for."""
    cat = needs.bed_category
    out: list[Reason] = []
    if needs.required_capabilities and not needs.required_capabilities - h.capabilities:
        out.append(reason("capability_match", capabilities=sorted(needs.required_capabilities)))
    if status == "unknown":
        out.append(reason("beds_unknown", category=cat))
    elif status == "stale":
        out.append(reason("beds_stale", category=cat))
    elif avail is not None and avail > 0:  # a full one says so among the reasons above
        out.append(reason("beds_available", available=avail, category=cat))
    if diverted and h.diversion == "category_diversion":
        out.append(reason("partial_diversion"))
    if below:
        out.append(reason("below_preferred_level", level=needs.preferred_level))
    elif needs.preferred_level:
        out.append(reason("level", level=h.level))
    out.append(reason("acceptance_probability", p=round(p, 2)))
    return out


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
    columns = list(zip(*unit_to_demand_s, strict=False))
    if len(columns) < len(demand_weights):
        raise IndexError("a unit's times are fewer than the demand points")
    for w, times in zip(demand_weights, columns, strict=False):
        # The nearest unit (the first of equals) and the time of the next one.
        best = min(times)
        first = times.index(best)
        second = min(times[:first] + times[first + 1 :]) if n > 1 else UNREACHABLE_S
        raw[first] += w * (second - best)
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
    if n_i == 1:
        one = _assign_one(incident_ids[0], urgencies[0], unit_ids, eta_s[0], pen, scale)
        if one is not None:
            return one
    tails: list[int] = []
    heads: list[int] = []
    costs: list[int] = []
    for i in range(n_i):
        w = URGENCY_WEIGHT.get(urgencies[i], 1)
        row = eta_s[i]
        for u in range(n_u):
            t = row[u]
            if t is None or t >= UNREACHABLE_S:
                continue  # never sent where it cannot arrive
            tails.append(i)
            heads.append(u)
            costs.append(w * round(t) * scale + pen[u])
        tails += [i] * n_i
        heads += range(n_u, size)
        costs += [w * UNREACHABLE_S * scale] * n_i
    tails += [i for i in range(n_i, size) for _ in range(size)]
    heads += list(range(size)) * n_u
    costs += [0] * (n_u * size)
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    # The arcs in the same order as one call each would add them, in one call.
    solver.add_arcs_with_cost(
        np.array(tails, dtype=np.int32),
        np.array(heads, dtype=np.int32),
        np.array(costs, dtype=np.int64),
    )
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


def _assign_one(
    incident_id: int,
    urgency: str,
    unit_ids: Sequence[int],
    eta_s: Sequence[float | None],
    pen: Sequence[int],
    scale: int,
) -> AssignmentPlan | None:
    """One incident: the plan the solver must return when its optimum is unique, else
    None. Every idle row costs nothing and can take any column, so a matching's cost is
    the cost of the incident's own arc: the optimal matchings are those giving it a
    cheapest column. With one cheapest column that column is the solver's answer; with
    several, which one it returns is the solver's business, so it is asked."""
    w = URGENCY_WEIGHT.get(urgency, 1)
    best_u = -1  # the "no unit" column
    best = w * UNREACHABLE_S * scale
    tied = False
    for u in range(len(unit_ids)):
        t = eta_s[u]
        if t is None or t >= UNREACHABLE_S:
            continue
        cost = w * round(t) * scale + pen[u]
        if cost < best:
            best, best_u, tied = cost, u, False
        elif cost == best:
            tied = True
    if tied:
        return None
    if best_u < 0:
        return AssignmentPlan((), (incident_id,), 0, 0)
    t = eta_s[best_u]
    assert t is not None
    eta = round(t)
    return AssignmentPlan(
        (UnitAssignment(incident_id, unit_ids[best_u], eta),), (), w * eta, pen[best_u]
    )


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

"""A seeded discrete-event simulation of a region's ambulance service, two ways.

Policy A is today's practice: the crew phones the nearest suitable hospital, one
at a time, about five minutes a call, until one accepts. Policy B is this system:
parallel requests to the top k hospitals (k from learned acceptance), first accept
wins, a decline re-plans at once, and bed figures are seen where hospitals keep
them fresh.

Both policies run on the same incident stream and the same hospital decisions
(common random numbers: whether hospital h would accept patient i at a given
moment is one fixed draw), so the difference is the policy's alone. Policy A is
calibrated to FDMA figures: mean 119 call → hospital ≈ 39 min, and 3–4 % of
serious cases needing ≥ 4 inquiries.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ems.dispatch import routing
from ems.dispatch.acceptance import AcceptanceModel, Answer
from ems.dispatch.needs import derive_needs
from ems.dispatch.optimizer import LEVEL_RANK, ROUND_WINDOW_S, PatientNeeds, choose_k
from ems.dispatch.region import RegionPack, load_region

# Transports per person per year in Japan: 7.64 M dispatches / 124 M people (2023),
# about 88 % of which carry a patient.
RATE_PER_PERSON_YEAR = 0.061 * 0.88
# Share of calls by local hour (FDMA: a morning peak, a trough before dawn).
HOURLY = (
    2.6, 2.3, 2.1, 1.9, 1.9, 2.2, 3.0, 4.0, 5.3, 5.9, 5.9, 5.6,
    5.2, 5.1, 5.0, 4.9, 4.8, 4.7, 4.7, 4.6, 4.3, 3.9, 3.5, 3.0,
)  # fmt: skip
URGENCY_SHARE = (("critical", 0.02), ("serious", 0.07), ("moderate", 0.43), ("minor", 0.48))
CONDITIONS = {
    "critical": (("cardiac_arrest", 0.3), ("major_trauma", 0.2), ("stroke", 0.2), ("sepsis", 0.3)),
    "serious": (
        ("stemi", 0.18), ("stroke", 0.22), ("head_injury", 0.1), ("major_trauma", 0.1),
        ("respiratory", 0.25), ("burn", 0.03), ("obstetric", 0.02), ("sepsis", 0.1),
    ),
    "moderate": (
        ("respiratory", 0.3), ("fall", 0.3), ("chest_pain", 0.1), ("fever", 0.2),
        ("psychiatric", 0.04), ("obstetric", 0.02), ("trauma", 0.04),
    ),
    "minor": (("fall", 0.5), ("fever", 0.4), ("trauma", 0.1)),
}  # fmt: skip
# Hours an emergency bed stays taken after an admission, until the patient moves to a ward.
STAY_H = {"general": 4, "icu": 12, "ccu": 12, "scu": 12, "paediatric": 4}
# Ambulances per 100,000 people (Japan: about 6,400 units for 124 million).
UNITS_PER_100K = 5.2


@dataclass
class SimParams:
    days: float = 7.0
    seed: int = 1
    population: int | None = None  # scales the region's towns (and its units)
    dispatch_delay_min: float = 1.3  # call taking before a unit is sent
    turnout_min: float = 0.8
    contact_min: float = 1.5  # scene arrival to patient contact
    assessment_min: float = 8.0  # contact until the crew knows where to go
    loading_min: float = 3.0  # after acceptance, until the ambulance leaves
    call_min: float = 5.0  # one phone negotiation (FDMA)
    call_accept_min: float = 3.5  # a call that ends in "yes" is shorter
    screen_response_min: float = 2.0  # ER staff answer a request on screen
    handover_min: float = 12.0
    accept_base: float = 0.74  # a hospital says yes when it has a bed, this often
    night_factor: float = 0.85  # 22:00–07:00, fewer staff
    background_load: float = 0.35  # mean share of beds taken by other patients
    fresh_share: float = 0.85  # hospitals whose bed figures are kept fresh
    target_p: float = 0.9
    max_parallel: int = 4
    window_min: float = ROUND_WINDOW_S / 60
    units_per_100k: float = UNITS_PER_100K
    # An ambulance under lights is faster than the routing estimate of ordinary traffic.
    emergency_speed_factor: float = 1.6


@dataclass(frozen=True, slots=True)
class Incident:
    idx: int
    t: float  # minutes since start
    lat: float
    lon: float
    urgency: str
    needs: PatientNeeds


@dataclass
class Outcome:
    call_to_hospital: float
    call_to_scene: float
    on_scene: float
    inquiries: int
    rounds: int
    serious: bool
    transport: float = 0.0


@dataclass
class PolicyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    unit_busy_min: float = 0.0

    def summary(self, *, units: int, horizon_min: float) -> dict[str, float]:
        o = self.outcomes
        if not o:
            return {"incidents": 0}
        times = sorted(x.call_to_hospital for x in o)
        serious = [x for x in o if x.serious]
        return {
            "incidents": len(o),
            "mean_min": round(statistics.fmean(times), 2),
            "p50_min": round(_quantile(times, 0.5), 2),
            "p90_min": round(_quantile(times, 0.9), 2),
            "call_to_scene_mean_min": round(statistics.fmean(x.call_to_scene for x in o), 2),
            "on_scene_mean_min": round(statistics.fmean(x.on_scene for x in o), 2),
            "transport_mean_min": round(statistics.fmean(x.transport for x in o), 2),
            "inquiries_mean": round(statistics.fmean(x.inquiries for x in o), 3),
            "serious_cases": len(serious),
            "share_4plus_inquiries": round(
                sum(x.inquiries >= 4 for x in serious) / max(1, len(serious)), 4
            ),
            "share_4plus_rounds": round(
                sum(x.rounds >= 4 for x in serious) / max(1, len(serious)), 4
            ),
            "unit_utilisation": round(self.unit_busy_min / (units * horizon_min), 4),
        }


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    x = rng.random() * sum(w for _, w in table)
    for name, w in table:
        x -= w
        if x <= 0:
            return name
    return table[-1][0]


def _lognormal(rng: random.Random, mean: float, cv: float = 0.5) -> float:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


class SimTravel:
    """Minutes between 1 km cells and fixed points (hospitals, stations).

    Each cell's row is computed once: straight-line by default, or from a Valhalla
    router when the region's tiles are built.
    """

    def __init__(
        self,
        points: Sequence[tuple[float, float]],
        router: routing.Router | None,
        speed_factor: float = 1.0,
    ):
        self.points = list(points)
        self.router = router
        self.speed_factor = speed_factor
        self.rows: dict[tuple[int, int], list[float]] = {}

    def row(self, lat: float, lon: float) -> list[float]:
        key = (round(lat * 100), round(lon * 100))
        r = self.rows.get(key)
        if r is None:
            cell = (key[0] / 100, key[1] / 100)
            if self.router is None:
                r = [routing.straight_line_s(cell, p) / 60 for p in self.points]
            else:
                r = [
                    (t.seconds or routing.straight_line_s(cell, p)) / 60
                    for t, p in zip(
                        self.router.matrix([cell], self.points)[0], self.points, strict=True
                    )
                ]
            r = [x / self.speed_factor for x in r]
            self.rows[key] = r
        return r


@dataclass
class _Hospital:
    idx: int
    level: str
    capabilities: frozenset[str]
    capacity: dict[str, int]
    fresh: bool  # keeps its figures up to date in the system
    admissions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


class World:
    """The region, the incident stream and every hospital's hidden behaviour."""

    def __init__(self, pack: RegionPack, params: SimParams, router: routing.Router | None = None):
        self.params = params
        self.pack = pack
        rng = random.Random(params.seed)
        scale = (params.population or pack.population) / pack.population
        self.scale = scale
        self.towns = pack.towns
        self.hospitals_data = pack.hospitals
        station_pts: list[tuple[float, float]] = []
        self.unit_station: list[int] = []
        # Units are spread over the stations in proportion to the pack's own units.
        pack_units = sum(len(s["units"]) for s in pack.stations) or 1
        wanted = params.units_per_100k * pack.population * scale / 100_000
        for s_i, s in enumerate(pack.stations):
            station_pts.append((s["lat"], s["lon"]))
            n = max(1, round(len(s["units"]) * wanted / pack_units))
            self.unit_station.extend([s_i] * n)
        self.n_hospitals = len(self.hospitals_data)
        points = [(h["lat"], h["lon"]) for h in self.hospitals_data] + station_pts
        self.travel = SimTravel(points, router, params.emergency_speed_factor)
        self.fresh = [rng.random() < params.fresh_share for _ in self.hospitals_data]
        self.bg_seed = rng.randrange(1 << 30)
        self.incidents = self._incidents(rng, scale)

    def _incidents(self, rng: random.Random, scale: float) -> list[Incident]:
        p = self.params
        per_min = RATE_PER_PERSON_YEAR * self.pack.population * scale / (365 * 24 * 60)
        weights = [t["population"] for t in self.towns]
        total_h = sum(HOURLY)
        out: list[Incident] = []
        horizon = p.days * 24 * 60
        t = 0.0
        needs_cache: dict[tuple[str, str, int], PatientNeeds] = {}
        # Non-homogeneous Poisson process by thinning against the peak hour.
        peak = per_min * 24 * max(HOURLY) / total_h
        while True:
            t += rng.expovariate(peak)
            if t >= horizon:
                return out
            hour = int(t // 60) % 24
            if rng.random() > HOURLY[hour] / max(HOURLY):
                continue
            town = self.towns[rng.choices(range(len(self.towns)), weights)[0]]
            spread = min(3.5, max(0.6, math.sqrt(town["population"]) * 0.008)) * 1.2
            lat = town["lat"] + rng.gauss(0, spread) / 111.3
            lon = town["lon"] + rng.gauss(0, spread) / 91.0
            urgency = _pick(rng, URGENCY_SHARE)
            condition = _pick(rng, CONDITIONS[urgency])
            age = (
                rng.randint(0, 14)
                if rng.random() < 0.07
                else rng.randint(15, 64)
                if rng.random() < 0.36
                else rng.randint(65, 99)
            )
            if condition == "obstetric":
                age = rng.randint(18, 42)
            key = (urgency, condition, min(age, 15))
            needs = needs_cache.get(key)
            if needs is None:
                needs = derive_needs(urgency=urgency, suspected_condition=condition, age=age)
                needs_cache[key] = needs
            out.append(Incident(len(out), t, lat, lon, urgency, needs))

    def hospitals(self) -> list[_Hospital]:
        return [
            _Hospital(
                i,
                h["level"],
                frozenset(h.get("capabilities", [])),
                dict(h.get("beds", {})),
                self.fresh[i],
            )
            for i, h in enumerate(self.hospitals_data)
        ]

    def background(self, h: int, cat: str, t: float) -> float:
        """Share of a category's beds taken by patients who did not come by ambulance:
        drifts over the day and from day to day."""
        day = int(t // 1440)
        r = random.Random(self.bg_seed ^ (h * 7919 + day * 104_729 + hash(cat) % 1000))
        daily = self.params.background_load + r.uniform(-0.2, 0.2)
        hour = (t / 60) % 24
        return min(0.98, max(0.0, daily + 0.12 * math.sin((hour - 8) / 24 * 2 * math.pi)))

    def would_accept(self, inc: Incident, h: int, t: float, has_bed: bool) -> bool:
        """One fixed draw per (patient, hospital): the same answer under both policies."""
        if not has_bed:
            return False
        p = self.params.accept_base
        hour = (t / 60) % 24
        if hour >= 22 or hour < 7:
            p *= self.params.night_factor
        if self.hospitals_data[h]["level"] == "tertiary" and inc.urgency in ("critical", "serious"):
            p = min(0.95, p + 0.15)
        u = random.Random((self.params.seed << 40) ^ (inc.idx * 1009 + h)).random()
        return u < p


def simulate_policy(world: World, policy: str) -> tuple[PolicyReport, int]:
    """Run one policy over the world's incident stream; returns the report and unit count."""
    p = world.params
    hospitals = world.hospitals()
    n_h = world.n_hospitals
    unit_free = [0.0] * len(world.unit_station)
    unit_pos: list[int] = [n_h + s for s in world.unit_station]  # index into travel points
    unit_home = list(unit_pos)
    unit_back = [0.0] * len(unit_free)
    report = PolicyReport()
    model = AcceptanceModel()
    rng_policy = random.Random(p.seed * 31 + (1 if policy == "A" else 2))

    def free_beds(h: _Hospital, cat: str, t: float, minor: bool) -> int:
        if minor:
            return 1  # seen in the ER and sent home: no bed needed
        cap = h.capacity.get(cat, 0)
        if cap <= 0:
            cap = 1 if cat == "general" else 0
        adm = h.admissions.get(cat, [])
        taken = sum(1 for a, r in adm if a <= t < r)
        bg = round(cap * world.background(h.idx, cat, t))
        return cap - bg - taken

    def admit(h: _Hospital, cat: str, t: float) -> None:
        adm = h.admissions.setdefault(cat, [])
        adm[:] = [x for x in adm if x[1] > t - 1]
        bisect.insort(adm, (t, t + STAY_H.get(cat, 24) * 60))

    for inc in world.incidents:
        rng = random.Random((p.seed << 20) ^ inc.idx)
        row = world.travel.row(inc.lat, inc.lon)
        t_dispatch = inc.t + _lognormal(rng, p.dispatch_delay_min, 0.6)
        # The unit that reaches the scene first (both policies dispatch alike).
        best_u, best_arrival = 0, math.inf
        for u in range(len(unit_free)):
            start = max(unit_free[u], t_dispatch)
            pos = unit_home[u] if start >= unit_back[u] else unit_pos[u]
            arrival = start + p.turnout_min + row[pos]
            if arrival < best_arrival:
                best_u, best_arrival = u, arrival
        u = best_u
        start = max(unit_free[u], t_dispatch)
        on_scene_at = best_arrival
        contact = on_scene_at + _lognormal(rng, p.contact_min, 0.5)
        ready = contact + _lognormal(rng, p.assessment_min, 0.45)
        cat = inc.needs.bed_category
        minor = inc.urgency == "minor"
        hours = int(ready // 60) % 24
        suitable = [
            h for h in hospitals if inc.needs.required_capabilities <= h.capabilities
        ] or hospitals

        def key(h: _Hospital, inc: Incident = inc, row: list[float] = row) -> float:
            pen = 0.0
            pref = inc.needs.preferred_level
            if pref and LEVEL_RANK.get(h.level, 0) < LEVEL_RANK.get(pref, 0):
                pen = 10.0
            return row[h.idx] + pen

        call_draws = [rng.random() for _ in range(12)]
        inquiries = 0
        rounds = 0
        chosen: _Hospital | None = None
        accepted_at = ready
        if policy == "A":
            t = ready
            order = sorted(suitable, key=key)
            for i, h in enumerate(order):
                inquiries += 1
                rounds += 1
                has_bed = free_beds(h, cat, t, minor) > 0
                yes = world.would_accept(inc, h.idx, t, has_bed)
                dur = p.call_accept_min if yes else p.call_min
                t += dur * (0.5 + call_draws[i % 12])
                if yes:
                    chosen = h
                    break
            accepted_at = t
        else:
            t = ready
            asked: set[int] = set()
            while chosen is None:
                ranked: list[tuple[float, _Hospital, float]] = []
                for h in suitable:
                    if h.idx in asked:
                        continue
                    score = key(h) * 60
                    if h.fresh:
                        if free_beds(h, cat, t, minor) <= 0:
                            continue  # known full: not asked
                    else:
                        score += 300
                    pa = model.p(h.idx, cat, hours)
                    ranked.append((score + (1 - pa) * 600, h, pa))
                if not ranked:
                    break
                ranked.sort(key=lambda x: (x[0], x[1].idx))
                near = [x for x in ranked if x[0] - ranked[0][0] <= p.window_min * 60]
                k = choose_k([x[2] for x in near], target=p.target_p, cap=p.max_parallel)
                rounds += 1
                answers = []
                for _, h, _pa in ranked[:k]:
                    inquiries += 1
                    asked.add(h.idx)
                    delay = p.screen_response_min * (0.3 + 1.4 * rng_policy.random())
                    answers.append((t + delay, h))
                answers.sort(key=lambda x: (x[0], x[1].idx))
                last = t
                for when, h in answers:
                    yes = world.would_accept(inc, h.idx, when, free_beds(h, cat, when, minor) > 0)
                    model.observe(Answer(h.idx, cat, int(when // 60) % 24, yes))
                    last = when
                    if yes:
                        chosen = h
                        accepted_at = when
                        break
                t = last
            if chosen is None:
                accepted_at = t
        if chosen is None:
            # Nobody said yes: the tertiary centre takes the patient regardless (FDMA's
            # last resort), after one more call.
            chosen = next((h for h in hospitals if h.level == "tertiary"), hospitals[0])
            inquiries += 1
            rounds += 1
            accepted_at += p.call_min
        if inc.urgency != "minor":
            admit(chosen, cat, accepted_at)
        depart = max(accepted_at, ready) + _lognormal(rng, p.loading_min, 0.4)
        arrive = depart + row[chosen.idx]
        free_at = arrive + _lognormal(rng, p.handover_min, 0.4)
        back_at = free_at + world.travel.row(*_point(world, chosen.idx))[unit_home[u]]
        report.unit_busy_min += back_at - start
        unit_free[u] = free_at
        unit_pos[u] = chosen.idx
        unit_back[u] = back_at
        report.outcomes.append(
            Outcome(
                call_to_hospital=arrive - inc.t,
                call_to_scene=on_scene_at - inc.t,
                on_scene=depart - on_scene_at,
                inquiries=inquiries,
                rounds=rounds,
                serious=inc.urgency in ("critical", "serious"),
                transport=arrive - depart,
            )
        )
    return report, len(unit_free)


def _point(world: World, idx: int) -> tuple[float, float]:
    lat, lon = world.travel.points[idx]
    return lat, lon


def run(
    params: SimParams,
    *,
    pack: RegionPack | None = None,
    router: routing.Router | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate both policies on the same stream; returns the side-by-side report."""
    world = World(pack or load_region(), params, router)
    horizon = params.days * 24 * 60
    out: dict[str, Any] = {}
    raw: dict[str, list[float]] = {}
    for policy in ("A", "B"):
        report, units = simulate_policy(world, policy)
        out[policy] = report.summary(units=units, horizon_min=horizon)
        raw[policy] = [o.call_to_hospital for o in report.outcomes]
        if progress:
            progress(f"policy {policy}: {len(report.outcomes)} transports")
    out["meta"] = {
        "region": world.pack.key,
        "days": params.days,
        "seed": params.seed,
        "population": round(world.pack.population * world.scale),
        "units": len(world.unit_station),
        "hospitals": world.n_hospitals,
        "travel_source": routing.STRAIGHT_LINE if router is None else router.source,
    }
    out["_samples"] = raw
    return out


def format_report(report: dict[str, Any]) -> str:
    rows = [
        ("transports", "incidents", "{:.0f}"),
        ("mean call → hospital (min)", "mean_min", "{:.1f}"),
        ("p50 call → hospital (min)", "p50_min", "{:.1f}"),
        ("p90 call → hospital (min)", "p90_min", "{:.1f}"),
        ("mean call → scene (min)", "call_to_scene_mean_min", "{:.1f}"),
        ("mean on-scene time (min)", "on_scene_mean_min", "{:.1f}"),
        ("mean scene → hospital (min)", "transport_mean_min", "{:.1f}"),
        ("mean inquiries", "inquiries_mean", "{:.2f}"),
        ("serious cases with ≥4 inquiries", "share_4plus_inquiries", "{:.1%}"),
        ("serious cases with ≥4 rounds", "share_4plus_rounds", "{:.1%}"),
        ("unit utilisation", "unit_utilisation", "{:.1%}"),
    ]
    m = report["meta"]
    lines = [
        f"region {m['region']}: {m['population']:,} people, {m['units']} units, "
        f"{m['hospitals']} hospitals, {m['days']} days, seed {m['seed']} "
        f"(travel times: {m['travel_source']})",
        f"{'':36}{'A: phone, one at a time':>26}{'B: parallel, first accept':>28}",
    ]
    for label, key, fmt in rows:
        a, b = report["A"].get(key, math.nan), report["B"].get(key, math.nan)
        lines.append(f"{label:36}{fmt.format(a):>26}{fmt.format(b):>28}")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """A PNG of both call → hospital distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = report["_samples"]
    top = max(_quantile(sorted(samples["A"]), 0.99), _quantile(sorted(samples["B"]), 0.99))
    bins = [x for x in range(0, int(top) + 5, 2)]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for policy, colour, label in (
        ("A", "#c0392b", "A: phone one hospital at a time"),
        ("B", "#2471a3", "B: parallel requests, first accept wins"),
    ):
        s = report[policy]
        ax.hist(
            samples[policy],
            bins=bins,
            alpha=0.55,
            color=colour,
            label=f"{label} (mean {s['mean_min']:.1f}, p90 {s['p90_min']:.1f} min)",
        )
        ax.axvline(s["mean_min"], color=colour, linestyle="--", linewidth=1)
    m = report["meta"]
    ax.set_title(
        f"119 call → hospital arrival, {m['days']:g} simulated days, "
        f"{m['population']:,} people (seed {m['seed']})"
    )
    ax.set_xlabel("minutes")
    ax.set_ylabel("transports")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)

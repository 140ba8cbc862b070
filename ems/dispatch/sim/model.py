"""The simulated region and one policy run over it.

``Region`` is the region pack scaled to a population (towns, stations, units and
hospitals grow from the pack's own data) with travel times from a grid of 1 km demand
cells to every station and hospital, computed once per run (Valhalla's matrix when the
region's tiles are built, else the labelled straight-line estimate). ``Stream`` is one
replication's incidents and the hospitals' hidden behaviour (common random numbers:
every policy meets the same patients and the same answers). ``simulate`` runs one set
of levers over a stream. Hospital ranking, the round size and unit assignment are the
server's own functions (``ranking.next_round``, ``optimizer.rank_hospitals``,
``optimizer.assign_units``, ``acceptance.AcceptanceModel``, ``coverage.move_up``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import math
import random
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ems.dispatch import coverage, early, optimizer, ranking, routing
from ems.dispatch.acceptance import AcceptanceModel, Answer
from ems.dispatch.needs import derive_needs
from ems.dispatch.optimizer import PatientNeeds
from ems.dispatch.region import RegionPack

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
# Minutes an ER doctor is taken by one ambulance patient, by urgency.
DOCTOR_MIN = {"critical": 90.0, "serious": 60.0, "moderate": 30.0, "minor": 15.0}
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # a Monday; sim clock is local time
FRESH_UNTIL = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)  # a fresh bed figure's expiry
CELL = 100  # cells of 0.01° (about 1 km)
_ND = statistics.NormalDist()
CANDIDATES = 10  # nearest suitable hospitals handed to the ranking per round
UNIT_CANDIDATES = 5  # units (earliest on scene) handed to the assignment
BUSY_WINDOW_MIN = 24 * 60.0  # the server's window for move-up's busy fraction (moveup.BUSY_WINDOW)
SERIOUS = ("critical", "serious")  # FDMA's 重症以上, the cases its inquiry counts are of


class Lever:
    PARALLEL = "parallel"  # (1) parallel requests, first accept wins, k from acceptance
    EARLY = "early"  # (2) ask ahead: time-critical calls asked while the unit drives
    ASSIGN = "assign"  # (3) unit choice by optimizer.assign_units with coverage
    MOVE_UP = "move_up"  # (3b) a freed unit is posted by coverage.move_up (DMEXCLP)
    FRESH_BEDS = "fresh_beds"  # (4) hospitals known full are not asked
    INSTRUCTION = "instruction"  # (5) the doctor's instruction on the tablet
    CARD = "card"  # (6) card reading on scene (costs time: off by default)


IN_B = frozenset(
    {Lever.PARALLEL, Lever.EARLY, Lever.ASSIGN, Lever.MOVE_UP, Lever.FRESH_BEDS, Lever.INSTRUCTION}
)
ALL_LEVERS = (
    Lever.PARALLEL, Lever.EARLY, Lever.ASSIGN, Lever.MOVE_UP, Lever.FRESH_BEDS,
    Lever.INSTRUCTION, Lever.CARD,
)  # fmt: skip
NOT_IN_PRODUCT: dict[str, str] = {}


@dataclass
class SimParams:
    """Every parameter with its source: FIELD.md (shared/FIELD.md) or an assumption.

    ``ASSUMPTIONS`` below prints them; none is tuned toward a target figure."""

    days: float = 7.0
    seed: int = 1
    population: int | None = None  # scales the region's data (see ``Region``)
    levers: frozenset[str] = IN_B  # policy B; policy A is no lever at all
    call_taking_min: float = 1.5
    turnout_min: float = 1.0
    lights_factor: float = 1.18
    contact_min: float = 1.3
    contact_to_loaded_min: float = 7.7
    pre_call_min: float = 3.0
    call_min: float = 5.7
    max_calls: int = 10
    leave_min: float = 1.0
    screen_response_min: float = 2.0
    handover_min: float = 2.8
    after_handover_min: float = 12.0
    background_load: float = 0.6
    night_specialist_p: float = 0.5
    er_doctors_day: tuple[int, int] = (3, 2)  # (tertiary, secondary)
    er_doctors_night: tuple[int, int] = (2, 1)
    other_refusal_p: float = 0.1
    fresh_share: float = 0.85
    instruction_prep_min: float = 2.0
    instruction_phone_min: float = 5.0
    card_min: float = 40 / 60
    ask_ahead_tap_min: float = 0.5
    early_wrong_p: float = 0.3
    growth_exponent: float = 0.75
    tertiary_detour_min: float = 10.0


def _time_critical_share() -> float:
    """Share of calls ``early.is_time_critical`` names, from the urgency and condition mix."""
    return sum(
        w * c / sum(x for _, x in CONDITIONS[u])
        for u, w in URGENCY_SHARE
        for n, c in CONDITIONS[u]
        if early.is_time_critical(n)
    )


ASSUMPTIONS: tuple[tuple[str, str], ...] = (
    ("call_taking_min", "assumption: 119 call taken and unit alerted, 1.5 min"),
    ("turnout_min", "assumption: crew in the vehicle and rolling, 1.0 min"),
    ("lights_factor", "assumption: lights and sirens save ~15 % of ordinary road time (÷1.18)"),
    ("contact_min", "FDMA 2022 national stage mean, on scene → contact (not modelled)"),
    ("contact_to_loaded_min", "FDMA 2022 national stage mean, contact → loaded (not modelled)"),
    ("pre_call_min", "assumption: assessment in the ambulance before the first request, 3 min"),
    ("call_min", "FIELD.md: each extra phone call adds 5.7 min on scene (Nara, 19,141 cases,"
     " e-MATCH data; 'about 5 min' a negotiation); one hospital at a time"),
    ("max_calls", "assumption: after 10 refusals the nearest tertiary centre must take"),
    ("leave_min", "assumption: after the yes, 1 min to secure and leave"),
    ("screen_response_min", "assumption: ER staff answer an on-screen request in ~2 min"),
    ("handover_min", "FDMA 2022: 2.8 min from hospital arrival to handover"),
    ("after_handover_min", "assumption: 12 min of cleaning and report before the unit is free"),
    ("background_load", "assumption: 60 % of emergency beds taken by walk-ins and wards"),
    ("night_specialist_p", "assumption: a secondary hospital has its specialist in 50 % of nights"),
    ("er_doctors", "assumption: ER doctors tertiary 3 day / 2 night, secondary 2 / 1"),
    ("doctor_min", "assumption: a patient takes a doctor 90/60/30/15 min by urgency"),
    ("other_refusal_p", "assumption: 10 % of asks refused for other reasons"),
    ("fresh_share", "assumption: 85 % of hospitals keep figures fresh (FIELD.md: 11 % in 2008)"),
    ("instruction", "cardiac arrest, and shock (critical trauma or sepsis), need a doctor's"
     " instruction; asked 2 min after contact; phone 5 min (FIELD.md's negotiation), tablet"
     " answered like an on-screen request; the wait does not delay departure"),
    ("card_min", "FIELD.md: card reading +40 s on scene (FY2024 pilot), no saving: off"),
    ("move_up", "DMEXCLP (FIELD.md: JEMSS move-up): a unit freed at the hospital is posted"
     " to the station coverage.move_up picks (the console's suggestion, applied); towns"
     " weighted by population; busy fraction as the server measures it (moveup.busy_fraction:"
     " unit time on transports, dispatch → handover, over the last 24 h, over every unit);"
     " assumption: covered = within 8 min of driving under lights; a move"
     " must gain ≥ 1 point of expected coverage; one move per freed unit"),
    ("early", "ask ahead (the console's one tap, POST /incidents/{id}/ask-ahead): calls whose"
     " suspected condition early.is_time_critical names (stroke, STEMI, cardiac arrest, major"
     " trauma) get the server's round (rank_hospitals, next_round, the acceptance model)"
     " from the call's place at dispatch; rounds go on while the unit drives; the crew"
     " confirms or withdraws at the moment it would otherwise start asking (no time"
     " credited to the assessment); a withdrawn yes held that ER's team until withdrawn;"
     " share of calls that are time-critical, from this model's urgency and condition"
     f" mix: {100 * _time_critical_share():.1f} %"),
    ("ask_ahead_tap_min", "assumption: the dispatcher taps 'ask ahead' 0.5 min after dispatch"),
    ("early_wrong_p", "assumption: in 30 % of asked-ahead calls the crew finds the call's"
     " suspicion wrong and withdraws (then asks as without the lever)"),
    ("growth_exponent", "assumption: stations and hospitals grow as population^0.75 "
     "(big cities have fewer ambulances per person: Tokyo ≈ 2 per 100,000)"),
    ("crew_list", "a crew asks first the hospitals likely to accept, as the region's"
     " transport rules list them: only hospitals with the capability and a bed of the"
     " category at all; for serious and critical cases (FDMA's ≥ 4-inquiry count is of"
     " these) the nearest tertiary centre first; the published on-duty rota (輪番) known,"
     " so a secondary hospital whose specialist is off tonight is asked last"),
    ("tertiary_detour_min", "assumption: for a serious or critical case a crew passes a"
     " suitable secondary hospital for a tertiary centre up to 10 min further"),
    ("last_bastion", "a tertiary centre (最後の砦) accepts a serious or critical patient"
     " unless truly full: its ER team all busy, or no bed of the patient's category free"
     " (the category's own beds, not pooled with its other critical-care beds); other"
     " reasons never refuse such a patient there"),
)  # fmt: skip


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    x = rng.random() * sum(w for _, w in table)
    for name, w in table:
        x -= w
        if x <= 0:
            return name
    return table[-1][0]


def _spread_km(town_population: float) -> float:
    return min(3.5, max(0.6, math.sqrt(town_population) * 0.008)) * 1.2


@dataclass(frozen=True, slots=True)
class SimHospital:
    idx: int
    key: str
    lat: float
    lon: float
    level: str
    capabilities: frozenset[str]
    beds: dict[str, int]
    fresh: bool


# --- the region ----------------------------------------------------------------------


class Region:
    """The pack scaled to ``population``, and travel times on a grid of demand cells."""

    def __init__(
        self,
        pack: RegionPack,
        params: SimParams,
        router: routing.Router | None = None,
    ) -> None:
        self.pack = pack
        self.params = params
        rng = random.Random(0)  # the region's layout does not change between replications
        pop = params.population or pack.population
        self.scale = pop / pack.population
        self.population = pop
        self.towns = [dict(t, population=t["population"] * self.scale) for t in pack.towns]
        # Stations and hospitals: the pack's own, plus copies around the nearest town when
        # the region grows (each keeps its units, beds and capabilities).
        copies = max(1, round(self.scale**params.growth_exponent))
        self.copies = copies
        stations: list[tuple[float, float]] = []
        self.unit_station: list[int] = []
        for s in pack.stations:
            for c in range(copies):
                lat, lon = self._jitter(rng, s["lat"], s["lon"], c)
                for _ in s["units"]:
                    self.unit_station.append(len(stations))
                stations.append((lat, lon))
        self.hospitals: list[SimHospital] = []
        for h in pack.hospitals:
            for c in range(copies):
                lat, lon = self._jitter(rng, h["lat"], h["lon"], c)
                self.hospitals.append(
                    SimHospital(
                        len(self.hospitals),
                        f"{h.get('key', h['name'])}{'' if c == 0 else f'-{c}'}",
                        lat,
                        lon,
                        h["level"],
                        frozenset(h.get("capabilities", [])),
                        dict(h.get("beds", {})),
                        rng.random() < params.fresh_share,
                    )
                )
        self.n_h = len(self.hospitals)
        self.stations = stations
        self.points = [(h.lat, h.lon) for h in self.hospitals] + stations
        self.infos = [
            optimizer.HospitalInfo(
                id=h.idx, name=h.key, lat=h.lat, lon=h.lon, level=h.level,
                capabilities=h.capabilities,
            )
            for h in self.hospitals
        ]  # fmt: skip
        self.travel_source = routing.STRAIGHT_LINE if router is None else router.source
        self.rows = self._travel(router)
        self._rows_np: dict[tuple[int, int], np.ndarray] = {}

    def _jitter(self, rng: random.Random, lat: float, lon: float, c: int) -> tuple[float, float]:
        if c == 0:
            return lat, lon
        town = min(self.towns, key=lambda t: (t["lat"] - lat) ** 2 + (t["lon"] - lon) ** 2)
        s = _spread_km(town["population"])
        return town["lat"] + rng.gauss(0, s) / 111.3, town["lon"] + rng.gauss(0, s) / 91.0

    def cells(self) -> list[tuple[int, int]]:
        """Every cell an incident can fall in (offsets are cut at 4σ of the town's spread)."""
        out: set[tuple[int, int]] = set()
        for t in self.towns:
            r = 4 * _spread_km(t["population"])
            dlat, dlon = r / 111.3, r / 91.0
            la0, la1 = round((t["lat"] - dlat) * CELL), round((t["lat"] + dlat) * CELL)
            lo0, lo1 = round((t["lon"] - dlon) * CELL), round((t["lon"] + dlon) * CELL)
            for a in range(la0, la1 + 1):
                for b in range(lo0, lo1 + 1):
                    if ((a / CELL - t["lat"]) / dlat) ** 2 + (
                        (b / CELL - t["lon"]) / dlon
                    ) ** 2 <= 1:
                        out.add((a, b))
        return sorted(out)

    def _travel(self, router: routing.Router | None) -> dict[tuple[int, int], list[float]]:
        """Minutes under lights from each cell (and each hospital) to every point."""
        cells = self.cells()
        sources = [(a / CELL, b / CELL) for a, b in cells] + [
            (h.lat, h.lon) for h in self.hospitals
        ]
        keys: list[tuple[int, int]] = list(cells) + [(-1, i) for i in range(self.n_h)]
        f = 60 * self.params.lights_factor
        rows: dict[tuple[int, int], list[float]] = {}
        if router is None:
            for k, s in zip(keys, sources, strict=True):
                rows[k] = [routing.straight_line_s(s, p) / f for p in self.points]
            return rows
        chunk = 200
        for i in range(0, len(sources), chunk):
            m = router.matrix(sources[i : i + chunk], self.points)
            for k, row in zip(keys[i : i + chunk], m, strict=True):
                rows[k] = [(t.seconds if t.seconds is not None else 4 * 3600) / f for t in row]
        return rows

    def row(self, lat: float, lon: float) -> list[float]:
        return self.rows[(round(lat * CELL), round(lon * CELL))]

    def row_np(self, cell: tuple[int, int]) -> np.ndarray:
        """The cell's travel times as an array (made on first use)."""
        got = self._rows_np.get(cell)
        if got is None:
            got = self._rows_np[cell] = np.array(self.rows[cell])
        return got


# --- one replication's incidents and hospital behaviour -----------------------------------


@dataclass(frozen=True, slots=True)
class Incident:
    idx: int
    t: float  # minutes since start
    cell: tuple[int, int]
    urgency: str
    condition: str
    needs: PatientNeeds
    draws: tuple[float, ...]  # the patient's own randomness, the same under every policy


class Stream:
    """One replication: the incidents and every hospital's hidden answers."""

    def __init__(self, region: Region, params: SimParams, seed: int) -> None:
        self.region = region
        self.params = params
        self.seed = seed
        self.incidents = self._incidents(random.Random(seed))
        # The hidden draws, each made once (seeding a Random costs more than the draw).
        self._daily: dict[tuple[int, str, int], float] = {}
        self._rota: dict[tuple[int, int], bool] = {}

    def _incidents(self, rng: random.Random) -> list[Incident]:
        p, reg = self.params, self.region
        per_min = RATE_PER_PERSON_YEAR * reg.population / (365 * 24 * 60)
        weights = [t["population"] for t in reg.towns]
        cum = list(_accumulate(weights))
        out: list[Incident] = []
        horizon = p.days * 24 * 60
        t = 0.0
        needs_cache: dict[tuple[str, str, int], PatientNeeds] = {}
        top = max(HOURLY)
        # Non-homogeneous Poisson process by thinning against the peak hour.
        peak = per_min * 24 * top / sum(HOURLY)
        while True:
            t += rng.expovariate(peak)
            if t >= horizon:
                return out
            if rng.random() > HOURLY[int(t // 60) % 24] / top:
                continue
            town = reg.towns[bisect.bisect_left(cum, rng.random() * cum[-1])]
            s = _spread_km(town["population"])
            while True:
                dy, dx = rng.gauss(0, 1), rng.gauss(0, 1)
                if dy * dy + dx * dx <= 16:
                    break
            cell = (
                round((town["lat"] + dy * s / 111.3) * CELL),
                round((town["lon"] + dx * s / 91.0) * CELL),
            )
            if cell not in reg.rows:  # the 4σ cut rounds onto the grid's rim
                cell = min(reg.rows, key=lambda c: (c[0] - cell[0]) ** 2 + (c[1] - cell[1]) ** 2)
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
            draws = tuple(rng.random() for _ in range(20))
            out.append(Incident(len(out), t, cell, urgency, condition, needs, draws))

    def background(self, h: int, cat: str, t: float) -> float:
        """Share of a category's beds taken by patients who did not come by ambulance:
        drifts from day to day and over the day (fullest in the evening)."""
        day = int(t // 1440)
        daily = self._daily.get((h, cat, day))
        if daily is None:
            r = random.Random(self.seed * 1_000_003 + h * 7919 + day * 104_729 + _h(cat))
            daily = self._daily[(h, cat, day)] = self.params.background_load + r.uniform(-0.2, 0.2)
        hour = (t / 60) % 24
        return min(0.98, max(0.0, daily + 0.12 * math.sin((hour - 8) / 24 * 2 * math.pi)))

    def specialist_on(self, h: SimHospital, t: float) -> bool:
        """Is the hospital's specialist for its capabilities on duty now? Weekdays 8–17
        always; nights and weekends at a tertiary centre always, at a secondary hospital
        on some nights (the e-MATCH weekly schedules)."""
        day = int(t // 1440)
        hour = (t / 60) % 24
        if h.level == "tertiary" or (day % 7 < 5 and 8 <= hour < 17):
            return True
        shift = int((t - 17 * 60) // 720)  # one draw per night or weekend half-day
        on = self._rota.get((h.idx, shift))
        if on is None:
            u = random.Random(self.seed * 7_777_777 + h.idx * 65_537 + shift).random()
            on = self._rota[(h.idx, shift)] = u < self.params.night_specialist_p
        return on

    def other_yes(self, inc: Incident, h: int) -> bool:
        u = random.Random(self.seed * 1_000_033 + inc.idx * 4099 + h).random()
        return u >= self.params.other_refusal_p


def _h(s: str) -> int:
    return zlib.crc32(s.encode()) & 0xFFFF


def _accumulate(xs: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for x in xs:
        acc += x
        out.append(acc)
    return out


# --- one policy -----------------------------------------------------------------------------


STAGES = (
    "call_to_scene",
    "scene_to_contact",
    "contact_to_loaded",
    "loaded_to_departure",
    "departure_to_hospital",
    "hospital_to_handover",
)


@dataclass
class Outcome:
    stages: tuple[float, float, float, float, float, float]
    inquiries: int
    rounds: int
    serious: bool
    call_to_instruction: float | None


@dataclass
class RunResult:
    outcomes: list[Outcome] = field(default_factory=list)
    unit_busy_min: float = 0.0
    units: int = 0
    horizon_min: float = 0.0

    def summary(self) -> dict[str, float]:
        o = self.outcomes
        if not o:
            return {"incidents": 0}
        times = sorted(sum(x.stages[:5]) for x in o)
        serious = [x for x in o if x.serious]
        instr = [x.call_to_instruction for x in o if x.call_to_instruction is not None]
        st = {name: statistics.fmean(x.stages[i] for x in o) for i, name in enumerate(STAGES)}
        return {
            "incidents": len(o),
            "mean_min": statistics.fmean(times),
            "p50_min": _quantile(times, 0.5),
            "p90_min": _quantile(times, 0.9),
            "call_to_scene_mean_min": st["call_to_scene"],
            "on_scene_mean_min": st["scene_to_contact"]
            + st["contact_to_loaded"]
            + st["loaded_to_departure"],
            "transport_mean_min": st["departure_to_hospital"],
            "inquiries_mean": statistics.fmean(x.inquiries for x in o),
            "serious_cases": len(serious),
            "share_4plus_inquiries": sum(x.inquiries >= 4 for x in serious) / max(1, len(serious)),
            "share_4plus_rounds": sum(x.rounds >= 4 for x in serious) / max(1, len(serious)),
            "unit_utilisation": self.unit_busy_min / max(1.0, self.units * self.horizon_min),
            "call_to_instruction_mean_min": statistics.fmean(instr) if instr else math.nan,
            **{f"stage.{k}": v for k, v in st.items()},
        }


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def simulate(stream: Stream, levers: frozenset[str]) -> RunResult:
    """Run one set of levers over the stream (no lever: policy A, today's practice)."""
    reg, p = stream.region, stream.params
    n_h = reg.n_h
    hospitals = reg.hospitals
    parallel = Lever.PARALLEL in levers
    fresh_on = Lever.FRESH_BEDS in levers
    n_units = len(reg.unit_station)
    unit_free = [0.0] * n_units  # free to take a call (at the hospital or at home)
    unit_back = [0.0] * n_units  # back at the station
    unit_pos = [n_h + s for s in reg.unit_station]  # point index while away
    home = [n_h + s for s in reg.unit_station]
    by_station: list[list[int]] = [[] for _ in reg.stations]
    for u, s in enumerate(reg.unit_station):
        by_station[s].append(u)
    away: set[int] = set()
    # The same state as arrays, for the units away (a few hundred at Tokyo scale) to be
    # weighed at once, and the times they are due back, soonest first.
    away_np = np.zeros(n_units, dtype=bool)
    back_np = np.zeros(n_units)
    pos_np = np.array(unit_pos, dtype=np.intp)
    home_np = np.array(home, dtype=np.intp)
    due_back: list[tuple[float, int]] = []
    station_order: dict[tuple[int, int], list[int]] = {}
    suitable_order: dict[tuple[tuple[int, int], frozenset[str], str, bool], list[int]] = {}
    admissions: dict[tuple[int, str], list[float]] = {}  # release times, sorted
    doctors: list[list[float]] = [[] for _ in hospitals]  # release times
    model = AcceptanceModel()
    tertiary = [h.idx for h in hospitals if h.level == "tertiary"] or [0]
    town_cells = [(round(t["lat"] * CELL), round(t["lon"] * CELL)) for t in reg.towns]
    town_rows = [reg.rows.get(c) or reg.row(c[0] / CELL, c[1] / CELL) for c in town_cells]
    town_w = [t["population"] for t in reg.towns]
    result = RunResult(units=n_units, horizon_min=p.days * 1440)
    move_on = Lever.MOVE_UP in levers
    posts = _PostViews(_posts(reg, town_rows, town_w), n_h) if move_on else None
    freed: list[tuple[float, int]] = []  # (free at, unit): units awaiting their post
    free_at_np = np.zeros(n_units)  # unit_free, for the idle units of a move-up decision
    rota_order: dict[
        tuple[tuple[tuple[int, int], frozenset[str], str, bool], int | None], list[int]
    ] = {}
    on_job = _OnJob(len(stream.incidents))
    fresh_infos: dict[tuple[int, str, int, int], optimizer.HospitalInfo] = {}
    travel_to: dict[tuple[tuple[int, int], int], optimizer.Travel] = {}
    cover_from: dict[int, list[float]] = {}  # a point's cover time to each town, seconds

    def post_freed(now: float) -> None:
        """Move-up (DMEXCLP): each unit freed by ``now``, in order, is posted where the
        server's ``coverage.move_up`` puts it, given the units idle at that moment."""
        assert posts is not None
        while freed and freed[0][0] <= now:
            at, u = heapq.heappop(freed)
            view, sites, standing = posts.view(home[u] - n_h, home)
            idle = [standing[v] for v in np.flatnonzero(free_at_np <= at).tolist()]
            busy = coverage.busy_fraction(on_job.busy_min(at), n_units, BUSY_WINDOW_MIN)
            plan = coverage.move_up(
                posts=view, units=idle, busy=busy, movable=frozenset({u}), max_moves=1
            )
            if not plan.moves:
                continue
            to = sites[plan.moves[0].to_site]
            by_station[home[u] - n_h].remove(u)
            by_station[to].append(u)
            home[u] = n_h + to
            home_np[u] = n_h + to
            posts.moved(u, to)
            back = unit_free[u] + reg.rows[(-1, unit_pos[u])][home[u]]
            result.unit_busy_min += back - unit_back[u]
            unit_back[u] = back
            back_np[u] = back
            heapq.heappush(due_back, (back, u))

    def free_beds(h: SimHospital, cat: str, t: float, minor: bool) -> tuple[int, int]:
        cap = h.beds.get(cat, 0) or (1 if cat == "general" else 0)
        if minor:
            return 1, cap  # seen in the ER and sent home: no bed needed
        adm = admissions.get((h.idx, cat))
        taken = 0
        if adm:
            i = bisect.bisect_right(adm, t)
            del adm[:i]
            taken = len(adm)
        return cap - round(cap * stream.background(h.idx, cat, t)) - taken, cap

    def er_doctor_free(h: SimHospital, t: float) -> bool:
        hour = (t / 60) % 24
        n = (p.er_doctors_day if 8 <= hour < 20 else p.er_doctors_night)[
            0 if h.level == "tertiary" else 1
        ]
        d = doctors[h.idx]
        while d and d[0] <= t:
            heapq.heappop(d)
        return len(d) < n

    def would_accept(inc: Incident, h: SimHospital, t: float) -> bool:
        """The hospital's answer: capability staffed now, an ER doctor free, a bed, and
        no other reason. The same patient at the same moment gets the same answer."""
        if not inc.needs.required_capabilities <= h.capabilities:
            return False
        if h.level == "tertiary" and inc.urgency in SERIOUS:
            # The last bastion: refused only when truly full, its ER team all busy or
            # no bed of the category free; never for other reasons.
            return er_doctor_free(h, t) and free_beds(h, inc.needs.bed_category, t, False)[0] > 0
        if inc.needs.required_capabilities and not stream.specialist_on(h, t):
            return False  # outside specialty tonight
        if not er_doctor_free(h, t):
            return False  # cannot treat: the team is with other patients
        if free_beds(h, inc.needs.bed_category, t, inc.urgency == "minor")[0] <= 0:
            return False  # beds full
        return stream.other_yes(inc, h.idx)

    def order_for(inc: Incident, row: list[float], t: float) -> list[int]:
        """Hospitals a crew would ask at ``t``, most likely to accept first: those with
        the capability and a bed of the category at all, nearest first; for a serious
        or critical case the tertiary centres first unless a suitable hospital is more
        than ``tertiary_detour_min`` nearer; hospitals off the on-duty rota tonight last."""
        needs = inc.needs
        serious = inc.urgency in SERIOUS
        key = (inc.cell, needs.required_capabilities, needs.bed_category, serious)
        order = suitable_order.get(key)
        if order is None:
            caps, cat = needs.required_capabilities, needs.bed_category
            capable = [h for h in hospitals if caps <= h.capabilities] or hospitals
            cands = [h for h in capable if h.beds.get(cat) or cat == "general"] or capable
            detour = p.tertiary_detour_min if serious else 0.0
            cands.sort(
                key=lambda h: (row[h.idx] + (0.0 if h.level == "tertiary" else detour), h.idx)
            )
            order = [h.idx for h in cands[: max(p.max_calls, 2 * CANDIDATES)]]
            suitable_order[key] = order
        if not needs.required_capabilities:
            return order
        day, hour = int(t // 1440), (t / 60) % 24
        # The rota changes with the shift (see ``Stream.specialist_on``): one order each.
        shift = None if day % 7 < 5 and 8 <= hour < 17 else int((t - 17 * 60) // 720)
        got = rota_order.get((key, shift))
        if got is None:
            on = [i for i in order if stream.specialist_on(hospitals[i], t)]
            got = on if len(on) == len(order) else on + [i for i in order if i not in on]
            rota_order[(key, shift)] = got
        return got

    def candidate_units(
        row: list[float], cell: tuple[int, int], t_d: float, k: int
    ) -> list[tuple[float, int]]:
        """The k units that can be on scene first: (arrival, unit), earliest first."""
        while due_back and due_back[0][0] <= t_d:
            v = heapq.heappop(due_back)[1]
            if v in away and unit_back[v] <= t_d:
                away.discard(v)  # back at the station: found through the station order
                away_np[v] = False
        best: list[tuple[float, int]] = []
        if away:
            idx = np.flatnonzero(away_np)
            start = np.maximum(free_at_np[idx], t_d)
            pos = np.where(start >= back_np[idx], home_np[idx], pos_np[idx])
            arrive = start + p.turnout_min + reg.row_np(cell)[pos]
            first = np.lexsort((idx, arrive))[:k]  # earliest, then the lower unit
            best = list(zip(arrive[first].tolist(), idx[first].tolist(), strict=True))
        order = station_order.get(cell)
        if order is None:
            order = sorted(range(len(reg.stations)), key=lambda s: row[n_h + s])
            station_order[cell] = order
        for s in order:
            bound = t_d + p.turnout_min + row[n_h + s]
            if len(best) >= k and bound >= best[-1][0]:
                break
            for u in by_station[s]:
                if u in away:
                    continue
                bisect.insort(best, (bound, u))
                del best[k:]
        return best

    def assign(inc: Incident, cands: list[tuple[float, int]], t_d: float) -> tuple[float, int]:
        """The server's assignment on the candidate units, with their coverage penalties
        over the towns (a unit's cover time to a town from where it stands)."""
        units = [u for _, u in cands]
        at = [home[u] if u not in away else unit_pos[u] for u in units]
        cover = []
        for a in at:
            c = cover_from.get(a)
            if c is None:
                c = cover_from[a] = [town_rows[d][a] * 60 for d in range(len(town_rows))]
            cover.append(c)
        pen = optimizer.coverage_penalties(cover, town_w)
        plan = optimizer.assign_units(
            incident_ids=[inc.idx],
            urgencies=[inc.urgency],
            unit_ids=units,
            eta_s=[[(arr - t_d) * 60 for arr, _ in cands]],
            coverage_penalty=pen,
        )
        chosen = plan.assignments[0].unit_id if plan.assignments else units[0]
        return next(c for c in cands if c[1] == chosen)

    def parallel_rounds(
        inc: Incident, order: list[int], t: float, asked: set[int], d: tuple[float, ...]
    ) -> tuple[int | None, float, int, int]:
        """Rounds of parallel requests from ``t`` until a yes or ``max_calls`` asks, as
        the server sends them: (the hospital that said yes, when, asks, rounds)."""
        cat = inc.needs.bed_category
        minor = inc.urgency == "minor"
        row = reg.rows[inc.cell]
        chosen: int | None = None
        inquiries = rounds = 0
        hour = int(t // 60) % 24
        while chosen is None and inquiries < p.max_calls:
            cands = [i for i in order if i not in asked][:CANDIDATES]
            if not cands:
                break
            now = EPOCH + dt.timedelta(minutes=t)
            infos = []
            travel = {}
            for i in cands:
                h = hospitals[i]
                base = reg.infos[i]
                if fresh_on and h.fresh:
                    avail, cap = free_beds(h, cat, t, minor)
                    key = (i, cat, avail, cap)
                    info = fresh_infos.get(key)
                    if info is None:
                        # Kept fresh: the figure never expires within the run.
                        bed = optimizer.BedState(avail, cap, FRESH_UNTIL)
                        info = fresh_infos[key] = optimizer.HospitalInfo(
                            id=base.id, name=base.name, lat=base.lat, lon=base.lon,
                            level=base.level, capabilities=base.capabilities, beds={cat: bed},
                        )  # fmt: skip
                    base = info
                infos.append(base)
                tr = travel_to.get((inc.cell, i))
                if tr is None:
                    tr = travel_to[(inc.cell, i)] = optimizer.Travel(row[i] * 60, reg.travel_source)
                travel[i] = tr
            ranked, _ = optimizer.rank_hospitals(
                needs=inc.needs,
                hospitals=infos,
                travel=travel,
                acceptance={i: model.p(i, cat, hour) for i in cands},
                now=now,
                with_reasons=False,  # never shown: the same order and scores
            )
            batch = ranking.next_round(ranked)
            if not batch:
                break
            rounds += 1
            answers = []
            for j, r in enumerate(batch):
                inquiries += 1
                asked.add(r.hospital_id)
                delay = p.screen_response_min * (0.3 + 1.4 * d[(4 + rounds + j) % 20])
                answers.append((t + delay, r.hospital_id))
            answers.sort()
            last = t
            for when, h_i in answers:
                yes = would_accept(inc, hospitals[h_i], when)
                model.observe(Answer(h_i, cat, int(when // 60) % 24, yes))
                last = when
                if yes:
                    chosen = h_i
                    t = when
                    break
            if chosen is None:
                t = last
        return chosen, t, inquiries, rounds

    for inc in stream.incidents:
        d = inc.draws
        row = reg.rows[inc.cell]
        t_d = inc.t + p.call_taking_min * (0.5 + d[0])
        if move_on:
            post_freed(t_d)
        if Lever.ASSIGN in levers:
            arrival, u = assign(inc, candidate_units(row, inc.cell, t_d, UNIT_CANDIDATES), t_d)
        else:
            arrival, u = candidate_units(row, inc.cell, t_d, 1)[0]
        start = max(unit_free[u], t_d)
        contact = arrival + _ln(d[1], p.contact_min, 0.5)
        loaded = contact + _ln(d[2], p.contact_to_loaded_min, 0.45)
        if Lever.CARD in levers:
            loaded += p.card_min
        ready = loaded + _ln(d[3], p.pre_call_min, 0.5)
        minor = inc.urgency == "minor"
        cat = inc.needs.bed_category
        order = order_for(inc, row, ready)
        inquiries = rounds = 0
        chosen: int | None = None
        t = ready
        asked: set[int] = set()
        early_yes: int | None = None
        if Lever.EARLY in levers and early.is_time_critical(inc.condition):
            # Asked ahead from the call while the unit drives; the crew's word when it
            # would otherwise start asking.
            e_set: set[int] = set()
            e_chosen, e_t, e_asked, e_rounds = parallel_rounds(
                inc, order_for(inc, row, t_d), t_d + p.ask_ahead_tap_min, e_set, d
            )
            inquiries += e_asked
            rounds += e_rounds
            wrong = random.Random(stream.seed * 9_999_991 + inc.idx).random() < p.early_wrong_p
            if wrong:
                if e_chosen is not None:  # that ER's team waited for nobody until withdrawn
                    heapq.heappush(doctors[e_chosen], max(e_t, ready))
            elif e_chosen is not None:
                early_yes, t = e_chosen, max(e_t, ready)
            else:  # nobody said yes during the drive: the crew goes on from there
                asked = e_set
                t = max(ready, e_t)
        if early_yes is not None:
            chosen = early_yes
        elif not parallel:
            for i, h_i in enumerate(order[: p.max_calls]):
                if h_i in asked:
                    continue  # refused already while the unit drove
                h = hospitals[h_i]
                if fresh_on and h.fresh and free_beds(h, cat, t, minor)[0] <= 0:
                    continue  # known full on the screen: not phoned
                inquiries += 1
                rounds += 1
                yes = would_accept(inc, h, t)
                t += p.call_min * (0.5 + d[4 + i % 10])
                if yes:
                    chosen = h_i
                    break
        else:
            chosen, t, n_asked, n_rounds = parallel_rounds(inc, order, t, asked, d)
            inquiries += n_asked
            rounds += n_rounds
        if chosen is None:
            # Nobody said yes: the nearest tertiary centre takes the patient regardless
            # (FDMA's last resort), after one more call.
            chosen = min(tertiary, key=lambda i: row[i])
            inquiries += 1
            rounds += 1
            t += p.call_min
        depart = t + _ln(d[14], p.leave_min, 0.4)
        h = hospitals[chosen]
        if not minor:
            adm = admissions.setdefault((chosen, cat), [])
            bisect.insort(adm, t + STAY_H.get(cat, 24) * 60)
        arrive = depart + row[chosen]
        # The ER team is held from the yes until the patient is treated.
        heapq.heappush(doctors[chosen], arrive + DOCTOR_MIN[inc.urgency])
        handover = _ln(d[15], p.handover_min, 0.4)
        on_job.add(t_d, arrive + handover)
        free_at = arrive + handover + _ln(d[16], p.after_handover_min, 0.4)
        back_at = free_at + reg.rows[(-1, chosen)][home[u]]
        result.unit_busy_min += back_at - start
        unit_free[u] = free_at
        free_at_np[u] = free_at
        unit_back[u] = back_at
        unit_pos[u] = chosen
        away.add(u)
        away_np[u] = True
        back_np[u] = back_at
        pos_np[u] = chosen
        heapq.heappush(due_back, (back_at, u))
        if move_on:
            heapq.heappush(freed, (free_at, u))
        instr: float | None = None
        if inc.condition == "cardiac_arrest" or (
            inc.urgency == "critical" and inc.condition in ("major_trauma", "sepsis")
        ):
            asked_at = contact + p.instruction_prep_min
            if Lever.INSTRUCTION in levers:
                instr = asked_at + p.screen_response_min * (0.3 + 1.4 * d[17]) - inc.t
            else:
                instr = asked_at + p.instruction_phone_min * (0.5 + d[18]) - inc.t
        result.outcomes.append(
            Outcome(
                stages=(
                    arrival - inc.t,
                    contact - arrival,
                    loaded - contact,
                    depart - loaded,
                    arrive - depart,
                    handover,
                ),
                inquiries=inquiries,
                rounds=rounds,
                serious=inc.urgency in ("critical", "serious"),
                call_to_instruction=instr,
            )
        )
    return result


class _OnJob:
    """Each transport's dispatch and handover, for the busy fraction move-up is given:
    the server's (``moveup.busy_fraction``), unit time on transports over the last
    ``BUSY_WINDOW_MIN``, a transport still under way counted up to the moment asked."""

    def __init__(self, capacity: int) -> None:
        self.dispatched = np.zeros(capacity)
        self.handed_over = np.zeros(capacity)
        self.n = 0
        # Every transport before ``first`` ended an hour before a window already asked
        # about; the windows asked about only move forward (units are freed in order).
        self.first = 0

    def add(self, dispatched: float, handed_over: float) -> None:
        self.dispatched[self.n] = dispatched
        self.handed_over[self.n] = handed_over
        self.n += 1

    def busy_min(self, now: float) -> float:
        """Minutes of unit time on transports dispatched before ``now``, within the
        window that ends at ``now``."""
        start = now - BUSY_WINDOW_MIN
        while self.first < self.n and self.handed_over[self.first] <= start - 60.0:
            self.first += 1
        d = self.dispatched[self.first : self.n]
        span = np.minimum(self.handed_over[self.first : self.n], now) - np.maximum(d, start)
        return float(span[(d < now) & (span > 0)].sum())


class _PostViews:
    """The move-up posts as ``coverage.move_up`` needs them for one freed unit.

    Stations that cover the same towns are alike to move-up: a unit gains the same
    there, so of each such group ``move_up`` would pick the member nearest the unit's
    post (its tie-break on the drive, then the lower index). The view from a post
    hands over that member only, the groups in station order, and every idle unit
    at a station of its group: the same plan as the full list, at a fraction of the
    cost of one call per freed unit (a Tokyo-scale region has ~140 stations and 14
    towns)."""

    def __init__(self, posts: coverage.Posts, n_h: int) -> None:
        self.posts = posts
        self.n_h = n_h  # point index of the first station
        groups: dict[tuple[int, ...], list[int]] = {}
        for s, covered in enumerate(posts.covers):
            groups.setdefault(covered, []).append(s)
        self.groups = list(groups.values())
        self.group_of = [0] * len(posts.covers)
        for g, members in enumerate(self.groups):
            for s in members:
                self.group_of[s] = g
        self._views: dict[int, tuple[coverage.Posts, list[int], list[coverage.IdleUnit]]] = {}
        self._stand: dict[int, list[int]] = {}

    def moved(self, unit: int, station: int) -> None:
        """A unit's post changed: every view built so far sees it at its new station."""
        for a, (_, _, standing) in self._views.items():
            standing[unit] = coverage.IdleUnit(unit, self._stand[a][station])

    def view(
        self, a: int, home: Sequence[int]
    ) -> tuple[coverage.Posts, list[int], list[coverage.IdleUnit]]:
        """(the posts seen from station ``a``, their station numbers, each unit as it
        stands in the view when idle); ``home``: each unit's post (point index)."""
        got = self._views.get(a)
        if got is not None:
            return got
        full = self.posts
        drive = full.site_to_site_s[a] if full.site_to_site_s is not None else None
        chosen: list[int] = []  # per group: the station standing for it
        for members in self.groups:
            if self.group_of[a] == self.group_of[members[0]]:
                chosen.append(a)
                others = [m for m in members if m != a]
            else:
                others = members
            if others:
                best = min(
                    others,
                    key=lambda m: (
                        math.inf if drive is None or drive[m] is None else drive[m],
                        m,
                    ),
                )
                if best != a and best not in chosen:
                    chosen.append(best)
        sites = sorted(set(chosen))
        index = {s: i for i, s in enumerate(sites)}
        stand = [
            index[a]
            if self.group_of[s] == self.group_of[a]
            else index[next(c for c in sites if self.group_of[c] == self.group_of[s])]
            for s in range(len(full.covers))
        ]
        to_site = full.site_to_site_s
        view = coverage.Posts(
            site_to_demand_s=[full.site_to_demand_s[s] for s in sites],
            demand_weights=full.demand_weights,
            site_to_site_s=None
            if to_site is None
            else [[to_site[x][y] for y in sites] for x in sites],
            threshold_s=full.threshold_s,
        )
        self._stand[a] = stand
        standing = [coverage.IdleUnit(v, stand[h - self.n_h]) for v, h in enumerate(home)]
        self._views[a] = (view, sites, standing)
        return self._views[a]


def _posts(
    reg: Region, town_rows: Sequence[Sequence[float]], town_w: Sequence[float]
) -> coverage.Posts:
    """The stations as move-up posts, covering the towns (the server's demand points)."""
    n_h, n_s = reg.n_h, len(reg.stations)
    station_rows = []
    for lat, lon in reg.stations:
        key = (round(lat * CELL), round(lon * CELL))
        if key not in reg.rows:  # a station outside every town's cells: the nearest cell
            key = min(
                (k for k in reg.rows if k[0] >= 0),
                key=lambda c: (c[0] - key[0]) ** 2 + (c[1] - key[1]) ** 2,
            )
        station_rows.append(reg.rows[key])
    return coverage.Posts(
        site_to_demand_s=[[row[n_h + s] * 60 for row in town_rows] for s in range(n_s)],
        demand_weights=list(town_w),
        site_to_site_s=[[station_rows[a][n_h + b] * 60 for b in range(n_s)] for a in range(n_s)],
    )


def _ln(u: float, mean: float, cv: float) -> float:
    """A lognormal of the given mean and coefficient of variation from one uniform draw."""
    sigma = math.sqrt(math.log(1 + cv * cv))
    z = _ND.inv_cdf(min(max(u, 1e-9), 1 - 1e-9))
    return math.exp(math.log(mean) - sigma * sigma / 2 + sigma * z)

"""Move-up: where idle units should wait so that the next call is reached in time.

Pure: plain data in, plain data out (no Flask, no database, no routing engine). The
server (``ems.dispatch.moveup``) and the simulation (``ems.dispatch.sim``) both call
``move_up``, so the suggestions a dispatcher sees are the moves the simulation credits.

The objective is MEXCLP's expected coverage (Daskin 1983), re-solved greedily at each
decision moment from the units idle now, as in DMEXCLP (Jagtenberg, Bhulai and van der
Mei 2015; JEMSS's move-up, shared/FIELD.md "Simulators to learn from"): a demand point
with weight w covered by k idle units within the threshold counts w·(1 − q^k), where q
is the share of time a unit is busy, computed from the data (``busy_fraction``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Assumption: a demand point is covered when an idle unit can drive there within 8
# minutes. FDMA's national call → scene mean was 10.3 min in 2022 (shared/FIELD.md),
# which includes call taking and turnout; 8 min is left for the drive.
COVER_THRESHOLD_S = 8 * 60
# Assumption: a move worth a crew's drive raises expected coverage by at least one
# point (1 % of the demand weight); smaller gains are not suggested.
MIN_GAIN = 0.01
# Assumption: the console lists at most three moves at a time.
MAX_MOVES = 3


@dataclass(frozen=True, slots=True)
class IdleUnit:
    unit_id: int
    site: int  # index of the post (station) it stands at or is heading to


@dataclass(frozen=True)
class Posts:
    """The posts (stations) units may wait at and the demand they cover.

    ``site_to_demand_s[s][d]``: drive from post s to demand point d (None: no road);
    ``site_to_site_s[a][b]``: drive between posts, to prefer the shorter of equal moves.
    Built once per region and reused for every decision.
    """

    site_to_demand_s: Sequence[Sequence[float | None]]
    demand_weights: Sequence[float]
    site_to_site_s: Sequence[Sequence[float | None]] | None = None
    threshold_s: float = COVER_THRESHOLD_S
    covers: tuple[tuple[int, ...], ...] = field(init=False)
    _shared: dict[int, tuple[tuple[int, ...], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        covers = tuple(
            tuple(d for d, t in enumerate(row) if t is not None and t <= self.threshold_s)
            for row in self.site_to_demand_s
        )
        object.__setattr__(self, "covers", covers)

    def shared(self, a: int) -> tuple[tuple[int, ...], ...]:
        """For each post b, the demand points both ``a`` and b cover, in b's order
        (made on first use: move-up asks from the same posts again and again)."""
        got = self._shared.get(a)
        if got is None:
            cover_a = set(self.covers[a])
            got = tuple(tuple(d for d in c if d in cover_a) for c in self.covers)
            self._shared[a] = got
        return got

    def drive_s(self, a: int, b: int) -> float | None:
        return None if self.site_to_site_s is None else self.site_to_site_s[a][b]


@dataclass(frozen=True, slots=True)
class Coverage:
    covered: float  # share of the demand weight within the threshold of ≥ 1 idle unit
    expected: float  # MEXCLP: share of the demand weight expected covered, Σ w(1 − q^k) / Σ w


@dataclass(frozen=True, slots=True)
class Move:
    unit_id: int
    from_site: int
    to_site: int
    move_s: float | None  # drive from the old post to the new, when known
    before: Coverage  # the region as it stands
    after: Coverage  # the region with this move alone applied


@dataclass(frozen=True, slots=True)
class MoveUpPlan:
    moves: tuple[Move, ...]
    now: Coverage
    after_all: Coverage  # with every move of the plan applied
    busy_fraction: float
    threshold_s: float


def busy_fraction(busy_unit_s: float, units: int, window_s: float) -> float:
    """The share of unit time spent busy: unit-seconds busy over units × window."""
    if units <= 0 or window_s <= 0:
        return 0.0
    return min(1.0, max(0.0, busy_unit_s / (units * window_s)))


def _coverage(counts: Sequence[int], weights: Sequence[float], q: float) -> Coverage:
    total = sum(weights)
    if total <= 0:
        return Coverage(0.0, 0.0)
    # Lists, not generators, for sum(): the same terms in the same order, faster.
    covered = sum([w for w, k in zip(weights, counts, strict=True) if k > 0])
    expected = sum([w * (1 - q**k) for w, k in zip(weights, counts, strict=True)])
    return Coverage(covered / total, expected / total)


def coverage(*, posts: Posts, sites: Sequence[int], busy: float) -> Coverage:
    """Coverage of the demand by idle units standing at ``sites`` (one entry a unit)."""
    return _coverage(
        _counts(posts.covers, sites, len(posts.demand_weights)),
        posts.demand_weights,
        min(max(busy, 0.0), 1.0),
    )


def _counts(covers: Sequence[Sequence[int]], sites: Iterable[int], n_d: int) -> list[int]:
    """Idle units within the threshold of each demand point (units counted per post:
    a region has hundreds of units at a few dozen posts)."""
    per_post = [0] * len(covers)
    for s in sites:
        per_post[s] += 1
    counts = [0] * n_d
    for s, k in enumerate(per_post):
        if k:
            for d in covers[s]:
                counts[d] += k
    return counts


def move_up(
    *,
    posts: Posts,
    units: Sequence[IdleUnit],
    busy: float,
    movable: frozenset[int] | None = None,
    max_moves: int = MAX_MOVES,
    min_gain: float = MIN_GAIN,
) -> MoveUpPlan:
    """Moves of idle units between posts that raise expected coverage, best first.

    Greedy DMEXCLP: each step takes the single move (an idle unit to another post) with
    the largest gain in expected coverage, ties to the shorter drive then the lower
    ids; a unit moves at most once per plan; steps stop at ``max_moves`` or when no
    move gains ``min_gain``. ``movable`` limits which units may move (default: all).
    Each move reports the coverage before (the region now) and after it alone.
    """
    q = min(max(busy, 0.0), 1.0)
    demand_weights = posts.demand_weights
    n_d = len(demand_weights)
    total = sum(demand_weights)
    covers = posts.covers
    n_s = len(covers)
    counts = _counts(covers, [u.site for u in units], n_d)
    now = _coverage(counts, demand_weights, q)
    if total <= 0 or n_s < 2 or not units:
        return MoveUpPlan((), now, now, q, posts.threshold_s)
    before = list(counts)
    w = [x / total for x in demand_weights]
    # Where each unit that may move stands (the last entry of a unit listed twice).
    site = {u.unit_id: u.site for u in units if movable is None or u.unit_id in movable}
    moved: set[int] = set()
    steps: list[tuple[int, int, int, float | None]] = []
    for _ in range(max_moves):
        # Marginal values of one more / one fewer unit at each demand point.
        add = [w[d] * (q ** counts[d]) * (1 - q) for d in range(n_d)]
        rem = [w[d] * (q ** (counts[d] - 1)) * (1 - q) if counts[d] else 0.0 for d in range(n_d)]
        gain_in = [sum([add[d] for d in c]) for c in covers]
        best: tuple[float, float, int, int, int] | None = None  # (-gain, drive, unit, from, to)
        # Units at the same post are alike: the lowest id stands for its post.
        first: dict[int, int] = {}
        for u in sorted(site):
            if u in moved:
                continue
            first.setdefault(site[u], u)
        for a, u in first.items():
            loss = sum([rem[d] for d in covers[a]])
            shared = posts.shared(a)
            for b in range(n_s):
                if b == a:
                    continue
                # Points both posts cover keep their count: take them out of both sides.
                both = sum([add[d] - rem[d] for d in shared[b]]) if shared[b] else 0
                gain = gain_in[b] - loss - both
                if gain < min_gain - 1e-12:
                    continue
                drive = posts.drive_s(a, b)
                key = (-gain, drive if drive is not None else float("inf"), u, a, b)
                if best is None or key < best:
                    best = key
        if best is None:
            break
        _, _, u, a, b = best
        for d in covers[a]:
            counts[d] -= 1
        for d in covers[b]:
            counts[d] += 1
        site[u] = b
        moved.add(u)
        steps.append((u, a, b, posts.drive_s(a, b)))
    after_all = _coverage(counts, demand_weights, q)
    moves = []
    for u, a, b, drive in steps:
        # The region as it stands with this unit alone moved from a to b.
        alone = list(before)
        for d in covers[a]:
            alone[d] -= 1
        for d in covers[b]:
            alone[d] += 1
        moves.append(Move(u, a, b, drive, now, _coverage(alone, demand_weights, q)))
    return MoveUpPlan(tuple(moves), now, after_all, q, posts.threshold_s)

"""How likely a hospital is to accept, learned from past hospital requests.

Beta-binomial shrinkage in three levels: the region's overall acceptance rate
(starting from a prior), each hospital × bed category, and each hospital ×
category × hour of day (local time, with the neighbouring hours counted too).
A cell with few answers leans on the level above it, so a new hospital starts at
the prior and moves towards its own record as answers come in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

JST = dt.timezone(dt.timedelta(hours=9))
PRIOR_ACCEPTS = 3.0  # prior mean 0.6 with the weight of five answers
PRIOR_DECLINES = 2.0
STRENGTH = 5.0  # answers a lower level needs before it outweighs the level above
_NONE = (0.0, 0.0)  # (accepted, answered) of a cell with no answers


@dataclass(frozen=True, slots=True)
class Answer:
    hospital_id: int
    category: str
    hour: int  # local hour 0–23
    accepted: bool


@dataclass
class AcceptanceModel:
    overall: float = PRIOR_ACCEPTS / (PRIOR_ACCEPTS + PRIOR_DECLINES)
    by_hc: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)
    by_hch: dict[tuple[int, str, int], tuple[float, float]] = field(default_factory=dict)
    answers: int = 0

    def p(self, hospital_id: int, category: str, hour: int) -> float:
        acc, n = self.by_hc.get((hospital_id, category), _NONE)
        p_hc = (acc + STRENGTH * self.overall) / (n + STRENGTH)
        # The hour and its neighbours, summed in that order (the simulation asks this
        # millions of times: unrolled).
        get = self.by_hch.get
        a0, m0 = get((hospital_id, category, (hour - 1) % 24), _NONE)
        a1, m1 = get((hospital_id, category, hour % 24), _NONE)
        a2, m2 = get((hospital_id, category, (hour + 1) % 24), _NONE)
        acc_h = 0.0 + a0 + a1 + a2
        n_h = 0.0 + m0 + m1 + m2
        return (acc_h + STRENGTH * p_hc) / (n_h + STRENGTH)

    def observe(self, answer: Answer) -> None:
        """Learn one more answer (the simulation learns as it runs)."""
        x = 1.0 if answer.accepted else 0.0
        n_all = self.answers + PRIOR_ACCEPTS + PRIOR_DECLINES
        self.overall = (self.overall * n_all + x) / (n_all + 1)
        self.answers += 1
        k = (answer.hospital_id, answer.category)
        a, n = self.by_hc.get(k, (0.0, 0.0))
        self.by_hc[k] = (a + x, n + 1)
        kh = (answer.hospital_id, answer.category, answer.hour)
        a, n = self.by_hch.get(kh, (0.0, 0.0))
        self.by_hch[kh] = (a + x, n + 1)


def learn(answers: Iterable[Answer]) -> AcceptanceModel:
    hc: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    hch: dict[tuple[int, str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    acc_all = n_all = 0.0
    for a in answers:
        x = 1.0 if a.accepted else 0.0
        acc_all += x
        n_all += 1
        hc[(a.hospital_id, a.category)][0] += x
        hc[(a.hospital_id, a.category)][1] += 1
        hch[(a.hospital_id, a.category, a.hour)][0] += x
        hch[(a.hospital_id, a.category, a.hour)][1] += 1
    overall = (acc_all + PRIOR_ACCEPTS) / (n_all + PRIOR_ACCEPTS + PRIOR_DECLINES)
    return AcceptanceModel(
        overall=overall,
        by_hc={k: (v[0], v[1]) for k, v in hc.items()},
        by_hch={k: (v[0], v[1]) for k, v in hch.items()},
        answers=int(n_all),
    )


def local_hour(at: dt.datetime) -> int:
    return at.astimezone(JST).hour


def load_model(
    *, session: Session, since: dt.datetime | None = None, hospital_ids: Iterable[int] | None = None
) -> AcceptanceModel:
    """Learn from every answered request (accepted or declined) since ``since``."""
    from ems.hospital_requests.models import HospitalRequest, RequestStatus

    stmt = select(
        HospitalRequest.hospital_id,
        HospitalRequest.bed_category,
        HospitalRequest.sent_at,
        HospitalRequest.status,
    ).where(HospitalRequest.status.in_([RequestStatus.ACCEPTED, RequestStatus.DECLINED]))
    if since is not None:
        stmt = stmt.where(HospitalRequest.sent_at >= since)
    if hospital_ids is not None:
        stmt = stmt.where(HospitalRequest.hospital_id.in_(list(hospital_ids)))
    rows = session.execute(stmt).all()
    return learn(
        Answer(hid, cat, local_hour(sent), status == RequestStatus.ACCEPTED)
        for hid, cat, sent, status in rows
    )

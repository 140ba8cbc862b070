"""Claiming a bed: the last free bed of a category goes to exactly one transport,
and a stale figure cannot be claimed at all."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import select

from ems.db import get_db
from ems.errors import Conflict
from ems.hospitals import service
from ems.hospitals.models import BedAvailability, BedCategory
from tests.factories import make_hospital


def _available(app: Flask, hospital_id: int, category: str) -> int:
    with app.app_context(), get_db(app).session_scope() as s:
        bed = s.scalars(
            select(BedAvailability).where(
                BedAvailability.hospital_id == hospital_id,
                BedAvailability.category == BedCategory(category),
            )
        ).one()
        return bed.available


def test_claims_count_down_and_stop_at_zero(app: Flask) -> None:
    hid = make_hospital(app, beds={"ccu": 2})
    db = get_db(app)
    for remaining in (1, 0):
        with db.session_scope() as s:
            claim = service.claim_bed(session=s, hospital_id=hid, category=BedCategory.CCU)
            assert claim == service.BedClaim(service.BedClaimStatus.CLAIMED, remaining)
    with pytest.raises(Conflict) as err, db.session_scope() as s:
        service.claim_bed(session=s, hospital_id=hid, category=BedCategory.CCU)
    assert err.value.code == "no_bed"
    assert _available(app, hid, "ccu") == 0


def test_a_stale_figure_cannot_be_claimed(app: Flask) -> None:
    hid = make_hospital(app, beds={"general": 5}, ttl_min=-1)
    with pytest.raises(Conflict), get_db(app).session_scope() as s:
        service.claim_bed(session=s, hospital_id=hid, category=BedCategory.GENERAL)
    assert _available(app, hid, "general") == 5


def test_an_accepting_hospital_may_take_a_patient_on_a_stale_or_missing_figure(
    app: Flask,
) -> None:
    stale = make_hospital(app, name="期限切れ", beds={"general": 5}, ttl_min=-1)
    db = get_db(app)
    with db.session_scope() as s:
        claim = service.claim_bed(
            session=s, hospital_id=stale, category=BedCategory.GENERAL, allow_unknown=True
        )
        assert claim == service.BedClaim(service.BedClaimStatus.STALE, None)
        missing = service.claim_bed(
            session=s, hospital_id=stale, category=BedCategory.ICU, allow_unknown=True
        )
        assert missing.status is service.BedClaimStatus.UNKNOWN
        odd = service.claim_bed(session=s, hospital_id=stale, category="ward", allow_unknown=True)
        assert odd.status is service.BedClaimStatus.UNKNOWN
    # Nothing was taken from the expired figure: nobody knows what it stands for.
    assert _available(app, stale, "general") == 5


def test_a_fresh_full_figure_refuses_even_an_accepting_hospital(app: Flask) -> None:
    hid = make_hospital(app, beds={"icu": 0})
    with pytest.raises(Conflict) as err, get_db(app).session_scope() as s:
        service.claim_bed(session=s, hospital_id=hid, category=BedCategory.ICU, allow_unknown=True)
    assert err.value.code == "no_bed"


def _two_claims_at_once(app: Flask, hospital_id: int) -> list[str]:
    db = get_db(app)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        try:
            with db.session_scope() as s:
                service.claim_bed(session=s, hospital_id=hospital_id, category=BedCategory.ICU)
            result = "won"
        except Conflict as err:
            result = err.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.postgres
def test_two_transports_race_for_the_last_bed(app: Flask, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("races need real concurrent transactions (TEST_DATABASE_URL)")
    for round_ in range(6):
        hid = make_hospital(app, name=f"最後の1床{round_}", beds={"icu": 1})
        assert _two_claims_at_once(app, hid) == ["no_bed", "won"], round_
        assert _available(app, hid, "icu") == 0

"""Hospitals and their bed availability.

Every bed figure carries an expiry: prefectural availability systems failed because
their data went stale unnoticed, so a figure past its ``expires_at`` reads as stale
and counts as unknown. ``claim_bed`` takes the last free bed of a category with a
conditional UPDATE, so that two transports racing for it end with one winner; it is
the one place that decrements a bed count (the dispatcher's accept path uses it too).
``release_bed`` gives such a bed back when the patient does not come after all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ems.access import guard
from ems.access.guard import Context
from ems.audit import service as audit
from ems.auth.models import Role, User
from ems.db import utcnow
from ems.errors import Conflict, NotFound, ValidationFailed
from ems.events import Event, emit
from ems.hospitals.models import BedAvailability, BedCategory, DiversionStatus, Hospital
from ems.hospitals.schemas import (
    DB_ID_MAX,
    AvailabilityUpdate,
    BedRead,
    BedUpdate,
    HospitalCreate,
    HospitalRead,
)


def get(*, session: Session, hospital_id: int) -> Hospital:
    hospital = session.get(Hospital, hospital_id) if 0 < hospital_id <= DB_ID_MAX else None
    if hospital is None:
        raise NotFound(f"hospital {hospital_id} does not exist", code="hospital_not_found")
    return hospital


def list_all(*, session: Session) -> Sequence[Hospital]:
    return session.scalars(select(Hospital).order_by(Hospital.id)).all()


def is_stale(bed: BedAvailability, now: dt.datetime | None = None) -> bool:
    return bed.expires_at <= (now or utcnow())


def effective_diversion(
    hospital: Hospital, now: dt.datetime | None = None
) -> tuple[DiversionStatus, list[BedCategory]]:
    """The diversion in force now: an expired one no longer holds."""
    now = now or utcnow()
    if hospital.diversion is DiversionStatus.OPEN:
        return DiversionStatus.OPEN, []
    if hospital.diversion_until is not None and hospital.diversion_until <= now:
        return DiversionStatus.OPEN, []
    if hospital.diversion is DiversionStatus.CATEGORY_DIVERSION:
        return hospital.diversion, [BedCategory(c) for c in hospital.diverted_categories]
    return hospital.diversion, []


def to_read(hospital: Hospital, now: dt.datetime | None = None) -> HospitalRead:
    now = now or utcnow()
    diversion, diverted = effective_diversion(hospital, now)
    return HospitalRead(
        id=hospital.id,
        name=hospital.name,
        name_en=hospital.name_en,
        lat=hospital.lat,
        lon=hospital.lon,
        level=hospital.level,
        capabilities=list(hospital.capabilities),
        diversion=diversion,
        diverted_categories=diverted,
        diversion_until=hospital.diversion_until if diversion is not DiversionStatus.OPEN else None,
        phone=hospital.phone,
        beds=[
            BedRead(
                category=b.category,
                available=b.available,
                capacity=b.capacity,
                updated_at=b.updated_at,
                expires_at=b.expires_at,
                stale=is_stale(b, now),
            )
            for b in hospital.beds
        ],
    )


def announce(hospital: Hospital) -> HospitalRead:
    """Bed availability is the shared picture of the region: every role sees every hospital."""
    read = to_read(hospital)
    emit(
        Event(
            "hospital.updated",
            read.model_dump(mode="json"),
            roles=("dispatcher", "paramedic", "er_staff", "admin"),
        )
    )
    return read


def create(*, session: Session, data: HospitalCreate, actor: User | None) -> Hospital:
    hospital = Hospital(
        name=data.name,
        name_en=data.name_en,
        lat=data.lat,
        lon=data.lon,
        level=data.level,
        capabilities=[c.value for c in data.capabilities],
        phone=data.phone,
        diversion=DiversionStatus.OPEN,
        diverted_categories=[],
    )
    session.add(hospital)
    session.flush()
    now = utcnow()
    for bed in data.beds:
        session.add(_new_bed(hospital.id, bed, now=now, actor=actor))
    session.flush()
    session.refresh(hospital, ["beds"])
    return hospital


def _new_bed(
    hospital_id: int, bed: BedUpdate, *, now: dt.datetime, actor: User | None
) -> BedAvailability:
    return BedAvailability(
        hospital_id=hospital_id,
        category=bed.category,
        available=bed.available,
        capacity=bed.capacity if bed.capacity is not None else bed.available,
        updated_at=now,
        expires_at=now + dt.timedelta(minutes=bed.ttl_min),
        updated_by=actor.id if actor else None,
    )


def register(*, session: Session, actor: User, data: HospitalCreate) -> HospitalRead:
    """A new hospital on the board: audited and announced."""
    hospital = create(session=session, data=data, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="hospital.create",
        target_type="hospital",
        target_id=str(hospital.id),
    )
    return announce(hospital)


def change_availability(
    *, session: Session, actor: User, ctx: Context, hospital_id: int, data: AvailabilityUpdate
) -> HospitalRead:
    """This hospital's ER staff (on duty) update its beds and diversion."""
    hospital = get(session=session, hospital_id=hospital_id)
    code = ""
    if actor.role is not Role.ADMIN and (
        actor.role is not Role.ER_STAFF or actor.hospital_id != hospital.id
    ):
        code = "not_your_hospital"
    elif not actor.on_duty:
        code = "off_duty"
    if code:
        guard.refuse(
            ctx,
            actor=actor,
            action="hospital.availability",
            code=code,
            target_type="hospital",
            target_id=str(hospital_id),
            detail="only this hospital's ER staff on duty may change its availability",
        )
    update_availability(session=session, hospital=hospital, data=data, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="hospital.availability",
        target_type="hospital",
        target_id=str(hospital.id),
        detail=data.model_dump(mode="json", exclude_unset=True),
    )
    return announce(hospital)


def update_availability(
    *, session: Session, hospital: Hospital, data: AvailabilityUpdate, actor: User
) -> Hospital:
    """Apply a partial update; every check runs before the first write."""
    now = utcnow()
    current = {b.category: b for b in hospital.beds}
    for bed in data.beds:
        existing = current.get(bed.category)
        capacity = bed.capacity
        if capacity is None:
            capacity = existing.capacity if existing is not None else bed.available
        if bed.available > capacity:
            raise ValidationFailed(
                f"{bed.category.value}: {bed.available} available exceeds capacity {capacity}",
                code="exceeds_capacity",
            )
    diversion = data.diversion if data.diversion is not None else hospital.diversion
    diverted = (
        data.diverted_categories
        if data.diverted_categories is not None
        else [BedCategory(c) for c in hospital.diverted_categories]
    )
    if diversion is DiversionStatus.CATEGORY_DIVERSION and not diverted:
        raise ValidationFailed(
            "a category diversion names at least one category", code="diverted_categories_required"
        )
    if data.diversion_until is not None and data.diversion_until <= now:
        raise ValidationFailed("diversion_until lies in the past", code="diversion_until_past")

    for bed in data.beds:
        existing = current.get(bed.category)
        if existing is None:
            session.add(_new_bed(hospital.id, bed, now=now, actor=actor))
            continue
        existing.available = bed.available
        if bed.capacity is not None:
            existing.capacity = bed.capacity
        existing.updated_at = now
        existing.expires_at = now + dt.timedelta(minutes=bed.ttl_min)
        existing.updated_by = actor.id
    if data.diversion is not None:
        hospital.diversion = data.diversion
        if data.diversion is DiversionStatus.OPEN:
            hospital.diverted_categories = []
            hospital.diversion_until = None
    if data.diverted_categories is not None and diversion is not DiversionStatus.OPEN:
        hospital.diverted_categories = [c.value for c in data.diverted_categories]
    if "diversion_until" in data.model_fields_set and diversion is not DiversionStatus.OPEN:
        hospital.diversion_until = data.diversion_until
    session.flush()
    session.refresh(hospital, ["beds"])
    return hospital


class BedClaimStatus(StrEnum):
    CLAIMED = "claimed"  # a fresh figure had a free bed; it is one lower now
    UNKNOWN = "unknown"  # the hospital reports no figure for the category
    STALE = "stale"  # the figure expired: nobody knows whether the bed is there


@dataclass(frozen=True, slots=True)
class BedClaim:
    status: BedClaimStatus
    remaining: int | None  # beds left after a claim; None when nothing was claimed


def claim_bed(
    *,
    session: Session,
    hospital_id: int,
    category: BedCategory | str,
    allow_unknown: bool = False,
) -> BedClaim:
    """Take one bed of a category.

    The decrement is a single conditional UPDATE, so under concurrency exactly as
    many claims succeed as there were beds; the others get ``no_bed``. A fresh
    figure of zero always refuses. A stale or missing figure cannot be claimed:
    by default that refuses too (``no_bed``); with ``allow_unknown`` (a hospital
    accepting a patient itself knows better than its expired figure) the answer
    says ``unknown`` or ``stale`` and nothing is decremented.
    """
    try:
        cat = BedCategory(category)
    except ValueError:
        if allow_unknown:
            return BedClaim(BedClaimStatus.UNKNOWN, None)
        raise ValidationFailed(
            f"no bed category {category!r}", code="unknown_bed_category"
        ) from None
    now = utcnow()
    result = session.execute(
        update(BedAvailability)
        .where(
            BedAvailability.hospital_id == hospital_id,
            BedAvailability.category == cat,
            BedAvailability.available > 0,
            BedAvailability.expires_at > now,
        )
        .values(available=BedAvailability.available - 1)
        .returning(BedAvailability.available)
        .execution_options(synchronize_session=False)
    )
    remaining = result.scalar_one_or_none()
    if remaining is not None:
        _expire_cached(session, hospital_id, cat)
        return BedClaim(BedClaimStatus.CLAIMED, int(remaining))
    if allow_unknown:
        # The UPDATE matched nothing: tell "no figure" and "expired figure" apart
        # from "fresh and full", which still refuses.
        expires_at = session.scalar(
            select(BedAvailability.expires_at).where(
                BedAvailability.hospital_id == hospital_id, BedAvailability.category == cat
            )
        )
        if expires_at is None:
            return BedClaim(BedClaimStatus.UNKNOWN, None)
        if expires_at <= now:
            return BedClaim(BedClaimStatus.STALE, None)
    raise Conflict(
        f"no {cat.value} bed is known to be free at hospital {hospital_id}",
        code="no_bed",
    )


def release_bed(*, session: Session, hospital_id: int, category: str) -> int | None:
    """Give back one bed an accept claimed, the patient not coming after all: one more
    available, never above the capacity (the ER may have counted it back already).
    Returns the beds now available, or None when nothing changed."""
    try:
        cat = BedCategory(category)
    except ValueError:
        return None
    result = session.execute(
        update(BedAvailability)
        .where(
            BedAvailability.hospital_id == hospital_id,
            BedAvailability.category == cat,
            BedAvailability.available < BedAvailability.capacity,
        )
        .values(available=BedAvailability.available + 1)
        .returning(BedAvailability.available)
        .execution_options(synchronize_session=False)
    )
    remaining = result.scalar_one_or_none()
    if remaining is None:
        return None
    _expire_cached(session, hospital_id, cat)
    return int(remaining)


def _expire_cached(session: Session, hospital_id: int, category: BedCategory) -> None:
    """The UPDATE bypassed the identity map: drop a loaded copy so that it reloads."""
    for obj in list(session.identity_map.values()):
        if (
            isinstance(obj, BedAvailability)
            and obj.hospital_id == hospital_id
            and obj.category == category
        ):
            session.expire(obj)

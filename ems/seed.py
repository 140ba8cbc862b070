"""``ems seed-demo``: the synthetic demo region in the database.

Reads ``ems/regions/demo/region.json`` and creates its hospitals (beds with a
seeded-random availability valid for 60 minutes), fire stations, ambulances with
synthetic crews, and one login per role: admin, two dispatchers, one paramedic per
unit, one ER account per hospital. Then the dispatch package's demo seeder runs.
Running it on a seeded database changes nothing. Every name and password is for the
demo only. The demo patients, their cards and the tablets' certificates come from the
mock issuer afterwards (``python -m card_issuer seed-demo``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ems.auth.models import Role
from ems.auth.service import create_user
from ems.config import Config, refuse_in_production
from ems.db import utcnow
from ems.fleet.models import Station, Unit, UnitStatus
from ems.hospitals.models import (
    BedAvailability,
    BedCategory,
    DiversionStatus,
    EmergencyLevel,
    Hospital,
)

REGION_FILE = Path(__file__).resolve().parent / "regions" / "demo" / "region.json"
DEMO_PASSWORD = "demo-pass-2026"  # demo only: printed on purpose, never used in production
BED_TTL = dt.timedelta(minutes=60)
RNG_SEED = 2026

# Synthetic crew names: common surnames and given names, combined at random.
_SURNAMES = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "清水",
    "山崎",
    "森",
    "池田",
    "橋本",
    "阿部",
    "石川",
    "前田",
    "藤田",
    "小川",
    "岡田",
    "後藤",
]
_GIVEN = [
    "健一",
    "大輔",
    "翔太",
    "拓也",
    "直樹",
    "誠",
    "浩二",
    "亮",
    "達也",
    "和也",
    "美咲",
    "陽子",
    "千尋",
    "由美",
    "恵",
    "彩",
    "智子",
    "真由美",
    "沙織",
    "香織",
]
_CREW_ROLES = ("隊長", "機関員", "救急救命士")


@dataclass
class SeedReport:
    seeded: bool
    hospitals: int = 0
    stations: int = 0
    units: int = 0
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, for
    extras: dict[str, Any] = field(default_factory=dict)


def load_region(path: Path = REGION_FILE) -> dict[str, Any]:
    region: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return region


def seed_demo(
    *, session: Session, region: dict[str, Any] | None = None, rng_seed: int = RNG_SEED
) -> SeedReport:
    """Create the demo region; does nothing when any hospital exists already."""
    if session.scalar(select(func.count()).select_from(Hospital)):
        return SeedReport(seeded=False)
    region = region or load_region()
    rng = random.Random(rng_seed)
    now = utcnow()
    report = SeedReport(seeded=True)

    hospital_ids: dict[str, int] = {}
    for h in region["hospitals"]:
        hospital = Hospital(
            name=h["name"],
            name_en=h.get("name_en", ""),
            lat=h["lat"],
            lon=h["lon"],
            level=EmergencyLevel(h["level"]),
            capabilities=list(h.get("capabilities", [])),
            diversion=DiversionStatus.OPEN,
            diverted_categories=[],
            phone=h.get("phone", ""),
        )
        session.add(hospital)
        session.flush()
        hospital_ids[h["key"]] = hospital.id
        for category, capacity in h.get("beds", {}).items():
            session.add(
                BedAvailability(
                    hospital_id=hospital.id,
                    category=BedCategory(category),
                    capacity=capacity,
                    available=rng.randint(0, capacity),
                    updated_at=now,
                    expires_at=now + BED_TTL,
                )
            )
    report.hospitals = len(hospital_ids)

    units: list[Unit] = []
    for s in region["stations"]:
        station = Station(name=s["name"], name_en=s.get("name_en", ""), lat=s["lat"], lon=s["lon"])
        session.add(station)
        session.flush()
        report.stations += 1
        for call_sign in s.get("units", []):
            unit = Unit(
                call_sign=call_sign,
                station_id=station.id,
                status=UnitStatus.AVAILABLE,
                crew=[f"{role} {_name(rng)}" for role in _CREW_ROLES],
                lat=station.lat,
                lon=station.lon,
                position_at=now,
                status_at=now,
            )
            session.add(unit)
            units.append(unit)
    session.flush()
    report.units = len(units)

    def login(username: str, role: Role, label: str, **bind: int) -> None:
        create_user(
            session=session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=label,
            **bind,
        )
        report.logins.append((username, role.value, label))

    login("admin", Role.ADMIN, "管理者")
    login("dispatcher", Role.DISPATCHER, f"指令員 {_name(rng)}")
    login("dispatcher2", Role.DISPATCHER, f"指令員 {_name(rng)}")
    for n, unit in enumerate(units, start=1):
        login(f"medic-{n}", Role.PARAMEDIC, unit.call_sign, unit_id=unit.id)
    for h in region["hospitals"]:
        login(f"er-{h['key']}", Role.ER_STAFF, h["name"], hospital_id=hospital_ids[h["key"]])
    # Medical control at the base hospitals: one for a person (/mc), one for the simulator.
    base = next(
        (h["key"] for h in region["hospitals"] if h["level"] == "tertiary"),
        region["hospitals"][0]["key"],
    )
    login("mc-1", Role.MC_DOCTOR, f"MC医師 {_name(rng)}", hospital_id=hospital_ids[base])
    login("mc-sim", Role.MC_DOCTOR, f"MC医師 {_name(rng)}", hospital_id=hospital_ids[base])
    session.flush()
    return report


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"


def run_domain_seeders(*, session: Session, config: Config) -> dict[str, Any]:
    """The dispatch package seeds its own demo data. The demo's patients and cards come
    from the mock issuer (``python -m card_issuer seed-demo``): the server holds no CA key."""
    from ems.dispatch import demo as dispatch_demo

    return {
        module.__name__: module.seed(session=session, config=config) for module in (dispatch_demo,)
    }


def register(main: click.Group) -> None:
    @main.command("seed-demo")
    @click.option(
        "--migrate/--no-migrate",
        default=True,
        show_default=True,
        help="bring the schema to the latest revision first",
    )
    def seed_demo_command(migrate: bool) -> None:
        """Load the synthetic demo region and its demo logins (idempotent)."""
        from ems.cli import upgrade_database
        from ems.db import Database

        config = Config.from_env()
        refuse_in_production(config, "ems seed-demo")
        if migrate:
            upgrade_database(config.DATABASE_URL)
        db = Database(config.DATABASE_URL)
        try:
            with db.session_scope() as session:
                report = seed_demo(session=session)
                if report.seeded:
                    report.extras = run_domain_seeders(session=session, config=config)
        finally:
            db.engine.dispose()
        if not report.seeded:
            click.echo("demo region already present: nothing changed")
            return
        click.echo(
            f"seeded {report.hospitals} hospitals, {report.stations} stations, {report.units} units"
        )
        for name, result in report.extras.items():
            click.echo(f"  {name}: {_summary(result)}")
        click.echo(f"\ndemo logins (password for all: {DEMO_PASSWORD}, demo only):")
        for username, role, label in report.logins:
            click.echo(f"  {username:<28} {role:<11} {label}")
        click.echo("\ndemo patients and cards: python -m card_issuer seed-demo")


def _summary(result: Any) -> str:
    if isinstance(result, int):
        return f"{result} records"
    return "done"

"""The cards of the demo: the synthetic patients of ``ems.cards.demo`` stored in the
server's record store (through ``ems.patients.service``), a card for each, and a device
certificate for every unit's tablet.

Every person here is invented. The PINs are printed for the demo (1234, except
one card with 4321 so that a wrong-PIN demonstration is easy to stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from card_issuer import service
from card_issuer.ca import Issuer
from card_issuer.tokens import CardStore
from ems.cards.demo import demo_bundles
from ems.cards.models import Card, Device
from ems.cards.pki import CARD_CA, DEVICE_CA
from ems.fleet.models import Unit
from ems.patients import service as records
from ems.patients.records import RecordCipher

DEMO_PIN = "1234"
ODD_PIN = "4321"


@dataclass
class DemoReport:
    issuer_dir: str
    store_dir: str
    cards: list[tuple[str, int, str, str]] = field(
        default_factory=list
    )  # serial, patient, name, PIN
    devices: list[tuple[str, str]] = field(default_factory=list)  # name, directory
    skipped_cards: bool = False
    # Cards in the database that this issuer never issued (a demo directory from an
    # earlier layout, or another issuer): the server will not trust them.
    foreign_cards: int = 0
    published_to: str = ""


def seed(
    *,
    session: Session,
    issuer: Issuer,
    store: CardStore,
    cipher: RecordCipher,
    devices_dir: Path,
) -> DemoReport:
    """Create the CAs if missing, the demo patients with their cards, and the tablets'
    device certificates, with fresh CRLs. Running it again adds nothing already there."""
    issuer.init()
    for ca in (CARD_CA, DEVICE_CA):
        issuer.write_crl(ca)
    report = DemoReport(issuer_dir=str(issuer.directory), store_dir=str(store.directory))
    if session.scalar(select(func.count(Card.id))):
        report.skipped_cards = True
        mine = {e["fingerprint"] for e in issuer.issued(CARD_CA).values()}
        report.foreign_cards = sum(
            1 for fp in session.scalars(select(Card.cert_fingerprint)) if fp not in mine
        )
    else:
        for i, b in enumerate(demo_bundles()):
            patient = records.create_patient(session=session, cipher=cipher, bundle=b)
            pin = ODD_PIN if i == 4 else DEMO_PIN
            card = service.issue_card(
                session=session,
                issuer=issuer,
                store=store,
                patient_id=patient.id,
                pin=pin,
                serial=f"MNDEMO{i + 1:04d}",
            )
            name = b["entry"][0]["resource"]["name"][0]["text"]
            report.cards.append((card.serial, patient.id, name, pin))
    for unit in session.scalars(select(Unit).order_by(Unit.id)):
        name = f"tablet-unit-{unit.id}"
        if session.scalar(select(Device.id).where(Device.name == name)) is not None:
            continue
        out = devices_dir / f"unit-{unit.id}"
        service.issue_device(
            session=session, issuer=issuer, unit_id=unit.id, name=name, out_dir=out
        )
        report.devices.append((name, str(out)))
    return report


def print_report(report: DemoReport) -> None:
    click.echo(f"card issuer (CA keys, SO PINs): {report.issuer_dir}")
    click.echo(f"cards (SoftHSM2 tokens): {report.store_dir}")
    if report.published_to:
        click.echo(f"trust anchors and CRLs published to {report.published_to}")
    if report.skipped_cards:
        click.echo("demo cards already issued")
    if report.foreign_cards:
        click.echo(
            f"warning: {report.foreign_cards} cards in the database were not issued by "
            f"{report.issuer_dir}; the server will refuse them (start the demo afresh)",
            err=True,
        )
    for serial, patient_id, name, pin in report.cards:
        click.echo(f"  card {serial}  patient {patient_id:>3}  {name}  PIN {pin}")
    for name, directory in report.devices:
        click.echo(f"  tablet {name}: {directory}")
    if report.cards:
        click.echo(
            "read a card on a tablet: ems-ambulance card identify --transport N "
            f"--softhsm-conf {Path(report.store_dir) / 'softhsm2.conf'} --token SERIAL"
        )

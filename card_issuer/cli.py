"""``python -m card_issuer …``: the municipal office's terminal of the mock JPKI.

Every command works in the issuer's directory (``--issuer-dir``, env ``ISSUER_DIR``,
default ``var/issuer``), which holds the CA keys and the cards' SO PINs. What the
server needs (the CA certificates and the CRLs) is copied to its PKI_DIR by
``--publish-to``. The commands that register a card or a tablet with a patient or a
unit (``issue``, ``issue-device``, ``seed-demo``) reach the server's database with
the server's settings (``EMS_DATABASE_URL`` …); the others need only the directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from card_issuer import demo, service
from card_issuer.ca import ISSUING_CAS, Issuer
from card_issuer.errors import IssuerError
from card_issuer.tokens import CardStore, default_store_dir
from ems.config import DEFAULT_VAR_DIR, Config, refuse_in_production
from ems.errors import EmsError


def _issuer(issuer_dir: str) -> Issuer:
    issuer = Issuer(issuer_dir)
    # Keys in the server's PKI_DIR are what this tool exists to prevent. (Read as
    # Config.from_env reads it, without the rest of the server's settings.)
    server = Path(os.environ.get("EMS_PKI_DIR", os.environ.get("PKI_DIR", Config.PKI_DIR)))
    server = server.resolve()
    mine = issuer.directory
    if server == mine or server in mine.parents or mine in server.parents:
        raise click.ClickException(
            f"the issuer's directory {mine} and the server's PKI_DIR {server} must be "
            "apart: the server holds no key"
        )
    return issuer


def _store(issuer: Issuer, store_dir: str | None) -> CardStore:
    return CardStore(
        store_dir or default_store_dir(issuer.directory), so_pin_file=issuer.so_pin_path
    )


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (IssuerError, EmsError) as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None


@contextmanager
def _session(config: Config) -> Iterator[Session]:
    """A transaction on the server's database, for the register of cards and tablets."""
    from ems.db import Database

    db = Database(config.DATABASE_URL)
    try:
        with _refusals(), db.session_scope() as session:
            yield session
    finally:
        db.engine.dispose()


def _issuer_option[F: Callable[..., Any]](f: F) -> F:
    return click.option(
        "--issuer-dir",
        envvar="ISSUER_DIR",
        type=click.Path(file_okay=False),
        default=str(DEFAULT_VAR_DIR / "issuer"),
        show_default=True,
        help="the issuer's directory: CA keys, registers, SO PINs (never the server's PKI_DIR)",
    )(f)


def _store_option[F: Callable[..., Any]](f: F) -> F:
    return click.option(
        "--store",
        "store_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="card store directory (default: CARD_STORE_DIR, or cards/ beside the issuer's)",
    )(f)


def _publish_option[F: Callable[..., Any]](f: F) -> F:
    return click.option(
        "--publish-to",
        "publish_to",
        type=click.Path(file_okay=False),
        default=None,
        help="the server's PKI_DIR: copy the CA certificates and CRLs there (never a key)",
    )(f)


def _published(issuer: Issuer, publish_to: str | None) -> None:
    if publish_to is None:
        click.echo(
            f"publish to the server: python -m card_issuer crl --publish-to PKI_DIR "
            f"(from {issuer.directory})"
        )
        return
    changed = issuer.publish(publish_to)
    click.echo(f"published to {publish_to}: " + (", ".join(p.name for p in changed) or "unchanged"))


@click.group()
def main() -> None:
    """The mock My Number card issuer: CAs, cards, tablets, revocation, unlocking."""


@main.command("init-ca")
@_issuer_option
@_publish_option
def init_ca(issuer_dir: str, publish_to: str | None) -> None:
    """Create the root CA and the card and device issuing CAs."""
    issuer = _issuer(issuer_dir)
    with _refusals():
        created = issuer.init()
        click.echo(("created" if created else "already present:") + f" CAs in {issuer.directory}")
        _published(issuer, publish_to)


@main.command("issue")
@click.option("--patient", "patient_id", required=True, type=int)
@click.option("--pin", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--serial", default=None, help="card serial (default: generated)")
@_store_option
@_issuer_option
def issue(
    patient_id: int, pin: str, serial: str | None, store_dir: str | None, issuer_dir: str
) -> None:
    """Issue a card to a patient: token, on-card key pair, certificate, link to the record."""
    issuer = _issuer(issuer_dir)
    store = _store(issuer, store_dir)
    with _session(Config.from_env()) as session:
        card = service.issue_card(
            session=session,
            issuer=issuer,
            store=store,
            patient_id=patient_id,
            pin=pin,
            serial=serial,
        )
        click.echo(f"card {card.serial} issued to patient {patient_id} in {store.directory}")


@main.command("revoke")
@click.argument("serial")
@_publish_option
@_issuer_option
def revoke(serial: str, publish_to: str | None, issuer_dir: str) -> None:
    """Revoke a card and sign a new CRL (the server refuses the card once it has it)."""
    issuer = _issuer(issuer_dir)
    with _refusals():
        service.revoke_card(issuer=issuer, serial=serial)
        click.echo(f"card {serial} revoked; CRL signed")
        _published(issuer, publish_to)


@main.command("unlock")
@click.argument("serial")
@click.option("--new-pin", default=None, help="also set a new 4-digit PIN")
@_store_option
@_issuer_option
def unlock(serial: str, new_pin: str | None, store_dir: str | None, issuer_dir: str) -> None:
    """Reset a card's wrong-PIN counter (and optionally its PIN, with the SO PIN)."""
    issuer = _issuer(issuer_dir)
    with _refusals():
        _store(issuer, store_dir).unlock(serial, new_pin=new_pin)
    click.echo(f"card {serial} unlocked")


@main.command("issue-device")
@click.option("--unit", "unit_ref", required=True, help="unit id or call sign")
@click.option("--name", default=None, help="device name (default: tablet-<call sign>)")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@_issuer_option
def issue_device(unit_ref: str, name: str | None, out_dir: str, issuer_dir: str) -> None:
    """Issue a tablet's device key and certificate (signs PIN-less attestations)."""
    from ems.fleet.models import Unit

    issuer = _issuer(issuer_dir)
    with _session(Config.from_env()) as session:
        unit = (
            session.get(Unit, int(unit_ref))
            if unit_ref.isdigit()
            else session.scalar(select(Unit).where(Unit.call_sign == unit_ref))
        )
        if unit is None:
            raise click.ClickException(f"unit_not_found: no unit {unit_ref}")
        device = service.issue_device(
            session=session,
            issuer=issuer,
            unit_id=unit.id,
            name=name or f"tablet-{unit.call_sign}",
            out_dir=out_dir,
        )
        click.echo(f"device {device.name} for unit {unit.call_sign}: {out_dir}")


@main.command("revoke-device")
@click.argument("name")
@_publish_option
@_issuer_option
def revoke_device(name: str, publish_to: str | None, issuer_dir: str) -> None:
    """Revoke a tablet's device certificate and sign a new CRL."""
    issuer = _issuer(issuer_dir)
    with _refusals():
        service.revoke_device(issuer=issuer, name=name)
        click.echo(f"device {name} revoked; CRL signed")
        _published(issuer, publish_to)


@main.command("crl")
@_publish_option
@_issuer_option
def crl(publish_to: str | None, issuer_dir: str) -> None:
    """Sign both CRLs afresh (each is valid 30 days) and hand them to the server."""
    issuer = _issuer(issuer_dir)
    with _refusals():
        for ca in ISSUING_CAS:
            issuer.write_crl(ca)
        click.echo(f"CRLs signed in {issuer.directory}")
        _published(issuer, publish_to)


@main.command("seed-demo")
@_store_option
@_publish_option
@click.option(
    "--devices-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="where the tablets' device keys go (default: devices/ beside the issuer's directory)",
)
@_issuer_option
def seed_demo(
    store_dir: str | None, publish_to: str | None, devices_dir: str | None, issuer_dir: str
) -> None:
    """Synthetic patients with Japanese histories, their cards and the units' tablets.

    Run after `ems seed-demo` (the units must exist). Publishes to the server's
    PKI_DIR unless --publish-to names another directory."""
    from ems.patients.records import RecordCipher

    config = Config.from_env()
    with _refusals():
        refuse_in_production(config, "python -m card_issuer seed-demo")
    issuer = _issuer(issuer_dir)
    store = _store(issuer, store_dir)
    with _session(config) as session:
        report = demo.seed(
            session=session,
            issuer=issuer,
            store=store,
            cipher=RecordCipher(config.RECORD_ENCRYPTION_KEY),
            devices_dir=Path(devices_dir or issuer.directory.parent / "devices"),
        )
    target = publish_to or config.PKI_DIR
    with _refusals():
        issuer.publish(target)
    report.published_to = str(target)
    demo.print_report(report)

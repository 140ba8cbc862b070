"""``ems cards …``: the issuance tooling (CAs, cards, devices, revocation, unlocking)
and the patient's access log, for operators at a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from ems.config import Config
from ems.errors import EmsError


@contextmanager
def _session(config: Config) -> Iterator[Session]:
    from ems.db import Database

    db = Database(config.DATABASE_URL)
    try:
        with db.session_scope() as session:
            yield session
    except EmsError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    finally:
        db.engine.dispose()


def _store_option[F: Callable[..., Any]](f: F) -> F:
    return click.option(
        "--store",
        "store_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="card store directory (default: cards/ beside the PKI directory)",
    )(f)


def _store(config: Config, store_dir: str | None) -> Any:
    from ems.cards.tokens import CardStore, card_store_dir

    return CardStore(store_dir or card_store_dir(config))


def _cipher(config: Config) -> Any:
    from ems.cards.records import RecordCipher

    return RecordCipher(config.RECORD_ENCRYPTION_KEY)


def register(main: click.Group) -> None:
    @main.group()
    def cards() -> None:
        """My Number card issuance (mock JPKI) and patient records."""

    @cards.command("init-ca")
    def init_ca() -> None:
        """Create the root CA and the card and device issuing CAs in PKI_DIR."""
        from ems.cards import pki

        config = Config.from_env()
        created = pki.init_ca(Path(config.PKI_DIR))
        click.echo(("created" if created else "already present:") + f" CAs in {config.PKI_DIR}")

    @cards.command("create-patient")
    @click.option("--bundle", "bundle_path", required=True, type=click.Path(dir_okay=False))
    def create_patient(bundle_path: str) -> None:
        """Store a patient's FHIR R4 Bundle (validated, encrypted) and print the patient id."""
        from ems.cards import service

        config = Config.from_env()
        bundle = json.loads(Path(bundle_path).read_text())
        with _session(config) as session:
            patient = service.create_patient(session=session, cipher=_cipher(config), bundle=bundle)
            click.echo(f"patient {patient.id}")

    @cards.command("issue")
    @click.option("--patient", "patient_id", required=True, type=int)
    @click.option("--pin", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--serial", default=None, help="card serial (default: generated)")
    @_store_option
    def issue(patient_id: int, pin: str, serial: str | None, store_dir: str | None) -> None:
        """Issue a card to a patient: token, on-card key pair, certificate, link to the record."""
        from ems.cards import service

        config = Config.from_env()
        store = _store(config, store_dir)
        with _session(config) as session:
            card = service.issue_card(
                session=session,
                pki_dir=config.PKI_DIR,
                store=store,
                patient_id=patient_id,
                pin=pin,
                serial=serial,
            )
            click.echo(f"card {card.serial} issued to patient {patient_id} in {store.directory}")

    @cards.command("revoke")
    @click.argument("serial")
    def revoke(serial: str) -> None:
        """Revoke a card and publish a new CRL."""
        from ems.cards import service

        config = Config.from_env()
        with _session(config) as session:
            service.revoke_card(session=session, serial=serial, pki_dir=config.PKI_DIR)
            click.echo(f"card {serial} revoked; CRL regenerated")

    @cards.command("unlock")
    @click.argument("serial")
    @click.option("--new-pin", default=None, help="also set a new 4-digit PIN")
    @_store_option
    def unlock(serial: str, new_pin: str | None, store_dir: str | None) -> None:
        """Reset a card's wrong-PIN counter (and optionally its PIN)."""
        config = Config.from_env()
        try:
            _store(config, store_dir).unlock(serial, new_pin=new_pin)
        except EmsError as err:
            raise click.ClickException(f"{err.code}: {err.detail}") from None
        click.echo(f"card {serial} unlocked")

    @cards.command("issue-device")
    @click.option("--unit", "unit_ref", required=True, help="unit id or call sign")
    @click.option("--name", default=None, help="device name (default: tablet-<call sign>)")
    @click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
    def issue_device(unit_ref: str, name: str | None, out_dir: str) -> None:
        """Issue a tablet's device key and certificate (signs PIN-less attestations)."""
        from sqlalchemy import select

        from ems.cards import service
        from ems.fleet.models import Unit

        config = Config.from_env()
        with _session(config) as session:
            unit = (
                session.get(Unit, int(unit_ref))
                if unit_ref.isdigit()
                else session.scalar(select(Unit).where(Unit.call_sign == unit_ref))
            )
            if unit is None:
                raise click.ClickException(f"unit_not_found: no unit {unit_ref}")
            device = service.issue_device(
                session=session,
                pki_dir=config.PKI_DIR,
                unit_id=unit.id,
                name=name or f"tablet-{unit.call_sign}",
                out_dir=out_dir,
            )
            click.echo(f"device {device.name} for unit {unit.call_sign}: {out_dir}")

    @cards.command("revoke-device")
    @click.argument("name")
    def revoke_device(name: str) -> None:
        """Revoke a tablet's device certificate."""
        from ems.cards import service

        config = Config.from_env()
        with _session(config) as session:
            service.revoke_device(session=session, name=name, pki_dir=config.PKI_DIR)
            click.echo(f"device {name} revoked; CRL regenerated")

    @cards.command("crl")
    def crl() -> None:
        """Re-publish both CRLs (they are valid 30 days)."""
        from ems.cards import pki

        config = Config.from_env()
        for ca in (pki.CARD_CA, pki.DEVICE_CA):
            pki.write_crl(Path(config.PKI_DIR), ca)
        click.echo("CRLs regenerated")

    @cards.command("rotate-records")
    def rotate_records() -> None:
        """Re-encrypt every record under the first key of RECORD_ENCRYPTION_KEY."""
        from ems.cards import service

        config = Config.from_env()
        with _session(config) as session:
            n = service.rotate_records(session=session, cipher=_cipher(config))
        click.echo(f"{n} records re-encrypted")

    @cards.command("access-log")
    @click.argument("patient_id", type=int)
    @click.option(
        "--as",
        "as_user",
        required=True,
        help="the administrator's username this look-up is made and audited as",
    )
    @click.option("--json", "as_json", is_flag=True, help="machine-readable output")
    def access_log(patient_id: int, as_user: str, as_json: bool) -> None:
        """Every look-up of a patient's record: who, when, how (マイナポータル's view)."""
        from sqlalchemy import select

        from ems.access.guard import Context
        from ems.audit import service as audit
        from ems.auth.models import User
        from ems.cards import service

        config = Config.from_env()
        denials: list[Any] = []
        ctx = Context(grace_s=float(config.RECORD_GRACE_S), on_denial=denials.append)
        try:
            with _session(config) as session:
                user = session.scalar(select(User).where(User.username == as_user))
                if user is None or not user.active:
                    raise click.ClickException(f"user_not_found: no active account {as_user!r}")
                entries = service.read_access_log(
                    session=session, user=user, ctx=ctx, patient_id=patient_id
                )
        finally:
            # A refusal rolled the look-up back; it is kept in a transaction of its own.
            if denials:
                with _session(config) as session:
                    for d in denials:
                        audit.write_denial(
                            session=session,
                            actor_id=d.actor_id,
                            action=d.action,
                            code=d.code,
                            target_type=d.target_type,
                            target_id=d.target_id,
                            detail={"via": "cli"},
                        )
        if as_json:
            json.dump(entries, sys.stdout, default=str, ensure_ascii=False, indent=1)
            click.echo()
            return
        if not entries:
            click.echo("no access recorded")
        for e in entries:
            who = e["actor_username"] or "-"
            how = e["assurance"] or e["path"] or e["code"]
            click.echo(
                f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['outcome']:<6}  {e['action']:<28}  "
                f"{who} ({e['actor_role'] or '-'})  transport {e['transport_id'] or '-'}  {how}"
            )

    @cards.command("seed-demo")
    def seed_demo() -> None:
        """Synthetic patients with Japanese histories, their cards and the units' tablets."""
        from ems.cards import demo

        config = Config.from_env()
        with _session(config) as session:
            report = demo.seed(session=session, config=config)
        demo.print_report(report)

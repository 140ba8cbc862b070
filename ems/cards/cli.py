"""``ems cards …``: the record store and the patient's access log, for operators at a
terminal. Cards and tablets are issued by the mock issuer, a separate tool
(``python -m card_issuer``): the server holds no CA key and no SO PIN."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
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


def _cipher(config: Config) -> Any:
    from ems.patients.records import RecordCipher

    return RecordCipher(config.RECORD_ENCRYPTION_KEY)


def register(main: click.Group) -> None:
    @main.group()
    def cards() -> None:
        """Patient records and their access log (cards: python -m card_issuer)."""

    @cards.command("create-patient")
    @click.option("--bundle", "bundle_path", required=True, type=click.Path(dir_okay=False))
    def create_patient(bundle_path: str) -> None:
        """Store a patient's FHIR R4 Bundle (validated, encrypted) and print the patient id."""
        from ems.patients import service as patients

        config = Config.from_env()
        bundle = json.loads(Path(bundle_path).read_text())
        with _session(config) as session:
            patient = patients.create_patient(
                session=session, cipher=_cipher(config), bundle=bundle
            )
            click.echo(f"patient {patient.id}")

    @cards.command("rotate-records")
    def rotate_records() -> None:
        """Re-encrypt every record under the first key of RECORD_ENCRYPTION_KEY."""
        from ems.patients import service as patients

        config = Config.from_env()
        with _session(config) as session:
            n = patients.rotate_records(session=session, cipher=_cipher(config))
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
        from ems.cards.access_log import read_access_log

        config = Config.from_env()
        denials: list[Any] = []
        ctx = Context(grace_s=float(config.RECORD_GRACE_S), on_denial=denials.append)
        try:
            with _session(config) as session:
                user = session.scalar(select(User).where(User.username == as_user))
                if user is None or not user.active:
                    raise click.ClickException(f"user_not_found: no active account {as_user!r}")
                entries = read_access_log(
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

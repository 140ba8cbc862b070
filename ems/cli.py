"""The ``ems`` command: what an operator needs to run the server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ems.config import Config
from ems.gunicorn_conf import gunicorn_argv


def upgrade_database(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # The revisions ship inside the server's package, so an installed server migrates too.
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, revision)


class EmsGroup(click.Group):
    """Turns a configuration error (production mode without its secrets, a demo command
    in production) into a one-line message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from ems.errors import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as err:
            raise click.ClickException(f"{err.code}: {err.detail}") from None


@click.group(cls=EmsGroup)
def main() -> None:
    """Emergency medical transport coordination server."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations."""
    config = Config.from_env()
    upgrade_database(config.DATABASE_URL, revision)
    click.echo(f"database at revision {revision}")


@main.command("create-user")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["dispatcher", "paramedic", "er_staff", "mc_doctor", "admin"]),
)
@click.option("--username", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--display-name", default="")
@click.option("--unit", "unit_id", type=int, default=None, help="unit id (paramedics)")
@click.option(
    "--hospital",
    "hospital_id",
    type=int,
    default=None,
    help="hospital id (ER staff; the base hospital of an MC doctor)",
)
def create_user(
    role: str,
    username: str,
    password: str,
    display_name: str,
    unit_id: int | None,
    hospital_id: int | None,
) -> None:
    """Create a staff account."""
    from ems.auth.models import Role
    from ems.auth.service import create_user as create
    from ems.db import Database
    from ems.errors import EmsError

    db_ = Database(Config.from_env().DATABASE_URL)
    try:
        with db_.session_scope() as session:
            user = create(
                session=session,
                username=username,
                password=password,
                role=Role(role),
                display_name=display_name,
                unit_id=unit_id,
                hospital_id=hospital_id,
            )
            click.echo(f"created {user.role.value} {user.username} (id {user.id})")
    except EmsError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None


@main.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=32, show_default=True, type=int)
def serve(bind: str, workers: int, threads: int) -> None:
    """Run the server under gunicorn."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        *gunicorn_argv(bind=bind, workers=workers, threads=threads),
        "--access-logfile",
        "-",
    ]
    os.execv(sys.executable, args)


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option(
    "--against",
    "against",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="checkpoints kept outside the database (the JSON lines `ems audit checkpoint` printed)",
)
def audit_verify(against: str | None) -> None:
    """Check the audit log: its hash chain, its signed checkpoints (a cut at the end, a
    recomputed chain) and, on PostgreSQL, that the application's role cannot rewrite
    it. Exit 1 on any finding."""
    import json

    from ems.audit import checkpoints, grants
    from ems.audit.service import verify_chain
    from ems.db import Database

    config = Config.from_env()
    keys = checkpoints.SigningKeys(config.AUDIT_SIGNING_KEY) if config.AUDIT_SIGNING_KEY else None
    external = []
    if against:
        lines = Path(against).read_text(encoding="utf-8").splitlines()
        external = [json.loads(line) for line in lines if line.strip()]
    db_ = Database(config.DATABASE_URL)
    findings: list[str] = []
    try:
        with db_.session_scope() as session:
            report = verify_chain(session=session)
            if not report.ok:
                findings.append(
                    f"audit log TAMPERED at entry {report.first_bad_id}: {report.reason} "
                    f"({report.entries} entries verified before it)"
                )
            elif keys is None:
                findings.append("AUDIT_SIGNING_KEY is not set: the checkpoints cannot be checked")
            else:
                cps = checkpoints.verify(
                    session=session,
                    keys=keys,
                    every_s=config.AUDIT_CHECKPOINT_S,
                    external=external,
                )
                if not cps.ok:
                    findings.append(f"audit checkpoints FAILED: {cps.reason}")
                else:
                    click.echo(
                        f"audit log intact: {report.entries} entries, {cps.checkpoints} "
                        f"signed checkpoints ({cps.uncovered} entries since the newest)"
                        + (f", {len(external)} kept checkpoints match" if external else "")
                    )
            findings += [f"database role: {p}" for p in grants.role_problems(session=session)]
            if grants.connected_as_app_role(session=session) is False:
                click.echo(
                    f"note: this connection's user is not limited by {grants.APP_ROLE}; "
                    "the server should log in as a member of it",
                    err=True,
                )
    finally:
        db_.engine.dispose()
    for finding in findings:
        click.echo(finding, err=True)
    if findings:
        sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the chain's head now (run it from a timer) and print it as a
    JSON line: keep those lines outside the database for `ems audit verify --against`."""
    import json

    from ems.audit import checkpoints
    from ems.db import Database

    config = Config.from_env()
    if not config.AUDIT_SIGNING_KEY:
        raise click.ClickException("AUDIT_SIGNING_KEY is not set")
    keys = checkpoints.SigningKeys(config.AUDIT_SIGNING_KEY)
    db_ = Database(config.DATABASE_URL)
    try:
        with db_.session_scope() as session:
            row = checkpoints.checkpoint_head(session=session, keys=keys)
            out = checkpoints.as_json(row) if row is not None else None
    finally:
        db_.engine.dispose()
    if out is None:
        click.echo("the audit log is empty: nothing to sign", err=True)
        return
    click.echo(json.dumps(out, sort_keys=True))


def _register_domain_commands() -> None:
    """Domain packages add their commands here (seed-demo, simulate, card issuance…)."""
    from ems import seed
    from ems.analysis import cli as analysis_cli
    from ems.cards import cli as cards_cli
    from ems.dispatch import cli as dispatch_cli
    from ems.idempotency import cli as idempotency_cli

    # The demo runner is a tool around the server: ``python -m simulation demo``.
    for module in (seed, dispatch_cli, cards_cli, idempotency_cli, analysis_cli):
        module.register(main)


_register_domain_commands()

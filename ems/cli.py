"""The ``ems`` command: what an operator needs to run the server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


@click.group()
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
    "--role", required=True, type=click.Choice(["dispatcher", "paramedic", "er_staff", "admin"])
)
@click.option("--username", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--display-name", default="")
@click.option("--unit", "unit_id", type=int, default=None, help="unit id (paramedics)")
@click.option("--hospital", "hospital_id", type=int, default=None, help="hospital id (ER staff)")
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
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 if it was tampered with."""
    from ems.audit.service import verify_chain
    from ems.db import Database

    db_ = Database(Config.from_env().DATABASE_URL)
    with db_.session_scope() as session:
        report = verify_chain(session=session)
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries")
        return
    click.echo(
        f"audit log TAMPERED at entry {report.first_bad_id}: {report.reason} "
        f"({report.entries} entries verified before it)",
        err=True,
    )
    sys.exit(1)


def _register_domain_commands() -> None:
    """Domain packages add their commands here (seed-demo, simulate, card issuance…)."""
    from ems import seed
    from ems.cards import cli as cards_cli
    from ems.dispatch import cli as dispatch_cli
    from ems.idempotency import cli as idempotency_cli

    # The demo runner is a tool around the server: ``python -m simulation demo``.
    for module in (seed, dispatch_cli, cards_cli, idempotency_cli):
        module.register(main)


_register_domain_commands()

"""``python -m simulation demo`` (``make demo``): the whole system in one command, on
the embedded default.

SQLite in ``var/demo`` (no PostgreSQL, no Redis), one relay process. It migrates,
loads the demo region (idempotent), starts the server (gunicorn, one worker with
threads), the relay, the paramedic tablet for the first unit, and the simulated
region: hospitals that answer and ambulances working the region's 119 calls end
to end. It prints the URLs and the logins, and on Ctrl-C (or SIGTERM, or when
``--duration`` is over) stops every child it started, its workers included.

Each part runs as a child process through its own command (``ems``, the relay,
the tablet's ``ems-ambulance``, ``python -m card_issuer``, ``python -m simulation
region``), as it would on its own machine.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from ems.config import DEFAULT_VAR_DIR
from ems.gunicorn_conf import gunicorn_argv
from simulation.procs import Child, Supervisor, wait_for_http, wait_for_port


def demo_env(var_dir: Path, *, port: int, relay_port: int) -> dict[str, str]:
    """One configuration for every child: the same database, keys and relay."""
    key_file = var_dir / "dev-record-key"
    if not key_file.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text("dev1:" + base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
    return {
        "EMS_ENV": "development",
        # Shared by the server and the relay for this run only; never written anywhere.
        "EMS_SECRET_KEY": secrets.token_urlsafe(32),
        "EMS_RECORD_ENCRYPTION_KEY": key_file.read_text().strip(),
        "EMS_DATABASE_URL": f"sqlite:///{var_dir / 'ems.sqlite3'}",
        "EMS_PKI_DIR": str(var_dir / "pki"),
        "EMS_REGION_DIR": str(var_dir / "region"),
        "EMS_CARD_STORE_DIR": str(var_dir / "cards"),
        # The mock card issuer's keys and SO PINs: beside the server's files, never in them.
        "ISSUER_DIR": str(var_dir / "issuer"),
        "EMS_RELAY_URL": f"ws://127.0.0.1:{relay_port}",
        "EMS_REDIS_URL": "",
        "EMS_LOG_LEVEL": "WARNING",
        "SOFTHSM2_CONF": str(var_dir / "cards" / "softhsm2.conf"),
    }


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise click.ClickException(f"{what} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def run_demo(
    *,
    var_dir: Path,
    host: str,
    port: int,
    relay_port: int,
    tablet_port: int,
    incidents: int,
    interval_s: float,
    speed: float,
    duration_s: float,
    video: bool,
) -> int:
    env = demo_env(var_dir, port=port, relay_port=relay_port)
    ems = [sys.executable, "-c", "from ems.cli import main; main()"]
    click.echo(f"var directory: {var_dir}")
    _run([*ems, "db", "upgrade"], env, "database upgrade")
    seeded = _run([*ems, "seed-demo", "--no-migrate"], env, "seed-demo")
    # The demo's patients, cards and tablet certificates come from the mock issuer,
    # which publishes its CA certificates and fresh CRLs into the server's PKI_DIR.
    issuer = [sys.executable, "-m", "card_issuer"]
    seeded += _run([*issuer, "seed-demo"], env, "card issuer seed-demo")
    sup = Supervisor(var_dir / "logs", env=env)
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    api = f"http://{host}:{port}"
    relay = f"ws://{host}:{relay_port}"
    try:
        server = sup.start(
            "server",
            [
                sys.executable,
                "-m",
                "gunicorn",
                *gunicorn_argv(bind=f"{host}:{port}", workers=1),
                "--graceful-timeout",
                "3",
            ],
        )
        relay_child = sup.start(
            "relay",
            [
                sys.executable,
                "-m",
                "hospital_gateway.server",
                "--host",
                host,
                "--port",
                str(relay_port),
            ],
        )
        wait_for_http(f"{api}/healthz", child=server, timeout_s=60)
        wait_for_port(host, relay_port, child=relay_child, timeout_s=30)
        tablet: Child | None = sup.start(
            "tablet", _tablet_argv(var_dir, api, relay, host, tablet_port)
        )
        sup.start(
            "region",
            [
                sys.executable,
                "-m",
                "simulation",
                "region",
                "--api",
                api,
                "--relay",
                relay,
                "--cards",
                env["EMS_CARD_STORE_DIR"],
                "--incidents",
                str(incidents),
                "--interval",
                str(interval_s),
                "--speed",
                str(speed),
                *([] if video else ["--no-video"]),
            ],
            quiet=False,  # the region narrates the calls on the demo's terminal
        )
        (var_dir / "demo-pids.json").write_text(
            json.dumps({c.name: c.pid for c in sup.children} | {"demo": os.getpid()})
        )
        if tablet is not None:
            wait_for_port(host, tablet_port, child=tablet, timeout_s=30)
        _print_welcome(api, relay, tablet_port if tablet else 0, host, seeded)
        started = time.monotonic()
        while not stopping["signal"]:
            if duration_s and time.monotonic() - started > duration_s:
                break
            for child in (server, relay_child):
                if not child.alive():
                    click.echo(f"{child.name} stopped unexpectedly:\n{child.tail()}", err=True)
                    return 1
            time.sleep(0.2)
        click.echo("\nstopping the demo…")
        return 0
    finally:
        sup.stop_all(timeout_s=8)
        for s, handler in previous.items():
            signal.signal(s, handler)
        click.echo("demo stopped: every process ended")


def _tablet_argv(var_dir: Path, api: str, relay: str, host: str, port: int) -> list[str]:
    argv = [
        sys.executable,
        "-c",
        "from ambulance_client.cli import main; main()",
        "tablet",
        "--server",
        api,
        "--relay",
        relay,
        "--listen",
        f"{host}:{port}",
        "--codec",
        "jpeg",
    ]
    conf = var_dir / "cards" / "softhsm2.conf"
    if conf.exists():
        argv += ["--softhsm-conf", str(conf)]
    device = var_dir / "devices" / "unit-1"
    if device.exists():
        argv += ["--device-dir", str(device)]
    return argv


def _print_welcome(api: str, relay: str, tablet_port: int, host: str, seeded: str) -> None:
    click.echo("")
    click.echo("The demo is running (Ctrl-C stops it):")
    click.echo(f"  dispatcher console    {api}/dispatch")
    click.echo(f"  ER dashboard          {api}/er")
    click.echo(f"  API + OpenAPI         {api}/api/v1/openapi.json")
    click.echo(f"  metrics               {api}/metrics")
    click.echo(
        f"  relay                 {relay}  (ER viewer: {relay.replace('ws', 'http', 1)}/viewer/)"
    )
    if tablet_port:
        click.echo(f"  paramedic tablet      http://{host}:{tablet_port}/  (unit 1: medic-1)")
    click.echo("")
    click.echo("Logins (password demo-pass-2026, demo only): admin, dispatcher, dispatcher2,")
    click.echo(
        "  medic-<n> (one per unit), er-<hospital key> (one per hospital, e.g. er-midori-emc)"
    )
    click.echo("Demo cards: PIN 1234 (MNDEMO0005: 4321)")
    if seeded.strip() and "nothing changed" not in seeded:
        click.echo("")
        click.echo(seeded.rstrip())
    click.echo("")
    click.echo("Simulated hospitals answer requests; simulated ambulances work the region's calls.")
    click.echo("")


@click.command("demo")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR / "demo",
    show_default=True,
    help="where the demo keeps its SQLite database, keys and cards",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--relay-port", default=8765, show_default=True, type=int)
@click.option("--tablet-port", default=8780, show_default=True, type=int)
@click.option("--incidents", default=0, type=int, help="stop the calls after N (0: keep going)")
@click.option(
    "--interval", default=300.0, show_default=True, help="simulated seconds between calls"
)
@click.option("--speed", default=10.0, show_default=True, help="how much faster than life")
@click.option("--duration", default=0.0, help="stop after this many seconds (0: Ctrl-C)")
@click.option("--video/--no-video", default=True, show_default=True)
def command(
    var_dir: Path,
    host: str,
    port: int,
    relay_port: int,
    tablet_port: int,
    incidents: int,
    interval: float,
    speed: float,
    duration: float,
    video: bool,
) -> None:
    """Run the whole system with a simulated region, on SQLite."""
    code = run_demo(
        var_dir=var_dir.resolve(),
        host=host,
        port=port,
        relay_port=relay_port,
        tablet_port=tablet_port,
        incidents=incidents,
        interval_s=interval,
        speed=speed,
        duration_s=duration,
        video=video,
    )
    sys.exit(code)

"""``python -m simulation demo`` (``make demo``): the whole system in one command, on
the embedded default.

SQLite in ``var/demo`` (no PostgreSQL, no Redis), one relay process. It stops a
demo left over from before (its pid file, ``demo.pid``) and checks its ports,
migrates, loads the demo region (idempotent), builds the region's Valhalla tiles if
they are missing (so that every ETA is a road time), starts the server (gunicorn,
one worker with threads), the relay, the paramedic tablet for the first unit, and
the simulated region: hospitals that answer and ambulances that drive the region's
119 calls end to end. It prints the URLs, the logins and what is left to people (the
tablet's unit, the ER of the printed login), and on SIGINT, SIGTERM or SIGHUP (the
terminal closed), or when ``--duration`` is over, stops every child it started,
their workers included, within 10 s.

Time is honest: the simulated people act at life pace; ``--speed N`` is a labelled
fast mode whose transports today's figures scale back to life-like minutes.

Each part runs as a child process through its own command (``ems``, the relay,
the tablet's ``ems-ambulance``, ``python -m card_issuer``, ``python -m simulation
region``), as it would on its own machine.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from ems.config import DEFAULT_VAR_DIR
from ems.dispatch.region import DEFAULT_REGION, is_built, region_dir
from ems.gunicorn_conf import gunicorn_argv
from simulation.actors import demo_region, unit_logins
from simulation.procs import Child, Supervisor, group_alive, wait_for_http, wait_for_port

PID_FILE = "demo.pid"
# The ER login the welcome text prints, and so the hospital left to people.
PEOPLE_HOSPITAL = "midori-central"
STOP_TIMEOUT_S = 7.0


class Stop(Exception):
    """A stop signal arrived while the demo was still starting."""


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


def echo(text: str = "", *, err: bool = False) -> None:
    """Print, unless the terminal is gone (a SIGHUP stop must still stop everything)."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(text, err=err)


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise click.ClickException(f"{what} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


# --- a demo left over from before, and busy ports -------------------------------------


def _is_ours(pid: int, var_dir: Path, *, parent: bool) -> bool:
    """Whether ``pid`` is still a process of the demo in ``var_dir`` (not a stranger
    that got the number since): the parent by its command line, a child by the
    environment the demo gave it."""
    try:
        if parent:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            return b"simulation" in cmdline and b"demo" in cmdline
        return str(var_dir).encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def stop_leftover(var_dir: Path, *, timeout_s: float = 15.0) -> list[int]:
    """Stop the demo the pid file names, if any of it still runs; returns the pids
    that were stopped. The parent is asked first (it stops its children); what is
    left after that is stopped group by group."""
    pid_file = var_dir / PID_FILE
    try:
        recorded = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return []
    parent = int(recorded.get("demo", 0))
    children = [int(p) for p in recorded.get("children", {}).values()]
    alive = [p for p in children if _is_ours(p, var_dir, parent=False) and group_alive(p)]
    parent_alive = parent not in (0, os.getpid()) and _is_ours(parent, var_dir, parent=True)
    stopped: list[int] = []
    if parent_alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(parent, signal.SIGTERM)
            stopped.append(parent)
    else:  # orphans: nobody else will stop them
        for pgid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (
        (parent_alive and _pid_alive(parent)) or any(group_alive(p) for p in alive)
    ):
        time.sleep(0.2)
    for pgid in alive:
        stopped.append(pgid)
        if group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return stopped


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not reaped) counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def busy_ports(host: str, ports: dict[str, int]) -> list[str]:
    """The ports something else listens on, named ("port 8000 (server)")."""
    busy = []
    for name, port in ports.items():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                why = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                busy.append(f"port {port} ({name}) on {host}: {why}")
    return busy


def _write_pids(var_dir: Path, sup: Supervisor, ports: dict[str, int]) -> None:
    data = {
        "demo": os.getpid(),
        "children": {c.name: c.pid for c in sup.children},
        "ports": ports,
    }
    tmp = var_dir / (PID_FILE + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(var_dir / PID_FILE)


# --- the run ----------------------------------------------------------------------------


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
    answer_delay: str,
    duration_s: float,
    video: bool,
) -> int:
    state = {"signal": 0, "starting": True}

    def on_signal(signum: int, _frame: Any) -> None:
        state["signal"] = signum
        if state["starting"]:
            state["starting"] = False  # once: the cleanup itself must not be interrupted
            raise Stop(signal.Signals(signum).name)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in stops}
    sup = Supervisor(var_dir / "logs")
    ports = {"server": port, "relay": relay_port, "tablet": tablet_port}
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        stopped = stop_leftover(var_dir)
        if stopped:
            echo(f"stopped a demo left over from before (pids {', '.join(map(str, stopped))})")
        busy = busy_ports(host, ports)
        if busy:
            raise click.ClickException(
                "cannot start the demo, a port is busy:\n  "
                + "\n  ".join(busy)
                + "\nchoose others: --port/--relay-port/--tablet-port "
                "(make demo PORT=8100 RELAY_PORT=8865 TABLET_PORT=8880)"
            )
        _write_pids(var_dir, sup, ports)
        return _start_and_watch(
            sup=sup,
            state=state,
            var_dir=var_dir,
            host=host,
            ports=ports,
            incidents=incidents,
            interval_s=interval_s,
            speed=speed,
            answer_delay=answer_delay,
            duration_s=duration_s,
            video=video,
        )
    except Stop as why:
        echo(f"\n{why}: stopping the demo…")
        return 0
    except (RuntimeError, TimeoutError) as exc:  # a part that did not come up
        echo(f"the demo could not start: {exc}", err=True)
        return 1
    finally:
        state["starting"] = False
        sup.stop_all(timeout_s=STOP_TIMEOUT_S)
        with contextlib.suppress(OSError):
            data = json.loads((var_dir / PID_FILE).read_text())
            if data.get("demo") == os.getpid():
                (var_dir / PID_FILE).unlink()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if sup.children:
            echo("demo stopped: every process ended")


def _start_and_watch(
    *,
    sup: Supervisor,
    state: dict[str, Any],
    var_dir: Path,
    host: str,
    ports: dict[str, int],
    incidents: int,
    interval_s: float,
    speed: float,
    answer_delay: str,
    duration_s: float,
    video: bool,
) -> int:
    port, relay_port, tablet_port = ports["server"], ports["relay"], ports["tablet"]
    env = demo_env(var_dir, port=port, relay_port=relay_port)
    sup.env = env
    ems = [sys.executable, "-c", "from ems.cli import main; main()"]
    echo(f"var directory: {var_dir}")
    _run([*ems, "db", "upgrade"], env, "database upgrade")
    seeded = _run([*ems, "seed-demo", "--no-migrate"], env, "seed-demo")
    # The demo's patients, cards and tablet certificates come from the mock issuer,
    # which publishes its CA certificates and fresh CRLs into the server's PKI_DIR.
    issuer = [sys.executable, "-m", "card_issuer"]
    seeded += _run([*issuer, "seed-demo"], env, "card issuer seed-demo")
    roads = region_dir(env["EMS_REGION_DIR"], DEFAULT_REGION)
    if not is_built(env["EMS_REGION_DIR"], DEFAULT_REGION):
        echo("building the demo region's roads (Valhalla tiles)…")
        echo(_run([*ems, "region", "build"], env, "region build").rstrip())
    api = f"http://{host}:{port}"
    relay = f"ws://{host}:{relay_port}"
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
    _write_pids(var_dir, sup, ports)
    wait_for_http(f"{api}/healthz", child=server, timeout_s=60)
    wait_for_port(host, relay_port, child=relay_child, timeout_s=30)
    tablet: Child = sup.start("tablet", _tablet_argv(var_dir, api, relay, host, tablet_port))
    pack = demo_region()
    people_unit = next(iter(unit_logins(pack)))  # the first unit: the tablet's
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
            "--region-dir",
            str(roads),
            "--incidents",
            str(incidents),
            "--interval",
            str(interval_s),
            "--speed",
            str(speed),
            "--answer-delay",
            answer_delay,
            "--people-unit",
            people_unit,
            "--people-hospital",
            PEOPLE_HOSPITAL,
            *([] if video else ["--no-video"]),
        ],
        quiet=False,  # the region narrates the calls on the demo's terminal
    )
    _write_pids(var_dir, sup, ports)
    wait_for_port(host, tablet_port, child=tablet, timeout_s=30)
    state["starting"] = False
    if state["signal"]:
        return 0
    _print_welcome(api, relay, tablet_port, host, seeded, speed=speed, people_unit=people_unit)
    started = time.monotonic()
    while not state["signal"]:
        if duration_s and time.monotonic() - started > duration_s:
            break
        for child in (server, relay_child):
            if not child.alive():
                echo(f"{child.name} stopped unexpectedly:\n{child.tail()}", err=True)
                return 1
        time.sleep(0.2)
    why = signal.Signals(state["signal"]).name if state["signal"] else "duration over"
    echo(f"\n{why}: stopping the demo…")
    return 0


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


def _print_welcome(
    api: str,
    relay: str,
    tablet_port: int,
    host: str,
    seeded: str,
    *,
    speed: float,
    people_unit: str,
) -> None:
    pack = demo_region()
    hospital = next(h for h in pack.hospitals if h["key"] == PEOPLE_HOSPITAL)
    medic = unit_logins(pack)[people_unit]
    echo("")
    echo("The demo is running (Ctrl-C stops it):")
    echo(f"  dispatcher console    {api}/dispatch")
    echo(f"  ER dashboard          {api}/er")
    echo(f"  MC doctor's console   {api}/mc  (mc-1)")
    echo(f"  API + OpenAPI         {api}/api/v1/openapi.json")
    echo(f"  metrics               {api}/metrics")
    echo(f"  relay                 {relay}  (ER viewer: {relay.replace('ws', 'http', 1)}/viewer/)")
    echo(f"  paramedic tablet      http://{host}:{tablet_port}/  ({people_unit}: {medic})")
    echo("")
    echo("Logins (password demo-pass-2026, demo only): admin, dispatcher, dispatcher2,")
    echo("  medic-<n> (one per unit), er-<hospital key> (one per hospital,")
    echo(f"  e.g. er-{PEOPLE_HOSPITAL}), mc-1 (medical control)")
    echo("Demo cards: PIN 1234 (MNDEMO0005: 4321)")
    if seeded.strip() and "nothing changed" not in seeded:
        echo("")
        echo(seeded.rstrip())
    echo("")
    echo("Left to you (the simulator never dispatches, drives or answers for them):")
    echo(f"  unit {people_unit} (the tablet above, {medic})")
    echo(f"  hospital {hospital['name']} (er-{PEOPLE_HOSPITAL})")
    echo(f"  the requests for instruction from {people_unit} (answer them at /mc as mc-1)")
    echo("Simulated: the dispatcher dispatcher2, the other ERs (answers after 30–120 s),")
    echo("  the MC doctor mc-sim (answers the other crews after 20–60 s), and the other")
    echo("  crews, who drive the roads, ask medical control and work any call assigned to them.")
    if speed > 1:
        echo(
            f"FAST MODE ×{speed:g}: the simulated people act {speed:g}× faster than life; "
            "today's figures scale their transports back to life-like minutes."
        )
    else:
        echo("Time: life pace. Every minute on the screens is a real minute.")
    echo("")


@click.command("demo")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR / "demo",
    show_default=True,
    help="where the demo keeps its SQLite database, keys, cards, roads and pid file",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--relay-port", default=8765, show_default=True, type=int)
@click.option("--tablet-port", default=8780, show_default=True, type=int)
@click.option("--incidents", default=0, type=int, help="stop the calls after N (0: keep going)")
@click.option(
    "--interval", default=600.0, show_default=True, help="life seconds between calls (mean)"
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    help="1: life pace. N > 1: FAST MODE, the simulated people N× faster than life "
    "(today's figures scale their transports back to life-like minutes)",
)
@click.option(
    "--answer-delay",
    default="30-120",
    show_default=True,
    help="life seconds a simulated ER takes to answer a request (LOW-HIGH)",
)
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
    answer_delay: str,
    duration: float,
    video: bool,
) -> None:
    """Run the whole system with a simulated region, on SQLite."""
    if speed < 1:
        raise click.BadParameter("1 (life pace) or more", param_hint="--speed")
    code = run_demo(
        var_dir=var_dir.resolve(),
        host=host,
        port=port,
        relay_port=relay_port,
        tablet_port=tablet_port,
        incidents=incidents,
        interval_s=interval,
        speed=speed,
        answer_delay=answer_delay,
        duration_s=duration,
        video=video,
    )
    sys.exit(code)

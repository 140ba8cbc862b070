"""``ems-ambulance tablet``: serve the paramedic page on the tablet itself.

Composes the agent (``agent.TabletService``) from the options, serves its page
(``web.create_agent_app``) and runs its background sync until the server stops.
"""

from __future__ import annotations

import logging

import click

from ambulance_client import guard
from ambulance_client.agent import TabletService
from ambulance_client.card_port import CardSettings
from ambulance_client.durable import default_state_dir
from ambulance_client.stream_port import StreamSettings
from ambulance_client.web import create_agent_app

log = logging.getLogger(__name__)


def serve(service: TabletService, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    app = create_agent_app(service, port=port)
    service.start()
    server = make_server(host, port, app, threaded=True)
    log.info("tablet page at http://%s:%d/", host, port)
    try:
        server.serve_forever()
    finally:
        service.close()


def register(main: click.Group) -> None:
    @main.command("tablet")
    @click.option(
        "--server", default="http://127.0.0.1:5000", show_default=True, help="API base URL"
    )
    @click.option(
        "--relay", default="ws://127.0.0.1:8765", show_default=True, help="relay WebSocket URL"
    )
    @click.option(
        "--listen",
        default="127.0.0.1:8780",
        show_default=True,
        help="host:port of the page (loopback only)",
    )
    @click.option("--pkcs11-module", default="", help="PKCS#11 module of the card reader")
    @click.option(
        "--token-label", default=None, help="the card's token label (default: first card)"
    )
    @click.option("--softhsm-conf", default=None, help="SOFTHSM2_CONF of a mock card")
    @click.option("--device-dir", default=None, help="the tablet's device key (PIN-less reads)")
    @click.option(
        "--unit-id",
        type=int,
        default=None,
        envvar="EMS_TABLET_UNIT_ID",
        help="the unit this tablet serves (default: the unit of the first paramedic to sign in)",
    )
    @click.option(
        "--state-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="where the outbox survives a crash (default: $XDG_DATA_HOME/ems-tablet)",
    )
    @click.option("--source", default="synthetic", show_default=True, help="camera source")
    @click.option("--codec", type=click.Choice(["h264", "jpeg"]), default="h264", show_default=True)
    @click.option(
        "--vitals-every",
        type=float,
        default=2.0,
        show_default=True,
        help="seconds between the simulated monitor's vital signs",
    )
    @click.option(
        "--monitor",
        "scenario",
        type=click.Choice(["stable", "arrest"]),
        default="stable",
        show_default=True,
        help="the simulated monitor: a stable patient, or a cardiac arrest (VF, shock, ROSC)",
    )
    def tablet(
        server: str,
        relay: str,
        listen: str,
        pkcs11_module: str,
        token_label: str | None,
        softhsm_conf: str | None,
        device_dir: str | None,
        unit_id: int | None,
        state_dir: str | None,
        source: str,
        codec: str,
        vitals_every: float,
        scenario: str,
    ) -> None:
        """Serve the paramedic tablet page, with the card reader and the stream."""
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter("use host:port", param_hint="--listen")
        if not guard.is_loopback(host):
            # Anyone on the ambulance's network could otherwise drive the card reader.
            raise click.BadParameter(
                f"{host} is not a loopback address: the agent serves this tablet only "
                "(use 127.0.0.1:PORT or localhost:PORT)",
                param_hint="--listen",
            )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        service = TabletService(
            server_url=server,
            relay_url=relay,
            card=CardSettings(
                module_path=pkcs11_module,
                token_label=token_label,
                softhsm_conf=softhsm_conf,
                device_dir=device_dir,
            ),
            stream=StreamSettings(
                relay_url=relay,
                source=source,
                codec=codec,
                vitals_every_s=vitals_every,
                monitor="arrest" if scenario == "arrest" else "stable",
            ),
            unit_id=unit_id,
            state_dir=state_dir or default_state_dir(),
        )
        click.echo(f"tablet page at http://{host}:{port}/ (server {server})", err=True)
        serve(service, host, int(port))

"""Run the relay (``ems-relay``, or ``python -m hospital_gateway.server``): settings
from the command line and environment, a ``Relay`` serving WebSocket streams and
HTTP on one port, until SIGTERM closes every connection gracefully.

This module only wires the parts, each with one job:

    settings.py   RelaySettings and how it is read from ``ems.config``
    relay.py      the relay core: connections, rooms, fan-out, feedback, re-checks
    protocol.py   the pure room registry and fan-out policy (no I/O)
    storage.py    storing records off the loop, busy and retry handling
    access.py     the Authorizer: tokens and stream access, asking ``ems.access``
    http.py       /healthz, /metrics, the viewer's static files, the URL layout
    redis_bus.py  sharing streams between relay processes
    cli.py        the command line and the stop signals
"""

from __future__ import annotations

import asyncio
import logging

from hospital_gateway.cli import settings_from_argv, stop_signal
from hospital_gateway.relay import Relay
from hospital_gateway.settings import RelaySettings

log = logging.getLogger("hospital_gateway")


async def run(settings: RelaySettings) -> None:
    """Serve until SIGTERM or SIGINT, then close every connection (1001) and stop."""
    relay = Relay(settings)
    await relay.start()
    log.info("relay listening", extra={"host": settings.host, "port": relay.port})
    stop = stop_signal()
    await stop.wait()
    log.info("relay stopping")
    await relay.stop()
    relay.db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """The streaming relay between ambulances and ERs (``ems-relay``)."""
    asyncio.run(run(settings_from_argv(argv)))


if __name__ == "__main__":
    main()

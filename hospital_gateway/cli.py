"""The ``ems-relay`` command line: its options, the settings they make together with
the environment (``ems.config``), logging, and the signals that stop the relay.

``hospital_gateway.server.main`` is the entry point: it takes its settings from
``settings_from_argv`` and, once the relay listens, waits on ``stop_signal``.
SIGTERM (or SIGINT) sets it, and the relay then closes every connection with 1001
(going away) so that clients reconnect elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from ems.config import Config
from hospital_gateway.settings import RelaySettings

DESCRIPTION = "The streaming relay between ambulances and ERs (``ems-relay``)."


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ems-relay", description=DESCRIPTION)
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--redis-url", default=None, help="share streams with other relays")
    return parser


def settings_from_argv(argv: list[str] | None = None) -> RelaySettings:
    """Parse ``argv``, read the environment, set up logging: the relay's settings."""
    from ems.logs import configure_logging

    args = parser().parse_args(argv)
    config = Config.from_env()
    configure_logging(config.LOG_LEVEL)
    return RelaySettings.from_config(
        config, host=args.host, port=args.port, redis_url=args.redis_url
    )


def stop_signal() -> asyncio.Event:
    """An event that SIGTERM or SIGINT sets, installed on the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop

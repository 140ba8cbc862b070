"""The relay's settings: one ``RelaySettings`` object, read from the server's
configuration (``ems.config.Config``, i.e. the environment) with command-line
overrides on top.

``hospital_gateway.cli`` builds it, ``hospital_gateway.relay.Relay`` runs on it;
tests build one directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ems.config import Config
from ems.events import CHANNEL as EVENTS_CHANNEL
from ems_contracts.frames import MAX_FRAME
from hospital_gateway.access import DEFAULT_RECORD_GRACE_S


@dataclass
class RelaySettings:
    host: str = "127.0.0.1"
    port: int = 8765
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "ems:relay:"
    # The API publishes its live events here (``ems.events``); ``transport.*`` ones
    # trigger an immediate access re-check.
    events_channel: str = EVENTS_CHANNEL
    max_size: int = MAX_FRAME
    # Until a socket has authenticated it may send this much in one message: a hello
    # with its token fits, a flood of large frames from strangers does not.
    unauthenticated_max_size: int = 4 * 1024
    # Connections held at once; more are closed at once with 1013 ``relay_full``.
    max_connections: int = 1000
    # /metrics: "Bearer <token>" when set; without one, open unless in production.
    metrics_token: str = ""
    production: bool = False
    ping_interval: float = 10.0
    ping_timeout: float = 10.0
    # Bytes buffered toward one viewer before ``send`` waits (backpressure).
    write_limit: int = 64 * 1024
    # How long an unauthenticated socket has to send its hello.
    auth_timeout_s: float = 3.0
    recheck_s: float = 2.0
    token_recheck_s: float = 30.0
    feedback_s: float = 2.0
    keyframe_request_s: float = 0.5
    # How long after a transport ended its crew may still deliver queued records.
    record_grace_s: float = DEFAULT_RECORD_GRACE_S
    # Patient analysis of the ECG and vitals (``hospital_gateway.analysis``): on unless
    # turned off, and off anyway without neurokit2. Threads of its worker pool.
    analysis: bool = True
    analysis_workers: int = 2

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> RelaySettings:
        """The settings ``config`` gives, then every override that is not None."""
        base = cls(
            database_url=config.DATABASE_URL,
            redis_url=config.REDIS_URL,
            events_channel=str(config.extra.get("EVENTS_CHANNEL") or EVENTS_CHANNEL),
            record_grace_s=config.RECORD_GRACE_S,
            max_connections=int(config.RELAY_MAX_CONNECTIONS),
            auth_timeout_s=float(config.RELAY_AUTH_TIMEOUT_S),
            metrics_token=config.METRICS_TOKEN,
            production=config.is_production,
        )
        relay = urlsplit(config.RELAY_URL)
        if relay.port:
            base.port = relay.port
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base

"""Configuration: one object, read from the environment.

Development and test modes may fall back to generated secrets; production mode
refuses to start while a secret is missing, so that no default secret can ever
reach a deployment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ems.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"

# Secrets that production mode must receive from the environment.
REQUIRED_SECRETS = ("SECRET_KEY", "RECORD_ENCRYPTION_KEY")


@dataclass
class Config:
    ENV: str = "development"  # development | test | production
    SECRET_KEY: str = ""
    DATABASE_URL: str = f"sqlite:///{DEFAULT_VAR_DIR / 'ems.sqlite3'}"
    REDIS_URL: str = ""
    RELAY_URL: str = "ws://127.0.0.1:8765"
    # Medical records are encrypted at rest with AES-256-GCM: "keyid:base64key[,keyid:base64key…]".
    # The first key encrypts; every listed key may decrypt (rotation).
    RECORD_ENCRYPTION_KEY: str = ""
    # The card PKI's trust anchors as the issuer publishes them: CA certificates and
    # CRLs only (python -m card_issuer … --publish-to PKI_DIR). No key is ever here.
    PKI_DIR: str = str(DEFAULT_VAR_DIR / "pki")
    # Built routing tiles per region live under REGION_DIR/<REGION>/.
    REGION_DIR: str = str(DEFAULT_VAR_DIR / "region")
    REGION: str = "demo"
    # A region pack's source folder (region.json, roads); empty: the bundled demo pack.
    REGION_PACK_DIR: str = ""
    # Redis channel of the live events; separate channels keep deployments apart.
    EVENTS_CHANNEL: str = "ems:events"
    TOKEN_TTL_S: int = 12 * 3600
    # After handover (or a stand-down) the tablet may still deliver the vitals, ECG and
    # notes it queued during an outage, for this long; later ones are refused for good.
    RECORD_GRACE_S: int = 6 * 3600
    MAX_CONTENT_LENGTH: int = 1024 * 1024
    # Requests a server process works on at once; the rest wait their turn. Live
    # event streams do not count: each holds a thread (so the server runs many more
    # threads than this), not a database connection, and mostly sleeps.
    MAX_ACTIVE_REQUESTS: int = 4
    # Live event streams: each open stream's token, duty and audience are checked
    # again this often (seconds), and a keep-alive goes out after this much silence,
    # so that a page that went away frees its stream within a few seconds.
    # (Fractions are allowed: a value from the environment is read with float().)
    EVENT_STREAM_RECHECK_S: float = 30
    EVENT_STREAM_HEARTBEAT_S: float = 5
    # Open streams allowed per user and per server process (each holds a thread: keep
    # the per-process bound below the threads a worker runs minus MAX_ACTIVE_REQUESTS).
    EVENT_STREAMS_PER_USER: int = 4
    EVENT_STREAMS_PER_PROCESS: int = 24
    LOG_LEVEL: str = "INFO"
    LOGIN_RATE_PER_MIN: int = 10
    CARD_AUTH_RATE_PER_MIN: int = 20
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> Config:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = os.environ.get(f"EMS_{f.name}", os.environ.get(f.name))
            if raw is not None:
                values[f.name] = int(raw) if f.type in ("int", int) else raw
        values.update(overrides or {})
        known = {f.name for f in fields(cls)}
        extra = {k: v for k, v in values.items() if k not in known}
        config = cls(**{k: v for k, v in values.items() if k in known}, extra=extra)
        config.finalize()
        return config

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    def finalize(self) -> None:
        missing = [name for name in REQUIRED_SECRETS if not getattr(self, name)]
        if self.is_production:
            if missing:
                raise ConfigError(
                    "production mode needs these settings from the environment: "
                    + ", ".join(missing)
                )
            if self.DATABASE_URL.startswith("sqlite") and "memory" in self.DATABASE_URL:
                raise ConfigError("production mode refuses an in-memory database")
            return
        # Development and tests: ephemeral secrets, never written anywhere.
        if not self.SECRET_KEY:
            self.SECRET_KEY = secrets.token_urlsafe(32)
        if not self.RECORD_ENCRYPTION_KEY:
            self.RECORD_ENCRYPTION_KEY = dev_record_key(self)

    def to_flask(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        out["TESTING"] = self.ENV == "test"
        return out


def dev_record_key(config: Config) -> str:
    """A development record key kept beside the database, so that the demo's
    encrypted records survive restarts. Never used in production mode."""
    import base64

    path = Path(config.PKI_DIR).parent / "dev-record-key"
    if path.exists():
        return path.read_text().strip()
    key = "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key

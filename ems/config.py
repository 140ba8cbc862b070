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
ENVS = ("development", "test", "production")


def default_env() -> str:
    """``ENV`` when the environment does not say: ``development`` only inside a developer
    checkout (a git work tree with its pyproject.toml), ``production`` anywhere else, so
    that an installed server that forgot ``ENV`` never writes its record key beside the
    database or takes a generated secret."""
    checkout = (PROJECT_ROOT / ".git").exists() and (PROJECT_ROOT / "pyproject.toml").exists()
    return "development" if checkout else "production"


@dataclass
class Config:
    # development | test | production; unset: development in a checkout, else production.
    ENV: str = field(default_factory=default_env)
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
    # Per account: after LOGIN_LOCKOUT_AFTER failed logins in a row every further
    # attempt waits, LOGIN_LOCKOUT_BASE_S doubled per failure, at most LOGIN_LOCKOUT_MAX_S.
    LOGIN_LOCKOUT_AFTER: int = 5
    LOGIN_LOCKOUT_BASE_S: int = 30
    LOGIN_LOCKOUT_MAX_S: int = 900
    # Reverse proxies in front of the server whose X-Forwarded-For/-Proto are believed
    # (werkzeug's ProxyFix); 0 trusts none, so a client cannot pick its own address.
    TRUSTED_PROXY_HOPS: int = 0
    CARD_AUTH_RATE_PER_MIN: int = 20
    # Wrong-PIN and locked-card reports per paramedic a minute.
    CARD_EVENT_RATE_PER_MIN: int = 10
    # How long past its next_update a CRL is still trusted (seconds).
    CRL_GRACE_S: int = 0
    # Signs the audit chain's checkpoints (Ed25519): "keyid:base64seed[,keyid:base64seed…]",
    # the first signs, all verify. Kept out of the database, like the record key.
    AUDIT_SIGNING_KEY: str = ""
    # A checkpoint of the chain's head at most this often while entries are written.
    AUDIT_CHECKPOINT_S: int = 300
    # The relay: connections it holds at once (more are closed with 1013 relay_full), and
    # how long an unauthenticated socket has to send its hello (a small frame limit
    # applies until then).
    RELAY_MAX_CONNECTIONS: int = 1000
    RELAY_AUTH_TIMEOUT_S: float = 3.0
    # /metrics needs "Authorization: Bearer METRICS_TOKEN"; unset: open in development
    # and test, closed (404) in production.
    METRICS_TOKEN: str = ""
    # The specified procedures a crew asks medical control about (comma-separated ids;
    # the pages name them in their language), and how long the first MC doctor has to
    # answer before the fallback doctors on the roster are alerted.
    INSTRUCTION_PROCEDURES: str = "iv_fluids,adrenaline,supraglottic_airway,intubation,glucose"
    MC_FALLBACK_S: int = 60
    # How long after arrival at hospital a patient stays on the ER board.
    ER_BOARD_HOURS: int = 6
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
        if self.ENV not in ENVS:
            raise ConfigError(f"ENV must be one of {', '.join(ENVS)}, not {self.ENV!r}")
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
        if not self.AUDIT_SIGNING_KEY:
            self.AUDIT_SIGNING_KEY = dev_key(self, "dev-audit-signing-key", "devaudit1")

    def to_flask(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        out["TESTING"] = self.ENV == "test"
        return out


def refuse_in_production(config: Config, what: str) -> None:
    """Stop ``what`` (demo data, known passwords) in production mode, with a clear message."""
    if config.is_production:
        raise ConfigError(
            f"{what} creates demo data with known passwords and does not run in production "
            "mode (ENV=production, or ENV unset outside a developer checkout); "
            "set ENV=development for a demo"
        )


def dev_record_key(config: Config) -> str:
    """A development record key kept beside the database, so that the demo's
    encrypted records survive restarts. Never used in production mode."""
    return dev_key(config, "dev-record-key", "dev1")


def dev_key(config: Config, name: str, key_id: str) -> str:
    """A development key ``key_id:base64(32 random bytes)`` kept in the file ``name``
    beside the database. Never used in production mode."""
    import base64

    path = Path(config.PKI_DIR).parent / name
    if path.exists():
        return path.read_text().strip()
    key = f"{key_id}:" + base64.b64encode(secrets.token_bytes(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key

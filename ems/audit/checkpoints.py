"""Signed checkpoints of the audit chain's head.

The hash chain (``ems.audit.service``) shows an edit or a deletion in the middle,
but anyone who can write the database can cut entries off its end or recompute
every hash after an edit. A checkpoint states "entry N had hash H at time T",
signed with Ed25519 by a key the database does not hold (``AUDIT_SIGNING_KEY``,
configured like the record key): after one, a recomputed chain no longer matches
it, and a cut that reaches a checkpointed entry is seen. Checkpoints are written
in the same transaction as the entries they cover, at most every
``AUDIT_CHECKPOINT_S`` per process while entries are written, and on demand by
``ems audit checkpoint`` (run it from a timer; each prints its checkpoint as a JSON
line to keep outside the database, which ``ems audit verify --against`` compares).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.audit.models import AuditCheckpoint, AuditEntry
from ems.db import utcnow
from ems.errors import ConfigError

EXTENSION = "ems_audit_checkpoints"


def message(*, at: dt.datetime, last_entry_id: int, head_hash: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    content = {
        "purpose": "ems-audit-checkpoint/v1",
        "at": at.astimezone(dt.UTC).isoformat(),
        "last_entry_id": last_entry_id,
        "head_hash": head_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


class SigningKeys:
    """``keyid:base64seed[,keyid:base64seed…]``: Ed25519 keys from their 32-byte seeds.
    The first signs; every one verifies (rotation)."""

    def __init__(self, spec: str) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.current = ""
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, sep, b64 = part.partition(":")
            try:
                seed = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                seed = b""
            if not sep or not key_id or len(key_id) > 32 or len(seed) != 32:
                raise ConfigError("AUDIT_SIGNING_KEY must be keyid:base64 of 32 random bytes[,…]")
            self.keys[key_id] = Ed25519PrivateKey.from_private_bytes(seed)
            self.current = self.current or key_id
        if not self.keys:
            raise ConfigError("AUDIT_SIGNING_KEY is empty")

    def sign(self, data: bytes) -> tuple[str, str]:
        signature = self.keys[self.current].sign(data)
        return self.current, base64.b64encode(signature).decode()

    def verify(self, key_id: str, data: bytes, signature: str) -> bool:
        key = self.keys.get(key_id)
        if key is None:
            return False
        try:
            key.public_key().verify(base64.b64decode(signature), data)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


class Checkpointer:
    """When this process writes its next checkpoint (one at its first audited commit,
    then at most every ``every_s`` seconds)."""

    def __init__(self, keys: SigningKeys, *, every_s: float) -> None:
        self.keys = keys
        self.every_s = every_s
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return False
            self._next = now + self.every_s
            return True


def init_app(app: Flask) -> None:
    spec = str(app.config.get("AUDIT_SIGNING_KEY", ""))
    if spec:
        app.extensions[EXTENSION] = Checkpointer(
            SigningKeys(spec), every_s=float(app.config.get("AUDIT_CHECKPOINT_S", 300))
        )


def write(
    *, session: Session, keys: SigningKeys, last_entry_id: int, head_hash: str
) -> AuditCheckpoint:
    """A checkpoint of the head (``last_entry_id``, ``head_hash``), in the caller's
    transaction (under the chain's lock when it comes from an audited commit)."""
    at = utcnow()
    key_id, signature = keys.sign(message(at=at, last_entry_id=last_entry_id, head_hash=head_hash))
    row = AuditCheckpoint(
        at=at,
        last_entry_id=last_entry_id,
        head_hash=head_hash,
        key_id=key_id,
        signature=signature,
    )
    session.add(row)
    session.flush()
    return row


def checkpoint_head(*, session: Session, keys: SigningKeys) -> AuditCheckpoint | None:
    """A checkpoint of the chain's current head (``ems audit checkpoint``); None while
    the log is empty."""
    from ems.audit.service import lock_chain

    lock_chain(session)
    head = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if head is None:
        return None
    return write(session=session, keys=keys, last_entry_id=head.id, head_hash=head.hash)


def as_json(row: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as ``ems audit checkpoint`` prints it (and ``--against`` reads it)."""
    return {
        "at": row.at.astimezone(dt.UTC).isoformat(),
        "last_entry_id": row.last_entry_id,
        "head_hash": row.head_hash,
        "key_id": row.key_id,
        "signature": row.signature,
    }


@dataclass
class CheckpointReport:
    ok: bool
    checkpoints: int = 0
    # Entries written after the newest checkpoint: no signature covers them yet.
    uncovered: int = 0
    reason: str = ""
    checkpoint_id: int | None = None


def _check_one(
    *, session: Session, keys: SigningKeys, cp: dict[str, Any], label: str
) -> str | None:
    at = dt.datetime.fromisoformat(str(cp["at"]))
    data = message(at=at, last_entry_id=int(cp["last_entry_id"]), head_hash=str(cp["head_hash"]))
    if not keys.verify(str(cp["key_id"]), data, str(cp["signature"])):
        return f"{label}: its signature does not verify (forged, or signed by an unknown key)"
    stored = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == cp["last_entry_id"]))
    if stored is None:
        return f"{label}: entry {cp['last_entry_id']} it signed is gone (the chain was cut)"
    if stored != cp["head_hash"]:
        return (
            f"{label}: entry {cp['last_entry_id']} no longer has the hash it signed "
            "(the chain was recomputed)"
        )
    return None


def verify(
    *,
    session: Session,
    keys: SigningKeys,
    every_s: float,
    external: list[dict[str, Any]] | None = None,
) -> CheckpointReport:
    """Check every checkpoint against the chain (run after the chain itself verified):
    signatures, the entries they name, their order; then that no entry written well
    after the newest checkpoint lacks one (checkpoints deleted); then the checkpoints
    kept outside the database (``external``), which a deletion cannot reach."""
    rows = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
    last_entry = 0
    for row in rows:
        problem = _check_one(
            session=session, keys=keys, cp=as_json(row), label=f"checkpoint {row.id}"
        )
        if problem is None and row.last_entry_id < last_entry:
            problem = f"checkpoint {row.id}: goes back in the chain"
        if problem is not None:
            return CheckpointReport(False, len(rows), reason=problem, checkpoint_id=row.id)
        last_entry = row.last_entry_id
    for n, cp in enumerate(external or [], start=1):
        problem = _check_one(session=session, keys=keys, cp=cp, label=f"kept checkpoint {n}")
        if problem is not None:
            return CheckpointReport(False, len(rows), reason=problem)
    uncovered = list(
        session.scalars(select(AuditEntry.at).where(AuditEntry.id > last_entry).limit(100_000))
    )
    if rows and uncovered:
        # A process checkpoints at least every ``every_s`` while it writes: an entry
        # much later than the newest checkpoint means newer checkpoints were removed.
        limit = rows[-1].at + dt.timedelta(seconds=2 * every_s + 60)
        if max(uncovered) > limit:
            return CheckpointReport(
                False,
                len(rows),
                len(uncovered),
                reason="entries far newer than the newest checkpoint: checkpoints were removed",
            )
    return CheckpointReport(True, len(rows), len(uncovered))

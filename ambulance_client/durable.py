"""The tablet's outbox on disk: what is queued survives a crash or a reboot of the agent.

One SQLite file (WAL) in the agent's state directory holds what the outboxes have
not yet delivered: timeline events (``timeline_outbox``, by idempotency key),
vitals/ECG records (``outbox``, by transport and sequence number) and API writes such
as the crew's requests for instruction (``request_outbox``, by idempotency key). Each payload is
sealed with AES-GCM under a key the agent creates beside it (mode 0600); the row's
identity is the associated data, so a payload cannot be moved to another row. An entry
is deleted as soon as the server or the relay acknowledges it: the file holds only
what is still queued, never the patient's record.

The keys and sequence numbers are stored with the payloads, so a replay after a
restart is recognised by the server (idempotency key) and the relay ((transport, seq))
and lands once. Every call is short and local; no caller holds the store's lock
across network I/O.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DB_NAME = "outbox.sqlite3"
KEY_NAME = "outbox.key"
SCHEMA = """
CREATE TABLE IF NOT EXISTS timeline (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    transport_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (transport_id, seq)
);
CREATE TABLE IF NOT EXISTS requests (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
"""
# The tables of rows queued by idempotency key, and the prefix of each row's associated
# data (``timeline:<key>``, ``request:<key>``): a sealed row opens in its own table only.
TIMELINE = "timeline"
REQUESTS = "requests"
KEYED = {TIMELINE: "timeline", REQUESTS: "request"}


def default_state_dir() -> Path:
    """``$XDG_DATA_HOME/ems-tablet``, else ``~/.local/share/ems-tablet``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ems-tablet"


def _load_key(path: Path) -> bytes:
    """The agent's key, created on first use (0600). Written aside and linked into
    place, so that a crash mid-write never leaves a truncated key behind."""
    if not path.exists():
        key = AESGCM.generate_key(bit_length=256)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # the first agent to get here wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not an outbox key")
    return key


class DurableStore:
    """The sealed rows of both outboxes, in ``state_dir``."""

    def __init__(self, state_dir: Path | str) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._aead = AESGCM(_load_key(self.dir / KEY_NAME))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.dir / DB_NAME, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # A row is on disk before the tap is answered: synchronous=FULL survives power loss.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # sealing ---------------------------------------------------------------------------
    def _seal(self, data: bytes, aad: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, aad.encode())

    def _open(self, sealed: bytes, aad: str) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], aad.encode())

    # rows by idempotency key: timeline events and API writes -------------------------
    def _keyed(self, table: str) -> str:
        """The prefix of a keyed table's associated data. Only these names reach the SQL."""
        if table not in KEYED:
            raise ValueError(f"{table!r} is not a table of keyed rows")
        return KEYED[table]

    def put_keyed(self, table: str, key: str, item: dict[str, Any]) -> None:
        sealed = self._seal(json.dumps(item).encode(), f"{self._keyed(table)}:{key}")
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} (key, sealed) VALUES (?, ?)", (key, sealed)
            )

    def delete_keyed(self, table: str, key: str) -> None:
        self._keyed(table)
        with self._lock:
            self._db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))

    def keyed(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` (``TIMELINE`` or ``REQUESTS``), oldest first."""
        aad = self._keyed(table)
        with self._lock:
            rows = self._db.execute(f"SELECT key, sealed FROM {table} ORDER BY n").fetchall()
        out: list[dict[str, Any]] = []
        for key, sealed in rows:
            item: dict[str, Any] = json.loads(self._open(sealed, f"{aad}:{key}"))
            out.append(item)
        return out

    def events(self) -> list[dict[str, Any]]:
        """The queued timeline events, oldest first."""
        return self.keyed(TIMELINE)

    def requests(self) -> list[dict[str, Any]]:
        """The queued API writes, oldest first."""
        return self.keyed(REQUESTS)

    # vitals and ECG records ------------------------------------------------------------
    def put_record(self, transport_id: int, seq: int, raw: bytes) -> None:
        sealed = self._seal(raw, f"record:{transport_id}:{seq}")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records (transport_id, seq, sealed) VALUES (?, ?, ?)",
                (transport_id, seq, sealed),
            )

    def delete_records(self, transport_id: int, seqs: list[int]) -> None:
        with self._lock:
            self._db.executemany(
                "DELETE FROM records WHERE transport_id = ? AND seq = ?",
                [(transport_id, s) for s in seqs],
            )

    def records(self, transport_id: int) -> list[tuple[int, bytes]]:
        """The queued records of one transport, in sequence order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, sealed FROM records WHERE transport_id = ? ORDER BY seq",
                (transport_id,),
            ).fetchall()
        return [(seq, self._open(sealed, f"record:{transport_id}:{seq}")) for seq, sealed in rows]

    def transports_with_records(self) -> list[int]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT transport_id FROM records").fetchall()
        return [int(r[0]) for r in rows]

    def record_counts(self) -> dict[int, int]:
        """How many records each transport has queued (what the crew sees as pending)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT transport_id, count(*) FROM records GROUP BY transport_id"
            ).fetchall()
        return {int(t): int(n) for t, n in rows}

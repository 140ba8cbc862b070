"""Signed checkpoints of the audit chain's head, and the application's database role:
what someone with write access to the database can no longer do unseen (cut the
chain's end, recompute it after an edit, forge a checkpoint, rewrite as the app)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import ProgrammingError

from ems.audit import checkpoints, grants
from ems.audit.models import AuditCheckpoint, AuditEntry
from ems.audit.service import _digest, verify_chain
from ems.auth.models import Role
from ems.cli import main
from ems.db import get_db
from tests.factories import Api


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # A checkpoint at every audited commit, so that each login is covered.
    return {**app_config, "AUDIT_CHECKPOINT_S": 0}


def _verify(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("EMS_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("EMS_AUDIT_SIGNING_KEY", app.config["AUDIT_SIGNING_KEY"])
    monkeypatch.setenv("EMS_AUDIT_CHECKPOINT_S", "300")
    return CliRunner().invoke(main, ["audit", "verify", *args])


def _three_logins(as_role: Callable[..., Api]) -> None:
    for role in (Role.DISPATCHER, Role.ADMIN, Role.DISPATCHER):
        as_role(role)


def test_each_audited_commit_leaves_a_signed_checkpoint_that_verifies(
    app: Flask, as_role: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_logins(as_role)
    with app.app_context(), get_db(app).session_scope() as s:
        rows = list(s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
        head = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert len(rows) == 3 and head is not None
    assert (rows[-1].last_entry_id, rows[-1].head_hash) == (head.id, head.hash)
    result = _verify(app, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "3 entries, 3 signed checkpoints" in result.output


def test_a_cut_at_the_end_is_found(
    app: Flask, as_role: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_logins(as_role)
    with app.app_context(), get_db(app).session_scope() as s:
        last = s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        s.execute(delete(AuditEntry).where(AuditEntry.id == last))
        # What remains is a valid chain on its own: only the checkpoint tells.
        assert verify_chain(session=s).ok
    result = _verify(app, monkeypatch)
    assert result.exit_code == 1
    assert "the chain was cut" in result.output


def test_a_cut_that_removes_the_checkpoints_too_is_found_by_the_kept_ones(
    app: Flask,
    as_role: Callable[..., Api],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _three_logins(as_role)
    monkeypatch.setenv("EMS_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("EMS_AUDIT_SIGNING_KEY", app.config["AUDIT_SIGNING_KEY"])
    printed = CliRunner().invoke(main, ["audit", "checkpoint"])
    assert printed.exit_code == 0, printed.output
    kept = tmp_path / "checkpoints.jsonl"
    kept.write_text(printed.output)
    assert json.loads(printed.output)["last_entry_id"] == 3
    with app.app_context(), get_db(app).session_scope() as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.last_entry_id >= 3))
        s.execute(delete(AuditEntry).where(AuditEntry.id == 3))
    assert _verify(app, monkeypatch).exit_code == 0  # the database alone looks whole
    result = _verify(app, monkeypatch, "--against", str(kept))
    assert result.exit_code == 1
    assert "kept checkpoint 1" in result.output and "cut" in result.output


def test_a_recomputed_chain_is_found(
    app: Flask, as_role: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_logins(as_role)
    with app.app_context(), get_db(app).session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        entries[0].detail = {"forged": True}
        prev = ""
        for entry in entries:  # what anyone with write access can do: hash it all again
            entry.prev_hash = prev
            entry.hash = _digest(entry)
            prev = entry.hash
    with app.app_context(), get_db(app).session_scope() as s:
        assert verify_chain(session=s).ok
    result = _verify(app, monkeypatch)
    assert result.exit_code == 1
    assert "recomputed" in result.output


def test_a_checkpoint_signed_by_another_key_is_refused(
    app: Flask, as_role: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_logins(as_role)
    forger = checkpoints.SigningKeys(
        "devaudit1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    with app.app_context(), get_db(app).session_scope() as s:
        row = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
        assert row is not None
        data = checkpoints.message(
            at=row.at, last_entry_id=row.last_entry_id, head_hash=row.head_hash
        )
        s.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == row.id)
            .values(signature=forger.sign(data)[1])
        )
    result = _verify(app, monkeypatch)
    assert result.exit_code == 1
    assert "signature does not verify" in result.output


def test_the_application_role_cannot_rewrite_the_audit_log(
    app: Flask, as_role: Callable[..., Api]
) -> None:
    as_role(Role.DISPATCHER)
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        with app.app_context(), get_db(app).session_scope() as s:
            assert grants.role_problems(session=s) == []  # SQLite: no roles to check
        return
    with app.app_context(), get_db(app).session_scope() as s:
        assert grants.role_problems(session=s) == []
    engine = get_db(app).engine
    with engine.connect() as conn:
        conn.execute(text(f"SET ROLE {grants.APP_ROLE}"))
        assert conn.scalar(select(AuditEntry.id).limit(1)) is not None
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(update(AuditEntry).values(action="auth.logout"))
        conn.rollback()
        conn.execute(text(f"SET ROLE {grants.APP_ROLE}"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(delete(AuditEntry))
        conn.rollback()
        conn.execute(text("RESET ROLE"))
        conn.commit()

"""The server's record commands at the terminal: a patient's record stored, the access
log read through the rule book; and no issuance command left on the server's side
(cards and tablets come from ``python -m card_issuer``, tests/card_issuer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.cards.demo import demo_bundles
from ems.cli import main
from ems.db import get_db
from ems.patients.models import Patient
from tests.factories import make_unit, make_user


@pytest.fixture
def env(
    app: Flask, app_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMS_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("EMS_PKI_DIR", str(tmp_path / "cli-pki"))
    monkeypatch.setenv("EMS_RECORD_ENCRYPTION_KEY", app.config["RECORD_ENCRYPTION_KEY"])


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_create_patient_and_the_access_log(app: Flask, env: None, tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(demo_bundles()[3], ensure_ascii=False))
    patient_id = int(run("cards", "create-patient", "--bundle", str(bundle)).split()[-1])
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.get(Patient, patient_id) is not None
    make_user(app, role=Role.ADMIN, username="auditor")
    assert "no access recorded" in run("cards", "access-log", str(patient_id), "--as", "auditor")
    # The terminal asks the same rule book as the API: a paramedic is refused, on record.
    unit = make_unit(app, call_sign="東9")
    make_user(app, role=Role.PARAMEDIC, username="medic9", unit_id=unit)
    refused = CliRunner().invoke(main, ["cards", "access-log", str(patient_id), "--as", "medic9"])
    assert refused.exit_code != 0 and "role_forbidden" in refused.output
    with app.app_context(), get_db(app).session_scope() as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
        assert [(d.action, d.detail["code"]) for d in denied] == [
            ("patient.access_log", "role_forbidden")
        ]


@pytest.mark.parametrize(
    "command",
    ["init-ca", "issue", "revoke", "unlock", "issue-device", "revoke-device", "crl", "seed-demo"],
)
def test_the_server_has_no_issuance_command(command: str) -> None:
    result = CliRunner().invoke(main, ["cards", command, "--help"])
    assert result.exit_code != 0 and "No such command" in result.output

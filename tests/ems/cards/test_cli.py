"""The issuance tooling at the terminal, and the demo seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from ambulance_client.card import CardError
from ems.audit.models import AuditEntry
from ems.auth.models import Role
from ems.cards import demo
from ems.cards.models import Card, CardStatus, Device
from ems.cards.tokens import CardStore
from ems.cli import main
from ems.config import Config
from ems.db import get_db
from tests.factories import make_unit, make_user


@pytest.fixture
def env(
    app: Flask, app_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    pki_dir = tmp_path / "cli-pki"
    monkeypatch.setenv("EMS_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("EMS_PKI_DIR", str(pki_dir))
    monkeypatch.setenv("EMS_RECORD_ENCRYPTION_KEY", app.config["RECORD_ENCRYPTION_KEY"])
    monkeypatch.setenv("EMS_CARD_STORE_DIR", str(tmp_path / "cli-cards"))
    return pki_dir


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_issue_revoke_unlock_and_access_log(app: Flask, env: Path, tmp_path: Path) -> None:
    assert "created" in run("cards", "init-ca")
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(demo.demo_bundles()[3], ensure_ascii=False))
    patient_id = int(run("cards", "create-patient", "--bundle", str(bundle)).split()[-1])
    out = run(
        "cards", "issue", "--patient", str(patient_id), "--pin", "1357", "--serial", "MNCLI0001"
    )
    assert "MNCLI0001" in out
    store = CardStore(tmp_path / "cli-cards")
    reader = store.reader("MNCLI0001")
    for _ in range(3):
        with pytest.raises(CardError):
            reader.sign(b"x", "0000")
    assert reader.pin_status().locked
    run("cards", "unlock", "MNCLI0001")
    assert reader.sign(b"x", "1357")
    run("cards", "revoke", "MNCLI0001")
    with app.app_context(), get_db(app).session_scope() as s:
        card = s.scalar(select(Card).where(Card.serial == "MNCLI0001"))
        assert card is not None and card.status is CardStatus.REVOKED
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
    unit_id = make_unit(app, call_sign="西3")
    run("cards", "issue-device", "--unit", "西3", "--out", str(tmp_path / "dev"))
    assert (tmp_path / "dev" / "device.key").stat().st_mode & 0o777 == 0o600
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(Device.unit_id)) == unit_id


def test_demo_seed_issues_cards_with_pins_and_tablet_certificates(app: Flask, env: Path) -> None:
    make_unit(app, call_sign="中央1")
    config = Config.from_env()
    with app.app_context(), get_db(app).session_scope() as s:
        report = demo.seed(session=s, config=config)
    assert 6 <= len(report.cards) <= 10
    assert sorted({pin for *_, pin in report.cards}) == ["1234", "4321"]
    assert len(report.devices) == 1
    with app.app_context(), get_db(app).session_scope() as s:
        again = demo.seed(session=s, config=config)
        assert again.skipped_cards and again.devices == []
        assert s.scalar(select(func.count(Card.id))) == len(report.cards)
    serial = report.cards[0][0]
    reader = CardStore(Path(report.store_dir)).reader(serial)
    assert reader.read_certificate()

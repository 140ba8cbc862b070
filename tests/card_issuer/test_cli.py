"""``python -m card_issuer`` end to end: CAs created and handed to the server, a card
issued and verified by the server, locked and unlocked, revoked (refused by the
server once the new CRL is published), a tablet issued and revoked, the demo's
cards; and the issuer's secrets never in the server's PKI_DIR."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from ambulance_client.card import CardError, CardReader, DeviceKey
from card_issuer.cli import main as issuer_main
from card_issuer.tokens import CardStore
from ems.auth.models import Role
from ems.cards import pki
from ems.cards.demo import demo_bundles
from ems.cards.models import Card, Device
from ems.cli import main as ems_main
from ems.db import get_db
from tests.ems.cards.helpers import private_key_files
from tests.factories import Api, make_transport, make_unit

ROOT = Path(__file__).resolve().parents[2]


class Dirs:
    def __init__(self, tmp_path: Path, pki_dir: Path) -> None:
        self.issuer = tmp_path / "issuer"
        self.cards = tmp_path / "cards"
        self.pki = pki_dir


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    d = Dirs(tmp_path, tmp_path / "pki")  # the PKI_DIR of the `app` fixture
    monkeypatch.setenv("ISSUER_DIR", str(d.issuer))
    monkeypatch.setenv("CARD_STORE_DIR", str(d.cards))
    monkeypatch.delenv("EMS_CARD_STORE_DIR", raising=False)
    monkeypatch.setenv("EMS_PKI_DIR", str(d.pki))
    return d


@pytest.fixture
def server_env(
    app: Flask, app_config: dict[str, Any], dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> Dirs:
    """The server's settings, which the issuer uses to reach its register."""
    assert Path(app.config["PKI_DIR"]) == dirs.pki
    monkeypatch.setenv("EMS_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("EMS_RECORD_ENCRYPTION_KEY", app.config["RECORD_ENCRYPTION_KEY"])
    return dirs


def issuer(*args: str | Path) -> str:
    result = CliRunner().invoke(issuer_main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str | Path) -> str:
    result = CliRunner().invoke(issuer_main, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    return result.output


def create_patient(tmp_path: Path, index: int = 3) -> int:
    bundle = tmp_path / f"patient-{index}.json"
    bundle.write_text(json.dumps(demo_bundles()[index], ensure_ascii=False))
    result = CliRunner().invoke(ems_main, ["cards", "create-patient", "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    return int(result.output.split()[-1])


def tap(crew: Api, reader: CardReader, transport_id: int, pin: str) -> Any:
    """Card tap to history, as the tablet does it."""
    cert = reader.read_certificate()
    ch = crew.post("/api/v1/card-auth/challenges", json={"transport_id": transport_id})
    assert ch.status_code == 201, ch.get_json()
    signature = reader.sign(base64.b64decode(ch.get_json()["nonce"]), pin)
    return crew.post(
        "/api/v1/card-auth/verifications",
        json={
            "challenge_id": ch.get_json()["challenge_id"],
            "transport_id": transport_id,
            "certificate": base64.b64encode(cert).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
    )


def test_init_issue_verify_unlock_revoke_and_publish(
    app: Flask, server_env: Dirs, tmp_path: Path, as_role: Any
) -> None:
    d = server_env
    out = issuer("init-ca", "--publish-to", d.pki)
    assert "created" in out and "root.pem" in out
    patient_id = create_patient(tmp_path)
    out = issuer("issue", "--patient", patient_id, "--pin", "1357", "--serial", "MNCLI0001")
    assert "MNCLI0001" in out
    unit_id = make_unit(app, call_sign="中央1")
    transport_id = make_transport(app, unit_id=unit_id)
    crew = as_role(Role.PARAMEDIC, unit_id=unit_id)
    reader = CardStore(d.cards).reader("MNCLI0001")

    resp = tap(crew, reader, transport_id, "1357")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["patient_id"] == patient_id
    assert resp.get_json()["summary"]["patient"]["name"] == "高橋 美咲"

    for _ in range(3):
        with pytest.raises(CardError):
            reader.sign(b"x", "0000")
    assert reader.pin_status().locked
    issuer("unlock", "MNCLI0001")
    assert reader.sign(b"x", "1357")
    issuer("unlock", "MNCLI0001", "--new-pin", "2468")  # with the issuer's SO PIN
    assert reader.sign(b"x", "2468")
    assert "pin_format" in refused("unlock", "MNCLI0001", "--new-pin", "12")

    out = issuer("revoke", "MNCLI0001")
    assert "crl --publish-to" in out
    # Signed by the issuer, not yet handed to the server: the server cannot know.
    assert tap(crew, reader, transport_id, "2468").status_code == 200
    issuer("crl", "--publish-to", d.pki)
    resp = tap(crew, reader, transport_id, "2468")
    assert resp.status_code == 403 and resp.get_json()["code"] == "certificate_revoked"
    assert "card_revoked" in refused("revoke", "MNCLI0001")
    assert "card_not_found" in refused("revoke", "MNNEVER01")
    assert private_key_files(d.pki) == []


def test_issue_and_revoke_a_tablet(app: Flask, server_env: Dirs, tmp_path: Path) -> None:
    d = server_env
    issuer("init-ca", "--publish-to", d.pki)
    unit_id = make_unit(app, call_sign="西3")
    out_dir = tmp_path / "tablet"
    issuer("issue-device", "--unit", "西3", "--out", out_dir)
    assert (out_dir / "device.key").stat().st_mode & 0o777 == 0o600
    with app.app_context(), get_db(app).session_scope() as s:
        device = s.scalars(select(Device)).one()
        assert (device.unit_id, device.name) == (unit_id, "tablet-西3")
    cert = DeviceKey.load(out_dir).certificate
    anchors = pki.trust_anchors(d.pki)
    anchors.verify(cert, ca=pki.DEVICE_CA)
    assert "unit_not_found" in refused("issue-device", "--unit", "南99", "--out", tmp_path / "x")
    assert "device_exists" in refused("issue-device", "--unit", "西3", "--out", tmp_path / "y")

    issuer("revoke-device", "tablet-西3", "--publish-to", d.pki)
    with pytest.raises(pki.CardAuthRefused) as err:
        anchors.verify(cert, ca=pki.DEVICE_CA)
    assert err.value.code == "certificate_revoked"
    issuer("revoke-device", "tablet-西3")  # again: nothing to do, no error
    assert "device_not_found" in refused("revoke-device", "tablet-none")


def test_the_issuers_secrets_stay_in_its_directory(
    app: Flask, server_env: Dirs, tmp_path: Path
) -> None:
    d = server_env
    issuer("init-ca", "--publish-to", d.pki)
    patient_id = create_patient(tmp_path)
    issuer("issue", "--patient", patient_id, "--pin", "1234", "--serial", "MNCLI0002")
    assert sorted(p.name for p in d.pki.iterdir()) == sorted(
        p.name for p in pki.published_files(d.pki)
    )
    assert private_key_files(d.pki) == []
    assert d.issuer.stat().st_mode & 0o777 == 0o700
    assert len(private_key_files(d.issuer)) == 3
    pins = d.issuer / "so-pins.json"
    assert pins.stat().st_mode & 0o777 == 0o600
    assert list(json.loads(pins.read_text())) == ["MNCLI0002"]
    assert not [p for p in d.cards.rglob("*") if "pin" in p.name.lower()]


def test_the_issuer_keeps_apart_from_the_servers_pki_dir(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISSUER_DIR", str(dirs.pki))
    assert "must be apart" in refused("init-ca")
    monkeypatch.setenv("ISSUER_DIR", str(dirs.pki.parent))
    assert "must be apart" in refused("init-ca")
    assert not dirs.pki.exists() or private_key_files(dirs.pki) == []
    monkeypatch.setenv("ISSUER_DIR", str(dirs.issuer))
    issuer("init-ca")
    assert "publish_into_issuer" in refused("crl", "--publish-to", dirs.issuer)


def test_seed_demo_issues_cards_with_pins_and_tablet_certificates(
    app: Flask, server_env: Dirs
) -> None:
    d = server_env
    make_unit(app, call_sign="中央1")
    out = issuer("seed-demo")
    assert "MNDEMO0001" in out and "PIN 4321" in out and str(d.pki) in out
    with app.app_context(), get_db(app).session_scope() as s:
        cards = s.scalar(select(func.count(Card.id)))
        assert 6 <= (cards or 0) <= 10
        assert s.scalar(select(func.count(Device.id))) == 1
    assert private_key_files(d.pki) == []
    again = issuer("seed-demo")
    assert "demo cards already issued" in again and "warning" not in again
    with app.app_context(), get_db(app).session_scope() as s:
        assert s.scalar(select(func.count(Card.id))) == cards
    cert = CardStore(d.cards).reader("MNDEMO0001").read_certificate()
    parsed = pki.parse_certificate(base64.b64encode(cert).decode())
    pki.trust_anchors(d.pki).verify(parsed, ca=pki.CARD_CA)
    # The tablets' keys go beside the issuer's directory, not into it nor the server's.
    assert len(list((d.issuer.parent / "devices").glob("unit-*/device.key"))) == 1


def test_python_m_card_issuer_runs_on_its_own(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ISSUER_DIR": str(tmp_path / "issuer"),
        "EMS_PKI_DIR": str(tmp_path / "pki"),
    }
    for args in (["init-ca", "--publish-to", str(tmp_path / "pki")], ["crl"]):
        proc = subprocess.run(
            [sys.executable, "-m", "card_issuer", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "crl --publish-to" in proc.stdout
    assert private_key_files(tmp_path / "pki") == []
    assert "Root CA" in pki.trust_anchors(tmp_path / "pki").root.subject.rfc4514_string()

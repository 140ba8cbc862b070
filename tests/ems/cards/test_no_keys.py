"""The server verifies cards with no key of the PKI on its host: its PKI_DIR holds the
issuer's CA certificates and CRLs and nothing else, and that is enough for a card
tap to release the record. The issuer, the tablet's code and PKCS#11 stay out of the
server's process."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from card_issuer.tokens import CardStore
from ems.app import create_app
from ems.auth.models import Role
from ems.cards import pki
from ems.db import get_db
from tests.ems.cards.helpers import (
    PIN,
    make_token_card,
    make_transport,
    new_issuer,
    private_key_files,
    register_patient,
)
from tests.factories import login, make_unit, make_user

ROOT = Path(__file__).resolve().parents[3]


def test_a_card_is_verified_and_its_record_released_with_no_private_key_in_pki_dir(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    # The issuer works on its own host (here: its own directory) and hands over its
    # public part; the server's directory is created by that hand-over alone.
    server_pki = tmp_path / "server" / "pki"
    issuer = new_issuer(tmp_path / "issuer-host" / "issuer", publish_to=server_pki)
    store = CardStore(tmp_path / "issuer-host" / "cards", so_pin_file=issuer.so_pin_path)
    card = make_token_card(issuer, store, "MNNOKEY01")
    files = sorted(p.name for p in server_pki.rglob("*"))
    assert files == sorted(p.name for p in pki.published_files(server_pki))
    assert private_key_files(server_pki) == []
    assert not any(p.suffix == ".key" or "pin" in p.name for p in server_pki.rglob("*"))

    app = create_app({**app_config, "PKI_DIR": str(server_pki)})
    try:
        unit_id = make_unit(app, call_sign="中央7")
        transport_id = make_transport(app, unit_id)
        patient_id = register_patient(app, card.cert, card.serial)
        make_user(app, role=Role.PARAMEDIC, username="medic-nokey", unit_id=unit_id)
        crew = login(app.test_client(), "medic-nokey")
        reader = card.reader()
        cert = reader.read_certificate()
        ch = crew.post("/api/v1/card-auth/challenges", json={"transport_id": transport_id})
        assert ch.status_code == 201, ch.get_json()
        signature = reader.sign(base64.b64decode(ch.get_json()["nonce"]), PIN)
        resp = crew.post(
            "/api/v1/card-auth/verifications",
            json={
                "challenge_id": ch.get_json()["challenge_id"],
                "transport_id": transport_id,
                "certificate": base64.b64encode(cert).decode(),
                "signature": base64.b64encode(signature).decode(),
            },
        )
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["patient_id"] == patient_id
        assert resp.get_json()["summary"]["allergies"][0]["substance"] == "ペニシリン系抗菌薬"
        record = crew.get(f"/api/v1/transports/{transport_id}/patient-record")
        assert record.status_code == 200 and record.get_json()["assurance"] == "pin"
    finally:
        get_db(app).engine.dispose()
    assert private_key_files(server_pki) == []  # verifying wrote nothing there either


def test_the_server_process_loads_neither_the_issuer_nor_the_tablet_nor_pkcs11(
    tmp_path: Path,
) -> None:
    config = {"ENV": "test", "DATABASE_URL": "sqlite://", "PKI_DIR": str(tmp_path)}
    probe = (
        "import sys\n"
        "from ems.app import create_app\n"
        "import ems.cli, ems.cards.api, ems.cards.identification, ems.patients.service\n"
        f"create_app({config!r})\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(re.findall(r"'([\w]+)'", out))
    assert "ems" in loaded
    assert not loaded & {"card_issuer", "ambulance_client", "pkcs11"}


def test_no_module_of_the_server_handles_a_private_key_or_an_so_pin() -> None:
    """A source check, to keep it so: no loader or writer of private keys, no CA key
    file name, no SO PIN store anywhere in ems/ (the device key is the tablet's)."""
    forbidden = re.compile(
        r"load_pem_private_key|load_der_private_key|private_bytes\(|generate_private_key"
        r"|\.key\b[\"']|so[-_]pins?|softhsm2-util|import pkcs11|from pkcs11"
    )
    # The one private key the server holds is its own audit-checkpoint signing key
    # (Ed25519, from AUDIT_SIGNING_KEY like the record key): it signs the audit chain's
    # head and mints no credential; nothing of the card PKI.
    own_key = ROOT / "ems" / "audit" / "checkpoints.py"
    hits = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sorted((ROOT / "ems").rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line)
        and not (p == own_key and "Ed25519PrivateKey.from_private_bytes(" in line)
    ]
    assert hits == []

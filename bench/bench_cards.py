"""Card identification speed.

- ``card_verify_per_s``: server-side verifications per second of a card's answer
  (certificate parsed from base64 DER, issuer, validity, key usage, chain to the
  root through cryptography's verifier, CRL, RSA signature), in process, one core.
- ``card_tap_to_history_ms_p95``: reading the certificate from a SoftHSM2 card,
  asking for a challenge, signing it on the card (PIN given programmatically, so
  PIN entry is excluded), verifying and fetching the summary, end to end against
  a test app on SQLite.

The cards come from the mock issuer (``card_issuer``); the server verifies them
against the certificates and CRLs it publishes, with no key on its side.
"""

from __future__ import annotations

import base64
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

PIN = "1234"


def _issuer(root: Path) -> Any:
    """A mock issuer in ``root/issuer`` that has published to ``root/pki``."""
    from card_issuer.ca import Issuer

    issuer = Issuer(root / "issuer")
    issuer.init()
    issuer.publish(root / "pki")
    return issuer


def _verify_throughput(root: Path, seconds: float = 2.0) -> float:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from ems.cards import pki

    issuer = _issuer(root)
    pki_dir = root / "pki"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issuer.issue_leaf(ca=pki.CARD_CA, public_key=key.public_key(), common_name="MNB")
    cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    nonce = b"\x42" * 32
    sig_b64 = base64.b64encode(key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())).decode()
    anchors = pki.trust_anchors(pki_dir)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            parsed = pki.parse_certificate(cert_b64)
            anchors.verify(parsed, ca=pki.CARD_CA)
            sig = pki.decode_base64(sig_b64, what="signature", limit=pki.MAX_SIGNATURE_BYTES)
            pki.verify_signature(parsed, data=nonce, signature=sig, code="bad_signature")
        n += 100
    return n / (time.perf_counter() - start)


def _tap_to_history(root: Path, rounds: int = 40) -> list[float]:
    from card_issuer import service as issuance
    from card_issuer.tokens import CardStore
    from ems.app import create_app
    from ems.auth.models import Role
    from ems.auth.service import create_user
    from ems.cards.demo import demo_bundles
    from ems.cli import upgrade_database
    from ems.db import get_db, utcnow
    from ems.fleet.models import Station, Unit
    from ems.incidents.models import Incident, Urgency
    from ems.patients import service
    from ems.patients.records import RecordCipher
    from ems.transports.models import Transport

    url = f"sqlite:///{root / 'bench.sqlite3'}"
    upgrade_database(url)
    app = create_app(
        {
            "ENV": "test",
            "DATABASE_URL": url,
            "PKI_DIR": str(root / "pki"),
            "LOGIN_RATE_PER_MIN": 1000,
            # 40 taps in a row by one paramedic: the per-minute limit on card reads
            # (a guard against guessing, tested in tests/hold) is not what is timed.
            "CARD_AUTH_RATE_PER_MIN": 100_000,
        }
    )
    issuer = _issuer(root)
    store = CardStore(root / "cards", so_pin_file=issuer.so_pin_path)
    with app.app_context(), get_db(app).session_scope() as s:
        st = Station(name="中央署", lat=35.0, lon=135.0)
        s.add(st)
        s.flush()
        unit = Unit(call_sign="中央1", station_id=st.id, lat=35.0, lon=135.0)
        s.add(unit)
        s.flush()
        create_user(
            session=s,
            username="medic",
            password="bench-pass-1",
            role=Role.PARAMEDIC,
            unit_id=unit.id,
        )
        inc = Incident(lat=35.0, lon=135.0, chief_complaint="胸痛", urgency=Urgency.SERIOUS)
        s.add(inc)
        s.flush()
        transport = Transport(
            incident_id=inc.id, unit_id=unit.id, call_received_at=utcnow() - dt.timedelta(minutes=9)
        )
        s.add(transport)
        s.flush()
        transport_id = transport.id
        patient = service.create_patient(
            session=s,
            cipher=RecordCipher(app.config["RECORD_ENCRYPTION_KEY"]),
            bundle=demo_bundles()[0],
        )
        issuance.issue_card(
            session=s,
            issuer=issuer,
            store=store,
            patient_id=patient.id,
            pin=PIN,
            serial="MNBENCH01",
        )
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "medic", "password": "bench-pass-1"}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    reader = store.reader("MNBENCH01")
    timings = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        cert = reader.read_certificate()
        ch: dict[str, Any] = client.post(
            "/api/v1/card-auth/challenges", json={"transport_id": transport_id}, headers=headers
        ).get_json()
        signature = reader.sign(base64.b64decode(ch["nonce"]), PIN)
        resp = client.post(
            "/api/v1/card-auth/verifications",
            json={
                "challenge_id": ch["challenge_id"],
                "transport_id": transport_id,
                "certificate": base64.b64encode(cert).decode(),
                "signature": base64.b64encode(signature).decode(),
            },
            headers=headers,
        )
        assert resp.status_code == 200, resp.get_json()
        record = client.get(f"/api/v1/transports/{transport_id}/patient-record", headers=headers)
        assert record.status_code == 200 and record.get_json()["summary"]["allergies"]
        timings.append((time.perf_counter() - t0) * 1000)
    get_db(app).engine.dispose()
    return timings


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-cards-") as tmp:
        root = Path(tmp)
        per_s = _verify_throughput(root / "verify")
        timings = _tap_to_history(root / "app")
    p95 = statistics.quantiles(timings, n=20)[-1]
    return {"card_verify_per_s": round(per_s, 1), "card_tap_to_history_ms_p95": round(p95, 1)}


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} = {value}")
